/*
 * reel export: encode the frames of a session, as they stand, to a file.
 */
#include "cli.h"

int cmd_export(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_error(CLI_FAIL, "export", "not written yet");
}
