/*
 * reel-preview's command line: which session, and either a window or one
 * frame written to a file.  Every refusal names the argument that is wrong.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preview.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: reel-preview --session NAME [--frame N | --time T] [--play]\n"
	        "       reel-preview --session NAME (--snapshot N | --time T) --out FILE [--settled]\n\n"
	        "Show the live buffer of reel session NAME in a window: its frames as they stand,\n"
	        "edits included, played at the video's frame rate with its sound (the picture\n"
	        "follows the sound's clock).  'reel open' starts one when there is a display\n"
	        "(DISPLAY or WAYLAND_DISPLAY; SDL_VIDEODRIVER picks another on purpose).\n"
	        "With --out, write one frame to FILE instead, without a window: .png, .jpg/.jpeg\n"
	        "or .yuv (raw YUV420P), by its extension.\n\n"
	        "  --frame N      start on frame N (0-based, presentation order)\n"
	        "  --time T       start on (or write) the first frame that starts at or after T,\n"
	        "                 as ffmpeg -ss T and 'reel frame --time' read it: 6.5, 1:02.5,\n"
	        "                 00:01:02.5\n"
	        "  --play         start playing rather than paused\n"
	        "  --loop         at the end, play again from the first frame\n"
	        "  --snapshot N   write frame N to --out FILE\n"
	        "  --settled      with --out: wait until no edit still being applied covers it\n"
	        "  --trace FILE   for measurement and tests: append a line to FILE for every\n"
	        "                 frame presented (time, frame, the journal state it holds)\n"
	        "  --verbose      say more in the session's log\n\n"
	        "keys:\n"
	        "  space          play / pause\n"
	        "  left, right    one frame back or on (and pause)\n"
	        "  shift+left/right   one second back or on\n"
	        "  down, up       ten seconds back or on\n"
	        "  home, end      the first or the last frame\n"
	        "  click or drag on the bar at the bottom: go there\n"
	        "  f              fullscreen on or off\n"
	        "  o              overlay on or off\n"
	        "  q, escape      quit\n\n"
	        "quick edits, sent like 'reel send' at the interactive priority; each covers\n"
	        "the frame on screen to the end of the video:\n"
	        "  b, B           brightness -%.2f, +%.2f\n"
	        "  c, C           contrast x%.1f, x%.1f\n"
	        "  g              grayscale\n"
	        "  i              invert\n"
	        "  m              mute the sound\n"
	        "  u, r           undo the latest edit, redo the latest undone one (any edit of\n"
	        "                 the session, wherever it was sent from)\n\n"
	        "The overlay shows the frame number, the timecode, a bar of which frames are in\n"
	        "the buffer (grey: resident, red: cannot be decoded), and the edits still being\n"
	        "applied.  A frame not in the buffer yet is asked for; meanwhile the previous\n"
	        "one stays up with a 'loading' mark.\n",
	        QUICK_BRIGHTNESS_STEP, QUICK_BRIGHTNESS_STEP, QUICK_CONTRAST_DOWN, QUICK_CONTRAST_UP);
}

int preview_error(int code, const char *fmt, ...)
{
	va_list ap;

	fputs(PREVIEW_PROGRAM ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static int frame_number(const char *option, const char *text, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!text || *text < '0' || *text > '9')
		goto out_bad;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v > INT64_MAX)
		goto out_bad;
	*ret = v;
	return 0;

out_bad:
	return preview_error(PREVIEW_USAGE, "%s %s: not a frame number", option, text);
}

int preview_parse_args(int argc, char **argv, struct preview_args *a)
{
	static const struct option longopts[] = {
		{ "session", required_argument, NULL, 's' },
		{ "frame", required_argument, NULL, 'f' },
		{ "time", required_argument, NULL, 't' },
		{ "snapshot", required_argument, NULL, 'n' },
		{ "out", required_argument, NULL, 'o' },
		{ "settled", no_argument, NULL, 'S' },
		{ "play", no_argument, NULL, 'p' },
		{ "loop", no_argument, NULL, 'L' },
		{ "trace", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool snapshot = false, frame = false;
	int opt;

	memset(a, 0, sizeof(*a));
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":hv", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': a->session = optarg; break;
		case 'f':
		case 'n': {
			const char *name = opt == 'f' ? "--frame" : "--snapshot";

			if (frame || snapshot)
				return preview_error(PREVIEW_USAGE, "%s %s: a frame was already given", name,
				                     optarg);
			if (frame_number(name, optarg, &a->frame) != 0)
				return PREVIEW_USAGE;
			*(opt == 'f' ? &frame : &snapshot) = true;
			break;
		}
		case 't': a->time = optarg; break;
		case 'o': a->out = optarg; break;
		case 'S': a->settled = true; break;
		case 'p': a->play = true; break;
		case 'L': a->loop = true; break;
		case 'T': a->trace = optarg; break;
		case 'v': a->verbose = true; break;
		case 'h': usage(stdout); return -1;
		case ':':
			return preview_error(PREVIEW_USAGE, "option '%s' needs a value", argv[optind - 1]);
		default:
			return preview_error(PREVIEW_USAGE, "unknown option '%s' (see '" PREVIEW_PROGRAM
			                     " --help')", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return preview_error(PREVIEW_USAGE, "unexpected argument '%s' (see '" PREVIEW_PROGRAM
		                     " --help')", argv[optind]);
	if (!a->session)
		return preview_error(PREVIEW_USAGE, "--session NAME is missing (see '" PREVIEW_PROGRAM
		                     " --help')");
	if (a->session[0] == 0)
		return preview_error(PREVIEW_USAGE, "--session: empty session name");
	a->have_frame = frame || snapshot;
	if (a->time && a->have_frame)
		return preview_error(PREVIEW_USAGE, "--time %s and %s %llu name two frames; give one",
		                     a->time, frame ? "--frame" : "--snapshot",
		                     (unsigned long long)a->frame);
	if (a->out && a->out[0] == 0)
		return preview_error(PREVIEW_USAGE, "--out: empty file name");
	if (snapshot && !a->out)
		return preview_error(PREVIEW_USAGE, "--snapshot %llu needs --out FILE",
		                     (unsigned long long)a->frame);
	if (a->out && frame)
		return preview_error(PREVIEW_USAGE, "--frame is where the window starts; with --out, "
		                     "name the frame with --snapshot N");
	if (a->out && !snapshot && !a->time)
		return preview_error(PREVIEW_USAGE, "--out %s: which frame? give --snapshot N or --time T",
		                     a->out);
	if (a->out && (a->play || a->loop || a->trace))
		return preview_error(PREVIEW_USAGE, "%s is for the window, not with --out",
		                     a->play ? "--play" : a->loop ? "--loop" : "--trace");
	if (!a->out && a->settled)
		return preview_error(PREVIEW_USAGE, "--settled is for --out; the window shows every edit "
		                     "as it lands");
	return PREVIEW_OK;
}
