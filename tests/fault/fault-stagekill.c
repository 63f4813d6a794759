/*
 * Fault 1: SIGKILL a random stage at random moments, 100 times, during a
 * stream of edits.  The session runs with stages started by the test
 * (`reel open --no-stages`), so that a killed stage is started again at
 * once whatever the coordinator's restart budget (5 a minute per stage).
 * Held: the coordinator is alive and answers after each kill.  Lost:
 * acknowledged edits missing from the journal or failed, and frames that
 * differ from a run without faults (an edit applied twice or not at all).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "buffer/stagetab.h"
#include "fault.h"
#include "reel/error.h"
#include "session.h"
#include "testutil.h"

#define KILLS 100
#define EDITS 60
#define FRAMES 250
#define SEED 7000

static const struct { const char *folder, *name; } kinds[] = {
	{ "editor", "reel-editor" }, { "renderer", "reel-effects" }, { "renderer", "reel-effects" },
	{ "audio", "reel-audio" },
};
#define NSTAGES (sizeof(kinds) / sizeof(kinds[0]))

/* The pid of a stage the stage table shows working on an edit now; 0 none. */
static pid_t busy_stage(const struct reel_buffer *table)
{
	for (unsigned i = 1; table && i < REEL__STAGE_ENTRIES; i++) {
		struct reel_stage_record r;

		if (reel_stagetab_read(table, i, &r) == 0 && r.pid && r.busy_seq)
			return (pid_t)r.pid;
	}
	return 0;
}

static bool alive(struct fs_sess *s)
{
	struct reel_status st;
	int status;

	if (waitpid(s->pid, &status, WNOHANG) != 0)
		return false;
	return reel_client_status(s->c, 10000, &st) == 0;
}

int main(void)
{
	uint64_t ref[FRAMES], got[FRAMES];
	unsigned tries = 0, held = 0, lost = 0, acked = 0, sent = 0;
	struct reel_status st;
	struct fs_sess s;
	pid_t stages[NSTAGES];
	struct reel_buffer *table;
	const char *clip;
	char *dir;
	int status;

	fs_reel_bin();
	dir = tu_private_env();
	srand(12345);
	/* Larger frames than the test clips', so that a kill often lands in the middle of an edit. */
	clip = fs_make_clip(dir, "640x360");
	if (!clip)
		clip = "long.mp4";
	printf("clip: %s\n", clip);
	if (fs_reference(dir, clip, SEED, EDITS, ref, FRAMES) < 0)
		return fault_report("stage SIGKILLed during edits", 0, 0, 0, "the reference run failed");
	printf("reference run done\n");

	if (strchr(clip, '/'))
		fs_init_path(&s, dir, clip);
	else
		fs_init(&s, dir, clip);
	if (fs_open(&s, (const char *const[]){ "--no-stages", NULL }) < 0)
		return fault_report("stage SIGKILLed during edits", 0, 0, 0, "the session did not open");
	for (size_t i = 0; i < NSTAGES; i++)
		stages[i] = fs_stage_spawn(&s, kinds[i].folder, kinds[i].name);
	if (fs_hash_frames(&s, got, FRAMES) < 0)
		lost++;
	/* The stage table, read-only: who is busy with what. */
	if (reel_buffer_open_readonly(s.buffer, &table) < 0)
		table = NULL;

	for (unsigned k = 0; k < KILLS; k++) {
		size_t victim = (size_t)rand() % NSTAGES;

		/* Edits arrive in bursts and stages die while they work through them. */
		for (unsigned b = 0; k % 5 == 0 && b < 3 && sent < EDITS; b++) {
			struct fs_edit e;
			uint64_t seq;
			int r;

			fs_edit_make(SEED + sent++, FRAMES, &e);
			r = fs_send(&s, &e, &seq);
			if (r < 0)
				fprintf(stderr, "edit %u: %s\n", sent - 1, reel_strerror(r));
			else
				acked++;
		}
		/*
		 * A random moment; three times in four the victim is a stage the
		 * stage table shows busy with an edit (bounded wait), so that most
		 * kills land in the middle of one.
		 */
		usleep((useconds_t)(rand() % 5000));
		for (double until = tu_now_ms() + 300; rand() % 4 && tu_now_ms() < until;) {
			pid_t busy = busy_stage(table);
			size_t i;

			for (i = 0; i < NSTAGES && stages[i] != busy; i++)
				;
			if (busy && i < NSTAGES) {
				victim = i;
				break;
			}
			usleep(500);
		}
		tries++;
		kill(stages[victim], SIGKILL);
		tu_wait(stages[victim], 5000);
		stages[victim] = fs_stage_spawn(&s, kinds[victim].folder, kinds[victim].name);
		if (alive(&s))
			held++;
		else
			fprintf(stderr, "kill %u: the session did not answer\n", k);
		if (k % 25 == 24) {
			printf("%u kills, %u edits acknowledged, session alive: %s\n", k + 1, acked,
			       alive(&s) ? "yes" : "no");
			fflush(stdout);
		}
	}
	/* The rest of the edits, if any were refused on the way, would make the runs differ: count them. */
	lost += EDITS - acked;
	if (fs_wait_idle(&s, 60000) < 0)
		lost++;
	if (reel_client_status(s.c, 5000, &st) == 0) {
		/* Every acknowledged edit is in the journal and none failed. */
		if (st.journal < acked)
			lost += (unsigned)(acked - st.journal);
		lost += (unsigned)st.failed;
	}
	lost += fs_frames_lost(&s, ref, FRAMES);
	/* How many kills caught a stage with work in hand (the coordinator's log says). */
	{
		char logpath[4200], *log;
		unsigned busy = 0;

		snprintf(logpath, sizeof(logpath), "%.4000s", s.buffer);
		memcpy(logpath + strlen(logpath) - 5, ".log", 5);
		log = tu_slurp(logpath, NULL);
		for (char *p = log; p && (p = strstr(p, " left; ")); p++)
			busy += atoi(p + 7) > 0;
		printf("%u kills caught a stage with work items in hand\n", busy);
		free(log);
	}
	reel_buffer_close(table);
	status = fs_stop(&s);
	if (!(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		fprintf(stderr, "the session ended with %s\n", fs_status_text(status));
		lost++;
	}
	for (size_t i = 0; i < NSTAGES; i++)
		tu_wait(stages[i], 10000);
	tu_rmrf(dir);
	return fault_report("stage SIGKILLed at random moments during a stream of edits", tries, held,
	                    lost, "session alive and answering after each kill; lost = edits lost or "
	                    "failed + frames not identical to the run without faults");
}
