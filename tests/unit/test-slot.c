/*
 * Tests of the slot protocol (core/buffer/slot.c) on real buffer files with real
 * processes: forked children open the buffer themselves, take slot locks,
 * get killed with SIGKILL while holding them, write frames under the
 * seqlock and sleep on the futex.  Children never call cmocka: they report
 * through their exit status, and every one is reaped (teardown kills and
 * reaps any a failed assertion left behind).
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buffer/buffer-private.h"
#include "buffer/buffer.h"
#include "reel/error.h"
#include "buffer/slot.h"
#include "testutil.h"

#define MAX_CHILDREN 16
#define REAP_MS 15000

struct fixture {
	char *dir;
	char path[4096];
	struct reel_buffer *buffer;
	pid_t children[MAX_CHILDREN];
	int nchildren;
};

/* A small buffer: 64x48, 32 frames in 16 slots, stereo audio of 1920 samples a frame. */
static struct reel_buffer_params small_params(void)
{
	struct reel_buffer_params p;

	memset(&p, 0, sizeof(p));
	p.width = 64;
	p.height = 48;
	p.frame_count = 32;
	p.slot_count = 16;
	p.frame_rate = (struct reel_rational){ 25, 1 };
	p.time_base = (struct reel_rational){ 1, 25 };
	p.sample_rate = 48000;
	p.channels = 2;
	p.audio_capacity = 1920;
	snprintf(p.source.path, sizeof(p.source.path), "/nonexistent/test-slot.mp4");
	return p;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->dir = tu_tempdir();
	snprintf(f->path, sizeof(f->path), "%s/slot.reel", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_kill_all(f->children, (size_t)f->nchildren);
	reel_buffer_close(f->buffer);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void create_buffer(struct fixture *f, const struct reel_buffer_params *p)
{
	assert_int_equal(reel_buffer_create(f->path, p, &f->buffer), 0);
}

static void track(struct fixture *f, pid_t pid)
{
	assert_true(f->nchildren < MAX_CHILDREN);
	f->children[f->nchildren++] = pid;
}

/* Fork a child that runs fn and exits with its result; tracked for teardown. */
static pid_t spawn(struct fixture *f, int (*fn)(struct fixture *, void *), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(f, arg));
	track(f, pid);
	return pid;
}

/* Reap a tracked child and return its exit code (-1 when it did not exit normally). */
static int reap(struct fixture *f, pid_t pid)
{
	return tu_reap(f->children, (size_t)f->nchildren, pid, REAP_MS);
}

/* Every child opens the buffer itself: its own mapping, at its own address. */
static struct reel_buffer *child_open(const struct fixture *f)
{
	struct reel_buffer *b = NULL;

	if (reel_buffer_open(f->path, &b) < 0)
		return NULL;
	return b;
}

static void child_signal(int fd)
{
	char c = 'x';

	while (write(fd, &c, 1) < 0 && errno == EINTR)
		;
}

/* Wait for n bytes from children; fails the test when they exit first. */
static void parent_wait_signal(int fd, int n)
{
	char c;

	for (int i = 0; i < n; i++) {
		ssize_t r;

		do
			r = read(fd, &c, 1);
		while (r < 0 && errno == EINTR);
		assert_int_equal(r, 1);
	}
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void write_field(const struct fixture *f, uint32_t slot, size_t field, const void *value,
                        size_t len)
{
	const struct reel_buffer_info *info = reel_buffer_info(f->buffer);
	off_t off = (off_t)(info->slot_table_offset + (uint64_t)slot * sizeof(struct reel__slot) +
	                    field);

	assert_int_equal(pwrite(reel_buffer_fd(f->buffer), value, len, off), (ssize_t)len);
}

/* ---------------------------------------------------------------- basics */

static void test_slot_state_names(void **state)
{
	(void)state;
	assert_string_equal(reel_slot_state_name(REEL_SLOT_EMPTY), "empty");
	assert_string_equal(reel_slot_state_name(REEL_SLOT_DECODING), "decoding");
	assert_string_equal(reel_slot_state_name(REEL_SLOT_READY), "ready");
	assert_string_equal(reel_slot_state_name(REEL_SLOT_BUSY), "busy");
	assert_string_equal(reel_slot_state_name(REEL_SLOT_STALE), "stale");
	assert_string_equal(reel_slot_state_name(REEL_SLOT_ERROR), "error");
	assert_string_equal(reel_slot_state_name(REEL_SLOT_STATE_COUNT), "invalid");
	assert_string_equal(reel_slot_state_name(UINT32_MAX), "invalid");
}

/*
 * 20,000 never-used slots all read EMPTY with no frame, and reading them
 * writes nothing: the table stays a hole in the file.
 */
static void test_slot_fresh_table_reads_empty_and_stays_sparse(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_slot_info info;
	uint64_t apparent, allocated_before, allocated_after;

	p.frame_count = 20000;
	p.slot_count = 20000;
	create_buffer(f, &p);
	assert_int_equal(reel_buffer_disk_usage(f->buffer, &apparent, &allocated_before), 0);

	for (uint32_t i = 0; i < p.slot_count; i++) {
		assert_int_equal(reel_slot_get(f->buffer, i, &info), 0);
		assert_int_equal(info.state, REEL_SLOT_EMPTY);
		assert_int_equal(info.frame, -1);
		assert_int_equal(info.owner_pid, 0);
		assert_int_equal(info.audio_samples, 0);
	}
	assert_int_equal(reel_slot_wait(f->buffer, p.slot_count - 1, REEL_SLOT_READY, 0), 0);

	/* Using the last slot initialises its mutex, touching one page of the table. */
	assert_int_equal(reel_slot_lock(f->buffer, p.slot_count - 1, 1000), 0);
	assert_int_equal(reel_slot_get(f->buffer, p.slot_count - 1, &info), 0);
	assert_int_equal(info.frame, -1);
	assert_int_equal(info.owner_pid, (uint32_t)getpid());
	assert_int_equal(reel_slot_unlock(f->buffer, p.slot_count - 1), 0);
	assert_int_equal(reel__slot_entry(f->buffer, p.slot_count - 1)->mutex_init, 2);
	assert_int_equal(reel__slot_entry(f->buffer, 0)->mutex_init, 0);

	assert_int_equal(fsync(reel_buffer_fd(f->buffer)), 0);
	assert_int_equal(reel_buffer_disk_usage(f->buffer, &apparent, &allocated_after), 0);
	printf("# sparse: %llu bytes apparent, %llu allocated before, %llu after one lock\n",
	       (unsigned long long)apparent, (unsigned long long)allocated_before,
	       (unsigned long long)allocated_after);
	/*
	 * The metadata sections are reserved when the file is made; the slots
	 * are not, and using one slot's mutex allocates nothing more.
	 */
	assert_true(allocated_after == allocated_before);
	assert_true(allocated_after < reel_buffer_info(f->buffer)->slots_offset + 1024 * 1024);
	assert_true(apparent > 20000ull * 4096);
}

/* ------------------------------------------------------ mutual exclusion */

struct increment_args {
	int start[2];       /* children start together when the parent closes the write end */
	uint32_t first_slot, slot_count;
	int rounds;
};

static int child_increment(struct fixture *f, void *arg)
{
	const struct increment_args *a = arg;
	struct reel_buffer *b;
	char c;

	/* The parent closes its end when every child is forked: all start at once. */
	close(a->start[1]);
	while (read(a->start[0], &c, 1) < 0 && errno == EINTR)
		;
	b = child_open(f);
	if (!b)
		return 10;
	for (int i = 0; i < a->rounds; i++) {
		for (uint32_t s = a->first_slot; s < a->first_slot + a->slot_count; s++) {
			volatile uint64_t *counter = (volatile uint64_t *)(void *)reel__slot_data(b, s);
			uint64_t v;

			if (reel_slot_lock(b, s, 10000) != 0)
				return 11;
			/* A read-modify-write with a yield inside: without the lock, updates get lost. */
			v = *counter;
			if ((i & 63) == 0)
				sched_yield();
			*counter = v + 1;
			if (reel_slot_unlock(b, s) != 0)
				return 12;
		}
	}
	reel_buffer_close(b);
	return 0;
}

static void run_increments(struct fixture *f, int nchildren, uint32_t first_slot,
                           uint32_t slot_count, int rounds)
{
	struct increment_args a = { .first_slot = first_slot, .slot_count = slot_count,
	                            .rounds = rounds };
	pid_t pids[MAX_CHILDREN];
	for (uint32_t s = first_slot; s < first_slot + slot_count; s++)
		assert_int_equal(reel_buffer_reserve_slot(f->buffer, s), 0);
	assert_int_equal(pipe(a.start), 0);
	for (int i = 0; i < nchildren; i++)
		pids[i] = spawn(f, child_increment, &a);
	close(a.start[0]);
	close(a.start[1]);
	for (int i = 0; i < nchildren; i++)
		assert_int_equal(reap(f, pids[i]), 0);
}

static void test_slot_locked_increments_lose_nothing(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	volatile uint64_t *counter;
	struct reel_slot_info info;

	create_buffer(f, &p);
	run_increments(f, 4, 0, 1, 10000);
	counter = (volatile uint64_t *)(void *)reel__slot_data(f->buffer, 0);
	assert_int_equal(*counter, 40000);
	assert_int_equal(reel_slot_get(f->buffer, 0, &info), 0);
	assert_int_equal(info.owner_pid, 0);
}

/* Several processes race to initialise the mutexes of never-used slots. */
static void test_slot_lazy_init_race(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	const int nchildren = 6, rounds = 50;

	create_buffer(f, &p);
	for (uint32_t s = 0; s < p.slot_count; s++)
		assert_int_equal(reel__slot_entry(f->buffer, s)->mutex_init, 0);
	run_increments(f, nchildren, 0, p.slot_count, rounds);
	for (uint32_t s = 0; s < p.slot_count; s++) {
		struct reel_slot_info info;

		assert_int_equal(*(volatile uint64_t *)(void *)reel__slot_data(f->buffer, s),
		                 nchildren * rounds);
		assert_int_equal(reel__slot_entry(f->buffer, s)->mutex_init, 2);
		assert_int_equal(reel_slot_get(f->buffer, s, &info), 0);
		assert_int_equal(info.state, REEL_SLOT_EMPTY);
		assert_int_equal(info.frame, -1);
	}
}

/* ----------------------------------------------------- dead lock owners */

struct holder_args {
	int signal_fd;
	uint32_t slot;
	bool mid_write;     /* die between write_begin and write_end */
};

/* Takes the lock (and maybe starts a write), tells the parent, then waits to be killed. */
static int child_hold_lock(struct fixture *f, void *arg)
{
	const struct holder_args *a = arg;
	struct reel_buffer *b = child_open(f);
	struct reel_frame frame;

	if (!b)
		return 10;
	if (reel_slot_lock(b, a->slot, 5000) != 0)
		return 11;
	if (reel_slot_set_state(b, a->slot, REEL_SLOT_BUSY, 0) != 0)
		return 12;
	if (a->mid_write) {
		if (reel_buffer_frame(b, a->slot, &frame) != 0)
			return 13;
		reel_slot_write_begin(b, a->slot);
		/* Half of the luma plane gets the new value, then the writer dies. */
		memset(frame.plane[0], 0x22, (size_t)frame.stride[0] * frame.height[0] / 2);
	}
	child_signal(a->signal_fd);
	for (;;)
		pause();
}

static void test_slot_lock_recovers_from_killed_owner(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct holder_args a = { .slot = 3 };
	struct reel_slot_info info;
	int fds[2];
	pid_t pid;
	double t0, elapsed;
	int r;

	create_buffer(f, &p);
	assert_int_equal(reel_slot_set_state(f->buffer, a.slot, REEL_SLOT_READY, 0), 0);
	assert_int_equal(pipe(fds), 0);
	a.signal_fd = fds[1];
	pid = spawn(f, child_hold_lock, &a);
	close(fds[1]);
	parent_wait_signal(fds[0], 1);
	close(fds[0]);

	/* The child really holds it. */
	assert_int_equal(reel_slot_lock(f->buffer, a.slot, 100), -ETIMEDOUT);
	assert_int_equal(reel_slot_get(f->buffer, a.slot, &info), 0);
	assert_int_equal(info.owner_pid, (uint32_t)pid);
	assert_int_equal(info.state, REEL_SLOT_BUSY);

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(reap(f, pid), -1);

	t0 = tu_now_ms();
	r = reel_slot_lock(f->buffer, a.slot, 5000);
	elapsed = tu_now_ms() - t0;
	assert_int_equal(r, REEL_SLOT_RECOVERED);
	assert_true(elapsed < 5000);
	assert_int_equal(reel_slot_get(f->buffer, a.slot, &info), 0);
	assert_int_equal(info.state, REEL_SLOT_STALE);
	assert_int_equal(info.owner_pid, (uint32_t)getpid());
	assert_int_equal(info.version % 2, 0);
	assert_int_equal(reel_slot_unlock(f->buffer, a.slot), 0);

	/* The mutex is consistent again: it locks and unlocks as usual. */
	assert_int_equal(reel_slot_lock(f->buffer, a.slot, 1000), 0);
	assert_int_equal(reel_slot_unlock(f->buffer, a.slot), 0);
	assert_int_equal(reel_slot_get(f->buffer, a.slot, &info), 0);
	assert_int_equal(info.owner_pid, 0);
	assert_int_equal(info.state, REEL_SLOT_STALE);
}

struct waiter_args {
	int signal_fd;
	uint32_t slot;
};

/* Blocks on the lock another process holds; exits 0 when it gets the slot back STALE. */
static int child_lock_waiter(struct fixture *f, void *arg)
{
	const struct waiter_args *a = arg;
	struct reel_buffer *b = child_open(f);
	struct reel_slot_info info;
	int r;

	if (!b)
		return 10;
	child_signal(a->signal_fd);
	r = reel_slot_lock(b, a->slot, 10000);
	if (r != REEL_SLOT_RECOVERED)
		return r == -ETIMEDOUT ? 11 : 12;
	if (reel_slot_get(b, a->slot, &info) != 0 || info.state != REEL_SLOT_STALE)
		return 13;
	if (reel_slot_unlock(b, a->slot) != 0)
		return 14;
	reel_buffer_close(b);
	return 0;
}

static void test_slot_blocked_locker_wakes_when_owner_killed(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct holder_args ha = { .slot = 5 };
	struct waiter_args wa = { .slot = 5 };
	int fds[2];
	pid_t holder, waiter;
	double t0;

	create_buffer(f, &p);
	assert_int_equal(pipe(fds), 0);
	ha.signal_fd = wa.signal_fd = fds[1];
	holder = spawn(f, child_hold_lock, &ha);
	parent_wait_signal(fds[0], 1);
	waiter = spawn(f, child_lock_waiter, &wa);
	close(fds[1]);
	parent_wait_signal(fds[0], 1);
	close(fds[0]);
	/* Give the waiter time to block in the lock (it also works if it has not yet). */
	sleep_ms(100);

	t0 = tu_now_ms();
	assert_int_equal(kill(holder, SIGKILL), 0);
	assert_int_equal(reap(f, holder), -1);
	assert_int_equal(reap(f, waiter), 0);
	assert_true(tu_now_ms() - t0 < 5000);

	assert_int_equal(reel_slot_lock(f->buffer, ha.slot, 1000), 0);
	assert_int_equal(reel_slot_unlock(f->buffer, ha.slot), 0);
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	return n == 0 || (p[0] == v && memcmp(p, p + 1, n - 1) == 0);
}

/* A writer killed inside write_begin/write_end: no reader copy of that time validates. */
static void test_slot_writer_killed_mid_write_fails_readers(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct holder_args a = { .slot = 2, .mid_write = true };
	struct reel_slot_info info;
	struct reel_frame frame;
	size_t luma;
	uint8_t *copy;
	uint32_t v0, v1, v2;
	int fds[2];
	pid_t pid;

	create_buffer(f, &p);
	assert_int_equal(reel_buffer_reserve_slot(f->buffer, a.slot), 0);
	assert_int_equal(reel_buffer_frame(f->buffer, a.slot, &frame), 0);
	luma = (size_t)frame.stride[0] * frame.height[0];
	copy = malloc(luma);
	assert_non_null(copy);

	assert_int_equal(reel_slot_lock(f->buffer, a.slot, 1000), 0);
	reel_slot_write_begin(f->buffer, a.slot);
	memset(frame.plane[0], 0x11, luma);
	reel_slot_write_end(f->buffer, a.slot);
	assert_int_equal(reel_slot_set_state(f->buffer, a.slot, REEL_SLOT_READY, 0), 0);
	assert_int_equal(reel_slot_unlock(f->buffer, a.slot), 0);

	/* A read begins before the writer starts, and copies while it is inside. */
	v0 = reel_slot_read_begin(f->buffer, a.slot);
	assert_int_equal(v0 % 2, 0);
	assert_int_equal(pipe(fds), 0);
	a.signal_fd = fds[1];
	pid = spawn(f, child_hold_lock, &a);
	close(fds[1]);
	parent_wait_signal(fds[0], 1);
	close(fds[0]);
	memcpy(copy, frame.plane[0], luma);
	assert_false(all_bytes(copy, luma, 0x11));   /* the copy really is mixed */
	assert_false(reel_slot_read_validate(f->buffer, a.slot, v0));

	/* A read begun while the writer is inside gets an odd version, never valid. */
	v1 = reel_slot_read_begin(f->buffer, a.slot);
	assert_int_equal(v1 % 2, 1);
	assert_false(reel_slot_read_validate(f->buffer, a.slot, v1));

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(reap(f, pid), -1);
	assert_false(reel_slot_read_validate(f->buffer, a.slot, v0));

	assert_int_equal(reel_slot_lock(f->buffer, a.slot, 5000), REEL_SLOT_RECOVERED);
	assert_int_equal(reel_slot_get(f->buffer, a.slot, &info), 0);
	assert_int_equal(info.state, REEL_SLOT_STALE);
	assert_int_equal(info.version % 2, 0);
	assert_true(info.version != v0);
	assert_false(reel_slot_read_validate(f->buffer, a.slot, v0));
	assert_int_equal(reel_slot_unlock(f->buffer, a.slot), 0);

	/* Readers work again once the version is even. */
	v2 = reel_slot_read_begin(f->buffer, a.slot);
	assert_int_equal(v2, info.version);
	memcpy(copy, frame.plane[0], luma);
	assert_true(reel_slot_read_validate(f->buffer, a.slot, v2));
	free(copy);
}

/* ------------------------------------------------------------- seqlock */

#define CHURN_MS 2000

/*
 * Rewrites every byte of all three planes with one value, changing it every
 * frame.  It writes in bursts of a few frames back to back and pauses a
 * millisecond between bursts, so that readers both collide with writes and
 * find quiet moments.
 */
static int child_frame_writer(struct fixture *f, void *arg)
{
	struct reel_buffer *b = child_open(f);
	struct reel_frame frame;
	double end = tu_now_ms() + CHURN_MS;
	unsigned n = 0;

	(void)arg;
	if (!b)
		return 10;
	if (reel_buffer_frame(b, 0, &frame) != 0)
		return 11;
	while (tu_now_ms() < end) {
		uint8_t value = (uint8_t)(1 + n % 251);

		if (reel_slot_lock(b, 0, 5000) != 0)
			return 12;
		reel_slot_write_begin(b, 0);
		for (int i = 0; i < 3; i++)
			for (uint32_t y = 0; y < frame.height[i]; y++)
				memset(frame.plane[i] + (size_t)y * frame.stride[i], value, frame.width[i]);
		reel_slot_write_end(b, 0);
		if (reel_slot_unlock(b, 0) != 0)
			return 13;
		if (++n % 4 == 0)
			sleep_ms(1);
	}
	reel_buffer_close(b);
	return 0;
}

static void test_slot_seqlock_never_accepts_mixed_frame(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_frame frame;
	struct reel_slot_info before, after;
	unsigned long accepted = 0, retried = 0, mixed_retried = 0, mixed_accepted = 0;
	unsigned long changes = 0;
	int last_value = -1;
	size_t total = 0;
	uint8_t *copy;
	double end;
	pid_t pid;

	p.width = 1920;
	p.height = 1080;
	p.frame_count = 2;
	p.slot_count = 1;
	create_buffer(f, &p);
	assert_int_equal(reel_buffer_reserve_slot(f->buffer, 0), 0);
	assert_int_equal(reel_buffer_frame(f->buffer, 0, &frame), 0);
	for (int i = 0; i < 3; i++)
		total += (size_t)frame.width[i] * frame.height[i];
	assert_int_equal(total, 1920 * 1080 * 3 / 2);
	copy = malloc(total);
	assert_non_null(copy);
	assert_int_equal(reel_slot_get(f->buffer, 0, &before), 0);

	pid = spawn(f, child_frame_writer, NULL);
	end = tu_now_ms() + CHURN_MS;
	while (tu_now_ms() < end) {
		uint32_t v = reel_slot_read_begin(f->buffer, 0);
		uint8_t *out = copy;
		bool uniform;

		for (int i = 0; i < 3; i++) {
			for (uint32_t y = 0; y < frame.height[i]; y++) {
				memcpy(out, frame.plane[i] + (size_t)y * frame.stride[i], frame.width[i]);
				out += frame.width[i];
			}
		}
		uniform = all_bytes(copy, total, copy[0]);
		if (reel_slot_read_validate(f->buffer, 0, v)) {
			accepted++;
			if (!uniform)
				mixed_accepted++;
			if (copy[0] != last_value)
				changes++;
			last_value = copy[0];
		} else {
			retried++;
			if (!uniform)
				mixed_retried++;
		}
	}
	assert_int_equal(reap(f, pid), 0);
	assert_int_equal(reel_slot_get(f->buffer, 0, &after), 0);
	free(copy);

	printf("# seqlock: %lu copies accepted (%lu value changes seen), %lu retried "
	       "(%lu of them visibly mixed); writer wrote %u frames\n",
	       accepted, changes, retried, mixed_retried, (after.version - before.version) / 2);
	assert_int_equal(mixed_accepted, 0);
	assert_true(accepted > 0);
	assert_true(changes > 1);
	assert_int_equal(after.version % 2, 0);
	assert_true((after.version - before.version) / 2 > 10);
}

/* --------------------------------------------------------------- futex */

struct wait_args {
	int signal_fd;
	uint32_t slot;
	uint32_t state;
	uint32_t expect;    /* state the child must find after waking */
};

static int child_wait_state(struct fixture *f, void *arg)
{
	const struct wait_args *a = arg;
	struct reel_buffer *b = child_open(f);
	struct reel_slot_info info;
	int r;

	if (!b)
		return 10;
	child_signal(a->signal_fd);
	/* Twice the parent's liveness bound: only a wake-up lets the parent pass. */
	r = reel_slot_wait(b, a->slot, a->state, 10000);
	if (r != 0)
		return r == -ETIMEDOUT ? 11 : 12;
	if (reel_slot_get(b, a->slot, &info) != 0)
		return 13;
	if (info.state != a->expect)
		return 14;
	reel_buffer_close(b);
	return 0;
}

/* Three processes sleep on the state word; one store wakes them all. */
static void test_slot_wait_wakes_on_state_change(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct wait_args a = { .slot = 7, .state = REEL_SLOT_DECODING, .expect = REEL_SLOT_READY };
	pid_t pids[3];
	int fds[2];
	double t0;

	create_buffer(f, &p);
	assert_int_equal(reel_slot_set_state(f->buffer, a.slot, REEL_SLOT_DECODING, 0), 0);
	assert_int_equal(pipe(fds), 0);
	a.signal_fd = fds[1];
	for (int i = 0; i < 3; i++)
		pids[i] = spawn(f, child_wait_state, &a);
	close(fds[1]);
	parent_wait_signal(fds[0], 3);
	close(fds[0]);
	sleep_ms(100);

	t0 = tu_now_ms();
	assert_int_equal(reel_slot_set_state(f->buffer, a.slot, REEL_SLOT_READY, 0), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(reap(f, pids[i]), 0);
	/*
	 * Woken, not timed out: without a wake-up the children would sleep out
	 * their 10 s (and then still exit 0, having seen the new state).
	 */
	assert_true(tu_now_ms() - t0 < 5000);
}

static void test_slot_wait_times_out(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	double t0, elapsed;

	create_buffer(f, &p);
	assert_int_equal(reel_slot_set_state(f->buffer, 1, REEL_SLOT_READY, 0), 0);

	t0 = tu_now_ms();
	assert_int_equal(reel_slot_wait(f->buffer, 1, REEL_SLOT_READY, 300), -ETIMEDOUT);
	elapsed = tu_now_ms() - t0;
	printf("# wait: timed out after %.1f ms of 300\n", elapsed);
	assert_true(elapsed >= 300);
	assert_true(elapsed < 5000);

	/* A state that already differs returns at once, and a zero timeout does not sleep. */
	assert_int_equal(reel_slot_wait(f->buffer, 1, REEL_SLOT_EMPTY, 5000), 0);
	assert_int_equal(reel_slot_wait(f->buffer, 1, REEL_SLOT_READY, 0), -ETIMEDOUT);
	assert_int_equal(reel_slot_wait(f->buffer, 1, REEL_SLOT_STATE_COUNT, 0), -EINVAL);
}

/* ------------------------------------------------------------ contents */

static void test_slot_contents_round_trip(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *other = NULL;
	struct reel_slot_info info;

	create_buffer(f, &p);
	assert_int_equal(reel_slot_lock(f->buffer, 4, 1000), 0);
	assert_int_equal(reel_slot_set_contents(f->buffer, 4, 31, 42, p.audio_capacity), 0);
	assert_int_equal(reel_slot_set_state(f->buffer, 4, REEL_SLOT_READY, 0), 0);

	/* Another handle, another mapping, sees the same entry. */
	assert_int_equal(reel_buffer_open(f->path, &other), 0);
	assert_int_equal(reel_slot_get(other, 4, &info), 0);
	assert_int_equal(info.frame, 31);
	assert_int_equal(info.journal_seq, 42);
	assert_int_equal(info.audio_samples, p.audio_capacity);
	assert_int_equal(info.state, REEL_SLOT_READY);
	assert_int_equal(info.error, 0);
	assert_int_equal(info.owner_pid, (uint32_t)getpid());
	reel_buffer_close(other);

	/* Out of range: rejected, nothing changed. */
	assert_int_equal(reel_slot_set_contents(f->buffer, 4, 5, 43, p.audio_capacity + 1),
	                 REEL_E_RANGE);
	assert_int_equal(reel_slot_set_contents(f->buffer, 4, (int64_t)p.frame_count, 43, 0),
	                 REEL_E_RANGE);
	assert_int_equal(reel_slot_set_contents(f->buffer, 4, -2, 43, 0), REEL_E_RANGE);
	assert_int_equal(reel_slot_get(f->buffer, 4, &info), 0);
	assert_int_equal(info.frame, 31);
	assert_int_equal(info.journal_seq, 42);
	assert_int_equal(info.audio_samples, p.audio_capacity);

	/* Eviction: no frame (a READY slot that changed contents would fail its seal). */
	assert_int_equal(reel_slot_set_state(f->buffer, 4, REEL_SLOT_EMPTY, 0), 0);
	assert_int_equal(reel_slot_set_contents(f->buffer, 4, -1, 0, 0), 0);
	assert_int_equal(reel_slot_get(f->buffer, 4, &info), 0);
	assert_int_equal(info.frame, -1);

	/* ERROR carries its reason; any other state clears it. */
	assert_int_equal(reel_slot_set_state(f->buffer, 4, REEL_SLOT_ERROR, REEL_E_DECODE), 0);
	assert_int_equal(reel_slot_get(f->buffer, 4, &info), 0);
	assert_int_equal(info.state, REEL_SLOT_ERROR);
	assert_int_equal(info.error, REEL_E_DECODE);
	assert_int_equal(reel_slot_set_state(f->buffer, 4, REEL_SLOT_DECODING, REEL_E_DECODE), 0);
	assert_int_equal(reel_slot_get(f->buffer, 4, &info), 0);
	assert_int_equal(info.error, 0);
	assert_int_equal(reel_slot_set_state(f->buffer, 4, REEL_SLOT_STATE_COUNT, 0), -EINVAL);
	assert_int_equal(reel_slot_get(f->buffer, 4, &info), 0);
	assert_int_equal(info.state, REEL_SLOT_DECODING);
	assert_int_equal(reel_slot_unlock(f->buffer, 4), 0);

	/* Without the lock, contents cannot be set. */
	assert_int_equal(reel_slot_set_contents(f->buffer, 4, 1, 1, 0), -EPERM);
}

/* Programming errors are reported, not deadlocks or silent corruption. */
static void test_slot_misuse_reported(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();

	create_buffer(f, &p);
	assert_int_equal(reel_slot_set_contents(f->buffer, 0, 1, 1, 0), -EPERM);
	assert_int_equal(reel_slot_lock(f->buffer, 0, 1000), 0);
	assert_int_equal(reel_slot_unlock(f->buffer, 0), 0);
	assert_int_equal(reel_slot_unlock(f->buffer, 0), -EPERM);
	assert_int_equal(reel_slot_lock(f->buffer, 0, 1000), 0);
	assert_int_equal(reel_slot_lock(f->buffer, 0, 1000), -EDEADLK);
	assert_int_equal(reel_slot_lock(f->buffer, 0, -1), -EDEADLK);
	assert_int_equal(reel_slot_unlock(f->buffer, 0), 0);
	assert_int_equal(reel_slot_lock(NULL, 0, 0), -EINVAL);
	assert_int_equal(reel_slot_get(f->buffer, 0, NULL), -EINVAL);
}

/* --------------------------------------------------------------- damage */

static void test_slot_damaged_entry_rejected(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_slot_info info;
	uint32_t bad_state = 77, bad_init = 9, one = 1, samples;
	int64_t bad_frame;

	create_buffer(f, &p);
	memset(&info, 0xa5, sizeof(info));

	/* A state outside the enum, on a used slot; a legal store repairs it. */
	assert_int_equal(reel_slot_lock(f->buffer, 0, 1000), 0);
	assert_int_equal(reel_slot_unlock(f->buffer, 0), 0);
	write_field(f, 0, offsetof(struct reel__slot, state), &bad_state, sizeof(bad_state));
	assert_int_equal(reel_slot_get(f->buffer, 0, &info), REEL_E_SLOT);
	assert_int_equal(info.frame, (int64_t)0xa5a5a5a5a5a5a5a5ull);   /* untouched */
	assert_int_equal(reel_slot_lock(f->buffer, 0, 1000), REEL_E_SLOT);
	assert_int_equal(reel_slot_set_state(f->buffer, 0, REEL_SLOT_STALE, 0), 0);
	assert_int_equal(reel_slot_get(f->buffer, 0, &info), 0);
	assert_int_equal(info.state, REEL_SLOT_STALE);
	assert_int_equal(reel_slot_lock(f->buffer, 0, 1000), 0);
	assert_int_equal(reel_slot_unlock(f->buffer, 0), 0);

	/* A mutex_init word that is neither 0, 1 nor 2. */
	write_field(f, 1, offsetof(struct reel__slot, mutex_init), &bad_init, sizeof(bad_init));
	assert_int_equal(reel_slot_get(f->buffer, 1, &info), REEL_E_SLOT);
	assert_int_equal(reel_slot_lock(f->buffer, 1, 1000), REEL_E_SLOT);
	assert_int_equal(reel_slot_unlock(f->buffer, 1), REEL_E_SLOT);
	assert_int_equal(reel_slot_set_state(f->buffer, 1, REEL_SLOT_READY, 0), REEL_E_SLOT);

	/* A frame number beyond the buffer. */
	assert_int_equal(reel_slot_lock(f->buffer, 2, 1000), 0);
	assert_int_equal(reel_slot_unlock(f->buffer, 2), 0);
	bad_frame = (int64_t)p.frame_count + 3;
	write_field(f, 2, offsetof(struct reel__slot, frame), &bad_frame, sizeof(bad_frame));
	assert_int_equal(reel_slot_get(f->buffer, 2, &info), REEL_E_SLOT);
	bad_frame = -7;
	write_field(f, 2, offsetof(struct reel__slot, frame), &bad_frame, sizeof(bad_frame));
	assert_int_equal(reel_slot_get(f->buffer, 2, &info), REEL_E_SLOT);

	/* More audio samples than a slot holds. */
	assert_int_equal(reel_slot_lock(f->buffer, 3, 1000), 0);
	assert_int_equal(reel_slot_unlock(f->buffer, 3), 0);
	samples = p.audio_capacity + 1;
	write_field(f, 3, offsetof(struct reel__slot, audio_samples), &samples, sizeof(samples));
	assert_int_equal(reel_slot_get(f->buffer, 3, &info), REEL_E_SLOT);

	/* A never-initialised slot that claims a state. */
	write_field(f, 4, offsetof(struct reel__slot, state), &one, sizeof(one));
	assert_int_equal(reel_slot_get(f->buffer, 4, &info), REEL_E_SLOT);

	/* The damage stays local: a neighbour is untouched. */
	assert_int_equal(reel_slot_get(f->buffer, 5, &info), 0);
	assert_int_equal(info.state, REEL_SLOT_EMPTY);
}

static void test_slot_index_out_of_range(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_slot_info info;
	const uint32_t bad[] = { 16, 17, UINT32_MAX };

	create_buffer(f, &p);
	assert_int_equal(reel_buffer_info(f->buffer)->slot_count, 16);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t s = bad[i];

		assert_int_equal(reel_slot_lock(f->buffer, s, 0), REEL_E_RANGE);
		assert_int_equal(reel_slot_unlock(f->buffer, s), REEL_E_RANGE);
		assert_int_equal(reel_slot_get(f->buffer, s, &info), REEL_E_RANGE);
		assert_int_equal(reel_slot_set_state(f->buffer, s, REEL_SLOT_READY, 0), REEL_E_RANGE);
		assert_int_equal(reel_slot_set_contents(f->buffer, s, 0, 0, 0), REEL_E_RANGE);
		assert_int_equal(reel_slot_wait(f->buffer, s, REEL_SLOT_EMPTY, 0), REEL_E_RANGE);
		/* The void/bool calls have nothing to report; they must not touch memory. */
		reel_slot_write_begin(f->buffer, s);
		reel_slot_write_end(f->buffer, s);
		assert_false(reel_slot_read_validate(f->buffer, s, reel_slot_read_begin(f->buffer, s)));
	}
	/* The last real slot was not touched by any of this. */
	assert_int_equal(reel_slot_get(f->buffer, 15, &info), 0);
	assert_int_equal(info.version, 0);
	assert_int_equal(info.state, REEL_SLOT_EMPTY);
}


/* ------------------------------------------------------ seal and reset */

/* Seal a slot READY holding frame, as the materialiser does. */
static void make_ready(struct reel_buffer *b, uint32_t slot, int64_t frame, uint64_t seq)
{
	assert_int_equal(reel_slot_lock(b, slot, 1000), 0);
	reel_slot_write_begin(b, slot);
	assert_int_equal(reel_slot_set_contents(b, slot, frame, seq, 0), 0);
	reel_slot_write_end(b, slot);
	assert_int_equal(reel_slot_set_state(b, slot, REEL_SLOT_READY, 0), 0);
	assert_int_equal(reel_slot_unlock(b, slot), 0);
}

static void test_slot_seal_catches_damaged_fields(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *ro = NULL;
	struct reel_slot_info info;
	int64_t other_frame = 12;
	uint64_t other_seq = 7;
	uint32_t other_samples = 3;

	create_buffer(f, &p);
	make_ready(f->buffer, 4, 11, 6);
	make_ready(f->buffer, 5, 11, 6);
	make_ready(f->buffer, 6, 11, 6);
	assert_int_equal(reel_slot_get(f->buffer, 4, &info), 0);
	assert_int_equal(info.frame, 11);

	/* One field changed behind the protocol's back: the entry no longer names what it holds. */
	write_field(f, 4, offsetof(struct reel__slot, frame), &other_frame, sizeof(other_frame));
	write_field(f, 5, offsetof(struct reel__slot, journal_seq), &other_seq, sizeof(other_seq));
	write_field(f, 6, offsetof(struct reel__slot, audio_samples), &other_samples,
	            sizeof(other_samples));
	assert_int_equal(reel_buffer_open_readonly(f->path, &ro), 0);
	for (uint32_t s = 4; s <= 6; s++) {
		assert_int_equal(reel_slot_get(f->buffer, s, &info), REEL_E_SLOT);
		assert_int_equal(reel_slot_get(ro, s, &info), REEL_E_SLOT);
	}
	reel_buffer_close(ro);

	/* Sealed again by the next writer that makes it READY. */
	make_ready(f->buffer, 4, 12, 6);
	assert_int_equal(reel_slot_get(f->buffer, 4, &info), 0);
	assert_int_equal(info.frame, 12);

	/* A STALE slot's state word damaged back to READY: leaving READY broke the seal. */
	assert_int_equal(reel_slot_set_state(f->buffer, 4, REEL_SLOT_STALE, 0), 0);
	write_field(f, 4, offsetof(struct reel__slot, state), &(uint32_t){ REEL_SLOT_READY },
	            sizeof(uint32_t));
	assert_int_equal(reel_slot_get(f->buffer, 4, &info), REEL_E_SLOT);
}

static void test_slot_identity_frame_in_its_own_slot(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_slot_info info;
	int64_t wrong = 9;

	p.slot_count = p.frame_count;
	create_buffer(f, &p);
	make_ready(f->buffer, 3, 3, 0);
	assert_int_equal(reel_slot_get(f->buffer, 3, &info), 0);
	/* Damage that keeps a valid seal cannot make slot 3 pass for frame 9 either. */
	make_ready(f->buffer, 3, 3, 0);
	write_field(f, 3, offsetof(struct reel__slot, frame), &wrong, sizeof(wrong));
	write_field(f, 3, offsetof(struct reel__slot, state), &(uint32_t){ REEL_SLOT_STALE },
	            sizeof(uint32_t));
	assert_int_equal(reel_slot_get(f->buffer, 3, &info), REEL_E_SLOT);
}

/* Child: lock the slot, start a write, tell the parent, and wait to be killed. */
static int hold_mid_write(struct fixture *f, void *arg)
{
	struct reel_buffer *b = child_open(f);
	int *pipefd = arg;
	uint32_t slot = 3;

	if (!b || reel_slot_lock(b, slot, 1000) != 0)
		return 2;
	reel_slot_set_state(b, slot, REEL_SLOT_BUSY, 0);
	reel_slot_write_begin(b, slot);
	if (write(pipefd[1], "l", 1) != 1)
		return 3;
	pause();
	return 0;
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	char *data = tu_slurp(from, &len);
	int fd;

	assert_non_null(data);
	fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	free(data);
}

/*
 * A power loss simulated: the file copied while a live process holds a slot
 * mutex mid-write.  In the copy the mutex is locked by nobody that will ever
 * unlock it, and no robust list covers it: locking it times out until the
 * table is reset, after which the slot is STALE, to be rebuilt.
 */
static void test_slot_reset_table_after_power_loss(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *copy = NULL;
	struct reel_slot_info info;
	char copy_path[4200], c;
	uint32_t reset = 0;
	int pipefd[2];
	pid_t pid;

	create_buffer(f, &p);
	make_ready(f->buffer, 5, 20, 0);
	assert_int_equal(pipe(pipefd), 0);
	pid = spawn(f, hold_mid_write, pipefd);
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	snprintf(copy_path, sizeof(copy_path), "%s/copy.reel", f->dir);
	copy_file(f->path, copy_path);
	kill(pid, SIGKILL);
	reap(f, pid);
	close(pipefd[0]);
	close(pipefd[1]);

	assert_int_equal(reel_buffer_open(copy_path, &copy), 0);
	assert_int_equal(reel_slot_lock(copy, 3, 200), -ETIMEDOUT);
	assert_int_equal(reel_slot_reset_table(copy, &reset), 0);
	assert_int_equal(reset, 1);
	assert_int_equal(reel_slot_lock(copy, 3, 200), 0);
	assert_int_equal(reel_slot_get(copy, 3, &info), 0);
	assert_int_equal(info.state, REEL_SLOT_STALE);
	assert_int_equal(info.version & 1u, 0);
	assert_int_equal(reel_slot_unlock(copy, 3), 0);
	/* What was whole stays whole: the READY slot keeps its frame and seal. */
	assert_int_equal(reel_slot_get(copy, 5, &info), 0);
	assert_int_equal(info.state, REEL_SLOT_READY);
	assert_int_equal(info.frame, 20);
	reel_buffer_close(copy);
}

/* While a process of the stage table lives, nothing is reset. */
static void test_slot_reset_table_refused_while_a_stage_lives(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();

	create_buffer(f, &p);
	f->buffer->stages[2].pid = (uint32_t)getppid();
	assert_int_equal(reel_slot_reset_table(f->buffer, NULL), -EBUSY);
	f->buffer->stages[2].pid = 0;
	assert_int_equal(reel_slot_reset_table(f->buffer, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_state_names),
		cmocka_unit_test_setup_teardown(test_slot_fresh_table_reads_empty_and_stays_sparse,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_locked_increments_lose_nothing, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_slot_lazy_init_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_lock_recovers_from_killed_owner, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_slot_blocked_locker_wakes_when_owner_killed,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_writer_killed_mid_write_fails_readers,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_seqlock_never_accepts_mixed_frame, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_slot_wait_wakes_on_state_change, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_slot_wait_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_contents_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_misuse_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_damaged_entry_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_index_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_seal_catches_damaged_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_identity_frame_in_its_own_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_reset_table_after_power_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_reset_table_refused_while_a_stage_lives, setup,
		                                teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
