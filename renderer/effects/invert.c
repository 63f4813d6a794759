/*
 * invert: the negative of limited-range video, as FFmpeg's negate filter
 * makes it: Y' = clamp8(251 - Y) (so 16 and 235 trade places), U' =
 * clamp8(256 - U) and V' likewise (so 128 stays neutral).
 *
 * Both are written in 8-bit arithmetic that vectorises: 251 - min(Y, 251)
 * is clamp8(251 - Y), and (uint8_t)(0 - max(U, 1)) is 256 - U for U >= 1
 * and 255 for U = 0, which is clamp8(256 - U).
 */
#include <errno.h>

#include "edit/op-util.h"
#include "effect-ops.h"

static void invert_luma(uint8_t *plane, size_t stride, size_t w, size_t h)
{
	for (size_t y = 0; y < h; y++) {
		uint8_t *row = plane + y * stride;
		size_t x = 0;

		for (; x + REEL__BLOCK <= w; x += REEL__BLOCK) {
			uint8_t *b = row + x;

			for (size_t j = 0; j < REEL__BLOCK; j++)
				b[j] = (uint8_t)(251 - (b[j] < 251 ? b[j] : 251));
		}
		for (; x < w; x++)
			row[x] = (uint8_t)(251 - (row[x] < 251 ? row[x] : 251));
	}
}

static void invert_chroma(uint8_t *plane, size_t stride, size_t w, size_t h)
{
	for (size_t y = 0; y < h; y++) {
		uint8_t *row = plane + y * stride;
		size_t x = 0;

		for (; x + REEL__BLOCK <= w; x += REEL__BLOCK) {
			uint8_t *b = row + x;

			for (size_t j = 0; j < REEL__BLOCK; j++)
				b[j] = (uint8_t)(0u - (b[j] > 1 ? b[j] : 1u));
		}
		for (; x < w; x++)
			row[x] = (uint8_t)(0u - (row[x] > 1 ? row[x] : 1u));
	}
}

int reel__effect_invert(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata)
{
	if (!frame)
		return -EINVAL;
	invert_luma(frame->plane[0], frame->stride[0], frame->width[0], frame->height[0]);
	for (int p = 1; p < 3; p++)
		invert_chroma(frame->plane[p], frame->stride[p], frame->width[p], frame->height[p]);
	return 0;
}
