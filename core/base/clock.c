/*
 * The monotonic clock (see clock.h).
 */
#include <time.h>

#include "base/clock.h"

int64_t reel__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double reel__now_ms(void)
{
	return (double)reel__now_ns() / 1e6;
}
