/*
 * Fault 6: the buffer file, or the source, truncated under live mappings.
 *
 * Buffer: a session works through a stream of edits, clients wait on
 * settled frames, and the buffer file is cut to its header page.  The
 * coordinator must end with exit 1 and one clear line (no signal), every
 * waiting client must be answered with an error within a bound, no stage
 * may die of a signal, the session file and queues must be gone, and a
 * reopen must refuse the damaged buffer clearly (and a fresh buffer work).
 *
 * Source: a session has frames 0..49 resident; the source is cut to 40%.
 * Frames still resident keep being served (and edited), a frame that must
 * be decoded is an error with its reason, the session stops cleanly; a
 * reopen refuses the changed source, and with the source put back it
 * resumes with every acknowledged edit.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "fault.h"
#include "reel/error.h"
#include "reel/ops.h"
#include "session.h"
#include "testutil.h"

#define ROUNDS 4
#define WAITERS 3
#define ANSWER_BOUND_MS 2000.0   /* "at once": a bound, not a benchmark */
#define EDITS 40

/* What the waiting clients saw, shared with them across fork(). */
struct shared {
	double cut_ms;               /* when the file was cut; 0 before */
	struct { int result; double at_ms; int done; } w[WAITERS];
};

static char *dir;

static int cut_file(const char *path, off_t size)
{
	if (truncate(path, size) < 0) {
		fprintf(stderr, "truncate %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static bool has(const char *path, const char *what)
{
	char *text = tu_slurp(path, NULL);
	bool found = text && strstr(text, what);

	free(text);
	return found;
}

/* A queue or the session file of the session still there. */
static int leftovers(const struct fs_sess *s)
{
	char path[4096], pattern[128];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/run/%s.session", dir, s->name);
	n += access(path, F_OK) == 0;
	snprintf(pattern, sizeof(pattern), ".%s.", s->name);
	d = opendir("/dev/mqueue");
	while (d && (e = readdir(d)))
		n += strstr(e->d_name, pattern) != NULL;
	if (d)
		closedir(d);
	return n;
}

/* A client that waits for a settled frame, then says what it got and when. */
static pid_t waiter(const struct fs_sess *s, struct shared *sh, int i, uint64_t frame)
{
	pid_t pid = fork();

	if (pid == 0) {
		sh->w[i].result = fs_read_settled(s->name, frame, 60000);
		sh->w[i].at_ms = tu_now_ms();
		__atomic_store_n(&sh->w[i].done, 1, __ATOMIC_RELEASE);
		_exit(0);
	}
	return pid;
}

/* Edit i of a round: the same for the session cut and for a fresh one it is compared with. */
static void round_edit(unsigned round, unsigned i, uint64_t frames, struct fs_edit *e)
{
	fs_edit_make(round * 1000 + i, frames, e);
	if (e->op == REEL_OP_BLUR)
		e->params[0] = 32;
	e->first = 0;
	e->last = (int64_t)frames - 1;
}

/*
 * The reopen of a buffer cut in its slots: the journal is whole, so the
 * coordinator mends the file, and every frame must come out as a fresh
 * session given the same edits makes it.
 */
static bool reopen_mended(const struct fs_sess *cut, unsigned round)
{
	struct fs_sess again = *cut, fresh;
	static uint64_t got[250], want[250];
	bool ok = true;
	int st;

	snprintf(again.log, sizeof(again.log), "%.4000s.again", cut->log);
	if (fs_open(&again, NULL) < 0)
		return false;
	if (fs_hash_frames(&again, got, 250) < 0)
		ok = false;
	st = fs_stop(&again);
	ok = ok && st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
	     has(again.log, "cut short");
	fs_init(&fresh, dir, "long.mp4");
	if (fs_open(&fresh, NULL) < 0)
		return false;
	for (unsigned i = 0; i < EDITS; i++) {
		struct fs_edit e;
		uint64_t seq;

		round_edit(round, i, fs_frames(&fresh), &e);
		if (fs_send(&fresh, &e, &seq) < 0)
			ok = false;
	}
	if (fs_hash_frames(&fresh, want, 250) < 0)
		ok = false;
	fs_stop(&fresh);
	unlink(fresh.buffer);
	if (ok && memcmp(got, want, sizeof(got))) {
		fprintf(stderr, "round %u: the mended buffer's frames differ from a fresh session's\n", round);
		ok = false;
	}
	if (ok && round == 1)
		printf("buffer cut in its slots: reopened, mended, 250 frames equal to a fresh session's\n");
	return ok;
}

/*
 * One buffer truncation; true when everything held.  Even rounds cut the
 * file to its header page (the journal is gone: the reopen must refuse it
 * by name), odd rounds in its slots (the reopen mends it).
 */
static bool buffer_round(unsigned round)
{
	bool slot_cut = round % 2 == 1;
	off_t cut_at = 4096;
	struct fs_sess s, again;
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	                         -1, 0);
	pid_t kids[WAITERS] = { 0 }, stages[16];
	size_t nstages;
	char logpath[4200];
	bool ok = true;
	int st;

	memset(sh, 0, sizeof(*sh));
	fs_init(&s, dir, "long.mp4");
	if (fs_open(&s, NULL) < 0)
		return false;
	/*
	 * Every frame resident (edits are applied to resident frames only), the
	 * stages held still, then work for them: the clients below wait for
	 * their frames to settle until the stages are let go at the cut, and go
	 * on with their work in the cut file.
	 */
	{
		uint64_t h[250];
		if (fs_hash_frames(&s, h, 250) < 0)
			ok = false;
	}
	nstages = fs_stages(&s, stages, 16);
	for (size_t i = 0; i < nstages; i++)
		kill(stages[i], SIGSTOP);
	for (unsigned i = 0; i < EDITS; i++) {
		struct fs_edit e;
		uint64_t seq;

		round_edit(round, i, fs_frames(&s), &e);
		if (fs_send(&s, &e, &seq) < 0) {
			fprintf(stderr, "round %u: an edit was refused before the fault\n", round);
			ok = false;
		}
	}
	for (int i = 0; i < WAITERS; i++)
		kids[i] = waiter(&s, sh, i, 10 + 90 * (uint64_t)i);
	usleep(300000);
	for (int i = 0; i < WAITERS; i++)
		if (__atomic_load_n(&sh->w[i].done, __ATOMIC_ACQUIRE)) {
			fprintf(stderr, "round %u: client %d was not waiting: %s\n", round, i,
			        reel_strerror(sh->w[i].result));
			ok = false;
		}
	if (slot_cut) {
		struct reel_buffer *b;

		if (reel_buffer_open_readonly(s.buffer, &b) < 0)
			return false;
		cut_at = (off_t)(reel_buffer_info(b)->slots_offset + 3 * reel_buffer_info(b)->slot_stride +
		                 4096);
		reel_buffer_close(b);
	}
	sh->cut_ms = tu_now_ms();
	if (cut_file(s.buffer, cut_at) < 0)
		ok = false;
	for (size_t i = 0; i < nstages; i++)
		kill(stages[i], SIGCONT);

	/* The coordinator: one clear line, exit 1, no signal. */
	st = tu_wait(s.pid, 15000);
	s.pid = 0;
	reel_client_close(s.c);
	s.c = NULL;
	if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1) ||
	    !has(s.log, "buffer file was truncated under the session")) {
		fprintf(stderr, "round %u: coordinator: %s\n", round, fs_status_text(st));
		fs_show_log(&s);
		ok = false;
	}
	for (int i = 0; i < WAITERS; i++) {
		int ws = tu_wait(kids[i], 5000);
		bool answered = __atomic_load_n(&sh->w[i].done, __ATOMIC_ACQUIRE);
		double after = sh->w[i].at_ms - sh->cut_ms;

		if (!(ws >= 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0) || !answered) {
			fprintf(stderr, "round %u: waiting client %d: %s\n", round, i, fs_status_text(ws));
			ok = false;
		} else if (sh->w[i].result == 0 && after > 0) {
			fprintf(stderr, "round %u: client %d got a frame after the cut\n", round, i);
			ok = false;
		} else if (sh->w[i].result < 0 && after > ANSWER_BOUND_MS) {
			fprintf(stderr, "round %u: client %d answered %.0f ms after the cut (%s)\n", round, i,
			        after, reel_strerror(sh->w[i].result));
			ok = false;
		}
		if (round == 0)
			printf("buffer cut: waiting client %d answered %.0f ms after the cut: %s\n", i, after,
			       sh->w[i].result ? reel_strerror(sh->w[i].result) : "a frame");
	}
	/* The stages: the coordinator logs how each one ended. */
	snprintf(logpath, sizeof(logpath), "%.4090s", s.buffer);
	memcpy(logpath + strlen(logpath) - 5, ".log", 5);
	if (has(logpath, "killed by signal") || has(s.log, "killed by signal") ||
	    has(s.log, "Bus error")) {
		fprintf(stderr, "round %u: a stage died of a signal\n", round);
		ok = false;
	}
	/* Reply queues are their clients' to remove (the waiters have closed theirs by now). */
	if (leftovers(&s)) {
		fprintf(stderr, "round %u: session file or queues left behind\n", round);
		ok = false;
	}
	if (slot_cut) {
		if (!reopen_mended(&s, round))
			ok = false;
		unlink(s.buffer);
		munmap(sh, sizeof(*sh));
		return ok;
	}
	/* Reopening: the cut buffer is refused by name, never served; a fresh one works. */
	again = s;
	snprintf(again.log, sizeof(again.log), "%.4000s.again", s.log);
	{
		char *out = NULL, *err = NULL;
		int code = tu_run((char *[]){ (char *)fs_reel_bin(), "open", s.clip, "--session", s.name,
		                              "--buffer", s.buffer, "--no-preview", NULL }, &out, &err);
		if (code != 2 || !err || !strstr(err, "truncated")) {
			fprintf(stderr, "round %u: reopen of the cut buffer: exit %d: %s\n", round, code,
			        err ? err : "");
			ok = false;
		}
		free(out);
		free(err);
	}
	unlink(s.buffer);
	if (fs_open(&again, NULL) < 0) {
		ok = false;
	} else {
		uint64_t h[1];
		if (fs_hash_frames(&again, h, 1) < 0)
			ok = false;
		st = fs_stop(&again);
		if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0))
			ok = false;
	}
	munmap(sh, sizeof(*sh));
	return ok;
}

/* One source truncation; true when everything held.  *lost counts acknowledged edits lost. */
static bool source_round(unsigned round, unsigned *lost)
{
	struct fs_sess s;
	char copy[4200], keep[4200], *data;
	size_t len;
	uint64_t h[50], seq, journal_before = 0;
	struct reel_status rs;
	struct fs_edit e = { .op = REEL_OP_BRIGHTNESS, .params = { 0.1 }, .first = 0, .last = 49 };
	struct reel_video_info vi;
	struct reel_frame f;
	bool ok = true;
	int r, st;

	fs_init(&s, dir, "long.mp4");
	snprintf(copy, sizeof(copy), "%s/%s.mp4", dir, s.name);
	snprintf(keep, sizeof(keep), "%s/%s.keep", dir, s.name);
	data = tu_slurp(s.clip, &len);
	if (!data || tu_write_file(copy, data, len) < 0 || tu_write_file(keep, data, len) < 0)
		return false;
	snprintf(s.clip, sizeof(s.clip), "%.4000s", copy);
	if (fs_open(&s, NULL) < 0) {
		free(data);
		return false;
	}
	if (fs_hash_frames(&s, h, 50) < 0)
		ok = false;
	if (cut_file(copy, (off_t)(len * 2 / 5)) < 0)
		ok = false;

	/* What is resident is served, and edited; what must be decoded is an error with a reason. */
	if (fs_send(&s, &e, &seq) < 0 || fs_wait_idle(&s, 20000) < 0 || fs_hash_frames(&s, h, 50) < 0) {
		fprintf(stderr, "round %u: the resident frames stopped being served\n", round);
		ok = false;
	}
	r = reel_client_video(s.c, &vi);
	if (r == 0)
		r = reel_frame_alloc(&vi, &f);
	if (r == 0) {
		double t0 = tu_now_ms();
		r = reel_client_read_frame(s.c, vi.frames - 3, 0, REEL_PRIO_INTERACTIVE, 20000, &f, NULL);
		if (round == 0)
			printf("source cut: frame %" PRIu64 " not yet decoded: %s after %.0f ms\n",
			       vi.frames - 3, reel_strerror(r), tu_now_ms() - t0);
		if (r == 0 || r == -ETIMEDOUT) {
			fprintf(stderr, "round %u: a frame past the cut: %s\n", round, r ? reel_strerror(r) : "served");
			ok = false;
		}
		reel_frame_free(&f);
	}
	/*
	 * An edit that needs the source (a freeze holds a frame never decoded)
	 * cannot be applied now; it must not be failed for good either: it
	 * stays pending in the journal for a reopen with the source.
	 */
	{
		struct fs_edit fr = { .op = REEL_OP_FREEZE, .params = { (double)(vi.frames - 2) },
		                      .first = 0, .last = 9 };
		if (fs_send(&s, &fr, &seq) < 0 || fs_wait_idle(&s, 20000) < 0) {
			fprintf(stderr, "round %u: a freeze over the cut source did not settle\n", round);
			ok = false;
		}
	}
	if (reel_client_status(s.c, 5000, &rs) == 0 && rs.failed == 0)
		journal_before = rs.journal;
	else {
		fprintf(stderr, "round %u: %" PRIu64 " edits failed for good over the cut source\n", round,
		        rs.failed);
		ok = false;
	}
	st = fs_stop(&s);
	if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) || has(s.log, "killed by signal")) {
		fprintf(stderr, "round %u: session with a cut source: %s\n", round, fs_status_text(st));
		fs_show_log(&s);
		ok = false;
	}
	/* Reopen: the changed source is refused; put back, the session resumes with its journal. */
	{
		char *out = NULL, *err = NULL;
		int code = tu_run((char *[]){ (char *)fs_reel_bin(), "open", copy, "--session", s.name,
		                              "--buffer", s.buffer, "--no-preview", NULL }, &out, &err);
		if (code == 0 || code > 2) {
			fprintf(stderr, "round %u: reopen on the cut source: exit %d: %s\n", round, code,
			        err ? err : "");
			ok = false;
		}
		free(out);
		free(err);
	}
	if (rename(keep, copy) < 0 || fs_open(&s, NULL) < 0) {
		ok = false;
	} else {
		if (fs_wait_idle(&s, 20000) < 0 || reel_client_status(s.c, 5000, &rs) < 0 ||
		    rs.journal < journal_before || rs.failed) {
			*lost += (unsigned)(journal_before - (rs.journal < journal_before ? rs.journal : 0));
			ok = false;
		}
		if (fs_hash_frames(&s, h, 50) < 0)
			ok = false;
		st = fs_stop(&s);
		if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0))
			ok = false;
	}
	free(data);
	return ok;
}

int main(void)
{
	unsigned tries = 0, held = 0, lost = 0;

	fs_reel_bin();
	dir = tu_private_env();
	for (unsigned round = 0; round < ROUNDS; round++) {
		tries++;
		held += buffer_round(round);
		tries++;
		held += source_round(round, &lost);
		printf("round %u: %u of %u held\n", round, held, tries);
		fflush(stdout);
	}
	tu_rmrf(dir);
	return fault_report("buffer file and source truncated under a live session", tries, held, lost,
	                    "clear error, no death by signal, waiters answered at once; reopen refuses a file cut in its journal by name and mends one cut in its slots (every frame equal to a fresh session with the same edits)");
}
