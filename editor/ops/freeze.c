/*
 * freeze: show the held frame over the whole range.  The stage rebuilds the
 * held frame as it stood before this edit (reel_stage_set_ops) and passes
 * it in ctx->held; this op only copies its planes, row by row because the
 * held picture has strides of its own.  The frame's sound is left alone: a
 * freeze stops the picture, not the sound.
 */
#include <errno.h>
#include <string.h>

#include "editor-ops.h"

int reel__editor_freeze(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata)
{
	const struct reel_frame *held;

	if (!ctx || !ctx->held || !frame)
		return -EINVAL;
	held = ctx->held;
	/* Check every plane before copying any, so a mismatch leaves the frame whole. */
	for (int p = 0; p < 3; p++)
		if (held->width[p] != frame->width[p] || held->height[p] != frame->height[p] ||
		    (frame->height[p] && !held->plane[p]))
			return -EINVAL;
	for (int p = 0; p < 3; p++)
		for (size_t y = 0; y < frame->height[p]; y++)
			memmove(frame->plane[p] + y * frame->stride[p], held->plane[p] + y * held->stride[p],
			        frame->width[p]);
	return 0;
}
