/*
 * Decoding frames into buffer slots.  reel_media_decode() finds through the
 * buffer's frame index the keyframe at or before the frame asked for, seeks
 * the video demuxer there (unless the decoder already stands right before
 * the frame: sequential calls never seek), decodes forward and hands each
 * frame to the sink, which says where its pixels and samples go.
 *
 * Decoded pictures are matched to frame numbers by pts (binary search in the
 * pts-sorted index); frames before the keyframe sought to are decoded but
 * not delivered (the leading pictures of an open GOP cannot be right).  A
 * frame of the range that the decoder never produces (damaged data) goes to
 * the sink with REEL_E_DECODE, and decoding goes on.
 *
 * Pictures: a YUV420P limited-range source of the buffer's size is copied
 * plane by plane; anything else goes through swscale straight into the
 * slot's planes (flags in reel/media.h).  Audio: the samples whose time on
 * the container clock lies in [pts(f), pts(f+1)) are converted to float32
 * interleaved by swresample and copied after the picture; the audio
 * demuxer and decoder run on their own format context, so they keep their
 * place whatever the video side does.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/channel_layout.h>
#include <libavutil/imgutils.h>
#include <libavutil/mathematics.h>
#include <libavutil/pixdesc.h>

#include "media/media-private.h"
#include "reel/error.h"
#include "reel/log.h"

/* Decoder errors in a row after which a stream counts as finished. */
#define MAX_DECODE_ERRORS 1000

/* Result of next_video_frame() at the end of the stream. */
#define END_OF_STREAM 1

struct decode_call {
	struct reel_media *media;
	const struct reel_buffer *buffer;
	const struct reel_buffer_info *binfo;
	const struct reel_sink *sink;
	uint64_t first, last;          /* the frames asked for */
	AVRational stream_tb, buffer_tb;
};

void reel__media_decode_fini(struct reel_media *media)
{
	if (!media)
		return;
	sws_freeContext(media->video.sws);
	media->video.sws = NULL;
	swr_free(&media->audio.swr);
	av_channel_layout_uninit(&media->audio.swr_in_layout);
	free(media->audio.buf);
	media->audio.buf = NULL;
	media->audio.buf_cap = media->audio.buf_len = 0;
}

/* ---- the index ------------------------------------------------------- */

static int entry_at(const struct decode_call *c, uint64_t i, struct reel_index_entry *ret)
{
	const struct reel_media *m = c->media;
	int r = reel_index_get(c->buffer, i, ret);

	/* Not indexed yet, but in the local index (local-index.c). */
	if (r == REEL_E_NOTYET && m->island && i >= m->island_first &&
	    i - m->island_first < m->island_count) {
		*ret = m->island[i - m->island_first];
		return 0;
	}
	return r;
}

/* The frame of pts in the local index; -1 when not there, its end when after it. */
static int64_t island_lookup(const struct reel_media *m, int64_t pts)
{
	uint64_t lo = 0, hi = m->island_count;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (m->island[mid].pts < pts)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m->island_count && m->island[lo].pts == pts)
		return (int64_t)(m->island_first + lo);
	return lo == m->island_count ? (int64_t)(m->island_first + m->island_count) : -1;
}

/* The keyframe at or before frame, in presentation order; 0 when none is marked. */
static int find_keyframe(const struct decode_call *c, uint64_t frame, uint64_t *ret_key)
{
	for (uint64_t i = frame + 1; i-- > 0;) {
		struct reel_index_entry e;
		int ret = entry_at(c, i, &e);

		if (ret < 0)
			return ret;
		if (e.flags & REEL_INDEX_KEY) {
			*ret_key = i;
			return 0;
		}
	}
	*ret_key = 0;
	return 0;
}

/*
 * The frame whose pts is pts, or -1.  The decoder delivers in presentation
 * order, so the guess (the next frame expected) is nearly always right.
 */
static int64_t lookup_pts(const struct decode_call *c, int64_t pts, uint64_t guess)
{
	uint64_t ready = reel_index_ready(c->buffer), lo = 0, hi = ready;
	struct reel_index_entry e;

	if (guess < hi && entry_at(c, guess, &e) == 0 && e.pts == pts)
		return (int64_t)guess;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (entry_at(c, mid, &e) < 0)
			return -1;
		if (e.pts < pts)
			lo = mid + 1;
		else
			hi = mid;
	}
	/*
	 * Past the entries published so far (the index is still being built):
	 * a frame after any the caller may ask for now, kept for a later call.
	 */
	if (lo == ready && ready < reel_index_end(c->buffer)) {
		const struct reel_media *m = c->media;
		int64_t in = -1;

		/* The published part may have grown into the local index while it was decoded. */
		if (m->island && m->island_first + m->island_count > ready)
			in = island_lookup(m, pts);
		/*
		 * A picture of no frame known yet comes after any the caller may
		 * ask for now (last is within what is known): kept for later.
		 */
		return in >= 0 ? in : (int64_t)c->last + 1;
	}
	if (lo < reel_index_end(c->buffer) && entry_at(c, lo, &e) == 0 && e.pts == pts) {
		/* Equal pts (damaged files): take the first one not delivered yet. */
		while (lo < guess && lo + 1 < reel_index_end(c->buffer) &&
		       entry_at(c, lo + 1, &e) == 0 && e.pts == pts)
			lo++;
		return (int64_t)lo;
	}
	return -1;
}

/* ---- the video demuxer and decoder ------------------------------------ */

static void drop_pending(struct reel__video *v)
{
	v->has_pending = false;
	av_frame_unref(v->pending);
}

/* See media-private.h. */
int reel__media_read_video_packet(struct reel__video *v)
{
	for (;;) {
		int ret = av_read_frame(v->fmt, v->pkt);

		if (ret < 0)
			return ret;
		if (v->pkt->stream_index != v->stream) {
			av_packet_unref(v->pkt);
			continue;
		}
		if (reel__media_clock_restarts(v->fmt, v->stream, v->pkt->dts, &v->max_dts)) {
			av_packet_unref(v->pkt);
			return AVERROR_EOF;
		}
		return 0;
	}
}

static void send_video_packet(struct reel__video *v)
{
	int ret = avcodec_send_packet(v->dec, v->pkt);

	/* A packet the decoder refuses is a frame lost: the gap is reported by pts. */
	if (ret < 0 && ret != AVERROR(EAGAIN))
		reel_log(REEL_LOG_DEBUG, "media", "video packet refused by the decoder: %s",
		         av_err2str(ret));
	av_packet_unref(v->pkt);
}

/*
 * The next decoded picture into v->frame: 0, END_OF_STREAM, or < 0 when
 * libav runs out of memory.
 */
static int next_video_frame(struct reel__video *v)
{
	int errors = 0;

	if (v->has_pending) {
		av_frame_move_ref(v->frame, v->pending);
		v->has_pending = false;
		return 0;
	}
	for (;;) {
		int ret = avcodec_receive_frame(v->dec, v->frame);

		if (ret == 0)
			return 0;
		/* Only real errors count: EAGAIN is the decoder asking for the next packet. */
		if (ret != AVERROR(EAGAIN))
			errors++;
		if (ret == AVERROR_EOF || (v->draining && ret == AVERROR(EAGAIN)) ||
		    errors > MAX_DECODE_ERRORS) {
			v->draining = false;
			v->positioned = false;
			avcodec_flush_buffers(v->dec);
			return END_OF_STREAM;
		}
		if (ret == AVERROR(ENOMEM))
			return -ENOMEM;
		if (ret != AVERROR(EAGAIN)) {
			reel_log(REEL_LOG_DEBUG, "media", "video decoding error: %s", av_err2str(ret));
			if (v->draining)
				continue;
		}
		if (v->draining)
			continue;
		ret = reel__media_read_video_packet(v);
		if (ret == AVERROR(ENOMEM))
			return -ENOMEM;
		if (ret < 0) {
			v->draining = true;
			avcodec_send_packet(v->dec, NULL);
			continue;
		}
		send_video_packet(v);
	}
}

/* Frames to decode from a seek up to which one thread serves best (see struct reel__video). */
#define SHORT_RUN 4

/*
 * The decoder for what comes after a seek: frame threads for a run of more
 * than SHORT_RUN frames (opened the first time one is needed), one thread
 * otherwise.  The one left is flushed, so that it holds no picture.
 */
static void choose_decoder(struct reel__video *v, bool run)
{
	AVCodecContext *want = v->dec_single;

	if (run && !v->dec_threads && !v->threads_failed &&
	    reel__media_open_decoder(v->fmt->streams[v->stream], true, &v->dec_threads) < 0)
		v->threads_failed = true;
	if (run && v->dec_threads)
		want = v->dec_threads;
	if (want != v->dec)
		avcodec_flush_buffers(v->dec);
	v->dec = want;
}

/* The decoder stands at keyframe key, fed v->pkt first when fed. */
static void positioned_at(struct reel__video *v, uint64_t key, bool fed)
{
	v->fresh = false;
	if (fed)
		send_video_packet(v);
	v->positioned = true;
	v->next_index = key;
	v->run_key = key;
}

/*
 * Whether a decode from keyframe `key` starts at the top of the file: no
 * keyframe lies at or before the frame (see seek_video).  The pictures
 * before the first shown one are decoded too, a refresh period after a
 * recovery point, which is a long run whatever the frames asked for.
 */
static bool from_the_top(const struct decode_call *c, uint64_t key)
{
	struct reel_index_entry e;

	return key == 0 && entry_at(c, 0, &e) == 0 && !(e.flags & REEL_INDEX_KEY);
}

/*
 * Seek the video demuxer to keyframe `key` and prime the decoder with the
 * first packet.  Demuxers disagree on what a seek timestamp means: mp4 and
 * matroska compare presentation times, generic index-based seeking compares
 * decode times.  So the keyframe's pts is tried first, then its dts, then
 * the top of the file.  Formats whose clock may start again part-way
 * (MPEG-TS, program streams: reel__media_clock_may_restart), where a time
 * can name two places, are first sought by the keyframe's byte position,
 * as ffplay does, and no landing past that position counts.  Each landing is
 * checked on the first packet read:
 * landing after the keyframe (a decode time later than the keyframe's)
 * would lose frames, and moves on to the next attempt; landing before it
 * only costs decoding time.
 */
static int seek_video(const struct decode_call *c, uint64_t key)
{
	struct reel_media *media = c->media;
	struct reel__video *v = &media->video;
	struct reel_index_entry e;
	int64_t key_dts, key_pts, attempts[2];
	int n_attempts = 0, ret;
	bool at_top, by_bytes;

	ret = entry_at(c, key, &e);
	if (ret < 0)
		return ret;
	key_pts = av_rescale_q(e.pts, c->buffer_tb, c->stream_tb);
	/* Only a real keyframe: an entry 0 without the flag is sought through the top of the file. */
	by_bytes = e.pos >= 0 && (e.flags & REEL_INDEX_KEY) &&
	           reel__media_clock_may_restart(media->iformat);
	key_dts = e.dts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE :
	          av_rescale_q(e.dts, c->buffer_tb, c->stream_tb);
	attempts[n_attempts++] = key_pts;
	if (key_dts != AV_NOPTS_VALUE && key_dts < key_pts)
		attempts[n_attempts++] = key_dts;

	reel_log(REEL_LOG_DEBUG, "media", "seek to keyframe %llu (pts %lld)",
	         (unsigned long long)key, (long long)key_pts);
	drop_pending(v);
	avcodec_flush_buffers(v->dec);
	v->positioned = false;
	v->draining = false;
	v->max_dts = AV_NOPTS_VALUE;

	/* A demuxer that has not been read yet stands at the top already. */
	at_top = v->fresh && key == 0;
	/*
	 * No keyframe at or before the frame (a stream without any, or one
	 * whose first pictures come out only from a recovery point before the
	 * index starts: core/media/recovery.c): the decode starts at the top
	 * of the file.  A seek by time could land between that recovery point
	 * and the first picture, from where the decoder shows nothing for a
	 * refresh period.
	 */
	if (!at_top && from_the_top(c, key)) {
		ret = reel__media_rewind_video(media);
		if (ret < 0)
			return ret;
		at_top = true;
	}
	if (!at_top && by_bytes && av_seek_frame(v->fmt, v->stream, e.pos, AVSEEK_FLAG_BYTE) >= 0) {
		ret = reel__media_read_video_packet(v);
		if (ret == AVERROR(ENOMEM))
			return -ENOMEM;
		/* Landed on the keyframe itself, or nowhere it can be trusted. */
		if (ret == 0 && v->pkt->pos == e.pos) {
			positioned_at(v, key, true);
			return 0;
		}
		if (ret == 0)
			av_packet_unref(v->pkt);
	}
	for (int attempt = 0; !at_top; attempt++) {
		bool overshot = false;

		if (attempt == n_attempts ||
		    av_seek_frame(v->fmt, v->stream, attempts[attempt], AVSEEK_FLAG_BACKWARD) < 0) {
			ret = reel__media_rewind_video(media);
			if (ret < 0)
				return ret;
			break;
		}
		ret = reel__media_read_video_packet(v);
		if (ret == AVERROR(ENOMEM))
			return -ENOMEM;
		if (ret < 0)
			continue;   /* landed at the end: try the next way */
		if (v->pkt->dts != AV_NOPTS_VALUE && key_dts != AV_NOPTS_VALUE)
			overshot = v->pkt->dts > key_dts;
		else if (v->pkt->pts != AV_NOPTS_VALUE)
			overshot = v->pkt->pts > key_pts;
		/* Past the keyframe's bytes: the same time further on, in a later timeline. */
		if (by_bytes && v->pkt->pos > e.pos)
			overshot = true;
		if (!overshot) {
			positioned_at(v, key, true);
			return 0;
		}
		av_packet_unref(v->pkt);
	}
	positioned_at(v, key, false);
	return 0;
}

/* ---- pictures ----------------------------------------------------------- */

/* The pixel format swscale should be told, without the deprecated yuvj aliases. */
static enum AVPixelFormat plain_format(enum AVPixelFormat fmt, bool *full_range)
{
	switch (fmt) {
	case AV_PIX_FMT_YUVJ420P: *full_range = true; return AV_PIX_FMT_YUV420P;
	case AV_PIX_FMT_YUVJ422P: *full_range = true; return AV_PIX_FMT_YUV422P;
	case AV_PIX_FMT_YUVJ444P: *full_range = true; return AV_PIX_FMT_YUV444P;
	case AV_PIX_FMT_YUVJ440P: *full_range = true; return AV_PIX_FMT_YUV440P;
	case AV_PIX_FMT_YUVJ411P: *full_range = true; return AV_PIX_FMT_YUV411P;
	default: return fmt;
	}
}

static int get_sws(struct reel__video *v, int sw, int sh, enum AVPixelFormat sfmt, bool full,
                   int dw, int dh)
{
	const int *coefs;

	if (v->sws && v->sws_src_w == sw && v->sws_src_h == sh && v->sws_src_fmt == (int)sfmt &&
	    v->sws_src_range == (int)full && v->sws_dst_w == dw && v->sws_dst_h == dh)
		return 0;
	sws_freeContext(v->sws);
	v->sws = sws_getContext(sw, sh, sfmt, dw, dh, AV_PIX_FMT_YUV420P, REEL__SWS_FLAGS,
	                        NULL, NULL, NULL);
	if (!v->sws)
		return REEL_E_DECODE;
	/*
	 * Full-range sources are brought to limited range, the range every
	 * stage and the preview assume.  The matrices do not matter for
	 * YUV -> YUV; only the ranges do.
	 */
	coefs = sws_getCoefficients(SWS_CS_DEFAULT);
	sws_setColorspaceDetails(v->sws, coefs, full ? 1 : 0, coefs, 0, 0, 1 << 16, 1 << 16);
	v->sws_src_w = sw;
	v->sws_src_h = sh;
	v->sws_src_fmt = (int)sfmt;
	v->sws_src_range = (int)full;
	v->sws_dst_w = dw;
	v->sws_dst_h = dh;
	return 0;
}

static int write_picture(struct reel__video *v, const AVFrame *src, const struct reel_frame *dst,
                         const struct reel_sink *sink, uint64_t frame)
{
	int dw = (int)dst->width[0], dh = (int)dst->height[0];
	bool full = src->color_range == AVCOL_RANGE_JPEG;
	enum AVPixelFormat fmt = plain_format((enum AVPixelFormat)src->format, &full);
	uint8_t *planes[4] = { dst->plane[0], dst->plane[1], dst->plane[2], NULL };
	int strides[4] = { (int)dst->stride[0], (int)dst->stride[1], (int)dst->stride[2], 0 };
	int ret;

	if (src->width <= 0 || src->height <= 0 || !src->data[0])
		return REEL_E_DECODE;
	if (fmt == AV_PIX_FMT_YUV420P && !full && src->width == dw && src->height == dh) {
		if (sink && sink->write_picture) {
			const uint8_t *const plane[3] = { src->data[0], src->data[1], src->data[2] };
			const int linesize[3] = { src->linesize[0], src->linesize[1], src->linesize[2] };

			ret = sink->write_picture(sink->userdata, frame, plane, linesize);
			if (ret != -ENOTSUP)
				return ret;
		}
		if (sink && sink->prepare_planes &&
		    (ret = sink->prepare_planes(sink->userdata, frame)) < 0)
			return ret;
		for (int i = 0; i < 3; i++)
			av_image_copy_plane(dst->plane[i], strides[i], src->data[i], src->linesize[i],
			                    (int)dst->width[i], (int)dst->height[i]);
		return 0;
	}
	ret = get_sws(v, src->width, src->height, fmt, full, dw, dh);
	if (ret < 0)
		return ret;
	if (sink && sink->prepare_planes && (ret = sink->prepare_planes(sink->userdata, frame)) < 0)
		return ret;
	ret = sws_scale(v->sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
	                planes, strides);
	return ret == dh ? 0 : REEL_E_DECODE;
}

/* ---- audio -------------------------------------------------------------- */

static void audio_reset(struct reel__audio *a)
{
	a->positioned = false;
	a->eof = false;
	a->buf_len = 0;
	a->buf_start = 0;
}

static int64_t audio_end(const struct reel__audio *a)
{
	return a->buf_start + (int64_t)a->buf_len;
}

static int audio_reserve(struct reel__audio *a, size_t samples)
{
	size_t need = a->buf_len + samples, ch = a->out_channels;
	float *n;

	if (need <= a->buf_cap)
		return 0;
	if (need > SIZE_MAX / sizeof(float) / ch / 2)
		return -ENOMEM;
	need = need < 4096 ? 4096 : need * 2;
	n = realloc(a->buf, need * ch * sizeof(float));
	if (!n)
		return -ENOMEM;
	a->buf = n;
	a->buf_cap = need;
	return 0;
}

/* Forget the samples before global sample number s. */
static void audio_drop_before(struct reel__audio *a, int64_t s)
{
	size_t n;

	if (s <= a->buf_start)
		return;
	n = s - a->buf_start >= (int64_t)a->buf_len ? a->buf_len : (size_t)(s - a->buf_start);
	if (n > 0 && n < a->buf_len)
		memmove(a->buf, a->buf + n * a->out_channels,
		        (a->buf_len - n) * a->out_channels * sizeof(float));
	a->buf_len -= n;
	a->buf_start += (int64_t)n;
	if (a->buf_len == 0)
		a->buf_start = s;
}

static int audio_get_swr(struct reel__audio *a, const AVFrame *f)
{
	AVChannelLayout in = { 0 }, out = { 0 };
	int ret;

	if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || f->ch_layout.nb_channels <= 0)
		av_channel_layout_default(&in, f->ch_layout.nb_channels > 0 ?
		                          f->ch_layout.nb_channels : 1);
	else if ((ret = av_channel_layout_copy(&in, &f->ch_layout)) < 0)
		return reel__from_averror(ret);
	if (a->swr && a->swr_in_fmt == f->format && a->swr_in_rate == f->sample_rate &&
	    !av_channel_layout_compare(&a->swr_in_layout, &in)) {
		av_channel_layout_uninit(&in);
		return 0;
	}
	swr_free(&a->swr);
	av_channel_layout_uninit(&a->swr_in_layout);
	av_channel_layout_default(&out, (int)a->out_channels);
	ret = swr_alloc_set_opts2(&a->swr, &out, AV_SAMPLE_FMT_FLT, (int)a->out_rate,
	                          &in, (enum AVSampleFormat)f->format, f->sample_rate, 0, NULL);
	if (ret >= 0)
		ret = swr_init(a->swr);
	av_channel_layout_uninit(&out);
	if (ret < 0) {
		swr_free(&a->swr);
		av_channel_layout_uninit(&in);
		return reel__from_averror(ret);
	}
	a->swr_in_layout = in;
	a->swr_in_fmt = f->format;
	a->swr_in_rate = f->sample_rate;
	return 0;
}

/*
 * Append a decoded audio frame at its place on the global sample line.  A
 * timestamp within 10 ms of where the previous frame ended continues it
 * (container timestamps are rounded, to the millisecond in matroska); a
 * larger gap is filled with silence, an overlap is cut off.
 */
static int audio_append(struct reel__audio *a, const AVFrame *f)
{
	AVRational tb = a->fmt->streams[a->stream]->time_base;
	int64_t ts = f->pts != AV_NOPTS_VALUE ? f->pts : f->best_effort_timestamp;
	int64_t at, gap = 0, skip = 0, tol = a->out_rate / 100;
	uint8_t *out[1];
	int max_out, got, ret;

	if (f->nb_samples <= 0)
		return 0;
	ret = audio_get_swr(a, f);
	if (ret < 0)
		return ret;
	/* A time out of +-2^62 in either unit is taken as missing: `at` must not overflow below. */
	at = !reel__media_ts_ok(ts) ? AV_NOPTS_VALUE :
	     av_rescale_q_rnd(ts, tb, (AVRational){ 1, (int)a->out_rate },
	                      AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
	if (!reel__media_ts_ok(at))
		at = a->positioned ? audio_end(a) : 0;
	if (!a->positioned) {
		a->buf_len = 0;
		a->buf_start = at;
		a->positioned = true;
	} else if (at - audio_end(a) > tol) {
		gap = at - audio_end(a);
	} else if (audio_end(a) - at > tol) {
		skip = audio_end(a) - at;
	}
	/*
	 * Time going back by more than a second, in a format whose clock may
	 * start again: the sound of the frames numbered has ended (the scan
	 * ends the video there).  A shorter step back is a glitch: those
	 * samples are dropped until the time catches up, as anywhere.
	 */
	if (skip > (int64_t)a->out_rate && reel__media_clock_may_restart(a->fmt->iformat)) {
		a->eof = true;
		return 0;
	}
	if (gap > (int64_t)a->out_rate * 10) {
		/*
		 * A jump of more than 10 s is a new start, not silence to store:
		 * frames inside the hole get silence from write_audio() anyway.
		 */
		a->buf_len = 0;
		a->buf_start = at;
		gap = 0;
	}
	max_out = swr_get_out_samples(a->swr, f->nb_samples);
	if (max_out < 0)
		return REEL_E_DECODE;
	ret = audio_reserve(a, (size_t)gap + (size_t)max_out);
	if (ret < 0)
		return ret;
	if (gap > 0) {
		memset(a->buf + a->buf_len * a->out_channels, 0,
		       (size_t)gap * a->out_channels * sizeof(float));
		a->buf_len += (size_t)gap;
	}
	out[0] = (uint8_t *)(a->buf + a->buf_len * a->out_channels);
	got = swr_convert(a->swr, out, max_out, (const uint8_t **)f->extended_data, f->nb_samples);
	if (got < 0)
		return REEL_E_DECODE;
	if (skip >= got)
		return 0;
	if (skip > 0)
		memmove(out[0], out[0] + (size_t)skip * a->out_channels * sizeof(float),
		        (size_t)(got - skip) * a->out_channels * sizeof(float));
	a->buf_len += (size_t)(got - skip);
	return 0;
}

/* Decode one more audio frame into the buffer; sets eof at the end. */
static int audio_decode_more(struct reel__audio *a)
{
	int errors = 0;
	bool draining = false;

	for (;;) {
		int ret = avcodec_receive_frame(a->dec, a->frame);

		if (ret == 0) {
			ret = audio_append(a, a->frame);
			av_frame_unref(a->frame);
			return ret == -ENOMEM ? ret : 0;
		}
		if (ret != AVERROR(EAGAIN))
			errors++;
		if (ret == AVERROR_EOF || (draining && ret == AVERROR(EAGAIN)) ||
		    errors > MAX_DECODE_ERRORS) {
			a->eof = true;
			return 0;
		}
		if (ret == AVERROR(ENOMEM))
			return -ENOMEM;
		if (ret != AVERROR(EAGAIN) || draining)
			continue;
		for (;;) {
			ret = av_read_frame(a->fmt, a->pkt);
			if (ret < 0 || a->pkt->stream_index == a->stream)
				break;
			av_packet_unref(a->pkt);
		}
		if (ret == AVERROR(ENOMEM))
			return -ENOMEM;
		if (ret < 0) {
			draining = true;
			avcodec_send_packet(a->dec, NULL);
			continue;
		}
		ret = avcodec_send_packet(a->dec, a->pkt);
		av_packet_unref(a->pkt);
		if (ret < 0 && ret != AVERROR(EAGAIN))
			reel_log(REEL_LOG_DEBUG, "media", "audio packet refused: %s", av_err2str(ret));
	}
}

/* Reopen the audio demuxer at the top of the file, with a fresh decoder. */
static int audio_rewind(struct reel_media *media)
{
	struct reel__audio *a = &media->audio;
	const AVStream *vst = media->video.fmt->streams[media->audio_index];
	AVFormatContext *fmt;
	AVCodecContext *dec;
	int ret;

	ret = reel__media_open_format(media, &a->io, media->iformat, false, &fmt);
	if (ret < 0)
		return ret;
	/* A demuxer that finds its streams only while reading (program streams) needs the probe. */
	if ((int)fmt->nb_streams <= a->stream) {
		reel__media_close_format(&fmt);
		ret = reel__media_open_format(media, &a->io, media->iformat, true, &fmt);
		if (ret < 0)
			return ret;
	}
	if ((int)fmt->nb_streams <= a->stream) {
		reel__media_close_format(&fmt);
		a->eof = true;   /* the demuxer changed its mind about the streams: no audio */
		return 0;
	}
	ret = reel__media_open_decoder(vst, false, &dec);
	if (ret < 0) {
		reel__media_close_format(&fmt);
		return ret;
	}
	dec->pkt_timebase = fmt->streams[a->stream]->time_base;
	for (unsigned i = 0; i < fmt->nb_streams; i++)
		fmt->streams[i]->discard = (int)i == a->stream ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
	reel__media_close_format(&a->fmt);
	a->fmt = fmt;
	avcodec_free_context(&a->dec);
	a->dec = dec;
	return 0;
}

/*
 * The byte position of the video frames shown `margin` seconds before
 * sample s (of rate), from the index; 0 when that is before the first.
 */
static int64_t audio_byte_target(const struct decode_call *c, int64_t s, uint32_t rate, int margin)
{
	uint64_t lo, first;
	int64_t pos = -1, t;
	struct reel_index_entry e;
	int r;

	if (c->buffer_tb.num <= 0 || c->buffer_tb.den <= 0 || rate == 0 || rate > INT_MAX)
		return 0;
	t = av_sat_sub64(av_rescale_q(s, (AVRational){ 1, (int)rate }, c->buffer_tb),
	                 av_rescale_q(margin, (AVRational){ 1, 1 }, c->buffer_tb));
	/* The first frame shown after t; past what is indexed so far, the end of that. */
	r = reel_index_lower_bound(c->buffer, av_sat_add64(t, 1), &lo);
	if (r == REEL_E_NOTYET)
		lo = reel_index_ready(c->buffer);
	else if (r < 0)
		return 0;
	if (lo == 0)
		return 0;
	/* The frames shown before it may lie after it in the file (reordering): the lowest of a few. */
	first = lo > 16 ? lo - 16 : 0;
	for (uint64_t i = first; i < lo; i++)
		if (entry_at(c, i, &e) == 0 && e.pos >= 0 && (pos < 0 || e.pos < pos))
			pos = e.pos;
	return pos < 0 ? 0 : pos;
}

/*
 * A format whose timestamps may start again (see seek_video): seek the
 * sound by bytes, from the index's positions of the frames shown a little
 * before it, further back while the first sound decoded there starts after
 * s.  1 when positioned, 0 when the top of the file is the place.
 */
static int audio_seek_bytes(struct reel_media *media, const struct decode_call *c, int64_t s)
{
	static const int margins[] = { 2, 8, 32 };
	struct reel__audio *a = &media->audio;

	for (size_t i = 0; i < sizeof(margins) / sizeof(margins[0]); i++) {
		int64_t pos = audio_byte_target(c, s, a->out_rate, margins[i]);
		int ret;

		if (pos <= 0)
			return 0;
		avcodec_flush_buffers(a->dec);
		if (av_seek_frame(a->fmt, a->stream, pos, AVSEEK_FLAG_BYTE) < 0)
			return 0;
		while (!a->eof && !a->positioned) {
			ret = audio_decode_more(a);
			if (ret < 0)
				return ret;
		}
		if (a->positioned && a->buf_start <= s)
			return 1;
		audio_reset(a);
	}
	return 0;
}

/*
 * Position the audio decoder so that sample s comes out: seek a little
 * before it (the decoder's pre-roll, at least 200 ms, so that the samples
 * we keep come from a warmed-up decoder), or read from the top when the
 * context is fresh and s is near the start.
 */
static int audio_seek(struct reel_media *media, const struct decode_call *c, int64_t s)
{
	struct reel__audio *a = &media->audio;
	const AVStream *st = a->fmt->streams[a->stream], *vst;
	int64_t preroll = a->out_rate / 5, ts, start;
	int ret;

	if (st->codecpar->seek_preroll > 0 && st->codecpar->sample_rate > 0) {
		int64_t p = av_rescale(st->codecpar->seek_preroll, a->out_rate,
		                       st->codecpar->sample_rate);
		if (p > preroll)
			preroll = p;
	}
	audio_reset(a);
	swr_free(&a->swr);
	if (a->fresh && s <= (int64_t)a->out_rate) {
		a->fresh = false;
		return 0;
	}
	a->fresh = false;
	/* The probed copy of the stream knows where it starts; ours was never probed. */
	vst = media->video.fmt->streams[media->audio_index];
	start = vst->start_time != AV_NOPTS_VALUE ?
	        av_rescale_q(vst->start_time, vst->time_base, st->time_base) : 0;
	ts = av_rescale_q(s - preroll, (AVRational){ 1, (int)a->out_rate }, st->time_base);
	if (ts > start && reel__media_clock_may_restart(a->fmt->iformat)) {
		ret = audio_seek_bytes(media, c, s - preroll);
		if (ret != 0)
			return ret < 0 ? ret : 0;
	} else if (ts > start) {
		avcodec_flush_buffers(a->dec);
		ret = av_seek_frame(a->fmt, a->stream, ts, AVSEEK_FLAG_BACKWARD);
		if (ret < 0)
			ret = avformat_seek_file(a->fmt, a->stream, INT64_MIN, ts, INT64_MAX, 0);
		if (ret >= 0)
			return 0;
	}
	/*
	 * Near the start, or when the demuxer cannot seek: begin again from the
	 * top with a new decoder, whose state is then exactly that of a decode
	 * from the start (a flushed decoder may remember window shapes and the
	 * like from where it was).
	 */
	return audio_rewind(media);
}

/*
 * Copy the samples of [s0, s1) into dst (at most its capacity); returns the
 * number of samples per channel written, silence where the stream has a gap.
 */
static int write_audio(struct reel_media *media, const struct decode_call *c,
                       int64_t s0, int64_t s1, const struct reel_frame *dst, uint32_t *ret_n)
{
	struct reel__audio *a = &media->audio;
	int64_t n = s1 - s0, end, have_from, have_to;
	size_t ch = dst->channels;
	int ret;

	*ret_n = 0;
	if (n > (int64_t)dst->audio_capacity)
		n = dst->audio_capacity;
	if (n <= 0)
		return 0;
	if (a->out_rate != c->binfo->sample_rate || a->out_channels != dst->channels) {
		a->out_rate = c->binfo->sample_rate;
		a->out_channels = dst->channels;
		swr_free(&a->swr);
		a->buf_len = 0;
		a->positioned = false;
	}
	if (!a->positioned || s0 < a->buf_start ||
	    (!a->eof && s0 > audio_end(a) + (int64_t)a->out_rate)) {
		ret = audio_seek(media, c, s0);
		if (ret < 0)
			return ret;
	}
	while (!a->eof && (!a->positioned || audio_end(a) < s0 + n)) {
		ret = audio_decode_more(a);
		if (ret < 0)
			return ret;
	}
	audio_drop_before(a, s0);
	end = audio_end(a);
	if (!a->positioned || (a->eof && end <= s0))
		return 0;   /* the audio ended before this frame */
	if (a->eof && end < s0 + n)
		n = end - s0;
	/*
	 * What the buffer holds of [s0, s0 + n), clipped to it: audio that
	 * starts after the frame ends (a jump in a damaged file's timestamps)
	 * must not push the silence before it past the slot's capacity.
	 */
	have_from = a->buf_start > s0 ? a->buf_start : s0;
	if (have_from > s0 + n)
		have_from = s0 + n;
	have_to = end < s0 + n ? end : s0 + n;
	if (have_to < have_from)
		have_to = have_from;
	if (have_from > s0)
		memset(dst->audio, 0, (size_t)(have_from - s0) * ch * sizeof(float));
	if (have_to > have_from)
		memcpy(dst->audio + (size_t)(have_from - s0) * ch,
		       a->buf + (size_t)(have_from - a->buf_start) * ch,
		       (size_t)(have_to - have_from) * ch * sizeof(float));
	if (have_to < s0 + n)
		memset(dst->audio + (size_t)(have_to - s0) * ch, 0,
		       (size_t)(s0 + n - have_to) * ch * sizeof(float));
	audio_drop_before(a, s1);
	*ret_n = (uint32_t)n;
	return 0;
}

/* [s0, s1): the global sample numbers of frame idx. */
static int frame_samples(const struct decode_call *c, uint64_t idx, int64_t duration,
                         int64_t *ret_s0, int64_t *ret_s1)
{
	struct reel_index_entry e, next, prev;
	int64_t end, s0, s1;
	int ret;

	ret = entry_at(c, idx, &e);
	if (ret < 0)
		return ret;
	if (idx + 1 < reel_index_end(c->buffer)) {
		ret = entry_at(c, idx + 1, &next);
		if (ret < 0)
			return ret;
		end = next.pts;
	} else {
		prev.pts = AV_NOPTS_VALUE;
		if (idx > 0 && entry_at(c, idx - 1, &prev) < 0)
			prev.pts = AV_NOPTS_VALUE;
		end = reel__media_last_end(e.pts, duration, prev.pts, c->binfo->frame_rate,
		                           c->binfo->time_base);
	}
	s0 = reel__media_sample_at(e.pts, c->binfo->time_base, c->binfo->sample_rate);
	s1 = reel__media_sample_at(end, c->binfo->time_base, c->binfo->sample_rate);
	/*
	 * The index is in a shared file and its times may be anything: sample
	 * numbers beyond +-2^62 have no sound (and would overflow the
	 * arithmetic of write_audio()).
	 */
	if (!reel__media_ts_ok(s0) || !reel__media_ts_ok(s1))
		return REEL_E_INDEX;
	*ret_s0 = s0;
	*ret_s1 = s1;
	return 0;
}

/* ---- delivery ------------------------------------------------------------- */

/* Tell the sink frame idx could not be produced.  Returns the sink's verdict. */
static int deliver_error(const struct decode_call *c, uint64_t idx, int32_t error)
{
	struct reel_frame dst;
	int ret = c->sink->begin(c->sink->userdata, idx, &dst);

	if (ret != 0)
		return ret < 0 ? ret : 0;
	return c->sink->end(c->sink->userdata, idx, 0, error);
}

/* Made from damaged data: concealed, or with a reference missing. */
static bool picture_damaged(const AVFrame *f)
{
	return (f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags;
}

static int deliver_frame(const struct decode_call *c, uint64_t idx)
{
	struct reel_media *media = c->media;
	struct reel_frame dst;
	uint32_t samples = 0;
	int32_t error = 0;
	int ret;

	ret = c->sink->begin(c->sink->userdata, idx, &dst);
	if (ret != 0)
		return ret < 0 ? ret : 0;
	if (!reel__frame_view_valid(&dst)) {
		error = -EINVAL;
		goto out_end;
	}
	/*
	 * A picture the decoder made from damaged data (concealed, or with a
	 * reference missing) is not the source's frame: it is marked ERROR
	 * like a frame never produced, and the frames around it go on.
	 */
	if (picture_damaged(media->video.frame)) {
		reel_log(REEL_LOG_DEBUG, "media", "frame %llu decoded from damaged data (flags %#x)",
		         (unsigned long long)idx, (unsigned)media->video.frame->decode_error_flags);
		error = REEL_E_DECODE;
		goto out_end;
	}
	ret = write_picture(&media->video, media->video.frame, &dst, c->sink, idx);
	if (ret < 0) {
		error = ret;
		goto out_end;
	}
	if (media->audio.fmt && dst.audio && dst.channels > 0 && dst.channels <= REEL_MAX_CHANNELS &&
	    dst.audio_capacity > 0 && c->binfo->sample_rate > 0) {
		int64_t s0, s1;

		ret = frame_samples(c, idx, media->video.frame->pkt_duration, &s0, &s1);
		if (ret == 0)
			ret = write_audio(media, c, s0, s1, &dst, &samples);
		if (ret == -ENOMEM) {
			error = ret;
			goto out_end;
		}
		if (ret < 0)
			samples = 0;   /* the picture is good; the audio is lost for this frame */
	}
out_end:
	return c->sink->end(c->sink->userdata, idx, samples, error);
}

/*
 * Report the frames of [from, to] as not decodable; returns the sink's
 * verdict.  Only those of the request are said to be broken: one passed on
 * the way from the keyframe may well decode from an earlier one (an open
 * group's leading pictures).
 */
static int deliver_errors(const struct decode_call *c, uint64_t from, uint64_t to)
{
	for (uint64_t i = from > c->first ? from : c->first; i <= to; i++) {
		int ret = deliver_error(c, i, REEL_E_DECODE);
		if (ret != 0)
			return ret;
	}
	return 0;
}

/* Decode again from the keyframe before the one the decoder's run started from (see reel_media_decode). */
static int seek_earlier(const struct decode_call *c, uint64_t frame, int *retries)
{
	struct reel__video *v = &c->media->video;
	uint64_t earlier = 0;
	int ret = find_keyframe(c, v->run_key - 1, &earlier);

	if (ret < 0)
		return ret;
	reel_log(REEL_LOG_DEBUG, "media", "frame %llu not served from keyframe %llu: from %llu",
	         (unsigned long long)frame, (unsigned long long)v->run_key,
	         (unsigned long long)earlier);
	++*retries;
	choose_decoder(v, c->last + 1 - earlier > SHORT_RUN || from_the_top(c, earlier));
	return seek_video(c, earlier);
}

int reel_media_decode(struct reel_media *media, const struct reel_buffer *buffer,
                      uint64_t frame, uint64_t last, const struct reel_sink *sink)
{
	struct decode_call c;
	struct reel__video *v;
	uint64_t key = 0;
	bool go_on, run, seeked, served = false;
	int ret, retries = 0;

	if (!media || !buffer || !sink || !sink->begin || !sink->end)
		return -EINVAL;
	reel__media_audio_join(media);
	c.media = media;
	c.buffer = buffer;
	c.binfo = reel_buffer_info(buffer);
	c.sink = sink;
	c.first = frame;
	c.last = last;
	if (!c.binfo || frame > last || last >= reel_index_end(buffer))
		return REEL_E_RANGE;
	if (c.binfo->time_base.num <= 0 || c.binfo->time_base.den <= 0)
		return REEL_E_HEADER;
	v = &media->video;
	c.stream_tb = v->fmt->streams[v->stream]->time_base;
	c.buffer_tb = (AVRational){ c.binfo->time_base.num, c.binfo->time_base.den };

	ret = find_keyframe(&c, frame, &key);
	if (ret < 0)
		return ret;
	/* Going on from where the decoder stands beats seeking when no keyframe lies between. */
	go_on = v->positioned && v->next_index <= frame && key <= v->next_index;
	run = last + 1 - (go_on ? v->next_index : key) > SHORT_RUN;
	/* A long run on the one-thread decoder goes back to its keyframe with the threaded one. */
	if (go_on && run && v->dec == v->dec_single && !v->threads_failed)
		go_on = false;
	if (!go_on && from_the_top(&c, key))
		run = true;
	seeked = !go_on;
	if (!go_on) {
		choose_decoder(v, run);
		ret = seek_video(&c, key);
		if (ret < 0)
			return ret;
	}

	for (;;) {
		int64_t pts, idx;
		uint64_t expect = v->next_index;

		ret = next_video_frame(v);
		if (ret < 0)
			return ret;
		if (ret == END_OF_STREAM) {
			/* The frame asked for never came: the same, from the keyframe before the run's. */
			if (!served && v->run_key > 0 && retries < 2 && expect <= frame) {
				ret = seek_earlier(&c, frame, &retries);
				if (ret < 0)
					return ret;
				continue;
			}
			if (expect <= last) {
				ret = deliver_errors(&c, expect, last);
				return ret < 0 ? ret : 0;
			}
			return 0;
		}
		pts = v->frame->pts != AV_NOPTS_VALUE ? v->frame->pts : v->frame->best_effort_timestamp;
		idx = pts == AV_NOPTS_VALUE ? (int64_t)expect :
		      lookup_pts(&c, av_rescale_q(pts, c.stream_tb, c.buffer_tb), expect);
		if (idx < 0 || (uint64_t)idx < expect) {
			/* Before the keyframe, already delivered, or not in the index. */
			reel_log(REEL_LOG_DEBUG, "media", "dropped decoded frame with pts %lld",
			         (long long)pts);
			av_frame_unref(v->frame);
			continue;
		}
		/*
		 * Pictures of an open group may need pictures from before its
		 * keyframe: its leading ones (shown before it), and in H.264 with
		 * referenced B-pictures even later ones.  So after a seek, when the
		 * first picture lies past the frame wanted, or comes only once the
		 * file has ended (without a time to tell where it lies: an AVI
		 * lists a keyframe where it is decoded, not where it is shown), or
		 * the first one asked for comes out damaged, the decode starts
		 * again from the keyframe before, once or twice.
		 */
		if (v->run_key > 0 && retries < 2 && !served &&
		    ((seeked && expect <= frame &&
		      ((uint64_t)idx > frame || (pts == AV_NOPTS_VALUE && v->draining))) ||
		     ((uint64_t)idx >= frame && (uint64_t)idx <= last && picture_damaged(v->frame)))) {
			av_frame_unref(v->frame);
			ret = seek_earlier(&c, frame, &retries);
			if (ret < 0)
				return ret;
			continue;
		}
		seeked = false;
		if ((uint64_t)idx >= frame)
			served = true;
		if ((uint64_t)idx > last) {
			av_frame_move_ref(v->pending, v->frame);
			v->has_pending = true;
			v->next_index = last + 1;
			if (expect <= last) {
				ret = deliver_errors(&c, expect, last);
				return ret < 0 ? ret : 0;
			}
			return 0;
		}
		if ((uint64_t)idx > expect) {
			ret = deliver_errors(&c, expect, (uint64_t)idx - 1);
			if (ret != 0) {
				av_frame_unref(v->frame);
				v->positioned = false;
				return ret < 0 ? ret : 0;
			}
		}
		v->next_index = (uint64_t)idx + 1;
		ret = deliver_frame(&c, (uint64_t)idx);
		av_frame_unref(v->frame);
		if (ret != 0 || (uint64_t)idx == last)
			return ret < 0 ? ret : 0;
	}
}

/* ---- one frame into private memory ---------------------------------------- */

struct one_picture {
	uint64_t frame;
	const struct reel_frame *dst;
	int32_t error;
	bool delivered;
};

static int one_begin(void *userdata, uint64_t frame, struct reel_frame *ret_frame)
{
	struct one_picture *o = userdata;

	if (frame != o->frame)
		return 1;
	*ret_frame = *o->dst;
	/* The picture only: a frame view without sound makes the decoder skip the audio. */
	ret_frame->audio = NULL;
	ret_frame->audio_capacity = 0;
	ret_frame->channels = 0;
	return 0;
}

static int one_end(void *userdata, uint64_t frame, uint32_t audio_samples, int32_t error)
{
	struct one_picture *o = userdata;

	(void)audio_samples;
	if (frame != o->frame)
		return 0;
	o->error = error;
	o->delivered = true;
	return 1;
}

int reel_media_decode_picture(struct reel_media *media, const struct reel_buffer *buffer,
                              uint64_t frame, const struct reel_frame *dst)
{
	struct one_picture o = { .frame = frame, .dst = dst };
	const struct reel_sink sink = { one_begin, one_end, &o, NULL, NULL };
	int ret;

	if (!dst || !reel__frame_view_valid(dst))
		return -EINVAL;
	ret = reel_media_decode(media, buffer, frame, frame, &sink);
	if (ret < 0)
		return ret;
	if (!o.delivered)
		return REEL_E_DECODE;
	return o.error;
}

int reel_media_decode_audio(struct reel_media *media, const struct reel_buffer *buffer,
                            uint64_t frame, const struct reel_frame *dst, uint32_t *ret_samples)
{
	struct decode_call c = { .media = media, .buffer = buffer };
	int64_t s0, s1;
	int ret;

	*ret_samples = 0;
	if (!media || !buffer || !dst || !dst->audio || dst->channels == 0 ||
	    dst->channels > REEL_MAX_CHANNELS)
		return -EINVAL;
	c.binfo = reel_buffer_info(buffer);
	if (frame >= reel_index_end(buffer))
		return REEL_E_RANGE;
	reel__media_audio_join(media);
	if (!media->audio.fmt || c.binfo->sample_rate == 0)
		return 0;
	if (c.binfo->time_base.num <= 0 || c.binfo->time_base.den <= 0)
		return REEL_E_HEADER;
	c.buffer_tb = (AVRational){ c.binfo->time_base.num, c.binfo->time_base.den };
	/* No picture decoded, so the last frame ends one frame interval after it starts. */
	ret = frame_samples(&c, frame, 0, &s0, &s1);
	if (ret < 0)
		return ret;
	return write_audio(media, &c, s0, s1, dst, ret_samples);
}

int64_t reel_media_sample_at(int64_t ts, struct reel_rational time_base, uint32_t rate)
{
	return reel__media_sample_at(ts, time_base, rate);
}
