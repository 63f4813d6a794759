/*
 * The frame index: one entry per source frame, in presentation order,
 * persisted in the buffer file so that a reopen does not scan again.
 *
 * The index section is written by the coordinator alone.  While it is
 * built, index_ready in the live header says how many leading entries are
 * final (stored with release after them), so that frames are served while
 * the rest of the file is scanned; index_complete says the scan finished
 * and every entry is durable, sealed by a CRC.  Readers copy an entry out
 * and check it before use, because any process mapping the file could have
 * scribbled on it.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "buffer/buffer-private.h"
#include "reel/error.h"

/* The scan keeps times within +-2^62 (core/media/scan.c), so sums of two never overflow. */
#define TS_MAX ((int64_t)1 << 62)

static bool ts_valid(int64_t ts)
{
	return ts >= -TS_MAX && ts <= TS_MAX;
}

static bool entry_valid(const struct reel_index_entry *e)
{
	/*
	 * pts and dts need not be monotonic (such streams exist) but lie
	 * within +-2^62, dts may be missing (INT64_MIN, libav's
	 * AV_NOPTS_VALUE); pos is -1 or a byte offset.  A damaged entry with a
	 * time out there is refused here rather than overflowing a reader.
	 */
	return (e->flags & ~REEL_INDEX_KEY) == 0 && e->pos >= -1 && ts_valid(e->pts) &&
	       (e->dts == INT64_MIN || ts_valid(e->dts));
}

uint64_t reel_buffer_frames(const struct reel_buffer *buffer)
{
	uint64_t total = __atomic_load_n(&buffer->live->frame_total, __ATOMIC_ACQUIRE);

	if (total == 0)
		return buffer->info.frame_count;
	if (total <= buffer->info.frame_count &&
	    __atomic_load_n(&buffer->live->index_complete, __ATOMIC_ACQUIRE) == 1)
		return total;
	return 0;
}

uint64_t reel_index_end(const struct reel_buffer *buffer)
{
	uint64_t n = reel_buffer_frames(buffer);

	return n ? n : buffer->info.frame_count;
}

uint64_t reel_index_ready(const struct reel_buffer *buffer)
{
	uint64_t ready;

	if (__atomic_load_n(&buffer->live->index_complete, __ATOMIC_ACQUIRE) == 1 &&
	    (ready = reel_buffer_frames(buffer)) > 0)
		return ready;
	ready = __atomic_load_n(&buffer->live->index_ready, __ATOMIC_ACQUIRE);
	/* Above the count is damage: nothing past the count is ever an entry. */
	return ready < buffer->info.frame_count ? ready : buffer->info.frame_count;
}

int reel_index_get(const struct reel_buffer *buffer, uint64_t frame,
                   struct reel_index_entry *ret_entry)
{
	struct reel_index_entry e;

	if (frame >= buffer->info.frame_count)
		return REEL_E_RANGE;
	if (frame >= reel_index_ready(buffer))
		return REEL_E_NOTYET;
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

/* CRC-32 of the first `entries` entries, in one pass (a few ms for an hour of video). */
static uint32_t index_crc(const struct reel_buffer *buffer, uint64_t entries)
{
	uint64_t len = entries * sizeof(struct reel_index_entry);
	const uint8_t *p = (const uint8_t *)buffer->index;
	uLong crc = crc32(0L, Z_NULL, 0);

	/* zlib takes a uInt length: feed it in pieces. */
	while (len > 0) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
		crc = crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return (uint32_t)crc;
}

int reel_index_publish(struct reel_buffer *buffer, uint64_t first,
                       const struct reel_index_entry *entries, uint64_t n)
{
	if (buffer->readonly)
		return -EBADF;
	if (first != __atomic_load_n(&buffer->live->index_ready, __ATOMIC_RELAXED))
		return -EINVAL;
	if (n > buffer->info.frame_count || first > buffer->info.frame_count - n)
		return REEL_E_RANGE;
	for (uint64_t i = 0; i < n; i++) {
		if (!entry_valid(&entries[i]))
			return -EINVAL;
		memcpy(&buffer->index[first + i], &entries[i], sizeof(entries[i]));
	}
	__atomic_store_n(&buffer->live->index_ready, first + n, __ATOMIC_RELEASE);
	return 0;
}

void reel_index_restart(struct reel_buffer *buffer)
{
	if (buffer->readonly)
		return;
	__atomic_store_n(&buffer->live->index_complete, 0u, __ATOMIC_RELEASE);
	/* Counted (or damaged): counted again; a count the header gives stays. */
	if (__atomic_load_n(&buffer->live->frame_total, __ATOMIC_RELAXED) != 0)
		__atomic_store_n(&buffer->live->frame_total, REEL__COUNTING, __ATOMIC_RELEASE);
	__atomic_store_n(&buffer->live->index_ready, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&buffer->live->index_error, 0, __ATOMIC_RELEASE);
}

void reel_index_set_failed(struct reel_buffer *buffer, int error)
{
	if (buffer->readonly || error >= 0)
		return;
	__atomic_store_n(&buffer->live->index_error, (uint64_t)(uint32_t)error, __ATOMIC_RELEASE);
}

int reel_index_failed(const struct reel_buffer *buffer)
{
	uint64_t v = __atomic_load_n(&buffer->live->index_error, __ATOMIC_ACQUIRE);
	int32_t e = (int32_t)(uint32_t)v;

	/* Only a negative error in the low half is one; anything else is damage. */
	return v >> 32 == 0 && e < 0 ? e : 0;
}

int reel_index_commit(struct reel_buffer *buffer)
{
	bool counting = __atomic_load_n(&buffer->live->frame_total, __ATOMIC_RELAXED) != 0;
	uint64_t total = buffer->info.frame_count;
	int r;

	if (buffer->readonly)
		return -EBADF;
	if (counting) {
		total = __atomic_load_n(&buffer->live->index_ready, __ATOMIC_RELAXED);
		if (total == 0 || total > buffer->info.frame_count)
			return REEL_E_INDEX;
	}
	/*
	 * The entries must be on disk before the flag that vouches for them,
	 * or a crash between the two could leave a complete-looking index of
	 * zeros.
	 */
	r = reel__msync_range(buffer, buffer->index,
	                      (size_t)(total * sizeof(struct reel_index_entry)));
	if (r < 0)
		return r;
	__atomic_store_n(&buffer->live->index_crc, index_crc(buffer, total), __ATOMIC_RELAXED);
	if (counting)
		__atomic_store_n(&buffer->live->frame_total, total, __ATOMIC_RELEASE);
	__atomic_store_n(&buffer->live->index_ready, total, __ATOMIC_RELEASE);
	__atomic_store_n(&buffer->live->index_error, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&buffer->live->index_complete, 1u, __ATOMIC_RELEASE);
	return reel__msync_range(buffer, buffer->map, REEL__HEADER_SIZE);
}

bool reel_index_complete(const struct reel_buffer *buffer)
{
	/* Any value but 1 is damage or an unfinished scan; both mean "scan again". */
	if (__atomic_load_n(&buffer->live->index_complete, __ATOMIC_ACQUIRE) != 1)
		return false;
	/*
	 * A damaged entry would seek the decoder to the wrong packet and put
	 * another frame's picture in a slot: the CRC sealed at commit catches
	 * it, and the index is scanned again.
	 */
	uint64_t total = reel_buffer_frames(buffer);

	return total > 0 &&
	       __atomic_load_n(&buffer->live->index_crc, __ATOMIC_RELAXED) == index_crc(buffer, total);
}

/* v * num / den rounded half away from zero, without overflow for any v within +-2^64 and int32 num. */
static int64_t rescale(__int128 v, int64_t num, int64_t den)
{
	__int128 p = (__int128)v * num;
	__int128 q = p >= 0 ? (p + den / 2) / den : -((-p + den / 2) / den);

	return q > INT64_MAX ? INT64_MAX : q < INT64_MIN ? INT64_MIN : (int64_t)q;
}

int reel_index_pts_of_time(const struct reel_buffer *b, int64_t us, int64_t *ret_pts)
{
	const struct reel_buffer_info *in = &b->info;
	struct reel_index_entry e0;
	int64_t num = (int64_t)in->time_base.den, den = (int64_t)in->time_base.num * 1000000;
	int r;

	if (in->time_base.num <= 0 || in->time_base.den <= 0)
		return REEL_E_HEADER;
	if (in->format.start_known) {
		/* One rounding of the sum, as ffmpeg offsets the stream by -(start + ss). */
		*ret_pts = rescale((__int128)in->format.start_us + us, num, den);
		return 0;
	}
	r = reel_index_get(b, 0, &e0);
	if (r < 0)
		return r;
	/* e0.pts is within +-2^62; the rescaled time may be anything: saturate. */
	{
		__int128 sum = (__int128)rescale(us, num, den) + e0.pts;

		*ret_pts = sum > INT64_MAX ? INT64_MAX : sum < INT64_MIN ? INT64_MIN : (int64_t)sum;
	}
	return 0;
}

double reel_index_seconds(const struct reel_buffer *b, uint64_t frame)
{
	const struct reel_buffer_info *in = &b->info;
	struct reel_index_entry e, e0;
	double tb;

	if (in->time_base.num <= 0 || in->time_base.den <= 0 || reel_index_get(b, frame, &e) < 0)
		return 0;
	tb = (double)in->time_base.num / in->time_base.den;
	if (in->format.start_known)
		return (double)e.pts * tb - (double)in->format.start_us / 1e6;
	if (reel_index_get(b, 0, &e0) < 0)
		return 0;
	return (double)(e.pts - e0.pts) * tb;
}

int reel_index_lower_bound(const struct reel_buffer *b, int64_t pts, uint64_t *ret)
{
	uint64_t ready = reel_index_ready(b), lo = 0, hi = ready;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		struct reel_index_entry e;
		int r = reel_index_get(b, mid, &e);
		if (r < 0)
			return r;
		if (e.pts < pts)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Past the entries written so far, the answer may lie in those still to come. */
	if (lo == ready && __atomic_load_n(&b->live->index_complete, __ATOMIC_ACQUIRE) != 1)
		return REEL_E_NOTYET;
	*ret = lo;
	return 0;
}

int reel_index_frame_at_time(const struct reel_buffer *b, int64_t us, uint64_t *ret_frame)
{
	int64_t pts;
	uint64_t f;
	int r = reel_index_pts_of_time(b, us, &pts);

	if (r == 0)
		r = reel_index_lower_bound(b, pts, &f);
	if (r < 0)
		return r;
	if (f >= reel_index_ready(b))
		return REEL_E_RANGE;
	*ret_frame = f;
	return 0;
}
