#include "session.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reel/error.h"
#include "reel/ops.h"
#include "testutil.h"

#define READY_TIMEOUT_MS 15000
#define CALL_TIMEOUT_MS 30000

const char *fs_reel_bin(void)
{
	const char *bin = getenv("REEL_BIN");

	if (!bin || !*bin) {
		printf("REEL_BIN is not set: run this test through meson\n");
		exit(77);
	}
	return bin;
}

void fs_init(struct fs_sess *s, const char *dir, const char *clip_name)
{
	const char *clip = tu_clip(clip_name);

	memset(s, 0, sizeof(*s));
	if (!clip) {
		printf("test clip %s is missing (REEL_TEST_CLIPS)\n", clip_name);
		exit(77);
	}
	tu_session_name(s->name, sizeof(s->name));
	snprintf(s->buffer, sizeof(s->buffer), "%s/%s.reel", dir, s->name);
	snprintf(s->log, sizeof(s->log), "%s/%s.out", dir, s->name);
	snprintf(s->clip, sizeof(s->clip), "%s", clip);
}

void fs_show_log(const struct fs_sess *s)
{
	size_t len;
	char *log = tu_slurp(s->log, &len);

	if (!log)
		return;
	fprintf(stderr, "# --- end of %s ---\n%s\n# ---\n", s->log, len > 4000 ? log + len - 4000 : log);
	free(log);
}

int fs_open(struct fs_sess *s, const char *const *extra)
{
	char *argv[32];
	int n = 0;
	double deadline;

	argv[n++] = (char *)fs_reel_bin();
	argv[n++] = (char *)"open";
	argv[n++] = s->clip;
	argv[n++] = (char *)"--session";
	argv[n++] = s->name;
	argv[n++] = (char *)"--buffer";
	argv[n++] = s->buffer;
	argv[n++] = (char *)"--no-preview";
	argv[n++] = (char *)"--verbose";
	for (size_t i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	s->pid = tu_spawn(argv, s->log);
	deadline = tu_now_ms() + READY_TIMEOUT_MS;
	for (;;) {
		int status;

		if (reel_client_connect(s->name, &s->c) == 0)
			return 0;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			fs_show_log(s);
			fprintf(stderr, "session %s: reel open ended early: %s\n", s->name,
			        fs_status_text(status));
			return -1;
		}
		if (tu_now_ms() > deadline) {
			fs_show_log(s);
			fprintf(stderr, "session %s never became ready\n", s->name);
			return -1;
		}
		usleep(5000);
	}
}

int fs_wait_idle(struct fs_sess *s, int timeout_ms)
{
	double deadline = tu_now_ms() + timeout_ms;
	struct reel_status st;

	for (;;) {
		int r = reel_client_status(s->c, 5000, &st);
		if (r == 0 && st.pending == 0)
			return 0;
		if (tu_now_ms() > deadline || (r < 0 && r != -ETIMEDOUT)) {
			fs_show_log(s);
			fprintf(stderr, "session %s not idle: %s, %" PRIu64 " pending\n", s->name,
			        r < 0 ? reel_strerror(r) : "status ok", r == 0 ? st.pending : 0);
			return -1;
		}
		usleep(20000);
	}
}

int fs_stop(struct fs_sess *s)
{
	char *out = NULL, *err = NULL;
	int code, st;

	reel_client_close(s->c);
	s->c = NULL;
	code = tu_run((char *[]){ (char *)fs_reel_bin(), "stop", s->name, NULL }, &out, &err);
	if (code != 0)
		fprintf(stderr, "reel stop %s: exit %d: %s", s->name, code, err ? err : "");
	free(out);
	free(err);
	st = tu_wait(s->pid, 20000);
	s->pid = 0;
	return st;
}

int fs_kill(struct fs_sess *s)
{
	int st;

	reel_client_close(s->c);
	s->c = NULL;
	kill(s->pid, SIGKILL);
	st = tu_wait(s->pid, 10000);
	s->pid = 0;
	return st;
}

/* A small generator of its own, so the list is the same in every run and process. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void fs_edit_make(unsigned i, uint64_t frames, struct fs_edit *ret)
{
	/* Effects and editor ops with exact integer results, heavy enough to be caught mid-frame. */
	static const uint32_t ops[] = { REEL_OP_BRIGHTNESS, REEL_OP_CONTRAST, REEL_OP_INVERT,
	                                REEL_OP_BLUR, REEL_OP_HFLIP, REEL_OP_GRAYSCALE,
	                                REEL_OP_VFLIP, REEL_OP_SHARPEN };
	uint64_t r = mix(i);
	uint64_t a = mix(r) % frames, len = 1 + mix(r + 1) % (frames / 2);

	memset(ret, 0, sizeof(*ret));
	ret->op = ops[r % (sizeof(ops) / sizeof(ops[0]))];
	ret->first = (int64_t)a;
	ret->last = (int64_t)(a + len - 1 < frames ? a + len - 1 : frames - 1);
	switch (ret->op) {
	case REEL_OP_BRIGHTNESS: ret->params[0] = (double)((int)(mix(r + 2) % 41) - 20) / 100.0; break;
	case REEL_OP_CONTRAST: ret->params[0] = 0.5 + (double)(mix(r + 2) % 100) / 100.0; break;
	case REEL_OP_BLUR: ret->params[0] = (double)(1 + mix(r + 2) % 4); break;
	case REEL_OP_SHARPEN: ret->params[0] = (double)(mix(r + 2) % 20) / 10.0; break;
	default: break;
	}
}

int fs_send(struct fs_sess *s, const struct fs_edit *e, uint64_t *ret_seq)
{
	int r;

	/* Too many unfinished edits: wait a little, as a user would, and send again. */
	for (int tries = 0; tries < 300; tries++) {
		r = reel_client_command(s->c, e->op, e->params, e->first, e->last, CALL_TIMEOUT_MS, ret_seq);
		if (r != -EBUSY)
			return r;
		usleep(20000);
	}
	return r;
}

uint64_t fs_frames(struct fs_sess *s)
{
	struct reel_video_info vi;

	return s->c && reel_client_video(s->c, &vi) == 0 ? vi.frames : 0;
}

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

int fs_read_settled(const char *session, uint64_t frame, int timeout_ms)
{
	struct reel_client *c = NULL;
	struct reel_video_info vi;
	struct reel_frame f;
	int r = reel_client_connect(session, &c);

	if (r == 0)
		r = reel_client_video(c, &vi);
	if (r == 0)
		r = reel_frame_alloc(&vi, &f);
	if (r == 0) {
		r = reel_client_read_frame(c, frame, REEL_READ_SETTLED, REEL_PRIO_INTERACTIVE, timeout_ms,
		                           &f, NULL);
		reel_frame_free(&f);
	}
	if (c)
		reel_client_close(c);
	return r;
}

int fs_hash_frames(struct fs_sess *s, uint64_t *hashes, uint64_t frames)
{
	struct reel_video_info vi;
	struct reel_frame f;
	int r = reel_client_video(s->c, &vi);

	if (r < 0)
		return r;
	r = reel_frame_alloc(&vi, &f);
	if (r < 0)
		return r;
	for (uint64_t i = 0; i < frames && i < vi.frames; i++) {
		uint64_t h = 0xcbf29ce484222325ull;

		r = reel_client_read_frame(s->c, i, REEL_READ_SETTLED, REEL_PRIO_INTERACTIVE,
		                           CALL_TIMEOUT_MS, &f, NULL);
		if (r < 0) {
			fs_show_log(s);
			fprintf(stderr, "session %s: frame %" PRIu64 ": %s\n", s->name, i, reel_strerror(r));
			break;
		}
		for (int p = 0; p < 3; p++)
			for (uint32_t y = 0; y < f.height[p]; y++)
				h = fnv(h, f.plane[p] + (size_t)y * f.stride[p], f.width[p]);
		if (f.audio)
			h = fnv(h, f.audio, (size_t)f.audio_samples * f.channels * sizeof(float));
		hashes[i] = h;
	}
	reel_frame_free(&f);
	return r < 0 ? r : 0;
}

size_t fs_stages(const struct fs_sess *s, pid_t *out, size_t max)
{
	pid_t all[64];
	size_t n = tu_session_procs(s->name, all, 64), k = 0;

	for (size_t i = 0; i < n && i < 64; i++)
		if (all[i] != s->pid && k < max)
			out[k++] = all[i];
	return k;
}

const char *fs_status_text(int status)
{
	static char buf[64];

	if (status < 0)
		snprintf(buf, sizeof(buf), "did not end in time");
	else if (WIFEXITED(status))
		snprintf(buf, sizeof(buf), "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof(buf), "killed by %s", strsignal(WTERMSIG(status)));
	else
		snprintf(buf, sizeof(buf), "status %d", status);
	return buf;
}

pid_t fs_stage_spawn(const struct fs_sess *s, const char *folder, const char *name)
{
	char dir[4096], path[8300], *slash;

	snprintf(dir, sizeof(dir), "%s", fs_reel_bin());
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	snprintf(path, sizeof(path), "%s/../%s/%s", dir, folder, name);
	return tu_spawn((char *[]){ path, (char *)"--session", (char *)s->name, NULL }, s->log);
}

int fs_reference(const char *dir, const char *clip, unsigned seed, unsigned n, uint64_t *hashes,
                 uint64_t frames)
{
	struct fs_sess s;
	int r = 0, st;

	/* A name of the test clips, or a path. */
	if (strchr(clip, '/'))
		fs_init_path(&s, dir, clip);
	else
		fs_init(&s, dir, clip);
	if (fs_open(&s, NULL) < 0)
		return -1;
	if (fs_hash_frames(&s, hashes, frames) < 0)
		r = -1;
	for (unsigned i = 0; i < n && r == 0; i++) {
		struct fs_edit e;
		uint64_t seq;

		fs_edit_make(seed + i, frames, &e);
		if (fs_send(&s, &e, &seq) < 0) {
			fprintf(stderr, "reference run: edit %u refused\n", i);
			r = -1;
		}
	}
	if (r == 0 && (fs_wait_idle(&s, 60000) < 0 || fs_hash_frames(&s, hashes, frames) < 0))
		r = -1;
	st = fs_stop(&s);
	if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0))
		r = -1;
	unlink(s.buffer);
	return r;
}

unsigned fs_differ(const uint64_t *a, const uint64_t *b, uint64_t frames)
{
	unsigned n = 0;

	for (uint64_t i = 0; i < frames; i++)
		n += a[i] != b[i];
	return n;
}

const char *fs_make_clip(const char *dir, const char *size)
{
	static char path[4200];
	char src[128], *out = NULL, *err = NULL;
	int code;

	snprintf(path, sizeof(path), "%.4000s/clip-%s.mp4", dir, size);
	if (access(path, R_OK) == 0)
		return path;
	snprintf(src, sizeof(src), "testsrc2=size=%s:rate=25:duration=10", size);
	code = tu_run((char *[]){ (char *)"/usr/bin/env", (char *)"ffmpeg", (char *)"-nostdin",
	                          (char *)"-loglevel", (char *)"error", (char *)"-f", (char *)"lavfi",
	                          (char *)"-i", src, (char *)"-c:v", (char *)"libx264", (char *)"-preset",
	                          (char *)"veryfast", (char *)"-g", (char *)"50", (char *)"-pix_fmt",
	                          (char *)"yuv420p", path, NULL }, &out, &err);
	free(out);
	free(err);
	return code == 0 && access(path, R_OK) == 0 ? path : NULL;
}

void fs_init_path(struct fs_sess *s, const char *dir, const char *clip_path)
{
	memset(s, 0, sizeof(*s));
	tu_session_name(s->name, sizeof(s->name));
	snprintf(s->buffer, sizeof(s->buffer), "%s/%s.reel", dir, s->name);
	snprintf(s->log, sizeof(s->log), "%s/%s.out", dir, s->name);
	snprintf(s->clip, sizeof(s->clip), "%s", clip_path);
}

unsigned fs_frames_lost(struct fs_sess *s, const uint64_t *ref, uint64_t frames)
{
	uint64_t *got = calloc(frames ? frames : 1, sizeof(*got));
	unsigned d = 1;

	if (got && fs_hash_frames(s, got, frames) == 0) {
		d = fs_differ(got, ref, frames);
		printf("final buffer: %u of %" PRIu64 " frames differ from the run without faults\n", d,
		       frames);
	}
	free(got);
	return d;
}
