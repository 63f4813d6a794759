/*
 * Preloaded only under valgrind, and only where valgrind cannot start reel
 * without it (tests/valgrind/run-valgrind.sh decides).
 *
 * libhwy (loaded by libavcodec through libjxl) measures its timer's
 * resolution in a constructor with RDTSCP.  Valgrind 3.19 decodes RDTSCP
 * only when CPUID announces it, and some virtual CPUs run the instruction
 * without announcing it, so every program linked with libavcodec dies of
 * SIGILL before main under valgrind there.  The constructor calls the
 * function through its PLT, so a definition here takes its place; the value
 * only feeds libhwy's benchmark helpers, which reel never calls.  None of
 * reel's own code is replaced.
 */
#include <stdint.h>

/* hwy::platform::TimerResolution() (libhwy 1.0), in timer ticks. */
uint64_t _ZN3hwy8platform15TimerResolutionEv(void);

uint64_t _ZN3hwy8platform15TimerResolutionEv(void)
{
	return 1;
}
