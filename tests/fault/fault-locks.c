/*
 * Fault 3: a process killed while it holds a slot mutex, and a lock table
 * left locked by a power loss.
 *
 *   1. Library: a child locks a slot, starts a write and scribbles over the
 *      pixels; it is SIGKILLed at a random moment.  The next locker must
 *      get the slot within a bound (2 s: no deadlock), as STALE with an even
 *      version when the child died holding it.
 *   2. Live session: the same child, on the buffer of a running session
 *      (every frame resident and READY), scribbling over one frame.  After
 *      the SIGKILL a client reads that frame (settled, with a bound): it
 *      must be the reference picture, rebuilt, never the scribble.
 *   3. Power loss: the buffer file copied while a child holds a slot mutex
 *      mid-write (the copy is what a disk would hold had the power gone
 *      then: a mutex locked by nobody alive, on no robust list).  A session
 *      opened on the copy must reset the lock table and serve every frame
 *      equal to the reference.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buffer-faults.h"
#include "buffer/buffer.h"
#include "buffer/slot.h"
#include "fault.h"
#include "reel/error.h"
#include "testutil.h"

#define LIBRARY_KILLS 30
#define SESSION_KILLS 8
#define POWER_LOSSES 4

struct tally {
	unsigned tries, held, lost;
};

static const char *clip;
static char log_path[4096];

/*
 * Child: lock `slot`, mark it BUSY, open a write and scribble over its
 * pixels, say so on fd, and keep scribbling until killed.
 */
static void scribbler(const char *path, uint32_t slot, int fd)
{
	struct reel_buffer *b;
	struct reel_frame f;
	uint8_t v = 0;

	if (reel_buffer_open(path, &b) < 0 || reel_slot_lock(b, slot, 5000) < 0 ||
	    reel_buffer_frame(b, slot, &f) < 0)
		_exit(2);
	reel_slot_set_state(b, slot, REEL_SLOT_BUSY, 0);
	reel_slot_write_begin(b, slot);
	memset(f.plane[0], 0x11, (size_t)f.stride[0] * f.height[0]);
	if (write(fd, "l", 1) != 1)
		_exit(3);
	for (;;)
		memset(f.plane[0], v++, (size_t)f.stride[0] * f.height[0]);
}

/* Fork a scribbler on slot and wait until it holds the lock mid-write; its pid. */
static pid_t start_scribbler(const char *path, uint32_t slot)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		scribbler(path, slot, p[1]);
	}
	close(p[1]);
	if (pid > 0 && read(p[0], &c, 1) != 1) {
		tu_wait(pid, 5000);
		pid = -1;
	}
	close(p[0]);
	return pid;
}

static void library_kills(const char *dir, uint64_t *rng, struct tally *t)
{
	struct reel_buffer_params p;
	struct reel_buffer *b;
	char path[4200];
	unsigned recovered = 0;

	memset(&p, 0, sizeof(p));
	p.width = 64;
	p.height = 48;
	p.frame_count = 64;
	p.slot_count = 8;
	p.frame_rate = (struct reel_rational){ 25, 1 };
	p.time_base = (struct reel_rational){ 1, 25 };
	snprintf(path, sizeof(path), "%s/locks.reel", dir);
	if (reel_buffer_create(path, &p, &b) < 0) {
		t->tries++;
		return;
	}
	for (int i = 0; i < LIBRARY_KILLS; i++) {
		uint32_t slot = (uint32_t)(bf_rand(rng) % p.slot_count);
		struct reel_slot_info si;
		pid_t pid = start_scribbler(path, slot);
		bool held = false;
		int r;

		if (pid > 0) {
			usleep((useconds_t)(bf_rand(rng) % 20000));
			kill(pid, SIGKILL);
			tu_wait(pid, 5000);
			/* The bound is the "no deadlock": 2 s for a lock whose owner is gone. */
			r = reel_slot_lock(b, slot, 2000);
			held = r == REEL_SLOT_RECOVERED && reel_slot_get(b, slot, &si) == 0 &&
			       si.state == REEL_SLOT_STALE && !(si.version & 1u);
			recovered += r == REEL_SLOT_RECOVERED;
			if (r >= 0) {
				reel_slot_set_state(b, slot, REEL_SLOT_EMPTY, 0);
				reel_slot_unlock(b, slot);
			}
			if (!held)
				printf("library kill %d: slot %u: lock gave %d (%s)\n", i, slot, r,
				       reel_strerror(r));
		}
		t->tries++;
		t->held += held;
	}
	printf("library: %d holders killed, %u locks recovered as STALE\n", LIBRARY_KILLS, recovered);
	reel_buffer_close(b);
}

static void session_kills(const char *buffer, const uint8_t *ref, size_t frame_bytes,
                          uint64_t frames, uint64_t *rng, struct tally *t)
{
	char session[64];
	uint8_t *got = malloc(frame_bytes);
	int err;
	pid_t coord;

	tu_session_name(session, sizeof(session));
	coord = bf_open(clip, session, buffer, log_path, NULL, NULL);
	if (coord < 0 || !got) {
		t->tries++;
		free(got);
		return;
	}
	for (int i = 0; i < SESSION_KILLS; i++) {
		uint64_t frame = bf_rand(rng) % frames;
		pid_t pid = start_scribbler(buffer, (uint32_t)frame);
		bool held = false;

		if (pid > 0) {
			usleep((useconds_t)(bf_rand(rng) % 20000));
			kill(pid, SIGKILL);
			tu_wait(pid, 5000);
			/* Read with a bound (bf_read_frames waits 20 s at most): rebuilt, not scribbled. */
			held = bf_read_frames(session, frame, 1, got, &err) == 1 &&
			       memcmp(got, ref + frame * frame_bytes, frame_bytes) == 0;
			if (err == 0 && !held) {
				printf("session kill %d: frame %" PRIu64 " served with the dead writer's pixels\n",
				       i, frame);
				t->lost++;
			} else if (!held) {
				printf("session kill %d: frame %" PRIu64 ": %s\n", i, frame, reel_strerror(err));
			}
		}
		t->tries++;
		t->held += held;
	}
	if (bf_stop(session, coord) != 0)
		printf("the session did not stop cleanly\n");
	printf("session: %d writers killed mid-frame, every frame read back\n", SESSION_KILLS);
	free(got);
}

static void power_losses(const char *dir, const char *buffer, const uint8_t *ref,
                         size_t frame_bytes, uint64_t frames, uint64_t *rng, struct tally *t)
{
	uint8_t *got = calloc(frames, frame_bytes);
	int *errors = calloc(frames, sizeof(int));

	for (int i = 0; got && errors && i < POWER_LOSSES; i++) {
		uint64_t frame = bf_rand(rng) % frames;
		char copy[4200], session[64];
		unsigned wrong = 0;
		int n = -1;
		bool held = false;
		pid_t pid, coord;
		char *log;

		snprintf(copy, sizeof(copy), "%s/power-loss-%d.reel", dir, i);
		pid = start_scribbler(buffer, (uint32_t)frame);
		if (pid > 0) {
			if (bf_copy_file(buffer, copy) < 0)
				printf("could not copy %s\n", buffer);
			kill(pid, SIGKILL);
			tu_wait(pid, 5000);
			/* The original gets its lock back from the robust list; the copy never would. */
			tu_session_name(session, sizeof(session));
			tu_write_file(log_path, "", 0);
			coord = bf_open(clip, session, copy, log_path, NULL, NULL);
			if (coord > 0) {
				n = bf_read_frames(session, 0, frames, got, errors);
				for (uint64_t f = 0; f < frames; f++)
					if (errors[f] == 0 && memcmp(got + f * frame_bytes, ref + f * frame_bytes,
					                             frame_bytes))
						wrong++;
				held = bf_stop(session, coord) == 0 && n == (int)frames && wrong == 0;
			}
			log = tu_slurp(log_path, NULL);
			printf("power loss %d (slot %" PRIu64 " locked mid-write): %d of %" PRIu64
			       " frames served, %u wrong; %s\n", i, frame, n, frames, wrong,
			       log && strstr(log, "left locked") ? "the open reset the lock table" :
			                                           "the open said no reset");
			held = held && log && strstr(log, "left locked");
			free(log);
			t->lost += wrong;
		}
		t->tries++;
		t->held += held;
	}
	free(got);
	free(errors);
}

int main(void)
{
	char *dir = tu_private_env();
	char buffer[4200], edits[4200], session[64];
	const char *extra[3];
	struct tally t = { 0 };
	uint64_t rng = 0x5eed0003, frames = 0;
	uint8_t *ref = NULL;
	size_t frame_bytes = 0;
	pid_t coord;

	setvbuf(stdout, NULL, _IOLBF, 0);
	clip = tu_clip("h264-bframes.mp4");
	if (!dir || !clip)
		return 1;
	snprintf(log_path, sizeof(log_path), "%s/open.log", dir);
	snprintf(edits, sizeof(edits), "%s/edits.txt", dir);
	tu_write_file(edits, "brightness 0.1\nvflip --frames 20-30\n", 36);
	snprintf(buffer, sizeof(buffer), "%s/ref.reel", getenv("REEL_BUFFER_DIR"));

	library_kills(dir, &rng, &t);

	/* The reference: a session with a slot for every frame, each read back. */
	extra[0] = "--edits";
	extra[1] = edits;
	extra[2] = NULL;
	tu_session_name(session, sizeof(session));
	coord = bf_open(clip, session, buffer, log_path, extra, NULL);
	if (coord > 0) {
		struct reel_buffer_info info;

		ref = bf_reference(session, buffer, &info, &frame_bytes);
		frames = info.frame_count;
	}
	if (coord > 0)
		bf_stop(session, coord);
	if (!ref) {
		printf("could not make the reference session\n");
		t.tries++;
	} else {
		/* The same buffer resumed: every frame adopted READY, then scribbled on. */
		session_kills(buffer, ref, frame_bytes, frames, &rng, &t);
		power_losses(dir, buffer, ref, frame_bytes, frames, &rng, &t);
	}
	free(ref);
	tu_rmrf(dir);
	free(dir);
	return fault_report("slot mutex holder SIGKILLed; lock table left locked by a power loss",
	                    t.tries, t.held, t.lost,
	                    "held = the lock back within 2 s as STALE, the frame rebuilt, the copy "
	                    "reset at open and every frame equal to the reference");
}
