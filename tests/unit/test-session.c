/*
 * Tests of session files (core/bus/session.c) and of the client connection to
 * a coordinator (core/bus/client.c), with real processes: the runtime folder
 * and its permissions, publish/read, liveness by pid and start time,
 * damaged session files, removal, listing, and a forked child playing a
 * minimal coordinator that a reel_client talks to over real queues.
 *
 * Each test gets its own runtime folder (REEL_RUNTIME_DIR under a fresh
 * temp folder) and its own session name; the teardown unlinks the queues
 * of that session, reaps every child and removes the folder.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bus/bus.h"
#include "reel/client.h"
#include "reel/error.h"
#include "bus/msg.h"
#include "bus/session.h"
#include "testutil.h"

#define MAX_CHILDREN 4

struct fixture {
	char *tmp;
	char run[REEL_PATH_MAX - 128];
	char session[REEL_SESSION_NAME_MAX + 1];
	pid_t children[MAX_CHILDREN];
	int nchildren;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->tmp = tu_tempdir();
	snprintf(f->run, sizeof(f->run), "%s/run", f->tmp);
	if (setenv("REEL_RUNTIME_DIR", f->run, 1) < 0)
		return -1;
	tu_session_name(f->session, sizeof(f->session));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_kill_all(f->children, (size_t)f->nchildren);
	/* Queues live outside the folder: remove the session's by name. */
	reel_session_remove(f->session);
	unsetenv("REEL_RUNTIME_DIR");
	tu_rmrf(f->tmp);
	free(f->tmp);
	free(f);
	return 0;
}

/* Called with fork()'s result in both processes: only the parent records the child. */
static pid_t track_child(struct fixture *f, pid_t pid)
{
	if (pid == 0)
		return 0;
	assert_true(pid > 0);
	assert_true(f->nchildren < MAX_CHILDREN);
	f->children[f->nchildren++] = pid;
	return pid;
}

static int reap(struct fixture *f, pid_t pid)
{
	return tu_reap(f->children, (size_t)f->nchildren, pid, 10000);
}

static void session_path(const struct fixture *f, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.session", f->run, name);
}

static struct reel_session_record own_record(const char *name)
{
	struct reel_session_record rec;

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	rec.pid = getpid();
	assert_int_equal(reel_process_start_time(rec.pid, &rec.start_time), 0);
	snprintf(rec.buffer_path, sizeof(rec.buffer_path), "/var/tmp/reel/%s.reel", name);
	snprintf(rec.source_path, sizeof(rec.source_path), "/home/u/My Movie (final) = v2.mp4");
	assert_int_equal(reel_random_u64(&rec.queue_nonce), 0);
	return rec;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Number of entries in a folder other than . and .., read without the code under test. */
static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_session_runtime_dir_created_0700(void **state)
{
	struct fixture *f = *state;
	char buf[REEL_PATH_MAX];
	struct stat st;
	mode_t old;
	int r;

	assert_int_equal(stat(f->run, &st), -1);
	old = umask(0);
	r = reel_runtime_dir(buf, sizeof(buf));
	umask(old);
	assert_int_equal(r, 0);
	assert_string_equal(buf, f->run);
	assert_int_equal(lstat(f->run, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, getuid());
	/* Existing and right: fine again. */
	assert_int_equal(reel_runtime_dir(buf, sizeof(buf)), 0);
	/* Too small a buffer is an error, not a truncated path. */
	assert_int_equal(reel_runtime_dir(buf, 4), -ENAMETOOLONG);
}

static void test_session_runtime_dir_refused_when_not_private(void **state)
{
	struct fixture *f = *state;
	struct reel_session_record rec = own_record(f->session);
	char buf[REEL_PATH_MAX], target[REEL_PATH_MAX];

	assert_int_equal(mkdir(f->run, 0700), 0);
	assert_int_equal(chmod(f->run, 0755), 0);
	assert_int_equal(reel_runtime_dir(buf, sizeof(buf)), REEL_E_RUNDIR);
	/* Nothing is published into a folder others can read. */
	assert_int_equal(reel_session_publish(&rec), REEL_E_RUNDIR);
	assert_int_equal(count_entries(f->run), 0);
	assert_int_equal(chmod(f->run, 0701), 0);
	assert_int_equal(reel_runtime_dir(buf, sizeof(buf)), REEL_E_RUNDIR);
	assert_int_equal(chmod(f->run, 0700), 0);
	assert_int_equal(reel_runtime_dir(buf, sizeof(buf)), 0);

	/* A symbolic link to a private folder is not the folder. */
	assert_int_equal(rmdir(f->run), 0);
	snprintf(target, sizeof(target), "%s/real", f->tmp);
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(symlink(target, f->run), 0);
	assert_int_equal(reel_runtime_dir(buf, sizeof(buf)), REEL_E_RUNDIR);

	/* Nor is a file. */
	assert_int_equal(unlink(f->run), 0);
	write_file(f->run, "x", 1);
	assert_int_equal(reel_runtime_dir(buf, sizeof(buf)), REEL_E_RUNDIR);
	assert_int_equal(unlink(f->run), 0);
}

static void test_session_publish_read_round_trip(void **state)
{
	struct fixture *f = *state;
	struct reel_session_record rec = own_record(f->session), back, other;
	char path[REEL_PATH_MAX];
	struct stat st;

	memset(&back, 0x5a, sizeof(back));
	assert_int_equal(reel_session_read(f->session, &back), REEL_E_NOSESSION);
	assert_int_equal(reel_session_publish(&rec), 0);
	session_path(f, f->session, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Published atomically: no temporary file is left beside it. */
	assert_int_equal(count_entries(f->run), 1);

	assert_int_equal(reel_session_read(f->session, &back), 0);
	assert_string_equal(back.name, rec.name);
	assert_int_equal(back.pid, rec.pid);
	assert_int_equal(back.start_time, rec.start_time);
	assert_int_equal(back.queue_nonce, rec.queue_nonce);
	assert_string_equal(back.buffer_path, rec.buffer_path);
	assert_string_equal(back.source_path, rec.source_path);

	/* A second publish of the same name fails and leaves the first record alone. */
	other = rec;
	other.pid = 1;
	snprintf(other.buffer_path, sizeof(other.buffer_path), "/elsewhere");
	assert_int_equal(reel_session_publish(&other), -EEXIST);
	assert_int_equal(count_entries(f->run), 1);
	assert_int_equal(reel_session_read(f->session, &back), 0);
	assert_int_equal(back.pid, rec.pid);
	assert_string_equal(back.buffer_path, rec.buffer_path);

	/* Invalid names never reach the file system. */
	assert_int_equal(reel_session_read("../etc/passwd", &back), REEL_E_SESSION);
	snprintf(other.name, sizeof(other.name), "a/b");
	assert_int_equal(reel_session_publish(&other), REEL_E_SESSION);
}

static void test_session_alive(void **state)
{
	struct fixture *f = *state;
	struct reel_session_record rec = own_record(f->session);
	int go[2];
	pid_t pid;
	char c = 0;

	assert_int_equal(reel_session_alive(&rec), 1);
	rec.start_time++;
	assert_int_equal(reel_session_alive(&rec), 0);
	rec.start_time -= 2;
	assert_int_equal(reel_session_alive(&rec), 0);

	/* A child that runs is alive; once it has exited and been reaped, it is not. */
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	pid = track_child(f, fork());
	if (pid == 0) {
		close(go[1]);
		_exit(read(go[0], &c, 1) == 1 ? 0 : 1);
	}
	close(go[0]);
	rec.pid = pid;
	assert_int_equal(reel_process_start_time(pid, &rec.start_time), 0);
	assert_int_equal(reel_session_alive(&rec), 1);
	assert_int_equal(write(go[1], "x", 1), 1);
	close(go[1]);
	assert_int_equal(reap(f, pid), 0);
	assert_int_equal(reel_session_alive(&rec), 0);
	assert_true(reel_process_start_time(pid, &rec.start_time) < 0);
}

/* Write text as the session file of f->session and expect the reader to refuse it. */
static void expect_damaged(struct fixture *f, const char *text, size_t len)
{
	struct reel_session_record back, poison;
	char path[REEL_PATH_MAX];

	session_path(f, f->session, path, sizeof(path));
	write_file(path, text, len);
	memset(&poison, 0x5a, sizeof(poison));
	back = poison;
	if (reel_session_read(f->session, &back) != REEL_E_SESSIONFILE) {
		fprintf(stderr, "# accepted a damaged session file: \"%.*s\"\n", len > 120 ? 120 : (int)len,
		        text);
		fail();
	}
	assert_memory_equal(&back, &poison, sizeof(back));
	assert_int_equal(unlink(path), 0);
}

static void expect_damaged_str(struct fixture *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void expect_damaged_str(struct fixture *f, const char *fmt, ...)
{
	char text[3 * REEL_PATH_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	expect_damaged(f, text, (size_t)n);
}

static void test_session_damaged_files(void **state)
{
	struct fixture *f = *state;
	struct reel_session_record rec = own_record(f->session), back;
	long pid = (long)rec.pid;
	unsigned long long st = (unsigned long long)rec.start_time;
	char path[REEL_PATH_MAX], *big;
	size_t big_len = 1 << 20, len;

	/* The well-formed file these variants damage is accepted. */
	assert_int_equal(reel_session_publish(&rec), 0);
	assert_int_equal(reel_session_read(f->session, &back), 0);
	session_path(f, f->session, path, sizeof(path));
	assert_int_equal(unlink(path), 0);

	expect_damaged(f, "", 0);
	expect_damaged_str(f, "\n\n\n");
	/* Each field missing in turn. */
	expect_damaged_str(f, "start=%llu\nbuffer=/b\nsource=/s\n", st);
	expect_damaged_str(f, "pid=%ld\nbuffer=/b\nsource=/s\n", pid);
	expect_damaged_str(f, "pid=%ld\nstart=%llu\nsource=/s\n", pid, st);
	expect_damaged_str(f, "pid=%ld\nstart=%llu\nbuffer=/b\n", pid, st);
	/* Bad pids and start times. */
	expect_damaged_str(f, "pid=0\nstart=%llu\nbuffer=/b\nsource=/s\n", st);
	expect_damaged_str(f, "pid=-1\nstart=%llu\nbuffer=/b\nsource=/s\n", st);
	expect_damaged_str(f, "pid=\nstart=%llu\nbuffer=/b\nsource=/s\n", st);
	expect_damaged_str(f, "pid=12ab\nstart=%llu\nbuffer=/b\nsource=/s\n", st);
	expect_damaged_str(f, "pid=99999999999\nstart=%llu\nbuffer=/b\nsource=/s\n", st);
	expect_damaged_str(f, "pid=%ld\nstart=\nbuffer=/b\nsource=/s\n", pid);
	expect_damaged_str(f, "pid=%ld\nstart=-5\nbuffer=/b\nsource=/s\n", pid);
	expect_damaged_str(f, "pid=%ld\nstart=1x\nbuffer=/b\nsource=/s\n", pid);
	/* Control characters (a terminal escape in `reel ls` output, a CR) and empty paths. */
	expect_damaged_str(f, "pid=%ld\nstart=%llu\nbuffer=/b\x1b[2J\nsource=/s\n", pid, st);
	expect_damaged_str(f, "pid=%ld\nstart=%llu\nbuffer=/b\nsource=/s\x01x\n", pid, st);
	expect_damaged_str(f, "pid=%ld\nstart=%llu\nbuffer=/b\r\nsource=/s\n", pid, st);
	expect_damaged_str(f, "pid=%ld\nstart=%llu\nbuffer=\nsource=/s\n", pid, st);
	/* A line that is not key=value. */
	expect_damaged_str(f, "pid=%ld\nstart=%llu\nbuffer=/b\nsource=/s\ngarbage\n", pid, st);

	big = malloc(big_len + 1);
	assert_non_null(big);
	/* A path longer than any path. */
	len = (size_t)snprintf(big, big_len, "pid=%ld\nstart=%llu\nsource=/s\nbuffer=/", pid, st);
	memset(big + len, 'p', REEL_PATH_MAX + 10);
	len += REEL_PATH_MAX + 10;
	big[len++] = '\n';
	expect_damaged(f, big, len);
	/* A megabyte of junk. */
	memset(big, 'j', big_len);
	expect_damaged(f, big, big_len);
	/*
	 * Huge: a good record followed by more than any record can hold, which
	 * ends in a line that contradicts it.  Reading only a prefix would
	 * accept a file whose end says something else.
	 */
	len = (size_t)snprintf(big, big_len, "pid=%ld\nstart=%llu\nbuffer=/b\nsource=/s\n", pid, st);
	while (len < big_len - 64)
		len += (size_t)snprintf(big + len, big_len - len, "pad=%060d\n", 0);
	len += (size_t)snprintf(big + len, big_len - len, "pid=0\n");
	expect_damaged(f, big, len);
	free(big);

	/* A session file that is a symbolic link is refused, whatever it points at. */
	{
		char target[REEL_PATH_MAX];
		snprintf(target, sizeof(target), "%s/elsewhere", f->tmp);
		write_file(target, "pid=1\nstart=1\nbuffer=/b\nsource=/s\n", 34);
		assert_int_equal(symlink(target, path), 0);
		assert_true(reel_session_read(f->session, &back) < 0);
		assert_int_equal(unlink(path), 0);
	}
	/* A FIFO in its place must not hang the reader (`reel ls` would wait forever). */
	{
		double t0 = tu_now_ms();
		assert_int_equal(mkfifo(path, 0600), 0);
		assert_int_equal(reel_session_read(f->session, &back), REEL_E_SESSIONFILE);
		assert_true(tu_now_ms() - t0 < 5000);
		assert_int_equal(unlink(path), 0);
	}
}

static void test_session_remove(void **state)
{
	struct fixture *f = *state;
	struct reel_session_record rec = own_record(f->session), keep, back;
	char name[REEL_QUEUE_NAME_MAX], path[REEL_PATH_MAX], other[REEL_SESSION_NAME_MAX + 1];
	mqd_t q;

	for (unsigned role = REEL_ROLE_COORD; role < REEL_ROLE_CLIENT; role++) {
		assert_int_equal(reel_queue_name_of(name, sizeof(name), &rec, role), 0);
		assert_int_equal(reel_queue_create(name, 0, &q), 0);
		reel_queue_close(q);
	}
	assert_int_equal(reel_session_publish(&rec), 0);
	/* Another session next to it must survive the removal. */
	tu_session_name(other, sizeof(other));
	keep = own_record(other);
	assert_int_equal(reel_session_publish(&keep), 0);

	assert_int_equal(reel_session_remove(f->session), 0);
	assert_int_equal(reel_session_read(f->session, &back), REEL_E_NOSESSION);
	session_path(f, f->session, path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);
	for (unsigned role = REEL_ROLE_COORD; role < REEL_ROLE_CLIENT; role++) {
		assert_int_equal(reel_queue_name_of(name, sizeof(name), &rec, role), 0);
		assert_true(mq_open(name, O_RDONLY) == (mqd_t)-1);
		assert_int_equal(errno, ENOENT);
	}
	assert_int_equal(reel_session_read(other, &back), 0);
	assert_int_equal(back.pid, keep.pid);

	/* Removing what is not there is not an error; a bad name is. */
	assert_int_equal(reel_session_remove(f->session), 0);
	assert_int_equal(reel_session_remove("no/such"), REEL_E_SESSION);
	assert_int_equal(reel_session_remove(other), 0);
	assert_int_equal(count_entries(f->run), 0);
}

struct seen {
	char names[8][REEL_SESSION_NAME_MAX + 1];
	pid_t pids[8];
	int n;
	int stop_after;
};

static int collect(const struct reel_session_record *rec, void *userdata)
{
	struct seen *s = userdata;

	if (s->n < 8) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", rec->name);
		s->pids[s->n] = rec->pid;
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static void test_session_list_skips_junk(void **state)
{
	struct fixture *f = *state;
	struct reel_session_record a = own_record(f->session), b;
	char other[REEL_SESSION_NAME_MAX + 1], path[REEL_PATH_MAX * 2];
	struct seen s;
	static const char good_text[] = "pid=1\nstart=1\nbuffer=/b\nsource=/s\n";

	tu_session_name(other, sizeof(other));
	b = own_record(other);
	b.pid = 1;
	assert_int_equal(reel_session_publish(&a), 0);
	assert_int_equal(reel_session_publish(&b), 0);

	/* Junk beside them: damaged, badly named, leftover or not a session at all. */
	snprintf(path, sizeof(path), "%s/junk.session", f->run);
	write_file(path, "pid=zero\n", 9);
	snprintf(path, sizeof(path), "%s/bad name.session", f->run);
	write_file(path, good_text, sizeof(good_text) - 1);
	snprintf(path, sizeof(path), "%s/.session", f->run);
	write_file(path, good_text, sizeof(good_text) - 1);
	snprintf(path, sizeof(path), "%s/%s.session.123.tmp", f->run, f->session);
	write_file(path, good_text, sizeof(good_text) - 1);
	snprintf(path, sizeof(path), "%s/notes.txt", f->run);
	write_file(path, good_text, sizeof(good_text) - 1);
	snprintf(path, sizeof(path), "%s/folder.session", f->run);
	assert_int_equal(mkdir(path, 0700), 0);

	memset(&s, 0, sizeof(s));
	assert_int_equal(reel_session_list(collect, &s), 0);
	assert_int_equal(s.n, 2);
	for (int i = 0; i < 2; i++) {
		bool is_a = !strcmp(s.names[i], f->session), is_b = !strcmp(s.names[i], other);
		assert_true(is_a || is_b);
		assert_int_equal(s.pids[i], is_a ? a.pid : b.pid);
	}
	assert_string_not_equal(s.names[0], s.names[1]);

	/* A callback that says stop is not called again. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	assert_int_equal(reel_session_list(collect, &s), 1);
	assert_int_equal(s.n, 1);

	assert_int_equal(reel_session_remove(other), 0);
	assert_int_equal(rmdir(path), 0);
}

static void test_session_start_time_odd_comm(void **state)
{
	struct fixture *f = *state;
	/* Spaces, parentheses and digits: a parser that stops at the first ')' reads the wrong field. */
	static const char comm[] = "a) 1 2) 3 4 (5";
	int up[2], go[2];
	uint64_t before = 0, after = 0, mine = 0;
	char buf[64], path[64];
	ssize_t n;
	pid_t pid;
	int fd;

	assert_true(sizeof(comm) <= 16);
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	pid = track_child(f, fork());
	if (pid == 0) {
		uint64_t s0 = 0;
		char c;
		close(up[0]);
		close(go[1]);
		/* Read with the ordinary name first, then take the odd one. */
		if (reel_process_start_time(getpid(), &s0) < 0 || prctl(PR_SET_NAME, comm) < 0)
			_exit(1);
		if (write(up[1], &s0, sizeof(s0)) != sizeof(s0))
			_exit(1);
		_exit(read(go[0], &c, 1) == 1 ? 0 : 1);
	}
	close(up[1]);
	close(go[0]);
	assert_int_equal(read(up[0], &before, sizeof(before)), sizeof(before));
	close(up[0]);

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = 0;
	assert_string_equal(buf, "a) 1 2) 3 4 (5\n");

	assert_int_equal(reel_process_start_time(pid, &after), 0);
	assert_int_equal(after, before);
	assert_true(before > 0);
	/* The child started after this process. */
	assert_int_equal(reel_process_start_time(getpid(), &mine), 0);
	assert_true(after >= mine);

	assert_int_equal(write(go[1], "x", 1), 1);
	close(go[1]);
	assert_int_equal(reap(f, pid), 0);
	after = 12345;
	assert_true(reel_process_start_time(pid, &after) < 0);
	assert_int_equal(after, 12345);
}

/*
 * A minimal coordinator, run in a child: it owns the coordinator queue and
 * the session file and answers STATUS, NEED and STOP the way the real one
 * does, replying on the queue named by the request's sender and tag.
 * Before each STATUS reply it sends two things the client must ignore: a
 * reply to another request and a malformed message.
 */
static int fake_coordinator(const char *session, int ready_fd)
{
	struct reel_session_record rec;
	char name[REEL_QUEUE_NAME_MAX];
	mqd_t coord, rq = (mqd_t)-1;
	int code = 1;

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.name, sizeof(rec.name), "%s", session);
	rec.pid = getpid();
	snprintf(rec.buffer_path, sizeof(rec.buffer_path), "/nonexistent/buffer.reel");
	snprintf(rec.source_path, sizeof(rec.source_path), "/nonexistent/source.mp4");
	if (reel_process_start_time(rec.pid, &rec.start_time) < 0 ||
	    reel_random_u64(&rec.queue_nonce) < 0)
		return 1;
	if (reel_queue_name_of(name, sizeof(name), &rec, REEL_ROLE_COORD) < 0 ||
	    reel_queue_create(name, 0, &coord) < 0)
		return 1;
	if (reel_session_publish(&rec) < 0)
		goto out_close;
	if (write(ready_fd, "R", 1) != 1)
		goto out_remove;
	for (;;) {
		struct reel_msg req, reply;
		char rname[REEL_QUEUE_NAME_MAX];
		int r = reel_queue_recv(coord, &req, NULL, 10000);

		if (r == REEL_E_BADMSG)
			continue;
		if (r < 0)
			goto out_remove;
		/* Opened at the first request and kept, as the client unlinks the name once answered. */
		if (rq == (mqd_t)-1 &&
		    (reel_reply_queue_name_of(rname, sizeof(rname), &rec, (pid_t)req.sender_pid,
		                              req.flags) < 0 ||
		     reel_queue_open(rname, 0, &rq) < 0))
			goto out_remove;
		reel_msg_init(&reply, REEL_MSG_REPLY);
		reply.role = REEL_ROLE_COORD;
		reply.sender_pid = (uint32_t)getpid();
		reply.id = req.id;
		if (req.kind == REEL_MSG_STATUS) {
			struct reel_msg decoy = reply;
			static const char junk[] = "not a message";
			decoy.kind = REEL_MSG_STATUS_REPLY;
			decoy.id = req.id + 1000;
			decoy.stat[3] = 0xbad;
			if (reel_queue_send(rq, &decoy, REEL_PRIO_CONTROL, 5000) < 0 ||
			    mq_send(rq, junk, sizeof(junk), reel_prio_mq(REEL_PRIO_CONTROL)) < 0)
				goto out_remove;
			reply.kind = REEL_MSG_STATUS_REPLY;
			reply.stat[0] = req.sender_pid;
			reply.stat[1] = req.role;
			reply.stat[2] = req.priority;
			reply.stat[3] = 0xc0ffee;
		} else if (req.kind == REEL_MSG_NEED) {
			if (req.last > 1000)
				reply.result = REEL_E_RANGE;
			else
				reply.slot = (uint32_t)(req.first % 7);
			reply.first = req.first;
			reply.last = req.last;
		} else if (req.kind != REEL_MSG_STOP) {
			reply.result = REEL_E_BADMSG;
		}
		r = reel_queue_send(rq, &reply, REEL_PRIO_INTERACTIVE, 5000);
		if (r < 0)
			goto out_remove;
		if (req.kind == REEL_MSG_STOP)
			break;
	}
	code = 0;
out_remove:
	reel_queue_close(rq);
	reel_session_remove(session);
out_close:
	reel_queue_close(coord);
	return code;
}

static void test_session_client_call(void **state)
{
	struct fixture *f = *state;
	struct reel_client *client = NULL;
	struct reel_msg req, reply;
	uint32_t slot = 0;
	uint64_t first_id;
	int ready[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	fflush(NULL);
	pid = track_child(f, fork());
	if (pid == 0) {
		close(ready[0]);
		_exit(fake_coordinator(f->session, ready[1]));
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);

	assert_int_equal(reel_client_connect(f->session, &client), 0);
	assert_int_equal(reel_client_record(client)->pid, pid);
	assert_string_equal(reel_client_record(client)->buffer_path, "/nonexistent/buffer.reel");

	reel_msg_init(&req, REEL_MSG_STATUS);
	assert_int_equal(reel_client_call(client, &req, REEL_PRIO_INTERACTIVE, 5000, &reply), 0);
	assert_int_equal(reply.kind, REEL_MSG_STATUS_REPLY);
	assert_int_equal(reply.id, req.id);
	/* The client filled in who is asking, and how urgently. */
	assert_int_equal(reply.stat[0], (uint64_t)getpid());
	assert_int_equal(reply.stat[1], REEL_ROLE_CLIENT);
	assert_int_equal(reply.stat[2], REEL_PRIO_INTERACTIVE);
	assert_int_equal(reply.stat[3], 0xc0ffee);
	first_id = req.id;
	/*
	 * Answered once, the coordinator holds the reply queue: its name is gone,
	 * so nothing is left to leak if both processes are killed now.
	 */
	{
		char rname[REEL_QUEUE_NAME_MAX];
		assert_int_equal(reel_reply_queue_name(rname, sizeof(rname), f->session, getpid(),
		                                       req.flags), 0);
		assert_true(mq_open(rname, O_RDONLY) == (mqd_t)-1);
		assert_int_equal(errno, ENOENT);
	}

	/* The same connection serves further calls, each with a new id. */
	reel_msg_init(&req, REEL_MSG_STATUS);
	assert_int_equal(reel_client_call(client, &req, REEL_PRIO_BACKGROUND, 5000, &reply), 0);
	assert_true(req.id != first_id);
	assert_int_equal(reply.id, req.id);
	assert_int_equal(reply.stat[2], REEL_PRIO_BACKGROUND);

	assert_int_equal(reel_client_need(client, 12, 20, REEL_PRIO_INTERACTIVE, 5000, &slot), 0);
	assert_int_equal(slot, 12 % 7);
	/* An error from the coordinator comes back as the result; the slot is not written. */
	slot = 99;
	assert_int_equal(reel_client_need(client, 5, 5000, REEL_PRIO_BATCH, 5000, &slot), REEL_E_RANGE);
	assert_int_equal(slot, 99);
	/* A range no coordinator could serve is refused before it is sent. */
	assert_int_equal(reel_client_need(client, 9, 3, REEL_PRIO_BATCH, 5000, &slot), REEL_E_RANGE);
	assert_int_equal(reel_client_need(client, UINT64_MAX, UINT64_MAX, REEL_PRIO_BATCH, 5000, &slot),
	                 REEL_E_RANGE);

	reel_msg_init(&req, REEL_MSG_STOP);
	assert_int_equal(reel_client_call(client, &req, REEL_PRIO_CONTROL, 5000, NULL), 0);
	reel_client_close(client);
	assert_int_equal(reap(f, pid), 0);
	/* The coordinator cleaned up after itself. */
	assert_int_equal(reel_client_connect(f->session, &client), REEL_E_NOSESSION);
	assert_int_equal(count_entries(f->run), 0);
}

static void test_session_client_dead_session(void **state)
{
	struct fixture *f = *state;
	struct reel_client *client = (struct reel_client *)&client;
	struct reel_client *const sentinel = client;
	struct reel_session_record rec;
	char name[REEL_QUEUE_NAME_MAX];
	mqd_t q;
	int go[2];
	pid_t pid;
	char c = 0;

	assert_int_equal(reel_client_connect(f->session, &client), REEL_E_NOSESSION);
	assert_ptr_equal(client, sentinel);

	/* A coordinator that published itself, then died: its queue and file are left. */
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	pid = track_child(f, fork());
	if (pid == 0) {
		close(go[1]);
		_exit(read(go[0], &c, 1) == 1 ? 0 : 1);
	}
	close(go[0]);
	rec = own_record(f->session);
	rec.pid = pid;
	assert_int_equal(reel_process_start_time(pid, &rec.start_time), 0);
	assert_int_equal(reel_session_publish(&rec), 0);
	assert_int_equal(reel_queue_name(name, sizeof(name), f->session, REEL_ROLE_COORD), 0);
	assert_int_equal(reel_queue_create(name, 0, &q), 0);
	reel_queue_close(q);
	assert_int_equal(write(go[1], "x", 1), 1);
	close(go[1]);
	assert_int_equal(reap(f, pid), 0);

	assert_int_equal(reel_client_connect(f->session, &client), REEL_E_NOSESSION);
	assert_ptr_equal(client, sentinel);

	/* A live pid with another start time is a recycled pid, not the coordinator. */
	assert_int_equal(reel_session_remove(f->session), 0);
	mq_unlink(name);
	rec = own_record(f->session);
	rec.start_time += 1;
	assert_int_equal(reel_session_publish(&rec), 0);
	assert_int_equal(reel_queue_name(name, sizeof(name), f->session, REEL_ROLE_COORD), 0);
	assert_int_equal(reel_queue_create(name, 0, &q), 0);
	reel_queue_close(q);
	assert_int_equal(reel_client_connect(f->session, &client), REEL_E_NOSESSION);
	assert_ptr_equal(client, sentinel);
}

static void test_session_client_timeout_and_close(void **state)
{
	struct fixture *f = *state;
	struct reel_session_record rec = own_record(f->session);
	struct reel_client *client = NULL;
	char name[REEL_QUEUE_NAME_MAX], reply_name[REEL_QUEUE_NAME_MAX];
	struct reel_msg req, got, filler;
	double t0, elapsed;
	mqd_t coord, probe;

	/* This process poses as a coordinator that never answers. */
	assert_int_equal(reel_queue_name_of(name, sizeof(name), &rec, REEL_ROLE_COORD), 0);
	assert_int_equal(reel_queue_create(name, 0, &coord), 0);
	assert_int_equal(reel_session_publish(&rec), 0);
	assert_int_equal(reel_client_connect(f->session, &client), 0);

	reel_msg_init(&req, REEL_MSG_STATUS);
	t0 = tu_now_ms();
	assert_int_equal(reel_client_call(client, &req, REEL_PRIO_INTERACTIVE, 300, &got), -ETIMEDOUT);
	elapsed = tu_now_ms() - t0;
	assert_true(elapsed >= 290 && elapsed < 5000);

	/* The request did go out, stamped with its sender and reply tag. */
	assert_int_equal(reel_queue_recv(coord, &got, NULL, 0), 0);
	assert_int_equal(got.kind, REEL_MSG_STATUS);
	assert_int_equal(got.id, req.id);
	assert_int_equal(got.sender_pid, (uint32_t)getpid());
	assert_int_equal(got.role, REEL_ROLE_CLIENT);
	assert_int_equal(got.flags, req.flags);

	/* A full coordinator queue: the call gives up after its timeout, too. */
	reel_msg_init(&filler, REEL_MSG_STATUS);
	for (int i = 0; i < REEL_BUS_DEPTH; i++)
		assert_int_equal(reel_queue_send(coord, &filler, REEL_PRIO_CONTROL, 0), 0);
	t0 = tu_now_ms();
	assert_int_equal(reel_client_call(client, &req, REEL_PRIO_CONTROL, 200, &got), -ETIMEDOUT);
	elapsed = tu_now_ms() - t0;
	assert_true(elapsed >= 190 && elapsed < 5000);

	/* The reply queue exists while the client does, and close removes it. */
	assert_int_equal(reel_reply_queue_name(reply_name, sizeof(reply_name), f->session, getpid(),
	                                       req.flags), 0);
	probe = mq_open(reply_name, O_RDONLY);
	assert_true(probe != (mqd_t)-1);
	mq_close(probe);
	reel_client_close(client);
	assert_true(mq_open(reply_name, O_RDONLY) == (mqd_t)-1);
	assert_int_equal(errno, ENOENT);
	reel_client_close(NULL);
	reel_queue_close(coord);
}

/*
 * What SIGKILL leaves behind: role queues of a coordinator that never got to
 * remove them, and the reply queue of a client killed before its first
 * answer.  The sweep frees those, and nothing a live process still uses
 * (the pid in each name says whose it is).
 */
static void test_session_sweep_frees_only_orphans(void **state)
{
	struct fixture *f = *state;
	struct reel_session_record live = own_record(f->session), dead = live;
	char name[REEL_QUEUE_NAME_MAX], orphan[REEL_QUEUE_NAME_MAX], mine[REEL_QUEUE_NAME_MAX];
	unsigned removed = 0;
	pid_t gone;
	mqd_t q;
	int r;

	r = reel_session_sweep(&removed);
	if (r == -ENOTSUP)
		skip();   /* no /dev/mqueue mounted: names cannot be listed */
	assert_int_equal(r, 0);
	/* A pid that is certainly dead: a child reaped already. */
	gone = fork();
	if (gone == 0)
		_exit(0);
	assert_true(gone > 0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);

	assert_int_equal(reel_session_publish(&live), 0);
	assert_int_equal(reel_queue_name_of(name, sizeof(name), &live, REEL_ROLE_COORD), 0);
	assert_int_equal(reel_queue_create(name, 0, &q), 0);
	reel_queue_close(q);
	/* The same session under an older nonce: a dead coordinator's. */
	assert_int_equal(reel_random_u64(&dead.queue_nonce), 0);
	dead.pid = gone;
	assert_int_equal(reel_queue_name_of(orphan, sizeof(orphan), &dead, REEL_ROLE_EDITOR), 0);
	assert_int_equal(reel_queue_create(orphan, 0, &q), 0);
	reel_queue_close(q);
	assert_int_equal(reel_reply_queue_name_of(mine, sizeof(mine), &live, getpid(), 7), 0);
	assert_int_equal(reel_queue_create(mine, 0, &q), 0);
	reel_queue_close(q);
	{
		char dead_reply[REEL_QUEUE_NAME_MAX];
		assert_int_equal(reel_reply_queue_name_of(dead_reply, sizeof(dead_reply), &live, gone, 9), 0);
		assert_int_equal(reel_queue_create(dead_reply, 0, &q), 0);
		reel_queue_close(q);
		assert_int_equal(reel_session_sweep(&removed), 0);
		assert_int_equal(removed, 2);
		assert_true(mq_open(dead_reply, O_RDONLY) == (mqd_t)-1 && errno == ENOENT);
	}
	assert_true(mq_open(orphan, O_RDONLY) == (mqd_t)-1 && errno == ENOENT);
	q = mq_open(name, O_RDONLY);
	assert_true(q != (mqd_t)-1);
	mq_close(q);
	q = mq_open(mine, O_RDONLY);
	assert_true(q != (mqd_t)-1);
	mq_close(q);
	mq_unlink(mine);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_session_runtime_dir_created_0700, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_runtime_dir_refused_when_not_private, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_session_publish_read_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_sweep_frees_only_orphans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_damaged_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_list_skips_junk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_start_time_odd_comm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_client_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_client_dead_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_client_timeout_and_close, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
