/*
 * reel-bench open (see reel-bench.c for what it measures).
 */
#include "bench/bench.h"

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

int cmd_open_bench(int argc, char **argv)
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
