/*
 * audio-fade-out: fade the sound out over the command's range, from full
 * volume at its first sample to silence at its end.  See afade.h.
 */
#include "afade.h"
#include "audio-ops.h"

int reel__audio_fade_out(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                         void *userdata)
{
	return afade_apply(ctx, frame, 0);
}
