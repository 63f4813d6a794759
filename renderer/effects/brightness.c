/*
 * brightness: add delta (-1..1 of full scale) to the luma, Y' = clamp8(Y +
 * lround(delta * 255)); chroma is untouched.  One clamped add a byte in
 * 8-bit arithmetic that the compiler vectorises (reel__plane_add), so the
 * op runs at about the speed of a copy of the luma plane.
 */
#include <errno.h>
#include <math.h>

#include "edit/op-util.h"
#include "effect-ops.h"

int reel__effect_brightness(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                            void *userdata)
{
	if (!ctx || !ctx->edit || !frame)
		return -EINVAL;
	reel__plane_add(frame->plane[0], frame->stride[0], frame->width[0], frame->height[0],
	                (int)lround(ctx->edit->params[0] * 255.0));
	return 0;
}
