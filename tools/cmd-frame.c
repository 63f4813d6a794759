/*
 * reel frame: write frame N of a live session, as it stands in the buffer,
 * to a PNG or raw YUV420P file.  The frame is materialised on demand and
 * copied out under the slot's seqlock, so a concurrent edit never yields a
 * torn picture.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "buffer/buffer.h"
#include "bus/bus.h"
#include "reel/client.h"
#include "reel/error.h"
#include "media/media.h"
#include "buffer/slot.h"

#define NEED_TIMEOUT_MS 60000

static void usage(FILE *out)
{
	fprintf(out, "usage: reel frame SESSION N --out FILE\n\n"
	             "Write frame N (0-based, presentation order) of a live session as it stands\n"
	             "in the buffer: PNG, or raw YUV420P planes when FILE ends in .yuv.\n");
}

/* Copy the slot's planes into one private block; 1 when the slot held another frame. */
static int copy_frame(struct reel_buffer *b, uint32_t slot, uint64_t frame, uint8_t *dst,
                      struct reel_frame *ret_copy, int32_t *ret_error)
{
	struct reel_frame f;
	struct reel_slot_info si;
	int r;

	r = reel_buffer_frame(b, slot, &f);
	if (r < 0)
		return r;
	for (int attempt = 0; attempt < 1000; attempt++) {
		uint32_t v = reel_slot_read_begin(b, slot);
		uint8_t *p = dst;

		r = reel_slot_get(b, slot, &si);
		if (r < 0)
			return r;
		/* Another frame now, or this one thrown away for a rebuild: ask again. */
		if (si.frame != (int64_t)frame || si.state == REEL_SLOT_STALE || si.state == REEL_SLOT_EMPTY)
			return 1;
		for (int i = 0; i < 3; i++) {
			ret_copy->plane[i] = p;
			ret_copy->stride[i] = f.width[i];
			ret_copy->width[i] = f.width[i];
			ret_copy->height[i] = f.height[i];
			for (uint32_t y = 0; y < f.height[i]; y++, p += f.width[i])
				memcpy(p, f.plane[i] + (size_t)y * f.stride[i], f.width[i]);
		}
		if (reel_slot_read_validate(b, slot, v)) {
			if (si.state == REEL_SLOT_ERROR) {
				*ret_error = si.error < 0 ? si.error : REEL_E_DECODE;
				return 0;
			}
			if (si.state == REEL_SLOT_READY) {
				*ret_error = 0;
				return 0;
			}
		}
		/* A writer got in between, or the frame is being rebuilt: wait a little. */
		reel_slot_wait(b, slot, si.state, 100);
	}
	return -EAGAIN;
}

int cmd_frame(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *session;
	struct reel_client *client = NULL;
	struct reel_buffer *buffer = NULL;
	struct reel_frame copy = { 0 };
	uint8_t *pixels = NULL;
	uint64_t frame, frames;
	int32_t error = 0;
	int opt, r, code = CLI_FAIL;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o': out = optarg; break;
		case 'h': usage(stdout); return CLI_OK;
		default:
			return cli_bad_option("frame", opt, argv);
		}
	}
	if (argc - optind != 2 || !out)
		return cli_error(CLI_USAGE, "frame", "expected SESSION N --out FILE (see 'reel frame --help')");
	session = argv[optind];
	if (cli_parse_u64(argv[optind + 1], &frame) < 0)
		return cli_error(CLI_USAGE, "frame", "'%s' is not a frame number", argv[optind + 1]);
	r = reel_session_name_check(session);
	if (r == 0)
		r = reel_client_connect(session, &client);
	if (r < 0)
		return cli_error(CLI_USAGE, "frame", "%s: %s", session, reel_strerror(r));
	/* A reader maps the buffer read-only: it cannot damage what it looks at. */
	r = reel_buffer_open_readonly(reel_client_record(client)->buffer_path, &buffer);
	if (r < 0) {
		cli_error(CLI_FAIL, "frame", "%s: %s", reel_client_record(client)->buffer_path,
		          reel_strerror(r));
		goto out_close;
	}
	frames = reel_buffer_info(buffer)->frame_count;
	if (frame >= frames) {
		code = cli_error(CLI_USAGE, "frame", "frame %" PRIu64 " out of range (the video has %" PRIu64
		                 " frames, 0 to %" PRIu64 ")", frame, frames, frames - 1);
		goto out_close;
	}
	pixels = malloc(reel_buffer_info(buffer)->slot_stride);
	if (!pixels) {
		cli_error(CLI_FAIL, "frame", "out of memory");
		goto out_close;
	}
	/* The slot may be handed to another frame between the reply and the copy: ask again. */
	for (int attempt = 0;; attempt++) {
		uint32_t slot;
		r = reel_client_need(client, frame, frame, REEL_PRIO_INTERACTIVE, NEED_TIMEOUT_MS, &slot);
		if (r < 0) {
			cli_error(CLI_FAIL, "frame", "%s: frame %" PRIu64 ": %s", session, frame,
			          r == -ETIMEDOUT ? "the coordinator did not answer" : reel_strerror(r));
			goto out_close;
		}
		if (slot >= reel_buffer_info(buffer)->slot_count) {
			cli_error(CLI_FAIL, "frame", "%s: coordinator named slot %u out of range", session, slot);
			goto out_close;
		}
		r = copy_frame(buffer, slot, frame, pixels, &copy, &error);
		if (r == 0)
			break;
		if (r < 0 || attempt == 10) {
			cli_error(CLI_FAIL, "frame", "%s: frame %" PRIu64 ": %s", session, frame,
			          r < 0 ? reel_strerror(r) : "evicted again and again");
			goto out_close;
		}
	}
	if (error) {
		cli_error(CLI_FAIL, "frame", "%s: frame %" PRIu64 ": %s", session, frame, reel_strerror(error));
		goto out_close;
	}
	r = reel_media_write_image(out, &copy);
	if (r < 0) {
		cli_error(CLI_FAIL, "frame", "%s: %s", out, reel_strerror(r));
		goto out_close;
	}
	code = CLI_OK;
out_close:
	free(pixels);
	reel_buffer_close(buffer);
	reel_client_close(client);
	return code;
}
