/*
 * Unit tests of the journal (core/buffer/journal.c): appends read back through a
 * fresh mapping and another process, entries damaged on disk, a hostile
 * count in the live header, a full journal.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "buffer/layout.h"
#include "buffer/buffer-private.h"
#include "buffer/buffer.h"
#include "reel/error.h"
#include "buffer/journal.h"
#include "reel/ops.h"
#include "testutil.h"

#define FRAMES 100
#define CAPACITY 8

struct fixture {
	char *dir;
	char path[4096];
	struct reel_buffer *buffer;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct reel_buffer_params p;

	if (!f)
		return -1;
	f->dir = tu_tempdir();
	snprintf(f->path, sizeof(f->path), "%s/journal.reel", f->dir);
	memset(&p, 0, sizeof(p));
	p.width = 64;
	p.height = 48;
	p.frame_count = FRAMES;
	p.slot_count = 2;
	p.journal_capacity = CAPACITY;
	p.frame_rate = (struct reel_rational){ 25, 1 };
	p.time_base = (struct reel_rational){ 1, 25 };
	snprintf(p.source.path, sizeof(p.source.path), "/src.mkv");
	if (reel_buffer_create(f->path, &p, &f->buffer) < 0) {
		tu_rmrf(f->dir);
		free(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	reel_buffer_close(f->buffer);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static struct reel_journal_entry make_entry(uint32_t op, int64_t first, int64_t last, double p0)
{
	struct reel_journal_entry e;

	memset(&e, 0, sizeof(e));
	e.op = op;
	e.first = first;
	e.last = last;
	e.params[0] = p0;
	e.params[1] = -p0 / 3;
	e.time_ns = 1234567890123456789LL;
	snprintf(e.note, sizeof(e.note), "note %g", p0);
	/* Whatever the caller puts in seq and crc is replaced; a state other than APPLIED is PENDING. */
	e.seq = 999;
	e.state = REEL_JOURNAL_UNDONE;
	e.crc = 0xdeadbeef;
	return e;
}

static void reopen(struct fixture *f)
{
	reel_buffer_close(f->buffer);
	f->buffer = NULL;
	assert_int_equal(reel_buffer_open(f->path, &f->buffer), 0);
}

/* Offset in the file of entry seq's field at field_offset. */
static uint64_t entry_offset(const struct fixture *f, uint64_t seq, size_t field_offset)
{
	return reel_buffer_info(f->buffer)->journal_offset +
	       (seq - 1) * sizeof(struct reel_journal_entry) + field_offset;
}

static void pwrite_file(const char *path, uint64_t offset, const void *bytes, size_t len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, len, (off_t)offset), (ssize_t)len);
	close(fd);
}

static void test_journal_append_read_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_entry e = make_entry(REEL_OP_BRIGHTNESS, 10, 42, 0.125), back;
	uint64_t seq = 0;

	assert_int_equal(reel_journal_count(f->buffer), 0);
	assert_int_equal(reel_journal_append(f->buffer, &e, &seq), 0);
	assert_int_equal(seq, 1);
	assert_int_equal(reel_journal_count(f->buffer), 1);
	assert_int_equal(reel_journal_read(f->buffer, 1, &back), 0);
	assert_int_equal(back.seq, 1);
	assert_int_equal(back.op, REEL_OP_BRIGHTNESS);
	assert_int_equal(back.state, REEL_JOURNAL_PENDING);
	assert_true(back.first == 10 && back.last == 42);
	assert_true(back.params[0] == 0.125 && back.params[1] == -0.125 / 3);
	assert_true(back.params[2] == 0 && back.params[3] == 0);
	assert_int_equal(back.flags, 0);
	assert_int_equal(back.time_ns, 1234567890123456789LL);
	assert_string_equal(back.note, "note 0.125");
	assert_int_not_equal(back.crc, 0xdeadbeef);
	/* A caller that says the entry is in effect at once (a trim, an undo) is heard. */
	e.state = REEL_JOURNAL_APPLIED;
	assert_int_equal(reel_journal_append(f->buffer, &e, &seq), 0);
	assert_int_equal(reel_journal_read(f->buffer, 2, &back), 0);
	assert_int_equal(back.state, REEL_JOURNAL_APPLIED);
}

static void test_journal_seq_numbering(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_entry e, back;
	uint64_t seq;

	for (uint64_t i = 1; i <= 5; i++) {
		e = make_entry(REEL_OP_GAIN, (int64_t)i, (int64_t)i * 10, (double)i);
		seq = 0;
		assert_int_equal(reel_journal_append(f->buffer, &e, &seq), 0);
		assert_int_equal(seq, i);
		assert_int_equal(reel_journal_count(f->buffer), i);
	}
	for (uint64_t i = 1; i <= 5; i++) {
		assert_int_equal(reel_journal_read(f->buffer, i, &back), 0);
		assert_int_equal(back.seq, i);
		assert_true(back.first == (int64_t)i && back.params[0] == (double)i);
	}
	assert_int_equal(reel_journal_read(f->buffer, 0, &back), REEL_E_RANGE);
	assert_int_equal(reel_journal_read(f->buffer, 6, &back), REEL_E_RANGE);
}

static void test_journal_durable_across_reopen(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_entry e, back;

	for (int i = 0; i < 3; i++) {
		e = make_entry(REEL_OP_CROP + (uint32_t)i, i, FRAMES - 1, 0.5 * i);
		assert_int_equal(reel_journal_append(f->buffer, &e, NULL), 0);
	}
	assert_int_equal(reel_journal_set_state(f->buffer, 2, REEL_JOURNAL_APPLIED), 0);
	reopen(f);
	assert_int_equal(reel_journal_count(f->buffer), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(reel_journal_read(f->buffer, (uint64_t)i + 1, &back), 0);
		assert_int_equal(back.op, REEL_OP_CROP + (uint32_t)i);
		assert_true(back.first == i && back.last == FRAMES - 1);
		assert_true(back.params[0] == 0.5 * i);
		assert_int_equal(back.state, i == 1 ? REEL_JOURNAL_APPLIED : REEL_JOURNAL_PENDING);
	}
}

static void test_journal_full(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_entry e = make_entry(REEL_OP_INVERT, 0, 0, 0), back;
	uint8_t before[CAPACITY * sizeof(struct reel_journal_entry)];
	uint64_t seq = 77;

	for (int i = 0; i < CAPACITY; i++)
		assert_int_equal(reel_journal_append(f->buffer, &e, NULL), 0);
	memcpy(before, f->buffer->journal, sizeof(before));
	e.first = 1;
	e.last = 1;
	assert_int_equal(reel_journal_append(f->buffer, &e, &seq), REEL_E_JOURNALFULL);
	assert_int_equal(seq, 77);
	assert_int_equal(reel_journal_count(f->buffer), CAPACITY);
	assert_memory_equal(before, f->buffer->journal, sizeof(before));
	reopen(f);
	assert_int_equal(reel_journal_count(f->buffer), CAPACITY);
	assert_int_equal(reel_journal_read(f->buffer, CAPACITY, &back), 0);
	assert_true(back.first == 0);
	assert_int_equal(reel_journal_append(f->buffer, &e, &seq), REEL_E_JOURNALFULL);
}

static void test_journal_rejects_invalid_entries(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_entry e;

	e = make_entry(REEL_OP_COUNT, 0, 1, 0);
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), -EINVAL);
	e = make_entry(REEL_OP_BLUR, 5, 4, 0);
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), -EINVAL);
	e = make_entry(REEL_OP_BLUR, 0, FRAMES, 0);
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), -EINVAL);
	e = make_entry(REEL_OP_BLUR, -1, 3, 0);
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), -EINVAL);
	e = make_entry(REEL_OP_BLUR, 0, 3, NAN);
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), -EINVAL);
	/* An undo can only name an earlier entry. */
	e = make_entry(REEL_OP_UNDO, 0, 3, 0);
	e.target = 1;
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), -EINVAL);
	assert_int_equal(reel_journal_count(f->buffer), 0);
	e = make_entry(REEL_OP_BLUR, 0, 3, 1);
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), 0);
	e = make_entry(REEL_OP_UNDO, 0, 3, 0);
	e.target = 1;
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), 0);
	e.target = 3;
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), -EINVAL);
	/* Controls name a target; edits do not; flags are zero; a note is text that ends. */
	e.target = 0;
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), -EINVAL);
	e = make_entry(REEL_OP_BLUR, 0, 3, 1);
	e.target = 1;
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), -EINVAL);
	e = make_entry(REEL_OP_BLUR, 0, 3, 1);
	e.flags = 1;
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), -EINVAL);
	e = make_entry(REEL_OP_BLUR, 0, 3, 1);
	memset(e.note, 'x', sizeof(e.note));
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), -EINVAL);
	e = make_entry(REEL_OP_FAILED, 0, 3, 0);
	e.target = 1;
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), 0);
	assert_int_equal(reel_journal_count(f->buffer), 3);
}

static void test_journal_damaged_entry(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_entry e = make_entry(REEL_OP_SATURATION, 3, 9, 1.5), back;
	uint8_t byte;

	for (int i = 0; i < 3; i++)
		assert_int_equal(reel_journal_append(f->buffer, &e, NULL), 0);
	/* Flip one bit of entry 2's parameters, on disk, behind our mapping's back. */
	byte = ((const uint8_t *)&f->buffer->journal[1])[offsetof(struct reel_journal_entry, params) + 3];
	byte ^= 0x10;
	pwrite_file(f->path, entry_offset(f, 2, offsetof(struct reel_journal_entry, params) + 3),
	            &byte, 1);
	memset(&back, 0x33, sizeof(back));
	assert_int_equal(reel_journal_read(f->buffer, 2, &back), REEL_E_JOURNAL);
	assert_int_equal(back.seq, 0x3333333333333333ull);
	assert_int_equal(reel_journal_set_state(f->buffer, 2, REEL_JOURNAL_APPLIED), REEL_E_JOURNAL);
	/* Its neighbours are intact. */
	assert_int_equal(reel_journal_read(f->buffer, 1, &back), 0);
	assert_int_equal(reel_journal_read(f->buffer, 3, &back), 0);

	/* A wrong seq with a matching CRC is damage too (an entry copied to the wrong place). */
	reopen(f);
	memcpy(&back, &f->buffer->journal[0], sizeof(back));
	pwrite_file(f->path, entry_offset(f, 3, 0), &back, sizeof(back));
	assert_int_equal(reel_journal_read(f->buffer, 3, &back), REEL_E_JOURNAL);

	/* An out-of-range state is not covered by the CRC but is still refused. */
	{
		uint32_t bad = REEL_JOURNAL_STATE_COUNT;
		pwrite_file(f->path, entry_offset(f, 1, offsetof(struct reel_journal_entry, state)),
		            &bad, sizeof(bad));
	}
	assert_int_equal(reel_journal_read(f->buffer, 1, &back), REEL_E_JOURNAL);
}

static void test_journal_hostile_count(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_entry e = make_entry(REEL_OP_MUTE, 0, 0, 0), back;
	uint64_t hostile = CAPACITY + 1;
	uint64_t seq = 55;

	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), 0);
	pwrite_file(f->path, REEL__LIVE_OFFSET + offsetof(struct reel__header_live, journal_count),
	            &hostile, sizeof(hostile));
	/* Seen through the existing mapping and through a fresh one alike. */
	for (int round = 0; round < 2; round++) {
		assert_int_equal(reel_journal_read(f->buffer, 1, &back), REEL_E_JOURNAL);
		assert_int_equal(reel_journal_append(f->buffer, &e, &seq), REEL_E_JOURNAL);
		assert_int_equal(seq, 55);
		assert_int_equal(reel_journal_set_state(f->buffer, 1, REEL_JOURNAL_APPLIED),
		                 REEL_E_JOURNAL);
		/* Never more than the capacity, so a caller walking the entries stays inside. */
		assert_true(reel_journal_count(f->buffer) <= CAPACITY);
		reopen(f);
	}
	hostile = UINT64_MAX;
	pwrite_file(f->path, REEL__LIVE_OFFSET + offsetof(struct reel__header_live, journal_count),
	            &hostile, sizeof(hostile));
	assert_int_equal(reel_journal_read(f->buffer, UINT64_MAX, &back), REEL_E_JOURNAL);
	assert_true(reel_journal_count(f->buffer) <= CAPACITY);
}

static void test_journal_set_state(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_entry e = make_entry(REEL_OP_FADE_IN, 0, 24, 0), back;

	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), 0);
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), 0);
	assert_int_equal(reel_journal_set_state(f->buffer, 1, REEL_JOURNAL_APPLIED), 0);
	assert_int_equal(reel_journal_read(f->buffer, 1, &back), 0);
	assert_int_equal(back.state, REEL_JOURNAL_APPLIED);
	assert_int_equal(reel_journal_set_state(f->buffer, 1, REEL_JOURNAL_UNDONE), 0);
	assert_int_equal(reel_journal_read(f->buffer, 1, &back), 0);
	assert_int_equal(back.state, REEL_JOURNAL_UNDONE);
	assert_int_equal(reel_journal_read(f->buffer, 2, &back), 0);
	assert_int_equal(back.state, REEL_JOURNAL_PENDING);

	assert_int_equal(reel_journal_set_state(f->buffer, 1, REEL_JOURNAL_STATE_COUNT), -EINVAL);
	assert_int_equal(reel_journal_set_state(f->buffer, 1, 0xffffffffu), -EINVAL);
	assert_int_equal(reel_journal_set_state(f->buffer, 3, REEL_JOURNAL_APPLIED), REEL_E_RANGE);
	assert_int_equal(reel_journal_set_state(f->buffer, 0, REEL_JOURNAL_APPLIED), REEL_E_RANGE);
	assert_int_equal(reel_journal_read(f->buffer, 1, &back), 0);
	assert_int_equal(back.state, REEL_JOURNAL_UNDONE);

	reopen(f);
	assert_int_equal(reel_journal_read(f->buffer, 1, &back), 0);
	assert_int_equal(back.state, REEL_JOURNAL_UNDONE);
}

static void test_journal_child_reads_parent_appends(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_entry e;
	int go[2], done[2];
	pid_t pid;
	int status;
	char c;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	/* The child opens its own mapping before anything is appended. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct reel_buffer *b = NULL;
		struct reel_journal_entry back;
		int ok;

		close(go[1]);
		close(done[0]);
		ok = reel_buffer_open(f->path, &b) == 0 && reel_journal_count(b) == 0;
		if (write(done[1], "r", 1) != 1)
			_exit(3);
		if (read(go[0], &c, 1) != 1)
			_exit(4);
		ok = ok && reel_journal_count(b) == 4;
		for (uint64_t s = 1; ok && s <= 4; s++)
			ok = reel_journal_read(b, s, &back) == 0 && back.seq == s &&
			     back.first == (int64_t)s && back.params[0] == s * 0.25 &&
			     back.state == (s == 3 ? REEL_JOURNAL_APPLIED : REEL_JOURNAL_PENDING);
		reel_buffer_close(b);
		_exit(ok ? 0 : 1);
	}
	close(go[0]);
	close(done[1]);
	assert_int_equal(read(done[0], &c, 1), 1);
	for (uint64_t s = 1; s <= 4; s++) {
		e = make_entry(REEL_OP_CONTRAST, (int64_t)s, (int64_t)s + 1, s * 0.25);
		assert_int_equal(reel_journal_append(f->buffer, &e, NULL), 0);
	}
	assert_int_equal(reel_journal_set_state(f->buffer, 3, REEL_JOURNAL_APPLIED), 0);
	assert_int_equal(write(go[1], "g", 1), 1);
	status = tu_wait(pid, 5000);
	close(go[1]);
	close(done[0]);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}


/* ------------------------------------------------ finding the end */

static void append_n(struct fixture *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct reel_journal_entry e = make_entry(REEL_OP_BRIGHTNESS, (int64_t)i, (int64_t)i + 2,
		                                         0.1 * (i + 1));
		assert_int_equal(reel_journal_append(f->buffer, &e, NULL), 0);
	}
}

static void write_count(struct fixture *f, uint64_t count)
{
	pwrite_file(f->path, REEL__LIVE_OFFSET + offsetof(struct reel__header_live, journal_count),
	            &count, sizeof(count));
}

static void test_journal_scan_clean(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_scan sc;

	assert_int_equal(reel_journal_scan(f->buffer, &sc), 0);
	assert_int_equal(sc.valid, 0);
	assert_false(sc.count_repair);
	append_n(f, 3);
	assert_int_equal(reel_journal_scan(f->buffer, &sc), 0);
	assert_int_equal(sc.valid, 3);
	assert_int_equal(sc.damaged, 0);
	assert_true(sc.count_trusted);
	assert_false(sc.count_repair);
}

/* One damaged byte in the count, low or high: the entries say where the end is; nothing is lost. */
static void test_journal_damaged_count_loses_nothing(void **state)
{
	struct fixture *f = *state;
	const uint64_t damaged[] = { 1, 0, 5, 7, 3 | (1ull << 40) };
	struct reel_journal_entry e = make_entry(REEL_OP_MUTE, 0, 0, 0), back;
	struct reel_journal_scan sc;
	uint64_t seq = 0;

	append_n(f, 3);
	for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		write_count(f, damaged[i]);
		reopen(f);
		assert_int_equal(reel_journal_scan(f->buffer, &sc), 0);
		assert_int_equal(sc.valid, 3);
		assert_false(sc.count_trusted);
		assert_true(sc.count_repair);
		/* Nobody appends over an entry while the count is wrong. */
		assert_int_equal(reel_journal_append(f->buffer, &e, &seq), REEL_E_JOURNAL);
	}
	assert_int_equal(reel_journal_repair_count(f->buffer, sc.valid), 0);
	assert_int_equal(reel_journal_append(f->buffer, &e, &seq), 0);
	assert_int_equal(seq, 4);
	for (uint64_t s = 1; s <= 4; s++)
		assert_int_equal(reel_journal_read(f->buffer, s, &back), 0);
}

/* A damaged entry stops the scan there, with what follows it counted as written, not replayed. */
static void test_journal_damaged_entry_stops_scan(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_scan sc;
	uint8_t flip;

	append_n(f, 5);
	flip = 0x5a;
	pwrite_file(f->path, entry_offset(f, 2, offsetof(struct reel_journal_entry, params) + 3),
	            &flip, 1);
	assert_int_equal(reel_journal_scan(f->buffer, &sc), REEL_E_JOURNAL);
	assert_int_equal(sc.valid, 1);
	assert_int_equal(sc.damaged, 2);
	assert_int_equal(sc.written, 5);

	/* The last entry damaged: the same, with nothing after it. */
	teardown(state);
	assert_int_equal(setup(state), 0);
	f = *state;
	append_n(f, 5);
	pwrite_file(f->path, entry_offset(f, 5, offsetof(struct reel_journal_entry, crc)), &flip, 1);
	assert_int_equal(reel_journal_scan(f->buffer, &sc), REEL_E_JOURNAL);
	assert_int_equal(sc.valid, 4);
	assert_int_equal(sc.damaged, 5);
}

/* Counted entries that are gone (zeroed) are damage, not an early end. */
static void test_journal_missing_counted_entries(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_entry zero;
	struct reel_journal_scan sc;

	append_n(f, 5);
	memset(&zero, 0, sizeof(zero));
	pwrite_file(f->path, entry_offset(f, 4, 0), &zero, sizeof(zero));
	pwrite_file(f->path, entry_offset(f, 5, 0), &zero, sizeof(zero));
	assert_int_equal(reel_journal_scan(f->buffer, &sc), REEL_E_JOURNAL);
	assert_int_equal(sc.valid, 3);
	assert_int_equal(sc.damaged, 4);
	assert_true(sc.count_trusted);
}

/* The window of a crash after an entry was made durable and before its count: the entry counts. */
static void test_journal_entry_ahead_of_count(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_scan sc;
	uint64_t check = ~(uint64_t)2;

	append_n(f, 3);
	write_count(f, 2);
	pwrite_file(f->path, REEL__LIVE_OFFSET + offsetof(struct reel__header_live,
	                                                  journal_count_check), &check, sizeof(check));
	assert_int_equal(reel_journal_scan(f->buffer, &sc), 0);
	assert_true(sc.count_trusted);
	assert_int_equal(sc.valid, 3);
	assert_true(sc.count_repair);
}

/* Salvage: the intact prefix stays, the rest goes to the side file byte for byte, then appends go on. */
static void test_journal_cut_saves_the_tail(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_entry e = make_entry(REEL_OP_MUTE, 0, 0, 0), back;
	struct reel_journal_scan sc;
	char side[4200], *saved, *before;
	uint64_t n = 0, seq = 0;
	size_t len;
	uint8_t flip = 0x77;
	int fd;

	append_n(f, 5);
	pwrite_file(f->path, entry_offset(f, 3, offsetof(struct reel_journal_entry, first)), &flip, 1);
	before = tu_slurp(f->path, &len);
	assert_non_null(before);
	assert_int_equal(reel_journal_scan(f->buffer, &sc), REEL_E_JOURNAL);
	snprintf(side, sizeof(side), "%s.side", f->path);
	fd = open(side, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(reel_journal_cut(f->buffer, sc.valid, fd, &n), 0);
	close(fd);
	assert_int_equal(n, 3);
	saved = tu_slurp(side, &len);
	assert_non_null(saved);
	assert_int_equal(len, 3 * sizeof(struct reel_journal_entry));
	assert_memory_equal(saved, before + entry_offset(f, 3, 0), len);
	free(saved);
	free(before);

	reopen(f);
	assert_int_equal(reel_journal_scan(f->buffer, &sc), 0);
	assert_int_equal(sc.valid, 2);
	assert_false(sc.count_repair);
	assert_int_equal(reel_journal_count(f->buffer), 2);
	assert_int_equal(reel_journal_append(f->buffer, &e, &seq), 0);
	assert_int_equal(seq, 3);
	assert_int_equal(reel_journal_read(f->buffer, 3, &back), 0);
	assert_int_equal(back.op, REEL_OP_MUTE);
}

/*
 * A failed msync is latched: the handle refuses every later append and
 * state change with the same error.  The failure itself cannot be caused
 * on demand here (fault-diskfull meets a real one where it can), so the
 * latch is set as reel__msync_range's caller would.
 */
static void test_journal_msync_failure_latches(void **state)
{
	struct fixture *f = *state;
	struct reel_journal_entry e = make_entry(REEL_OP_MUTE, 0, 0, 0);

	append_n(f, 1);
	f->buffer->journal_error = -EIO;
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), -EIO);
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), -EIO);
	assert_int_equal(reel_journal_set_state(f->buffer, 1, REEL_JOURNAL_APPLIED), -EIO);
	assert_int_equal(reel_journal_count(f->buffer), 1);
	/* A fresh handle (a restarted coordinator) starts clean and finds the journal whole. */
	reopen(f);
	assert_int_equal(reel_journal_append(f->buffer, &e, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_journal_append_read_roundtrip),
		T(test_journal_seq_numbering),
		T(test_journal_durable_across_reopen),
		T(test_journal_full),
		T(test_journal_rejects_invalid_entries),
		T(test_journal_damaged_entry),
		T(test_journal_hostile_count),
		T(test_journal_set_state),
		T(test_journal_child_reads_parent_appends),
		T(test_journal_scan_clean),
		T(test_journal_damaged_count_loses_nothing),
		T(test_journal_damaged_entry_stops_scan),
		T(test_journal_missing_counted_entries),
		T(test_journal_entry_ahead_of_count),
		T(test_journal_cut_saves_the_tail),
		T(test_journal_msync_failure_latches),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
