/*
 * The coordinator: one event loop over the session's coordinator queue, a
 * signalfd, an eventfd from the materialiser thread, the pidfds of attached
 * stages and, when a stage queue was full, that queue's writability.
 *
 * The loop never blocks on another process.  Requests are answered on the
 * requester's reply queue with non-blocking sends; a reply or a work item
 * that does not fit waits in an outbox and is retried (backpressure, never a
 * drop).  Commands are appended to the journal durably before they are
 * acknowledged, then handed to the scheduler, which decides what may be
 * dispatched.
 *
 * Start-up order matters for crash safety: the session file is published
 * first (its O_EXCL link is the session's lock), the queues second; a clean
 * stop removes them in the opposite order.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "coord.h"
#include "materialise.h"
#include "reel/buffer.h"
#include "reel/bus.h"
#include "reel/error.h"
#include "reel/journal.h"
#include "reel/log.h"
#include "reel/media.h"
#include "reel/ops.h"
#include "reel/session.h"
#include "reel/slot.h"
#include "scheduler.h"

#define MAX_STAGES 64
#define MAX_OUTBOX 4096
#define MAX_SERVED 256
#define CHUNK_FRAMES 64
#define CLAIM_DEADLINE_MS 30000.0
#define UNCLAIMED_DEADLINE_MS 10000.0
#define MIN_SLOTS 16

enum { TAG_COORD = 1, TAG_SIGNAL, TAG_MATERIALISER, TAG_STAGE_QUEUE, TAG_PIDFD };

struct stage {
	pid_t pid;
	uint32_t role;
	int pidfd;
};

struct pending_reply {
	uint64_t token;
	pid_t pid;
	uint32_t tag;
	uint64_t id;
};

struct outgoing {
	pid_t pid;          /* 0: a work item for role queue `role` */
	uint32_t tag;
	uint32_t role;
	unsigned prio;
	struct reel_msg msg;
};

struct reel_coord {
	char session[REEL_SESSION_NAME_MAX + 1];
	char buffer_path[REEL_PATH_MAX];
	int resumed;
	bool published;
	struct reel_media *media;
	struct reel_buffer *buffer;
	const struct reel_buffer_info *info;
	mqd_t queues[REEL_ROLE_CLIENT];
	bool queue_created[REEL_ROLE_CLIENT];
	bool queue_blocked[REEL_ROLE_CLIENT];
	int epfd, sigfd, evfd;
	sigset_t old_mask;
	struct materialiser *mat;
	struct reel_sched *sched;
	struct stage stages[MAX_STAGES];
	size_t nstages;
	struct pending_reply *waiting;
	size_t nwaiting, waitcap;
	uint64_t next_token;
	struct outgoing *outbox;
	size_t noutbox;
	struct { pid_t pid; uint32_t tag; } served[MAX_SERVED];
	size_t nserved;
	uint64_t malformed;
	bool stopping;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void reel_coord_session_from_path(const char *video, char *buf, size_t len)
{
	const char *base = strrchr(video, '/');
	size_t n = 0;

	base = base ? base + 1 : video;
	for (const char *p = base; *p && *p != '.' && n + 1 < len && n < REEL_SESSION_NAME_MAX; p++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		         c == '_' || c == '-';
		buf[n++] = ok ? c : '_';
	}
	if (n == 0)
		n = (size_t)snprintf(buf, len, "session");
	buf[n] = 0;
}

int reel_coord_default_buffer_dir(char *buf, size_t len)
{
	const char *env = getenv("REEL_BUFFER_DIR");
	const char *cache = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	char parent[REEL_PATH_MAX];
	int n;

	if (env && *env) {
		n = snprintf(buf, len, "%s", env);
	} else {
		/*
		 * A cache folder on disk, not /dev/shm: first writes to fresh pages
		 * cost less on ext4 than on tmpfs here, and a buffer on disk does not
		 * pin RAM (docs/ARCHITECTURE.md has the figures).
		 */
		if (cache && *cache)
			snprintf(parent, sizeof(parent), "%s", cache);
		else if (home && *home)
			snprintf(parent, sizeof(parent), "%s/.cache", home);
		else
			snprintf(parent, sizeof(parent), "/tmp");
		if (mkdir(parent, 0700) < 0 && errno != EEXIST)
			return -errno;
		n = snprintf(buf, len, "%s/reel", parent);
	}
	if (n <= 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* ---------------------------------------------------------------- set-up */

static uint64_t default_cache_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || size <= 0)
		return 1ull << 30;
	return (uint64_t)pages * (uint64_t)size / 4;
}

static int same_source(const struct reel_source_id *a, const struct reel_source_id *b)
{
	return a->size == b->size && !memcmp(a->hash, b->hash, sizeof(a->hash));
}

static int create_buffer(struct reel_coord *c, const struct reel_coord_options *o,
                         const struct reel_source_id *id)
{
	const struct reel_media_info *mi = reel_media_info(c->media);
	struct reel_index_entry *entries = NULL;
	struct reel_buffer_params p;
	uint64_t count, budget, slot_bytes, slots;
	uint32_t max_audio;
	int r;

	r = reel_media_scan(c->media, &entries, &count, &max_audio);
	if (r < 0)
		return r;
	if (count == 0) {
		r = REEL_E_BADMEDIA;
		goto out_free;
	}
	memset(&p, 0, sizeof(p));
	p.width = mi->width;
	p.height = mi->height;
	p.frame_count = count;
	p.frame_rate = mi->frame_rate;
	p.time_base = mi->time_base;
	if (mi->sample_rate && mi->channels) {
		p.sample_rate = mi->sample_rate;
		p.channels = mi->channels;
		p.audio_capacity = max_audio ? max_audio : 1;
	}
	p.source = *id;
	p.slot_count = 1;
	slot_bytes = reel_buffer_slot_size(&p);
	if (slot_bytes == 0) {
		r = REEL_E_GEOMETRY;
		goto out_free;
	}
	budget = o->cache_bytes ? o->cache_bytes : default_cache_bytes();
	slots = budget / slot_bytes;
	if (slots < MIN_SLOTS)
		slots = MIN_SLOTS;
	if (slots > count)
		slots = count;
	if (slots > UINT32_MAX)
		slots = UINT32_MAX;
	p.slot_count = (uint32_t)slots;
	r = reel_buffer_create(c->buffer_path, &p, &c->buffer);
	if (r < 0)
		goto out_free;
	for (uint64_t f = 0; f < count && r == 0; f++)
		r = reel_index_put(c->buffer, f, &entries[f]);
	if (r == 0)
		r = reel_index_commit(c->buffer);
	if (r < 0) {
		reel_buffer_close(c->buffer);
		c->buffer = NULL;
		unlink(c->buffer_path);
	}
out_free:
	free(entries);
	return r;
}

static int open_buffer(struct reel_coord *c, const struct reel_coord_options *o)
{
	struct reel_source_id id;
	int r;

	r = reel_media_source_id(c->media, &id);
	if (r < 0)
		return r;
	r = reel_buffer_open(c->buffer_path, &c->buffer);
	if (r == -ENOENT)
		return create_buffer(c, o, &id);
	if (r < 0)
		return r;
	c->resumed = 1;
	if (!same_source(&reel_buffer_info(c->buffer)->source, &id) || !reel_index_complete(c->buffer)) {
		reel_buffer_close(c->buffer);
		c->buffer = NULL;
		return REEL_E_SOURCE;
	}
	return 0;
}

/* A dead coordinator's session: remove its file and queues so the name is free again. */
static int reclaim_session(const char *name)
{
	struct reel_session_record rec;
	int r = reel_session_read(name, &rec);

	if (r == REEL_E_NOSESSION) {
		/* No record: queues may still be left from a crash before it was written. */
		return reel_session_remove(name);
	}
	if (r < 0)
		return r;
	if (reel_session_alive(&rec))
		return REEL_E_LIVE;
	reel_log(REEL_LOG_INFO, "coord", "reclaiming session '%s' of dead pid %ld", name, (long)rec.pid);
	return reel_session_remove(name);
}

static int publish(struct reel_coord *c, const char *video)
{
	struct reel_session_record rec;
	char *real;
	int r;

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.name, sizeof(rec.name), "%s", c->session);
	rec.pid = getpid();
	r = reel_process_start_time(rec.pid, &rec.start_time);
	if (r < 0)
		return r;
	real = realpath(c->buffer_path, NULL);
	snprintf(rec.buffer_path, sizeof(rec.buffer_path), "%s", real ? real : c->buffer_path);
	free(real);
	real = realpath(video, NULL);
	snprintf(rec.source_path, sizeof(rec.source_path), "%s", real ? real : video);
	free(real);
	r = reel_session_publish(&rec);
	if (r == -EEXIST)
		return REEL_E_LIVE;
	if (r == 0)
		c->published = true;
	return r;
}

static int create_queues(struct reel_coord *c)
{
	char name[REEL_QUEUE_NAME_MAX];
	int r;

	for (unsigned role = 0; role < REEL_ROLE_CLIENT; role++) {
		r = reel_queue_name(name, sizeof(name), c->session, role);
		if (r < 0)
			return r;
		r = reel_queue_create(name, REEL_QUEUE_NONBLOCK, &c->queues[role]);
		if (r < 0)
			return r;
		c->queue_created[role] = true;
	}
	return 0;
}

static int epoll_add(int epfd, int fd, uint32_t events, uint32_t tag, uint32_t index)
{
	struct epoll_event ev = { .events = events, .data.u64 = ((uint64_t)tag << 32) | index };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void stop_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGHUP);
}

static int setup_events(struct reel_coord *c)
{
	sigset_t mask;
	int r;

	stop_signals(&mask);
	c->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	c->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->sigfd < 0 || c->evfd < 0 || c->epfd < 0)
		return -errno;
	r = epoll_add(c->epfd, (int)c->queues[REEL_ROLE_COORD], EPOLLIN, TAG_COORD, 0);
	if (r == 0)
		r = epoll_add(c->epfd, c->sigfd, EPOLLIN, TAG_SIGNAL, 0);
	if (r == 0)
		r = epoll_add(c->epfd, c->evfd, EPOLLIN, TAG_MATERIALISER, 0);
	return r;
}

static void teardown(struct reel_coord *c, bool remove_buffer);

int reel_coord_open(const struct reel_coord_options *o, struct reel_coord **ret_coord)
{
	struct reel_coord *c;
	char dir[REEL_PATH_MAX];
	sigset_t mask;
	int r, fresh;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->sigfd = c->evfd = c->epfd = -1;
	for (unsigned role = 0; role < REEL_ROLE_CLIENT; role++)
		c->queues[role] = (mqd_t)-1;
	/*
	 * Block the stop signals before any thread exists (libav's decoder
	 * threads start with the media), so that every thread inherits the mask
	 * and the signalfd is the only way they arrive.
	 */
	stop_signals(&mask);
	if (sigprocmask(SIG_BLOCK, &mask, &c->old_mask) < 0) {
		r = -errno;
		free(c);
		return r;
	}
	if (o->session)
		snprintf(c->session, sizeof(c->session), "%s", o->session);
	else
		reel_coord_session_from_path(o->video, c->session, sizeof(c->session));
	r = reel_session_name_check(o->session ? o->session : c->session);
	if (r < 0)
		goto out_free;
	if (o->session && strlen(o->session) >= sizeof(c->session)) {
		r = REEL_E_SESSION;
		goto out_free;
	}

	r = reel_media_open(o->video, &c->media);
	if (r < 0)
		goto out_free;
	if (o->buffer_path) {
		if (strlen(o->buffer_path) >= sizeof(c->buffer_path)) {
			r = -ENAMETOOLONG;
			goto out_media;
		}
		snprintf(c->buffer_path, sizeof(c->buffer_path), "%s", o->buffer_path);
	} else {
		r = reel_coord_default_buffer_dir(dir, sizeof(dir));
		if (r < 0)
			goto out_media;
		if ((size_t)snprintf(c->buffer_path, sizeof(c->buffer_path), "%s/%s.reel", dir,
		                     c->session) >= sizeof(c->buffer_path)) {
			r = -ENAMETOOLONG;
			goto out_media;
		}
	}

	r = reclaim_session(c->session);
	if (r < 0)
		goto out_media;
	r = publish(c, o->video);
	if (r < 0)
		goto out_media;

	fresh = access(c->buffer_path, F_OK) != 0;
	r = open_buffer(c, o);
	if (r < 0)
		goto out_session;
	/* One coordinator per buffer file, whatever the session names say. */
	if (flock(reel_buffer_fd(c->buffer), LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? REEL_E_LIVE : -errno;
		goto out_buffer;
	}
	c->info = reel_buffer_info(c->buffer);
	reel_buffer_claim(c->buffer, (uint32_t)getpid());

	r = create_queues(c);
	if (r < 0)
		goto out_buffer;
	r = sched_new(CHUNK_FRAMES, &c->sched);
	if (r < 0)
		goto out_buffer;
	r = setup_events(c);
	if (r < 0)
		goto out_buffer;
	r = materialiser_start(c->buffer, c->media, c->evfd, &c->mat);
	if (r < 0)
		goto out_buffer;
	*ret_coord = c;
	return 0;

out_buffer:
	teardown(c, fresh);
	return r;
out_session:
	reel_session_remove(c->session);
out_media:
	reel_media_close(c->media);
out_free:
	sigprocmask(SIG_SETMASK, &c->old_mask, NULL);
	free(c);
	return r;
}

/* ------------------------------------------------------------- teardown */

static void forget_served(struct reel_coord *c, bool all)
{
	char name[REEL_QUEUE_NAME_MAX];
	size_t keep = 0;

	for (size_t i = 0; i < c->nserved; i++) {
		bool dead = kill(c->served[i].pid, 0) < 0 && errno == ESRCH;
		if (all || dead) {
			/* A client that was killed cannot remove its reply queue itself. */
			if (dead && reel_reply_queue_name(name, sizeof(name), c->session, c->served[i].pid,
			                                  c->served[i].tag) == 0)
				mq_unlink(name);
			continue;
		}
		c->served[keep++] = c->served[i];
	}
	c->nserved = keep;
}

static void teardown(struct reel_coord *c, bool remove_buffer)
{
	char name[REEL_QUEUE_NAME_MAX];

	materialiser_stop(c->mat);
	for (size_t i = 0; i < c->nstages; i++)
		close(c->stages[i].pidfd);
	for (unsigned role = 0; role < REEL_ROLE_CLIENT; role++) {
		reel_queue_close(c->queues[role]);
		if (c->queue_created[role] && reel_queue_name(name, sizeof(name), c->session, role) == 0)
			mq_unlink(name);
	}
	forget_served(c, true);
	if (c->buffer) {
		if (!remove_buffer)
			reel_buffer_claim(c->buffer, 0);
		reel_buffer_close(c->buffer);
		if (remove_buffer)
			unlink(c->buffer_path);
	}
	reel_media_close(c->media);
	/* Last: once the session file is gone, `reel stop` reports the session stopped. */
	if (c->published)
		reel_session_remove(c->session);
	sched_free(c->sched);
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->evfd >= 0)
		close(c->evfd);
	if (c->sigfd >= 0)
		close(c->sigfd);
	sigprocmask(SIG_SETMASK, &c->old_mask, NULL);
	free(c->waiting);
	free(c->outbox);
	free(c);
}

void reel_coord_close(struct reel_coord *coord)
{
	if (coord)
		teardown(coord, false);
}

const char *reel_coord_session(const struct reel_coord *coord)
{
	return coord->session;
}

const char *reel_coord_buffer_path(const struct reel_coord *coord)
{
	return coord->buffer_path;
}

const struct reel_buffer_info *reel_coord_info(const struct reel_coord *coord)
{
	return coord->info;
}

int reel_coord_resumed(const struct reel_coord *coord)
{
	return coord->resumed;
}

/* --------------------------------------------------------------- replies */

static int push_outbox(struct reel_coord *c, const struct outgoing *o)
{
	if (c->noutbox == MAX_OUTBOX)
		return -ENOBUFS;
	if (!c->outbox) {
		c->outbox = malloc(MAX_OUTBOX * sizeof(*c->outbox));
		if (!c->outbox)
			return -ENOMEM;
	}
	c->outbox[c->noutbox++] = *o;
	return 0;
}

static void remember_served(struct reel_coord *c, pid_t pid, uint32_t tag)
{
	for (size_t i = 0; i < c->nserved; i++)
		if (c->served[i].pid == pid && c->served[i].tag == tag)
			return;
	if (c->nserved == MAX_SERVED)
		forget_served(c, false);
	if (c->nserved < MAX_SERVED) {
		c->served[c->nserved].pid = pid;
		c->served[c->nserved].tag = tag;
		c->nserved++;
	}
}

/* 0 sent (or the client is gone: nothing to keep), -EAGAIN queue full. */
static int try_reply(struct reel_coord *c, pid_t pid, uint32_t tag, const struct reel_msg *msg,
                     unsigned prio)
{
	char name[REEL_QUEUE_NAME_MAX];
	mqd_t q;
	int r;

	r = reel_reply_queue_name(name, sizeof(name), c->session, pid, tag);
	if (r < 0)
		return 0;
	r = reel_queue_open(name, REEL_QUEUE_NONBLOCK, &q);
	if (r < 0) {
		reel_log(REEL_LOG_DEBUG, "coord", "reply to pid %ld dropped: %s", (long)pid,
		         reel_strerror(r));
		return 0;
	}
	remember_served(c, pid, tag);
	r = reel_queue_send(q, msg, prio, 0);
	reel_queue_close(q);
	return r == -EAGAIN ? -EAGAIN : 0;
}

static void reply(struct reel_coord *c, const struct reel_msg *req, struct reel_msg *msg)
{
	struct outgoing o;

	msg->id = req->id;
	msg->sender_pid = (uint32_t)getpid();
	msg->role = REEL_ROLE_COORD;
	msg->priority = req->priority;
	if (try_reply(c, (pid_t)req->sender_pid, req->flags, msg, req->priority) != -EAGAIN)
		return;
	o.pid = (pid_t)req->sender_pid;
	o.tag = req->flags;
	o.role = REEL_ROLE_CLIENT;
	o.prio = req->priority;
	o.msg = *msg;
	if (push_outbox(c, &o) < 0)
		reel_log(REEL_LOG_WARN, "coord", "outbox full, reply to pid %ld lost", (long)o.pid);
}

static void reply_result(struct reel_coord *c, const struct reel_msg *req, int32_t result,
                         uint64_t seq, uint32_t slot)
{
	struct reel_msg m;

	reel_msg_init(&m, REEL_MSG_REPLY);
	m.result = result > 0 ? 0 : result;
	m.seq = seq;
	m.slot = slot;
	m.first = req->first < 0 ? 0 : req->first;
	m.last = req->last < m.first ? m.first : req->last;
	reply(c, req, &m);
}

static void flush_outbox(struct reel_coord *c)
{
	size_t keep = 0;

	for (size_t i = 0; i < c->noutbox; i++) {
		struct outgoing *o = &c->outbox[i];
		int r;
		if (o->pid)
			r = try_reply(c, o->pid, o->tag, &o->msg, o->prio);
		else
			r = c->queue_blocked[o->role] ? -EAGAIN
			                              : reel_queue_send(c->queues[o->role], &o->msg, o->prio, 0);
		if (r == -EAGAIN)
			c->outbox[keep++] = *o;
	}
	c->noutbox = keep;
}

/* -------------------------------------------------------------- dispatch */

static void watch_writable(struct reel_coord *c, unsigned role, bool on)
{
	struct epoll_event ev = { .events = EPOLLOUT,
	                          .data.u64 = ((uint64_t)TAG_STAGE_QUEUE << 32) | role };

	if (c->queue_blocked[role] == on)
		return;
	c->queue_blocked[role] = on;
	epoll_ctl(c->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, (int)c->queues[role], &ev);
}

static void dispatch(struct reel_coord *c)
{
	static const unsigned roles[] = { REEL_ROLE_EDITOR, REEL_ROLE_EFFECT, REEL_ROLE_AUDIO };

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		unsigned role = roles[i];
		struct sched_chunk k;

		while (!c->queue_blocked[role] && sched_take(c->sched, role, now_ms(), &k) == 1) {
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
			memcpy(m.params, k.params, sizeof(m.params));
			m.priority = REEL_PRIO_BATCH;
			r = reel_queue_send(c->queues[role], &m, REEL_PRIO_BATCH, 0);
			if (r == 0)
				continue;
			sched_untake(c->sched, k.seq, k.first, k.epoch);
			if (r == -EAGAIN)
				watch_writable(c, role, true);
			else
				reel_log(REEL_LOG_ERROR, "coord", "dispatch to %s failed: %s",
				         reel_role_name(role), reel_strerror(r));
			break;
		}
	}
}

/* --------------------------------------------------------------- stages */

static struct stage *find_stage(struct reel_coord *c, pid_t pid)
{
	for (size_t i = 0; i < c->nstages; i++)
		if (c->stages[i].pid == pid)
			return &c->stages[i];
	return NULL;
}

static void drop_stage(struct reel_coord *c, pid_t pid, const char *why)
{
	struct stage *s = find_stage(c, pid);
	int n;

	if (!s)
		return;
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, s->pidfd, NULL);
	close(s->pidfd);
	n = sched_requeue_owner(c->sched, pid);
	reel_log(REEL_LOG_INFO, "coord", "%s stage %ld %s; %d work items dispatched again",
	         reel_role_name(s->role), (long)pid, why, n > 0 ? n : 0);
	*s = c->stages[--c->nstages];
	for (size_t i = 0; i < c->nstages; i++) {
		struct epoll_event ev = { .events = EPOLLIN,
		                          .data.u64 = ((uint64_t)TAG_PIDFD << 32) | i };
		epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->stages[i].pidfd, &ev);
	}
	dispatch(c);
}

static int add_stage(struct reel_coord *c, pid_t pid, uint32_t role)
{
	int fd, r;

	if (find_stage(c, pid))
		return 0;
	if (c->nstages == MAX_STAGES)
		return -EUSERS;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
	r = epoll_add(c->epfd, fd, EPOLLIN, TAG_PIDFD, (uint32_t)c->nstages);
	if (r < 0) {
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

/* ------------------------------------------------------------- requests */

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

static void handle_need(struct reel_coord *c, const struct reel_msg *req)
{
	uint64_t first = (uint64_t)req->first, last = (uint64_t)req->last;
	struct pending_reply *w;
	struct mat_done done;
	int r;

	if (last >= c->info->frame_count) {
		reply_result(c, req, REEL_E_RANGE, 0, 0);
		return;
	}
	/* A range larger than the cache could not stay resident: serve what fits. */
	if (last - first >= c->info->slot_count)
		last = first + c->info->slot_count - 1;
	r = materialiser_lookup(c->mat, first, last, &done);
	if (r == 1) {
		reply_result(c, req, done.result, 0, done.slot);
		return;
	}
	if (c->nwaiting == c->waitcap) {
		size_t cap = c->waitcap ? c->waitcap * 2 : 32;
		struct pending_reply *v = realloc(c->waiting, cap * sizeof(*v));
		if (!v) {
			reply_result(c, req, -ENOMEM, 0, 0);
			return;
		}
		c->waiting = v;
		c->waitcap = cap;
	}
	w = &c->waiting[c->nwaiting];
	w->token = ++c->next_token;
	w->pid = (pid_t)req->sender_pid;
	w->tag = req->flags;
	w->id = req->id;
	r = materialiser_request(c->mat, first, last, req->priority, w->token);
	if (r < 0) {
		reply_result(c, req, r, 0, 0);
		return;
	}
	c->nwaiting++;
}

static void finish_needs(struct reel_coord *c)
{
	struct mat_done d;
	uint64_t count;

	if (read(c->evfd, &count, sizeof(count)) < 0) {
		/* Nothing to read is fine: results are polled below anyway. */
	}
	while (materialiser_poll(c->mat, &d) == 1) {
		for (size_t i = 0; i < c->nwaiting; i++) {
			struct pending_reply *w = &c->waiting[i];
			struct reel_msg req;
			if (w->token != d.token)
				continue;
			reel_msg_init(&req, REEL_MSG_NEED);
			req.id = w->id;
			req.sender_pid = (uint32_t)w->pid;
			req.flags = w->tag;
			req.priority = REEL_PRIO_INTERACTIVE;
			reply_result(c, &req, d.result, 0, d.slot);
			c->waiting[i] = c->waiting[--c->nwaiting];
			break;
		}
	}
}

static void handle_command(struct reel_coord *c, const struct reel_msg *req)
{
	const struct reel_op_desc *op = reel_op_get(req->op);
	struct reel_journal_entry e;
	uint64_t seq;
	int r;

	if (req->op == REEL_OP_UNDO || req->op == REEL_OP_REDO) {
		/* Undo rebuilds frames from source + journal, which needs the stages' ops. */
		reply_result(c, req, -ENOTSUP, 0, 0);
		return;
	}
	if ((uint64_t)req->last >= c->info->frame_count) {
		reply_result(c, req, REEL_E_RANGE, 0, 0);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.op = req->op;
	e.first = req->first;
	e.last = req->last;
	memcpy(e.params, req->params, sizeof(e.params));
	r = reel_journal_append(c->buffer, &e, &seq);
	if (r < 0) {
		reply_result(c, req, r, 0, 0);
		return;
	}
	e.seq = seq;
	r = sched_add(c->sched, &e, op->role);
	if (r < 0)
		reel_log(REEL_LOG_ERROR, "coord", "command %" PRIu64 " not scheduled: %s", seq,
		         reel_strerror(r));
	/* Acknowledged only now: the entry is durable in the journal. */
	reply_result(c, req, 0, seq, 0);
	dispatch(c);
}

static void handle_done(struct reel_coord *c, const struct reel_msg *m)
{
	int r = sched_done(c->sched, m->seq, m->first, m->epoch);

	if (r == 1)
		reel_journal_set_state(c->buffer, m->seq, REEL_JOURNAL_APPLIED);
	else if (r < 0)
		reel_log(REEL_LOG_DEBUG, "coord", "late or unknown done for %" PRIu64 " ignored", m->seq);
	dispatch(c);
}

static void handle(struct reel_coord *c, const struct reel_msg *m)
{
	struct reel_msg out;

	switch (m->kind) {
	case REEL_MSG_NEED:
		handle_need(c, m);
		break;
	case REEL_MSG_STATUS:
		reel_msg_init(&out, REEL_MSG_STATUS_REPLY);
		fill_status(c, &out);
		reply(c, m, &out);
		break;
	case REEL_MSG_STOP:
		reply_result(c, m, 0, 0, 0);
		c->stopping = true;
		break;
	case REEL_MSG_COMMAND:
		handle_command(c, m);
		break;
	case REEL_MSG_HELLO:
		reply_result(c, m, add_stage(c, (pid_t)m->sender_pid, m->role), 0, 0);
		break;
	case REEL_MSG_BYE:
		drop_stage(c, (pid_t)m->sender_pid, "left");
		break;
	case REEL_MSG_CLAIM:
		if (sched_claim(c->sched, m->seq, m->first, m->epoch, (pid_t)m->sender_pid, now_ms()) < 0)
			reel_log(REEL_LOG_DEBUG, "coord", "stale claim for %" PRIu64 " ignored", m->seq);
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

static void drain_coord_queue(struct reel_coord *c)
{
	/* Bounded, so that signals and finished decodes are looked at in between. */
	for (int i = 0; i < 256 && !c->stopping; i++) {
		struct reel_msg m;
		int r = reel_queue_recv(c->queues[REEL_ROLE_COORD], &m, NULL, 0);
		if (r == -EAGAIN)
			return;
		if (r == REEL_E_BADMSG) {
			c->malformed++;
			reel_log(REEL_LOG_WARN, "coord", "malformed message dropped (%" PRIu64 " so far)",
			         c->malformed);
			continue;
		}
		if (r < 0) {
			reel_log(REEL_LOG_ERROR, "coord", "receive failed: %s", reel_strerror(r));
			return;
		}
		handle(c, &m);
	}
}

static void tick(struct reel_coord *c)
{
	double now = now_ms();
	bool queues_empty = true;
	int n;

	for (unsigned role = REEL_ROLE_EDITOR; role <= REEL_ROLE_AUDIO; role++)
		if (reel_queue_depth(c->queues[role]) > 0)
			queues_empty = false;
	/* Unclaimed work is presumed lost only when nothing waits in the queues any more. */
	n = sched_requeue_stale(c->sched, now - CLAIM_DEADLINE_MS,
	                        queues_empty ? now - UNCLAIMED_DEADLINE_MS : -1e300);
	if (n > 0) {
		reel_log(REEL_LOG_WARN, "coord", "%d work items past their deadline dispatched again", n);
		dispatch(c);
	}
	forget_served(c, false);
}

int reel_coord_run(struct reel_coord *c)
{
	double next_tick = now_ms() + 1000;

	while (!c->stopping) {
		struct epoll_event ev[16];
		int timeout = c->noutbox ? 5 : 250;
		int n = epoll_wait(c->epfd, ev, 16, timeout);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			uint32_t tag = (uint32_t)(ev[i].data.u64 >> 32);
			uint32_t index = (uint32_t)ev[i].data.u64;
			struct signalfd_siginfo si;

			switch (tag) {
			case TAG_COORD:
				drain_coord_queue(c);
				break;
			case TAG_SIGNAL:
				if (read(c->sigfd, &si, sizeof(si)) == sizeof(si))
					c->stopping = true;
				break;
			case TAG_MATERIALISER:
				finish_needs(c);
				break;
			case TAG_STAGE_QUEUE:
				watch_writable(c, index, false);
				flush_outbox(c);
				dispatch(c);
				break;
			case TAG_PIDFD:
				if (index < c->nstages)
					drop_stage(c, c->stages[index].pid, "died");
				break;
			}
		}
		if (c->noutbox)
			flush_outbox(c);
		if (now_ms() >= next_tick) {
			tick(c);
			next_tick = now_ms() + 1000;
		}
	}
	/* Answer what can be answered before the queues go away. */
	flush_outbox(c);
	return 0;
}
