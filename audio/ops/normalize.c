/*
 * normalize: scale the sound so that its peak over the command's range
 * reaches the target, g = 10^(target / 20) / peak.  The peak was measured
 * over the whole range before any frame was changed (a REEL_WORK_MEASURE
 * item) and journaled with the command as params[1], so every frame gets
 * the same gain however the range is cut.  A silent range (peak 0) is left
 * alone rather than divided by zero.
 */
#include <errno.h>
#include <math.h>

#include "audio-ops.h"

int reel__audio_normalize(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                          void *userdata)
{
	double target, peak;

	if (!ctx || !ctx->edit || !frame)
		return -EINVAL;
	target = ctx->edit->params[0];
	peak = ctx->edit->params[1];
	audio_scale(frame, peak > 0 ? pow(10.0, target / 20.0) / peak : 1.0);
	return 0;
}
