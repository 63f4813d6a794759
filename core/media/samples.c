/*
 * The frame count from a container's sample table, without reading a
 * packet: mov and mp4 list every sample (position, size, dts, sync flag)
 * in their header, and libavformat has them as index entries once the
 * file is open.  The count is exact: one frame per sample, less the ones
 * an edit list cuts away (flagged discard, as their packets are), which is
 * what the demux scan counts too (scan.c).  The presentation times are not
 * in the entries (composition offsets are the demuxer's own), so the scan
 * still runs for them, in the background (core/coordinator/indexer.c).
 *
 * A fragmented mp4 adds samples as its fragments are read, so its table at
 * open is not the whole file: a top-level 'moof' box, or an 'mvex' in the
 * 'moov', sends it to the scan.  So does a table naming bytes past the end
 * of the file (a truncated file: the scan stops where the damage starts).
 *
 * Any other container gives no count before a scan; reel_media_count_bound()
 * gives an upper bound of it from the duration and frame rate the file
 * declares, for a buffer whose frames are counted in the background.
 */
#include <errno.h>
#include <string.h>

#include <libavutil/intreadwrite.h>

#include "media/media-private.h"
#include "reel/error.h"

/* A slot holds at most this many seconds of audio (as the scan's own bound). */
#define MAX_AUDIO_SECONDS 4
/* Frames a bound from the duration allows beyond twice the estimate (short clips, rounding). */
#define COUNT_MARGIN 1024

/*
 * The box at off inside [off, end): its type and extent.  false when the
 * header does not fit or the size is impossible.
 */
static bool box_at(const uint8_t *map, uint64_t off, uint64_t end, uint32_t *ret_type,
                   uint64_t *ret_header, uint64_t *ret_size)
{
	uint64_t size, header = 8;

	if (end - off < 8)
		return false;
	size = AV_RB32(map + off);
	*ret_type = AV_RL32(map + off + 4);
	if (size == 1) {
		if (end - off < 16)
			return false;
		size = AV_RB64(map + off + 8);
		header = 16;
	} else if (size == 0) {
		size = end - off;   /* to the end of the enclosing box */
	}
	if (size < header || size > end - off)
		return false;
	*ret_header = header;
	*ret_size = size;
	return true;
}

/* true when the file is a fragmented mp4 (or its boxes cannot be walked). */
static bool fragmented(const struct reel_media *media)
{
	uint64_t off = 0, end = media->size, header, size;
	uint32_t type;
	unsigned boxes = 0;

	while (off < end) {
		if (!box_at(media->map, off, end, &type, &header, &size))
			return true;
		if (type == MKTAG('m', 'o', 'o', 'f') || type == MKTAG('m', 'f', 'r', 'a'))
			return true;
		if (type == MKTAG('m', 'o', 'o', 'v')) {
			uint64_t in = off + header, in_end = off + size, h, sz;
			uint32_t t;

			while (in < in_end) {
				if (!box_at(media->map, in, in_end, &t, &h, &sz))
					return true;
				if (t == MKTAG('m', 'v', 'e', 'x'))
					return true;
				in += sz;
			}
		}
		/* A file of a million tiny top-level boxes is not walked to its end. */
		if (++boxes > 4096)
			return true;
		off += size;
	}
	return false;
}

/*
 * Whether the decoder shows the table's first sample: it is a sync sample,
 * and in H.264 an IDR picture.  A file remuxed from a recording picked up
 * part-way starts with samples no decoder can make, or at a recovery point
 * whose pictures come out only a refresh period later; the count is then
 * the scan's, which leaves those out (core/media/scan.c).  Only the first
 * sample's bytes are read.
 */
static bool starts_whole(struct reel_media *media, AVStream *st)
{
	const AVIndexEntry *e = avformat_index_get_entry(st, 0);
	const struct reel__mapio *io = &media->video.io;
	struct reel__h264_unit u;

	if (!e || !(e->flags & AVINDEX_KEYFRAME))
		return false;
	if (st->codecpar->codec_id != AV_CODEC_ID_H264)
		return true;
	if (!io->data || (uint64_t)e->pos >= io->size || (uint64_t)e->size > io->size - (uint64_t)e->pos)
		return false;
	reel__media_h264_look(st->codecpar, io->data + e->pos, (size_t)e->size, &u);
	return u.idr;
}

int reel_media_sample_table(struct reel_media *media, uint64_t *ret_count,
                            uint32_t *ret_max_audio_per_frame)
{
	AVStream *st;
	const AVIndexEntry *e;
	uint64_t count = 0, limit;
	int64_t prev_dts = AV_NOPTS_VALUE, max_gap = 0;
	uint32_t rate;
	int n;

	if (!media || !ret_count || !ret_max_audio_per_frame)
		return -EINVAL;
	if (!media->iformat || strcmp(media->iformat->name, "mov,mp4,m4a,3gp,3g2,mj2") != 0 ||
	    !media->video.fmt || media->video.stream < 0)
		return -ENOTSUP;
	st = media->video.fmt->streams[media->video.stream];
	n = avformat_index_get_entries_count(st);
	if (n <= 0 || fragmented(media))
		return -ENOTSUP;
	limit = media->size / REEL_MEDIA_MIN_FRAME_BYTES;
	if (limit > REEL_MEDIA_MAX_FRAMES)
		limit = REEL_MEDIA_MAX_FRAMES;
	for (int i = 0; i < n; i++) {
		e = avformat_index_get_entry(st, i);
		if (!e || e->pos < 0 || e->size < 0 || (uint64_t)e->pos > media->size ||
		    (uint64_t)e->size > media->size - (uint64_t)e->pos)
			return -ENOTSUP;   /* cut short: the scan finds where */
		if (e->flags & AVINDEX_DISCARD_FRAME)
			continue;
		if (!reel__media_ts_ok(e->timestamp))
			return -ENOTSUP;
		if (prev_dts != AV_NOPTS_VALUE && e->timestamp - prev_dts > max_gap)
			max_gap = e->timestamp - prev_dts;
		prev_dts = e->timestamp;
		if (++count > limit)
			return -ENOTSUP;   /* the scan refuses it with its reason */
	}
	if (count == 0 || !starts_whole(media, st))
		return -ENOTSUP;
	/*
	 * The sound of one frame interval, for sizing the slots before the
	 * presentation times are known: twice the longest gap between two
	 * samples' dts (reordering moves a frame's start by less than that in
	 * any stream libav writes), at most MAX_AUDIO_SECONDS.
	 */
	*ret_max_audio_per_frame = 0;
	rate = media->info.sample_rate;
	if (rate && media->info.channels) {
		int64_t gap = max_gap > 0 ? max_gap : 1, cap = (int64_t)rate * MAX_AUDIO_SECONDS, s;

		if (media->info.frame_rate.num > 0 && media->info.frame_rate.den > 0) {
			int64_t nominal = av_rescale_q(1, (AVRational){ media->info.frame_rate.den,
			                                                media->info.frame_rate.num },
			                               st->time_base);
			if (nominal > gap)
				gap = nominal;
		}
		s = av_rescale_q_rnd(gap, st->time_base, (AVRational){ 1, (int)rate },
		                     AV_ROUND_UP | AV_ROUND_PASS_MINMAX);
		s = s > cap / 2 ? cap : 2 * s + 16;
		*ret_max_audio_per_frame = (uint32_t)(s < cap ? s : cap);
	}
	*ret_count = count;
	return 0;
}

/* A frame rate, when the stream gives a believable one. */
static double stream_rate(const AVStream *st)
{
	double avg = st->avg_frame_rate.den > 0 ? av_q2d(st->avg_frame_rate) : 0;
	double real = st->r_frame_rate.den > 0 ? av_q2d(st->r_frame_rate) : 0;
	double rate = avg > real ? avg : real;

	return rate > 0 && rate <= 1000 ? rate : 0;
}

int reel_media_count_bound(struct reel_media *media, uint64_t *ret_bound,
                           uint32_t *ret_max_audio_per_frame)
{
	const AVFormatContext *fmt;
	const AVStream *st;
	double seconds = 0, rate, bound;
	uint64_t limit;

	if (!media || !ret_bound || !ret_max_audio_per_frame)
		return -EINVAL;
	if (!media->video.fmt || media->video.stream < 0)
		return -ENOTSUP;
	/*
	 * An mp4 whose sample table was not taken (fragmented, cut short, or
	 * claiming more frames than reel takes) is the scan's to judge first.
	 */
	if (!media->iformat || strcmp(media->iformat->name, "mov,mp4,m4a,3gp,3g2,mj2") == 0)
		return -ENOTSUP;
	fmt = media->video.fmt;
	st = fmt->streams[media->video.stream];
	/* A duration guessed from the bit rate is no bound of anything. */
	if (fmt->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE)
		return -ENOTSUP;
	if (st->duration > 0 && st->duration != AV_NOPTS_VALUE && st->time_base.num > 0 &&
	    st->time_base.den > 0)
		seconds = (double)st->duration * av_q2d(st->time_base);
	else if (fmt->duration > 0 && fmt->duration != AV_NOPTS_VALUE)
		seconds = (double)fmt->duration / AV_TIME_BASE;
	rate = stream_rate(st);
	if (!(seconds > 0) || seconds > 1e7 || rate == 0)
		return -ENOTSUP;
	limit = media->size / REEL_MEDIA_MIN_FRAME_BYTES;
	if (limit > REEL_MEDIA_MAX_FRAMES)
		limit = REEL_MEDIA_MAX_FRAMES;
	/* Twice what the duration and the fastest rate the stream claims give, and some. */
	bound = 2 * seconds * rate + COUNT_MARGIN;
	*ret_bound = bound < (double)limit ? (uint64_t)bound : limit;
	/*
	 * The sound of one frame interval, for sizing the slots before any
	 * frame's time is known: four nominal intervals, at least a second (a
	 * frame shown longer than that keeps the start of its sound), at most
	 * MAX_AUDIO_SECONDS.
	 */
	*ret_max_audio_per_frame = 0;
	if (media->info.sample_rate && media->info.channels) {
		double s = 4.0 * media->info.sample_rate / rate + 16;

		if (s < media->info.sample_rate)
			s = media->info.sample_rate;
		if (s > (double)media->info.sample_rate * MAX_AUDIO_SECONDS)
			s = (double)media->info.sample_rate * MAX_AUDIO_SECONDS;
		*ret_max_audio_per_frame = (uint32_t)s;
	}
	return 0;
}
