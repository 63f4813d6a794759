/*
 * The stage processes of a session, as the coordinator sees them.
 *
 * `reel open` starts one editor, one audio stage and N effect workers
 * (posix_spawn, each in a process group of its own so that a Ctrl-C meant
 * for the coordinator reaches them only through it), restarts one that
 * dies (at most RESTARTS_PER_MINUTE times a minute), and at stop asks them
 * to leave with SIGTERM: a stage finishes its current work item and
 * detaches.  Stages started by hand attach with HELLO and leave as they
 * please.
 *
 * Every stage is watched through a pidfd: only that says a stage is gone
 * (a BYE is a courtesy anyone could forge).  The work a dead stage held is
 * dispatched again; a frame it left half-written is found through its slot's
 * robust lock and rebuilt.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "buffer/slot.h"
#include "buffer/stagetab.h"
#include "coord-private.h"
#include "reel/error.h"
#include "reel/log.h"

extern char **environ;

static struct stage *find_stage(struct reel_coord *c, pid_t pid)
{
	for (size_t i = 0; i < c->nstages; i++)
		if (c->stages[i].pid == pid)
			return &c->stages[i];
	return NULL;
}

bool coord_is_stage(const struct reel_coord *c, pid_t pid)
{
	for (size_t i = 0; i < c->nstages; i++)
		if (c->stages[i].pid == pid)
			return c->stages[i].attached;
	return false;
}

size_t coord_stages_of(const struct reel_coord *c, uint32_t role)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nstages; i++)
		n += c->stages[i].attached && c->stages[i].role == role;
	return n;
}

/* Watch pid through a pidfd in the loop; the stage's entry, or NULL. */
static struct stage *watch(struct reel_coord *c, pid_t pid, uint32_t role)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct stage *s;
	int fd;

	if (c->nstages == MAX_STAGES)
		return NULL;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return NULL;
	/* The pid, not an index into stages[], names the stage: indexes move on removal. */
	ev.data.u64 = ((uint64_t)TAG_PIDFD << 32) | (uint32_t)pid;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return NULL;
	}
	s = &c->stages[c->nstages++];
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->role = role;
	s->pidfd = fd;
	s->index = -1;
	return s;
}

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A process of ours, that is: run by this user (a pid in a message proves nothing by itself). */
static bool ours(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	return pid > 0 && stat(path, &st) == 0 && st.st_uid == getuid();
}

int coord_hello(struct reel_coord *c, const struct reel_msg *m)
{
	pid_t pid = (pid_t)m->sender_pid;
	struct stage *s = find_stage(c, pid);

	if (m->role != REEL_ROLE_EDITOR && m->role != REEL_ROLE_EFFECT && m->role != REEL_ROLE_AUDIO &&
	    m->role != REEL_ROLE_PREVIEW)
		return -EINVAL;
	if (!s) {
		if (!ours(pid))
			return -EPERM;
		s = watch(c, pid, m->role);
		if (!s)
			return -EUSERS;
	} else if (s->role != m->role) {
		return -EINVAL;
	}
	if (!s->table) {
		/* An entry of the stage table no stage of ours holds: the coordinator's map decides. */
		for (int t = 1; t < REEL__STAGE_ENTRIES && !s->table; t++) {
			bool taken = false;
			for (size_t i = 0; i < c->nstages; i++)
				taken |= c->stages[i].table == t;
			if (!taken)
				s->table = t;
		}
		if (!s->table)
			return -EUSERS;
		reel_stagetab_assign(c->buffer, (unsigned)s->table, (uint32_t)pid, s->role,
		                     reel_buffer_generation(c->buffer), wall_ns());
	}
	if (!s->attached)
		reel_log(REEL_LOG_INFO, "coord", "%s stage %ld attached%s", reel_role_name(s->role),
		         (long)pid, s->spawned ? "" : " (started by hand)");
	s->attached = true;
	return s->table;
}

/*
 * A process that died holding a slot's lock (a stage killed mid-edit) left
 * a half-written frame.  Its robust mutex hands EOWNERDEAD to the next
 * locker, which marks the slot STALE: the coordinator is that locker, and
 * then forgets the frame so that the next need rebuilds it from source and
 * journal.  owner_pid is only a hint for finding such slots; the lock
 * decides.
 */
void coord_recover_dead_writers(struct reel_coord *c)
{
	for (uint32_t slot = 0; slot < c->info->slot_count; slot++) {
		struct reel_slot_info si;
		int r;

		if (reel_slot_get(c->buffer, slot, &si) < 0 || si.owner_pid == 0 ||
		    (kill((pid_t)si.owner_pid, 0) == 0 || errno != ESRCH))
			continue;
		r = reel_slot_lock(c->buffer, slot, 0);
		if (r < 0)
			continue;
		reel_slot_unlock(c->buffer, slot);
		if (r == REEL_SLOT_RECOVERED && si.frame >= 0) {
			reel_log(REEL_LOG_WARN, "coord", "frame %lld was left half-written by pid %u; "
			         "rebuilding it", (long long)si.frame, si.owner_pid);
			materialiser_invalidate(c->mat, (uint64_t)si.frame);
		}
	}
}

/*
 * A stage stopped (SIGSTOP, a debugger) or hung while it holds a slot's
 * lock is not dead, so the robust lock never frees that frame, and the work
 * item given to another stage would wait on it in vain.  Past the claim
 * deadline its work was reassigned anyway; if it still holds the same lock
 * with the same seqlock version (it has not moved at all), it is killed:
 * the lock then comes back as EOWNERDEAD, the half-written frame goes STALE
 * and is rebuilt.  A stage that holds no lock is left alone: when it runs
 * again its late write is fenced by the slot's state (J >= S) and its late
 * report by the item's epoch.  Only stages of this session are ever
 * killed, never a process the hint names otherwise.
 */
void coord_fence_hung_holders(struct reel_coord *c)
{
	struct held seen[MAX_STAGES];
	size_t nseen = 0;
	double now = reel__now_ms();

	for (uint32_t slot = 0; slot < c->info->slot_count && nseen < MAX_STAGES; slot++) {
		struct reel_slot_info si;
		double since = now;

		if (reel_slot_get(c->buffer, slot, &si) < 0 || si.owner_pid == 0 ||
		    !find_stage(c, (pid_t)si.owner_pid))
			continue;
		for (size_t i = 0; i < c->nheld; i++)
			if (c->held[i].slot == slot && c->held[i].pid == si.owner_pid &&
			    c->held[i].version == si.version)
				since = c->held[i].since_ms;
		seen[nseen++] = (struct held){ slot, si.owner_pid, si.version, since };
		if (now - since > c->claim_deadline_ms) {
			reel_log(REEL_LOG_WARN, "coord", "stage pid %u has held the lock of frame %lld for "
			         "%.0f s without moving (stopped or hung); killed, the frame is rebuilt",
			         si.owner_pid, (long long)si.frame, (now - since) / 1000.0);
			find_stage(c, (pid_t)si.owner_pid)->hung = true;
			kill((pid_t)si.owner_pid, SIGKILL);
		}
	}
	memcpy(c->held, seen, nseen * sizeof(seen[0]));
	c->nheld = nseen;
}

static void schedule_restart(struct reel_coord *c, struct spawn *sp)
{
	double now = reel__now_ms();
	int recent = 0;

	sp->pid = 0;
	if (c->stopping || sp->given_up)
		return;
	for (int i = 0; i < RESTARTS_PER_MINUTE; i++)
		recent += sp->restarts[i] > now - 60000;
	if (recent >= RESTARTS_PER_MINUTE) {
		sp->given_up = true;
		reel_log(REEL_LOG_ERROR, "coord", "the %s stage died %d times in a minute; not started "
		         "again (start one by hand with --session %s)", reel_role_name(sp->role),
		         RESTARTS_PER_MINUTE, c->session);
		return;
	}
	/* A little later, so that a stage that dies at once does not spin. */
	sp->restart_at_ms = now + 200.0 * (recent + 1);
}

/*
 * Whether a stage that went crashed, rather than being killed from outside
 * or leaving: its crash handler wrote the signal into its table entry, or,
 * for our own child, its wait status names a fault signal; or we killed it
 * for hanging.  *ret_signal: the signal, 0 for a hang or none.
 */
static bool stage_crashed(const struct reel_coord *c, const struct stage *s, int status,
                          int *ret_signal)
{
	struct reel_stage_record r;

	*ret_signal = 0;
	if (s->table > 0 && reel_stagetab_read(c->buffer, (unsigned)s->table, &r) == 0 &&
	    r.crash_signal) {
		*ret_signal = r.crash_signal;
		return true;
	}
	if (s->spawned && WIFSIGNALED(status)) {
		switch (WTERMSIG(status)) {
		case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGABRT: case SIGSYS:
			*ret_signal = WTERMSIG(status);
			return true;
		}
	}
	return s->hung;
}

void coord_stage_died(struct reel_coord *c, pid_t pid)
{
	struct stage *s = find_stage(c, pid);
	struct sched_loss how = { .max_crashes = MAX_CRASHES, .max_losses = MAX_LOSSES };
	uint64_t doomed[16];
	size_t ndoomed = 0;
	int n = 0, status = 0, sig;

	if (!s)
		return;
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, s->pidfd, NULL);
	close(s->pidfd);
	if (s->spawned)
		waitpid(pid, &status, WNOHANG);
	how.crashed = stage_crashed(c, s, status, &sig);
	/* What it said before it went is kept. */
	if (s->table > 0) {
		coord_drain_logs(c, s->table);
		reel_stagetab_release(c->buffer, (unsigned)s->table);
	}
	if (s->attached)
		n = sched_requeue_owner(c->sched, pid, &how, doomed, 16, &ndoomed);
	if (s->spawned) {
		if (!c->stopping)
			reel_log(REEL_LOG_WARN, "coord", "%s stage %ld %s %d; %d work items dispatched again",
			         reel_role_name(s->role), (long)pid,
			         WIFSIGNALED(status) ? "was killed by signal" : "exited with",
			         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), n > 0 ? n : 0);
		/*
		 * A work stage that goes comes back.  A preview comes back only when
		 * it crashed: one that exited chose to (closed by its user, or it
		 * said why it cannot run, such as no reachable display).
		 */
		if (s->index >= 0 && !(s->role == REEL_ROLE_PREVIEW && WIFEXITED(status)))
			schedule_restart(c, &c->spawns[s->index]);
		else if (s->index >= 0)
			c->spawns[s->index].pid = 0;
	} else {
		reel_log(how.crashed ? REEL_LOG_WARN : REEL_LOG_INFO, "coord",
		         "%s stage %ld %s; %d work items dispatched again", reel_role_name(s->role),
		         (long)pid, how.crashed ? (sig ? "crashed" : "hung and was killed") : "left",
		         n > 0 ? n : 0);
	}
	*s = c->stages[--c->nstages];
	for (size_t i = 0; i < ndoomed; i++) {
		char why[128];

		if (!how.crashed)
			snprintf(why, sizeof(why), "its stage was killed or left %d times while applying it",
			         MAX_LOSSES);
		else if (sig)
			snprintf(why, sizeof(why), "its stage crashed %d times while applying it (last: %s)",
			         MAX_CRASHES, strsignal(sig));
		else
			snprintf(why, sizeof(why), "its stage crashed or hung %d times while applying it",
			         MAX_CRASHES);
		coord_fail_command(c, doomed[i], why);
	}
	coord_recover_dead_writers(c);
	coord_dispatch(c);
}

/* ---------------------------------------------------------------- spawn */

static const char *binary_name(uint32_t role)
{
	switch (role) {
	case REEL_ROLE_EDITOR: return "reel-editor";
	case REEL_ROLE_EFFECT: return "reel-effects";
	case REEL_ROLE_AUDIO: return "reel-audio";
	case REEL_ROLE_PREVIEW: return "reel-preview";
	default: return NULL;
	}
}

static const char *part_folder(uint32_t role)
{
	switch (role) {
	case REEL_ROLE_EDITOR: return "editor";
	case REEL_ROLE_EFFECT:
	case REEL_ROLE_PREVIEW: return "renderer";
	default: return "audio";
	}
}

/*
 * The stage program for role: $REEL_STAGE_DIR, then next to this program
 * (installed), then in the build tree beside it, then the PATH.
 */
static bool runnable(char *buf, size_t len, const char *dir, const char *sub, const char *name)
{
	int n = snprintf(buf, len, "%s%s/%s", dir, sub, name);

	return n > 0 && (size_t)n < len && access(buf, X_OK) == 0;
}

static void find_binary(const struct reel_coord *c, uint32_t role, char *buf, size_t len)
{
	const char *name = binary_name(role), *dir = getenv("REEL_STAGE_DIR");
	char sub[32];

	if (dir && *dir && runnable(buf, len, dir, "", name))
		return;
	snprintf(sub, sizeof(sub), "/../%s", part_folder(role));
	if (c->self_dir[0] &&
	    (runnable(buf, len, c->self_dir, "", name) || runnable(buf, len, c->self_dir, sub, name)))
		return;
	snprintf(buf, len, "%s", name);
}

static int start(struct reel_coord *c, size_t index)
{
	struct spawn *sp = &c->spawns[index];
	char path[REEL_PATH_MAX], session[REEL_SESSION_NAME_MAX + 1];
	char *argv[] = { path, (char *)"--session", session, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	struct stage *s;
	pid_t pid;
	int r;

	find_binary(c, sp->role, path, sizeof(path));
	snprintf(session, sizeof(session), "%s", c->session);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGPIPE);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	/* Its own process group, default signals, nothing blocked: the coordinator blocks its stop signals. */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                    POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	r = strchr(path, '/') ? posix_spawn(&pid, path, &fa, &attr, argv, environ)
	                      : posix_spawnp(&pid, path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r) {
		reel_log(REEL_LOG_ERROR, "coord", "cannot start %s: %s", path, strerror(r));
		return -r;
	}
	s = watch(c, pid, sp->role);
	if (!s) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -EUSERS;
	}
	s->spawned = true;
	s->index = (int)index;
	sp->pid = pid;
	sp->restart_at_ms = 0;
	memmove(&sp->restarts[1], &sp->restarts[0], (RESTARTS_PER_MINUTE - 1) * sizeof(double));
	sp->restarts[0] = reel__now_ms();
	return 0;
}

int coord_spawn_stages(struct reel_coord *c, unsigned editors, unsigned effects, unsigned audio,
                       bool preview)
{
	char self[REEL_PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int r = 0;

	if (n > 0) {
		char *slash;
		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			snprintf(c->self_dir, sizeof(c->self_dir), "%s", self);
		}
	}
	for (unsigned i = 0; i < editors + effects + audio + preview && c->nspawns < MAX_STAGES - 1;
	     i++) {
		struct spawn *sp = &c->spawns[c->nspawns];

		memset(sp, 0, sizeof(*sp));
		sp->role = i < editors ? REEL_ROLE_EDITOR : i < editors + effects ? REEL_ROLE_EFFECT
		           : i < editors + effects + audio ? REEL_ROLE_AUDIO : REEL_ROLE_PREVIEW;
		c->nspawns++;
		if (start(c, c->nspawns - 1) < 0 && r == 0)
			r = REEL_E_EDIT;
	}
	return r;
}

void coord_restart_stages(struct reel_coord *c)
{
	double now = reel__now_ms();

	for (size_t i = 0; i < c->nspawns; i++) {
		struct spawn *sp = &c->spawns[i];
		if (!c->stopping && sp->pid == 0 && !sp->given_up && sp->restart_at_ms > 0 &&
		    sp->restart_at_ms <= now && start(c, i) < 0)
			schedule_restart(c, sp);
	}
}

void coord_stop_stages(struct reel_coord *c)
{
	/* They finish the work item in hand and detach; the loop keeps answering them meanwhile. */
	for (size_t i = 0; i < c->nspawns; i++)
		if (c->spawns[i].pid > 0)
			kill(c->spawns[i].pid, SIGTERM);
}

bool coord_stages_gone(const struct reel_coord *c)
{
	for (size_t i = 0; i < c->nspawns; i++)
		if (c->spawns[i].pid > 0)
			return false;
	return true;
}

void coord_close_stages(struct reel_coord *c)
{
	for (size_t i = 0; i < c->nspawns; i++) {
		pid_t pid = c->spawns[i].pid;
		if (pid > 0) {
			reel_log(REEL_LOG_WARN, "coord", "%s stage %ld did not leave in time; killed",
			         reel_role_name(c->spawns[i].role), (long)pid);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			c->spawns[i].pid = 0;
		}
	}
	for (size_t i = 0; i < c->nstages; i++) {
		if (c->stages[i].table > 0 && c->buffer) {
			coord_drain_logs(c, c->stages[i].table);
			reel_stagetab_release(c->buffer, (unsigned)c->stages[i].table);
		}
		close(c->stages[i].pidfd);
	}
	c->nstages = 0;
}
