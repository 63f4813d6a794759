/*
 * What the coordinator does with each message: need, status, stop,
 * commands, and the stages' hello, claim and done.  Also the replay of the
 * journal onto frames decoded again.
 *
 * Replay: the pixels in a slot are a cache of "source frame + every
 * accepted, not undone, journal entry that covers it, in order".  When the
 * materialiser decodes a frame afresh (first need, eviction, rebuild), its
 * slot holds the source alone with journal_seq 0, so every accepted entry
 * that covers the frame is dispatched again for that frame, in seq order
 * among the unfinished commands.  A client's need waits until they are
 * done; a stage's need does not (the stage is the one doing the replay).
 * Stages apply an entry to a frame only when the slot's journal_seq is below
 * the entry's seq, so a replay that races with the original work item is
 * harmless.
 */
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "coord-private.h"
#include "buffer/buffer.h"
#include "reel/error.h"
#include "reel/log.h"
#include "reel/ops.h"
#include "buffer/slot.h"

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

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		unsigned role = roles[i];
		struct sched_chunk k;

		while (!c->queue_blocked[role] && sched_take(c->sched, role, reel__now_ms(), &k) == 1) {
			struct reel_msg m;
			int r;

			reel_msg_init(&m, REEL_MSG_WORK);
			m.sender_pid = (uint32_t)getpid();
			m.role = REEL_ROLE_COORD;
			m.seq = k.seq;
			m.epoch = k.epoch;
			m.op = k.op;
			m.first = k.first;
			m.last = k.last;
			/* A replay names the decode it is for. */
			m.flags = k.replay ? REEL_WORK_REPLAY : 0;
			m.stat[REEL_WORK_INCARNATION] = k.replay ? k.incarnation : 0;
			memcpy(m.params, k.params, sizeof(m.params));
			m.priority = REEL_PRIO_BATCH;
			r = reel_queue_send(c->queues[role], &m, REEL_PRIO_BATCH, 0);
			if (r == 0)
				continue;
			sched_untake(c->sched, k.seq, k.first, k.epoch);
			if (r == -EAGAIN)
				coord_watch_writable(c, role, true);
			else
				reel_log(REEL_LOG_ERROR, "coord", "dispatch to %s failed: %s",
				         reel_role_name(role), reel_strerror(r));
			break;
		}
	}
}

/* -------------------------------------------------------------- stages */

static struct stage *find_stage(struct reel_coord *c, pid_t pid)
{
	for (size_t i = 0; i < c->nstages; i++)
		if (c->stages[i].pid == pid)
			return &c->stages[i];
	return NULL;
}

/*
 * A process that died holding a slot's lock (a stage killed mid-edit) left
 * a half-written frame.  Its robust mutex hands EOWNERDEAD to the next
 * locker, which marks the slot STALE: the coordinator is that locker, and
 * then forgets the frame so that the next need rebuilds it from source and
 * journal.  owner_pid is only a hint for finding such slots; the lock
 * decides.
 */
void coord_recover_dead_writers(struct reel_coord *c)
{
	for (uint32_t slot = 0; slot < c->info->slot_count; slot++) {
		struct reel_slot_info si;
		int r;

		if (reel_slot_get(c->buffer, slot, &si) < 0 || si.owner_pid == 0 ||
		    (kill((pid_t)si.owner_pid, 0) == 0 || errno != ESRCH))
			continue;
		r = reel_slot_lock(c->buffer, slot, 0);
		if (r < 0)
			continue;
		reel_slot_unlock(c->buffer, slot);
		if (r == REEL_SLOT_RECOVERED && si.frame >= 0) {
			reel_log(REEL_LOG_WARN, "coord", "frame %lld was left half-written by pid %u; "
			         "rebuilding it", (long long)si.frame, si.owner_pid);
			materialiser_invalidate(c->mat, (uint64_t)si.frame);
		}
	}
}

/* Only the pidfd says a stage is gone: a BYE is a courtesy, and anyone could send one. */
void coord_stage_died(struct reel_coord *c, pid_t pid)
{
	struct stage *s = find_stage(c, pid);
	int n;

	if (!s)
		return;
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, s->pidfd, NULL);
	close(s->pidfd);
	n = sched_requeue_owner(c->sched, pid);
	reel_log(REEL_LOG_INFO, "coord", "%s stage %ld exited; %d work items dispatched again",
	         reel_role_name(s->role), (long)pid, n > 0 ? n : 0);
	*s = c->stages[--c->nstages];
	coord_recover_dead_writers(c);
	coord_dispatch(c);
}

static int add_stage(struct reel_coord *c, pid_t pid, uint32_t role)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd;

	if (find_stage(c, pid))
		return 0;
	if (c->nstages == MAX_STAGES)
		return -EUSERS;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
	/* The pid, not an index into stages[], names the stage: indexes move on removal. */
	ev.data.u64 = ((uint64_t)TAG_PIDFD << 32) | (uint32_t)pid;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	c->stages[c->nstages].pid = pid;
	c->stages[c->nstages].role = role;
	c->stages[c->nstages].pidfd = fd;
	c->nstages++;
	reel_log(REEL_LOG_INFO, "coord", "%s stage %ld attached", reel_role_name(role), (long)pid);
	return 0;
}

/* ------------------------------------------------------------- journal */

static int remember_accepted(struct reel_coord *c, const struct reel_journal_entry *e)
{
	const struct reel_op_desc *op = reel_op_get(e->op);
	struct accepted *a;

	if (!op)
		return REEL_E_JOURNAL;
	if (c->naccepted == c->acceptedcap) {
		size_t cap = c->acceptedcap ? c->acceptedcap * 2 : 64;
		struct accepted *v = realloc(c->accepted, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->accepted = v;
		c->acceptedcap = cap;
	}
	a = &c->accepted[c->naccepted++];
	a->seq = e->seq;
	a->op = e->op;
	a->role = op->role;
	a->first = e->first;
	a->last = e->last;
	memcpy(a->params, e->params, sizeof(a->params));
	return 0;
}

/*
 * At start: every entry not undone needs to be in the pixels of the frames
 * it covers; the pending ones (acknowledged, never finished: the previous
 * coordinator stopped or died) are scheduled again.
 */
int coord_load_journal(struct reel_coord *c)
{
	uint64_t count = reel_journal_count(c->buffer);
	uint64_t pending = 0, damaged = 0;

	for (uint64_t seq = 1; seq <= count; seq++) {
		struct reel_journal_entry e;
		const struct reel_op_desc *op;
		int r = reel_journal_read(c->buffer, seq, &e);

		if (r < 0 || !(op = reel_op_get(e.op)) || op->role == REEL_ROLE_COORD) {
			damaged++;
			continue;
		}
		if (e.state == REEL_JOURNAL_UNDONE)
			continue;
		r = remember_accepted(c, &e);
		if (r == 0 && e.state == REEL_JOURNAL_PENDING) {
			r = sched_add(c->sched, &e, op->role);
			pending++;
		}
		if (r < 0)
			return r;
	}
	if (damaged)
		reel_log(REEL_LOG_WARN, "coord", "%" PRIu64 " damaged journal entries skipped", damaged);
	if (pending)
		reel_log(REEL_LOG_INFO, "coord", "%" PRIu64 " commands of the journal dispatched again",
		         pending);
	return 0;
}

/* Dispatch the accepted entries covering a frame that was just decoded from source. */
static void schedule_replays(struct reel_coord *c, uint64_t frame, uint64_t incarnation)
{
	bool any = false;

	for (size_t i = 0; i < c->naccepted; i++) {
		const struct accepted *a = &c->accepted[i];
		struct reel_journal_entry e;

		if ((int64_t)frame < a->first || (int64_t)frame > a->last)
			continue;
		memset(&e, 0, sizeof(e));
		e.seq = a->seq;
		e.op = a->op;
		e.first = a->first;
		e.last = a->last;
		memcpy(e.params, a->params, sizeof(e.params));
		if (sched_add_replay(c->sched, &e, a->role, (int64_t)frame, incarnation) == 0) {
			any = true;
			if (c->replaying[frame] < UINT16_MAX)
				c->replaying[frame]++;
		}
	}
	/*
	 * A command already in flight over this frame may reach the fresh frame
	 * before the replays of earlier entries, which would then be skipped:
	 * rebuild the frame once such commands are done.
	 */
	if (any && sched_taint_inflight(c->sched, (int64_t)frame) > 0)
		c->rebuild[frame] = 1;
}

/* Frames decoded since the last look get their replays scheduled. */
static void take_fresh(struct reel_coord *c)
{
	struct mat_fresh fresh[256];
	size_t n;

	while ((n = materialiser_fresh(c->mat, fresh, 256)) > 0)
		for (size_t i = 0; i < n; i++)
			schedule_replays(c, fresh[i].frame, fresh[i].incarnation);
}

/* ---------------------------------------------------------------- need */

static bool replays_pending(const struct reel_coord *c, uint64_t first, uint64_t last)
{
	for (uint64_t f = first; f <= last; f++)
		if (c->replaying[f] || c->rebuild[f])
			return true;
	return false;
}

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

/* Answer the needs whose frames are decoded and replayed. */
static void answer_ready(struct reel_coord *c)
{
	for (size_t i = 0; i < c->nwaiting;) {
		struct waiting *w = &c->waiting[i];
		if (w->decoded && !replays_pending(c, w->first, w->last))
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

static bool is_stage(struct reel_coord *c, pid_t pid)
{
	return find_stage(c, pid) != NULL;
}

static void handle_need(struct reel_coord *c, const struct reel_msg *req)
{
	uint64_t first = (uint64_t)req->first, last = (uint64_t)req->last;
	bool stage = is_stage(c, (pid_t)req->sender_pid);
	unsigned prio = req->priority;
	size_t mine = 0;
	struct waiting *w;
	struct mat_done done;
	int r;

	if (first >= c->info->frame_count || last >= c->info->frame_count) {
		coord_reply_result(c, req, REEL_E_RANGE, 0, 0, 0, 0);
		return;
	}
	/* A range larger than the cache could not stay resident: serve what fits. */
	if (last - first >= c->info->slot_count)
		last = first + c->info->slot_count - 1;
	/* Control is for stop and for stages; a client's need is at most interactive. */
	if (!stage && prio > REEL_PRIO_INTERACTIVE)
		prio = REEL_PRIO_INTERACTIVE;
	r = materialiser_lookup(c->mat, first, last, &done);
	/* Frames the lookup found may be fresh: their replays must be counted first. */
	take_fresh(c);
	if (r == 1 && (stage || !replays_pending(c, first, last))) {
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
	if (r == 1) {
		/* Decoded already, but edits are being replayed onto it. */
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
		/*
		 * Results first, fresh frames second: every frame of a finished
		 * request was on the fresh list before its result, so its replays
		 * are counted before anyone is answered.
		 */
		for (n = 0; n < 64 && materialiser_poll(c->mat, &done[n]) == 1; n++)
			;
		take_fresh(c);
		for (size_t j = 0; j < n; j++) {
			for (size_t i = 0; i < c->nwaiting; i++) {
				struct waiting *w = &c->waiting[i];
				if (w->token != done[j].token)
					continue;
				w->decoded = true;
				w->result = done[j].result;
				w->slot = done[j].slot;
				/* Stages are not kept waiting for replays (they do them). */
				if (is_stage(c, w->pid))
					answer_waiting(c, i);
				break;
			}
		}
	} while (n == 64);
	answer_ready(c);
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

/* ------------------------------------------------------------ commands */

static void handle_command(struct reel_coord *c, const struct reel_msg *req)
{
	const struct reel_op_desc *op = reel_op_get(req->op);
	struct reel_journal_entry e;
	uint64_t seq;
	int r;

	if (req->op == REEL_OP_UNDO || req->op == REEL_OP_REDO) {
		/* Undo rebuilds frames from source + journal, which arrives with the stages. */
		coord_reply_result(c, req, -ENOTSUP, 0, 0, 0, 0);
		return;
	}
	if ((uint64_t)req->last >= c->info->frame_count) {
		c->refused++;
		coord_reply_result(c, req, REEL_E_RANGE, 0, 0, 0, 0);
		return;
	}
	/* Refused before it is journaled: a busy session says so instead of growing without bound. */
	if (sched_commands(c->sched) >= MAX_COMMANDS) {
		c->refused++;
		coord_reply_result(c, req, -EBUSY, 0, 0, 0, 0);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.op = req->op;
	e.first = req->first;
	e.last = req->last;
	memcpy(e.params, req->params, sizeof(e.params));
	r = reel_journal_append(c->buffer, &e, &seq);
	if (r < 0) {
		coord_reply_result(c, req, r, 0, 0, 0, 0);
		return;
	}
	e.seq = seq;
	r = remember_accepted(c, &e);
	if (r == 0)
		r = sched_add(c->sched, &e, op->role);
	if (r < 0) {
		/* Journaled but not scheduled: the next start dispatches it; say so now. */
		reel_log(REEL_LOG_ERROR, "coord", "command %" PRIu64 " not scheduled: %s", seq,
		         reel_strerror(r));
		coord_reply_result(c, req, r, seq, 0, 0, 0);
		return;
	}
	/* Acknowledged only now: the entry is durable in the journal. */
	coord_reply_result(c, req, 0, seq, 0, (uint64_t)e.first, (uint64_t)e.last);
	coord_dispatch(c);
}

static void handle_done(struct reel_coord *c, const struct reel_msg *m)
{
	struct sched_chunk k;
	int r = sched_done(c->sched, m->seq, m->first, m->epoch, (pid_t)m->sender_pid, &k);

	if (r < 0) {
		reel_log(REEL_LOG_DEBUG, "coord", "late, foreign or unknown done for %" PRIu64 " ignored",
		         m->seq);
		return;
	}
	if (k.replay) {
		for (int64_t f = k.first; f <= k.last; f++)
			if (c->replaying[f])
				c->replaying[f]--;
	} else if (r == 1) {
		reel_journal_set_state(c->buffer, m->seq, REEL_JOURNAL_APPLIED);
	}
	if (k.tainted) {
		/* Decoded afresh under this chunk: rebuilt from source + journal, in order. */
		for (int64_t f = k.first; f <= k.last; f++)
			if (c->rebuild[f]) {
				c->rebuild[f] = 0;
				materialiser_invalidate(c->mat, (uint64_t)f);
			}
	}
	answer_ready(c);
	coord_dispatch(c);
}

/* -------------------------------------------------------------- status */

static void fill_status(struct reel_coord *c, struct reel_msg *m)
{
	struct mat_stats ms;

	materialiser_stats(c->mat, &ms);
	m->stat[REEL_STAT_FRAMES] = c->info->frame_count;
	m->stat[REEL_STAT_RESIDENT] = ms.resident;
	m->stat[REEL_STAT_JOURNAL] = reel_journal_count(c->buffer);
	m->stat[REEL_STAT_PENDING] = sched_commands(c->sched);
	m->stat[REEL_STAT_STAGES] = c->nstages;
	m->stat[REEL_STAT_INFLIGHT] = sched_inflight(c->sched);
	m->stat[REEL_STAT_MALFORMED] = c->malformed;
	m->stat[REEL_STAT_GENERATION] = reel_buffer_generation(c->buffer);
	for (unsigned role = 0; role < REEL_ROLE_CLIENT; role++) {
		long d = reel_queue_depth(c->queues[role]);
		m->stat[REEL_STAT_Q_COORD + role] = d > 0 ? (uint64_t)d : 0;
	}
	m->stat[REEL_STAT_ERRORS] = ms.errors;
	m->stat[REEL_STAT_DECODED] = ms.decoded;
}

void coord_handle(struct reel_coord *c, const struct reel_msg *m)
{
	struct reel_msg out;

	switch (m->kind) {
	case REEL_MSG_NEED:
		handle_need(c, m);
		break;
	case REEL_MSG_STATUS:
		reel_msg_init(&out, REEL_MSG_STATUS_REPLY);
		fill_status(c, &out);
		coord_reply(c, (pid_t)m->sender_pid, m->flags, m->id, m->priority, &out);
		break;
	case REEL_MSG_STOP:
		coord_reply_result(c, m, 0, 0, 0, 0, 0);
		c->stopping = true;
		break;
	case REEL_MSG_COMMAND:
		handle_command(c, m);
		break;
	case REEL_MSG_HELLO:
		coord_reply_result(c, m, add_stage(c, (pid_t)m->sender_pid, m->role), 0, 0, 0, 0);
		break;
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
		handle_done(c, m);
		break;
	default:
		/* Well-formed but not for the coordinator: as good as malformed. */
		c->malformed++;
		reel_log(REEL_LOG_WARN, "coord", "unexpected %s message from pid %u dropped",
		         reel_msg_kind_name(m->kind), m->sender_pid);
		break;
	}
}
