/*
 * Small exact integer helpers shared by the op implementations and written
 * once, so every op rounds the same way, and the plane loops that several
 * ops share.
 *
 * The plane loops walk rows `stride` bytes apart and touch only the first
 * `w` bytes of each: the padding after a row belongs to nobody.  Their inner
 * loops work in blocks of a fixed count over a plain pointer because that is
 * the shape gcc -O2 (whose cost model vectorises only loops with no scalar
 * remainder) and clang both turn into SIMD; the remainder of a row runs as
 * plain scalar code after the blocks.
 */
#ifndef REEL_EDIT_OP_UTIL_H
#define REEL_EDIT_OP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint8_t reel__clamp8(int64_t v)
{
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* a / b rounded to nearest, halves away from zero; b > 0. */
static inline int64_t reel__round_div(int64_t a, int64_t b)
{
	return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b);
}

/* Bytes handled per block by the plane loops below: two SSE2 vectors. */
#define REEL__BLOCK 32

/*
 * plane[x] = lut[plane[x]] over w x h bytes.  A byte table lookup does not
 * vectorise (baseline x86-64 has no byte shuffle or gather).  Eight lookups
 * are done before their eight bytes are stored: a byte store may alias the
 * table as far as the compiler knows, so a plain loop reloads after every
 * store, and this runs about twice as fast.
 */
static inline void reel__plane_lut(uint8_t *plane, size_t stride, size_t w, size_t h,
                                   const uint8_t lut[256])
{
	for (size_t y = 0; y < h; y++) {
		uint8_t *row = plane + y * stride;
		size_t x = 0;

		for (; x + 8 <= w; x += 8) {
			uint8_t o[8];

			for (unsigned k = 0; k < 8; k++)
				o[k] = lut[row[x + k]];
			memcpy(row + x, o, 8);
		}
		for (; x < w; x++)
			row[x] = lut[row[x]];
	}
}

/*
 * plane[x] = clamp8(plane[x] + delta) over w x h bytes.  Written with
 * 8-bit minimum and maximum so no wider type is needed: min(v, 255 - d) + d
 * is min(v + d, 255), and max(v, d) - d is max(v - d, 0); both are exact.
 */
static inline void reel__plane_add(uint8_t *plane, size_t stride, size_t w, size_t h, int delta)
{
	if (delta == 0)
		return;
	/* Beyond +-255 every value clamps the same way as at +-255. */
	if (delta > 255)
		delta = 255;
	if (delta < -255)
		delta = -255;
	if (delta > 0) {
		const uint8_t d = (uint8_t)delta, cap = (uint8_t)(255 - delta);

		for (size_t y = 0; y < h; y++) {
			uint8_t *row = plane + y * stride;
			size_t x = 0;

			for (; x + REEL__BLOCK <= w; x += REEL__BLOCK) {
				uint8_t *b = row + x;

				for (size_t j = 0; j < REEL__BLOCK; j++)
					b[j] = (uint8_t)((b[j] < cap ? b[j] : cap) + d);
			}
			for (; x < w; x++)
				row[x] = (uint8_t)((row[x] < cap ? row[x] : cap) + d);
		}
	} else {
		const uint8_t d = (uint8_t)-delta;

		for (size_t y = 0; y < h; y++) {
			uint8_t *row = plane + y * stride;
			size_t x = 0;

			for (; x + REEL__BLOCK <= w; x += REEL__BLOCK) {
				uint8_t *b = row + x;

				for (size_t j = 0; j < REEL__BLOCK; j++)
					b[j] = (uint8_t)((b[j] > d ? b[j] : d) - d);
			}
			for (; x < w; x++)
				row[x] = (uint8_t)((row[x] > d ? row[x] : d) - d);
		}
	}
}

/* Every byte of the w x h plane set to v. */
static inline void reel__plane_fill(uint8_t *plane, size_t stride, size_t w, size_t h, uint8_t v)
{
	for (size_t y = 0; y < h; y++)
		memset(plane + y * stride, v, w);
}

#endif
