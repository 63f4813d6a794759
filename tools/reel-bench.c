/*
 * reel-bench: the benchmarks of the coordinator and the command bus.
 *
 *   reel-bench rtt      [VIDEO] [--count N] [--runs R] [--json]
 *   reel-bench open     [VIDEO] [--runs R] [--json]
 *   reel-bench effects  [--runs R] [--frames N] [--json]
 *   reel-bench pipeline [--runs R] [--json]
 *   reel-bench edit-rtt [VIDEO] [--count N] [--runs R] [--json]
 *
 * Every figure is printed next to a baseline measured in the same run, as
 * a ratio, because this machine is shared and noisy: absolute numbers from
 * another day mean little, the ratio to something simple measured a second
 * earlier means more.  Figures are medians over several runs.
 *
 * rtt: a raw ping-pong of REEL_MSG_SIZE messages between two processes over
 * two POSIX queues (the floor), then STATUS and NEED round trips through a
 * real coordinator (`reel open`, the binary next to this one) with
 * reel_client_call.
 *
 * open: time from spawning `reel open` to the reply of NEED(0), on a
 * 10-second and a 10-minute 1080p30 H.264 clip (made once with the ffmpeg
 * command line tool and cached), next to ffmpeg's time to decode one frame;
 * then the throughput of materialising every frame of the 10-second clip
 * next to `ffmpeg -i FILE -f null -`.
 *
 * effects: the effect workers applying edits in place to resident frames
 * (brightness, blur, and a chain of three edits) with one worker and with
 * one per core, from the first send until the frames are settled, in
 * frames/s and GB/s next to memcpy's bandwidth measured in the same run.
 *
 * pipeline: decode -> brightness -> blur over the 10-second clip, end to
 * end: reel with the edits sent before the frames are decoded, reel with
 * the edits sent to frames already resident, one ffmpeg process with the
 * same filters, and two ffmpeg processes joined by a pipe of raw frames.
 *
 * edit-rtt: the round trip of one edit (send -> acknowledged once journaled
 * durably) through a real coordinator, next to the raw queue ping-pong and
 * a STATUS round trip measured in the same run.
 *
 * Buffer files go to a fresh folder inside reel's default buffer folder
 * (so that the figures are those of the default), removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <mqueue.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli.h"
#include "coord.h"
#include "buffer/buffer.h"
#include "buffer/journal.h"
#include "bus/bus.h"
#include "bus/session.h"
#include "reel/client.h"
#include "reel/error.h"
#include "reel/ops.h"
#include "bus/msg.h"

#define CALL_TIMEOUT_MS 5000
#define READY_TIMEOUT_MS 120000
#define NEED_TIMEOUT_MS 120000
#define DEFAULT_CHUNK 32

static bool progress;
/* Frames per NEED in the throughput run (--chunk). */
static uint64_t chunk = DEFAULT_CHUNK;

/* ------------------------------------------------------------ utilities */

static double now_us(void)
{
	return (double)reel__now_ns() / 1e3;
}

__attribute__((format(printf, 1, 2)))
static void note(const char *fmt, ...)
{
	va_list ap;

	if (!progress)
		return;
	fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
}

static void note_done(void)
{
	if (progress)
		fputs("\r\033[K", stderr);
}

__attribute__((format(printf, 1, 2)))
static int fail(const char *fmt, ...)
{
	va_list ap;

	note_done();
	fputs("reel-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n values (sorted in place). */
static double percentile(double *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	rank = (size_t)ceil(p / 100.0 * (double)n);
	return v[rank ? rank - 1 : 0];
}

static double median(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

static void rmrf(const char *path)
{
	if (path && *path)
		nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The `reel` binary built next to this one. */
static int find_reel(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return -errno;
	self[n] = 0;
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = 0;
	if ((size_t)snprintf(buf, len, "%s/reel", self) >= len)
		return -ENAMETOOLONG;
	return access(buf, X_OK) == 0 ? 0 : -errno;
}

/* Wait for pid at most timeout_ms; then SIGTERM, then SIGKILL.  Returns the wait status or -1. */
static int reap(pid_t pid, int timeout_ms)
{
	double deadline = now_us() + timeout_ms * 1e3;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_us() > deadline)
			break;
		usleep(1000);
	}
	kill(pid, SIGTERM);
	usleep(200000);
	if (waitpid(pid, &status, WNOHANG) == pid)
		return -1;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* Run argv to completion; returns the wall time in ms, or a negative value on failure. */
static double run_timed(char *const argv[])
{
	double t0 = now_us();
	pid_t pid = cli_spawn(argv, NULL);
	int status;

	if (pid < 0)
		return -1;
	status = reap(pid, 30 * 60 * 1000);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return (now_us() - t0) / 1e3;
}

/* A whole number from lo to hi for option `name`, or one line saying why not. */
static int parse_option_number(const char *name, const char *text, uint64_t lo, uint64_t hi,
                               uint64_t *ret_value)
{
	uint64_t v;

	if (cli_parse_u64(text, &v) < 0 || v < lo || v > hi)
		return fail("%s: '%s' is not a number from %" PRIu64 " to %" PRIu64, name, text, lo, hi),
		       -EINVAL;
	*ret_value = v;
	return 0;
}

/* The end of the coordinator's log on stderr, to explain a failure. */
static void show_log(const char *path)
{
	fprintf(stderr, "reel-bench: the coordinator said:\n");
	cli_show_log(path);
}

/* A fresh private folder inside reel's default buffer folder (or base, when given). */
static int make_workdir(const char *base, char *buf, size_t len)
{
	char dir[PATH_MAX];
	int r;

	if (base) {
		if ((size_t)snprintf(dir, sizeof(dir), "%s", base) >= sizeof(dir))
			return -ENAMETOOLONG;
	} else {
		r = reel_coord_default_buffer_dir(dir, sizeof(dir));
		if (r < 0)
			return r;
	}
	if ((size_t)snprintf(buf, len, "%s/bench-XXXXXX", dir) >= len)
		return -ENAMETOOLONG;
	return mkdtemp(buf) ? 0 : -errno;
}

/* --------------------------------------------------- a coordinator child */

struct coord_child {
	pid_t pid;
	char session[REEL_SESSION_NAME_MAX + 1];
	char buffer[PATH_MAX];
	char log[PATH_MAX];
	struct reel_client *client;
	uint64_t frames;
	double ready_ms;           /* from spawn to the first answered STATUS */
};

/* The stages a coordinator child starts: none, reel open's default (a worker per core), or N. */
#define NO_STAGES (-1)
#define DEFAULT_STAGES 0

static pid_t spawn_open(const char *reel, const char *video, const struct coord_child *c,
                        int workers)
{
	char count[16];
	char *argv[] = {
		(char *)reel, (char *)"open", (char *)video, (char *)"--session", (char *)c->session,
		(char *)"--buffer", (char *)c->buffer, NULL, NULL, NULL,
	};

	if (workers == NO_STAGES)
		return cli_spawn_open(reel, video, c->session, c->buffer, c->log);
	if (workers > 0) {
		snprintf(count, sizeof(count), "%d", workers);
		argv[7] = (char *)"--workers";
		argv[8] = count;
	}
	return cli_spawn(argv, c->log);
}

/*
 * Spawn `reel open video` with a buffer file in workdir and the stages that
 * workers says, and wait until the session answers a STATUS request (the
 * stages may still be starting).  *ret_t0 is the spawn time (µs).
 */
static int coord_start_stages(const char *reel, const char *video, const char *workdir, unsigned n,
                              int workers, struct coord_child *c, double *ret_t0)
{
	struct reel_msg req, rep;
	double t0;
	int r, status;

	memset(c, 0, sizeof(*c));
	snprintf(c->session, sizeof(c->session), "bench%ldx%u", (long)getpid(), n);
	snprintf(c->buffer, sizeof(c->buffer), "%s/%s.reel", workdir, c->session);
	snprintf(c->log, sizeof(c->log), "%s/%s.log", workdir, c->session);
	t0 = now_us();
	c->pid = spawn_open(reel, video, c, workers);
	if (c->pid < 0)
		return (int)c->pid;
	*ret_t0 = t0;
	r = cli_wait_session(c->session, c->pid, READY_TIMEOUT_MS, &c->client, &status);
	if (r == -ECHILD) {
		c->pid = 0;
		show_log(c->log);
		return REEL_E_NOSESSION;
	}
	if (r < 0) {
		show_log(c->log);
		return r;
	}
	/* Ready means answering: the first STATUS is answered once the loop runs. */
	reel_msg_init(&req, REEL_MSG_STATUS);
	r = reel_client_call(c->client, &req, REEL_PRIO_INTERACTIVE, CALL_TIMEOUT_MS, &rep);
	if (r < 0) {
		show_log(c->log);
		return r;
	}
	c->frames = rep.stat[REEL_STAT_FRAMES];
	c->ready_ms = (now_us() - t0) / 1e3;
	return 0;
}

/* The same with no stages: nothing but the coordinator runs. */
static int coord_start(const char *reel, const char *video, const char *workdir, unsigned n,
                       struct coord_child *c, double *ret_t0)
{
	return coord_start_stages(reel, video, workdir, n, NO_STAGES, c, ret_t0);
}

/* Stop the session with a STOP message and reap the coordinator; 0 when it stopped cleanly. */
static int coord_stop(struct coord_child *c)
{
	int r = -ESRCH, status;

	if (c->client) {
		struct reel_msg req;
		reel_msg_init(&req, REEL_MSG_STOP);
		r = reel_client_call(c->client, &req, REEL_PRIO_CONTROL, CALL_TIMEOUT_MS, NULL);
		reel_client_close(c->client);
		c->client = NULL;
	}
	if (c->pid > 0) {
		status = reap(c->pid, 30000);
		if (r == 0 && (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0))
			r = -ECHILD;
		c->pid = 0;
	}
	/* A coordinator that had to be killed leaves its session behind. */
	reel_session_remove(c->session);
	unlink(c->buffer);
	return r;
}

/*
 * Wait until at least want stages are attached to c's session (an editor,
 * the effect workers and an audio stage): effect figures taken while a
 * worker is still starting would be those of fewer workers.
 */
static int wait_stages(struct coord_child *c, uint64_t want, int timeout_ms)
{
	double deadline = now_us() + timeout_ms * 1e3;
	struct reel_status st;
	int r;

	for (;;) {
		r = reel_client_status(c->client, CALL_TIMEOUT_MS, &st);
		if (r < 0)
			return r;
		if (st.stages >= want)
			return 0;
		if (now_us() > deadline) {
			fail("%" PRIu64 " of %" PRIu64 " stages attached after %d ms", st.stages, want,
			     timeout_ms);
			show_log(c->log);
			return -ETIMEDOUT;
		}
		usleep(10000);
	}
}

/* Materialise frames 0..n-1 in order, `chunk` at a time; what says whose progress it is. */
static int materialise_frames(struct coord_child *c, uint64_t n, const char *what)
{
	int r = 0;

	for (uint64_t f = 0; f < n && r == 0; f += chunk) {
		uint64_t last = f + chunk - 1 < n - 1 ? f + chunk - 1 : n - 1;
		r = reel_client_need(c->client, f, last, REEL_PRIO_BATCH, NEED_TIMEOUT_MS, NULL);
		note("%s: materialising frame %" PRIu64 "/%" PRIu64, what, last + 1, n);
	}
	return r;
}

/* One edit as the benches send it: an op and its one parameter (0 when it has none). */
struct bench_edit {
	uint32_t op;
	double param;
};

/* Send edits[0..n-1] over frames first..last; the sequence of the first into *ret_seq. */
static int send_edits(struct coord_child *c, const struct bench_edit *edits, unsigned n,
                      int64_t first, int64_t last, uint64_t *ret_seq)
{
	for (unsigned i = 0; i < n; i++) {
		double params[4] = { edits[i].param, 0, 0, 0 };
		uint64_t seq;
		int r = reel_client_command(c->client, edits[i].op, params, first, last, CALL_TIMEOUT_MS,
		                            &seq);
		if (r < 0)
			return r;
		if (i == 0)
			*ret_seq = seq;
	}
	return 0;
}

/*
 * 0 when the journal entries first_seq..first_seq+n-1 of c's buffer are
 * APPLIED (read from the buffer opened read-only, as `reel send --wait`
 * does); REEL_E_EDIT otherwise, with a line saying which.
 */
static int check_applied(const struct coord_child *c, uint64_t first_seq, unsigned n)
{
	static const char *const names[] = { "pending", "applied", "undone", "failed" };
	struct reel_buffer *b;
	int r = reel_buffer_open_readonly(c->buffer, &b);

	if (r < 0)
		return r;
	for (uint64_t seq = first_seq; seq < first_seq + n && r == 0; seq++) {
		struct reel_journal_entry e;
		r = reel_journal_read(b, seq, &e);
		if (r == 0 && e.state != REEL_JOURNAL_APPLIED) {
			fail("edit %" PRIu64 " is %s, not applied, once its frames settled", seq,
			     e.state < REEL_JOURNAL_STATE_COUNT ? names[e.state] : "in an unknown state");
			r = REEL_E_EDIT;
		}
	}
	reel_buffer_close(b);
	return r;
}

/* ---------------------------------------------------------------- rtt */

struct pct {
	double p50, p99;
};

/* Median over runs of each run's p50 and p99 (µs). */
static struct pct summarise(double *samples, unsigned count, unsigned runs)
{
	double p50[64], p99[64];
	struct pct out;

	for (unsigned r = 0; r < runs; r++) {
		p50[r] = percentile(samples + (size_t)r * count, count, 50);
		p99[r] = percentile(samples + (size_t)r * count, count, 99);
	}
	out.p50 = median(p50, runs);
	out.p99 = median(p99, runs);
	return out;
}

/* The floor: REEL_MSG_SIZE bytes A -> B -> A over two POSIX queues, nothing else. */
struct pingpong {
	char ping_name[64], pong_name[64];
	mqd_t ping, pong;
	pid_t pid;
};

static void pingpong_stop(struct pingpong *pp)
{
	char buf[REEL_MSG_SIZE];

	if (pp->pid > 0) {
		memset(buf, 'q', sizeof(buf));
		mq_send(pp->ping, buf, sizeof(buf), 0);
		reap(pp->pid, 5000);
		pp->pid = 0;
	}
	if (pp->pong != (mqd_t)-1) {
		mq_close(pp->pong);
		mq_unlink(pp->pong_name);
	}
	if (pp->ping != (mqd_t)-1) {
		mq_close(pp->ping);
		mq_unlink(pp->ping_name);
	}
}

static int pingpong_start(struct pingpong *pp)
{
	struct mq_attr attr = { .mq_maxmsg = REEL_BUS_DEPTH, .mq_msgsize = REEL_MSG_SIZE };
	char buf[REEL_MSG_SIZE];
	int r;

	memset(pp, 0, sizeof(*pp));
	pp->ping = pp->pong = (mqd_t)-1;
	snprintf(pp->ping_name, sizeof(pp->ping_name), "/reel-bench.%ld.ping", (long)getpid());
	snprintf(pp->pong_name, sizeof(pp->pong_name), "/reel-bench.%ld.pong", (long)getpid());
	pp->ping = mq_open(pp->ping_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
	if (pp->ping == (mqd_t)-1)
		goto out_errno;
	pp->pong = mq_open(pp->pong_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
	if (pp->pong == (mqd_t)-1)
		goto out_errno;
	fflush(NULL);
	pp->pid = fork();
	if (pp->pid < 0)
		goto out_errno;
	if (pp->pid == 0) {
		/* The echo: as little work as a process can do per message. */
		for (;;) {
			ssize_t n = mq_receive(pp->ping, buf, sizeof(buf), NULL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || buf[0] == 'q')
				_exit(0);
			if (mq_send(pp->pong, buf, (size_t)n, 0) < 0)
				_exit(1);
		}
	}
	return 0;

out_errno:
	r = -errno;
	pp->pid = 0;
	pingpong_stop(pp);
	return r;
}

/* n round trips; their times (µs) into samples unless it is NULL (warm-up). */
static int pingpong_batch(struct pingpong *pp, unsigned n, double *samples)
{
	char buf[REEL_MSG_SIZE];

	memset(buf, 'p', sizeof(buf));
	for (unsigned i = 0; i < n; i++) {
		double t0 = now_us();
		if (mq_send(pp->ping, buf, sizeof(buf), 0) < 0 ||
		    mq_receive(pp->pong, buf, sizeof(buf), NULL) < 0)
			return -errno;
		if (samples)
			samples[i] = now_us() - t0;
	}
	return 0;
}

/* n requests of kind through the coordinator; times (µs) into samples unless NULL. */
static int bus_calls(struct reel_client *client, uint16_t kind, unsigned n, double *samples)
{
	for (unsigned i = 0; i < n; i++) {
		struct reel_msg req, rep;
		double t0 = now_us();
		int r;

		/* NEED(0): frame 0 was made resident before, so this is the bus and a lookup only. */
		reel_msg_init(&req, kind);
		r = reel_client_call(client, &req, REEL_PRIO_INTERACTIVE, CALL_TIMEOUT_MS, &rep);
		if (r < 0)
			return r;
		if (samples)
			samples[i] = now_us() - t0;
	}
	return 0;
}

/* A small clip for the round trips: 2 s of 320x240, made with the ffmpeg command line tool. */
static int make_small_clip(const char *path)
{
	char *argv[] = {
		(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-y",
		(char *)"-f", (char *)"lavfi", (char *)"-i", (char *)"testsrc2=size=320x240:rate=25",
		(char *)"-t", (char *)"2", (char *)"-c:v", (char *)"libx264", (char *)"-preset",
		(char *)"veryfast", (char *)"-pix_fmt", (char *)"yuv420p", (char *)path, NULL,
	};

	return run_timed(argv) < 0 ? -EIO : 0;
}

static void rtt_usage(FILE *out)
{
	fprintf(out,
	        "usage: reel-bench rtt [VIDEO] [--count N] [--runs R] [--buffer-dir DIR] [--json]\n\n"
	        "Round trips of the command bus, p50 and p99 in microseconds, each the median\n"
	        "over R runs (default 5) of N round trips (default 2000):\n"
	        "  raw     REEL_MSG_SIZE bytes between two processes over two POSIX queues\n"
	        "  status  a STATUS request to a real coordinator (reel open VIDEO --no-stages)\n"
	        "  need    a NEED request for a frame already resident\n"
	        "The last two are also given as ratios to raw.  Without VIDEO, a small clip\n"
	        "is made with ffmpeg in a temporary folder.\n");
}

/* What rtt and edit-rtt share: options, a work folder, a clip, the samples. */
struct rtt_job {
	const char *name;
	uint64_t count, runs;
	const char *video, *base;
	bool json;
	char reel[PATH_MAX], workdir[PATH_MAX], clip[PATH_MAX + 16];
	double *samples[3];
	unsigned warmup;
	bool have_workdir;
};

/* Options of rtt and edit-rtt: 0 to go on, -1 after --help, or an exit code. */
static int rtt_parse(struct rtt_job *j, int argc, char **argv, void (*usage)(FILE *out))
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "runs", required_argument, NULL, 'r' },
		{ "buffer-dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	j->count = 2000;
	j->runs = 5;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_option_number("--count", optarg, 10, 10000000, &j->count) < 0)
				return CLI_USAGE;
			break;
		case 'r':
			if (parse_option_number("--runs", optarg, 1, 64, &j->runs) < 0)
				return CLI_USAGE;
			break;
		case 'd': j->base = optarg; break;
		case 'j': j->json = true; break;
		case 'h': usage(stdout); return -1;
		default:
			return fail("%s: unknown option '%s' (see 'reel-bench %s --help')", j->name,
			            argv[optind - 1], j->name), CLI_USAGE;
		}
	}
	if (argc - optind > 1)
		return fail("%s: at most one VIDEO (see 'reel-bench %s --help')", j->name, j->name),
		       CLI_USAGE;
	if (argc - optind == 1)
		j->video = argv[optind];
	return 0;
}

/* The reel binary, the sample arrays, the work folder and a clip: 0, or CLI_FAIL after saying why. */
static int rtt_prepare(struct rtt_job *j)
{
	int r = find_reel(j->reel, sizeof(j->reel));

	if (r < 0)
		return fail("cannot find the reel binary next to reel-bench: %s", strerror(-r)), CLI_FAIL;
	for (int i = 0; i < 3; i++) {
		j->samples[i] = malloc(j->count * j->runs * sizeof(*j->samples[i]));
		if (!j->samples[i])
			return fail("out of memory"), CLI_FAIL;
	}
	j->warmup = (unsigned)(j->count / 10 + 10);
	r = make_workdir(j->base, j->workdir, sizeof(j->workdir));
	if (r < 0)
		return fail("cannot make a work folder: %s", reel_strerror(r)), CLI_FAIL;
	j->have_workdir = true;
	if (!j->video) {
		note("%s: making a small clip with ffmpeg", j->name);
		snprintf(j->clip, sizeof(j->clip), "%s/small.mp4", j->workdir);
		if (make_small_clip(j->clip) < 0)
			return fail("ffmpeg could not make a test clip (is the ffmpeg command installed?)"),
			       CLI_FAIL;
		j->video = j->clip;
	}
	return 0;
}

static void rtt_finish(struct rtt_job *j)
{
	if (j->have_workdir)
		rmrf(j->workdir);
	for (int i = 0; i < 3; i++)
		free(j->samples[i]);
}

/*
 * The raw ping-pong, STATUS and the job's own measure take turns run by
 * run, so that each run of the bus sits next to a run of the baseline under
 * the same load of the machine.  third(ud, n, samples) makes n round trips
 * (samples NULL: warm-up).
 */
static int rtt_measure(struct rtt_job *j, struct pingpong *pp, struct reel_client *client,
                       int (*third)(void *ud, unsigned n, double *samples), void *ud)
{
	int r = pingpong_batch(pp, j->warmup, NULL);

	if (r == 0)
		r = bus_calls(client, REEL_MSG_STATUS, j->warmup, NULL);
	if (r == 0)
		r = third(ud, j->warmup, NULL);
	for (unsigned i = 0; i < j->runs && r == 0; i++) {
		size_t at = (size_t)i * j->count;
		note("%s: run %u/%" PRIu64, j->name, i + 1, j->runs);
		r = pingpong_batch(pp, (unsigned)j->count, j->samples[0] + at);
		if (r == 0)
			r = bus_calls(client, REEL_MSG_STATUS, (unsigned)j->count, j->samples[1] + at);
		if (r == 0)
			r = third(ud, (unsigned)j->count, j->samples[2] + at);
	}
	return r;
}

/* The third measure of rtt: NEED of a resident frame. */
static int need_calls(void *ud, unsigned n, double *samples)
{
	return bus_calls(ud, REEL_MSG_NEED, n, samples);
}

static int cmd_rtt(int argc, char **argv)
{
	struct rtt_job job = { .name = "rtt" };
	struct pct raw, status, need;
	struct pingpong pp;
	struct coord_child c;
	double t0;
	int r, code = CLI_FAIL;

	r = rtt_parse(&job, argc, argv, rtt_usage);
	if (r)
		return r < 0 ? CLI_OK : r;
	if (rtt_prepare(&job))
		goto out;
	note("rtt: starting a coordinator");
	r = coord_start(job.reel, job.video, job.workdir, 0, &c, &t0);
	if (r < 0) {
		fail("reel open %s did not come up: %s", job.video, reel_strerror(r));
		goto out_coord;
	}
	r = pingpong_start(&pp);
	if (r < 0) {
		fail("raw ping-pong: %s", reel_strerror(r));
		goto out_coord;
	}
	r = reel_client_need(c.client, 0, 0, REEL_PRIO_INTERACTIVE, NEED_TIMEOUT_MS, NULL);
	if (r == 0)
		r = rtt_measure(&job, &pp, c.client, need_calls, c.client);
	pingpong_stop(&pp);
	if (r < 0) {
		fail("round trips failed: %s", reel_strerror(r));
		show_log(c.log);
		goto out_coord;
	}
	raw = summarise(job.samples[0], (unsigned)job.count, (unsigned)job.runs);
	status = summarise(job.samples[1], (unsigned)job.count, (unsigned)job.runs);
	need = summarise(job.samples[2], (unsigned)job.count, (unsigned)job.runs);
	r = coord_stop(&c);
	note_done();
	if (r < 0)
		fprintf(stderr, "reel-bench: warning: the coordinator did not stop cleanly: %s\n",
		        reel_strerror(r));

	if (job.json) {
		printf("{\"bench\":\"rtt\",\"count\":%" PRIu64 ",\"runs\":%" PRIu64 ","
		       "\"raw\":{\"p50_us\":%.2f,\"p99_us\":%.2f},"
		       "\"status\":{\"p50_us\":%.2f,\"p99_us\":%.2f,\"p50_ratio\":%.3f,\"p99_ratio\":%.3f},"
		       "\"need\":{\"p50_us\":%.2f,\"p99_us\":%.2f,\"p50_ratio\":%.3f,\"p99_ratio\":%.3f}}\n",
		       job.count, job.runs, raw.p50, raw.p99, status.p50, status.p99, status.p50 / raw.p50,
		       status.p99 / raw.p99, need.p50, need.p99, need.p50 / raw.p50, need.p99 / raw.p99);
	} else {
		printf("reel-bench rtt: %" PRIu64 " round trips x %" PRIu64 " runs, medians of the runs\n\n",
		       job.count, job.runs);
		printf("%-34s %9s %9s %10s %10s\n", "", "p50 us", "p99 us", "p50 ratio", "p99 ratio");
		printf("%-34s %9.1f %9.1f %10s %10s\n", "raw ping-pong (2 POSIX queues)", raw.p50, raw.p99,
		       "1.00", "1.00");
		printf("%-34s %9.1f %9.1f %9.2fx %9.2fx\n", "STATUS via reel_client_call", status.p50,
		       status.p99, status.p50 / raw.p50, status.p99 / raw.p99);
		printf("%-34s %9.1f %9.1f %9.2fx %9.2fx\n", "NEED of a resident frame", need.p50,
		       need.p99, need.p50 / raw.p50, need.p99 / raw.p99);
	}
	code = CLI_OK;
	goto out;
out_coord:
	coord_stop(&c);
out:
	rtt_finish(&job);
	return code;
}

/* --------------------------------------------------------------- open */

struct clip {
	const char *label;
	char path[PATH_MAX];
	double ttff_ms, ready_ms, ffmpeg_first_ms;
	uint64_t frames;
};

static int cache_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char tmp[PATH_MAX];
	int n;

	if (xdg && *xdg)
		n = snprintf(tmp, sizeof(tmp), "%s", xdg);
	else if (home && *home)
		n = snprintf(tmp, sizeof(tmp), "%s/.cache", home);
	else
		return -ENOENT;
	if (n <= 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* mkdir -p of .../reel/bench, one level at a time. */
	if ((mkdir(tmp, 0700) < 0 && errno != EEXIST))
		return -errno;
	if ((size_t)snprintf(buf, len, "%s/reel", tmp) >= len)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	if ((size_t)snprintf(buf, len, "%s/reel/bench", tmp) >= len)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Run ffmpeg into a temporary name and rename it: an interrupted run leaves no half clip. */
static int make_cached(const char *path, char **argv, int out_index)
{
	char part[PATH_MAX + 16];
	const char *dot = strrchr(path, '.');

	if (access(path, R_OK) == 0)
		return 0;
	snprintf(part, sizeof(part), "%.*s.part%s", (int)(dot - path), path, dot);
	argv[out_index] = part;
	if (run_timed(argv) < 0) {
		unlink(part);
		return -EIO;
	}
	return rename(part, path) < 0 ? -errno : 0;
}

/* The 10-second 1080p30 H.264 clip with sound, made once, cached in dir; what names the bench. */
static int make_ten_second_clip(const char *dir, char *ten_s, size_t len, const char *what)
{
	char *encode[] = {
		(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-y",
		(char *)"-f", (char *)"lavfi", (char *)"-i", (char *)"testsrc2=size=1920x1080:rate=30",
		(char *)"-f", (char *)"lavfi", (char *)"-i", (char *)"sine=frequency=440:sample_rate=48000",
		(char *)"-t", (char *)"10", (char *)"-c:v", (char *)"libx264", (char *)"-preset",
		(char *)"veryfast", (char *)"-pix_fmt", (char *)"yuv420p", (char *)"-c:a", (char *)"aac",
		(char *)"-shortest", NULL, NULL,
	};

	if ((size_t)snprintf(ten_s, len, "%s/ten-seconds-1080p30.mp4", dir) >= len)
		return -ENAMETOOLONG;
	if (access(ten_s, R_OK) != 0)
		note("%s: encoding a 10-second 1080p30 clip with ffmpeg (once, cached in %s)", what, dir);
	return make_cached(ten_s, encode, 24);
}

static int make_bench_clips(const char *dir, char *ten_s, char *ten_min, size_t len)
{
	char *loop[] = {
		(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-y",
		(char *)"-stream_loop", (char *)"59", (char *)"-i", ten_s, (char *)"-c", (char *)"copy",
		NULL, NULL,
	};

	int r = make_ten_second_clip(dir, ten_s, len, "open");

	if (r < 0)
		return r;
	if ((size_t)snprintf(ten_min, len, "%s/ten-minutes-1080p30.mp4", dir) >= len)
		return -ENAMETOOLONG;
	if (access(ten_min, R_OK) != 0)
		note("open: looping it into a 10-minute clip (once, cached)");
	return make_cached(ten_min, loop, 11);
}

/* Spawn-to-NEED(0)-reply of `reel open`, one run. */
static int ttff_once(const char *reel, const char *video, const char *workdir, unsigned n,
                     double *ret_ttff_ms, double *ret_ready_ms, uint64_t *ret_frames)
{
	struct coord_child c;
	double t0;
	int r;

	r = coord_start(reel, video, workdir, n, &c, &t0);
	if (r < 0) {
		coord_stop(&c);
		return r;
	}
	r = reel_client_need(c.client, 0, 0, REEL_PRIO_INTERACTIVE, NEED_TIMEOUT_MS, NULL);
	*ret_ttff_ms = (now_us() - t0) / 1e3;
	*ret_ready_ms = c.ready_ms;
	*ret_frames = c.frames;
	if (r < 0)
		show_log(c.log);
	if (coord_stop(&c) < 0 && r == 0)
		fprintf(stderr, "reel-bench: warning: a coordinator did not stop cleanly\n");
	return r;
}

/* Materialise every frame in order, `chunk` at a time; frames per second. */
static int throughput_once(const char *reel, const char *video, const char *workdir, unsigned n,
                           double *ret_fps, uint64_t *ret_frames)
{
	struct coord_child c;
	double t0;
	int r;

	r = coord_start(reel, video, workdir, n, &c, &t0);
	if (r < 0) {
		coord_stop(&c);
		return r;
	}
	t0 = now_us();
	for (uint64_t f = 0; f < c.frames && r == 0; f += chunk) {
		uint64_t last = f + chunk - 1 < c.frames - 1 ? f + chunk - 1 : c.frames - 1;
		r = reel_client_need(c.client, f, last, REEL_PRIO_BATCH, NEED_TIMEOUT_MS, NULL);
		note("open: materialising frame %" PRIu64 "/%" PRIu64, last + 1, c.frames);
	}
	*ret_fps = (double)c.frames / ((now_us() - t0) / 1e6);
	*ret_frames = c.frames;
	if (r < 0)
		show_log(c.log);
	if (coord_stop(&c) < 0 && r == 0)
		fprintf(stderr, "reel-bench: warning: a coordinator did not stop cleanly\n");
	return r;
}

static void open_usage(FILE *out)
{
	fprintf(out,
	        "usage: reel-bench open [VIDEO] [--runs R] [--chunk N] [--buffer-dir DIR] [--json]\n\n"
	        "Time to first frame: from spawning 'reel open' to the reply of NEED(0), each\n"
	        "run with a fresh buffer file, next to ffmpeg decoding one frame of the same file.\n"
	        "Throughput: every frame materialised in order (NEED of N frames at a time,\n"
	        "default %d),"
	        " next to 'ffmpeg -i FILE -f null -'.  Medians of R runs (default 3).\n\n"
	        "Without VIDEO: a 10-second and a 10-minute 1080p30 H.264 clip made once with\n"
	        "ffmpeg and cached in ${XDG_CACHE_HOME:-~/.cache}/reel/bench/; the throughput\n"
	        "is measured on the 10-second one.  Buffer files go to a temporary folder in\n"
	        "reel's default buffer folder (or DIR), removed afterwards.\n",
	        DEFAULT_CHUNK);
}

static int cmd_open_bench(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "buffer-dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char reel[PATH_MAX], workdir[PATH_MAX], cache[PATH_MAX], ten_s[PATH_MAX], ten_min[PATH_MAX];
	struct clip clips[2];
	const char *base = NULL;
	double reel_fps = 0, ffmpeg_fps = 0, ffmpeg_decode_fps = 0, v[64], w[64], x[64];
	uint64_t runs = 3, tp_frames = 0;
	unsigned nclips, seq = 0;
	bool json = false;
	int opt, r, code = CLI_FAIL;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			if (parse_option_number("--runs", optarg, 1, 64, &runs) < 0)
				return CLI_USAGE;
			break;
		case 'c':
			if (parse_option_number("--chunk", optarg, 1, 1000000, &chunk) < 0)
				return CLI_USAGE;
			break;
		case 'd': base = optarg; break;
		case 'j': json = true; break;
		case 'h': open_usage(stdout); return CLI_OK;
		default:
			return fail("open: unknown option '%s' (see 'reel-bench open --help')", argv[optind - 1]),
			       CLI_USAGE;
		}
	}
	if (argc - optind > 1)
		return fail("open: at most one VIDEO (see 'reel-bench open --help')"), CLI_USAGE;
	r = find_reel(reel, sizeof(reel));
	if (r < 0)
		return fail("cannot find the reel binary next to reel-bench: %s", strerror(-r));

	memset(clips, 0, sizeof(clips));
	if (argc - optind == 1) {
		if (access(argv[optind], R_OK) != 0)
			return fail("%s: %s", argv[optind], strerror(errno)), CLI_USAGE;
		snprintf(clips[0].path, sizeof(clips[0].path), "%s", argv[optind]);
		clips[0].label = strrchr(clips[0].path, '/') ? strrchr(clips[0].path, '/') + 1 : clips[0].path;
		nclips = 1;
	} else {
		r = cache_dir(cache, sizeof(cache));
		if (r < 0)
			return fail("no cache folder: %s", reel_strerror(r));
		if (make_bench_clips(cache, ten_s, ten_min, sizeof(ten_s)) < 0)
			return fail("ffmpeg could not make the benchmark clips (is the ffmpeg command installed?)");
		clips[0].label = "10 s 1080p30 H.264";
		snprintf(clips[0].path, sizeof(clips[0].path), "%s", ten_s);
		clips[1].label = "10 min 1080p30 H.264";
		snprintf(clips[1].path, sizeof(clips[1].path), "%s", ten_min);
		nclips = 2;
	}
	r = make_workdir(base, workdir, sizeof(workdir));
	if (r < 0)
		return fail("cannot make a work folder: %s", reel_strerror(r));

	for (unsigned k = 0; k < nclips; k++) {
		struct clip *cl = &clips[k];
		char *first_frame[] = {
			(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-i",
			cl->path, (char *)"-frames:v", (char *)"1", (char *)"-f", (char *)"null", (char *)"-",
			NULL,
		};

		for (unsigned i = 0; i < runs; i++) {
			note("open: %s: time to first frame, run %u/%" PRIu64, cl->label, i + 1, runs);
			r = ttff_once(reel, cl->path, workdir, seq++, &v[i], &w[i], &cl->frames);
			if (r < 0) {
				fail("%s: reel open and NEED(0) failed: %s", cl->path, reel_strerror(r));
				goto out_rmdir;
			}
			note("open: %s: ffmpeg first frame, run %u/%" PRIu64, cl->label, i + 1, runs);
			x[i] = run_timed(first_frame);
			if (x[i] < 0) {
				fail("ffmpeg could not decode %s", cl->path);
				goto out_rmdir;
			}
		}
		cl->ttff_ms = median(v, runs);
		cl->ready_ms = median(w, runs);
		cl->ffmpeg_first_ms = median(x, runs);
	}

	{
		char *null_decode[] = {
			(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-i",
			clips[0].path, (char *)"-f", (char *)"null", (char *)"-", NULL,
		};
		for (unsigned i = 0; i < runs; i++) {
			r = throughput_once(reel, clips[0].path, workdir, seq++, &v[i], &tp_frames);
			if (r < 0) {
				fail("%s: materialising every frame failed: %s", clips[0].path, reel_strerror(r));
				goto out_rmdir;
			}
			note("open: ffmpeg -f null, run %u/%" PRIu64, i + 1, runs);
			x[i] = run_timed(null_decode);
			if (x[i] < 0) {
				fail("ffmpeg could not decode %s", clips[0].path);
				goto out_rmdir;
			}
		}
		reel_fps = median(v, runs);
		ffmpeg_fps = (double)tp_frames / (median(x, runs) / 1e3);
		/*
		 * ffmpeg's time includes its start-up (probing, opening the decoder),
		 * reel's throughput does not: ffmpeg's time to its first frame,
		 * measured above, is taken off for a second, fairer figure.
		 */
		if (median(x, runs) > clips[0].ffmpeg_first_ms)
			ffmpeg_decode_fps = (double)tp_frames / ((median(x, runs) - clips[0].ffmpeg_first_ms) / 1e3);
	}
	note_done();

	if (json) {
		printf("{\"bench\":\"open\",\"runs\":%" PRIu64 ",\"first_frame\":[", runs);
		for (unsigned k = 0; k < nclips; k++) {
			printf("%s{\"clip\":", k ? "," : "");
			cli_json_string(stdout, clips[k].label);
			printf(",\"path\":");
			cli_json_string(stdout, clips[k].path);
			printf(",\"frames\":%" PRIu64 ",\"ready_ms\":%.1f,\"reel_ms\":%.1f,"
			       "\"ffmpeg_ms\":%.1f,\"ratio\":%.3f}",
			       clips[k].frames, clips[k].ready_ms, clips[k].ttff_ms, clips[k].ffmpeg_first_ms,
			       clips[k].ttff_ms / clips[k].ffmpeg_first_ms);
		}
		printf("],\"throughput\":{\"clip\":");
		cli_json_string(stdout, clips[0].label);
		printf(",\"frames\":%" PRIu64 ",\"chunk\":%" PRIu64 ",\"reel_fps\":%.1f,\"ffmpeg_fps\":%.1f,"
		       "\"ratio\":%.3f,",
		       tp_frames, chunk, reel_fps, ffmpeg_fps, reel_fps / ffmpeg_fps);
		if (ffmpeg_decode_fps > 0)
			printf("\"ffmpeg_fps_without_startup\":%.1f,\"ratio_without_startup\":%.3f}}\n",
			       ffmpeg_decode_fps, reel_fps / ffmpeg_decode_fps);
		else
			printf("\"ffmpeg_fps_without_startup\":null,\"ratio_without_startup\":null}}\n");
	} else {
		printf("reel-bench open: medians of %" PRIu64 " runs, buffers in %s\n\n", runs, workdir);
		printf("time to first frame (spawn 'reel open' .. reply of NEED(0)), next to\n"
		       "'ffmpeg -i FILE -frames:v 1 -f null -':\n");
		printf("  %-22s %7s %10s %10s %10s %7s\n", "clip", "frames", "ready ms", "reel ms",
		       "ffmpeg ms", "ratio");
		for (unsigned k = 0; k < nclips; k++)
			printf("  %-22s %7" PRIu64 " %10.1f %10.1f %10.1f %6.2fx\n", clips[k].label,
			       clips[k].frames, clips[k].ready_ms, clips[k].ttff_ms, clips[k].ffmpeg_first_ms,
			       clips[k].ttff_ms / clips[k].ffmpeg_first_ms);
		printf("\nthroughput, every frame of %s (%" PRIu64 " frames, NEED of %" PRIu64 " at a time),\n"
		       "next to 'ffmpeg -i FILE -f null -':\n",
		       clips[0].label, tp_frames, chunk);
		printf("  reel %.1f fps, ffmpeg %.1f fps, ratio %.2fx\n", reel_fps, ffmpeg_fps,
		       reel_fps / ffmpeg_fps);
		if (ffmpeg_decode_fps > 0)
			printf("  without ffmpeg's start-up (its time to first frame): ffmpeg %.1f fps, "
			       "ratio %.2fx\n", ffmpeg_decode_fps, reel_fps / ffmpeg_decode_fps);
	}
	code = CLI_OK;
out_rmdir:
	rmrf(workdir);
	return code;
}

/* ------------------------------------------------------------ effects */

/* Bytes of one 1080p YUV420P frame: what one op pass over a frame is counted as. */
#define FRAME_BYTES (1920.0 * 1080.0 * 1.5)
#define MEMCPY_BYTES (64u << 20)
#define MEMCPY_PASSES 5
#define DEFAULT_FX_FRAMES 150
#define STAGES_TIMEOUT_MS 20000

struct fx_set {
	const char *name;          /* as a person reads it */
	const char *key;           /* in --json */
	unsigned n;
	struct bench_edit edits[3];
};

/*
 * The first edit is also the workers' first write to each page of the
 * frames: a page fault per 4 KiB page in each worker's mapping.  The same
 * edit sent again right after shows what the edit costs without them.
 */
static const struct fx_set fx_sets[] = {
	{ "brightness 0.1", "brightness", 1, { { REEL_OP_BRIGHTNESS, 0.1 } } },
	{ "brightness 0.1, again", "brightness_again", 1, { { REEL_OP_BRIGHTNESS, 0.1 } } },
	{ "blur 2", "blur", 1, { { REEL_OP_BLUR, 2 } } },
	{ "brightness, contrast, gray", "chain", 3,
	  { { REEL_OP_BRIGHTNESS, 0.1 }, { REEL_OP_CONTRAST, 1.2 }, { REEL_OP_GRAYSCALE, 0 } } },
};
#define FX_SETS (sizeof(fx_sets) / sizeof(fx_sets[0]))

/*
 * Called through a volatile pointer so that the compiler can neither drop
 * copies nobody reads nor fold the loop into one call.
 */
static void *(*volatile copy_fn)(void *, const void *, size_t) = memcpy;

/* MEMCPY_PASSES copies of MEMCPY_BYTES, far more than the caches hold; the time of each (µs). */
static void memcpy_passes(void *dst, const void *src, double *ret_us)
{
	for (unsigned i = 0; i < MEMCPY_PASSES; i++) {
		double t0 = now_us();
		copy_fn(dst, src, MEMCPY_BYTES);
		ret_us[i] = now_us() - t0;
	}
}

/*
 * One session with `workers` effect workers: nframes materialised (they
 * stay resident), then each set of edits sent over them, timed from the
 * first send to the reply of a settled NEED over the frames, which comes
 * once no unfinished command covers them.  ret_ms[k] is set k's time.
 */
static int fx_session(const char *reel, const char *video, const char *workdir, unsigned n,
                      unsigned workers, uint64_t nframes, double ret_ms[FX_SETS])
{
	struct coord_child c;
	struct reel_status st;
	double t0;
	int r;

	r = coord_start_stages(reel, video, workdir, n, (int)workers, &c, &t0);
	if (r < 0) {
		fail("%s: reel open --workers %u did not come up: %s", video, workers, reel_strerror(r));
		goto out_stop;
	}
	if (nframes > c.frames) {
		fail("%s has %" PRIu64 " frames, fewer than %" PRIu64, video, c.frames, nframes);
		r = -EINVAL;
		goto out_stop;
	}
	/* An editor, the workers and an audio stage. */
	r = wait_stages(&c, workers + 2, STAGES_TIMEOUT_MS);
	if (r < 0)
		goto out_stop;
	r = materialise_frames(&c, nframes, "effects");
	if (r == 0)
		r = reel_client_status(c.client, CALL_TIMEOUT_MS, &st);
	if (r < 0) {
		fail("%s: materialising %" PRIu64 " frames failed: %s", video, nframes, reel_strerror(r));
		show_log(c.log);
		goto out_stop;
	}
	if (st.resident < nframes) {
		/* The stages would skip frames that are not resident: the figures would be wrong. */
		fail("only %" PRIu64 " of %" PRIu64 " frames stayed resident (is the cache too small?)",
		     st.resident, nframes);
		r = -ENOSPC;
		goto out_stop;
	}
	for (unsigned k = 0; k < FX_SETS; k++) {
		uint64_t seq = 0;

		note("effects: %s, %u worker%s", fx_sets[k].name, workers, workers == 1 ? "" : "s");
		t0 = now_us();
		r = send_edits(&c, fx_sets[k].edits, fx_sets[k].n, 0, (int64_t)nframes - 1, &seq);
		if (r == 0)
			r = reel_client_need_settled(c.client, 0, nframes - 1, REEL_PRIO_BATCH,
			                             NEED_TIMEOUT_MS, NULL);
		ret_ms[k] = (now_us() - t0) / 1e3;
		if (r < 0) {
			fail("%s: %s: %s", video, fx_sets[k].name, reel_strerror(r));
			show_log(c.log);
			goto out_stop;
		}
		r = check_applied(&c, seq, fx_sets[k].n);
		if (r < 0) {
			show_log(c.log);
			goto out_stop;
		}
	}
out_stop:
	if (coord_stop(&c) < 0 && r == 0)
		fprintf(stderr, "reel-bench: warning: a coordinator did not stop cleanly\n");
	return r;
}

static void effects_usage(FILE *out)
{
	fprintf(out,
	        "usage: reel-bench effects [--runs R] [--frames N] [--buffer-dir DIR] [--json]\n\n"
	        "The effect workers applying edits in place to resident frames.  With one\n"
	        "effect worker and with one per core: a session of the cached 10-second 1080p30\n"
	        "clip, N frames materialised first (default %d), then, in turn, brightness 0.1\n"
	        "(the workers' first write to those pages), brightness 0.1 again, blur 2 and a\n"
	        "chain (brightness 0.1, contrast 1.2, grayscale) sent over them, each timed from\n"
	        "its first send until no unfinished edit covers the frames (a settled NEED),\n"
	        "and checked APPLIED in the journal after.\n"
	        "Frames/s and GB/s (1920x1080x1.5 bytes per frame per edit), next to memcpy's\n"
	        "bandwidth over 64 MiB buffers measured in the same run; the scaling of one\n"
	        "worker per core against one.  Medians of R runs (default 3).  Goals: one\n"
	        "worker on brightness at least 0.5x memcpy; W workers at least 0.8*W x one.\n",
	        DEFAULT_FX_FRAMES);
}

static const char *met(bool yes)
{
	return yes ? "met" : "NOT met";
}

static int cmd_effects(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "frames", required_argument, NULL, 'f' },
		{ "buffer-dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char reel[PATH_MAX], workdir[PATH_MAX], cache[PATH_MAX], clip[PATH_MAX];
	/* [worker configuration][set][run]: milliseconds. */
	double ms[2][FX_SETS][64], fps[2][FX_SETS], gbps[2][FX_SETS], scaling[FX_SETS], tmp[64];
	double *copies = NULL, memcpy_gbps, goal_scaling;
	void *src = NULL, *dst = NULL;
	const char *base = NULL;
	uint64_t runs = 3, nframes = DEFAULT_FX_FRAMES;
	unsigned workers[2], nconf, seq = 0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	bool json = false, goal_memcpy;
	int opt, r, code = CLI_FAIL;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			if (parse_option_number("--runs", optarg, 1, 64, &runs) < 0)
				return CLI_USAGE;
			break;
		case 'f':
			if (parse_option_number("--frames", optarg, 1, 300, &nframes) < 0)
				return CLI_USAGE;
			break;
		case 'd': base = optarg; break;
		case 'j': json = true; break;
		case 'h': effects_usage(stdout); return CLI_OK;
		default:
			return fail("effects: unknown option '%s' (see 'reel-bench effects --help')",
			            argv[optind - 1]), CLI_USAGE;
		}
	}
	if (argc - optind > 0)
		return fail("effects: no VIDEO is taken (see 'reel-bench effects --help')"), CLI_USAGE;
	r = find_reel(reel, sizeof(reel));
	if (r < 0)
		return fail("cannot find the reel binary next to reel-bench: %s", strerror(-r));
	/* reel open's default is one worker per core, at most 32. */
	workers[0] = 1;
	workers[1] = cores > 1 ? (unsigned)(cores < 32 ? cores : 32) : 1;
	nconf = workers[1] > 1 ? 2 : 1;

	r = cache_dir(cache, sizeof(cache));
	if (r < 0)
		return fail("no cache folder: %s", reel_strerror(r));
	if (make_ten_second_clip(cache, clip, sizeof(clip), "effects") < 0)
		return fail("ffmpeg could not make the benchmark clip (is the ffmpeg command installed?)");
	src = malloc(MEMCPY_BYTES);
	dst = malloc(MEMCPY_BYTES);
	copies = malloc(runs * MEMCPY_PASSES * sizeof(*copies));
	if (!src || !dst || !copies) {
		fail("out of memory");
		goto out_free;
	}
	/* Every page touched once first: the passes time copies, not page faults. */
	memset(src, 0x5a, MEMCPY_BYTES);
	memset(dst, 0xa5, MEMCPY_BYTES);
	r = make_workdir(base, workdir, sizeof(workdir));
	if (r < 0) {
		fail("cannot make a work folder: %s", reel_strerror(r));
		goto out_free;
	}

	/* Each run: memcpy, then a session per worker count: every figure has its baseline beside it. */
	for (unsigned i = 0; i < runs; i++) {
		note("effects: memcpy, run %u/%" PRIu64, i + 1, runs);
		memcpy_passes(dst, src, copies + (size_t)i * MEMCPY_PASSES);
		/* The worker counts take turns at going first. */
		for (unsigned j = 0; j < nconf; j++) {
			unsigned w = (i + j) % nconf;
			double one[FX_SETS];
			r = fx_session(reel, clip, workdir, seq++, workers[w], nframes, one);
			if (r < 0)
				goto out_rmdir;
			for (unsigned k = 0; k < FX_SETS; k++)
				ms[w][k][i] = one[k];
		}
	}
	note_done();

	memcpy_gbps = (double)MEMCPY_BYTES / (median(copies, runs * MEMCPY_PASSES) / 1e6) / 1e9;
	for (unsigned w = 0; w < nconf; w++)
		for (unsigned k = 0; k < FX_SETS; k++) {
			double t;
			memcpy(tmp, ms[w][k], runs * sizeof(*tmp));
			t = median(tmp, runs) / 1e3;
			fps[w][k] = (double)nframes / t;
			gbps[w][k] = (double)nframes * fx_sets[k].n * FRAME_BYTES / t / 1e9;
		}
	for (unsigned k = 0; k < FX_SETS; k++)
		scaling[k] = nconf == 2 ? fps[1][k] / fps[0][k] : NAN;
	goal_scaling = 0.8 * workers[1];
	goal_memcpy = gbps[0][0] >= 0.5 * memcpy_gbps;

	if (json) {
		printf("{\"bench\":\"effects\",\"runs\":%" PRIu64 ",\"frames\":%" PRIu64 ",\"cores\":%ld,"
		       "\"frame_bytes\":%.0f,\"memcpy_gbps\":%.3f,\"configs\":[",
		       runs, nframes, cores, FRAME_BYTES, memcpy_gbps);
		for (unsigned w = 0; w < nconf; w++)
			for (unsigned k = 0; k < FX_SETS; k++) {
				memcpy(tmp, ms[w][k], runs * sizeof(*tmp));
				printf("%s{\"edits\":\"%s\",\"passes\":%u,\"workers\":%u,\"ms\":%.2f,"
				       "\"fps\":%.1f,\"gbps\":%.3f,\"memcpy_ratio\":%.3f}",
				       w || k ? "," : "", fx_sets[k].key, fx_sets[k].n, workers[w],
				       median(tmp, runs), fps[w][k], gbps[w][k], gbps[w][k] / memcpy_gbps);
			}
		printf("],\"scaling\":[");
		for (unsigned k = 0; k < FX_SETS && nconf == 2; k++)
			printf("%s{\"edits\":\"%s\",\"workers\":%u,\"ratio\":%.3f,\"goal\":%.2f,\"met\":%s}",
			       k ? "," : "", fx_sets[k].key, workers[1], scaling[k], goal_scaling,
			       scaling[k] >= goal_scaling ? "true" : "false");
		printf("],\"goal_brightness_vs_memcpy\":{\"ratio\":%.3f,\"goal\":0.5,\"met\":%s,"
		       "\"again_ratio\":%.3f,\"again_met\":%s}}\n",
		       gbps[0][0] / memcpy_gbps, goal_memcpy ? "true" : "false", gbps[0][1] / memcpy_gbps,
		       gbps[0][1] >= 0.5 * memcpy_gbps ? "true" : "false");
	} else {
		printf("reel-bench effects: %" PRIu64 " resident frames of the 10 s 1080p30 clip, "
		       "medians of %" PRIu64 " runs, %ld cores\n", nframes, runs, cores);
		printf("from the first send until no unfinished edit covers the frames; GB/s counts\n"
		       "1920x1080x1.5 bytes per frame per edit\n\n");
		printf("memcpy, 64 MiB buffers (median of %u passes)   %.2f GB/s\n\n",
		       (unsigned)(runs * MEMCPY_PASSES), memcpy_gbps);
		printf("  %-28s %7s %9s %10s %7s %10s\n", "edits", "workers", "ms", "frames/s", "GB/s",
		       "vs memcpy");
		for (unsigned k = 0; k < FX_SETS; k++)
			for (unsigned w = 0; w < nconf; w++) {
				memcpy(tmp, ms[w][k], runs * sizeof(*tmp));
				printf("  %-28s %7u %9.1f %10.1f %7.2f %9.2fx\n", fx_sets[k].name, workers[w],
				       median(tmp, runs), fps[w][k], gbps[w][k], gbps[w][k] / memcpy_gbps);
			}
		printf("\ngoals:\n");
		printf("  %-58s %6.2fx  %s\n", "one worker, brightness 0.1, >= 0.50x memcpy",
		       gbps[0][0] / memcpy_gbps, met(goal_memcpy));
		printf("  %-58s %6.2fx  %s\n", "  (sent again, pages already mapped)",
		       gbps[0][1] / memcpy_gbps, met(gbps[0][1] >= 0.5 * memcpy_gbps));
		for (unsigned k = 0; k < FX_SETS && nconf == 2; k++) {
			char label[96];
			snprintf(label, sizeof(label), "%u workers, %s, >= %.2fx one worker", workers[1],
			         fx_sets[k].name, goal_scaling);
			printf("  %-58s %6.2fx  %s\n", label, scaling[k], met(scaling[k] >= goal_scaling));
		}
		if (nconf == 1)
			printf("  scaling: one core only, nothing to compare\n");
	}
	code = CLI_OK;
out_rmdir:
	rmrf(workdir);
out_free:
	free(copies);
	free(src);
	free(dst);
	return code;
}

/* ----------------------------------------------------------- pipeline */

/*
 * The same work in ffmpeg's filters: brightness 0.1 is +26 of 255 on the
 * luma; blur 2 is one pass of a box blur of radius 2 on the luma and, as
 * reel does it, (2 + 1) / 2 = 1 on the chroma.
 */
#define PIPE_FILTER                                                                               \
	"lutyuv=y=clip(val+26\\,0\\,255),"                                                        \
	"boxblur=luma_radius=2:luma_power=1:chroma_radius=1:chroma_power=1"

/*
 * Two ffmpeg processes joined by a pipe of raw frames, the clip in $1.
 * dash has no pipefail: the status of the decoding ffmpeg comes out on fd 3
 * into st, so that a failure on either side fails the run.
 */
#define PIPE_SCRIPT                                                                               \
	"st=$( { { ffmpeg -nostdin -v error -i \"$1\" -f rawvideo -pix_fmt yuv420p -;"           \
	" echo $? >&3; } | ffmpeg -nostdin -v error -f rawvideo -pix_fmt yuv420p -s 1920x1080"    \
	" -r 30 -i - -vf '" PIPE_FILTER "' -f null - >&2; } 3>&1 ) && [ \"$st\" = 0 ]"

static const struct bench_edit pipe_edits[] = {
	{ REEL_OP_BRIGHTNESS, 0.1 },
	{ REEL_OP_BLUR, 2 },
};
#define PIPE_EDITS (unsigned)(sizeof(pipe_edits) / sizeof(pipe_edits[0]))

/*
 * reel end to end, from spawning `reel open` (with its stages: one effect
 * worker per core) until every frame is resident with both edits in
 * effect (a settled NEED over all of them).  With edits_first the edits
 * are sent before any frame is decoded, and the materialiser applies them
 * to each frame as it decodes it; otherwise every frame is materialised
 * first and the effect workers apply the edits in place.  *ret_decode_ms:
 * from the spawn until the last frame was materialised.
 */
static int pipeline_reel(const char *reel, const char *video, const char *workdir, unsigned n,
                         bool edits_first, double *ret_ms, double *ret_decode_ms,
                         uint64_t *ret_frames)
{
	const char *how = edits_first ? "edits before decode" : "edits on resident frames";
	struct coord_child c;
	uint64_t seq = 0;
	double t0;
	int r;

	r = coord_start_stages(reel, video, workdir, n, DEFAULT_STAGES, &c, &t0);
	if (r < 0) {
		fail("%s: reel open did not come up: %s", video, reel_strerror(r));
		goto out_stop;
	}
	if (edits_first)
		r = send_edits(&c, pipe_edits, PIPE_EDITS, 0, (int64_t)c.frames - 1, &seq);
	if (r == 0)
		r = materialise_frames(&c, c.frames, "pipeline");
	*ret_decode_ms = (now_us() - t0) / 1e3;
	if (r == 0 && !edits_first)
		r = send_edits(&c, pipe_edits, PIPE_EDITS, 0, (int64_t)c.frames - 1, &seq);
	if (r == 0)
		r = reel_client_need_settled(c.client, 0, c.frames - 1, REEL_PRIO_BATCH, NEED_TIMEOUT_MS,
		                             NULL);
	*ret_ms = (now_us() - t0) / 1e3;
	*ret_frames = c.frames;
	if (r < 0) {
		fail("%s: reel, %s: %s", video, how, reel_strerror(r));
		show_log(c.log);
		goto out_stop;
	}
	r = check_applied(&c, seq, PIPE_EDITS);
	if (r < 0)
		show_log(c.log);
out_stop:
	if (coord_stop(&c) < 0 && r == 0)
		fprintf(stderr, "reel-bench: warning: a coordinator did not stop cleanly\n");
	return r;
}

static void pipeline_usage(FILE *out)
{
	fprintf(out,
	        "usage: reel-bench pipeline [--runs R] [--chunk N] [--buffer-dir DIR] [--json]\n\n"
	        "decode -> brightness 0.1 -> blur 2 over the cached 10-second 1080p30 clip,\n"
	        "end to end (from spawning the first process), four ways in the same run:\n"
	        "  (a)  reel open with its stages; the two edits sent first, then every frame\n"
	        "       NEEDed in order, N at a time (default %d): frames get the edits as\n"
	        "       they are decoded; done when a settled NEED over all frames answers\n"
	        "  (a2) the same, every frame NEEDed first, then the edits sent: the effect\n"
	        "       workers apply them to the resident frames\n"
	        "  (b)  ffmpeg -i CLIP -vf \"%s\" -f null -\n"
	        "  (c)  ffmpeg -i CLIP -f rawvideo - | ffmpeg -f rawvideo -i - -vf ... -f null -\n"
	        "Wall time and frames/s of each, medians of R runs (default 3), and reel's\n"
	        "speed over (b) and (c).  Goals: reel at least as fast as (b), and 1.3x (c).\n",
	        DEFAULT_CHUNK, PIPE_FILTER);
}

static int cmd_pipeline(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "buffer-dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const labels[4] = {
		"(a)  reel, edits before decode", "(a2) reel, edits on resident frames",
		"(b)  ffmpeg, one process", "(c)  ffmpeg | ffmpeg, raw frames in a pipe",
	};
	static const char *const keys[4] = {
		"reel_edits_before_decode", "reel_edits_on_resident", "ffmpeg_one_process",
		"ffmpeg_two_processes",
	};
	char reel[PATH_MAX], workdir[PATH_MAX], cache[PATH_MAX], clip[PATH_MAX];
	/* [way][run] in ms; the materialising part and the edit part of (a2). */
	double ms[4][64], dec[64], edit[64], wall[4], fps[4], decode_ms, edits_ms;
	const char *base = NULL;
	uint64_t runs = 3, frames = 0;
	unsigned seq = 0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	bool json = false;
	int opt, r, code = CLI_FAIL;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			if (parse_option_number("--runs", optarg, 1, 64, &runs) < 0)
				return CLI_USAGE;
			break;
		case 'c':
			if (parse_option_number("--chunk", optarg, 1, 1000000, &chunk) < 0)
				return CLI_USAGE;
			break;
		case 'd': base = optarg; break;
		case 'j': json = true; break;
		case 'h': pipeline_usage(stdout); return CLI_OK;
		default:
			return fail("pipeline: unknown option '%s' (see 'reel-bench pipeline --help')",
			            argv[optind - 1]), CLI_USAGE;
		}
	}
	if (argc - optind > 0)
		return fail("pipeline: no VIDEO is taken (see 'reel-bench pipeline --help')"), CLI_USAGE;
	r = find_reel(reel, sizeof(reel));
	if (r < 0)
		return fail("cannot find the reel binary next to reel-bench: %s", strerror(-r));
	r = cache_dir(cache, sizeof(cache));
	if (r < 0)
		return fail("no cache folder: %s", reel_strerror(r));
	if (make_ten_second_clip(cache, clip, sizeof(clip), "pipeline") < 0)
		return fail("ffmpeg could not make the benchmark clip (is the ffmpeg command installed?)");
	r = make_workdir(base, workdir, sizeof(workdir));
	if (r < 0)
		return fail("cannot make a work folder: %s", reel_strerror(r));

	{
		char *one[] = {
			(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-i",
			clip, (char *)"-vf", (char *)PIPE_FILTER, (char *)"-f", (char *)"null", (char *)"-",
			NULL,
		};
		char *two[] = { (char *)"/bin/sh", (char *)"-c", (char *)PIPE_SCRIPT, (char *)"sh", clip,
		                NULL };

		/*
		 * The four ways take turns run by run, under the same load of the
		 * machine, each run starting with the next one: whatever the first of
		 * a run pays (a cold cache, a slow clock) is not always paid by the same.
		 */
		for (unsigned i = 0; i < runs; i++) {
			for (unsigned j = 0; j < 4; j++) {
				unsigned k = (i + j) % 4;
				double decoded;
				uint64_t f;

				note("pipeline: run %u/%" PRIu64 ", %s", i + 1, runs, labels[k] + 5);
				if (k < 2) {
					r = pipeline_reel(reel, clip, workdir, seq++, k == 0, &ms[k][i],
					                  k == 0 ? &decoded : &dec[i], &f);
					if (r < 0)
						goto out_rmdir;
					frames = f;
					continue;
				}
				ms[k][i] = run_timed(k == 2 ? one : two);
				if (ms[k][i] < 0) {
					fail("%s failed on %s", k == 2 ? "ffmpeg -vf" : "ffmpeg | ffmpeg", clip);
					goto out_rmdir;
				}
			}
			edit[i] = ms[1][i] - dec[i];
		}
	}
	note_done();
	for (unsigned k = 0; k < 4; k++) {
		wall[k] = median(ms[k], runs);
		fps[k] = (double)frames / (wall[k] / 1e3);
	}
	decode_ms = median(dec, runs);
	edits_ms = median(edit, runs);

	if (json) {
		printf("{\"bench\":\"pipeline\",\"runs\":%" PRIu64 ",\"frames\":%" PRIu64 ",\"cores\":%ld,"
		       "\"chunk\":%" PRIu64 ",\"filter\":", runs, frames, cores, chunk);
		cli_json_string(stdout, PIPE_FILTER);
		for (unsigned k = 0; k < 4; k++) {
			printf(",\"%s\":{\"ms\":%.1f,\"fps\":%.1f", keys[k], wall[k], fps[k]);
			if (k == 1)
				printf(",\"materialised_ms\":%.1f,\"edits_ms\":%.1f", decode_ms, edits_ms);
			printf("}");
		}
		printf(",\"ratios\":{");
		for (unsigned k = 0; k < 2; k++)
			printf("%s\"%s\":{\"vs_one_process\":%.3f,\"vs_two_processes\":%.3f,"
			       "\"as_fast_as_one_process\":%s,\"at_least_1_3x_two_processes\":%s}",
			       k ? "," : "", keys[k], fps[k] / fps[2], fps[k] / fps[3],
			       fps[k] >= fps[2] ? "true" : "false", fps[k] >= 1.3 * fps[3] ? "true" : "false");
		printf("}}\n");
	} else {
		printf("reel-bench pipeline: decode -> brightness 0.1 -> blur 2 over the 10 s 1080p30 clip\n"
		       "(%" PRIu64 " frames), end to end from the first spawn, medians of %" PRIu64
		       " runs, %ld cores\n\n", frames, runs, cores);
		printf("  %-44s %9s %8s\n", "", "wall ms", "fps");
		for (unsigned k = 0; k < 4; k++)
			printf("  %-44s %9.1f %8.1f\n", labels[k], wall[k], fps[k]);
		printf("\n  (a2): every frame materialised after %.1f ms, the edits applied %.1f ms later\n",
		       decode_ms, edits_ms);
		printf("  (b):  ffmpeg -i CLIP -vf \"%s\" -f null -\n", PIPE_FILTER);
		printf("\nreel's speed over ffmpeg (fps ratio), goals >= 1.00x (b) and >= 1.30x (c):\n");
		for (unsigned k = 0; k < 2; k++)
			printf("  %-38s %6.2fx (b) %-8s %6.2fx (c) %s\n", labels[k], fps[k] / fps[2],
			       met(fps[k] >= fps[2]), fps[k] / fps[3], met(fps[k] >= 1.3 * fps[3]));
	}
	code = CLI_OK;
out_rmdir:
	rmrf(workdir);
	return code;
}

/* ----------------------------------------------------------- edit-rtt */

/* Edits one session takes before it is replaced: its coordinator refuses a 257th unfinished one. */
#define SENDS_PER_SESSION 250

/*
 * Where the edits go.  With no stages and frame 0 resident, an edit over
 * the clip stays pending (the work item of the cell that holds frame 0
 * waits for an effect worker that never comes), as every edit does on a
 * busy session; so a session takes SENDS_PER_SESSION of them and is then
 * replaced by a fresh one, outside the timing.
 */
struct edit_target {
	const char *reel, *video, *workdir;
	struct coord_child c;
	unsigned started;          /* sessions started, names them */
	unsigned sent;             /* edits sent to the current one */
};

static int edit_target_start(struct edit_target *t)
{
	double t0;
	int r = coord_start(t->reel, t->video, t->workdir, t->started++, &t->c, &t0);

	if (r == 0)
		r = reel_client_need(t->c.client, 0, 0, REEL_PRIO_INTERACTIVE, NEED_TIMEOUT_MS, NULL);
	/* The first answers of a fresh process are slower (its caches are cold): some go untimed. */
	if (r == 0)
		r = bus_calls(t->c.client, REEL_MSG_STATUS, 50, NULL);
	t->sent = 0;
	return r;
}

/* n edits; their round trips (µs) into samples unless it is NULL (warm-up). */
static int edit_calls(struct edit_target *t, unsigned n, double *samples)
{
	static const double params[4] = { 0.1, 0, 0, 0 };

	for (unsigned i = 0; i < n; i++) {
		uint64_t seq;
		double t0;
		int r;

		if (t->sent == SENDS_PER_SESSION) {
			if (coord_stop(&t->c) < 0)
				fprintf(stderr, "reel-bench: warning: a coordinator did not stop cleanly\n");
			r = edit_target_start(t);
			if (r < 0)
				return r;
		}
		t0 = now_us();
		r = reel_client_command(t->c.client, REEL_OP_BRIGHTNESS, params, 0,
		                        (int64_t)t->c.frames - 1, CALL_TIMEOUT_MS, &seq);
		if (r < 0)
			return r;
		if (samples)
			samples[i] = now_us() - t0;
		t->sent++;
	}
	return 0;
}

static void edit_rtt_usage(FILE *out)
{
	fprintf(out,
	        "usage: reel-bench edit-rtt [VIDEO] [--count N] [--runs R] [--buffer-dir DIR] [--json]\n\n"
	        "The round trip of one edit: reel_client_command of brightness 0.1 over the\n"
	        "whole clip, answered once the coordinator has journaled it durably (msync).\n"
	        "p50 and p99 in microseconds, each the median over R runs (default 5) of N\n"
	        "round trips (default 2000), next to, in the same run:\n"
	        "  raw     REEL_MSG_SIZE bytes between two processes over two POSIX queues\n"
	        "  status  a STATUS request to the same coordinator\n"
	        "The coordinator runs with --no-stages and frame 0 resident, so every edit\n"
	        "stays pending; as it refuses more than 256 unfinished edits, a fresh session\n"
	        "is started every %d sends, outside the timing.  Without VIDEO, a small clip\n"
	        "is made with ffmpeg in a temporary folder.\n",
	        SENDS_PER_SESSION);
}

static int edit_calls_of(void *ud, unsigned n, double *samples)
{
	return edit_calls(ud, n, samples);
}

static int cmd_edit_rtt(int argc, char **argv)
{
	struct rtt_job job = { .name = "edit-rtt" };
	struct pct raw, status, edit;
	struct edit_target t;
	struct reel_status st;
	struct pingpong pp;
	int r, code = CLI_FAIL;

	r = rtt_parse(&job, argc, argv, edit_rtt_usage);
	if (r)
		return r < 0 ? CLI_OK : r;
	if (rtt_prepare(&job))
		goto out;
	memset(&t, 0, sizeof(t));
	t.reel = job.reel;
	t.video = job.video;
	t.workdir = job.workdir;
	note("edit-rtt: starting a coordinator");
	r = edit_target_start(&t);
	if (r < 0) {
		fail("reel open %s did not come up: %s", job.video, reel_strerror(r));
		goto out_coord;
	}
	r = pingpong_start(&pp);
	if (r < 0) {
		fail("raw ping-pong: %s", reel_strerror(r));
		goto out_coord;
	}
	r = rtt_measure(&job, &pp, t.c.client, edit_calls_of, &t);
	pingpong_stop(&pp);
	/* What the method rests on: the edits sent to the last session are all still pending. */
	if (r == 0)
		r = reel_client_status(t.c.client, CALL_TIMEOUT_MS, &st);
	if (r < 0) {
		fail("round trips failed: %s", reel_strerror(r));
		show_log(t.c.log);
		goto out_coord;
	}
	raw = summarise(job.samples[0], (unsigned)job.count, (unsigned)job.runs);
	status = summarise(job.samples[1], (unsigned)job.count, (unsigned)job.runs);
	edit = summarise(job.samples[2], (unsigned)job.count, (unsigned)job.runs);
	r = coord_stop(&t.c);
	note_done();
	if (r < 0)
		fprintf(stderr, "reel-bench: warning: the coordinator did not stop cleanly: %s\n",
		        reel_strerror(r));
	if (st.pending != t.sent)
		fprintf(stderr, "reel-bench: warning: %" PRIu64 " of the %u edits sent to the last "
		        "session are pending, not all: something applied them\n", st.pending, t.sent);

	if (job.json) {
		printf("{\"bench\":\"edit-rtt\",\"count\":%" PRIu64 ",\"runs\":%" PRIu64 ","
		       "\"edit\":\"brightness 0.1 over the whole clip\",\"sends_per_session\":%d,"
		       "\"sessions\":%u,\"pending_in_last_session\":%" PRIu64 ",\"sent_to_last_session\":%u,"
		       "\"raw\":{\"p50_us\":%.2f,\"p99_us\":%.2f},"
		       "\"status\":{\"p50_us\":%.2f,\"p99_us\":%.2f,\"p50_ratio\":%.3f,\"p99_ratio\":%.3f},"
		       "\"command\":{\"p50_us\":%.2f,\"p99_us\":%.2f,\"p50_ratio\":%.3f,\"p99_ratio\":%.3f,"
		       "\"p50_vs_status\":%.3f,\"p99_vs_status\":%.3f}}\n",
		       job.count, job.runs, SENDS_PER_SESSION, t.started, st.pending, t.sent, raw.p50, raw.p99,
		       status.p50, status.p99, status.p50 / raw.p50, status.p99 / raw.p99, edit.p50,
		       edit.p99, edit.p50 / raw.p50, edit.p99 / raw.p99, edit.p50 / status.p50,
		       edit.p99 / status.p99);
	} else {
		printf("reel-bench edit-rtt: %" PRIu64 " round trips x %" PRIu64
		       " runs, medians of the runs\n", job.count, job.runs);
		printf("edit: brightness 0.1 over the whole clip, answered once journaled (msync).  No\n"
		       "stages and frame 0 resident, so every edit stays pending (%" PRIu64 " of the %u\n"
		       "sent to the last session were); the coordinator refuses more than 256\n"
		       "unfinished edits, so a fresh session every %d sends (%u sessions), started\n"
		       "outside the timing.\n\n",
		       st.pending, t.sent, SENDS_PER_SESSION, t.started);
		printf("%-34s %9s %9s %10s %10s\n", "", "p50 us", "p99 us", "p50 ratio", "p99 ratio");
		printf("%-34s %9.1f %9.1f %10s %10s\n", "raw ping-pong (2 POSIX queues)", raw.p50, raw.p99,
		       "1.00", "1.00");
		printf("%-34s %9.1f %9.1f %9.2fx %9.2fx\n", "STATUS via reel_client_call", status.p50,
		       status.p99, status.p50 / raw.p50, status.p99 / raw.p99);
		printf("%-34s %9.1f %9.1f %9.2fx %9.2fx\n", "edit via reel_client_command", edit.p50,
		       edit.p99, edit.p50 / raw.p50, edit.p99 / raw.p99);
		printf("\nthe edit over STATUS: p50 %.2fx, p99 %.2fx (journaling and msync)\n",
		       edit.p50 / status.p50, edit.p99 / status.p99);
	}
	code = CLI_OK;
	goto out;
out_coord:
	coord_stop(&t.c);
out:
	rtt_finish(&job);
	return code;
}

/* --------------------------------------------------------------- main */

static void usage(FILE *out)
{
	fprintf(out, "usage: reel-bench COMMAND [OPTIONS]\n\n"
	             "  rtt       command round trips through the bus, next to a raw queue ping-pong\n"
	             "  open      time to first frame and materialising throughput, next to ffmpeg\n"
	             "  effects   effect workers on resident frames, 1 and one per core, next to memcpy\n"
	             "  pipeline  decode, brightness and blur end to end, next to ffmpeg's filters\n"
	             "  edit-rtt  the round trip of an edit (journaled durably), next to the raw\n"
	             "            ping-pong and STATUS\n\n"
	             "'reel-bench COMMAND --help' describes each.  A progress line is shown on\n"
	             "stderr when it is a terminal; --json prints one object with every figure.\n");
}

int main(int argc, char **argv)
{
	progress = cli_progress_enabled();
	/* A coordinator we talk to may go away; a write to its queue must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "rtt"))
		return cmd_rtt(argc - 1, argv + 1);
	if (!strcmp(argv[1], "open"))
		return cmd_open_bench(argc - 1, argv + 1);
	if (!strcmp(argv[1], "effects"))
		return cmd_effects(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pipeline"))
		return cmd_pipeline(argc - 1, argv + 1);
	if (!strcmp(argv[1], "edit-rtt"))
		return cmd_edit_rtt(argc - 1, argv + 1);
	fprintf(stderr, "reel-bench: unknown command '%s' (see 'reel-bench --help')\n", argv[1]);
	return CLI_USAGE;
}
