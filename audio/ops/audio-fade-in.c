/*
 * audio-fade-in: fade the sound in over the command's range, from silence at its
 * first sample to full volume at its end.  See afade.h.
 */
#include "afade.h"
#include "audio-ops.h"

int reel__audio_fade_in(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                        void *userdata)
{
	return afade_apply(ctx, frame, 1);
}
