/*
 * reel-bench effects (see reel-bench.c for what it measures).
 */
#include <pthread.h>

#include "bench/bench.h"

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
 * The machine's own ceiling for W workers: memcpy on W threads at once,
 * each over buffers of its own.  Workers editing frames in place share the
 * memory bus the same way, so their scaling is read next to this one.
 */
struct copier {
	pthread_barrier_t *start;
	void *src, *dst;
	double us;
};

static void *copier_main(void *arg)
{
	struct copier *c = arg;
	double t0;

	pthread_barrier_wait(c->start);
	t0 = now_us();
	for (unsigned i = 0; i < MEMCPY_PASSES; i++)
		copy_fn(c->dst, c->src, MEMCPY_BYTES);
	c->us = now_us() - t0;
	return NULL;
}

/* Aggregate GB/s of n threads copying at once (n <= 32); NAN when they could not run. */
static double memcpy_threads(unsigned n)
{
	struct copier c[32];
	pthread_t t[32];
	pthread_barrier_t start;
	double slowest = 0, gbps = NAN;
	unsigned made = 0;

	if (n == 0 || n > 32 || pthread_barrier_init(&start, NULL, n) != 0)
		return NAN;
	memset(c, 0, sizeof(c));
	for (unsigned i = 0; i < n; i++) {
		c[i].start = &start;
		c[i].src = malloc(MEMCPY_BYTES);
		c[i].dst = malloc(MEMCPY_BYTES);
		if (!c[i].src || !c[i].dst)
			goto out;
		/* Every page touched once first: the passes time copies, not page faults. */
		memset(c[i].src, 0x5a, MEMCPY_BYTES);
		memset(c[i].dst, 0xa5, MEMCPY_BYTES);
	}
	for (; made < n; made++)
		if (pthread_create(&t[made], NULL, copier_main, &c[made]) != 0)
			break;
	if (made < n) {
		/* The started ones wait at the barrier for ever: there is no way on but out. */
		fail("effects: could not start %u copying threads", n);
		exit(CLI_FAIL);
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		if (c[i].us > slowest)
			slowest = c[i].us;
	}
	gbps = (double)n * MEMCPY_PASSES * MEMCPY_BYTES / (slowest / 1e6) / 1e9;
out:
	for (unsigned i = 0; i < n; i++) {
		free(c[i].src);
		free(c[i].dst);
	}
	pthread_barrier_destroy(&start);
	return gbps;
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
	        "worker on brightness at least 0.5x memcpy; W workers at least 0.8*W x one,\n"
	        "shown next to the machine's own ceiling: W threads copying at once, each\n"
	        "over buffers of its own, next to one thread.\n",
	        DEFAULT_FX_FRAMES);
}

int cmd_effects(int argc, char **argv)
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
	double *copies = NULL, memcpy_gbps, goal_scaling, many[2][64], memcpy_scaling = NAN;
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
		if (nconf == 2) {
			many[0][i] = memcpy_threads(1);
			many[1][i] = memcpy_threads(workers[1]);
		}
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
	if (nconf == 2)
		memcpy_scaling = median(many[1], runs) / median(many[0], runs);
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
		printf("],\"memcpy_scaling\":");
		if (nconf == 2)
			printf("{\"threads\":%u,\"ratio\":%.3f}", workers[1], memcpy_scaling);
		else
			printf("null");
		printf(",\"goal_brightness_vs_memcpy\":{\"ratio\":%.3f,\"goal\":0.5,\"met\":%s,"
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
		if (nconf == 2)
			printf("  %-58s %6.2fx  (the machine's ceiling: %u memcpy threads at once,\n"
			       "  %-58s          each on buffers of its own, next to one)\n",
			       "  memcpy on as many threads", memcpy_scaling, workers[1], "");
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
