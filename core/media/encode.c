/*
 * Encoding frames into a file with libav: the export's one place that
 * includes libav's encoding and muxing headers.
 *
 * Shaped after FFmpeg's doc/examples (encode_video, mux): one encoder per
 * stream, packets rescaled once from the encoder's time base to the
 * stream's (av_packet_rescale_ts) and interleaved by the muxer
 * (av_interleaved_write_frame), never by hand.  The muxer writes through an
 * AVIOContext of our own over the caller's file descriptor, so no libav
 * protocol is ever involved and a pipe works as well as a file.
 *
 * Pictures come from a pool of refcounted buffers that the export fills
 * directly (no copy between the buffer's slot and the encoder but the one
 * out of the slot); a frame shown several times is sent several times with
 * the same buffer.  Sound goes through swresample into a FIFO and leaves
 * it in the encoder's frame size, its timestamps counted in samples.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>

#include "media/media-private.h"
#include "reel/error.h"

#define IO_BUFFER_SIZE (256 * 1024)
#define PLANE_ALIGN 64
#define DEFAULT_VIDEO_CODEC "libx264"
#define DEFAULT_AUDIO_CODEC "aac"
/* Frames of codecs that take any size (PCM) are cut at this many samples. */
#define VARIABLE_FRAME_SAMPLES 1024

/* A picture sent and not yet out of the encoder: its packet gets this duration. */
struct pending {
	int64_t pts, duration;
};

struct reel_encoder {
	int fd;
	int io_error;                /* the first write or seek error, -errno */
	AVIOContext *io;
	AVFormatContext *oc;
	AVPacket *pkt;

	AVCodecContext *venc;
	AVStream *vst;
	AVBufferPool *pool;
	size_t plane_offset[3];
	int linesize[3];
	size_t picture_size;
	AVFrame *picture;            /* the one handed out last */
	int64_t last_pts;
	bool sent_any;
	struct pending *pending;
	size_t npending, pending_cap;

	AVCodecContext *aenc;        /* NULL without sound */
	AVStream *ast;
	struct SwrContext *swr;
	AVAudioFifo *fifo;
	AVFrame *aframe;
	int frame_samples;           /* samples per channel of each audio frame sent */
	bool small_last_frame;       /* the encoder takes a shorter last frame */
	uint32_t in_channels;
	int64_t audio_pts;           /* in samples at the encoder's rate */
	uint8_t **conv;              /* converted samples, conv_cap per channel */
	int conv_cap;
	bool finished;
};

/* ------------------------------------------------------------ containers */

static const struct {
	const char *ext, *muxer;
} containers[] = {
	{ ".mp4", "mp4" }, { ".mkv", "matroska" }, { ".mov", "mov" }, { ".nut", "nut" },
	{ ".y4m", "y4m" },
};

const char *reel_media_container_for_path(const char *path)
{
	const char *dot = path ? strrchr(path, '.') : NULL;

	if (!dot || strchr(dot, '/'))
		return NULL;
	for (size_t i = 0; i < sizeof(containers) / sizeof(containers[0]); i++)
		if (strcasecmp(dot, containers[i].ext) == 0)
			return containers[i].muxer;
	return NULL;
}

const char *reel_media_container_named(const char *name)
{
	if (!name)
		return NULL;
	if (strcasecmp(name, "mkv") == 0)
		return "matroska";
	for (size_t i = 0; i < sizeof(containers) / sizeof(containers[0]); i++)
		if (strcasecmp(name, containers[i].muxer) == 0)
			return containers[i].muxer;
	return NULL;
}

/* ------------------------------------------------------------- output */

static int io_write(void *opaque, uint8_t *buf, int size)
{
	struct reel_encoder *e = opaque;
	int left = size;

	while (left > 0) {
		ssize_t n = write(e->fd, buf, (size_t)left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (!e->io_error)
				e->io_error = -errno;
			return AVERROR(errno);
		}
		buf += n;
		left -= (int)n;
	}
	return size;
}

static int64_t io_seek(void *opaque, int64_t offset, int whence)
{
	struct reel_encoder *e = opaque;
	struct stat st;
	off_t r;

	if (whence & AVSEEK_SIZE) {
		if (fstat(e->fd, &st) < 0)
			return AVERROR(errno);
		return st.st_size;
	}
	r = lseek(e->fd, (off_t)offset, whence & ~AVSEEK_FORCE);
	if (r < 0) {
		if (!e->io_error)
			e->io_error = -errno;
		return AVERROR(errno);
	}
	return r;
}

static int open_io(struct reel_encoder *e)
{
	struct stat st;
	bool seekable = fstat(e->fd, &st) == 0 && S_ISREG(st.st_mode) &&
	                lseek(e->fd, 0, SEEK_CUR) >= 0;
	uint8_t *buf = av_malloc(IO_BUFFER_SIZE);

	if (!buf)
		return -ENOMEM;
	e->io = avio_alloc_context(buf, IO_BUFFER_SIZE, 1, e, NULL, io_write,
	                           seekable ? io_seek : NULL);
	if (!e->io) {
		av_free(buf);
		return -ENOMEM;
	}
	e->io->seekable = seekable ? AVIO_SEEKABLE_NORMAL : 0;
	e->oc->pb = e->io;
	e->oc->flags |= AVFMT_FLAG_CUSTOM_IO;
	return 0;
}

/* The error of a failed write: the file's own (ENOSPC, EPIPE) rather than libav's. */
static int write_error(struct reel_encoder *e, int averr)
{
	return e->io_error ? e->io_error : reel__from_averror(averr);
}

/* Take every packet the encoder has ready and hand it to the muxer. */
static int drain(struct reel_encoder *e, AVCodecContext *ctx, AVStream *st)
{
	for (;;) {
		int r = avcodec_receive_packet(ctx, e->pkt);

		if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
			return 0;
		if (r < 0)
			return reel__from_averror(r);
		if (ctx == e->venc) {
			/*
			 * The encoder does not carry a frame's duration to its packet;
			 * the muxer needs it for the last frame (the file's duration).
			 */
			for (size_t i = 0; i < e->npending; i++)
				if (e->pending[i].pts == e->pkt->pts) {
					e->pkt->duration = e->pending[i].duration;
					e->pending[i] = e->pending[--e->npending];
					break;
				}
		}
		av_packet_rescale_ts(e->pkt, ctx->time_base, st->time_base);
		e->pkt->stream_index = st->index;
		r = av_interleaved_write_frame(e->oc, e->pkt);
		if (r < 0)
			return write_error(e, r);
	}
}

/* ------------------------------------------------------------- opening */

static bool takes_yuv420p(const AVCodec *codec)
{
	if (!codec->pix_fmts)
		return true;
	for (const enum AVPixelFormat *p = codec->pix_fmts; *p != AV_PIX_FMT_NONE; p++)
		if (*p == AV_PIX_FMT_YUV420P)
			return true;
	return false;
}

static bool has_private_option(const AVCodec *codec, const char *name)
{
	return codec->priv_class &&
	       av_opt_find((void *)&codec->priv_class, name, NULL, 0, AV_OPT_SEARCH_FAKE_OBJ);
}

static bool known_x264_preset(const char *preset)
{
	static const char *const names[] = {
		"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
		"veryslow", "placebo",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(preset, names[i]) == 0)
			return true;
	return false;
}

/*
 * An encoder of the right kind, or REEL_E_PARAM with why.  Whether the
 * container can hold it is the muxer's to say when it writes the header:
 * avformat_query_codec() is not exact (mov takes ffv1, matroska anything
 * through its VFW mapping, and both say no).
 */
static int find_codec(const char *name, enum AVMediaType type, const AVCodec **ret_codec,
                      char *why, size_t whylen)
{
	const char *kind = type == AVMEDIA_TYPE_VIDEO ? "video" : "audio";
	const AVCodec *codec = avcodec_find_encoder_by_name(name);

	if (!codec || codec->type != type) {
		snprintf(why, whylen, "unknown %s codec '%s' (libav has no such %s encoder; "
		         "'ffmpeg -encoders' lists them)", kind, name, kind);
		return REEL_E_PARAM;
	}
	*ret_codec = codec;
	return 0;
}

static int open_video(struct reel_encoder *e, const struct reel_encode_params *p, char *why,
                      size_t whylen)
{
	const char *name = p->video_codec ? p->video_codec : DEFAULT_VIDEO_CODEC;
	bool x264 = strcmp(name, "libx264") == 0;
	AVDictionary *opts = NULL;
	const AVCodec *codec;
	char crf[16];
	int r;

	r = find_codec(name, AVMEDIA_TYPE_VIDEO, &codec, why, whylen);
	if (r < 0)
		return r;
	if (!takes_yuv420p(codec)) {
		snprintf(why, whylen, "video codec '%s' does not take 8-bit 4:2:0 pictures (yuv420p)",
		         name);
		return REEL_E_PARAM;
	}
	if (x264 && p->preset && !known_x264_preset(p->preset)) {
		/* x264 would print its own complaint to stderr before libav's log is in place. */
		snprintf(why, whylen, "--preset %s: libx264 knows ultrafast, superfast, veryfast, "
		         "faster, fast, medium, slow, slower, veryslow and placebo", p->preset);
		return REEL_E_PARAM;
	}
	if (x264 && p->crf > 51) {
		/* x264 would clip it to 51 without a word. */
		snprintf(why, whylen, "--crf %d: libx264 takes 0 to 51", p->crf);
		return REEL_E_PARAM;
	}
	if ((p->crf >= 0 && !has_private_option(codec, "crf")) ||
	    (p->preset && !has_private_option(codec, "preset"))) {
		snprintf(why, whylen, "video codec '%s' has no %s setting", name,
		         p->crf >= 0 && !has_private_option(codec, "crf") ? "--crf" : "--preset");
		return REEL_E_PARAM;
	}
	e->venc = avcodec_alloc_context3(codec);
	if (!e->venc)
		return -ENOMEM;
	e->venc->width = (int)p->width;
	e->venc->height = (int)p->height;
	e->venc->pix_fmt = AV_PIX_FMT_YUV420P;
	e->venc->time_base = (AVRational){ p->time_base.num, p->time_base.den };
	e->venc->framerate = (AVRational){ p->frame_rate.num, p->frame_rate.den };
	e->venc->sample_aspect_ratio = (AVRational){ 1, 1 };
	/*
	 * The buffer is always limited range (a full-range source is converted on
	 * the way in), in the source's matrix (kept as it was).  Pixels are taken as
	 * square: the buffer does not record a sample aspect ratio.
	 */
	e->venc->color_range = AVCOL_RANGE_MPEG;
	if (p->colorspace >= 0 && p->colorspace < AVCOL_SPC_NB && p->colorspace != AVCOL_SPC_RESERVED)
		e->venc->colorspace = (enum AVColorSpace)p->colorspace;
	e->venc->thread_count = p->threads;
	if (e->oc->oformat->flags & AVFMT_GLOBALHEADER)
		e->venc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	if (p->crf >= 0 || x264) {
		snprintf(crf, sizeof(crf), "%d", p->crf >= 0 ? p->crf : 23);
		av_dict_set(&opts, "crf", crf, 0);
	}
	if (p->preset || x264)
		av_dict_set(&opts, "preset", p->preset ? p->preset : "medium", 0);
	/* x265 prints its settings to stderr itself, past libav's log. */
	if (strcmp(name, "libx265") == 0)
		av_dict_set(&opts, "x265-params", "log-level=error", 0);
	r = avcodec_open2(e->venc, codec, &opts);
	av_dict_free(&opts);
	if (r < 0) {
		if (p->crf >= 0 && p->preset)
			snprintf(why, whylen, "video codec '%s' refused --crf %d or --preset %s", name,
			         p->crf, p->preset);
		else if (p->crf >= 0)
			snprintf(why, whylen, "video codec '%s' refused --crf %d", name, p->crf);
		else if (p->preset)
			snprintf(why, whylen, "video codec '%s' refused --preset %s", name, p->preset);
		else
			snprintf(why, whylen, "video codec '%s' could not be opened for %ux%u", name,
			         p->width, p->height);
		return REEL_E_PARAM;
	}
	e->vst = avformat_new_stream(e->oc, NULL);
	if (!e->vst)
		return -ENOMEM;
	r = avcodec_parameters_from_context(e->vst->codecpar, e->venc);
	if (r < 0)
		return reel__from_averror(r);
	e->vst->time_base = e->venc->time_base;
	e->vst->avg_frame_rate = e->venc->framerate;
	return 0;
}

/* The layout pool: every picture is one refcounted block, planes 64-byte aligned. */
static int open_pool(struct reel_encoder *e, const struct reel_encode_params *p)
{
	size_t off = 0;

	for (int i = 0; i < 3; i++) {
		uint32_t w = i ? (p->width + 1) / 2 : p->width, h = i ? (p->height + 1) / 2 : p->height;
		e->linesize[i] = (int)((w + PLANE_ALIGN - 1) & ~(uint32_t)(PLANE_ALIGN - 1));
		e->plane_offset[i] = off;
		off += (size_t)e->linesize[i] * h;
	}
	/* Readers of a plane (SIMD) may look a little past its end. */
	e->picture_size = off + PLANE_ALIGN;
	e->pool = av_buffer_pool_init(e->picture_size, NULL);
	e->picture = av_frame_alloc();
	return e->pool && e->picture ? 0 : -ENOMEM;
}

static enum AVSampleFormat pick_sample_format(const AVCodec *codec)
{
	if (!codec->sample_fmts)
		return AV_SAMPLE_FMT_FLT;
	for (const enum AVSampleFormat *f = codec->sample_fmts; *f != AV_SAMPLE_FMT_NONE; f++)
		if (*f == AV_SAMPLE_FMT_FLTP || *f == AV_SAMPLE_FMT_FLT)
			return *f;
	return codec->sample_fmts[0];
}

/* The source's rate when the codec takes it, else the nearest rate it takes (Opus: 48 kHz). */
static int pick_sample_rate(const AVCodec *codec, uint32_t rate)
{
	int best = 0;

	if (!codec->supported_samplerates)
		return (int)rate;
	for (const int *r = codec->supported_samplerates; *r; r++) {
		if ((uint32_t)*r == rate)
			return *r;
		if (!best || abs(*r - (int)rate) < abs(best - (int)rate))
			best = *r;
	}
	return best;
}

static bool takes_layout(const AVCodec *codec, const AVChannelLayout *layout)
{
	if (!codec->ch_layouts)
		return true;
	for (const AVChannelLayout *l = codec->ch_layouts; l->nb_channels; l++)
		if (av_channel_layout_compare(l, layout) == 0)
			return true;
	return false;
}

static int open_audio(struct reel_encoder *e, const struct reel_encode_params *p, char *why,
                      size_t whylen)
{
	const char *name = p->audio_codec ? p->audio_codec : DEFAULT_AUDIO_CODEC;
	AVChannelLayout in_layout;
	const AVCodec *codec;
	int r;

	r = find_codec(name, AVMEDIA_TYPE_AUDIO, &codec, why, whylen);
	if (r < 0)
		return r;
	e->aenc = avcodec_alloc_context3(codec);
	if (!e->aenc)
		return -ENOMEM;
	av_channel_layout_default(&e->aenc->ch_layout, (int)p->channels);
	if (!takes_layout(codec, &e->aenc->ch_layout)) {
		snprintf(why, whylen, "audio codec '%s' cannot take %u channels", name, p->channels);
		return REEL_E_PARAM;
	}
	e->aenc->sample_fmt = pick_sample_format(codec);
	e->aenc->sample_rate = pick_sample_rate(codec, p->sample_rate);
	e->aenc->time_base = (AVRational){ 1, e->aenc->sample_rate };
	e->aenc->thread_count = p->threads;
	if (e->oc->oformat->flags & AVFMT_GLOBALHEADER)
		e->aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	r = avcodec_open2(e->aenc, codec, NULL);
	if (r < 0) {
		snprintf(why, whylen, "audio codec '%s' could not be opened for %u Hz, %u channels", name,
		         p->sample_rate, p->channels);
		return REEL_E_PARAM;
	}
	e->small_last_frame = codec->capabilities &
	                      (AV_CODEC_CAP_SMALL_LAST_FRAME | AV_CODEC_CAP_VARIABLE_FRAME_SIZE);
	e->frame_samples = e->aenc->frame_size > 0 &&
	                   !(codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE)
	                   ? e->aenc->frame_size : VARIABLE_FRAME_SAMPLES;
	e->in_channels = p->channels;

	av_channel_layout_default(&in_layout, (int)p->channels);
	r = swr_alloc_set_opts2(&e->swr, &e->aenc->ch_layout, e->aenc->sample_fmt,
	                        e->aenc->sample_rate, &in_layout, AV_SAMPLE_FMT_FLT,
	                        (int)p->sample_rate, 0, NULL);
	av_channel_layout_uninit(&in_layout);
	if (r < 0)
		return reel__from_averror(r);
	r = swr_init(e->swr);
	if (r < 0)
		return reel__from_averror(r);
	e->fifo = av_audio_fifo_alloc(e->aenc->sample_fmt, (int)p->channels, 2 * e->frame_samples);
	e->aframe = av_frame_alloc();
	if (!e->fifo || !e->aframe)
		return -ENOMEM;

	e->ast = avformat_new_stream(e->oc, NULL);
	if (!e->ast)
		return -ENOMEM;
	r = avcodec_parameters_from_context(e->ast->codecpar, e->aenc);
	if (r < 0)
		return reel__from_averror(r);
	e->ast->time_base = e->aenc->time_base;
	return 0;
}

int reel_encoder_open(int fd, const struct reel_encode_params *p, struct reel_encoder **ret,
                      char *why, size_t whylen)
{
	struct reel_encoder *e;
	int r;

	if (!p || !ret || fd < 0 || !p->container || p->width == 0 || p->height == 0 ||
	    p->width > REEL_MAX_DIMENSION || p->height > REEL_MAX_DIMENSION ||
	    p->time_base.num <= 0 || p->time_base.den <= 0 || p->frame_rate.num <= 0 ||
	    p->frame_rate.den <= 0 || p->channels > REEL_MAX_CHANNELS ||
	    p->sample_rate > REEL_MAX_SAMPLE_RATE || p->threads < 0)
		return -EINVAL;
	reel__media_log_init();
	snprintf(why, whylen, "the encoder could not be set up");
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = fd;
	e->last_pts = INT64_MIN;
	r = avformat_alloc_output_context2(&e->oc, NULL, p->container, NULL);
	if (r < 0 || !e->oc) {
		snprintf(why, whylen, "libav cannot write '%s' files", p->container);
		r = REEL_E_PARAM;
		goto out_free;
	}
	e->pkt = av_packet_alloc();
	if (!e->pkt) {
		r = -ENOMEM;
		goto out_free;
	}
	r = open_video(e, p, why, whylen);
	if (r == 0)
		r = open_pool(e, p);
	if (r == 0 && p->channels > 0 && p->sample_rate > 0)
		r = open_audio(e, p, why, whylen);
	if (r == 0)
		r = open_io(e);
	if (r < 0)
		goto out_free;
	r = avformat_write_header(e->oc, NULL);
	if (r < 0 && !e->io_error) {
		/* The muxer refused a stream: name the codec it does not know, if it says which. */
		const AVOutputFormat *of = e->oc->oformat;
		bool video = avformat_query_codec(of, e->venc->codec_id, FF_COMPLIANCE_NORMAL) == 0;
		bool audio = e->aenc && avformat_query_codec(of, e->aenc->codec_id,
		                                             FF_COMPLIANCE_NORMAL) == 0;

		if (video || !e->aenc)
			snprintf(why, whylen, "the %s container cannot hold video codec '%s'", p->container,
			         e->venc->codec->name);
		else if (audio)
			snprintf(why, whylen, "the %s container cannot hold audio codec '%s'", p->container,
			         e->aenc->codec->name);
		else
			snprintf(why, whylen, "the %s container cannot hold video codec '%s' with audio "
			         "codec '%s'", p->container, e->venc->codec->name, e->aenc->codec->name);
		r = REEL_E_PARAM;
		goto out_free;
	}
	if (r < 0) {
		r = e->io_error;
		snprintf(why, whylen, "writing the %s header: %s", p->container, reel_strerror(r));
		goto out_free;
	}
	*ret = e;
	return 0;

out_free:
	reel_encoder_free(e);
	return r;
}

void reel_encoder_free(struct reel_encoder *e)
{
	if (!e)
		return;
	avcodec_free_context(&e->venc);
	avcodec_free_context(&e->aenc);
	avformat_free_context(e->oc);
	if (e->io) {
		av_freep(&e->io->buffer);
		avio_context_free(&e->io);
	}
	av_frame_free(&e->picture);
	av_buffer_pool_uninit(&e->pool);
	av_frame_free(&e->aframe);
	av_packet_free(&e->pkt);
	swr_free(&e->swr);
	if (e->fifo)
		av_audio_fifo_free(e->fifo);
	if (e->conv)
		av_freep(&e->conv[0]);
	av_freep(&e->conv);
	free(e->pending);
	free(e);
}

/* ------------------------------------------------------------- pictures */

int reel_encoder_picture(struct reel_encoder *e, struct reel_frame *ret)
{
	AVFrame *f = e->picture;
	AVBufferRef *buf;

	if (e->finished)
		return -EINVAL;
	av_frame_unref(f);
	buf = av_buffer_pool_get(e->pool);
	if (!buf)
		return -ENOMEM;
	f->buf[0] = buf;
	f->format = AV_PIX_FMT_YUV420P;
	f->width = e->venc->width;
	f->height = e->venc->height;
	f->color_range = AVCOL_RANGE_MPEG;
	f->colorspace = e->venc->colorspace;
	memset(ret, 0, sizeof(*ret));
	for (int i = 0; i < 3; i++) {
		f->data[i] = buf->data + e->plane_offset[i];
		f->linesize[i] = e->linesize[i];
		ret->plane[i] = f->data[i];
		ret->stride[i] = (uint32_t)e->linesize[i];
		ret->width[i] = (uint32_t)(i ? (f->width + 1) / 2 : f->width);
		ret->height[i] = (uint32_t)(i ? (f->height + 1) / 2 : f->height);
	}
	return 0;
}

static int remember(struct reel_encoder *e, int64_t pts, int64_t duration)
{
	if (e->npending == e->pending_cap) {
		size_t cap = e->pending_cap ? 2 * e->pending_cap : 64;
		struct pending *p = realloc(e->pending, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		e->pending = p;
		e->pending_cap = cap;
	}
	e->pending[e->npending++] = (struct pending){ pts, duration };
	return 0;
}

int reel_encoder_send_picture(struct reel_encoder *e, int64_t pts, int64_t duration)
{
	int r;

	if (e->finished || !e->picture->buf[0] || (e->sent_any && pts <= e->last_pts) || duration < 0)
		return -EINVAL;
	r = remember(e, pts, duration);
	if (r < 0)
		return r;
	e->picture->pts = pts;
	e->picture->pkt_duration = duration;
	e->picture->pict_type = AV_PICTURE_TYPE_NONE;
	r = avcodec_send_frame(e->venc, e->picture);
	if (r < 0)
		return reel__from_averror(r);
	e->last_pts = pts;
	e->sent_any = true;
	return drain(e, e->venc, e->vst);
}

/* ---------------------------------------------------------------- sound */

/* Send n samples from the FIFO as one frame, padded with silence to a full frame when it must be. */
static int send_audio_frame(struct reel_encoder *e, int n)
{
	AVFrame *f = e->aframe;
	int r, full = n < e->frame_samples && !e->small_last_frame ? e->frame_samples : n;

	av_frame_unref(f);
	f->format = e->aenc->sample_fmt;
	f->sample_rate = e->aenc->sample_rate;
	f->nb_samples = full;
	r = av_channel_layout_copy(&f->ch_layout, &e->aenc->ch_layout);
	if (r == 0)
		r = av_frame_get_buffer(f, 0);
	if (r < 0)
		return reel__from_averror(r);
	if (av_audio_fifo_read(e->fifo, (void **)f->data, n) != n)
		return -EIO;
	if (full > n)
		av_samples_set_silence(f->data, n, full - n, f->ch_layout.nb_channels, f->format);
	f->pts = e->audio_pts;
	e->audio_pts += full;
	r = avcodec_send_frame(e->aenc, f);
	if (r < 0)
		return reel__from_averror(r);
	return drain(e, e->aenc, e->ast);
}

static int grow_conv(struct reel_encoder *e, int samples)
{
	if (samples <= e->conv_cap)
		return 0;
	if (e->conv)
		av_freep(&e->conv[0]);
	av_freep(&e->conv);
	e->conv_cap = 0;
	if (av_samples_alloc_array_and_samples(&e->conv, NULL, e->aenc->ch_layout.nb_channels, samples,
	                                       e->aenc->sample_fmt, 0) < 0)
		return -ENOMEM;
	e->conv_cap = samples;
	return 0;
}

/* Convert count samples (NULL: what the resampler still holds) into the FIFO, and send full frames. */
static int push_audio(struct reel_encoder *e, const float *samples, uint32_t count)
{
	const uint8_t *in[1] = { (const uint8_t *)samples };
	int out = swr_get_out_samples(e->swr, (int)count);
	int n, r;

	if (out < 0)
		return reel__from_averror(out);
	r = grow_conv(e, out + 1);
	if (r < 0)
		return r;
	n = swr_convert(e->swr, e->conv, e->conv_cap, samples ? in : NULL, samples ? (int)count : 0);
	if (n < 0)
		return reel__from_averror(n);
	if (n > 0 && av_audio_fifo_write(e->fifo, (void **)e->conv, n) != n)
		return -ENOMEM;
	while (av_audio_fifo_size(e->fifo) >= e->frame_samples) {
		r = send_audio_frame(e, e->frame_samples);
		if (r < 0)
			return r;
	}
	return 0;
}

int reel_encoder_send_audio(struct reel_encoder *e, const float *samples, uint32_t count)
{
	if (e->finished || !samples || count > INT_MAX / 2)
		return -EINVAL;
	if (!e->aenc || count == 0)
		return 0;
	return push_audio(e, samples, count);
}

int reel_encoder_finish(struct reel_encoder *e)
{
	int r = 0, size;

	if (e->finished)
		return -EINVAL;
	e->finished = true;
	if (e->aenc) {
		r = push_audio(e, NULL, 0);
		while (r == 0 && (size = av_audio_fifo_size(e->fifo)) > 0)
			r = send_audio_frame(e, size < e->frame_samples ? size : e->frame_samples);
		if (r == 0)
			r = reel__from_averror(avcodec_send_frame(e->aenc, NULL));
		if (r == 0)
			r = drain(e, e->aenc, e->ast);
	}
	if (r == 0)
		r = reel__from_averror(avcodec_send_frame(e->venc, NULL));
	if (r == 0)
		r = drain(e, e->venc, e->vst);
	if (r == 0) {
		r = av_write_trailer(e->oc);
		r = r < 0 ? write_error(e, r) : 0;
	}
	if (r == 0) {
		avio_flush(e->io);
		r = e->io_error ? e->io_error : e->io->error ? reel__from_averror(e->io->error) : 0;
	}
	return r;
}
