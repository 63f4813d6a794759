/*
 * colorbalance: add r, g, b (-1..1 of full scale) to the red, green and
 * blue of every pixel.  For a change of R, G, B the change of Y, U, V is
 * the same at every pixel (BT.601, limited range: the studio-swing matrix
 * times 255), so the op is three constant clamped adds, one per plane:
 *
 *   dY = lround( 65.481 r + 128.553 g +  24.966 b)
 *   dU = lround(-37.797 r -  74.203 g + 112.0   b)
 *   dV = lround(112.0   r -  93.786 g -  18.214 b)
 */
#include <errno.h>
#include <math.h>

#include "edit/op-util.h"
#include "effect-ops.h"

int reel__effect_colorbalance(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                              void *userdata)
{
	double r, g, b;
	int delta[3];

	if (!ctx || !ctx->edit || !frame)
		return -EINVAL;
	r = ctx->edit->params[0];
	g = ctx->edit->params[1];
	b = ctx->edit->params[2];
	delta[0] = (int)lround(65.481 * r + 128.553 * g + 24.966 * b);
	delta[1] = (int)lround(-37.797 * r - 74.203 * g + 112.0 * b);
	delta[2] = (int)lround(112.0 * r - 93.786 * g - 18.214 * b);
	for (int p = 0; p < 3; p++)
		reel__plane_add(frame->plane[p], frame->stride[p], frame->width[p], frame->height[p],
		                delta[p]);
	return 0;
}
