/*
 * reel-bench export (see reel-bench.c for what it measures): `reel export`
 * next to one ffmpeg process doing the same work in the same run, on a
 * 10-second 720p30 clip with sound: brightness 0.1 (in ffmpeg, the same
 * lookup: +26 on the luma, clipped), then libx264 at the same crf, preset
 * and threads, and AAC.
 */
#include "bench/bench.h"

#define EXPORT_FILTER "lutyuv=y=clip(val+26\\,0\\,255)"
#define WAYS 3

static const struct bench_edit export_edits[] = { { REEL_OP_BRIGHTNESS, 0.1 } };

struct export_opts {
	const char *preset;
	char crf[16], threads[16];
};

/* The 10-second 720p30 H.264 clip with a tone, made once with ffmpeg and cached in dir. */
static int make_clip(const char *dir, char *path, size_t len)
{
	char part[PATH_MAX + 16];
	char *argv[] = {
		(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-y",
		(char *)"-f", (char *)"lavfi", (char *)"-i", (char *)"testsrc2=size=1280x720:rate=30",
		(char *)"-f", (char *)"lavfi", (char *)"-i", (char *)"sine=frequency=440:sample_rate=48000",
		(char *)"-t", (char *)"10", (char *)"-c:v", (char *)"libx264", (char *)"-preset",
		(char *)"veryfast", (char *)"-pix_fmt", (char *)"yuv420p", (char *)"-c:a", (char *)"aac",
		(char *)"-shortest", part, NULL,
	};

	if ((size_t)snprintf(path, len, "%s/ten-seconds-720p30.mp4", dir) >= len)
		return -ENAMETOOLONG;
	if (access(path, R_OK) == 0)
		return 0;
	note("export: encoding a 10-second 720p30 clip with ffmpeg (once, cached in %s)", dir);
	if ((size_t)snprintf(part, sizeof(part), "%s/ten-seconds-720p30.part.mp4", dir) >= sizeof(part))
		return -ENAMETOOLONG;
	if (run_timed(argv) < 0) {
		unlink(part);
		return -EIO;
	}
	return rename(part, path) < 0 ? -errno : 0;
}

/* The whole of a small text file, malloc'ed; NULL when unreadable. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	text = malloc(65536);
	if (text) {
		len = fread(text, 1, 65535, f);
		text[len] = 0;
	}
	fclose(f);
	return text;
}

/* A number after "key": in the export's --json line; NAN when absent. */
static double json_number(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = json ? strstr(json, pat) : NULL;
	return p ? strtod(p + strlen(pat), NULL) : NAN;
}

/*
 * reel: `reel open` with its stages, brightness sent, then `reel export`
 * timed from its spawn to its exit.  With resident, every frame is
 * materialised and settled first, so that the export only reads and
 * encodes.  *ret_ms: the export; *ret_total_ms: from the spawn of reel
 * open; *ret_read_ms / *ret_encode_ms: the export's own breakdown.
 */
static int export_reel(const char *reel, const char *clip, const char *workdir, unsigned n,
                       bool resident, const struct export_opts *o, double *ret_ms,
                       double *ret_total_ms, double *ret_read_ms, double *ret_encode_ms,
                       uint64_t *ret_frames)
{
	char out[PATH_MAX] = "", log[PATH_MAX] = "";
	struct coord_child c;
	uint64_t seq;
	double t0, t1;
	char *json = NULL;
	int r, status;
	pid_t pid;

	r = coord_start_stages(reel, clip, workdir, n, DEFAULT_STAGES, &c, &t0);
	if (r < 0) {
		fail("%s: reel open did not come up: %s", clip, reel_strerror(r));
		goto out_stop;
	}
	*ret_frames = c.frames;
	r = send_edits(&c, export_edits, 1, 0, (int64_t)c.frames - 1, &seq);
	if (r == 0 && resident)
		r = materialise_frames(&c, c.frames, "export");
	if (r == 0 && resident)
		r = reel_client_need_settled(c.client, 0, c.frames - 1, REEL_PRIO_BATCH, NEED_TIMEOUT_MS,
		                             NULL);
	if (r < 0) {
		fail("%s: preparing the session: %s", clip, reel_strerror(r));
		goto out_stop;
	}
	if ((size_t)snprintf(out, sizeof(out), "%s/reel-%u.mp4", workdir, n) >= sizeof(out) ||
	    (size_t)snprintf(log, sizeof(log), "%s/export-%u.log", workdir, n) >= sizeof(log)) {
		r = -ENAMETOOLONG;
		goto out_stop;
	}
	{
		char *argv[] = {
			(char *)reel, (char *)"export", c.session, out, (char *)"--crf", (char *)o->crf,
			(char *)"--preset", (char *)o->preset, (char *)"--threads", (char *)o->threads,
			(char *)"--json", NULL,
		};
		t1 = now_us();
		pid = cli_spawn(argv, log);
		status = pid > 0 ? reap(pid, 30 * 60 * 1000) : -1;
		*ret_ms = (now_us() - t1) / 1e3;
		*ret_total_ms = (now_us() - t0) / 1e3;
	}
	json = slurp(log);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fail("reel export failed: %s", json ? json : "(no output)");
		r = -EIO;
		goto out_stop;
	}
	*ret_read_ms = json_number(json, "read_ms");
	*ret_encode_ms = json_number(json, "encode_ms");
out_stop:
	free(json);
	if (out[0])
		unlink(out);
	if (log[0])
		unlink(log);
	if (coord_stop(&c) < 0 && r == 0)
		fprintf(stderr, "reel-bench: warning: a coordinator did not stop cleanly\n");
	return r;
}

static void export_usage(FILE *out)
{
	fprintf(out,
	        "usage: reel-bench export [--runs R] [--preset P] [--crf N] [--threads N]\n"
	        "                         [--buffer-dir DIR] [--json]\n\n"
	        "brightness 0.1 and libx264 (crf N, default 23; preset P, default medium;\n"
	        "threads N, default 0: as many as libx264 likes) with AAC sound, over a cached\n"
	        "10-second 720p30 clip, three ways in the same run:\n"
	        "  (a)  reel export of a session just opened (reel open with its stages, the\n"
	        "       edit sent): decoding in the coordinator, the edit applied as frames\n"
	        "       are decoded, encoding in reel export; the export timed from its spawn\n"
	        "  (a2) the same once every frame is resident and edited: reading and encoding\n"
	        "  (b)  ffmpeg -i CLIP -vf \"%s\" -c:v libx264 -crf N -preset P\n"
	        "       -threads N -c:a aac OUT.mp4\n"
	        "Wall time and frames/s of each, medians of R runs (default 3); reel's time over\n"
	        "ffmpeg's (goal: (a) within 1.1x), and where the export's time went.\n",
	        EXPORT_FILTER);
}

int cmd_export_bench(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "preset", required_argument, NULL, 'p' },
		{ "crf", required_argument, NULL, 'q' },
		{ "threads", required_argument, NULL, 't' },
		{ "buffer-dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const labels[WAYS] = {
		"(a)  reel export, session just opened", "(a2) reel export, frames resident",
		"(b)  ffmpeg, one process",
	};
	static const char *const keys[WAYS] = { "reel_fresh", "reel_resident", "ffmpeg" };
	char reel[PATH_MAX], workdir[PATH_MAX], cache[PATH_MAX], clip[PATH_MAX], ffout[PATH_MAX];
	double ms[WAYS][64], total[64], rd[2][64], enc[2][64], wall[WAYS], fps[WAYS];
	double total_ms, read_ms[2], encode_ms[2];
	struct export_opts o = { .preset = "medium", .crf = "23", .threads = "0" };
	const char *base = NULL;
	uint64_t runs = 3, v, frames = 300;
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
		case 'p': o.preset = optarg; break;
		case 'q':
			if (parse_option_number("--crf", optarg, 0, 51, &v) < 0)
				return CLI_USAGE;
			snprintf(o.crf, sizeof(o.crf), "%" PRIu64, v);
			break;
		case 't':
			if (parse_option_number("--threads", optarg, 0, 256, &v) < 0)
				return CLI_USAGE;
			snprintf(o.threads, sizeof(o.threads), "%" PRIu64, v);
			break;
		case 'd': base = optarg; break;
		case 'j': json = true; break;
		case 'h': export_usage(stdout); return CLI_OK;
		default:
			return fail("export: unknown option '%s' (see 'reel-bench export --help')",
			            argv[optind - 1]), CLI_USAGE;
		}
	}
	if (argc - optind > 0)
		return fail("export: no VIDEO is taken (see 'reel-bench export --help')"), CLI_USAGE;
	r = find_reel(reel, sizeof(reel));
	if (r < 0)
		return fail("cannot find the reel binary next to reel-bench: %s", strerror(-r));
	r = cache_dir(cache, sizeof(cache));
	if (r < 0)
		return fail("no cache folder: %s", reel_strerror(r));
	if (make_clip(cache, clip, sizeof(clip)) < 0)
		return fail("ffmpeg could not make the benchmark clip (is the ffmpeg command installed?)");
	r = make_workdir(base, workdir, sizeof(workdir));
	if (r < 0)
		return fail("cannot make a work folder: %s", reel_strerror(r));
	if ((size_t)snprintf(ffout, sizeof(ffout), "%s/ffmpeg.mp4", workdir) >= sizeof(ffout)) {
		fail("%s: the path is too long", workdir);
		goto out_rmdir;
	}

	{
		char *ff[] = {
			(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-y",
			(char *)"-i", clip, (char *)"-vf", (char *)EXPORT_FILTER, (char *)"-c:v",
			(char *)"libx264", (char *)"-crf", o.crf, (char *)"-preset", (char *)o.preset,
			(char *)"-threads", o.threads, (char *)"-c:a", (char *)"aac", ffout, NULL,
		};

		/* The ways take turns run by run, so that none always pays for going first. */
		for (unsigned i = 0; i < runs; i++) {
			for (unsigned j = 0; j < WAYS; j++) {
				unsigned k = (i + j) % WAYS;
				double t;

				note("export: run %u/%" PRIu64 ", %s", i + 1, runs, labels[k] + 5);
				if (k < 2) {
					r = export_reel(reel, clip, workdir, seq++, k == 1, &o, &ms[k][i],
					                k == 0 ? &total[i] : &t, &rd[k][i], &enc[k][i], &frames);
					if (r < 0)
						goto out_rmdir;
					continue;
				}
				ms[k][i] = run_timed(ff);
				unlink(ffout);
				if (ms[k][i] < 0) {
					fail("ffmpeg failed on %s", clip);
					goto out_rmdir;
				}
			}
		}
	}
	note_done();
	for (unsigned k = 0; k < WAYS; k++) {
		wall[k] = median(ms[k], runs);
		fps[k] = (double)frames / (wall[k] / 1e3);
	}
	total_ms = median(total, runs);
	for (unsigned k = 0; k < 2; k++) {
		read_ms[k] = median(rd[k], runs);
		encode_ms[k] = median(enc[k], runs);
	}

	if (json) {
		printf("{\"bench\":\"export\",\"runs\":%" PRIu64 ",\"frames\":%" PRIu64 ",\"cores\":%ld,"
		       "\"preset\":", runs, frames, cores);
		cli_json_string(stdout, o.preset);
		printf(",\"crf\":%s,\"threads\":%s,\"filter\":", o.crf, o.threads);
		cli_json_string(stdout, EXPORT_FILTER);
		for (unsigned k = 0; k < WAYS; k++) {
			printf(",\"%s\":{\"ms\":%.1f,\"fps\":%.1f", keys[k], wall[k], fps[k]);
			if (k < 2)
				printf(",\"read_ms\":%.1f,\"encode_ms\":%.1f", read_ms[k], encode_ms[k]);
			if (k == 0)
				printf(",\"from_open_ms\":%.1f", total_ms);
			printf("}");
		}
		printf(",\"time_over_ffmpeg\":{\"reel_fresh\":%.3f,\"reel_resident\":%.3f,"
		       "\"within_1_1x\":%s}}\n", wall[0] / wall[2], wall[1] / wall[2],
		       wall[0] <= 1.1 * wall[2] ? "true" : "false");
	} else {
		printf("reel-bench export: brightness 0.1, libx264 crf %s preset %s threads %s, AAC,\n"
		       "over the 10 s 720p30 clip (%" PRIu64 " frames), medians of %" PRIu64 " runs, "
		       "%ld cores\n\n", o.crf, o.preset, o.threads, frames, runs, cores);
		printf("  %-40s %9s %8s %9s %9s\n", "", "wall ms", "fps", "read ms", "encode ms");
		for (unsigned k = 0; k < WAYS; k++) {
			printf("  %-40s %9.1f %8.1f", labels[k], wall[k], fps[k]);
			if (k < 2)
				printf(" %9.1f %9.1f", read_ms[k], encode_ms[k]);
			printf("\n");
		}
		printf("\n  (a) from the spawn of reel open: %.1f ms\n", total_ms);
		printf("  (b): ffmpeg -i CLIP -vf \"%s\" -c:v libx264 -crf %s -preset %s -threads %s "
		       "-c:a aac OUT.mp4\n", EXPORT_FILTER, o.crf, o.preset, o.threads);
		printf("  read ms: the export waiting for and copying frames; encode ms: encoding and\n"
		       "  writing (both inside reel export's own time)\n");
		printf("\nreel's time over ffmpeg's, goal (a) <= 1.10x:\n");
		printf("  %-38s %6.2fx %s\n", labels[0], wall[0] / wall[2], met(wall[0] <= 1.1 * wall[2]));
		printf("  %-38s %6.2fx\n", labels[1], wall[1] / wall[2]);
	}
	code = CLI_OK;
out_rmdir:
	rmrf(workdir);
	return code;
}
