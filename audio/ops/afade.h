/*
 * The sound fade shared by audio-fade-in and audio-fade-out (static inline,
 * so each op's file exports only its own function).  The gain is linear in
 * the global sample position, over the command's whole range in samples
 * (ctx->range_sample_start..range_sample_end), not over the frame or the
 * work item: the ramp is continuous across frames and the same however the
 * range is cut.  Sample i of the frame sits at pos = ctx->sample_start + i:
 *
 *   fade in:  t = (pos - start) / N,  fade out: t = (end - pos) / N,
 *   N = end - start,  t clamped to 0..1,  s' = (float)(s * t).
 *
 * A range without samples (N <= 0) leaves the sound alone.
 */
#ifndef REEL_AUDIO_AFADE_H
#define REEL_AUDIO_AFADE_H

#include <errno.h>

#include "audio-ops.h"

static inline int afade_apply(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                              int fade_in)
{
	int64_t start, end, n;
	float *a;

	if (!ctx || !frame)
		return -EINVAL;
	start = ctx->range_sample_start;
	end = ctx->range_sample_end;
	n = end - start;
	if (n <= 0 || !frame->audio)
		return 0;
	a = frame->audio;
	for (uint32_t i = 0; i < frame->audio_samples; i++) {
		int64_t pos = ctx->sample_start + (int64_t)i;
		double t = fade_in ? (pos - start) / (double)n : (end - pos) / (double)n;
		float *s = a + (size_t)i * frame->channels;

		t = t < 0 ? 0 : t > 1 ? 1 : t;
		for (uint32_t c = 0; c < frame->channels; c++)
			s[c] = (float)(s[c] * t);
	}
	return 0;
}

#endif
