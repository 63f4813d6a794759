/*
 * Fault 2: SIGKILL the coordinator mid-run, 20 times, and reopen.  Each
 * time a few edits are sent (acknowledged ones are journaled), a client
 * waits on a frame, and the coordinator is killed at a random moment while
 * its stages work.  Held: the waiting client is told "coordinator is gone"
 * within a bound (not after its 60 s timeout), the reopen resumes the
 * session with every acknowledged edit in its journal.  Lost: acknowledged
 * edits missing after a reopen, failed edits, and frames of the final
 * buffer that differ from a run without faults.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"
#include "reel/error.h"
#include "session.h"
#include "testutil.h"

#define KILLS 20
#define EDITS 60
#define FRAMES 250
#define SEED 9000
#define ANSWER_BOUND_MS 2000.0   /* "at once": a bound, not a benchmark */

struct shared {
	int result, done;
	double at_ms;
};

/* A client waiting for a settled frame; what it got, and when, goes to sh. */
static pid_t waiter(const struct fs_sess *s, struct shared *sh, uint64_t frame)
{
	pid_t pid;

	memset(sh, 0, sizeof(*sh));
	pid = fork();
	if (pid == 0) {
		sh->result = fs_read_settled(s->name, frame, 60000);
		sh->at_ms = tu_now_ms();
		__atomic_store_n(&sh->done, 1, __ATOMIC_RELEASE);
		_exit(0);
	}
	return pid;
}

int main(void)
{
	uint64_t ref[FRAMES], got[FRAMES];
	unsigned tries = 0, held = 0, lost = 0, acked = 0, next = 0, told = 0;
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct reel_status st;
	struct fs_sess s;
	double worst = 0;
	char *dir;
	int status;

	fs_reel_bin();
	dir = tu_private_env();
	srand(4242);
	if (fs_reference(dir, "long.mp4", SEED, EDITS, ref, FRAMES) < 0)
		return fault_report("coordinator SIGKILLed", 0, 0, 0, "the reference run failed");
	printf("reference run done\n");

	fs_init(&s, dir, "long.mp4");
	if (fs_open(&s, NULL) < 0)
		return fault_report("coordinator SIGKILLed", 0, 0, 0, "the session did not open");
	for (unsigned k = 0; k < KILLS; k++) {
		bool ok = true;
		pid_t kid, stages[16];
		size_t nstages;
		uint64_t frame = 0;
		double killed;

		/* Resident frames, so that the edits below give the stages work. */
		if (fs_hash_frames(&s, got, FRAMES) < 0)
			ok = false;
		for (unsigned i = 0; i < 3 && next < EDITS; i++) {
			struct fs_edit e;
			uint64_t seq;

			fs_edit_make(SEED + next, FRAMES, &e);
			/* The client below waits on a frame of the latest edit. */
			frame = (uint64_t)e.first + (uint64_t)rand() % (uint64_t)(e.last - e.first + 1);
			if (fs_send(&s, &e, &seq) == 0) {
				acked++;
				next++;
			}
		}
		/*
		 * Every other time the stages are held still first, so that the
		 * client surely waits when the coordinator dies; otherwise the kill
		 * lands wherever the work stands.
		 */
		nstages = k % 2 ? 0 : fs_stages(&s, stages, 16);
		for (size_t i = 0; i < nstages; i++)
			kill(stages[i], SIGSTOP);
		kid = waiter(&s, sh, frame);
		usleep((useconds_t)(rand() % 50000));
		tries++;
		killed = tu_now_ms();
		status = fs_kill(&s);
		for (size_t i = 0; i < nstages; i++)
			kill(stages[i], SIGCONT);
		if (!(status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
			ok = false;
		/* The waiting client: its frame (before the kill) or "gone" at once, never the timeout. */
		status = tu_wait(kid, 10000);
		if (!(status >= 0 && WIFEXITED(status)) || !__atomic_load_n(&sh->done, __ATOMIC_ACQUIRE)) {
			fprintf(stderr, "kill %u: the waiting client %s\n", k, fs_status_text(status));
			ok = false;
		} else if (sh->result < 0) {
			double after = sh->at_ms - killed;
			told += sh->result == REEL_E_COORDGONE;
			worst = after > worst ? after : worst;
			if (after > ANSWER_BOUND_MS || (sh->result != REEL_E_COORDGONE &&
			                                 sh->result != -ESHUTDOWN)) {
				fprintf(stderr, "kill %u: waiting client got %s %.0f ms after the kill\n", k,
				        reel_strerror(sh->result), after);
				ok = false;
			}
		}
		/* Reopen: the session resumes with every acknowledged edit. */
		if (fs_open(&s, NULL) < 0) {
			ok = false;
			break;
		}
		if (reel_client_status(s.c, 5000, &st) < 0 || st.journal < acked) {
			fprintf(stderr, "kill %u: journal %" PRIu64 " after %u acknowledged edits\n", k,
			        st.journal, acked);
			lost += acked > st.journal ? acked - (unsigned)st.journal : 0;
			ok = false;
		}
		held += ok;
		if (k % 5 == 4) {
			printf("%u kills, %u edits acknowledged, %u waiting clients told the coordinator "
			       "is gone (at worst after %.0f ms)\n", k + 1, acked, told, worst);
			fflush(stdout);
		}
	}
	while (s.c && next < EDITS) {
		struct fs_edit e;
		uint64_t seq;

		fs_edit_make(SEED + next++, FRAMES, &e);
		acked += fs_send(&s, &e, &seq) == 0;
	}
	lost += EDITS - acked;
	if (!s.c || fs_wait_idle(&s, 60000) < 0) {
		lost++;
	} else {
		if (reel_client_status(s.c, 5000, &st) == 0)
			lost += (unsigned)st.failed;
		lost += fs_frames_lost(&s, ref, FRAMES);
		status = fs_stop(&s);
		if (!(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0))
			lost++;
	}
	tu_rmrf(dir);
	return fault_report("coordinator SIGKILLed mid-run and reopened", tries, held, lost,
	                    "waiting client told at once, reopen resumed with every acknowledged edit; "
	                    "lost = edits lost or failed + frames not identical to the run without faults");
}
