/*
 * Fault 10: damaged and hostile source videos given to the real `reel open`.
 *
 * Each input is either refused (exit 2, exactly one line on stderr naming
 * the problem, no session and no buffer left behind) or opened, and then
 * every frame is asked for with the real `reel frame`: a frame is served
 * (and where its pixels are known, they are checked) or refused with one
 * line; the session stays alive and stops cleanly.  Each `reel open` runs
 * with its address space limited (RLIMIT_AS, 2 GiB) and its peak resident
 * memory, as wait4() reports it, must stay under 256 MiB (in the sanitizer
 * build: no RLIMIT_AS, 1 GiB).
 *
 * Inputs: an empty file, a truncated mp4, random bytes, a text file, random
 * bytes behind an mp4 header, a playlist (a format reel does not take), a
 * file of 2 million one-byte frames in 2.3 MB (refused past the file-size
 * bound), an mp4 whose tables claim 100 million samples, an mp4 with bytes
 * overwritten in the middle, Matroska files with a frame cut short in the
 * middle and with timestamps at 2^62, near 2^63 and past it, in ms and ns.
 *
 * `fault-inputs --write-seeds DIR` writes the small crafted files into
 * fuzz-media's seed corpus instead (tests/fuzz/corpus/media/).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus/session.h"
#include "craft-media.h"
#include "fault.h"
#include "reel/client.h"
#include "reel/error.h"
#include "testutil.h"

/*
 * AddressSanitizer reserves terabytes of shadow address space and keeps
 * freed memory in quarantine: in the sanitizer build (where reel is built
 * the same way) there is no RLIMIT_AS and the RSS bound is looser.
 */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifdef UNDER_ASAN
#define AS_LIMIT RLIM_INFINITY
#define RSS_LIMIT_KB (1024 * 1024)
#else
#define AS_LIMIT ((rlim_t)2 << 30)
#define RSS_LIMIT_KB (256 * 1024)
#endif
#define OPEN_TIMEOUT_MS 30000

enum expect { REFUSED, OPENS, EITHER };

struct input {
	const char *name;
	enum expect expect;
	bool pixels_known;       /* crafted raw frames: frame i has luma craft_luma(i) */
	int bad_frame;           /* the frame that must be refused, -1 none */
	unsigned min_served;     /* frames that must be served when it opens */
};

static char *dir;
static const char *reel;

/* Count lines (newline-terminated) in s. */
static unsigned lines(const char *s)
{
	unsigned n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

/* Run `reel open` on path in a child with RLIMIT_AS; its pid. stderr goes to errpath. */
static pid_t start_open(const char *path, const char *session, const char *errpath)
{
	pid_t pid = fork();

	if (pid < 0)
		abort();
	if (pid == 0) {
		struct rlimit rl = { AS_LIMIT, AS_LIMIT };
		int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_RDWR);

		if (AS_LIMIT != RLIM_INFINITY)
			setrlimit(RLIMIT_AS, &rl);
		dup2(null, 0);
		dup2(null, 1);
		dup2(fd, 2);
		execl(reel, "reel", "open", path, "--session", session, "--no-stages", "--no-preview",
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* wait4 with a bound: the exit code (or 128 + signal), and the child's peak RSS. */
static int wait_child(pid_t pid, int timeout_ms, long *ret_rss_kb)
{
	double until = tu_now_ms() + timeout_ms;
	struct rusage ru;
	int status;

	for (;;) {
		pid_t r = wait4(pid, &status, WNOHANG, &ru);

		if (r == pid)
			break;
		if (r < 0 || tu_now_ms() > until) {
			kill(pid, SIGKILL);
			wait4(pid, &status, 0, &ru);
			*ret_rss_kb = ru.ru_maxrss;
			return -1;
		}
		usleep(5000);
	}
	*ret_rss_kb = ru.ru_maxrss;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Nothing of the session is left: no record, no buffer file. */
static bool nothing_left(const char *session)
{
	struct reel_session_record rec;
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/buffers/%s.reel", dir, session);
	if (stat(path, &st) == 0)
		return false;
	return reel_session_read(session, &rec) == REEL_E_NOSESSION;
}

/* The number of frames of a live session, from reel status --json; 0 when unknown. */
static unsigned long long session_frames(const char *session)
{
	char *argv[] = { (char *)reel, "status", (char *)session, "--json", NULL };
	unsigned long long frames = 0;
	char *out = NULL, *err = NULL;

	if (tu_run(argv, &out, &err) == 0)
		tu_json_u64(out, "frames", &frames);
	free(out);
	free(err);
	return frames;
}

/* Every Y byte of a raw YUV420P file of the crafted size is `luma`. */
static bool pixels_are(const char *path, uint8_t luma)
{
	size_t len;
	char *data = tu_slurp(path, &len);
	bool ok = data && len == CRAFT_FRAME_BYTES;

	for (size_t i = 0; ok && i < CRAFT_SIZE * CRAFT_SIZE; i++)
		ok = (uint8_t)data[i] == luma;
	free(data);
	return ok;
}

/*
 * Ask for every frame of a live session.  Returns true when each was served
 * or refused with one line, the bad frame (if any) was refused, known pixels
 * were right, and at least min_served frames were served.
 */
static bool check_frames(const struct input *in, const char *session, unsigned long long frames,
                         unsigned *ret_served, unsigned *ret_refused, unsigned *ret_lost)
{
	char yuv[4096], num[32];
	unsigned served = 0, refused = 0;
	bool ok = true;

	snprintf(yuv, sizeof(yuv), "%s/frame.yuv", dir);
	for (unsigned long long f = 0; f < frames; f++) {
		char *argv[] = { (char *)reel, "frame", (char *)session, num, "--out", yuv, NULL };
		char *out = NULL, *err = NULL;
		int code;

		snprintf(num, sizeof(num), "%llu", f);
		unlink(yuv);
		code = tu_run(argv, &out, &err);
		if (code == 0) {
			served++;
			if (in->bad_frame >= 0 && f == (unsigned long long)in->bad_frame) {
				printf("# %s: frame %llu was served but its data is damaged\n", in->name, f);
				ok = false;
			}
			if (in->pixels_known && !pixels_are(yuv, craft_luma((unsigned)f))) {
				printf("# %s: frame %llu: wrong pixels\n", in->name, f);
				(*ret_lost)++;
				ok = false;
			}
		} else {
			refused++;
			/* A frame whose bytes are intact and known, refused: a frame lost. */
			if (in->pixels_known && f != (unsigned long long)in->bad_frame)
				(*ret_lost)++;
			if (code != 1 || lines(err) != 1) {
				printf("# %s: frame %llu: exit %d, %u stderr lines\n", in->name, f, code,
				       lines(err));
				ok = false;
			}
		}
		free(out);
		free(err);
	}
	if (in->bad_frame >= 0 && (unsigned long long)in->bad_frame >= frames)
		ok = false;
	if (served < in->min_served) {
		printf("# %s: %u frames served, expected at least %u\n", in->name, served,
		       in->min_served);
		ok = false;
	}
	*ret_served = served;
	*ret_refused = refused;
	return ok;
}

static bool run_input(const struct input *in, const char *path, long *ret_rss_kb,
                      unsigned *ret_lost)
{
	char session[64], errpath[4096], *err;
	struct reel_client *client = NULL;
	unsigned long long frames;
	unsigned served = 0, refused = 0;
	bool ok = true, opened = false;
	pid_t pid;
	int code = -1;

	tu_session_name(session, sizeof(session));
	snprintf(errpath, sizeof(errpath), "%s/open.err", dir);
	pid = start_open(path, session, errpath);
	/* Either the coordinator answers (opened) or it exits (refused). */
	for (double until = tu_now_ms() + OPEN_TIMEOUT_MS; tu_now_ms() < until;) {
		int status;
		struct rusage ru;

		if (reel_client_connect(session, &client) == 0) {
			opened = true;
			break;
		}
		if (wait4(pid, &status, WNOHANG, &ru) == pid) {
			*ret_rss_kb = ru.ru_maxrss;
			code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			pid = -1;
			break;
		}
		usleep(10000);
	}
	if (!opened && pid > 0) {
		printf("# %s: reel open neither opened nor exited in time\n", in->name);
		wait_child(pid, 0, ret_rss_kb);
		return false;
	}
	err = tu_slurp(errpath, NULL);
	if (!opened) {
		/* Refused: exit 2, one line that says what, nothing left behind. */
		printf("# %s: refused (exit %d): %s", in->name, code, err && *err ? err : "(no line)\n");
		if (code != 2 || lines(err) != 1 || in->expect == OPENS || !nothing_left(session))
			ok = false;
		free(err);
		return ok;
	}
	reel_client_close(client);
	frames = session_frames(session);
	ok = ok && in->expect != REFUSED && frames > 0 &&
	     check_frames(in, session, frames, &served, &refused, ret_lost);
	printf("# %s: opened, %llu frames: %u served, %u refused\n", in->name, frames, served,
	       refused);
	{
		char *argv[] = { (char *)reel, "stop", session, NULL };
		if (tu_run(argv, NULL, NULL) != 0)
			ok = false;
	}
	code = wait_child(pid, OPEN_TIMEOUT_MS, ret_rss_kb);
	if (code != 0) {
		printf("# %s: the session ended with %d after reel stop\n", in->name, code);
		ok = false;
	}
	free(err);
	/* In the sanitizer build, a report from the coordinator fails the input. */
	err = tu_slurp(errpath, NULL);
	if (err && (strstr(err, "runtime error") || strstr(err, "Sanitizer"))) {
		printf("# %s: the coordinator's stderr has a sanitizer report:\n%s", in->name, err);
		ok = false;
	}
	free(err);
	return ok;
}

struct tcase {
	struct input in;
	char *path;
};

static void add(struct tcase *cases, unsigned *n, struct input in, char *path)
{
	cases[*n].in = in;
	cases[*n].path = path;
	(*n)++;
}

static char *write_input(const char *name, const void *data, size_t len)
{
	char *path;

	if (asprintf(&path, "%s/%s", dir, name) < 0 || tu_write_file(path, data, len) < 0)
		abort();
	return path;
}

static char *copy_clip(const char *clip, const char *name, size_t *ret_len, uint8_t **ret_data)
{
	const char *src = tu_clip(clip);
	size_t len;
	char *data = src ? tu_slurp(src, &len) : NULL, *path;

	if (!data) {
		printf("# test clip %s missing\n", clip);
		exit(1);
	}
	path = write_input(name, data, len);
	if (ret_data) {
		*ret_data = (uint8_t *)data;
		*ret_len = len;
	} else {
		free(data);
	}
	return path;
}

/* Write the crafted inputs small enough for a fuzz seed into folder out (fuzz-media's corpus). */
static int write_seeds(const char *out)
{
	uint64_t t[16], x[12] = { 0, 40, 80, ((uint64_t)1 << 62) + 10, ((uint64_t)1 << 63) - 100,
	                          UINT64_MAX - 40, 120, 160, 200, (uint64_t)1 << 63, 240, 280 };
	struct { const char *name; uint8_t *data; size_t len; } seeds[4];
	char path[4096];
	int r = 0;

	for (unsigned i = 0; i < 16; i++)
		t[i] = i * 40;
	seeds[0].name = "valid-raw-cut-frame.mkv";
	seeds[0].data = craft_mkv(t, 16, 7, 1000000, &seeds[0].len);
	seeds[1].name = "extreme-ts-ms.mkv";
	seeds[1].data = craft_mkv(x, 12, 99, 1000000, &seeds[1].len);
	seeds[2].name = "extreme-ts-ns.mkv";
	seeds[2].data = craft_mkv(x, 12, 99, 1, &seeds[2].len);
	seeds[3].name = "bad-tiny-frames.mkv";
	seeds[3].data = craft_mkv_tiny_frames(20000, &seeds[3].len);
	for (unsigned i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", out, seeds[i].name);
		r |= tu_write_file(path, seeds[i].data, seeds[i].len);
		free(seeds[i].data);
	}
	return r ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned tries = 0, held = 0, lost = 0;
	long worst_rss = 0;
	char note[256];
	uint64_t seed = 0x9e3779b97f4a7c15u;
	uint8_t *bytes;
	size_t len;

	if (argc == 3 && !strcmp(argv[1], "--write-seeds"))
		return write_seeds(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	reel = getenv("REEL_BIN");
	if (!reel) {
		printf("REEL_BIN is not set\n");
		return 1;
	}
	dir = tu_private_env();

	struct tcase cases[16];
	unsigned n = 0;

	/* Plain damage. */
	add(cases, &n, (struct input){ "empty file", REFUSED, false, -1, 0 },
	    write_input("empty.mp4", "", 0));
	add(cases, &n, (struct input){ "truncated mp4", REFUSED, false, -1, 0 },
	    copy_clip("truncated.mp4", "truncated.mp4", NULL, NULL));
	bytes = malloc(65536);
	for (size_t i = 0; i < 65536; i++) {
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		bytes[i] = (uint8_t)seed;
	}
	add(cases, &n, (struct input){ "random bytes", REFUSED, false, -1, 0 },
	    write_input("random.mp4", bytes, 65536));
	memcpy(bytes, "\0\0\0\x18" "ftypisom\0\0\2\0isomiso2", 24);
	add(cases, &n, (struct input){ "random bytes behind an mp4 header", REFUSED, false, -1, 0 },
	    write_input("random-ftyp.mp4", bytes, 65536));
	free(bytes);
	add(cases, &n, (struct input){ "text file", REFUSED, false, -1, 0 },
	    write_input("text.mkv", "not a video\njust text\n", 23));
	add(cases, &n, (struct input){ "playlist (format not taken)", REFUSED, false, -1, 0 },
	    copy_clip("playlist.m3u8", "playlist.m3u8", NULL, NULL));
	/* Hostile counts. */
	bytes = craft_mkv_tiny_frames(2000000, &len);
	add(cases, &n, (struct input){ "2 million one-byte frames", REFUSED, false, -1, 0 },
	    write_input("tiny-frames.mkv", bytes, len));
	free(bytes);
	{
		char *p = copy_clip("noaudio.mp4", "claims.mp4", &len, &bytes);
		craft_mp4_claim(bytes, len, 100000000);
		free(p);
		add(cases, &n, (struct input){ "mp4 claiming 100 million samples", EITHER, false, -1, 0 },
	    write_input("claims.mp4", bytes, len));
		free(bytes);
	}
	/* Damage in the middle: the rest must work. */
	add(cases, &n, (struct input){ "mp4 overwritten in the middle", OPENS, false, -1, 10 },
	    copy_clip("corrupt.mp4", "corrupt.mp4", NULL, NULL));
	{
		uint64_t t[16], x[16] = { 0, 40, 80, ((uint64_t)1 << 62) + 10, ((uint64_t)1 << 63) - 100,
		                          UINT64_MAX - 40, 120, 160, 200, (uint64_t)1 << 63, 240, 280 };
		for (unsigned i = 0; i < 16; i++)
			t[i] = i * 40;
		bytes = craft_mkv(t, 16, 7, 1000000, &len);
		add(cases, &n, (struct input){ "raw video with frame 7 cut short", OPENS, true, 7, 15 },
	    write_input("cut-frame.mkv", bytes, len));
		free(bytes);
		bytes = craft_mkv(x, 12, 99, 1000000, &len);
		add(cases, &n, (struct input){ "timestamps at 2^62, 2^63 and past (ms)", EITHER, false, -1, 0 },
	    write_input("extreme-ms.mkv", bytes, len));
		free(bytes);
		bytes = craft_mkv(x, 12, 99, 1, &len);
		add(cases, &n, (struct input){ "timestamps at 2^62, 2^63 and past (ns)", EITHER, false, -1, 0 },
	    write_input("extreme-ns.mkv", bytes, len));
		free(bytes);
		for (unsigned i = 0; i < 16; i++)
			t[i] = ((uint64_t)1 << 62) - 200 + i * 40;
		bytes = craft_mkv(t, 16, 99, 1000000, &len);
		add(cases, &n, (struct input){ "timestamps crossing 2^62", EITHER, false, -1, 0 },
	    write_input("crossing.mkv", bytes, len));
		free(bytes);
	}

	for (unsigned i = 0; i < n; i++) {
		long rss = 0;
		bool ok = run_input(&cases[i].in, cases[i].path, &rss, &lost);

		if (rss > RSS_LIMIT_KB) {
			printf("# %s: peak RSS %ld KiB, over %d KiB\n", cases[i].in.name, rss, RSS_LIMIT_KB);
			ok = false;
		}
		if (rss > worst_rss)
			worst_rss = rss;
		tries++;
		held += ok;
		printf("%s %u - %s (peak RSS %ld KiB)\n", ok ? "ok" : "not ok", i + 1, cases[i].in.name,
		       rss);
		free(cases[i].path);
	}
	tu_rmrf(dir);
	free(dir);
	snprintf(note, sizeof(note), "refused with one line (exit 2), or opened with the damaged "
	         "frame refused and the rest served; lost = intact frames not served; peak RSS %ld MiB"
	         "%s", (worst_rss + 1023) / 1024,
	         AS_LIMIT != RLIM_INFINITY ? " under a 2 GiB RLIMIT_AS" : " (ASan: no RLIMIT_AS)");
	return fault_report("damaged and hostile source videos", tries, held, lost, note);
}
