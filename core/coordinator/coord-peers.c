/*
 * Who the coordinator listens to.  Every message on the coordinator queue
 * is untrusted: its sender pid is just a number the sender wrote.
 *
 * A request comes over a connection, named by the random tag the client
 * put in its reply queue's name and sends in every request's flags.  The
 * first request of a connection is its hello: the pid it names must be
 * more than 1, not the coordinator, alive, run by this user, and must hold
 * the reply queue named for (pid, tag) open (its /proc/<pid>/fd has a
 * descriptor of that very queue); only then is the queue opened, owner and
 * mode checked, and kept.  A connection is (pid, tag): a request that
 * names another pid is another connection and goes through the same check,
 * which it fails unless that pid holds a reply queue with the tag itself.  A stage's reports (claim, done, fail, measured, bye) must come
 * from the pid of a stage that said hello.  Anything else is rejected and
 * counted in `malformed` (reel status), and logged at a bounded rate: at
 * most REJECT_LINES lines per REJECT_WINDOW_MS, then one line with the count.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coord-private.h"
#include "reel/error.h"
#include "reel/log.h"

void coord_reject_summary(struct reel_coord *c, bool now_anyway)
{
	double now = reel__now_ms();

	if (!now_anyway && now - c->reject_window_ms < REJECT_WINDOW_MS)
		return;
	if (c->reject_quiet)
		reel_log(REEL_LOG_WARN, "coord", "%" PRIu64 " more messages rejected in the last %.0f s "
		         "(%" PRIu64 " since start)", c->reject_quiet, (now - c->reject_window_ms) / 1000,
		         c->malformed);
	c->reject_window_ms = now;
	c->reject_lines = 0;
	c->reject_quiet = 0;
}

void coord_reject(struct reel_coord *c, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	c->malformed++;
	coord_reject_summary(c, false);
	if (c->reject_lines >= REJECT_LINES) {
		c->reject_quiet++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->reject_lines++;
	reel_log(REEL_LOG_WARN, "coord", "%s dropped (%" PRIu64 " rejected so far%s)", why,
	         c->malformed, c->reject_lines == REJECT_LINES ? "; more are only counted for a while" : "");
}

/* pid holds a descriptor of the queue whose inode st is. */
static bool holds(pid_t pid, const struct stat *queue)
{
	char path[64];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		struct stat st;
		/* stat follows the link to the open file itself, an unlinked queue included. */
		if (de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &st, 0) == 0)
			found = st.st_dev == queue->st_dev && st.st_ino == queue->st_ino;
	}
	closedir(d);
	return found;
}

/* A process run by this user (a pid in a message proves nothing by itself). */
static bool ours(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	return stat(path, &st) == 0 && st.st_uid == getuid();
}

void coord_forget_served(struct reel_coord *c, bool all)
{
	char name[REEL_QUEUE_NAME_MAX];
	size_t keep = 0;

	for (size_t i = 0; i < c->nserved; i++) {
		bool dead = kill(c->served[i].pid, 0) < 0 && errno == ESRCH;
		if (all || dead) {
			reel_queue_close(c->served[i].queue);
			/*
			 * The client unlinks the name once answered; one killed before
			 * that cannot, and at stop no client has a use for it any more
			 * (its open descriptor keeps working until it closes).
			 */
			if (reel_reply_queue_name_of(name, sizeof(name), &c->record, c->served[i].pid,
			                             c->served[i].tag) == 0)
				mq_unlink(name);
			continue;
		}
		c->served[keep++] = c->served[i];
	}
	c->nserved = keep;
}

mqd_t coord_peer_queue(struct reel_coord *c, pid_t pid, uint32_t tag)
{
	for (size_t i = 0; i < c->nserved; i++)
		if (c->served[i].tag == tag && c->served[i].pid == pid)
			return c->served[i].queue;
	return (mqd_t)-1;
}

/* A new connection (pid, tag): checked, then its reply queue opened and kept. */
static int connect_peer(struct reel_coord *c, pid_t pid, uint32_t tag)
{
	char name[REEL_QUEUE_NAME_MAX];
	struct stat st;
	mqd_t q;
	int r;

	if (pid <= 1 || pid == getpid() || !ours(pid))
		return -EPERM;
	if (c->nserved == MAX_SERVED)
		coord_forget_served(c, false);
	/* Still full of live clients: the new one is refused, none of the others is cut off. */
	if (c->nserved == MAX_SERVED)
		return -EUSERS;
	r = reel_reply_queue_name_of(name, sizeof(name), &c->record, pid, tag);
	if (r == 0)
		r = reel_queue_open(name, REEL_QUEUE_NONBLOCK, &q);
	if (r < 0)
		return r;
	if (fstat((int)q, &st) < 0 || !holds(pid, &st)) {
		reel_queue_close(q);
		return -EPERM;
	}
	c->served[c->nserved].pid = pid;
	c->served[c->nserved].tag = tag;
	c->served[c->nserved].queue = q;
	c->nserved++;
	return 0;
}

bool coord_admit(struct reel_coord *c, const struct reel_msg *m)
{
	pid_t pid = (pid_t)m->sender_pid;
	int r;

	switch (m->kind) {
	case REEL_MSG_CLAIM:
	case REEL_MSG_DONE:
	case REEL_MSG_FAIL:
	case REEL_MSG_MEASURED:
	case REEL_MSG_BYE:
		if (coord_is_stage(c, pid))
			return true;
		coord_reject(c, "%s message from pid %ld, which is no stage of this session",
		             reel_msg_kind_name(m->kind), (long)pid);
		return false;
	case REEL_MSG_HELLO:
	case REEL_MSG_NEED:
	case REEL_MSG_STATUS:
	case REEL_MSG_STOP:
	case REEL_MSG_COMMAND:
		break;
	default:
		coord_reject(c, "unexpected %s message from pid %ld", reel_msg_kind_name(m->kind),
		             (long)pid);
		return false;
	}
	if (m->flags == 0) {
		coord_reject(c, "%s request from pid %ld without a connection",
		             reel_msg_kind_name(m->kind), (long)pid);
		return false;
	}
	/*
	 * (pid, tag) names a connection: a message that names another pid with
	 * a known tag is a new connection, and passes only if that pid holds a
	 * reply queue of its own with that tag.
	 */
	if (coord_peer_queue(c, pid, m->flags) != (mqd_t)-1)
		return true;
	r = connect_peer(c, pid, m->flags);
	if (r == 0)
		return true;
	coord_reject(c, "%s request from pid %ld refused: %s", reel_msg_kind_name(m->kind), (long)pid,
	             r == -EPERM ? "that pid is not ours or does not hold its reply queue"
	                         : reel_strerror(r));
	return false;
}
