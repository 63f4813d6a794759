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
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

	if (d <= 0 && prev_pts != AV_NOPTS_VALUE && prev_pts < pts)
		d = pts - prev_pts;
	if (d <= 0 && frame_rate.num > 0 && frame_rate.den > 0)
		d = av_rescale_q(1, (AVRational){ frame_rate.den, frame_rate.num },
		                 (AVRational){ time_base.num, time_base.den });
	if (d <= 0)
		d = 1;
	return pts + d;
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
		n = reel__media_sample_at(end, info->time_base, rate) -
		    reel__media_sample_at(start, info->time_base, rate);
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
	struct reel_index_entry *out;
	uint64_t count = 0, cap = 0;
	int64_t prev_pts = AV_NOPTS_VALUE, prev_duration = 0;
	uint32_t max_audio;
	int ret;

	if (!media || !ret_entries || !ret_count || !ret_max_audio_per_frame)
		return -EINVAL;
	v = &media->video;
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
		if (count == cap) {
			uint64_t ncap = cap ? cap * 2 : 1024;
			struct scan_entry *n;

			if (ncap > UINT32_MAX || ncap > SIZE_MAX / sizeof(*entries)) {
				av_packet_unref(pkt);
				ret = REEL_E_TOOLARGE;
				goto out_free;
			}
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
		se->e.pts = pkt->pts;
		se->e.dts = pkt->dts;
		if (se->e.pts == AV_NOPTS_VALUE)
			se->e.pts = pkt->dts;
		if (se->e.pts == AV_NOPTS_VALUE)
			se->e.pts = prev_pts == AV_NOPTS_VALUE ? 0 :
			            prev_pts + (prev_duration > 0 ? prev_duration : 1);
		se->e.pos = pkt->pos >= 0 ? pkt->pos : -1;
		se->e.size = pkt->size > 0 ? (uint32_t)pkt->size : 0;
		se->e.flags = (pkt->flags & AV_PKT_FLAG_KEY) ? REEL_INDEX_KEY : 0;
		se->duration = pkt->duration;
		se->order = count;
		prev_pts = se->e.pts;
		prev_duration = pkt->duration;
		count++;
		av_packet_unref(pkt);
	}
	if (count == 0) {
		ret = REEL_E_BADMEDIA;
		goto out_free;
	}
	qsort(entries, (size_t)count, sizeof(*entries), compare_scan_entries);
	max_audio = max_audio_per_frame(media, entries, count);

	out = malloc((size_t)count * sizeof(*out));
	if (!out) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (uint64_t i = 0; i < count; i++)
		out[i] = entries[i].e;
	free(entries);
	*ret_entries = out;
	*ret_count = count;
	*ret_max_audio_per_frame = max_audio;
	return 0;

out_free:
	free(entries);
	return ret;
}
