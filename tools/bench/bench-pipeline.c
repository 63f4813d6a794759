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

/*
 * (d) GStreamer: two processes joined by shmsink/shmsrc (gst-plugins-bad),
 * the decoded I420 frames passed through shared memory.  GStreamer has
 * brightness (videobalance: +0.1 x 255 on the luma through a lookup, the
 * chroma through its 2-D tables, identity at this saturation and hue) but
 * no box blur: gaussianblur takes AYUV only (two conversions and another
 * kernel) and smooth is an edge-preserving filter; so (d) leaves the blur
 * out and does less work than the other ways, which the report says.
 */
#define GST_FRAME_BYTES 3110400u   /* 1920 x 1080 I420 */
#define GST_SHM_FRAMES 10
#define GST_FILTER "videobalance brightness=0.1"
#define GST_BLUR_NOTE                                                                             \
	"no blur: GStreamer has no box blur (gaussianblur takes AYUV only, smooth is "              \
	"edge-preserving), so this way does brightness only, less work than the others"
#define GST_SOCKET_TIMEOUT_MS 30000

/* Empty when GStreamer and the elements (d) uses are there; otherwise why not, in why. */
static bool gst_available(char *why, size_t len)
{
	static const char *const elements[][2] = {
		{ "decodebin", "gstreamer1.0-plugins-base" },
		{ "videoconvert", "gstreamer1.0-plugins-base" },
		{ "videobalance", "gstreamer1.0-plugins-good" },
		{ "shmsink", "gstreamer1.0-plugins-bad" },
		{ "shmsrc", "gstreamer1.0-plugins-bad" },
		{ "fakesink", "gstreamer1.0-tools" },
	};
	char path[PATH_MAX];

	if (bench_which("gst-launch-1.0", path, sizeof(path)) < 0 ||
	    bench_which("gst-inspect-1.0", path, sizeof(path)) < 0) {
		snprintf(why, len, "GStreamer not installed");
		return false;
	}
	for (size_t i = 0; i < sizeof(elements) / sizeof(elements[0]); i++) {
		char *argv[] = { (char *)"gst-inspect-1.0", (char *)"--exists", (char *)elements[i][0],
		                 NULL };
		if (run_timed(argv) < 0) {
			snprintf(why, len, "GStreamer's %s is not installed (%s)", elements[i][0],
			         elements[i][1]);
			return false;
		}
	}
	return true;
}

/* Lines of B's log (gst-launch -v) that say fakesink got a whole frame. */
static uint64_t gst_frames_received(const char *log)
{
	char line[1024], size[32];
	FILE *f = fopen(log, "r");
	uint64_t n = 0;

	if (!f)
		return 0;
	snprintf(size, sizeof(size), "(%u bytes", GST_FRAME_BYTES);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "last-message = chain") && strstr(line, size))
			n++;
	fclose(f);
	return n;
}

/*
 * One run of (d): A decodes into shmsink and waits for B; B reads `frames`
 * buffers from shmsrc (num-buffers, then EOS), brightens them and drops
 * them in a fakesink that logs each (-v).  Timed from A's spawn to B's
 * exit; B must exit cleanly with every frame counted in its log.  A fails
 * once B has gone (shmsink's poll on the closed socket): its status is not
 * looked at, only reaped.
 */
static int pipeline_gst(const char *clip, const char *workdir, unsigned n, uint64_t frames,
                        double *ret_ms, uint64_t *ret_received)
{
	char sock[PATH_MAX + 32], alog[PATH_MAX + 32], blog[PATH_MAX + 32], location[PATH_MAX + 16];
	char sockprop[PATH_MAX + 48], shmsize[64], nbufs[64];
	double t0, deadline;
	pid_t a = -1, b = -1;
	int status, r = 0;

	snprintf(sock, sizeof(sock), "%s/gst-%u.sock", workdir, n);
	snprintf(alog, sizeof(alog), "%s/gst-%u-a.log", workdir, n);
	snprintf(blog, sizeof(blog), "%s/gst-%u-b.log", workdir, n);
	snprintf(location, sizeof(location), "location=%s", clip);
	snprintf(sockprop, sizeof(sockprop), "socket-path=%s", sock);
	snprintf(shmsize, sizeof(shmsize), "shm-size=%u", GST_SHM_FRAMES * GST_FRAME_BYTES);
	snprintf(nbufs, sizeof(nbufs), "num-buffers=%" PRIu64, frames);
	{
		char *argv_a[] = {
			(char *)"gst-launch-1.0", (char *)"-q", (char *)"filesrc", location, (char *)"!",
			(char *)"decodebin", (char *)"!", (char *)"videoconvert", (char *)"!",
			(char *)"video/x-raw,format=I420", (char *)"!", (char *)"shmsink", sockprop,
			(char *)"wait-for-connection=true", shmsize, (char *)"sync=false", NULL,
		};
		char *argv_b[] = {
			(char *)"gst-launch-1.0", (char *)"-v", (char *)"shmsrc", sockprop,
			(char *)"is-live=false", nbufs, (char *)"!",
			(char *)"video/x-raw,format=I420,width=1920,height=1080,framerate=30/1",
			(char *)"!", (char *)"videobalance", (char *)"brightness=0.1", (char *)"!",
			(char *)"fakesink", (char *)"sync=false", (char *)"silent=false", NULL,
		};

		t0 = now_us();
		a = cli_spawn(argv_a, alog);
		if (a < 0) {
			r = (int)a;
			fail("GStreamer: cannot start gst-launch-1.0: %s", strerror(-r));
			goto out;
		}
		/* B can only connect once A has made its socket. */
		deadline = now_us() + GST_SOCKET_TIMEOUT_MS * 1e3;
		while (access(sock, F_OK) != 0) {
			if (waitpid(a, &status, WNOHANG) == a) {
				a = -1;
				fail("GStreamer: the decoding process (shmsink) exited before it listened; "
				     "it said:");
				cli_show_log(alog);
				r = -EIO;
				goto out;
			}
			if (now_us() > deadline) {
				fail("GStreamer: no shmsink socket after %d ms", GST_SOCKET_TIMEOUT_MS);
				r = -ETIMEDOUT;
				goto out;
			}
			usleep(1000);
		}
		b = cli_spawn(argv_b, blog);
		if (b < 0) {
			r = (int)b;
			b = -1;
			fail("GStreamer: cannot start gst-launch-1.0: %s", strerror(-r));
			goto out;
		}
		status = reap(b, 30 * 60 * 1000);
		b = -1;
		*ret_ms = (now_us() - t0) / 1e3;
	}
	*ret_received = gst_frames_received(blog);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fail("GStreamer: the shmsrc process failed after %" PRIu64 " of %" PRIu64
		     " frames; it said:", *ret_received, frames);
		cli_show_log(blog);
		r = -EIO;
	} else if (*ret_received != frames) {
		fail("GStreamer: %" PRIu64 " frames of %u bytes reached fakesink, not %" PRIu64,
		     *ret_received, GST_FRAME_BYTES, frames);
		r = -EIO;
	}
out:
	if (b > 0)
		reap(b, 0);
	if (a > 0)
		reap(a, 10000);
	/* shmsink unlinks its shared memory area when it closes; a killed one leaves the socket. */
	unlink(sock);
	unlink(alog);
	unlink(blog);
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
	        "  (d)  when GStreamer is installed: two gst-launch-1.0 processes joined by\n"
	        "       shmsink/shmsrc: A 'filesrc ! decodebin ! videoconvert ! I420 !\n"
	        "       shmsink wait-for-connection=true sync=false', B 'shmsrc\n"
	        "       is-live=false num-buffers=FRAMES ! I420 1920x1080 !\n"
	        "       %s ! fakesink'; timed from A's spawn until B\n"
	        "       exits, every frame counted in B's log.  Brightness only: GStreamer\n"
	        "       has no box blur (gaussianblur takes AYUV only, smooth is\n"
	        "       edge-preserving), so (d) does less work than the others.\n"
	        "Wall time and frames/s of each, medians of R runs (default 3), and reel's\n"
	        "speed over (b), (c) and (d).  Goals: reel at least as fast as (b), and 1.3x (c).\n",
	        DEFAULT_CHUNK, PIPE_FILTER, GST_FILTER);
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
	static const char *const labels[5] = {
		"(a)  reel, edits before decode", "(a2) reel, edits on resident frames",
		"(b)  ffmpeg, one process", "(c)  ffmpeg | ffmpeg, raw frames in a pipe",
		"(d)  GStreamer shmsink | shmsrc, no blur",
	};
	static const char *const keys[4] = {
		"reel_edits_before_decode", "reel_edits_on_resident", "ffmpeg_one_process",
		"ffmpeg_two_processes",
	};
	char reel[PATH_MAX], workdir[PATH_MAX], cache[PATH_MAX], clip[PATH_MAX];
	/* [way][run] in ms; the materialising part and the edit part of (a2). */
	double ms[5][64], dec[64], edit[64], wall[5], fps[5], decode_ms, edits_ms;
	char gst_why[128] = "";
	uint64_t gst_received = 0;
	unsigned ways;
	bool gst;
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
	gst = gst_available(gst_why, sizeof(gst_why));
	ways = gst ? 5 : 4;
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
			for (unsigned j = 0; j < ways; j++) {
				/* Run 0 starts with (a): the frame count (d) checks is known before it. */
				unsigned k = (i + j) % ways;
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
				if (k == 4) {
					if (pipeline_gst(clip, workdir, seq++, frames, &ms[k][i], &gst_received) < 0)
						goto out_rmdir;
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
	for (unsigned k = 0; k < ways; k++) {
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
		printf(",\"gstreamer\":");
		if (gst) {
			printf("{\"ms\":%.1f,\"fps\":%.1f,\"frames_received\":%" PRIu64 ",\"filter\":",
			       wall[4], fps[4], gst_received);
			cli_json_string(stdout, GST_FILTER);
			printf(",\"blur\":false,\"note\":");
			cli_json_string(stdout, GST_BLUR_NOTE);
			printf("}");
		} else {
			printf("{\"skipped\":");
			cli_json_string(stdout, gst_why);
			printf("}");
		}
		printf(",\"ratios\":{");
		for (unsigned k = 0; k < 2; k++) {
			printf("%s\"%s\":{\"vs_one_process\":%.3f,\"vs_two_processes\":%.3f,"
			       "\"as_fast_as_one_process\":%s,\"at_least_1_3x_two_processes\":%s,"
			       "\"vs_gstreamer\":",
			       k ? "," : "", keys[k], fps[k] / fps[2], fps[k] / fps[3],
			       fps[k] >= fps[2] ? "true" : "false", fps[k] >= 1.3 * fps[3] ? "true" : "false");
			if (gst)
				printf("%.3f}", fps[k] / fps[4]);
			else
				printf("null}");
		}
		printf("}}\n");
	} else {
		printf("reel-bench pipeline: decode -> brightness 0.1 -> blur 2 over the 10 s 1080p30 clip\n"
		       "(%" PRIu64 " frames), end to end from the first spawn, medians of %" PRIu64
		       " runs, %ld cores\n\n", frames, runs, cores);
		printf("  %-44s %9s %8s\n", "", "wall ms", "fps");
		for (unsigned k = 0; k < ways; k++)
			printf("  %-44s %9.1f %8.1f\n", labels[k], wall[k], fps[k]);
		printf("\n  (a2): every frame materialised after %.1f ms, the edits applied %.1f ms later\n",
		       decode_ms, edits_ms);
		printf("  (b):  ffmpeg -i CLIP -vf \"%s\" -f null -\n", PIPE_FILTER);
		if (gst)
			printf("  (d):  %s, %" PRIu64 " frames counted at B's fakesink; no blur: GStreamer\n"
			       "        has no box blur (gaussianblur takes AYUV only, smooth is edge-preserving),\n"
			       "        so (d) does less work than the others\n", GST_FILTER, gst_received);
		else
			printf("  (d):  %s: skipped\n", gst_why);
		printf("\nreel's speed over ffmpeg (fps ratio), goals >= 1.00x (b) and >= 1.30x (c):\n");
		for (unsigned k = 0; k < 2; k++)
			printf("  %-38s %6.2fx (b) %-8s %6.2fx (c) %s\n", labels[k], fps[k] / fps[2],
			       met(fps[k] >= fps[2]), fps[k] / fps[3], met(fps[k] >= 1.3 * fps[3]));
		if (gst) {
			printf("\nreel's speed over GStreamer (d), which does brightness only (no goal):\n");
			for (unsigned k = 0; k < 2; k++)
				printf("  %-38s %6.2fx (d)\n", labels[k], fps[k] / fps[4]);
		}
	}
	code = CLI_OK;
out_rmdir:
	rmrf(workdir);
	return code;
}
