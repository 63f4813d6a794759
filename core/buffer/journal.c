/*
 * The journal: fixed-size entries appended by the coordinator, the truth of
 * a session.
 *
 * There is a single writer, the coordinator (it is the sequencer), so an
 * append needs no lock: it writes entry `count`, makes it durable, and only
 * then publishes it by storing count + 1 (release) and making that durable
 * too.  A reader that loads the count (acquire) therefore sees whole
 * entries below it.  Every reader still validates what it copies out: the
 * CRC covers everything but the state, which set_state changes in place
 * with a single atomic store, and the count itself is checked against the
 * capacity because any process could have written it.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <zlib.h>

#include "buffer/buffer-private.h"
#include "reel/error.h"
#include "buffer/journal.h"
#include "reel/ops.h"

/* The raw count, or REEL_E_JOURNAL when it is above the capacity (damage). */
static int load_count(const struct reel_buffer *buffer, uint64_t *ret_count)
{
	uint64_t count = __atomic_load_n(&buffer->live->journal_count, __ATOMIC_ACQUIRE);

	if (count > buffer->info.journal_capacity)
		return REEL_E_JOURNAL;
	*ret_count = count;
	return 0;
}

static uint32_t entry_crc(const struct reel_journal_entry *entry)
{
	struct reel_journal_entry e = *entry;

	e.state = 0;
	e.crc = 0;
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)&e, sizeof(e));
}

/*
 * The checks an entry must pass apart from its state and crc; seq is the
 * sequence it has (or is about to get).  An undo or redo can only act on
 * an earlier entry, so a target is 0 (none) or below seq.
 */
static bool body_valid(const struct reel_buffer *buffer, const struct reel_journal_entry *e,
                       uint64_t seq)
{
	const struct reel_op_desc *d = reel_op_get(e->op);

	if (!d || e->flags != 0)
		return false;
	if (e->target >= seq)
		return false;
	/* Whatever acts on another entry names one; nothing else does. */
	if ((e->op == REEL_OP_UNDO || e->op == REEL_OP_REDO || e->op == REEL_OP_FAILED ||
	     e->op == REEL_OP_MEASURED) != (e->target != 0))
		return false;
	if (memchr(e->note, 0, sizeof(e->note)) == NULL)
		return false;
	if (e->first < 0 || e->first > e->last || (uint64_t)e->last >= buffer->info.frame_count)
		return false;
	for (int i = 0; i < 4; i++)
		if (!isfinite(e->params[i]))
			return false;
	return true;
}

uint64_t reel_journal_count(const struct reel_buffer *buffer)
{
	uint64_t count;

	/*
	 * A damaged count is reported as the capacity so that a caller that
	 * walks the entries meets the damage (every read then fails) instead
	 * of seeing an empty journal.
	 */
	if (load_count(buffer, &count) < 0)
		return buffer->info.journal_capacity;
	return count;
}

int reel_journal_append(struct reel_buffer *buffer, const struct reel_journal_entry *entry,
                        uint64_t *ret_seq)
{
	struct reel_journal_entry e;
	struct reel_journal_entry *slot;
	uint64_t count;
	int r;

	if (buffer->readonly)
		return -EBADF;
	if (!entry)
		return -EINVAL;
	r = load_count(buffer, &count);
	if (r < 0)
		return r;
	if (count == buffer->info.journal_capacity)
		return REEL_E_JOURNALFULL;
	e = *entry;
	if (!body_valid(buffer, &e, count + 1))
		return -EINVAL;
	e.seq = count + 1;
	/* The caller says how it starts: pending work, or in effect at once (a trim, an undo). */
	if (e.state != REEL_JOURNAL_APPLIED)
		e.state = REEL_JOURNAL_PENDING;
	e.crc = 0;
	e.crc = entry_crc(&e);

	slot = &buffer->journal[count];
	memcpy(slot, &e, sizeof(e));
	r = reel__msync_range(buffer, slot, sizeof(*slot));
	if (r < 0)
		return r;
	/* Published only once durable: a crash never leaves a counted entry unwritten. */
	__atomic_store_n(&buffer->live->journal_count, count + 1, __ATOMIC_RELEASE);
	r = reel__msync_range(buffer, buffer->map, REEL__HEADER_SIZE);
	if (r < 0)
		return r;
	if (ret_seq)
		*ret_seq = e.seq;
	return 0;
}

int reel_journal_read(const struct reel_buffer *buffer, uint64_t seq,
                      struct reel_journal_entry *ret_entry)
{
	struct reel_journal_entry e;
	uint64_t count;
	int r;

	r = load_count(buffer, &count);
	if (r < 0)
		return r;
	if (seq == 0 || seq > count)
		return REEL_E_RANGE;
	memcpy(&e, &buffer->journal[seq - 1], sizeof(e));
	if (e.seq != seq || e.crc != entry_crc(&e) || e.state >= REEL_JOURNAL_STATE_COUNT ||
	    !body_valid(buffer, &e, seq))
		return REEL_E_JOURNAL;
	if (ret_entry)
		*ret_entry = e;
	return 0;
}

int reel_journal_set_state(struct reel_buffer *buffer, uint64_t seq, uint32_t state)
{
	struct reel_journal_entry *slot;
	int r;

	if (buffer->readonly)
		return -EBADF;
	if (state >= REEL_JOURNAL_STATE_COUNT)
		return -EINVAL;
	/* Never touch an entry that does not check out: that would hide the damage. */
	r = reel_journal_read(buffer, seq, NULL);
	if (r < 0)
		return r;
	slot = &buffer->journal[seq - 1];
	__atomic_store_n(&slot->state, state, __ATOMIC_RELEASE);
	return reel__msync_range(buffer, slot, sizeof(*slot));
}
