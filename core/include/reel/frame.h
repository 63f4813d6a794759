/*
 * The frame view: where one frame's pixels and samples lie, inside the
 * shared buffer (a slot) or in a caller's own memory.  Pictures are 8-bit
 * YUV 4:2:0, limited range, three planes; audio is interleaved float32.
 * Nothing here owns memory: a view points into memory someone else keeps.
 */
#ifndef REEL_FRAME_H
#define REEL_FRAME_H

#include <stdint.h>

struct reel_rational { int32_t num, den; };

/*
 * A view of one frame: Y, U and V planes (U and V of (width + 1) / 2 by
 * (height + 1) / 2), each row stride[i] bytes apart, then the frame's
 * sound.  In a slot of the buffer the view points into the mapping.
 */
struct reel_frame {
	uint8_t *plane[3];
	uint32_t stride[3];
	uint32_t width[3], height[3];
	float *audio;                      /* interleaved, channels per sample; NULL without sound */
	uint32_t audio_capacity;           /* samples per channel the memory holds */
	uint32_t audio_samples;            /* samples per channel of this frame (<= capacity) */
	uint32_t channels;
};

/* What a reader needs to know of the video to hold its frames. */
struct reel_video_info {
	uint32_t width, height;
	struct reel_rational frame_rate;   /* nominal */
	struct reel_rational time_base;    /* of the frames' timestamps */
	uint64_t frames;
	uint32_t sample_rate, channels;    /* 0 without sound */
	uint32_t audio_capacity;           /* most samples per channel one frame holds */
};

/*
 * Memory for one frame of such a video, planes packed (stride = width) and
 * room for its sound; *ret_frame points into it.  0 or -ENOMEM; free with
 * reel_frame_free(), which accepts a frame that was never allocated.
 */
int reel_frame_alloc(const struct reel_video_info *info, struct reel_frame *ret_frame);
void reel_frame_free(struct reel_frame *frame);

#endif
