/*
 * The on-disk layout of the buffer file.  Core-internal: other folders use
 * the accessors of reel/buffer.h, reel/slot.h and reel/journal.h.
 *
 *   offset 0            header page (struct reel__header, live fields at 3072)
 *   index_offset        frame_count x struct reel_index_entry
 *   journal_offset      journal_capacity x struct reel_journal_entry
 *   slot_table_offset   slot_count x struct reel__slot (128 bytes each)
 *   stages_offset       REEL__STAGE_ENTRIES x struct reel__stage_entry: who takes
 *                       part in the session, their figures and log rings
 *   slots_offset        slot_count x slot_stride bytes, page-aligned
 *
 * Inside a slot: Y plane, U plane, V plane (each starting 64-byte aligned,
 * rows of plane_stride[i] bytes), then interleaved float32 audio.
 *
 * Every section starts on a page boundary.  Nothing here is a pointer.  The
 * file is written in host byte order; byte_order tells a foreign reader.
 */
#ifndef REEL_LAYOUT_H
#define REEL_LAYOUT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer/buffer.h"
#include "buffer/journal.h"

#define REEL__MAGIC "REELBUF"          /* 7 chars and NUL: 8 bytes */
/*
 * Version 3 gave meaning to fields version 2 left zero: the header's
 * header_crc, the live journal_count_check and index_crc, and each slot
 * entry's seal; and the source identity covers the whole file.  Version 2
 * files are refused (REEL_E_VERSION): they could not resume anyway (their
 * identity is of another kind), and accepting them would let one flipped
 * version byte switch every check off.
 */
#define REEL__FORMAT_VERSION 3u
#define REEL__FORMAT_VERSION_MIN 3u
#define REEL__BYTE_ORDER 0x01020304u
#define REEL__HEADER_SIZE 4096u
#define REEL__LIVE_OFFSET 3072u
#define REEL__PLANE_ALIGN 64u
#define REEL__DEFAULT_JOURNAL 65536u
#define REEL__MAX_JOURNAL (1u << 24)
/* As many frames as the media layer indexes (REEL_MEDIA_MAX_FRAMES): per-frame arrays are sized from it. */
#define REEL__MAX_FRAMES (1ull << 22)

/*
 * The immutable part of the header, written once by reel_buffer_create().
 * Readers copy it out and validate it; they never look at it again.
 */
struct reel__header {
	char magic[8];
	uint32_t version;
	uint32_t byte_order;
	uint32_t header_size;
	uint32_t page_size;
	uint64_t file_size;

	uint64_t index_offset, index_size;
	uint64_t journal_offset, journal_size;
	uint64_t slot_table_offset, slot_table_size;
	uint64_t slots_offset, slots_size;
	uint64_t slot_stride;
	uint32_t slot_count;
	uint32_t journal_capacity;
	uint64_t frame_count;

	uint32_t width, height;
	uint32_t pix_fmt;
	uint32_t plane_stride[3];
	uint64_t plane_offset[3];
	uint64_t audio_offset;
	int32_t frame_rate_num, frame_rate_den;
	int32_t time_base_num, time_base_den;
	uint32_t sample_rate, channels, sample_fmt, audio_capacity;

	uint64_t source_size;
	int64_t source_mtime_ns;
	uint8_t source_hash[32];
	char source_path[REEL_SOURCE_PATH_MAX];

	uint64_t stages_offset, stages_size;

	/* What the source's pictures were (struct reel_source_format). */
	char source_pix_fmt[32];
	char source_codec[32];
	uint32_t source_bits, source_chroma, source_full_range, source_colorspace;
	int64_t source_start_us;
	uint32_t source_start_known;
	/*
	 * CRC-32 of this struct with header_crc zero (version 3 on): the header
	 * never changes after create, so any difference is damage.
	 */
	uint32_t header_crc;
};

/*
 * The live part of the header page, at REEL__LIVE_OFFSET.  Written only by
 * the coordinator with atomic stores; every reader loads it atomically and
 * validates the value (a count above its capacity is damage, not data).
 */
struct reel__header_live {
	uint32_t coordinator_pid;   /* coordinator: at start and clean stop */
	uint32_t index_complete;    /* coordinator: 1 once every index entry is written */
	uint64_t generation;        /* coordinator: +1 at every start */
	uint64_t journal_count;     /* coordinator: after the entry is durable */
	/*
	 * coordinator: ~journal_count, stored with it.  The entries themselves
	 * say where the journal ends (journal.c); the count is their cross-check,
	 * and a count whose check word disagrees is known to be damaged.
	 */
	uint64_t journal_count_check;
	/* coordinator: CRC-32 of the index section's entries, with index_complete */
	uint32_t index_crc;
	uint32_t reserved0;
	/*
	 * coordinator: how many leading entries of the index are final while
	 * it is still being built (a release store after the entries; readers
	 * load it with acquire).  Meaningless once index_complete is 1 (zero in
	 * buffers made before it existed).
	 */
	uint64_t index_ready;
	/*
	 * coordinator: why the background scan stopped short (a negative
	 * error, as an int32 in the low half), 0 while it runs or once it is
	 * complete.  Kept until the index is built again: a reopen then scans
	 * the whole file before it starts, and waiting readers give up.
	 */
	uint64_t index_error;
	/*
	 * coordinator: 0 when frame_count is the frame count (a container that
	 * lists its samples, or a buffer made after a whole scan).  Otherwise
	 * frame_count is only the index's capacity: REEL__COUNTING while the
	 * background scan counts, then the count it found, stored before
	 * index_complete and covered by the index CRC (which is of this many
	 * entries).  Anything else, or a count without index_complete, is
	 * not a count.
	 */
	uint64_t frame_total;
};
#define REEL__COUNTING UINT64_MAX

/*
 * Where the slots' contents live, at REEL__PICTURES_OFFSET of the header
 * page.  Written only by the coordinator, at its start (path, then a
 * release store of elsewhere); everyone else validates what they read.
 * elsewhere = 1: the pictures are not in this file's slot section but in
 * the file at path (RAM, tmpfs) while the coordinator that made it runs;
 * once it stops they are gone, and the next coordinator forgets every slot.
 */
#define REEL__PICTURES_OFFSET 3584u
#define REEL__PICTURES_PATH 248u

struct reel__pictures_live {
	uint32_t elsewhere;
	uint32_t reserved;
	char path[REEL__PICTURES_PATH];
};

/*
 * One slot table entry, one cache line pair so that two slots never share a
 * line.  Field protection is described in core/buffer/slot.c.
 */
struct reel__slot {
	uint32_t state;             /* futex word; atomic stores by the lock holder */
	uint32_t version;           /* seqlock: odd while a writer is inside */
	int64_t frame;              /* lock holder */
	uint64_t journal_seq;       /* lock holder */
	uint32_t owner_pid;         /* lock holder, cleared at unlock */
	uint32_t mutex_init;        /* 0 zero page, 1 initialising, 2 ready */
	uint32_t audio_samples;     /* lock holder */
	int32_t error;              /* lock holder, with state ERROR */
	uint32_t waiters;           /* anyone: +1 around a futex wait on state, so a wake is a syscall only when needed */
	uint32_t seal;              /* lock holder: CRC of slot, frame, journal_seq, audio_samples,
	                               stored before state READY (slot.c) */
	pthread_mutex_t mutex;      /* robust, process-shared, initialised lazily */
	uint8_t pad[128 - 48 - sizeof(pthread_mutex_t)];
};

/*
 * The stage table: one entry per process taking part in a session (entry 0
 * is the coordinator's own), handed out by the coordinator when a stage
 * says hello.  Each holds the process's figures, for `reel status`, and a
 * lock-free single-producer ring of log records, which the coordinator
 * drains into the session log: a stage never blocks to log.
 *
 * Who writes what: pid, role and generation, the coordinator (when it hands
 * the entry out and takes it back); the figures, last_error and head, the
 * stage alone (plain stores, a reader may see them a little stale); tail,
 * the coordinator alone.  head and tail are on cache lines of their own.
 * Everything is untrusted input to whoever reads it.
 */
#define REEL__STAGE_ENTRIES 64
#define REEL__LOG_RECORDS 256
#define REEL__LOG_TEXT 200
#define REEL__LOG_COMPONENT 24

struct reel__log_record {
	int64_t time_ns;            /* wall clock */
	uint64_t number;            /* the ring position it was written at: head when written */
	uint32_t level;             /* enum reel_log_level */
	uint32_t pid;
	char component[REEL__LOG_COMPONENT];
	char text[REEL__LOG_TEXT];
	uint8_t pad[256 - 24 - REEL__LOG_COMPONENT - REEL__LOG_TEXT];
};

struct reel__stage_entry {
	/* The coordinator's. */
	uint32_t pid;               /* 0: free */
	uint32_t role;              /* enum reel_role */
	uint64_t generation;        /* the buffer's generation when it was handed out */
	int64_t attached_ns;        /* wall clock */
	uint8_t pad0[40];
	/* The stage's own figures. */
	uint64_t items_done, items_failed, frames_edited, frames_skipped;
	uint64_t busy_seq;          /* the edit it works on now; 0 idle */
	int64_t busy_first, busy_last;
	uint64_t errors;            /* error lines it logged */
	char last_error[REEL__LOG_TEXT];
	int32_t crash_signal;       /* set by its crash handler as it dies: the fault was its own */
	uint8_t pad1[448 - 128 - REEL__LOG_TEXT - 4];
	/* The ring: head is the producer's, tail the consumer's. */
	uint64_t head;
	uint64_t dropped;           /* records the producer had no room for */
	uint8_t pad2[48];
	uint64_t tail;
	uint8_t pad3[56];
	struct reel__log_record records[REEL__LOG_RECORDS];
};

_Static_assert(sizeof(struct reel__log_record) == 256, "log record must be 256 bytes");
_Static_assert(offsetof(struct reel__stage_entry, items_done) == 64, "stage entry layout changed");
_Static_assert(offsetof(struct reel__stage_entry, head) == 448, "stage entry layout changed");
_Static_assert(offsetof(struct reel__stage_entry, tail) == 512, "stage entry layout changed");
_Static_assert(offsetof(struct reel__stage_entry, records) == 576, "stage entry layout changed");
_Static_assert(sizeof(struct reel__stage_entry) % 64 == 0, "stage entry must be whole cache lines");

_Static_assert(sizeof(struct reel__header) <= REEL__LIVE_OFFSET, "header overlaps live fields");
_Static_assert(sizeof(struct reel__header_live) == 64, "live header size changed");
_Static_assert(REEL__LIVE_OFFSET + sizeof(struct reel__header_live) <= REEL__HEADER_SIZE,
               "live fields outside the header page");
_Static_assert(REEL__LIVE_OFFSET + sizeof(struct reel__header_live) <= REEL__PICTURES_OFFSET &&
               REEL__PICTURES_OFFSET + sizeof(struct reel__pictures_live) <= REEL__HEADER_SIZE,
               "pictures record outside the header page");
_Static_assert(offsetof(struct reel__header, index_offset) == 32, "header layout changed");
_Static_assert(offsetof(struct reel__header, source_path) == 256, "header layout changed");
_Static_assert(sizeof(struct reel__slot) == 128, "slot entry must be 128 bytes");
_Static_assert(offsetof(struct reel__slot, mutex) == 48, "slot layout changed");
_Static_assert(offsetof(struct reel__slot, seal) == 44, "slot layout changed");
_Static_assert(offsetof(struct reel__header_live, journal_count_check) == 24, "live header layout changed");
_Static_assert(sizeof(pthread_mutex_t) <= 80, "pthread_mutex_t too large for a slot entry");
_Static_assert(sizeof(struct reel_journal_entry) == 128, "journal entry must be 128 bytes");
_Static_assert(sizeof(struct reel_index_entry) == 32, "index entry must be 32 bytes");

#endif
