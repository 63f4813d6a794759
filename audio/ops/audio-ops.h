/*
 * The audio ops, one file each in this folder.  Each file exports its
 * function and nothing else; table.c is the one place that names them.
 *
 * All of them work on frame->audio (interleaved float32, frame->channels
 * per sample), on its first frame->audio_samples samples only, compute in
 * double and store float, and never look at the pixels.  A frame without
 * sound (audio NULL or no samples) is left as it is.
 */
#ifndef REEL_AUDIO_OPS_H
#define REEL_AUDIO_OPS_H

#include <stddef.h>

#include "reel/stage.h"

int reel__audio_gain(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata);
int reel__audio_mute(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata);
int reel__audio_fade_in(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                        void *userdata);
int reel__audio_fade_out(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                         void *userdata);
int reel__audio_normalize(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                          void *userdata);

/* Samples of all channels the frame holds: 0 without sound. */
static inline size_t audio_values(const struct reel_frame *frame)
{
	return frame->audio ? (size_t)frame->audio_samples * frame->channels : 0;
}

/* Every sample times g, in double, stored as float. */
static inline void audio_scale(struct reel_frame *frame, double g)
{
	float *a = frame->audio;
	size_t n = audio_values(frame);

	for (size_t i = 0; i < n; i++)
		a[i] = (float)(a[i] * g);
}

#endif
