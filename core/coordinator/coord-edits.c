/*
 * The coordinator as sequencer: commands are checked, journaled durably,
 * acknowledged, added to the edit index and cut into work for the stages;
 * undo, redo and failures change what is in effect and send the frames they
 * touched back to be rebuilt; measurements are journaled and release the
 * work that waited for them.
 *
 * Who applies an edit to which frame:
 *   - frames resident (or on their way in) when the command is accepted get
 *     it from a stage, in place, in journal order per frame (the scheduler's
 *     cells);
 *   - every frame decoded later gets it from the materialiser, which brings
 *     each fresh frame up to date with the journal before it is READY.
 * A work item whose frames are all absent has nothing to do and is finished
 * on the spot.  Either way a slot records the journal state it holds, and
 * nobody applies an edit to a slot that already holds it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "buffer/journal.h"
#include "coord-private.h"
#include "media/media.h"
#include "reel/error.h"
#include "reel/log.h"
#include "reel/ops.h"

/* Frames a control sends back to be rebuilt that are rebuilt at once, in the background. */
#define MAX_REBUILD 4096

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * After a failed write (msync's EIO, a full disk) the journal's durable state
 * is unknown, and carrying on would acknowledge edits that may not survive
 * (the fsyncgate lesson): the coordinator stops accepting edits, says so in
 * the log and in `reel status`, and exits non-zero at stop.  A full journal
 * or an entry refused as invalid leaves it intact, and is answered alone.
 */
void coord_journal_broken(struct reel_coord *c, int error)
{
	if (error == REEL_E_JOURNALFULL || error == -EINVAL || c->journal_error)
		return;
	c->journal_error = error;
	reel_log(REEL_LOG_ERROR, "coord", "the journal could not be written (%s): no more edits are "
	         "accepted; stop the session, free the disk and open it again", reel_strerror(error));
}

static void set_state(struct reel_coord *c, uint64_t seq, uint32_t state)
{
	int r = reel_journal_set_state(c->buffer, seq, state);

	if (r < 0) {
		reel_log(REEL_LOG_ERROR, "coord", "journal entry %" PRIu64 ": %s", seq, reel_strerror(r));
		coord_journal_broken(c, r);
	}
}

/* Append an entry and take it into the index: the one way anything enters the journal. */
static int journal(struct reel_coord *c, struct reel_journal_entry *e, uint64_t *ret_seq)
{
	uint64_t seq;
	int r;

	if (c->journal_error)
		return c->journal_error;
	e->time_ns = wall_ns();
	r = reel_journal_append(c->buffer, e, &seq);
	/* An append into pages the file no longer has is not durable: never acknowledged. */
	if (r == 0)
		r = reel_buffer_lost(c->buffer);
	if (r < 0) {
		coord_journal_broken(c, r);
		return r;
	}
	/* Remembered before anything else can fail: the entry is durable, a retry must find it. */
	if (e->key && coord_keys_add(c, e->key, seq) < 0)
		reel_log(REEL_LOG_WARN, "coord", "no memory to remember the key of edit %" PRIu64
		         "; a retry of it would be taken as new", seq);
	e->seq = seq;
	r = reel_edits_add(c->edits, e);
	if (r < 0) {
		/* The coordinator only journals what follows; this is a bug, said loudly. */
		reel_log(REEL_LOG_ERROR, "coord", "journal entry %" PRIu64 " does not follow: %s", seq,
		         reel_strerror(r));
		return r;
	}
	if (ret_seq)
		*ret_seq = seq;
	return 0;
}

/* ------------------------------------------------------------ measures */

static void measure_later(struct reel_coord *c, uint64_t seq)
{
	if (c->nmeasures == c->capmeasures) {
		size_t cap = c->capmeasures ? c->capmeasures * 2 : 8;
		uint64_t *v = realloc(c->measures, cap * sizeof(*v));
		if (!v)
			return;
		c->measures = v;
		c->capmeasures = cap;
	}
	c->measures[c->nmeasures++] = seq;
}

/* Start the measurements whose earlier ones are in. */
static void start_measures(struct reel_coord *c)
{
	for (size_t i = 0; i < c->nmeasures;) {
		uint64_t seq = c->measures[i];

		if (reel_edits_measure_ready(c->edits, seq)) {
			sched_measure_go(c->sched, seq);
			c->measures[i] = c->measures[--c->nmeasures];
		} else if (!sched_has(c->sched, seq)) {
			c->measures[i] = c->measures[--c->nmeasures];
		} else {
			i++;
		}
	}
}

/* Measure seq (again): a measure item alone, its frames rebuilt once the value is in. */
static void remeasure(struct reel_coord *c, uint64_t seq)
{
	struct reel_edit e;
	const struct reel_op_desc *d;

	if (reel_edits_get(c->edits, seq, &e, NULL) < 0 || !(d = reel_op_get(e.op)))
		return;
	sched_cancel(c->sched, seq);
	/* No frame waits in the cells for this one: what it covers is rebuilt afterwards. */
	if (sched_add_measure(c->sched, &e, d->role) == 0)
		measure_later(c, seq);
}

/* -------------------------------------------------------- what changed */

/* Rebuild frames that were resident in the background, in runs of consecutive frames. */
static void rebuild(struct reel_coord *c, uint64_t *frames, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && frames[j] == frames[j - 1] + 1 && frames[j] - frames[i] < CHUNK_FRAMES)
			j++;
		materialiser_request(c->mat, frames[i], frames[j - 1], REEL_PRIO_BACKGROUND, 0);
		i = j;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* After an undo, redo or failure: forget the frames it changed, rebuild the resident ones. */
static void apply_changes(struct reel_coord *c)
{
	const struct reel_span *spans;
	const uint64_t *re;
	size_t nspans, nre, n;
	uint64_t *frames;

	reel_edits_changes(c->edits, &spans, &nspans, &re, &nre);
	for (size_t i = 0; i < nre; i++)
		remeasure(c, re[i]);
	if (nspans == 0)
		return;
	frames = malloc(MAX_REBUILD * sizeof(*frames));
	if (!frames) {
		/* Forgetting needs no memory of ours; only the eager rebuild is lost. */
		uint64_t none;
		materialiser_invalidate_spans(c->mat, spans, nspans, &none, 0);
		return;
	}
	n = materialiser_invalidate_spans(c->mat, spans, nspans, frames, MAX_REBUILD);
	qsort(frames, n, sizeof(*frames), cmp_u64);
	rebuild(c, frames, n);
	free(frames);
}

/* ------------------------------------------------------------ the load */

/*
 * At start: the journal is read into the edit index, to its end.  A damaged
 * entry stops the load: nothing after it can be trusted to follow, and
 * appending after it would bury the damage.  What the previous coordinator
 * left pending is in effect already as far as the buffer goes (a slot that
 * misses it is not adopted and is rebuilt); only measurements that never
 * came are asked for again.
 */
int coord_load_journal(struct reel_coord *c)
{
	uint64_t count = reel_journal_count(c->buffer), waiting = 0;

	for (uint64_t seq = 1; seq <= count; seq++) {
		struct reel_journal_entry e;
		int r = reel_journal_read(c->buffer, seq, &e);

		if (r == 0)
			r = reel_edits_add(c->edits, &e);
		if (r == 0)
			r = coord_keys_add(c, e.key, seq);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			reel_log(REEL_LOG_ERROR, "coord", "journal entry %" PRIu64 " of %" PRIu64
			         " is damaged; the session cannot resume past it", seq, count);
			return REEL_E_JOURNAL;
		}
	}
	for (uint64_t seq = 1; seq <= count; seq++) {
		struct reel_journal_entry e;
		struct reel_edit ed;
		uint32_t st;

		if (reel_journal_read(c->buffer, seq, &e) < 0 || reel_edits_get(c->edits, seq, &ed, &st) < 0)
			continue;
		if (st == REEL_EDIT_WAITING) {
			remeasure(c, seq);
			waiting++;
		} else if (st == REEL_EDIT_IN_EFFECT && e.state == REEL_JOURNAL_PENDING) {
			set_state(c, seq, REEL_JOURNAL_APPLIED);
		}
	}
	start_measures(c);
	if (waiting)
		reel_log(REEL_LOG_INFO, "coord", "%" PRIu64 " edits wait for their measurement", waiting);
	return 0;
}

/* ------------------------------------------------------------ commands */

int coord_accept_edit(struct reel_coord *c, uint64_t key, uint32_t op, const double params[4],
                      int64_t first, int64_t last, uint64_t *ret_seq, char *why, size_t whylen)
{
	const struct reel_op_desc *d = reel_op_get(op);
	struct reel_journal_entry e;
	struct reel_edit ed;
	uint64_t seq, next;
	bool changes, measure;
	int r;

	if (c->journal_error) {
		if (why && whylen)
			snprintf(why, whylen, "the journal could not be written: %s",
			         reel_strerror(c->journal_error));
		return c->journal_error;
	}
	/*
	 * While the frames are counted, an edit reaches no further than the
	 * frames counted so far: its range would otherwise name frames that
	 * may not exist ('reel send' waits for the count).
	 */
	c->limits.frames = coord_frames(c);
	if (reel_buffer_frames(c->buffer) == 0 && last >= 0 &&
	    (uint64_t)last >= reel_index_ready(c->buffer)) {
		if (why && whylen)
			snprintf(why, whylen, "the video's frames are still being counted (%" PRIu64
			         " so far): frame %" PRId64 " may not exist", reel_index_ready(c->buffer),
			         last);
		return REEL_E_NOTYET;
	}
	r = reel_op_validate(op, params, first, last, &c->limits, why, whylen);
	if (r < 0)
		return r;
	/* Refused before it is journaled: a busy session says so instead of growing without bound. */
	if (sched_commands(c->sched) >= MAX_COMMANDS) {
		if (why && whylen)
			snprintf(why, whylen, "%u edits are still being applied", MAX_COMMANDS);
		return -EBUSY;
	}
	changes = (d->flags & (REEL_OP_PICTURE | REEL_OP_SOUND)) != 0;
	measure = (d->flags & REEL_OP_MEASURES) != 0;
	/*
	 * Scheduled before it is journaled, under the sequence the append will
	 * give it (the coordinator is the journal's only writer): an edit that
	 * cannot be scheduled is refused with nothing written, instead of being
	 * answered with an error and still replayed at the next start.
	 */
	next = reel_journal_count(c->buffer) + 1;
	if (changes) {
		memset(&ed, 0, sizeof(ed));
		ed.seq = next;
		ed.op = op;
		ed.first = first;
		ed.last = last;
		memcpy(ed.params, params, sizeof(ed.params));
		r = sched_add(c->sched, &ed, d->role, measure);
		if (r < 0) {
			if (why && whylen)
				snprintf(why, whylen, "it could not be scheduled: %s", reel_strerror(r));
			return r;
		}
	}
	memset(&e, 0, sizeof(e));
	e.op = op;
	e.first = first;
	e.last = last;
	e.key = key;
	memcpy(e.params, params, sizeof(e.params));
	/* A timeline edit has nothing to apply to pixels: it is in effect at once. */
	e.state = changes ? REEL_JOURNAL_PENDING : REEL_JOURNAL_APPLIED;
	r = journal(c, &e, &seq);
	if (r < 0 || seq != next) {
		if (changes)
			sched_cancel(c->sched, next);
		if (r < 0)
			return r;
		/* Journaled under another number than scheduled: a bug, failed durably rather than run wrong. */
		coord_fail_command(c, seq, "journal sequence mismatch");
		return -EIO;
	}
	if (changes) {
		if (measure)
			measure_later(c, seq);
		start_measures(c);
	}
	*ret_seq = seq;
	return 0;
}

/* A command whose key is journaled already: the answer it got then. */
static bool answered_before(struct reel_coord *c, const struct reel_msg *req)
{
	uint64_t key = req->stat[REEL_COMMAND_KEY], seq = coord_keys_find(c, key);
	struct reel_journal_entry e;
	struct reel_msg m;

	if (seq == 0 || reel_journal_read(c->buffer, seq, &e) < 0 || e.key != key)
		return false;
	reel_log(REEL_LOG_INFO, "coord", "pid %u sent edit %" PRIu64 " again (same key): answered "
	         "as the first time", req->sender_pid, seq);
	reel_msg_init(&m, REEL_MSG_REPLY);
	m.seq = seq;
	m.first = e.first;
	m.last = e.last;
	if (e.op == REEL_OP_UNDO || e.op == REEL_OP_REDO)
		m.stat[REEL_REPLY_TARGET] = e.target;
	coord_reply(c, (pid_t)req->sender_pid, req->flags, req->id, req->priority, &m);
	return true;
}

static void control(struct reel_coord *c, const struct reel_msg *req)
{
	uint64_t target = req->op == REEL_OP_UNDO ? reel_edits_undo_target(c->edits)
	                                          : reel_edits_redo_target(c->edits);
	struct reel_journal_entry e;
	struct reel_edit t;
	struct reel_msg m;
	uint64_t seq;
	int r;

	if (target == 0 || reel_edits_get(c->edits, target, &t, NULL) < 0) {
		coord_reply_result(c, req, REEL_E_NOUNDO, 0, 0, 0, 0);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.op = req->op;
	e.first = t.first;
	e.last = t.last;
	e.target = target;
	e.key = req->stat[REEL_COMMAND_KEY];
	e.state = REEL_JOURNAL_APPLIED;
	r = journal(c, &e, &seq);
	if (r < 0) {
		coord_reply_result(c, req, r, 0, 0, 0, 0);
		return;
	}
	if (req->op == REEL_OP_UNDO) {
		sched_cancel(c->sched, target);
		set_state(c, target, REEL_JOURNAL_UNDONE);
	} else {
		set_state(c, target, REEL_JOURNAL_APPLIED);
	}
	apply_changes(c);
	reel_log(REEL_LOG_INFO, "coord", "%s of edit %" PRIu64 " (%s, frames %" PRId64 "-%" PRId64 ")",
	         req->op == REEL_OP_UNDO ? "undo" : "redo", target, reel_op_get(t.op)->name, t.first,
	         t.last);
	reel_msg_init(&m, REEL_MSG_REPLY);
	m.seq = seq;
	m.first = t.first;
	m.last = t.last;
	m.stat[REEL_REPLY_TARGET] = target;
	coord_reply(c, (pid_t)req->sender_pid, req->flags, req->id, req->priority, &m);
	coord_dispatch(c);
}

void coord_command(struct reel_coord *c, const struct reel_msg *req)
{
	char why[160];
	uint64_t seq;
	int r;

	if (answered_before(c, req))
		return;
	if (c->journal_error) {
		c->refused++;
		coord_reply_result(c, req, c->journal_error, 0, 0, 0, 0);
		return;
	}
	if (req->op == REEL_OP_UNDO || req->op == REEL_OP_REDO) {
		control(c, req);
		return;
	}
	why[0] = 0;
	r = coord_accept_edit(c, req->stat[REEL_COMMAND_KEY], req->op, req->params, req->first,
	                      req->last, &seq, why, sizeof(why));
	if (r < 0) {
		c->refused++;
		if (why[0])
			reel_log(REEL_LOG_INFO, "coord", "edit from pid %u refused: %s", req->sender_pid, why);
		coord_reply_result(c, req, r, 0, 0, 0, 0);
		return;
	}
	/* Acknowledged only now: the entry is durable in the journal. */
	coord_reply_result(c, req, 0, seq, 0, (uint64_t)req->first, (uint64_t)req->last);
	coord_dispatch(c);
}

void coord_fail_command(struct reel_coord *c, uint64_t seq, const char *reason)
{
	struct reel_journal_entry e;
	struct reel_edit t;
	uint32_t st;

	if (reel_edits_get(c->edits, seq, &t, &st) < 0 || st == REEL_EDIT_FAILED ||
	    st == REEL_EDIT_CONTROL)
		return;
	/*
	 * With the source shrunk under the session, an edit that needs it (a
	 * freeze's held picture, a fresh frame) fails for that reason only: it
	 * is not failed for good, it stays pending in the journal and is
	 * applied when the session is opened again with its source.
	 */
	if (reel_media_lost(c->media)) {
		sched_cancel(c->sched, seq);
		reel_log(REEL_LOG_WARN, "coord", "edit %" PRIu64 " not applied now (%s): %s; it stays "
		         "in the journal", seq, reason ? reason : "", reel_strerror(reel_media_lost(c->media)));
		coord_dispatch(c);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.op = REEL_OP_FAILED;
	e.first = t.first;
	e.last = t.last;
	e.target = seq;
	e.state = REEL_JOURNAL_APPLIED;
	snprintf(e.note, sizeof(e.note), "%s", reason ? reason : "");
	sched_cancel(c->sched, seq);
	if (journal(c, &e, NULL) < 0)
		return;
	set_state(c, seq, REEL_JOURNAL_FAILED);
	c->failed++;
	reel_log(REEL_LOG_ERROR, "coord", "edit %" PRIu64 " (%s, frames %" PRId64 "-%" PRId64
	         ") failed and is no longer in effect: %s", seq, reel_op_get(t.op)->name, t.first,
	         t.last, reason ? reason : "no reason given");
	apply_changes(c);
	coord_dispatch(c);
}

/* Edits that failed on frames the materialiser brought up to date. */
void coord_take_failures(struct reel_coord *c)
{
	struct mat_failure f[16];
	size_t n;

	while ((n = materialiser_failures(c->mat, f, 16)) > 0)
		for (size_t i = 0; i < n; i++) {
			char why[96];
			snprintf(why, sizeof(why), "frame %" PRId64 ": %s", f[i].frame,
			         reel_strerror(f[i].error));
			coord_fail_command(c, f[i].seq, why);
		}
}

/* ----------------------------------------------------------- work items */

static void finished(struct reel_coord *c, uint64_t seq)
{
	uint32_t st;

	if (reel_edits_get(c->edits, seq, NULL, &st) == 0 && st == REEL_EDIT_IN_EFFECT)
		set_state(c, seq, REEL_JOURNAL_APPLIED);
}

void coord_work_done(struct reel_coord *c, const struct reel_msg *m)
{
	struct sched_chunk k;
	int r = sched_done(c->sched, m->seq, m->first, m->epoch, (pid_t)m->sender_pid, &k);

	if (r < 0) {
		reel_log(REEL_LOG_DEBUG, "coord", "late, foreign or unknown done for %" PRIu64 " ignored",
		         m->seq);
		return;
	}
	if (r == 1)
		finished(c, m->seq);
	coord_answer_settled(c);
	coord_dispatch(c);
}

void coord_work_failed(struct reel_coord *c, const struct reel_msg *m)
{
	char reason[REEL_FAIL_REASON_MAX];
	int r = sched_fail(c->sched, m->seq, m->first, m->epoch, (pid_t)m->sender_pid, MAX_FAILURES);

	if (r < 0)
		return;
	memcpy(reason, m->stat, sizeof(reason));
	reason[sizeof(reason) - 1] = 0;
	reel_log(REEL_LOG_WARN, "coord", "edit %" PRIu64 " failed on frames %" PRId64 "-%" PRId64
	         " in pid %u: %s (%s)", m->seq, m->first, m->last, m->sender_pid, reason,
	         reel_strerror(m->result));
	if (r == 1)
		coord_fail_command(c, m->seq, reason[0] ? reason : reel_strerror(m->result));
	coord_dispatch(c);
}

void coord_work_measured(struct reel_coord *c, const struct reel_msg *m)
{
	struct reel_journal_entry e;
	struct reel_edit t;
	struct sched_chunk k;
	uint32_t st;
	bool held;
	int r;

	if (!(m->params[0] >= 0) || reel_edits_get(c->edits, m->seq, &t, &st) < 0 ||
	    st != REEL_EDIT_WAITING) {
		sched_fail(c->sched, m->seq, m->first, m->epoch, (pid_t)m->sender_pid, MAX_FAILURES);
		return;
	}
	r = sched_done(c->sched, m->seq, m->first, m->epoch, (pid_t)m->sender_pid, &k);
	if (r < 0 || k.kind != SCHED_MEASURE)
		return;
	held = sched_has(c->sched, m->seq) && !sched_measure_only(c->sched, m->seq);
	memset(&e, 0, sizeof(e));
	e.op = REEL_OP_MEASURED;
	e.first = t.first;
	e.last = t.last;
	e.target = m->seq;
	e.params[0] = m->params[0];
	e.state = REEL_JOURNAL_APPLIED;
	if (journal(c, &e, NULL) < 0)
		return;
	reel_log(REEL_LOG_INFO, "coord", "edit %" PRIu64 " (%s): measured %g", m->seq,
	         reel_op_get(t.op)->name, m->params[0]);
	if (held) {
		/* The frames resident now wait at the state before it, in their cells: the stages go on. */
		sched_release(c->sched, m->seq, m->params[0]);
	} else {
		/* Measured again after an undo or redo: its frames were left before it; rebuild them. */
		struct reel_span span = { t.first, t.last };
		uint64_t *frames = malloc(MAX_REBUILD * sizeof(*frames));
		size_t n = materialiser_invalidate_spans(c->mat, &span, 1, frames, frames ? MAX_REBUILD : 0);
		if (frames) {
			qsort(frames, n, sizeof(*frames), cmp_u64);
			rebuild(c, frames, n);
			free(frames);
		}
		finished(c, m->seq);
	}
	start_measures(c);
	coord_dispatch(c);
}

/* ------------------------------------------------------------ dispatch */

void coord_watch_writable(struct reel_coord *c, unsigned role, bool on)
{
	struct epoll_event ev = { .events = EPOLLOUT,
	                          .data.u64 = ((uint64_t)TAG_STAGE_QUEUE << 32) | role };

	if (c->queue_blocked[role] == on)
		return;
	c->queue_blocked[role] = on;
	epoll_ctl(c->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, (int)c->queues[role], &ev);
}

void coord_dispatch(struct reel_coord *c)
{
	static const unsigned roles[] = { REEL_ROLE_EDITOR, REEL_ROLE_EFFECT, REEL_ROLE_AUDIO };

	if (c->stopping)
		return;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		unsigned role = roles[i];
		struct sched_chunk k;

		while (!c->queue_blocked[role] && sched_take(c->sched, role, reel__now_ms(), &k) == 1) {
			struct reel_msg m;
			int r;

			/*
			 * Frames that are neither resident nor on their way in get this
			 * edit when they are decoded (it is in the index already): no
			 * stage needs to hear of them.
			 */
			if (k.kind == SCHED_APPLY &&
			    !materialiser_any_present(c->mat, (uint64_t)k.first, (uint64_t)k.last)) {
				if (sched_done(c->sched, k.edit.seq, k.first, k.epoch, 0, NULL) == 1)
					finished(c, k.edit.seq);
				continue;
			}
			reel_msg_init(&m, REEL_MSG_WORK);
			m.sender_pid = (uint32_t)getpid();
			m.role = REEL_ROLE_COORD;
			m.seq = k.edit.seq;
			m.epoch = k.epoch;
			m.op = k.edit.op;
			m.first = k.first;
			m.last = k.last;
			memcpy(m.params, k.edit.params, sizeof(m.params));
			m.stat[REEL_WORK_RANGE_FIRST] = (uint64_t)k.edit.first;
			m.stat[REEL_WORK_RANGE_LAST] = (uint64_t)k.edit.last;
			m.stat[REEL_WORK_KIND] = k.kind == SCHED_MEASURE ? REEL_WORK_MEASURE : REEL_WORK_APPLY;
			m.priority = REEL_PRIO_BATCH;
			r = reel_queue_send(c->queues[role], &m, REEL_PRIO_BATCH, 0);
			if (r == 0)
				continue;
			sched_untake(c->sched, k.edit.seq, k.first, k.epoch);
			if (r == -EAGAIN)
				coord_watch_writable(c, role, true);
			else
				reel_log(REEL_LOG_ERROR, "coord", "dispatch to %s failed: %s",
				         reel_role_name(role), reel_strerror(r));
			break;
		}
	}
	coord_answer_settled(c);
}
