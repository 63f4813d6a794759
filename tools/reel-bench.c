/*
 * reel-bench: the benchmarks of the coordinator and the command bus.
 *
 *   reel-bench rtt  [VIDEO] [--count N] [--runs R] [--json]
 *   reel-bench open [VIDEO] [--runs R] [--json]
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
#include "bus/bus.h"
#include "bus/session.h"
#include "reel/client.h"
#include "reel/error.h"
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

/*
 * Spawn `reel open video` with a buffer file in workdir and wait until the
 * session answers a STATUS request.  *ret_t0 is the spawn time (µs).
 */
static int coord_start(const char *reel, const char *video, const char *workdir, unsigned n,
                       struct coord_child *c, double *ret_t0)
{
	struct reel_msg req, rep;
	double t0;
	int r, status;

	memset(c, 0, sizeof(*c));
	snprintf(c->session, sizeof(c->session), "bench%ldx%u", (long)getpid(), n);
	snprintf(c->buffer, sizeof(c->buffer), "%s/%s.reel", workdir, c->session);
	snprintf(c->log, sizeof(c->log), "%s/%s.log", workdir, c->session);
	t0 = now_us();
	c->pid = cli_spawn_open(reel, video, c->session, c->buffer, c->log);
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

static int cmd_rtt(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "runs", required_argument, NULL, 'r' },
		{ "buffer-dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char reel[PATH_MAX], workdir[PATH_MAX], clip[PATH_MAX + 16];
	const char *video = NULL, *base = NULL;
	uint64_t count = 2000, runs = 5;
	double *samples[3] = { NULL, NULL, NULL }, t0;
	struct pct raw, status, need;
	struct pingpong pp;
	unsigned warmup;
	struct coord_child c;
	bool json = false;
	int opt, r, code = CLI_FAIL;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_option_number("--count", optarg, 10, 10000000, &count) < 0)
				return CLI_USAGE;
			break;
		case 'r':
			if (parse_option_number("--runs", optarg, 1, 64, &runs) < 0)
				return CLI_USAGE;
			break;
		case 'd': base = optarg; break;
		case 'j': json = true; break;
		case 'h': rtt_usage(stdout); return CLI_OK;
		default:
			return fail("rtt: unknown option '%s' (see 'reel-bench rtt --help')", argv[optind - 1]),
			       CLI_USAGE;
		}
	}
	if (argc - optind > 1)
		return fail("rtt: at most one VIDEO (see 'reel-bench rtt --help')"), CLI_USAGE;
	if (argc - optind == 1)
		video = argv[optind];
	r = find_reel(reel, sizeof(reel));
	if (r < 0)
		return fail("cannot find the reel binary next to reel-bench: %s", strerror(-r));
	for (int i = 0; i < 3; i++) {
		samples[i] = malloc(count * runs * sizeof(*samples[i]));
		if (!samples[i]) {
			fail("out of memory");
			goto out_free;
		}
	}
	warmup = (unsigned)(count / 10 + 10);

	r = make_workdir(base, workdir, sizeof(workdir));
	if (r < 0) {
		fail("cannot make a work folder: %s", reel_strerror(r));
		goto out_free;
	}
	if (!video) {
		note("rtt: making a small clip with ffmpeg");
		snprintf(clip, sizeof(clip), "%s/small.mp4", workdir);
		if (make_small_clip(clip) < 0) {
			fail("ffmpeg could not make a test clip (is the ffmpeg command installed?)");
			goto out_rmdir;
		}
		video = clip;
	}
	note("rtt: starting a coordinator");
	r = coord_start(reel, video, workdir, 0, &c, &t0);
	if (r < 0) {
		fail("reel open %s did not come up: %s", video, reel_strerror(r));
		goto out_coord;
	}
	r = pingpong_start(&pp);
	if (r < 0) {
		fail("raw ping-pong: %s", reel_strerror(r));
		goto out_coord;
	}
	/*
	 * The three measures take turns run by run, so that each run of the bus
	 * sits next to a run of the baseline under the same load of the machine.
	 */
	r = reel_client_need(c.client, 0, 0, REEL_PRIO_INTERACTIVE, NEED_TIMEOUT_MS, NULL);
	if (r == 0)
		r = pingpong_batch(&pp, warmup, NULL);
	if (r == 0)
		r = bus_calls(c.client, REEL_MSG_STATUS, warmup, NULL);
	if (r == 0)
		r = bus_calls(c.client, REEL_MSG_NEED, warmup, NULL);
	for (unsigned i = 0; i < runs && r == 0; i++) {
		size_t at = (size_t)i * count;
		note("rtt: run %u/%" PRIu64, i + 1, runs);
		r = pingpong_batch(&pp, (unsigned)count, samples[0] + at);
		if (r == 0)
			r = bus_calls(c.client, REEL_MSG_STATUS, (unsigned)count, samples[1] + at);
		if (r == 0)
			r = bus_calls(c.client, REEL_MSG_NEED, (unsigned)count, samples[2] + at);
	}
	pingpong_stop(&pp);
	if (r < 0) {
		fail("round trips failed: %s", reel_strerror(r));
		show_log(c.log);
		goto out_coord;
	}
	raw = summarise(samples[0], (unsigned)count, (unsigned)runs);
	status = summarise(samples[1], (unsigned)count, (unsigned)runs);
	need = summarise(samples[2], (unsigned)count, (unsigned)runs);
	r = coord_stop(&c);
	note_done();
	if (r < 0)
		fprintf(stderr, "reel-bench: warning: the coordinator did not stop cleanly: %s\n",
		        reel_strerror(r));

	if (json) {
		printf("{\"bench\":\"rtt\",\"count\":%" PRIu64 ",\"runs\":%" PRIu64 ","
		       "\"raw\":{\"p50_us\":%.2f,\"p99_us\":%.2f},"
		       "\"status\":{\"p50_us\":%.2f,\"p99_us\":%.2f,\"p50_ratio\":%.3f,\"p99_ratio\":%.3f},"
		       "\"need\":{\"p50_us\":%.2f,\"p99_us\":%.2f,\"p50_ratio\":%.3f,\"p99_ratio\":%.3f}}\n",
		       count, runs, raw.p50, raw.p99, status.p50, status.p99, status.p50 / raw.p50,
		       status.p99 / raw.p99, need.p50, need.p99, need.p50 / raw.p50, need.p99 / raw.p99);
	} else {
		printf("reel-bench rtt: %" PRIu64 " round trips x %" PRIu64 " runs, medians of the runs\n\n",
		       count, runs);
		printf("%-34s %9s %9s %10s %10s\n", "", "p50 us", "p99 us", "p50 ratio", "p99 ratio");
		printf("%-34s %9.1f %9.1f %10s %10s\n", "raw ping-pong (2 POSIX queues)", raw.p50, raw.p99,
		       "1.00", "1.00");
		printf("%-34s %9.1f %9.1f %9.2fx %9.2fx\n", "STATUS via reel_client_call", status.p50,
		       status.p99, status.p50 / raw.p50, status.p99 / raw.p99);
		printf("%-34s %9.1f %9.1f %9.2fx %9.2fx\n", "NEED of a resident frame", need.p50,
		       need.p99, need.p50 / raw.p50, need.p99 / raw.p99);
	}
	code = CLI_OK;
	goto out_rmdir;
out_coord:
	coord_stop(&c);
out_rmdir:
	rmrf(workdir);
out_free:
	for (int i = 0; i < 3; i++)
		free(samples[i]);
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

static int make_bench_clips(const char *dir, char *ten_s, char *ten_min, size_t len)
{
	char *encode[] = {
		(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-y",
		(char *)"-f", (char *)"lavfi", (char *)"-i", (char *)"testsrc2=size=1920x1080:rate=30",
		(char *)"-f", (char *)"lavfi", (char *)"-i", (char *)"sine=frequency=440:sample_rate=48000",
		(char *)"-t", (char *)"10", (char *)"-c:v", (char *)"libx264", (char *)"-preset",
		(char *)"veryfast", (char *)"-pix_fmt", (char *)"yuv420p", (char *)"-c:a", (char *)"aac",
		(char *)"-shortest", NULL, NULL,
	};
	char *loop[] = {
		(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-y",
		(char *)"-stream_loop", (char *)"59", (char *)"-i", ten_s, (char *)"-c", (char *)"copy",
		NULL, NULL,
	};

	if ((size_t)snprintf(ten_s, len, "%s/ten-seconds-1080p30.mp4", dir) >= len ||
	    (size_t)snprintf(ten_min, len, "%s/ten-minutes-1080p30.mp4", dir) >= len)
		return -ENAMETOOLONG;
	if (access(ten_s, R_OK) != 0)
		note("open: encoding a 10-second 1080p30 clip with ffmpeg (once, cached in %s)", dir);
	if (make_cached(ten_s, encode, 24) < 0)
		return -EIO;
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

/* --------------------------------------------------------------- main */

static void usage(FILE *out)
{
	fprintf(out, "usage: reel-bench COMMAND [OPTIONS]\n\n"
	             "  rtt   command round trips through the bus, next to a raw queue ping-pong\n"
	             "  open  time to first frame and materialising throughput, next to ffmpeg\n\n"
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
	fprintf(stderr, "reel-bench: unknown command '%s' (see 'reel-bench --help')\n", argv[1]);
	return CLI_USAGE;
}
