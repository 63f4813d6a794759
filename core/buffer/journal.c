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
 *
 * The count is not the only record of where the journal ends: the entries
 * are.  Entry i holds seq i + 1 and a CRC, and nothing past the end was
 * ever written (the section is zero when made).  reel_journal_scan() walks
 * the entries in order to the first that does not check out, as PostgreSQL
 * and SQLite find the end of their logs, and uses the count, stored with
 * its complement beside it, only as a cross-check: so one damaged byte in
 * the count loses nothing, and a damaged entry is found at its own position
 * with nothing after it replayed.
 *
 * A failed msync is latched (journal_error): once the kernel has said it
 * could not write the journal back, the pages it dropped may be clean in
 * the cache with the disk behind them (the fsyncgate lesson), so every
 * later append and state change fails with the same error.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
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

/* The count and its complement agree. */
static bool count_checks_out(const struct reel_buffer *buffer, uint64_t count)
{
	return __atomic_load_n(&buffer->live->journal_count_check, __ATOMIC_ACQUIRE) == ~count;
}

static void store_count(struct reel_buffer *buffer, uint64_t count)
{
	/* Both words are on the header page, made durable together by the caller. */
	__atomic_store_n(&buffer->live->journal_count_check, ~count, __ATOMIC_RELAXED);
	__atomic_store_n(&buffer->live->journal_count, count, __ATOMIC_RELEASE);
}

static bool entry_zero(const struct reel_journal_entry *e)
{
	static const struct reel_journal_entry zero;

	return memcmp(e, &zero, sizeof(zero)) == 0;
}

/* An msync of the journal or the header that failed stays failed. */
static int durable(struct reel_buffer *buffer, const void *addr, size_t len)
{
	int r;

	if (buffer->journal_error)
		return buffer->journal_error;
	r = reel__msync_range(buffer, addr, len);
	if (r < 0 && r != -EINVAL)
		buffer->journal_error = r;
	return r;
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
	if (buffer->journal_error)
		return buffer->journal_error;
	r = load_count(buffer, &count);
	if (r < 0)
		return r;
	/*
	 * The cross-check before writing: a count that disagrees with its
	 * complement, or that points at an entry already written, would make
	 * this append overwrite an edit.  The coordinator repairs the count at
	 * open (reel_journal_scan); damage after that stops the appends.
	 */
	if (!count_checks_out(buffer, count) ||
	    (count < buffer->info.journal_capacity && !entry_zero(&buffer->journal[count])))
		return REEL_E_JOURNAL;
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
	r = durable(buffer, slot, sizeof(*slot));
	if (r < 0)
		return r;
	/* Published only once durable: a crash never leaves a counted entry unwritten. */
	store_count(buffer, count + 1);
	r = durable(buffer, buffer->map, REEL__HEADER_SIZE);
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
	if (buffer->journal_error)
		return buffer->journal_error;
	/* Never touch an entry that does not check out: that would hide the damage. */
	r = reel_journal_read(buffer, seq, NULL);
	if (r < 0)
		return r;
	slot = &buffer->journal[seq - 1];
	__atomic_store_n(&slot->state, state, __ATOMIC_RELEASE);
	return durable(buffer, slot, sizeof(*slot));
}

/* Entry seq (1-based) checks out in its place. */
static bool entry_ok(const struct reel_buffer *buffer, uint64_t seq)
{
	struct reel_journal_entry e;

	memcpy(&e, &buffer->journal[seq - 1], sizeof(e));
	return e.seq == seq && e.crc == entry_crc(&e) && e.state < REEL_JOURNAL_STATE_COUNT &&
	       body_valid(buffer, &e, seq);
}

int reel_journal_scan(const struct reel_buffer *buffer, struct reel_journal_scan *ret_scan)
{
	const uint64_t cap = buffer->info.journal_capacity;
	struct reel_journal_scan sc;
	uint64_t raw;

	if (!ret_scan)
		return -EINVAL;
	memset(&sc, 0, sizeof(sc));
	raw = __atomic_load_n(&buffer->live->journal_count, __ATOMIC_ACQUIRE);
	sc.count = raw;
	sc.count_trusted = raw <= cap && count_checks_out(buffer, raw);
	while (sc.valid < cap && entry_ok(buffer, sc.valid + 1))
		sc.valid++;
	/* The last entry anything was written to: past it the section is as made. */
	for (uint64_t i = cap; i > sc.valid; i--) {
		if (!entry_zero(&buffer->journal[i - 1])) {
			sc.written = i;
			break;
		}
	}
	if (sc.written < sc.valid)
		sc.written = sc.valid;
	/*
	 * Damage: something written after the valid prefix (a bad entry, with
	 * or without entries after it), or a trusted count that says entries
	 * are missing.  A trusted count one below the prefix is the window
	 * between an entry made durable and its count: the entry is whole and
	 * counts.  An untrusted count is only reported (count_repair).
	 */
	if (sc.written > sc.valid || (sc.count_trusted && raw > sc.valid)) {
		sc.damaged = sc.valid + 1;
		*ret_scan = sc;
		return REEL_E_JOURNAL;
	}
	sc.count_repair = raw != sc.valid || !count_checks_out(buffer, raw);
	*ret_scan = sc;
	return 0;
}

int reel_journal_repair_count(struct reel_buffer *buffer, uint64_t count)
{
	if (buffer->readonly)
		return -EBADF;
	if (count > buffer->info.journal_capacity)
		return -EINVAL;
	store_count(buffer, count);
	return durable(buffer, buffer->map, REEL__HEADER_SIZE);
}

int reel_journal_cut(struct reel_buffer *buffer, uint64_t keep, int save_fd,
                     uint64_t *ret_saved)
{
	const uint64_t cap = buffer->info.journal_capacity;
	uint64_t end = keep;
	const uint8_t *p;
	size_t len;
	int r;

	if (buffer->readonly)
		return -EBADF;
	if (keep > cap)
		return -EINVAL;
	for (uint64_t i = cap; i > keep; i--) {
		if (!entry_zero(&buffer->journal[i - 1])) {
			end = i;
			break;
		}
	}
	/* Saved first, durably: nothing leaves the buffer before it is somewhere else. */
	p = (const uint8_t *)&buffer->journal[keep];
	len = (size_t)((end - keep) * sizeof(struct reel_journal_entry));
	while (len > 0) {
		ssize_t w = write(save_fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t)w;
	}
	if (end > keep && fsync(save_fd) < 0)
		return -errno;
	if (end > keep) {
		memset(&buffer->journal[keep], 0, (size_t)((end - keep) * sizeof(struct reel_journal_entry)));
		r = durable(buffer, &buffer->journal[keep],
		            (size_t)((end - keep) * sizeof(struct reel_journal_entry)));
		if (r < 0)
			return r;
	}
	r = reel_journal_repair_count(buffer, keep);
	if (r < 0)
		return r;
	if (ret_saved)
		*ret_saved = end - keep;
	return 0;
}
