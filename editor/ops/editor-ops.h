/*
 * The editor's per-frame ops, one file each in this folder.  Each file
 * exports its function and nothing else; table.c is the one place that
 * names them.  Trim and speed change the timeline, not pixels, so they
 * have no function here.
 */
#ifndef REEL_EDITOR_OPS_H
#define REEL_EDITOR_OPS_H

#include "reel/stage.h"

int reel__editor_crop(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata);
int reel__editor_hflip(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata);
int reel__editor_vflip(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata);
int reel__editor_rotate180(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                           void *userdata);
int reel__editor_freeze(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                        void *userdata);
int reel__editor_fade_in(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                         void *userdata);
int reel__editor_fade_out(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                          void *userdata);

#endif
