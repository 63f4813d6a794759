/*
 * A local index: the frames around a frame the background scan has not
 * reached yet, numbered from the sample table, so that a frame far into a
 * long mp4 is served by a keyframe seek instead of waiting for the scan.
 *
 * The sample table lists every sample in decode order with its sync flag.
 * When the groups of pictures are closed (no picture is shown across a
 * sync sample: the frames decoded before sync sample k are exactly the k
 * frames shown before it), the frame numbered f in presentation order lies
 * in the group that starts at the last sync sample k <= f, and the group's
 * frames are numbered k, k + 1, ... in the order of their pts.  That is
 * checked, not assumed: the group before, the group itself and the group
 * after are demuxed (real packets, their pts), and the numbering is taken
 * only when the three do not interleave in time and every later sample's
 * dts lies above the group.  Otherwise the caller waits for the scan.  When
 * the scan reaches the group, its entries are compared with these
 * (reel_media_local_check); they must be the same.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/media-private.h"
#include "reel/error.h"

/* The groups are demuxed for their times only: at most this many packets in all. */
#define MAX_LOCAL_PACKETS 4096

static int compare_pts(const void *pa, const void *pb)
{
	const struct reel_index_entry *a = pa, *b = pb;

	return a->pts < b->pts ? -1 : a->pts > b->pts;
}

/* The sync sample at or before i, walking back (i itself when it is one). */
static int64_t sync_at_or_before(AVStream *st, int64_t i)
{
	for (; i >= 0; i--) {
		const AVIndexEntry *e = avformat_index_get_entry(st, (int)i);
		if (!e)
			return -1;
		if (e->flags & AVINDEX_KEYFRAME)
			return i;
	}
	return -1;
}

/* The first sync sample after i, or n when none. */
static int64_t sync_after(AVStream *st, int64_t i, int64_t n)
{
	for (i++; i < n; i++) {
		const AVIndexEntry *e = avformat_index_get_entry(st, (int)i);
		if (!e)
			return n;
		if (e->flags & AVINDEX_KEYFRAME)
			return i;
	}
	return n;
}

bool reel_media_local_covers(const struct reel_media *media, uint64_t frame, uint64_t *ret_last)
{
	/* The island holds a group, and the sync frame after it (whose time ends the group). */
	if (!media->island || frame < media->island_first || frame > media->island_last)
		return false;
	*ret_last = media->island_last;
	return true;
}

int reel_media_local_index(struct reel_media *media, const struct reel_buffer *buffer,
                           uint64_t frame, uint64_t *ret_last)
{
	struct reel__video *v = &media->video;
	const struct reel_buffer_info *info = reel_buffer_info(buffer);
	struct reel_index_entry *got = NULL, *island;
	AVStream *st;
	int64_t n, k0, k1, k2, k3, start, want;
	int64_t max_before = INT64_MIN, max_group = INT64_MIN, min_after = INT64_MAX;
	uint64_t count = 0, group_n, island_n;
	unsigned skipped = 0;
	int ret;

	if (reel_media_local_covers(media, frame, ret_last))
		return 0;
	if (!v->fmt || v->stream < 0)
		return -ENOTSUP;
	st = v->fmt->streams[v->stream];
	n = avformat_index_get_entries_count(st);
	/* One sample per frame, none cut by an edit list: the table numbers the frames. */
	if (n <= 0 || (uint64_t)n != info->frame_count || frame >= (uint64_t)n)
		return -ENOTSUP;
	k1 = sync_at_or_before(st, (int64_t)frame);
	if (k1 < 0)
		return -ENOTSUP;
	k0 = k1 > 0 ? sync_at_or_before(st, k1 - 1) : -1;
	/* Samples before the first sync sample could not be checked: not numbered here. */
	if (k1 > 0 && k0 < 0)
		return -ENOTSUP;
	k2 = sync_after(st, (int64_t)frame, n);
	k3 = k2 < n ? sync_after(st, k2, n) : n;
	start = k0 >= 0 ? k0 : k1;
	want = k3 - start;
	if (want > MAX_LOCAL_PACKETS)
		return -ENOTSUP;
	for (int64_t i = start; i < k3; i++) {
		const AVIndexEntry *e = avformat_index_get_entry(st, (int)i);
		if (!e || (e->flags & AVINDEX_DISCARD_FRAME))
			return -ENOTSUP;
	}
	got = calloc((size_t)want, sizeof(*got));
	if (!got)
		return -ENOMEM;

	/* From here the demuxer moves: whatever the decoder was positioned on is gone. */
	v->fresh = false;
	v->positioned = false;
	v->draining = false;
	v->has_pending = false;
	av_frame_unref(v->pending);
	avcodec_flush_buffers(v->dec);
	ret = av_seek_frame(v->fmt, v->stream, avformat_index_get_entry(st, (int)start)->timestamp,
	                    AVSEEK_FLAG_BACKWARD);
	if (ret < 0) {
		ret = -ENOTSUP;
		goto out_free;
	}
	while ((int64_t)count < want) {
		AVPacket *pkt = v->pkt;
		const AVIndexEntry *e;

		ret = av_read_frame(v->fmt, pkt);
		if (ret < 0) {
			ret = ret == AVERROR(ENOMEM) ? -ENOMEM : -ENOTSUP;
			goto out_free;
		}
		if (pkt->stream_index != v->stream) {
			av_packet_unref(pkt);
			continue;
		}
		e = avformat_index_get_entry(st, (int)(start + (int64_t)count));
		/*
		 * The seek lands on a sync sample at or before the one asked for
		 * (mov seeks by its own shifted times): packets before it are
		 * skipped.  From it on, every packet must follow the table.
		 */
		if (count == 0 && e && pkt->pos != e->pos && skipped++ < MAX_LOCAL_PACKETS) {
			av_packet_unref(pkt);
			continue;
		}
		if (!reel__media_ts_ok(pkt->pts) || !e || pkt->pos != e->pos) {
			av_packet_unref(pkt);
			ret = -ENOTSUP;
			goto out_free;
		}
		got[count] = (struct reel_index_entry){
			.pts = pkt->pts,
			.dts = reel__media_ts_ok(pkt->dts) ? pkt->dts : AV_NOPTS_VALUE,
			.pos = pkt->pos,
			.size = pkt->size > 0 ? (uint32_t)pkt->size : 0,
			.flags = (pkt->flags & AV_PKT_FLAG_KEY) ? REEL_INDEX_KEY : 0,
		};
		count++;
		av_packet_unref(pkt);
	}
	for (int64_t i = start; i < k3; i++) {
		int64_t pts = got[i - start].pts;

		if (i < k1)
			max_before = FFMAX(max_before, pts);
		else if (i < k2)
			max_group = FFMAX(max_group, pts);
		else
			min_after = FFMIN(min_after, pts);
	}
	/*
	 * Closed: the group's sync frame is its first shown, after every frame
	 * of the group before; the group after starts after it; and every
	 * sample after that one decodes (dts) after the group's last frame.
	 */
	ret = -ENOTSUP;
	if (got[k1 - start].pts > max_before && (k2 == n || min_after > max_group) &&
	    (k2 == n || got[k2 - start].pts == min_after)) {
		if (k3 < n) {
			const AVIndexEntry *e = avformat_index_get_entry(st, (int)k3);
			if (!e || e->timestamp <= max_group)
				goto out_free;
		}
		/* The sync frame alone comes first (an equal pts would leave the order to the sort). */
		for (int64_t i = k1 + 1; i < k2; i++)
			if (got[i - start].pts <= got[k1 - start].pts)
				goto out_free;
	} else {
		goto out_free;
	}
	group_n = (uint64_t)(k2 - k1);
	island_n = group_n + (k2 < n);
	island = malloc((size_t)island_n * sizeof(*island));
	if (!island) {
		ret = -ENOMEM;
		goto out_free;
	}
	memcpy(island, got + (k1 - start), (size_t)group_n * sizeof(*island));
	qsort(island, (size_t)group_n, sizeof(*island), compare_pts);
	if (k2 < n)
		island[group_n] = got[k2 - start];
	free(media->island);
	media->island = island;
	media->island_first = (uint64_t)k1;
	media->island_count = island_n;
	media->island_last = (uint64_t)k2 - 1;
	media->island_checked = false;
	*ret_last = (uint64_t)k2 - 1;
	ret = 0;
out_free:
	free(got);
	return ret;
}

int reel_media_local_check(struct reel_media *media, const struct reel_buffer *buffer)
{
	if (!media->island || media->island_checked ||
	    reel_index_ready(buffer) < media->island_first + media->island_count)
		return 0;
	media->island_checked = true;
	for (uint64_t i = 0; i < media->island_count; i++) {
		struct reel_index_entry e, mine = media->island[i];

		if (reel_index_get(buffer, media->island_first + i, &e) < 0 || e.pts != mine.pts ||
		    e.pos != mine.pos)
			return -1;
	}
	return 1;
}
