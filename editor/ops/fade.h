/*
 * The picture fade shared by fade-in and fade-out (static inline, so each
 * op's file exports only its own function).  A frame k steps of n from
 * black keeps k / n of its distance from black: limited-range black, Y 16
 * and U, V 128.  The division rounds halves away from zero
 * (reel__round_div), so fading a pixel below 16 (which limited range
 * allows as undershoot) mirrors fading one above it.
 *
 * k and n come from the command's whole range (ctx->edit->first..last),
 * never from the work item's sub-range, so a range cut into work items in
 * any way gives the same frames.  Two 256-entry tables per call hold the
 * results; applying them is a table lookup a byte.
 */
#ifndef REEL_EDITOR_FADE_H
#define REEL_EDITOR_FADE_H

#include <errno.h>

#include "edit/op-util.h"
#include "reel/stage.h"

/* fade_in: 1 for fade-in (k = frame - first), 0 for fade-out (k = last - frame). */
static inline int fade_apply(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                             int fade_in)
{
	uint8_t luma[256], chroma[256];
	int64_t n, k;

	if (!ctx || !ctx->edit || !frame)
		return -EINVAL;
	/* A frame outside its command's range is a caller's bug, not a frame to guess at. */
	if (ctx->edit->last < ctx->edit->first || ctx->frame < ctx->edit->first ||
	    ctx->frame > ctx->edit->last)
		return -EINVAL;
	n = ctx->edit->last - ctx->edit->first + 1;
	k = fade_in ? ctx->frame - ctx->edit->first : ctx->edit->last - ctx->frame;
	for (int v = 0; v < 256; v++) {
		luma[v] = reel__clamp8(16 + reel__round_div((int64_t)(v - 16) * k, n));
		chroma[v] = reel__clamp8(128 + reel__round_div((int64_t)(v - 128) * k, n));
	}
	reel__plane_lut(frame->plane[0], frame->stride[0], frame->width[0], frame->height[0], luma);
	for (int p = 1; p < 3; p++)
		reel__plane_lut(frame->plane[p], frame->stride[p], frame->width[p], frame->height[p],
		                chroma);
	return 0;
}

#endif
