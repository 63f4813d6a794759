/*
 * The preview's place in a session: it attaches like any stage (so it is
 * in the stage table, `reel status` lists it, and what it logs goes to the
 * session's log), watches the coordinator through the stage's fd, and keeps
 * a read-only view of the buffer for the event loop's own reads.  A preview
 * is given no work items; one that came anyway is handed back as failed.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "buffer/buffer.h"
#include "preview.h"
#include "reel/error.h"
#include "reel/log.h"
#include "reel/ops.h"
#include "reel/stage.h"

int session_open(const char *name, struct session *s)
{
	const struct reel_buffer_info *in;
	int r;

	memset(s, 0, sizeof(*s));
	s->name = name;
	r = reel_session_name_check(name);
	if (r < 0)
		return preview_error(PREVIEW_USAGE, "--session %s: %s", name, reel_strerror(r));
	r = reel_stage_attach(name, REEL_ROLE_PREVIEW, &s->stage);
	if (r < 0)
		return preview_error(r == REEL_E_NOSESSION ? PREVIEW_USAGE : PREVIEW_FAIL,
		                     "--session %s: %s", name, reel_strerror(r));
	r = reel_client_connect(name, &s->reader);
	if (r == 0)
		r = reel_client_video(s->reader, &s->video);
	if (r == 0)
		r = reel_buffer_open_readonly(reel_client_record(s->reader)->buffer_path, &s->buffer);
	if (r < 0) {
		preview_error(PREVIEW_FAIL, "%s: %s", name, reel_strerror(r));
		session_close(s);
		return PREVIEW_FAIL;
	}
	in = reel_buffer_info(s->buffer);
	s->cache_frames = in->slot_count;
	s->colorspace = in->format.colorspace;
	return PREVIEW_OK;
}

void session_close(struct session *s)
{
	reel_buffer_close(s->buffer);
	reel_client_close(s->reader);
	reel_stage_detach(s->stage);
	s->buffer = NULL;
	s->reader = NULL;
	s->stage = NULL;
}

bool session_gone(struct session *s)
{
	struct pollfd p = { .fd = reel_stage_fd(s->stage), .events = POLLIN };
	struct reel_work w;
	int r;

	if (poll(&p, 1, 0) != 1)
		return false;
	r = reel_stage_next(s->stage, &w, 0);
	if (r == 1) {
		reel_log(REEL_LOG_WARN, PREVIEW_PROGRAM, "a work item for edit %llu came to the preview; "
		         "handed back", (unsigned long long)w.edit.seq);
		reel_stage_fail(s->stage, &w, REEL_E_EDIT, "a preview applies no edits");
		return false;
	}
	return r == REEL_E_NOSESSION;
}
