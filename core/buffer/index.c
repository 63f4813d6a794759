/*
 * The frame index: one entry per source frame, in presentation order, built
 * once by the demux-only scan and persisted in the buffer file so that a
 * reopen does not scan again.
 *
 * The index section is written by the coordinator alone while it scans;
 * index_complete in the live header says the scan finished and every entry
 * is durable.  Readers copy an entry out and check it before use, because
 * any process mapping the file could have scribbled on it.
 */
#include <errno.h>
#include <string.h>

#include "buffer/buffer-private.h"
#include "reel/error.h"

static bool entry_valid(const struct reel_index_entry *e)
{
	/* pts and dts may be anything (non-monotonic streams exist); pos is -1 or a byte offset. */
	return (e->flags & ~REEL_INDEX_KEY) == 0 && e->pos >= -1;
}

int reel_index_get(const struct reel_buffer *buffer, uint64_t frame,
                   struct reel_index_entry *ret_entry)
{
	struct reel_index_entry e;

	if (frame >= buffer->info.frame_count)
		return REEL_E_RANGE;
	memcpy(&e, &buffer->index[frame], sizeof(e));
	if (!entry_valid(&e))
		return REEL_E_INDEX;
	*ret_entry = e;
	return 0;
}

int reel_index_put(struct reel_buffer *buffer, uint64_t frame,
                   const struct reel_index_entry *entry)
{
	if (buffer->readonly)
		return -EBADF;
	if (frame >= buffer->info.frame_count)
		return REEL_E_RANGE;
	if (!entry || !entry_valid(entry))
		return -EINVAL;
	memcpy(&buffer->index[frame], entry, sizeof(*entry));
	return 0;
}

int reel_index_commit(struct reel_buffer *buffer)
{
	int r;

	if (buffer->readonly)
		return -EBADF;
	/*
	 * The entries must be on disk before the flag that vouches for them,
	 * or a crash between the two could leave a complete-looking index of
	 * zeros.
	 */
	r = reel__msync_range(buffer, buffer->index,
	                      (size_t)(buffer->info.frame_count * sizeof(struct reel_index_entry)));
	if (r < 0)
		return r;
	__atomic_store_n(&buffer->live->index_complete, 1u, __ATOMIC_RELEASE);
	return reel__msync_range(buffer, buffer->map, REEL__HEADER_SIZE);
}

bool reel_index_complete(const struct reel_buffer *buffer)
{
	/* Any value but 1 is damage or an unfinished scan; both mean "scan again". */
	return __atomic_load_n(&buffer->live->index_complete, __ATOMIC_ACQUIRE) == 1;
}
