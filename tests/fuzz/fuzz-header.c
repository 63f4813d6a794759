/*
 * libFuzzer target for the buffer header validator.
 *
 * reel_buffer_validate_header() is the one gate between the bytes of a
 * (possibly hostile) buffer file and every pointer the library computes, so
 * it must never read past its input or crash, and whatever it accepts must
 * describe a layout that fits in the file.  The target checks both: the
 * sanitizers catch the first, the explicit checks below the second.
 *
 * Built with -DREEL_FUZZ_REPLAY it is instead a small program that runs the
 * seed corpus through the same function (for builds without libFuzzer) and
 * reports each file as a TAP case (fuzz-replay.h): files named valid-* must
 * be accepted, files named bad-* refused.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/layout.h"
#include "buffer/buffer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(uint64_t offset, uint64_t size, uint64_t limit)
{
	return offset <= limit && size <= limit - offset;
}

/* What an accepted header promises to every user of the mapping. */
static void check_accepted(const struct reel_buffer_info *in, uint64_t file_size)
{
	const uint64_t rows[3] = { in->height, (in->height + 1) / 2, (in->height + 1) / 2 };

	if (in->file_size > file_size || in->slot_count == 0 || in->slot_count > in->frame_count)
		abort();
	if (!inside(in->index_offset, in->index_size, in->file_size) ||
	    !inside(in->journal_offset, in->journal_size, in->file_size) ||
	    !inside(in->slot_table_offset, in->slot_table_size, in->file_size) ||
	    !inside(in->slots_offset, in->slots_size, in->file_size))
		abort();
	if (in->slots_size / in->slot_count < in->slot_stride)
		abort();
	if (in->index_size / sizeof(struct reel_index_entry) < in->frame_count ||
	    in->journal_size / sizeof(struct reel_journal_entry) < in->journal_capacity)
		abort();
	for (int i = 0; i < 3; i++)
		if (in->plane_offset[i] % 64 ||
		    !inside(in->plane_offset[i], (uint64_t)in->plane_stride[i] * rows[i], in->slot_stride))
			abort();
	if (!inside(in->audio_offset, (uint64_t)in->audio_capacity * in->channels * sizeof(float),
	            in->slot_stride))
		abort();
	if (memchr(in->source.path, 0, sizeof(in->source.path)) == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t sizes[5] = { size, 0, REEL__HEADER_SIZE, UINT64_MAX, 0 };
	size_t n = 4;

	/* The size the header claims lets the fuzzer get past the truncation check. */
	if (size >= offsetof(struct reel__header, file_size) + sizeof(uint64_t))
		memcpy(&sizes[n++], data + offsetof(struct reel__header, file_size), sizeof(uint64_t));
	for (size_t i = 0; i < n; i++) {
		struct reel_buffer_info info;

		if (reel_buffer_validate_header(data, size, sizes[i], &info) == 0)
			check_accepted(&info, sizes[i]);
	}
	return 0;
}

#ifdef REEL_FUZZ_REPLAY
#include <unistd.h>

#include "buffer/buffer-private.h"
#include "fuzz-replay.h"

/*
 * --make-seeds DIR writes the seed corpus afresh from a real
 * reel_buffer_create(), for when the format changes: three valid headers,
 * and one copy of the first damaged in each way the validator must catch.
 */
static int make_header(const char *dir, const char *name, uint32_t w, uint32_t h, uint64_t frames,
                       uint32_t slots, uint32_t rate, uint8_t *ret_page)
{
	struct reel_buffer_params p;
	struct reel_buffer *b;
	char path[4096];
	int r;

	memset(&p, 0, sizeof(p));
	p.width = w;
	p.height = h;
	p.frame_count = frames;
	p.slot_count = slots;
	p.journal_capacity = 32;
	p.frame_rate = (struct reel_rational){ 25, 1 };
	p.time_base = (struct reel_rational){ 1, 12800 };
	if (rate) {
		p.sample_rate = rate;
		p.channels = 2;
		p.audio_capacity = rate / 25 + 1;
	}
	snprintf(p.source.path, sizeof(p.source.path), "/clips/seed.mp4");
	snprintf(path, sizeof(path), "%s/.seed.reel", dir);
	unlink(path);
	r = reel_buffer_create(path, &p, &b);
	if (r < 0)
		return r;
	memcpy(ret_page, b->map, REEL__HEADER_SIZE);
	reel_buffer_close(b);
	unlink(path);
	return fuzz_write_seed(dir, name, ret_page, REEL__HEADER_SIZE);
}

static int make_seeds(const char *dir)
{
	uint8_t page[REEL__HEADER_SIZE], bad[REEL__HEADER_SIZE];
	struct reel__header *h = (struct reel__header *)(void *)bad;
	int r = 0;

	r |= make_header(dir, "valid-1080p-20000", 1920, 1080, 20000, 20000, 48000, page);
	r |= make_header(dir, "valid-noaudio-1x1", 1, 1, 1, 1, 0, page);
	r |= make_header(dir, "valid-small-audio", 320, 181, 50, 16, 44100, page);
#define BAD(name, change)                                          \
	do {                                                       \
		memcpy(bad, page, sizeof(bad));                    \
		change;                                            \
		r |= fuzz_write_seed(dir, name, bad, sizeof(bad));      \
	} while (0)
	BAD("bad-magic", bad[0] = 'X');
	BAD("bad-version", h->version = 1);
	BAD("bad-byteorder", h->byte_order = 0x04030201u);
	BAD("bad-geometry-width0", h->width = 0);
	BAD("bad-slot-count", h->slot_count = (uint32_t)h->frame_count + 1);
	BAD("bad-slot-stride", h->slot_stride = 4096);
	BAD("bad-source-path", memset(h->source_path, 'a', sizeof(h->source_path)));
	BAD("bad-section-overlap", h->journal_offset = h->index_offset);
	BAD("bad-stages-section", h->stages_size = 4096);
	BAD("bad-source-format", h->source_bits = 99);
#undef BAD
	r |= fuzz_write_seed(dir, "bad-short", page, 200);
	return r ? 1 : 0;
}

static int replay_one(const char *name, const uint8_t *data, size_t size, char *detail, size_t len)
{
	uint64_t claimed = 0;
	int r;

	LLVMFuzzerTestOneInput(data, size);
	if (size >= offsetof(struct reel__header, file_size) + sizeof(claimed))
		memcpy(&claimed, data + offsetof(struct reel__header, file_size), sizeof(claimed));
	r = reel_buffer_validate_header(data, size, claimed, NULL);
	snprintf(detail, len, "validator returned %d", r);
	return fuzz_expect(name, r == 0);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--make-seeds"))
		return make_seeds(argv[2]);
	return fuzz_replay_main(argc, argv, replay_one);
}
#endif
