/*
 * Integration tests of `reel inspect`: the real binary ($REEL_BIN) run on
 * buffer files made with the library, on damaged files, on random bytes and
 * on a missing path.  Figures printed are parsed back and compared with
 * what the library and stat() say.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "buffer/layout.h"
#include "buffer/buffer.h"
#include "reel/error.h"
#include "buffer/journal.h"
#include "reel/ops.h"
#include "buffer/slot.h"
#include "testutil.h"

struct fixture {
	char *dir;
	char path[4096];
	char *out, *err;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->dir = tu_tempdir();
	snprintf(f->path, sizeof(f->path), "%s/inspect.reel", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_rmrf(f->dir);
	free(f->dir);
	free(f->out);
	free(f->err);
	free(f);
	return 0;
}

static struct reel_buffer_params params(void)
{
	struct reel_buffer_params p;

	memset(&p, 0, sizeof(p));
	p.width = 320;
	p.height = 181;
	p.frame_count = 250;
	p.slot_count = 40;
	p.journal_capacity = 32;
	p.frame_rate = (struct reel_rational){ 25, 1 };
	p.time_base = (struct reel_rational){ 1, 12800 };
	p.sample_rate = 44100;
	p.channels = 2;
	p.audio_capacity = 1764;
	p.source.size = 987654;
	p.source.mtime_ns = 1600000000000000000LL;
	for (int i = 0; i < 32; i++)
		p.source.hash[i] = (uint8_t)(0xa0 + i);
	snprintf(p.source.path, sizeof(p.source.path), "/clips/a \"quoted\" name.mp4");
	return p;
}

/* Runs `reel ARGS...`, keeping stdout and stderr in the fixture; returns the exit status. */
static int run_reel(struct fixture *f, ...)
{
	const char *bin = getenv("REEL_BIN");
	char *argv[8];
	int argc = 0;
	va_list ap;

	if (!bin)
		fail_msg("REEL_BIN is not set");
	argv[argc++] = (char *)bin;
	va_start(ap, f);
	for (char *a; argc < 7 && (a = va_arg(ap, char *)); )
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	free(f->out);
	free(f->err);
	f->out = f->err = NULL;
	return tu_run(argv, &f->out, &f->err);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The number after `"key":` (first occurrence after `after`, when given). */
static uint64_t json_u64(const char *json, const char *after, const char *key)
{
	char pattern[128];
	const char *p = json;
	char *end;
	unsigned long long v;

	if (after) {
		p = strstr(json, after);
		if (!p)
			fail_msg("no %s in %s", after, json);
	}
	snprintf(pattern, sizeof(pattern), "\"%s\":", key);
	p = strstr(p, pattern);
	if (!p)
		fail_msg("no key %s in %s", key, json);
	p += strlen(pattern);
	errno = 0;
	v = strtoull(p, &end, 10);
	if (end == p || errno)
		fail_msg("key %s is not a number in %s", key, json);
	return v;
}

/* The number in "(N bytes)" on the line that starts (after spaces) with label. */
static uint64_t text_bytes(const char *text, const char *label)
{
	const char *line = text;

	while (line && *line) {
		const char *p = line;
		while (*p == ' ')
			p++;
		if (!strncmp(p, label, strlen(label))) {
			const char *open = strchr(p, '(');
			const char *eol = strchr(p, '\n');
			if (open && (!eol || open < eol))
				return strtoull(open + 1, NULL, 10);
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	fail_msg("no line %s in %s", label, text);
	return 0;
}

static void expect_one_error_line(struct fixture *f, const char *path, const char *what)
{
	char prefix[4200];

	assert_string_equal(f->out, "");
	assert_int_equal(count_lines(f->err), 1);
	assert_int_equal(f->err[strlen(f->err) - 1], '\n');
	snprintf(prefix, sizeof(prefix), "reel inspect: %s: ", path);
	if (strncmp(f->err, prefix, strlen(prefix)) || !strstr(f->err, what))
		fail_msg("stderr '%s' does not start with '%s' and name '%s'", f->err, prefix, what);
}

static void make_buffer(struct fixture *f, struct reel_buffer_info *ret_info)
{
	struct reel_buffer_params p = params();
	struct reel_buffer *b = NULL;

	assert_int_equal(reel_buffer_create(f->path, &p, &b), 0);
	*ret_info = *reel_buffer_info(b);
	reel_buffer_close(b);
}

static void test_inspect_new_buffer_text(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_info info;
	struct stat st;
	char want[128];

	make_buffer(f, &info);
	assert_int_equal(run_reel(f, "inspect", f->path, NULL), 0);
	assert_string_equal(f->err, "");
	assert_int_equal(stat(f->path, &st), 0);
	assert_non_null(strstr(f->out, "format version 3"));
	assert_non_null(strstr(f->out, "320x181 yuv420p"));
	assert_non_null(strstr(f->out, "25/1 (25.000 fps)"));
	assert_non_null(strstr(f->out, "1/12800"));
	assert_non_null(strstr(f->out, "44100 Hz, 2 channels"));
	assert_non_null(strstr(f->out, "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"));
	assert_non_null(strstr(f->out, "/clips/a \"quoted\" name.mp4"));
	assert_non_null(strstr(f->out, "coordinator      none, generation 0"));
	snprintf(want, sizeof(want), "frames           %" PRIu64 "\n", info.frame_count);
	assert_non_null(strstr(f->out, want));
	snprintf(want, sizeof(want), "slots: %" PRIu32 "\n  empty %" PRIu32 ",", info.slot_count,
	         info.slot_count);
	assert_non_null(strstr(f->out, want));
	assert_non_null(strstr(f->out, "journal: 0 of 32 entries"));
	assert_int_equal(text_bytes(f->out, "apparent"), (uint64_t)st.st_size);
	assert_int_equal(text_bytes(f->out, "allocated"), (uint64_t)st.st_blocks * 512);
	snprintf(want, sizeof(want), "slot stride  %" PRIu32 " x %" PRIu64 " bytes", info.slot_count,
	         info.slot_stride);
	assert_non_null(strstr(f->out, want));
}

static void test_inspect_new_buffer_json(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_info info;
	struct stat st;

	make_buffer(f, &info);
	assert_int_equal(run_reel(f, "inspect", "--json", f->path, NULL), 0);
	assert_string_equal(f->err, "");
	assert_int_equal(count_lines(f->out), 1);
	assert_int_equal(f->out[0], '{');
	assert_int_equal(f->out[strlen(f->out) - 2], '}');
	assert_int_equal(stat(f->path, &st), 0);

	assert_int_equal(json_u64(f->out, NULL, "version"), 3);
	assert_int_equal(json_u64(f->out, NULL, "width"), 320);
	assert_int_equal(json_u64(f->out, NULL, "height"), 181);
	assert_int_equal(json_u64(f->out, NULL, "frames"), info.frame_count);
	assert_int_equal(json_u64(f->out, NULL, "slots"), info.slot_count);
	assert_int_equal(json_u64(f->out, NULL, "slot_stride"), info.slot_stride);
	assert_int_equal(json_u64(f->out, NULL, "file_size"), info.file_size);
	assert_int_equal(json_u64(f->out, NULL, "apparent_bytes"), (uint64_t)st.st_size);
	assert_int_equal(json_u64(f->out, NULL, "allocated_bytes"), (uint64_t)st.st_blocks * 512);
	assert_int_equal(json_u64(f->out, "\"audio\"", "sample_rate"), 44100);
	assert_int_equal(json_u64(f->out, "\"audio\"", "channels"), 2);
	assert_int_equal(json_u64(f->out, "\"frame_rate\"", "num"), 25);
	assert_int_equal(json_u64(f->out, "\"time_base\"", "den"), 12800);
	assert_int_equal(json_u64(f->out, "\"source\"", "size"), 987654);
	assert_int_equal(json_u64(f->out, "\"sections\"", "offset"), 0);
	assert_int_equal(json_u64(f->out, "\"journal\":{\"offset\"", "offset"), info.journal_offset);
	assert_int_equal(json_u64(f->out, "\"slots\":{", "offset"), info.slots_offset);
	assert_int_equal(json_u64(f->out, "\"slot_states\"", "empty"), info.slot_count);
	assert_int_equal(json_u64(f->out, "\"slot_states\"", "damaged"), 0);
	assert_int_equal(json_u64(f->out, "\"journal\":{\"count\"", "count"), 0);
	assert_int_equal(json_u64(f->out, "\"journal\":{\"count\"", "capacity"), 32);
	/* The quotes in the source path are escaped. */
	assert_non_null(strstr(f->out, "\"path\":\"/clips/a \\\"quoted\\\" name.mp4\""));
}

static void test_inspect_counts_states_and_damage(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_info info;
	struct reel_buffer *b = NULL;
	struct reel_journal_entry e;
	uint32_t bad_state = 77;
	uint8_t junk = 0xff;
	int fd;

	make_buffer(f, &info);
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	memset(&e, 0, sizeof(e));
	e.op = REEL_OP_BRIGHTNESS;
	e.last = 10;
	e.params[0] = 0.1;
	for (int i = 0; i < 5; i++)
		assert_int_equal(reel_journal_append(b, &e, NULL), 0);
	assert_int_equal(reel_journal_set_state(b, 1, REEL_JOURNAL_APPLIED), 0);
	assert_int_equal(reel_journal_set_state(b, 2, REEL_JOURNAL_APPLIED), 0);
	assert_int_equal(reel_journal_set_state(b, 3, REEL_JOURNAL_UNDONE), 0);
	assert_int_equal(reel_buffer_claim(b, 1), 1);
	assert_int_equal(reel_buffer_reserve_slot(b, 0), 0);
	reel_buffer_close(b);

	/* One journal entry and one slot entry damaged on disk. */
	fd = open(f->path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &junk, 1, (off_t)(info.journal_offset + 4 * 128 + 100)), 1);
	assert_int_equal(pwrite(fd, &bad_state, sizeof(bad_state),
	                        (off_t)(info.slot_table_offset + 7 * 128)), (ssize_t)sizeof(bad_state));
	close(fd);

	assert_int_equal(run_reel(f, "inspect", f->path, "--json", NULL), 0);
	assert_string_equal(f->err, "");
	assert_int_equal(json_u64(f->out, "\"slot_states\"", "empty"), info.slot_count - 1);
	assert_int_equal(json_u64(f->out, "\"slot_states\"", "damaged"), 1);
	assert_int_equal(json_u64(f->out, "\"journal\":{\"count\"", "count"), 5);
	assert_int_equal(json_u64(f->out, "\"journal\":{\"count\"", "applied"), 2);
	assert_int_equal(json_u64(f->out, "\"journal\":{\"count\"", "undone"), 1);
	assert_int_equal(json_u64(f->out, "\"journal\":{\"count\"", "pending"), 1);
	assert_int_equal(json_u64(f->out, "\"journal\":{\"count\"", "damaged"), 1);
	assert_int_equal(json_u64(f->out, "\"coordinator\"", "pid"), 1);
	assert_int_equal(json_u64(f->out, "\"coordinator\"", "generation"), 1);
	assert_true(json_u64(f->out, NULL, "allocated_bytes") >= info.slot_stride);

	assert_int_equal(run_reel(f, "inspect", f->path, NULL), 0);
	assert_non_null(strstr(f->out, "pending 1, applied 2, undone 1, failed 0, damaged 1"));
	assert_non_null(strstr(f->out, "pid 1 (running), generation 1"));
}

static void test_inspect_random_bytes(void **state)
{
	struct fixture *f = *state;
	uint8_t bytes[65536];
	int in, out;

	in = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	assert_true(in >= 0);
	assert_int_equal(read(in, bytes, sizeof(bytes)), (ssize_t)sizeof(bytes));
	close(in);
	out = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(out >= 0);
	assert_int_equal(write(out, bytes, sizeof(bytes)), (ssize_t)sizeof(bytes));
	close(out);

	assert_int_equal(run_reel(f, "inspect", f->path, NULL), 2);
	expect_one_error_line(f, f->path, "not a reel buffer file");
	assert_int_equal(run_reel(f, "inspect", "--json", f->path, NULL), 2);
	expect_one_error_line(f, f->path, "not a reel buffer file");
}

static void test_inspect_truncated_file(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_info info;

	make_buffer(f, &info);
	assert_int_equal(truncate(f->path, (off_t)(info.file_size / 2)), 0);
	assert_int_equal(run_reel(f, "inspect", f->path, NULL), 2);
	expect_one_error_line(f, f->path, "truncated");
}

/* The whole of a small file as a string (the child's captured output). */
static char *slurp_file(const char *path)
{
	FILE *in = fopen(path, "re");
	char *text = calloc(1, 65536);
	size_t len;

	assert_non_null(in);
	assert_non_null(text);
	len = fread(text, 1, 65535, in);
	assert_false(ferror(in));
	text[len] = '\0';
	fclose(in);
	return text;
}

/*
 * Root bypasses file modes, which would make a mode test pass whatever the
 * code does: take CAP_DAC_OVERRIDE away from this (child) process and from
 * what it executes.
 */
static int drop_dac_override(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (geteuid() != 0)
		return 0;
	if (prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	d[0].effective &= ~(1u << CAP_DAC_OVERRIDE);
	d[0].permitted &= ~(1u << CAP_DAC_OVERRIDE);
	d[0].inheritable &= ~(1u << CAP_DAC_OVERRIDE);
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

struct spawn {
	bool cannot_write;      /* the child must be unable to open the file for writing */
	bool sync;              /* pause inspect through REEL_TEST_INSPECT_SYNC_FD */
	off_t truncate_to;      /* with sync: truncate the file to this while inspect waits */
};

enum { CHILD_SETUP_FAILED = 99 };

/*
 * Runs `reel inspect --json PATH` as sp says, output kept in the fixture;
 * returns the exit status, or -1 when inspect died of a signal.
 */
static int spawn_inspect(struct fixture *f, const struct spawn *sp)
{
	const char *bin = getenv("REEL_BIN");
	char out_path[4200], err_path[4200];
	int pair[2] = { -1, -1 };
	int status;
	pid_t pid;

	if (!bin)
		fail_msg("REEL_BIN is not set");
	snprintf(out_path, sizeof(out_path), "%s/stdout", f->dir);
	snprintf(err_path, sizeof(err_path), "%s/stderr", f->dir);
	/* Not close-on-exec: the child's end must survive into reel. */
	if (sp->sync)
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char fd_text[16];
		int out, err, fd;

		if (sp->cannot_write) {
			if (drop_dac_override() < 0)
				_exit(CHILD_SETUP_FAILED);
			fd = open(f->path, O_RDWR | O_CLOEXEC);
			if (fd >= 0 || errno != EACCES)
				_exit(CHILD_SETUP_FAILED);
		}
		if (sp->sync) {
			close(pair[0]);
			snprintf(fd_text, sizeof(fd_text), "%d", pair[1]);
			setenv("REEL_TEST_INSPECT_SYNC_FD", fd_text, 1);
		}
		out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(CHILD_SETUP_FAILED);
		execl(bin, bin, "inspect", "--json", f->path, (char *)NULL);
		_exit(CHILD_SETUP_FAILED);
	}
	if (sp->sync) {
		struct pollfd pfd = { .fd = pair[0], .events = POLLIN };
		char byte;

		close(pair[1]);
		/* inspect has the file open and mapped once its byte arrives. */
		assert_int_equal(poll(&pfd, 1, 5000), 1);
		assert_int_equal(read(pair[0], &byte, 1), 1);
		if (sp->truncate_to >= 0)
			assert_int_equal(truncate(f->path, sp->truncate_to), 0);
		assert_int_equal(write(pair[0], &byte, 1), 1);
		close(pair[0]);
	}
	status = tu_wait(pid, 10000);
	free(f->out);
	free(f->err);
	f->out = slurp_file(out_path);
	f->err = slurp_file(err_path);
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SETUP_FAILED)
		fail_msg("the child could not be set up (dropping write access, redirecting, exec)");
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_inspect_mode_0400_file(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_info info;
	struct spawn sp = { .cannot_write = true, .truncate_to = -1 };

	make_buffer(f, &info);
	assert_int_equal(chmod(f->path, 0400), 0);
	assert_int_equal(spawn_inspect(f, &sp), 0);
	assert_string_equal(f->err, "");
	assert_int_equal(json_u64(f->out, NULL, "frames"), info.frame_count);
	assert_int_equal(json_u64(f->out, "\"slot_states\"", "empty"), info.slot_count);
}

static void test_inspect_file_truncated_while_read(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_info info;
	struct spawn sp = { .sync = true, .truncate_to = -1 };
	char want[4200];

	/* Paused and resumed without a change, inspect reads the file as usual. */
	make_buffer(f, &info);
	assert_int_equal(spawn_inspect(f, &sp), 0);
	assert_string_equal(f->err, "");
	assert_int_equal(json_u64(f->out, NULL, "frames"), info.frame_count);

	/*
	 * Cut inside the mapping: at the slot table (the header still reads)
	 * and at 0 (nothing does).  Either read faults; inspect must say so.
	 */
	snprintf(want, sizeof(want), "reel inspect: %s: buffer file truncated while being read\n",
	         f->path);
	sp.truncate_to = (off_t)info.slot_table_offset;
	assert_int_equal(spawn_inspect(f, &sp), 2);
	assert_string_equal(f->out, "");
	assert_string_equal(f->err, want);

	assert_int_equal(unlink(f->path), 0);
	make_buffer(f, &info);
	sp.truncate_to = 0;
	assert_int_equal(spawn_inspect(f, &sp), 2);
	assert_string_equal(f->out, "");
	assert_string_equal(f->err, want);
}

static void test_inspect_damaged_header(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_info info;
	uint32_t zero = 0;
	int fd;

	make_buffer(f, &info);
	fd = open(f->path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &zero, sizeof(zero), offsetof(struct reel__header, slot_count)),
	                 (ssize_t)sizeof(zero));
	close(fd);
	assert_int_equal(run_reel(f, "inspect", f->path, NULL), 2);
	expect_one_error_line(f, f->path, reel_strerror(REEL_E_SLOTCOUNT));
}

static void test_inspect_missing_file(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run_reel(f, "inspect", f->path, NULL), 2);
	expect_one_error_line(f, f->path, strerror(ENOENT));
}

static void test_inspect_help(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run_reel(f, "inspect", "--help", NULL), 0);
	assert_string_equal(f->err, "");
	assert_non_null(strstr(f->out, "usage: reel inspect FILE [--json]"));
	assert_non_null(strstr(f->out, "--json"));
}

static void test_inspect_usage_errors(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_info info;

	make_buffer(f, &info);
	assert_int_equal(run_reel(f, "inspect", NULL), 2);
	assert_string_equal(f->out, "");
	assert_int_equal(count_lines(f->err), 1);
	assert_non_null(strstr(f->err, "reel inspect --help"));

	assert_int_equal(run_reel(f, "inspect", "--frobnicate", f->path, NULL), 2);
	assert_string_equal(f->out, "");
	assert_int_equal(count_lines(f->err), 1);
	assert_non_null(strstr(f->err, "--frobnicate"));

	assert_int_equal(run_reel(f, "inspect", f->path, f->path, NULL), 2);
	assert_string_equal(f->out, "");
	assert_int_equal(count_lines(f->err), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_inspect_new_buffer_text),
		T(test_inspect_new_buffer_json),
		T(test_inspect_counts_states_and_damage),
		T(test_inspect_random_bytes),
		T(test_inspect_truncated_file),
		T(test_inspect_mode_0400_file),
		T(test_inspect_file_truncated_while_read),
		T(test_inspect_damaged_header),
		T(test_inspect_missing_file),
		T(test_inspect_help),
		T(test_inspect_usage_errors),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
