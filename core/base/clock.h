/*
 * The one monotonic clock of reel.  Deadlines, timeouts and benchmarks all
 * read CLOCK_MONOTONIC through these, so that no two parts disagree on what
 * "now" means or on the unit.
 */
#ifndef REEL_BASE_CLOCK_H
#define REEL_BASE_CLOCK_H

#include <stdint.h>

/* Nanoseconds since an arbitrary point (boot); never goes back. */
int64_t reel__now_ns(void);
/* The same in milliseconds, with fractions. */
double reel__now_ms(void);

#endif
