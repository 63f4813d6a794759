/*
 * reel-preview as people run it: a real coordinator (`reel open`), the real
 * preview binary in a real X server (the test runs under xvfb-run, with
 * SDL's dummy audio driver), keys pressed through the X server (xdotool,
 * XTest), and the window's pixels read back with XGetImage.
 *
 * What the window shows is compared with the buffer's frame (read through
 * the client API) converted to RGB by a reference written here from the
 * definitions: limited-range Y'CbCr, Y' = (Y - 16) / 219, Cb and Cr =
 * (C - 128) / 224, and the BT.601 (Kr 0.299, Kb 0.114) or BT.709 (Kr
 * 0.2126, Kb 0.0722) matrix.  How a renderer upsamples the half-size
 * chroma (nearest, bilinear, with which siting) is its own business, so
 * pixels are compared only where that cannot matter: where the chroma
 * samples around the pixel (5 x 5) are all equal (and, when the picture is
 * scaled, the luma too).  testsrc2's colour bars give thousands of such
 * pixels.  There the tolerance is COLOUR_TOLERANCE levels per channel for
 * SDL's float shader and its rounded coefficients; and every comparison is
 * also made against a reference that must NOT match (the frame before the
 * edit, the other matrix, another frame), so a test cannot pass by
 * accident.
 *
 * The preview's --trace lines say when a frame was presented (after XSync),
 * which frame, the journal state it holds and where the picture and the
 * overlay are: the tests wait for them (polling, bounded) instead of
 * sleeping.  Each test runs in its own folder and runtime folder, and checks
 * that nothing (process, queue, session file) is left after a stop.  The
 * test process is a child subreaper, so stages of a coordinator it killed
 * are reaped too.
 *
 * REEL_TEST_FILTER=PATTERN runs only the matching tests; REEL_TEST_KEEP=1
 * keeps each test's folder (logs, traces, screenshots as raw RGB).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <mqueue.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "buffer/buffer.h"
#include "buffer/journal.h"
#include "buffer/stagetab.h"
#include "bus/bus.h"
#include "bus/session.h"
#include "reel/client.h"
#include "reel/error.h"
#include "reel/ops.h"
#include "testutil.h"

#define MAX_SESS 4
#define MAX_KIDS 8
#define READY_TIMEOUT_MS 20000
#define PRESENT_TIMEOUT_MS 30000
#define PIXELS_TIMEOUT_MS 15000
#define GONE_TIMEOUT_MS 20000
#define READ_TIMEOUT_MS 60000

/* Levels per channel: SDL's shader computes in float with 4-decimal coefficients, then rounds. */
#define COLOUR_TOLERANCE 3
/* A frame shown must be compared on at least this share of the picture above the overlay. */
#define MIN_COMPARED_SHARE 0.15
/*
 * A reference that must not match differs by more than the tolerance on
 * this share at least, and on MIN_MISMATCH_PIXELS (another frame of
 * testsrc2 differs in its moving band and counter only).
 */
#define MIN_MISMATCH_SHARE 0.002
#define MIN_MISMATCH_PIXELS 20

enum matrix { BT601, BT709 };

struct sess {
	char name[64];
	char buffer[4096];
	char log[4096];
	const char *clip;
	pid_t pid;
	struct reel_client *c;
	struct reel_video_info video;
};

struct pv {
	pid_t pid;
	char trace[4096];
	char log[4096];
	unsigned long window;
};

struct fixture {
	char *dir;
	char run[4096];
	struct sess *sess[MAX_SESS];
	size_t nsess;
	pid_t kids[MAX_KIDS];
	Display *x;
};

/* What one --trace "present" line says. */
struct present {
	bool seen;
	double t;
	uint64_t frame, state, version;
	int loading;
	int px, py, pw, ph;
	int top;                    /* the first row the overlay covers */
	double found;
	uint64_t due;               /* the frame due (shown, or awaited with the mark) */
	int failed;                 /* the frame due cannot be decoded */
};

struct image {
	int w, h;
	uint8_t *rgb;
};

/* ------------------------------------------------------------ programs */

static const char *reel_bin(void)
{
	const char *bin = getenv("REEL_BIN");
	assert_non_null(bin);
	return bin;
}

static const char *preview_bin(void)
{
	static char path[4096 + 64];
	char dir[4096], *slash;

	snprintf(dir, sizeof(dir), "%s", reel_bin());
	slash = strrchr(dir, '/');
	assert_non_null(slash);
	*slash = 0;
	snprintf(path, sizeof(path), "%s/../renderer/reel-preview", dir);
	if (access(path, X_OK) != 0)
		fail_msg("%s not found", path);
	return path;
}

static void show_file(const char *what, const char *path)
{
	size_t len;
	char *text = tu_slurp(path, &len);

	if (!text)
		return;
	fprintf(stderr, "# --- end of %s (%s) ---\n%s\n# ---\n", what, path,
	        len > 4000 ? text + len - 4000 : text);
	free(text);
}

/* ------------------------------------------------------------- fixture */

/* Xlib's default handler exits the process: a failed request fails the test instead. */
static int x_error;

static int on_x_error(Display *d, XErrorEvent *e)
{
	(void)d;
	x_error = e->error_code;
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = tu_tempdir();
	snprintf(f->run, sizeof(f->run), "%s/run", f->dir);
	mkdir(f->run, 0700);
	setenv("REEL_RUNTIME_DIR", f->run, 1);
	f->x = XOpenDisplay(NULL);
	if (!f->x)
		fail_msg("cannot open the X display '%s' (run the preview suite under xvfb-run)",
		         getenv("DISPLAY") ? getenv("DISPLAY") : "");
	XSetErrorHandler(on_x_error);
	*state = f;
	return 0;
}

static void kid_add(struct fixture *f, pid_t pid)
{
	for (size_t i = 0; i < MAX_KIDS; i++)
		if (!f->kids[i]) {
			f->kids[i] = pid;
			return;
		}
	fail_msg("too many child processes");
}

static void kid_forget(struct fixture *f, pid_t pid)
{
	for (size_t i = 0; i < MAX_KIDS; i++)
		if (f->kids[i] == pid)
			f->kids[i] = 0;
}

static void reap_adopted(const struct fixture *f)
{
	pid_t keep[MAX_SESS + MAX_KIDS];
	size_t n = 0;

	for (size_t i = 0; i < f->nsess; i++)
		if (f->sess[i]->pid > 0)
			keep[n++] = f->sess[i]->pid;
	for (size_t i = 0; i < MAX_KIDS; i++)
		if (f->kids[i] > 0)
			keep[n++] = f->kids[i];
	tu_reap_adopted(keep, n);
}

static const char *mqueue_dir(void)
{
	const char *d = getenv("REEL_TEST_MQUEUE_DIR");
	return d && *d ? d : "/dev/mqueue";
}

/* Queue files whose name starts with "reel.<uid>.<session>." (and, with pid, ".r<pid>."). */
static size_t leftover_queues(const char *session, pid_t pid, char *names, size_t len)
{
	char prefix[128];
	DIR *d = opendir(mqueue_dir());
	struct dirent *de;
	size_t n = 0;

	if (names && len)
		names[0] = 0;
	if (!d)
		return 0;
	if (pid > 0)
		snprintf(prefix, sizeof(prefix), "reel.%u.%s.r%ld.", (unsigned)getuid(), session,
		         (long)pid);
	else
		snprintf(prefix, sizeof(prefix), "reel.%u.%s.", (unsigned)getuid(), session);
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix))) {
			if (names && strlen(names) + strlen(de->d_name) + 2 < len) {
				strcat(names, " ");
				strcat(names, de->d_name);
			}
			n++;
		}
	closedir(d);
	return n;
}

static void wait_no_procs(struct fixture *f, const char *session)
{
	double deadline = tu_now_ms() + GONE_TIMEOUT_MS;
	pid_t left[8];
	size_t n;

	for (;;) {
		reap_adopted(f);
		n = tu_session_procs(session, left, 8);
		if (n == 0)
			return;
		if (tu_now_ms() > deadline)
			fail_msg("session %s: %zu processes still running (pid %ld first)", session, n,
			         (long)left[0]);
		usleep(10000);
	}
}

static void assert_session_gone(struct fixture *f, const char *session)
{
	char names[1024];
	struct reel_session_record rec;

	assert_int_equal(reel_session_read(session, &rec), REEL_E_NOSESSION);
	wait_no_procs(f, session);
	if (leftover_queues(session, 0, names, sizeof(names)))
		fail_msg("queues left behind by session %s:%s", session, names);
}

/* SIGTERM, then SIGKILL after timeout_ms, and reap; for teardown, which must not fail. */
static void end_child(pid_t pid, int timeout_ms)
{
	double deadline = tu_now_ms() + timeout_ms;

	kill(pid, SIGTERM);
	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (tu_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
		usleep(10000);
	}
}

static void unlink_queues(const char *session)
{
	char prefix[128], path[512];
	DIR *d = opendir(mqueue_dir());
	struct dirent *de;

	if (!d)
		return;
	snprintf(prefix, sizeof(prefix), "reel.%u.%s.", (unsigned)getuid(), session);
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix))) {
			snprintf(path, sizeof(path), "/%s", de->d_name);
			mq_unlink(path);
		}
	closedir(d);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	/*
	 * What a failed test left running, gently first: a preview asked to
	 * quit removes its queues, a coordinator asked to stop takes its stages
	 * and queues with it.
	 */
	for (size_t i = 0; i < MAX_KIDS; i++)
		if (f->kids[i] > 0)
			end_child(f->kids[i], 5000);
	memset(f->kids, 0, sizeof(f->kids));
	for (size_t i = 0; i < f->nsess; i++) {
		struct sess *s = f->sess[i];
		char name[REEL_QUEUE_NAME_MAX];
		pid_t left[32];
		size_t n;

		if (s->pid > 0 && s->c)
			reel_client_stop(s->c, 5000);
		reel_client_close(s->c);
		if (s->pid > 0)
			end_child(s->pid, 15000);
		/* What a failed test left running: the stages and previews of its sessions. */
		n = tu_session_procs(s->name, left, 32);
		for (size_t j = 0; j < n && j < 32; j++)
			kill(left[j], SIGKILL);
		for (int k = 0; k < 200 && tu_session_procs(s->name, NULL, 0) > 0; k++) {
			reap_adopted(f);
			usleep(5000);
		}
		reap_adopted(f);
		reel_session_remove(s->name);
		for (unsigned role = 0; role < REEL_ROLE_CLIENT; role++)
			if (reel_queue_name(name, sizeof(name), s->name, role) == 0)
				mq_unlink(name);
		unlink_queues(s->name);
	}
	for (size_t i = 0; i < f->nsess; i++)
		free(f->sess[i]);
	if (f->x)
		XCloseDisplay(f->x);
	if (getenv("REEL_TEST_KEEP"))
		fprintf(stderr, "# kept %s\n", f->dir);
	else
		tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* ------------------------------------------------------------ sessions */

static struct sess *new_sess(struct fixture *f, const char *clip)
{
	struct sess *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	assert_true(f->nsess < MAX_SESS);
	if (!clip)
		fail_msg("a test clip is missing (REEL_TEST_CLIPS)");
	f->sess[f->nsess++] = s;
	tu_session_name(s->name, sizeof(s->name));
	snprintf(s->buffer, sizeof(s->buffer), "%s/%s.reel", f->dir, s->name);
	snprintf(s->log, sizeof(s->log), "%s/%s.log", f->dir, s->name);
	s->clip = clip;
	return s;
}

/* `reel open CLIP --session S --buffer B --verbose [extra...]`; returns once it answers. */
static void open_sess(struct sess *s, const char *const *extra)
{
	char *argv[32];
	int n = 0;
	double deadline;

	argv[n++] = (char *)reel_bin();
	argv[n++] = (char *)"open";
	argv[n++] = (char *)s->clip;
	argv[n++] = (char *)"--session";
	argv[n++] = s->name;
	argv[n++] = (char *)"--buffer";
	argv[n++] = s->buffer;
	argv[n++] = (char *)"--verbose";
	for (size_t i = 0; extra && extra[i]; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	s->pid = tu_spawn(argv, s->log);
	deadline = tu_now_ms() + READY_TIMEOUT_MS;
	for (;;) {
		int status;
		if (reel_client_connect(s->name, &s->c) == 0)
			break;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			show_file("session log", s->log);
			fail_msg("session %s: reel open exited early with status %d", s->name, status);
		}
		if (tu_now_ms() > deadline) {
			show_file("session log", s->log);
			fail_msg("session %s never became ready", s->name);
		}
		usleep(5000);
	}
	assert_int_equal(reel_client_video(s->c, &s->video), 0);
}

static void status_of(struct sess *s, struct reel_status *st)
{
	int r = reel_client_status(s->c, 5000, st);
	if (r < 0)
		fail_msg("session %s: status: %s", s->name, reel_strerror(r));
}

/* Wait (bounded) until exactly want stages are attached. */
static void wait_stages(struct sess *s, uint64_t want)
{
	double deadline = tu_now_ms() + READY_TIMEOUT_MS;
	struct reel_status st;

	for (;;) {
		status_of(s, &st);
		if (st.stages == want)
			return;
		if (tu_now_ms() > deadline) {
			show_file("session log", s->log);
			fail_msg("session %s: %" PRIu64 " stages attached, expected %" PRIu64, s->name,
			         st.stages, want);
		}
		usleep(10000);
	}
}

/* Previews in the session's stage table (the coordinator's stage count is of the editing roles). */
static unsigned previews_of(struct sess *s)
{
	struct reel_buffer *b;
	unsigned n = 0;

	assert_int_equal(reel_buffer_open_readonly(s->buffer, &b), 0);
	for (unsigned i = 1; i < REEL__STAGE_ENTRIES; i++) {
		struct reel_stage_record r;
		n += reel_stagetab_read(b, i, &r) == 0 && r.pid != 0 && r.role == REEL_ROLE_PREVIEW &&
		     r.generation == reel_buffer_generation(b);
	}
	reel_buffer_close(b);
	return n;
}

static void wait_previews(struct sess *s, unsigned want)
{
	double deadline = tu_now_ms() + READY_TIMEOUT_MS;
	unsigned n;

	while ((n = previews_of(s)) != want) {
		if (tu_now_ms() > deadline) {
			show_file("session log", s->log);
			fail_msg("session %s: %u previews attached, expected %u", s->name, n, want);
		}
		usleep(10000);
	}
}

static void stop_sess(struct fixture *f, struct sess *s)
{
	char *out, *err;
	int st, code;

	reel_client_close(s->c);
	s->c = NULL;
	code = tu_run((char *[]){ (char *)reel_bin(), "stop", s->name, NULL }, &out, &err);
	if (code != 0) {
		show_file("session log", s->log);
		fail_msg("reel stop %s: exit %d: %s", s->name, code, err);
	}
	free(out);
	free(err);
	st = tu_wait(s->pid, GONE_TIMEOUT_MS);
	s->pid = 0;
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		show_file("session log", s->log);
		fail_msg("session %s: reel open ended with status %d after a stop", s->name, st);
	}
	assert_session_gone(f, s->name);
}

/* Frame `frame` of the buffer once no edit covers it: what the window must end up showing. */
static void read_settled(struct sess *s, uint64_t frame, struct reel_frame *fr, uint64_t *state)
{
	struct reel_video_info vi = s->video;
	int r;

	vi.channels = 0;
	if (!fr->plane[0])
		assert_int_equal(reel_frame_alloc(&vi, fr), 0);
	r = reel_client_read_frame(s->c, frame, REEL_READ_SETTLED, REEL_PRIO_INTERACTIVE,
	                           READ_TIMEOUT_MS, fr, state);
	if (r < 0)
		fail_msg("session %s: frame %" PRIu64 ": %s", s->name, frame, reel_strerror(r));
}

/* ------------------------------------------------------------- preview */

static bool parse_present(const char *line, struct present *p)
{
	memset(p, 0, sizeof(*p));
	p->seen = sscanf(line, "present %lf frame %" SCNu64 " state %" SCNu64 " version %" SCNu64
	                 " loading %d picture %d %d %d %d overlay %d found %lf due %" SCNu64
	                 " failed %d", &p->t, &p->frame, &p->state, &p->version, &p->loading, &p->px,
	                 &p->py, &p->pw, &p->ph, &p->top, &p->found, &p->due, &p->failed) == 13;
	return p->seen;
}

/* The last present line of the trace (nothing seen when there is none yet). */
static struct present last_present(const struct pv *v)
{
	struct present p = { 0 }, q;
	char *text = tu_slurp(v->trace, NULL), *line, *save = NULL;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
		if (parse_present(line, &q))
			p = q;
	free(text);
	return p;
}

/* Every present line so far, into out (at most max); how many. */
static size_t all_presents(const struct pv *v, struct present *out, size_t max)
{
	char *text = tu_slurp(v->trace, NULL), *line, *save = NULL;
	size_t n = 0;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line && n < max;
	     line = strtok_r(NULL, "\n", &save))
		if (parse_present(line, &out[n]))
			n++;
	free(text);
	return n;
}

static void preview_died(struct fixture *f, struct pv *v, const char *why)
{
	int status;

	if (waitpid(v->pid, &status, WNOHANG) == v->pid) {
		kid_forget(f, v->pid);
		v->pid = 0;
		show_file("preview output", v->log);
		fail_msg("reel-preview exited (status %d) %s", status, why);
	}
}

/* reel-preview --session S --trace T [args...]; returns once its window exists. */
static void start_preview(struct fixture *f, struct sess *s, struct pv *v, const char *const *args)
{
	static unsigned counter;
	char *argv[32];
	int n = 0;
	double deadline = tu_now_ms() + READY_TIMEOUT_MS;

	memset(v, 0, sizeof(*v));
	snprintf(v->trace, sizeof(v->trace), "%s/preview-%u.trace", f->dir, counter);
	snprintf(v->log, sizeof(v->log), "%s/preview-%u.log", f->dir, counter++);
	argv[n++] = (char *)preview_bin();
	argv[n++] = (char *)"--session";
	argv[n++] = s->name;
	argv[n++] = (char *)"--trace";
	argv[n++] = v->trace;
	for (size_t i = 0; args && args[i]; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	v->pid = tu_spawn(argv, v->log);
	kid_add(f, v->pid);
	for (;;) {
		char *text = tu_slurp(v->trace, NULL);
		bool found = text && sscanf(text, "window %lx", &v->window) == 1 && v->window;

		free(text);
		if (found)
			return;
		preview_died(f, v, "before its window opened");
		if (tu_now_ms() > deadline) {
			show_file("preview output", v->log);
			fail_msg("reel-preview opened no window in %d ms", READY_TIMEOUT_MS);
		}
		usleep(10000);
	}
}

/* Wait until the frame on screen is `frame`, holding at least state `state`, not loading. */
static struct present wait_present(struct fixture *f, struct pv *v, uint64_t frame, uint64_t state)
{
	double deadline = tu_now_ms() + PRESENT_TIMEOUT_MS;
	struct present p;

	for (;;) {
		p = last_present(v);
		if (p.seen && p.frame == frame && p.state >= state && !p.loading)
			return p;
		preview_died(f, v, "while a frame was awaited");
		if (tu_now_ms() > deadline) {
			show_file("preview output", v->log);
			fail_msg("the preview never showed frame %" PRIu64 " at state %" PRIu64 " (last: %s "
			         "frame %" PRIu64 " state %" PRIu64 " loading %d)", frame, state,
			         p.seen ? "present" : "nothing", p.frame, p.state, p.loading);
		}
		usleep(10000);
	}
}

/* Wait (bounded) for the preview to exit; its exit status. */
static int wait_preview_exit(struct fixture *f, struct pv *v)
{
	int st = tu_wait(v->pid, GONE_TIMEOUT_MS);

	kid_forget(f, v->pid);
	return st;
}

/* A window whose title holds `name`, below `w`; 0 when none. Windows may vanish mid-walk. */
static Window find_named(Display *x, Window w, const char *name)
{
	Window root, parent, *kids = NULL, hit = 0;
	unsigned n = 0;
	XTextProperty title = { 0 };

	/* Any encoding (SDL sets UTF8_STRING, which XFetchName refuses); the name is ASCII. */
	if (XGetWMName(x, w, &title) && title.value && title.format == 8 &&
	    memmem(title.value, title.nitems, name, strlen(name)))
		hit = w;
	XFree(title.value);
	if (!hit && XQueryTree(x, w, &root, &parent, &kids, &n))
		for (unsigned i = 0; i < n && !hit; i++)
			hit = find_named(x, kids[i], name);
	XFree(kids);
	return hit;
}

/*
 * The preview window of session `name`, waited for. Searched here rather than with
 * `xdotool search`: Xlib's default handler makes xdotool exit 1 when a window it lists
 * is destroyed before it reads its name, which SDL's start-up windows do.
 */
static Window window_named(struct fixture *f, const char *name)
{
	double deadline = tu_now_ms() + READY_TIMEOUT_MS;
	Window w;

	while (!(w = find_named(f->x, DefaultRootWindow(f->x), name))) {
		if (tu_now_ms() > deadline)
			fail_msg("no window named after session %s in %d ms", name, READY_TIMEOUT_MS);
		usleep(10000);
	}
	return w;
}

/* xdotool: the pointer over the window (X gives the keys to the window under it), then keys. */
static int try_press(struct pv *v, const char *keys, char **ret_err)
{
	char win[32], *out;
	int code;

	snprintf(win, sizeof(win), "0x%lx", v->window);
	code = tu_run((char *[]){ "/usr/bin/env", "xdotool", "mousemove", "--window", win, "4", "4",
	                          "key", "--delay", "30", (char *)keys, NULL }, &out, ret_err);
	free(out);
	return code;
}

static void press(struct pv *v, const char *keys)
{
	char *err;
	int code = try_press(v, keys, &err);

	if (code != 0)
		fail_msg("xdotool key %s: exit %d: %s", keys, code, err);
	free(err);
}

/*
 * The same to the window of session `name`, found first: SDL may replace a
 * window it made at start-up, so one gone before the keys reach it is
 * looked for again.
 */
static void press_named(struct fixture *f, const char *name, struct pv *v, const char *keys)
{
	char *err = NULL;
	int code = -1;

	for (int tries = 0; tries < 5 && code != 0; tries++) {
		if (tries)
			usleep(200 * 1000);
		free(err);
		v->window = window_named(f, name);
		code = try_press(v, keys, &err);
		if (code != 0 && !strstr(err, "BadWindow"))
			break;
	}
	if (code != 0)
		fail_msg("xdotool key %s: exit %d: %s", keys, code, err);
	free(err);
}

static void xdotool(const char *const *args)
{
	char *argv[16], *out, *err;
	int n = 0, code;

	argv[n++] = (char *)"/usr/bin/env";
	argv[n++] = (char *)"xdotool";
	for (size_t i = 0; args[i]; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	code = tu_run(argv, &out, &err);
	if (code != 0)
		fail_msg("xdotool %s: exit %d: %s", args[0], code, err);
	free(out);
	free(err);
}

/* ------------------------------------------------------------ pictures */

/* The window's pixels, as the X server has them. */
static void screenshot(struct fixture *f, const struct pv *v, struct image *img)
{
	XWindowAttributes wa;
	XImage *xi;

	if (!XGetWindowAttributes(f->x, v->window, &wa))
		fail_msg("the preview's window 0x%lx is gone", v->window);
	x_error = 0;
	xi = XGetImage(f->x, v->window, 0, 0, (unsigned)wa.width, (unsigned)wa.height, AllPlanes,
	               ZPixmap);
	if (!xi)
		fail_msg("XGetImage of window 0x%lx (%dx%d at %d,%d) failed: X error %d", v->window,
		         wa.width, wa.height, wa.x, wa.y, x_error);
	free(img->rgb);
	img->w = wa.width;
	img->h = wa.height;
	img->rgb = malloc((size_t)img->w * img->h * 3);
	assert_non_null(img->rgb);
	for (int y = 0; y < img->h; y++)
		for (int x = 0; x < img->w; x++) {
			unsigned long px = XGetPixel(xi, x, y);
			uint8_t *o = img->rgb + ((size_t)y * img->w + x) * 3;
			/* A 24-bit TrueColor visual, as xvfb-run's screen is. */
			o[0] = (uint8_t)((px & xi->red_mask) >> __builtin_ctzl(xi->red_mask));
			o[1] = (uint8_t)((px & xi->green_mask) >> __builtin_ctzl(xi->green_mask));
			o[2] = (uint8_t)((px & xi->blue_mask) >> __builtin_ctzl(xi->blue_mask));
		}
	XDestroyImage(xi);
}

static uint8_t to8(double v)
{
	v = round(v * 255);
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* The reference conversion: limited-range Y'CbCr to full-range R'G'B'. */
static void yuv_to_rgb(int y, int u, int v, enum matrix m, uint8_t out[3])
{
	double kr = m == BT709 ? 0.2126 : 0.299, kb = m == BT709 ? 0.0722 : 0.114, kg = 1 - kr - kb;
	double yy = (y - 16) / 219.0, pb = (u - 128) / 224.0, pr = (v - 128) / 224.0;
	double r = yy + 2 * (1 - kr) * pr, b = yy + 2 * (1 - kb) * pb;
	double g = (yy - kr * r - kb * b) / kg;

	out[0] = to8(r);
	out[1] = to8(g);
	out[2] = to8(b);
}

static uint8_t at(const struct reel_frame *fr, int plane, int x, int y)
{
	int w = (int)fr->width[plane], h = (int)fr->height[plane];

	x = x < 0 ? 0 : x >= w ? w - 1 : x;
	y = y < 0 ? 0 : y >= h ? h - 1 : y;
	return fr->plane[plane][(size_t)y * fr->stride[plane] + (size_t)x];
}

/*
 * The 5 x 5 samples of plane around (x, y) are all equal: wide enough for
 * the 4-tap (bicubic) chroma filter of the image writer, and for bilinear.
 */
static bool flat(const struct reel_frame *fr, int plane, int x, int y)
{
	uint8_t c = at(fr, plane, x, y);

	for (int dy = -2; dy <= 2; dy++)
		for (int dx = -2; dx <= 2; dx++)
			if (at(fr, plane, x + dx, y + dy) != c)
				return false;
	return true;
}

struct comparison {
	size_t compared, over;      /* pixels compared, and those beyond the tolerance */
	int worst;                  /* the largest difference of a channel */
	int worst_x, worst_y;
};

/*
 * The window's picture (where the trace says it is, above the overlay)
 * against frame fr through matrix m, at the pixels where upsampling cannot
 * matter (see the top of the file).
 */
static struct comparison compare(const struct image *img, const struct present *p,
                                 const struct reel_frame *fr, enum matrix m)
{
	struct comparison c = { 0 };
	int w = (int)fr->width[0], h = (int)fr->height[0];
	bool scaled = p->pw != w || p->ph != h;

	for (int y = p->py; y < p->py + p->ph && y < p->top && y < img->h; y++)
		for (int x = p->px; x < p->px + p->pw && x < img->w; x++) {
			int sx = (int)((long long)(x - p->px) * w / p->pw);
			int sy = (int)((long long)(y - p->py) * h / p->ph);
			const uint8_t *got = img->rgb + ((size_t)y * img->w + x) * 3;
			uint8_t want[3];
			int diff = 0;

			if (!flat(fr, 1, sx / 2, sy / 2) || !flat(fr, 2, sx / 2, sy / 2) ||
			    (scaled && !flat(fr, 0, sx, sy)))
				continue;
			yuv_to_rgb(at(fr, 0, sx, sy), at(fr, 1, sx / 2, sy / 2), at(fr, 2, sx / 2, sy / 2), m,
			           want);
			for (int i = 0; i < 3; i++)
				diff = abs(got[i] - want[i]) > diff ? abs(got[i] - want[i]) : diff;
			c.compared++;
			c.over += diff > COLOUR_TOLERANCE;
			if (diff > c.worst) {
				c.worst = diff;
				c.worst_x = x;
				c.worst_y = y;
			}
		}
	return c;
}

static size_t picture_area(const struct present *p)
{
	int rows = (p->top < p->py + p->ph ? p->top : p->py + p->ph) - p->py;

	return rows > 0 ? (size_t)rows * (size_t)p->pw : 0;
}

/*
 * Screenshots until the window shows fr through m (bounded: the X server
 * may draw a moment after the trace line); returns the matching comparison.
 */
static struct comparison assert_shows(struct fixture *f, struct pv *v, const struct present *p,
                                      const struct reel_frame *fr, enum matrix m,
                                      struct image *img, const char *what)
{
	double deadline = tu_now_ms() + PIXELS_TIMEOUT_MS;
	struct comparison c;

	for (;;) {
		screenshot(f, v, img);
		c = compare(img, p, fr, m);
		if (c.over == 0 && c.compared >= MIN_COMPARED_SHARE * picture_area(p)) {
			printf("# %s: %zu pixels compared, worst difference %d\n", what, c.compared, c.worst);
			return c;
		}
		if (tu_now_ms() > deadline)
			fail_msg("%s: %zu of %zu pixels compared differ by more than %d (worst %d at %d,%d); "
			         "%zu of the %zu above the overlay could be compared", what, c.over,
			         c.compared, COLOUR_TOLERANCE, c.worst, c.worst_x, c.worst_y, c.compared,
			         picture_area(p));
		usleep(20000);
	}
}

/* The same screenshot against a reference it must not match. */
static void assert_not_shows(const struct image *img, const struct present *p,
                             const struct reel_frame *fr, enum matrix m, const char *what)
{
	struct comparison c = compare(img, p, fr, m);

	if (c.compared == 0 || c.over < MIN_MISMATCH_SHARE * c.compared || c.over < MIN_MISMATCH_PIXELS)
		fail_msg("%s: the window matches it too (%zu of %zu pixels differ), so the comparison "
		         "proves nothing", what, c.over, c.compared);
}

/* --------------------------------------------------------------- tests */

static const char *const no_preview[] = { "--no-stages", "--no-preview", NULL };
static const char *const stages_no_preview[] = { "--no-preview", NULL };

/* Frame N of a live session, in the window, pixel for pixel (BT.601: an untagged SD clip). */
static void test_preview_shows_frame(void **state)
{
	struct fixture *f = *state;
	struct sess *s = new_sess(f, tu_clip("h264-bframes.mp4"));
	struct reel_frame fr = { 0 }, other = { 0 };
	struct image img = { 0 };
	struct present p;
	struct pv v;
	char *text;

	open_sess(s, no_preview);
	start_preview(f, s, &v, (const char *const[]){ "--frame", "17", NULL });
	text = tu_slurp(v.trace, NULL);
	assert_non_null(strstr(text, "matrix BT.601"));
	free(text);
	p = wait_present(f, &v, 17, 0);
	/* A 320x240 video fills its window at its own size. */
	assert_int_equal(p.pw, 320);
	assert_int_equal(p.ph, 240);
	read_settled(s, 17, &fr, NULL);
	assert_shows(f, &v, &p, &fr, BT601, &img, "frame 17 through BT.601");
	read_settled(s, 3, &other, NULL);
	assert_not_shows(&img, &p, &other, BT601, "frame 3");
	assert_not_shows(&img, &p, &fr, BT709, "frame 17 through BT.709");
	/* The stage table lists it; then q closes it, exit 0, its reply queues gone. */
	wait_previews(s, 1);
	press(&v, "q");
	assert_int_equal(WEXITSTATUS(wait_preview_exit(f, &v)), 0);
	assert_int_equal(leftover_queues(s->name, v.pid, NULL, 0), 0);
	wait_previews(s, 0);
	stop_sess(f, s);
	reel_frame_free(&fr);
	reel_frame_free(&other);
	free(img.rgb);
}

/* A source tagged BT.709 is shown through BT.709. */
static void test_preview_bt709_source(void **state)
{
	struct fixture *f = *state;
	char clip[4096];
	struct sess *s;
	struct reel_frame fr = { 0 };
	struct image img = { 0 };
	struct present p;
	struct pv v;
	char *out, *err, *text;
	int code;

	snprintf(clip, sizeof(clip), "%s/bt709.mp4", f->dir);
	code = tu_run((char *[]){ "/usr/bin/env", "ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi",
	                          "-i", "testsrc2=size=320x240:rate=25:duration=1", "-c:v", "libx264",
	                          "-preset", "veryfast", "-pix_fmt", "yuv420p", "-colorspace", "bt709",
	                          "-color_primaries", "bt709", "-color_trc", "bt709", clip, NULL },
	              &out, &err);
	if (code != 0)
		fail_msg("ffmpeg could not make a BT.709 clip: %s", err);
	free(out);
	free(err);
	s = new_sess(f, clip);
	open_sess(s, no_preview);
	start_preview(f, s, &v, (const char *const[]){ "--frame", "9", NULL });
	text = tu_slurp(v.trace, NULL);
	assert_non_null(strstr(text, "matrix BT.709"));
	free(text);
	p = wait_present(f, &v, 9, 0);
	read_settled(s, 9, &fr, NULL);
	assert_shows(f, &v, &p, &fr, BT709, &img, "frame 9 through BT.709");
	assert_not_shows(&img, &p, &fr, BT601, "frame 9 through BT.601");
	press(&v, "Escape");
	assert_int_equal(WEXITSTATUS(wait_preview_exit(f, &v)), 0);
	stop_sess(f, s);
	reel_frame_free(&fr);
	free(img.rgb);
}

/* The journal entry seq: op and range. */
static struct reel_journal_entry assert_journal(struct sess *s, uint64_t seq, uint32_t op,
                                                int64_t first, int64_t last)
{
	struct reel_buffer *b;
	struct reel_journal_entry e;

	assert_int_equal(reel_buffer_open_readonly(s->buffer, &b), 0);
	assert_int_equal(reel_journal_read(b, seq, &e), 0);
	reel_buffer_close(b);
	if (e.op != op)
		fail_msg("journal entry %" PRIu64 " is op %u, expected %u", seq, e.op, op);
	if (first >= 0) {
		assert_int_equal(e.first, first);
		assert_int_equal(e.last, last);
	}
	return e;
}

/* A key press sends an edit; the window then shows the edited frame; u takes it back. */
static void test_preview_key_edits(void **state)
{
	struct fixture *f = *state;
	struct sess *s = new_sess(f, tu_clip("h264-bframes.mp4"));
	struct reel_frame before = { 0 }, after = { 0 }, undone = { 0 }, earlier = { 0 };
	struct image img = { 0 };
	struct present p;
	struct pv v;
	uint64_t st;

	open_sess(s, stages_no_preview);
	wait_stages(s, 4);
	start_preview(f, s, &v, (const char *const[]){ "--frame", "20", NULL });
	p = wait_present(f, &v, 20, 0);
	read_settled(s, 20, &before, NULL);
	read_settled(s, 19, &earlier, NULL);
	assert_shows(f, &v, &p, &before, BT601, &img, "frame 20 before any edit");

	press(&v, "i");
	p = wait_present(f, &v, 20, 1);
	/* The quick edit covers the frame on screen to the end. */
	assert_journal(s, 1, REEL_OP_INVERT, 20, (int64_t)s->video.frames - 1);
	/* Before the frame on screen: untouched. */
	read_settled(s, 19, &after, NULL);
	assert_memory_equal(after.plane[0], earlier.plane[0], (size_t)after.stride[0] *
	                    after.height[0]);
	read_settled(s, 20, &after, &st);
	assert_true(st >= 1);
	assert_shows(f, &v, &p, &after, BT601, &img, "frame 20 inverted");
	assert_not_shows(&img, &p, &before, BT601, "frame 20 before the edit");

	press(&v, "u");
	p = wait_present(f, &v, 20, 2);
	assert_journal(s, 2, REEL_OP_UNDO, -1, -1);
	read_settled(s, 20, &undone, NULL);
	assert_memory_equal(undone.plane[0], before.plane[0], (size_t)before.stride[0] *
	                    before.height[0]);
	assert_shows(f, &v, &p, &before, BT601, &img, "frame 20 after undo");
	assert_not_shows(&img, &p, &after, BT601, "frame 20 inverted, after the undo");

	/* B (shift+b): brightness up over the same range. */
	press(&v, "shift+b");
	p = wait_present(f, &v, 20, 3);
	assert_true(assert_journal(s, 3, REEL_OP_BRIGHTNESS, 20, (int64_t)s->video.frames - 1)
	            .params[0] > 0);
	read_settled(s, 20, &after, NULL);
	assert_shows(f, &v, &p, &after, BT601, &img, "frame 20 brightened");

	/* Every other key, each an entry of its own; mute lands on the frame's sound. */
	{
		const struct {
			const char *key;
			uint32_t op;
			double param;
		} keys[] = {
			{ "b", REEL_OP_BRIGHTNESS, -0.05 }, { "c", REEL_OP_CONTRAST, 0.9 },
			{ "shift+c", REEL_OP_CONTRAST, 1.1 }, { "g", REEL_OP_GRAYSCALE, 0 },
			{ "m", REEL_OP_MUTE, 0 },
		};
		uint64_t seq = 4;

		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++, seq++) {
			struct reel_journal_entry e;

			press(&v, keys[k].key);
			wait_present(f, &v, 20, seq);
			e = assert_journal(s, seq, keys[k].op, 20, (int64_t)s->video.frames - 1);
			if (fabs(e.params[0] - keys[k].param) > 1e-9)
				fail_msg("key %s: parameter %g, expected %g", keys[k].key, e.params[0],
				         keys[k].param);
		}
		/* Undo and redo act on the latest edit, the mute. */
		press(&v, "u");
		wait_present(f, &v, 20, seq);
		assert_int_equal(assert_journal(s, seq, REEL_OP_UNDO, -1, -1).target, seq - 1);
		press(&v, "r");
		wait_present(f, &v, 20, seq + 1);
		assert_int_equal(assert_journal(s, seq + 1, REEL_OP_REDO, -1, -1).target, seq - 1);
		read_settled(s, 20, &after, NULL);
		assert_shows(f, &v, &p, &after, BT601, &img, "frame 20 after every quick edit");
	}

	press(&v, "q");
	assert_int_equal(WEXITSTATUS(wait_preview_exit(f, &v)), 0);
	stop_sess(f, s);
	reel_frame_free(&before);
	reel_frame_free(&after);
	reel_frame_free(&undone);
	reel_frame_free(&earlier);
	free(img.rgb);
}

/* Moves: arrows, shift+arrows, up and down, home and end, a click on the bar. */
static void test_preview_navigation(void **state)
{
	struct fixture *f = *state;
	/* 250 frames of 160x120 at 25 fps, shown twice its size. */
	struct sess *s = new_sess(f, tu_clip("long.mp4"));
	struct reel_frame fr = { 0 };
	struct image img = { 0 };
	struct present p;
	struct pv v;
	char win[32], x[16], y[16];
	int64_t clicked;

	open_sess(s, no_preview);
	start_preview(f, s, &v, (const char *const[]){ "--frame", "100", NULL });
	p = wait_present(f, &v, 100, 0);
	assert_int_equal(p.pw, 320);
	assert_int_equal(p.ph, 240);
	/* Scaled twice: compared where luma and chroma are flat. */
	read_settled(s, 100, &fr, NULL);
	assert_shows(f, &v, &p, &fr, BT601, &img, "frame 100, scaled 2x");

	press(&v, "Right");
	wait_present(f, &v, 101, 0);
	press(&v, "Left");
	wait_present(f, &v, 100, 0);
	press(&v, "shift+Right");
	wait_present(f, &v, 125, 0);
	press(&v, "shift+Left");
	wait_present(f, &v, 100, 0);
	press(&v, "Up");
	wait_present(f, &v, 249, 0);
	press(&v, "Down");
	wait_present(f, &v, 0, 0);
	press(&v, "End");
	wait_present(f, &v, 249, 0);
	press(&v, "Home");
	p = wait_present(f, &v, 0, 0);

	/* The middle of the bar is the middle of the video. */
	snprintf(win, sizeof(win), "0x%lx", v.window);
	snprintf(x, sizeof(x), "%d", p.px + p.pw / 2);
	snprintf(y, sizeof(y), "%d", p.py + p.ph - 10);
	xdotool((const char *const[]){ "mousemove", "--window", win, x, y, "click", "1", NULL });
	for (double deadline = tu_now_ms() + PRESENT_TIMEOUT_MS;;) {
		p = last_present(&v);
		clicked = (int64_t)p.frame;
		if (!p.loading && clicked > 110 && clicked < 140)
			break;
		if (tu_now_ms() > deadline)
			fail_msg("a click on the middle of the bar showed frame %" PRId64, clicked);
		usleep(10000);
	}
	press(&v, "q");
	assert_int_equal(WEXITSTATUS(wait_preview_exit(f, &v)), 0);
	stop_sess(f, s);
	reel_frame_free(&fr);
	free(img.rgb);
}

/* Resizing keeps the aspect ratio: bars beside the picture, and the picture as before. */
static void test_preview_letterbox(void **state)
{
	struct fixture *f = *state;
	struct sess *s = new_sess(f, tu_clip("h264-bframes.mp4"));
	struct reel_frame fr = { 0 };
	struct image img = { 0 };
	struct present p;
	struct pv v;
	char win[32];

	open_sess(s, no_preview);
	start_preview(f, s, &v, (const char *const[]){ "--frame", "30", NULL });
	wait_present(f, &v, 30, 0);
	read_settled(s, 30, &fr, NULL);
	snprintf(win, sizeof(win), "0x%lx", v.window);
	/* Twice as high and three times as wide: a 2x picture with bars left and right. */
	xdotool((const char *const[]){ "windowmove", "--sync", win, "0", "0", NULL });
	xdotool((const char *const[]){ "windowsize", win, "960", "480", NULL });
	for (double deadline = tu_now_ms() + PRESENT_TIMEOUT_MS;;) {
		p = last_present(&v);
		if (p.pw == 640)
			break;
		if (tu_now_ms() > deadline)
			fail_msg("after a resize to 960x480 the picture is %dx%d", p.pw, p.ph);
		usleep(10000);
	}
	assert_int_equal(p.ph, 480);
	assert_int_equal(p.px, 160);
	assert_int_equal(p.py, 0);
	assert_shows(f, &v, &p, &fr, BT601, &img, "frame 30 letterboxed at 2x");
	/* The bars are black above the overlay. */
	for (int y = 0; y < p.top; y++)
		for (int x = 0; x < img.w; x++)
			if (x < p.px || x >= p.px + p.pw) {
				const uint8_t *px = img.rgb + ((size_t)y * img.w + x) * 3;
				if (px[0] | px[1] | px[2])
					fail_msg("the bar beside the picture is not black at %d,%d", x, y);
			}
	/* f: fullscreen on the 1280x800 screen (the picture 4:3, as high as the screen), and back. */
	press(&v, "f");
	for (double deadline = tu_now_ms() + PRESENT_TIMEOUT_MS;;) {
		p = last_present(&v);
		if (p.ph == 800 && p.pw == 1066 && p.px == 107)
			break;
		if (tu_now_ms() > deadline)
			fail_msg("fullscreen: the picture is %dx%d at %d,%d", p.pw, p.ph, p.px, p.py);
		usleep(10000);
	}
	press(&v, "f");
	for (double deadline = tu_now_ms() + PRESENT_TIMEOUT_MS;;) {
		p = last_present(&v);
		if (p.ph == 480 && p.pw == 640 && p.px == 160)
			break;
		if (tu_now_ms() > deadline)
			fail_msg("out of fullscreen: the picture is %dx%d at %d,%d", p.pw, p.ph, p.px, p.py);
		usleep(10000);
	}
	press(&v, "q");
	assert_int_equal(WEXITSTATUS(wait_preview_exit(f, &v)), 0);
	stop_sess(f, s);
	reel_frame_free(&fr);
	free(img.rgb);
}

/* A frame that is not in the buffer yet: the previous one stays up with the mark, then it comes. */
static void test_preview_loading_mark(void **state)
{
	struct fixture *f = *state;
	struct sess *s = new_sess(f, tu_clip("long.mp4"));
	struct present all[4096];
	struct pv v;
	size_t n;
	bool marked = false;

	open_sess(s, no_preview);
	start_preview(f, s, &v, NULL);
	wait_present(f, &v, 0, 0);
	/* Nothing asked for frame 249 yet: read-ahead covers half a second from frame 0. */
	press(&v, "End");
	wait_present(f, &v, 249, 0);
	n = all_presents(&v, all, 4096);
	for (size_t i = 0; i < n; i++)
		marked |= all[i].loading && all[i].frame == 0;
	assert_true(marked);
	press(&v, "q");
	assert_int_equal(WEXITSTATUS(wait_preview_exit(f, &v)), 0);
	stop_sess(f, s);
}

/*
 * Playing: frames in order to the last, then it stops there; never faster
 * than the source's rate (it may be slower on a loaded machine).
 */
static void check_playback(struct fixture *f, const char *clip, uint64_t from)
{
	struct sess *s = new_sess(f, tu_clip(clip));
	static struct present all[8192];
	char from_text[32];
	struct pv v;
	size_t n, distinct = 0;
	double t_first = -1, t_last = -1;
	uint64_t last;

	open_sess(s, no_preview);
	last = s->video.frames - 1;
	snprintf(from_text, sizeof(from_text), "%" PRIu64, from);
	start_preview(f, s, &v, (const char *const[]){ "--frame", from_text, "--play", NULL });
	wait_present(f, &v, last, 0);
	n = all_presents(&v, all, 8192);
	for (size_t i = 0; i < n; i++) {
		if (all[i].loading)
			continue;
		if (i > 0 && all[i].frame < all[i - 1].frame)
			fail_msg("frame %" PRIu64 " shown after frame %" PRIu64, all[i].frame,
			         all[i - 1].frame);
		if (all[i].frame == from && t_first < 0)
			t_first = all[i].t;
		if (all[i].frame == last && t_last < 0)
			t_last = all[i].t;
		distinct += i == 0 || all[i].frame != all[i - 1].frame;
	}
	assert_true(t_first >= 0 && t_last >= t_first);
	assert_true(distinct >= (last - from) / 4);
	/* (last - from) frame periods at least, less one tick of slack. */
	if (t_last - t_first < (double)(last - from) / 25.0 - 0.05)
		fail_msg("%s played %" PRIu64 " frames in %.3f s: faster than 25 fps", clip, last - from,
		         t_last - t_first);
	press(&v, "q");
	assert_int_equal(WEXITSTATUS(wait_preview_exit(f, &v)), 0);
	stop_sess(f, s);
}

static void test_preview_plays_with_sound(void **state)
{
	check_playback(*state, "long.mp4", 200);
}

static void test_preview_plays_without_sound(void **state)
{
	check_playback(*state, "noaudio.mp4", 10);
}

/* --loop: from the last frame, playing goes on from the first, in order. */
static void test_preview_loops(void **state)
{
	struct fixture *f = *state;
	struct sess *s = new_sess(f, tu_clip("noaudio.mp4"));
	static struct present all[8192];
	struct pv v;
	size_t n, wrapped = 0;
	uint64_t last;

	open_sess(s, no_preview);
	last = s->video.frames - 1;
	start_preview(f, s, &v, (const char *const[]){ "--frame", "40", "--play", "--loop", NULL });
	wait_present(f, &v, last, 0);
	wait_present(f, &v, 5, 0);
	n = all_presents(&v, all, 8192);
	for (size_t i = 1; i < n; i++) {
		if (all[i].loading || all[i - 1].loading || all[i].frame >= all[i - 1].frame)
			continue;
		/* The one step back is from the end to the start. */
		if (all[i - 1].frame < last - 2 || all[i].frame > 2)
			fail_msg("frame %" PRIu64 " shown after frame %" PRIu64, all[i].frame,
			         all[i - 1].frame);
		wrapped++;
	}
	assert_true(wrapped >= 1);
	press(&v, "q");
	assert_int_equal(WEXITSTATUS(wait_preview_exit(f, &v)), 0);
	stop_sess(f, s);
}

/*
 * A frame that cannot be decoded: the previous picture stays with a
 * 'cannot decode' mark, the next one shows, and playback goes through it.
 */
static void test_preview_undecodable_frame(void **state)
{
	struct fixture *f = *state;
	struct sess *s = new_sess(f, tu_clip("corrupt.mp4"));
	struct reel_frame fr = { 0 };
	struct reel_video_info vi;
	struct present p;
	struct pv v;
	int64_t bad = -1;
	char text[32];
	int r;

	open_sess(s, no_preview);
	vi = s->video;
	vi.channels = 0;
	assert_int_equal(reel_frame_alloc(&vi, &fr), 0);
	/* The first frame in error that follows a good one and is followed by one. */
	for (int64_t i = 1; i + 1 < (int64_t)vi.frames && bad < 0; i++) {
		r = reel_client_read_frame(s->c, (uint64_t)i, 0, REEL_PRIO_INTERACTIVE, READ_TIMEOUT_MS,
		                           &fr, NULL);
		/* Any other failure is the decoder's reason for this frame, kept in its slot. */
		if (r == -ETIMEDOUT || r == -ESHUTDOWN || r == REEL_E_NOSESSION)
			fail_msg("frame %" PRId64 ": %s", i, reel_strerror(r));
		if (r < 0 && reel_client_read_frame(s->c, (uint64_t)i - 1, 0, REEL_PRIO_INTERACTIVE,
		                                    READ_TIMEOUT_MS, &fr, NULL) == 0 &&
		    reel_client_read_frame(s->c, (uint64_t)i + 1, 0, REEL_PRIO_INTERACTIVE,
		                           READ_TIMEOUT_MS, &fr, NULL) == 0)
			bad = i;
	}
	if (bad < 0)
		fail_msg("corrupt.mp4 has no undecodable frame between two good ones");
	snprintf(text, sizeof(text), "%" PRId64, bad - 1);
	start_preview(f, s, &v, (const char *const[]){ "--frame", text, NULL });
	wait_present(f, &v, (uint64_t)bad - 1, 0);
	press(&v, "Right");
	for (double deadline = tu_now_ms() + PRESENT_TIMEOUT_MS;;) {
		p = last_present(&v);
		if (p.frame == (uint64_t)bad - 1 && p.due == (uint64_t)bad && p.failed && p.loading)
			break;
		if (tu_now_ms() > deadline)
			fail_msg("frame %" PRId64 " was never marked as undecodable", bad);
		usleep(10000);
	}
	press(&v, "Right");
	wait_present(f, &v, (uint64_t)bad + 1, 0);
	/* Played from before it, it goes on to the end. */
	press(&v, "Home");
	wait_present(f, &v, 0, 0);
	press(&v, "space");
	wait_present(f, &v, vi.frames - 1, 0);
	press(&v, "q");
	assert_int_equal(WEXITSTATUS(wait_preview_exit(f, &v)), 0);
	stop_sess(f, s);
	reel_frame_free(&fr);
}

/* PNG files are RGB24: decoded with libav into img. */
static void decode_png(const char *path, struct image *img)
{
	AVFormatContext *fmt = NULL;
	AVCodecContext *ctx = NULL;
	const AVCodec *codec;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *frame = av_frame_alloc();

	assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
	assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
	codec = avcodec_find_decoder(fmt->streams[0]->codecpar->codec_id);
	assert_non_null(codec);
	assert_int_equal(codec->id, AV_CODEC_ID_PNG);
	ctx = avcodec_alloc_context3(codec);
	assert_int_equal(avcodec_parameters_to_context(ctx, fmt->streams[0]->codecpar), 0);
	assert_int_equal(avcodec_open2(ctx, codec, NULL), 0);
	assert_int_equal(av_read_frame(fmt, pkt), 0);
	assert_int_equal(avcodec_send_packet(ctx, pkt), 0);
	assert_int_equal(avcodec_receive_frame(ctx, frame), 0);
	assert_int_equal(frame->format, AV_PIX_FMT_RGB24);
	free(img->rgb);
	img->w = frame->width;
	img->h = frame->height;
	img->rgb = malloc((size_t)img->w * img->h * 3);
	assert_non_null(img->rgb);
	for (int y = 0; y < img->h; y++)
		memcpy(img->rgb + (size_t)y * img->w * 3, frame->data[0] + (size_t)y * frame->linesize[0],
		       (size_t)img->w * 3);
	av_frame_free(&frame);
	av_packet_free(&pkt);
	avcodec_free_context(&ctx);
	avformat_close_input(&fmt);
}

/* Run reel-preview without a display; exit code, stdout and stderr. */
static int run_preview(const char *const *args, char **out, char **err)
{
	char *argv[32], *display = getenv("DISPLAY") ? strdup(getenv("DISPLAY")) : NULL;
	int n = 0, code;

	argv[n++] = (char *)preview_bin();
	for (size_t i = 0; args[i]; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	unsetenv("DISPLAY");
	code = tu_run(argv, out, err);
	if (display)
		setenv("DISPLAY", display, 1);
	free(display);
	return code;
}

/* --snapshot N / --time T --out F: no window, the buffer's frame in a PNG that libav decodes. */
static void test_preview_snapshot(void **state)
{
	struct fixture *f = *state;
	struct sess *s = new_sess(f, tu_clip("h264-bframes.mp4"));
	struct reel_frame fr = { 0 }, other = { 0 };
	struct image img = { 0 };
	struct present whole = { .seen = true, .pw = 320, .ph = 240, .top = 240 };
	char png[4096], png2[4096], frame_text[32], *out, *err;
	int by_reel, by_preview;

	open_sess(s, no_preview);
	snprintf(png, sizeof(png), "%s/frame.png", f->dir);
	assert_int_equal(run_preview((const char *const[]){ "--session", s->name, "--snapshot", "12",
	                                                    "--out", png, NULL }, &out, &err), 0);
	assert_non_null(strstr(out, "frame 12,"));
	free(out);
	free(err);
	decode_png(png, &img);
	assert_int_equal(img.w, 320);
	assert_int_equal(img.h, 240);
	read_settled(s, 12, &fr, NULL);
	/* The image writer converts in the window's matrix: BT.601 for this untagged SD clip. */
	{
		struct comparison c = compare(&img, &whole, &fr, BT601);
		if (c.over || c.compared < MIN_COMPARED_SHARE * 320 * 240)
			fail_msg("snapshot of frame 12: %zu of %zu pixels differ (worst %d)", c.over,
			         c.compared, c.worst);
		printf("# the snapshot of frame 12: %zu pixels compared, worst difference %d\n",
		       c.compared, c.worst);
	}
	read_settled(s, 13, &other, NULL);
	assert_not_shows(&img, &whole, &other, BT601, "frame 13 in the snapshot of frame 12");
	assert_not_shows(&img, &whole, &fr, BT709, "frame 12 through BT.709 in the snapshot");

	/* --time T picks the frame 'reel frame --time T' picks (the index's real timestamps). */
	snprintf(png2, sizeof(png2), "%s/at.png", f->dir);
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "frame", s->name, "--time", "0.47",
	                                    "--out", png2, NULL }, &out, &err), 0);
	assert_int_equal(sscanf(out, "frame %d,", &by_reel), 1);
	free(out);
	free(err);
	assert_int_equal(run_preview((const char *const[]){ "--session", s->name, "--time", "0.47",
	                                                    "--out", png2, NULL }, &out, &err), 0);
	assert_int_equal(sscanf(out, "frame %d,", &by_preview), 1);
	assert_int_equal(by_preview, by_reel);
	assert_true(by_reel >= 11 && by_reel <= 12);
	free(out);
	free(err);
	/* ... and writes the same picture as --snapshot N. */
	snprintf(frame_text, sizeof(frame_text), "%d", by_reel);
	assert_int_equal(run_preview((const char *const[]){ "--session", s->name, "--snapshot",
	                                                    frame_text, "--out", png, NULL }, &out, &err),
	                 0);
	free(out);
	free(err);
	{
		size_t a, b;
		char *x = tu_slurp(png, &a), *y = tu_slurp(png2, &b);
		assert_true(a == b && memcmp(x, y, a) == 0);
		free(x);
		free(y);
	}
	stop_sess(f, s);
	reel_frame_free(&fr);
	reel_frame_free(&other);
	free(img.rgb);
}

/* Refusals: exit 2 for usage and bad input, naming the argument; 1 at run time; nothing written. */
static void test_preview_bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct sess *s = new_sess(f, tu_clip("h264-bframes.mp4"));
	char png[4096], gif[4096], *out, *err;
	const struct {
		const char *args[10];
		int code;
		const char *says;
	} cases[] = {
		{ { NULL }, 2, "--session" },
		{ { "--session", NULL }, 2, "needs a value" },
		{ { "--session", "S", "--bogus", NULL }, 2, "--bogus" },
		{ { "--session", "S", "extra", NULL }, 2, "extra" },
		{ { "--session", "S", "--snapshot", "abc", "--out", "x.png", NULL }, 2, "--snapshot abc" },
		{ { "--session", "S", "--snapshot", "-3", "--out", "x.png", NULL }, 2, "--snapshot -3" },
		{ { "--session", "S", "--snapshot", "5", NULL }, 2, "--out" },
		{ { "--session", "S", "--snapshot", "5", "--time", "1", "--out", "x.png", NULL }, 2,
		  "--time 1" },
		{ { "--session", "S", "--frame", "5", "--out", "x.png", NULL }, 2, "--snapshot" },
		{ { "--session", "S", "--out", "x.png", NULL }, 2, "which frame" },
		{ { "--session", "S", "--snapshot", "5", "--out", "x.png", "--play", NULL }, 2, "--play" },
		{ { "--session", "S", "--settled", NULL }, 2, "--settled" },
		{ { "--session", "no/such", "--snapshot", "1", "--out", "x.png", NULL }, 2, "no/such" },
		{ { "--session", "nosuchsession", "--snapshot", "1", "--out", "x.png", NULL }, 2,
		  "nosuchsession" },
		{ { "--session", "nosuchsession", NULL }, 2, "nosuchsession" },
	};

	open_sess(s, no_preview);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[12];
		size_t n = 0;
		int code;

		for (size_t j = 0; cases[i].args[j]; j++)
			args[n++] = cases[i].args[j] && !strcmp(cases[i].args[j], "S") ? s->name
			                                                                 : cases[i].args[j];
		args[n] = NULL;
		code = run_preview(args, &out, &err);
		if (code != cases[i].code || !strstr(err, cases[i].says) || strchr(err, '\n') !=
		    err + strlen(err) - 1)
			fail_msg("case %zu: exit %d (expected %d), stderr '%s' (expected one line naming "
			         "'%s')", i, code, cases[i].code, err, cases[i].says);
		free(out);
		free(err);
	}
	/* What only the live session can say: out of range, a bad time, a format it cannot write. */
	snprintf(png, sizeof(png), "%s/never.png", f->dir);
	snprintf(gif, sizeof(gif), "%s/never.gif", f->dir);
	assert_int_equal(run_preview((const char *const[]){ "--session", s->name, "--snapshot",
	                                                    "50", "--out", png, NULL }, &out, &err), 2);
	assert_non_null(strstr(err, "--snapshot 50: out of range"));
	free(out);
	free(err);
	assert_int_equal(run_preview((const char *const[]){ "--session", s->name, "--time", "abc",
	                                                    "--out", png, NULL }, &out, &err), 2);
	assert_non_null(strstr(err, "--time abc"));
	free(out);
	free(err);
	assert_int_equal(run_preview((const char *const[]){ "--session", s->name, "--snapshot", "1",
	                                                    "--out", gif, NULL }, &out, &err), 2);
	assert_non_null(strstr(err, gif));
	free(out);
	free(err);
	assert_int_equal(access(png, F_OK), -1);
	assert_int_equal(access(gif, F_OK), -1);
	/* A window needs a display: a failure at run time, and nothing of it left in the session. */
	assert_int_equal(run_preview((const char *const[]){ "--session", s->name, NULL }, &out, &err),
	                 1);
	assert_non_null(strstr(err, "cannot open a window"));
	free(out);
	free(err);
	/* With a display, a frame outside the video is refused before a window opens. */
	assert_int_equal(tu_run((char *[]){ (char *)preview_bin(), "--session", s->name, "--frame",
	                                    "9999", NULL }, &out, &err), 2);
	assert_non_null(strstr(err, "--frame 9999"));
	free(out);
	free(err);
	wait_previews(s, 0);
	/* --help says what a quick edit covers. */
	assert_int_equal(run_preview((const char *const[]){ "--help", NULL }, &out, &err), 0);
	assert_non_null(strstr(out, "the frame on screen to the end of the video"));
	free(out);
	free(err);
	stop_sess(f, s);
}

/*
 * `reel open` starts the preview when there is a display, lists it among
 * its stages, and `reel stop` closes it; a preview started by hand closes
 * when its session stops; a preview closed with q is not started again.
 */
static void test_preview_follows_its_session(void **state)
{
	struct fixture *f = *state;
	struct sess *s = new_sess(f, tu_clip("h264-bframes.mp4")), *t;
	struct pv v;
	char *out, *err, *json;
	int code;

	open_sess(s, (const char *const[]){ "--no-stages", NULL });
	wait_previews(s, 1);
	code = tu_run((char *[]){ (char *)reel_bin(), "status", s->name, "--json", NULL }, &json, &err);
	assert_int_equal(code, 0);
	assert_non_null(strstr(json, "\"role\":\"preview\""));
	free(json);
	free(err);
	stop_sess(f, s);

	/* Started by hand: the coordinator's end closes it (exit 0), no reply queue left. */
	t = new_sess(f, tu_clip("h264-bframes.mp4"));
	open_sess(t, no_preview);
	start_preview(f, t, &v, NULL);
	wait_present(f, &v, 0, 0);
	wait_previews(t, 1);
	reel_client_close(t->c);
	t->c = NULL;
	code = tu_run((char *[]){ (char *)reel_bin(), "stop", t->name, NULL }, &out, &err);
	assert_int_equal(code, 0);
	free(out);
	free(err);
	assert_int_equal(WEXITSTATUS(wait_preview_exit(f, &v)), 0);
	assert_int_equal(WEXITSTATUS(tu_wait(t->pid, GONE_TIMEOUT_MS)), 0);
	t->pid = 0;
	assert_int_equal(leftover_queues(t->name, v.pid, NULL, 0), 0);
	assert_session_gone(f, t->name);

	/* Started by reel open, closed with q: it stays closed. */
	s = new_sess(f, tu_clip("h264-bframes.mp4"));
	open_sess(s, (const char *const[]){ "--no-stages", NULL });
	wait_previews(s, 1);
	press_named(f, s->name, &v, "q");
	wait_previews(s, 0);
	/* A restart would come within 1.2 s (200 ms back-off, 1 s tick): give it more. */
	usleep(2500 * 1000);
	wait_previews(s, 0);
	stop_sess(f, s);
}

/*
 * What the preview reads of the buffer without asking the coordinator:
 * residency, versions, peeks that do not wait, a frame's sound alone.
 */
static void test_preview_buffer_views(void **state)
{
	struct fixture *f = *state;
	struct sess *s = new_sess(f, tu_clip("h264-bframes.mp4"));
	struct reel_frame whole = { 0 }, sound_memory = { 0 }, sound, bad, pic = { 0 };
	struct reel_video_info vi;
	uint8_t map[64];
	uint64_t n, v1, v2, st1, st2, seq;
	const double params[4] = { 0 };

	open_sess(s, stages_no_preview);
	wait_stages(s, 4);
	vi = s->video;
	assert_true(vi.frames == 50 && vi.channels > 0);
	assert_int_equal(reel_client_resident(s->c, 0, vi.frames, map, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(reel_client_frame_version(s->c, 5, &v1, &st1), -EAGAIN);
	assert_int_equal(reel_frame_alloc(&vi, &whole), 0);
	assert_int_equal(reel_client_read_frame(s->c, 5, REEL_READ_PEEK, 0, 0, &whole, NULL), -EAGAIN);
	/* Ten frames in: exactly those (and what decoding them brought along) are resident. */
	assert_int_equal(reel_client_need(s->c, 0, 9, REEL_PRIO_INTERACTIVE, READ_TIMEOUT_MS, NULL),
	                 0);
	assert_int_equal(reel_client_resident(s->c, 0, vi.frames, map, &n), 0);
	assert_true(n >= 10);
	for (uint64_t i = 0; i < vi.frames; i++)
		assert_true(map[i] == (i < n ? REEL_FRAME_RESIDENT : REEL_FRAME_ABSENT));
	assert_int_equal(reel_client_resident(s->c, 8, 2, map, &n), 0);
	assert_true(n == 2 && map[0] == REEL_FRAME_RESIDENT && map[1] == REEL_FRAME_RESIDENT);
	assert_int_equal(reel_client_resident(s->c, 49, 2, map, NULL), REEL_E_RANGE);
	assert_int_equal(reel_client_frame_version(s->c, 50, &v1, NULL), REEL_E_RANGE);

	/* A peek of a resident frame is the frame; its sound alone is the same sound. */
	assert_int_equal(reel_client_frame_version(s->c, 5, &v1, &st1), 0);
	assert_int_equal(reel_client_read_frame(s->c, 5, REEL_READ_PEEK, 0, 0, &whole, NULL), 0);
	assert_int_equal(reel_frame_alloc(&vi, &sound_memory), 0);
	sound = sound_memory;
	sound.plane[0] = NULL;
	assert_int_equal(reel_client_read_frame(s->c, 5, REEL_READ_PEEK, 0, 0, &sound, NULL), 0);
	assert_true(sound.audio_samples > 0 && sound.audio_samples == whole.audio_samples);
	assert_memory_equal(sound.audio, whole.audio, (size_t)sound.audio_samples * vi.channels *
	                    sizeof(float));
	/* Neither a picture nor a sound to copy into is refused. */
	bad = sound;
	bad.audio = NULL;
	assert_int_equal(reel_client_read_frame(s->c, 5, REEL_READ_PEEK, 0, 0, &bad, NULL), -EINVAL);

	/* An edit that lands changes the version and the state; one elsewhere changes neither. */
	assert_int_equal(reel_client_command(s->c, REEL_OP_INVERT, params, 5, 5, 10000, &seq), 0);
	read_settled(s, 5, &pic, &st2);
	assert_int_equal(reel_client_frame_version(s->c, 5, &v2, &st2), 0);
	assert_true(v2 != v1 && st2 >= seq && st1 < seq);
	assert_int_equal(reel_client_command(s->c, REEL_OP_INVERT, params, 7, 7, 10000, &seq), 0);
	read_settled(s, 7, &pic, NULL);
	assert_int_equal(reel_client_frame_version(s->c, 5, &v1, &st1), 0);
	assert_true(v1 == v2 && st1 == st2);
	stop_sess(f, s);
	reel_frame_free(&whole);
	reel_frame_free(&sound_memory);
	reel_frame_free(&pic);
}

static int filtered(const struct CMUnitTest *tests, size_t n, struct CMUnitTest *out)
{
	const char *pattern = getenv("REEL_TEST_FILTER");
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (!pattern || strstr(tests[i].name, pattern))
			out[k++] = tests[i];
	return (int)k;
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_preview_shows_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preview_bt709_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preview_key_edits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preview_navigation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preview_letterbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preview_loading_mark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preview_undecodable_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preview_plays_with_sound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preview_plays_without_sound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preview_loops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preview_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preview_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preview_follows_its_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preview_buffer_views, setup, teardown),
	};
	struct CMUnitTest chosen[sizeof(tests) / sizeof(tests[0])];

	/* Stages of a coordinator a test killed become ours, and are reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	return _cmocka_run_group_tests("preview", chosen, (size_t)filtered(tests, sizeof(tests) /
	                               sizeof(tests[0]), chosen), NULL, NULL);
}
