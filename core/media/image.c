/*
 * Writing one frame's picture to a file, for `reel frame` and the tests:
 * the raw YUV420P planes with the rows packed (width bytes per Y row,
 * (width + 1) / 2 per U and V row), a PNG made by libavcodec's encoder after
 * swscale converts to RGB24, or a JPEG (libavcodec's mjpeg, full-range
 * YUV 4:2:0 as JFIF wants it).  The buffer holds limited-range YUV in the
 * source's colour matrix; both conversions tell swscale which (flags in
 * media.h), as the preview tells SDL.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libavutil/frame.h>

#include "media/media-private.h"
#include "reel/error.h"

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

bool reel__frame_view_valid(const struct reel_frame *f)
{
	uint32_t w = f->width[0], h = f->height[0];

	if (w == 0 || h == 0 || w > REEL_MAX_DIMENSION || h > REEL_MAX_DIMENSION)
		return false;
	for (int i = 0; i < 3; i++) {
		uint32_t pw = i ? (w + 1) / 2 : w, ph = i ? (h + 1) / 2 : h;

		if (!f->plane[i] || f->width[i] != pw || f->height[i] != ph ||
		    f->stride[i] < pw || f->stride[i] > INT_MAX)
			return false;
	}
	return true;
}

static int write_yuv(int fd, const struct reel_frame *f)
{
	for (int i = 0; i < 3; i++) {
		for (uint32_t y = 0; y < f->height[i]; y++) {
			int ret = write_all(fd, f->plane[i] + (size_t)y * f->stride[i], f->width[i]);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

int reel_media_image_format(const char *path)
{
	if (!path)
		return -EINVAL;
	if (has_suffix(path, ".png"))
		return REEL_IMAGE_PNG;
	if (has_suffix(path, ".jpg") || has_suffix(path, ".jpeg"))
		return REEL_IMAGE_JPEG;
	if (has_suffix(path, ".yuv"))
		return REEL_IMAGE_YUV;
	return -EINVAL;
}

int reel_media_matrix(uint32_t colorspace, uint32_t height)
{
	_Static_assert(REEL_MATRIX_BT709 == SWS_CS_ITU709 && REEL_MATRIX_BT601 == SWS_CS_ITU601,
	               "matrix numbers are swscale's");
	if (colorspace == AVCOL_SPC_BT709)
		return REEL_MATRIX_BT709;
	if (colorspace == AVCOL_SPC_BT470BG || colorspace == AVCOL_SPC_SMPTE170M)
		return REEL_MATRIX_BT601;
	/* Untagged (or another matrix): SD is BT.601, HD BT.709, as players and SDL guess. */
	return height <= 576 ? REEL_MATRIX_BT601 : REEL_MATRIX_BT709;
}

/* PNG: RGB24; JPEG: full-range YUV 4:2:0 (yuvj420p), BT.601 as JFIF says. */
static int encode_image(const struct reel_frame *f, int format, int colorspace, AVPacket **ret_pkt)
{
	bool jpeg = format == REEL_IMAGE_JPEG;
	const AVCodec *codec = avcodec_find_encoder(jpeg ? AV_CODEC_ID_MJPEG : AV_CODEC_ID_PNG);
	enum AVPixelFormat out = jpeg ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_RGB24;
	int w = (int)f->width[0], h = (int)f->height[0];
	const uint8_t *src[4] = { f->plane[0], f->plane[1], f->plane[2], NULL };
	int src_stride[4] = { (int)f->stride[0], (int)f->stride[1], (int)f->stride[2], 0 };
	struct SwsContext *sws = NULL;
	AVCodecContext *enc = NULL;
	AVFrame *rgb = NULL;
	AVPacket *pkt = NULL;
	const int *coefs;
	int ret;

	if (!codec)
		return REEL_E_BADMEDIA;
	rgb = av_frame_alloc();
	pkt = av_packet_alloc();
	enc = avcodec_alloc_context3(codec);
	if (!rgb || !pkt || !enc) {
		ret = -ENOMEM;
		goto out_free;
	}
	rgb->format = out;
	rgb->width = w;
	rgb->height = h;
	ret = av_frame_get_buffer(rgb, 0);
	if (ret < 0) {
		ret = reel__from_averror(ret);
		goto out_free;
	}
	sws = sws_getContext(w, h, AV_PIX_FMT_YUV420P, w, h, jpeg ? AV_PIX_FMT_YUV420P : out,
	                     REEL__SWS_FLAGS | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
	if (!sws) {
		ret = -ENOMEM;
		goto out_free;
	}
	/* Limited-range YUV in the source's matrix in; RGB, or JFIF's full-range BT.601, out. */
	coefs = sws_getCoefficients(reel_media_matrix((uint32_t)colorspace, f->height[0]));
	sws_setColorspaceDetails(sws, coefs, 0, jpeg ? sws_getCoefficients(SWS_CS_ITU601) : coefs, 1,
	                         0, 1 << 16, 1 << 16);
	if (sws_scale(sws, src, src_stride, 0, h, rgb->data, rgb->linesize) != h) {
		ret = REEL_E_DECODE;
		goto out_free;
	}

	enc->width = w;
	enc->height = h;
	enc->pix_fmt = out;
	enc->time_base = (AVRational){ 1, 25 };
	enc->thread_count = 1;
	if (jpeg) {
		/* High quality: a snapshot is looked at, not streamed. */
		enc->flags |= AV_CODEC_FLAG_QSCALE;
		enc->global_quality = FF_QP2LAMBDA * 2;
		enc->color_range = AVCOL_RANGE_JPEG;
		rgb->quality = enc->global_quality;
	}
	ret = avcodec_open2(enc, codec, NULL);
	if (ret < 0) {
		ret = reel__from_averror(ret);
		goto out_free;
	}
	ret = avcodec_send_frame(enc, rgb);
	if (ret >= 0)
		ret = avcodec_receive_packet(enc, pkt);
	if (ret < 0) {
		ret = ret == AVERROR(ENOMEM) ? -ENOMEM : REEL_E_DECODE;
		goto out_free;
	}
	*ret_pkt = pkt;
	pkt = NULL;
	ret = 0;

out_free:
	sws_freeContext(sws);
	avcodec_free_context(&enc);
	av_packet_free(&pkt);
	av_frame_free(&rgb);
	return ret;
}

int reel_media_write_image_fd(int fd, int format, const struct reel_frame *frame, int colorspace)
{
	AVPacket *pkt = NULL;
	int ret;

	if (!frame || !reel__frame_view_valid(frame) ||
	    (format != REEL_IMAGE_PNG && format != REEL_IMAGE_JPEG && format != REEL_IMAGE_YUV))
		return -EINVAL;
	if (format == REEL_IMAGE_YUV)
		return write_yuv(fd, frame);
	ret = encode_image(frame, format, colorspace, &pkt);
	if (ret == 0)
		ret = write_all(fd, pkt->data, (size_t)pkt->size);
	av_packet_free(&pkt);
	return ret;
}

int reel_media_write_image(const char *path, const struct reel_frame *frame, int colorspace)
{
	AVPacket *pkt = NULL;
	int format = reel_media_image_format(path);
	int fd, ret;

	if (!path || !frame || !reel__frame_view_valid(frame) || format < 0)
		return -EINVAL;
	/* Encode before touching the file, so that a failed encode leaves it alone. */
	if (format != REEL_IMAGE_YUV) {
		ret = encode_image(frame, format, colorspace, &pkt);
		if (ret < 0)
			return ret;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0) {
		ret = -errno;
		goto out_free;
	}
	ret = format == REEL_IMAGE_YUV ? write_yuv(fd, frame) : write_all(fd, pkt->data, (size_t)pkt->size);
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret < 0)
		unlink(path);

out_free:
	av_packet_free(&pkt);
	return ret;
}
