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
 * The scan reads packets, not pictures.  It reads the keyframe's NAL units
 * here: an IDR picture, or a recovery point whole at once (an open group's
 * I-picture), starts the index as any keyframe does.  Otherwise it asks a
 * decoder: from the first keyframe on, decode until the first picture
 * comes out.  Its time is the first the index holds (core/media/scan.c).
 */
#include <errno.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>

#include "media/media-private.h"

/* Packets fed to the probe before it gives up: a refresh period is seldom more than a few seconds. */
#define PROBE_PACKETS 2048

/* NAL unit types (H.264, 7.4.1.2) and the SEI payload type of a recovery point (D.1.8). */
#define NAL_IDR_SLICE 5
#define NAL_SEI 6
#define SEI_RECOVERY_POINT 6

/* A NAL unit's payload read as its RBSP: the emulation prevention bytes (00 00 03) skipped. */
struct rbsp {
	const uint8_t *p;
	size_t n, at;
	int zeros;                 /* zero bytes just read */
	int cur, left;             /* the byte being read bit by bit, and its bits left */
};

static int rbsp_byte(struct rbsp *r)
{
	uint8_t b;

	if (r->at >= r->n)
		return -1;
	b = r->p[r->at++];
	if (r->zeros >= 2 && b == 3) {
		r->zeros = 0;
		if (r->at >= r->n)
			return -1;
		b = r->p[r->at++];
	}
	r->zeros = b == 0 ? r->zeros + 1 : 0;
	return b;
}

static int rbsp_bit(struct rbsp *r)
{
	if (r->left == 0) {
		r->cur = rbsp_byte(r);
		if (r->cur < 0)
			return -1;
		r->left = 8;
	}
	return (r->cur >> --r->left) & 1;
}

/* An unsigned Exp-Golomb number, ue(v); -1 when cut short or beyond 2^16. */
static int rbsp_ue(struct rbsp *r)
{
	int zeros = 0, bit, value = 0;

	while ((bit = rbsp_bit(r)) == 0)
		if (++zeros > 16)
			return -1;
	if (bit < 0)
		return -1;
	for (int i = 0; i < zeros; i++) {
		if ((bit = rbsp_bit(r)) < 0)
			return -1;
		value = value << 1 | bit;
	}
	return (1 << zeros) - 1 + value;
}

/* The recovery_frame_cnt of an SEI unit's recovery point (payload after the header byte), or -1. */
static int sei_recovery_frames(const uint8_t *p, size_t n)
{
	struct rbsp r = { .p = p, .n = n };

	for (;;) {
		int type = 0, size = 0, b;

		do {
			if ((b = rbsp_byte(&r)) < 0)
				return -1;
			type += b;
		} while (b == 0xff && type < 1 << 16);
		do {
			if ((b = rbsp_byte(&r)) < 0)
				return -1;
			size += b;
		} while (b == 0xff && size < 1 << 20);
		if (type == SEI_RECOVERY_POINT)
			return rbsp_ue(&r);
		for (int i = 0; i < size; i++)
			if (rbsp_byte(&r) < 0)
				return -1;
	}
}

static void look_at_unit(const uint8_t *p, size_t n, struct reel__h264_unit *u)
{
	if (n == 0)
		return;
	if ((p[0] & 0x1f) == NAL_IDR_SLICE)
		u->idr = true;
	else if ((p[0] & 0x1f) == NAL_SEI && u->recovery_frames < 0)
		u->recovery_frames = sei_recovery_frames(p + 1, n - 1);
}

static void look_annexb(const uint8_t *p, size_t n, struct reel__h264_unit *u)
{
	size_t start = SIZE_MAX;

	for (size_t i = 0; i + 2 < n; i++) {
		if (p[i] != 0 || p[i + 1] != 0 || p[i + 2] != 1)
			continue;
		if (start != SIZE_MAX)
			look_at_unit(p + start, i - start, u);
		start = i + 3;
		i += 2;
	}
	if (start != SIZE_MAX && start < n)
		look_at_unit(p + start, n - start, u);
}

/* avcC's units, each after a big-endian length of len_size bytes. */
static void look_length_prefixed(const uint8_t *p, size_t n, unsigned len_size,
                                 struct reel__h264_unit *u)
{
	size_t at = 0;

	while (at + len_size < n) {
		size_t len = 0;

		for (unsigned k = 0; k < len_size; k++)
			len = len << 8 | p[at + k];
		at += len_size;
		if (len == 0 || len > n - at)
			return;
		look_at_unit(p + at, len, u);
		at += len;
	}
}

void reel__media_h264_look(const AVCodecParameters *par, const uint8_t *data, size_t size,
                           struct reel__h264_unit *ret_unit)
{
	const uint8_t *x = par->extradata;

	ret_unit->idr = false;
	ret_unit->recovery_frames = -1;
	if (!data || size == 0)
		return;
	/* An avcC record (version 1) names the length size; Annex B has start codes instead. */
	if (x && par->extradata_size >= 7 && x[0] == 1)
		look_length_prefixed(data, size, (x[4] & 3u) + 1, ret_unit);
	else
		look_annexb(data, size, ret_unit);
}

/* The first picture's time, from a decoder fed from the first keyframe on. */
static int decode_first(struct reel__video *v, AVCodecContext *dec, AVFrame *frame,
                        int64_t *ret_pts)
{
	bool keyed = false;
	int r = 0;

	for (unsigned fed = 0; fed < PROBE_PACKETS;) {
		r = reel__media_read_video_packet(v);
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
	/* Fed as the coordinator's decoder is after a seek to the top. */
	v->max_dts = AV_NOPTS_VALUE;
	/* Frame threads, as the coordinator's decoder has for such a run: the same pictures, sooner. */
	r = reel__media_open_decoder(v->fmt->streams[v->stream], true, &dec);
	if (r < 0) {
		/* No decoder to ask: the index starts at the keyframe, as without the probe. */
		if (r != -ENOMEM)
			r = 0;
		goto out;
	}
	/* Only when a picture comes out matters, not how it looks: no deblocking. */
	dec->skip_loop_filter = AVDISCARD_ALL;
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
