/*
 * Fault: a work item whose stage dies while applying it, two ways.
 *
 * Killed from outside: an editor that takes 40 ms a frame holds one work
 * item (hflip of frames 0-15) and is SIGKILLed in the middle of it five
 * times, started again each time.  The kills say nothing about the edit:
 * it must end applied, not failed, with the frames equal to a run without
 * faults.
 *
 * Crashing: an editor that faults (SIGSEGV, a real invalid write) on every
 * frame it edits takes the same edit and is started again after each crash.
 * The edit must fail after exactly three crashes (not loop forever), the
 * frames go back to the source's, and the session goes on: a sound editor
 * applies the next edit.
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
#include "reel/ops.h"
#include "session.h"
#include "testutil.h"

#define KILLS 5
#define FRAMES 32
#define CLIP "long.mp4"

static const struct fs_edit flip = { REEL_OP_HFLIP, { 0 }, 0, 15 };
static const struct fs_edit flip_later = { REEL_OP_VFLIP, { 0 }, 16, 31 };

static pid_t odd_stage(const struct fs_sess *s, const char *mode)
{
	setenv("REEL_ODD_STAGE", mode, 1);
	return fs_stage_spawn(s, "tests/fault", "odd-stage");
}

/* Wait (bounded) until the stage table shows pid busy with command seq. */
static bool wait_busy(const char *buffer, pid_t pid, uint64_t seq, int timeout_ms)
{
	struct reel_buffer *table;
	double deadline = tu_now_ms() + timeout_ms;
	bool busy = false;

	if (reel_buffer_open_readonly(buffer, &table) < 0)
		return false;
	while (!busy && tu_now_ms() < deadline) {
		for (unsigned i = 1; i < REEL__STAGE_ENTRIES && !busy; i++) {
			struct reel_stage_record r;

			busy = reel_stagetab_read(table, i, &r) == 0 && r.pid == (uint32_t)pid &&
			       r.busy_seq == seq;
		}
		if (!busy)
			usleep(2000);
	}
	reel_buffer_close(table);
	return busy;
}

/* Wait (bounded) until the session's log holds text; whether it did. */
static bool wait_log(const struct fs_sess *s, const char *text, int timeout_ms)
{
	double deadline = tu_now_ms() + timeout_ms;

	for (;;) {
		char *log = tu_slurp(s->log, NULL);
		bool found = log && strstr(log, text);

		free(log);
		if (found || tu_now_ms() > deadline)
			return found;
		usleep(10000);
	}
}

static uint64_t failed_commands(struct fs_sess *s)
{
	struct reel_status st;

	return reel_client_status(s->c, 5000, &st) == 0 ? st.failed : UINT64_MAX;
}

/* The frames as a run without faults leaves them: before and after `flip`. */
static int reference(const char *dir, uint64_t *clean, uint64_t *flipped)
{
	struct fs_sess s;
	uint64_t seq;
	int r = 0, st;

	fs_init(&s, dir, CLIP);
	if (fs_open(&s, NULL) < 0)
		return -1;
	if (fs_hash_frames(&s, clean, FRAMES) < 0 || fs_send(&s, &flip, &seq) < 0 ||
	    fs_wait_idle(&s, 60000) < 0 || fs_hash_frames(&s, flipped, FRAMES) < 0)
		r = -1;
	st = fs_stop(&s);
	if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0))
		r = -1;
	unlink(s.buffer);
	return r;
}

/*
 * A session without stages of its own, an odd editor in `mode`, frames
 * 0..FRAMES-1 resident (a stage edits resident frames in place; others take
 * the edit as they are decoded) and `flip` sent.  0, or -1 (said).
 */
static int start(const char *dir, const char *mode, struct fs_sess *s, pid_t *stage,
                 uint64_t *seq)
{
	uint64_t got[FRAMES];

	*stage = 0;
	fs_init(s, dir, CLIP);
	if (fs_open(s, (const char *const[]){ "--no-stages", NULL }) < 0)
		return -1;
	*stage = odd_stage(s, mode);
	if (fs_hash_frames(s, got, FRAMES) < 0 || fs_send(s, &flip, seq) < 0) {
		fprintf(stderr, "the frames could not be read or the edit was refused\n");
		return -1;
	}
	return 0;
}

/* Stop the session and reap its stage; 0 when it stopped cleanly, else 1 (said). */
static unsigned stop(struct fs_sess *s, pid_t stage)
{
	int st = s->pid ? fs_stop(s) : 0;

	if (stage)
		tu_wait(stage, 10000);
	if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	fprintf(stderr, "the session ended with %s\n", fs_status_text(st));
	return 1;
}

/* Kills from outside in the middle of the item: tries and held added, lost returned. */
static unsigned killed_from_outside(const char *dir, const uint64_t *flipped, unsigned *tries,
                                    unsigned *held)
{
	struct fs_sess s;
	unsigned lost = 0;
	uint64_t seq;
	pid_t stage;

	if (start(dir, "slow", &s, &stage, &seq) < 0)
		return 1 + stop(&s, stage);
	for (unsigned k = 0; k < KILLS && !lost; k++) {
		(*tries)++;
		if (!wait_busy(s.buffer, stage, seq, 10000)) {
			fprintf(stderr, "kill %u: the stage never took the edit\n", k);
			lost++;
			break;
		}
		/* In the middle of the item, not at its start. */
		usleep(100000);
		kill(stage, SIGKILL);
		tu_wait(stage, 5000);
		stage = odd_stage(&s, "slow");
		if (failed_commands(&s) == 0)
			(*held)++;
		else
			fprintf(stderr, "kill %u: the edit was failed\n", k);
	}
	if (fs_wait_idle(&s, 60000) < 0 || failed_commands(&s) != 0)
		lost++;
	lost += fs_frames_lost(&s, flipped, FRAMES);
	return lost + stop(&s, stage);
}

/* A stage that crashes on the item, started again each time: tries and held added, lost returned. */
static unsigned crashing(const char *dir, const uint64_t *clean, unsigned *tries, unsigned *held)
{
	struct fs_sess s;
	unsigned lost = 0, crashes = 0;
	uint64_t seq, later;
	pid_t stage;
	int st;

	(*tries)++;
	if (start(dir, "segv", &s, &stage, &seq) < 0)
		return 1 + stop(&s, stage);
	while (!lost && crashes < 5) {
		char line[96];

		st = tu_wait(stage, 20000);
		if (st < 0) {
			fprintf(stderr, "the crashing stage did not crash\n");
			lost++;
			break;
		}
		crashes++;
		/* The coordinator's account of it, before the next one starts. */
		snprintf(line, sizeof(line), "editor stage %ld crashed", (long)stage);
		if (!wait_log(&s, line, 10000)) {
			fprintf(stderr, "crash %u (%s): the session's log never said '%s'\n", crashes,
			        fs_status_text(st), line);
			lost++;
			break;
		}
		if (failed_commands(&s) == 1)
			break;
		stage = odd_stage(&s, "segv");
	}
	printf("the edit failed after %u crashes of its stage\n", crashes);
	if (crashes == 3 && failed_commands(&s) == 1 &&
	    wait_log(&s, "its stage crashed 3 times while applying it", 5000))
		(*held)++;
	else
		lost++;
	/* No longer in effect: the frames are the source's. */
	if (fs_wait_idle(&s, 60000) < 0)
		lost++;
	lost += fs_frames_lost(&s, clean, FRAMES);
	/* And the session goes on with a sound editor. */
	(*tries)++;
	stage = odd_stage(&s, "slow");
	if (fs_send(&s, &flip_later, &later) == 0 && fs_wait_idle(&s, 60000) == 0 &&
	    failed_commands(&s) == 1)
		(*held)++;
	else
		lost++;
	return lost + stop(&s, stage);
}

int main(void)
{
	uint64_t clean[FRAMES], flipped[FRAMES];
	unsigned tries = 0, held = 0, lost = 0;
	char *dir;

	fs_reel_bin();
	dir = tu_private_env();
	if (reference(dir, clean, flipped) < 0)
		return fault_report("work item crashing its stage / stage killed holding it", 0, 0, 0,
		                    "the reference run failed");
	if (fs_differ(clean, flipped, FRAMES) != 16)
		return fault_report("work item crashing its stage / stage killed holding it", 0, 0, 1,
		                    "the reference edit did not change frames 0-15 alone");
	lost += killed_from_outside(dir, flipped, &tries, &held);
	lost += crashing(dir, clean, &tries, &held);
	tu_rmrf(dir);
	return fault_report("work item crashing its stage (SIGSEGV) / stage SIGKILLed holding it",
	                    tries, held, lost, "killed 5 times: the edit applied; crashing: failed "
	                    "after exactly 3 crashes, frames back to the source's, session goes on");
}
