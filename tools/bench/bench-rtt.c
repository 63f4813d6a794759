/*
 * reel-bench rtt and edit-rtt (see reel-bench.c for what it measures).
 */
#include "bench/bench.h"

static void rtt_usage(FILE *out)
{
	fprintf(out,
	        "usage: reel-bench rtt [VIDEO] [--count N] [--runs R] [--buffer-dir DIR] [--json]\n\n"
	        "Round trips of the command bus, p50 and p99 in microseconds, each the median\n"
	        "over R runs (default 5) of N round trips (default 2000):\n"
	        "  raw     REEL_MSG_SIZE bytes between two processes over two POSIX queues\n"
	        "  status  a STATUS request to a real coordinator (reel open VIDEO --no-stages)\n"
	        "  need    a NEED request for a frame already resident\n"
	        "  raw spinning  the raw ping-pong with both sides looking for the next message\n"
	        "          50 us before they sleep, as reel's client and coordinator do\n"
	        "status and need are given as ratios to both.  Without VIDEO, a small clip\n"
	        "is made with ffmpeg in a temporary folder.\n");
}

/* How long reel's bus looks for the next message before sleeping (client and coordinator). */
#define SPIN_US 50.0

/* What rtt and edit-rtt share: options, a work folder, a clip, the samples. */
struct rtt_job {
	const char *name;
	uint64_t count, runs;
	const char *video, *base;
	bool json;
	char reel[PATH_MAX], workdir[PATH_MAX], clip[PATH_MAX + 16];
	double *samples[4];          /* raw, STATUS, the job's own, raw with both sides spinning */
	struct pingpong *spin;       /* the raw ping-pong that spins as the bus does */
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
	for (int i = 0; i < 4; i++) {
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
	for (int i = 0; i < 4; i++)
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
		r = pingpong_batch(j->spin, j->warmup, NULL);
	if (r == 0)
		r = bus_calls(client, REEL_MSG_STATUS, j->warmup, NULL);
	if (r == 0)
		r = third(ud, j->warmup, NULL);
	for (unsigned i = 0; i < j->runs && r == 0; i++) {
		size_t at = (size_t)i * j->count;
		note("%s: run %u/%" PRIu64, j->name, i + 1, j->runs);
		r = pingpong_batch(pp, (unsigned)j->count, j->samples[0] + at);
		if (r == 0)
			r = pingpong_batch(j->spin, (unsigned)j->count, j->samples[3] + at);
		if (r == 0)
			r = bus_calls(client, REEL_MSG_STATUS, (unsigned)j->count, j->samples[1] + at);
		if (r == 0)
			r = third(ud, (unsigned)j->count, j->samples[2] + at);
	}
	return r;
}

/* The two baselines: the raw ping-pong, and the same spinning as the bus does (job->spin). */
static int pingpongs_start(struct rtt_job *j, struct pingpong *raw, struct pingpong *spin)
{
	int r = pingpong_start(raw);

	if (r < 0)
		return r;
	r = pingpong_start_spinning(spin, SPIN_US);
	if (r < 0) {
		pingpong_stop(raw);
		return r;
	}
	j->spin = spin;
	return 0;
}

/* The third measure of rtt: NEED of a resident frame. */
static int need_calls(void *ud, unsigned n, double *samples)
{
	return bus_calls(ud, REEL_MSG_NEED, n, samples);
}

int cmd_rtt(int argc, char **argv)
{
	struct rtt_job job = { .name = "rtt" };
	struct pct raw, status, need, spun;
	struct pingpong pp, spin;
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
	r = pingpongs_start(&job, &pp, &spin);
	if (r < 0) {
		fail("raw ping-pong: %s", reel_strerror(r));
		goto out_coord;
	}
	r = reel_client_need(c.client, 0, 0, REEL_PRIO_INTERACTIVE, NEED_TIMEOUT_MS, NULL);
	if (r == 0)
		r = rtt_measure(&job, &pp, c.client, need_calls, c.client);
	pingpong_stop(&pp);
	pingpong_stop(job.spin);
	if (r < 0) {
		fail("round trips failed: %s", reel_strerror(r));
		show_log(c.log);
		goto out_coord;
	}
	raw = summarise(job.samples[0], (unsigned)job.count, (unsigned)job.runs);
	status = summarise(job.samples[1], (unsigned)job.count, (unsigned)job.runs);
	need = summarise(job.samples[2], (unsigned)job.count, (unsigned)job.runs);
	spun = summarise(job.samples[3], (unsigned)job.count, (unsigned)job.runs);
	r = coord_stop(&c);
	note_done();
	if (r < 0)
		fprintf(stderr, "reel-bench: warning: the coordinator did not stop cleanly: %s\n",
		        reel_strerror(r));

	if (job.json) {
		printf("{\"bench\":\"rtt\",\"count\":%" PRIu64 ",\"runs\":%" PRIu64 ","
		       "\"raw\":{\"p50_us\":%.2f,\"p99_us\":%.2f},"
		       "\"status\":{\"p50_us\":%.2f,\"p99_us\":%.2f,\"p50_ratio\":%.3f,\"p99_ratio\":%.3f},"
		       "\"need\":{\"p50_us\":%.2f,\"p99_us\":%.2f,\"p50_ratio\":%.3f,\"p99_ratio\":%.3f},"
		       "\"raw_spinning\":{\"spin_us\":%.0f,\"p50_us\":%.2f,\"p99_us\":%.2f},"
		       "\"status_vs_spinning\":{\"p50_ratio\":%.3f,\"p99_ratio\":%.3f},"
		       "\"need_vs_spinning\":{\"p50_ratio\":%.3f,\"p99_ratio\":%.3f}}\n",
		       job.count, job.runs, raw.p50, raw.p99, status.p50, status.p99, status.p50 / raw.p50,
		       status.p99 / raw.p99, need.p50, need.p99, need.p50 / raw.p50, need.p99 / raw.p99,
		       SPIN_US, spun.p50, spun.p99, status.p50 / spun.p50, status.p99 / spun.p99,
		       need.p50 / spun.p50, need.p99 / spun.p99);
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
		printf("\nreel's bus looks for the next message %.0f us before it sleeps; the same done by\n"
		       "the raw ping-pong, as the fairer floor:\n", SPIN_US);
		printf("%-34s %9.1f %9.1f %10s %10s\n", "raw ping-pong, both sides spinning", spun.p50,
		       spun.p99, "1.00", "1.00");
		printf("%-34s %9.1f %9.1f %9.2fx %9.2fx\n", "STATUS", status.p50, status.p99,
		       status.p50 / spun.p50, status.p99 / spun.p99);
		printf("%-34s %9.1f %9.1f %9.2fx %9.2fx\n", "NEED of a resident frame", need.p50,
		       need.p99, need.p50 / spun.p50, need.p99 / spun.p99);
	}
	code = CLI_OK;
	goto out;
out_coord:
	coord_stop(&c);
out:
	rtt_finish(&job);
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

int cmd_edit_rtt(int argc, char **argv)
{
	struct rtt_job job = { .name = "edit-rtt" };
	struct pct raw, status, edit;
	struct edit_target t;
	struct reel_status st;
	struct pingpong pp, spin;
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
	r = pingpongs_start(&job, &pp, &spin);
	if (r < 0) {
		fail("raw ping-pong: %s", reel_strerror(r));
		goto out_coord;
	}
	r = rtt_measure(&job, &pp, t.c.client, edit_calls_of, &t);
	pingpong_stop(&pp);
	pingpong_stop(job.spin);
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
