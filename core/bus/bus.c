/*
 * POSIX message queues for the command bus: names, creation with O_EXCL
 * and mode 0600, and send/receive with the three timeout modes.  Shallow
 * queues (REEL_BUS_DEPTH) are the norm on Linux, so nothing here ever
 * drops a message: a full queue makes the sender wait, or tells a
 * non-blocking sender to come back later.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus.h"
#include "bus/session.h"
#include "reel/error.h"

int reel_random_u64(uint64_t *ret)
{
	uint64_t v = 0;

	do {
		ssize_t n = getrandom(&v, sizeof(v), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(v))
			return n < 0 ? -errno : -EIO;
	} while (v == 0);
	*ret = v;
	return 0;
}

int reel_queue_name_of(char *buf, size_t len, const struct reel_session_record *record,
                       unsigned role)
{
	int r = reel_session_name_check(record->name);
	int n;

	if (r < 0)
		return r;
	if (role >= REEL_ROLE_CLIENT || record->queue_nonce == 0 || record->pid <= 0)
		return -EINVAL;
	n = snprintf(buf, len, "/reel.%u.%s.%016" PRIx64 ".%s.%ld", (unsigned)getuid(), record->name,
	             record->queue_nonce, reel_role_name(role), (long)record->pid);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int reel_reply_queue_name_of(char *buf, size_t len, const struct reel_session_record *record,
                             pid_t pid, uint64_t tag)
{
	int r = reel_session_name_check(record->name);
	int n;

	if (r < 0)
		return r;
	if (pid <= 0 || record->queue_nonce == 0)
		return -EINVAL;
	n = snprintf(buf, len, "/reel.%u.%s.%016" PRIx64 ".r%ld.%" PRIu64, (unsigned)getuid(),
	             record->name, record->queue_nonce, (long)pid, tag);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int reel_queue_name(char *buf, size_t len, const char *session, unsigned role)
{
	struct reel_session_record rec;
	int r = reel_session_read(session, &rec);

	return r < 0 ? r : reel_queue_name_of(buf, len, &rec, role);
}

int reel_reply_queue_name(char *buf, size_t len, const char *session, pid_t pid, uint64_t tag)
{
	struct reel_session_record rec;
	int r = reel_session_read(session, &rec);

	return r < 0 ? r : reel_reply_queue_name_of(buf, len, &rec, pid, tag);
}

int reel_queue_create(const char *name, int flags, mqd_t *ret_queue)
{
	struct mq_attr attr = { .mq_maxmsg = REEL_BUS_DEPTH, .mq_msgsize = REEL_MSG_SIZE };
	int oflag = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC;
	mqd_t q;

	if (flags & REEL_QUEUE_NONBLOCK)
		oflag |= O_NONBLOCK;
	q = mq_open(name, oflag, 0600, &attr);
	if (q == (mqd_t)-1)
		return -errno;
	/*
	 * The umask can only narrow 0600, but a narrower mode would lock our own
	 * processes out: set it exactly (umask() itself is process-wide, and
	 * clients may have threads).
	 */
	if (fchmod((int)q, 0600) < 0) {
		int r = -errno;
		mq_close(q);
		mq_unlink(name);
		return r;
	}
	*ret_queue = q;
	return 0;
}

int reel_queue_open(const char *name, int flags, mqd_t *ret_queue)
{
	int oflag = O_RDWR | O_CLOEXEC;
	struct mq_attr attr;
	struct stat st;
	mqd_t q;

	if (flags & REEL_QUEUE_NONBLOCK)
		oflag |= O_NONBLOCK;
	q = mq_open(name, oflag);
	if (q == (mqd_t)-1)
		return -errno;
	/* On Linux an mqd_t is a file descriptor: fstat tells who made the queue. */
	if (fstat((int)q, &st) < 0 || st.st_uid != getuid() || (st.st_mode & 077) ||
	    mq_getattr(q, &attr) < 0 || attr.mq_msgsize != REEL_MSG_SIZE) {
		mq_close(q);
		return REEL_E_FOREIGNQUEUE;
	}
	*ret_queue = q;
	return 0;
}

void reel_queue_close(mqd_t queue)
{
	if (queue != (mqd_t)-1)
		mq_close(queue);
}

static void deadline_after(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int reel_queue_send(mqd_t queue, const struct reel_msg *msg, unsigned prio_class, int timeout_ms)
{
	char buf[REEL_MSG_SIZE];
	struct timespec ts;
	unsigned prio = reel_prio_mq(prio_class);
	int r;

	if (prio_class >= REEL_PRIO_COUNT)
		return -EINVAL;
	reel_msg_encode(msg, buf, sizeof(buf));
	if (timeout_ms > 0)
		deadline_after(&ts, timeout_ms);
	for (;;) {
		if (timeout_ms > 0)
			r = mq_timedsend(queue, buf, sizeof(buf), prio, &ts);
		else if (timeout_ms == 0) {
			/* A blocking descriptor must not block here: a zero deadline polls. */
			struct timespec now = { 0, 0 };
			r = mq_timedsend(queue, buf, sizeof(buf), prio, &now);
			if (r < 0 && errno == ETIMEDOUT)
				errno = EAGAIN;
		} else
			r = mq_send(queue, buf, sizeof(buf), prio);
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int reel_queue_recv(mqd_t queue, struct reel_msg *ret_msg, unsigned *ret_mq_prio, int timeout_ms)
{
	/*
	 * As large as the largest message Linux allows, so that an oversized one
	 * (in a queue made by hand) is received whole and refused, not truncated.
	 */
	char buf[8192];
	struct timespec ts;
	unsigned prio = 0;
	ssize_t n;

	if (timeout_ms > 0)
		deadline_after(&ts, timeout_ms);
	for (;;) {
		if (timeout_ms > 0)
			n = mq_timedreceive(queue, buf, sizeof(buf), &prio, &ts);
		else if (timeout_ms == 0) {
			struct timespec now = { 0, 0 };
			n = mq_timedreceive(queue, buf, sizeof(buf), &prio, &now);
			if (n < 0 && errno == ETIMEDOUT)
				errno = EAGAIN;
		} else
			n = mq_receive(queue, buf, sizeof(buf), &prio);
		if (n >= 0)
			break;
		if (errno != EINTR)
			return -errno;
	}
	if (reel_msg_decode(buf, (size_t)n, ret_msg) < 0)
		return REEL_E_BADMSG;
	if (ret_mq_prio)
		*ret_mq_prio = prio;
	return 0;
}

long reel_queue_depth(mqd_t queue)
{
	struct mq_attr attr;

	if (mq_getattr(queue, &attr) < 0)
		return -errno;
	return attr.mq_curmsgs;
}
