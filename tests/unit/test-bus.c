/*
 * Tests of the command bus queues (core/bus/bus.c) on real POSIX message
 * queues with real forked senders: names, O_EXCL creation and mode 0600,
 * refusal of queues that are not ours, priority order (also while a
 * producer keeps the queue full), 10,000 messages through a 10-deep queue
 * to a slow consumer, the three timeout modes, and malformed messages.
 *
 * Each test uses its own session name; every queue it makes is unlinked
 * and every child reaped in the teardown, whatever the outcome.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bus/bus.h"
#include "bus/session.h"
#include "reel/error.h"
#include "bus/msg.h"
#include "reel/ops.h"
#include "testutil.h"

#define MAX_QUEUES 8
#define MAX_CHILDREN 8

struct fixture {
	char session[REEL_SESSION_NAME_MAX + 1];
	struct reel_session_record rec;   /* the session's name and queue nonce */
	char names[MAX_QUEUES][REEL_QUEUE_NAME_MAX];
	mqd_t queues[MAX_QUEUES];
	int nqueues;
	pid_t children[MAX_CHILDREN];
	int nchildren;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	tu_session_name(f->session, sizeof(f->session));
	snprintf(f->rec.name, sizeof(f->rec.name), "%s", f->session);
	f->rec.pid = getpid();
	if (reel_random_u64(&f->rec.queue_nonce) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_kill_all(f->children, (size_t)f->nchildren);
	for (int i = 0; i < f->nqueues; i++) {
		reel_queue_close(f->queues[i]);
		mq_unlink(f->names[i]);
	}
	free(f);
	return 0;
}

/* Remember a queue name (and descriptor) for the teardown. */
static mqd_t track(struct fixture *f, const char *name, mqd_t q)
{
	assert_true(f->nqueues < MAX_QUEUES);
	snprintf(f->names[f->nqueues], REEL_QUEUE_NAME_MAX, "%s", name);
	f->queues[f->nqueues++] = q;
	return q;
}

static mqd_t make_queue(struct fixture *f, unsigned role, int flags)
{
	char name[REEL_QUEUE_NAME_MAX];
	mqd_t q;

	assert_int_equal(reel_queue_name_of(name, sizeof(name), &f->rec, role), 0);
	assert_int_equal(reel_queue_create(name, flags, &q), 0);
	return track(f, name, q);
}

static pid_t spawn(struct fixture *f, int (*body)(mqd_t q, long arg), mqd_t q, long arg)
{
	pid_t pid;

	assert_true(f->nchildren < MAX_CHILDREN);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(body(q, arg));
	f->children[f->nchildren++] = pid;
	return pid;
}

/* Wait for a child to exit (bounded) and forget it; returns its exit code, -1 if killed. */
static int reap(struct fixture *f, pid_t pid)
{
	return tu_reap(f->children, (size_t)f->nchildren, pid, 10000);
}

static struct reel_msg command(uint64_t seq, unsigned prio)
{
	struct reel_msg m;

	reel_msg_init(&m, REEL_MSG_COMMAND);
	m.op = REEL_OP_BRIGHTNESS;
	m.params[0] = 0.5;
	m.id = seq;
	m.seq = seq;
	m.first = (int64_t)seq;
	m.last = (int64_t)seq + 1;
	m.priority = prio;
	m.role = REEL_ROLE_CLIENT;
	m.sender_pid = (uint32_t)getpid();
	return m;
}

static void test_bus_queue_names(void **state)
{
	struct fixture *f = *state;
	char name[REEL_QUEUE_NAME_MAX], want[REEL_QUEUE_NAME_MAX], longest[REEL_SESSION_NAME_MAX + 2];
	static const char *const roles[] = { "coord", "editor", "effect", "audio", "preview" };

	for (unsigned role = REEL_ROLE_COORD; role < REEL_ROLE_CLIENT; role++) {
		assert_int_equal(reel_queue_name_of(name, sizeof(name), &f->rec, role), 0);
		snprintf(want, sizeof(want), "/reel.%u.%s.%016" PRIx64 ".%s.%ld", (unsigned)getuid(),
		         f->session, f->rec.queue_nonce, roles[role], (long)getpid());
		assert_string_equal(name, want);
	}
	/* A client has a reply queue, never a role queue. */
	assert_int_equal(reel_queue_name_of(name, sizeof(name), &f->rec, REEL_ROLE_CLIENT), -EINVAL);
	assert_int_equal(reel_queue_name_of(name, sizeof(name), &f->rec, REEL_ROLE_COUNT), -EINVAL);

	assert_int_equal(reel_reply_queue_name_of(name, sizeof(name), &f->rec, 1234, 99), 0);
	snprintf(want, sizeof(want), "/reel.%u.%s.%016" PRIx64 ".r1234.99", (unsigned)getuid(),
	         f->session, f->rec.queue_nonce);
	assert_string_equal(name, want);
	/* Without a nonce there is no name: a record never published has none. */
	{
		struct reel_session_record none = f->rec;
		none.queue_nonce = 0;
		assert_int_equal(reel_queue_name_of(name, sizeof(name), &none, REEL_ROLE_COORD), -EINVAL);
	}
	/* Names are learnt from the session file: there is none for this session. */
	assert_int_equal(reel_queue_name(name, sizeof(name), f->session, REEL_ROLE_COORD),
	                 REEL_E_NOSESSION);
	assert_int_equal(reel_reply_queue_name_of(name, sizeof(name), &f->rec, 0, 1), -EINVAL);
	assert_int_equal(reel_reply_queue_name_of(name, sizeof(name), &f->rec, -5, 1), -EINVAL);

	/* The longest legal name, with the longest role and reply suffix, fits the buffer. */
	memset(longest, 'z', REEL_SESSION_NAME_MAX);
	longest[REEL_SESSION_NAME_MAX] = 0;
	assert_int_equal(reel_session_name_check(longest), 0);
	{
		struct reel_session_record big = f->rec;
		memcpy(big.name, longest, REEL_SESSION_NAME_MAX + 1);
		big.queue_nonce = UINT64_MAX;
		big.pid = 0x7fffffff;
		assert_int_equal(reel_queue_name_of(name, sizeof(name), &big, REEL_ROLE_PREVIEW), 0);
		assert_int_equal(reel_reply_queue_name_of(name, sizeof(name), &big, 0x7fffffff, UINT64_MAX), 0);
	}
	/* A buffer too small is an error, not a truncated name. */
	assert_int_equal(reel_queue_name_of(name, 12, &f->rec, REEL_ROLE_COORD), -ENAMETOOLONG);
	assert_int_equal(reel_reply_queue_name_of(name, 12, &f->rec, 1, 1), -ENAMETOOLONG);

	assert_int_equal(reel_session_name_check("a"), 0);
	assert_int_equal(reel_session_name_check("Take_2-final"), 0);
}

static void test_bus_invalid_session_names(void **state)
{
	static const char *const bad[] = {
		"", "a/b", "/abs", "a.b", ".", "..", "a b", " a", "a\n", "tab\there", "caf\xc3\xa9",
		"\xe2\x80\x8b", "a%b", "a:b", "a*", "-\x01",
	};
	char name[REEL_QUEUE_NAME_MAX], too_long[REEL_SESSION_NAME_MAX + 2];

	(void)state;
	memset(too_long, 'a', REEL_SESSION_NAME_MAX + 1);
	too_long[REEL_SESSION_NAME_MAX + 1] = 0;
	assert_int_equal(reel_session_name_check(too_long), REEL_E_SESSION);
	assert_int_equal(reel_queue_name(name, sizeof(name), too_long, REEL_ROLE_COORD), REEL_E_SESSION);
	{
		struct reel_session_record rec = { .queue_nonce = 1, .pid = 1 };
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(rec.name, sizeof(rec.name), "%.64s", bad[i]);
			assert_int_equal(reel_queue_name_of(name, sizeof(name), &rec, REEL_ROLE_COORD),
			                 REEL_E_SESSION);
		}
	}
	assert_int_equal(reel_session_name_check(NULL), REEL_E_SESSION);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(reel_session_name_check(bad[i]), REEL_E_SESSION);
		assert_int_equal(reel_queue_name(name, sizeof(name), bad[i], REEL_ROLE_COORD), REEL_E_SESSION);
		assert_int_equal(reel_reply_queue_name(name, sizeof(name), bad[i], 1, 1), REEL_E_SESSION);
	}
}

static void test_bus_create_exclusive_0600(void **state)
{
	struct fixture *f = *state;
	char name[REEL_QUEUE_NAME_MAX];
	struct mq_attr attr;
	struct stat st;
	mode_t old;
	mqd_t q, again = (mqd_t)-1, opened;
	int r;

	assert_int_equal(reel_queue_name_of(name, sizeof(name), &f->rec, REEL_ROLE_EFFECT), 0);
	/* A permissive umask must not widen the queue's mode. */
	old = umask(0);
	r = reel_queue_create(name, 0, &q);
	umask(old);
	assert_int_equal(r, 0);
	track(f, name, q);
	assert_int_equal(fstat((int)q, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, getuid());
	assert_int_equal(mq_getattr(q, &attr), 0);
	assert_int_equal(attr.mq_msgsize, REEL_MSG_SIZE);
	assert_int_equal(attr.mq_maxmsg, REEL_BUS_DEPTH);
	assert_int_equal(attr.mq_flags & O_NONBLOCK, 0);

	assert_int_equal(reel_queue_create(name, 0, &again), -EEXIST);
	assert_true(again == (mqd_t)-1);

	assert_int_equal(reel_queue_open(name, REEL_QUEUE_NONBLOCK, &opened), 0);
	assert_int_equal(mq_getattr(opened, &attr), 0);
	assert_true(attr.mq_flags & O_NONBLOCK);
	reel_queue_close(opened);
	reel_queue_close((mqd_t)-1);
}

static void test_bus_open_missing(void **state)
{
	struct fixture *f = *state;
	char name[REEL_QUEUE_NAME_MAX];
	mqd_t q = (mqd_t)-1;

	assert_int_equal(reel_queue_name_of(name, sizeof(name), &f->rec, REEL_ROLE_AUDIO), 0);
	assert_int_equal(reel_queue_open(name, 0, &q), -ENOENT);
	assert_true(q == (mqd_t)-1);
}

/* Make a queue by hand, the way a confused or hostile program could. */
static void hand_made(struct fixture *f, const char *name, mode_t mode, long msgsize)
{
	struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = msgsize };
	mode_t old = umask(0);
	mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, mode, &attr);

	umask(old);
	assert_true(q != (mqd_t)-1);
	track(f, name, q);
}

static void test_bus_open_refuses_other_message_size(void **state)
{
	struct fixture *f = *state;
	char name[REEL_QUEUE_NAME_MAX];
	mqd_t q = (mqd_t)-1;

	assert_int_equal(reel_queue_name_of(name, sizeof(name), &f->rec, REEL_ROLE_EDITOR), 0);
	hand_made(f, name, 0600, REEL_MSG_SIZE / 2);
	assert_int_equal(reel_queue_open(name, 0, &q), REEL_E_FOREIGNQUEUE);
	assert_true(q == (mqd_t)-1);

	assert_int_equal(reel_queue_name_of(name, sizeof(name), &f->rec, REEL_ROLE_AUDIO), 0);
	hand_made(f, name, 0600, REEL_MSG_SIZE + 1);
	assert_int_equal(reel_queue_open(name, 0, &q), REEL_E_FOREIGNQUEUE);
	assert_true(q == (mqd_t)-1);

	/* The same queue made right is accepted: the refusals above are about the size only. */
	assert_int_equal(reel_queue_name_of(name, sizeof(name), &f->rec, REEL_ROLE_PREVIEW), 0);
	hand_made(f, name, 0600, REEL_MSG_SIZE);
	assert_int_equal(reel_queue_open(name, 0, &q), 0);
	reel_queue_close(q);
}

static void test_bus_open_refuses_wide_mode(void **state)
{
	struct fixture *f = *state;
	static const mode_t wide[] = { 0666, 0660, 0604, 0602 };
	static const unsigned roles[] = { REEL_ROLE_COORD, REEL_ROLE_EDITOR, REEL_ROLE_EFFECT,
	                                  REEL_ROLE_AUDIO };
	char name[REEL_QUEUE_NAME_MAX];

	for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++) {
		mqd_t q = (mqd_t)-1;
		struct stat st;

		assert_int_equal(reel_queue_name_of(name, sizeof(name), &f->rec, roles[i]), 0);
		hand_made(f, name, wide[i], REEL_MSG_SIZE);
		/* The mode really is wide (umask 0 above), so the refusal below is for it. */
		assert_int_equal(fstat((int)f->queues[f->nqueues - 1], &st), 0);
		assert_int_equal(st.st_mode & 0777, wide[i]);
		assert_int_equal(reel_queue_open(name, 0, &q), REEL_E_FOREIGNQUEUE);
		assert_true(q == (mqd_t)-1);
	}
}

static void test_bus_priority_order(void **state)
{
	struct fixture *f = *state;
	/* Ten messages (the queue's depth), the four classes interleaved. */
	static const unsigned classes[REEL_BUS_DEPTH] = { 0, 1, 2, 3, 1, 0, 3, 2, 2, 1 };
	mqd_t q = make_queue(f, REEL_ROLE_COORD, 0);
	int last_class = REEL_PRIO_CONTROL + 1;
	uint64_t last_seq = 0;
	struct reel_msg m;

	for (unsigned i = 0; i < REEL_BUS_DEPTH; i++) {
		m = command(i + 1, classes[i]);
		assert_int_equal(reel_queue_send(q, &m, classes[i], 0), 0);
	}
	assert_int_equal(reel_queue_depth(q), REEL_BUS_DEPTH);
	for (unsigned i = 0; i < REEL_BUS_DEPTH; i++) {
		unsigned prio = 999;

		assert_int_equal(reel_queue_recv(q, &m, &prio, 0), 0);
		assert_int_equal(prio, reel_prio_mq(m.priority));
		assert_true(classes[m.seq - 1] == m.priority);
		/* Classes come out highest first; inside a class, first in first out. */
		assert_true((int)m.priority <= last_class);
		if ((int)m.priority == last_class)
			assert_true(m.seq > last_seq);
		last_class = (int)m.priority;
		last_seq = m.seq;
	}
	assert_int_equal(last_class, REEL_PRIO_BACKGROUND);
	assert_int_equal(reel_queue_recv(q, &m, NULL, 0), -EAGAIN);
	/* A class outside the four is refused before anything is sent. */
	m = command(1, 0);
	assert_int_equal(reel_queue_send(q, &m, REEL_PRIO_COUNT, 0), -EINVAL);
	assert_int_equal(reel_queue_depth(q), 0);
}

/*
 * True when pid sleeps inside a message queue send.  Where the kernel hides
 * wchan, any sleep counts, after a grace period for it to reach the call.
 */
static bool blocked_in_send(pid_t pid)
{
	char path[64], text[512];
	ssize_t n;
	char *p;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/wchan", (long)pid);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
		if (n > 0) {
			text[n] = 0;
			/* wq_sleep is where a blocked mq_send (or mq_receive) waits in ipc/mqueue.c. */
			if (strstr(text, "wq_sleep") || strstr(text, "mq_timedsend"))
				return true;
			if (strcmp(text, "0") != 0)
				return false;
		}
	}
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return false;
	text[n] = 0;
	p = strrchr(text, ')');
	if (!p || p[1] != ' ' || p[2] != 'S')
		return false;
	usleep(50000);
	return true;
}

static void wait_until_blocked(pid_t pid)
{
	double deadline = tu_now_ms() + 5000;

	while (!blocked_in_send(pid)) {
		assert_true(tu_now_ms() < deadline);
		usleep(1000);
	}
}

static void wait_until_full(mqd_t q)
{
	double deadline = tu_now_ms() + 5000;

	while (reel_queue_depth(q) < REEL_BUS_DEPTH) {
		assert_true(tu_now_ms() < deadline);
		usleep(1000);
	}
}

#define LOAD_TOTAL 600
#define LOAD_ROUNDS 5

/* Keeps the queue full: LOAD_TOTAL batch messages, blocking sends. */
static int batch_producer(mqd_t q, long total)
{
	for (long i = 1; i <= total; i++) {
		struct reel_msg m = command((uint64_t)i, REEL_PRIO_BATCH);
		if (reel_queue_send(q, &m, REEL_PRIO_BATCH, 20000) < 0)
			return 1;
	}
	return 0;
}

static int control_sender(mqd_t q, long round)
{
	struct reel_msg m;

	reel_msg_init(&m, REEL_MSG_STOP);
	m.priority = REEL_PRIO_CONTROL;
	m.role = REEL_ROLE_CLIENT;
	m.id = 1000000 + (uint64_t)round;
	return reel_queue_send(q, &m, REEL_PRIO_CONTROL, 20000) < 0 ? 1 : 0;
}

/*
 * A producer keeps the 10-deep queue full of batch messages; several times
 * the consumer stops, lets the queue fill and the producer block, and a
 * second process sends one control message, which must block as well
 * since the queue is full.  POSIX wakes the sender that waited longest
 * first: each receive lets one blocked sender in, the producer first, then
 * the control message.  So at most two batch messages come out before the
 * control message; the other eight that were waiting when it was sent
 * come after it.  Without priorities it would come after all ten.
 */
static void test_bus_control_overtakes_full_queue(void **state)
{
	struct fixture *f = *state;
	mqd_t q = make_queue(f, REEL_ROLE_COORD, 0);
	pid_t producer = spawn(f, batch_producer, q, LOAD_TOTAL);
	uint64_t next_batch = 1;
	struct reel_msg m;

	for (long round = 0; round < LOAD_ROUNDS; round++) {
		unsigned before = 0;
		pid_t sender;

		/* Let some traffic flow between rounds. */
		for (int i = 0; i < 37; i++) {
			assert_int_equal(reel_queue_recv(q, &m, NULL, 5000), 0);
			assert_int_equal(m.kind, REEL_MSG_COMMAND);
			assert_int_equal(m.seq, next_batch);
			next_batch++;
		}
		wait_until_full(q);
		wait_until_blocked(producer);
		sender = spawn(f, control_sender, q, round);
		wait_until_blocked(sender);
		assert_int_equal(reel_queue_depth(q), REEL_BUS_DEPTH);
		for (;;) {
			unsigned prio;

			assert_int_equal(reel_queue_recv(q, &m, &prio, 5000), 0);
			if (m.kind == REEL_MSG_STOP) {
				assert_int_equal(m.id, 1000000 + (uint64_t)round);
				assert_int_equal(prio, reel_prio_mq(REEL_PRIO_CONTROL));
				break;
			}
			assert_int_equal(m.seq, next_batch);
			assert_int_equal(prio, reel_prio_mq(REEL_PRIO_BATCH));
			next_batch++;
			before++;
			assert_true(before <= 2);
		}
		assert_int_equal(reap(f, sender), 0);
	}
	/* The rest of the batch work arrives whole and in order. */
	while (next_batch <= LOAD_TOTAL) {
		assert_int_equal(reel_queue_recv(q, &m, NULL, 5000), 0);
		assert_int_equal(m.kind, REEL_MSG_COMMAND);
		assert_int_equal(m.seq, next_batch);
		next_batch++;
	}
	assert_int_equal(reap(f, producer), 0);
	assert_int_equal(reel_queue_recv(q, &m, NULL, 0), -EAGAIN);
}

#define FLOOD 10000

/* The class of message seq: a fixed, irregular mix of the four classes. */
static unsigned flood_class(uint64_t seq)
{
	static const unsigned mix[] = { 1, 1, 0, 2, 1, 3, 0, 1, 2, 1, 0, 1, 1 };
	return mix[seq % (sizeof(mix) / sizeof(mix[0]))];
}

static int flood_sender(mqd_t q, long total)
{
	for (long i = 1; i <= total; i++) {
		struct reel_msg m = command((uint64_t)i, flood_class((uint64_t)i));
		/* Blocking, but bounded: a lost consumer must not leave the sender behind forever. */
		if (reel_queue_send(q, &m, m.priority, 20000) < 0)
			return 1;
	}
	return 0;
}

static void test_bus_ten_thousand_commands_slow_consumer(void **state)
{
	struct fixture *f = *state;
	mqd_t q = make_queue(f, REEL_ROLE_COORD, 0);
	uint64_t last[REEL_PRIO_COUNT] = { 0 };
	unsigned char *seen = calloc(FLOOD + 1, 1);
	unsigned overtakes = 0;
	uint64_t prev = 0;
	pid_t sender;

	assert_non_null(seen);
	sender = spawn(f, flood_sender, q, FLOOD);
	for (unsigned n = 0; n < FLOOD; n++) {
		struct reel_msg m;
		unsigned prio;

		assert_int_equal(reel_queue_recv(q, &m, &prio, 10000), 0);
		assert_int_equal(m.kind, REEL_MSG_COMMAND);
		assert_true(m.seq >= 1 && m.seq <= FLOOD);
		assert_int_equal(seen[m.seq], 0);
		seen[m.seq] = 1;
		assert_int_equal(m.priority, flood_class(m.seq));
		assert_int_equal(prio, reel_prio_mq(m.priority));
		assert_true(m.seq > last[m.priority]);
		last[m.priority] = m.seq;
		if (m.seq < prev)
			overtakes++;
		prev = m.seq;
		/* A slow consumer: the sender spends most of its time on a full queue. */
		if (n % 100 == 99)
			usleep(2000);
	}
	for (unsigned i = 1; i <= FLOOD; i++)
		assert_int_equal(seen[i], 1);
	free(seen);
	assert_int_equal(reap(f, sender), 0);
	{
		struct reel_msg m;
		assert_int_equal(reel_queue_recv(q, &m, NULL, 0), -EAGAIN);
	}
	/* The queue really was contended: higher classes overtook queued lower ones. */
	assert_true(overtakes > 0);
}

static void test_bus_nonblocking_send_full(void **state)
{
	struct fixture *f = *state;
	mqd_t q = make_queue(f, REEL_ROLE_EDITOR, 0);
	mqd_t nq = make_queue(f, REEL_ROLE_EFFECT, REEL_QUEUE_NONBLOCK);
	struct reel_msg m = command(1, REEL_PRIO_BATCH), out;
	double t0;

	for (int i = 0; i < REEL_BUS_DEPTH; i++) {
		assert_int_equal(reel_queue_send(q, &m, REEL_PRIO_BATCH, 0), 0);
		assert_int_equal(reel_queue_send(nq, &m, REEL_PRIO_BATCH, 0), 0);
	}
	t0 = tu_now_ms();
	/* Timeout 0 on a blocking descriptor polls; any timeout on a non-blocking one does too. */
	assert_int_equal(reel_queue_send(q, &m, REEL_PRIO_CONTROL, 0), -EAGAIN);
	assert_int_equal(reel_queue_send(nq, &m, REEL_PRIO_BATCH, 0), -EAGAIN);
	assert_int_equal(reel_queue_send(nq, &m, REEL_PRIO_BATCH, -1), -EAGAIN);
	assert_true(tu_now_ms() - t0 < 5000);
	assert_int_equal(reel_queue_depth(q), REEL_BUS_DEPTH);

	/* Draining one makes room for exactly one. */
	assert_int_equal(reel_queue_recv(q, &out, NULL, 0), 0);
	assert_int_equal(reel_queue_send(q, &m, REEL_PRIO_BATCH, 0), 0);
	assert_int_equal(reel_queue_send(q, &m, REEL_PRIO_BATCH, 0), -EAGAIN);

	for (int i = 0; i < REEL_BUS_DEPTH; i++)
		assert_int_equal(reel_queue_recv(nq, &out, NULL, -1), 0);
	assert_int_equal(reel_queue_recv(nq, &out, NULL, -1), -EAGAIN);
	assert_int_equal(reel_queue_recv(nq, &out, NULL, 0), -EAGAIN);
}

static void test_bus_timed_send_and_recv(void **state)
{
	struct fixture *f = *state;
	mqd_t q = make_queue(f, REEL_ROLE_AUDIO, 0);
	struct reel_msg m = command(1, REEL_PRIO_BATCH), out;
	double t0, elapsed;

	t0 = tu_now_ms();
	assert_int_equal(reel_queue_recv(q, &out, NULL, 0), -EAGAIN);
	assert_int_equal(reel_queue_recv(q, &out, NULL, 200), -ETIMEDOUT);
	elapsed = tu_now_ms() - t0;
	assert_true(elapsed >= 190 && elapsed < 5000);

	for (int i = 0; i < REEL_BUS_DEPTH; i++)
		assert_int_equal(reel_queue_send(q, &m, REEL_PRIO_BATCH, 100), 0);
	t0 = tu_now_ms();
	assert_int_equal(reel_queue_send(q, &m, REEL_PRIO_CONTROL, 300), -ETIMEDOUT);
	elapsed = tu_now_ms() - t0;
	assert_true(elapsed >= 290 && elapsed < 5000);
	/* A timed-out send left nothing behind. */
	assert_int_equal(reel_queue_depth(q), REEL_BUS_DEPTH);
	/* A timeout that spans a second boundary (1 s + 50 ms) still works. */
	t0 = tu_now_ms();
	assert_int_equal(reel_queue_send(q, &m, REEL_PRIO_BATCH, 1050), -ETIMEDOUT);
	elapsed = tu_now_ms() - t0;
	assert_true(elapsed >= 1040 && elapsed < 5000);
}

/* A receiver blocked with a timeout gets a message sent meanwhile. */
static int late_sender(mqd_t q, long delay_ms)
{
	struct reel_msg m = command(77, REEL_PRIO_INTERACTIVE);

	usleep((useconds_t)delay_ms * 1000);
	return reel_queue_send(q, &m, REEL_PRIO_INTERACTIVE, 5000) < 0 ? 1 : 0;
}

static void test_bus_timed_recv_wakes_on_message(void **state)
{
	struct fixture *f = *state;
	mqd_t q = make_queue(f, REEL_ROLE_PREVIEW, 0);
	pid_t sender = spawn(f, late_sender, q, 100);
	struct reel_msg out;

	assert_int_equal(reel_queue_recv(q, &out, NULL, 5000), 0);
	assert_int_equal(out.seq, 77);
	assert_int_equal(reap(f, sender), 0);
	sender = spawn(f, late_sender, q, 100);
	assert_int_equal(reel_queue_recv(q, &out, NULL, -1), 0);
	assert_int_equal(out.seq, 77);
	assert_int_equal(reap(f, sender), 0);
}

static void test_bus_malformed_message_consumed(void **state)
{
	struct fixture *f = *state;
	mqd_t q = make_queue(f, REEL_ROLE_COORD, 0);
	struct reel_msg good = command(42, REEL_PRIO_BATCH), out, poison;
	unsigned char raw[REEL_MSG_SIZE];
	unsigned prio = 12345;
	uint64_t s = 0x1234567;

	/* 17 bytes of a good message's beginning. */
	reel_msg_encode(&good, raw, sizeof(raw));
	assert_int_equal(mq_send(q, (const char *)raw, 17, reel_prio_mq(REEL_PRIO_BATCH)), 0);
	/* A full-size message of garbage. */
	for (size_t i = 0; i < sizeof(raw); i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		raw[i] = (unsigned char)(s >> 56);
	}
	assert_int_equal(mq_send(q, (const char *)raw, sizeof(raw), reel_prio_mq(REEL_PRIO_BATCH)), 0);
	/* A well-formed header with an unknown kind. */
	{
		struct reel_msg bad = good;
		bad.kind = 0x7777;
		reel_msg_encode(&bad, raw, sizeof(raw));
		assert_int_equal(mq_send(q, (const char *)raw, sizeof(raw), reel_prio_mq(REEL_PRIO_BATCH)), 0);
	}
	/* An empty message. */
	assert_int_equal(mq_send(q, (const char *)raw, 0, reel_prio_mq(REEL_PRIO_BATCH)), 0);
	assert_int_equal(reel_queue_send(q, &good, REEL_PRIO_BATCH, 0), 0);
	assert_int_equal(reel_queue_depth(q), 5);

	memset(&poison, 0xa5, sizeof(poison));
	for (long left = 4; left > 0; left--) {
		out = poison;
		assert_int_equal(reel_queue_recv(q, &out, &prio, 1000), REEL_E_BADMSG);
		assert_memory_equal(&out, &poison, sizeof(out));
		/* Consumed: the bad message does not stay at the head to block the queue. */
		assert_int_equal(reel_queue_depth(q), left);
	}
	assert_int_equal(reel_queue_recv(q, &out, &prio, 1000), 0);
	assert_memory_equal(&out, &good, sizeof(out));
	assert_int_equal(prio, reel_prio_mq(REEL_PRIO_BATCH));
}

static void test_bus_depth(void **state)
{
	struct fixture *f = *state;
	mqd_t q = make_queue(f, REEL_ROLE_EFFECT, 0);
	struct reel_msg m = command(1, REEL_PRIO_BACKGROUND), out;

	assert_int_equal(reel_queue_depth(q), 0);
	for (long i = 1; i <= 3; i++) {
		assert_int_equal(reel_queue_send(q, &m, REEL_PRIO_BACKGROUND, 0), 0);
		assert_int_equal(reel_queue_depth(q), i);
	}
	assert_int_equal(reel_queue_recv(q, &out, NULL, 0), 0);
	assert_int_equal(reel_queue_depth(q), 2);
	/* Another descriptor of the same queue sees the same messages. */
	{
		char name[REEL_QUEUE_NAME_MAX];
		mqd_t other;
		assert_int_equal(reel_queue_name_of(name, sizeof(name), &f->rec, REEL_ROLE_EFFECT), 0);
		assert_int_equal(reel_queue_open(name, 0, &other), 0);
		assert_int_equal(reel_queue_depth(other), 2);
		reel_queue_close(other);
	}
	assert_int_equal(reel_queue_depth((mqd_t)-1), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bus_queue_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_invalid_session_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_create_exclusive_0600, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_open_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_open_refuses_other_message_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_open_refuses_wide_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_priority_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_control_overtakes_full_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_ten_thousand_commands_slow_consumer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_nonblocking_send_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_timed_send_and_recv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_timed_recv_wakes_on_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_malformed_message_consumed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_depth, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
