/*
 * reel export as people run it: `reel open` with its real stages, edits
 * sent with the real `reel send`, `reel export` run as a program, and what
 * it wrote decoded here with plain libav.
 *
 * What an export should hold is worked out here independently of the
 * export engine: the pictures are the buffer's own frames, read through
 * reel_client_read_frame once settled; which source frame each output
 * frame shows follows from the trims and speed changes the test sent (the
 * rule of `reel send --help`: output frame j of a speed range of n frames
 * shown as m shows frame first + j * n / m), and each showing lasts its
 * source frame's duration, read from the source decoded here.  Lossless
 * exports (ffv1, y4m) must equal the buffer bit for bit; the default H.264
 * export must come within 35 dB PSNR of it, and match no other frame
 * better than the one it should show.
 *
 * Each test runs in its own temp folder with its own runtime folder
 * (REEL_RUNTIME_DIR) and session names; every session is stopped with
 * `reel stop`, and must leave no session file and no process behind.
 * REEL_TEST_KEEP=1 keeps each test's folder.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
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
#include <libavutil/pixdesc.h>

#include "bus/session.h"
#include "reel/client.h"
#include "reel/error.h"
#include "testutil.h"

#define MAX_SESS 4
#define READY_TIMEOUT_MS 15000
#define READ_TIMEOUT_MS 60000
#define EXPORT_TIMEOUT_MS 300000

/* ------------------------------------------------------------ sessions */

struct sess {
	char name[64];
	char buffer[4096];
	char log[4096];
	char clip[4096];
	pid_t pid;                    /* the coordinator, our child; 0 when not running */
	struct reel_client *c;
};

struct fixture {
	char *dir;
	char run[4096];
	struct sess *sess[MAX_SESS];
	size_t nsess;
};

static const char *reel_bin(void)
{
	const char *bin = getenv("REEL_BIN");
	assert_non_null(bin);
	return bin;
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

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < f->nsess; i++) {
		struct sess *s = f->sess[i];
		pid_t left[32];
		size_t n;

		reel_client_close(s->c);
		if (s->pid > 0) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
		/* What a failed test left running: the stages of its session. */
		n = tu_session_procs(s->name, left, 32);
		for (size_t j = 0; j < n && j < 32; j++)
			kill(left[j], SIGKILL);
		for (int k = 0; k < 200 && tu_session_procs(s->name, NULL, 0) > 0; k++) {
			tu_reap_adopted(NULL, 0);
			usleep(5000);
		}
		reel_session_remove(s->name);
		free(s);
	}
	if (getenv("REEL_TEST_KEEP"))
		fprintf(stderr, "# kept %s\n", f->dir);
	else
		tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void show_log(const struct sess *s)
{
	size_t len;
	char *log = tu_slurp(s->log, &len);

	if (!log)
		return;
	fprintf(stderr, "# --- end of %s ---\n%s\n# ---\n", s->log, len > 6000 ? log + len - 6000 : log);
	free(log);
}

/* `reel open CLIP --session S --buffer B [extra...]`; returns once a client connects. */
static struct sess *open_sess(struct fixture *f, const char *clip_name, const char *const *extra)
{
	struct sess *s = calloc(1, sizeof(*s));
	const char *clip = tu_clip(clip_name);
	char *argv[32];
	int n = 0;
	double deadline;

	assert_non_null(s);
	if (!clip)
		fail_msg("test clip %s is missing (REEL_TEST_CLIPS)", clip_name);
	assert_true(f->nsess < MAX_SESS);
	f->sess[f->nsess++] = s;
	tu_session_name(s->name, sizeof(s->name));
	snprintf(s->buffer, sizeof(s->buffer), "%s/%s.reel", f->dir, s->name);
	snprintf(s->log, sizeof(s->log), "%s/%s.log", f->dir, s->name);
	snprintf(s->clip, sizeof(s->clip), "%s", clip);
	argv[n++] = (char *)reel_bin();
	argv[n++] = (char *)"open";
	argv[n++] = s->clip;
	argv[n++] = (char *)"--session";
	argv[n++] = s->name;
	argv[n++] = (char *)"--buffer";
	argv[n++] = s->buffer;
	argv[n++] = (char *)"--no-preview";
	for (size_t i = 0; extra && extra[i]; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	s->pid = tu_spawn(argv, s->log);
	deadline = tu_now_ms() + READY_TIMEOUT_MS;
	while (reel_client_connect(s->name, &s->c) != 0) {
		int status;
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
	return s;
}

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

/* `reel stop S`: the coordinator exits 0 and leaves no session file and no process behind. */
static void stop_sess(struct sess *s)
{
	struct reel_session_record rec;
	char *err;
	int code, st;

	reel_client_close(s->c);
	s->c = NULL;
	code = REEL(NULL, &err, "stop", s->name);
	if (code != 0) {
		show_log(s);
		fail_msg("reel stop %s: exit %d: %s", s->name, code, err);
	}
	free(err);
	st = tu_wait(s->pid, 20000);
	s->pid = 0;
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		show_log(s);
		fail_msg("session %s: reel open ended with status %d after a stop", s->name, st);
	}
	assert_int_equal(reel_session_read(s->name, &rec), REEL_E_NOSESSION);
	for (int k = 0; k < 3000 && tu_session_procs(s->name, NULL, 0) > 0; k++) {
		tu_reap_adopted(NULL, 0);
		usleep(5000);
	}
	assert_int_equal(tu_session_procs(s->name, NULL, 0), 0);
}

/* `reel send S EDIT...` (words split at blanks), accepted, not waited for. */
static void send_edit(struct sess *s, const char *edit)
{
	char copy[256], *argv[32], *err;
	int n = 0, code;

	snprintf(copy, sizeof(copy), "%s", edit);
	argv[n++] = (char *)reel_bin();
	argv[n++] = (char *)"send";
	argv[n++] = s->name;
	for (char *w = strtok(copy, " "); w && n < 30; w = strtok(NULL, " "))
		argv[n++] = w;
	argv[n] = NULL;
	code = tu_run(argv, NULL, &err);
	if (code != 0)
		fail_msg("reel send %s %s: exit %d: %s", s->name, edit, code, err);
	free(err);
}

/* `reel export S OUT ARGS...` (NULL-terminated) that must succeed; its standard output. */
static char *export_ok(struct sess *s, const char *out, ...)
{
	char *argv[40], *o, *err;
	va_list ap;
	int n = 0, code;

	argv[n++] = (char *)reel_bin();
	argv[n++] = (char *)"export";
	argv[n++] = s->name;
	argv[n++] = (char *)out;
	va_start(ap, out);
	for (char *a; (a = va_arg(ap, char *)) != NULL && n < 38;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	code = tu_run(argv, &o, &err);
	if (code != 0) {
		show_log(s);
		fail_msg("reel export %s %s: exit %d: %s", s->name, out, code, err);
	}
	free(err);
	return o;
}
#define EXPORT_OK(s, out, ...) export_ok(s, out, __VA_ARGS__, (char *)NULL)

/* ------------------------------------------------------------- decoding */

/* Everything a file holds, decoded with plain libav. */
struct decoded {
	size_t n, cap;
	struct reel_frame *pic;       /* packed YUV420P */
	double *pts;                  /* seconds, from the stream's timestamps */
	int color_range;              /* of the first picture */
	double first_pts, end;        /* of the video packets: the least pts, the greatest pts + duration */
	double duration;              /* of the video stream as the container says, NAN when it does not */
	int64_t samples;              /* per channel */
	int rate, channels;
	uint8_t *pcm;                 /* the samples, when they are packed 16-bit */
	size_t pcm_len;
};

static void decoded_free(struct decoded *d)
{
	for (size_t i = 0; i < d->n; i++)
		reel_frame_free(&d->pic[i]);
	free(d->pic);
	free(d->pts);
	free(d->pcm);
	memset(d, 0, sizeof(*d));
}

/* The length of the video track: the stream's duration (what ffprobe reports), else its packets'. */
static double video_end(const struct decoded *d)
{
	assert_true(d->n > 0);
	return isnan(d->duration) ? d->end - d->first_pts : d->duration;
}

static void take_picture(struct decoded *d, const AVFrame *fr, AVRational tb)
{
	struct reel_video_info vi = { .width = (uint32_t)fr->width, .height = (uint32_t)fr->height };
	struct reel_frame *p;

	if (fr->format != AV_PIX_FMT_YUV420P)
		fail_msg("decoded picture is %s, not yuv420p", av_get_pix_fmt_name(fr->format));
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		d->pic = realloc(d->pic, d->cap * sizeof(*d->pic));
		d->pts = realloc(d->pts, d->cap * sizeof(*d->pts));
		assert_non_null(d->pic);
		assert_non_null(d->pts);
	}
	p = &d->pic[d->n];
	assert_int_equal(reel_frame_alloc(&vi, p), 0);
	for (int i = 0; i < 3; i++)
		for (uint32_t y = 0; y < p->height[i]; y++)
			memcpy(p->plane[i] + (size_t)y * p->stride[i],
			       fr->data[i] + (size_t)y * (size_t)fr->linesize[i], p->width[i]);
	d->pts[d->n] = (double)fr->best_effort_timestamp * av_q2d(tb);
	if (d->n == 0)
		d->color_range = fr->color_range;
	d->n++;
}

static void take_sound(struct decoded *d, const AVFrame *fr)
{
	d->samples += fr->nb_samples;
	d->rate = fr->sample_rate;
	d->channels = fr->ch_layout.nb_channels;
	if (fr->format == AV_SAMPLE_FMT_S16) {
		size_t len = (size_t)fr->nb_samples * (size_t)d->channels * 2;
		d->pcm = realloc(d->pcm, d->pcm_len + len);
		assert_non_null(d->pcm);
		memcpy(d->pcm + d->pcm_len, fr->data[0], len);
		d->pcm_len += len;
	}
}

static void drain(AVCodecContext *dec, AVFrame *fr, struct decoded *d, AVRational tb)
{
	while (avcodec_receive_frame(dec, fr) == 0) {
		if (dec->codec_type == AVMEDIA_TYPE_VIDEO)
			take_picture(d, fr, tb);
		else
			take_sound(d, fr);
		av_frame_unref(fr);
	}
}

static AVCodecContext *open_decoder(const AVStream *st)
{
	const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
	AVCodecContext *dec = avcodec_alloc_context3(codec);

	assert_non_null(codec);
	assert_non_null(dec);
	assert_int_equal(avcodec_parameters_to_context(dec, st->codecpar), 0);
	dec->pkt_timebase = st->time_base;
	dec->thread_count = 1;
	assert_int_equal(avcodec_open2(dec, codec, NULL), 0);
	return dec;
}

/* Decode every video frame and every audio sample of path (format NULL: probed). */
static void decode_file(const char *path, const char *format, struct decoded *d)
{
	const AVInputFormat *ifmt = format ? av_find_input_format(format) : NULL;
	AVFormatContext *fc = NULL;
	AVCodecContext *dec[2] = { NULL, NULL };
	AVRational tb[2] = { { 0, 1 }, { 0, 1 } };
	int idx[2];
	AVPacket *pkt = av_packet_alloc();
	AVFrame *fr = av_frame_alloc();

	memset(d, 0, sizeof(*d));
	if (avformat_open_input(&fc, path, ifmt, NULL) != 0)
		fail_msg("%s: libav cannot open it", path);
	assert_true(avformat_find_stream_info(fc, NULL) >= 0);
	idx[0] = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	idx[1] = av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
	assert_true(idx[0] >= 0);
	for (int k = 0; k < 2; k++)
		if (idx[k] >= 0) {
			dec[k] = open_decoder(fc->streams[idx[k]]);
			tb[k] = fc->streams[idx[k]]->time_base;
		}
	d->duration = fc->streams[idx[0]]->duration > 0
	              ? (double)fc->streams[idx[0]]->duration * av_q2d(tb[0]) : NAN;
	d->first_pts = INFINITY;
	d->end = -INFINITY;
	while (av_read_frame(fc, pkt) >= 0) {
		if (pkt->stream_index == idx[0] && pkt->pts != AV_NOPTS_VALUE) {
			double t = (double)pkt->pts * av_q2d(tb[0]);
			d->first_pts = fmin(d->first_pts, t);
			d->end = fmax(d->end, t + (double)pkt->duration * av_q2d(tb[0]));
		}
		for (int k = 0; k < 2; k++)
			if (dec[k] && pkt->stream_index == idx[k]) {
				assert_int_equal(avcodec_send_packet(dec[k], pkt), 0);
				drain(dec[k], fr, d, tb[k]);
			}
		av_packet_unref(pkt);
	}
	for (int k = 0; k < 2; k++)
		if (dec[k]) {
			avcodec_send_packet(dec[k], NULL);
			drain(dec[k], fr, d, tb[k]);
			avcodec_free_context(&dec[k]);
		}
	av_frame_free(&fr);
	av_packet_free(&pkt);
	avformat_close_input(&fc);
}

/* ------------------------------------------------------- the buffer side */

/* Every frame of the session as it stands once settled, read through the client API. */
static struct reel_frame *buffer_frames(struct sess *s, uint64_t *ret_n)
{
	struct reel_video_info vi;
	struct reel_frame *frames;

	assert_int_equal(reel_client_video(s->c, &vi), 0);
	vi.channels = 0;
	frames = calloc(vi.frames, sizeof(*frames));
	assert_non_null(frames);
	for (uint64_t f = 0; f < vi.frames; f++) {
		int r;
		assert_int_equal(reel_frame_alloc(&vi, &frames[f]), 0);
		r = reel_client_read_frame(s->c, f, REEL_READ_SETTLED, REEL_PRIO_INTERACTIVE,
		                           READ_TIMEOUT_MS, &frames[f], NULL);
		if (r < 0)
			fail_msg("session %s: frame %" PRIu64 ": %s", s->name, f, reel_strerror(r));
	}
	*ret_n = vi.frames;
	return frames;
}

static void frames_free(struct reel_frame *frames, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		reel_frame_free(&frames[i]);
	free(frames);
}

static bool same_picture(const struct reel_frame *a, const struct reel_frame *b)
{
	for (int i = 0; i < 3; i++) {
		if (a->width[i] != b->width[i] || a->height[i] != b->height[i])
			return false;
		for (uint32_t y = 0; y < a->height[i]; y++)
			if (memcmp(a->plane[i] + (size_t)y * a->stride[i],
			           b->plane[i] + (size_t)y * b->stride[i], a->width[i]) != 0)
				return false;
	}
	return true;
}

/* PSNR over the three planes together (8-bit), 99 for identical pictures. */
static double psnr(const struct reel_frame *a, const struct reel_frame *b)
{
	double se = 0, n = 0;

	for (int i = 0; i < 3; i++)
		for (uint32_t y = 0; y < a->height[i]; y++)
			for (uint32_t x = 0; x < a->width[i]; x++) {
				int d = a->plane[i][(size_t)y * a->stride[i] + x] -
				        b->plane[i][(size_t)y * b->stride[i] + x];
				se += d * d;
				n++;
			}
	return se == 0 ? 99 : 10 * log10(255.0 * 255.0 * n / se);
}

/* Which source frame each output frame shows: speed ranges (first, last, factor), then trims. */
struct expect_edit {
	char kind;                    /* 't' trim, 's' speed */
	int64_t first, last;
	double factor;
};

static size_t expected_frames(uint64_t frames, int64_t from, int64_t to, const struct expect_edit *e,
                              size_t ne, int64_t *out, size_t max)
{
	uint32_t *count = calloc(frames, sizeof(*count));
	size_t n = 0;

	assert_non_null(count);
	for (uint64_t f = 0; f < frames; f++)
		count[f] = 1;
	for (size_t i = 0; i < ne; i++)
		if (e[i].kind == 's') {
			uint64_t len = (uint64_t)(e[i].last - e[i].first + 1);
			uint64_t m = (uint64_t)llround((double)len / e[i].factor);
			for (int64_t f = e[i].first; f <= e[i].last; f++)
				count[f] = 0;
			for (uint64_t j = 0; j < m; j++)
				count[e[i].first + (int64_t)(j * len / m)]++;
		}
	for (size_t i = 0; i < ne; i++)
		if (e[i].kind == 't')
			for (int64_t f = e[i].first; f <= e[i].last; f++)
				count[f] = 0;
	for (int64_t f = from; f <= to; f++)
		for (uint32_t k = 0; k < count[f]; k++) {
			assert_true(n < max);
			out[n++] = f;
		}
	free(count);
	return n;
}

/* The names in dir (not . and ..), joined by blanks, and how many. */
static size_t dir_entries(const char *dir, char *names, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	names[0] = 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			if (strlen(names) + strlen(de->d_name) + 2 < len) {
				strcat(names, " ");
				strcat(names, de->d_name);
			}
			n++;
		}
	closedir(d);
	return n;
}

/*
 * Reply queues of the session: those of process pid, or (pid 0) those
 * whose process is gone, which nothing will ever remove (a count of the
 * live ones would move as stages and earlier clients come and go).  0 when
 * the mqueue file system is not mounted to look.
 */
static size_t reply_queues(const char *session, pid_t pid)
{
	char prefix[128], which[64];
	DIR *d = opendir("/dev/mqueue");
	struct dirent *de;
	size_t n = 0, len;

	if (!d)
		return 0;
	/* "reel.<uid>.<session>.<16 hex digits of nonce>.r<pid>.<tag>" */
	len = (size_t)snprintf(prefix, sizeof(prefix), "reel.%u.%s.", (unsigned)getuid(), session);
	snprintf(which, sizeof(which), "r%ld.", (long)(pid ? pid : getpid()));
	while ((de = readdir(d))) {
		const char *rest = de->d_name + len;
		if (strncmp(de->d_name, prefix, len) || strlen(rest) < 18 || rest[16] != '.' ||
		    rest[17] != 'r')
			continue;
		if (pid != 0 && strncmp(rest + 17, which, strlen(which)) == 0)
			n++;
		if (pid == 0 && kill((pid_t)strtol(rest + 18, NULL, 10), 0) < 0 && errno == ESRCH)
			n++;
	}
	closedir(d);
	return n;
}

static char *path_in(const char *dir, const char *name)
{
	char *p;
	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

/* ---------------------------------------------------------------- tests */

/*
 * The default export (H.264 with libx264 at crf 23, medium; AAC) of a
 * session with a trim and a brightness edit sent just before it: the
 * frame count and duration ffprobe would report, each frame within 35 dB
 * of the buffer frame it should show and closer to it than to any other
 * (the trimmed frames are gone), the edit in, sound as long as picture.
 */
static void test_export_round_trip_default_quality(void **state)
{
	struct fixture *f = *state;
	static const char *const extra[] = { "--workers", "1", NULL };
	struct sess *s = open_sess(f, "h264-bframes.mp4", extra);
	const struct expect_edit edits[] = { { 't', 10, 14, 0 } };
	struct decoded out, src;
	struct reel_frame *buf;
	int64_t want[64];
	uint64_t nbuf;
	unsigned long long v;
	size_t n;
	char *mp4 = path_in(f->dir, "out.mp4"), *json;
	double worst = 99;

	/* Sent and not waited for: the export must wait until they are applied. */
	send_edit(s, "brightness 0.1");
	send_edit(s, "trim --frames 10-14");
	json = EXPORT_OK(s, mp4, "--json");
	/* The export's own two connections are gone with it: no queue outlives its process. */
	assert_int_equal(reply_queues(s->name, 0), 0);
	assert_int_equal(tu_json_u64(json, "frames", &v), 0);
	assert_int_equal(v, 45);
	free(json);

	decode_file(mp4, NULL, &out);
	decode_file(s->clip, NULL, &src);
	buf = buffer_frames(s, &nbuf);
	n = expected_frames(nbuf, 0, (int64_t)nbuf - 1, edits, 1, want, 64);
	assert_int_equal(n, 45);
	assert_int_equal(out.n, n);
	/* 45 frames of 40 ms, and the sound as long within one frame. */
	assert_true(fabs(video_end(&out) - 1.8) < 0.001);
	assert_int_equal(out.rate, 44100);
	if (fabs((double)out.samples / out.rate - video_end(&out)) >= 0.04)
		fail_msg("sound %.4f s, pictures %.4f s", (double)out.samples / out.rate, video_end(&out));
	for (size_t j = 0; j < n; j++) {
		double p = psnr(&out.pic[j], &buf[want[j]]);
		if (p < worst)
			worst = p;
		if (p <= 35)
			fail_msg("output frame %zu: %.2f dB against buffer frame %" PRId64, j, p, want[j]);
		for (uint64_t g = 0; g < nbuf; g++)
			if ((int64_t)g != want[j] && psnr(&out.pic[j], &buf[g]) >= p)
				fail_msg("output frame %zu looks like buffer frame %" PRIu64 ", not %" PRId64, j, g,
				         want[j]);
		/* The brightness is in: far from the source as decoded without it. */
		if (psnr(&out.pic[j], &src.pic[want[j]]) > p - 10)
			fail_msg("output frame %zu: the brightness edit is not in it", j);
	}
	fprintf(stderr, "# round trip: worst PSNR %.2f dB over %zu frames\n", worst, n);
	frames_free(buf, nbuf);
	decoded_free(&out);
	decoded_free(&src);
	free(mp4);
	stop_sess(s);
}

/*
 * `reel export S - --format y4m` streams YUV4MPEG2 to standard output: it
 * decodes to the buffer's frames bit for bit, says it leaves the sound out,
 * and tags limited range.
 */
static void test_export_y4m_to_stdout_is_bit_exact(void **state)
{
	struct fixture *f = *state;
	static const char *const extra[] = { "--workers", "1", NULL };
	struct sess *s = open_sess(f, "h264-bframes.mp4", extra);
	char *y4m = path_in(f->dir, "out.y4m"), *errpath = path_in(f->dir, "err.txt"), *err, *head;
	char *argv[] = {
		(char *)"/bin/sh", (char *)"-c", (char *)"exec \"$0\" export \"$1\" - --format y4m "
		"> \"$2\" 2> \"$3\"", (char *)reel_bin(), s->name, y4m, errpath, NULL,
	};
	struct decoded out;
	struct reel_frame *buf;
	uint64_t nbuf;
	int code;

	send_edit(s, "invert --frames 5-9");
	send_edit(s, "blur 2 --frames 20-30");
	code = tu_run(argv, NULL, NULL);
	err = tu_slurp(errpath, NULL);
	if (code != 0)
		fail_msg("reel export - --format y4m: exit %d: %s", code, err);
	assert_non_null(strstr(err, "pictures only"));
	head = tu_slurp(y4m, NULL);
	assert_int_equal(strncmp(head, "YUV4MPEG2 W320 H240 F25:1 ", 26), 0);
	decode_file(y4m, "yuv4mpegpipe", &out);
	buf = buffer_frames(s, &nbuf);
	assert_int_equal(out.n, nbuf);
	for (uint64_t j = 0; j < nbuf; j++)
		if (!same_picture(&out.pic[j], &buf[j]))
			fail_msg("y4m frame %" PRIu64 " differs from the buffer's", j);
	assert_int_equal(out.color_range, AVCOL_RANGE_MPEG);
	frames_free(buf, nbuf);
	decoded_free(&out);
	free(head);
	free(err);
	free(y4m);
	free(errpath);
	stop_sess(s);
}

/*
 * A variable-frame-rate clip with a slow-down and a speed-up, exported
 * losslessly (ffv1 in matroska): the frames the speed rule says, bit for
 * bit, each showing lasting its source frame's duration, so the frames
 * shown once keep the source's spacing (40 ms, then 80 ms).
 */
static void test_export_speed_and_variable_frame_rate(void **state)
{
	struct fixture *f = *state;
	static const char *const extra[] = { "--workers", "1", NULL };
	struct sess *s = open_sess(f, "vfr.mkv", extra);
	const struct expect_edit edits[] = { { 's', 0, 3, 0.5 }, { 's', 30, 39, 2 } };
	char *mkv = path_in(f->dir, "out.mkv");
	struct decoded out, src;
	struct reel_frame *buf;
	int64_t want[128];
	uint64_t nbuf;
	size_t n;
	double t = 0;

	send_edit(s, "speed 0.5 --frames 0-3");
	send_edit(s, "speed 2 --frames 30-39");
	free(EXPORT_OK(s, mkv, "--codec", "ffv1"));
	decode_file(mkv, NULL, &out);
	decode_file(s->clip, NULL, &src);
	buf = buffer_frames(s, &nbuf);
	assert_int_equal(src.n, nbuf);
	n = expected_frames(nbuf, 0, (int64_t)nbuf - 1, edits, 2, want, 128);
	assert_int_equal(n, nbuf + 4 - 5);
	assert_int_equal(out.n, n);
	for (size_t j = 0; j < n; j++) {
		int64_t g = want[j];
		double d = (uint64_t)g + 1 < nbuf ? src.pts[g + 1] - src.pts[g] : src.pts[g] - src.pts[g - 1];

		if (!same_picture(&out.pic[j], &buf[g]))
			fail_msg("output frame %zu is not buffer frame %" PRId64, j, g);
		/* Matroska keeps milliseconds. */
		if (fabs(out.pts[j] - out.pts[0] - t) > 0.0015)
			fail_msg("output frame %zu at %.4f s, expected %.4f s", j, out.pts[j] - out.pts[0], t);
		t += d;
	}
	/* (Matroska keeps no duration per frame: the last one's is the track's default.) */
	frames_free(buf, nbuf);
	decoded_free(&out);
	decoded_free(&src);
	free(mkv);
	stop_sess(s);
}

/*
 * A render split in three ranges of source frames, exported at the same
 * time by three background processes (ffv1 and 16-bit PCM in matroska),
 * joined with ffmpeg's concat demuxer as the README says: the same
 * pictures, timestamps and sound as one export of the whole.
 */
static void test_export_parallel_ranges_join_into_the_whole(void **state)
{
	struct fixture *f = *state;
	static const char *const extra[] = { "--workers", "1", NULL };
	static const char *const ranges[3] = { "0-79", "80-159", "160-" };
	struct sess *s = open_sess(f, "long.mp4", extra);
	char *whole = path_in(f->dir, "whole.mkv"), *joined = path_in(f->dir, "joined.mkv");
	char *list = path_in(f->dir, "parts.txt"), *part[3], text[4096] = "", *err;
	pid_t pids[3];
	struct decoded a, b;
	int code;

	send_edit(s, "brightness 0.05");
	send_edit(s, "trim --frames 100-109");
	for (int i = 0; i < 3; i++) {
		char name[32];
		char *argv[] = {
			(char *)reel_bin(), (char *)"export", s->name, NULL, (char *)"--frames",
			(char *)ranges[i], (char *)"--codec", (char *)"ffv1", (char *)"--audio-codec",
			(char *)"pcm_s16le", NULL,
		};
		snprintf(name, sizeof(name), "part%d.mkv", i);
		part[i] = path_in(f->dir, name);
		argv[3] = part[i];
		pids[i] = tu_spawn(argv, s->log);
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "file '%s'\n", part[i]);
	}
	free(EXPORT_OK(s, whole, "--codec", "ffv1", "--audio-codec", "pcm_s16le"));
	for (int i = 0; i < 3; i++) {
		int st = tu_wait(pids[i], EXPORT_TIMEOUT_MS);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			show_log(s);
			fail_msg("reel export --frames %s: status %d", ranges[i], st);
		}
	}
	assert_int_equal(tu_write_file(list, text, strlen(text)), 0);
	code = tu_run((char *[]){ (char *)"/usr/bin/env", (char *)"ffmpeg", (char *)"-nostdin",
	                          (char *)"-v", (char *)"error", (char *)"-f", (char *)"concat",
	                          (char *)"-safe", (char *)"0", (char *)"-i", list, (char *)"-c",
	                          (char *)"copy", joined, NULL }, NULL, &err);
	if (code != 0)
		fail_msg("ffmpeg -f concat: exit %d: %s", code, err);
	free(err);
	decode_file(whole, NULL, &a);
	decode_file(joined, NULL, &b);
	assert_int_equal(a.n, 240);
	assert_int_equal(b.n, a.n);
	for (size_t j = 0; j < a.n; j++) {
		if (!same_picture(&a.pic[j], &b.pic[j]))
			fail_msg("joined frame %zu differs from the whole export's", j);
		if (fabs((a.pts[j] - a.pts[0]) - (b.pts[j] - b.pts[0])) > 0.0015)
			fail_msg("joined frame %zu at %.4f s, the whole export's at %.4f s", j,
			         b.pts[j] - b.pts[0], a.pts[j] - a.pts[0]);
	}
	assert_true(a.pcm_len > 0);
	assert_int_equal(b.pcm_len, a.pcm_len);
	assert_memory_equal(a.pcm, b.pcm, a.pcm_len);
	/* 240 frames of 40 ms, 1764 samples each at 44.1 kHz. */
	assert_int_equal(a.samples, 240 * 1764);
	decoded_free(&a);
	decoded_free(&b);
	for (int i = 0; i < 3; i++)
		free(part[i]);
	free(whole);
	free(joined);
	free(list);
	stop_sess(s);
}

/*
 * --time T1-T2 names the source frames shown from T1 up to T2, --time T
 * the frame on screen at T, as --frames would: frames 10-19 of a 25 fps
 * clip for 0.4-0.8, frame 25 for 1.0.
 */
static void test_export_time_range_picks_its_frames(void **state)
{
	struct fixture *f = *state;
	static const char *const extra[] = { "--no-stages", NULL };
	struct sess *s = open_sess(f, "h264-bframes.mp4", extra);
	char *a = path_in(f->dir, "a.nut"), *b = path_in(f->dir, "b.nut"), *c = path_in(f->dir, "c.nut");
	struct decoded da, db, dc;
	struct reel_frame *buf;
	uint64_t nbuf;

	free(EXPORT_OK(s, a, "--time", "0.4-0.8", "--codec", "ffv1", "--no-audio"));
	free(EXPORT_OK(s, b, "--frames", "10-19", "--codec", "ffv1", "--no-audio"));
	free(EXPORT_OK(s, c, "--time", "1.0", "--codec", "ffv1", "--no-audio"));
	decode_file(a, NULL, &da);
	decode_file(b, NULL, &db);
	decode_file(c, NULL, &dc);
	buf = buffer_frames(s, &nbuf);
	assert_int_equal(da.n, 10);
	assert_int_equal(db.n, 10);
	for (size_t j = 0; j < 10; j++) {
		assert_true(same_picture(&da.pic[j], &buf[10 + j]));
		assert_true(same_picture(&db.pic[j], &buf[10 + j]));
	}
	assert_int_equal(dc.n, 1);
	assert_true(same_picture(&dc.pic[0], &buf[25]));
	assert_int_equal(da.samples, 0);
	frames_free(buf, nbuf);
	decoded_free(&da);
	decoded_free(&db);
	decoded_free(&dc);
	free(a);
	free(b);
	free(c);
	stop_sess(s);
}

/*
 * Colours: the buffer is limited range (a full-range source is converted
 * on the way in) in the source's matrix, and the export says so: a
 * full-range BT.709 source comes out limited range, BT.709, in the H.264
 * stream of an mp4 and in matroska's own tags; an untagged source comes
 * out with the range only (matroska), its matrix left unknown.
 */
static void test_export_tags_colours(void **state)
{
	struct fixture *f = *state;
	static const char *const extra[] = { "--no-stages", NULL };
	struct sess *tagged = open_sess(f, "bt709-full.mp4", extra);
	struct sess *plain = open_sess(f, "h264-bframes.mp4", extra);
	char *mp4 = path_in(f->dir, "a.mp4"), *mkv = path_in(f->dir, "a.mkv");
	char *plain_mkv = path_in(f->dir, "b.mkv");
	const char *files[2] = { mp4, mkv };

	free(EXPORT_OK(tagged, mp4, "--preset", "ultrafast"));
	free(EXPORT_OK(tagged, mkv, "--codec", "ffv1"));
	free(EXPORT_OK(plain, plain_mkv, "--codec", "ffv1", "--frames", "0-4"));
	for (int i = 0; i < 2; i++) {
		AVFormatContext *fc = NULL;
		const AVCodecParameters *par;
		struct decoded d;

		assert_int_equal(avformat_open_input(&fc, files[i], NULL, NULL), 0);
		assert_true(avformat_find_stream_info(fc, NULL) >= 0);
		par = fc->streams[av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)]->codecpar;
		assert_int_equal(par->color_range, AVCOL_RANGE_MPEG);
		assert_int_equal(par->color_space, AVCOL_SPC_BT709);
		avformat_close_input(&fc);
		decode_file(files[i], NULL, &d);
		assert_int_equal(d.n, 25);
		assert_int_equal(d.color_range, AVCOL_RANGE_MPEG);
		decoded_free(&d);
	}
	{
		AVFormatContext *fc = NULL;
		const AVCodecParameters *par;

		assert_int_equal(avformat_open_input(&fc, plain_mkv, NULL, NULL), 0);
		assert_true(avformat_find_stream_info(fc, NULL) >= 0);
		par = fc->streams[av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)]->codecpar;
		assert_int_equal(par->color_range, AVCOL_RANGE_MPEG);
		assert_int_equal(par->color_space, AVCOL_SPC_UNSPECIFIED);
		avformat_close_input(&fc);
	}
	free(mp4);
	free(mkv);
	free(plain_mkv);
	stop_sess(tagged);
	stop_sess(plain);
}

/*
 * A cache of a few slots for a 250-frame clip: the read-ahead keeps within
 * it, and every frame still comes out as the buffer holds it.
 */
static void test_export_with_a_small_cache(void **state)
{
	struct fixture *f = *state;
	static const char *const extra[] = { "--workers", "1", "--cache", "1M", NULL };
	struct sess *s = open_sess(f, "long.mp4", extra);
	char *nut = path_in(f->dir, "out.nut"), *json;
	unsigned long long window;
	struct decoded out;
	struct reel_frame *buf;
	uint64_t nbuf;

	send_edit(s, "contrast 1.3");
	json = EXPORT_OK(s, nut, "--codec", "ffv1", "--json");
	assert_int_equal(tu_json_u64(json, "window", &window), 0);
	assert_true(window >= 1 && window < 48);
	free(json);
	decode_file(nut, NULL, &out);
	buf = buffer_frames(s, &nbuf);
	assert_int_equal(out.n, nbuf);
	for (uint64_t j = 0; j < nbuf; j++)
		if (!same_picture(&out.pic[j], &buf[j]))
			fail_msg("frame %" PRIu64 " differs from the buffer's", j);
	frames_free(buf, nbuf);
	decoded_free(&out);
	free(nut);
	stop_sess(s);
}

/* Bad arguments: one line naming the argument, exit 2, and no file left behind. */
static void test_export_bad_arguments_refused(void **state)
{
	struct fixture *f = *state;
	static const char *const extra[] = { "--workers", "1", NULL };
	struct sess *s = open_sess(f, "h264-bframes.mp4", extra);
	char *dir = path_in(f->dir, "out"), *mp4 = path_in(dir, "x.mp4"), *nut = path_in(dir, "x.nut");
	char *avi = path_in(dir, "x.avi"), *noext = path_in(dir, "x"), *y4m = path_in(dir, "x.y4m");
	char *folder = path_in(f->dir, "folder.mp4"), names[1024];
	struct {
		const char *args[8];
		const char *names;       /* what the error line must contain */
	} cases[] = {
		{ { s->name, mp4, "--codec", "nope" }, "'nope'" },
		{ { s->name, mp4, "--codec", "ffv1" }, "'ffv1'" },
		{ { s->name, nut, "--audio-codec", "nope" }, "'nope'" },
		{ { s->name, mp4, "--frames", "30-10" }, "30-10" },
		{ { s->name, mp4, "--frames", "0-500" }, "500" },
		{ { s->name, mp4, "--frames", "x" }, "--frames x" },
		{ { s->name, mp4, "--time", "abc" }, "--time abc" },
		{ { s->name, mp4, "--time", "9-10" }, "--time 9-10" },
		{ { s->name, mp4, "--crf", "90" }, "--crf 90" },
		{ { s->name, mp4, "--preset", "bogus" }, "bogus" },
		{ { s->name, mp4, "--frames", "1", "--time", "1" }, "one --frames or one --time" },
		{ { s->name, avi }, "'.avi'" },
		{ { s->name, noext }, "extension" },
		{ { s->name, "/nonexistent/folder/x.mp4" }, "/nonexistent/folder/x.mp4" },
		{ { s->name, folder }, "is a folder" },
		{ { s->name, s->clip }, "source video" },
		{ { s->name, "-", "--format", "mp4" }, "--format mp4" },
		{ { s->name, nut, "--format", "mp4" }, "--format mp4" },
		{ { s->name, y4m, "--codec", "ffv1" }, "y4m" },
		{ { "nosuchsession", mp4 }, "nosuchsession" },
		{ { "bad/name", mp4 }, "bad/name" },
		{ { s->name, mp4, "--bogus" }, "--bogus" },
		{ { s->name }, "OUT" },
	};

	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(mkdir(folder, 0700), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[16], *err, *out;
		int n = 0, code;

		argv[n++] = (char *)reel_bin();
		argv[n++] = (char *)"export";
		for (int k = 0; k < 8 && cases[i].args[k]; k++)
			argv[n++] = (char *)cases[i].args[k];
		argv[n] = NULL;
		code = tu_run(argv, &out, &err);
		if (code != 2 || !strstr(err, cases[i].names) || strchr(err, '\n') != err + strlen(err) - 1)
			fail_msg("case %zu (%s): exit %d, expected 2 and one line naming '%s': %s", i,
			         cases[i].args[1] ? cases[i].args[1] : "", code, cases[i].names, err);
		if (dir_entries(dir, names, sizeof(names)) != 0)
			fail_msg("case %zu left files behind:%s", i, names);
		free(out);
		free(err);
	}
	/* A range whose every frame is trimmed has nothing to export. */
	send_edit(s, "trim --frames 0-9");
	{
		char *err;
		int code = REEL(NULL, &err, "export", s->name, mp4, "--frames", "2-8");
		if (code != 2 || !strstr(err, "trimmed"))
			fail_msg("an all-trimmed range: exit %d: %s", code, err);
		free(err);
	}
	assert_int_equal(dir_entries(dir, names, sizeof(names)), 0);
	free(y4m);
	free(folder);
	free(mp4);
	free(nut);
	free(avi);
	free(noext);
	free(dir);
	stop_sess(s);
}

/* Wait (bounded) until a temporary export file appears in dir. */
static void wait_temp_file(const char *dir, pid_t pid)
{
	double deadline = tu_now_ms() + 30000;
	char names[1024];

	for (;;) {
		if (dir_entries(dir, names, sizeof(names)) > 1 && strstr(names, ".reel-"))
			return;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			fail_msg("the export finished before it could be interrupted");
		if (tu_now_ms() > deadline)
			fail_msg("no temporary file appeared in %s:%s", dir, names);
		usleep(2000);
	}
}

/*
 * Ctrl-C during an export: exit 130, the user's old OUT untouched, no
 * temporary file left.  The session stopping during an export: exit 1,
 * the same.
 */
static void test_export_interrupted_leaves_no_partial_file(void **state)
{
	struct fixture *f = *state;
	static const char *const extra[] = { "--workers", "1", NULL };
	struct sess *s = open_sess(f, "long.mp4", extra);
	char *dir = path_in(f->dir, "out"), *mp4 = path_in(dir, "x.mp4"), *log = path_in(f->dir, "x.log");
	char *argv[] = {
		(char *)reel_bin(), (char *)"export", s->name, mp4, (char *)"--preset",
		(char *)"placebo", (char *)"--threads", (char *)"1", NULL,
	};
	char names[1024], *old;
	pid_t pid;
	int st;

	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(tu_write_file(mp4, "old", 3), 0);

	pid = tu_spawn(argv, log);
	wait_temp_file(dir, pid);
	usleep(100000);
	kill(pid, SIGINT);
	st = tu_wait(pid, 30000);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 130)
		fail_msg("interrupted export: status %d, expected exit 130", st);
	old = tu_slurp(mp4, NULL);
	assert_string_equal(old, "old");
	free(old);
	assert_int_equal(dir_entries(dir, names, sizeof(names)), 1);
	assert_int_equal(reply_queues(s->name, pid), 0);

	/* The session goes away under a running export. */
	pid = tu_spawn(argv, log);
	wait_temp_file(dir, pid);
	stop_sess(s);
	st = tu_wait(pid, 60000);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
		fail_msg("export of a stopped session: status %d, expected exit 1", st);
	old = tu_slurp(mp4, NULL);
	assert_string_equal(old, "old");
	free(old);
	if (dir_entries(dir, names, sizeof(names)) != 1)
		fail_msg("files left behind:%s", names);
	free(dir);
	free(mp4);
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_export_round_trip_default_quality, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_y4m_to_stdout_is_bit_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_speed_and_variable_frame_rate, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_export_parallel_ranges_join_into_the_whole, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_export_time_range_picks_its_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_tags_colours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_with_a_small_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_bad_arguments_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_interrupted_leaves_no_partial_file, setup,
		                                teardown),
	};

	/* A child subreaper: stages of a coordinator that died are reaped here, not left behind. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
