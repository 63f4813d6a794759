/*
 * reel frame: write one frame of a live session, as it stands in the
 * buffer, to an image: PNG, JPEG or raw YUV420P, by the file's extension, or
 * to standard output.  The frame is materialised on demand and copied out
 * under the slot's seqlock, so a concurrent edit never yields a torn
 * picture.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "cli.h"
#include "edit-args.h"
#include "media/media.h"
#include "reel/client.h"
#include "reel/error.h"

#define NEED_TIMEOUT_MS 60000

static void usage(FILE *out)
{
	fprintf(out, "usage: reel frame SESSION (N | --time T) --out FILE [--format F] [--settled]\n\n"
	             "Write frame N (0-based, presentation order), or the frame at time T, as it\n"
	             "stands in the buffer.  T is read as ffmpeg's -ss reads it (6.5, 1:02.5,\n"
	             "00:01:02.5) and names the first frame that starts at or after T, through the\n"
	             "video's real timestamps: the frame 'ffmpeg -ss T' decodes first.  FILE's\n"
	             "extension names the format:\n"
	             ".png, .jpg/.jpeg, or .yuv (raw YUV420P planes, rows packed).  FILE - writes\n"
	             "to standard output in --format (png, jpeg or yuv; default png).  It prints the\n"
	             "frame number, its timestamp and where it went (on stderr with --out -).\n\n"
	             "  --settled   wait until no edit still being applied covers the frame\n");
}

static int format_named(const char *name)
{
	if (!strcmp(name, "png"))
		return REEL_IMAGE_PNG;
	if (!strcmp(name, "jpeg") || !strcmp(name, "jpg"))
		return REEL_IMAGE_JPEG;
	if (!strcmp(name, "yuv"))
		return REEL_IMAGE_YUV;
	return -1;
}

int cmd_frame(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "time", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'f' },
		{ "settled", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *time = NULL, *fmt_name = NULL, *session;
	struct reel_client *client = NULL;
	struct reel_buffer *buffer = NULL;
	struct reel_video_info vi;
	struct reel_frame copy = { 0 };
	uint64_t frame = 0, state;
	int64_t at;
	unsigned flags = 0;
	int opt, r, format, colorspace, code = CLI_FAIL;
	char why[256];

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o': out = optarg; break;
		case 't': time = optarg; break;
		case 'f': fmt_name = optarg; break;
		case 's': flags |= REEL_READ_SETTLED; break;
		case 'h': usage(stdout); return CLI_OK;
		default:
			return cli_bad_option("frame", opt, argv);
		}
	}
	if (!out)
		return cli_error(CLI_USAGE, "frame", "--out FILE is missing (see 'reel frame --help')");
	if (argc - optind != (time ? 1 : 2))
		return cli_error(CLI_USAGE, "frame", time ? "expected SESSION and --time T, not a frame "
		                 "number too (see 'reel frame --help')" : "expected SESSION and N "
		                 "(see 'reel frame --help')");
	session = argv[optind];
	if (!time && cli_parse_u64(argv[optind + 1], &frame) < 0)
		return cli_error(CLI_USAGE, "frame", "'%s' is not a frame number", argv[optind + 1]);
	if (strcmp(out, "-") == 0) {
		format = fmt_name ? format_named(fmt_name) : REEL_IMAGE_PNG;
		if (format < 0)
			return cli_error(CLI_USAGE, "frame", "--format %s: expected png, jpeg or yuv", fmt_name);
		if (isatty(STDOUT_FILENO) && format != REEL_IMAGE_YUV)
			return cli_error(CLI_USAGE, "frame", "--out -: standard output is a terminal; "
			                 "redirect it to a file or a pipe");
	} else {
		format = reel_media_image_format(out);
		if (format < 0)
			return cli_error(CLI_USAGE, "frame", "--out %s: name a .png, .jpg, .jpeg or .yuv file "
			                 "(or - for standard output)", out);
		if (fmt_name && format_named(fmt_name) != format)
			return cli_error(CLI_USAGE, "frame", "--format %s does not match %s", fmt_name, out);
	}
	r = reel_session_name_check(session);
	if (r == 0)
		r = reel_client_connect(session, &client);
	if (r < 0)
		return cli_error(CLI_USAGE, "frame", "%s: %s", session, reel_strerror(r));
	cli_say("frame", "session %s: coordinator pid %ld, buffer %s", session,
	        (long)reel_client_record(client)->pid, reel_client_record(client)->buffer_path);
	r = reel_buffer_open_readonly(reel_client_record(client)->buffer_path, &buffer);
	if (r == 0)
		r = reel_client_video(client, &vi);
	if (r < 0) {
		cli_error(CLI_FAIL, "frame", "%s: %s", reel_client_record(client)->buffer_path,
		          reel_strerror(r));
		goto out_close;
	}
	if (time) {
		if (cli_frame_at(buffer, time, &at, why, sizeof(why)) < 0) {
			code = cli_error(CLI_USAGE, "frame", "%s", why);
			goto out_close;
		}
		frame = (uint64_t)at;
		cli_say("frame", "--time %s is frame %" PRIu64 " (it starts at %.6f s)", time, frame,
		        cli_frame_seconds(buffer, at));
	}
	if (frame >= vi.frames) {
		code = cli_error(CLI_USAGE, "frame", "frame %" PRIu64 " out of range (the video has %" PRIu64
		                 " frames, 0 to %" PRIu64 ")", frame, vi.frames, vi.frames - 1);
		goto out_close;
	}
	vi.channels = 0;   /* the picture only */
	if (reel_frame_alloc(&vi, &copy) < 0) {
		cli_error(CLI_FAIL, "frame", "out of memory");
		goto out_close;
	}
	r = reel_client_read_frame(client, frame, flags, REEL_PRIO_INTERACTIVE, NEED_TIMEOUT_MS, &copy,
	                           &state);
	if (r < 0) {
		cli_error(CLI_FAIL, "frame", "%s: frame %" PRIu64 ": %s", session, frame,
		          r == -ETIMEDOUT ? "the coordinator did not answer" : reel_strerror(r));
		goto out_close;
	}
	cli_say("frame", "frame %" PRIu64 " read%s; it holds the journal up to entry %" PRIu64, frame,
	        flags & REEL_READ_SETTLED ? " once settled" : "", state);
	colorspace = (int)reel_buffer_info(buffer)->format.colorspace;
	r = strcmp(out, "-") == 0 ? reel_media_write_image_fd(STDOUT_FILENO, format, &copy, colorspace)
	                          : reel_media_write_image(out, &copy, colorspace);
	if (r < 0) {
		cli_error(CLI_FAIL, "frame", "%s: %s", out, reel_strerror(r));
		goto out_close;
	}
	/* A frame served before the background index reached it has no time to tell yet. */
	if (frame < reel_index_ready(buffer))
		fprintf(strcmp(out, "-") == 0 ? stderr : stdout, "frame %" PRIu64 ", at %.6f s: %s\n",
		        frame, cli_frame_seconds(buffer, (int64_t)frame),
		        strcmp(out, "-") == 0 ? "standard output" : out);
	else
		fprintf(strcmp(out, "-") == 0 ? stderr : stdout,
		        "frame %" PRIu64 " (its time is not indexed yet): %s\n", frame,
		        strcmp(out, "-") == 0 ? "standard output" : out);
	code = CLI_OK;
out_close:
	reel_frame_free(&copy);
	reel_buffer_close(buffer);
	reel_client_close(client);
	return code;
}
