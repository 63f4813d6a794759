/*
 * gamma: Y' = clamp8(lround(255 * (Y / 255)^(1 / g))), so g above 1
 * brightens the mid-tones and leaves 0 and 255 where they are.  pow() runs
 * 256 times per call, to fill the table, never per pixel.
 */
#include <errno.h>
#include <math.h>

#include "edit/op-util.h"
#include "effect-ops.h"

int reel__effect_gamma(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata)
{
	uint8_t lut[256];
	double inv;

	if (!ctx || !ctx->edit || !frame)
		return -EINVAL;
	/* The op table keeps g in 0.1..10; a zero here would be a caller that skipped validation. */
	if (!(ctx->edit->params[0] > 0))
		return -EINVAL;
	inv = 1.0 / ctx->edit->params[0];
	for (int v = 0; v < 256; v++)
		lut[v] = reel__clamp8(lround(255.0 * pow(v / 255.0, inv)));
	reel__plane_lut(frame->plane[0], frame->stride[0], frame->width[0], frame->height[0], lut);
	return 0;
}
