/*
 * Small exact integer helpers shared by the op implementations and written
 * once, so every op rounds the same way.
 */
#ifndef REEL_EDIT_OP_UTIL_H
#define REEL_EDIT_OP_UTIL_H

#include <stdint.h>

static inline uint8_t reel__clamp8(int64_t v)
{
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* a / b rounded to nearest, halves away from zero; b > 0. */
static inline int64_t reel__round_div(int64_t a, int64_t b)
{
	return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b);
}

#endif
