/*
 * reel-bench pipeline (see reel-bench.c for what it measures).
 */
#include "bench/bench.h"

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

int cmd_pipeline(int argc, char **argv)
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
