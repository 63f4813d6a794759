/*
 * Fault 4: SIGSTOP a stage for longer than its deadline, then SIGCONT.
 * The coordinator runs with REEL_STAGE_DEADLINE_MS=2000 (instead of 30 s)
 * so that each stall takes seconds.  Two cases, alternately:
 *  - the stage is stopped while it holds a slot's lock (found in the slot
 *    table): after the deadline its work is given to another worker, and
 *    since it has not moved at all the coordinator kills it, so the frame's
 *    lock comes back (EOWNERDEAD), the frame is rebuilt, and the session is
 *    never blocked;
 *  - the stage is stopped holding no lock: its work is given to another
 *    worker, and when SIGCONT lets it go on, its late writes find the
 *    frames already holding the edit (J >= S) and its late reports carry a
 *    stale epoch: both are fenced.
 * Held: the session settles within a bound after the SIGCONT.  Lost:
 * failed edits and frames that differ from a run without faults.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "buffer/slot.h"
#include "fault.h"
#include "reel/error.h"
#include "session.h"
#include "testutil.h"

#define ROUNDS 6
#define EDITS_PER_ROUND 4
#define FRAMES 250
#define SEED 5000
#define DEADLINE_MS 2000

/* The effect workers of the session: the stages any of which may do an effect. */
static size_t workers(const struct fs_sess *s, pid_t *out, size_t max)
{
	pid_t all[16];
	size_t n = fs_stages(s, all, 16), k = 0;

	for (size_t i = 0; i < n; i++) {
		char path[64], *cmd;
		size_t len;

		snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)all[i]);
		cmd = tu_slurp(path, &len);
		if (cmd && strstr(cmd, "reel-effects") && k < max)
			out[k++] = all[i];
		free(cmd);
	}
	return k;
}

/* Whether pid holds a slot's lock now (the slot table's owner hint, read-only). */
static bool holds_lock(const char *buffer, pid_t pid)
{
	struct reel_buffer *b;
	bool found = false;

	if (reel_buffer_open_readonly(buffer, &b) < 0)
		return false;
	for (uint32_t i = 0; i < reel_buffer_info(b)->slot_count && !found; i++) {
		struct reel_slot_info si;
		found = reel_slot_get(b, i, &si) == 0 && si.owner_pid == (uint32_t)pid;
	}
	reel_buffer_close(b);
	return found;
}

static bool gone(pid_t pid)
{
	char path[64], *stat;
	bool dead;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	/* A zombie (not yet reaped by the coordinator) is gone too. */
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	stat = tu_slurp(path, NULL);
	dead = !stat || (strrchr(stat, ')') && strrchr(stat, ')')[2] == 'Z');
	free(stat);
	return dead;
}

static unsigned count_in(const char *path, const char *what)
{
	char *text = tu_slurp(path, NULL);
	unsigned n = 0;

	for (char *p = text; p && (p = strstr(p, what)); p++)
		n++;
	free(text);
	return n;
}

int main(void)
{
	uint64_t ref[FRAMES], got[FRAMES];
	unsigned tries = 0, held = 0, lost = 0, sent = 0, with_lock = 0, without_lock = 0;
	struct reel_status st;
	struct fs_sess s;
	char logpath[4200];
	char *dir;
	int status;

	fs_reel_bin();
	dir = tu_private_env();
	setenv("REEL_STAGE_DEADLINE_MS", "2000", 1);
	srand(777);
	if (fs_reference(dir, "long.mp4", SEED, ROUNDS * EDITS_PER_ROUND, ref, FRAMES) < 0)
		return fault_report("stage SIGSTOPped past its deadline", 0, 0, 0, "the reference run failed");
	printf("reference run done\n");

	fs_init(&s, dir, "long.mp4");
	if (fs_open(&s, (const char *const[]){ "--workers", "2", NULL }) < 0)
		return fault_report("stage SIGSTOPped past its deadline", 0, 0, 0, "the session did not open");
	if (fs_hash_frames(&s, got, FRAMES) < 0)
		lost++;
	for (unsigned round = 0; round < ROUNDS; round++) {
		bool want_lock = round % 2 == 0, locked = false, ok = true;
		pid_t w[4], victim = 0;
		size_t nw;

		for (unsigned i = 0; i < EDITS_PER_ROUND; i++) {
			struct fs_edit e;
			uint64_t seq;

			fs_edit_make(SEED + sent++, FRAMES, &e);
			if (fs_send(&s, &e, &seq) < 0)
				lost++;
		}
		/* Stop a worker at a moment that fits the case; bounded tries. */
		for (int attempt = 0; attempt < 400; attempt++) {
			nw = workers(&s, w, 4);
			if (nw == 0)
				break;
			victim = w[(size_t)rand() % nw];
			kill(victim, SIGSTOP);
			locked = holds_lock(s.buffer, victim);
			if (locked == want_lock || attempt == 399)
				break;
			kill(victim, SIGCONT);
			usleep(500);
		}
		if (!victim) {
			fprintf(stderr, "round %u: no effect worker to stop\n", round);
			break;
		}
		tries++;
		with_lock += locked;
		without_lock += !locked;
		usleep((DEADLINE_MS + 2500) * 1000);
		if (locked && !gone(victim)) {
			fprintf(stderr, "round %u: the stopped stage still holds a frame's lock after the "
			        "deadline\n", round);
			ok = false;
		}
		kill(victim, SIGCONT);
		if (fs_wait_idle(&s, 20000) < 0)
			ok = false;
		held += ok;
		printf("round %u: stage %ld stopped %s a slot lock for %.1f s: %s%s\n", round, (long)victim,
		       locked ? "holding" : "without", (DEADLINE_MS + 2500) / 1000.0,
		       gone(victim) ? "killed by the coordinator" : "went on after SIGCONT",
		       ok ? ", session settled" : ", session did NOT settle");
		fflush(stdout);
	}
	if (reel_client_status(s.c, 5000, &st) == 0)
		lost += (unsigned)st.failed;
	lost += fs_frames_lost(&s, ref, FRAMES);
	snprintf(logpath, sizeof(logpath), "%.4000s", s.buffer);
	memcpy(logpath + strlen(logpath) - 5, ".log", 5);
	printf("%u stops holding a lock, %u without; the log says work was dispatched again past its "
	       "deadline %u times, and a stage holding a lock was killed %u times\n", with_lock,
	       without_lock, count_in(logpath, "past their deadline dispatched again"),
	       count_in(logpath, "without moving"));
	status = fs_stop(&s);
	if (!(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0))
		lost++;
	tu_rmrf(dir);
	return fault_report("stage SIGSTOPped past its deadline, then SIGCONT", tries, held, lost,
	                    "work reassigned, a stage stuck holding a lock killed, late writes fenced, "
	                    "session settled; lost = failed edits + frames not identical");
}
