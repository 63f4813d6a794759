/*
 * libFuzzer target for the journal reader and the replay of a journal into
 * the edit index.
 *
 * The journal lives in the buffer file, so whatever another process or a
 * damaged disk left there is read back by the next coordinator
 * (coord_load_journal), by every stage that catches up (reel_edits_sync),
 * and by `reel edits` and export.  reel_journal_read() must refuse every
 * entry it cannot vouch for, and reel_edits_add() every entry that does not
 * follow from the ones before it; the index built from what they let
 * through must answer its queries inside the journal and the video.  The
 * sanitizers catch reads out of bounds and undefined arithmetic, the
 * checks below broken promises.
 *
 * The journal is a real one: a buffer file made once by reel_buffer_create()
 * in a private folder (on /dev/shm when there is one, so the msync of each
 * append costs little), unlinked at once, whose journal section and count
 * each input overwrites.  An input is:
 *
 *   byte 0    bits 0-1: the buffer (1, 12 or 300 frames; 64 entries each);
 *             bit 2: 0 = raw, 1 = built
 *   raw       bytes 1-8: the journal count (may exceed the capacity), then
 *             the journal section's bytes as they are
 *   built     byte 1: a number of records of RECORD bytes, each appended by
 *             reel_journal_append() as the coordinator does (what it
 *             refuses is skipped): op, state to append with, state to set
 *             afterwards (>= 0x80: none), a byte to spare, int32 first,
 *             int32 last, uint32 target, 4 doubles; then (uint16 position,
 *             byte) pairs that are XORed into the 8 bytes of the count
 *             followed by the written entries (damage after the fact)
 *
 * Built with -DREEL_FUZZ_REPLAY it is instead a small program that runs the
 * seed corpus through the same entry point, one TAP case per file: a seed
 * named valid-* must replay to its last entry, one named bad-* must stop
 * before.  `--make-seeds DIR` writes the seeds afresh from real appends.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer/buffer-private.h"
#include "buffer/journal.h"
#include "edit/edits.h"
#include "reel/ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAPACITY 64u
#define RECORD 48u
#define NBUFFERS 3

static const uint64_t frame_counts[NBUFFERS] = { 1, 12, 300 };
static struct reel_buffer *buffers[NBUFFERS];

static struct reel_buffer *make_buffer(uint64_t frames)
{
	const char *bases[] = { "/dev/shm", getenv("TMPDIR"), "/tmp" };
	struct reel_buffer_params p;
	struct reel_buffer *b = NULL;
	char dir[4096], path[4200];

	memset(&p, 0, sizeof(p));
	p.width = 16;
	p.height = 16;
	p.frame_count = frames;
	p.slot_count = 1;
	p.journal_capacity = CAPACITY;
	p.frame_rate = (struct reel_rational){ 25, 1 };
	p.time_base = (struct reel_rational){ 1, 12800 };
	p.sample_rate = 48000;
	p.channels = 2;
	p.audio_capacity = 48000 / 25 + 1;
	snprintf(p.source.path, sizeof(p.source.path), "/clips/fuzz.mp4");
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]) && !b; i++) {
		if (!bases[i] || access(bases[i], W_OK) != 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/reel-fuzz-journal.XXXXXX", bases[i]);
		if (!mkdtemp(dir))
			continue;
		snprintf(path, sizeof(path), "%s/fuzz.reel", dir);
		if (reel_buffer_create(path, &p, &b) < 0)
			b = NULL;
		/* The mapping and fd keep the file; nothing is left behind on disk. */
		unlink(path);
		rmdir(dir);
	}
	if (!b) {
		fprintf(stderr, "fuzz-journal: cannot create a buffer file in /dev/shm, $TMPDIR or /tmp\n");
		abort();
	}
	return b;
}

static struct reel_buffer *get_buffer(unsigned which)
{
	if (!buffers[which])
		buffers[which] = make_buffer(frame_counts[which]);
	return buffers[which];
}

static void reset_journal(struct reel_buffer *b)
{
	memset(b->journal, 0, (size_t)b->info.journal_capacity * sizeof(struct reel_journal_entry));
	b->live->journal_count = 0;
	b->live->journal_count_check = ~(uint64_t)0;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void build(struct reel_buffer *b, const uint8_t *data, size_t size)
{
	size_t n = size > 1 ? data[1] : 0, pos = 2;
	uint64_t count, span;

	for (size_t i = 0; i < n && pos + RECORD <= size; i++, pos += RECORD) {
		const uint8_t *r = data + pos;
		struct reel_journal_entry e;
		uint64_t seq;

		memset(&e, 0, sizeof(e));
		e.op = r[0];
		e.state = r[1];
		e.first = (int32_t)get32(r + 4);
		e.last = (int32_t)get32(r + 8);
		e.target = get32(r + 12);
		memcpy(e.params, r + 16, sizeof(e.params));
		if (e.op == REEL_OP_FAILED)
			snprintf(e.note, sizeof(e.note), "fuzz");
		if (reel_journal_append(b, &e, &seq) == 0 && r[2] < 0x80)
			(void)reel_journal_set_state(b, seq, r[2]);
	}
	/* The damage lands on what was written: the count and the entries below it. */
	count = b->live->journal_count;
	span = 8 + count * sizeof(struct reel_journal_entry);
	for (; pos + 3 <= size; pos += 3) {
		uint64_t at = (data[pos] | (uint64_t)data[pos + 1] << 8) % span;

		if (at < 8)
			((uint8_t *)&b->live->journal_count)[at] ^= data[pos + 2];
		else
			((uint8_t *)b->journal)[at - 8] ^= data[pos + 2];
	}
}

static void raw(struct reel_buffer *b, const uint8_t *data, size_t size)
{
	size_t room = (size_t)b->info.journal_capacity * sizeof(struct reel_journal_entry);
	uint64_t count = 0;

	if (size >= 9)
		memcpy(&count, data + 1, sizeof(count));
	if (size > 9)
		memcpy(b->journal, data + 9, size - 9 < room ? size - 9 : room);
	/* A count as a coordinator writes it (with its check word): the entries are what is fuzzed. */
	b->live->journal_count = count;
	b->live->journal_count_check = ~count;
}

/* The coordinator's load: every entry in order, stopping at the first it cannot take. */
static uint64_t load(struct reel_edits *x, struct reel_buffer *b)
{
	uint64_t count = reel_journal_count(b);

	if (count > b->info.journal_capacity)
		abort();
	for (uint64_t seq = 1; seq <= count; seq++) {
		struct reel_journal_entry e;
		int r = reel_journal_read(b, seq, &e);

		if (r == 0) {
			if (e.seq != seq || e.first < 0 || e.first > e.last ||
			    (uint64_t)e.last >= b->info.frame_count || e.state >= REEL_JOURNAL_STATE_COUNT ||
			    e.target >= seq || !reel_op_get(e.op) || !memchr(e.note, 0, sizeof(e.note)))
				abort();
			r = reel_edits_add(x, &e);
		}
		if (r == -ENOMEM)
			abort();
		if (r < 0)
			return seq - 1;
		if (reel_edits_count(x) != seq)
			abort();
	}
	return count;
}

static void check_changes(struct reel_edits *x, uint64_t frames)
{
	const struct reel_span *spans;
	const uint64_t *remeasure;
	size_t nspans, nremeasure;

	reel_edits_changes(x, &spans, &nspans, &remeasure, &nremeasure);
	for (size_t i = 0; i < nspans; i++)
		if (spans[i].first < 0 || spans[i].last < spans[i].first ||
		    (uint64_t)spans[i].last >= frames || (i > 0 && spans[i].first <= spans[i - 1].last + 1))
			abort();
	for (size_t i = 0; i < nremeasure; i++)
		if (remeasure[i] == 0 || remeasure[i] > reel_edits_count(x))
			abort();
}

/* What the index answers must lie inside the journal it took and the video. */
static void check_index(struct reel_edits *x, uint64_t frames, const uint8_t *data, size_t size)
{
	uint64_t n = reel_edits_count(x), undo = reel_edits_undo_target(x),
	         redo = reel_edits_redo_target(x);
	int64_t probe[4] = { 0, (int64_t)(frames / 2), (int64_t)frames - 1, 0 };
	struct reel_edit steps[8], ed;
	uint32_t state, *counts;
	uint64_t total = 0, sum = 0;

	if (undo > n || redo > n)
		abort();
	/* An undo acts on an edit in effect (a normalize may still wait for its value). */
	if (undo && (reel_edits_get(x, undo, &ed, &state) < 0 ||
	             (state != REEL_EDIT_IN_EFFECT && state != REEL_EDIT_WAITING)))
		abort();
	if (redo && (reel_edits_get(x, redo, &ed, &state) < 0 || state != REEL_EDIT_UNDONE))
		abort();
	if (reel_edits_get(x, n + 1, &ed, &state) == 0)
		abort();
	for (uint64_t seq = 1; seq <= n; seq++) {
		if (reel_edits_get(x, seq, &ed, &state) < 0 || ed.seq != seq || ed.first < 0 ||
		    ed.last < ed.first || (uint64_t)ed.last >= frames || state > REEL_EDIT_CONTROL)
			abort();
		(void)reel_edits_measure_ready(x, seq);
	}
	if (size >= 4)
		probe[3] = (int64_t)((data[size - 1] | (uint64_t)data[size - 2] << 8) % frames);
	for (int i = 0; i < 4; i++) {
		uint64_t reached = UINT64_MAX, after = 0;
		size_t k = reel_edits_steps(x, probe[i], 0, UINT64_MAX, REEL_OP_PICTURE | REEL_OP_SOUND,
		                            steps, 8, &reached);

		if (k > 8 || reached > n || reel_edits_last_change(x, probe[i], false) > n ||
		    reel_edits_last_change(x, probe[i], true) > n)
			abort();
		for (size_t j = 0; j < k; j++) {
			if (steps[j].seq <= after || steps[j].seq > n || steps[j].first > probe[i] ||
			    steps[j].last < probe[i])
				abort();
			after = steps[j].seq;
		}
		/* From a state half way: nothing at or below it comes back. */
		k = reel_edits_steps(x, probe[i], n / 2, UINT64_MAX, REEL_OP_PICTURE, steps, 8, &reached);
		for (size_t j = 0; j < k; j++)
			if (steps[j].seq <= n / 2)
				abort();
	}
	counts = calloc(frames, sizeof(*counts));
	if (!counts)
		abort();
	total = reel_edits_output(x, counts);
	for (uint64_t f = 0; f < frames; f++)
		sum += counts[f];
	if (sum != total)
		abort();
	free(counts);
}

/* The replay of one input: how many entries a fresh coordinator takes (-1 when none to take). */
static int64_t replay(const uint8_t *data, size_t size, uint64_t *ret_count)
{
	unsigned which = size ? (data[0] & 3) % NBUFFERS : 0;
	struct reel_buffer *b = get_buffer(which);
	uint64_t frames = b->info.frame_count, count, loaded, taken = 0;
	struct reel_edits *x, *y;
	int r;

	reset_journal(b);
	if (reel_edits_new(frames, &x) < 0 || reel_edits_new(frames, &y) < 0)
		abort();
	if (size && (data[0] & 4)) {
		/*
		 * A stage that follows the session: it reads the first half of the
		 * records as they are appended, then catches up after the rest and
		 * the damage.  The journal is written again from the same records,
		 * so its first entries are the ones the stage already took.
		 */
		size_t half = size > 2 ? 2 + (size_t)data[1] / 2 * RECORD : size;

		build(b, data, half < size ? half : size);
		(void)reel_edits_sync(y, b);
		taken = reel_edits_count(y);
		reset_journal(b);
		build(b, data, size);
	} else {
		raw(b, data, size);
	}
	count = reel_journal_count(b);
	loaded = load(x, b);
	check_changes(x, frames);
	check_index(x, frames, data, size);

	/*
	 * The stage's catch-up stops where the coordinator's load stops, unless
	 * the damage hit an entry the stage had taken before it was done.
	 */
	r = reel_edits_sync(y, b);
	if (r == -ENOMEM)
		abort();
	if (loaded >= taken && (reel_edits_count(y) != loaded || (r == 0) != (loaded == count)))
		abort();
	reel_edits_free(y);
	reel_edits_free(x);
	*ret_count = count;
	return (int64_t)loaded;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t count;

	(void)replay(data, size, &count);
	return 0;
}

#ifdef REEL_FUZZ_REPLAY
#include "fuzz-replay.h"

struct rec {
	uint8_t op, state, set_state;
	int32_t first, last;
	uint32_t target;
	double params[4];
};

/* A built input: records in the layout build() reads, then damage pairs. */
static size_t encode(uint8_t *out, unsigned which, const struct rec *recs, size_t n,
                     const uint8_t (*damage)[3], size_t ndamage)
{
	size_t pos = 2;

	out[0] = (uint8_t)(which | 4);
	out[1] = (uint8_t)n;
	for (size_t i = 0; i < n; i++, pos += RECORD) {
		uint8_t *r = out + pos;

		memset(r, 0, RECORD);
		r[0] = recs[i].op;
		r[1] = recs[i].state;
		r[2] = recs[i].set_state;
		memcpy(r + 4, &recs[i].first, 4);
		memcpy(r + 8, &recs[i].last, 4);
		memcpy(r + 12, &recs[i].target, 4);
		memcpy(r + 16, recs[i].params, sizeof(recs[i].params));
	}
	for (size_t i = 0; i < ndamage; i++, pos += 3)
		memcpy(out + pos, damage[i], 3);
	return pos;
}

/* The raw image of the journal the built input leaves: count, then the entries. */
static size_t image(uint8_t *out, const uint8_t *built, size_t len)
{
	struct reel_buffer *b = get_buffer(built[0] & 3);
	uint64_t count;

	reset_journal(b);
	build(b, built, len);
	count = b->live->journal_count;
	out[0] = built[0] & 3;
	memcpy(out + 1, &count, sizeof(count));
	memcpy(out + 9, b->journal, count * sizeof(struct reel_journal_entry));
	return 9 + count * sizeof(struct reel_journal_entry);
}

#define A REEL_JOURNAL_APPLIED
#define P REEL_JOURNAL_PENDING
#define NONE 0xff

static int make_seeds(const char *dir)
{
	static const struct rec edits[] = {
		{ REEL_OP_BRIGHTNESS, P, A, 0, 9, 0, { 0.2 } },
		{ REEL_OP_HFLIP, P, A, 3, 5, 0, { 0 } },
		{ REEL_OP_TRIM, A, NONE, 0, 2, 0, { 0 } },
		{ REEL_OP_CROP, P, NONE, 6, 11, 0, { 2, 2, 8, 8 } },
		{ REEL_OP_SPEED, P, A, 4, 7, 0, { 2 } },
	};
	static const struct rec undo_redo[] = {
		{ REEL_OP_GAMMA, P, A, 0, 11, 0, { 1.5 } },
		{ REEL_OP_BLUR, P, A, 2, 4, 0, { 3 } },
		{ REEL_OP_UNDO, A, NONE, 0, 0, 2, { 0 } },
		{ REEL_OP_UNDO, A, NONE, 0, 0, 1, { 0 } },
		{ REEL_OP_REDO, A, NONE, 0, 0, 1, { 0 } },
	};
	static const struct rec freeze[] = {
		{ REEL_OP_INVERT, P, A, 1, 3, 0, { 0 } },
		{ REEL_OP_FREEZE, P, A, 6, 9, 0, { 2 } },
		{ REEL_OP_UNDO, A, NONE, 0, 0, 1, { 0 } },
		{ REEL_OP_FREEZE, P, P, 10, 11, 0, { 7 } },
	};
	static const struct rec sound[] = {
		{ REEL_OP_GAIN, P, A, 0, 11, 0, { 6 } },
		{ REEL_OP_NORMALIZE, P, P, 0, 11, 0, { -1 } },
		{ REEL_OP_MEASURED, A, NONE, 0, 11, 2, { 0.5 } },
		{ REEL_OP_MUTE, P, NONE, 3, 4, 0, { 0 } },
		{ REEL_OP_UNDO, A, NONE, 0, 0, 1, { 0 } },
	};
	static const struct rec failed[] = {
		{ REEL_OP_SHARPEN, P, A, 0, 5, 0, { 1 } },
		{ REEL_OP_COLORBALANCE, P, NONE, 0, 0, 0, { 0.1, 0, -0.1 } },
		{ REEL_OP_FAILED, A, NONE, 0, 0, 2, { 0 } },
	};
	static const struct rec long_video[] = {
		{ REEL_OP_FADE_IN, P, A, 0, 24, 0, { 0 } },
		{ REEL_OP_FADE_OUT, P, A, 275, 299, 0, { 0 } },
		{ REEL_OP_ROTATE180, P, A, 100, 199, 0, { 0 } },
		{ REEL_OP_FREEZE, P, A, 150, 160, 0, { 120 } },
		{ REEL_OP_UNDO, A, NONE, 0, 0, 3, { 0 } },
		{ REEL_OP_AUDIO_FADE_OUT, P, A, 250, 299, 0, { 0 } },
	};
	static const struct rec one_frame[] = {
		{ REEL_OP_GRAYSCALE, P, A, 0, 0, 0, { 0 } },
		{ REEL_OP_VFLIP, P, A, 0, 0, 0, { 0 } },
	};
	/* Entries the journal takes (each is well formed) but the index refuses. */
	static const struct rec undo_of_undo[] = {
		{ REEL_OP_HFLIP, P, A, 0, 1, 0, { 0 } },
		{ REEL_OP_UNDO, A, NONE, 0, 0, 1, { 0 } },
		{ REEL_OP_UNDO, A, NONE, 0, 0, 2, { 0 } },
	};
	static const struct rec redo_in_effect[] = {
		{ REEL_OP_HFLIP, P, A, 0, 1, 0, { 0 } },
		{ REEL_OP_REDO, A, NONE, 0, 0, 1, { 0 } },
	};
	static const struct rec measured_edit[] = {
		{ REEL_OP_GAIN, P, A, 0, 1, 0, { 3 } },
		{ REEL_OP_MEASURED, A, NONE, 0, 1, 1, { 0.5 } },
	};
	static const struct rec failed_twice[] = {
		{ REEL_OP_BLUR, P, NONE, 0, 1, 0, { 2 } },
		{ REEL_OP_FAILED, A, NONE, 0, 0, 1, { 0 } },
		{ REEL_OP_FAILED, A, NONE, 0, 0, 1, { 0 } },
	};
	static const struct rec freeze_outside[] = {
		{ REEL_OP_FREEZE, P, A, 0, 3, 0, { 40 } },
	};
	/* Found by this target: a speed this slow made reel_edits_output() loop for ever. */
	static const struct rec speed_tiny[] = {
		{ REEL_OP_SPEED, P, A, 0, 11, 0, { 1e-300 } },
	};
	static const uint8_t flip_entry2[][3] = { { 8 + 128 + 20, 0, 0x01 } };
	static const uint8_t count_high[][3] = { { 7, 0, 0x80 } };
	uint8_t in[2 + 16 * RECORD + 64], out[9 + CAPACITY * 128];
	size_t len;
	int r = 0;

#define BUILT(name, which, recs, damage, ndamage)                                            \
	do {                                                                                  \
		len = encode(in, which, recs, sizeof(recs) / sizeof(recs[0]), damage, ndamage); \
		r |= fuzz_write_seed(dir, name, in, len);                                    \
	} while (0)
#define RAW(name, change)                                      \
	do {                                                   \
		size_t n = image(out, in, len);                \
		change;                                        \
		r |= fuzz_write_seed(dir, name, out, n);       \
	} while (0)
	BUILT("valid-built-edits", 1, edits, NULL, 0);
	RAW("valid-raw-edits", (void)0);
	RAW("bad-raw-edits-crc", out[9 + 128 + 17] ^= 0x10);
	RAW("bad-raw-edits-state", out[9 + 128 + 12] = 9);
	RAW("bad-raw-edits-count-over-capacity", out[1] = CAPACITY + 1);
	RAW("bad-raw-edits-swapped", (memcpy(out + 9 + 2 * 128, out + 9, 128),
	                              memcpy(out + 9, out + 9 + 128, 128),
	                              memcpy(out + 9 + 128, out + 9 + 2 * 128, 128)));
	RAW("bad-raw-edits-torn", memset(out + 9 + 4 * 128 + 64, 0, 64));
	BUILT("valid-built-undo-redo", 1, undo_redo, NULL, 0);
	RAW("valid-raw-undo-redo", (void)0);
	BUILT("valid-built-freeze", 1, freeze, NULL, 0);
	RAW("valid-raw-freeze", (void)0);
	BUILT("valid-built-sound", 1, sound, NULL, 0);
	RAW("valid-raw-sound", (void)0);
	BUILT("valid-built-failed", 1, failed, NULL, 0);
	RAW("valid-raw-failed", (void)0);
	BUILT("valid-built-long-video", 2, long_video, NULL, 0);
	RAW("valid-raw-long-video", (void)0);
	BUILT("valid-built-one-frame", 0, one_frame, NULL, 0);
	BUILT("bad-built-flipped-entry", 1, edits, flip_entry2, 1);
	BUILT("bad-built-count-high", 1, edits, count_high, 1);
	BUILT("bad-built-undo-of-undo", 1, undo_of_undo, NULL, 0);
	BUILT("bad-built-redo-in-effect", 1, redo_in_effect, NULL, 0);
	BUILT("bad-built-measured-edit", 1, measured_edit, NULL, 0);
	BUILT("bad-built-failed-twice", 1, failed_twice, NULL, 0);
	BUILT("bad-built-freeze-outside", 1, freeze_outside, NULL, 0);
	BUILT("bad-built-speed-tiny", 1, speed_tiny, NULL, 0);
	r |= fuzz_write_seed(dir, "valid-empty", "\x01", 1);
#undef BUILT
#undef RAW
	return r ? 1 : 0;
}

static int replay_one(const char *name, const uint8_t *data, size_t size, char *detail, size_t len)
{
	uint64_t count;
	int64_t loaded = replay(data, size, &count);

	snprintf(detail, len, "%lld of %llu entries replayed", (long long)loaded,
	         (unsigned long long)count);
	return fuzz_expect(name, (uint64_t)loaded == count);
}

int main(int argc, char **argv)
{
	int r;

	if (argc == 3 && !strcmp(argv[1], "--make-seeds"))
		r = make_seeds(argv[2]);
	else
		r = fuzz_replay_main(argc, argv, replay_one);
	for (int i = 0; i < NBUFFERS; i++)
		reel_buffer_close(buffers[i]);
	return r;
}
#endif
