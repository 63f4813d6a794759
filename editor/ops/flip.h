/*
 * Row swaps and reversals shared by hflip, vflip and rotate180.  Static
 * inline, so each op's file still exports only its own function.  They
 * work in place without scratch, touch the first w bytes of each row only
 * (never the padding), and so cannot fail.
 */
#ifndef REEL_EDITOR_FLIP_H
#define REEL_EDITOR_FLIP_H

#include <stddef.h>
#include <stdint.h>

/* Reverse w bytes in place. */
static inline void flip_reverse_row(uint8_t *row, size_t w)
{
	for (size_t i = 0, j = w - 1; i < j; i++, j--) {
		uint8_t t = row[i];

		row[i] = row[j];
		row[j] = t;
	}
}

/* Exchange the w bytes of rows a and b, b's reversed when `reverse` (a != b). */
static inline void flip_swap_rows(uint8_t *restrict a, uint8_t *restrict b, size_t w, int reverse)
{
	if (reverse) {
		for (size_t i = 0; i < w; i++) {
			uint8_t t = a[i];

			a[i] = b[w - 1 - i];
			b[w - 1 - i] = t;
		}
	} else {
		for (size_t i = 0; i < w; i++) {
			uint8_t t = a[i];

			a[i] = b[i];
			b[i] = t;
		}
	}
}

/* Mirror a w x h plane: left-right, top-bottom, or both (a half turn). */
static inline void flip_plane(uint8_t *plane, size_t stride, size_t w, size_t h, int horizontal,
                              int vertical)
{
	if (w == 0 || h == 0)
		return;
	if (!vertical) {
		for (size_t y = 0; y < h; y++)
			flip_reverse_row(plane + y * stride, w);
		return;
	}
	for (size_t y = 0; y < h / 2; y++)
		flip_swap_rows(plane + y * stride, plane + (h - 1 - y) * stride, w, horizontal);
	/* An odd height leaves the middle row in place; a half turn still mirrors it. */
	if ((h & 1) && horizontal)
		flip_reverse_row(plane + (h / 2) * stride, w);
}

#endif
