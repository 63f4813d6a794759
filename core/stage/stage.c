/*
 * reel_stage: a stage process's part of a session (see reel/stage.h).
 *
 * The stage's requests (HELLO, and a need for every frame it edits) go
 * through a reel_client; CLAIM and DONE are plain messages on the
 * coordinator queue, answered by nobody.  Work arrives on the role's queue,
 * shared by every worker of that role.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "bus/bus.h"
#include "reel/client.h"
#include "reel/error.h"
#include "reel/log.h"
#include "buffer/slot.h"
#include "bus/msg.h"
#include "reel/stage.h"

#define CALL_TIMEOUT_MS 10000
#define NEED_TIMEOUT_MS 60000
#define LOCK_TIMEOUT_MS 10000
#define EVICTED_RETRIES 100

struct reel_stage {
	struct reel_client *client;
	struct reel_buffer *buffer;
	mqd_t work;
	mqd_t coord;
	unsigned role;
};

int reel_stage_attach(const char *session, unsigned role, struct reel_stage **ret_stage)
{
	char name[REEL_QUEUE_NAME_MAX];
	struct reel_stage *s;
	struct reel_msg hello;
	int r;

	if (role != REEL_ROLE_EDITOR && role != REEL_ROLE_EFFECT && role != REEL_ROLE_AUDIO)
		return -EINVAL;
	r = reel_session_name_check(session);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->work = s->coord = (mqd_t)-1;
	s->role = role;
	r = reel_client_connect(session, &s->client);
	if (r < 0)
		goto out_free;
	r = reel_buffer_open(reel_client_record(s->client)->buffer_path, &s->buffer);
	if (r < 0)
		goto out_free;
	r = reel_queue_name(name, sizeof(name), session, role);
	if (r == 0)
		r = reel_queue_open(name, 0, &s->work);
	if (r == 0)
		r = reel_queue_name(name, sizeof(name), session, REEL_ROLE_COORD);
	if (r == 0)
		r = reel_queue_open(name, 0, &s->coord);
	if (r < 0)
		goto out_free;
	reel_msg_init(&hello, REEL_MSG_HELLO);
	hello.role = role;
	r = reel_client_call(s->client, &hello, REEL_PRIO_CONTROL, CALL_TIMEOUT_MS, NULL);
	if (r < 0)
		goto out_free;
	*ret_stage = s;
	return 0;

out_free:
	reel_queue_close(s->work);
	reel_queue_close(s->coord);
	reel_buffer_close(s->buffer);
	reel_client_close(s->client);
	free(s);
	return r;
}

/* A message of the stage's own to the coordinator queue; nobody answers it. */
static int tell(struct reel_stage *s, const struct reel_msg *work, uint16_t kind)
{
	struct reel_msg m = *work;

	m.kind = kind;
	m.sender_pid = (uint32_t)getpid();
	m.role = s->role;
	m.flags = 0;
	return reel_queue_send(s->coord, &m, REEL_PRIO_INTERACTIVE, CALL_TIMEOUT_MS);
}

void reel_stage_detach(struct reel_stage *s)
{
	struct reel_msg bye;

	if (!s)
		return;
	reel_msg_init(&bye, REEL_MSG_BYE);
	bye.sender_pid = (uint32_t)getpid();
	bye.role = s->role;
	/* A courtesy: the coordinator learns of the exit through the pidfd anyway. */
	reel_queue_send(s->coord, &bye, REEL_PRIO_CONTROL, 0);
	reel_queue_close(s->work);
	reel_queue_close(s->coord);
	reel_buffer_close(s->buffer);
	reel_client_close(s->client);
	free(s);
}

static void work_from_msg(const struct reel_msg *m, struct reel_work *w)
{
	memset(w, 0, sizeof(*w));
	w->edit.seq = m->seq;
	w->edit.op = m->op;
	w->edit.first = m->first;
	w->edit.last = m->last;
	memcpy(w->edit.params, m->params, sizeof(w->edit.params));
	w->kind = REEL_WORK_APPLY;
	w->first = m->first;
	w->last = m->last;
	w->epoch = m->epoch;
	w->flags = m->flags;
	w->incarnation = m->stat[REEL_WORK_INCARNATION];
}

static void msg_from_work(const struct reel_work *w, struct reel_msg *m)
{
	reel_msg_init(m, REEL_MSG_WORK);
	m->seq = w->edit.seq;
	m->op = w->edit.op;
	m->first = w->first;
	m->last = w->last;
	memcpy(m->params, w->edit.params, sizeof(m->params));
	m->epoch = w->epoch;
}

int reel_stage_next(struct reel_stage *s, struct reel_work *ret_work, int timeout_ms)
{
	struct reel_msg m;
	int r;

	for (;;) {
		r = reel_queue_recv(s->work, &m, NULL, timeout_ms);
		if (r == -ETIMEDOUT || r == -EAGAIN)
			return 0;
		if (r == REEL_E_BADMSG || (r == 0 && (m.kind != REEL_MSG_WORK ||
		                                      (uint64_t)m.last >= reel_buffer_info(s->buffer)->frame_count))) {
			reel_log(REEL_LOG_WARN, "stage", "malformed work item dropped");
			continue;
		}
		if (r < 0)
			return r;
		r = tell(s, &m, REEL_MSG_CLAIM);
		if (r < 0)
			return r;
		work_from_msg(&m, ret_work);
		return 1;
	}
}

/* Lock the slot holding `frame`, materialised; the slot number, or a negative error. */
static int lock_frame(struct reel_stage *s, int64_t frame, struct reel_slot_info *ret_info)
{
	for (int attempt = 0; attempt < EVICTED_RETRIES; attempt++) {
		uint32_t slot;
		int r = reel_client_need(s->client, (uint64_t)frame, (uint64_t)frame, REEL_PRIO_BATCH,
		                         NEED_TIMEOUT_MS, &slot);
		if (r < 0)
			return r;
		r = reel_slot_lock(s->buffer, slot, LOCK_TIMEOUT_MS);
		if (r < 0)
			return r;
		if (reel_slot_get(s->buffer, slot, ret_info) == 0 && ret_info->frame == frame &&
		    ret_info->state == REEL_SLOT_READY)
			return (int)slot;
		/* Evicted, or being rebuilt, between the reply and the lock: ask again. */
		reel_slot_unlock(s->buffer, slot);
	}
	return -EAGAIN;
}

int reel_stage_apply(struct reel_stage *s, const struct reel_work *work, reel_frame_fn fn,
                     void *userdata)
{
	const struct reel_buffer_info *info = reel_buffer_info(s->buffer);
	for (int64_t f = work->first; f <= work->last; f++) {
		struct reel_slot_info si;
		struct reel_frame frame;
		int slot = lock_frame(s, f, &si);

		if (slot < 0)
			return slot;
		/*
		 * Apply only what the slot does not hold yet; a replay only onto the
		 * decode it was made for (a later decode gets replays of its own).
		 */
		bool wanted = si.journal_seq < work->edit.seq &&
		              (!(work->flags & REEL_WORK_REPLAY) || si.incarnation == work->incarnation);
		if (wanted && reel_buffer_frame(s->buffer, (uint32_t)slot, &frame) == 0) {
			struct reel_frame_ctx ctx = { .edit = &work->edit, .frame = f,
			                              .width = info->width, .height = info->height };
			frame.audio_samples = si.audio_samples;
			reel_slot_set_state(s->buffer, (uint32_t)slot, REEL_SLOT_BUSY, 0);
			reel_slot_write_begin(s->buffer, (uint32_t)slot);
			fn(&ctx, &frame, userdata);
			reel_slot_set_contents(s->buffer, (uint32_t)slot, f, work->edit.seq, si.audio_samples);
			reel_slot_write_end(s->buffer, (uint32_t)slot);
			reel_slot_set_state(s->buffer, (uint32_t)slot, REEL_SLOT_READY, 0);
		}
		reel_slot_unlock(s->buffer, (uint32_t)slot);
	}
	return 0;
}

int reel_stage_done(struct reel_stage *s, const struct reel_work *work)
{
	struct reel_msg m;

	msg_from_work(work, &m);
	return tell(s, &m, REEL_MSG_DONE);
}
