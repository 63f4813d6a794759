/*
 * gain: change the volume by db decibels, s' = (float)(s * 10^(db / 20)).
 * No limiter: float holds samples pushed past full scale, and whatever
 * clipping there is happens once, at export, not per edit.
 */
#include <errno.h>
#include <math.h>

#include "audio-ops.h"

int reel__audio_gain(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata)
{
	if (!ctx || !ctx->edit || !frame)
		return -EINVAL;
	audio_scale(frame, pow(10.0, ctx->edit->params[0] / 20.0));
	return 0;
}
