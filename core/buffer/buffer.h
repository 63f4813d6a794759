/*
 * The buffer file: one sparse file mapped MAP_SHARED by every process of a
 * session.  It holds a header page, the frame index, the journal, the slot
 * table and the slots (see docs/ARCHITECTURE.md for the layout).
 *
 * Everything read from the mapping is untrusted: another process may have
 * written anything.  reel_buffer_open() copies the header out once and
 * validates it against the file size; the accessors here only hand out
 * pointers that the validated geometry proves to lie inside the mapping.
 */
#ifndef REEL_BUFFER_H
#define REEL_BUFFER_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "reel/frame.h"

#define REEL_MAX_DIMENSION 16384
#define REEL_MAX_CHANNELS 16
#define REEL_MAX_SAMPLE_RATE 384000
#define REEL_SOURCE_PATH_MAX 1024

enum reel_pix_fmt { REEL_PIX_YUV420P = 1 };
enum reel_sample_fmt { REEL_SAMPLE_NONE = 0, REEL_SAMPLE_F32 = 1 };

/* What identifies the source a buffer was made from. */
struct reel_source_id {
	uint64_t size;
	int64_t mtime_ns;
	uint8_t hash[32];   /* SHA-256 of the first MiB */
	char path[REEL_SOURCE_PATH_MAX];
};

/*
 * What the source's pictures are, before they became the buffer's 8-bit
 * 4:2:0 limited range: so that a tool can say what was converted, and an
 * export or the preview can tag and show the colours right.
 */
struct reel_source_format {
	char pix_fmt[32];           /* libav's name, e.g. "yuv422p10le" */
	char codec[32];
	uint32_t bits;              /* per component, 1..16 */
	uint32_t chroma;            /* 420, 422, 444, 440, 411, 410 or 400 (grey) */
	uint32_t full_range;        /* 1: full ("jpeg") range, converted to limited */
	uint32_t colorspace;        /* libav's AVColorSpace: 1 BT.709, 5/6 BT.601, 9 BT.2020, 2 unknown */
	/*
	 * The container's start time in microseconds (start_known 1), the zero
	 * of times as ffmpeg's -ss reads them; without it, the first frame's.
	 */
	int64_t start_us;
	uint32_t start_known;
};

struct reel_buffer_params {
	uint32_t width, height;            /* 1..REEL_MAX_DIMENSION */
	/*
	 * The frame count; with counting, only an upper bound of it (the
	 * index's capacity): the coordinator's background scan counts the
	 * frames and reel_buffer_frames() says how many there are once it ends.
	 */
	uint64_t frame_count;
	bool counting;
	uint32_t slot_count;               /* 1..frame_count */
	uint32_t journal_capacity;         /* 0 picks the default */
	struct reel_rational frame_rate;
	struct reel_rational time_base;
	uint32_t sample_rate;              /* 0 for a video without audio */
	uint32_t channels;
	uint32_t audio_capacity;           /* samples per channel one slot holds */
	struct reel_source_id source;
	struct reel_source_format format;
};

/* The validated copy of the header. */
struct reel_buffer_info {
	uint32_t version;
	uint32_t page_size;
	uint64_t file_size;
	uint64_t index_offset, index_size;
	uint64_t journal_offset, journal_size;
	uint64_t slot_table_offset, slot_table_size;
	uint64_t slots_offset, slots_size;
	uint64_t stages_offset, stages_size;
	uint64_t slot_stride;
	uint32_t slot_count;
	uint32_t journal_capacity;
	/* The index's capacity; the frame count itself is reel_buffer_frames()'s to say. */
	uint64_t frame_count;
	uint32_t width, height;
	uint32_t pix_fmt;
	uint32_t plane_stride[3];
	uint64_t plane_offset[3];          /* inside a slot */
	uint64_t audio_offset;             /* inside a slot */
	struct reel_rational frame_rate;
	struct reel_rational time_base;
	uint32_t sample_rate, channels, sample_fmt, audio_capacity;
	struct reel_source_id source;
	struct reel_source_format format;
};

/* One entry of the frame index, in presentation order. */
struct reel_index_entry {
	int64_t pts;                       /* in the buffer's time base */
	int64_t dts;
	int64_t pos;                       /* byte position of the packet, -1 unknown */
	uint32_t flags;                    /* REEL_INDEX_KEY, ... */
	uint32_t size;                     /* packet size in bytes */
};
#define REEL_INDEX_KEY 1u

struct reel_buffer;

/*
 * Create a new buffer file at path, O_EXCL and mode 0600, sparse.  On
 * success *ret_buffer owns the fd and mapping; on failure nothing is left
 * behind on disk and *ret_buffer is untouched.
 */
int reel_buffer_create(const char *path, const struct reel_buffer_params *params,
                       struct reel_buffer **ret_buffer);

/* Open and validate an existing buffer file, read-write. */
int reel_buffer_open(const char *path, struct reel_buffer **ret_buffer);

/*
 * reel_buffer_open() for the coordinator, which may mend a file cut short
 * (a truncation under a live session): when everything before the slots
 * (header, index, journal, slot table, stage table) is whole, the file is
 * made its full length again and every slot that lost pages is reset to
 * never used, so its frame is decoded again; the journal and the slots
 * before the cut are kept.  This happens under the file's exclusive flock,
 * which stays held (the coordinator's own lock).  *ret_mended (may be NULL)
 * gets the number of slots reset.  A file cut inside its metadata is still
 * REEL_E_TRUNCATED.
 */
int reel_buffer_open_mend(const char *path, struct reel_buffer **ret_buffer, uint32_t *ret_mended);

/*
 * Open and validate an existing buffer file for reading only: O_RDONLY and a
 * PROT_READ mapping, so a file the caller may not write (mode 0400, another
 * user's, a read-only mount) can still be looked at, and no bug in the
 * caller can change it.  Every function that writes the file refuses such a
 * handle with -EBADF (reel_buffer_claim() returns 0, never a generation)
 * instead of faulting; reel_slot_write_begin/end do nothing.  Readers work
 * as on a read-write handle: reel_slot_get, read_begin/validate and
 * reel_slot_wait (a futex wait needs only read access to the word).  The
 * pointers reel_buffer_frame() hands out must then only be read.
 */
int reel_buffer_open_readonly(const char *path, struct reel_buffer **ret_buffer);

/* Validate a header image of len bytes against a file of file_size bytes. */
int reel_buffer_validate_header(const void *image, size_t len, uint64_t file_size,
                                struct reel_buffer_info *ret_info);

/*
 * Bytes one slot takes for these parameters (planes and audio, rounded up to
 * a page), for sizing a cache before creating; 0 when they are invalid.
 */
uint64_t reel_buffer_slot_size(const struct reel_buffer_params *params);

/*
 * Unmaps and closes; accepts NULL.  The coordinator that made a pictures
 * file removes it here.
 */
void reel_buffer_close(struct reel_buffer *buffer);

/*
 * Where the coordinator puts the decoded pictures (pictures.c): in a file of
 * their own in dir, on tmpfs, mapped over the slot section, so that they are
 * never written back to a disk; or, with dir NULL, in the buffer file.  A
 * buffer file already on tmpfs keeps them.  Called once, by the coordinator
 * holding the buffer, before anyone else attaches: stages and readers that
 * open the buffer afterwards map the same file.
 * Returns 1 when they moved to dir, 0 when they stay in the buffer file, or
 * a negative error saying why they could not move (they stay: the caller
 * says so and goes on).  *ret_forget says what the slot table describes is
 * gone (moved now, or left in RAM by the last coordinator): the caller marks
 * every slot empty before anyone reads one.
 */
int reel_buffer_place_pictures(struct reel_buffer *buffer, const char *dir, bool *ret_forget);
/* The default folder for pictures: $REEL_PICTURES_DIR or /dev/shm/reel-<uid>; NULL when the variable is set empty. */
const char *reel_buffer_pictures_dir(char *buf, size_t len);
/* The pictures file this handle maps, or NULL when they are in the buffer file. */
const char *reel_buffer_pictures_path(const struct reel_buffer *buffer);
/* Removes the pictures files in dir left by coordinators that are gone: how many, and their bytes. */
int reel_buffer_sweep_pictures(const char *dir, uint64_t *ret_bytes);
/*
 * 0 while the mapping is whole; REEL_E_BUFFERLOST once the file was
 * truncated under it, -EIO once a page of it could not be read or written
 * (see base/guard.h).  After a loss, the missing pages read as zeros: what
 * was read or written since cannot be trusted, and nothing may be
 * acknowledged.  REEL_E_PICTURES when the pictures file in RAM was cut or
 * lost pages.  Cheap (fstat and atomic loads): callers look at their safe points.
 */
int reel_buffer_lost(const struct reel_buffer *buffer);

const struct reel_buffer_info *reel_buffer_info(const struct reel_buffer *buffer);
int reel_buffer_fd(const struct reel_buffer *buffer);

/* Apparent and allocated bytes of the file, from fstat. */
int reel_buffer_disk_usage(const struct reel_buffer *buffer, uint64_t *ret_apparent,
                           uint64_t *ret_allocated);

/* posix_fallocate the slot's bytes so that writing them cannot SIGBUS on a full disk. */
int reel_buffer_reserve_slot(struct reel_buffer *buffer, uint32_t slot);

/*
 * Reserve the slot's disk and fault its pages in, writable (MADV_POPULATE_WRITE):
 * the cost of first touching fresh pages, which is most of the cost of
 * filling a slot, is paid by the caller's thread rather than by whoever
 * writes the frame.  Without flags no byte changes.  With
 * REEL_PREFAULT_DISCARD the slot's contents may be replaced by zeros (the
 * caller holds the slot's lock and the slot holds no frame), which is
 * faster on a disk file.  Done once per slot per process; -EBADF on a
 * read-only buffer.
 */
#define REEL_PREFAULT_DISCARD 1u
/*
 * With REEL_PREFAULT_FILLED the caller writes the slot only once it holds a
 * frame, which its writer reserved: nothing is reserved here.  For the
 * stages, which map frames the materialiser filled.
 */
#define REEL_PREFAULT_FILLED 2u
int reel_buffer_prefault_slot(struct reel_buffer *buffer, uint32_t slot, unsigned flags);
/*
 * Write a YUV420P picture of the buffer's size (plane[i] rows linesize[i]
 * bytes apart) into the slot's planes through the file (pwritev), not the
 * mapping: the page cache takes the bytes in one copy, without the faults,
 * zeroing and block allocation of first touching fresh pages through a
 * shared mapping (measured in docs/ARCHITECTURE.md).  Every mapping of the
 * file sees the picture at once.  The padding at the end of each slot row
 * is written with zeros.  The slot need not be reserved first: on return
 * it is, the planes by being written, the rest of it by posix_fallocate.
 * Only for pictures on tmpfs: -ENOTSUP on a disk
 * file (copy into the planes instead), where it measured slower for the
 * edits that follow; -EBADF read-only.
 */
int reel_buffer_write_picture(struct reel_buffer *buffer, uint32_t slot,
                              const uint8_t *const plane[3], const int linesize[3]);

/* Pointers to the slot's planes and samples. */
int reel_buffer_frame(struct reel_buffer *buffer, uint32_t slot, struct reel_frame *ret_frame);

/* Frame index; entries are validated on read (pts monotonic is not assumed). */
int reel_index_get(const struct reel_buffer *buffer, uint64_t frame,
                   struct reel_index_entry *ret_entry);
int reel_index_put(struct reel_buffer *buffer, uint64_t frame,
                   const struct reel_index_entry *entry);
/*
 * Marks the index complete and makes it durable.  A buffer made counting
 * gets its frame count here: the entries published so far.
 */
int reel_index_commit(struct reel_buffer *buffer);
/*
 * How many frames the source has: frame_count, except in a buffer made
 * counting (from a container that does not list its samples), where it is
 * 0 until the background scan has counted them and committed the index.
 * Frames past it do not exist; frame numbers below it never change.
 */
uint64_t reel_buffer_frames(const struct reel_buffer *buffer);
/*
 * Where frame numbers end for lookups: reel_buffer_frames(), or while the
 * frames are counted, the index's capacity (entries past reel_index_ready()
 * are not there yet either way).
 */
uint64_t reel_index_end(const struct reel_buffer *buffer);
/* Complete and its CRC holds (reads every entry: for opening, not for every lookup). */
bool reel_index_complete(const struct reel_buffer *buffer);
/*
 * While the coordinator still builds the index (core/coordinator/indexer.c)
 * the entries of frames [0, reel_index_ready()) are final and the rest are
 * not yet written: reel_index_get() and the lookups below give
 * REEL_E_NOTYET for them.  reel_buffer_frames() once the index is complete.
 */
uint64_t reel_index_ready(const struct reel_buffer *buffer);
/*
 * Coordinator: append n final entries at frame `first`, which must be
 * where the ready part ends, and make them visible (not yet durable: the
 * commit is).  REEL_E_RANGE past frame_count, -EINVAL for another first.
 */
int reel_index_publish(struct reel_buffer *buffer, uint64_t first,
                       const struct reel_index_entry *entries, uint64_t n);
/*
 * Coordinator, alone: forget a partial index before building it again (a
 * buffer made counting counts again).
 */
void reel_index_restart(struct reel_buffer *buffer);
/*
 * The background scan stopped short: error (< 0) is kept in the live
 * header, so that readers waiting for the index give up and the next open
 * scans the whole file first.  reel_index_failed() gives it, 0 when none
 * (or a value that is not an error: damage, taken as none).
 */
void reel_index_set_failed(struct reel_buffer *buffer, int error);
int reel_index_failed(const struct reel_buffer *buffer);

/*
 * Times on the source's clock, as ffmpeg's -ss and players count them:
 * microseconds from the container's start time (from the first frame's
 * start in a buffer that did not record it).  A frame's time is its pts.
 */
/* The pts (in the buffer's time base) of time us, rounded to the nearest tick as ffmpeg does. */
int reel_index_pts_of_time(const struct reel_buffer *buffer, int64_t us, int64_t *ret_pts);
/* Frame `frame`'s start on that clock, in seconds. */
double reel_index_seconds(const struct reel_buffer *buffer, uint64_t frame);
/* The first frame whose pts is >= pts (frame_count when none); the index is in presentation order. */
int reel_index_lower_bound(const struct reel_buffer *buffer, int64_t pts, uint64_t *ret_frame);
/*
 * The frame `ffmpeg -ss` at time us decodes first: the first one that
 * starts at or after it.  REEL_E_RANGE when none does.
 */
int reel_index_frame_at_time(const struct reel_buffer *buffer, int64_t us, uint64_t *ret_frame);

/* The live fields of the header: who coordinates the session, and since when. */
uint32_t reel_buffer_coordinator_pid(const struct reel_buffer *buffer);
uint64_t reel_buffer_generation(const struct reel_buffer *buffer);
/* Stores pid and bumps the generation; returns the new generation (0 on a read-only handle). */
uint64_t reel_buffer_claim(struct reel_buffer *buffer, uint32_t pid);

#endif
