/*
 * The journal: the append-only list of accepted commands, and the truth of
 * a session.  Pixels in the slots are a cache of "source frame + every
 * applied, not undone, journal entry that covers it, in order".
 *
 * Only the coordinator appends (it is the sequencer), so appends need no
 * lock; every reader validates each entry it copies out.
 */
#ifndef REEL_JOURNAL_H
#define REEL_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

struct reel_buffer;

/*
 * What became of a command, for people and tools to read.  It is a cache:
 * what is in effect follows from the entries themselves (an undo, redo or
 * failed entry names the command it acts on), see core/edit/edits.h.
 */
enum reel_journal_state {
	REEL_JOURNAL_PENDING = 0,   /* accepted, not applied to every resident frame yet */
	REEL_JOURNAL_APPLIED = 1,   /* in effect */
	REEL_JOURNAL_UNDONE = 2,    /* undone (a redo may bring it back) */
	REEL_JOURNAL_FAILED = 3,    /* a stage could not apply it; never in effect again */
	REEL_JOURNAL_STATE_COUNT
};

#define REEL_JOURNAL_NOTE_MAX 32

/* The on-disk entry; 128 bytes, pinned by _Static_assert in layout.h. */
struct reel_journal_entry {
	uint64_t seq;           /* 1-based; entry i holds seq i + 1 */
	uint32_t op;            /* enum reel_op (msg.h) */
	uint32_t state;         /* enum reel_journal_state */
	int64_t first, last;    /* frame range, inclusive */
	uint64_t target;        /* undo, redo, failed, measured: the sequence acted upon */
	double params[4];
	uint32_t flags;         /* 0 */
	uint32_t crc;           /* CRC-32 of the entry with state and crc zeroed */
	int64_t time_ns;        /* wall clock when the coordinator accepted it */
	uint64_t key;           /* the client's idempotency key (0 none): a retry gets this entry's answer */
	char note[REEL_JOURNAL_NOTE_MAX];   /* failed: why, NUL-terminated; else empty */
};

/* Number of entries appended so far (validated against the capacity). */
uint64_t reel_journal_count(const struct reel_buffer *buffer);

/*
 * Append entry (its seq and crc are filled in; its state is APPLIED when the
 * caller says so, PENDING otherwise) and msync it before
 * returning.  *ret_seq gets the new sequence.  REEL_E_JOURNALFULL when full;
 * -EINVAL for an unknown op, a frame range outside the buffer, a parameter
 * that is not finite, or a target that is not 0 or an earlier sequence;
 * -EBADF on a read-only handle (as set_state).
 */
int reel_journal_append(struct reel_buffer *buffer, const struct reel_journal_entry *entry,
                        uint64_t *ret_seq);

/* Copy entry seq out, validated (crc, seq, range, state); REEL_E_JOURNAL when damaged. */
int reel_journal_read(const struct reel_buffer *buffer, uint64_t seq,
                      struct reel_journal_entry *ret_entry);

/* Change the state of entry seq, durably. */
int reel_journal_set_state(struct reel_buffer *buffer, uint64_t seq, uint32_t state);

/* Where the entries say the journal ends (reel_journal_scan). */
struct reel_journal_scan {
	uint64_t count;         /* the live count as stored: any value, it may be damaged */
	bool count_trusted;     /* the count is within the capacity and agrees with its check word */
	bool count_repair;      /* no damage, but the count must be set to `valid` */
	uint64_t valid;         /* entries 1..valid check out, in order */
	uint64_t damaged;       /* 0, or the first entry that does not: nothing from it on counts */
	uint64_t written;       /* the last position anything was written to (>= valid) */
};

/*
 * Walk the journal in order to find its end.  0 when the entries end
 * cleanly at ret_scan->valid (the count may still need repairing:
 * count_repair); REEL_E_JOURNAL when entry ret_scan->damaged is damaged
 * or missing, entries after it unread.  ret_scan is filled either way.
 */
int reel_journal_scan(const struct reel_buffer *buffer, struct reel_journal_scan *ret_scan);

/* Store count (and its check word) durably; for the coordinator, after a clean scan. */
int reel_journal_repair_count(struct reel_buffer *buffer, uint64_t count);

/*
 * Keep entries 1..keep and take the rest out of the journal: their raw
 * bytes (up to the last position written) are written to save_fd and
 * synced first, then zeroed in the buffer, and the count set to keep.
 * *ret_saved (may be NULL) gets how many entry positions were saved.  The
 * caller owns save_fd.
 */
int reel_journal_cut(struct reel_buffer *buffer, uint64_t keep, int save_fd, uint64_t *ret_saved);

#endif
