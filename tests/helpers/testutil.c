/*
 * Test helpers; see testutil.h.  Failures here abort the test run, since a
 * test that cannot set itself up must not pass.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
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

char *tu_private_env(void)
{
	char *dir = tu_tempdir(), *run, *buffers;

	if (asprintf(&run, "%s/run", dir) < 0 || asprintf(&buffers, "%s/buffers", dir) < 0)
		abort();
	if (mkdir(run, 0700) < 0 || mkdir(buffers, 0700) < 0) {
		perror("mkdir");
		abort();
	}
	setenv("REEL_RUNTIME_DIR", run, 1);
	setenv("REEL_BUFFER_DIR", buffers, 1);
	free(run);
	free(buffers);
	return dir;
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

static char *slurp_len(int fd, size_t *ret_len)
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
	if (ret_len)
		*ret_len = len;
	return buf;
}

static char *slurp(int fd)
{
	return slurp_len(fd, NULL);
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

pid_t tu_spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid < 0)
		abort();
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);

		if (in >= 0 && dup2(in, 0) == 0 && in > 2)
			close(in);
		if (log) {
			int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				if (fd > 2)
					close(fd);
			}
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

char *tu_slurp(const char *path, size_t *ret_len)
{
	int fd = open(path, O_RDONLY);
	char *buf;

	if (fd < 0)
		return NULL;
	buf = slurp_len(fd, ret_len);
	close(fd);
	return buf;
}

int tu_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	const char *p = data;

	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? -errno : -EIO;
			close(fd);
			return e;
		}
		p += n;
		len -= (size_t)n;
	}
	return close(fd) < 0 ? -errno : 0;
}

/* /proc/<pid>/<what> read whole (arguments are NUL-separated); its length, or -1. */
static ssize_t proc_read(long pid, const char *what, char *buf, size_t cap)
{
	char path[64];
	size_t len = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/%s", pid, what);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = 0;
	return (ssize_t)len;
}

size_t tu_session_procs(const char *session, pid_t *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;
	static char buf[65536];

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		long pid;
		ssize_t len;
		bool found = false;
		char *end;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid == (long)getpid())
			continue;
		/* A zombie's command line is empty: it is already gone but for its exit status. */
		len = proc_read(pid, "cmdline", buf, sizeof(buf));
		if (len <= 0)
			continue;
		for (char *a = buf; a < buf + len && !found; a += strlen(a) + 1) {
			char *next = a + strlen(a) + 1;

			if (!strcmp(a, "--session") && next < buf + len && !strcmp(next, session))
				found = true;
			else if (!strncmp(a, "--session=", 10) && !strcmp(a + 10, session))
				found = true;
		}
		if (found) {
			if (out && n < max)
				out[n] = (pid_t)pid;
			n++;
		}
	}
	closedir(d);
	return n;
}

size_t tu_reap_adopted(const pid_t *keep, size_t nkeep)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t reaped = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char stat[1024], *close_paren, state;
		long pid, ppid;
		bool kept = false;
		char *end;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || proc_read(pid, "stat", stat, sizeof(stat)) <= 0)
			continue;
		/* pid (comm) state ppid ...: comm may hold anything, so parse after the last ')'. */
		close_paren = strrchr(stat, ')');
		if (!close_paren || sscanf(close_paren + 1, " %c %ld", &state, &ppid) != 2)
			continue;
		if (ppid != (long)getpid() || state != 'Z')
			continue;
		for (size_t i = 0; i < nkeep; i++)
			kept |= keep[i] == (pid_t)pid;
		if (!kept && waitpid((pid_t)pid, NULL, WNOHANG) == (pid_t)pid)
			reaped++;
	}
	closedir(d);
	return reaped;
}

int tu_json_u64(const char *json, const char *key, unsigned long long *ret)
{
	char pat[128];
	const char *p;
	char *end;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = json ? strstr(json, pat) : NULL;
	if (!p)
		return -1;
	p += strlen(pat);
	if (!isdigit((unsigned char)*p))
		return -1;
	*ret = strtoull(p, &end, 10);
	return 0;
}

/* ------------------------------------------------------ queue names */

#include <mqueue.h>

#include "bus/bus.h"
#include "bus/session.h"

/*
 * Queue names hold a random nonce published only in the session file, so
 * once a session is gone its names cannot be worked out again: a test
 * remembers them while the session is live.
 */
static struct reel_session_record remembered[32];
static unsigned nremembered;

void tu_session_remember(const char *session)
{
	struct reel_session_record rec;

	if (reel_session_read(session, &rec) < 0)
		return;
	for (unsigned i = 0; i < nremembered; i++)
		if (!strcmp(remembered[i].name, session) &&
		    remembered[i].queue_nonce == rec.queue_nonce)
			return;
	remembered[nremembered++ % 32] = rec;
	if (nremembered > 32)
		nremembered = 32;
}

int tu_session_queue_left(const char *session, char *buf, size_t len)
{
	for (unsigned i = 0; i < nremembered; i++) {
		if (strcmp(remembered[i].name, session))
			continue;
		for (unsigned role = 0; role < REEL_ROLE_CLIENT; role++) {
			mqd_t q;
			if (reel_queue_name_of(buf, len, &remembered[i], role) < 0)
				continue;
			q = mq_open(buf, O_RDONLY);
			if (q != (mqd_t)-1) {
				mq_close(q);
				return 1;
			}
		}
	}
	return 0;
}
