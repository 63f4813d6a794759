/*
 * libFuzzer target for the media path: the input is a source video, run
 * through the functions `reel open` and the materialiser run on one:
 * reel_media_open_why(), reel_media_source_id(), reel_media_scan(), a real
 * buffer file made from the scanned index, and reel_media_decode() of the
 * first frames, a frame in the middle (a seek) and the last one.
 *
 * The input is written to a memfd and opened by its /proc/self/fd path, so
 * the source is a regular file mapped as reel maps any source.  What the
 * target checks besides the sanitizers' findings:
 *   - a refused source always comes with a reason (a non-empty why);
 *   - the scan's entries hold only times within +-2^62 and no more entries
 *     than the file-size bound allows;
 *   - a decode that returns 0 has handed every frame of its range to the
 *     sink exactly once, as a picture or as an error.
 * libav's work per input is bounded: pictures above 256x256 are scanned but
 * not decoded, and at most 12 frames are decoded.
 *
 * Built with -DREEL_FUZZ_REPLAY it is instead a program that runs the seed
 * corpus through the same function and reports each file as a TAP case:
 * valid-* must open and decode at least one frame, bad-* must be refused.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "media/media.h"
#include "reel/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DECODE_PIXELS (256 * 256)
#define MAX_SLOTS 4

struct outcome {
	int open;            /* reel_media_open_why()'s result */
	int scan;            /* reel_media_scan()'s, when it ran */
	uint64_t frames;
	unsigned ok, errors; /* frames delivered */
	char why[256];
};

struct sink_state {
	struct reel_buffer *buffer;
	uint64_t first, last;
	uint8_t *seen;       /* per frame of [first, last]: ends received */
	struct outcome *out;
};

static int sink_begin(void *userdata, uint64_t frame, struct reel_frame *ret_frame)
{
	struct sink_state *s = userdata;
	uint32_t slot = (uint32_t)(frame % reel_buffer_info(s->buffer)->slot_count);
	int r = reel_buffer_reserve_slot(s->buffer, slot);

	if (r == 0)
		r = reel_buffer_frame(s->buffer, slot, ret_frame);
	return r;
}

static int sink_end(void *userdata, uint64_t frame, uint32_t audio_samples, int32_t error)
{
	struct sink_state *s = userdata;

	(void)audio_samples;
	if (frame >= s->first && frame <= s->last) {
		if (s->seen[frame - s->first]++)
			abort();   /* a frame handed over twice in one call */
	}
	if (error)
		s->out->errors++;
	else
		s->out->ok++;
#ifdef REEL_FUZZ_REPLAY
	if (error && getenv("REEL_FUZZ_VERBOSE"))
		printf("# frame %llu: %s\n", (unsigned long long)frame, reel_strerror(error));
#endif
	return 0;
}

static void decode_range(struct reel_media *media, struct reel_buffer *buffer, uint64_t first,
                         uint64_t last, struct outcome *out)
{
	struct sink_state s = { buffer, first, last, NULL, out };
	const struct reel_sink sink = { sink_begin, sink_end, &s, NULL, NULL };
	int r;

	s.seen = calloc(last - first + 1, 1);
	if (!s.seen)
		return;
	r = reel_media_decode(media, buffer, first, last, &sink);
	if (r == 0) {
		for (uint64_t f = 0; f <= last - first; f++)
			if (s.seen[f] != 1)
				abort();   /* a frame of the range never reached the sink */
	}
	free(s.seen);
}

static char work_path[256];

static void remove_work_dir(void)
{
	rmdir(work_path);
}

/* A private folder for the buffer file, made once and removed at exit. */
static const char *work_dir(void)
{
	if (!work_path[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(work_path, sizeof(work_path), "%s/reel-fuzz-media-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(work_path))
			abort();
		atexit(remove_work_dir);
	}
	return work_path;
}

static void run_one(const uint8_t *data, size_t size, struct outcome *out)
{
	const struct reel_media_info *info;
	struct reel_buffer_params p;
	struct reel_index_entry *index = NULL;
	struct reel_buffer *buffer = NULL;
	struct reel_media *media = NULL;
	char src[64], bufpath[512];
	uint32_t max_audio;
	int fd;

	memset(out, 0, sizeof(*out));
	out->scan = 1;
	fd = memfd_create("reel-fuzz-source", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	out->open = reel_media_open_why(src, &media, out->why, sizeof(out->why));
	if (out->open < 0) {
		if (!out->why[0])
			abort();   /* every refusal says why */
		goto out_close;
	}
	info = reel_media_info(media);
	memset(&p, 0, sizeof(p));
	if (reel_media_source_id(media, &p.source) < 0)
		abort();
	out->scan = reel_media_scan(media, &index, &out->frames, &max_audio);
	if (out->scan < 0) {
		if (!reel_media_why(media)[0] && out->scan != -ENOMEM)
			abort();   /* the scan's refusals say why too */
		snprintf(out->why, sizeof(out->why), "%s", reel_media_why(media));
		goto out_close;
	}
	if (out->frames == 0 || out->frames > size / REEL_MEDIA_MIN_FRAME_BYTES)
		abort();
	for (uint64_t i = 0; i < out->frames; i++)
		if (index[i].pts < -((int64_t)1 << 62) || index[i].pts > ((int64_t)1 << 62))
			abort();
	if ((uint64_t)info->width * info->height > MAX_DECODE_PIXELS)
		goto out_close;

	p.width = info->width;
	p.height = info->height;
	p.frame_count = out->frames;
	p.slot_count = out->frames < MAX_SLOTS ? (uint32_t)out->frames : MAX_SLOTS;
	p.frame_rate = info->frame_rate;
	p.time_base = info->time_base;
	p.sample_rate = info->sample_rate;
	p.channels = info->channels;
	p.audio_capacity = info->sample_rate ? (max_audio ? max_audio : 1) : 0;
	p.format = info->format;
	snprintf(bufpath, sizeof(bufpath), "%s/fuzz.reel", work_dir());
	unlink(bufpath);
	/* What the coordinator would refuse (odd rates, sizes) is not decoded either. */
	if (reel_buffer_create(bufpath, &p, &buffer) < 0)
		goto out_close;
	for (uint64_t i = 0; i < out->frames; i++)
		if (reel_index_put(buffer, i, &index[i]) < 0)
			goto out_close;
	if (reel_index_commit(buffer) < 0)
		goto out_close;
	decode_range(media, buffer, 0, out->frames < 8 ? out->frames - 1 : 7, out);
	if (out->frames > 8) {
		decode_range(media, buffer, out->frames / 2, out->frames / 2 + 1, out);
		decode_range(media, buffer, out->frames - 1, out->frames - 1, out);
	}
	/*
	 * The paths of a file indexed in the background: its sample table, and
	 * a frame served from a local index before the scan got there.  A
	 * hostile file may make them disagree with the scan (which the
	 * coordinator reports); they must not misbehave.
	 */
	{
		uint64_t table_count, last, mid = out->frames / 2;
		uint32_t table_audio;

		(void)reel_media_sample_table(media, &table_count, &table_audio);
		reel_index_restart(buffer);
		if (reel_media_local_index(media, buffer, mid, &last) == 0) {
			if (last < mid || last >= out->frames)
				abort();
			decode_range(media, buffer, mid, last < mid + 1 ? last : mid + 1, out);
			if (reel_index_publish(buffer, 0, index, out->frames) == 0)
				(void)reel_media_local_check(media, buffer);
		}
	}

out_close:
	if (buffer) {
		reel_buffer_close(buffer);
		unlink(bufpath);
	}
	free(index);
	reel_media_close(media);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome out;

	run_one(data, size, &out);
	return 0;
}

#ifdef REEL_FUZZ_REPLAY
#include "fuzz-replay.h"

/* A valid-* seed opens, scans and decodes at least one frame; a bad-* seed is refused at open or scan. */
static int replay_one(const char *name, const uint8_t *data, size_t size, char *detail, size_t len)
{
	struct outcome out;
	bool refused, good;

	run_one(data, size, &out);
	refused = out.open < 0 || out.scan < 0;
	good = !refused && out.ok > 0;
	if (refused)
		snprintf(detail, len, "refused: %s", out.why);
	else
		snprintf(detail, len, "%llu frames, %u decoded, %u errors%s%s",
		         (unsigned long long)out.frames, out.ok, out.errors, out.why[0] ? ": " : "",
		         out.why);
	if (!strncmp(name, "valid-", 6))
		return good ? 0 : 1;
	return fuzz_expect(name, !refused);
}

int main(int argc, char **argv)
{
	return fuzz_replay_main(argc, argv, replay_one);
}
#endif
