/*
 * libFuzzer target for the edit line parser of `reel send`,
 * `reel open --edits FILE` and `reel edits` (tools/edit-args.c).
 *
 * An edits file is text anyone may hand to `reel open`, and its times go
 * through reel_media_parse_time() and the frame index.  Each line of the
 * input is split into words as `reel open --edits` splits them and parsed
 * against a real buffer (300 frames at 25 fps whose timestamps start at
 * 0.08 s).  Besides the sanitizers, the checks are the promises of
 * edit-args.h: an accepted edit passes the coordinator's own check
 * (reel_op_validate), and the line cli_format_edit() prints for it, which
 * is what `reel edits` writes, reads back as exactly the same edit.
 *
 * Built with -DREEL_FUZZ_REPLAY it is instead a small program that runs the
 * seed corpus through the same entry point, one TAP case per file: a seed
 * named valid-* holds one line that must be accepted, one named bad-* one
 * that must be refused.  `--make-seeds DIR` writes them afresh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "edit-args.h"
#include "reel/ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FRAMES 300u
#define MAX_WORDS 16
#define MAX_LINES 32

static struct reel_buffer *video;

static struct reel_buffer *get_video(void)
{
	const char *bases[] = { "/dev/shm", getenv("TMPDIR"), "/tmp" };
	struct reel_buffer_params p;
	char dir[4096], path[4200];

	if (video)
		return video;
	memset(&p, 0, sizeof(p));
	p.width = 320;
	p.height = 240;
	p.frame_count = FRAMES;
	p.slot_count = 1;
	p.journal_capacity = 8;
	p.frame_rate = (struct reel_rational){ 25, 1 };
	p.time_base = (struct reel_rational){ 1, 12800 };
	p.sample_rate = 48000;
	p.channels = 2;
	p.audio_capacity = 48000 / 25 + 1;
	snprintf(p.source.path, sizeof(p.source.path), "/clips/fuzz.mp4");
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]) && !video; i++) {
		if (!bases[i] || access(bases[i], W_OK) != 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/reel-fuzz-edit-line.XXXXXX", bases[i]);
		if (!mkdtemp(dir))
			continue;
		snprintf(path, sizeof(path), "%s/fuzz.reel", dir);
		if (reel_buffer_create(path, &p, &video) < 0)
			video = NULL;
		unlink(path);
		rmdir(dir);
	}
	if (!video) {
		fprintf(stderr, "fuzz-edit-line: cannot create a buffer file in /dev/shm, $TMPDIR or /tmp\n");
		abort();
	}
	/* Timestamps from 0.08 s, one frame every 512 ticks (25 fps), as a real scan writes them. */
	for (uint64_t f = 0; f < FRAMES; f++) {
		struct reel_index_entry e = { .pts = 1024 + (int64_t)f * 512, .dts = 1024 + (int64_t)f * 512,
		                              .pos = -1, .flags = f % 50 == 0 ? REEL_INDEX_KEY : 0,
		                              .size = 100 };
		if (reel_index_put(video, f, &e) < 0)
			abort();
	}
	if (reel_index_commit(video) < 0)
		abort();
	return video;
}

/* Parse one line as `reel open --edits` does; 0 when accepted. */
static int parse_line(char *line, struct cli_edit *ret)
{
	char *words[MAX_WORDS];
	char why[256];
	int n = cli_split_words(line, words, MAX_WORDS);
	int r;

	if (n == 0)
		return 1;
	why[0] = 0;
	r = cli_parse_edit(n, words, get_video(), ret, why, sizeof(why));
	/* A refusal always says why, in one line. */
	if (r < 0 && (why[0] == 0 || memchr(why, 0, sizeof(why)) == NULL || strchr(why, '\n')))
		abort();
	return r;
}

static void check_accepted(const struct cli_edit *e)
{
	const struct reel_op_desc *d = reel_op_get(e->op);
	struct reel_op_limits lim = { 320, 240, FRAMES, 48000 };
	struct cli_edit again;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	if (!d || (d->flags & (REEL_OP_CONTROL | REEL_OP_INTERNAL)) || e->first < 0 ||
	    e->last < e->first || (uint64_t)e->last >= FRAMES ||
	    reel_op_validate(e->op, e->params, e->first, e->last, &lim, NULL, 0) < 0)
		abort();
	/* What `reel edits` prints for it replays as the very same edit. */
	out = open_memstream(&text, &len);
	if (!out)
		abort();
	cli_format_edit(out, e->op, e->params, e->first, e->last);
	if (fclose(out) != 0)
		abort();
	if (parse_line(text, &again) != 0 || again.op != e->op || again.first != e->first ||
	    again.last != e->last || memcmp(again.params, e->params, sizeof(e->params)) != 0)
		abort();
	free(text);
}

/* Every line of the input; the number of edits accepted, or -1 when a line was refused. */
static int parse_text(const uint8_t *data, size_t size)
{
	char line[512];
	size_t pos = 0;
	int accepted = 0, refused = 0;

	for (int lines = 0; pos < size && lines < MAX_LINES; lines++) {
		size_t end = pos, n;
		struct cli_edit e;

		while (end < size && data[end] != '\n')
			end++;
		n = end - pos < sizeof(line) - 1 ? end - pos : sizeof(line) - 1;
		memcpy(line, data + pos, n);
		line[n] = 0;
		pos = end + 1;
		switch (parse_line(line, &e)) {
		case 0:
			check_accepted(&e);
			accepted++;
			break;
		case 1:
			break;
		default:
			refused++;
		}
	}
	return refused ? -1 : accepted;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)parse_text(data, size);
	return 0;
}

#ifdef REEL_FUZZ_REPLAY
#include "fuzz-replay.h"

static int make_seeds(const char *dir)
{
	static const struct {
		const char *name, *line;
	} seeds[] = {
		{ "valid-brightness-frames", "brightness 0.1 --frames 0-299" },
		{ "valid-crop-time-range", "crop 10 10 100 80 --time 1.5-3" },
		{ "valid-freeze-default", "freeze --frames 20-30" },
		{ "valid-freeze-frame", "freeze 5 --frames=20-30" },
		{ "valid-speed-clock", "speed 2 --time 0:02-0:04.5" },
		{ "valid-gain-whole", "gain -6" },
		{ "valid-normalize-default", "normalize --frames 100-" },
		{ "valid-fade-in", "fade-in --frames 0-24   # the opening" },
		{ "valid-cut-alias", "cut --time 00:00:01.2" },
		{ "valid-colorbalance", "colorbalance 0.1 -0.05 0.02 --frames 7" },
		{ "valid-gamma-exponent", "gamma 1.5e0 --time=10-11" },
		{ "valid-afade-out", "afade-out --time 11.5-11.9" },
		{ "bad-brightness-bounds", "brightness 2" },
		{ "bad-undo", "undo" },
		{ "bad-crop-small", "crop 0 0 1 1" },
		{ "bad-crop-outside", "crop 300 0 100 100" },
		{ "bad-reversed", "hflip --frames 5-3" },
		{ "bad-speed-slow", "speed 0.01" },
		{ "bad-past-end", "gain 3 --frames 0-400" },
		{ "bad-blur-fraction", "blur 1.5" },
		{ "bad-time-after-end", "brightness 0.1 --time 99" },
		{ "bad-freeze-outside", "freeze 400" },
		{ "bad-two-ranges", "invert --frames 1-2 --time 1-2" },
		{ "bad-unknown-op", "sepia 1" },
		{ "bad-not-a-number", "gain loud" },
		{ "bad-nan", "gain nan" },
		{ "bad-time-negative", "mute --time -1-2" },
		{ "bad-missing-value", "mute --frames" },
		{ "bad-too-many", "hflip 1" },
	};
	int r = 0;

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		r |= fuzz_write_seed(dir, seeds[i].name, seeds[i].line, strlen(seeds[i].line));
	return r ? 1 : 0;
}

static int replay_one(const char *name, const uint8_t *data, size_t size, char *detail, size_t len)
{
	int r;

	LLVMFuzzerTestOneInput(data, size);
	r = parse_text(data, size);
	if (r < 0)
		snprintf(detail, len, "refused");
	else
		snprintf(detail, len, "%d edits accepted", r);
	return fuzz_expect(name, r > 0);
}

int main(int argc, char **argv)
{
	int r;

	if (argc == 3 && !strcmp(argv[1], "--make-seeds"))
		r = make_seeds(argv[2]);
	else
		r = fuzz_replay_main(argc, argv, replay_one);
	reel_buffer_close(video);
	return r;
}
#endif
