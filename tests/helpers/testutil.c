/*
 * Test helpers; see testutil.h.  Failures here abort the test run, since a
 * test that cannot set itself up must not pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "testutil.h"

char *tu_tempdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/reel-test-XXXXXX", base) < 0)
		abort();
	if (!mkdtemp(path)) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

void tu_rmrf(const char *path)
{
	if (path)
		nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_session_name(char *buf, size_t len)
{
	static unsigned counter;
	snprintf(buf, len, "t%ldx%u", (long)getpid(), counter++);
}

const char *tu_clip(const char *name)
{
	static char path[4096];
	const char *dir = getenv("REEL_TEST_CLIPS");

	if (!dir)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, R_OK) == 0 ? path : NULL;
}

double tu_now_ms(void)
{
	return reel__now_ms();
}

int tu_wait(pid_t pid, int timeout_ms)
{
	double deadline = tu_now_ms() + timeout_ms;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (tu_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fprintf(stderr, "child %ld did not exit in %d ms, killed\n", (long)pid, timeout_ms);
			return -1;
		}
		usleep(1000);
	}
}

int tu_reap(pid_t *pids, size_t n, pid_t pid, int timeout_ms)
{
	int status = tu_wait(pid, timeout_ms);

	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			pids[i] = 0;
	return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void tu_kill_all(const pid_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
}

static char *slurp(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);

	for (;;) {
		ssize_t n;
		if (len + 1 >= cap)
			buf = realloc(buf, cap *= 2);
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	return buf;
}

int tu_run(char *const argv[], char **ret_out, char **ret_err)
{
	char errpath[] = "/tmp/reel-test-stderr-XXXXXX";
	int out[2], errfd, status;
	pid_t pid;
	char *o, *e;

	errfd = mkstemp(errpath);
	if (errfd < 0 || pipe(out) < 0)
		abort();
	unlink(errpath);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(errfd, 2);
		close(out[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	o = slurp(out[0]);
	close(out[0]);
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	lseek(errfd, 0, SEEK_SET);
	e = slurp(errfd);
	close(errfd);
	if (ret_out) *ret_out = o; else free(o);
	if (ret_err) *ret_err = e; else free(e);
	if (status < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}
