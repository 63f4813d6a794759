/*
 * What the coordinator does with each message: needs, status and stop
 * here; commands and the stages' work in coord-edits.c; hello in
 * coord-stages.c.
 *
 * A need is answered once its frames are decoded (and brought up to date
 * with the journal, which the materialiser does before a frame is READY).
 * A need that asks for settled frames also waits until no unfinished
 * command covers them, so that what it reads is the result of every
 * command acknowledged before it.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "buffer/journal.h"
#include "coord-private.h"
#include "reel/error.h"
#include "reel/log.h"

/* ---------------------------------------------------------------- need */

static void answer_waiting(struct reel_coord *c, size_t i)
{
	struct waiting *w = &c->waiting[i];
	struct reel_msg m;

	reel_msg_init(&m, REEL_MSG_REPLY);
	m.result = w->result;
	m.slot = w->slot;
	m.first = (int64_t)w->first;
	m.last = (int64_t)w->last;
	coord_reply(c, w->pid, w->tag, w->id, REEL_PRIO_INTERACTIVE, &m);
	c->waiting[i] = c->waiting[--c->nwaiting];
}

/* Answer the needs that were waiting for their frames to settle, and now have. */
void coord_answer_settled(struct reel_coord *c)
{
	for (size_t i = 0; i < c->nwaiting;) {
		struct waiting *w = &c->waiting[i];

		if (w->decoded && (!w->settle || !sched_busy_over(c->sched, (int64_t)w->first,
		                                                   (int64_t)w->last)))
			answer_waiting(c, i);
		else
			i++;
	}
}

void coord_fail_waiting(struct reel_coord *c, int32_t result)
{
	while (c->nwaiting) {
		c->waiting[0].result = result;
		answer_waiting(c, 0);
	}
}

static void handle_need(struct reel_coord *c, const struct reel_msg *req)
{
	uint64_t first = (uint64_t)req->first, last = (uint64_t)req->last;
	unsigned prio = req->priority;
	bool settle = req->seq != 0;
	size_t mine = 0;
	struct waiting *w;
	struct mat_done done;
	int r;

	/* While the frames are counted, a need past the last one fails when the count is known. */
	if (first >= coord_frames(c) || last >= coord_frames(c)) {
		coord_reply_result(c, req, REEL_E_RANGE, 0, 0, 0, 0);
		return;
	}
	/* A range larger than the cache could not stay resident: serve what fits. */
	if (last - first >= c->info->slot_count)
		last = first + c->info->slot_count - 1;
	/* Control is for stop and for stages; a client's need is at most interactive. */
	if (prio > REEL_PRIO_INTERACTIVE)
		prio = REEL_PRIO_INTERACTIVE;
	r = materialiser_lookup(c->mat, first, last, &done);
	if (r == 1 && (!settle || !sched_busy_over(c->sched, (int64_t)first, (int64_t)last))) {
		coord_reply_result(c, req, done.result, 0, done.slot, first, last);
		return;
	}
	for (size_t i = 0; i < c->nwaiting; i++)
		mine += c->waiting[i].pid == (pid_t)req->sender_pid && c->waiting[i].tag == req->flags;
	if (c->nwaiting >= MAX_WAITING || mine >= MAX_WAITING_PER_PEER) {
		c->refused++;
		coord_reply_result(c, req, -EBUSY, 0, 0, first, last);
		return;
	}
	if (!c->waiting) {
		c->waiting = calloc(MAX_WAITING, sizeof(*c->waiting));
		if (!c->waiting) {
			coord_reply_result(c, req, -ENOMEM, 0, 0, first, last);
			return;
		}
	}
	w = &c->waiting[c->nwaiting];
	memset(w, 0, sizeof(*w));
	w->token = ++c->next_token;
	w->pid = (pid_t)req->sender_pid;
	w->tag = req->flags;
	w->id = req->id;
	w->first = first;
	w->last = last;
	w->settle = settle;
	if (r == 1) {
		/* Resident, but edits are still on their way to it. */
		w->decoded = true;
		w->result = done.result;
		w->slot = done.slot;
		c->nwaiting++;
		return;
	}
	r = materialiser_request(c->mat, first, last, prio, w->token);
	if (r < 0) {
		coord_reply_result(c, req, r, 0, 0, first, last);
		return;
	}
	c->nwaiting++;
}

void coord_finish_needs(struct reel_coord *c)
{
	struct mat_done done[64];
	uint64_t count;
	size_t n;

	if (read(c->evfd, &count, sizeof(count)) < 0) {
		/* Nothing to read is fine: results are polled below anyway. */
	}
	do {
		for (n = 0; n < 64 && materialiser_poll(c->mat, &done[n]) == 1; n++)
			;
		for (size_t j = 0; j < n; j++) {
			for (size_t i = 0; i < c->nwaiting; i++) {
				struct waiting *w = &c->waiting[i];
				if (w->token != done[j].token)
					continue;
				w->decoded = true;
				w->result = done[j].result;
				w->slot = done[j].slot;
				break;
			}
		}
	} while (n == 64);
	coord_take_failures(c);
	coord_answer_settled(c);
	coord_dispatch(c);
}

/* Needs of clients that are gone are answered to nobody: drop them. */
void coord_forget_dead_waiters(struct reel_coord *c)
{
	for (size_t i = 0; i < c->nwaiting;) {
		if (kill(c->waiting[i].pid, 0) < 0 && errno == ESRCH)
			c->waiting[i] = c->waiting[--c->nwaiting];
		else
			i++;
	}
}

/* ---------------------------------------------------------------- stop */

void coord_begin_stop(struct reel_coord *c)
{
	if (c->stopping)
		return;
	c->stopping = true;
	c->stop_deadline_ms = reel__now_ms() + STAGE_STOP_MS;
	/* Nobody waits in vain: nothing of a need is journaled. */
	coord_fail_waiting(c, -ESHUTDOWN);
	coord_stop_stages(c);
}

/* -------------------------------------------------------------- status */

static void fill_status(struct reel_coord *c, struct reel_msg *m)
{
	struct mat_stats ms;

	materialiser_stats(c->mat, &ms);
	m->stat[REEL_STAT_FRAMES] = reel_buffer_frames(c->buffer);   /* 0 while counted */
	m->stat[REEL_STAT_RESIDENT] = ms.resident;
	m->stat[REEL_STAT_JOURNAL] = reel_journal_count(c->buffer);
	m->stat[REEL_STAT_PENDING] = sched_commands(c->sched);
	m->stat[REEL_STAT_STAGES] = coord_stages_of(c, REEL_ROLE_EDITOR) +
	                            coord_stages_of(c, REEL_ROLE_EFFECT) +
	                            coord_stages_of(c, REEL_ROLE_AUDIO);
	m->stat[REEL_STAT_INFLIGHT] = sched_inflight(c->sched);
	m->stat[REEL_STAT_MALFORMED] = c->malformed;
	m->stat[REEL_STAT_GENERATION] = reel_buffer_generation(c->buffer);
	for (unsigned role = 0; role < REEL_ROLE_CLIENT; role++) {
		long d = reel_queue_depth(c->queues[role]);
		m->stat[REEL_STAT_Q_COORD + role] = d > 0 ? (uint64_t)d : 0;
	}
	m->stat[REEL_STAT_ERRORS] = ms.errors;
	m->stat[REEL_STAT_DECODED] = ms.decoded;
	m->stat[REEL_STAT_FAILED] = c->failed;
	m->first = c->journal_error;
}

void coord_handle(struct reel_coord *c, const struct reel_msg *m)
{
	struct reel_msg out;

	switch (m->kind) {
	case REEL_MSG_NEED:
		if (c->stopping)
			coord_reply_result(c, m, c->lost ? c->lost : -ESHUTDOWN, 0, 0, 0, 0);
		else
			handle_need(c, m);
		break;
	case REEL_MSG_STATUS:
		reel_msg_init(&out, REEL_MSG_STATUS_REPLY);
		fill_status(c, &out);
		coord_reply(c, (pid_t)m->sender_pid, m->flags, m->id, m->priority, &out);
		break;
	case REEL_MSG_STOP:
		coord_reply_result(c, m, 0, 0, 0, 0, 0);
		coord_begin_stop(c);
		break;
	case REEL_MSG_COMMAND:
		if (c->stopping)
			coord_reply_result(c, m, c->lost ? c->lost : -ESHUTDOWN, 0, 0, 0, 0);
		else
			coord_command(c, m);
		break;
	case REEL_MSG_HELLO: {
		int r = c->stopping ? -ESHUTDOWN : coord_hello(c, m);
		struct reel_msg rep;

		reel_msg_init(&rep, REEL_MSG_REPLY);
		rep.result = r < 0 ? r : 0;
		rep.stat[REEL_REPLY_STAGE_SLOT] = r < 0 ? 0 : (uint64_t)r;
		coord_reply(c, (pid_t)m->sender_pid, m->flags, m->id, m->priority, &rep);
		if (r >= 0)
			coord_dispatch(c);
		break;
	}
	case REEL_MSG_BYE:
		/* The stage's exit, seen through its pidfd, is what counts. */
		reel_log(REEL_LOG_DEBUG, "coord", "pid %u says goodbye", m->sender_pid);
		break;
	case REEL_MSG_CLAIM:
		if (sched_claim(c->sched, m->seq, m->first, m->epoch, (pid_t)m->sender_pid,
		                reel__now_ms()) < 0)
			reel_log(REEL_LOG_DEBUG, "coord", "stale or foreign claim for %" PRIu64 " ignored",
			         m->seq);
		break;
	case REEL_MSG_DONE:
		coord_work_done(c, m);
		break;
	case REEL_MSG_FAIL:
		coord_work_failed(c, m);
		break;
	case REEL_MSG_MEASURED:
		coord_work_measured(c, m);
		break;
	default:
		/* Well-formed but not for the coordinator: as good as malformed. */
		coord_reject(c, "unexpected %s message from pid %u", reel_msg_kind_name(m->kind),
		             m->sender_pid);
		break;
	}
}
