/*
 * fade-in: fade the picture in from black over the command's range: its first
 * frame is black, and the frame after its last would be the picture
 * unchanged.
 * See fade.h for the arithmetic.
 */
#include "editor-ops.h"
#include "fade.h"

int reel__editor_fade_in(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                         void *userdata)
{
	return fade_apply(ctx, frame, 1);
}
