/*
 * The stages as people run them: `reel open` with its real editor, effect
 * workers and audio stage (or stages of the test's own on the real stage
 * library), edits sent with the real `reel send`, real queues, real buffer
 * files, real video decoded by libav.
 *
 * Every frame a test reads back is compared bit for bit with a model
 * computed in this file: the source pictures decoded here with plain libav,
 * the source sound as a session with no edits materialises it, then each
 * edit in effect applied in journal order by a plain implementation written
 * here from the ops' definitions (see tests/unit/test-ops.c and the op
 * files): per-pixel formulas, flips by index, the box blur through an
 * integral image over the replicated edges, fades by their k / n rule, a
 * freeze as a copy of the held frame as it stood before it, gain and
 * normalize by their gains in double stored as float.  None of it calls
 * the ops of libreel-ops.
 *
 * Each test runs in its own temp folder with its own runtime folder
 * (REEL_RUNTIME_DIR) and session names, and checks after every stop that no
 * session file, no queue (and, when the mqueue file system is mounted at
 * $REEL_TEST_MQUEUE_DIR or /dev/mqueue, no reply queue either) and no
 * process naming the session is left.  The test process is a child
 * subreaper, so the stages of a coordinator it killed become its children
 * and are reaped, never left behind.
 *
 * REEL_TEST_FILTER=PATTERN runs only the matching tests, REEL_TEST_SEED=N
 * changes the random faults of test_stages_resume_after_stop_and_crash,
 * REEL_TEST_KEEP=1 keeps each test's folder (logs, buffers).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>

#include "buffer/buffer.h"
#include "buffer/journal.h"
#include "buffer/slot.h"
#include "bus/bus.h"
#include "bus/session.h"
#include "edit/ops-impl.h"
#include "reel/client.h"
#include "reel/error.h"
#include "reel/ops.h"
#include "reel/stage.h"
#include "testutil.h"

#define MAX_SESS 16
#define MAX_KIDS 16
#define MAX_EDITS 64
#define READY_TIMEOUT_MS 15000
#define IDLE_TIMEOUT_MS 60000
#define NEED_TIMEOUT_MS 60000
#define GONE_TIMEOUT_MS 15000

/* ------------------------------------------------------------ sessions */

struct sess {
	char name[64];
	char buffer[4096];
	char log[4096];
	char clip[4096];
	pid_t pid;                    /* the coordinator, our child; 0 when not running */
	struct reel_client *c;        /* connected while it runs */
};

struct fixture {
	char *dir;
	char run[4096];
	struct sess *sess[MAX_SESS];
	size_t nsess;
	pid_t kids[MAX_KIDS];         /* our own stage processes */
};

static const char *reel_bin(void)
{
	const char *bin = getenv("REEL_BIN");
	assert_non_null(bin);
	return bin;
}

/* A stage program of the build tree: <build>/<folder>/<name>, next to <build>/tools/reel. */
static const char *stage_bin(const char *folder, const char *name)
{
	static char path[4096 + 64];
	char dir[4096], *slash;

	snprintf(dir, sizeof(dir), "%s", reel_bin());
	slash = strrchr(dir, '/');
	assert_non_null(slash);
	*slash = 0;
	snprintf(path, sizeof(path), "%s/../%s/%s", dir, folder, name);
	if (access(path, X_OK) != 0)
		fail_msg("stage program %s not found", path);
	return path;
}

static const char *mqueue_dir(void)
{
	const char *d = getenv("REEL_TEST_MQUEUE_DIR");
	return d && *d ? d : "/dev/mqueue";
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = tu_tempdir();
	snprintf(f->run, sizeof(f->run), "%s/run", f->dir);
	mkdir(f->run, 0700);
	setenv("REEL_RUNTIME_DIR", f->run, 1);
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

/* Pids we wait for ourselves, which tu_reap_adopted must leave alone. */
static size_t own_pids(const struct fixture *f, pid_t *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nsess && n < max; i++)
		if (f->sess[i]->pid > 0)
			out[n++] = f->sess[i]->pid;
	for (size_t i = 0; i < MAX_KIDS && n < max; i++)
		if (f->kids[i] > 0)
			out[n++] = f->kids[i];
	return n;
}

static void reap_adopted(const struct fixture *f)
{
	pid_t keep[MAX_SESS + MAX_KIDS];
	size_t n = own_pids(f, keep, MAX_SESS + MAX_KIDS);

	tu_reap_adopted(keep, n);
}

/* Queue files of the session in the mqueue file system: "reel.<uid>.<session>.*". */
static size_t leftover_queues(const char *session, char *names, size_t len)
{
	char prefix[128];
	DIR *d = opendir(mqueue_dir());
	struct dirent *de;
	size_t n = 0;

	if (names && len)
		names[0] = 0;
	if (!d)
		return 0;
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

/* Wait (bounded) until no process names the session; adopted ones are reaped meanwhile. */
static void wait_no_procs(struct fixture *f, const char *session, int timeout_ms)
{
	double deadline = tu_now_ms() + timeout_ms;
	pid_t left[8];
	size_t n;

	for (;;) {
		reap_adopted(f);
		n = tu_session_procs(session, left, 8);
		if (n == 0)
			return;
		if (tu_now_ms() > deadline)
			fail_msg("session %s: %zu processes still running after %d ms (pid %ld first)", session,
			         n, timeout_ms, (long)left[0]);
		usleep(5000);
	}
}

/* No session file, no queue, no process of the session. */
static void assert_session_gone(struct fixture *f, const char *session)
{
	char name[REEL_QUEUE_NAME_MAX], names[1024];
	struct reel_session_record rec;

	assert_int_equal(reel_session_read(session, &rec), REEL_E_NOSESSION);
	if (tu_session_queue_left(session, name, sizeof(name)))
		fail_msg("queue %s is left behind", name);
	wait_no_procs(f, session, GONE_TIMEOUT_MS);
	if (leftover_queues(session, names, sizeof(names)))
		fail_msg("queues left behind by session %s:%s", session, names);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < f->nsess; i++) {
		struct sess *s = f->sess[i];
		reel_client_close(s->c);
		s->c = NULL;
		if (s->pid > 0) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			s->pid = 0;
		}
	}
	tu_kill_all(f->kids, MAX_KIDS);
	memset(f->kids, 0, sizeof(f->kids));
	/* What a failed test left running: the stages of its sessions, found by their arguments. */
	for (size_t i = 0; i < f->nsess; i++) {
		struct sess *s = f->sess[i];
		pid_t left[32];
		size_t n = tu_session_procs(s->name, left, 32);
		char name[REEL_QUEUE_NAME_MAX];

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
	}
	for (size_t i = 0; i < f->nsess; i++)
		free(f->sess[i]);
	if (getenv("REEL_TEST_KEEP"))
		fprintf(stderr, "# kept %s\n", f->dir);
	else
		tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static struct sess *new_sess(struct fixture *f, const char *clip_name)
{
	struct sess *s = calloc(1, sizeof(*s));
	const char *clip = tu_clip(clip_name);

	assert_non_null(s);
	if (!clip)
		fail_msg("test clip %s is missing (REEL_TEST_CLIPS)", clip_name);
	assert_true(f->nsess < MAX_SESS);
	f->sess[f->nsess++] = s;
	tu_session_name(s->name, sizeof(s->name));
	snprintf(s->buffer, sizeof(s->buffer), "%s/%s.reel", f->dir, s->name);
	snprintf(s->log, sizeof(s->log), "%s/%s.log", f->dir, s->name);
	snprintf(s->clip, sizeof(s->clip), "%s", clip);
	return s;
}

static void show_log(const struct sess *s)
{
	size_t len;
	char *log = tu_slurp(s->log, &len);

	if (!log)
		return;
	/* The end of it: what led to the failure. */
	fprintf(stderr, "# --- end of %s ---\n%s\n# ---\n", s->log, len > 6000 ? log + len - 6000 : log);
	free(log);
}

/*
 * `reel open CLIP --session S --buffer B --verbose [extra...]`, output into
 * the session's log; returns once a client connects (s->c).
 */
static void open_sess(struct fixture *f, struct sess *s, const char *const *extra)
{
	char *argv[32];
	int n = 0;
	double deadline;

	argv[n++] = (char *)reel_bin();
	argv[n++] = (char *)"open";
	argv[n++] = s->clip;
	argv[n++] = (char *)"--session";
	argv[n++] = s->name;
	argv[n++] = (char *)"--buffer";
	argv[n++] = s->buffer;
	argv[n++] = (char *)"--verbose";
	for (size_t i = 0; extra && extra[i]; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	assert_null(s->c);
	assert_int_equal(s->pid, 0);
	s->pid = tu_spawn(argv, s->log);
	deadline = tu_now_ms() + READY_TIMEOUT_MS;
	for (;;) {
		int status;
		if (reel_client_connect(s->name, &s->c) == 0) {
			tu_session_remember(s->name);
			return;
		}
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			show_log(s);
			fail_msg("session %s: reel open exited early with status %d", s->name, status);
		}
		if (tu_now_ms() > deadline) {
			show_log(s);
			fail_msg("session %s never became ready", s->name);
		}
		usleep(5000);
	}
	(void)f;
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
			show_log(s);
			fail_msg("session %s: %" PRIu64 " stages attached, expected %" PRIu64, s->name,
			         st.stages, want);
		}
		usleep(5000);
	}
}

/* Wait (bounded) until no command is unfinished, and the journal holds `journal` entries (0: any). */
static void wait_idle(struct sess *s, uint64_t journal)
{
	double deadline = tu_now_ms() + IDLE_TIMEOUT_MS;
	struct reel_status st;

	for (;;) {
		status_of(s, &st);
		if (st.pending == 0 && (journal == 0 || st.journal == journal))
			return;
		if (tu_now_ms() > deadline) {
			show_log(s);
			fail_msg("session %s not idle: journal %" PRIu64 " pending %" PRIu64 " inflight %" PRIu64
			         " stages %" PRIu64, s->name, st.journal, st.pending, st.inflight, st.stages);
		}
		usleep(10000);
	}
}

/* `reel stop S`: exit 0, the coordinator exits 0, and the session leaves nothing behind. */
static void stop_sess(struct fixture *f, struct sess *s)
{
	char *out, *err;
	int st, code;

	reel_client_close(s->c);
	s->c = NULL;
	code = tu_run((char *[]){ (char *)reel_bin(), "stop", s->name, NULL }, &out, &err);
	if (code != 0) {
		show_log(s);
		fail_msg("reel stop %s: exit %d: %s", s->name, code, err);
	}
	free(out);
	free(err);
	st = tu_wait(s->pid, 20000);
	s->pid = 0;
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		show_log(s);
		fail_msg("session %s: reel open ended with status %d after a stop", s->name, st);
	}
	assert_session_gone(f, s->name);
}

/* The coordinator dies (SIGKILL); its stages notice and leave. */
static void crash_sess(struct fixture *f, struct sess *s)
{
	int st;

	reel_client_close(s->c);
	s->c = NULL;
	kill(s->pid, SIGKILL);
	st = tu_wait(s->pid, 10000);
	s->pid = 0;
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	(void)f;
}

/* ------------------------------------------------------------- the CLI */

/* Run `reel ARGS...` (NULL-terminated); the exit code, output and errors in *out, *err. */
static int reel_cmd(char **out, char **err, ...)
{
	char *argv[64];
	va_list ap;
	int n = 0;

	argv[n++] = (char *)reel_bin();
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *)) != NULL;) {
		assert_true(n < 63);
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	return tu_run(argv, out, err);
}
#define REEL(out, err, ...) reel_cmd(out, err, __VA_ARGS__, (char *)NULL)

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Split a copy of text at blanks into words[] (at most max - 1, NULL-terminated); the count. */
static int split(char *text, char **words, int max)
{
	int n = 0;

	for (char *p = strtok(text, " "); p && n < max - 1; p = strtok(NULL, " "))
		words[n++] = p;
	words[n] = NULL;
	return n;
}

/*
 * `reel send S EDIT... [--wait] --json`; the exit code.  *ret_seq gets the
 * sequence and ret_state (may be NULL) the state printed with --wait.
 */
static int send_cli(struct sess *s, const char *edit, bool wait, uint64_t *ret_seq, char *ret_state,
                    size_t state_len, char **ret_err)
{
	char copy[512], *words[40], *argv[48], *out, *err;
	int n = 0, nw, code;
	unsigned long long seq = 0;

	snprintf(copy, sizeof(copy), "%s", edit);
	nw = split(copy, words, 40);
	argv[n++] = (char *)reel_bin();
	argv[n++] = (char *)"send";
	argv[n++] = s->name;
	for (int i = 0; i < nw; i++)
		argv[n++] = words[i];
	if (wait)
		argv[n++] = (char *)"--wait";
	argv[n++] = (char *)"--json";
	argv[n] = NULL;
	code = tu_run(argv, &out, &err);
	if (ret_seq)
		*ret_seq = tu_json_u64(out, "seq", &seq) == 0 ? seq : 0;
	if (ret_state && state_len) {
		const char *p = strstr(out, "\"state\":\"");
		ret_state[0] = 0;
		if (p) {
			size_t i = 0;
			for (p += 9; *p && *p != '"' && i + 1 < state_len; p++)
				ret_state[i++] = *p;
			ret_state[i] = 0;
		}
	}
	free(out);
	if (ret_err)
		*ret_err = err;
	else
		free(err);
	return code;
}

/* Send an edit that must be accepted (and, with wait, applied); its sequence. */
static uint64_t send_ok(struct sess *s, const char *edit, bool wait)
{
	char state[32], *err;
	uint64_t seq;
	int code = send_cli(s, edit, wait, &seq, state, sizeof(state), &err);

	if (code != 0 || seq == 0 || (wait && strcmp(state, "applied") != 0)) {
		show_log(s);
		fail_msg("reel send %s %s%s: exit %d, state '%s': %s", s->name, edit, wait ? " --wait" : "",
		         code, state, err);
	}
	free(err);
	return seq;
}

static char *status_json(struct sess *s)
{
	char *out, *err;
	int code = REEL(&out, &err, "status", s->name, "--json");

	if (code != 0)
		fail_msg("reel status %s --json: exit %d: %s", s->name, code, err);
	free(err);
	return out;
}

static char *edits_json(const char *session_or_buffer)
{
	char *out, *err;
	int code = REEL(&out, &err, "edits", (char *)session_or_buffer, "--json");

	if (code != 0)
		fail_msg("reel edits %s --json: exit %d: %s", session_or_buffer, code, err);
	free(err);
	return out;
}

/* ------------------------------------------------- a little JSON reading */

/* Past the string that starts at p ('"'). */
static const char *json_skip_string(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p ? p + 1 : p;
}

/* Past the object or array that starts at p. */
static const char *json_skip_value(const char *p)
{
	int depth = 0;

	do {
		if (*p == '"') {
			p = json_skip_string(p);
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			depth--;
		p++;
	} while (*p && depth > 0);
	return p;
}

/* The objects of the array after "key":[ (key NULL: json is the array), each as a string. */
static size_t json_objects(const char *json, const char *key, char **objs, size_t max)
{
	char pat[64];
	const char *p;
	size_t n = 0;

	if (key) {
		snprintf(pat, sizeof(pat), "\"%s\":[", key);
		p = strstr(json, pat);
		assert_non_null(p);
		p += strlen(pat);
	} else {
		p = strchr(json, '[');
		assert_non_null(p);
		p++;
	}
	for (;;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p != '{')
			break;
		{
			const char *end = json_skip_value(p);
			assert_true(n < max);
			objs[n++] = strndup(p, (size_t)(end - p));
			p = end;
		}
	}
	return n;
}

static void json_free_objects(char **objs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(objs[i]);
}

static uint64_t jnum(const char *obj, const char *key)
{
	unsigned long long v;

	if (tu_json_u64(obj, key, &v) < 0)
		fail_msg("no number \"%s\" in %s", key, obj);
	return v;
}

static double jdouble(const char *obj, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(obj, pat);
	if (!p)
		fail_msg("no \"%s\" in %s", key, obj);
	return strtod(p + strlen(pat), NULL);
}

/* The string value of key, unescaped as far as these tests need (\" and \\). */
static void jstr(const char *obj, const char *key, char *buf, size_t len)
{
	char pat[64];
	const char *p;
	size_t i = 0;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(obj, pat);
	buf[0] = 0;
	if (!p)
		return;
	for (p += strlen(pat); *p && *p != '"' && i + 1 < len; p++) {
		if (*p == '\\' && p[1])
			p++;
		buf[i++] = *p;
	}
	buf[i] = 0;
}

/* The numbers of "params":[...]. */
static int jparams(const char *obj, double *params, int max)
{
	const char *p = strstr(obj, "\"params\":[");
	int n = 0;

	assert_non_null(p);
	p += strlen("\"params\":[");
	while (*p && *p != ']' && n < max) {
		char *end;
		params[n++] = strtod(p, &end);
		p = *end == ',' ? end + 1 : end;
	}
	return n;
}

/* ------------------------------------------------------------ snapshots */

/*
 * Every frame of a session as it reads back: packed YUV 4:2:0 (Y, then U,
 * then V, rows without padding) and each frame's interleaved samples, with
 * a hash of each.
 */
struct snap {
	uint64_t n;
	uint32_t w, h, cw, ch;
	size_t pic;
	uint32_t channels, cap;
	uint8_t *pix;                 /* n * pic */
	float *audio;                 /* n * cap * channels, zeros past ns[f] */
	uint32_t *ns;                 /* samples per channel of each frame */
	uint64_t *hash_pix, *hash_audio;
};

static void snap_alloc(struct snap *s, uint64_t n, uint32_t w, uint32_t h, uint32_t channels,
                       uint32_t cap)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->w = w;
	s->h = h;
	s->cw = (w + 1) / 2;
	s->ch = (h + 1) / 2;
	s->pic = (size_t)w * h + 2 * (size_t)s->cw * s->ch;
	s->channels = channels;
	s->cap = cap;
	s->pix = calloc(n, s->pic);
	s->audio = calloc(n * (size_t)(cap ? cap : 1) * (channels ? channels : 1), sizeof(float));
	s->ns = calloc(n, sizeof(*s->ns));
	s->hash_pix = calloc(n, sizeof(uint64_t));
	s->hash_audio = calloc(n, sizeof(uint64_t));
	assert_true(s->pix && s->audio && s->ns && s->hash_pix && s->hash_audio);
}

static void snap_free(struct snap *s)
{
	free(s->pix);
	free(s->audio);
	free(s->ns);
	free(s->hash_pix);
	free(s->hash_audio);
	memset(s, 0, sizeof(*s));
}

static void snap_copy(struct snap *dst, const struct snap *src)
{
	snap_alloc(dst, src->n, src->w, src->h, src->channels, src->cap);
	memcpy(dst->pix, src->pix, src->n * src->pic);
	memcpy(dst->audio, src->audio, src->n * (size_t)(src->cap ? src->cap : 1) *
	                                (src->channels ? src->channels : 1) * sizeof(float));
	memcpy(dst->ns, src->ns, src->n * sizeof(*src->ns));
}

static uint8_t *pic_of(const struct snap *s, uint64_t f)
{
	return s->pix + f * s->pic;
}

static float *audio_of(const struct snap *s, uint64_t f)
{
	return s->audio + f * (size_t)s->cap * s->channels;
}

/* Plane p of frame f: its bytes, width and height. */
static uint8_t *plane_of(const struct snap *s, uint64_t f, int p, int *w, int *h)
{
	uint8_t *base = pic_of(s, f);

	*w = p ? (int)s->cw : (int)s->w;
	*h = p ? (int)s->ch : (int)s->h;
	if (p == 0)
		return base;
	return base + (size_t)s->w * s->h + (size_t)(p - 1) * s->cw * s->ch;
}

static uint64_t fnv(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static void snap_hash(struct snap *s)
{
	for (uint64_t f = 0; f < s->n; f++) {
		s->hash_pix[f] = fnv(pic_of(s, f), s->pic);
		s->hash_audio[f] = fnv(audio_of(s, f), (size_t)s->ns[f] * s->channels * sizeof(float)) ^
		                   s->ns[f];
	}
}

/* Copy frame f out of `slot` under the seqlock; false when the slot does not hold it READY now. */
static bool copy_frame(struct reel_buffer *b, uint32_t slot, uint64_t f, struct snap *out)
{
	struct reel_slot_info si, after;
	struct reel_frame view;
	uint32_t v = reel_slot_read_begin(b, slot);

	if ((v & 1u) || reel_slot_get(b, slot, &si) < 0 || si.frame != (int64_t)f ||
	    si.state != REEL_SLOT_READY || reel_buffer_frame(b, slot, &view) < 0)
		return false;
	for (int p = 0; p < 3; p++) {
		int w, h;
		uint8_t *dst = plane_of(out, f, p, &w, &h);
		assert_int_equal(view.width[p], (uint32_t)w);
		assert_int_equal(view.height[p], (uint32_t)h);
		for (int y = 0; y < h; y++)
			memcpy(dst + (size_t)y * w, view.plane[p] + (size_t)y * view.stride[p], (size_t)w);
	}
	if (out->channels) {
		if (si.audio_samples > out->cap)
			return false;
		out->ns[f] = si.audio_samples;
		memset(audio_of(out, f), 0, (size_t)out->cap * out->channels * sizeof(float));
		memcpy(audio_of(out, f), view.audio, (size_t)si.audio_samples * out->channels * sizeof(float));
	}
	return reel_slot_read_validate(b, slot, v) && reel_slot_get(b, slot, &after) == 0 &&
	       after.frame == (int64_t)f && after.state == REEL_SLOT_READY;
}

/*
 * Every frame of the session, settled (NEED answered once no unfinished
 * command covers it), copied under the slot's seqlock from a read-only map
 * of the buffer.  order (may be NULL: 0, 1, ...) says in which order the
 * frames are asked for; with a cache smaller than the clip they are asked
 * for one by one.
 */
static void read_frames(struct sess *s, const uint64_t *order, struct snap *out)
{
	struct reel_buffer *b;
	const struct reel_buffer_info *in;
	bool identity;
	uint64_t n;

	assert_non_null(s->c);
	assert_int_equal(reel_buffer_open_readonly(reel_client_record(s->c)->buffer_path, &b), 0);
	in = reel_buffer_info(b);
	n = in->frame_count;
	snap_alloc(out, n, in->width, in->height, in->sample_rate ? in->channels : 0,
	           in->sample_rate ? in->audio_capacity : 0);
	identity = in->slot_count >= in->frame_count;
	for (uint64_t i = 0; i < n;) {
		/* Whole runs when every frame has its own slot; one frame at a time otherwise. */
		uint64_t first = order ? order[i] : i, last = first;
		uint32_t slot;
		int r;

		if (identity && !order)
			last = n - 1;
		r = reel_client_need_settled(s->c, first, last, REEL_PRIO_INTERACTIVE, NEED_TIMEOUT_MS,
		                             &slot);
		if (r < 0) {
			show_log(s);
			fail_msg("session %s: need %" PRIu64 "-%" PRIu64 ": %s", s->name, first, last,
			         reel_strerror(r));
		}
		for (uint64_t f = first; f <= last; f++) {
			uint32_t at = identity ? (uint32_t)f : slot;
			int tries = 0;

			while (!copy_frame(b, at, f, out)) {
				/* Evicted or rebuilt meanwhile: ask for it again. */
				if (++tries > 200)
					fail_msg("session %s: frame %" PRIu64 " never stayed READY", s->name, f);
				r = reel_client_need_settled(s->c, f, f, REEL_PRIO_INTERACTIVE, NEED_TIMEOUT_MS,
				                             &slot);
				if (r < 0)
					fail_msg("session %s: need %" PRIu64 ": %s", s->name, f, reel_strerror(r));
				at = identity ? (uint32_t)f : slot;
			}
		}
		i += last - first + 1;
	}
	reel_buffer_close(b);
	snap_hash(out);
}

/* got equals want, frame by frame, pixels and samples; a clear message at the first difference. */
static void assert_snap_equal(const struct snap *got, const struct snap *want, const char *what)
{
	assert_int_equal(got->n, want->n);
	assert_int_equal(got->w, want->w);
	assert_int_equal(got->h, want->h);
	assert_int_equal(got->channels, want->channels);
	for (uint64_t f = 0; f < got->n; f++) {
		if (memcmp(pic_of(got, f), pic_of(want, f), got->pic) != 0) {
			for (int p = 0; p < 3; p++) {
				int w, h;
				uint8_t *a = plane_of(got, f, p, &w, &h), *b = plane_of(want, f, p, &w, &h);
				size_t diff = 0, first = SIZE_MAX;
				for (size_t i = 0; i < (size_t)w * h; i++)
					if (a[i] != b[i]) {
						diff++;
						if (first == SIZE_MAX)
							first = i;
					}
				if (diff)
					fail_msg("%s: frame %" PRIu64 " plane %d differs in %zu of %d bytes; first at "
					         "(%zu,%zu): %u, expected %u", what, f, p, diff, w * h, first % (size_t)w,
					         first / (size_t)w, a[first], b[first]);
			}
		}
		if (got->ns[f] != want->ns[f])
			fail_msg("%s: frame %" PRIu64 " has %u samples, expected %u", what, f, got->ns[f],
			         want->ns[f]);
		for (size_t i = 0; i < (size_t)got->ns[f] * got->channels; i++)
			if (memcmp(&audio_of(got, f)[i], &audio_of(want, f)[i], sizeof(float)) != 0)
				fail_msg("%s: frame %" PRIu64 " sample value %zu is %.9g, expected %.9g", what, f, i,
				         (double)audio_of(got, f)[i], (double)audio_of(want, f)[i]);
	}
}

/* Two runs read back the same: every frame's hashes equal (and then the bytes, to be sure). */
static void assert_same_hashes(const struct snap *a, const struct snap *b, const char *what)
{
	assert_int_equal(a->n, b->n);
	for (uint64_t f = 0; f < a->n; f++)
		if (a->hash_pix[f] != b->hash_pix[f] || a->hash_audio[f] != b->hash_audio[f])
			assert_snap_equal(a, b, what);
	assert_snap_equal(a, b, what);
}

/* ----------------------------------------------------- the source frames */

/* Every frame of path decoded by plain libav in presentation order, packed YUV420P. */
static uint8_t *libav_frames(const char *path, uint64_t *ret_n, int *ret_w, int *ret_h)
{
	AVFormatContext *fmt = NULL;
	const AVCodec *codec;
	AVCodecContext *dec;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *frame = av_frame_alloc();
	uint8_t *out = NULL;
	size_t size = 0, cap = 0, n = 0;
	int stream, w = 0, h = 0;

	assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
	assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
	stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	assert_true(stream >= 0);
	dec = avcodec_alloc_context3(codec);
	avcodec_parameters_to_context(dec, fmt->streams[stream]->codecpar);
	assert_int_equal(avcodec_open2(dec, codec, NULL), 0);
	for (int eof = 0;;) {
		int r;
		if (!eof) {
			r = av_read_frame(fmt, pkt);
			if (r < 0) {
				eof = 1;
				avcodec_send_packet(dec, NULL);
			} else {
				if (pkt->stream_index == stream)
					avcodec_send_packet(dec, pkt);
				av_packet_unref(pkt);
			}
		}
		while ((r = avcodec_receive_frame(dec, frame)) == 0) {
			assert_int_equal(frame->format, AV_PIX_FMT_YUV420P);
			if (!out) {
				w = frame->width;
				h = frame->height;
				size = (size_t)av_image_get_buffer_size(AV_PIX_FMT_YUV420P, w, h, 1);
			}
			assert_int_equal(frame->width, w);
			assert_int_equal(frame->height, h);
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				out = realloc(out, cap * size);
				assert_non_null(out);
			}
			av_image_copy_to_buffer(out + n * size, (int)size, (const uint8_t *const *)frame->data,
			                        frame->linesize, AV_PIX_FMT_YUV420P, w, h, 1);
			n++;
			av_frame_unref(frame);
		}
		if (r == AVERROR_EOF)
			break;
	}
	av_frame_free(&frame);
	av_packet_free(&pkt);
	avcodec_free_context(&dec);
	avformat_close_input(&fmt);
	assert_non_null(out);
	*ret_n = n;
	*ret_w = w;
	*ret_h = h;
	return out;
}

/*
 * The source of a clip: pictures decoded here by plain libav, sound as a
 * session without edits (and without stages) materialises it.  That
 * session's pictures must be libav's, bit for bit.  Made once per clip.
 */
static struct {
	char name[64];
	struct snap s;
} sources[4];

static const struct snap *source_of(struct fixture *f, const char *clip_name)
{
	struct sess *s;
	struct snap got;
	uint8_t *pix;
	uint64_t n;
	int w, h;
	size_t i;

	for (i = 0; i < 4 && sources[i].name[0]; i++)
		if (!strcmp(sources[i].name, clip_name))
			return &sources[i].s;
	assert_true(i < 4);
	s = new_sess(f, clip_name);
	pix = libav_frames(s->clip, &n, &w, &h);
	open_sess(f, s, (const char *[]){ "--no-stages", NULL });
	read_frames(s, NULL, &got);
	stop_sess(f, s);
	assert_int_equal(got.n, n);
	assert_int_equal(got.w, (uint32_t)w);
	assert_int_equal(got.h, (uint32_t)h);
	for (uint64_t fr = 0; fr < n; fr++)
		if (memcmp(pic_of(&got, fr), pix + fr * got.pic, got.pic) != 0)
			fail_msg("%s: frame %" PRIu64 " as materialised differs from plain libav's", clip_name,
			         fr);
	free(pix);
	snprintf(sources[i].name, sizeof(sources[i].name), "%s", clip_name);
	sources[i].s = got;
	return &sources[i].s;
}

/* ------------------------------------------------------------- the model */

/* An edit as `reel send` takes it, and what the model makes of it. */
struct medit {
	char text[128];
	uint32_t op;
	double p[4];
	int64_t first, last;
};

/* Parse "OP [PARAMS] [--frames A-B|A]" the way the command line does. */
static struct medit medit_of(const char *text, uint64_t frames)
{
	struct medit e;
	char copy[128], *words[16];
	const struct reel_op_desc *d;
	int nw, np = 0;

	memset(&e, 0, sizeof(e));
	snprintf(e.text, sizeof(e.text), "%s", text);
	snprintf(copy, sizeof(copy), "%s", text);
	nw = split(copy, words, 16);
	assert_true(nw >= 1);
	e.op = reel_op_by_name(words[0]);
	d = reel_op_get(e.op);
	if (!d)
		fail_msg("unknown op in '%s'", text);
	e.first = 0;
	e.last = (int64_t)frames - 1;
	for (int i = 1; i < nw; i++) {
		if (!strcmp(words[i], "--frames") && i + 1 < nw) {
			char *dash;
			e.first = strtoll(words[++i], &dash, 10);
			e.last = *dash == '-' ? strtoll(dash + 1, NULL, 10) : e.first;
		} else {
			assert_true(np < 4);
			e.p[np++] = strtod(words[i], NULL);
		}
	}
	if (e.op == REEL_OP_FREEZE && np == 0)
		e.p[np++] = (double)e.first;
	for (uint32_t i = (uint32_t)np; i < d->nparams; i++)
		e.p[i] = d->def[i];
	return e;
}

static uint8_t clamp8(long long v)
{
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static int clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* a / b rounded to nearest, halves away from zero, by the definition. */
static long long round_div(long long a, long long b)
{
	long long q = a / b, r = a % b;

	if (2 * llabs(r) >= b)
		q += a < 0 ? -1 : 1;
	return q;
}

/* The mean of the (2r + 1)^2 samples around each, edges replicated, rounded: an integral image. */
static void model_box(uint8_t *plane, int w, int h, int r)
{
	int W = w + 2 * r, H = h + 2 * r;
	uint64_t *I = calloc((size_t)(W + 1) * (H + 1), sizeof(uint64_t));
	uint64_t n = (uint64_t)(2 * r + 1) * (2 * r + 1);

	assert_non_null(I);
	for (int Y = 0; Y < H; Y++)
		for (int X = 0; X < W; X++) {
			uint64_t v = plane[(size_t)clampi(Y - r, 0, h - 1) * w + clampi(X - r, 0, w - 1)];
			I[(size_t)(Y + 1) * (W + 1) + X + 1] = v + I[(size_t)Y * (W + 1) + X + 1] +
			                                       I[(size_t)(Y + 1) * (W + 1) + X] -
			                                       I[(size_t)Y * (W + 1) + X];
		}
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int y1 = y + 2 * r + 1, x1 = x + 2 * r + 1;
			uint64_t s = I[(size_t)y1 * (W + 1) + x1] - I[(size_t)y * (W + 1) + x1] -
			             I[(size_t)y1 * (W + 1) + x] + I[(size_t)y * (W + 1) + x];
			plane[(size_t)y * w + x] = (uint8_t)((s + n / 2) / n);
		}
	free(I);
}

static void model_flip(uint8_t *plane, int w, int h, bool hor, bool ver)
{
	uint8_t *in = malloc((size_t)w * h);

	assert_non_null(in);
	memcpy(in, plane, (size_t)w * h);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			plane[(size_t)y * w + x] = in[(size_t)(ver ? h - 1 - y : y) * w + (hor ? w - 1 - x : x)];
	free(in);
}

/* The edit applied to every frame of its range of m, which holds the state just before it. */
static void model_apply(struct snap *m, const struct medit *e)
{
	uint8_t *held = NULL;
	double peak = 0;

	if (e->op == REEL_OP_FREEZE) {
		held = malloc(m->pic);
		assert_non_null(held);
		memcpy(held, pic_of(m, (uint64_t)e->p[0]), m->pic);
	}
	if (e->op == REEL_OP_NORMALIZE)
		for (int64_t f = e->first; f <= e->last; f++)
			for (size_t i = 0; i < (size_t)m->ns[f] * m->channels; i++)
				if (fabs((double)audio_of(m, (uint64_t)f)[i]) > peak)
					peak = fabs((double)audio_of(m, (uint64_t)f)[i]);
	for (int64_t f = e->first; f <= e->last; f++) {
		float *a = audio_of(m, (uint64_t)f);
		size_t na = (size_t)m->ns[f] * m->channels;
		long long k = 0, n = e->last - e->first + 1;
		double g = 1;

		for (int p = 0; p < 3; p++) {
			int w, h;
			uint8_t *pl = plane_of(m, (uint64_t)f, p, &w, &h);
			size_t sz = (size_t)w * h;

			switch (e->op) {
			case REEL_OP_HFLIP: model_flip(pl, w, h, true, false); break;
			case REEL_OP_VFLIP: model_flip(pl, w, h, false, true); break;
			case REEL_OP_ROTATE180: model_flip(pl, w, h, true, true); break;
			case REEL_OP_BRIGHTNESS:
				if (p == 0)
					for (size_t i = 0; i < sz; i++)
						pl[i] = clamp8(pl[i] + lround(e->p[0] * 255));
				break;
			case REEL_OP_CONTRAST:
				if (p == 0)
					for (size_t i = 0; i < sz; i++)
						pl[i] = clamp8(lround(e->p[0] * (pl[i] - 128.0) + 128.0));
				break;
			case REEL_OP_INVERT:
				for (size_t i = 0; i < sz; i++)
					pl[i] = clamp8((p ? 256 : 251) - pl[i]);
				break;
			case REEL_OP_GRAYSCALE:
				if (p)
					memset(pl, 128, sz);
				break;
			case REEL_OP_BLUR: {
				int r = (int)lround(e->p[0]);
				model_box(pl, w, h, p ? (r + 1) / 2 : r);
				break;
			}
			case REEL_OP_FADE_IN:
			case REEL_OP_FADE_OUT:
				k = e->op == REEL_OP_FADE_IN ? f - e->first : e->last - f;
				for (size_t i = 0; i < sz; i++) {
					int black = p ? 128 : 16;
					pl[i] = clamp8(black + round_div((long long)(pl[i] - black) * k, n));
				}
				break;
			case REEL_OP_FREEZE:
				memcpy(pl, held + (pl - pic_of(m, (uint64_t)f)), sz);
				break;
			case REEL_OP_GAIN:
			case REEL_OP_MUTE:
			case REEL_OP_NORMALIZE:
				break;
			default:
				fail_msg("the model has no %s", reel_op_get(e->op)->name);
			}
		}
		switch (e->op) {
		case REEL_OP_GAIN:
			g = pow(10.0, e->p[0] / 20.0);
			for (size_t i = 0; i < na; i++)
				a[i] = (float)((double)a[i] * g);
			break;
		case REEL_OP_MUTE:
			for (size_t i = 0; i < na; i++)
				a[i] = 0.0f;
			break;
		case REEL_OP_NORMALIZE:
			g = peak > 0 ? pow(10.0, e->p[0] / 20.0) / peak : 1.0;
			for (size_t i = 0; i < na; i++)
				a[i] = (float)((double)a[i] * g);
			break;
		default:
			break;
		}
	}
	free(held);
}

/*
 * The source with edits[i] applied in order, for every i whose bit of
 * `in_effect` is set (~0ull: all of them).
 */
static void model(const struct snap *src, const struct medit *edits, size_t n, uint64_t in_effect,
                  struct snap *out)
{
	snap_copy(out, src);
	for (size_t i = 0; i < n; i++)
		if (in_effect & (1ull << i))
			model_apply(out, &edits[i]);
	snap_hash(out);
}

/* The peak the model's normalize edits[k] measures (the sound before it). */
static double model_peak(const struct snap *src, const struct medit *edits, size_t k)
{
	struct snap m;
	double peak = 0;

	snap_copy(&m, src);
	for (size_t i = 0; i < k; i++)
		model_apply(&m, &edits[i]);
	for (int64_t f = edits[k].first; f <= edits[k].last; f++)
		for (size_t i = 0; i < (size_t)m.ns[f] * m.channels; i++)
			if (fabs((double)audio_of(&m, (uint64_t)f)[i]) > peak)
				peak = fabs((double)audio_of(&m, (uint64_t)f)[i]);
	snap_free(&m);
	return peak;
}

static void medits_of(const char *const *texts, size_t n, uint64_t frames, struct medit *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = medit_of(texts[i], frames);
}

/*
 * `reel edits --json` of the session lists exactly edits[0..n) in order,
 * as sent, each in state states[i] ("applied", "undone", "failed"; NULL:
 * all applied).  Returns nothing; fails with the first difference.
 */
static void assert_edit_list(const char *session_or_buffer, const struct medit *edits, size_t n,
                             const char *const *states)
{
	char *json = edits_json(session_or_buffer), *objs[MAX_EDITS];
	size_t got = json_objects(json, NULL, objs, MAX_EDITS);

	if (got != n)
		fail_msg("reel edits %s: %zu edits listed, %zu expected:\n%s", session_or_buffer, got, n,
		         json);
	for (size_t i = 0; i < n; i++) {
		char op[32], state[32];
		double params[4] = { 0 };
		const struct reel_op_desc *d = reel_op_get(edits[i].op);
		int np = jparams(objs[i], params, 4);

		jstr(objs[i], "op", op, sizeof(op));
		jstr(objs[i], "state", state, sizeof(state));
		if (strcmp(op, d->name) != 0 || (int64_t)jnum(objs[i], "first") != edits[i].first ||
		    (int64_t)jnum(objs[i], "last") != edits[i].last || np != (int)d->nparams)
			fail_msg("reel edits %s: entry %zu is %s, expected '%s'", session_or_buffer, i, objs[i],
			         edits[i].text);
		for (int j = 0; j < np; j++)
			if (params[j] != edits[i].p[j])
				fail_msg("reel edits %s: entry %zu has parameter %d = %.17g, expected %.17g",
				         session_or_buffer, i, j, params[j], edits[i].p[j]);
		if (strcmp(state, states ? states[i] : "applied") != 0)
			fail_msg("reel edits %s: entry %zu (%s) is '%s', expected '%s'", session_or_buffer, i,
			         edits[i].text, state, states ? states[i] : "applied");
	}
	json_free_objects(objs, got);
	free(json);
}

/* ---------------------------------------------------- stages of our own */

/*
 * A stage on the real stage library (reel/stage.h) with the real ops: it
 * applies what it is given, except that every work item of fail_op fails
 * with reel_stage_fail() and `reason`.  It leaves when the coordinator goes.
 */
static void own_stage_main(const char *session, unsigned role, uint32_t fail_op, const char *reason)
{
	struct reel_stage *stage;
	struct reel_work w;

	if (reel_stage_attach(session, role, &stage) < 0)
		_exit(10);
	reel_stage_set_ops(stage, reel_op_impl);
	for (;;) {
		int r = reel_stage_next(stage, &w, -1);

		if (r == REEL_E_NOSESSION)
			break;
		if (r < 0)
			_exit(11);
		if (r == 0)
			continue;
		if (w.edit.op == fail_op) {
			if (reel_stage_fail(stage, &w, REEL_E_EDIT, reason) < 0)
				_exit(12);
		} else if (w.kind == REEL_WORK_MEASURE) {
			double peak;
			if (reel_stage_measure_peak(stage, &w, &peak) < 0 ||
			    reel_stage_measured(stage, &w, peak) < 0)
				_exit(13);
		} else {
			if (reel_stage_apply(stage, &w, reel_op_impl(w.edit.op), NULL) < 0)
				_exit(14);
			if (reel_stage_done(stage, &w) < 0)
				_exit(15);
		}
	}
	reel_stage_detach(stage);
	_exit(0);
}

static pid_t start_own_stage(struct fixture *f, struct sess *s, unsigned role, uint32_t fail_op,
                             const char *reason)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		own_stage_main(s->name, role, fail_op, reason);
	kid_add(f, pid);
	return pid;
}

/* Our own stage processes of a stopped session: each left by itself, exit 0. */
static void reap_own_stages(struct fixture *f, const pid_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int code = tu_reap(f->kids, MAX_KIDS, pids[i], 10000);
		if (code != 0)
			fail_msg("own stage %ld ended with %d", (long)pids[i], code);
	}
}

/* ------------------------------------------------------ what status says */

struct stage_info {
	pid_t pid;
	char role[16];
	uint64_t items_done, items_failed, frames_edited, busy_edit;
};

/* The "stages" of `reel status S --json`. */
static size_t stages_of(struct sess *s, struct stage_info *out, size_t max)
{
	char *json = status_json(s), *objs[32];
	size_t n = json_objects(json, "stages", objs, 32);

	for (size_t i = 0; i < n && i < max; i++) {
		out[i].pid = (pid_t)jnum(objs[i], "pid");
		jstr(objs[i], "role", out[i].role, sizeof(out[i].role));
		out[i].items_done = jnum(objs[i], "items_done");
		out[i].items_failed = jnum(objs[i], "items_failed");
		out[i].frames_edited = jnum(objs[i], "frames_edited");
		out[i].busy_edit = jnum(objs[i], "busy_edit");
	}
	json_free_objects(objs, n);
	free(json);
	return n < max ? n : max;
}

/* Totals of one role over the stages status lists. */
static struct stage_info role_totals(struct sess *s, const char *role, size_t *ret_count)
{
	struct stage_info st[32], sum;
	size_t n = stages_of(s, st, 32), count = 0;

	memset(&sum, 0, sizeof(sum));
	for (size_t i = 0; i < n; i++)
		if (!strcmp(st[i].role, role)) {
			sum.items_done += st[i].items_done;
			sum.items_failed += st[i].items_failed;
			sum.frames_edited += st[i].frames_edited;
			count++;
		}
	if (ret_count)
		*ret_count = count;
	return sum;
}

/* Is frame f in the buffer now (a slot holds it READY)?  Only for buffers with a slot per frame. */
static bool resident(struct sess *s, uint64_t f)
{
	struct reel_buffer *b;
	struct reel_slot_info si;
	bool yes;

	assert_int_equal(reel_buffer_open_readonly(s->buffer, &b), 0);
	assert_true(reel_buffer_info(b)->slot_count >= reel_buffer_info(b)->frame_count);
	yes = reel_slot_get(b, (uint32_t)f, &si) == 0 && si.frame == (int64_t)f &&
	      si.state == REEL_SLOT_READY;
	reel_buffer_close(b);
	return yes;
}

static void need(struct sess *s, uint64_t first, uint64_t last)
{
	int r = reel_client_need(s->c, first, last, REEL_PRIO_INTERACTIVE, NEED_TIMEOUT_MS, NULL);

	if (r < 0)
		fail_msg("session %s: need %" PRIu64 "-%" PRIu64 ": %s", s->name, first, last,
		         reel_strerror(r));
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* --------------------------------------------------------------- tests */

/*
 * Each kind of edit through the real stages (--workers 2): frames 0-24 are
 * resident when the edits come (the editor, an effect worker and the audio
 * stage change them in place), frames 35-49 were never asked for (the
 * coordinator brings them up to date as it decodes them).  Every frame,
 * read back through `reel frame` and through a client NEED plus a copy
 * under the slot's seqlock, pictures and sound, is the model's.
 */
static void test_stages_ops_through_the_pipeline(void **state)
{
	static const char *const texts[] = {
		"hflip --frames 5-34",
		"blur 2 --frames 10-44",
		"gain -6 --frames 0-29",
		"brightness -0.1 --frames 20-49",
		"grayscale --frames 15-19",
		"mute --frames 45-49",
	};
	static const uint64_t looks[] = { 47, 40, 36, 30, 22, 7, 2 };
	struct fixture *f = *state;
	const struct snap *src = source_of(f, "h264-bframes.mp4");
	struct medit e[N_OF(texts)];
	struct snap want, got;
	struct stage_info ed, fx, au;
	struct reel_status st;
	struct sess *s = new_sess(f, "h264-bframes.mp4");
	bool loud = false;

	medits_of(texts, N_OF(texts), src->n, e);
	model(src, e, N_OF(texts), ~0ull, &want);
	open_sess(f, s, (const char *[]){ "--workers", "2", NULL });
	wait_stages(s, 4);
	need(s, 0, 24);
	status_of(s, &st);
	assert_true(st.resident >= 25);
	for (size_t i = 0; i < N_OF(texts); i++)
		assert_int_equal(send_ok(s, texts[i], true), i + 1);
	/* The frames past 34 have not been decoded yet: they get the edits as they come in. */
	for (uint64_t fr = 35; fr < 50; fr++)
		if (resident(s, fr))
			fail_msg("frame %" PRIu64 " is resident before anyone asked for it", fr);

	for (size_t i = 0; i < N_OF(looks); i++) {
		char num[16], path[4096], *out, *err, *bytes;
		size_t len;
		int code;

		snprintf(num, sizeof(num), "%" PRIu64, looks[i]);
		snprintf(path, sizeof(path), "%s/frame%" PRIu64 ".yuv", f->dir, looks[i]);
		code = REEL(&out, &err, "frame", s->name, num, "--out", path);
		if (code != 0)
			fail_msg("reel frame %s: exit %d: %s", num, code, err);
		free(out);
		free(err);
		bytes = tu_slurp(path, &len);
		assert_non_null(bytes);
		assert_int_equal(len, want.pic);
		if (memcmp(bytes, pic_of(&want, looks[i]), len) != 0)
			fail_msg("reel frame %" PRIu64 ": not the model's picture", looks[i]);
		free(bytes);
	}
	read_frames(s, NULL, &got);
	assert_snap_equal(&got, &want, "frames after hflip, blur, gain, brightness, grayscale, mute");
	/* The sound is there and was changed: -6 dB is half the amplitude, near enough. */
	for (size_t i = 0; i < (size_t)src->ns[10] * src->channels; i++)
		loud |= fabsf(audio_of(src, 10)[i]) > 0.01f;
	assert_true(loud);
	for (size_t i = 0; i < (size_t)src->ns[10] * src->channels; i++)
		assert_true(fabsf(audio_of(&got, 10)[i] - 0.501187f * audio_of(src, 10)[i]) < 1e-4f);
	for (size_t i = 0; i < (size_t)got.ns[46] * got.channels; i++)
		assert_true(audio_of(&got, 46)[i] == 0.0f);

	/* The stages did their part on the resident frames: 5-24 flipped, 10-24 blurred, 0-24 louder. */
	ed = role_totals(s, "editor", NULL);
	fx = role_totals(s, "effect", NULL);
	au = role_totals(s, "audio", NULL);
	if (ed.frames_edited < 20 || fx.frames_edited < 15 + 5 || au.frames_edited < 25)
		fail_msg("stages edited too few frames: editor %" PRIu64 ", effects %" PRIu64 ", audio %"
		         PRIu64, ed.frames_edited, fx.frames_edited, au.frames_edited);
	assert_true(ed.items_done > 0 && fx.items_done > 0 && au.items_done > 0);
	assert_edit_list(s->name, e, N_OF(texts), NULL);
	stop_sess(f, s);
	snap_free(&got);
	snap_free(&want);
}

/* Overlapping edits of every part: editor, effects, sound, a freeze, a fade-in, a normalize. */
static const char *const mixed_texts[] = {
	"brightness 0.08 --frames 0-39",
	"hflip --frames 10-49",
	"gain -3 --frames 0-49",
	"freeze 12 --frames 30-37",
	"blur 3 --frames 5-44",
	"fade-in --frames 0-24",
	"normalize -1 --frames 5-45",
	"contrast 1.3 --frames 20-49",
	"mute --frames 47-49",
};
#define MIXED_NORMALIZE 6
/* mixed_run's prefetch: frames are being materialised by another client while the edits arrive. */
#define MATERIALISING (-2)

/*
 * One run of the mixed edits in a session opened with `extra`; prefetch is
 * the last frame materialised before the edits (-1: none; MATERIALISING:
 * none, and another client has frames decoded while the edits come).  The
 * frames as read back afterwards, and the peak the normalize was given.
 */
static void mixed_run(struct fixture *f, const char *const *extra, uint64_t nstages, int64_t prefetch,
                      const uint64_t *order, struct snap *out, double *ret_peak, struct sess **ret_s)
{
	struct sess *s = new_sess(f, "h264-bframes.mp4");
	struct medit e[N_OF(mixed_texts)];
	struct reel_status st;
	char *json, *objs[MAX_EDITS];
	size_t n;

	pid_t reader = 0;

	open_sess(f, s, extra);
	wait_stages(s, nstages);
	if (prefetch >= 0)
		need(s, 0, (uint64_t)prefetch);
	status_of(s, &st);
	if (prefetch < 0)
		assert_int_equal(st.resident, 0);
	if (prefetch == MATERIALISING) {
		/* Another client asks for every frame, a few at a time, twice, while the edits come. */
		reader = fork();
		assert_true(reader >= 0);
		if (reader == 0) {
			struct reel_client *c;
			if (reel_client_connect(s->name, &c) < 0)
				_exit(1);
			for (int round = 0; round < 2; round++)
				for (uint64_t fr = 0; fr < 50; fr += 5)
					if (reel_client_need(c, fr, fr + 4, REEL_PRIO_BATCH, NEED_TIMEOUT_MS, NULL) < 0)
						_exit(2);
			reel_client_close(c);
			_exit(0);
		}
		kid_add(f, reader);
	}
	/* All at once, without waiting: they overlap in flight. */
	for (size_t i = 0; i < N_OF(mixed_texts); i++)
		send_ok(s, mixed_texts[i], false);
	if (reader)
		assert_int_equal(tu_reap(f->kids, MAX_KIDS, reader, 60000), 0);
	wait_idle(s, 0);
	medits_of(mixed_texts, N_OF(mixed_texts), 50, e);
	assert_edit_list(s->name, e, N_OF(mixed_texts), NULL);
	json = edits_json(s->name);
	n = json_objects(json, NULL, objs, MAX_EDITS);
	*ret_peak = jdouble(objs[MIXED_NORMALIZE], "measured");
	json_free_objects(objs, n);
	free(json);
	read_frames(s, order, out);
	if (ret_s)
		*ret_s = s;
	else
		stop_sess(f, s);
}

/*
 * The same overlapping edits give the same frames, pixels and samples,
 * whoever applies them: (a) every frame resident before the edits, one
 * effect worker; (b) no frame resident when they arrive, four workers (the
 * coordinator applies them as frames are decoded); (c) a cache of 16 slots
 * for 50 frames, so frames are evicted and rebuilt from source and journal,
 * read in order and then again backwards; (d) the same cache, with another
 * client having frames decoded while the edits arrive.  All equal the
 * model, and every run's normalize measured the model's peak.
 */
static void test_stages_resident_or_later_one_or_four_workers(void **state)
{
	struct fixture *f = *state;
	const struct snap *src = source_of(f, "h264-bframes.mp4");
	struct medit e[N_OF(mixed_texts)];
	struct snap want, a, b, c, c2, d;
	struct reel_status st;
	struct reel_buffer *buf;
	struct sess *sc;
	uint64_t backwards[50];
	uint32_t slots;
	double peak_a, peak_b, peak_c, peak_d, peak_model;

	medits_of(mixed_texts, N_OF(mixed_texts), src->n, e);
	model(src, e, N_OF(mixed_texts), ~0ull, &want);
	peak_model = model_peak(src, e, MIXED_NORMALIZE);

	mixed_run(f, (const char *[]){ "--workers", "1", NULL }, 3, 49, NULL, &a, &peak_a, NULL);
	assert_snap_equal(&a, &want, "(a) resident, 1 worker, against the model");

	mixed_run(f, (const char *[]){ "--workers", "4", NULL }, 6, -1, NULL, &b, &peak_b, NULL);
	assert_same_hashes(&b, &a, "(b) materialised later, 4 workers, against (a)");

	mixed_run(f, (const char *[]){ "--workers", "2", "--cache=1M", NULL }, 4, 15, NULL, &c, &peak_c,
	          &sc);
	assert_same_hashes(&c, &a, "(c) small cache, against (a)");
	for (int i = 0; i < 50; i++)
		backwards[i] = (uint64_t)(49 - i);
	read_frames(sc, backwards, &c2);
	assert_same_hashes(&c2, &a, "(c) small cache read backwards, against (a)");
	status_of(sc, &st);
	assert_int_equal(reel_buffer_open_readonly(sc->buffer, &buf), 0);
	slots = reel_buffer_info(buf)->slot_count;
	reel_buffer_close(buf);
	/* Evicted and decoded again: more decodes than frames, never more resident than slots. */
	assert_true(slots < 50);
	assert_true(st.decoded > 50);
	assert_true(st.resident <= slots);
	stop_sess(f, sc);

	mixed_run(f, (const char *[]){ "--workers", "2", "--cache=1M", NULL }, 4, MATERIALISING, NULL,
	          &d, &peak_d, NULL);
	assert_same_hashes(&d, &a, "(d) small cache, frames on their way in as the edits come");

	if (peak_a != peak_model || peak_b != peak_model || peak_c != peak_model ||
	    peak_d != peak_model)
		fail_msg("normalize measured %.17g, %.17g, %.17g, %.17g; the model's peak is %.17g", peak_a,
		         peak_b, peak_c, peak_d, peak_model);
	snap_free(&want);
	snap_free(&a);
	snap_free(&b);
	snap_free(&c);
	snap_free(&c2);
	snap_free(&d);
}

/* Sum over the luma of |Y - 16|: how far frame f is from black. */
static double luma_distance(const struct snap *s, uint64_t f)
{
	const uint8_t *y = pic_of(s, f);
	double d = 0;

	for (size_t i = 0; i < (size_t)s->w * s->h; i++)
		d += abs((int)y[i] - 16);
	return d;
}

/*
 * A fade-in over frames 0-199 (four work items of 64 frames): frame 0 is
 * black, and the luma's distance to black (and the share of the source's
 * a frame keeps) grows strictly across each boundary between work items
 * (63 | 64, 127 | 128, 191 | 192); frames past the fade are the source.
 */
static void assert_fade_shape(const struct snap *got, const struct snap *src, const char *what)
{
	static const uint64_t bounds[] = { 64, 128, 192 };
	const uint8_t *p = pic_of(got, 0);

	for (size_t i = 0; i < (size_t)got->w * got->h; i++)
		if (p[i] != 16)
			fail_msg("%s: frame 0 is not black (luma %u at %zu)", what, p[i], i);
	for (size_t i = (size_t)got->w * got->h; i < got->pic; i++)
		if (p[i] != 128)
			fail_msg("%s: frame 0 is not black (chroma %u)", what, p[i]);
	for (size_t i = 0; i < N_OF(bounds); i++) {
		uint64_t b = bounds[i];
		double d0 = luma_distance(got, b - 1), d1 = luma_distance(got, b);
		/* As a share of the source's distance too, which does not depend on the picture. */
		double before = d0 / luma_distance(src, b - 1), after = d1 / luma_distance(src, b);
		if (!(d0 < d1) || !(before < after))
			fail_msg("%s: the fade does not grow across frames %" PRIu64 " | %" PRIu64
			         " (distance to black %.0f, then %.0f; %.6f, then %.6f of the source's)", what,
			         b - 1, b, d0, d1, before, after);
	}
	for (uint64_t f = 200; f < got->n; f++)
		if (memcmp(pic_of(got, f), pic_of(src, f), got->pic) != 0)
			fail_msg("%s: frame %" PRIu64 ", past the fade, is not the source", what, f);
}

/*
 * fade-in over 200 frames of the 250-frame clip, cut into work items of 64:
 * every frame is the model's, with all frames resident when it comes; then
 * in a session with a cache far smaller than the clip, where frames are
 * asked for one by one in a scattered order, each evicted and rebuilt from
 * source and journal.
 */
static void test_stages_fade_in_continuous_across_work_items(void **state)
{
	struct fixture *f = *state;
	const struct snap *src = source_of(f, "long.mp4");
	struct medit e = medit_of("fade-in --frames 0-199", src->n);
	struct snap want, a, b;
	struct reel_status st;
	struct reel_buffer *buf;
	struct sess *s;
	uint64_t order[250];
	uint32_t slots;

	assert_int_equal(src->n, 250);
	model(src, &e, 1, ~0ull, &want);
	assert_fade_shape(&want, src, "the model");

	s = new_sess(f, "long.mp4");
	open_sess(f, s, (const char *[]){ "--workers", "2", NULL });
	wait_stages(s, 4);
	need(s, 0, 249);
	send_ok(s, e.text, true);
	read_frames(s, NULL, &a);
	assert_snap_equal(&a, &want, "fade-in over resident frames");
	assert_fade_shape(&a, src, "fade-in over resident frames");
	/* Four work items went to the editor, 64 frames each but the last. */
	assert_true(role_totals(s, "editor", NULL).frames_edited == 200);
	stop_sess(f, s);

	s = new_sess(f, "long.mp4");
	open_sess(f, s, (const char *[]){ "--workers", "2", "--cache=1M", NULL });
	wait_stages(s, 4);
	assert_int_equal(reel_buffer_open_readonly(s->buffer, &buf), 0);
	slots = reel_buffer_info(buf)->slot_count;
	reel_buffer_close(buf);
	assert_true(slots < 100);
	need(s, 0, 15);
	send_ok(s, e.text, true);
	/* 97 is prime to 250: every frame once, neighbours far apart. */
	for (uint64_t i = 0; i < 250; i++)
		order[i] = (i * 97 + 13) % 250;
	read_frames(s, order, &b);
	assert_snap_equal(&b, &want, "fade-in, frames evicted and rebuilt one by one");
	assert_fade_shape(&b, src, "fade-in, frames evicted and rebuilt one by one");
	status_of(s, &st);
	assert_true(st.decoded > 250);
	assert_true(st.resident <= slots);
	stop_sess(f, s);
	snap_free(&want);
	snap_free(&a);
	snap_free(&b);
}

/* `reel undo S` or `reel redo S`: exit 0, it names edit `target`; then the session settles. */
static void undo_redo(struct sess *s, bool undo, uint64_t target)
{
	char *out, *err, expect[64];
	int code = REEL(&out, &err, undo ? "undo" : "redo", s->name);

	snprintf(expect, sizeof(expect), "%s edit %" PRIu64 ":", undo ? "undid" : "redid", target);
	if (code != 0 || strncmp(out, expect, strlen(expect)) != 0)
		fail_msg("reel %s %s: exit %d, '%s' (expected '%s ...'): %s", undo ? "undo" : "redo",
		         s->name, code, out, expect, err);
	free(out);
	free(err);
	wait_idle(s, 0);
}

/* `reel undo|redo S` with nothing to act on: exit 2, one line. */
static void undo_redo_refused(struct sess *s, bool undo)
{
	char *out, *err;
	int code = REEL(&out, &err, undo ? "undo" : "redo", s->name);

	assert_int_equal(code, 2);
	assert_int_equal(count_lines(err), 1);
	assert_non_null(strstr(err, undo ? "nothing to undo" : "nothing to redo"));
	free(out);
	free(err);
}

static const char *const undo_texts[] = {
	"brightness 0.1 --frames 0-29",
	"gain -6 --frames 10-39",
	"blur 2 --frames 5-44",
	"freeze 20 --frames 40-47",   /* holds frame 20, which E3 blurs */
};

static void expect_model(struct sess *s, const struct snap *src, const struct medit *e, size_t n,
                         uint64_t mask, const char *what, struct snap *ret_got)
{
	struct snap want, got;

	model(src, e, n, mask, &want);
	read_frames(s, NULL, &got);
	assert_snap_equal(&got, &want, what);
	snap_free(&want);
	if (ret_got)
		*ret_got = got;
	else
		snap_free(&got);
}

/*
 * Undo is exact.  Undo acts on the latest edit still in effect, so the
 * middle edit E3 is undone with E4 sent after it (E1 E2 E3, undo, E4) and
 * every frame, pictures and sound, equals a session where only E1, E2 and
 * E4 were sent (E4 freezes a frame that E3 blurred: it must show it
 * unblurred); a redo is then refused, the new edit having ended what could
 * be redone.  In a third session E1..E4 are undone back to E2 and redone,
 * equal to the model at each step and to the full run at the end, and
 * undoing everything gives the source.  In a fourth, slow edits are undone
 * and redone while they are still being applied.
 */
static void test_stages_undo_is_exact(void **state)
{
	static const char *const states_undone[] = { "undone", "undone", "undone", "undone" };
	static const char *const states_v[] = { "applied", "applied", "undone", "applied" };
	struct fixture *f = *state;
	const struct snap *src = source_of(f, "h264-bframes.mp4");
	struct medit e[N_OF(undo_texts)], e124[3];
	struct snap v, r, full, again;
	struct sess *s;
	const char *const *extra = (const char *[]){ "--workers", "2", NULL };

	medits_of(undo_texts, N_OF(undo_texts), src->n, e);
	e124[0] = e[0];
	e124[1] = e[1];
	e124[2] = e[3];

	/* V: E1 E2 E3, undo E3, E4. */
	s = new_sess(f, "h264-bframes.mp4");
	open_sess(f, s, extra);
	wait_stages(s, 4);
	need(s, 0, 49);
	for (size_t i = 0; i < 3; i++)
		send_ok(s, undo_texts[i], true);
	undo_redo(s, true, 3);
	assert_int_equal(send_ok(s, undo_texts[3], true), 5);
	expect_model(s, src, e, 4, 0xb, "E1 E2 E3, undo E3, E4: against the model of E1 E2 E4", &v);
	undo_redo_refused(s, false);
	assert_edit_list(s->name, e, 4, states_v);
	stop_sess(f, s);

	/* R: only E1 E2 E4. */
	s = new_sess(f, "h264-bframes.mp4");
	open_sess(f, s, extra);
	wait_stages(s, 4);
	need(s, 0, 49);
	for (size_t i = 0; i < 3; i++)
		send_ok(s, e124[i].text, true);
	read_frames(s, NULL, &r);
	assert_same_hashes(&v, &r, "E1 E2 E3, undo E3, E4 against a run of E1 E2 E4");
	stop_sess(f, s);

	/* U: E1..E4, then undo and redo. */
	s = new_sess(f, "h264-bframes.mp4");
	open_sess(f, s, extra);
	wait_stages(s, 4);
	need(s, 0, 49);
	for (size_t i = 0; i < 4; i++)
		send_ok(s, undo_texts[i], true);
	expect_model(s, src, e, 4, 0xf, "E1..E4", &full);
	undo_redo(s, true, 4);
	expect_model(s, src, e, 4, 0x7, "E1..E4, undo E4", NULL);
	undo_redo(s, true, 3);
	expect_model(s, src, e, 4, 0x3, "E1..E4, undo E4, undo E3", NULL);
	undo_redo(s, false, 3);
	expect_model(s, src, e, 4, 0x7, "E1..E4, undo E4, undo E3, redo E3", NULL);
	undo_redo(s, false, 4);
	read_frames(s, NULL, &again);
	assert_same_hashes(&again, &full, "undo E4, undo E3, redo E3, redo E4 against the full run");
	for (uint64_t t = 4; t >= 1; t--)
		undo_redo(s, true, t);
	expect_model(s, src, e, 4, 0, "everything undone: the source", NULL);
	undo_redo_refused(s, true);
	assert_edit_list(s->name, e, 4, states_undone);
	stop_sess(f, s);

	/*
	 * Undo and redo while the edits are still being applied: three slow
	 * blurs, undone at once, the last redone; the frames are those of the
	 * one blur redone.
	 */
	s = new_sess(f, "h264-bframes.mp4");
	open_sess(f, s, extra);
	wait_stages(s, 4);
	need(s, 0, 49);
	{
		static const char *const slow[] = { "blur 32 --frames 0-49", "blur 16 --frames 10-39",
		                                    "blur 8 --frames 0-24" };
		static const char *const states_slow[] = { "applied", "undone", "undone" };
		struct medit es[3];
		char *out, *err;

		medits_of(slow, 3, src->n, es);
		for (size_t i = 0; i < 3; i++)
			send_ok(s, slow[i], false);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(REEL(&out, &err, "undo", s->name), 0);
			free(out);
			free(err);
		}
		assert_int_equal(REEL(&out, &err, "redo", s->name), 0);
		assert_non_null(strstr(out, "redid edit 1:"));
		free(out);
		free(err);
		wait_idle(s, 0);
		assert_edit_list(s->name, es, 3, states_slow);
		expect_model(s, src, es, 3, 0x1, "slow blurs undone while being applied, the first redone",
		             NULL);
	}
	stop_sess(f, s);
	snap_free(&v);
	snap_free(&r);
	snap_free(&full);
	snap_free(&again);
}

/*
 * A second effect worker started by hand (`reel-effects --session S`)
 * attaches, shows in `reel status --json`, and takes work from the shared
 * queue while batches of edits over disjoint resident ranges are sent; the
 * frames are the model's; SIGTERM makes it leave cleanly (exit 0) and the
 * session goes on without it.
 */
static void test_stages_worker_pool_takes_a_hand_started_worker(void **state)
{
	struct fixture *f = *state;
	const struct snap *src = source_of(f, "h264-bframes.mp4");
	struct medit e[MAX_EDITS];
	struct stage_info st[32];
	struct snap want, got;
	struct sess *s = new_sess(f, "h264-bframes.mp4");
	size_t ne = 0, n;
	uint64_t mine = 0;
	double deadline;
	pid_t worker;
	bool listed = false;

	open_sess(f, s, (const char *[]){ "--workers", "1", NULL });
	wait_stages(s, 3);
	need(s, 0, 49);
	worker = tu_spawn((char *[]){ (char *)stage_bin("renderer", "reel-effects"), (char *)"--session",
	                              s->name, NULL }, s->log);
	kid_add(f, worker);
	wait_stages(s, 4);
	n = stages_of(s, st, 32);
	for (size_t i = 0; i < n; i++)
		listed |= st[i].pid == worker && !strcmp(st[i].role, "effect");
	assert_true(listed);

	/* Batches of ten edits over disjoint ranges, until the hand-started worker has taken some. */
	for (int batch = 0; batch < 5 && mine == 0; batch++) {
		for (int k = 0; k < 10; k++) {
			char text[128];
			snprintf(text, sizeof(text), "brightness %s --frames %d-%d", batch % 2 ? "-0.01" : "0.02",
			         k * 5, k * 5 + 4);
			assert_true(ne < MAX_EDITS);
			e[ne++] = medit_of(text, src->n);
			send_ok(s, text, false);
		}
		wait_idle(s, 0);
		n = stages_of(s, st, 32);
		for (size_t i = 0; i < n; i++)
			if (st[i].pid == worker)
				mine = st[i].items_done;
	}
	if (mine == 0)
		fail_msg("the hand-started worker %ld took none of %zu edits", (long)worker, ne);
	model(src, e, ne, ~0ull, &want);
	read_frames(s, NULL, &got);
	assert_snap_equal(&got, &want, "edits shared by two workers");

	/* SIGTERM: it finishes what it holds and leaves, exit 0; the session lets it go. */
	kill(worker, SIGTERM);
	assert_int_equal(tu_reap(f->kids, MAX_KIDS, worker, 10000), 0);
	deadline = tu_now_ms() + 10000;
	for (;;) {
		bool still = false;
		n = stages_of(s, st, 32);
		for (size_t i = 0; i < n; i++)
			still |= st[i].pid == worker;
		if (!still && n == 3)
			break;
		if (tu_now_ms() > deadline)
			fail_msg("worker %ld still listed after it left (%zu stages)", (long)worker, n);
		usleep(10000);
	}
	stop_sess(f, s);
	snap_free(&want);
	snap_free(&got);
}

/*
 * An effect worker spawned by `reel open` is killed (SIGKILL) while it
 * holds a frame's lock in the middle of a work item of slow blurs: every
 * edit still ends applied (none lost, none failed), no frame is left half
 * edited (all equal the model), and reel open starts a new worker in its
 * place.
 */
static void test_stages_killed_worker_loses_nothing(void **state)
{
	struct fixture *f = *state;
	const struct snap *src = source_of(f, "h264-bframes.mp4");
	struct medit e[MAX_EDITS];
	struct stage_info st[32];
	struct snap want, got;
	struct reel_buffer *b;
	struct sess *s = new_sess(f, "h264-bframes.mp4");
	pid_t workers[2], victim = 0;
	size_t ne = 0, n, nw = 0;
	int64_t held_frame = -1;
	double deadline;
	char *log;

	open_sess(f, s, (const char *[]){ "--workers", "2", NULL });
	wait_stages(s, 4);
	need(s, 0, 49);
	n = stages_of(s, st, 32);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(st[i].role, "effect")) {
			assert_true(nw < 2);
			workers[nw++] = st[i].pid;
		}
	assert_int_equal(nw, 2);
	assert_int_equal(reel_buffer_open_readonly(s->buffer, &b), 0);

	/*
	 * Rounds of blurs over both halves, watching the slots for a worker that
	 * holds one.  A blur of this small clip takes a worker far less time
	 * than a `reel send` takes the test, so the workers are stopped while a
	 * round is sent and let go together: the backlog then keeps them busy
	 * while the test looks.
	 */
	for (int round = 0; round < 6 && !victim; round++) {
		kill(workers[0], SIGSTOP);
		kill(workers[1], SIGSTOP);
		for (int k = 0; k < 8; k++) {
			const char *text = k % 2 ? "blur 32 --frames 25-49" : "blur 32 --frames 0-24";
			assert_true(ne < MAX_EDITS);
			e[ne++] = medit_of(text, src->n);
			send_ok(s, text, false);
		}
		kill(workers[0], SIGCONT);
		kill(workers[1], SIGCONT);
		for (unsigned spin = 0; !victim; spin++) {
			for (uint32_t slot = 0; slot < 50 && !victim; slot++) {
				struct reel_slot_info si;
				if (reel_slot_get(b, slot, &si) == 0 && si.state == REEL_SLOT_BUSY &&
				    (si.owner_pid == (uint32_t)workers[0] || si.owner_pid == (uint32_t)workers[1])) {
					victim = (pid_t)si.owner_pid;
					held_frame = si.frame;
					kill(victim, SIGKILL);
				}
			}
			if (!victim && spin % 512 == 511) {
				struct reel_status rs;
				status_of(s, &rs);
				if (rs.pending == 0)
					break;
			}
		}
	}
	reel_buffer_close(b);
	if (!victim)
		fail_msg("never saw an effect worker holding a frame in %zu blurs", ne);
	printf("# killed effect worker %ld while it held frame %" PRId64 "\n", (long)victim, held_frame);

	wait_idle(s, 0);
	assert_edit_list(s->name, e, ne, NULL);
	model(src, e, ne, ~0ull, &want);
	read_frames(s, NULL, &got);
	assert_snap_equal(&got, &want, "blurs with a worker killed mid-item");

	/* Reaped by the coordinator, and replaced: two effect workers again, the victim not one of them. */
	deadline = tu_now_ms() + 15000;
	for (;;) {
		size_t effects = 0;
		bool back = false;
		n = stages_of(s, st, 32);
		for (size_t i = 0; i < n; i++) {
			effects += !strcmp(st[i].role, "effect");
			back |= st[i].pid == victim;
		}
		if (effects == 2 && !back && !(kill(victim, 0) == 0 || errno != ESRCH))
			break;
		if (tu_now_ms() > deadline)
			fail_msg("no new effect worker in place of %ld (%zu effect stages listed)", (long)victim,
			         effects);
		usleep(20000);
	}
	log = tu_slurp(s->log, NULL);
	assert_non_null(log);
	assert_non_null(strstr(log, "was killed by signal 9"));
	if (strstr(log, "half-written"))
		printf("# the coordinator rebuilt a frame the victim left half-written\n");
	free(log);
	stop_sess(f, s);
	snap_free(&want);
	snap_free(&got);
}

/* The journal holds exactly one "failed" entry naming edit seq. */
static void assert_failed_once(const char *buffer, uint64_t seq)
{
	struct reel_buffer *b;
	uint64_t count, found = 0;

	assert_int_equal(reel_buffer_open_readonly(buffer, &b), 0);
	count = reel_journal_count(b);
	for (uint64_t i = 1; i <= count; i++) {
		struct reel_journal_entry je;
		assert_int_equal(reel_journal_read(b, i, &je), 0);
		found += je.op == REEL_OP_FAILED && je.target == seq;
	}
	reel_buffer_close(b);
	if (found != 1)
		fail_msg("edit %" PRIu64 " has %" PRIu64 " 'failed' entries in the journal, not 1", seq, found);
}

#define REFUSAL "test stage refuses invert"

/*
 * Stages of the test's own fail every work item of one op (the effect
 * stage invert, the audio stage mute) with reel_stage_fail(): such a
 * command ends "failed" exactly once, with the stage's reason, in `reel
 * edits --json`; `reel status` counts it; `reel send --wait` of one exits
 * 1; the frames equal a session where it was never sent, and the edits
 * around it (sent while it was still failing, over the same frames) are
 * applied as usual; a normalize sent right after a failing mute measures
 * the sound again once the mute has failed.
 */
static void test_stages_failing_stage_fails_its_edit_once(void **state)
{
	static const char *const texts[] = {
		"brightness 0.05 --frames 0-29",
		"invert --frames 10-39",
		"grayscale --frames 20-49",
		"hflip --frames 0-49",
		"gain -3 --frames 0-49",
		"invert --frames 45-49",
		"mute --frames 0-49",          /* fails too: the normalize after it must measure again */
		"normalize -1 --frames 0-49",
	};
	static const char *const states[] = { "applied", "failed", "applied", "applied", "applied",
	                                      "failed", "failed", "applied" };
	struct fixture *f = *state;
	const struct snap *src = source_of(f, "h264-bframes.mp4");
	struct medit e[N_OF(texts)];
	struct snap got, w;
	struct sess *s = new_sess(f, "h264-bframes.mp4");
	pid_t own[3];
	char *json, *objs[MAX_EDITS], reason[128], state_text[32], *err;
	struct stage_info fx;
	unsigned long long failed;
	uint64_t seq_invert, seq_mute;
	size_t n;

	medits_of(texts, N_OF(texts), src->n, e);
	open_sess(f, s, (const char *[]){ "--no-stages", NULL });
	own[0] = start_own_stage(f, s, REEL_ROLE_EDITOR, REEL_OP_NONE, NULL);
	own[1] = start_own_stage(f, s, REEL_ROLE_EFFECT, REEL_OP_INVERT, REFUSAL);
	own[2] = start_own_stage(f, s, REEL_ROLE_AUDIO, REEL_OP_MUTE, REFUSAL);
	wait_stages(s, 3);
	need(s, 0, 49);
	send_ok(s, texts[0], true);
	/* The failing one and the next two go in together; the one after waits. */
	assert_int_equal(send_ok(s, texts[1], false), 2);
	send_ok(s, texts[2], false);
	send_ok(s, texts[3], false);
	send_ok(s, texts[4], true);
	wait_idle(s, 0);
	/* --wait on an edit that fails: exit 1, and it says so. */
	assert_int_equal(send_cli(s, texts[5], true, &seq_invert, state_text, sizeof(state_text), &err),
	                 1);
	assert_string_equal(state_text, "failed");
	free(err);
	/* A sound edit that fails, and a normalize over it sent at once, measured while it stands. */
	seq_mute = send_ok(s, texts[6], false);
	send_ok(s, texts[7], false);
	wait_idle(s, 0);

	assert_edit_list(s->name, e, N_OF(texts), states);
	json = edits_json(s->name);
	n = json_objects(json, NULL, objs, MAX_EDITS);
	for (size_t i = 0; i < n; i++) {
		jstr(objs[i], "reason", reason, sizeof(reason));
		if (!strcmp(states[i], "failed") && !strstr(reason, REFUSAL))
			fail_msg("failed edit %zu gives the reason '%s', not the stage's", i + 1, reason);
		if (strcmp(states[i], "failed") && reason[0])
			fail_msg("edit %zu has a reason but did not fail: %s", i + 1, objs[i]);
	}
	json_free_objects(objs, n);
	free(json);
	assert_failed_once(s->buffer, 2);
	assert_failed_once(s->buffer, seq_invert);
	assert_failed_once(s->buffer, seq_mute);
	{
		struct reel_status st;
		status_of(s, &st);
		assert_int_equal(st.failed, 3);
	}
	json = status_json(s);
	assert_int_equal(tu_json_u64(json, "failed", &failed), 0);
	assert_int_equal(failed, 3);
	assert_non_null(strstr(json, "\"edits\":{"));
	assert_int_equal(tu_json_u64(strstr(json, "\"edits\":{"), "failed", &failed), 0);
	assert_int_equal(failed, 3);
	free(json);
	fx = role_totals(s, "effect", NULL);
	assert_true(fx.items_failed >= 2);
	/* The normalize's peak is that of the sound without the mute that failed. */
	json = edits_json(s->name);
	n = json_objects(json, NULL, objs, MAX_EDITS);
	assert_int_equal(n, N_OF(texts));
	{
		double measured = jdouble(objs[7], "measured"), peak = 0;
		struct medit in_effect[N_OF(texts)];
		size_t k = 0;
		for (size_t i = 0; i < 7; i++)
			if (!strcmp(states[i], "applied"))
				in_effect[k++] = e[i];
		in_effect[k] = e[7];
		peak = model_peak(src, in_effect, k);
		if (measured != peak)
			fail_msg("normalize measured %.17g; the sound without the failed mute peaks at %.17g",
			         measured, peak);
	}
	json_free_objects(objs, n);
	free(json);
	expect_model(s, src, e, N_OF(texts), 0x9d, "with the inverts and the mute failed", &got);
	stop_sess(f, s);
	reap_own_stages(f, own, 3);

	/* The same session without the edits that failed. */
	s = new_sess(f, "h264-bframes.mp4");
	open_sess(f, s, (const char *[]){ "--no-stages", NULL });
	own[0] = start_own_stage(f, s, REEL_ROLE_EDITOR, REEL_OP_NONE, NULL);
	own[1] = start_own_stage(f, s, REEL_ROLE_EFFECT, REEL_OP_NONE, NULL);
	own[2] = start_own_stage(f, s, REEL_ROLE_AUDIO, REEL_OP_NONE, NULL);
	wait_stages(s, 3);
	need(s, 0, 49);
	for (size_t i = 0; i < N_OF(texts); i++)
		if (strcmp(states[i], "failed") != 0)
			send_ok(s, texts[i], true);
	read_frames(s, NULL, &w);
	assert_same_hashes(&got, &w, "with edits failed, against a run without them");
	stop_sess(f, s);
	reap_own_stages(f, own, 3);
	snap_free(&got);
	snap_free(&w);
}

/* xorshift64*: the same seed, the same run. */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ull;
}

/* A random edit the model knows, over a random range of frames 0..frames-1. */
static void random_edit(uint64_t *x, uint64_t frames, char *buf, size_t len)
{
	static const char *const bright[] = { "0.05", "-0.04", "0.1" };
	static const char *const contrast[] = { "0.8", "1.25" };
	static const char *const gains[] = { "-6", "3", "-1.5" };
	static const char *const norms[] = { "-1", "-3" };
	int64_t a = (int64_t)(rnd(x) % frames), b = a + (int64_t)(rnd(x) % 30);
	char op[64];

	if (b >= (int64_t)frames)
		b = (int64_t)frames - 1;
	switch (rnd(x) % 14) {
	case 0: snprintf(op, sizeof(op), "brightness %s", bright[rnd(x) % 3]); break;
	case 1: snprintf(op, sizeof(op), "contrast %s", contrast[rnd(x) % 2]); break;
	case 2: snprintf(op, sizeof(op), "hflip"); break;
	case 3: snprintf(op, sizeof(op), "vflip"); break;
	case 4: snprintf(op, sizeof(op), "rotate180"); break;
	case 5: snprintf(op, sizeof(op), "invert"); break;
	case 6: snprintf(op, sizeof(op), "grayscale"); break;
	case 7: snprintf(op, sizeof(op), "blur %d", (int)(rnd(x) % 3) + 1); break;
	case 8: snprintf(op, sizeof(op), "fade-in"); break;
	case 9: snprintf(op, sizeof(op), "fade-out"); break;
	case 10: snprintf(op, sizeof(op), "freeze %d", (int)(rnd(x) % frames)); break;
	case 11: snprintf(op, sizeof(op), "gain %s", gains[rnd(x) % 3]); break;
	case 12: snprintf(op, sizeof(op), "mute"); break;
	default: snprintf(op, sizeof(op), "normalize %s", norms[rnd(x) % 2]); break;
	}
	snprintf(buf, len, "%s --frames %" PRId64 "-%" PRId64, op, a, b);
}

enum fault { NOTHING, MATERIALISE, STOP, CRASH };

/*
 * Edits sent (without waiting) to a session whose coordinator is stopped
 * cleanly at one random point and killed (SIGKILL) at another (right after
 * a normalize, whose measurement may then be in flight), with random
 * frames materialised in between, reopened on the same buffer each time:
 * once every edit is done, `reel edits` lists every acknowledged edit, in
 * order, applied, and every frame equals a separate session that got the
 * same edits without a fault (and the model).  A few iterations from one
 * seed ($REEL_TEST_SEED, printed).
 */
static void test_stages_resume_after_stop_and_crash(void **state)
{
	struct fixture *f = *state;
	const struct snap *src = source_of(f, "h264-bframes.mp4");
	const char *seed_env = getenv("REEL_TEST_SEED");
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : 20261202u;
	const char *const *extra = (const char *[]){ "--workers", "1", NULL };

	printf("# resume: seed %" PRIu64 " (REEL_TEST_SEED)\n", seed);
	for (int iter = 0; iter < 3; iter++) {
		enum { N = 8 };
		uint64_t x = seed * 2654435761u + (uint64_t)iter + 1, generation = 1;
		char texts[N][128];
		const char *tp[N];
		enum fault faults[N];
		struct medit e[N];
		struct snap faulty, clean, want;
		struct reel_status st;
		struct sess *s, *c;
		size_t stop_at, crash_at;

		for (int i = 0; i < N; i++) {
			random_edit(&x, src->n, texts[i], sizeof(texts[i]));
			tp[i] = texts[i];
			faults[i] = rnd(&x) % 3 == 0 ? MATERIALISE : NOTHING;
		}
		/* One clean stop and one crash, at different points; sometimes a second of each. */
		stop_at = rnd(&x) % N;
		do
			crash_at = rnd(&x) % N;
		while (crash_at == stop_at);
		faults[stop_at] = STOP;
		faults[crash_at] = CRASH;
		/* The first crash comes right after a normalize, whose measurement may be in flight. */
		{
			int64_t a = (int64_t)(rnd(&x) % 40);
			snprintf(texts[crash_at], sizeof(texts[crash_at]), "normalize -3 --frames %" PRId64
			         "-%" PRId64, a, a + 9);
		}
		for (int i = 0; i < N; i++)
			if (faults[i] == NOTHING && rnd(&x) % 6 == 0)
				faults[i] = rnd(&x) % 2 ? STOP : CRASH;
		medits_of(tp, N, src->n, e);

		s = new_sess(f, "h264-bframes.mp4");
		open_sess(f, s, extra);
		wait_stages(s, 3);
		for (int i = 0; i < N; i++) {
			send_ok(s, texts[i], false);
			printf("# resume %d: %s%s\n", iter, texts[i],
			       faults[i] == STOP ? ", then stop" : faults[i] == CRASH ? ", then crash" :
			       faults[i] == MATERIALISE ? ", then materialise" : "");
			switch (faults[i]) {
			case MATERIALISE: {
				uint64_t a = rnd(&x) % src->n, b = a + rnd(&x) % 20;
				need(s, a, b < src->n ? b : src->n - 1);
				break;
			}
			case STOP:
				stop_sess(f, s);
				open_sess(f, s, extra);
				wait_stages(s, 3);
				generation++;
				break;
			case CRASH:
				crash_sess(f, s);
				open_sess(f, s, extra);
				wait_stages(s, 3);
				generation++;
				break;
			default:
				break;
			}
		}
		wait_idle(s, 0);
		status_of(s, &st);
		assert_int_equal(st.generation, generation);
		assert_edit_list(s->name, e, N, NULL);
		read_frames(s, NULL, &faulty);

		c = new_sess(f, "h264-bframes.mp4");
		open_sess(f, c, extra);
		wait_stages(c, 3);
		for (int i = 0; i < N; i++)
			send_ok(c, texts[i], false);
		wait_idle(c, 0);
		read_frames(c, NULL, &clean);
		stop_sess(f, c);
		assert_same_hashes(&faulty, &clean, "after stops and crashes, against a run without them");
		model(src, e, N, ~0ull, &want);
		assert_snap_equal(&faulty, &want, "after stops and crashes, against the model");
		stop_sess(f, s);
		snap_free(&faulty);
		snap_free(&clean);
		snap_free(&want);
	}
}

/*
 * Times on the command line name the frames shown in them: at 25 fps,
 * 0.4-0.8 is frames 10-19, 1.0 alone frame 25.  `reel edits S` prints a
 * file that `reel open CLIP --edits FILE` replays into the same frames, bit
 * for bit, undone edits left out.  A bad line in such a file is refused,
 * exit 2, one line naming it, and nothing is journaled.
 */
static void test_stages_time_ranges_and_edits_file(void **state)
{
	static const char *const sent[] = {
		"brightness 0.1 --time 0.4-0.8",
		"hflip --time 1.0",
		"blur 2 --frames 5-30",
		"freeze 12 --frames 40-45",
		"normalize -2",
		"gain 3 --time 1-2",
		"invert --frames 0-49",
	};
	static const char *const resolved[] = {
		"brightness 0.1 --frames 10-19",
		"hflip --frames 25-25",
		"blur 2 --frames 5-30",
		"freeze 12 --frames 40-45",
		"normalize -2 --frames 0-49",
		"gain 3 --frames 25-49",
		"invert --frames 0-49",
	};
	static const char *const states[] = { "applied", "applied", "applied", "applied", "applied",
	                                      "applied", "undone" };
	static const struct {
		const char *text;
		const char *line;
	} bad[] = {
		{ "brightness 0.1 --frames 0-9\n# a comment\n\nblur 99 --frames 0-4\nhflip\n", "line 4" },
		{ "frobnicate --frames 1\n", "line 1" },
		{ "hflip --frames 0-9\ngain -6 --frames 10-60\n", "line 2" },
	};
	struct fixture *f = *state;
	const struct snap *src = source_of(f, "h264-bframes.mp4");
	struct medit e[N_OF(resolved)];
	struct snap one, two;
	struct sess *s;
	char path[4096], *out, *err, *errs[N_OF(bad)], *log;
	char *json, *objs[MAX_EDITS];
	size_t n;
	int code;

	medits_of(resolved, N_OF(resolved), src->n, e);
	s = new_sess(f, "h264-bframes.mp4");
	open_sess(f, s, (const char *[]){ "--workers", "2", NULL });
	wait_stages(s, 4);
	for (size_t i = 0; i < N_OF(sent); i++)
		send_ok(s, sent[i], true);
	undo_redo(s, true, 8);      /* 7 edits and the normalize's measurement before it */
	json = edits_json(s->name);
	n = json_objects(json, NULL, objs, MAX_EDITS);
	assert_int_equal(n, N_OF(sent));
	assert_int_equal(jnum(objs[0], "first"), 10);
	assert_int_equal(jnum(objs[0], "last"), 19);
	assert_int_equal(jnum(objs[1], "first"), 25);
	assert_int_equal(jnum(objs[1], "last"), 25);
	json_free_objects(objs, n);
	free(json);
	assert_edit_list(s->name, e, N_OF(resolved), states);
	expect_model(s, src, e, N_OF(resolved), 0x3f, "edits given by time", &one);

	/* The edit list as a file, the undone edit commented out. */
	code = REEL(&out, &err, "edits", s->name);
	assert_int_equal(code, 0);
	assert_non_null(strstr(out, "# invert"));
	snprintf(path, sizeof(path), "%s/list.edits", f->dir);
	assert_int_equal(tu_write_file(path, out, strlen(out)), 0);
	free(out);
	free(err);
	stop_sess(f, s);

	s = new_sess(f, "h264-bframes.mp4");
	open_sess(f, s, (const char *[]){ "--workers", "2", "--edits", path, NULL });
	wait_stages(s, 4);
	wait_idle(s, 0);
	log = tu_slurp(s->log, NULL);
	assert_non_null(log);
	assert_non_null(strstr(log, "6 edits from"));
	free(log);
	assert_edit_list(s->name, e, N_OF(resolved) - 1, NULL);
	read_frames(s, NULL, &two);
	assert_same_hashes(&two, &one, "the edits file replayed in a new session");
	stop_sess(f, s);
	snap_free(&one);
	snap_free(&two);

	/* Bad lines: exit 2, the line named, no session, nothing journaled. */
	for (size_t i = 0; i < N_OF(bad); i++) {
		struct reel_buffer *b;

		s = new_sess(f, "h264-bframes.mp4");
		snprintf(path, sizeof(path), "%s/bad%zu.edits", f->dir, i);
		assert_int_equal(tu_write_file(path, bad[i].text, strlen(bad[i].text)), 0);
		code = REEL(&out, &errs[i], "open", s->clip, "--session", s->name, "--buffer", s->buffer,
		            "--edits", path);
		free(out);
		if (code != 2 || !strstr(errs[i], bad[i].line))
			fail_msg("reel open --edits with a bad %s: exit %d, expected 2 and the line named: %s",
			         bad[i].line, code, errs[i]);
		assert_session_gone(f, s->name);
		if (reel_buffer_open_readonly(s->buffer, &b) == 0) {
			assert_int_equal(reel_journal_count(b), 0);
			reel_buffer_close(b);
		}
	}
	/* ... and the refusal is the one line on stderr. */
	for (size_t i = 0; i < N_OF(bad); i++) {
		static char shown[4096];
		int lines = count_lines(errs[i]);

		snprintf(shown, sizeof(shown), "%s", errs[i]);
		free(errs[i]);
		errs[i] = NULL;
		if (lines != 1) {
			for (size_t j = i + 1; j < N_OF(bad); j++)
				free(errs[j]);
			fail_msg("reel open --edits with a bad %s: %d lines on stderr, expected one:\n%s",
			         bad[i].line, lines, shown);
		}
	}
}

/*
 * Edits that cannot be: each refused by `reel send` with exit 2 and one
 * line, and through the client API by the coordinator itself; nothing is
 * journaled (the next good edit is number 1).
 */
static void test_stages_bad_edits_refused(void **state)
{
	static const char *const bad[] = {
		"brightness 2",                  /* out of range */
		"contrast -1",
		"blur 0",
		"blur 2.5",                      /* not a whole number */
		"crop 100 0 64 64",              /* x + w past the width, 128 */
		"crop 0 90 16 16",               /* y + h past the height, 96 */
		"frobnicate",                    /* no such op */
		"undo",                          /* not an edit */
		"gain -6",                       /* the video has no sound */
		"mute --frames 0-4",
		"normalize -3",
		"hflip --frames 40-60",          /* past the end, 50 frames */
		"hflip --frames 50",
		"hflip --frames 9-3",
		"freeze 70 --frames 0-5",        /* no frame 70 */
		"brightness",                    /* a parameter missing */
		"brightness 0.1 0.2",            /* one too many */
		"hflip --time 5-6",              /* the clip lasts 2 s */
		"hflip --frames x",
	};
	struct fixture *f = *state;
	struct sess *s = new_sess(f, "noaudio.mp4");
	struct reel_status st;
	char *out, *err, *json, *objs[4];
	uint64_t seq;
	int code;

	open_sess(f, s, (const char *[]){ "--no-stages", NULL });
	for (size_t i = 0; i < N_OF(bad); i++) {
		code = send_cli(s, bad[i], false, NULL, NULL, 0, &err);
		if (code != 2 || count_lines(err) != 1 || strncmp(err, "reel send: ", 11) != 0)
			fail_msg("reel send %s: exit %d, expected 2 and one line: %s", bad[i], code, err);
		free(err);
	}
	code = REEL(&out, &err, "send", "no-such-session", "hflip");
	assert_int_equal(code, 2);
	assert_int_equal(count_lines(err), 1);
	free(out);
	free(err);

	/* The coordinator refuses them too, whoever sends them. */
	assert_int_equal(reel_client_command(s->c, REEL_OP_CROP, (double[4]){ 100, 0, 64, 64 }, 0, 0,
	                                     5000, &seq), REEL_E_PARAM);
	assert_int_equal(reel_client_command(s->c, REEL_OP_HFLIP, (double[4]){ 0 }, 40, 60, 5000, &seq),
	                 REEL_E_RANGE);
	assert_int_equal(reel_client_command(s->c, REEL_OP_GAIN, (double[4]){ -6 }, 0, 49, 5000, &seq),
	                 REEL_E_PARAM);
	assert_int_equal(reel_client_command(s->c, REEL_OP_FREEZE, (double[4]){ 70 }, 0, 5, 5000, &seq),
	                 REEL_E_PARAM);

	status_of(s, &st);
	assert_int_equal(st.journal, 0);
	json = edits_json(s->name);
	assert_int_equal(json_objects(json, NULL, objs, 4), 0);
	free(json);
	json = status_json(s);
	assert_non_null(strstr(json, "\"journal\":0"));
	free(json);
	/* A good edit is still taken, and it is the first. */
	assert_int_equal(send_ok(s, "hflip --frames 0-4", true), 1);
	stop_sess(f, s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stages_ops_through_the_pipeline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_resident_or_later_one_or_four_workers, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_stages_fade_in_continuous_across_work_items, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_stages_undo_is_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_worker_pool_takes_a_hand_started_worker, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_stages_killed_worker_loses_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_failing_stage_fails_its_edit_once, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_stages_resume_after_stop_and_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_time_ranges_and_edits_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stages_bad_edits_refused, setup, teardown),
	};

	/* Stages whose coordinator died become our children, so that nothing is left unreaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* REEL_TEST_FILTER=test_stages_undo* runs only the tests that match. */
	if (getenv("REEL_TEST_FILTER"))
		cmocka_set_test_filter(getenv("REEL_TEST_FILTER"));
	av_log_set_level(AV_LOG_ERROR);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
