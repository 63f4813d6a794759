/*
 * The slot protocol: how processes share one frame slot of the buffer.
 *
 * See the block comment at the top of core/buffer/slot.c for the states and their
 * transitions.  In short: writers take the slot's robust process-shared
 * mutex and bracket every change of pixels with reel_slot_write_begin/end
 * (a seqlock); readers copy without a lock and keep the copy only when the
 * version they saw before and after is the same even number; waiters sleep
 * on the state word with a futex.
 */
#ifndef REEL_SLOT_H
#define REEL_SLOT_H

#include <stdbool.h>
#include <stdint.h>

struct reel_buffer;

enum reel_slot_state {
	REEL_SLOT_EMPTY = 0,    /* holds no frame */
	REEL_SLOT_DECODING = 1, /* the coordinator is filling it */
	REEL_SLOT_READY = 2,    /* holds frame + journal up to journal_seq */
	REEL_SLOT_BUSY = 3,     /* a stage is editing it in place */
	REEL_SLOT_STALE = 4,    /* contents untrustworthy: rebuild from source + journal */
	REEL_SLOT_ERROR = 5,    /* the frame could not be decoded; error says why */
	REEL_SLOT_STATE_COUNT
};

/* reel_slot_lock() returns this when the previous owner died holding the lock. */
#define REEL_SLOT_RECOVERED 1

/* A validated copy of a slot's table entry. */
struct reel_slot_info {
	int64_t frame;          /* -1 when none */
	uint32_t state;         /* enum reel_slot_state */
	uint32_t version;       /* seqlock version */
	uint64_t journal_seq;   /* journal entries applied up to this sequence */
	uint32_t audio_samples; /* samples per channel present */
	int32_t error;          /* reel error code when state is ERROR */
	uint32_t owner_pid;     /* pid holding the mutex, 0 when free */
};

const char *reel_slot_state_name(uint32_t state);

/*
 * Lock the slot's writer mutex, waiting at most timeout_ms (negative: forever).
 * Returns 0, REEL_SLOT_RECOVERED when the previous owner died (the slot is
 * then STALE and the mutex consistent again), -ETIMEDOUT, or -EINVAL/REEL_E_RANGE.
 * This and every other call that writes the table (unlock, set_contents,
 * set_state) refuse a read-only handle with -EBADF; write_begin/end ignore it.
 */
int reel_slot_lock(struct reel_buffer *buffer, uint32_t slot, int timeout_ms);
int reel_slot_unlock(struct reel_buffer *buffer, uint32_t slot);

/* Writers, holding the lock: bracket every change of the slot's bytes. */
void reel_slot_write_begin(struct reel_buffer *buffer, uint32_t slot);
void reel_slot_write_end(struct reel_buffer *buffer, uint32_t slot);

/* Readers, without the lock: a copy is good when read_validate() says so. */
uint32_t reel_slot_read_begin(const struct reel_buffer *buffer, uint32_t slot);
bool reel_slot_read_validate(const struct reel_buffer *buffer, uint32_t slot, uint32_t version);

/* Copy of the table entry, its state checked to be in range. */
int reel_slot_get(const struct reel_buffer *buffer, uint32_t slot, struct reel_slot_info *ret_info);

/* Writers, holding the lock: record what the slot now holds. */
int reel_slot_set_contents(struct reel_buffer *buffer, uint32_t slot, int64_t frame,
                           uint64_t journal_seq, uint32_t audio_samples);

/* Store a new state (and reason for ERROR) and wake every waiter. */
int reel_slot_set_state(struct reel_buffer *buffer, uint32_t slot, uint32_t state, int32_t error);

/*
 * After a crash or a power loss, for a coordinator that holds the file's
 * exclusive flock: initialise every slot mutex that was ever used again
 * (one left locked by a process that is gone, or by a page written back
 * while locked, would block its frame forever) and mark every slot left
 * mid-write (odd version, DECODING, BUSY, or a state out of range) STALE.
 * -EBUSY, resetting nothing, while a process of the stage table is alive.
 * *ret_reset (may be NULL) gets the number of slots that needed it.
 */
int reel_slot_reset_table(struct reel_buffer *buffer, uint32_t *ret_reset);

/*
 * Sleep while the slot's state equals `state`, at most timeout_ms.
 * Returns 0 when the state differs (or a wake-up came), -ETIMEDOUT.
 */
int reel_slot_wait(struct reel_buffer *buffer, uint32_t slot, uint32_t state, int timeout_ms);

#endif
