/*
 * reel demo: reel's main job, shown.  It makes a sample clip when given no
 * video, opens it in a session with every stage, opens the preview when
 * there is a display, and sends a short scripted sequence of edits (the
 * `reel send` commands it runs are printed, so a person learns them).
 * With a display the window stays until it is closed; without one the demo
 * writes a few frames and an export, and says where they are.
 *
 * Everything goes through the real programs: the coordinator is `reel
 * open` in a child process, the edits are `reel send --wait`, the frames
 * `reel frame --settled`, the export `reel export`, the window
 * `reel-preview`.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "buffer/buffer.h"
#include "bus/session.h"
#include "cli.h"
#include "edit-args.h"
#include "reel/client.h"
#include "reel/error.h"

#define SESSION_DEFAULT "demo"

struct demo {
	const char *dir, *video, *session;
	char self[PATH_MAX], buffer[PATH_MAX], log[PATH_MAX];
	bool headless, keep;
	pid_t coord, preview;
	uint64_t frames;           /* of the video */
	bool sound;                /* the video has sound */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: reel demo [VIDEO] [--out DIR] [--headless] [--session NAME] [--keep]\n"
	        "                 [--sample-seconds N] [--sample-size WxH]\n\n"
	        "Show reel at work.  Without VIDEO, a sample clip is made first with\n"
	        "libavfilter (a moving test pattern with a frame counter and a beeping tone,\n"
	        "10 seconds of 1280x720 at 30 fps, H.264 and AAC) as DIR/sample.mp4, and kept\n"
	        "for the next run.  The video is opened in session NAME with every stage, and\n"
	        "a short scripted sequence of edits is sent (the 'reel send' commands are\n"
	        "printed as they run): fades in and out, brightness, grayscale, a blur, the\n"
	        "sound turned down, and an invert that is undone.\n\n"
	        "With a display, the preview window plays the session while the edits land;\n"
	        "it stays until you close it (q), then the session stops.  Without one (or\n"
	        "with --headless), frames are written as PNG and the result is exported to\n"
	        "DIR/demo.mp4.  The session's buffer (DIR/NAME.reel) is removed at the end\n"
	        "unless --keep.\n\n"
	        "  --out DIR            where the sample and the results go (default: reel-demo)\n"
	        "  --headless           no window even with a display\n"
	        "  --session NAME       the session's name (default: demo)\n"
	        "  --keep               keep the buffer, to resume with reel open --buffer\n"
	        "  --sample-seconds N   length of the sample clip (1-600, default 10)\n"
	        "  --sample-size WxH    size of the sample clip (default 1280x720)\n\n"
	        "While it runs, any reel command works on the session from another terminal:\n"
	        "reel status demo, reel send demo ..., reel logs demo.\n");
}

/* Run a program in the foreground, its output the user's; its exit code. */
static int run_program(const char *path, bool show, char *const args[])
{
	char *argv[24];
	int n = 0, status;
	pid_t pid;

	argv[n++] = (char *)path;
	for (; args[n - 1] && n < 23; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	if (show) {
		printf("  $ reel");
		for (int i = 1; argv[i]; i++)
			printf(" %s", argv[i]);
		printf("\n");
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Run a reel command (this program). */
static int run(struct demo *d, bool show, char *const args[])
{
	return run_program(d->self, show, args);
}

/* rel (a program, or a path to one) from the folder this program is in; -ENAMETOOLONG. */
static int next_to_me(const struct demo *d, const char *rel, char *buf, size_t len)
{
	const char *slash = strrchr(d->self, '/');

	if (!slash)
		return -ENOENT;
	return (size_t)snprintf(buf, len, "%.*s/%s", (int)(slash - d->self), d->self, rel) < len
	       ? 0 : -ENAMETOOLONG;
}

/* reel-preview: next to this program (installed), or in the build tree's renderer/. */
static int find_preview(const struct demo *d, char *buf, size_t len)
{
	const char *env = getenv("REEL_STAGE_DIR");

	if (env && *env && snprintf(buf, len, "%s/reel-preview", env) < (int)len &&
	    access(buf, X_OK) == 0)
		return 0;
	if (next_to_me(d, "reel-preview", buf, len) == 0 && access(buf, X_OK) == 0)
		return 0;
	if (next_to_me(d, "../renderer/reel-preview", buf, len) == 0 && access(buf, X_OK) == 0)
		return 0;
	return -ENOENT;
}

/*
 * The sample clip comes from reel-make-sample, next to this program: it
 * alone loads libavfilter (see tools/make-sample.c).
 */
static int make_sample(struct demo *d, const char *path, int seconds, uint32_t w, uint32_t h)
{
	char prog[PATH_MAX], secs[16], size[32];
	char *args[] = { (char *)path, (char *)"--seconds", secs, (char *)"--size", size, NULL };
	double t0 = reel__now_ms();
	int r;

	if (next_to_me(d, "reel-make-sample", prog, sizeof(prog)) < 0)
		return cli_error(CLI_FAIL, "demo", "cannot find reel-make-sample next to %s", d->self);
	snprintf(secs, sizeof(secs), "%d", seconds);
	snprintf(size, sizeof(size), "%ux%u", w, h);
	printf("reel demo: making a sample clip with libavfilter: %s (%d s, %ux%u, 30 fps, a tone)\n",
	       path, seconds, w, h);
	r = run_program(prog, false, args);
	if (interrupted)
		return 128 + interrupted;
	if (r < 0)
		return cli_error(CLI_FAIL, "demo", "%s: %s", prog, strerror(-r));
	if (r == 127)
		return cli_error(CLI_FAIL, "demo", "cannot run %s", prog);
	if (r != 0)
		return r;   /* reel-make-sample said why */
	printf("  made in %.1f s\n", (reel__now_ms() - t0) / 1000);
	return 0;
}

/* A fresh buffer for this run: the last run's is removed, unless a coordinator holds it. */
static int fresh_buffer(struct demo *d)
{
	char log[PATH_MAX];
	int fd = open(d->buffer, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return cli_error(CLI_USAGE, "demo", "%s is in use by a running session; stop it or give "
		                 "another --out", d->buffer);
	}
	unlink(d->buffer);
	if (reel_session_log_path(d->buffer, log, sizeof(log)) == 0)
		unlink(log);
	close(fd);
	return 0;
}

static int start_session(struct demo *d, struct reel_client **ret_client)
{
	char *argv[] = { d->self, "open", (char *)d->video, "--session", (char *)d->session,
		         "--buffer", d->buffer, "--no-preview", NULL };
	struct reel_video_info vi;
	int r, status;

	d->coord = cli_spawn(argv, d->log);
	if (d->coord < 0)
		return cli_error(CLI_FAIL, "demo", "cannot start reel open: %s", strerror((int)-d->coord));
	r = cli_wait_session(d->session, d->coord, 60000, ret_client, &status);
	if (r < 0) {
		d->coord = r == -ECHILD ? 0 : d->coord;
		cli_show_log(d->log);
		if (r == -ECHILD && WIFEXITED(status) && WEXITSTATUS(status))
			return WEXITSTATUS(status);
		return cli_error(CLI_FAIL, "demo", "the session did not start");
	}
	r = reel_client_video(*ret_client, &vi);
	if (r < 0)
		return cli_error(CLI_FAIL, "demo", "%s: %s", d->buffer, reel_strerror(r));
	/* A container that does not list its frames has them counted first: the script needs the count. */
	if (vi.frames == 0) {
		struct reel_buffer *buffer;

		printf("reel demo: counting the video's frames\n");
		r = reel_buffer_open_readonly(reel_client_record(*ret_client)->buffer_path, &buffer);
		if (r < 0)
			return cli_error(CLI_FAIL, "demo", "%s: %s", d->buffer, reel_strerror(r));
		r = cli_wait_index(buffer);
		vi.frames = reel_buffer_frames(buffer);
		reel_buffer_close(buffer);
		if (r < 0 || vi.frames == 0)
			return cli_error(CLI_FAIL, "demo", "%s: the frames could not be counted: %s",
			                 d->video, reel_strerror(r < 0 ? r : REEL_E_NOTYET));
	}
	d->frames = vi.frames;
	d->sound = vi.sample_rate > 0;
	printf("reel demo: session %s: %s, %ux%u, %" PRIu64 " frames (%.1f s)%s\n", d->session,
	       d->video, vi.width, vi.height, vi.frames,
	       vi.frame_rate.num > 0 ? (double)vi.frames * vi.frame_rate.den / vi.frame_rate.num : 0,
	       vi.sample_rate ? ", with sound" : "");
	return 0;
}

/* The window, when there is a display: it plays while the edits land. */
static void start_preview(struct demo *d)
{
	char path[PATH_MAX];
	char *argv[] = { path, "--session", (char *)d->session, "--play", "--loop", NULL };

	if (find_preview(d, path, sizeof(path)) < 0) {
		printf("reel demo: no reel-preview here (built without SDL2?); going on headless\n");
		d->headless = true;
		return;
	}
	d->preview = cli_spawn(argv, NULL);
	if (d->preview < 0) {
		d->preview = 0;
		d->headless = true;
		return;
	}
	printf("reel demo: the preview window is open (space plays and pauses, arrows move,\n"
	       "           b/B c/C g i m change the picture or sound, u undoes, q closes it)\n");
}

/*
 * The frame at a fraction of the video.  By number, not by time: a video's
 * first frame need not start at its container's time 0 (a recording picked
 * up part-way starts where its first whole picture does), nor its frames
 * at the nominal rate.
 */
static uint64_t frame_at(const struct demo *d, double at)
{
	uint64_t f = (uint64_t)(at * (double)d->frames);

	return f < d->frames ? f : d->frames - 1;
}

/* "a-b", the frames from one fraction of the video up to another, as --frames reads them. */
static void span(const struct demo *d, double from, double to, char *buf, size_t len)
{
	uint64_t a = frame_at(d, from), b = frame_at(d, to);

	/* The next range starts at b: this one ends before it, and holds a frame at least. */
	if (b > a && to < 1.0)
		b--;
	snprintf(buf, len, "%" PRIu64 "-%" PRIu64, a, b);
}

/* The script: each edit over a part of the video, with a pause to watch it land. */
static int send_edits(struct demo *d)
{
	static const struct {
		double from, to;
		const char *args[4];
		const char *what;
		bool sound;            /* an edit of the sound: left out when the video has none */
	} script[] = {
		{ 0.00, 0.08, { "fade-in" }, "the picture fades in", false },
		{ 0.00, 0.08, { "audio-fade-in" }, "and so does the sound", true },
		{ 0.10, 0.30, { "brightness", "0.2" }, "brighter", false },
		{ 0.30, 0.50, { "grayscale" }, "no colour", false },
		{ 0.40, 0.60, { "gain", "-12" }, "the sound 12 dB down", true },
		{ 0.60, 0.75, { "blur", "6" }, "blurred", false },
		{ 0.75, 0.90, { "invert" }, "a negative, undone just after", false },
		{ 0.92, 1.00, { "fade-out" }, "the picture fades out", false },
		{ 0.92, 1.00, { "audio-fade-out" }, "and so does the sound", true },
	};
	char range[64];
	int r;

	printf("reel demo: sending edits (each returns once the stages have applied it)\n");
	for (size_t i = 0; i < sizeof(script) / sizeof(script[0]) && !interrupted; i++) {
		char *argv[12];
		int n = 0;

		if (script[i].sound && !d->sound)
			continue;
		span(d, script[i].from, script[i].to, range, sizeof(range));
		argv[n++] = "send";
		argv[n++] = (char *)d->session;
		for (int a = 0; a < 4 && script[i].args[a]; a++)
			argv[n++] = (char *)script[i].args[a];
		argv[n++] = "--frames";
		argv[n++] = range;
		argv[n++] = "--wait";
		argv[n] = NULL;
		printf("  # %s\n", script[i].what);
		r = run(d, true, argv);
		if (r)
			return r;
		if (!strcmp(script[i].args[0], "invert")) {
			if (!d->headless)
				sleep(2);
			r = run(d, true, (char *[]){ "undo", (char *)d->session, NULL });
			if (r)
				return r;
		}
		/* Time to see it in the window. */
		if (!d->headless)
			sleep(1);
	}
	return interrupted ? 128 + interrupted : 0;
}

/* Headless: a few frames as PNG and the export, then where they are. */
static int write_results(struct demo *d)
{
	static const struct { double at; const char *name; } frames[] = {
		{ 0.02, "fading-in" }, { 0.20, "brighter" }, { 0.40, "grayscale" },
		{ 0.68, "blurred" }, { 0.82, "undone-invert" }, { 0.97, "fading-out" },
	};
	char at[32], out[PATH_MAX + 64], video[PATH_MAX + 16];
	int r;

	printf("reel demo: writing frames as they stand, edits and all\n");
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]) && !interrupted; i++) {
		snprintf(at, sizeof(at), "%" PRIu64, frame_at(d, frames[i].at));
		snprintf(out, sizeof(out), "%s/frame-%s.png", d->dir, frames[i].name);
		r = run(d, true, (char *[]){ "frame", (char *)d->session, at, "--out", out, "--settled",
		                            NULL });
		if (r)
			return r;
	}
	printf("reel demo: exporting the result\n");
	snprintf(video, sizeof(video), "%s/demo.mp4", d->dir);
	r = run(d, true, (char *[]){ "export", (char *)d->session, video, NULL });
	if (r)
		return r;
	printf("reel demo: done; in %s/: frame-*.png and demo.mp4 (try: ffplay %s)\n", d->dir, video);
	return 0;
}

static int stop_session(struct demo *d, struct reel_client *client)
{
	int status, code = 0;

	if (client) {
		reel_client_stop(client, 10000);
		reel_client_close(client);
	}
	if (d->coord > 0) {
		while (waitpid(d->coord, &status, 0) < 0 && errno == EINTR)
			;
		/* Ctrl-C reached it too (130): that was a clean stop as well. */
		if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 130)) {
			cli_show_log(d->log);
			code = cli_error(CLI_FAIL, "demo", "the session did not stop cleanly");
		}
	}
	if (d->preview > 0) {
		kill(d->preview, SIGTERM);
		waitpid(d->preview, NULL, 0);
	}
	if (!d->keep) {
		char log[PATH_MAX];
		unlink(d->buffer);
		unlink(d->log);
		if (reel_session_log_path(d->buffer, log, sizeof(log)) == 0)
			unlink(log);
	} else {
		printf("reel demo: buffer kept: %s (reel open %s --buffer %s resumes it)\n", d->buffer,
		       d->video, d->buffer);
	}
	return code;
}

int cmd_demo(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "headless", no_argument, NULL, 'H' },
		{ "session", required_argument, NULL, 's' },
		{ "keep", no_argument, NULL, 'k' },
		{ "sample-seconds", required_argument, NULL, 'S' },
		{ "sample-size", required_argument, NULL, 'z' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct demo d = { .dir = "reel-demo", .session = SESSION_DEFAULT };
	struct reel_client *client = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	char sample[PATH_MAX];
	uint32_t w = 1280, h = 720;
	uint64_t seconds = 10;
	int opt, r, code;
	ssize_t n;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o': d.dir = optarg; break;
		case 'H': d.headless = true; break;
		case 's': d.session = optarg; break;
		case 'k': d.keep = true; break;
		case 'S':
			if (cli_parse_u64(optarg, &seconds) < 0 || seconds < 1 || seconds > 600)
				return cli_error(CLI_USAGE, "demo", "--sample-seconds: '%s' is not 1-600", optarg);
			break;
		case 'z':
			if (cli_parse_picture_size(optarg, &w, &h) < 0)
				return cli_error(CLI_USAGE, "demo", "--sample-size: '%s' is not an even WxH "
				                 "(16x16 to 7680x4320)", optarg);
			break;
		case 'h': usage(stdout); return CLI_OK;
		default:
			return cli_bad_option("demo", opt, argv);
		}
	}
	if (argc - optind > 1)
		return cli_error(CLI_USAGE, "demo", "expected at most one VIDEO (see 'reel demo --help')");
	if (reel_session_name_check(d.session) < 0)
		return cli_error(CLI_USAGE, "demo", "--session %s: %s", d.session,
		                 reel_strerror(REEL_E_SESSION));
	if (argc - optind == 1) {
		d.video = argv[optind];
		if (access(d.video, R_OK) < 0)
			return cli_error(CLI_USAGE, "demo", "%s: %s", d.video, strerror(errno));
	}
	if (mkdir(d.dir, 0755) < 0 && errno != EEXIST)
		return cli_error(CLI_USAGE, "demo", "--out %s: %s", d.dir, strerror(errno));
	n = readlink("/proc/self/exe", d.self, sizeof(d.self) - 1);
	if (n <= 0)
		return cli_error(CLI_FAIL, "demo", "cannot find this program: %s", strerror(errno));
	d.self[n] = 0;
	if ((size_t)snprintf(d.buffer, sizeof(d.buffer), "%s/%s.reel", d.dir, d.session) >=
	        sizeof(d.buffer) ||
	    (size_t)snprintf(d.log, sizeof(d.log), "%s/%s-open.log", d.dir, d.session) >= sizeof(d.log) ||
	    (size_t)snprintf(sample, sizeof(sample), "%s/sample.mp4", d.dir) >= sizeof(sample))
		return cli_error(CLI_USAGE, "demo", "--out %s: path too long", d.dir);
	if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY") && !d.headless) {
		printf("reel demo: no display ($DISPLAY, $WAYLAND_DISPLAY): running headless\n");
		d.headless = true;
	}

	/* Ctrl-C: the children get it too; the demo waits for them and cleans up. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!d.video) {
		d.video = sample;
		if (access(sample, R_OK) < 0 && (code = make_sample(&d, sample, (int)seconds, w, h)))
			return code;
	}
	if ((code = fresh_buffer(&d)))
		return code;
	if ((code = start_session(&d, &client)))
		goto out;
	if (!d.headless)
		start_preview(&d);
	code = send_edits(&d);
	if (code == 0 && !d.headless) {
		printf("reel demo: all edits applied; close the window (q) to end the demo\n");
		while (!interrupted && waitpid(d.preview, &r, 0) < 0 && errno == EINTR)
			;
		d.preview = 0;
	} else if (code == 0) {
		code = write_results(&d);
	}
out:
	r = stop_session(&d, client);
	if (interrupted)
		return 128 + interrupted;
	return code ? code : r;
}
