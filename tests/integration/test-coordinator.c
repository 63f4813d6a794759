/*
 * The coordinator as people run it: the real `reel` binary in child
 * processes, real queues, real session files, real video decoded by libav.
 * Each test runs in its own temp folder with its own runtime folder
 * (REEL_RUNTIME_DIR) and session name, and checks that a stop leaves no
 * queue, no session file and no process behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mqueue.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>

#include "buffer/buffer.h"
#include "bus/bus.h"
#include "reel/client.h"
#include "reel/error.h"
#include "buffer/journal.h"
#include "reel/ops.h"
#include "bus/session.h"
#include "buffer/slot.h"
#include "reel/stage.h"
#include "edit/ops-impl.h"
#include "testutil.h"

struct fixture {
	char *dir;
	char *pictures;             /* REEL_PICTURES_DIR: this test's own, in RAM where there is /dev/shm */
	char session[64];
	char buffer[4096];
	char log[4096];
	pid_t coord;
	pid_t stages[8];
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
	char run[4096];

	f->dir = tu_tempdir();
	snprintf(run, sizeof(run), "%s/run", f->dir);
	mkdir(run, 0700);
	setenv("REEL_RUNTIME_DIR", run, 1);
	if (access("/dev/shm", W_OK) == 0) {
		f->pictures = strdup("/dev/shm/reel-test-XXXXXX");
		if (!f->pictures || !mkdtemp(f->pictures))
			return -1;
	} else if (asprintf(&f->pictures, "%s/pictures", f->dir) < 0) {
		return -1;
	}
	setenv("REEL_PICTURES_DIR", f->pictures, 1);
	tu_session_name(f->session, sizeof(f->session));
	snprintf(f->buffer, sizeof(f->buffer), "%s/session.reel", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/coord.log", f->dir);
	*state = f;
	return 0;
}

static void assert_session_gone(const char *session)
{
	char name[REEL_QUEUE_NAME_MAX];
	struct reel_session_record rec;

	assert_int_equal(reel_session_read(session, &rec), REEL_E_NOSESSION);
	if (tu_session_queue_left(session, name, sizeof(name)))
		fail_msg("queue %s is left behind", name);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_kill_all(f->stages, sizeof(f->stages) / sizeof(f->stages[0]));
	tu_kill_all(&f->coord, 1);
	reel_session_remove(f->session);
	if (getenv("REEL_TEST_KEEP"))
		fprintf(stderr, "# kept %s\n", f->dir);
	else
		tu_rmrf(f->dir);
	tu_rmrf(f->pictures);
	free(f->pictures);
	free(f->dir);
	free(f);
	return 0;
}

/* How many pictures files are in the test's folder; with pid, only that coordinator's. */
static int pictures_files(const struct fixture *f, pid_t pid)
{
	char suffix[32];
	struct dirent *e;
	int n = 0;
	DIR *d = opendir(f->pictures);

	if (!d)
		return 0;
	snprintf(suffix, sizeof(suffix), "-%ld.pictures", (long)pid);
	while ((e = readdir(d))) {
		const char *end = strstr(e->d_name, pid ? suffix : ".pictures");
		if (end && end[strlen(pid ? suffix : ".pictures")] == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Start `reel open VIDEO --session S --buffer B [extra...]`, stderr into the log. */
static pid_t start_coord(struct fixture *f, const char *video, const char *buffer, const char *extra)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(f->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(fd, 2);
		execl(reel_bin(), "reel", "open", video, "--session", f->session, "--buffer", buffer,
		      "--no-stages", "--verbose", extra, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static struct reel_client *wait_ready(struct fixture *f, pid_t pid)
{
	struct reel_client *c = NULL;

	for (int i = 0; i < 3000; i++) {
		int status;
		if (reel_client_connect(f->session, &c) == 0) {
			tu_session_remember(f->session);
			return c;
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			fail_msg("coordinator exited early with status %d", status);
		usleep(5000);
	}
	fail_msg("session %s never became ready", f->session);
	return NULL;
}

static void status(struct reel_client *c, struct reel_msg *ret)
{
	struct reel_msg req;
	reel_msg_init(&req, REEL_MSG_STATUS);
	assert_int_equal(reel_client_call(c, &req, REEL_PRIO_INTERACTIVE, 5000, ret), 0);
}

static void stop(struct fixture *f, struct reel_client *c)
{
	struct reel_msg req;
	int st;

	reel_msg_init(&req, REEL_MSG_STOP);
	assert_int_equal(reel_client_call(c, &req, REEL_PRIO_CONTROL, 5000, NULL), 0);
	reel_client_close(c);
	st = tu_wait(f->coord, 10000);
	f->coord = 0;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_session_gone(f->session);
}

static int64_t send_command(struct reel_client *c, uint32_t op, int64_t first, int64_t last,
                            double p0)
{
	struct reel_msg req, rep;
	int r;

	reel_msg_init(&req, REEL_MSG_COMMAND);
	req.op = op;
	req.first = first;
	req.last = last;
	req.params[0] = p0;
	r = reel_client_call(c, &req, REEL_PRIO_INTERACTIVE, 10000, &rep);
	return r < 0 ? r : (int64_t)rep.seq;
}

/* Frame n of path decoded by plain libav in presentation order, packed YUV420P. */
static uint8_t *reference_frame(const char *path, int n, int *ret_w, int *ret_h)
{
	AVFormatContext *fmt = NULL;
	const AVCodec *codec;
	AVCodecContext *dec;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *frame = av_frame_alloc();
	uint8_t *out = NULL;
	int stream, seen = 0;

	assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
	assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
	stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	assert_true(stream >= 0);
	dec = avcodec_alloc_context3(codec);
	avcodec_parameters_to_context(dec, fmt->streams[stream]->codecpar);
	assert_int_equal(avcodec_open2(dec, codec, NULL), 0);
	for (int eof = 0; !out;) {
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
			if (seen++ == n && !out) {
				int w = frame->width, h = frame->height;
				assert_int_equal(frame->format, AV_PIX_FMT_YUV420P);
				out = malloc((size_t)av_image_get_buffer_size(AV_PIX_FMT_YUV420P, w, h, 1));
				av_image_copy_to_buffer(out, av_image_get_buffer_size(AV_PIX_FMT_YUV420P, w, h, 1),
				                        (const uint8_t *const *)frame->data, frame->linesize,
				                        AV_PIX_FMT_YUV420P, w, h, 1);
				*ret_w = w;
				*ret_h = h;
			}
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
	return out;
}

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	buf[n] = 0;
	*ret_len = (size_t)n;
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* `reel frame SESSION n` writes exactly the picture libav decodes as frame n of clip. */
static void assert_reel_frame_is_libavs(const struct fixture *f, const char *clip, int n)
{
	char num[16], outpath[4096], *out, *err, *got;
	size_t len;
	int w, h;
	uint8_t *ref = reference_frame(clip, n, &w, &h);

	snprintf(num, sizeof(num), "%d", n);
	snprintf(outpath, sizeof(outpath), "%s/f%d.yuv", f->dir, n);
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "frame", (char *)f->session, num,
	                                    "--out", outpath, NULL }, &out, &err), 0);
	free(out);
	free(err);
	got = slurp(outpath, &len);
	assert_int_equal(len, (size_t)(w * h + 2 * ((w + 1) / 2) * ((h + 1) / 2)));
	assert_memory_equal(got, ref, len);
	free(got);
	free(ref);
}

static void test_coordinator_open_status_frames_stop(void **state)
{
	struct fixture *f = *state;
	const char *clip = tu_clip("h264-bframes.mp4");
	struct reel_client *c;
	struct reel_msg st;
	char *out, *err, outpath[4096];
	int frames[] = { 37, 0, 49, 12, 25 };

	assert_non_null(clip);
	f->coord = start_coord(f, clip, f->buffer, NULL);
	c = wait_ready(f, f->coord);
	status(c, &st);
	assert_int_equal(st.stat[REEL_STAT_FRAMES], 50);
	/* The decoded pictures live in RAM, in a file of this coordinator's. */
	assert_int_equal(pictures_files(f, f->coord), 1);
	/* Opening decodes nothing: frames come only when asked for. */
	assert_int_equal(st.stat[REEL_STAT_RESIDENT], 0);

	/* Random frames in random order through `reel frame`, each bit-identical to libav. */
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
		assert_reel_frame_is_libavs(f, clip, frames[i]);

	/* status --json carries the keys scripts wait on. */
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "status", f->session, "--json", NULL },
	                        &out, &err), 0);
	assert_non_null(strstr(out, "\"frames\":50"));
	assert_non_null(strstr(out, "\"resident\":"));
	assert_non_null(strstr(out, "\"journal\":0"));
	assert_non_null(strstr(out, "\"pending\":0"));
	assert_non_null(strstr(out, "\"stages\":[]"));
	free(out);
	free(err);

	/* reel ls lists it. */
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "ls", "--json", NULL }, &out, &err), 0);
	assert_non_null(strstr(out, f->session));
	free(out);
	free(err);

	/* Out of range: one clear line, exit 2, the session unharmed. */
	snprintf(outpath, sizeof(outpath), "%s/f50.yuv", f->dir);
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "frame", f->session, "50", "--out",
	                                    outpath, NULL }, &out, &err), 2);
	assert_int_equal(count_lines(err), 1);
	assert_non_null(strstr(err, "out of range"));
	free(out);
	free(err);
	status(c, &st);
	assert_true(st.stat[REEL_STAT_RESIDENT] >= 5);

	/* reel stop: the coordinator exits 0 and leaves nothing. */
	reel_client_close(c);
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "stop", f->session, NULL }, &out, &err), 0);
	free(out);
	free(err);
	assert_true(WIFEXITED(tu_wait(f->coord, 10000)));
	f->coord = 0;
	assert_session_gone(f->session);
	/* ...not even its pictures in RAM, and its slot table says they are gone. */
	assert_int_equal(pictures_files(f, 0), 0);
	{
		struct reel_buffer *b;

		assert_int_equal(reel_buffer_open_readonly(f->buffer, &b), 0);
		for (uint32_t i = 0; i < reel_buffer_info(b)->slot_count; i++) {
			struct reel_slot_info si;

			assert_int_equal(reel_slot_get(b, i, &si), 0);
			assert_int_equal(si.state, REEL_SLOT_EMPTY);
		}
		reel_buffer_close(b);
	}
}

/*
 * Matroska lists no frames: the buffer is made for an upper bound of them
 * and the coordinator counts them in the background.  Once counted, every
 * tool sees the count (ffprobe's: 50), frames past it are out of range
 * however much room the buffer has, an edit of "every frame" covers those
 * 50, and the frames are bit-identical to libav's; a resumed session keeps
 * the count.
 */
static void test_coordinator_counts_frames_of_matroska(void **state)
{
	struct fixture *f = *state;
	const char *clip = tu_clip("vfr.mkv");
	unsigned long long frames = 0;
	struct reel_buffer *b;
	struct reel_client *c;
	struct reel_video_info vi;
	struct reel_msg st;
	char *out, *err;

	assert_non_null(clip);
	f->coord = start_coord(f, clip, f->buffer, NULL);
	c = wait_ready(f, f->coord);
	/* Waits for the count if it is not there yet. */
	assert_int_equal(reel_client_video(c, &vi), 0);
	assert_int_equal(vi.frames, 50);
	status(c, &st);
	assert_int_equal(st.stat[REEL_STAT_FRAMES], 50);
	assert_int_equal(reel_buffer_open_readonly(f->buffer, &b), 0);
	assert_true(reel_buffer_info(b)->frame_count > 50);
	assert_int_equal(reel_buffer_frames(b), 50);
	reel_buffer_close(b);
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "status", f->session, "--json", NULL },
	                        &out, &err), 0);
	assert_int_equal(tu_json_u64(out, "frames", &frames), 0);
	assert_int_equal(frames, 50);
	assert_non_null(strstr(out, "\"counting\":false"));
	assert_non_null(strstr(out, "\"index_complete\":true"));
	free(out);
	free(err);

	/* The last frame is there and equal to libav's; the next ones are not, room or not. */
	assert_int_equal(reel_client_need(c, 49, 49, REEL_PRIO_INTERACTIVE, 30000, NULL), 0);
	assert_int_equal(reel_client_need(c, 50, 50, REEL_PRIO_INTERACTIVE, 30000, NULL), REEL_E_RANGE);
	assert_int_equal(reel_client_need(c, 60, 60, REEL_PRIO_INTERACTIVE, 30000, NULL), REEL_E_RANGE);
	assert_int_equal(reel_client_need(c, 40, 55, REEL_PRIO_INTERACTIVE, 30000, NULL), REEL_E_RANGE);
	assert_reel_frame_is_libavs(f, clip, 0);
	assert_reel_frame_is_libavs(f, clip, 49);

	/* "Every frame" is the 50 counted. */
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "send", f->session, "brightness",
	                                    "0.1", NULL }, &out, &err), 0);
	free(out);
	free(err);
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "edits", f->session, "--json", NULL },
	                        &out, &err), 0);
	assert_non_null(strstr(out, "\"last\":49"));
	free(out);
	free(err);

	/* Stopped and opened again: counted once and for all. */
	reel_client_close(c);
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "stop", f->session, NULL }, &out, &err), 0);
	free(out);
	free(err);
	assert_true(WIFEXITED(tu_wait(f->coord, 10000)));
	f->coord = start_coord(f, clip, f->buffer, NULL);
	c = wait_ready(f, f->coord);
	status(c, &st);
	assert_int_equal(st.stat[REEL_STAT_FRAMES], 50);
	assert_int_equal(st.stat[REEL_STAT_JOURNAL], 1);
	reel_client_close(c);
}

/*
 * MPEG-TS files joined with cat (the time starts again at each join): the
 * session counts the first file's frames, serves exactly its pictures, and
 * its log says why the rest is left out and how to join them.
 */
static void test_coordinator_joined_ts_serves_its_first_timeline(void **state)
{
	struct fixture *f = *state;
	const char *clip;
	char plain[4096], *out, *err;
	struct reel_client *c;
	struct reel_video_info vi;
	int frames[] = { 49, 0, 31, 12, 48 };

	/* tu_clip's answer lasts until its next call. */
	assert_non_null(tu_clip("plain.ts"));
	snprintf(plain, sizeof(plain), "%s", tu_clip("plain.ts"));
	clip = tu_clip("joined.ts");
	assert_non_null(clip);
	f->coord = start_coord(f, clip, f->buffer, NULL);
	c = wait_ready(f, f->coord);
	assert_int_equal(reel_client_video(c, &vi), 0);
	assert_int_equal(vi.frames, 50);
	assert_int_equal(reel_client_need(c, 50, 50, REEL_PRIO_INTERACTIVE, 30000, NULL), REEL_E_RANGE);
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
		assert_reel_frame_is_libavs(f, plain, frames[i]);
	/* The coordinator logs the end of the count at its next tick. */
	for (int tries = 0;; tries++) {
		assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "logs", f->session, NULL }, &out,
		                        &err), 0);
		if (strstr(out, "time starts again after its first 50 frames") || tries == 100)
			break;
		free(out);
		free(err);
		usleep(50000);
	}
	assert_non_null(strstr(out, "time starts again after its first 50 frames"));
	assert_non_null(strstr(out, "ffmpeg -i FILE -c copy OUT.mkv"));
	free(out);
	free(err);
	reel_client_close(c);
}

static void test_coordinator_live_session_refused_dead_one_reclaimed(void **state)
{
	struct fixture *f = *state;
	const char *clip = tu_clip("noaudio.mp4");
	struct reel_client *c;
	struct reel_msg st;
	char other[4096], before[4096], after[4096], *out, *err;
	int status_code;

	assert_non_null(clip);
	f->coord = start_coord(f, clip, f->buffer, NULL);
	c = wait_ready(f, f->coord);
	assert_true(send_command(c, REEL_OP_BRIGHTNESS, 0, 9, 0.1) == 1);
	reel_client_close(c);

	/* Same session name while it lives: refused, one line, exit 2. */
	snprintf(other, sizeof(other), "%s/other.reel", f->dir);
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "open", (char *)clip, "--session",
	                                    f->session, "--buffer", other, "--no-stages", NULL },
	                        &out, &err), 2);
	assert_int_equal(count_lines(err), 1);
	assert_non_null(strstr(err, "live session"));
	assert_int_equal(access(other, F_OK), -1);
	free(out);
	free(err);

	/* The coordinator dies without cleaning up, its pictures left in RAM. */
	{
		pid_t dead = f->coord;

		assert_int_equal(pictures_files(f, dead), 1);
		snprintf(before, sizeof(before), "%s/before.yuv", f->dir);
		snprintf(after, sizeof(after), "%s/after.yuv", f->dir);
		assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "frame", f->session, "3",
		                                    "--out", before, NULL }, &out, &err), 0);
		free(out);
		free(err);
		kill(f->coord, SIGKILL);
		tu_wait(f->coord, 5000);
		assert_int_equal(pictures_files(f, dead), 1);

		/* A new coordinator reclaims the name and resumes the buffer, journal and all. */
		f->coord = start_coord(f, clip, f->buffer, NULL);
		c = wait_ready(f, f->coord);
		status(c, &st);
		assert_int_equal(st.stat[REEL_STAT_JOURNAL], 1);
		assert_int_equal(st.stat[REEL_STAT_GENERATION], 2);
		/* It swept the dead one's pictures and made its own. */
		assert_int_equal(pictures_files(f, dead), 0);
		assert_int_equal(pictures_files(f, f->coord), 1);
		/* A frame is decoded again into the new pictures, the same as it was before. */
		assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "frame", f->session, "3",
		                                    "--out", after, NULL }, &out, &err), 0);
		free(out);
		free(err);
		{
			size_t lb, la;
			char *a = slurp(before, &lb), *b = slurp(after, &la);

			assert_int_equal(lb, la);
			assert_memory_equal(a, b, la);
			free(a);
			free(b);
		}
		stop(f, c);
		assert_int_equal(pictures_files(f, 0), 0);
	}

	/* A buffer made from another source is refused with a clear message. */
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "open", (char *)tu_clip("vp9.webm"),
	                                    "--session", f->session, "--buffer", f->buffer,
	                                    "--no-stages", NULL }, &out, &err), 2);
	assert_int_equal(count_lines(err), 1);
	assert_non_null(strstr(err, "made from another video"));
	free(out);
	free(err);
	assert_session_gone(f->session);
	(void)status_code;
}

static void test_coordinator_sigterm_stops_cleanly(void **state)
{
	struct fixture *f = *state;
	struct reel_client *c;
	int st;

	f->coord = start_coord(f, tu_clip("vp9.webm"), f->buffer, NULL);
	c = wait_ready(f, f->coord);
	assert_int_equal(reel_client_need(c, 0, 10, REEL_PRIO_INTERACTIVE, 30000, NULL), 0);
	reel_client_close(c);
	kill(f->coord, SIGTERM);
	st = tu_wait(f->coord, 10000);
	f->coord = 0;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_session_gone(f->session);
	/* The buffer file stays for a later resume; it holds what was decoded. */
	assert_int_equal(access(f->buffer, F_OK), 0);
}

static void test_coordinator_bad_inputs_one_line_each(void **state)
{
	struct fixture *f = *state;
	const char *bad[] = { "empty.mp4", "text.mp4", "truncated.mp4", "playlist.m3u8", "list.ffconcat" };
	char *out, *err;

	(void)f;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *clip = tu_clip(bad[i]);
		int r;
		assert_non_null(clip);
		r = tu_run((char *[]){ (char *)reel_bin(), "open", (char *)clip, "--session", f->session,
		                       "--buffer", f->buffer, "--no-stages", NULL }, &out, &err);
		assert_true(r != 0);
		assert_int_equal(count_lines(err), 1);
		assert_non_null(strstr(err, "reel open: "));
		free(out);
		free(err);
		assert_int_equal(access(f->buffer, F_OK), -1);
		assert_session_gone(f->session);
	}
	/* A folder, a missing file, an unknown option. */
	assert_true(tu_run((char *[]){ (char *)reel_bin(), "open", f->dir, NULL }, &out, &err) != 0);
	assert_non_null(strstr(err, "regular file"));
	assert_int_equal(count_lines(err), 1);
	free(out);
	free(err);
	assert_true(tu_run((char *[]){ (char *)reel_bin(), "open", "/nonexistent/x.mp4", NULL }, &out,
	                   &err) != 0);
	assert_int_equal(count_lines(err), 1);
	free(out);
	free(err);
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "open", "--frobnicate", NULL }, &out,
	                        &err), 2);
	assert_non_null(strstr(err, "unknown option"));
	free(out);
	free(err);
}

static void test_coordinator_malformed_message_counted_and_dropped(void **state)
{
	struct fixture *f = *state;
	char name[REEL_QUEUE_NAME_MAX], junk[REEL_MSG_SIZE];
	struct reel_client *c;
	struct reel_msg st;
	mqd_t q;

	f->coord = start_coord(f, tu_clip("noaudio.mp4"), f->buffer, NULL);
	c = wait_ready(f, f->coord);
	assert_int_equal(reel_queue_name(name, sizeof(name), f->session, REEL_ROLE_COORD), 0);
	q = mq_open(name, O_WRONLY);
	assert_true(q != (mqd_t)-1);
	memset(junk, 0xa5, sizeof(junk));
	/* Above every class, so they are read before the status request below. */
	assert_int_equal(mq_send(q, junk, sizeof(junk), 31), 0);
	assert_int_equal(mq_send(q, junk, 17, 31), 0);
	mq_close(q);
	/* A hostile command: a range past the end is refused, nothing journaled. */
	assert_int_equal(send_command(c, REEL_OP_INVERT, 0, 1000000, 0), REEL_E_RANGE);
	status(c, &st);
	assert_int_equal(st.stat[REEL_STAT_MALFORMED], 2);
	assert_int_equal(st.stat[REEL_STAT_JOURNAL], 0);
	stop(f, c);
}

/*
 * A client that timed out and sends its command again must not make a
 * second edit: the command's idempotency key is journaled with it, and a
 * command whose key is known gets the first answer, from any connection
 * and after a restart of the coordinator.
 */
static void test_coordinator_retry_with_same_key_is_not_a_second_edit(void **state)
{
	struct fixture *f = *state;
	const double p[4] = { 0.2, 0, 0, 0 };
	uint64_t k1 = reel_client_new_key(), k2 = reel_client_new_key(), k3 = reel_client_new_key();
	uint64_t s1 = 0, again = 0, s2 = 0, s3 = 0, late = 0;
	struct reel_client *c, *other;
	struct reel_msg st;

	assert_true(k1 && k2 && k3 && k1 != k2);
	f->coord = start_coord(f, tu_clip("noaudio.mp4"), f->buffer, NULL);
	c = wait_ready(f, f->coord);
	assert_int_equal(reel_client_command_keyed(c, k1, REEL_OP_BRIGHTNESS, p, 0, 4, 10000, &s1), 0);
	assert_int_equal(reel_client_command_keyed(c, k1, REEL_OP_BRIGHTNESS, p, 0, 4, 10000, &again), 0);
	assert_int_equal(again, s1);
	assert_int_equal(reel_client_command_keyed(c, k2, REEL_OP_BRIGHTNESS, p, 0, 4, 10000, &s2), 0);
	assert_true(s2 == s1 + 1);
	/* The coordinator is stalled: the call times out, though the command waits in its queue. */
	assert_int_equal(kill(f->coord, SIGSTOP), 0);
	assert_int_equal(reel_client_command_keyed(c, k3, REEL_OP_BRIGHTNESS, p, 5, 9, 200, &s3),
	                 -ETIMEDOUT);
	assert_int_equal(kill(f->coord, SIGCONT), 0);
	assert_int_equal(reel_client_command_keyed(c, k3, REEL_OP_BRIGHTNESS, p, 5, 9, 10000, &s3), 0);
	assert_true(s3 == s2 + 1);
	/* Another connection with the same key: the same answer. */
	assert_int_equal(reel_client_connect(f->session, &other), 0);
	assert_int_equal(reel_client_command_keyed(other, k1, REEL_OP_BRIGHTNESS, p, 0, 4, 10000, &again), 0);
	assert_int_equal(again, s1);
	reel_client_close(other);
	status(c, &st);
	assert_int_equal(st.stat[REEL_STAT_JOURNAL], 3);
	stop(f, c);

	/* The keys are in the journal: a retry after a restart is still recognised. */
	f->coord = start_coord(f, tu_clip("noaudio.mp4"), f->buffer, NULL);
	c = wait_ready(f, f->coord);
	assert_int_equal(reel_client_command_keyed(c, k3, REEL_OP_BRIGHTNESS, p, 5, 9, 10000, &late), 0);
	assert_int_equal(late, s3);
	status(c, &st);
	assert_int_equal(st.stat[REEL_STAT_JOURNAL], 3);
	stop(f, c);
}

/*
 * An effect stage of the test's own on the real stage library (reel/stage.h)
 * and the real ops: the real reel-effects in all but one thing, that with
 * die_after_claims > 0 it dies (SIGKILL) holding its n-th work item.
 */
static void fake_stage(const char *session, int die_after_claims, int idle_exit_ms)
{
	struct reel_stage *stage;
	struct reel_work w;
	int claims = 0;

	if (reel_stage_attach(session, REEL_ROLE_EFFECT, &stage) < 0)
		_exit(10);
	reel_stage_set_ops(stage, reel_op_impl);
	for (;;) {
		int r = reel_stage_next(stage, &w, idle_exit_ms);
		if (r == 0)
			break;
		if (r < 0)
			_exit(14);
		if (++claims == die_after_claims) {
			usleep(100000);
			raise(SIGKILL);
		}
		if (reel_stage_apply(stage, &w, reel_op_impl(w.edit.op), NULL) < 0)
			_exit(20);
		if (reel_stage_done(stage, &w) < 0)
			_exit(21);
	}
	reel_stage_detach(stage);
	_exit(0);
}

static pid_t start_stage(struct fixture *f, int die_after_claims, int idle_exit_ms)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		fake_stage(f->session, die_after_claims, idle_exit_ms);
	for (size_t i = 0; i < sizeof(f->stages) / sizeof(f->stages[0]); i++)
		if (!f->stages[i]) {
			f->stages[i] = pid;
			break;
		}
	return pid;
}

static void wait_idle(struct reel_client *c, uint64_t journal, int timeout_ms)
{
	struct reel_msg st;
	double deadline = tu_now_ms() + timeout_ms;

	for (;;) {
		status(c, &st);
		if (st.stat[REEL_STAT_JOURNAL] == journal && st.stat[REEL_STAT_PENDING] == 0)
			return;
		if (tu_now_ms() > deadline)
			fail_msg("not idle: journal %lu pending %lu inflight %lu",
			         (unsigned long)st.stat[REEL_STAT_JOURNAL],
			         (unsigned long)st.stat[REEL_STAT_PENDING],
			         (unsigned long)st.stat[REEL_STAT_INFLIGHT]);
		usleep(20000);
	}
}

static void assert_all_applied(const char *buffer, uint64_t n)
{
	struct reel_journal_entry e;
	struct reel_buffer *b;

	assert_int_equal(reel_buffer_open(buffer, &b), 0);
	assert_int_equal(reel_journal_count(b), n);
	for (uint64_t s = 1; s <= n; s++) {
		assert_int_equal(reel_journal_read(b, s, &e), 0);
		assert_int_equal(e.state, REEL_JOURNAL_APPLIED);
	}
	reel_buffer_close(b);
}

static void test_coordinator_commands_dispatched_and_survive_a_killed_stage(void **state)
{
	struct fixture *f = *state;
	struct reel_client *c;
	struct reel_msg st;
	int n = 256, st1;
	double t0;

	f->coord = start_coord(f, tu_clip("noaudio.mp4"), f->buffer, NULL);
	c = wait_ready(f, f->coord);
	/* Resident frames, so that the edits have work for a stage (absent frames get them on decode). */
	assert_int_equal(reel_client_need(c, 0, 49, REEL_PRIO_INTERACTIVE, 30000, NULL), 0);
	/* Many more commands than the 10-deep effect queue holds, with no stage yet. */
	for (int i = 0; i < n; i++)
		assert_int_equal(send_command(c, REEL_OP_BRIGHTNESS, i % 50, i % 50, 0.01), i + 1);
	/* A full table refuses more, before journaling it. */
	assert_int_equal(send_command(c, REEL_OP_BRIGHTNESS, 0, 0, 0.01), -EBUSY);
	status(c, &st);
	assert_int_equal(st.stat[REEL_STAT_JOURNAL], (uint64_t)n);
	assert_int_equal(st.stat[REEL_STAT_PENDING], (uint64_t)n);

	/* A stage that dies (SIGKILL) holding its third work item. */
	t0 = tu_now_ms();
	st1 = tu_wait(start_stage(f, 3, 5000), 20000);
	assert_true(WIFSIGNALED(st1));
	/* Its item comes back through its pidfd, well before the 30 s claim deadline. */
	for (;;) {
		status(c, &st);
		/* Gone from the table, and nothing claimed by it still counted in flight. */
		if (st.stat[REEL_STAT_STAGES] == 0 &&
		    st.stat[REEL_STAT_INFLIGHT] == st.stat[REEL_STAT_Q_EFFECT])
			break;
		assert_true(tu_now_ms() - t0 < 10000);
		usleep(10000);
	}

	/* A healthy stage finishes everything, the dead one's item included. */
	start_stage(f, -1, 5000);
	wait_idle(c, (uint64_t)n, 60000);
	assert_all_applied(f->buffer, (uint64_t)n);
	stop(f, c);
}

/*
 * Frame n of clip with brightness edits of `delta` (in 1/100, summed; each
 * adds lround(d * 255) to the luma, and the test's deltas in one frame have
 * one sign, so clipping once at the end is the same as clipping each time).
 */
static uint8_t *expected_frame(const char *clip, int n, int delta, size_t *ret_len)
{
	int w, h, add = 0;
	uint8_t *ref = reference_frame(clip, n, &w, &h);

	/* The deltas the tests use: 3 and 5 (and their sum 8), -2. */
	switch (delta) {
	case 3: add = 8; break;
	case 5: add = 13; break;
	case 8: add = 21; break;
	case -2: add = -5; break;
	case 0: add = 0; break;
	default: fail_msg("no expected brightness for %d", delta);
	}
	for (int i = 0; i < w * h; i++) {
		int v = ref[i] + add;
		ref[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
	}
	*ret_len = (size_t)(w * h + 2 * ((w + 1) / 2) * ((h + 1) / 2));
	return ref;
}

static void assert_frame(struct fixture *f, const char *clip, int n, int delta)
{
	char num[16], outpath[4096], *out, *err, *got;
	size_t len, glen;
	uint8_t *want = expected_frame(clip, n, delta, &len);

	snprintf(num, sizeof(num), "%d", n);
	snprintf(outpath, sizeof(outpath), "%s/x%d.yuv", f->dir, n);
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "frame", f->session, num, "--out",
	                                    outpath, NULL }, &out, &err), 0);
	free(out);
	free(err);
	got = slurp(outpath, &glen);
	assert_int_equal(glen, len);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
}

static void test_coordinator_edits_survive_eviction_and_restart(void **state)
{
	struct fixture *f = *state;
	const char *clip = tu_clip("h264-bframes.mp4");
	struct reel_client *c;

	/* 16 slots for 50 frames: frames are evicted and decoded again. */
	f->coord = start_coord(f, clip, f->buffer, "--cache=1M");
	c = wait_ready(f, f->coord);
	start_stage(f, -1, 60000);
	assert_int_equal(send_command(c, REEL_OP_BRIGHTNESS, 0, 9, 0.03), 1);
	assert_int_equal(send_command(c, REEL_OP_BRIGHTNESS, 5, 14, 0.05), 2);
	wait_idle(c, 2, 30000);
	assert_all_applied(f->buffer, 2);
	assert_frame(f, clip, 2, 3);
	assert_frame(f, clip, 7, 8);
	assert_frame(f, clip, 12, 5);
	assert_frame(f, clip, 20, 0);
	/* Push every edited frame out of the cache, then look again: the journal is replayed. */
	assert_int_equal(reel_client_need(c, 30, 45, REEL_PRIO_BATCH, 30000, NULL), 0);
	assert_int_equal(reel_client_need(c, 16, 29, REEL_PRIO_BATCH, 30000, NULL), 0);
	assert_frame(f, clip, 7, 8);
	assert_frame(f, clip, 14, 5);
	assert_frame(f, clip, 3, 3);

	/* A command acknowledged while no stage runs, then the coordinator dies. */
	kill(f->stages[0], SIGKILL);
	tu_wait(f->stages[0], 5000);
	f->stages[0] = 0;
	{
		/* Let the coordinator see the stage go (and remove its reply queue on its next tick). */
		struct reel_msg st;
		double t0 = tu_now_ms();
		do {
			status(c, &st);
			assert_true(tu_now_ms() - t0 < 5000);
		} while (st.stat[REEL_STAT_STAGES] != 0);
		usleep(1200000);
	}
	assert_int_equal(send_command(c, REEL_OP_BRIGHTNESS, 40, 41, -0.02), 3);
	reel_client_close(c);
	kill(f->coord, SIGKILL);
	tu_wait(f->coord, 5000);

	/* The next coordinator dispatches it again, and replays the older ones as frames come back. */
	f->coord = start_coord(f, clip, f->buffer, "--cache=1M");
	c = wait_ready(f, f->coord);
	start_stage(f, -1, 60000);
	wait_idle(c, 3, 30000);
	assert_all_applied(f->buffer, 3);
	assert_frame(f, clip, 41, -2);
	assert_frame(f, clip, 8, 8);
	assert_frame(f, clip, 0, 3);
	stop(f, c);
}

static void test_coordinator_eviction_with_small_cache(void **state)
{
	struct fixture *f = *state;
	const char *clip = tu_clip("h264-bframes.mp4");
	struct reel_client *c;
	struct reel_msg st;
	char *out, *err, n[16], outpath[4096];
	int order[] = { 49, 3, 27, 44, 8, 31, 0, 19 };

	/* One 320x240 slot is about 128 KiB: 1 MiB holds the 16-slot minimum, not 50 frames. */
	f->coord = start_coord(f, clip, f->buffer, "--cache=1M");
	c = wait_ready(f, f->coord);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		size_t len;
		int w, h;
		uint8_t *ref;
		char *got;

		/* Push everything else out between two looks at the same region. */
		assert_int_equal(reel_client_need(c, (uint64_t)(order[i] + 17) % 34, (uint64_t)(order[i] + 17) % 34 + 15,
		                                  REEL_PRIO_BATCH, 30000, NULL), 0);
		snprintf(n, sizeof(n), "%d", order[i]);
		snprintf(outpath, sizeof(outpath), "%s/e%d.yuv", f->dir, order[i]);
		assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "frame", f->session, n, "--out",
		                                    outpath, NULL }, &out, &err), 0);
		free(out);
		free(err);
		ref = reference_frame(clip, order[i], &w, &h);
		got = slurp(outpath, &len);
		assert_memory_equal(got, ref, len);
		free(got);
		free(ref);
	}
	status(c, &st);
	assert_true(st.stat[REEL_STAT_RESIDENT] <= 16);
	assert_true(st.stat[REEL_STAT_DECODED] > 50);
	stop(f, c);
}

/* A raw requester: its own reply queue, requests sent without waiting for replies. */
struct raw {
	char name[REEL_QUEUE_NAME_MAX];
	mqd_t reply, coord;
	uint32_t tag;
};

static void raw_open(struct fixture *f, struct raw *r, uint32_t tag)
{
	char coord[REEL_QUEUE_NAME_MAX];

	r->tag = tag;
	assert_int_equal(reel_reply_queue_name(r->name, sizeof(r->name), f->session, getpid(), tag), 0);
	assert_int_equal(reel_queue_create(r->name, 0, &r->reply), 0);
	assert_int_equal(reel_queue_name(coord, sizeof(coord), f->session, REEL_ROLE_COORD), 0);
	assert_int_equal(reel_queue_open(coord, 0, &r->coord), 0);
}

static void raw_send_as(struct raw *r, pid_t as, uint16_t kind, uint64_t id, int64_t first,
                        int64_t last, unsigned prio)
{
	struct reel_msg m;

	reel_msg_init(&m, kind);
	m.sender_pid = (uint32_t)as;
	m.role = REEL_ROLE_CLIENT;
	m.flags = r->tag;
	m.id = id;
	m.first = first;
	m.last = last;
	m.priority = prio;
	assert_int_equal(reel_queue_send(r->coord, &m, prio, 10000), 0);
}

static void raw_send(struct raw *r, uint16_t kind, uint64_t id, int64_t first, int64_t last,
                     unsigned prio)
{
	raw_send_as(r, getpid(), kind, id, first, last, prio);
}

static void raw_close(struct raw *r)
{
	reel_queue_close(r->coord);
	reel_queue_close(r->reply);
	mq_unlink(r->name);
}

static void test_coordinator_second_coordinator_on_a_buffer_refused(void **state)
{
	struct fixture *f = *state;
	const char *clip = tu_clip("noaudio.mp4");
	struct reel_buffer *b;
	struct reel_client *c;
	char *out, *err, other[80];

	f->coord = start_coord(f, clip, f->buffer, NULL);
	c = wait_ready(f, f->coord);
	snprintf(other, sizeof(other), "%s-b", f->session);
	assert_int_equal(tu_run((char *[]){ (char *)reel_bin(), "open", (char *)clip, "--session", other,
	                                    "--buffer", f->buffer, NULL }, &out, &err), 2);
	assert_int_equal(count_lines(err), 1);
	assert_non_null(strstr(err, "in use by another coordinator"));
	free(out);
	free(err);
	assert_session_gone(other);
	/* The live coordinator's claim is untouched. */
	assert_int_equal(reel_buffer_open_readonly(f->buffer, &b), 0);
	assert_int_equal(reel_buffer_coordinator_pid(b), (uint32_t)f->coord);
	assert_int_equal(reel_buffer_generation(b), 1);
	reel_buffer_close(b);
	stop(f, c);
}

static void test_coordinator_stage_leaving_keeps_the_others(void **state)
{
	struct fixture *f = *state;
	struct reel_client *c;
	struct reel_msg st;
	pid_t a, b;
	double t0;

	f->coord = start_coord(f, tu_clip("noaudio.mp4"), f->buffer, NULL);
	c = wait_ready(f, f->coord);
	b = start_stage(f, -1, 30000);
	a = fork();
	if (a == 0) {
		struct reel_client *me;
		struct reel_msg m;
		if (reel_client_connect(f->session, &me) < 0)
			_exit(1);
		reel_msg_init(&m, REEL_MSG_HELLO);
		m.role = REEL_ROLE_EFFECT;
		if (reel_client_call(me, &m, REEL_PRIO_CONTROL, 5000, NULL) < 0)
			_exit(2);
		/* Wait until both are attached, then say goodbye and leave at once. */
		usleep(300000);
		reel_msg_init(&m, REEL_MSG_BYE);
		m.role = REEL_ROLE_EFFECT;
		reel_client_call(me, &m, REEL_PRIO_CONTROL, 200, NULL);
		reel_client_close(me);
		_exit(0);
	}
	assert_int_equal(tu_wait(a, 10000), 0);
	t0 = tu_now_ms();
	for (;;) {
		status(c, &st);
		if (st.stat[REEL_STAT_STAGES] == 1)
			break;
		assert_true(tu_now_ms() - t0 < 5000);
		usleep(10000);
	}
	/* A moment later the other stage is still attached: the leaver did not take it along. */
	usleep(300000);
	status(c, &st);
	assert_int_equal(st.stat[REEL_STAT_STAGES], 1);
	assert_int_equal(kill(b, 0), 0);
	stop(f, c);
}

static void test_coordinator_misbehaving_clients_cannot_stall_it(void **state)
{
	struct fixture *f = *state;
	struct reel_client *c;
	struct reel_msg st, m;
	struct raw deaf, flood;
	int ok = 0, busy = 0;
	pid_t sender;

	f->coord = start_coord(f, tu_clip("h264-bframes.mp4"), f->buffer, NULL);
	c = wait_ready(f, f->coord);

	/* A client that never reads its replies. */
	raw_open(f, &deaf, 7001);
	for (int i = 0; i < 40; i++)
		raw_send(&deaf, REEL_MSG_STATUS, (uint64_t)i + 1, 0, 0, REEL_PRIO_INTERACTIVE);
	/* Everyone else is still answered. */
	status(c, &st);
	assert_int_equal(reel_queue_depth(deaf.reply), REEL_BUS_DEPTH);

	/*
	 * A client that floods needs (a child sends on our behalf while we read):
	 * what exceeds its share is refused, everything is answered.
	 */
	raw_open(f, &flood, 7002);
	sender = fork();
	if (sender == 0) {
		for (int i = 0; i < 100; i++)
			raw_send_as(&flood, getppid(), REEL_MSG_NEED, (uint64_t)i + 1, i % 50, 49,
			            REEL_PRIO_BACKGROUND);
		_exit(0);
	}
	for (int i = 0; i < 100; i++) {
		if (reel_queue_recv(flood.reply, &m, NULL, 30000) != 0)
			fail_msg("reply %d of 100 missing (%d ok, %d busy)", i, ok, busy);
		assert_true(m.result == 0 || m.result == -EBUSY);
		ok += m.result == 0;
		busy += m.result == -EBUSY;
	}
	assert_int_equal(tu_wait(sender, 10000), 0);
	/* How many were refused depends on how fast the frames decode; none is lost. */
	assert_int_equal(ok + busy, 100);
	assert_true(ok >= 1);
	status(c, &st);
	assert_int_equal(st.stat[REEL_STAT_RESIDENT], 50);

	/* A need queued behind a stop is answered, not left to time out. */
	reel_client_close(c);
	assert_int_equal(reel_client_connect(f->session, &c), 0);
	raw_send(&flood, REEL_MSG_NEED, 1000, 0, 49, REEL_PRIO_BACKGROUND);
	stop(f, c);
	assert_int_equal(reel_queue_recv(flood.reply, &m, NULL, 5000), 0);
	assert_int_equal(m.id, 1000);
	assert_true(m.result == 0 || m.result == -ESHUTDOWN);
	raw_close(&deaf);
	raw_close(&flood);
}

static void test_coordinator_frame_left_half_written_is_rebuilt(void **state)
{
	struct fixture *f = *state;
	const char *clip = tu_clip("h264-bframes.mp4");
	struct reel_client *c;
	pid_t writer;
	int st;

	f->coord = start_coord(f, clip, f->buffer, NULL);
	c = wait_ready(f, f->coord);
	assert_frame(f, clip, 5, 0);
	/* A process takes frame 5's slot, starts scribbling over it, and is killed. */
	writer = fork();
	if (writer == 0) {
		struct reel_client *me;
		struct reel_buffer *b;
		struct reel_frame fr;
		uint32_t slot;
		if (reel_client_connect(f->session, &me) < 0 ||
		    reel_client_need(me, 5, 5, REEL_PRIO_INTERACTIVE, 10000, &slot) < 0 ||
		    reel_buffer_open(reel_client_record(me)->buffer_path, &b) < 0 ||
		    reel_slot_lock(b, slot, 5000) < 0 || reel_buffer_frame(b, slot, &fr) < 0)
			_exit(1);
		reel_slot_set_state(b, slot, REEL_SLOT_BUSY, 0);
		reel_slot_write_begin(b, slot);
		memset(fr.plane[0], 0xee, (size_t)fr.stride[0] * (fr.height[0] / 2));
		raise(SIGKILL);
	}
	st = tu_wait(writer, 10000);
	assert_true(WIFSIGNALED(st));
	/* The coordinator recovers the slot, and frame 5 comes back whole from source. */
	assert_frame(f, clip, 5, 0);
	assert_frame(f, clip, 6, 0);
	stop(f, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_coordinator_open_status_frames_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_retry_with_same_key_is_not_a_second_edit,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_counts_frames_of_matroska, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_joined_ts_serves_its_first_timeline,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_live_session_refused_dead_one_reclaimed,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_sigterm_stops_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_bad_inputs_one_line_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_malformed_message_counted_and_dropped,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_commands_dispatched_and_survive_a_killed_stage,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_eviction_with_small_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_edits_survive_eviction_and_restart, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_second_coordinator_on_a_buffer_refused,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_stage_leaving_keeps_the_others, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_misbehaving_clients_cannot_stall_it, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_frame_left_half_written_is_rebuilt, setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
