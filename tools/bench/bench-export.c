/*
 * reel-bench export (see reel-bench.c for what it measures).
 */
#include "bench/bench.h"

int cmd_export_bench(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return fail("export: not written yet"), CLI_FAIL;
}
