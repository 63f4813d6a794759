/*
 * The session log: one text file next to the buffer file (cut1.reel ->
 * cut1.log), appended to by the coordinator alone.  It holds the
 * coordinator's own lines and those the stages left in their rings of the
 * stage table, drained every few hundred milliseconds and whenever a stage
 * goes, so nothing a dead stage said is lost.  `reel logs` prints it.
 *
 * Lines look like
 *     2026-12-02 07:41:03.123 effect[1234] warning: edit 5 failed on ...
 * The file is opened O_APPEND | O_NOFOLLOW, mode 0600, and written with one
 * write() per line under a mutex (the materialiser thread logs too).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "buffer/stagetab.h"
#include "coord-private.h"
#include "reel/error.h"
#include "reel/log.h"

static const char *level_word(uint32_t level)
{
	switch (level) {
	case REEL_LOG_ERROR: return "error: ";
	case REEL_LOG_WARN: return "warning: ";
	case REEL_LOG_DEBUG: return "debug: ";
	default: return "";
	}
}

int coord_log_open(struct reel_coord *c)
{
	char path[REEL_PATH_MAX];
	struct stat st;
	int r;

	r = reel_session_log_path(c->buffer_path, path, sizeof(path));
	if (r < 0)
		return r;
	c->log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (c->log_fd < 0)
		return -errno;
	/* Another user's file, planted where ours goes, is not written to. */
	if (fstat(c->log_fd, &st) < 0 || st.st_uid != getuid() || !S_ISREG(st.st_mode)) {
		close(c->log_fd);
		c->log_fd = -1;
		return -EPERM;
	}
	pthread_mutex_init(&c->log_lock, NULL);
	c->log_lock_ready = true;
	return 0;
}

void coord_log_close(struct reel_coord *c)
{
	if (c->log_fd >= 0)
		close(c->log_fd);
	c->log_fd = -1;
	if (c->log_lock_ready)
		pthread_mutex_destroy(&c->log_lock);
	c->log_lock_ready = false;
}

static void write_line(struct reel_coord *c, const struct reel_log_line *line)
{
	char buf[512], when[32];
	time_t secs = (time_t)(line->time_ns / 1000000000);
	struct tm tm;
	int n;

	if (c->log_fd < 0)
		return;
	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(buf, sizeof(buf), "%s.%03d %s[%u] %s%s\n", when,
	             (int)(line->time_ns / 1000000 % 1000), line->component, line->pid,
	             level_word(line->level), line->text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf)) {
		n = sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	pthread_mutex_lock(&c->log_lock);
	/* One write per line: with O_APPEND, lines never interleave mid-way. */
	if (write(c->log_fd, buf, (size_t)n) < 0) {
		/* A log that cannot be written is not a reason to stop editing video. */
	}
	pthread_mutex_unlock(&c->log_lock);
}

void reel_coord_log(struct reel_coord *c, int level, const char *component, const char *text)
{
	struct reel_log_line line;
	struct timespec ts;

	if (!c || c->log_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	line.time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	line.level = (uint32_t)level;
	line.pid = (uint32_t)getpid();
	snprintf(line.component, sizeof(line.component), "%s", component ? component : "reel");
	snprintf(line.text, sizeof(line.text), "%s", text);
	write_line(c, &line);
	/* The coordinator's own errors show in `reel status` through its entry. */
	if (level == REEL_LOG_ERROR) {
		struct reel__stage_entry *e = reel_stagetab_entry(c->buffer, REEL_STAGETAB_COORD);
		if (e) {
			pthread_mutex_lock(&c->log_lock);
			e->errors++;
			snprintf(e->last_error, sizeof(e->last_error), "%s", text);
			pthread_mutex_unlock(&c->log_lock);
		}
	}
}

static void drained(void *userdata, const struct reel_log_line *line)
{
	write_line(userdata, line);
}

void coord_drain_logs(struct reel_coord *c, int index)
{
	for (size_t i = 0; i < c->nstages; i++) {
		uint64_t lost;
		int t = c->stages[i].table;

		if (t <= 0 || (index >= 0 && t != index))
			continue;
		reel_stagetab_drain(c->buffer, (unsigned)t, drained, c, &lost);
		if (lost)
			reel_log(REEL_LOG_WARN, "coord", "%" PRIu64 " log lines of stage %ld were damaged",
			         lost, (long)c->stages[i].pid);
	}
	c->last_drain_ms = reel__now_ms();
}
