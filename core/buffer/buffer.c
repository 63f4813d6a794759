/*
 * The buffer file: creating it sparse, validating and mapping it, and the
 * accessors that hand out pointers into the mapping.
 *
 * The header is the only part of the file whose contents decide where
 * anything else lies, so it is copied out of the file once, validated by
 * reel_buffer_validate_header() (a pure function of the bytes and the real
 * file size, which the fuzzer drives directly), and every pointer this file
 * computes comes from that private copy.  The live fields of the header page
 * are the exception: they change while the session runs, so they are loaded
 * atomically at every use and checked by whoever uses them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <dirent.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/guard.h"
#include "buffer/buffer-private.h"
#include "reel/error.h"

/*
 * The format's page: sections and slots are aligned to it.  It is fixed by
 * the format rather than taken from sysconf() so that a file means the same
 * thing on every machine; mapping needs only that it be a multiple of the
 * system page, checked at open.
 */
#define FORMAT_PAGE 4096u

static bool add_ok(uint64_t a, uint64_t b, uint64_t *ret)
{
	return !__builtin_add_overflow(a, b, ret);
}

static bool mul_ok(uint64_t a, uint64_t b, uint64_t *ret)
{
	return !__builtin_mul_overflow(a, b, ret);
}

/* Round v up to a multiple of the power of two align; false on overflow. */
static bool round_up_ok(uint64_t v, uint64_t align, uint64_t *ret)
{
	uint64_t t;

	if (!add_ok(v, align - 1, &t))
		return false;
	*ret = t & ~(align - 1);
	return true;
}

/* The plane and audio layout inside one slot, as create lays it out. */
struct slot_layout {
	uint32_t stride[3];
	uint32_t rows[3];
	uint64_t offset[3];
	uint64_t audio_offset;
	uint64_t audio_bytes;
	uint64_t slot_stride;
};

/*
 * Computes the layout for a geometry already checked to be within limits;
 * only the audio size can overflow, which it reports with false.
 */
static bool compute_slot_layout(uint32_t width, uint32_t height, uint32_t channels,
                                uint32_t audio_capacity, struct slot_layout *ret)
{
	struct slot_layout l;
	uint64_t v, end;

	l.stride[0] = (uint32_t)((width + REEL__PLANE_ALIGN - 1) & ~(REEL__PLANE_ALIGN - 1));
	l.stride[1] = (uint32_t)(((width + 1) / 2 + REEL__PLANE_ALIGN - 1) & ~(REEL__PLANE_ALIGN - 1));
	l.stride[2] = l.stride[1];
	l.rows[0] = height;
	l.rows[1] = l.rows[2] = (height + 1) / 2;
	l.offset[0] = 0;
	end = 0;
	for (int i = 0; i < 3; i++) {
		l.offset[i] = end;
		/* stride is a multiple of 64, so every plane end is too */
		end += (uint64_t)l.stride[i] * l.rows[i];
	}
	l.audio_offset = end;
	if (!mul_ok((uint64_t)audio_capacity, channels, &v) || !mul_ok(v, sizeof(float), &v))
		return false;
	l.audio_bytes = v;
	if (!add_ok(end, v, &end) || !round_up_ok(end, FORMAT_PAGE, &l.slot_stride))
		return false;
	*ret = l;
	return true;
}

static int check_geometry(uint32_t width, uint32_t height, uint32_t pix_fmt, uint32_t sample_fmt,
                          uint32_t sample_rate, uint32_t channels, uint32_t audio_capacity)
{
	if (width == 0 || height == 0 || width > REEL_MAX_DIMENSION || height > REEL_MAX_DIMENSION)
		return REEL_E_GEOMETRY;
	if (pix_fmt != REEL_PIX_YUV420P)
		return REEL_E_GEOMETRY;
	switch (sample_fmt) {
	case REEL_SAMPLE_NONE:
		if (sample_rate || channels || audio_capacity)
			return REEL_E_GEOMETRY;
		break;
	case REEL_SAMPLE_F32:
		if (sample_rate == 0 || sample_rate > REEL_MAX_SAMPLE_RATE)
			return REEL_E_GEOMETRY;
		if (channels == 0 || channels > REEL_MAX_CHANNELS)
			return REEL_E_GEOMETRY;
		/* a slot holds one frame's samples: a frame longer than a second is not a video */
		if (audio_capacity == 0 || audio_capacity > REEL_MAX_SAMPLE_RATE)
			return REEL_E_GEOMETRY;
		break;
	default:
		return REEL_E_GEOMETRY;
	}
	return 0;
}

/*
 * A source format names itself in text that ends, and says plausible things.
 * An all-zero format (a buffer made without one: tests, tools) reads as
 * "unknown": 8-bit 4:2:0, limited range.
 */
static bool format_valid(const char *pix_fmt, const char *codec, uint32_t bits, uint32_t chroma,
                         uint32_t full_range, uint32_t colorspace)
{
	static const uint32_t chromas[] = { 0, 400, 410, 411, 420, 422, 440, 444 };
	bool chroma_ok = false;

	for (size_t i = 0; i < sizeof(chromas) / sizeof(chromas[0]); i++)
		chroma_ok |= chroma == chromas[i];
	return memchr(pix_fmt, 0, 32) && memchr(codec, 0, 32) && bits <= 16 && chroma_ok &&
	       full_range <= 1 && colorspace < 256;
}

static bool path_terminated(const char *path)
{
	return memchr(path, 0, REEL_SOURCE_PATH_MAX) != NULL;
}

struct section {
	uint64_t offset, size;
};

/*
 * Sections must start on a page, lie after the header page and inside the
 * file, and not overlap each other.  With five sections a pairwise check is
 * simpler than sorting.
 */
static int check_sections(const struct section *s, size_t n, uint64_t page, uint64_t file_size)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t end;

		if (s[i].offset % page || s[i].offset < REEL__HEADER_SIZE || s[i].size == 0)
			return REEL_E_SECTION;
		if (!add_ok(s[i].offset, s[i].size, &end) || end > file_size)
			return REEL_E_SECTION;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (s[i].offset < s[j].offset + s[j].size && s[j].offset < s[i].offset + s[i].size)
				return REEL_E_SECTION;
	return 0;
}

/*
 * The stored slot layout need not be the one create computes today, but it
 * must be coherent: strides wide enough and 64-byte multiples, planes and
 * audio in order without overlap, everything inside the stride.
 */
static int check_slot_layout(const struct reel__header *h)
{
	uint32_t min_width[3] = { h->width, (h->width + 1) / 2, (h->width + 1) / 2 };
	uint32_t rows[3] = { h->height, (h->height + 1) / 2, (h->height + 1) / 2 };
	uint64_t end = 0, audio_bytes;

	for (int i = 0; i < 3; i++) {
		uint64_t plane_end;

		if (h->plane_stride[i] < min_width[i] || h->plane_stride[i] % REEL__PLANE_ALIGN)
			return REEL_E_SLOTSTRIDE;
		if (h->plane_offset[i] % REEL__PLANE_ALIGN || h->plane_offset[i] < end)
			return REEL_E_SLOTSTRIDE;
		/* stride < 2^32 and rows <= 16384: the product cannot overflow */
		if (!add_ok(h->plane_offset[i], (uint64_t)h->plane_stride[i] * rows[i], &plane_end))
			return REEL_E_SLOTSTRIDE;
		end = plane_end;
	}
	if (h->audio_offset % REEL__PLANE_ALIGN || h->audio_offset < end)
		return REEL_E_SLOTSTRIDE;
	/* channels <= 16 and capacity <= 384000 were checked: no overflow */
	audio_bytes = (uint64_t)h->audio_capacity * h->channels * sizeof(float);
	if (!add_ok(h->audio_offset, audio_bytes, &end))
		return REEL_E_SLOTSTRIDE;
	if (h->slot_stride == 0 || h->slot_stride % h->page_size || h->slot_stride < end)
		return REEL_E_SLOTSTRIDE;
	return 0;
}

/*
 * The order of the checks matters: the magic first (anything else is not
 * ours to judge), then what decides how to read the rest (byte order,
 * version), then whether the header is whole, then the fields.  Each
 * damage produces its own code because a check never relies on a field
 * that a later check validates.
 */
int reel_buffer_validate_header(const void *image, size_t len, uint64_t file_size,
                                struct reel_buffer_info *ret_info)
{
	struct reel__header h;
	struct reel_buffer_info info;
	uint64_t need;
	int r;

	if (!image || len < sizeof(h.magic) || memcmp(image, REEL__MAGIC, sizeof(h.magic)))
		return REEL_E_BADMAGIC;
	if (len < offsetof(struct reel__header, header_size))
		return REEL_E_TRUNCATED;
	/* Copy what there is, so that the reads below never pass the image. */
	memset(&h, 0, sizeof(h));
	memcpy(&h, image, len < sizeof(h) ? len : sizeof(h));
	if (h.byte_order != REEL__BYTE_ORDER)
		return REEL_E_BYTEORDER;
	if (h.version < REEL__FORMAT_VERSION_MIN || h.version > REEL__FORMAT_VERSION)
		return REEL_E_VERSION;
	if (len < REEL__HEADER_SIZE || file_size < REEL__HEADER_SIZE)
		return REEL_E_TRUNCATED;
	if (h.header_size != REEL__HEADER_SIZE || h.page_size != FORMAT_PAGE)
		return REEL_E_HEADER;
	if (h.file_size < REEL__HEADER_SIZE || h.file_size > (uint64_t)INT64_MAX ||
	    h.file_size > (uint64_t)SIZE_MAX || h.file_size % h.page_size)
		return REEL_E_HEADER;
	if (file_size < h.file_size)
		return REEL_E_TRUNCATED;

	r = check_geometry(h.width, h.height, h.pix_fmt, h.sample_fmt, h.sample_rate, h.channels,
	                   h.audio_capacity);
	if (r < 0)
		return r;
	if (h.frame_rate_num <= 0 || h.frame_rate_den <= 0 ||
	    h.time_base_num <= 0 || h.time_base_den <= 0)
		return REEL_E_HEADER;
	if (h.frame_count == 0 || h.frame_count > REEL__MAX_FRAMES)
		return REEL_E_HEADER;
	if (h.journal_capacity == 0 || h.journal_capacity > REEL__MAX_JOURNAL)
		return REEL_E_HEADER;
	if (!path_terminated(h.source_path))
		return REEL_E_HEADER;
	if (!format_valid(h.source_pix_fmt, h.source_codec, h.source_bits, h.source_chroma,
	                  h.source_full_range, h.source_colorspace) || h.source_start_known > 1)
		return REEL_E_HEADER;
	if (h.slot_count == 0 || h.slot_count > h.frame_count)
		return REEL_E_SLOTCOUNT;

	r = check_slot_layout(&h);
	if (r < 0)
		return r;

	/* Each section must be large enough for its count (counts are bounded above). */
	if (h.index_size < h.frame_count * sizeof(struct reel_index_entry) ||
	    h.journal_size < (uint64_t)h.journal_capacity * sizeof(struct reel_journal_entry) ||
	    h.slot_table_size < (uint64_t)h.slot_count * sizeof(struct reel__slot))
		return REEL_E_SECTION;
	if (!mul_ok(h.slot_count, h.slot_stride, &need) || h.slots_size < need)
		return REEL_E_SECTION;
	if (h.stages_size < (uint64_t)REEL__STAGE_ENTRIES * sizeof(struct reel__stage_entry))
		return REEL_E_SECTION;
	r = check_sections((const struct section[]){
		{ h.index_offset, h.index_size },
		{ h.journal_offset, h.journal_size },
		{ h.slot_table_offset, h.slot_table_size },
		{ h.stages_offset, h.stages_size },
		{ h.slots_offset, h.slots_size },
	}, 5, h.page_size, h.file_size);
	if (r < 0)
		return r;
	/*
	 * Last, so that a damaged field still gets its own code above; what
	 * gets here damaged is a field that passed for plausible (a frame rate,
	 * a source path), which no range check can catch.
	 */
	if (h.header_crc != reel__header_crc(&h))
		return REEL_E_HEADER;

	if (!ret_info)
		return 0;
	memset(&info, 0, sizeof(info));
	info.version = h.version;
	info.page_size = h.page_size;
	info.file_size = h.file_size;
	info.index_offset = h.index_offset;
	info.index_size = h.index_size;
	info.journal_offset = h.journal_offset;
	info.journal_size = h.journal_size;
	info.slot_table_offset = h.slot_table_offset;
	info.slot_table_size = h.slot_table_size;
	info.slots_offset = h.slots_offset;
	info.slots_size = h.slots_size;
	info.stages_offset = h.stages_offset;
	info.stages_size = h.stages_size;
	info.slot_stride = h.slot_stride;
	info.slot_count = h.slot_count;
	info.journal_capacity = h.journal_capacity;
	info.frame_count = h.frame_count;
	info.width = h.width;
	info.height = h.height;
	info.pix_fmt = h.pix_fmt;
	for (int i = 0; i < 3; i++) {
		info.plane_stride[i] = h.plane_stride[i];
		info.plane_offset[i] = h.plane_offset[i];
	}
	info.audio_offset = h.audio_offset;
	info.frame_rate = (struct reel_rational){ h.frame_rate_num, h.frame_rate_den };
	info.time_base = (struct reel_rational){ h.time_base_num, h.time_base_den };
	info.sample_rate = h.sample_rate;
	info.channels = h.channels;
	info.sample_fmt = h.sample_fmt;
	info.audio_capacity = h.audio_capacity;
	info.source.size = h.source_size;
	info.source.mtime_ns = h.source_mtime_ns;
	memcpy(info.source.hash, h.source_hash, sizeof(info.source.hash));
	memcpy(info.source.path, h.source_path, sizeof(info.source.path));
	memcpy(info.format.pix_fmt, h.source_pix_fmt, sizeof(info.format.pix_fmt));
	memcpy(info.format.codec, h.source_codec, sizeof(info.format.codec));
	info.format.bits = h.source_bits;
	info.format.chroma = h.source_chroma;
	info.format.full_range = h.source_full_range;
	info.format.colorspace = h.source_colorspace;
	info.format.start_us = h.source_start_us;
	info.format.start_known = h.source_start_known;
	*ret_info = info;
	return 0;
}

uint32_t reel__header_crc(const struct reel__header *header)
{
	struct reel__header h = *header;

	h.header_crc = 0;
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)&h, sizeof(h));
}

/* Builds the header image for params; codes as the validator would give them. */
static int build_header(const struct reel_buffer_params *p, struct reel__header *ret_header)
{
	struct reel__header h;
	struct slot_layout l;
	uint32_t sample_fmt = p->sample_rate ? REEL_SAMPLE_F32 : REEL_SAMPLE_NONE;
	uint32_t journal = p->journal_capacity ? p->journal_capacity : REEL__DEFAULT_JOURNAL;
	uint64_t v, off;
	int r;

	r = check_geometry(p->width, p->height, REEL_PIX_YUV420P, sample_fmt, p->sample_rate,
	                   p->channels, p->audio_capacity);
	if (r < 0)
		return r;
	if (p->frame_rate.num <= 0 || p->frame_rate.den <= 0 ||
	    p->time_base.num <= 0 || p->time_base.den <= 0)
		return REEL_E_HEADER;
	if (p->frame_count == 0)
		return REEL_E_HEADER;
	if (p->frame_count > REEL__MAX_FRAMES)
		return REEL_E_TOOLARGE;
	if (journal > REEL__MAX_JOURNAL)
		return REEL_E_TOOLARGE;
	if (!path_terminated(p->source.path))
		return REEL_E_HEADER;
	if (!format_valid(p->format.pix_fmt, p->format.codec, p->format.bits, p->format.chroma,
	                  p->format.full_range, p->format.colorspace))
		return REEL_E_HEADER;
	if (p->slot_count == 0 || p->slot_count > p->frame_count)
		return REEL_E_SLOTCOUNT;
	if (!compute_slot_layout(p->width, p->height, p->channels, p->audio_capacity, &l))
		return REEL_E_TOOLARGE;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, REEL__MAGIC, sizeof(h.magic));
	h.version = REEL__FORMAT_VERSION;
	h.byte_order = REEL__BYTE_ORDER;
	h.header_size = REEL__HEADER_SIZE;
	h.page_size = FORMAT_PAGE;

	/* Counts are bounded (frames <= 2^32, journal <= 2^24), so only the slots can overflow. */
	off = REEL__HEADER_SIZE;
	h.index_offset = off;
	if (!round_up_ok(p->frame_count * sizeof(struct reel_index_entry), FORMAT_PAGE, &h.index_size))
		return REEL_E_TOOLARGE;
	off += h.index_size;
	h.journal_offset = off;
	if (!round_up_ok((uint64_t)journal * sizeof(struct reel_journal_entry), FORMAT_PAGE,
	                 &h.journal_size))
		return REEL_E_TOOLARGE;
	off += h.journal_size;
	h.slot_table_offset = off;
	if (!round_up_ok((uint64_t)p->slot_count * sizeof(struct reel__slot), FORMAT_PAGE,
	                 &h.slot_table_size))
		return REEL_E_TOOLARGE;
	off += h.slot_table_size;
	h.stages_offset = off;
	h.stages_size = (uint64_t)REEL__STAGE_ENTRIES * sizeof(struct reel__stage_entry);
	if (!round_up_ok(h.stages_size, FORMAT_PAGE, &h.stages_size))
		return REEL_E_TOOLARGE;
	off += h.stages_size;
	h.slots_offset = off;
	if (!mul_ok(p->slot_count, l.slot_stride, &h.slots_size) ||
	    !add_ok(off, h.slots_size, &v) || v > (uint64_t)INT64_MAX || v > (uint64_t)SIZE_MAX)
		return REEL_E_TOOLARGE;
	h.file_size = v;
	h.slot_stride = l.slot_stride;
	h.slot_count = p->slot_count;
	h.journal_capacity = journal;
	h.frame_count = p->frame_count;

	h.width = p->width;
	h.height = p->height;
	h.pix_fmt = REEL_PIX_YUV420P;
	for (int i = 0; i < 3; i++) {
		h.plane_stride[i] = l.stride[i];
		h.plane_offset[i] = l.offset[i];
	}
	h.audio_offset = l.audio_offset;
	h.frame_rate_num = p->frame_rate.num;
	h.frame_rate_den = p->frame_rate.den;
	h.time_base_num = p->time_base.num;
	h.time_base_den = p->time_base.den;
	h.sample_rate = p->sample_rate;
	h.channels = p->channels;
	h.sample_fmt = sample_fmt;
	h.audio_capacity = p->audio_capacity;

	h.source_size = p->source.size;
	h.source_mtime_ns = p->source.mtime_ns;
	memcpy(h.source_hash, p->source.hash, sizeof(h.source_hash));
	/* strncpy pads with zeros: no byte of the caller's buffer past the NUL lands on disk */
	strncpy(h.source_path, p->source.path, sizeof(h.source_path));
	strncpy(h.source_pix_fmt, p->format.pix_fmt, sizeof(h.source_pix_fmt));
	strncpy(h.source_codec, p->format.codec, sizeof(h.source_codec));
	h.source_bits = p->format.bits;
	h.source_chroma = p->format.chroma;
	h.source_full_range = p->format.full_range;
	h.source_colorspace = p->format.colorspace;
	h.source_start_us = p->format.start_us;
	h.source_start_known = p->format.start_known;
	h.header_crc = reel__header_crc(&h);
	*ret_header = h;
	return 0;
}

/*
 * Maps the validated file and builds the handle; takes over fd on success.
 * A read-only handle maps PROT_READ, so a write through it faults instead of
 * changing the file, and needs no bitmap of reserved slots.
 */
static int map_buffer(int fd, const struct reel_buffer_info *info, bool readonly,
                      struct reel_buffer **ret_buffer)
{
	struct reel_buffer *b;
	long sys_page = sysconf(_SC_PAGESIZE);
	void *map;
	int r;

	/* Offsets in the file are format pages; they must be system pages too to be mapped. */
	if (sys_page <= 0 || FORMAT_PAGE % (unsigned long)sys_page)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	if (!readonly) {
		/* One bit per slot; calloc of a large size hands out zero pages, paid for when used. */
		b->reserved = calloc(info->slot_count / 8 + 1, 1);
		b->populated = calloc(info->slot_count / 8 + 1, 1);
		if (!b->reserved || !b->populated) {
			r = -ENOMEM;
			goto out_free;
		}
	}
	map = mmap(NULL, (size_t)info->file_size, readonly ? PROT_READ : PROT_READ | PROT_WRITE,
	           MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		r = -errno;
		goto out_free_bitmap;
	}
	b->fd = fd;
	b->pictures_fd = fd;
	b->pictures_guard = -1;
	b->map = map;
	b->map_size = (size_t)info->file_size;
	b->info = *info;
	b->readonly = readonly;
	/*
	 * A file truncated under us then reads as zeros and says so through
	 * reel_buffer_lost(), instead of killing the process with SIGBUS.  A
	 * full guard table leaves the mapping unguarded, as it was before.
	 */
	b->guard = reel__guard_add(map, b->map_size, fd,
	                           readonly ? PROT_READ : PROT_READ | PROT_WRITE);
	{
		struct statfs sfs;
		b->on_tmpfs = fstatfs(fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
	}
	b->live = (struct reel__header_live *)(b->map + REEL__LIVE_OFFSET);
	b->index = (struct reel_index_entry *)(b->map + info->index_offset);
	b->journal = (struct reel_journal_entry *)(b->map + info->journal_offset);
	b->slot_table = (struct reel__slot *)(b->map + info->slot_table_offset);
	b->slots = b->map + info->slots_offset;
	b->stages = (struct reel__stage_entry *)(b->map + info->stages_offset);
	*ret_buffer = b;
	return 0;

out_free_bitmap:
	free(b->reserved);
out_free:
	free(b->populated);
	free(b);
	return r;
}

/*
 * The folder a buffer is made in: ours and writable by nobody else, or a
 * shared folder with the sticky bit (/tmp, /dev/shm), where nobody else can
 * rename or remove what we make; there another user can still take a name
 * first, which the owner check of every open then refuses.
 */
static int check_folder(const char *path)
{
	char copy[PATH_MAX];
	struct stat st;
	size_t n = strlen(path);

	if (n >= sizeof(copy))
		return -ENAMETOOLONG;
	memcpy(copy, path, n + 1);
	if (stat(dirname(copy), &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_mode & S_ISVTX)
		return st.st_uid == geteuid() || st.st_uid == 0 ? 0 : REEL_E_BUFFERDIR;
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return REEL_E_BUFFERDIR;
	return 0;
}

static int write_all(int fd, const void *data, size_t len, uint64_t offset)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, (off_t)offset);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t)w;
		offset += (uint64_t)w;
	}
	return 0;
}

/*
 * Fills an unnamed (or temporary) file with what a buffer needs before
 * anyone may see it: the metadata sections reserved on disk, the size, the
 * header, all durable.  The metadata is reserved because it is written
 * through the mapping, where a full disk is a SIGBUS, not an error: after
 * this, the journal, the slot table and the stage table can always be
 * written.  Only the slots stay sparse (reserved one by one as they fill).
 */
static int fill_new_file(int fd, const void *page, size_t page_len, uint64_t metadata_end,
                         uint64_t file_size)
{
	int r;

	/* The umask may only take bits away; make sure nobody else got any. */
	if (fchmod(fd, 0600) < 0)
		return -errno;
	r = posix_fallocate(fd, 0, (off_t)metadata_end);
	if (r != 0)
		return -r;
	if (ftruncate(fd, (off_t)file_size) < 0)
		return -errno;
	r = write_all(fd, page, page_len, 0);
	if (r < 0)
		return r;
	return fsync(fd) < 0 ? -errno : 0;
}

/* Makes the folder's new entry durable; a failure only weakens durability, as for any file. */
static void sync_folder(const char *path)
{
	char copy[PATH_MAX];
	size_t n = strlen(path);
	int dfd;

	if (n >= sizeof(copy))
		return;
	memcpy(copy, path, n + 1);
	dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
}

/*
 * Creates the file at path so that the name appears only once the file is
 * whole: an unnamed O_TMPFILE filled and then linked in (linkat fails with
 * EEXIST rather than replace anything).  Where the file system has no
 * O_TMPFILE, a temporary name next to it plays that part, linked to path
 * (link never replaces either) and unlinked; one left by a creator killed
 * in between is swept by the next create.  Returns the open fd.
 */
static int create_whole(const char *path, const void *page, size_t page_len, uint64_t metadata_end,
                        uint64_t file_size)
{
	char copy[PATH_MAX], tmp[PATH_MAX + 64], proc[64];
	size_t n = strlen(path);
	int fd, r;

	if (n >= sizeof(copy))
		return -ENAMETOOLONG;
	memcpy(copy, path, n + 1);
	fd = open(dirname(copy), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0) {
		r = fill_new_file(fd, page, page_len, metadata_end, file_size);
		if (r == 0) {
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
			if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0)
				r = -errno;
		}
		if (r < 0) {
			/* Unnamed: closing it gives every block back. */
			close(fd);
			return r;
		}
		sync_folder(path);
		return fd;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;

	reel__sweep_temporaries(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid());
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = fill_new_file(fd, page, page_len, metadata_end, file_size);
	if (r == 0 && link(tmp, path) < 0)
		r = -errno;
	unlink(tmp);
	if (r < 0) {
		close(fd);
		return r;
	}
	sync_folder(path);
	return fd;
}

/* Temporaries "<path>.tmp-<pid>" whose creator is gone: a create killed half way. */
void reel__sweep_temporaries(const char *path)
{
	char dcopy[PATH_MAX], bcopy[PATH_MAX], prefix[NAME_MAX + 8];
	const char *dir, *base;
	struct dirent *de;
	size_t n = strlen(path), plen;
	DIR *d;
	int dfd;

	if (n >= sizeof(dcopy))
		return;
	memcpy(dcopy, path, n + 1);
	memcpy(bcopy, path, n + 1);
	dir = dirname(dcopy);
	base = basename(bcopy);
	if (snprintf(prefix, sizeof(prefix), "%s.tmp-", base) >= (int)sizeof(prefix))
		return;
	plen = strlen(prefix);
	d = opendir(dir);
	if (!d)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid;
		struct stat st;

		if (strncmp(de->d_name, prefix, plen))
			continue;
		errno = 0;
		pid = strtol(de->d_name + plen, &end, 10);
		if (errno || *end || pid <= 0)
			continue;
		/* Only our own files, and only when their creator is dead (not merely someone else's). */
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_uid != geteuid())
			continue;
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			unlinkat(dfd, de->d_name, 0);
	}
	closedir(d);
}

int reel_buffer_create(const char *path, const struct reel_buffer_params *params,
                       struct reel_buffer **ret_buffer)
{
	/* The whole header page, live fields zero, as it will lie on disk. */
	union {
		struct reel__header h;
		uint8_t bytes[REEL__HEADER_SIZE];
	} page;
	struct reel_buffer_info info;
	struct reel_buffer *b;
	int fd, r;

	if (!path || !params || !ret_buffer)
		return -EINVAL;
	memset(&page, 0, sizeof(page));
	r = build_header(params, &page.h);
	if (r < 0)
		return r;
	/* The validator is the definition of a good header: create must satisfy it. */
	r = reel_buffer_validate_header(page.bytes, sizeof(page.bytes), page.h.file_size, &info);
	if (r < 0)
		return r;
	r = check_folder(path);
	if (r < 0)
		return r;
	/* An empty journal: count 0 and its check word (journal.c). */
	{
		struct reel__header_live live;

		memset(&live, 0, sizeof(live));
		live.journal_count_check = ~(uint64_t)0;
		live.frame_total = params->counting ? REEL__COUNTING : 0;
		memcpy(page.bytes + REEL__LIVE_OFFSET, &live, sizeof(live));
	}
	/* Everything before the slots is metadata, written through the mapping. */
	fd = create_whole(path, page.bytes, sizeof(page.bytes), page.h.slots_offset, page.h.file_size);
	if (fd < 0)
		return fd;
	r = map_buffer(fd, &info, false, &b);
	if (r < 0) {
		/* Named already, but nothing of it was used: it goes. */
		unlink(path);
		close(fd);
		return r;
	}
	*ret_buffer = b;
	return 0;
}

/*
 * The file is shorter than its header says.  Mendable when the cut lies in
 * the slots: take the flock (a live coordinator of this file would hold
 * it), make the file whole again (sparse), and say where it had been cut.
 */
static int mend_length(int fd, const uint8_t *page, size_t got, uint64_t size,
                       struct reel_buffer_info *info)
{
	const struct reel__header *h = (const struct reel__header *)page;
	int r;

	if (got < sizeof(*h))
		return REEL_E_TRUNCATED;
	r = reel_buffer_validate_header(page, got, h->file_size, info);
	if (r < 0)
		return r;
	if (size < info->slots_offset)
		return REEL_E_TRUNCATED;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? REEL_E_BUFFERBUSY : -errno;
	if (ftruncate(fd, (off_t)info->file_size) < 0)
		return -errno;
	return 0;
}

/* Reset the slot entries whose slot reaches past the old end: their pixels are zeros now. */
static uint32_t forget_cut_slots(struct reel_buffer *b, uint64_t old_size)
{
	uint32_t mended = 0;

	for (uint32_t i = 0; i < b->info.slot_count; i++) {
		uint64_t end = b->info.slots_offset + ((uint64_t)i + 1) * b->info.slot_stride;

		if (end <= old_size)
			continue;
		memset(reel__slot_entry(b, i), 0, sizeof(struct reel__slot));
		mended++;
	}
	if (mended)
		(void)reel__msync_range(b, (uint8_t *)b->slot_table,
		                        (size_t)b->info.slot_count * sizeof(struct reel__slot));
	return mended;
}

static int open_buffer(const char *path, bool readonly, bool mend, struct reel_buffer **ret_buffer,
                       uint32_t *ret_mended)
{
	/* Aligned so that the copy can be read as a struct reel__header. */
	_Alignas(8) uint8_t page[REEL__HEADER_SIZE];
	struct reel_buffer_info info;
	struct stat st;
	size_t got = 0;
	int fd, r;

	if (!path || !ret_buffer)
		return -EINVAL;
	/*
	 * A writer trusts what it maps (the robust-mutex list pointers that
	 * glibc follows, the journal it replays): the file must be this user's
	 * own, reached without a symbolic link, open to nobody else.  A reader
	 * maps PROT_READ and may look at anyone's file.
	 */
	fd = open(path, readonly ? O_RDONLY | O_CLOEXEC : O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP && !readonly ? REEL_E_BUFFERPERM : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		r = REEL_E_NOTREGULAR;
		goto out_close;
	}
	if (!readonly && (st.st_uid != geteuid() || (st.st_mode & 077))) {
		r = REEL_E_BUFFERPERM;
		goto out_close;
	}
	while (got < sizeof(page)) {
		ssize_t n = pread(fd, page + got, sizeof(page) - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out_close;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	r = reel_buffer_validate_header(page, got, (uint64_t)st.st_size, &info);
	if (r == REEL_E_TRUNCATED && mend && !readonly)
		r = mend_length(fd, page, got, (uint64_t)st.st_size, &info);
	else
		mend = false;
	if (r < 0)
		goto out_close;
	r = map_buffer(fd, &info, readonly, ret_buffer);
	if (r < 0)
		goto out_close;
	/* The coordinator (mend) places the pictures itself, once it holds the buffer. */
	if (!mend) {
		r = reel__pictures_attach(*ret_buffer);
		if (r < 0) {
			reel_buffer_close(*ret_buffer);
			*ret_buffer = NULL;
			return r;
		}
	}
	if (ret_mended)
		*ret_mended = mend ? forget_cut_slots(*ret_buffer, (uint64_t)st.st_size) : 0;
	return 0;

out_close:
	close(fd);
	return r;
}

int reel_buffer_open(const char *path, struct reel_buffer **ret_buffer)
{
	return open_buffer(path, false, false, ret_buffer, NULL);
}

int reel_buffer_open_mend(const char *path, struct reel_buffer **ret_buffer, uint32_t *ret_mended)
{
	uint32_t mended = 0;
	int r = open_buffer(path, false, true, ret_buffer, &mended);

	if (r == 0 && ret_mended)
		*ret_mended = mended;
	return r;
}

int reel_buffer_open_readonly(const char *path, struct reel_buffer **ret_buffer)
{
	return open_buffer(path, true, false, ret_buffer, NULL);
}

void reel_buffer_close(struct reel_buffer *buffer)
{
	if (!buffer)
		return;
	reel__pictures_detach(buffer);
	reel__guard_remove(buffer->guard);
	munmap(buffer->map, buffer->map_size);
	close(buffer->fd);
	free(buffer->reserved);
	free(buffer->populated);
	free(buffer);
}

const struct reel_buffer_info *reel_buffer_info(const struct reel_buffer *buffer)
{
	return &buffer->info;
}

int reel_buffer_fd(const struct reel_buffer *buffer)
{
	return buffer->fd;
}

int reel_buffer_disk_usage(const struct reel_buffer *buffer, uint64_t *ret_apparent,
                           uint64_t *ret_allocated)
{
	struct stat st;

	if (fstat(buffer->fd, &st) < 0)
		return -errno;
	if (ret_apparent)
		*ret_apparent = (uint64_t)st.st_size;
	if (ret_allocated)
		*ret_allocated = (uint64_t)st.st_blocks * 512;
	return 0;
}

int reel_buffer_reserve_slot(struct reel_buffer *buffer, uint32_t slot)
{
	uint8_t bit = (uint8_t)(1u << (slot % 8));
	int r;

	if (buffer->readonly)
		return -EBADF;
	if (slot >= buffer->info.slot_count)
		return REEL_E_RANGE;
	if (__atomic_load_n(&buffer->reserved[slot / 8], __ATOMIC_ACQUIRE) & bit)
		return 0;
	/* Two threads may both reach here; fallocating the same range twice is harmless. */
	r = posix_fallocate(buffer->pictures_fd, (off_t)reel__slot_file_offset(buffer, slot),
	                    (off_t)buffer->info.slot_stride);
	if (r != 0)
		return -r;
	__atomic_fetch_or(&buffer->reserved[slot / 8], bit, __ATOMIC_RELEASE);
	return 0;
}

/* Write zeros over [offset, offset + len) through the file, not the mapping. */
static int write_zeros(int fd, uint64_t offset, uint64_t len)
{
	static const uint8_t zeros[256 * 1024];

	while (len > 0) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		ssize_t w = pwrite(fd, zeros, n, (off_t)offset);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		offset += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

/*
 * After a picture went through the file, every page of its planes exists;
 * the rest of the slot (the sound, the gaps between planes) is reserved so
 * that the slot counts as reserved as a whole.  Reserving the planes first
 * instead would cost a third more than writing them into the hole (tmpfs
 * on this machine: 0.8 ms more a 1080p frame, and the write after it slower).
 */
static int reserve_unwritten(struct reel_buffer *buffer, uint32_t slot)
{
	const struct reel_buffer_info *info = &buffer->info;
	uint8_t bit = (uint8_t)(1u << (slot % 8));
	uint64_t base = reel__slot_file_offset(buffer, slot), from = 0;

	if (__atomic_load_n(&buffer->reserved[slot / 8], __ATOMIC_ACQUIRE) & bit)
		return 0;
	for (int i = 0; i <= 3; i++) {
		uint64_t to = i < 3 ? info->plane_offset[i] : info->slot_stride;
		int r;

		if (to > from && (r = posix_fallocate(buffer->pictures_fd, (off_t)(base + from),
		                                      (off_t)(to - from))) != 0)
			return -r;
		if (i < 3) {
			uint32_t w = i == 0 ? info->width : (info->width + 1) / 2;
			uint32_t h = i == 0 ? info->height : (info->height + 1) / 2;

			/* The last row's padding is not written. */
			from = info->plane_offset[i] + (uint64_t)info->plane_stride[i] * (h - 1) + w;
		}
	}
	__atomic_fetch_or(&buffer->reserved[slot / 8], bit, __ATOMIC_RELEASE);
	return 0;
}

int reel_buffer_write_picture(struct reel_buffer *buffer, uint32_t slot,
                              const uint8_t *const plane[3], const int linesize[3])
{
	/* The padding at the end of a slot row (strides are rounded up to REEL__PLANE_ALIGN). */
	static const uint8_t pad[REEL__PLANE_ALIGN];
	const struct reel_buffer_info *info = &buffer->info;
	struct iovec iov[512];

	if (buffer->readonly)
		return -EBADF;
	if (slot >= info->slot_count)
		return REEL_E_RANGE;
	/*
	 * On a disk file it loses (measured in docs/ARCHITECTURE.md): the pages
	 * written so are slower to edit through the mapping afterwards (half the
	 * speed of the first in-place edit), and decoding gains nothing.
	 */
	if (!buffer->on_tmpfs)
		return -ENOTSUP;
	for (int i = 0; i < 3; i++) {
		uint32_t w = i == 0 ? info->width : (info->width + 1) / 2;
		uint32_t h = i == 0 ? info->height : (info->height + 1) / 2;
		uint32_t gap = info->plane_stride[i] - w;
		uint64_t off = reel__slot_file_offset(buffer, slot) + info->plane_offset[i];

		if (info->plane_stride[i] < w || gap > sizeof(pad) || linesize[i] < (int)w)
			return -ENOTSUP;
		/* One range of the file per plane: each row, then its padding (zeros). */
		for (uint32_t y = 0; y < h;) {
			size_t n = 0, len = 0;
			ssize_t done;

			for (; y < h && n + 2 <= sizeof(iov) / sizeof(iov[0]); y++) {
				iov[n].iov_base = (void *)(plane[i] + (size_t)y * (size_t)linesize[i]);
				iov[n++].iov_len = w;
				len += w;
				if (gap && y + 1 < h) {
					iov[n].iov_base = (void *)pad;
					iov[n++].iov_len = gap;
					len += gap;
				}
			}
			done = pwritev(buffer->pictures_fd, iov, (int)n, (off_t)off);
			/* A short write (a full disk) is not retried piecemeal: it fails. */
			if (done < 0)
				return -errno;
			if ((size_t)done != len)
				return -ENOSPC;
			off += len;
		}
	}
	return reserve_unwritten(buffer, slot);
}

int reel_buffer_prefault_slot(struct reel_buffer *buffer, uint32_t slot, unsigned flags)
{
	uint8_t bit = (uint8_t)(1u << (slot % 8));
	uint64_t offset;
	int r;

	if (buffer->readonly)
		return -EBADF;
	if (slot >= buffer->info.slot_count)
		return REEL_E_RANGE;
	if (!(flags & REEL_PREFAULT_FILLED)) {
		r = reel_buffer_reserve_slot(buffer, slot);
		if (r < 0)
			return r;
	}
	if (__atomic_load_n(&buffer->populated[slot / 8], __ATOMIC_ACQUIRE) & bit)
		return 0;
	offset = (uint64_t)slot * buffer->info.slot_stride;
	/*
	 * Pages of tmpfs that are there already are mapped three times faster
	 * by touching each than by MADV_POPULATE_WRITE (0.24 against 0.8 ms a
	 * 1080p slot, measured on this kernel; on ext4 it is the other way
	 * round, 2.3 against 0.25 ms): tmpfs needs no write notification, so a
	 * fault maps its neighbours writable too.  A compare-and-swap of a byte
	 * with itself is a write access that changes nothing, whoever writes
	 * the page meanwhile.
	 */
	if ((flags & REEL_PREFAULT_FILLED) && buffer->on_tmpfs) {
		long page = sysconf(_SC_PAGESIZE);

		for (uint64_t off = 0; off < buffer->info.slot_stride; off += (uint64_t)page) {
			uint8_t *p = buffer->slots + offset + off;
			uint8_t v = __atomic_load_n(p, __ATOMIC_RELAXED);

			__atomic_compare_exchange_n(p, &v, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
		}
		__atomic_fetch_or(&buffer->populated[slot / 8], bit, __ATOMIC_RELEASE);
		return 0;
	}
	/*
	 * On a disk file, faulting a page of a hole in makes the file system
	 * zero it with a slow byte loop; writing zeros through the file fills
	 * the page cache several times faster (measured in docs/ARCHITECTURE.md).
	 * tmpfs zeroes fresh pages quickly itself.  Only for a slot whose
	 * contents the caller may destroy.
	 */
	if ((flags & REEL_PREFAULT_DISCARD) && !buffer->on_tmpfs) {
		r = write_zeros(buffer->pictures_fd, reel__slot_file_offset(buffer, slot),
		                buffer->info.slot_stride);
		if (r < 0)
			return r;
	}
	/*
	 * Populating writes no byte: the pages a writer may be filling at the
	 * same time keep their contents.  Kernels before 5.14 do not know the
	 * advice; then the writer takes the faults itself, as it would anyway.
	 */
	if (madvise(buffer->slots + offset, (size_t)buffer->info.slot_stride, MADV_POPULATE_WRITE) < 0 &&
	    errno != EINVAL)
		return -errno;
	__atomic_fetch_or(&buffer->populated[slot / 8], bit, __ATOMIC_RELEASE);
	return 0;
}

int reel_buffer_frame(struct reel_buffer *buffer, uint32_t slot, struct reel_frame *ret_frame)
{
	const struct reel_buffer_info *info = &buffer->info;
	struct reel_frame f;
	uint8_t *data;

	if (slot >= info->slot_count)
		return REEL_E_RANGE;
	data = reel__slot_data(buffer, slot);
	for (int i = 0; i < 3; i++) {
		f.plane[i] = data + info->plane_offset[i];
		f.stride[i] = info->plane_stride[i];
		f.width[i] = i == 0 ? info->width : (info->width + 1) / 2;
		f.height[i] = i == 0 ? info->height : (info->height + 1) / 2;
	}
	f.audio = info->channels ? (float *)(void *)(data + info->audio_offset) : NULL;
	f.audio_capacity = info->audio_capacity;
	/* How much sound the frame has is the slot entry's to say (reel_slot_get). */
	f.audio_samples = 0;
	f.channels = info->channels;
	*ret_frame = f;
	return 0;
}

uint32_t reel_buffer_coordinator_pid(const struct reel_buffer *buffer)
{
	return __atomic_load_n(&buffer->live->coordinator_pid, __ATOMIC_ACQUIRE);
}

uint64_t reel_buffer_generation(const struct reel_buffer *buffer)
{
	return __atomic_load_n(&buffer->live->generation, __ATOMIC_ACQUIRE);
}

uint64_t reel_buffer_claim(struct reel_buffer *buffer, uint32_t pid)
{
	uint64_t generation;

	/* 0 is the generation of a buffer never claimed, so it cannot pass for a claim. */
	if (buffer->readonly)
		return 0;
	/*
	 * Only a coordinator claims, and only one runs per buffer (the session
	 * lock sees to that), so bump-then-store needs no compare-and-swap.
	 * The generation goes first: a stage that sees the new pid also sees
	 * the new generation.
	 */
	/* Letting go (pid 0) starts no new generation. */
	if (pid == 0)
		generation = __atomic_load_n(&buffer->live->generation, __ATOMIC_ACQUIRE);
	else
		generation = __atomic_add_fetch(&buffer->live->generation, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&buffer->live->coordinator_pid, pid, __ATOMIC_RELEASE);
	/* Durability of the claim is best effort: a lost claim only costs a generation number. */
	(void)reel__msync_range(buffer, buffer->map, REEL__HEADER_SIZE);
	return generation;
}

int reel__msync_range(const struct reel_buffer *b, const void *addr, size_t len)
{
	const uint8_t *p = addr;
	long sys_page = sysconf(_SC_PAGESIZE);
	size_t start, end;

	if (p < b->map || len > b->map_size || (size_t)(p - b->map) > b->map_size - len)
		return -EINVAL;
	if (len == 0)
		return 0;
	start = (size_t)(p - b->map);
	end = start + len;
	start -= start % (size_t)sys_page;
	if (msync(b->map + start, end - start, MS_SYNC) < 0)
		return -errno;
	return 0;
}

uint64_t reel_buffer_slot_size(const struct reel_buffer_params *params)
{
	struct slot_layout l;
	uint32_t sample_fmt;

	if (!params)
		return 0;
	/* As build_header() decides it, so that the answer is the stride create would use. */
	sample_fmt = params->sample_rate ? REEL_SAMPLE_F32 : REEL_SAMPLE_NONE;
	if (check_geometry(params->width, params->height, REEL_PIX_YUV420P, sample_fmt,
	                   params->sample_rate, params->channels, params->audio_capacity) < 0)
		return 0;
	if (!compute_slot_layout(params->width, params->height, params->channels,
	                         params->audio_capacity, &l))
		return 0;
	return l.slot_stride;
}

int reel_buffer_lost(const struct reel_buffer *buffer)
{
	struct stat st;

	/*
	 * The guard sees a cut only when this process touches a page past it;
	 * the file's size sees it at once, whoever touched what (a cut in the
	 * slots leaves the metadata this process reads whole).
	 */
	if (buffer && fstat(buffer->fd, &st) == 0 && st.st_size >= 0 &&
	    (uint64_t)st.st_size < buffer->map_size)
		return REEL_E_BUFFERLOST;
	if (buffer && buffer->pictures_fd != buffer->fd && fstat(buffer->pictures_fd, &st) == 0 &&
	    st.st_size >= 0 && (uint64_t)st.st_size < buffer->info.slots_size)
		return REEL_E_PICTURES;
	if (buffer && reel__guard_lost(buffer->pictures_guard) != REEL_GUARD_OK)
		return REEL_E_PICTURES;
	switch (buffer ? reel__guard_lost(buffer->guard) : REEL_GUARD_OK) {
	case REEL_GUARD_TRUNCATED:
		return REEL_E_BUFFERLOST;
	case REEL_GUARD_IOERROR:
		return -EIO;
	default:
		return 0;
	}
}
