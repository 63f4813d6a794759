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

#include <stdint.h>

struct reel_buffer;

enum reel_journal_state {
	REEL_JOURNAL_PENDING = 0,
	REEL_JOURNAL_APPLIED = 1,
	REEL_JOURNAL_UNDONE = 2,
	REEL_JOURNAL_STATE_COUNT
};

/* The on-disk entry; 128 bytes, pinned by _Static_assert in core/layout.h. */
struct reel_journal_entry {
	uint64_t seq;           /* 1-based; entry i holds seq i + 1 */
	uint32_t op;            /* enum reel_op (msg.h) */
	uint32_t state;         /* enum reel_journal_state */
	int64_t first, last;    /* frame range, inclusive */
	uint64_t target;        /* undo/redo: the sequence acted upon */
	double params[4];
	uint32_t flags;
	uint32_t crc;           /* CRC-32 of the entry with state and crc zeroed */
	uint8_t reserved[48];
};

/* Number of entries appended so far (validated against the capacity). */
uint64_t reel_journal_count(const struct reel_buffer *buffer);

/*
 * Append entry (its seq, state and crc are filled in) and msync it before
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

#endif
