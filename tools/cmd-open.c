/*
 * reel open: run a session's coordinator in the foreground until it is
 * stopped (reel stop, Ctrl-C or SIGTERM).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "coord.h"
#include "buffer/buffer.h"
#include "bus/bus.h"
#include "reel/error.h"
#include "reel/log.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: reel open VIDEO [--session NAME] [--buffer PATH] [--cache SIZE]\n"
	        "                 [--no-stages] [--no-preview] [--verbose]\n\n"
	        "Open VIDEO in a new session and coordinate it until it is stopped.\n"
	        "Frames are decoded lazily into a shared buffer file; reopening the same\n"
	        "buffer resumes the session, journal and all.\n\n"
	        "  --session NAME  session name (default: the video's file name)\n"
	        "  --buffer PATH   buffer file (default: ~/.cache/reel/NAME.reel)\n"
	        "  --cache SIZE    memory budget for decoded frames, e.g. 512M, 4G\n"
	        "                  (default: the whole clip if it fits in a quarter of RAM)\n"
	        "  --no-stages     do not start the editor, effect and audio stages (none are\n"
	        "                  started yet: they arrive with a later release; stages\n"
	        "                  started by hand attach to the session)\n"
	        "  --no-preview    do not open the preview window\n"
	        "  --verbose       log what the coordinator does\n");
}

/* A progress line on a terminal while the first open indexes a long video. */
static void show_progress(void *userdata, const char *what, uint64_t done, uint64_t total)
{
	const char *video = userdata;

	if (total)
		fprintf(stderr, "\rreel: %s %s: %3.0f%%", what, video, 100.0 * (double)done / (double)total);
}

int cmd_open(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "session", required_argument, NULL, 's' },
		{ "buffer", required_argument, NULL, 'b' },
		{ "cache", required_argument, NULL, 'c' },
		{ "no-stages", no_argument, NULL, 'S' },
		{ "no-preview", no_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct reel_coord_options o = { 0 };
	struct reel_coord *coord;
	const struct reel_buffer_info *info;
	int opt, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': o.session = optarg; break;
		case 'b': o.buffer_path = optarg; break;
		case 'c':
			if (cli_parse_size(optarg, &o.cache_bytes) < 0 || o.cache_bytes == 0)
				return cli_error(CLI_USAGE, "open", "--cache: '%s' is not a size (e.g. 512M, 4G)", optarg);
			break;
		case 'S': o.no_stages = true; break;
		case 'P': break; /* the preview arrives with its issue; accepted already */
		case 'v': reel_log_set_level(REEL_LOG_INFO); break;
		case 'h': usage(stdout); return CLI_OK;
		default:
			return cli_bad_option("open", opt, argv);
		}
	}
	if (optind != argc - 1)
		return cli_error(CLI_USAGE, "open", "expected one VIDEO (see 'reel open --help')");
	o.video = argv[optind];
	if (cli_progress_enabled()) {
		o.progress = show_progress;
		o.progress_data = (void *)o.video;
	}

	r = reel_coord_open(&o, &coord);
	if (o.progress)
		fprintf(stderr, "\r\033[K");
	if (r == -ECANCELED)
		return cli_error(130, "open", "%s: interrupted; nothing was left behind", o.video);
	if (r < 0) {
		char path[4096];
		/* Bad input, a busy name or buffer: 2.  The machine failing us: 1. */
		int code = r >= REEL_E_FIRST && r < REEL_E_LAST ? CLI_USAGE : CLI_FAIL;
		if (r == REEL_E_SOURCE || r == REEL_E_BUFFERBUSY || r == REEL_E_INCOMPLETE) {
			char session[REEL_SESSION_NAME_MAX + 1];
			if (o.session)
				snprintf(session, sizeof(session), "%s", o.session);
			else
				reel_coord_session_from_path(o.video, session, sizeof(session));
			if (reel_coord_buffer_path_for(&o, session, path, sizeof(path)) < 0)
				snprintf(path, sizeof(path), "%s", o.buffer_path ? o.buffer_path : "(default)");
			if (r == REEL_E_SOURCE)
				return cli_error(code, "open", "%s: buffer file %s was made from another source",
				                 o.video, path);
			return cli_error(code, "open", "%s: %s: %s", o.video, path, reel_strerror(r));
		}
		return cli_error(code, "open", "%s: %s", o.video, reel_strerror(r));
	}
	info = reel_coord_info(coord);
	fprintf(stderr,
	        "reel: session %s %s: %ux%u, %" PRIu64 " frames, %u slots, buffer %s\n"
	        "reel: stop it with 'reel stop %s' or Ctrl-C\n",
	        reel_coord_session(coord), reel_coord_resumed(coord) ? "resumed" : "opened",
	        info->width, info->height, info->frame_count, info->slot_count,
	        reel_coord_buffer_path(coord), reel_coord_session(coord));
	r = reel_coord_run(coord);
	reel_coord_close(coord);
	if (r < 0)
		return cli_error(CLI_FAIL, "open", "%s", reel_strerror(r));
	return CLI_OK;
}
