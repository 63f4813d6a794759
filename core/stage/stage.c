/*
 * reel_stage: a stage process's part of a session (see reel/stage.h).
 *
 * A stage talks to the coordinator three ways: HELLO through a reel_client
 * (it is answered), CLAIM, DONE, FAIL and MEASURED as plain messages on the
 * coordinator queue (answered by nobody), and work items from its role's
 * queue, shared with every other stage of the role.  It watches the
 * coordinator through a pidfd, so a coordinator that dies ends the wait for
 * work at once.
 *
 * A work item is checked twice before anything is done: against the op
 * table and the video, and against the journal entry it names (the stage
 * reads the journal itself), so a forged or damaged item changes nothing.
 *
 * Applying keeps one rule: frame f gets edit S only when its slot holds f,
 * READY, in state J < S, and no edit in effect between J and S covers f; the
 * slot then records S.  A frame that misses an earlier edit (which the
 * coordinator's ordering should never let happen) is marked STALE, so it is
 * rebuilt from source and journal instead of holding a wrong picture.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/clock.h"
#include "buffer/buffer.h"
#include "buffer/slot.h"
#include "buffer/stagetab.h"
#include "bus/bus.h"
#include "bus/msg.h"
#include "edit/apply.h"
#include "edit/edits.h"
#include "reel/client.h"
#include "reel/error.h"
#include "reel/log.h"
#include "reel/stage.h"
#include "stage/crash.h"

#define CALL_TIMEOUT_MS 10000
#define SEND_TIMEOUT_MS 10000
#define LOCK_TIMEOUT_MS 10000
/* The coordinator presumes a stage hung after 30 s of silence: speak well before. */
#define HEARTBEAT_MS 1000.0

struct reel_stage {
	struct reel_client *client;
	struct reel_buffer *buffer;
	const struct reel_buffer_info *info;
	mqd_t work;
	mqd_t coord;
	int coord_pidfd;
	int epfd;
	unsigned role;
	int table_index;
	struct reel__stage_entry *entry;   /* ours in the stage table: figures and log ring */
	bool crash_watched;                /* our crashes are written into entry (crash.h) */
	struct reel_edits *edits;
	struct reel_applier *applier;
	reel_op_lookup_fn lookup;
	char source[REEL_PATH_MAX];
	/* The item in hand, for the heartbeat. */
	const struct reel_work *current;
	double last_said_ms;
	uint64_t dropped;
};

static int make_epoll(struct reel_stage *s)
{
	struct epoll_event ev = { .events = EPOLLIN };

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	ev.data.u32 = 1;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, (int)s->work, &ev) < 0)
		return -errno;
	ev.data.u32 = 2;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->coord_pidfd, &ev) < 0)
		return -errno;
	return 0;
}

/* Everything a stage holds, whatever of it was made; the one cleanup of attach and detach. */
static void stage_free(struct reel_stage *s)
{
	/* Before the entry it writes into is unmapped. */
	if (s->crash_watched)
		reel__crash_unwatch();
	reel_applier_free(s->applier);
	reel_edits_free(s->edits);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->coord_pidfd >= 0)
		close(s->coord_pidfd);
	reel_queue_close(s->work);
	reel_queue_close(s->coord);
	reel_buffer_close(s->buffer);
	reel_client_close(s->client);
	free(s);
}

/*
 * The ring has one producer, but reel_log() may be called from any thread
 * of the process (libav's decoder threads, a preview's helpers): they take
 * turns.  The lock is held for a copy of one record, never for a wait.
 */
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_to_ring(int level, const char *component, const char *message, void *userdata)
{
	pthread_mutex_lock(&ring_lock);
	reel_stagetab_log(userdata, level, component, message);
	pthread_mutex_unlock(&ring_lock);
}

int reel_stage_attach(const char *session, unsigned role, struct reel_stage **ret_stage)
{
	char name[REEL_QUEUE_NAME_MAX];
	const struct reel_session_record *rec;
	struct reel_stage *s;
	struct reel_msg hello, reply;
	int r;

	if (role != REEL_ROLE_EDITOR && role != REEL_ROLE_EFFECT && role != REEL_ROLE_AUDIO &&
	    role != REEL_ROLE_PREVIEW)
		return -EINVAL;
	r = reel_session_name_check(session);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->work = s->coord = (mqd_t)-1;
	s->coord_pidfd = s->epfd = -1;
	s->role = role;
	r = reel_client_connect(session, &s->client);
	if (r < 0)
		goto out_free;
	rec = reel_client_record(s->client);
	snprintf(s->source, sizeof(s->source), "%s", rec->source_path);
	r = reel_buffer_open(rec->buffer_path, &s->buffer);
	if (r < 0)
		goto out_free;
	s->info = reel_buffer_info(s->buffer);
	s->coord_pidfd = (int)syscall(SYS_pidfd_open, rec->pid, 0);
	if (s->coord_pidfd < 0) {
		r = errno == ESRCH ? REEL_E_NOSESSION : -errno;
		goto out_free;
	}
	r = reel_queue_name_of(name, sizeof(name), rec, role);
	if (r == 0)
		r = reel_queue_open(name, REEL_QUEUE_NONBLOCK, &s->work);
	if (r == 0)
		r = reel_queue_name_of(name, sizeof(name), rec, REEL_ROLE_COORD);
	if (r == 0)
		r = reel_queue_open(name, 0, &s->coord);
	if (r == 0)
		r = make_epoll(s);
	if (r == 0)
		r = reel_edits_new(s->info->frame_count, &s->edits);
	if (r == 0)
		r = reel_edits_sync(s->edits, s->buffer);
	if (r < 0)
		goto out_free;
	reel_msg_init(&hello, REEL_MSG_HELLO);
	hello.role = role;
	r = reel_client_call(s->client, &hello, REEL_PRIO_CONTROL, CALL_TIMEOUT_MS, &reply);
	if (r < 0)
		goto out_free;
	s->table_index = (int)reply.stat[REEL_REPLY_STAGE_SLOT];
	/* From here on, what this process logs goes to the session's log, without waiting. */
	if (s->table_index > 0 && s->table_index < REEL__STAGE_ENTRIES) {
		s->entry = reel_stagetab_entry(s->buffer, (unsigned)s->table_index);
		reel_log_set_callback(log_to_ring, s->entry);
		/*
		 * Without it a crash of ours counts as a kill from outside: worth a
		 * line, not a failure.  A second stage of the process is not watched.
		 */
		if (s->entry && (r = reel__crash_watch(s->entry)) < 0 && r != -EBUSY)
			reel_log(REEL_LOG_WARN, "stage", "crashes will not be told apart from kills: %s",
			         reel_strerror(r));
		s->crash_watched = s->entry && r == 0;
		r = 0;
	}
	*ret_stage = s;
	return 0;

out_free:
	stage_free(s);
	return r;
}

void reel_stage_detach(struct reel_stage *s)
{
	struct reel_msg bye;

	if (!s)
		return;
	if (s->entry)
		reel_log_set_callback(NULL, NULL);
	reel_msg_init(&bye, REEL_MSG_BYE);
	bye.sender_pid = (uint32_t)getpid();
	bye.role = s->role;
	/* A courtesy: the coordinator learns of the exit through the pidfd anyway. */
	reel_queue_send(s->coord, &bye, REEL_PRIO_CONTROL, 0);
	stage_free(s);
}

int reel_stage_fd(const struct reel_stage *s)
{
	return s->epfd;
}

void reel_stage_set_ops(struct reel_stage *s, reel_op_lookup_fn lookup)
{
	s->lookup = lookup;
	/* Made again on next use, with the ops. */
	reel_applier_free(s->applier);
	s->applier = NULL;
}

/* ------------------------------------------------------------- messages */

static void msg_about(const struct reel_stage *s, const struct reel_work *w, uint16_t kind,
                      struct reel_msg *m)
{
	reel_msg_init(m, kind);
	m->sender_pid = (uint32_t)getpid();
	m->role = s->role;
	m->priority = REEL_PRIO_INTERACTIVE;
	m->seq = w->edit.seq;
	m->op = w->edit.op;
	m->first = w->first;
	m->last = w->last;
	m->epoch = w->epoch;
}

static int say(struct reel_stage *s, struct reel_msg *m)
{
	s->last_said_ms = reel__now_ms();
	return reel_queue_send(s->coord, m, REEL_PRIO_INTERACTIVE, SEND_TIMEOUT_MS);
}

/* Tell the coordinator now and then that the item in hand is still being worked on. */
static int heartbeat(void *userdata)
{
	struct reel_stage *s = userdata;
	struct reel_msg m;

	if (s->current && reel__now_ms() - s->last_said_ms >= HEARTBEAT_MS) {
		msg_about(s, s->current, REEL_MSG_CLAIM, &m);
		say(s, &m);
	}
	return 0;
}

static bool coordinator_gone(const struct reel_stage *s)
{
	struct pollfd p = { .fd = s->coord_pidfd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* ----------------------------------------------------------------- work */

/*
 * The item against the op table and the video, then against the journal
 * entry it names.  0 when it may be done.
 */
static int check_work(struct reel_stage *s, const struct reel_msg *m, struct reel_work *w)
{
	const struct reel_op_desc *d = reel_op_get(m->op);
	struct reel_op_limits lim = { s->info->width, s->info->height, s->info->frame_count,
	                              s->info->sample_rate };
	double params[4];
	struct reel_edit je;
	uint32_t st;
	int r;

	if (!d || d->role != s->role)
		return REEL_E_BADMSG;
	memset(w, 0, sizeof(*w));
	w->edit.seq = m->seq;
	w->edit.op = m->op;
	w->edit.first = (int64_t)m->stat[REEL_WORK_RANGE_FIRST];
	w->edit.last = (int64_t)m->stat[REEL_WORK_RANGE_LAST];
	memcpy(w->edit.params, m->params, sizeof(w->edit.params));
	w->kind = (uint32_t)m->stat[REEL_WORK_KIND];
	w->first = m->first;
	w->last = m->last;
	w->epoch = m->epoch;
	/* A measured value rides in params[1]; the table knows only what a command gives. */
	memcpy(params, m->params, sizeof(params));
	if (d->flags & REEL_OP_MEASURES) {
		if (!(params[1] >= 0))
			return REEL_E_BADMSG;
		params[1] = 0;
	}
	r = reel_op_validate(m->op, params, w->edit.first, w->edit.last, &lim, NULL, 0);
	if (r < 0)
		return REEL_E_BADMSG;
	r = reel_edits_sync(s->edits, s->buffer);
	if (r < 0)
		return r;
	r = reel_edits_get(s->edits, m->seq, &je, &st);
	if (r < 0 || je.op != w->edit.op || je.first != w->edit.first || je.last != w->edit.last ||
	    memcmp(je.params, params, sizeof(double)) != 0)
		return REEL_E_BADMSG;
	for (int i = 2; i < 4; i++)
		if (je.params[i] != params[i])
			return REEL_E_BADMSG;
	if (!(d->flags & REEL_OP_MEASURES) && je.params[1] != params[1])
		return REEL_E_BADMSG;
	return 0;
}

int reel_stage_next(struct reel_stage *s, struct reel_work *ret_work, int timeout_ms)
{
	double deadline = reel__now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		struct pollfd p[2] = { { .fd = (int)s->work, .events = POLLIN },
		                       { .fd = s->coord_pidfd, .events = POLLIN } };
		struct reel_msg m, claim;
		int wait, r;

		if (coordinator_gone(s))
			return REEL_E_NOSESSION;
		r = reel_buffer_lost(s->buffer);
		if (r < 0)
			return r;
		r = reel_queue_recv(s->work, &m, NULL, 0);
		if (r == 0 && m.kind == REEL_MSG_WORK) {
			r = check_work(s, &m, ret_work);
			if (r == 0) {
				msg_about(s, ret_work, REEL_MSG_CLAIM, &claim);
				r = say(s, &claim);
				return r < 0 ? r : 1;
			}
			if (r == -ENOMEM)
				return r;
		}
		if (r == 0 || r == REEL_E_BADMSG || r == REEL_E_JOURNAL) {
			s->dropped++;
			reel_log(REEL_LOG_WARN, "stage", "work item that does not match the journal dropped "
			         "(%llu so far)", (unsigned long long)s->dropped);
			continue;
		}
		if (r != -EAGAIN)
			return r;
		if (timeout_ms < 0)
			wait = -1;
		else if ((wait = (int)(deadline - reel__now_ms())) <= 0)
			return 0;
		if (poll(p, 2, wait) < 0 && errno != EINTR)
			return -errno;
	}
}

/*
 * Where the frames of first..last are: slots[f - first], -1 when not
 * resident.  Frame f is slot f when every frame has a slot; otherwise one
 * pass over the slot table finds them all (the table says where frames are;
 * the slot's lock and a second look decide).
 */
static void find_slots(const struct reel_stage *s, int64_t first, int64_t last, int64_t *slots)
{
	struct reel_slot_info si;

	for (int64_t f = first; f <= last; f++)
		slots[f - first] = s->info->slot_count >= s->info->frame_count ? f : -1;
	if (s->info->slot_count >= s->info->frame_count)
		return;
	for (uint32_t slot = 0; slot < s->info->slot_count; slot++)
		if (reel_slot_get(s->buffer, slot, &si) == 0 && si.frame >= first && si.frame <= last)
			slots[si.frame - first] = slot;
}

static int ensure_applier(struct reel_stage *s)
{
	const struct reel_applier_config ac = { .buffer = s->buffer, .edits = s->edits,
	                                        .lookup = s->lookup, .source = s->source,
	                                        .progress = heartbeat, .progress_data = s };

	return s->applier ? 0 : reel_applier_new(&ac, &s->applier);
}

/* The stage's figures in its table entry, for `reel status`: plain counters only it writes. */
#define count(s, field)                                                                           \
	do {                                                                                      \
		if ((s)->entry)                                                                   \
			__atomic_store_n(&(s)->entry->field, (s)->entry->field + 1, __ATOMIC_RELAXED); \
	} while (0)

static void busy(struct reel_stage *s, const struct reel_work *w)
{
	if (!s->entry)
		return;
	__atomic_store_n(&s->entry->busy_first, w ? w->first : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->entry->busy_last, w ? w->last : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->entry->busy_seq, w ? w->edit.seq : 0, __ATOMIC_RELAXED);
}

/* One frame under its slot's lock; 0 also when there is nothing to do. */
static int apply_frame(struct reel_stage *s, const struct reel_work *w, int64_t f, int64_t found,
                       reel_frame_fn fn, void *userdata)
{
	struct reel_slot_info si;
	struct reel_frame view;
	struct reel_edit earlier;
	uint64_t reached;
	uint32_t slot;
	int r;

	if (found < 0) {
		count(s, frames_skipped);
		return 0;
	}
	slot = (uint32_t)found;
	/*
	 * The frame's pages are in memory but not yet in this process's page
	 * tables: one populate call maps them all, instead of a fault per 4 KiB
	 * page in the op's loop (about 760 of them for a 1080p frame).  Once per
	 * slot per process; it writes nothing.
	 */
	reel_buffer_prefault_slot(s->buffer, slot, REEL_PREFAULT_FILLED);
	r = reel_slot_lock(s->buffer, slot, LOCK_TIMEOUT_MS);
	if (r == REEL_SLOT_RECOVERED) {
		/* Left half-written by a dead process: it is STALE now and will be rebuilt. */
		reel_slot_unlock(s->buffer, slot);
		return 0;
	}
	if (r < 0)
		return r;
	r = reel_slot_get(s->buffer, slot, &si);
	if (r < 0 || si.frame != f || si.state != REEL_SLOT_READY || si.journal_seq >= w->edit.seq)
		goto out_unlock;
	if (reel_edits_steps(s->edits, f, si.journal_seq, w->edit.seq - 1,
	                     REEL_OP_PICTURE | REEL_OP_SOUND, &earlier, 1, &reached) > 0 ||
	    reached < w->edit.seq - 1) {
		/* It misses an earlier edit: better rebuilt than wrong. */
		reel_log(REEL_LOG_WARN, "stage", "frame %lld is behind the journal; sent to be rebuilt",
		         (long long)f);
		reel_slot_set_state(s->buffer, slot, REEL_SLOT_STALE, 0);
		goto out_unlock;
	}
	r = reel_buffer_frame(s->buffer, slot, &view);
	if (r < 0)
		goto out_unlock;
	view.audio_samples = si.audio_samples;
	reel_slot_set_state(s->buffer, slot, REEL_SLOT_BUSY, 0);
	reel_slot_write_begin(s->buffer, slot);
	r = reel_applier_apply(s->applier, &w->edit, f, &view, fn, userdata);
	/* Pages lost under the op (base/guard.h): what it wrote went nowhere, and is not claimed. */
	if (r == 0)
		r = reel_buffer_lost(s->buffer);
	if (r == 0) {
		reel_slot_set_contents(s->buffer, slot, f, w->edit.seq, si.audio_samples);
		count(s, frames_edited);
	}
	reel_slot_write_end(s->buffer, slot);
	/* A frame the op gave up on half way holds nothing trustworthy. */
	reel_slot_set_state(s->buffer, slot, r == 0 ? REEL_SLOT_READY : REEL_SLOT_STALE, 0);
out_unlock:
	reel_slot_unlock(s->buffer, slot);
	return r < 0 ? r : 0;
}

int reel_stage_apply(struct reel_stage *s, const struct reel_work *w, reel_frame_fn fn,
                     void *userdata)
{
	int64_t *slots;
	int r;

	if (!w || w->kind != REEL_WORK_APPLY)
		return -EINVAL;
	r = reel_edits_sync(s->edits, s->buffer);
	if (r == 0)
		r = ensure_applier(s);
	if (r < 0)
		return r;
	if (w->first < 0 || w->last < w->first || w->last - w->first > INT32_MAX)
		return -EINVAL;
	slots = malloc((size_t)(w->last - w->first + 1) * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	find_slots(s, w->first, w->last, slots);
	s->current = w;
	busy(s, w);
	for (int64_t f = w->first; f <= w->last && r == 0; f++) {
		r = apply_frame(s, w, f, slots[f - w->first], fn, userdata);
		heartbeat(s);
	}
	busy(s, NULL);
	s->current = NULL;
	free(slots);
	return r;
}

int reel_stage_measure_peak(struct reel_stage *s, const struct reel_work *w, double *ret_peak)
{
	int r;

	if (!w || w->kind != REEL_WORK_MEASURE)
		return -EINVAL;
	r = reel_edits_sync(s->edits, s->buffer);
	if (r == 0)
		r = ensure_applier(s);
	if (r < 0)
		return r;
	s->current = w;
	busy(s, w);
	r = reel_applier_peak(s->applier, w->edit.seq, w->edit.first, w->edit.last, ret_peak);
	busy(s, NULL);
	s->current = NULL;
	return r;
}

int reel_stage_done(struct reel_stage *s, const struct reel_work *w)
{
	struct reel_msg m;

	msg_about(s, w, REEL_MSG_DONE, &m);
	count(s, items_done);
	return say(s, &m);
}

int reel_stage_measured(struct reel_stage *s, const struct reel_work *w, double value)
{
	struct reel_msg m;

	if (!(value >= 0) || value > 1e30)
		return -EINVAL;
	msg_about(s, w, REEL_MSG_MEASURED, &m);
	m.params[0] = value;
	count(s, items_done);
	return say(s, &m);
}

int reel_stage_fail(struct reel_stage *s, const struct reel_work *w, int error, const char *reason)
{
	struct reel_msg m;
	char text[REEL_FAIL_REASON_MAX];

	msg_about(s, w, REEL_MSG_FAIL, &m);
	count(s, items_failed);
	m.result = error < 0 ? error : REEL_E_EDIT;
	snprintf(text, sizeof(text), "%s", reason ? reason : reel_strerror(m.result));
	memcpy(m.stat, text, sizeof(text));
	return say(s, &m);
}

/* ---------------------------------------------------------------- serve */

static bool lost(const struct reel_stage *s, int r)
{
	return r == REEL_E_BUFFERLOST || r == REEL_E_SOURCELOST || (r == -EIO && reel_buffer_lost(s->buffer));
}

static int serve_one(struct reel_stage *s, const struct reel_work *w, reel_op_lookup_fn lookup)
{
	char why[REEL_FAIL_REASON_MAX];
	double peak = 0;
	int r;

	if (w->kind == REEL_WORK_MEASURE) {
		r = reel_stage_measure_peak(s, w, &peak);
		if (r == 0)
			return reel_stage_measured(s, w, peak);
	} else {
		reel_frame_fn fn = lookup ? lookup(w->edit.op) : NULL;
		const struct reel_op_desc *d = reel_op_get(w->edit.op);

		/* An op with nothing to do per frame has nothing to do here either. */
		if (!fn && d && (d->flags & (REEL_OP_PICTURE | REEL_OP_SOUND)))
			r = REEL_E_EDIT;
		else
			r = fn ? reel_stage_apply(s, w, fn, NULL) : 0;
		if (r == 0)
			return reel_stage_done(s, w);
	}
	/*
	 * Nothing about the edit failed when the buffer or the source lost
	 * pages under the stage: the stage leaves with the reason, and the item
	 * goes to another stage (or the session ends), instead of counting
	 * against the edit.
	 */
	if (r == REEL_E_NOSESSION || r == -ENOMEM || lost(s, r))
		return r;
	snprintf(why, sizeof(why), "%s on frames %lld-%lld: %s",
	         reel_op_get(w->edit.op) ? reel_op_get(w->edit.op)->name : "edit", (long long)w->first,
	         (long long)w->last, reel_strerror(r));
	reel_log(REEL_LOG_WARN, "stage", "edit %llu failed: %s", (unsigned long long)w->edit.seq, why);
	return reel_stage_fail(s, w, r, why);
}

int reel_stage_serve(struct reel_stage *s, reel_op_lookup_fn lookup)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t mask, old;
	int sfd, r = 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &mask, &old) != 0)
		return -EINVAL;
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		r = -errno;
		goto out_mask;
	}
	ev.data.u32 = 3;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, sfd, &ev) < 0) {
		r = -errno;
		goto out_close;
	}
	reel_stage_set_ops(s, lookup);
	for (;;) {
		struct signalfd_siginfo si;
		struct reel_work w;
		struct epoll_event got;

		/* Between two items, and only there, a stop signal is taken. */
		if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			r = 0;
			break;
		}
		r = reel_stage_next(s, &w, 0);
		if (r == 1) {
			r = serve_one(s, &w, lookup);
			if (r < 0)
				break;
			continue;
		}
		if (r < 0)
			break;
		if (epoll_wait(s->epfd, &got, 1, -1) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
	}
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, sfd, NULL);
out_close:
	close(sfd);
out_mask:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}
