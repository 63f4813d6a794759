/*
 * The effects, one file each in this folder.  Each file exports its
 * function and nothing else; table.c is the one place that names them.
 */
#ifndef REEL_EFFECT_OPS_H
#define REEL_EFFECT_OPS_H

#include "reel/stage.h"

int reel__effect_brightness(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                            void *userdata);
int reel__effect_contrast(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                          void *userdata);
int reel__effect_gamma(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata);
int reel__effect_saturation(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                            void *userdata);
int reel__effect_grayscale(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                           void *userdata);
int reel__effect_invert(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata);
int reel__effect_blur(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata);
int reel__effect_sharpen(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                         void *userdata);
int reel__effect_colorbalance(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                              void *userdata);

#endif
