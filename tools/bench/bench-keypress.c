/*
 * reel-bench keypress (see reel-bench.c for what it measures).
 */
#include "bench/bench.h"

int cmd_keypress_bench(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return fail("keypress: not written yet"), CLI_FAIL;
}
