/*
 * Times as ffmpeg reads them: `reel frame --time T` writes the very frame
 * `ffmpeg -ss T` (accurate seeking) decodes first, on a variable-frame-rate
 * clip, on one whose video starts after its container (HEVC's reordering
 * delay in matroska), and on one whose audio starts before its video
 * (webm), where the zero of time is the container's start, not the first
 * frame's.  The real reel binary, the real ffmpeg binary.
 */
#include <setjmp.h>
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

#include "reel/client.h"
#include "testutil.h"

struct fixture {
	char *dir;
	char session[64];
	pid_t coord;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = tu_private_env();
	tu_session_name(f->session, sizeof(f->session));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_kill_all(&f->coord, 1);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void open_clip(struct fixture *f, const char *clip)
{
	char *argv[] = { getenv("REEL_BIN"), "open", (char *)tu_clip(clip), "--session", f->session,
		         "--no-stages", "--no-preview", NULL };
	struct reel_client *c;

	f->coord = tu_spawn(argv, NULL);
	for (int i = 0; i < 2000; i++) {
		if (reel_client_connect(f->session, &c) == 0) {
			reel_client_close(c);
			return;
		}
		usleep(5000);
	}
	fail_msg("session %s did not start", f->session);
}

static void stop(struct fixture *f)
{
	char *argv[] = { getenv("REEL_BIN"), "stop", f->session, NULL };

	assert_int_equal(tu_run(argv, NULL, NULL), 0);
	assert_int_equal(tu_wait(f->coord, 10000), 0);
	f->coord = 0;
}

/* For each time: reel's frame and ffmpeg's first frame, byte for byte (both decoded by libav). */
static void same_frames(struct fixture *f, const char *clip, const char *const *times, size_t n)
{
	char ours[4200], theirs[4200];

	snprintf(ours, sizeof(ours), "%s/reel.yuv", f->dir);
	snprintf(theirs, sizeof(theirs), "%s/ffmpeg.yuv", f->dir);
	for (size_t i = 0; i < n; i++) {
		char *ffmpeg[] = { "/usr/bin/env", "ffmpeg", "-nostdin", "-v", "error", "-y", "-ss",
			           (char *)times[i], "-i", (char *)tu_clip(clip), "-frames:v", "1", "-f",
			           "rawvideo", "-pix_fmt", "yuv420p", theirs, NULL };
		char *reel[] = { getenv("REEL_BIN"), "frame", f->session, "--time", (char *)times[i],
			         "--out", ours, NULL };
		char *a, *b, *out, *err;
		size_t na, nb;

		assert_int_equal(tu_run(ffmpeg, NULL, NULL), 0);
		assert_int_equal(tu_run(reel, &out, &err), 0);
		a = tu_slurp(ours, &na);
		b = tu_slurp(theirs, &nb);
		assert_non_null(a);
		assert_non_null(b);
		if (na != nb || memcmp(a, b, na))
			fail_msg("%s --time %s: reel wrote another frame than ffmpeg -ss (%s)", clip,
			         times[i], out);
		free(a);
		free(b);
		free(out);
		free(err);
	}
}

static void test_time_vfr_clip_as_ffmpeg_ss(void **state)
{
	struct fixture *f = *state;
	/* Frames every 40 ms up to 0.8 s, then every 80 ms to 3.12 s: on, between and near frames. */
	static const char *const times[] = { "0", "0.02", "0.5", "0.79", "0.8", "0.81", "0.85",
		                             "0.88", "0.9", "1.5", "00:00:01.7", "0:02.93", "3.1",
		                             "3.12" };
	char past[4200];

	open_clip(f, "vfr.mkv");
	same_frames(f, "vfr.mkv", times, sizeof(times) / sizeof(times[0]));
	{
		/* Past the last frame's start: ffmpeg gives none, reel says so and names the time. */
		char *reel[] = { getenv("REEL_BIN"), "frame", f->session, "--time", "3.13", "--out",
			         past, NULL };
		char *out, *err;
		snprintf(past, sizeof(past), "%s/past.yuv", f->dir);
		assert_int_equal(tu_run(reel, &out, &err), 2);
		assert_non_null(strstr(err, "3.13"));
		assert_int_equal(access(past, F_OK), -1);
		free(out);
		free(err);
	}
	stop(f);
}

static void test_time_zero_is_the_containers_start(void **state)
{
	struct fixture *f = *state;
	static const char *const times[] = { "0", "0.005", "0.01", "0.021", "0.03", "0.5", "1.01" };

	/* HEVC in matroska: the video starts 21 ms after the container. */
	open_clip(f, "hevc.mkv");
	same_frames(f, "hevc.mkv", times, sizeof(times) / sizeof(times[0]));
	stop(f);
	/* VP9 in webm: the audio starts 7 ms before the video. */
	tu_session_name(f->session, sizeof(f->session));
	open_clip(f, "vp9.webm");
	same_frames(f, "vp9.webm", times, sizeof(times) / sizeof(times[0]));
	stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_time_vfr_clip_as_ffmpeg_ss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_zero_is_the_containers_start, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
