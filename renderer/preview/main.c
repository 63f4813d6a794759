/*
 * reel-preview: the SDL2 window that shows a session's buffer live, or one
 * frame of it written to a file (see preview.h for its parts).
 */
#include <signal.h>

#include "preview.h"
#include "reel/log.h"

int main(int argc, char **argv)
{
	struct preview_args args;
	int r = preview_parse_args(argc, argv, &args);

	if (r < 0)
		return PREVIEW_OK;   /* --help */
	if (r != PREVIEW_OK)
		return r;
	/* A coordinator we talk to may go away; a write to its queue must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	/* The window's lines go to the session log's ring once attached, which costs nothing. */
	if (args.verbose)
		reel_log_set_level(REEL_LOG_DEBUG);
	else if (!args.out)
		reel_log_set_level(REEL_LOG_INFO);
	return args.out ? preview_snapshot(&args) : preview_window(&args);
}
