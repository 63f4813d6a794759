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
	const struct reel_sink sink = { sink_begin, sink_end, &s };
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

static char dir[256];

static void remove_work_dir(void)
{
	rmdir(dir);
}

/* A private folder for the buffer file, made once and removed at exit. */
static const char *work_dir(void)
{
	if (!dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/reel-fuzz-media-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(dir))
			abort();
		atexit(remove_work_dir);
	}
	return dir;
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
#include <dirent.h>

static uint8_t *read_file(const char *path, size_t *ret_size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 || len > (4 << 20) ||
	    fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return NULL;
	}
	data = malloc(len ? (size_t)len : 1);
	if (data && fread(data, 1, (size_t)len, f) != (size_t)len) {
		free(data);
		data = NULL;
	}
	fclose(f);
	*ret_size = (size_t)len;
	return data;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	int cases = 0, failed = 0;

	for (int a = 1; a < argc; a++) {
		struct dirent **names;
		int n = scandir(argv[a], &names, NULL, by_name);

		if (n < 0) {
			printf("not ok %d - cannot read %s\n", ++cases, argv[a]);
			failed++;
			continue;
		}
		for (int i = 0; i < n; i++) {
			const char *name = names[i]->d_name;
			bool want_ok = !strncmp(name, "valid-", 6), want_bad = !strncmp(name, "bad-", 4);
			struct outcome out;
			char path[4096];
			uint8_t *data;
			size_t size = 0;
			bool good;

			if (name[0] == '.') {
				free(names[i]);
				continue;
			}
			snprintf(path, sizeof(path), "%s/%s", argv[a], name);
			data = read_file(path, &size);
			if (!data) {
				printf("not ok %d - cannot read %s\n", ++cases, path);
				failed++;
				free(names[i]);
				continue;
			}
			run_one(data, size, &out);
			good = out.open == 0 && out.scan == 0 && out.ok > 0;
			if ((want_ok && !good) || (want_bad && out.open == 0 && out.scan == 0)) {
				printf("not ok %d - %s: open %d, scan %d, %u decoded, %u errors%s%s\n",
				       ++cases, name, out.open, out.scan, out.ok, out.errors,
				       out.why[0] ? ": " : "", out.why);
				failed++;
			} else if (out.open < 0 || out.scan < 0) {
				printf("ok %d - %s: refused: %s\n", ++cases, name, out.why);
			} else {
				printf("ok %d - %s: %llu frames, %u decoded, %u errors\n", ++cases, name,
				       (unsigned long long)out.frames, out.ok, out.errors);
			}
			free(data);
			free(names[i]);
		}
		free(names);
	}
	printf("1..%d\n", cases);
	return failed ? 1 : 0;
}
#endif
