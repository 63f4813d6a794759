/*
 * The demux-only scan that builds the frame index: every packet of the
 * video stream, read with av_read_frame() and never decoded, becomes one
 * entry (pts, dts, byte position, size, keyframe flag), and the entries are
 * sorted into presentation order.  The entry count and pts therefore match
 * what `ffprobe -select_streams v -show_entries packet=pts` lists, sorted.
 *
 * A packet without a pts takes its dts (right for every codec without
 * reordering); one without either takes the previous packet's pts plus
 * that packet's duration (or plus one tick), so that every entry has a
 * distinct, usable time.  Equal pts keep their demux order.  In a stream
 * that reorders (its decoder has a delay, or a pts above its dts was
 * seen), the times are those the decoder will give the pictures, which is
 * how the decoded frames are found in the index:
 * - H.264 or HEVC that starts without pts (AVI: decode times only) takes,
 *   for the picture shown k-th, the dts of packet k + delay (the decoder
 *   shows it when that packet goes in); keyframes keep their place, as
 *   they do in closed groups of pictures (an IDR's);
 * - otherwise a packet without pts is a reference picture whose pts the
 *   container left out (a PES that starts two pictures carries one pts:
 *   DVDs, .mpg files; AVI with MPEG-4 part 2; libav fills in those of
 *   B-pictures itself): MPEG shows it when the next reference picture is
 *   decoded, so it takes that picture's dts.
 * The last pictures still waiting take the last time plus a frame each.
 *
 * Packets flagged AV_PKT_FLAG_DISCARD (cut by an mp4 edit list, decoded
 * only as references) are left out, since the decoder never shows them.
 *
 * A truncated or damaged file yields the packets that could be demuxed
 * before the damage; a file without a single video packet is BADMEDIA.
 * A file cut in the middle of a group of pictures (a recording, a stream
 * picked up part-way) starts with pictures whose references are not in
 * it: the index starts at the first keyframe and leaves out the pictures
 * shown before it, which no decoder can make (ffmpeg drops them too).  In
 * H.264 without an IDR picture there (intra refresh), that keyframe is a
 * recovery point, and the decoder shows nothing until the pictures are
 * whole again: a decoder is asked where that is (core/media/recovery.c),
 * and the index starts there.  An mp4's sample table counts every sample,
 * so there every packet stays.
 *
 * A file whose clock starts again part-way (MPEG-TS or program streams
 * joined with cat, or from a restarted recorder: the dts goes back by more
 * than a tenth of a second, reel__media_clock_restarts) ends there:
 * numbered by pts, the pictures after it would interleave with those
 * before.  The scan says so in reel_media_scan_note().
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

/*
 * Whether the scan may read the file without its bytes: an mp4 or mov
 * whose sample table is whole (not fragmented, nothing past the end: the
 * demuxer read every table at open) takes each sample's size and times
 * from the tables and hands its bytes over untouched, so the scan need not
 * copy them, nor fault in their pages (which made a cold 2.4 GB file take
 * seconds).  Demuxers that parse inside blocks (matroska's lacing,
 * MPEG-TS, an mp4's fragments) always get the bytes.  A parser libav runs
 * on the sound's packets sees garbage; those packets are dropped anyway.
 */
static bool tables_whole(struct reel_media *media)
{
	uint64_t count;
	uint32_t audio;

	return reel_media_sample_table(media, &count, &audio) == 0;
}

/* More entries than this waiting to become final: the rest is published at the end. */
#define MAX_PENDING 1024
/* Packets looked through for a first keyframe before every packet is taken after all. */
#define GATE_PACKETS 1024

/* The deepest decoder delay taken for a stream without pts (H.264 allows 16 frames). */
#define MAX_WAITING 16

struct scan_run {
	struct scan_entry *entries;   /* pending (progressive) or every entry so far */
	uint64_t count, cap, limit, order;
	uint64_t published;           /* progressive: entries handed to the sink */
	int64_t last_published_pts;
	int64_t watermark;            /* every packet still to come has dts >= this */
	bool dts_usable;              /* dts has grown monotonically so far */
	int64_t max_dts;              /* the highest dts read (reel__media_clock_restarts) */
	/*
	 * Pictures without pts in a stream that reorders (see the top of this
	 * file): their pending entries, by order, oldest first, until a later
	 * packet gives their time.
	 */
	bool started;                 /* the first video packet was seen */
	bool reorders;                /* the stream has a decoder delay, or a pts above its dts was seen */
	bool anchors;                 /* reference pictures without pts are given the next one's dts */
	int shift;                    /* > 0: no pts from the start; each takes the dts this far on */
	unsigned nwaiting;
	int64_t waiting[MAX_WAITING];
	int64_t max_pts;              /* the highest pts given so far, INT64_MIN before one */
	int64_t step;                 /* the last rise of the dts: a frame, for the times past the end */
	int64_t last_dts;             /* the previous packet's, AV_NOPTS_VALUE before one */
	bool gate;                    /* still before the first keyframe: packets are left out */
	unsigned gated;               /* how many were */
	int64_t first_key_pts;        /* AV_NOPTS_VALUE: no leading pictures to leave out */
	bool at_first_key;            /* the packet in hand is the first keyframe */
	bool probed;                  /* a decoder was asked where its pictures begin (recovery.c) */
	int64_t first_shown_pts;      /* AV_NOPTS_VALUE: no pictures the decoder skips to leave out */
	const struct reel_media_scan_sink *sink;   /* NULL: collect every entry */
	struct reel_index_entry *out; /* progressive: room for one publication */
	size_t outcap;
};

static int grow(struct reel_media *media, struct scan_run *run)
{
	uint64_t ncap = run->cap ? run->cap * 2 : 1024;
	struct scan_entry *n;

	(void)media;
	/* Never more than the limit: growth stops where refusal starts. */
	if (ncap > run->limit)
		ncap = run->limit;
	_Static_assert(REEL_MEDIA_MAX_FRAMES <= SIZE_MAX / sizeof(struct scan_entry),
	               "the frame limit fits the scan's array");
	n = realloc(run->entries, (size_t)ncap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	run->entries = n;
	run->cap = ncap;
	return 0;
}

/*
 * Hand the sink every pending entry whose pts lies below the watermark (or
 * all of them at the end), in presentation order.  They are final: every
 * packet still to come has a dts at or above the watermark, and a pts at
 * or above its dts (libav's mov demuxer shifts dts to keep it so; a packet
 * that breaks it anyway is caught in scan_add).
 */
static int publish(struct scan_run *run, bool all)
{
	uint64_t k = 0;
	int r;

	if (run->count == 0)
		return 0;
	qsort(run->entries, (size_t)run->count, sizeof(*run->entries), compare_scan_entries);
	while (k < run->count && (all || run->entries[k].e.pts < run->watermark))
		k++;
	if (k == 0)
		return 0;
	if (k > run->outcap) {
		struct reel_index_entry *n = realloc(run->out, (size_t)k * sizeof(*n));
		if (!n)
			return -ENOMEM;
		run->out = n;
		run->outcap = (size_t)k;
	}
	for (uint64_t i = 0; i < k; i++)
		run->out[i] = run->entries[i].e;
	r = run->sink->publish(run->sink->userdata, run->out, k);
	if (r < 0)
		return r;
	run->last_published_pts = run->entries[k - 1].e.pts;
	run->published += k;
	memmove(run->entries, run->entries + k, (size_t)(run->count - k) * sizeof(*run->entries));
	run->count -= k;
	return 0;
}

/*
 * Give the oldest waiting picture its time (see the top of this file).  A
 * time below what was handed out already would renumber served frames:
 * the file is damaged there.
 */
static int resolve_oldest(struct scan_run *run, int64_t pts)
{
	int64_t order = run->waiting[0];

	run->nwaiting--;
	memmove(run->waiting, run->waiting + 1, run->nwaiting * sizeof(run->waiting[0]));
	/* From the end: the waiting entries are among the last few (or, sorted, the last of all). */
	for (uint64_t i = run->count; i-- > 0;) {
		struct scan_entry *se = &run->entries[i];

		if ((int64_t)se->order != order)
			continue;
		if (run->published > 0 && pts < run->last_published_pts)
			return REEL_E_INDEX;
		se->e.pts = pts;
		if (pts > run->max_pts)
			run->max_pts = pts;
		return 0;
	}
	return 0;
}

/* At the end: the pictures still waiting are shown after every other, a frame apart. */
static int resolve_last(struct scan_run *run)
{
	while (run->nwaiting > 0) {
		int r = resolve_oldest(run, run->max_pts == INT64_MIN ? 0 :
		                            FFMIN(av_sat_add64(run->max_pts, run->step),
		                                  REEL__MEDIA_TS_MAX));
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Where a packet without pts gets its time from, decided at the first
 * packet: a stream with a decoder delay that starts without pts (AVI)
 * takes the dts `delay` packets on, the time the decoder gives the picture
 * it shows then; one that has pts gets only its reference pictures'
 * missing times filled (program streams).  Then the packet's own part:
 * 1 when it waits for its time (its pts is REEL__MEDIA_TS_MAX until then).
 */
static int place_pts(struct reel_media *media, struct scan_run *run, struct scan_entry *se)
{
	bool have_pts = se->e.pts != AV_NOPTS_VALUE, have_dts = se->e.dts != AV_NOPTS_VALUE;
	bool anchor;
	int r = 0;

	if (!run->started) {
		const AVStream *st = media->video.fmt->streams[media->video.stream];
		int delay = st->codecpar->video_delay;

		run->started = true;
		run->reorders = delay > 0;
		/*
		 * With a delay of one picture (MPEG-1, -2, -4 part 2) libav fills in
		 * the B-pictures' pts itself, and the reference pictures are told
		 * apart by their missing one.  Deeper delays (H.264, HEVC) get none:
		 * a stream that starts without any takes the shifted dts, and one
		 * with some missing keeps the dts, as before.
		 */
		run->anchors = delay <= 1;
		run->shift = !have_pts && have_dts && delay > 1 ?
		             (delay < MAX_WAITING ? delay : MAX_WAITING) : 0;
	}
	if (have_pts && have_dts && se->e.pts > se->e.dts)
		run->reorders = true;
	if (run->shift) {
		if (!have_dts)
			return 0;
		if (run->nwaiting == (unsigned)run->shift)
			r = resolve_oldest(run, se->e.dts);
		se->e.pts = AV_NOPTS_VALUE;
		anchor = true;
	} else {
		/* A reference picture: the one before it is shown when it is decoded. */
		anchor = have_dts && run->anchors && (have_pts ? se->e.pts > se->e.dts : run->reorders);
		if (anchor && run->nwaiting > 0)
			r = resolve_oldest(run, se->e.dts);
	}
	if (r < 0) {
		reel__media_why(media->why, sizeof(media->why),
		                "a picture's time lies before frames already indexed");
		return r;
	}
	if (se->e.pts == AV_NOPTS_VALUE && anchor && run->reorders) {
		/* Sorted after every pending entry, so not handed out, until its time is known. */
		se->e.pts = REEL__MEDIA_TS_MAX;
		run->waiting[run->nwaiting++] = (int64_t)run->order;
		return 1;
	}
	return 0;
}

static int scan_add(struct reel_media *media, struct scan_run *run, const AVPacket *pkt,
                    int64_t *prev_pts, int64_t *prev_duration)
{
	struct scan_entry *se;
	int waiting, r;

	if (run->published + run->count == run->limit) {
		reel__media_why(media->why, sizeof(media->why),
		                "more than %llu frames in a file of %zu bytes: reel takes at most "
		                "%llu, and one per %d bytes", (unsigned long long)run->limit,
		                media->size, (unsigned long long)REEL_MEDIA_MAX_FRAMES,
		                REEL_MEDIA_MIN_FRAME_BYTES);
		return REEL_E_TOOLARGE;
	}
	if (run->count == run->cap) {
		r = grow(media, run);
		if (r < 0)
			return r;
	}
	se = &run->entries[run->count];
	memset(se, 0, sizeof(*se));
	/* Times out of +-2^62 are taken as missing; sums then cannot overflow. */
	se->e.pts = reel__media_ts_ok(pkt->pts) ? pkt->pts : AV_NOPTS_VALUE;
	se->e.dts = reel__media_ts_ok(pkt->dts) ? pkt->dts : AV_NOPTS_VALUE;
	if (se->e.dts != AV_NOPTS_VALUE && run->last_dts != AV_NOPTS_VALUE && se->e.dts > run->last_dts)
		run->step = av_sat_sub64(se->e.dts, run->last_dts);
	if (se->e.dts != AV_NOPTS_VALUE)
		run->last_dts = se->e.dts;
	waiting = place_pts(media, run, se);
	if (waiting < 0)
		return waiting;
	if (se->e.pts == AV_NOPTS_VALUE)
		se->e.pts = se->e.dts;
	if (se->e.pts == AV_NOPTS_VALUE)
		se->e.pts = *prev_pts == AV_NOPTS_VALUE ? 0 :
		            FFMIN(av_sat_add64(*prev_pts, *prev_duration > 0 ? *prev_duration : 1),
		                  REEL__MEDIA_TS_MAX);
	se->e.pos = pkt->pos >= 0 ? pkt->pos : -1;
	se->e.size = pkt->size > 0 ? (uint32_t)pkt->size : 0;
	se->e.flags = (pkt->flags & AV_PKT_FLAG_KEY) ? REEL_INDEX_KEY : 0;
	se->duration = reel__media_ts_ok(pkt->duration) && pkt->duration > 0 ? pkt->duration : 0;
	se->order = run->order++;
	*prev_pts = waiting ? se->e.dts : se->e.pts;
	*prev_duration = se->duration;
	if (!waiting && se->e.pts > run->max_pts)
		run->max_pts = se->e.pts;
	run->count++;
	if (!run->sink)
		return 0;
	/* A frame below what was already handed out would renumber served frames. */
	if (run->published > 0 && se->e.pts < run->last_published_pts) {
		reel__media_why(media->why, sizeof(media->why),
		                "a packet's pts lies before frames already indexed (pts below dts)");
		return REEL_E_INDEX;
	}
	/*
	 * Pending entries are few (the reordering depth); a file whose pts runs
	 * away from its dts would keep thousands pending and make every
	 * publication a sort of all of them: it publishes at the end instead.
	 */
	if (run->dts_usable && run->count <= MAX_PENDING && se->e.dts != AV_NOPTS_VALUE &&
	    se->e.dts >= run->watermark) {
		run->watermark = se->e.dts;
		return publish(run, false);
	}
	/*
	 * The first packets may come without a dts (Matroska stores none:
	 * libav derives it from the reordering once it has seen some pts):
	 * nothing is final yet, and nothing was published.  A dts missing
	 * later, or going back: nothing more is final before the end.
	 */
	if (se->e.dts == AV_NOPTS_VALUE && run->watermark == INT64_MIN && run->count <= MAX_PENDING)
		return 0;
	run->dts_usable = false;
	return 0;
}

/* The gate found no keyframe: start again, every packet taken. */
static int take_every_packet(struct reel_media *media, struct scan_run *run)
{
	int r;

	run->gate = false;
	run->first_key_pts = AV_NOPTS_VALUE;
	r = reel__media_rewind_video(media);
	media->video.fresh = false;
	return r;
}

/*
 * An H.264 keyframe from which the decoder shows its pictures only later:
 * no IDR picture, and a recovery point whose pictures are whole only some
 * frames on (intra refresh), or no recovery point to say (see
 * core/media/recovery.c).  A recovery point that is whole at once (an open
 * group's I-picture, as broadcasts have) needs no decoder to tell.
 */
static bool starts_at_recovery_point(struct reel_media *media, const AVPacket *pkt)
{
	const AVCodecParameters *par = media->video.fmt->streams[media->video.stream]->codecpar;
	struct reel__h264_unit u;

	if (par->codec_id != AV_CODEC_ID_H264)
		return false;
	reel__media_h264_look(par, pkt->data, pkt->size > 0 ? (size_t)pkt->size : 0, &u);
	return !u.idr && u.recovery_frames != 0;
}

/*
 * Whether pkt comes before the first picture that can be decoded (see the
 * top of this file), and is left out; *ret < 0 on an error.  No keyframe
 * in the first GATE_PACKETS packets: the scan starts again and takes every
 * packet, as it did before (a stream of intra refresh has none).
 */
static bool before_first_picture(struct reel_media *media, struct scan_run *run,
                                 AVPacket *pkt, int *ret)
{
	*ret = 0;
	if (!run->gate)
		return false;
	if (pkt->flags & AV_PKT_FLAG_KEY) {
		if (!run->probed && starts_at_recovery_point(media, pkt)) {
			/* pkt is the demuxer's own packet, which the probe reads into. */
			int64_t key_pts = pkt->pts, shown;

			/* The decoder reads from the top, and so does the scan again, gate and all. */
			run->probed = true;
			run->gated = 0;
			av_packet_unref(pkt);
			*ret = reel__media_first_shown_pts(media, &shown);
			if (*ret == 0 && reel__media_ts_ok(key_pts) && reel__media_ts_ok(shown) &&
			    shown > key_pts)
				run->first_shown_pts = shown;
			return true;
		}
		run->gate = false;
		run->first_key_pts = reel__media_ts_ok(pkt->pts) ? pkt->pts : AV_NOPTS_VALUE;
		run->at_first_key = true;
		return false;
	}
	if (++run->gated < GATE_PACKETS)
		return true;
	*ret = take_every_packet(media, run);
	return true;
}

/*
 * A leading picture of the first group (shown before the first keyframe,
 * decoded after it): it needs pictures from before the file's start.  Only
 * the first group has such pictures to leave out: once the decode time
 * reaches the keyframe's time, or the next keyframe comes, none follows.
 */
static bool leading_picture(struct scan_run *run, const AVPacket *pkt)
{
	if (run->at_first_key) {
		run->at_first_key = false;
		return false;
	}
	if (run->first_key_pts == AV_NOPTS_VALUE)
		return false;
	if ((pkt->flags & AV_PKT_FLAG_KEY) ||
	    (reel__media_ts_ok(pkt->dts) && pkt->dts >= run->first_key_pts)) {
		run->first_key_pts = AV_NOPTS_VALUE;
		return false;
	}
	return reel__media_ts_ok(pkt->pts) && pkt->pts < run->first_key_pts;
}

/*
 * Whether pkt is a picture the decoder does not show, being before the
 * first one it shows after a recovery point.  A picture kept meanwhile is
 * no place to start decoding either (the decoder would show nothing until
 * later): it loses its keyframe flag, so that a seek to it goes to an
 * earlier keyframe or to the top of the file.  Once the decode time passes
 * the first picture's time, no later picture is shown before it.
 */
static bool before_first_shown(struct scan_run *run, AVPacket *pkt)
{
	int64_t first = run->first_shown_pts;

	if (first == AV_NOPTS_VALUE)
		return false;
	if (reel__media_ts_ok(pkt->pts) && pkt->pts < first)
		return true;
	pkt->flags &= ~AV_PKT_FLAG_KEY;
	if (reel__media_ts_ok(pkt->dts) && pkt->dts >= first)
		run->first_shown_pts = AV_NOPTS_VALUE;
	return false;
}

/*
 * Whether pkt starts a new timeline (see the top of this file); if so the
 * note says where, and the scan ends before it.
 */
static bool timeline_restarts(struct reel_media *media, struct scan_run *run, const AVPacket *pkt)
{
	if (!reel__media_clock_restarts(media->video.fmt, media->video.stream, pkt->dts,
	                                &run->max_dts))
		return false;
	/* Short: it goes into a session log line (200 bytes) after "index complete: N frames; ". */
	reel__media_why(media->scan_note, sizeof(media->scan_note),
	                "the video's time starts again after its first %llu frames (at byte %lld: "
	                "joined files?); to use the rest: ffmpeg -i FILE -c copy OUT.mkv",
	                (unsigned long long)(run->published + run->count),
	                (long long)(pkt->pos >= 0 ? pkt->pos : avio_tell(media->video.fmt->pb)));
	return true;
}

/*
 * The demux loop shared by both scans: every video packet of the file into
 * run, published progressively when run->sink is set.
 */
static int scan_run(struct reel_media *media, struct scan_run *run)
{
	struct reel__video *v = &media->video;
	int64_t prev_pts = AV_NOPTS_VALUE, prev_duration = 0;
	bool skip_payload, parser_checked = false;
	int ret;

	media->why[0] = 0;
	media->scan_note[0] = 0;
	run->max_dts = AV_NOPTS_VALUE;
	run->max_pts = INT64_MIN;
	run->step = 1;
	run->last_dts = AV_NOPTS_VALUE;
	run->limit = media->size / REEL_MEDIA_MIN_FRAME_BYTES;
	if (run->limit > REEL_MEDIA_MAX_FRAMES)
		run->limit = REEL_MEDIA_MAX_FRAMES;
	run->watermark = INT64_MIN;
	run->dts_usable = true;
	if (!v->fresh) {
		ret = reel__media_rewind_video(media);
		if (ret < 0)
			return ret;
	}
	/* From here the demuxer moves: whatever the decoder was positioned on is gone. */
	skip_payload = tables_whole(media);
	/* A sample table counts every sample: the index keeps them all, as the count must agree. */
	run->gate = !skip_payload;
	run->first_key_pts = AV_NOPTS_VALUE;
	run->first_shown_pts = AV_NOPTS_VALUE;
	v->fresh = false;
	v->positioned = false;
	v->draining = false;
	v->has_pending = false;
	av_frame_unref(v->pending);
	v->io.skip_copies = skip_payload;
	if (skip_payload) {
		/*
		 * libav runs a parser on the video packets (H.264 in mp4 has one):
		 * fed no bytes it would read garbage.  The container's own tables
		 * are the index (its sync samples are the keyframes), so the scan
		 * reads through a demuxer opened without probing (which is what
		 * makes parsers and buffers packets) and with parsers off.
		 */
		AVFormatContext *fmt;

		v->io.skip_copies = false;
		ret = reel__media_open_format(media, &v->io, media->iformat, false, &fmt);
		if (ret < 0)
			goto out;
		if ((int)fmt->nb_streams <= v->stream) {
			reel__media_close_format(&fmt);
			ret = REEL_E_BADMEDIA;
			goto out;
		}
		reel__media_close_format(&v->fmt);
		v->fmt = fmt;
		fmt->flags |= AVFMT_FLAG_NOPARSE | AVFMT_FLAG_NOFILLIN;
		for (unsigned i = 0; i < fmt->nb_streams; i++)
			fmt->streams[i]->discard = (int)i == v->stream ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
		v->io.skip_copies = true;
	}
	for (uint64_t packets = 0;; packets++) {
		AVPacket *pkt = v->pkt;

		/* Every 1024 packets: a progress line, and a chance to give up (Ctrl-C). */
		if (media->progress && packets % 1024 == 0) {
			int64_t at = avio_tell(v->fmt->pb);
			if (media->progress(media->progress_data, at > 0 ? (uint64_t)at : 0, media->size)) {
				ret = -ECANCELED;
				goto out;
			}
		}
		ret = av_read_frame(v->fmt, pkt);
		if (ret == AVERROR(ENOMEM)) {
			ret = -ENOMEM;   /* not the end of the file: an index cut here would be wrong */
			goto out;
		}
		if (ret < 0 && run->gate && run->gated > 0) {
			/* The end before any keyframe (a short cut of a long group): every packet after all. */
			ret = take_every_packet(media, run);
			if (ret < 0)
				goto out;
			continue;
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
		/*
		 * A parser on the video stream reads the payloads (libav makes it
		 * at the first packet): start again with the bytes copied.
		 */
		if (skip_payload && !parser_checked) {
			parser_checked = true;
			if (av_stream_get_parser(v->fmt->streams[v->stream])) {
				av_packet_unref(pkt);
				v->io.skip_copies = false;
				ret = reel__media_rewind_video(media);
				if (ret < 0)
					goto out;
				v->fresh = false;
				skip_payload = false;
				continue;
			}
		}
		if (before_first_picture(media, run, pkt, &ret)) {
			av_packet_unref(pkt);
			if (ret < 0)
				goto out;
			continue;
		}
		if (timeline_restarts(media, run, pkt)) {
			av_packet_unref(pkt);
			break;
		}
		if (leading_picture(run, pkt) || before_first_shown(run, pkt)) {
			av_packet_unref(pkt);
			continue;
		}
		ret = scan_add(media, run, pkt, &prev_pts, &prev_duration);
		av_packet_unref(pkt);
		if (ret < 0)
			goto out;
	}
	ret = resolve_last(run);
	if (ret < 0)
		goto out;
	if (run->published + run->count == 0) {
		reel__media_why(media->why, sizeof(media->why),
		                "damaged %s file: not one video packet could be read",
		                media->iformat ? media->iformat->name : "video");
		ret = REEL_E_BADMEDIA;
		goto out;
	}
	ret = run->sink ? publish(run, true) : 0;
out:
	v->io.skip_copies = false;
	/* What the demuxer buffered during the scan is not the file: start it afresh. */
	if (skip_payload) {
		int r = reel__media_rewind_video(media);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}

int reel_media_scan(struct reel_media *media, struct reel_index_entry **ret_entries,
                    uint64_t *ret_count, uint32_t *ret_max_audio_per_frame)
{
	struct scan_run run;
	struct reel_index_entry *out, *shrunk;
	uint32_t max_audio;
	int ret;

	if (!media || !ret_entries || !ret_count || !ret_max_audio_per_frame)
		return -EINVAL;
	memset(&run, 0, sizeof(run));
	ret = scan_run(media, &run);
	if (ret < 0) {
		free(run.entries);
		return ret;
	}
	qsort(run.entries, (size_t)run.count, sizeof(*run.entries), compare_scan_entries);
	max_audio = max_audio_per_frame(media, run.entries, run.count);

	/*
	 * Packed in place (entry i goes to byte 32 i, which is never past
	 * scan entry i's 48 i), so that the peak stays one array, not two.
	 */
	_Static_assert(sizeof(struct reel_index_entry) <= sizeof(struct scan_entry),
	               "index entries pack into the scan's array");
	out = (struct reel_index_entry *)(void *)run.entries;
	for (uint64_t i = 0; i < run.count; i++) {
		struct reel_index_entry e = run.entries[i].e;
		out[i] = e;
	}
	shrunk = realloc(out, (size_t)run.count * sizeof(*out));
	*ret_entries = shrunk ? shrunk : out;
	*ret_count = run.count;
	*ret_max_audio_per_frame = max_audio;
	return 0;
}

int reel_media_scan_progressive(struct reel_media *media, const struct reel_media_scan_sink *sink,
                                uint64_t *ret_count)
{
	struct scan_run run;
	int ret;

	if (!media || !sink || !sink->publish || !ret_count)
		return -EINVAL;
	memset(&run, 0, sizeof(run));
	run.sink = sink;
	ret = scan_run(media, &run);
	if (ret == 0)
		*ret_count = run.published;
	free(run.entries);
	free(run.out);
	return ret;
}
