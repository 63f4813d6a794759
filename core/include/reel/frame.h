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

/* A view of one slot's pixels and samples, inside the mapping. */
struct reel_frame {
	uint8_t *plane[3];
	uint32_t stride[3];
	uint32_t width[3], height[3];
	float *audio;                      /* interleaved, channels per sample */
	uint32_t audio_capacity;           /* samples per channel */
	uint32_t channels;
};

#endif
