/*
 * --out FILE: one frame of the live buffer, as it stands, written to a
 * file without opening a window (and without a display).  The frame is
 * named by number (--snapshot N) or by time (--time T, resolved through the
 * index's real timestamps by the same function as 'reel frame --time'), asked for
 * at the interactive priority, copied tear-free, and written by the same
 * image writer as 'reel frame'.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "buffer/buffer.h"
#include "edit-args.h"
#include "media/media.h"
#include "preview.h"
#include "reel/client.h"
#include "reel/error.h"

#define READ_TIMEOUT_MS 60000

int preview_snapshot(const struct preview_args *a)
{
	struct reel_client *client = NULL;
	struct reel_buffer *buffer = NULL;
	struct reel_video_info vi;
	struct reel_frame picture = { 0 };
	uint64_t frame = a->frame, state = 0;
	int64_t at;
	char why[256];
	int r, code = PREVIEW_FAIL;

	if (reel_media_image_format(a->out) < 0)
		return preview_error(PREVIEW_USAGE, "--out %s: name a .png, .jpg, .jpeg or .yuv file",
		                     a->out);
	r = reel_session_name_check(a->session);
	if (r == 0)
		r = reel_client_connect(a->session, &client);
	if (r < 0)
		return preview_error(PREVIEW_USAGE, "--session %s: %s", a->session, reel_strerror(r));
	r = reel_buffer_open_readonly(reel_client_record(client)->buffer_path, &buffer);
	if (r == 0)
		r = reel_client_video(client, &vi);
	if (r < 0) {
		preview_error(PREVIEW_FAIL, "%s: %s", reel_client_record(client)->buffer_path,
		              reel_strerror(r));
		goto out_close;
	}
	if (a->time) {
		if (cli_frame_at(buffer, a->time, &at, why, sizeof(why)) < 0) {
			code = preview_error(PREVIEW_USAGE, "%s", why);
			goto out_close;
		}
		frame = (uint64_t)at;
	}
	if (frame >= vi.frames) {
		code = preview_error(PREVIEW_USAGE, "--snapshot %" PRIu64 ": out of range (the video has "
		                     "%" PRIu64 " frames, 0 to %" PRIu64 ")", frame, vi.frames,
		                     vi.frames - 1);
		goto out_close;
	}
	vi.channels = 0;   /* the picture only */
	if (reel_frame_alloc(&vi, &picture) < 0) {
		preview_error(PREVIEW_FAIL, "out of memory");
		goto out_close;
	}
	r = reel_client_read_frame(client, frame, a->settled ? REEL_READ_SETTLED : 0,
	                           REEL_PRIO_INTERACTIVE, READ_TIMEOUT_MS, &picture, &state);
	if (r < 0) {
		preview_error(PREVIEW_FAIL, "%s: frame %" PRIu64 ": %s", a->session, frame,
		              r == -ETIMEDOUT ? "the coordinator did not answer" : reel_strerror(r));
		goto out_close;
	}
	r = reel_media_write_image(a->out, &picture, (int)reel_buffer_info(buffer)->format.colorspace);
	if (r < 0) {
		preview_error(PREVIEW_FAIL, "--out %s: %s", a->out, reel_strerror(r));
		goto out_close;
	}
	printf("frame %" PRIu64 ", at %.6f s, with the edits up to journal entry %" PRIu64 ": %s\n",
	       frame, cli_frame_seconds(buffer, (int64_t)frame), state, a->out);
	code = PREVIEW_OK;
out_close:
	reel_frame_free(&picture);
	reel_buffer_close(buffer);
	reel_client_close(client);
	return code;
}
