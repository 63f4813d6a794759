/*
 * Fault 9: 10,000 random and malformed messages pushed onto a live
 * session's coordinator queue (the one queue the coordinator reads), by a
 * process of the same user, which is as hostile as a local attacker can
 * get (another user cannot open the queue at all: fault 11).  Ten kinds:
 * random bytes of every length, a good header with bad fields, and
 * well-formed messages that lie: a sender pid of 1, of the coordinator
 * itself, of a dead process, of a live process that holds no reply queue;
 * a stage's report from a process that is no stage; a request without a
 * connection; kinds only the coordinator sends.
 *
 * Held: every one rejected and counted (`malformed` in reel status grows by
 * exactly 10,000), the session log says so at a bounded rate (at most
 * REJECT_LINES lines and a summary per 10 s window), and the session keeps
 * serving: a frame is read, an edit is journaled and lands on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bus-util.h"
#include "bus/bus.h"
#include "bus/msg.h"
#include "bus/session.h"
#include "fault.h"
#include "reel/client.h"
#include "reel/error.h"
#include "reel/ops.h"
#include "testutil.h"

#define SESSION "malformed"
#define MESSAGES 10000
#define LINES_PER_WINDOW 11   /* REJECT_LINES lines and one summary */
#define WINDOW_S 10.0

static uint64_t rnd(void)
{
	return ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand();
}

/* Message i of the flood, into buf; its length. */
static size_t hostile(unsigned i, pid_t coord, pid_t dead, pid_t idle, char *buf)
{
	struct reel_msg m;
	size_t len = REEL_MSG_SIZE;

	reel_msg_init(&m, REEL_MSG_STATUS);
	m.sender_pid = (uint32_t)getpid();
	m.flags = (uint32_t)rnd() | 1;
	switch (i % 10) {
	case 0:   /* random bytes, any length the queue takes */
		len = (size_t)(rand() % (REEL_MSG_SIZE + 1));
		for (size_t k = 0; k < len; k++)
			buf[k] = (char)rand();
		return len;
	case 1:   /* a good header, then garbage */
		for (size_t k = 12; k < REEL_MSG_SIZE; k++)
			((char *)&m)[k] = (char)rand();
		m.kind = (uint16_t)(REEL_MSG_KIND_COUNT + rand() % 100);
		break;
	case 2:
		m.sender_pid = 1;
		break;
	case 3:
		m.kind = REEL_MSG_NEED;
		m.sender_pid = (uint32_t)coord;
		break;
	case 4:
		m.kind = REEL_MSG_NEED;
		m.sender_pid = (uint32_t)dead;
		break;
	case 5:
		reel_msg_init(&m, rand() % 2 ? REEL_MSG_DONE : REEL_MSG_CLAIM);
		m.sender_pid = (uint32_t)getpid();
		m.seq = 1;
		m.op = REEL_OP_BRIGHTNESS;
		break;
	case 6:
		reel_msg_init(&m, REEL_MSG_COMMAND);
		m.sender_pid = (uint32_t)getpid();
		m.op = REEL_OP_BRIGHTNESS;
		m.params[0] = 0.5;
		m.flags = 0;
		break;
	case 7:   /* ours, with a tag no reply queue of ours has */
		break;
	case 8:
		reel_msg_init(&m, rand() % 2 ? REEL_MSG_REPLY : REEL_MSG_STATUS_REPLY);
		m.sender_pid = (uint32_t)getpid();
		break;
	default:  /* a live process of ours that holds no reply queue */
		reel_msg_init(&m, REEL_MSG_HELLO);
		m.role = REEL_ROLE_EDITOR;
		m.sender_pid = (uint32_t)idle;
		m.flags = (uint32_t)rnd() | 1;
		break;
	}
	memcpy(buf, &m, sizeof(m));
	return len;
}

/* Lines of the session log that speak of rejected messages. */
static unsigned reject_lines(const char *log)
{
	char *text = tu_slurp(log, NULL), *p;
	unsigned n = 0;

	for (p = text; p && (p = strstr(p, "rejected")); p++)
		n++;
	free(text);
	return n;
}

static uint64_t checksum(const struct reel_frame *f)
{
	uint64_t h = 1469598103934665603ull;

	for (uint32_t y = 0; y < f->height[0]; y++)
		for (uint32_t x = 0; x < f->width[0]; x++)
			h = (h ^ f->plane[0][(size_t)y * f->stride[0] + x]) * 1099511628211ull;
	return h;
}

int main(void)
{
	const char *clip = tu_clip("noaudio.mp4");
	struct reel_client *c = NULL;
	struct reel_status st0, st;
	struct reel_video_info vi;
	struct reel_frame frame;
	char *dir, log[4096], name[REEL_QUEUE_NAME_MAX], note[256], buf[REEL_MSG_SIZE];
	const double params[4] = { 0.3, 0, 0, 0 };
	unsigned sent = 0, counted = 0, lines = 0, bound;
	uint64_t before, after, seq = 0;
	bool serving = false;
	double t0, flood_s;
	pid_t coord, dead, idle;
	mqd_t q;

	if (!clip) {
		printf("SKIP: no test clip (REEL_TEST_CLIPS)\n");
		return 77;
	}
	dir = tu_private_env();
	snprintf(log, sizeof(log), "%s/open.log", dir);
	srand((unsigned)getpid());
	if (bu_open(clip, SESSION, true, log, 20000, &coord, &c) < 0) {
		fprintf(stderr, "reel open did not come up (see %s)\n", log);
		return 1;
	}
	if (reel_session_log_path(reel_client_record(c)->buffer_path, log, sizeof(log)) < 0 ||
	    reel_client_video(c, &vi) < 0 || reel_frame_alloc(&vi, &frame) < 0 ||
	    reel_client_read_frame(c, 3, REEL_READ_SETTLED, REEL_PRIO_INTERACTIVE, 10000, &frame,
	                           NULL) < 0 ||
	    reel_client_status(c, 5000, &st0) < 0)
		return 1;
	before = checksum(&frame);
	/* A pid that was ours and is dead; one that lives but holds no queue. */
	dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	idle = fork();
	if (idle == 0) {
		pause();
		_exit(0);
	}
	if (reel_queue_name(name, sizeof(name), SESSION, REEL_ROLE_COORD) < 0 ||
	    reel_queue_open(name, 0, &q) < 0)
		return 1;

	t0 = tu_now_ms();
	for (unsigned i = 0; i < MESSAGES; i++) {
		size_t len = hostile(i, coord, dead, idle, buf);
		struct timespec ts;

		/* Blocking with a deadline: a full queue is backpressure, never a drop. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		if (mq_timedsend(q, buf, len, (unsigned)(rand() % 32), &ts) == 0)
			sent++;
		if ((i + 1) % 2500 == 0)
			printf("# %u hostile messages sent\n", i + 1);
	}
	/* Every one is counted once the queue is drained: wait for that, bounded. */
	for (int k = 0; k < 200; k++) {
		if (reel_client_status(c, 5000, &st) == 0 && st.malformed - st0.malformed >= sent)
			break;
		usleep(50000);
	}
	flood_s = (tu_now_ms() - t0) / 1000;
	counted = (unsigned)(st.malformed - st0.malformed);
	lines = reject_lines(log);
	bound = (unsigned)(flood_s / WINDOW_S + 2) * LINES_PER_WINDOW;

	/* Still serving: an edit is journaled and lands on the frame read before. */
	if (reel_client_command(c, REEL_OP_BRIGHTNESS, params, 0, 9, 10000, &seq) == 0 &&
	    reel_client_read_frame(c, 3, REEL_READ_SETTLED, REEL_PRIO_INTERACTIVE, 10000, &frame,
	                           NULL) == 0) {
		after = checksum(&frame);
		serving = after != before && reel_client_status(c, 5000, &st) == 0 &&
		          st.journal == st0.journal + 1;
	}
	printf("# sent %u hostile messages in %.1f s; malformed counted %u; %u log lines about "
	       "them (bound %u); afterwards edit %llu journaled and seen on frame 3: %s\n",
	       sent, flood_s, counted, lines, bound, (unsigned long long)seq, serving ? "yes" : "NO");
	reel_queue_close(q);
	reel_client_stop(c, 10000);
	reel_client_close(c);
	tu_wait(coord, 15000);
	kill(idle, SIGKILL);
	waitpid(idle, NULL, 0);
	reel_frame_free(&frame);
	tu_rmrf(dir);
	free(dir);
	snprintf(note, sizeof(note), "all rejected and counted; %u log lines for them (bound %u); "
	         "an edit and a frame served afterwards", lines, bound);
	return fault_report("malformed and lying messages", MESSAGES,
	                    counted == sent && lines >= 1 && lines <= bound && serving ? sent : 0,
	                    MESSAGES - (counted < MESSAGES ? counted : MESSAGES) + !serving, note);
}
