/*
 * mute: silence, every sample of the frame set to 0.
 */
#include <errno.h>

#include "audio-ops.h"

int reel__audio_mute(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata)
{
	float *a;
	size_t n;

	if (!frame)
		return -EINVAL;
	a = frame->audio;
	n = audio_values(frame);
	for (size_t i = 0; i < n; i++)
		a[i] = 0.0f;
	return 0;
}
