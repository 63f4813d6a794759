/*
 * grayscale: remove the colour by setting both chroma planes to neutral
 * (128); the luma already is the grey picture.
 */
#include <errno.h>

#include "edit/op-util.h"
#include "effect-ops.h"

int reel__effect_grayscale(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                           void *userdata)
{
	if (!frame)
		return -EINVAL;
	for (int p = 1; p < 3; p++)
		reel__plane_fill(frame->plane[p], frame->stride[p], frame->width[p], frame->height[p], 128);
	return 0;
}
