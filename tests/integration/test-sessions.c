/*
 * Sessions as a person manages them with the real `reel` binary: default
 * names for two videos of the same file name, stopped buffers listed,
 * removed and collected, a cache size on resume, Ctrl-C, and the command
 * line's habits (exit codes, hints, --version).  Each test has its own
 * runtime and buffer folders.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus/bus.h"
#include "bus/session.h"
#include "reel/client.h"
#include "reel/error.h"
#include "reel/ops.h"
#include "testutil.h"

struct fixture {
	char *dir;
	char buffers[4096];
	pid_t coords[4];
};

static const char *reel_bin(void)
{
	const char *bin = getenv("REEL_BIN");
	assert_non_null(bin);
	return bin;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = tu_private_env();
	snprintf(f->buffers, sizeof(f->buffers), "%s", getenv("REEL_BUFFER_DIR"));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_kill_all(f->coords, sizeof(f->coords) / sizeof(f->coords[0]));
	if (getenv("REEL_TEST_KEEP"))
		fprintf(stderr, "# kept %s\n", f->dir);
	else
		tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* Run reel with the given arguments (NULL-terminated); its exit code, output in out and err. */
static int reel(char **out, char **err, ...)
{
	char *argv[32];
	va_list ap;
	int n = 0, st;

	argv[n++] = (char *)reel_bin();
	va_start(ap, err);
	while (n < 31 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	st = tu_run(argv, out, err);
	assert_true(st >= 0);
	return st;
}

/* A copy of a test clip at dir/sub/name (a file of the same name in another folder). */
static void copy_clip(const char *clip, const char *dir, const char *sub, const char *name,
                      char *path, size_t len)
{
	char folder[8192];
	size_t n;
	char *data = tu_slurp(tu_clip(clip), &n);

	assert_non_null(data);
	snprintf(folder, sizeof(folder), "%s/%s", dir, sub);
	mkdir(folder, 0700);
	snprintf(path, len, "%s/%s", folder, name);
	assert_int_equal(tu_write_file(path, data, n), 0);
	free(data);
}

/* `reel open VIDEO --no-stages --no-preview [extra]` in the background; waits until it is live. */
static pid_t open_session(const char *video, const char *expect_session, const char *extra)
{
	char *argv[] = { (char *)reel_bin(), "open", (char *)video, "--no-stages", "--no-preview",
		         (char *)extra, NULL };
	struct reel_client *c;
	pid_t pid = tu_spawn(argv, NULL);

	assert_true(pid > 0);
	for (int i = 0; i < 2000; i++) {
		int st;
		if (reel_client_connect(expect_session, &c) == 0) {
			tu_session_remember(expect_session);
			reel_client_close(c);
			return pid;
		}
		if (waitpid(pid, &st, WNOHANG) == pid)
			fail_msg("reel open %s exited early (status %d)", video, st);
		usleep(5000);
	}
	fail_msg("session %s never became ready", expect_session);
	return -1;
}

static void stop_session(const char *name, pid_t *pid)
{
	char *out, *err;

	assert_int_equal(reel(&out, &err, "stop", name, NULL), 0);
	free(out);
	free(err);
	assert_int_equal(tu_wait(*pid, 10000), 0);
	*pid = 0;
}

static bool exists(const char *dir, const char *name)
{
	char path[8192];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* The session name `reel ls --json` gives for a source path; "" when none. */
static void session_of(const char *json, const char *source, char *name, size_t len)
{
	char key[4200];
	const char *p = strstr(json, source), *s;

	name[0] = 0;
	if (!p)
		return;
	/* Objects start with "session"; find the one before the source. */
	snprintf(key, sizeof(key), "{\"session\":\"");
	for (s = p; s > json && strncmp(s, key, strlen(key)); s--)
		;
	assert_true(s > json || !strncmp(s, key, strlen(key)));
	s += strlen(key);
	snprintf(name, len, "%.*s", (int)(strchr(s, '"') - s), s);
}

static void test_sessions_same_file_name_in_two_folders(void **state)
{
	struct fixture *f = *state;
	char a[16384], b[16384], *out, *err, name_a[128], name_b[128];

	copy_clip("noaudio.mp4", f->dir, "one", "clip.mp4", a, sizeof(a));
	copy_clip("h264-bframes.mp4", f->dir, "two", "clip.mp4", b, sizeof(b));

	/* Both live at once, under different default names; neither refused. */
	f->coords[0] = open_session(a, "clip", NULL);
	assert_int_equal(reel(&out, &err, "ls", "--json", NULL), 0);
	free(err);
	free(out);
	{
		char *argv[] = { (char *)reel_bin(), "open", b, "--no-stages", "--no-preview", NULL };
		f->coords[1] = tu_spawn(argv, NULL);
	}
	for (int i = 0; i < 2000; i++) {
		assert_int_equal(reel(&out, &err, "ls", "--json", NULL), 0);
		free(err);
		session_of(out, b, name_b, sizeof(name_b));
		free(out);
		if (name_b[0])
			break;
		usleep(5000);
	}
	assert_true(name_b[0]);
	assert_string_not_equal(name_b, "clip");
	assert_true(strncmp(name_b, "clip-", 5) == 0);

	/* Opening the first again names the live session it is in. */
	assert_int_equal(reel(&out, &err, "open", a, "--no-stages", "--no-preview", NULL), 2);
	assert_non_null(strstr(err, "open already as session clip"));
	free(out);
	free(err);

	stop_session("clip", &f->coords[0]);
	stop_session(name_b, &f->coords[1]);
	assert_true(exists(f->buffers, "clip.reel"));

	/* Each reopens its own buffer, whichever comes first. */
	f->coords[1] = open_session(b, name_b, NULL);
	f->coords[0] = open_session(a, "clip", NULL);
	assert_int_equal(reel(&out, &err, "ls", "--json", NULL), 0);
	session_of(out, a, name_a, sizeof(name_a));
	assert_string_equal(name_a, "clip");
	free(out);
	free(err);
	stop_session("clip", &f->coords[0]);
	stop_session(name_b, &f->coords[1]);
	{
		char buf[256];
		snprintf(buf, sizeof(buf), "%s.reel", name_b);
		assert_true(exists(f->buffers, buf));
	}
}

static void test_sessions_ls_all_rm_refuses_live_and_removes_stopped(void **state)
{
	struct fixture *f = *state;
	char a[16384], junk[8192], *out, *err;

	copy_clip("noaudio.mp4", f->dir, "src", "walk.mp4", a, sizeof(a));
	f->coords[0] = open_session(a, "walk", NULL);

	/* Live: listed as live, refused by rm (exit 1), left as it is. */
	assert_int_equal(reel(&out, &err, "ls", "--all", NULL), 0);
	assert_non_null(strstr(out, "walk"));
	assert_non_null(strstr(out, "live"));
	free(out);
	free(err);
	assert_int_equal(reel(&out, &err, "rm", "walk", NULL), 1);
	assert_non_null(strstr(err, "live"));
	assert_non_null(strstr(err, "reel stop walk"));
	free(out);
	free(err);
	assert_true(exists(f->buffers, "walk.reel"));

	stop_session("walk", &f->coords[0]);
	assert_int_equal(reel(&out, &err, "ls", NULL), 0);
	assert_null(strstr(out, "walk"));
	free(out);
	free(err);
	assert_int_equal(reel(&out, &err, "ls", "--all", "--json", NULL), 0);
	assert_non_null(strstr(out, "\"session\":\"walk\",\"state\":\"stopped\""));
	assert_non_null(strstr(out, a));
	assert_non_null(strstr(out, "\"source_state\":\"present\""));
	free(out);
	free(err);

	/* A file that is not a buffer is never removed, whatever its name. */
	snprintf(junk, sizeof(junk), "%s/notes.reel", f->dir);
	assert_int_equal(tu_write_file(junk, "hello", 5), 0);
	assert_int_equal(reel(&out, &err, "rm", junk, NULL), 2);
	assert_non_null(strstr(err, "not a reel buffer"));
	free(out);
	free(err);
	assert_int_equal(access(junk, F_OK), 0);
	assert_int_equal(reel(&out, &err, "rm", "nosuch", NULL), 2);
	assert_non_null(strstr(err, "nosuch"));
	free(out);
	free(err);

	assert_int_equal(reel(&out, &err, "rm", "walk", NULL), 0);
	free(out);
	free(err);
	assert_false(exists(f->buffers, "walk.reel"));
	assert_false(exists(f->buffers, "walk.log"));
	/* The source itself is untouched. */
	assert_int_equal(access(a, F_OK), 0);
}

static void age_files(const char *dir, const char *stem, time_t seconds)
{
	const char *ext[] = { ".reel", ".log" };

	for (int i = 0; i < 2; i++) {
		char path[8192];
		struct timespec t[2];
		clock_gettime(CLOCK_REALTIME, &t[0]);
		t[0].tv_sec -= seconds;
		t[1] = t[0];
		snprintf(path, sizeof(path), "%s/%s%s", dir, stem, ext[i]);
		utimensat(AT_FDCWD, path, t, 0);
	}
}

static void test_sessions_gc_removes_gone_sources_and_old_buffers(void **state)
{
	struct fixture *f = *state;
	char gone[16384], old[16384], keep[16384], live[16384], *out, *err;

	copy_clip("noaudio.mp4", f->dir, "src", "gone.mp4", gone, sizeof(gone));
	copy_clip("h264-bframes.mp4", f->dir, "src", "old.mp4", old, sizeof(old));
	copy_clip("vfr.mkv", f->dir, "src", "keep.mkv", keep, sizeof(keep));
	copy_clip("long.mp4", f->dir, "src", "live.mp4", live, sizeof(live));
	f->coords[0] = open_session(gone, "gone", NULL);
	stop_session("gone", &f->coords[0]);
	f->coords[0] = open_session(old, "old", NULL);
	stop_session("old", &f->coords[0]);
	f->coords[0] = open_session(keep, "keep", NULL);
	stop_session("keep", &f->coords[0]);
	f->coords[1] = open_session(live, "live", NULL);
	unlink(gone);
	age_files(f->buffers, "old", 10 * 86400);
	/* A live session's source going away does not make gc touch its buffer. */
	unlink(live);

	/* A dry run names what would go and removes nothing. */
	assert_int_equal(reel(&out, &err, "gc", "--dry-run", "--older-than", "7d", NULL), 0);
	assert_non_null(strstr(out, "would remove gone"));
	assert_non_null(strstr(out, "would remove old"));
	assert_null(strstr(out, "keep"));
	assert_null(strstr(out, "live"));
	free(out);
	free(err);
	assert_true(exists(f->buffers, "gone.reel") && exists(f->buffers, "old.reel"));

	/* Without an age, only buffers whose source is gone. */
	assert_int_equal(reel(&out, &err, "gc", "--json", NULL), 0);
	assert_non_null(strstr(out, "\"session\":\"gone\""));
	assert_non_null(strstr(out, "\"reason\":\"source gone\""));
	free(out);
	free(err);
	assert_false(exists(f->buffers, "gone.reel"));
	assert_true(exists(f->buffers, "old.reel"));

	assert_int_equal(reel(&out, &err, "gc", "--older-than", "7d", NULL), 0);
	assert_non_null(strstr(out, "removed old"));
	free(out);
	free(err);
	assert_false(exists(f->buffers, "old.reel"));
	assert_true(exists(f->buffers, "keep.reel"));
	assert_true(exists(f->buffers, "live.reel"));

	assert_int_equal(reel(&out, &err, "gc", "--older-than", "soon", NULL), 2);
	assert_non_null(strstr(err, "--older-than"));
	free(out);
	free(err);
	stop_session("live", &f->coords[1]);
}

static void test_sessions_cache_on_resume_refused_unless_it_fits(void **state)
{
	struct fixture *f = *state;
	char a[16384], *out, *err;
	struct stat before, after;
	char path[8192];

	copy_clip("long.mp4", f->dir, "src", "cached.mp4", a, sizeof(a));
	f->coords[0] = open_session(a, "cached", "--cache=1M");
	stop_session("cached", &f->coords[0]);
	snprintf(path, sizeof(path), "%s/cached.reel", f->buffers);
	assert_int_equal(stat(path, &before), 0);

	/* Another size: refused with a line that names --cache, the buffer untouched. */
	assert_int_equal(reel(&out, &err, "open", a, "--no-stages", "--no-preview", "--cache", "64M",
	                      NULL), 2);
	assert_non_null(strstr(err, "--cache"));
	assert_non_null(strstr(err, "cached.reel"));
	assert_int_equal((int)(strchr(err, '\n') - err), (int)strlen(err) - 1);
	free(out);
	free(err);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_size, after.st_size);

	/* The same size, or none, resumes it. */
	f->coords[0] = open_session(a, "cached", "--cache=1M");
	stop_session("cached", &f->coords[0]);
	f->coords[0] = open_session(a, "cached", NULL);
	stop_session("cached", &f->coords[0]);
}

static void test_sessions_sigint_exits_130_after_a_clean_stop(void **state)
{
	struct fixture *f = *state;
	char a[16384], name[REEL_QUEUE_NAME_MAX];
	struct reel_session_record rec;
	int st;

	copy_clip("noaudio.mp4", f->dir, "src", "ctrlc.mp4", a, sizeof(a));
	f->coords[0] = open_session(a, "ctrlc", NULL);
	assert_int_equal(kill(f->coords[0], SIGINT), 0);
	st = tu_wait(f->coords[0], 10000);
	f->coords[0] = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 130);
	assert_int_equal(reel_session_read("ctrlc", &rec), REEL_E_NOSESSION);
	assert_false(tu_session_queue_left("ctrlc", name, sizeof(name)));
	assert_true(exists(f->buffers, "ctrlc.reel"));
}

static void test_sessions_command_line_habits(void **state)
{
	char *out, *err;

	(void)state;
	assert_int_equal(reel(&out, &err, "--version", NULL), 0);
	assert_true(strncmp(out, "reel ", 5) == 0);
	free(out);
	free(err);
	assert_int_equal(reel(&out, &err, "stauts", NULL), 2);
	assert_non_null(strstr(err, "did you mean 'status'"));
	assert_int_equal((int)(strchr(err, '\n') - err), (int)strlen(err) - 1);
	free(out);
	free(err);
	assert_int_equal(reel(&out, &err, "ls", "--bogus", NULL), 2);
	assert_non_null(strstr(err, "--bogus"));
	free(out);
	free(err);
	assert_int_equal(reel(&out, &err, "status", "nosuch", NULL), 2);
	assert_non_null(strstr(err, "nosuch"));
	free(out);
	free(err);
	assert_int_equal(reel(&out, &err, "open", "/nonexistent/video.mp4", "--no-preview", NULL), 2);
	assert_non_null(strstr(err, "/nonexistent/video.mp4"));
	free(out);
	free(err);
	/* --verbose is every command's, before or after it. */
	assert_int_equal(reel(&out, &err, "--verbose", "ls", NULL), 0);
	free(out);
	free(err);
	assert_int_equal(reel(&out, &err, "ls", "--verbose", NULL), 0);
	free(out);
	free(err);
	/* Every command answers --help on standard output with exit 0. */
	{
		const char *cmds[] = { "open", "status", "ls", "stop", "frame", "send", "undo", "redo",
			               "edits", "logs", "export", "inspect", "rm", "gc", "demo" };
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			assert_int_equal(reel(&out, &err, cmds[i], "--help", NULL), 0);
			assert_non_null(strstr(out, "usage: reel"));
			free(out);
			free(err);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sessions_same_file_name_in_two_folders, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_sessions_ls_all_rm_refuses_live_and_removes_stopped,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions_gc_removes_gone_sources_and_old_buffers,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions_cache_on_resume_refused_unless_it_fits,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions_sigint_exits_130_after_a_clean_stop, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_sessions_command_line_habits, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
