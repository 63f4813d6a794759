/*
 * Where the decoder's pictures begin in an H.264 stream that starts at a
 * recovery point instead of an IDR picture.
 *
 * A stream recorded part-way (a broadcast, a camera's rolling capture)
 * whose encoder uses intra refresh has no IDR picture at all: it can be
 * entered only at a picture that carries a recovery-point SEI, which libav's
 * parser flags as a keyframe.  The SEI says how many pictures later the
 * picture is whole again (recovery_frame_cnt), and libav's decoder shows
 * nothing before that point: ffmpeg does not, so neither may the index.
 * The scan reads packets, not pictures, so it asks a decoder: from the
 * first keyframe on, decode until the first picture comes out.  Its time
 * is the first the index holds (core/media/scan.c).
 */
#include <errno.h>

#include <libavcodec/avcodec.h>

#include "media/media-private.h"

/* Packets fed to the probe before it gives up: a refresh period is seldom more than a few seconds. */
#define PROBE_PACKETS 2048

/* NAL unit type of an IDR picture's slice (H.264, 7.4.1.2). */
#define NAL_IDR_SLICE 5

static bool annexb_has_idr(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 3 < n; i++) {
		if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1) {
			if ((p[i + 3] & 0x1f) == NAL_IDR_SLICE)
				return true;
			i += 2;
		}
	}
	return false;
}

/* avcC's units, each after a big-endian length of len_size bytes. */
static bool length_prefixed_has_idr(const uint8_t *p, size_t n, unsigned len_size)
{
	size_t at = 0;

	while (at + len_size < n) {
		size_t len = 0;

		for (unsigned k = 0; k < len_size; k++)
			len = len << 8 | p[at + k];
		at += len_size;
		if (len == 0 || len > n - at)
			return false;
		if ((p[at] & 0x1f) == NAL_IDR_SLICE)
			return true;
		at += len;
	}
	return false;
}

bool reel__media_h264_idr(const AVCodecParameters *par, const uint8_t *data, size_t size)
{
	const uint8_t *x = par->extradata;

	if (!data || size == 0)
		return false;
	/* An avcC record (version 1) names the length size; Annex B has start codes instead. */
	if (x && par->extradata_size >= 7 && x[0] == 1)
		return length_prefixed_has_idr(data, size, (x[4] & 3u) + 1);
	return annexb_has_idr(data, size);
}

/* The next packet of the video stream that the decoder would see; < 0 at the end. */
static int next_packet(struct reel__video *v)
{
	for (;;) {
		int r = av_read_frame(v->fmt, v->pkt);

		if (r < 0)
			return r;
		if (v->pkt->stream_index == v->stream && !(v->pkt->flags & AV_PKT_FLAG_DISCARD))
			return 0;
		av_packet_unref(v->pkt);
	}
}

/* The first picture's time, from a decoder fed from the first keyframe on. */
static int decode_first(struct reel__video *v, AVCodecContext *dec, AVFrame *frame,
                        int64_t *ret_pts)
{
	bool keyed = false;
	int r = 0;

	for (unsigned fed = 0; fed < PROBE_PACKETS;) {
		r = next_packet(v);
		if (r == AVERROR(ENOMEM))
			return -ENOMEM;
		if (r < 0)
			break;
		keyed = keyed || (v->pkt->flags & AV_PKT_FLAG_KEY);
		if (!keyed) {
			av_packet_unref(v->pkt);
			continue;
		}
		fed++;
		r = avcodec_send_packet(dec, v->pkt);
		av_packet_unref(v->pkt);
		if (r == AVERROR(ENOMEM))
			return -ENOMEM;
		if (avcodec_receive_frame(dec, frame) == 0)
			goto found;
	}
	avcodec_send_packet(dec, NULL);
	if (avcodec_receive_frame(dec, frame) == 0)
		goto found;
	return 0;
found:
	*ret_pts = frame->pts != AV_NOPTS_VALUE ? frame->pts : frame->best_effort_timestamp;
	if (!reel__media_ts_ok(*ret_pts))
		*ret_pts = AV_NOPTS_VALUE;
	return 0;
}

int reel__media_first_shown_pts(struct reel_media *media, int64_t *ret_pts)
{
	struct reel__video *v = &media->video;
	AVCodecContext *dec = NULL;
	AVFrame *frame = NULL;
	int r, r2;

	*ret_pts = AV_NOPTS_VALUE;
	r = reel__media_rewind_video(media);
	if (r < 0)
		return r;
	r = reel__media_open_decoder(v->fmt->streams[v->stream], false, &dec);
	if (r < 0) {
		/* No decoder to ask: the index starts at the keyframe, as without the probe. */
		if (r != -ENOMEM)
			r = 0;
		goto out;
	}
	frame = av_frame_alloc();
	if (!frame) {
		r = -ENOMEM;
		goto out;
	}
	r = decode_first(v, dec, frame, ret_pts);
out:
	av_frame_free(&frame);
	avcodec_free_context(&dec);
	/* The scan starts again from the top either way. */
	r2 = reel__media_rewind_video(media);
	v->fresh = false;
	return r < 0 ? r : r2;
}
