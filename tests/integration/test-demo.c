/*
 * `reel demo` headless, end to end with the real programs: the sample clip
 * made with libavfilter, the scripted edits applied by real stages, the
 * frames it writes showing them, the export decoding to the whole clip,
 * and nothing left behind.  And reel-make-sample, which makes that clip,
 * on its own: what it makes, its errors, and Ctrl-C.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "bus/session.h"
#include "reel/client.h"
#include "reel/error.h"
#include "testutil.h"

struct counts {
	int video_frames, audio_streams, width, height;
	double video_seconds;
};

/* Decode every video frame of path with libav; the count, size and the audio streams. */
static struct counts probe(const char *path)
{
	AVFormatContext *fmt = NULL;
	const AVCodec *codec;
	AVCodecContext *dec;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *frame = av_frame_alloc();
	struct counts c = { 0 };
	int64_t last_pts = 0, last_dur = 0;
	int stream;

	assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
	assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
	for (unsigned i = 0; i < fmt->nb_streams; i++)
		c.audio_streams += fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO;
	stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	assert_true(stream >= 0);
	dec = avcodec_alloc_context3(codec);
	avcodec_parameters_to_context(dec, fmt->streams[stream]->codecpar);
	assert_int_equal(avcodec_open2(dec, codec, NULL), 0);
	for (int eof = 0;;) {
		int r;
		if (!eof) {
			if (av_read_frame(fmt, pkt) < 0) {
				eof = 1;
				avcodec_send_packet(dec, NULL);
			} else {
				if (pkt->stream_index == stream)
					avcodec_send_packet(dec, pkt);
				av_packet_unref(pkt);
			}
		}
		while ((r = avcodec_receive_frame(dec, frame)) == 0) {
			c.video_frames++;
			c.width = frame->width;
			c.height = frame->height;
			last_pts = frame->best_effort_timestamp;
			last_dur = frame->pkt_duration;
			av_frame_unref(frame);
		}
		if (r == AVERROR_EOF)
			break;
	}
	c.video_seconds = (double)(last_pts + last_dur) * av_q2d(fmt->streams[stream]->time_base);
	av_frame_free(&frame);
	av_packet_free(&pkt);
	avcodec_free_context(&dec);
	avformat_close_input(&fmt);
	return c;
}

/* How far a PNG is from grey: the largest |R-G|, |G-B| over its pixels (decoded by libav). */
static int colourfulness(const char *png)
{
	AVFormatContext *fmt = NULL;
	const AVCodec *codec;
	AVCodecContext *dec;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *frame = av_frame_alloc();
	int worst = 0;

	assert_int_equal(avformat_open_input(&fmt, png, NULL, NULL), 0);
	assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
	codec = avcodec_find_decoder(fmt->streams[0]->codecpar->codec_id);
	dec = avcodec_alloc_context3(codec);
	avcodec_parameters_to_context(dec, fmt->streams[0]->codecpar);
	assert_int_equal(avcodec_open2(dec, codec, NULL), 0);
	assert_int_equal(av_read_frame(fmt, pkt), 0);
	assert_int_equal(avcodec_send_packet(dec, pkt), 0);
	assert_int_equal(avcodec_receive_frame(dec, frame), 0);
	assert_int_equal(frame->format, AV_PIX_FMT_RGB24);
	for (int y = 0; y < frame->height; y++) {
		const uint8_t *row = frame->data[0] + (ptrdiff_t)y * frame->linesize[0];
		for (int x = 0; x < frame->width; x++) {
			int r = row[3 * x], g = row[3 * x + 1], b = row[3 * x + 2];
			int d = abs(r - g) > abs(g - b) ? abs(r - g) : abs(g - b);
			worst = d > worst ? d : worst;
		}
	}
	av_frame_free(&frame);
	av_packet_free(&pkt);
	avcodec_free_context(&dec);
	avformat_close_input(&fmt);
	return worst;
}

static void test_demo_headless_end_to_end(void **state)
{
	char *dir = tu_private_env(), out[4096], path[8192], session[64];
	struct reel_session_record rec;
	struct stat st1, st2;
	struct counts sample, result;
	char *o, *e;
	int code;

	(void)state;
	snprintf(out, sizeof(out), "%s/out", dir);
	tu_session_name(session, sizeof(session));
	{
		char *argv[] = { getenv("REEL_BIN"), "demo", "--headless", "--out", out, "--session",
			         session, "--sample-seconds", "2", "--sample-size", "192x108", NULL };
		code = tu_run(argv, &o, &e);
		if (code != 0)
			fprintf(stderr, "# stdout:\n%s\n# stderr:\n%s\n", o, e);
		assert_int_equal(code, 0);
		/* The user is shown the commands a session takes. */
		assert_non_null(strstr(o, "$ reel send"));
		assert_non_null(strstr(o, "$ reel undo"));
		assert_non_null(strstr(o, "$ reel export"));
		free(o);
		free(e);
	}
	snprintf(path, sizeof(path), "%s/sample.mp4", out);
	assert_int_equal(stat(path, &st1), 0);
	sample = probe(path);
	assert_int_equal(sample.video_frames, 60);
	assert_int_equal(sample.width, 192);
	assert_int_equal(sample.audio_streams, 1);

	/* The export: every frame, its sound, its length. */
	snprintf(path, sizeof(path), "%s/demo.mp4", out);
	result = probe(path);
	assert_int_equal(result.video_frames, 60);
	assert_int_equal(result.audio_streams, 1);
	assert_true(result.video_seconds > 1.95 && result.video_seconds < 2.05);

	/* The grayscale edit landed in the frame written from its range; others kept their colour. */
	snprintf(path, sizeof(path), "%s/frame-grayscale.png", out);
	assert_true(colourfulness(path) <= 2);
	snprintf(path, sizeof(path), "%s/frame-brighter.png", out);
	assert_true(colourfulness(path) > 60);
	snprintf(path, sizeof(path), "%s/frame-undone-invert.png", out);
	assert_true(colourfulness(path) > 60);

	/* Nothing left: the session, its buffer and its logs. */
	assert_int_equal(reel_session_read(session, &rec), REEL_E_NOSESSION);
	assert_int_equal(tu_session_procs(session, NULL, 0), 0);
	snprintf(path, sizeof(path), "%s/%s.reel", out, session);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/%s.log", out, session);
	assert_int_equal(access(path, F_OK), -1);

	/* A second run reuses the sample it made. */
	{
		char *argv[] = { getenv("REEL_BIN"), "demo", "--headless", "--out", out, "--session",
			         session, NULL };
		assert_int_equal(tu_run(argv, &o, &e), 0);
		assert_null(strstr(o, "making a sample"));
		free(o);
		free(e);
	}
	snprintf(path, sizeof(path), "%s/sample.mp4", out);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_mtime, st2.st_mtime);
	assert_int_equal(st1.st_ino, st2.st_ino);

	/* Bad arguments are named. */
	{
		char *argv[] = { getenv("REEL_BIN"), "demo", "--sample-size", "abc", NULL };
		assert_int_equal(tu_run(argv, &o, &e), 2);
		assert_non_null(strstr(e, "--sample-size"));
		free(o);
		free(e);
	}
	tu_rmrf(dir);
	free(dir);
}

/*
 * Any video, not only the sample: one picked up part-way, whose first frame
 * starts well after its container's time 0, and one without sound.  The
 * script names its ranges by frame, sends no edit of the sound where there
 * is none, and its grayscale range holds the frame it writes for it.
 */
static void test_demo_any_video(void **state)
{
	static const struct {
		const char *clip;
		bool sound;
	} videos[] = { { "midstart.ts", true }, { "noaudio.mp4", false } };
	char *dir = tu_private_env(), out[4096], path[8192], session[64];
	(void)state;

	for (size_t i = 0; i < sizeof(videos) / sizeof(videos[0]); i++) {
		char *argv[] = { getenv("REEL_BIN"), "demo", (char *)tu_clip(videos[i].clip), "--headless",
			         "--out", out, "--session", session, NULL };
		char *o, *e;
		int code;

		snprintf(out, sizeof(out), "%s/out-%zu", dir, i);
		tu_session_name(session, sizeof(session));
		code = tu_run(argv, &o, &e);
		if (code != 0)
			fprintf(stderr, "# %s\n# stdout:\n%s\n# stderr:\n%s\n", videos[i].clip, o, e);
		assert_int_equal(code, 0);
		assert_non_null(strstr(o, "$ reel send"));
		assert_non_null(strstr(o, " --frames "));
		assert_null(strstr(o, "no frame starts"));
		assert_true((strstr(o, "audio-fade-in") != NULL) == videos[i].sound);
		snprintf(path, sizeof(path), "%s/frame-grayscale.png", out);
		assert_true(colourfulness(path) <= 2);
		snprintf(path, sizeof(path), "%s/frame-brighter.png", out);
		assert_true(colourfulness(path) > 30);
		free(o);
		free(e);
	}
	tu_rmrf(dir);
	free(dir);
}

/* reel-make-sample, next to reel. */
static void sample_maker(char *buf, size_t len)
{
	const char *reel = getenv("REEL_BIN");
	const char *slash = strrchr(reel, '/');

	assert_non_null(slash);
	snprintf(buf, len, "%.*s/reel-make-sample", (int)(slash - reel), reel);
}

static void test_make_sample_alone(void **state)
{
	char *dir = tu_private_env(), prog[4096], path[8192], part[8300];
	struct counts c;
	char *o, *e;
	int status;
	pid_t pid;

	(void)state;
	sample_maker(prog, sizeof(prog));
	snprintf(path, sizeof(path), "%s/s.mkv", dir);
	snprintf(part, sizeof(part), "%s.part", path);
	{
		char *argv[] = { prog, path, "--seconds", "1", "--size", "64x48", NULL };
		assert_int_equal(tu_run(argv, &o, &e), 0);
		free(o);
		free(e);
	}
	/* The container its extension names, the size and length asked for, a sound. */
	c = probe(path);
	assert_int_equal(c.video_frames, 30);
	assert_int_equal(c.width, 64);
	assert_int_equal(c.height, 48);
	assert_int_equal(c.audio_streams, 1);
	assert_int_equal(access(part, F_OK), -1);
	{
		char *argv[] = { prog, "--help", NULL };
		assert_int_equal(tu_run(argv, &o, &e), 0);
		assert_non_null(strstr(o, "usage: reel-make-sample"));
		free(o);
		free(e);
	}
	/* Bad input: one line on stderr naming it, exit 2, nothing made. */
	{
		char *bad[][6] = {
			{ prog, path, "--size", "3x3", NULL },
			{ prog, path, "--seconds", "0", NULL },
			{ prog, path, "--bogus", NULL },
			{ prog, NULL },
		};
		const char *named[] = { "--size", "--seconds", "--bogus", "OUT" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_equal(tu_run(bad[i], &o, &e), 2);
			assert_non_null(strstr(e, named[i]));
			assert_int_equal((int)(strchr(e, '\n') - e), (int)strlen(e) - 1);
			free(o);
			free(e);
		}
	}
	/* Ctrl-C part-way: exit 130, and neither the clip nor its part is left. */
	unlink(path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(prog, prog, path, "--seconds", "600", "--size", "640x360", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && access(part, F_OK) < 0; i++)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	assert_int_equal(access(part, F_OK), 0);
	kill(pid, SIGINT);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 130);
	assert_int_equal(access(part, F_OK), -1);
	assert_int_equal(access(path, F_OK), -1);
	tu_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo_headless_end_to_end),
		cmocka_unit_test(test_demo_any_video),
		cmocka_unit_test(test_make_sample_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
