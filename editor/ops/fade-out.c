/*
 * fade-out: fade the picture out to black over the command's range: its first
 * frame keeps (n - 1) / n of the picture, its last frame is black (n frames).
 * See fade.h for the arithmetic.
 */
#include "editor-ops.h"
#include "fade.h"

int reel__editor_fade_out(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                          void *userdata)
{
	return fade_apply(ctx, frame, 0);
}
