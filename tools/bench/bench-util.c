/*
 * The shared parts of reel-bench (see bench.h).
 */
#include "bench/bench.h"

bool progress;
uint64_t chunk = DEFAULT_CHUNK;

/* ------------------------------------------------------------ utilities */

double now_us(void)
{
	return (double)reel__now_ns() / 1e3;
}

__attribute__((format(printf, 1, 2)))
void note(const char *fmt, ...)
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

void note_done(void)
{
	if (progress)
		fputs("\r\033[K", stderr);
}

__attribute__((format(printf, 1, 2)))
int fail(const char *fmt, ...)
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
double percentile(double *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	rank = (size_t)ceil(p / 100.0 * (double)n);
	return v[rank ? rank - 1 : 0];
}

double median(double *v, size_t n)
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

void rmrf(const char *path)
{
	if (path && *path)
		nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The `reel` binary built next to this one. */
int find_reel(char *buf, size_t len)
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
int reap(pid_t pid, int timeout_ms)
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
double run_timed(char *const argv[])
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
int parse_option_number(const char *name, const char *text, uint64_t lo, uint64_t hi,
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
void show_log(const char *path)
{
	fprintf(stderr, "reel-bench: the coordinator said:\n");
	cli_show_log(path);
}

/* A fresh private folder inside reel's default buffer folder (or base, when given). */
int make_workdir(const char *base, char *buf, size_t len)
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


/* The stages a coordinator child starts: none, reel open's default (a worker per core), or N. */

static pid_t spawn_open(const char *reel, const char *video, const struct coord_child *c,
                        int workers)
{
	char count[16];
	/* A benchmark opens no preview window, display or not. */
	char *argv[] = {
		(char *)reel, (char *)"open", (char *)video, (char *)"--session", (char *)c->session,
		(char *)"--buffer", (char *)c->buffer, (char *)"--no-preview", NULL, NULL, NULL,
	};

	if (workers == NO_STAGES)
		return cli_spawn_open(reel, video, c->session, c->buffer, c->log);
	if (workers > 0) {
		snprintf(count, sizeof(count), "%d", workers);
		argv[8] = (char *)"--workers";
		argv[9] = count;
	}
	return cli_spawn(argv, c->log);
}

/*
 * Spawn `reel open video` with a buffer file in workdir and the stages that
 * workers says, and wait until the session answers a STATUS request (the
 * stages may still be starting).  *ret_t0 is the spawn time (µs).
 */
int coord_start_stages(const char *reel, const char *video, const char *workdir, unsigned n,
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
int coord_start(const char *reel, const char *video, const char *workdir, unsigned n,
                       struct coord_child *c, double *ret_t0)
{
	return coord_start_stages(reel, video, workdir, n, NO_STAGES, c, ret_t0);
}

/* Stop the session with a STOP message and reap the coordinator; 0 when it stopped cleanly. */
int coord_stop(struct coord_child *c)
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
int wait_stages(struct coord_child *c, uint64_t want, int timeout_ms)
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
int materialise_frames(struct coord_child *c, uint64_t n, const char *what)
{
	int r = 0;

	for (uint64_t f = 0; f < n && r == 0; f += chunk) {
		uint64_t last = f + chunk - 1 < n - 1 ? f + chunk - 1 : n - 1;
		r = reel_client_need(c->client, f, last, REEL_PRIO_BATCH, NEED_TIMEOUT_MS, NULL);
		note("%s: materialising frame %" PRIu64 "/%" PRIu64, what, last + 1, n);
	}
	return r;
}


/* Send edits[0..n-1] over frames first..last; the sequence of the first into *ret_seq. */
int send_edits(struct coord_child *c, const struct bench_edit *edits, unsigned n,
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
int check_applied(const struct coord_child *c, uint64_t first_seq, unsigned n)
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


/* Median over runs of each run's p50 and p99 (µs). */
struct pct summarise(double *samples, unsigned count, unsigned runs)
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


void pingpong_stop(struct pingpong *pp)
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

/*
 * Receive one message, looking for it awake for spin_us first (as reel's
 * bus does: see SPIN_AFTER_REQUEST_MS in the coordinator), then blocking.
 */
static ssize_t receive_spinning(mqd_t q, char *buf, size_t len, double spin_us)
{
	static const struct timespec past = { 0, 0 };
	double until = spin_us > 0 ? now_us() + spin_us : 0;
	ssize_t n;

	while (until > 0) {
		n = mq_timedreceive(q, buf, len, NULL, &past);
		if (n >= 0 || (errno != ETIMEDOUT && errno != EAGAIN && errno != EINTR))
			return n;
		if (now_us() >= until)
			break;
	}
	do
		n = mq_receive(q, buf, len, NULL);
	while (n < 0 && errno == EINTR);
	return n;
}

int pingpong_start(struct pingpong *pp)
{
	return pingpong_start_spinning(pp, 0);
}

int pingpong_start_spinning(struct pingpong *pp, double spin_us)
{
	struct mq_attr attr = { .mq_maxmsg = REEL_BUS_DEPTH, .mq_msgsize = REEL_MSG_SIZE };
	char buf[REEL_MSG_SIZE];
	int r;

	memset(pp, 0, sizeof(*pp));
	pp->spin_us = spin_us;
	pp->ping = pp->pong = (mqd_t)-1;
	static unsigned seq;

	seq++;
	snprintf(pp->ping_name, sizeof(pp->ping_name), "/reel-bench.%ld.%u.ping", (long)getpid(), seq);
	snprintf(pp->pong_name, sizeof(pp->pong_name), "/reel-bench.%ld.%u.pong", (long)getpid(), seq);
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
			ssize_t n = receive_spinning(pp->ping, buf, sizeof(buf), spin_us);
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
int pingpong_batch(struct pingpong *pp, unsigned n, double *samples)
{
	char buf[REEL_MSG_SIZE];

	memset(buf, 'p', sizeof(buf));
	for (unsigned i = 0; i < n; i++) {
		double t0 = now_us();
		if (mq_send(pp->ping, buf, sizeof(buf), 0) < 0 ||
		    receive_spinning(pp->pong, buf, sizeof(buf), pp->spin_us) < 0)
			return -errno;
		if (samples)
			samples[i] = now_us() - t0;
	}
	return 0;
}

/* n requests of kind through the coordinator; times (µs) into samples unless NULL. */
int bus_calls(struct reel_client *client, uint16_t kind, unsigned n, double *samples)
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
int make_small_clip(const char *path)
{
	char *argv[] = {
		(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-y",
		(char *)"-f", (char *)"lavfi", (char *)"-i", (char *)"testsrc2=size=320x240:rate=25",
		(char *)"-t", (char *)"2", (char *)"-c:v", (char *)"libx264", (char *)"-preset",
		(char *)"veryfast", (char *)"-pix_fmt", (char *)"yuv420p", (char *)path, NULL,
	};

	return run_timed(argv) < 0 ? -EIO : 0;
}


/* --------------------------------------------------------------- open */


int cache_dir(char *buf, size_t len)
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
int make_ten_second_clip(const char *dir, char *ten_s, size_t len, const char *what)
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

int make_bench_clips(const char *dir, char *ten_s, char *ten_min, size_t len)
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

/* The 10-minute clip looped into an hour (2.4 GB), made once, cached in dir. */
int make_hour_clip(const char *dir, const char *ten_min, char *hour, size_t len)
{
	char *loop[] = {
		(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-y",
		(char *)"-stream_loop", (char *)"5", (char *)"-i", (char *)ten_min, (char *)"-c",
		(char *)"copy", NULL, NULL,
	};

	if ((size_t)snprintf(hour, len, "%s/one-hour-1080p30.mp4", dir) >= len)
		return -ENAMETOOLONG;
	if (access(hour, R_OK) != 0)
		note("open: looping it into a 1-hour clip (once, cached; 2.4 GB)");
	return make_cached(hour, loop, 11);
}

/*
 * Drop the page cache (root only: /proc/sys/vm/drop_caches); false when
 * this process may not, and the "cold" figures are then warm ones.
 */
bool drop_page_cache(void)
{
	int fd;
	bool ok;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = write(fd, "1", 1) == 1;
	close(fd);
	return ok;
}

/* User and system CPU seconds a live process has used so far (from /proc). */
int process_cpu(pid_t pid, double *ret_user, double *ret_sys)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* The command name may hold spaces: the fields start after its closing parenthesis. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -EINVAL;
	*ret_user = (double)ut / (double)sysconf(_SC_CLK_TCK);
	*ret_sys = (double)st / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

/* Spawn-to-NEED(0)-reply of `reel open`, one run. */

const char *met(bool yes)
{
	return yes ? "met" : "NOT met";
}
