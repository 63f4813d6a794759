/*
 * reel-bench open (see reel-bench.c for what it measures).
 */
#include <libavutil/error.h>

#include "bench/bench.h"

/* The three ways bench-floor.c decodes, as the table and the JSON name them. */
static const char *const floor_names[FLOOR_KINDS] = {
	"decoding only",
	"storing pictures, copied",
	"storing pictures, decoded into",
};
static const char *const floor_keys[FLOOR_KINDS] = { "decode", "store_copied", "store_direct" };

static int ttff_once(const char *reel, const char *video, const char *workdir, unsigned n,
                     uint64_t frame, double *ret_ttff_ms, double *ret_ready_ms,
                     uint64_t *ret_frames, double *ret_rate)
{
	struct coord_child c;
	double t0;
	int r;

	r = coord_start(reel, video, workdir, n, &c, &t0);
	if (r < 0) {
		coord_stop(&c);
		return r;
	}
	/* 0 frames: the session still counts them (the first frame does not wait for that). */
	if (c.frames && frame >= c.frames)
		frame = c.frames - 1;
	r = reel_client_need(c.client, frame, frame, REEL_PRIO_INTERACTIVE, NEED_TIMEOUT_MS, NULL);
	*ret_ttff_ms = (now_us() - t0) / 1e3;
	*ret_ready_ms = c.ready_ms;
	/* After the timed part: the count (waited for while counted) and the nominal rate. */
	if (r == 0) {
		struct reel_video_info vi;

		r = reel_client_video(c.client, &vi);
		if (r == 0) {
			c.frames = vi.frames;
			*ret_rate = vi.frame_rate.den > 0 ? (double)vi.frame_rate.num / vi.frame_rate.den : 0;
		}
	}
	*ret_frames = c.frames;
	if (r < 0)
		show_log(c.log);
	if (coord_stop(&c) < 0 && r == 0)
		fprintf(stderr, "reel-bench: warning: a coordinator did not stop cleanly\n");
	return r;
}

/* Materialise every frame in order, `chunk` at a time; frames per second. */
static int throughput_once(const char *reel, const char *video, const char *workdir, unsigned n,
                           double *ret_fps, double *ret_sys_s, uint64_t *ret_frames)
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
	{
		double user = 0, sys = 0;
		*ret_sys_s = process_cpu(c.pid, &user, &sys) == 0 ? sys : NAN;
	}
	if (r < 0)
		show_log(c.log);
	if (coord_stop(&c) < 0 && r == 0)
		fprintf(stderr, "reel-bench: warning: a coordinator did not stop cleanly\n");
	return r;
}

static void open_usage(FILE *out)
{
	fprintf(out,
	        "usage: reel-bench open [VIDEO] [--runs R] [--chunk N] [--buffer-dir DIR] [--no-hour]\n"
	        "                       [--first-only] [--far SECONDS] [--json]\n\n"
	        "Time to a frame: from spawning 'reel open' to the reply of NEED of the first\n"
	        "frame, and of a frame far in (500 s into the 10-minute clip, 3000 s into the\n"
	        "1-hour one), each run with a fresh buffer file, next to 'ffmpeg [-ss T] -i FILE\n"
	        "-frames:v 1 -f null -'; warm, then cold with the page cache dropped before every\n"
	        "run of either (root only: otherwise said, and the cold figures left out).\n"
	        "Throughput: every frame materialised in order (NEED of N frames at a time,\n"
	        "default %d), with the coordinator's system time per frame, next to\n"
	        "'ffmpeg -i FILE -f null -' and to ffmpeg writing the raw frames to a file in\n"
	        "the buffers' folder (left out with --first-only).  Next to them, libav in\n"
	        "reel-bench itself, the decoder threaded as reel's and no start-up timed: decoding\n"
	        "only; storing every picture in fresh pages of a file in the pictures' folder,\n"
	        "copied in with pwritev as reel does; and decoded straight into such pages\n"
	        "(get_buffer2; 8-bit 4:2:0 only).  The storing figures are the floor for keeping\n"
	        "every picture on this machine (video only, at most the first 1,000 frames).\n"
	        "Medians of R runs (default 3).\n\n"
	        "Without VIDEO: a 10-second, a 10-minute and (unless --no-hour) a 1-hour 1080p30\n"
	        "H.264 clip (2.4 GB), made once with ffmpeg and cached in\n"
	        "${XDG_CACHE_HOME:-~/.cache}/reel/bench/; the throughput is measured on the\n"
	        "10-second one.  Buffer files go to a temporary folder in reel's default buffer\n"
	        "folder (or DIR), removed afterwards.  With VIDEO, --far SECONDS times the frame\n"
	        "that far in as well (SECONDS times the nominal rate: right for constant-rate\n"
	        "videos).\n",
	        DEFAULT_CHUNK);
}

int cmd_open_bench(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "buffer-dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-hour", no_argument, NULL, 'n' },
		{ "first-only", no_argument, NULL, 'f' },
		{ "far", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char reel[PATH_MAX], workdir[PATH_MAX], cache[PATH_MAX], ten_s[PATH_MAX], ten_min[PATH_MAX];
	char hour[PATH_MAX];
	struct clip clips[3];
	double ffmpeg_raw_fps = 0, reel_sys_ms_per_frame = 0;
	bool with_hour = true, cold, throughput = true;
	const char *base = NULL;
	double reel_fps = 0, ffmpeg_fps = 0, ffmpeg_decode_fps = 0, v[64], w[64], x[64];
	double floor_fps[FLOOR_KINDS] = { 0 };
	uint64_t floor_frames[FLOOR_KINDS] = { 0 };
	uint64_t runs = 3, tp_frames = 0, far_s = 0;
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
		case 'n': with_hour = false; break;
		case 'f': throughput = false; break;
		case 'F':
			if (parse_option_number("--far", optarg, 1, 86400, &far_s) < 0)
				return CLI_USAGE;
			break;
		case 'h': open_usage(stdout); return CLI_OK;
		default:
			return fail("open: unknown option '%s' (see 'reel-bench open --help')", argv[optind - 1]),
			       CLI_USAGE;
		}
	}
	if (argc - optind > 1)
		return fail("open: at most one VIDEO (see 'reel-bench open --help')"), CLI_USAGE;
	if (far_s && argc - optind != 1)
		return fail("open: --far goes with a VIDEO (the clips made here have their own)"),
		       CLI_USAGE;
	r = find_reel(reel, sizeof(reel));
	if (r < 0)
		return fail("cannot find the reel binary next to reel-bench: %s", strerror(-r));

	memset(clips, 0, sizeof(clips));
	if (argc - optind == 1) {
		if (access(argv[optind], R_OK) != 0)
			return fail("%s: %s", argv[optind], strerror(errno)), CLI_USAGE;
		snprintf(clips[0].path, sizeof(clips[0].path), "%s", argv[optind]);
		clips[0].label = strrchr(clips[0].path, '/') ? strrchr(clips[0].path, '/') + 1 : clips[0].path;
		clips[0].far_s = (int)far_s;
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
		clips[1].far_s = 500;
		snprintf(clips[1].path, sizeof(clips[1].path), "%s", ten_min);
		nclips = 2;
		if (with_hour) {
			if (make_hour_clip(cache, ten_min, hour, sizeof(hour)) < 0)
				return fail("ffmpeg could not make the 1-hour clip");
			clips[2].label = "1 h 1080p30 H.264";
			clips[2].far_s = 3000;
			snprintf(clips[2].path, sizeof(clips[2].path), "%s", hour);
			nclips = 3;
		}
	}
	r = make_workdir(base, workdir, sizeof(workdir));
	if (r < 0)
		return fail("cannot make a work folder: %s", reel_strerror(r));
	cold = drop_page_cache();

	for (unsigned k = 0; k < nclips; k++) {
		struct clip *cl = &clips[k];
		char ss[32];
		char *first_frame[] = {
			(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-i",
			cl->path, (char *)"-frames:v", (char *)"1", (char *)"-f", (char *)"null", (char *)"-",
			NULL,
		};
		char *far_frame[] = {
			(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-ss", ss,
			(char *)"-i", cl->path, (char *)"-frames:v", (char *)"1", (char *)"-f", (char *)"null",
			(char *)"-", NULL,
		};
		/* [warm, cold] x [first frame, far frame] x [reel, ffmpeg] */
		double res[2][2][2];

		snprintf(ss, sizeof(ss), "%d", cl->far_s);
		memset(res, 0, sizeof(res));
		for (int temp = 0; temp < (cold ? 2 : 1); temp++) {
			for (int far = 0; far < (cl->far_s ? 2 : 1); far++) {
				for (unsigned i = 0; i < runs; i++) {
					uint64_t frame = 0;

					note("open: %s: %s %s frame, run %u/%" PRIu64, cl->label,
					     temp ? "cold" : "warm", far ? "far" : "first", i + 1, runs);
					/*
					 * The far frame: far_s times the nominal rate, the frame
					 * 'ffmpeg -ss' decodes first on a constant-rate clip.
					 */
					if (far)
						frame = (uint64_t)((double)cl->far_s * cl->rate + 0.5);
					if (temp)
						drop_page_cache();
					r = ttff_once(reel, cl->path, workdir, seq++, frame, &v[i], &w[i],
					              &cl->frames, &cl->rate);
					if (r < 0) {
						fail("%s: reel open and NEED(%" PRIu64 ") failed: %s", cl->path, frame,
						     reel_strerror(r));
						goto out_rmdir;
					}
					if (temp)
						drop_page_cache();
					x[i] = run_timed(far ? far_frame : first_frame);
					if (x[i] < 0) {
						fail("ffmpeg could not decode %s", cl->path);
						goto out_rmdir;
					}
				}
				res[temp][far][0] = median(v, runs);
				res[temp][far][1] = median(x, runs);
				if (temp == 0 && far == 0)
					cl->ready_ms = median(w, runs);
			}
		}
		cl->ttff_ms = res[0][0][0];
		cl->ffmpeg_first_ms = res[0][0][1];
		cl->far_ms = res[0][1][0];
		cl->ffmpeg_far_ms = res[0][1][1];
		cl->cold_ttff_ms = res[1][0][0];
		cl->cold_ffmpeg_first_ms = res[1][0][1];
		cl->cold_far_ms = res[1][1][0];
		cl->cold_ffmpeg_far_ms = res[1][1][1];
	}

	if (throughput) {
		char raw[PATH_MAX + 16];
		char *null_decode[] = {
			(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-i",
			clips[0].path, (char *)"-f", (char *)"null", (char *)"-", NULL,
		};
		char *raw_decode[] = {
			(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-y",
			(char *)"-i", clips[0].path, (char *)"-an", (char *)"-f", (char *)"rawvideo",
			(char *)"-pix_fmt", (char *)"yuv420p", raw, NULL,
		};
		double y[64], sys[64], fl[FLOOR_KINDS][64];
		char pictures[PATH_MAX];
		const char *floor_dir = reel_buffer_pictures_dir(pictures, sizeof(pictures));

		/* The raw frames go where the buffers go: the same filesystem, the same writeback. */
		snprintf(raw, sizeof(raw), "%s/frames.yuv", workdir);
		/* The floor's pictures go where the coordinator's go. */
		if (!floor_dir)
			floor_dir = workdir;
		for (unsigned i = 0; i < runs; i++) {
			note("open: materialising every frame, run %u/%" PRIu64, i + 1, runs);
			r = throughput_once(reel, clips[0].path, workdir, seq++, &v[i], &sys[i], &tp_frames);
			if (r < 0) {
				fail("%s: materialising every frame failed: %s", clips[0].path, reel_strerror(r));
				goto out_rmdir;
			}
			note("open: ffmpeg -f null, run %u/%" PRIu64, i + 1, runs);
			x[i] = run_timed(null_decode);
			note("open: ffmpeg -f rawvideo to a file, run %u/%" PRIu64, i + 1, runs);
			y[i] = run_timed(raw_decode);
			unlink(raw);
			if (x[i] < 0 || y[i] < 0) {
				fail("ffmpeg could not decode %s", clips[0].path);
				goto out_rmdir;
			}
			for (int k = 0; k < FLOOR_KINDS; k++) {
				note("open: libav in reel-bench, %s, run %u/%" PRIu64, floor_names[k], i + 1, runs);
				r = floor_run(clips[0].path, floor_dir, (enum floor_kind)k, &fl[k][i],
				              &floor_frames[k]);
				/* Straight into pages only fits 8-bit 4:2:0: the figure is then left out. */
				if (r == AVERROR(ENOTSUP) && k == FLOOR_STORE_DIRECT) {
					floor_frames[k] = 0;
					continue;
				}
				if (r < 0) {
					fail("%s: libav decoding in reel-bench (%s) failed: %s", clips[0].path,
					     floor_names[k], av_err2str(r));
					goto out_rmdir;
				}
			}
		}
		for (int k = 0; k < FLOOR_KINDS; k++)
			if (floor_frames[k])
				floor_fps[k] = (double)floor_frames[k] / median(fl[k], runs);
		reel_fps = median(v, runs);
		reel_sys_ms_per_frame = median(sys, runs) * 1e3 / (double)tp_frames;
		ffmpeg_fps = (double)tp_frames / (median(x, runs) / 1e3);
		ffmpeg_raw_fps = (double)tp_frames / (median(y, runs) / 1e3);
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
		printf("{\"bench\":\"open\",\"runs\":%" PRIu64 ",\"cache_dropped\":%s,\"first_frame\":[",
		       runs, cold ? "true" : "false");
		for (unsigned k = 0; k < nclips; k++) {
			const struct clip *cl = &clips[k];

			printf("%s{\"clip\":", k ? "," : "");
			cli_json_string(stdout, cl->label);
			printf(",\"path\":");
			cli_json_string(stdout, cl->path);
			printf(",\"frames\":%" PRIu64 ",\"ready_ms\":%.1f,\"reel_ms\":%.1f,"
			       "\"ffmpeg_ms\":%.1f,\"ratio\":%.3f",
			       cl->frames, cl->ready_ms, cl->ttff_ms, cl->ffmpeg_first_ms,
			       cl->ttff_ms / cl->ffmpeg_first_ms);
			if (cold)
				printf(",\"cold_reel_ms\":%.1f,\"cold_ffmpeg_ms\":%.1f,\"cold_ratio\":%.3f",
				       cl->cold_ttff_ms, cl->cold_ffmpeg_first_ms,
				       cl->cold_ttff_ms / cl->cold_ffmpeg_first_ms);
			if (cl->far_s) {
				printf(",\"far_seconds\":%d,\"far_reel_ms\":%.1f,\"far_ffmpeg_ms\":%.1f,"
				       "\"far_ratio\":%.3f", cl->far_s, cl->far_ms, cl->ffmpeg_far_ms,
				       cl->far_ms / cl->ffmpeg_far_ms);
				if (cold)
					printf(",\"cold_far_reel_ms\":%.1f,\"cold_far_ffmpeg_ms\":%.1f,"
					       "\"cold_far_ratio\":%.3f", cl->cold_far_ms, cl->cold_ffmpeg_far_ms,
					       cl->cold_far_ms / cl->cold_ffmpeg_far_ms);
			}
			printf("}");
		}
		if (!throughput) {
			printf("],\"throughput\":null}\n");
			goto out_ok;
		}
		printf("],\"throughput\":{\"clip\":");
		cli_json_string(stdout, clips[0].label);
		printf(",\"frames\":%" PRIu64 ",\"chunk\":%" PRIu64 ",\"reel_fps\":%.1f,\"ffmpeg_fps\":%.1f,"
		       "\"ratio\":%.3f,\"ffmpeg_raw_file_fps\":%.1f,\"ratio_raw_file\":%.3f,"
		       "\"reel_sys_ms_per_frame\":%.3f,",
		       tp_frames, chunk, reel_fps, ffmpeg_fps, reel_fps / ffmpeg_fps, ffmpeg_raw_fps,
		       reel_fps / ffmpeg_raw_fps, reel_sys_ms_per_frame);
		if (ffmpeg_decode_fps > 0)
			printf("\"ffmpeg_fps_without_startup\":%.1f,\"ratio_without_startup\":%.3f",
			       ffmpeg_decode_fps, reel_fps / ffmpeg_decode_fps);
		else
			printf("\"ffmpeg_fps_without_startup\":null,\"ratio_without_startup\":null");
		for (int k = 0; k < FLOOR_KINDS; k++) {
			if (floor_fps[k] > 0)
				printf(",\"libav_%s_fps\":%.1f,\"libav_%s_frames\":%" PRIu64
				       ",\"ratio_libav_%s\":%.3f", floor_keys[k], floor_fps[k], floor_keys[k],
				       floor_frames[k], floor_keys[k], reel_fps / floor_fps[k]);
			else
				printf(",\"libav_%s_fps\":null,\"ratio_libav_%s\":null", floor_keys[k],
				       floor_keys[k]);
		}
		printf("}}\n");
	} else {
		printf("reel-bench open: medians of %" PRIu64 " runs, buffers in %s; page cache %s\n\n",
		       runs, workdir, cold ? "dropped before each cold run" :
		       "NOT dropped (not root): the cold figures are missing");
		printf("time to a frame (spawn 'reel open' .. reply of NEED), next to\n"
		       "'ffmpeg [-ss T] -i FILE -frames:v 1 -f null -':\n");
		printf("  %-22s %-12s %7s %10s %10s %7s\n", "clip", "frame", "cache", "reel ms",
		       "ffmpeg ms", "ratio");
		for (unsigned k = 0; k < nclips; k++) {
			const struct clip *cl = &clips[k];
			char far[32];

			snprintf(far, sizeof(far), "at %d s", cl->far_s);
			printf("  %-22s %-12s %7s %10.1f %10.1f %6.2fx\n", cl->label, "first", "warm",
			       cl->ttff_ms, cl->ffmpeg_first_ms, cl->ttff_ms / cl->ffmpeg_first_ms);
			if (cold)
				printf("  %-22s %-12s %7s %10.1f %10.1f %6.2fx\n", cl->label, "first", "cold",
				       cl->cold_ttff_ms, cl->cold_ffmpeg_first_ms,
				       cl->cold_ttff_ms / cl->cold_ffmpeg_first_ms);
			if (cl->far_s) {
				printf("  %-22s %-12s %7s %10.1f %10.1f %6.2fx\n", cl->label, far, "warm",
				       cl->far_ms, cl->ffmpeg_far_ms, cl->far_ms / cl->ffmpeg_far_ms);
				if (cold)
					printf("  %-22s %-12s %7s %10.1f %10.1f %6.2fx\n", cl->label, far, "cold",
					       cl->cold_far_ms, cl->cold_ffmpeg_far_ms,
					       cl->cold_far_ms / cl->cold_ffmpeg_far_ms);
			}
		}
		if (!throughput)
			goto out_ok;
		printf("\nmaterialising every frame of %s (%" PRIu64 " frames, NEED of %" PRIu64
		       " at a time):\n", clips[0].label, tp_frames, chunk);
		printf("  reel %.1f fps (%.3f ms of system time per frame)\n", reel_fps,
		       reel_sys_ms_per_frame);
		printf("  'ffmpeg -f null -'               %.1f fps, ratio %.2fx\n", ffmpeg_fps,
		       reel_fps / ffmpeg_fps);
		if (ffmpeg_decode_fps > 0)
			printf("  the same without its start-up    %.1f fps, ratio %.2fx\n", ffmpeg_decode_fps,
			       reel_fps / ffmpeg_decode_fps);
		printf("  'ffmpeg -f rawvideo FILE'        %.1f fps, ratio %.2fx (FILE beside the buffers)\n",
		       ffmpeg_raw_fps, reel_fps / ffmpeg_raw_fps);
		printf("  libav in reel-bench, no start-up, the decoder threaded as reel's:\n");
		for (int k = 0; k < FLOOR_KINDS; k++) {
			if (floor_fps[k] > 0)
				printf("    %-29s %.1f fps, ratio %.2fx%s\n", floor_names[k], floor_fps[k],
				       reel_fps / floor_fps[k],
				       floor_frames[k] < tp_frames ? " (its first frames only)" : "");
			else
				printf("    %-29s left out (not 8-bit 4:2:0)\n", floor_names[k]);
		}
	}
out_ok:
	code = CLI_OK;
out_rmdir:
	rmrf(workdir);
	return code;
}
