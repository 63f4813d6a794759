/*
 * reel-bench keypress: from a key press to the edited frame on screen.
 *
 * A real session (`reel open` with its stages) of a 720p30 clip with every
 * frame resident, and the real reel-preview, paused on a frame, in a real X
 * display.  The bench presses 'i' (a quick edit: invert, from the frame on
 * screen to the end) through the X server with XTest, exactly as a
 * keyboard would, and reads the preview's --trace: the time it presented a
 * frame holding the new journal entry, after XSync, so the X server has the
 * picture.  Both times are CLOCK_MONOTONIC, the same clock in both
 * processes.  The trace also says when the preview's sender had the edit
 * journaled and when the loop found the edited frame in the buffer, which
 * splits the time in three: key to journaled (X, SDL, the event loop, the
 * bus and two msyncs), journaled to found (dispatch, the effect worker, the
 * loop's next look), and found to on screen (copy, upload, draw, present).
 *
 * Next to it, in the same runs: a press of the right arrow to the next
 * frame on screen (the same path without an edit: the floor of any key to
 * pixels here), and the round trip of the same edit sent by a plain client.
 * Each press waits until the previous edits are applied and shown, and a
 * moment more, as a person's would; p50 and p99 per run, medians over the
 * runs, next to the frame period (the goal: within one).
 *
 * It needs an X display: without DISPLAY it runs itself again under
 * xvfb-run, or says why it cannot.
 */
#include "bench/bench.h"

#ifdef REEL_BENCH_XTEST
#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>
#endif

#define CLIP_W 1280
#define CLIP_H 720
#define CLIP_FPS 30
#define DEFAULT_SHOWN_FRAME 30
#define PRESS_TIMEOUT_MS 10000
#define SETTLE_TIMEOUT_MS 60000
#define QUIET_MS 300

static void keypress_usage(FILE *out)
{
	fprintf(out,
	        "usage: reel-bench keypress [VIDEO] [--count N] [--runs R] [--frame F]\n"
	        "                           [--buffer-dir DIR] [--json]\n\n"
	        "From a key press in the preview to the edited frame on screen: N presses of\n"
	        "'i' (default 100) through the X server (XTest) to reel-preview paused on\n"
	        "frame F (default %d: the edit then covers frame F to the end of the video),\n"
	        "each timed to the moment the preview presented a frame holding the edit\n"
	        "(its --trace, after XSync).  p50 and p99 in milliseconds, medians over R\n"
	        "runs (default 3), next to the video's frame period, with the time split at\n"
	        "the moments the edit was journaled and found in the buffer; next to, in\n"
	        "the same runs, a press of the right arrow to the next frame on screen (the\n"
	        "same path without an edit) and the round trip of the same edit sent by a\n"
	        "plain client.  Each run is a fresh session with its stages and every frame\n"
	        "resident.  Without VIDEO, a 4-second %dx%d clip at %d fps is made once\n"
	        "with ffmpeg and cached.  Needs an X display; without DISPLAY it runs itself\n"
	        "under xvfb-run.\n",
	        DEFAULT_SHOWN_FRAME, CLIP_W, CLIP_H, CLIP_FPS);
}

#ifndef REEL_BENCH_XTEST

int cmd_keypress_bench(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		keypress_usage(stdout);
		return CLI_OK;
	}
	return fail("keypress: this reel-bench was built without libX11/libXtst (install libxtst-dev "
	            "and reconfigure)"), CLI_FAIL;
}

#else

struct keypress_job {
	uint64_t count, runs, shown;
	const char *video, *base;
	bool json;
	char reel[PATH_MAX], preview[PATH_MAX], workdir[PATH_MAX], clip[PATH_MAX + 64];
	bool have_workdir;
	/* ms, count x runs each: the whole, its three parts, and the baseline */
	double *total, *to_journal, *to_found, *to_screen, *client_rtt, *step;
	double frame_period_ms;
};

/* The preview under test: its process and the trace it appends to. */
struct preview_child {
	pid_t pid;
	char trace[PATH_MAX + 32];
	char log[PATH_MAX + 32];
	int fd;                    /* the trace, read as it grows */
	uint64_t shown;            /* the frame it shows, paused */
	char pending[4096];        /* a line not complete yet */
	size_t npending;
	unsigned long window;
};

/* What to look for in the trace, and what it said since the last look. */
struct trace_news {
	uint64_t frame, state;     /* a present of this frame holding at least this state, */
	uint64_t seq;              /* and (when not 0) the journaling of this edit */
	bool presented;
	double present_t;
	double found_t;            /* when the preview found that frame in the buffer */
	bool journaled;
	double journal_t;
};

static int keypress_parse(struct keypress_job *j, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "runs", required_argument, NULL, 'r' },
		{ "frame", required_argument, NULL, 'f' },
		{ "buffer-dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	j->count = 100;
	j->runs = 3;
	j->shown = DEFAULT_SHOWN_FRAME;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_option_number("--count", optarg, 5, 100000, &j->count) < 0)
				return CLI_USAGE;
			break;
		case 'r':
			if (parse_option_number("--runs", optarg, 1, 64, &j->runs) < 0)
				return CLI_USAGE;
			break;
		case 'f':
			if (parse_option_number("--frame", optarg, 0, INT64_MAX, &j->shown) < 0)
				return CLI_USAGE;
			break;
		case 'd': j->base = optarg; break;
		case 'j': j->json = true; break;
		case 'h': keypress_usage(stdout); return -1;
		default:
			return fail("keypress: unknown option '%s' (see 'reel-bench keypress --help')",
			            argv[optind - 1]), CLI_USAGE;
		}
	}
	if (argc - optind > 1)
		return fail("keypress: at most one VIDEO (see 'reel-bench keypress --help')"), CLI_USAGE;
	if (argc - optind == 1)
		j->video = argv[optind];
	return 0;
}

/* No display: the same command again inside xvfb-run (which returns its exit code). */
static int rerun_under_xvfb(int argc, char **argv)
{
	char self[PATH_MAX], *args[64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int k = 0, status;
	pid_t pid;

	if (getenv("REEL_BENCH_UNDER_XVFB"))
		return fail("keypress: xvfb-run gave no display"), CLI_FAIL;
	if (n <= 0 || argc > 56)
		return fail("keypress: no X display (DISPLAY is not set)"), CLI_FAIL;
	self[n] = 0;
	args[k++] = (char *)"xvfb-run";
	args[k++] = (char *)"-a";
	args[k++] = (char *)"-s";
	args[k++] = (char *)"-screen 0 1280x800x24 -nolisten tcp";
	args[k++] = self;
	args[k++] = (char *)"keypress";
	for (int i = 1; i < argc; i++)
		args[k++] = argv[i];
	args[k] = NULL;
	setenv("REEL_BENCH_UNDER_XVFB", "1", 1);
	note("keypress: no DISPLAY; running under xvfb-run");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return fail("keypress: fork: %s", strerror(errno)), CLI_FAIL;
	if (pid == 0) {
		execvp(args[0], args);
		fprintf(stderr, "reel-bench: keypress: no X display (DISPLAY is not set) and xvfb-run "
		        "cannot run: %s\n", strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return CLI_FAIL;
	/* 127: xvfb-run could not run (said above); anything else is the bench's own exit code. */
	return WIFEXITED(status) && WEXITSTATUS(status) != 127 ? WEXITSTATUS(status) : CLI_FAIL;
}

/* reel-preview next to reel-bench (installed) or in the build tree beside it. */
static int find_preview(char *buf, size_t len)
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
	if ((size_t)snprintf(buf, len, "%s/reel-preview", self) < len && access(buf, X_OK) == 0)
		return 0;
	if ((size_t)snprintf(buf, len, "%s/../renderer/reel-preview", self) < len &&
	    access(buf, X_OK) == 0)
		return 0;
	return -ENOENT;
}

/* The 720p30 clip with sound, made once and cached. */
static int make_clip(struct keypress_job *j)
{
	char dir[PATH_MAX], part[PATH_MAX + 96], size[16], src[96];
	char *argv[] = {
		(char *)"ffmpeg", (char *)"-nostdin", (char *)"-v", (char *)"error", (char *)"-y",
		(char *)"-f", (char *)"lavfi", (char *)"-i", src,
		(char *)"-f", (char *)"lavfi", (char *)"-i", (char *)"sine=frequency=440:sample_rate=48000",
		(char *)"-t", (char *)"4", (char *)"-c:v", (char *)"libx264", (char *)"-preset",
		(char *)"veryfast", (char *)"-pix_fmt", (char *)"yuv420p", (char *)"-c:a", (char *)"aac",
		(char *)"-shortest", part, NULL,
	};
	int r = cache_dir(dir, sizeof(dir));

	if (r < 0)
		return r;
	snprintf(size, sizeof(size), "%dx%d", CLIP_W, CLIP_H);
	snprintf(src, sizeof(src), "testsrc2=size=%s:rate=%d", size, CLIP_FPS);
	snprintf(j->clip, sizeof(j->clip), "%s/keypress-%sp%d.mp4", dir, size, CLIP_FPS);
	if (access(j->clip, R_OK) == 0)
		return 0;
	snprintf(part, sizeof(part), "%s.part.mp4", j->clip);
	note("keypress: making a 4-second %s clip with ffmpeg (once, cached in %s)", size, dir);
	if (run_timed(argv) < 0) {
		unlink(part);
		return -EIO;
	}
	return rename(part, j->clip) < 0 ? -errno : 0;
}

/* Read what the trace gained, looking for what news asks. */
static void trace_read(struct preview_child *p, struct trace_news *news)
{
	char buf[8192];
	ssize_t n;

	while ((n = read(p->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			char *line = p->pending;
			double t, found;
			uint64_t frame, state, seq;
			int loading;

			if (buf[i] != '\n') {
				if (p->npending < sizeof(p->pending) - 1)
					p->pending[p->npending++] = buf[i];
				continue;
			}
			line[p->npending] = 0;
			p->npending = 0;
			if (sscanf(line, "present %lf frame %" SCNu64 " state %" SCNu64 " version %*u loading "
			           "%d picture %*d %*d %*d %*d overlay %*d found %lf", &t, &frame, &state,
			           &loading, &found) == 5) {
				if (!news->presented && frame == news->frame && state >= news->state &&
				    !loading) {
					news->presented = true;
					news->present_t = t;
					news->found_t = found;
				}
			} else if (sscanf(line, "edit %lf seq %" SCNu64, &t, &seq) == 2 && seq == news->seq &&
			           seq != 0) {
				news->journaled = true;
				news->journal_t = t;
			} else if (sscanf(line, "window %lx", &p->window) == 1) {
				continue;
			}
		}
	}
}

static void preview_stop(struct preview_child *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		reap(p->pid, 10000);
		p->pid = 0;
	}
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static int preview_start(struct keypress_job *j, const struct coord_child *c, unsigned run,
                         struct preview_child *p)
{
	char frame[16];
	char *argv[] = { j->preview, (char *)"--session", (char *)c->session, (char *)"--frame", frame,
	                 (char *)"--trace", p->trace, NULL };
	double deadline = now_us() + READY_TIMEOUT_MS * 1e3;
	struct trace_news news = { .frame = j->shown };

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	snprintf(frame, sizeof(frame), "%" PRIu64, j->shown);
	p->shown = j->shown;
	snprintf(p->trace, sizeof(p->trace), "%s/preview-%u.trace", j->workdir, run);
	snprintf(p->log, sizeof(p->log), "%s/preview-%u.log", j->workdir, run);
	p->pid = cli_spawn(argv, p->log);
	if (p->pid < 0)
		return (int)p->pid;
	/* Its window, then its first frame: the picture the presses will change. */
	while (!news.presented || !p->window) {
		int status;

		if (p->fd < 0)
			p->fd = open(p->trace, O_RDONLY | O_CLOEXEC);
		if (p->fd >= 0)
			trace_read(p, &news);
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			fail("keypress: reel-preview exited before showing a frame; it said:");
			cli_show_log(p->log);
			return -ECHILD;
		}
		if (now_us() > deadline)
			return fail("keypress: reel-preview showed nothing in %d s", READY_TIMEOUT_MS / 1000),
			       -ETIMEDOUT;
		usleep(2000);
	}
	return 0;
}

/* Until the preview has presented its frame holding journal state `state`. */
static int wait_shown(struct preview_child *p, uint64_t state)
{
	double deadline = now_us() + PRESS_TIMEOUT_MS * 1e3;
	struct trace_news news = { .frame = p->shown, .state = state };

	while (!news.presented) {
		trace_read(p, &news);
		if (now_us() > deadline)
			return fail("keypress: the preview never showed edit %" PRIu64, state), -ETIMEDOUT;
		usleep(500);
	}
	return 0;
}

/* Until nothing is pending and the session's journal holds `journal` entries. */
static int settle(struct coord_child *c, uint64_t journal)
{
	double deadline = now_us() + SETTLE_TIMEOUT_MS * 1e3;
	struct reel_status st;
	int r;

	for (;;) {
		r = reel_client_status(c->client, CALL_TIMEOUT_MS, &st);
		if (r < 0)
			return r;
		if (st.pending == 0 && st.journal == journal)
			return 0;
		if (now_us() > deadline)
			return fail("keypress: %" PRIu64 " edits still pending after %d s", st.pending,
			            SETTLE_TIMEOUT_MS / 1000), -ETIMEDOUT;
		usleep(1000);
	}
}

/*
 * One press of key, then the trace until it shows what news asks for; the
 * times in ms from the press: presented, journaled (news->seq), found.
 */
static int press(Display *dpy, KeyCode key, struct preview_child *p, struct trace_news *news,
                 double *ret_total, double *ret_journal, double *ret_found)
{
	double t0, deadline;

	/* CLOCK_MONOTONIC in seconds, the preview's clock in its trace. */
	t0 = (double)reel__now_ns() / 1e9;
	XTestFakeKeyEvent(dpy, key, True, CurrentTime);
	XTestFakeKeyEvent(dpy, key, False, CurrentTime);
	XFlush(dpy);
	deadline = now_us() + PRESS_TIMEOUT_MS * 1e3;
	while (!news->presented || (news->seq && !news->journaled)) {
		trace_read(p, news);
		if (now_us() > deadline)
			return fail("keypress: %s within %d s", !news->seq ? "a step was not shown" :
			            news->journaled ? "an edit was journaled but never shown" :
			            "an edit was never sent", PRESS_TIMEOUT_MS / 1000), -ETIMEDOUT;
		usleep(200);
	}
	*ret_total = (news->present_t - t0) * 1e3;
	if (ret_journal)
		*ret_journal = (news->journal_t - t0) * 1e3;
	if (ret_found)
		*ret_found = (news->found_t - t0) * 1e3;
	return 0;
}

/*
 * The floor, by the same path without an edit: a step to the next frame
 * (resident) and back, the first timed.  Then quiet again.
 */
static int step_baseline(Display *dpy, const KeyCode *keys, struct preview_child *p,
                         double *ret_ms)
{
	struct trace_news there = { .frame = p->shown + 1 }, back = { .frame = p->shown };
	double ignored;
	int r = press(dpy, keys[1], p, &there, ret_ms, NULL, NULL);

	if (r == 0)
		r = press(dpy, keys[2], p, &back, &ignored, NULL, NULL);
	if (r == 0)
		usleep(QUIET_MS * 1000);
	return r;
}

/* The same edit from a plain client: its round trip (ms). */
static int client_edit(struct coord_child *c, uint64_t shown, double *ret_ms)
{
	static const double params[4] = { 0 };
	uint64_t seq;
	double t0 = now_us();
	int r = reel_client_command(c->client, REEL_OP_INVERT, params, (int64_t)shown,
	                            (int64_t)c->frames - 1, CALL_TIMEOUT_MS, &seq);

	*ret_ms = (now_us() - t0) / 1e3;
	return r;
}

/* keys: 'i', then right and left (the step baseline). */
static int one_run(struct keypress_job *j, Display *dpy, const KeyCode *keys, unsigned run)
{
	struct preview_child p = { .fd = -1 };
	struct reel_video_info vi;
	struct coord_child c;
	uint64_t journal = 0;
	double t0, found = 0;
	int r;

	note("keypress: run %u/%" PRIu64 ": starting a session with its stages", run + 1, j->runs);
	r = coord_start_stages(j->reel, j->video, j->workdir, run, DEFAULT_STAGES, &c, &t0);
	if (r < 0)
		return fail("keypress: reel open %s did not come up: %s", j->video, reel_strerror(r)), r;
	/* Said why when it fails. */
	r = wait_stages(&c, 3, READY_TIMEOUT_MS);
	if (r < 0)
		goto out;
	r = reel_client_video(c.client, &vi);
	if (r == 0)
		r = materialise_frames(&c, c.frames, "keypress");
	if (r < 0) {
		fail("keypress: %s: %s", j->video, reel_strerror(r));
		goto out;
	}
	/* The period the preview plays at: the video's nominal rate. */
	j->frame_period_ms = 1000.0 * vi.frame_rate.den / vi.frame_rate.num;
	if (c.frames <= j->shown + 1) {
		fail("keypress: --frame %" PRIu64 ": the video has %" PRIu64 " frames (the frame after "
		     "it is needed too)", j->shown, c.frames);
		r = -EINVAL;
		goto out;
	}
	r = preview_start(j, &c, run, &p);
	if (r < 0)
		goto out;
	/* X gives keys to the focused window: the preview's, as a person would click it. */
	XSetInputFocus(dpy, (Window)p.window, RevertToParent, CurrentTime);
	XSync(dpy, False);
	for (uint64_t i = 0; i < j->count && r == 0; i++) {
		size_t at = (size_t)run * j->count + i;

		note("keypress: run %u/%" PRIu64 ": press %" PRIu64 "/%" PRIu64, run + 1, j->runs, i + 1,
		     j->count);
		/* Every other time a plain client sends the same edit: the baseline, same session. */
		r = settle(&c, journal);
		if (r == 0)
			r = client_edit(&c, j->shown, &j->client_rtt[at]);
		journal++;
		if (r == 0)
			r = settle(&c, journal);
		/*
		 * Then the preview shows it, and is left alone for a moment, as between
		 * two presses of a person: its status poll (every 200 ms) has seen the
		 * edit done, and the overlay is drawn.
		 */
		if (r == 0)
			r = wait_shown(&p, journal);
		if (r == 0)
			usleep(QUIET_MS * 1000);
		if (r == 0)
			r = step_baseline(dpy, keys, &p, &j->step[at]);
		if (r == 0) {
			struct trace_news news = { .frame = j->shown, .state = journal + 1,
			                           .seq = journal + 1 };
			r = press(dpy, keys[0], &p, &news, &j->total[at], &j->to_journal[at], &found);
		}
		journal++;
		j->to_found[at] = found - j->to_journal[at];
		j->to_screen[at] = j->total[at] - found;
	}
out:
	if (r < 0 && p.log[0])
		cli_show_log(p.log);
	preview_stop(&p);
	if (coord_stop(&c) < 0)
		fprintf(stderr, "reel-bench: warning: a coordinator did not stop cleanly\n");
	return r;
}

static void report(const struct keypress_job *j)
{
	unsigned n = (unsigned)j->count, runs = (unsigned)j->runs;
	struct pct total = summarise(j->total, n, runs), journal = summarise(j->to_journal, n, runs);
	struct pct found = summarise(j->to_found, n, runs), screen = summarise(j->to_screen, n, runs);
	struct pct client = summarise(j->client_rtt, n, runs), step = summarise(j->step, n, runs);
	double fp = j->frame_period_ms;

	if (j->json) {
		printf("{\"bench\":\"keypress\",\"count\":%" PRIu64 ",\"runs\":%" PRIu64
		       ",\"frame\":%" PRIu64 ",\"frame_period_ms\":%.3f,"
		       "\"key_to_screen\":{\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
		       "\"p50_frames\":%.3f,\"p99_frames\":%.3f},\"key_to_journaled\":{\"p50_ms\":%.3f,"
		       "\"p99_ms\":%.3f},\"journaled_to_found\":{\"p50_ms\":%.3f,\"p99_ms\":%.3f},"
		       "\"found_to_screen\":{\"p50_ms\":%.3f,\"p99_ms\":%.3f},"
		       "\"client_edit_rtt\":{\"p50_ms\":%.3f,\"p99_ms\":%.3f},"
		       "\"key_to_next_frame\":{\"p50_ms\":%.3f,\"p99_ms\":%.3f},\"goal_met\":%s}\n",
		       j->count, j->runs, j->shown, fp, total.p50, total.p99, total.p50 / fp,
		       total.p99 / fp, journal.p50, journal.p99, found.p50, found.p99, screen.p50, screen.p99,
		       client.p50, client.p99, step.p50, step.p99, total.p99 <= fp ? "true" : "false");
		return;
	}
	printf("reel-bench keypress: %" PRIu64 " presses of 'i' x %" PRIu64 " runs, medians of the "
	       "runs;\n%s, paused on frame %" PRIu64 " (each edit covers it to the end)\n\n", j->count,
	       j->runs, j->video, j->shown);
	printf("%-46s %9s %9s %11s %11s\n", "", "p50 ms", "p99 ms", "p50/period", "p99/period");
	printf("%-46s %9.2f %9.2f %10.2fx %10.2fx\n", "key press -> edited frame on screen", total.p50,
	       total.p99, total.p50 / fp, total.p99 / fp);
	printf("%-46s %9.2f %9.2f\n", "  key press -> edit journaled", journal.p50, journal.p99);
	printf("%-46s %9.2f %9.2f\n", "  journaled -> edited frame found in the buffer", found.p50,
	       found.p99);
	printf("%-46s %9.2f %9.2f\n", "  found -> presented (copy, upload, draw, XSync)", screen.p50,
	       screen.p99);
	printf("%-46s %9.2f %9.2f %10.2fx %10.2fx\n", "key press -> next frame on screen (no edit)",
	       step.p50, step.p99, step.p50 / fp, step.p99 / fp);
	printf("%-46s %9.2f %9.2f\n", "the same edit from a client: round trip", client.p50,
	       client.p99);
	printf("%-46s %9.2f\n", "frame period", fp);
	printf("\n(the parts are medians of their own, so they need not add up)\n"
	       "goal (p99 within one frame period): %s\n", met(total.p99 <= fp));
}

int cmd_keypress_bench(int argc, char **argv)
{
	struct keypress_job job = { 0 };
	Display *dpy = NULL;
	KeyCode keys[3];
	size_t n;
	int r, code = CLI_FAIL;

	r = keypress_parse(&job, argc, argv);
	if (r)
		return r < 0 ? CLI_OK : r;
	if (!getenv("DISPLAY") || !*getenv("DISPLAY"))
		return rerun_under_xvfb(argc, argv);
	dpy = XOpenDisplay(NULL);
	if (!dpy)
		return fail("keypress: cannot open the X display '%s'", getenv("DISPLAY")), CLI_FAIL;
	if (!XTestQueryExtension(dpy, &(int){ 0 }, &(int){ 0 }, &(int){ 0 }, &(int){ 0 })) {
		fail("keypress: the X display has no XTest extension");
		goto out;
	}
	keys[0] = XKeysymToKeycode(dpy, XK_i);
	keys[1] = XKeysymToKeycode(dpy, XK_Right);
	keys[2] = XKeysymToKeycode(dpy, XK_Left);
	if ((r = find_reel(job.reel, sizeof(job.reel))) < 0) {
		fail("cannot find the reel binary next to reel-bench: %s", strerror(-r));
		goto out;
	}
	if (find_preview(job.preview, sizeof(job.preview)) < 0) {
		fail("keypress: cannot find reel-preview next to reel-bench (built with SDL2?)");
		goto out;
	}
	n = (size_t)(job.count * job.runs);
	job.total = calloc(n, sizeof(double));
	job.to_journal = calloc(n, sizeof(double));
	job.to_found = calloc(n, sizeof(double));
	job.to_screen = calloc(n, sizeof(double));
	job.client_rtt = calloc(n, sizeof(double));
	job.step = calloc(n, sizeof(double));
	if (!job.total || !job.to_journal || !job.to_found || !job.to_screen || !job.client_rtt ||
	    !job.step) {
		fail("out of memory");
		goto out;
	}
	r = make_workdir(job.base, job.workdir, sizeof(job.workdir));
	if (r < 0) {
		fail("cannot make a work folder: %s", reel_strerror(r));
		goto out;
	}
	job.have_workdir = true;
	if (!job.video) {
		if (make_clip(&job) < 0) {
			fail("ffmpeg could not make the test clip (is the ffmpeg command installed?)");
			goto out;
		}
		job.video = job.clip;
	}
	for (unsigned run = 0; run < job.runs; run++)
		if (one_run(&job, dpy, keys, run) < 0)
			goto out;
	note_done();
	report(&job);
	code = CLI_OK;
out:
	note_done();
	if (job.have_workdir)
		rmrf(job.workdir);
	free(job.total);
	free(job.to_journal);
	free(job.to_found);
	free(job.to_screen);
	free(job.client_rtt);
	free(job.step);
	if (dpy)
		XCloseDisplay(dpy);
	return code;
}

#endif
