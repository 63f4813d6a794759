/*
 * The demux-only scan that builds the frame index: every packet of the
 * video stream, read with av_read_frame() and never decoded, becomes one
 * entry (pts, dts, byte position, size, keyframe flag), and the entries are
 * sorted into presentation order.  The entry count and pts therefore match
 * what `ffprobe -select_streams v -show_entries packet=pts` lists, sorted.
 *
 * A packet without a pts takes its dts (right for every codec without
 * reordering, which is where containers leave pts out); one without either
 * takes the previous packet's pts plus that packet's duration (or plus one
 * tick), so that every entry has a distinct, usable time.  Equal pts keep
 * their demux order.
 *
 * Packets flagged AV_PKT_FLAG_DISCARD (cut by an mp4 edit list, decoded
 * only as references) are left out, since the decoder never shows them.
 *
 * A truncated or damaged file yields the packets that could be demuxed
 * before the damage; a file without a single video packet is BADMEDIA.
 *
 * Hostile files: the entry count is bounded before memory is taken for it
 * (REEL_MEDIA_MAX_FRAMES, and one frame per REEL_MEDIA_MIN_FRAME_BYTES of
 * file), so a file claiming millions of tiny frames is refused once it
 * passes the bound, with at most bound * 48 bytes held.  A pts or dts
 * beyond +-2^62 is taken as missing, and every sum of times saturates, so
 * no timestamp a file claims makes the arithmetic overflow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/common.h>
#include <libavutil/mathematics.h>

#include "media/media-private.h"
#include "reel/error.h"

/* A slot holds at most this many seconds of audio: a long still frame keeps only its start. */
#define MAX_AUDIO_SECONDS 4

struct scan_entry {
	struct reel_index_entry e;
	int64_t duration;
	uint64_t order;
};

static int compare_scan_entries(const void *pa, const void *pb)
{
	const struct scan_entry *a = pa, *b = pb;

	if (a->e.pts != b->e.pts)
		return a->e.pts < b->e.pts ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

int64_t reel__media_sample_at(int64_t ts, struct reel_rational time_base, uint32_t rate)
{
	return av_rescale_q_rnd(ts, (AVRational){ time_base.num, time_base.den },
	                        (AVRational){ 1, (int)rate },
	                        AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
}

int64_t reel__media_last_end(int64_t pts, int64_t duration, int64_t prev_pts,
                             struct reel_rational frame_rate, struct reel_rational time_base)
{
	int64_t d = duration;

	/* The index may come from a damaged buffer: any pts is possible, so every step saturates. */
	if (d <= 0 && prev_pts != AV_NOPTS_VALUE && prev_pts < pts)
		d = av_sat_sub64(pts, prev_pts);
	if (d <= 0 && frame_rate.num > 0 && frame_rate.den > 0 &&
	    time_base.num > 0 && time_base.den > 0)
		d = av_rescale_q(1, (AVRational){ frame_rate.den, frame_rate.num },
		                 (AVRational){ time_base.num, time_base.den });
	if (d <= 0)
		d = 1;
	return av_sat_add64(pts, d);
}

static uint32_t max_audio_per_frame(const struct reel_media *media,
                                    const struct scan_entry *entries, uint64_t count)
{
	const struct reel_media_info *info = &media->info;
	uint32_t rate = info->sample_rate;
	int64_t max = 0, cap;

	if (rate == 0 || info->channels == 0)
		return 0;
	for (uint64_t i = 0; i < count; i++) {
		int64_t start = entries[i].e.pts, end, n;

		if (i + 1 < count)
			end = entries[i + 1].e.pts;
		else
			end = reel__media_last_end(start, entries[i].duration,
			                           i > 0 ? entries[i - 1].e.pts : AV_NOPTS_VALUE,
			                           info->frame_rate, info->time_base);
		/* Split points are rounded sample positions, exactly as the decoder splits. */
		start = reel__media_sample_at(start, info->time_base, rate);
		end = reel__media_sample_at(end, info->time_base, rate);
		/* Times too far out for a sample number have no sound the decoder would place. */
		if (!reel__media_ts_ok(start) || !reel__media_ts_ok(end))
			continue;
		n = end - start;
		if (n > max)
			max = n;
	}
	/*
	 * The decoder takes the last frame's duration from the decoded frame,
	 * which may differ slightly from the packet's: leave a little room.
	 */
	max += 16;
	cap = (int64_t)rate * MAX_AUDIO_SECONDS;
	return (uint32_t)(max < cap ? max : cap);
}

void reel_media_set_progress(struct reel_media *media, reel_progress_fn fn, void *userdata)
{
	media->progress = fn;
	media->progress_data = userdata;
}

int reel_media_scan(struct reel_media *media, struct reel_index_entry **ret_entries,
                    uint64_t *ret_count, uint32_t *ret_max_audio_per_frame)
{
	struct reel__video *v;
	struct scan_entry *entries = NULL;
	struct reel_index_entry *out, *shrunk;
	uint64_t count = 0, cap = 0, limit;
	int64_t prev_pts = AV_NOPTS_VALUE, prev_duration = 0;
	uint32_t max_audio;
	int ret;

	if (!media || !ret_entries || !ret_count || !ret_max_audio_per_frame)
		return -EINVAL;
	v = &media->video;
	media->why[0] = 0;
	limit = media->size / REEL_MEDIA_MIN_FRAME_BYTES;
	if (limit > REEL_MEDIA_MAX_FRAMES)
		limit = REEL_MEDIA_MAX_FRAMES;
	if (!v->fresh) {
		ret = reel__media_rewind_video(media);
		if (ret < 0)
			return ret;
	}
	/* From here the demuxer moves: whatever the decoder was positioned on is gone. */
	v->fresh = false;
	v->positioned = false;
	v->draining = false;
	v->has_pending = false;
	av_frame_unref(v->pending);

	for (uint64_t packets = 0;; packets++) {
		AVPacket *pkt = v->pkt;
		struct scan_entry *se;

		/* Every 1024 packets: a progress line, and a chance to give up (Ctrl-C). */
		if (media->progress && packets % 1024 == 0) {
			int64_t at = avio_tell(v->fmt->pb);
			if (media->progress(media->progress_data, at > 0 ? (uint64_t)at : 0, media->size)) {
				ret = -ECANCELED;
				goto out_free;
			}
		}
		ret = av_read_frame(v->fmt, pkt);
		if (ret == AVERROR(ENOMEM)) {
			ret = -ENOMEM;   /* not the end of the file: an index cut here would be wrong */
			goto out_free;
		}
		if (ret < 0)
			break;   /* the end, or damage: the index holds what came before */
		/*
		 * Packets an edit list cuts away are decoded for their references
		 * but never shown: they are not frames (ffprobe still lists them).
		 */
		if (pkt->stream_index != v->stream || (pkt->flags & AV_PKT_FLAG_DISCARD)) {
			av_packet_unref(pkt);
			continue;
		}
		if (count == limit) {
			reel__media_why(media->why, sizeof(media->why),
			                "more than %llu frames in a file of %zu bytes: reel takes at most "
			                "%llu, and one per %d bytes", (unsigned long long)limit,
			                media->size, (unsigned long long)REEL_MEDIA_MAX_FRAMES,
			                REEL_MEDIA_MIN_FRAME_BYTES);
			av_packet_unref(pkt);
			ret = REEL_E_TOOLARGE;
			goto out_free;
		}
		if (count == cap) {
			uint64_t ncap = cap ? cap * 2 : 1024;
			struct scan_entry *n;

			/* Never more than the limit: growth stops where refusal starts. */
			if (ncap > limit)
				ncap = limit;
			_Static_assert(REEL_MEDIA_MAX_FRAMES <= SIZE_MAX / sizeof(struct scan_entry),
			               "the frame limit fits the scan's array");
			n = realloc(entries, (size_t)ncap * sizeof(*entries));
			if (!n) {
				av_packet_unref(pkt);
				ret = -ENOMEM;
				goto out_free;
			}
			entries = n;
			cap = ncap;
		}
		se = &entries[count];
		memset(se, 0, sizeof(*se));
		/* Times out of +-2^62 are taken as missing; sums then cannot overflow. */
		se->e.pts = reel__media_ts_ok(pkt->pts) ? pkt->pts : AV_NOPTS_VALUE;
		se->e.dts = reel__media_ts_ok(pkt->dts) ? pkt->dts : AV_NOPTS_VALUE;
		if (se->e.pts == AV_NOPTS_VALUE)
			se->e.pts = se->e.dts;
		if (se->e.pts == AV_NOPTS_VALUE)
			se->e.pts = prev_pts == AV_NOPTS_VALUE ? 0 :
			            FFMIN(av_sat_add64(prev_pts, prev_duration > 0 ? prev_duration : 1),
			                  REEL__MEDIA_TS_MAX);
		se->e.pos = pkt->pos >= 0 ? pkt->pos : -1;
		se->e.size = pkt->size > 0 ? (uint32_t)pkt->size : 0;
		se->e.flags = (pkt->flags & AV_PKT_FLAG_KEY) ? REEL_INDEX_KEY : 0;
		se->duration = reel__media_ts_ok(pkt->duration) && pkt->duration > 0 ? pkt->duration : 0;
		se->order = count;
		prev_pts = se->e.pts;
		prev_duration = se->duration;
		count++;
		av_packet_unref(pkt);
	}
	if (count == 0) {
		reel__media_why(media->why, sizeof(media->why),
		                "damaged %s file: not one video packet could be read",
		                media->iformat ? media->iformat->name : "video");
		ret = REEL_E_BADMEDIA;
		goto out_free;
	}
	qsort(entries, (size_t)count, sizeof(*entries), compare_scan_entries);
	max_audio = max_audio_per_frame(media, entries, count);

	/*
	 * Packed in place (entry i goes to byte 32 i, which is never past
	 * scan entry i's 48 i), so that the peak stays one array, not two.
	 */
	_Static_assert(sizeof(struct reel_index_entry) <= sizeof(struct scan_entry),
	               "index entries pack into the scan's array");
	out = (struct reel_index_entry *)(void *)entries;
	for (uint64_t i = 0; i < count; i++) {
		struct reel_index_entry e = entries[i].e;
		out[i] = e;
	}
	entries = NULL;
	shrunk = realloc(out, (size_t)count * sizeof(*out));
	*ret_entries = shrunk ? shrunk : out;
	*ret_count = count;
	*ret_max_audio_per_frame = max_audio;
	return 0;

out_free:
	free(entries);
	return ret;
}
