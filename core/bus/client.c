/*
 * reel_client: a connection to a session's coordinator (see reel/client.h).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/clock.h"
#include "buffer/buffer.h"
#include "buffer/slot.h"
#include "bus/bus.h"
#include "bus/session.h"
#include "reel/client.h"
#include "reel/error.h"

struct reel_client {
	struct reel_session_record record;
	struct reel_buffer *buffer;       /* mapped read-only when frames are read */
	uint32_t last_slot;               /* where the last frame read was: often the next is there too */
	mqd_t coord;
	mqd_t reply;
	int coord_pidfd;                  /* the coordinator's process; -1 when the kernel has no pidfd */
	uint32_t tag;
	uint64_t next_id;
	bool reply_named;                 /* reply_name still names the reply queue */
	char reply_name[REEL_QUEUE_NAME_MAX];
};

int reel_client_connect(const char *session, struct reel_client **ret_client)
{
	struct reel_client *c;
	char name[REEL_QUEUE_NAME_MAX];
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->coord = c->reply = (mqd_t)-1;
	c->coord_pidfd = -1;
	r = reel_session_read(session, &c->record);
	if (r < 0)
		goto out_free;
	/*
	 * Every wait for a reply also watches the coordinator, so that one that
	 * died is reported at once instead of at the timeout.  The pidfd is
	 * taken first and the record checked after: then it is the recorded
	 * process's, not a recycled pid's.
	 */
	c->coord_pidfd = (int)syscall(SYS_pidfd_open, c->record.pid, 0);
	if (c->coord_pidfd < 0 && errno != ENOSYS) {
		r = REEL_E_NOSESSION;
		goto out_free;
	}
	if (!reel_session_alive(&c->record)) {
		r = REEL_E_NOSESSION;
		goto out_free;
	}
	r = reel_queue_name_of(name, sizeof(name), &c->record, REEL_ROLE_COORD);
	if (r < 0)
		goto out_free;
	r = reel_queue_open(name, 0, &c->coord);
	if (r < 0) {
		r = r == -ENOENT ? REEL_E_NOSESSION : r;
		goto out_free;
	}
	c->next_id = 1;
	/*
	 * A random tag: the name cannot be guessed and taken first, and one taken
	 * all the same (EEXIST) makes us choose again.
	 */
	for (int attempt = 0; attempt < 8; attempt++) {
		uint64_t v;

		r = reel_random_u64(&v);
		if (r < 0)
			goto out_close;
		c->tag = (uint32_t)v | 1u;
		r = reel_reply_queue_name_of(c->reply_name, sizeof(c->reply_name), &c->record, getpid(),
		                             c->tag);
		if (r == 0)
			r = reel_queue_create(c->reply_name, 0, &c->reply);
		if (r != -EEXIST)
			break;
	}
	if (r < 0)
		goto out_close;
	c->reply_named = true;
	*ret_client = c;
	return 0;

out_close:
	reel_queue_close(c->coord);
out_free:
	if (c->coord_pidfd >= 0)
		close(c->coord_pidfd);
	free(c);
	return r;
}

void reel_client_close(struct reel_client *client)
{
	if (!client)
		return;
	reel_buffer_close(client->buffer);
	if (client->coord_pidfd >= 0)
		close(client->coord_pidfd);
	reel_queue_close(client->coord);
	if (client->reply != (mqd_t)-1) {
		reel_queue_close(client->reply);
		if (client->reply_named)
			mq_unlink(client->reply_name);
	}
	free(client);
}

const struct reel_session_record *reel_client_record(const struct reel_client *client)
{
	return &client->record;
}

/*
 * The coordinator has answered once, so it holds the reply queue open: the
 * name is no longer needed, and without it the kernel frees the queue when
 * both of us have closed it, even if both are killed.
 */
static void acknowledged(struct reel_client *client)
{
	if (client->reply_named) {
		mq_unlink(client->reply_name);
		client->reply_named = false;
	}
}

/*
 * Wait until fd (a queue: mq descriptors are pollable on Linux) is ready
 * for events, at most left ms (-1: no limit), watching the coordinator: 1
 * ready, 0 not yet (time up or a signal), REEL_E_COORDGONE when its process
 * has ended.
 */
static int wait_ready(const struct reel_client *client, int fd, short events, int left)
{
	struct pollfd p[2] = { { .fd = fd, .events = events },
	                       { .fd = client->coord_pidfd, .events = POLLIN } };
	nfds_t n = client->coord_pidfd >= 0 ? 2 : 1;

	if (poll(p, n, left) < 0)
		return errno == EINTR ? 0 : -errno;
	if (p[0].revents)
		return 1;
	return n == 2 && p[1].revents ? REEL_E_COORDGONE : 0;
}

/* How long a waiting client blocks on its reply queue before it looks at the coordinator's pidfd. */
#define REPLY_SLICE_MS 20
/*
 * How long it looks for the reply before it sleeps: a quick request (STATUS,
 * NEED of a resident frame) is answered within this, and a sleeping thread
 * pays a wake-up of its CPU on top (see the coordinator's SPIN_AFTER_REQUEST_MS).
 */
#define SPIN_FOR_REPLY_MS 0.05

static bool coordinator_gone(const struct reel_client *client)
{
	struct pollfd p = { .fd = client->coord_pidfd, .events = POLLIN };

	return client->coord_pidfd >= 0 && poll(&p, 1, 0) > 0 && p.revents;
}

/* Milliseconds left before deadline; -1 without a timeout. */
static int left_ms(int timeout_ms, double deadline)
{
	double left;

	if (timeout_ms < 0)
		return -1;
	left = deadline - reel__now_ms();
	return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left + 1;
}

int reel_client_call(struct reel_client *client, struct reel_msg *request, unsigned prio,
                     int timeout_ms, struct reel_msg *ret_reply)
{
	double deadline = reel__now_ms() + timeout_ms;
	struct reel_msg reply;
	bool gone = false;
	int r, w;

	request->sender_pid = (uint32_t)getpid();
	/* A stage says which role it plays; everyone else is a client. */
	if (request->role == REEL_ROLE_COORD)
		request->role = REEL_ROLE_CLIENT;
	request->flags = client->tag;
	request->id = client->next_id++;
	request->priority = prio;
	/* A full queue of a coordinator that died would hold the send until the timeout. */
	while ((r = reel_queue_send(client->coord, request, prio, 0)) == -EAGAIN) {
		int left = left_ms(timeout_ms, deadline);
		if (left == 0)
			return -ETIMEDOUT;
		w = wait_ready(client, (int)client->coord, POLLOUT, left);
		if (w < 0)
			return w;
	}
	if (r < 0)
		return r;
	/* The reply of a quick request comes within microseconds: looked for awake first. */
	for (double spin_until = reel__now_ms() + SPIN_FOR_REPLY_MS; reel__now_ms() < spin_until;) {
		r = reel_queue_recv(client->reply, &reply, NULL, 0);
		if (r == -EAGAIN)
			continue;
		if (r == 0 && reply.id == request->id &&
		    (reply.kind == REEL_MSG_REPLY || reply.kind == REEL_MSG_STATUS_REPLY)) {
			acknowledged(client);
			if (ret_reply)
				*ret_reply = reply;
			return reply.result;
		}
		/* Anything else (a stale reply, a malformed message) is dropped as the loop below would. */
	}
	for (;;) {
		int left = left_ms(timeout_ms, deadline);

		/*
		 * A blocking receive, in slices: the reply wakes us straight from
		 * the queue (no poll, no empty receive first: the round trip costs
		 * what a raw ping-pong does), and between slices the pidfd says
		 * whether the coordinator is still there to answer.
		 */
		if (gone || left == 0)
			r = reel_queue_recv(client->reply, &reply, NULL, 0);
		else
			r = reel_queue_recv(client->reply, &reply, NULL,
			                    left < 0 || left > REPLY_SLICE_MS ? REPLY_SLICE_MS : left);
		if (r == -EAGAIN || r == -ETIMEDOUT) {
			/* Replies sent before the coordinator left were all taken: nothing more comes. */
			if (gone)
				return REEL_E_COORDGONE;
			if (left_ms(timeout_ms, deadline) == 0)
				return -ETIMEDOUT;
			if (coordinator_gone(client))
				gone = true;
			continue;
		}
		if (r == REEL_E_BADMSG)
			continue;
		if (r < 0)
			return r;
		if (reply.id != request->id ||
		    (reply.kind != REEL_MSG_REPLY && reply.kind != REEL_MSG_STATUS_REPLY))
			continue;
		acknowledged(client);
		if (ret_reply)
			*ret_reply = reply;
		return reply.result;
	}
}

static int need(struct reel_client *client, uint64_t first, uint64_t last, unsigned prio,
                int timeout_ms, bool settled, uint32_t *ret_slot)
{
	struct reel_msg req, reply;
	int r;

	if (first > INT64_MAX || last > INT64_MAX || last < first)
		return REEL_E_RANGE;
	reel_msg_init(&req, REEL_MSG_NEED);
	req.first = (int64_t)first;
	req.last = (int64_t)last;
	req.seq = settled ? 1 : 0;
	r = reel_client_call(client, &req, prio, timeout_ms, &reply);
	if (r == 0 && ret_slot)
		*ret_slot = reply.slot;
	return r;
}

int reel_client_need(struct reel_client *client, uint64_t first, uint64_t last, unsigned prio,
                     int timeout_ms, uint32_t *ret_slot)
{
	return need(client, first, last, prio, timeout_ms, false, ret_slot);
}

int reel_client_need_settled(struct reel_client *client, uint64_t first, uint64_t last,
                             unsigned prio, int timeout_ms, uint32_t *ret_slot)
{
	return need(client, first, last, prio, timeout_ms, true, ret_slot);
}

uint64_t reel_client_new_key(void)
{
	uint64_t key;

	/* No key (0) only when the kernel has no randomness to give: the command goes unprotected. */
	return reel_random_u64(&key) == 0 ? key : 0;
}

int reel_client_command_keyed(struct reel_client *client, uint64_t key, uint32_t op,
                              const double params[4], int64_t first, int64_t last, int timeout_ms,
                              uint64_t *ret_seq)
{
	struct reel_msg req, reply;
	int r;

	reel_msg_init(&req, REEL_MSG_COMMAND);
	req.op = op;
	req.first = first;
	req.last = last;
	req.stat[REEL_COMMAND_KEY] = key;
	memcpy(req.params, params, sizeof(req.params));
	r = reel_client_call(client, &req, REEL_PRIO_INTERACTIVE, timeout_ms, &reply);
	if (r == 0 && ret_seq)
		*ret_seq = reply.seq;
	return r;
}

int reel_client_command(struct reel_client *client, uint32_t op, const double params[4],
                        int64_t first, int64_t last, int timeout_ms, uint64_t *ret_seq)
{
	return reel_client_command_keyed(client, reel_client_new_key(), op, params, first, last,
	                                 timeout_ms, ret_seq);
}

static int control(struct reel_client *client, uint32_t op, int timeout_ms, uint64_t *ret_seq,
                   uint64_t *ret_target)
{
	struct reel_msg req, reply;
	int r;

	reel_msg_init(&req, REEL_MSG_COMMAND);
	req.op = op;
	req.stat[REEL_COMMAND_KEY] = reel_client_new_key();
	r = reel_client_call(client, &req, REEL_PRIO_INTERACTIVE, timeout_ms, &reply);
	if (r == 0 && ret_seq)
		*ret_seq = reply.seq;
	if (r == 0 && ret_target)
		*ret_target = reply.stat[REEL_REPLY_TARGET];
	return r;
}

int reel_client_undo(struct reel_client *client, int timeout_ms, uint64_t *ret_seq,
                     uint64_t *ret_target)
{
	return control(client, REEL_OP_UNDO, timeout_ms, ret_seq, ret_target);
}

int reel_client_redo(struct reel_client *client, int timeout_ms, uint64_t *ret_seq,
                     uint64_t *ret_target)
{
	return control(client, REEL_OP_REDO, timeout_ms, ret_seq, ret_target);
}

int reel_client_status(struct reel_client *client, int timeout_ms, struct reel_status *ret_status)
{
	struct reel_msg req, rep;
	int r;

	reel_msg_init(&req, REEL_MSG_STATUS);
	r = reel_client_call(client, &req, REEL_PRIO_INTERACTIVE, timeout_ms, &rep);
	if (r < 0)
		return r;
	memset(ret_status, 0, sizeof(*ret_status));
	ret_status->frames = rep.stat[REEL_STAT_FRAMES];
	ret_status->resident = rep.stat[REEL_STAT_RESIDENT];
	ret_status->errors = rep.stat[REEL_STAT_ERRORS];
	ret_status->decoded = rep.stat[REEL_STAT_DECODED];
	ret_status->journal = rep.stat[REEL_STAT_JOURNAL];
	ret_status->pending = rep.stat[REEL_STAT_PENDING];
	ret_status->inflight = rep.stat[REEL_STAT_INFLIGHT];
	ret_status->stages = rep.stat[REEL_STAT_STAGES];
	ret_status->malformed = rep.stat[REEL_STAT_MALFORMED];
	ret_status->generation = rep.stat[REEL_STAT_GENERATION];
	ret_status->failed = rep.stat[REEL_STAT_FAILED];
	ret_status->journal_error = (int32_t)rep.first;
	for (int i = 0; i < 5; i++)
		ret_status->queue_depth[i] = rep.stat[REEL_STAT_Q_COORD + i];
	return 0;
}

int reel_client_stop(struct reel_client *client, int timeout_ms)
{
	struct reel_msg req;

	reel_msg_init(&req, REEL_MSG_STOP);
	return reel_client_call(client, &req, REEL_PRIO_CONTROL, timeout_ms, NULL);
}

/* ---------------------------------------------------------------- frames */

int reel_frame_alloc(const struct reel_video_info *in, struct reel_frame *f)
{
	size_t w[3], h[3], size = 0;
	uint8_t *p;

	memset(f, 0, sizeof(*f));
	if (!in || in->width == 0 || in->height == 0 || in->width > REEL_MAX_DIMENSION ||
	    in->height > REEL_MAX_DIMENSION || in->channels > REEL_MAX_CHANNELS)
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		w[i] = i ? (in->width + 1) / 2 : in->width;
		h[i] = i ? (in->height + 1) / 2 : in->height;
		size += w[i] * h[i];
	}
	/* The sound after the planes, float-aligned. */
	size = (size + 63) & ~(size_t)63;
	p = calloc(1, size + (size_t)in->audio_capacity * in->channels * sizeof(float) + 1);
	if (!p)
		return -ENOMEM;
	for (int i = 0; i < 3; i++) {
		f->plane[i] = p;
		f->stride[i] = (uint32_t)w[i];
		f->width[i] = (uint32_t)w[i];
		f->height[i] = (uint32_t)h[i];
		p += w[i] * h[i];
	}
	if (in->channels && in->audio_capacity) {
		f->audio = (float *)(void *)(f->plane[0] + size);
		f->audio_capacity = in->audio_capacity;
		f->channels = in->channels;
	}
	return 0;
}

void reel_frame_free(struct reel_frame *f)
{
	if (!f)
		return;
	free(f->plane[0]);
	memset(f, 0, sizeof(*f));
}

/* The session's buffer, mapped read-only on first use: a reader cannot damage what it reads. */
static int map_buffer(struct reel_client *c)
{
	return c->buffer ? 0 : reel_buffer_open_readonly(c->record.buffer_path, &c->buffer);
}

/*
 * A buffer made before its frames were counted (a container that does not
 * list its samples) gets its count when the coordinator's background scan
 * ends: about a second per hour of video.  A minute without it gives up.
 */
#define COUNT_WAIT_MS 60000

static int wait_counted(struct reel_client *c, uint64_t *ret_frames)
{
	for (int waited = 0;; waited += 5) {
		uint32_t pid;
		int r;

		*ret_frames = reel_buffer_frames(c->buffer);
		if (*ret_frames)
			return 0;
		if ((r = reel_index_failed(c->buffer)) < 0 || (r = reel_buffer_lost(c->buffer)) < 0)
			return r;
		pid = reel_buffer_coordinator_pid(c->buffer);
		if (pid == 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			return REEL_E_NOSESSION;
		if (waited >= COUNT_WAIT_MS)
			return REEL_E_NOTYET;
		usleep(5000);
	}
}

int reel_client_video(struct reel_client *c, struct reel_video_info *ret)
{
	const struct reel_buffer_info *in;
	uint64_t frames = 0;
	int r = map_buffer(c);

	if (r == 0)
		r = wait_counted(c, &frames);
	if (r < 0)
		return r;
	in = reel_buffer_info(c->buffer);
	memset(ret, 0, sizeof(*ret));
	ret->width = in->width;
	ret->height = in->height;
	ret->frame_rate = in->frame_rate;
	ret->time_base = in->time_base;
	ret->frames = frames;
	ret->sample_rate = in->sample_rate;
	ret->channels = in->channels;
	ret->audio_capacity = in->audio_capacity;
	return 0;
}

/* The slot holding frame now, or -1; a hint only: the copy's own checks decide. */
static int64_t slot_of(struct reel_client *c, uint64_t frame)
{
	const struct reel_buffer_info *in = reel_buffer_info(c->buffer);
	struct reel_slot_info si;

	if (in->slot_count >= in->frame_count)
		return (int64_t)frame;
	if (c->last_slot < in->slot_count && reel_slot_get(c->buffer, c->last_slot, &si) == 0 &&
	    si.frame == (int64_t)frame)
		return c->last_slot;
	for (uint32_t s = 0; s < in->slot_count; s++)
		if (reel_slot_get(c->buffer, s, &si) == 0 && si.frame == (int64_t)frame)
			return s;
	return -1;
}

/*
 * Copy slot into dst when it holds frame READY (or ERROR: its reason),
 * under the seqlock.  0 copied, 1 the slot holds something else now,
 * -EAGAIN a writer kept getting in the way (at once, without waiting, when
 * peek), or the frame's error.
 */
static int copy_slot(struct reel_client *c, uint32_t slot, uint64_t frame, struct reel_frame *dst,
                     bool peek, uint64_t *ret_state)
{
	struct reel_slot_info si;
	struct reel_frame src;
	int r = reel_buffer_frame(c->buffer, slot, &src);

	if (r < 0)
		return r;
	for (int attempt = 0; attempt < (peek ? 1 : 200); attempt++) {
		uint32_t v, n;

		/*
		 * A peek never waits for a writer: it takes the version it sees
		 * (an acquire load, as read_begin's) and gives up on an odd one.
		 */
		r = reel_slot_get(c->buffer, slot, &si);
		if (r < 0)
			return r;
		if (peek && si.frame == (int64_t)frame &&
		    (si.state == REEL_SLOT_DECODING || si.state == REEL_SLOT_BUSY || (si.version & 1)))
			return -EAGAIN;
		v = peek ? si.version : reel_slot_read_begin(c->buffer, slot);
		r = reel_slot_get(c->buffer, slot, &si);
		if (r < 0)
			return r;
		if (si.frame != (int64_t)frame || si.state == REEL_SLOT_STALE ||
		    si.state == REEL_SLOT_EMPTY)
			return 1;
		if (si.state == REEL_SLOT_READY) {
			for (int i = 0; i < 3 && dst->plane[0]; i++)
				for (uint32_t y = 0; y < dst->height[i] && y < src.height[i]; y++)
					memcpy(dst->plane[i] + (size_t)y * dst->stride[i],
					       src.plane[i] + (size_t)y * src.stride[i], dst->width[i]);
			n = si.audio_samples < dst->audio_capacity ? si.audio_samples : dst->audio_capacity;
			if (dst->audio && src.audio && dst->channels == src.channels)
				memcpy(dst->audio, src.audio, (size_t)n * dst->channels * sizeof(float));
			dst->audio_samples = dst->audio ? n : 0;
		}
		if (reel_slot_read_validate(c->buffer, slot, v)) {
			if (si.state == REEL_SLOT_ERROR)
				return si.error < 0 ? si.error : REEL_E_DECODE;
			if (si.state == REEL_SLOT_READY) {
				c->last_slot = slot;
				if (ret_state)
					*ret_state = si.journal_seq;
				return 0;
			}
		}
		/* A writer got in between, or the frame is still on its way in: wait a little. */
		if (!peek)
			reel_slot_wait(c->buffer, slot, si.state, 20);
	}
	return -EAGAIN;
}

int reel_client_read_frame(struct reel_client *c, uint64_t frame, unsigned flags, unsigned prio,
                           int timeout_ms, struct reel_frame *dst, uint64_t *ret_state)
{
	const struct reel_buffer_info *in;
	int r = map_buffer(c);

	if (r < 0)
		return r;
	in = reel_buffer_info(c->buffer);
	if (frame >= in->frame_count)
		return REEL_E_RANGE;
	if (!dst || (dst->plane[0] && (dst->width[0] != in->width || dst->height[0] != in->height)) ||
	    (!dst->plane[0] && !dst->audio))
		return -EINVAL;
	if (flags & REEL_READ_PEEK) {
		int64_t slot = slot_of(c, frame);
		if (slot < 0)
			return -EAGAIN;
		r = copy_slot(c, (uint32_t)slot, frame, dst, true, ret_state);
		return reel_buffer_lost(c->buffer) ? reel_buffer_lost(c->buffer) : r == 1 ? -EAGAIN : r;
	}
	/* The slot may go to another frame between the reply and the copy: ask again. */
	for (int attempt = 0; attempt < 10; attempt++) {
		uint32_t slot;

		r = need(c, frame, frame, prio, timeout_ms, (flags & REEL_READ_SETTLED) != 0, &slot);
		if (r < 0)
			return r;
		if (slot >= in->slot_count)
			return REEL_E_SLOT;
		r = copy_slot(c, slot, frame, dst, false, ret_state);
		/* A copy from pages lost under us (base/guard.h) is zeros, not the frame. */
		if (reel_buffer_lost(c->buffer))
			return reel_buffer_lost(c->buffer);
		if (r != 1)
			return r;
	}
	return -EAGAIN;
}

int reel_client_frame_version(struct reel_client *c, uint64_t frame, uint64_t *ret_version,
                              uint64_t *ret_state)
{
	struct reel_slot_info si;
	int64_t slot;
	int r = map_buffer(c);

	if (r < 0)
		return r;
	if (frame >= reel_buffer_info(c->buffer)->frame_count)
		return REEL_E_RANGE;
	slot = slot_of(c, frame);
	if (slot < 0)
		return -EAGAIN;
	r = reel_slot_get(c->buffer, (uint32_t)slot, &si);
	if (r < 0)
		return r;
	if (si.frame != (int64_t)frame || (si.state != REEL_SLOT_READY && si.state != REEL_SLOT_BUSY))
		return -EAGAIN;
	/* The slot is part of it: a frame decoded again elsewhere is another picture. */
	*ret_version = (uint64_t)slot << 32 | si.version;
	if (ret_state)
		*ret_state = si.journal_seq;
	return 0;
}

static uint8_t residence(const struct reel_slot_info *si)
{
	if (si->state == REEL_SLOT_READY || si->state == REEL_SLOT_BUSY)
		return REEL_FRAME_RESIDENT;
	return si->state == REEL_SLOT_ERROR ? REEL_FRAME_FAILED : REEL_FRAME_ABSENT;
}

int reel_client_resident(struct reel_client *c, uint64_t first, uint64_t count, uint8_t *ret_map,
                         uint64_t *ret_resident)
{
	const struct reel_buffer_info *in;
	struct reel_slot_info si;
	uint64_t n = 0;
	bool direct;
	int r = map_buffer(c);

	if (r < 0)
		return r;
	in = reel_buffer_info(c->buffer);
	if (first >= in->frame_count || count > in->frame_count - first)
		return REEL_E_RANGE;
	memset(ret_map, REEL_FRAME_ABSENT, count);
	/* Frame f is in slot f when every frame has one; otherwise each slot says what it holds. */
	direct = in->slot_count >= in->frame_count;
	for (uint64_t i = direct ? first : 0; i < (direct ? first + count : in->slot_count); i++) {
		/* reel_slot_get checks the frame number against the video: damage is never followed. */
		if (reel_slot_get(c->buffer, (uint32_t)i, &si) < 0 || si.frame < (int64_t)first ||
		    si.frame >= (int64_t)(first + count) || (direct && si.frame != (int64_t)i))
			continue;
		ret_map[si.frame - (int64_t)first] = residence(&si);
		n += residence(&si) == REEL_FRAME_RESIDENT;
	}
	if (ret_resident)
		*ret_resident = n;
	return 0;
}
