/*
 * Session files: how a client finds a session's coordinator and buffer, and
 * how a new coordinator tells a live session from one left by a crash.
 *
 * The runtime folder belongs to one user (0700, checked on every use), so
 * another user can neither read a session file nor plant one.  A record is
 * published atomically: written to a private temporary name, then link()ed
 * to its final name, which fails if that name exists.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "bus/bus.h"
#include "reel/error.h"
#include "bus/session.h"

bool reel__session_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-';
}

int reel_session_name_check(const char *session)
{
	size_t n;

	if (!session)
		return REEL_E_SESSION;
	n = strnlen(session, REEL_SESSION_NAME_MAX + 1);
	if (n == 0 || n > REEL_SESSION_NAME_MAX)
		return REEL_E_SESSION;
	for (size_t i = 0; i < n; i++)
		if (!reel__session_char_ok(session[i]))
			return REEL_E_SESSION;
	return 0;
}

static int check_dir(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077))
		return REEL_E_RUNDIR;
	return 0;
}

int reel_runtime_dir(char *buf, size_t len)
{
	const char *env = getenv("REEL_RUNTIME_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n, r;

	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (xdg && *xdg && check_dir(xdg) == 0)
		n = snprintf(buf, len, "%s/reel", xdg);
	else
		n = snprintf(buf, len, "/tmp/reel-%u", (unsigned)getuid());
	if (n <= 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	r = check_dir(buf);
	return r;
}

int reel_process_start_time(pid_t pid, uint64_t *ret_start)
{
	char path[64], text[1024], *p;
	unsigned long long start;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	text[n] = 0;
	/* The command name may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(text, ')');
	if (!p)
		return -EIO;
	/* Field 3 follows ") "; the start time is field 22. */
	for (field = 2; field < 22 && *p; p++)
		if (*p == ' ')
			field++;
	if (field != 22 || sscanf(p, "%llu", &start) != 1)
		return -EIO;
	*ret_start = start;
	return 0;
}

static int record_path(char *buf, size_t len, const char *name, const char *suffix)
{
	char dir[REEL_PATH_MAX - 128];
	int r = reel_session_name_check(name);
	int n;

	if (r < 0)
		return r;
	r = reel_runtime_dir(dir, sizeof(dir));
	if (r < 0)
		return r;
	n = snprintf(buf, len, "%s/%s%s", dir, name, suffix);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* Paths may hold any byte but NUL; a line-based file needs them escaped. */
static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c == '%')
			fprintf(f, "%%%02X", c);
		else
			fputc(c, f);
	}
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Write the record to a private temporary name, then link it (exclusive) or rename it (replace). */
static int write_record(const struct reel_session_record *record, bool replace)
{
	char final[REEL_PATH_MAX], tmp[REEL_PATH_MAX + 32];
	FILE *f;
	int fd, r;

	r = record_path(final, sizeof(final), record->name, ".session");
	if (r < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", final, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		goto out_unlink;
	}
	fprintf(f, "pid=%ld\nstart=%" PRIu64 "\nqueues=%016" PRIx64 "\nbuffer=", (long)record->pid,
	        record->start_time, record->queue_nonce);
	put_escaped(f, record->buffer_path);
	fputs("\nsource=", f);
	put_escaped(f, record->source_path);
	fputc('\n', f);
	if (fclose(f) != 0) {
		r = -EIO;
		goto out_unlink;
	}
	if (replace)
		return rename(tmp, final) < 0 ? -errno : 0;
	r = link(tmp, final) < 0 ? -errno : 0;
out_unlink:
	unlink(tmp);
	return r;
}

int reel_session_publish(const struct reel_session_record *record)
{
	return write_record(record, false);
}

int reel_session_update(const struct reel_session_record *record)
{
	struct reel_session_record now;
	int r = reel_session_read(record->name, &now);

	if (r < 0)
		return r;
	if (now.pid != record->pid || now.start_time != record->start_time)
		return -ESTALE;
	return write_record(record, true);
}

/* Unescape value into dst when it fits, holds no raw control characters and no bad escape. */
static int take_value(char *dst, size_t len, const char *value)
{
	size_t n = 0;

	for (const char *p = value; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f)
			return REEL_E_SESSIONFILE;
		if (c == '%') {
			int hi = hex(p[1]), lo = hi < 0 ? -1 : hex(p[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return REEL_E_SESSIONFILE;
			c = (unsigned char)(hi * 16 + lo);
			p += 2;
		}
		if (n + 1 >= len)
			return REEL_E_SESSIONFILE;
		dst[n++] = (char)c;
	}
	if (n == 0)
		return REEL_E_SESSIONFILE;
	dst[n] = 0;
	return 0;
}

int reel_session_read(const char *name, struct reel_session_record *ret_record)
{
	/* Room for two paths escaped at three bytes per byte. */
	char path[REEL_PATH_MAX], text[8 * REEL_PATH_MAX];
	struct reel_session_record rec;
	char *line, *save = NULL;
	struct stat st;
	int fd, r, seen = 0;
	ssize_t n;

	r = record_path(path, sizeof(path), name, ".session");
	if (r < 0)
		return r;
	/* O_NONBLOCK: a FIFO planted under the name must not hang `reel ls`. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? REEL_E_NOSESSION : -errno;
	/*
	 * A file larger than any record is damaged: reading only its beginning
	 * would accept a file whose end says something else.
	 */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size >= (off_t)sizeof(text)) {
		close(fd);
		return REEL_E_SESSIONFILE;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return REEL_E_SESSIONFILE;
	text[n] = 0;
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		char *end;
		if (!eq)
			return REEL_E_SESSIONFILE;
		*eq++ = 0;
		if (!strcmp(line, "pid")) {
			long v = strtol(eq, &end, 10);
			if (*end || v <= 0 || v > 0x7fffffff)
				return REEL_E_SESSIONFILE;
			rec.pid = (pid_t)v;
			seen |= 1;
		} else if (!strcmp(line, "start")) {
			rec.start_time = strtoull(eq, &end, 10);
			if (*end || !isdigit((unsigned char)*eq))
				return REEL_E_SESSIONFILE;
			seen |= 2;
		} else if (!strcmp(line, "queues")) {
			rec.queue_nonce = strtoull(eq, &end, 16);
			if (*end || strlen(eq) != 16 || rec.queue_nonce == 0)
				return REEL_E_SESSIONFILE;
			seen |= 16;
		} else if (!strcmp(line, "buffer")) {
			if (take_value(rec.buffer_path, sizeof(rec.buffer_path), eq) < 0)
				return REEL_E_SESSIONFILE;
			seen |= 4;
		} else if (!strcmp(line, "source")) {
			if (take_value(rec.source_path, sizeof(rec.source_path), eq) < 0)
				return REEL_E_SESSIONFILE;
			seen |= 8;
		}
	}
	if (seen != 31)
		return REEL_E_SESSIONFILE;
	*ret_record = rec;
	return 0;
}

int reel_session_alive(const struct reel_session_record *record)
{
	uint64_t start;

	if (kill(record->pid, 0) < 0 && errno != EPERM)
		return 0;
	if (reel_process_start_time(record->pid, &start) < 0)
		return 0;
	return start == record->start_time;
}

int reel_session_remove(const char *name)
{
	struct reel_session_record rec;
	char path[REEL_PATH_MAX], q[REEL_QUEUE_NAME_MAX];
	int r = record_path(path, sizeof(path), name, ".session");

	if (r < 0)
		return r;
	/* The queue names are known only from the record; a damaged one leaves them to the sweep. */
	if (reel_session_read(name, &rec) == 0)
		for (unsigned role = 0; role < REEL_ROLE_CLIENT; role++)
			if (reel_queue_name_of(q, sizeof(q), &rec, role) == 0)
				mq_unlink(q);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Split "reel.<uid>.<session>.<nonce>.<rest>" into its parts; false when it is not one of ours. */
static bool parse_queue(char *name, char **ret_session, uint64_t *ret_nonce, char **ret_rest)
{
	char prefix[32], *session, *nonce, *rest, *end;
	int n = snprintf(prefix, sizeof(prefix), "reel.%u.", (unsigned)getuid());

	if (strncmp(name, prefix, (size_t)n))
		return false;
	session = name + n;
	nonce = strchr(session, '.');
	if (!nonce)
		return false;
	*nonce++ = 0;
	rest = strchr(nonce, '.');
	if (!rest || rest - nonce != 16)
		return false;
	*rest++ = 0;
	*ret_nonce = strtoull(nonce, &end, 16);
	if (*end || reel_session_name_check(session) < 0)
		return false;
	*ret_session = session;
	*ret_rest = rest;
	return true;
}

/*
 * 1 when queue `rest` ("<role>.<pid>" or "r<pid>.<tag>") may still be used,
 * 0 when its process is dead.  The pid decides, not a session file: a
 * session of another runtime folder (another REEL_RUNTIME_DIR) is just as
 * live.  A pid taken again keeps an orphan a while longer, never the reverse.
 */
static int queue_in_use(const char *rest)
{
	const char *dot = strchr(rest, '.'), *digits;
	char *end;
	long pid;

	if (!dot)
		return 1;
	if (rest[0] == 'r' && rest[1] >= '0' && rest[1] <= '9') {
		digits = rest + 1;
	} else {
		bool role = false;
		for (unsigned r = 0; r < REEL_ROLE_CLIENT; r++)
			role |= strlen(reel_role_name(r)) == (size_t)(dot - rest) &&
			        !strncmp(rest, reel_role_name(r), (size_t)(dot - rest));
		if (!role)
			return 1;
		digits = dot + 1;
	}
	pid = strtol(digits, &end, 10);
	if (pid <= 0 || (end != dot && *end != 0))
		return 1;
	return !(kill((pid_t)pid, 0) < 0 && errno == ESRCH);
}

int reel_session_sweep(unsigned *ret_removed)
{
	struct statfs fs;
	struct dirent *de;
	unsigned removed = 0;
	DIR *d;

	/* Names can only be listed where the queue file system is mounted (its magic, from the kernel's ipc/mqueue.c). */
	if (statfs(REEL_MQUEUE_DIR, &fs) < 0 || fs.f_type != 0x19800202)
		return -ENOTSUP;
	d = opendir(REEL_MQUEUE_DIR);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char copy[NAME_MAX + 1], *session, *rest, path[NAME_MAX + 2];
		struct stat st;
		uint64_t nonce;

		snprintf(copy, sizeof(copy), "%s", de->d_name);
		if (!parse_queue(copy, &session, &nonce, &rest))
			continue;
		/* Another user's queue under our prefix is a squat: not ours to judge (nor to remove). */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_uid != getuid())
			continue;
		if (queue_in_use(rest))
			continue;
		snprintf(path, sizeof(path), "/%s", de->d_name);
		if (mq_unlink(path) == 0)
			removed++;
	}
	closedir(d);
	if (ret_removed)
		*ret_removed = removed;
	return 0;
}

int reel_session_lock(int *ret_fd)
{
	char dir[REEL_PATH_MAX], path[REEL_PATH_MAX + 8];
	int fd, r;

	r = reel_runtime_dir(dir, sizeof(dir));
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = -errno;
			close(fd);
			return r;
		}
	}
	*ret_fd = fd;
	return 0;
}

void reel_session_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

int reel_session_release(const struct reel_session_record *record)
{
	struct reel_session_record now;
	int r = reel_session_read(record->name, &now);

	if (r < 0 && r != REEL_E_SESSIONFILE)
		return r == REEL_E_NOSESSION ? -ESTALE : r;
	if (r == 0 && (now.pid != record->pid || now.start_time != record->start_time))
		return -ESTALE;
	return reel_session_remove(record->name);
}

int reel_session_list(int (*fn)(const struct reel_session_record *record, void *userdata),
                      void *userdata)
{
	char dir[REEL_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r;

	r = reel_runtime_dir(dir, sizeof(dir));
	if (r < 0)
		return r;
	d = opendir(dir);
	if (!d)
		return -errno;
	r = 0;
	while ((de = readdir(d))) {
		struct reel_session_record rec;
		char name[REEL_SESSION_NAME_MAX + 1];
		size_t n = strlen(de->d_name);

		if (n <= 8 || n - 8 > REEL_SESSION_NAME_MAX || strcmp(de->d_name + n - 8, ".session"))
			continue;
		memcpy(name, de->d_name, n - 8);
		name[n - 8] = 0;
		if (reel_session_read(name, &rec) < 0)
			continue;
		if (fn(&rec, userdata)) {
			r = 1;
			break;
		}
	}
	closedir(d);
	return r;
}

int reel_session_log_path(const char *buffer_path, char *buf, size_t len)
{
	size_t n = strlen(buffer_path);
	int w;

	if (n > 5 && !strcmp(buffer_path + n - 5, ".reel"))
		w = snprintf(buf, len, "%.*s.log", (int)(n - 5), buffer_path);
	else
		w = snprintf(buf, len, "%s.log", buffer_path);
	return w > 0 && (size_t)w < len ? 0 : -ENAMETOOLONG;
}
