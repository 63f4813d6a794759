/*
 * contrast: scale the luma around mid-grey, Y' = clamp8(lround(c * (Y - 128)
 * + 128)): 128 is the 8-bit mid-grey the op table names, and the same
 * centre as saturation's.  The doubles are spent once per value, in a
 * 256-entry table built per call.
 */
#include <errno.h>
#include <math.h>

#include "edit/op-util.h"
#include "effect-ops.h"

int reel__effect_contrast(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                          void *userdata)
{
	uint8_t lut[256];

	if (!ctx || !ctx->edit || !frame)
		return -EINVAL;
	for (int v = 0; v < 256; v++)
		lut[v] = reel__clamp8(lround(ctx->edit->params[0] * (v - 128.0) + 128.0));
	reel__plane_lut(frame->plane[0], frame->stride[0], frame->width[0], frame->height[0], lut);
	return 0;
}
