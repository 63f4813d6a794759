/*
 * saturation: scale the colour difference around neutral, U' =
 * clamp8(lround(s * (U - 128) + 128)) and the same for V; 0 is grey, 1 the
 * picture as it is.  Luma untouched.  One table for both chroma planes.
 */
#include <errno.h>
#include <math.h>

#include "edit/op-util.h"
#include "effect-ops.h"

int reel__effect_saturation(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                            void *userdata)
{
	uint8_t lut[256];

	if (!ctx || !ctx->edit || !frame)
		return -EINVAL;
	for (int v = 0; v < 256; v++)
		lut[v] = reel__clamp8(lround(ctx->edit->params[0] * (v - 128.0) + 128.0));
	for (int p = 1; p < 3; p++)
		reel__plane_lut(frame->plane[p], frame->stride[p], frame->width[p], frame->height[p], lut);
	return 0;
}
