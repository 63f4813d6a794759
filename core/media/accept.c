/*
 * What reel accepts from a source before libav does much with it: the
 * container formats (demuxers) and codecs (decoders) it lets run, and the
 * range of timestamps it believes.
 *
 * Every demuxer and decoder libav has is attack surface, and most of them
 * (game formats, old capture cards, image sequences) have no place in a
 * video editor's input.  So reel runs only the demuxers and decoders of
 * formats people actually shoot, render and download, and refuses anything
 * else by name before a demuxer reads past its probe or a decoder opens.
 * Adding a format is one line below; the cost is that its code then runs
 * on whatever file is opened.
 *
 * Timestamps: a container may claim any 64-bit time.  reel keeps its sums
 * and differences of times exact by believing only times within +-2^62 (in
 * the stream's time base): two such times add or subtract without
 * overflow.  A time beyond is treated as missing.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/avstring.h>

#include "media/media-private.h"

/*
 * Demuxers, by libav's short names (a demuxer whose name lists several,
 * "mov,mp4,m4a,3gp,3g2,mj2", is accepted when one of them is here).
 */
static const char *const demuxers[] = {
	"mov",            /* mp4, mov, m4v, 3gp */
	"matroska",       /* mkv, webm */
	"avi",
	"mpegts",         /* ts, m2ts, camcorders (AVCHD) */
	"mpeg",           /* program streams: mpg, vob */
	"flv",
	"ogg",            /* ogv */
	"nut",
	"mxf",
	"yuv4mpegpipe",   /* y4m */
	"dv",
	"ivf",            /* raw VP8, VP9, AV1 */
	"obu",            /* raw AV1 */
	"h264",           /* elementary streams */
	"hevc",
	"m4v",
	"mpegvideo",
};

static const enum AVCodecID video_codecs[] = {
	AV_CODEC_ID_H264, AV_CODEC_ID_HEVC, AV_CODEC_ID_VP8, AV_CODEC_ID_VP9, AV_CODEC_ID_AV1,
	AV_CODEC_ID_MPEG1VIDEO, AV_CODEC_ID_MPEG2VIDEO, AV_CODEC_ID_MPEG4, AV_CODEC_ID_H263,
	AV_CODEC_ID_MJPEG, AV_CODEC_ID_PRORES, AV_CODEC_ID_FFV1, AV_CODEC_ID_DNXHD,
	AV_CODEC_ID_THEORA, AV_CODEC_ID_RAWVIDEO, AV_CODEC_ID_DVVIDEO, AV_CODEC_ID_HUFFYUV,
	AV_CODEC_ID_FFVHUFF, AV_CODEC_ID_UTVIDEO, AV_CODEC_ID_V210,
};

static const enum AVCodecID audio_codecs[] = {
	AV_CODEC_ID_AAC, AV_CODEC_ID_AAC_LATM, AV_CODEC_ID_MP3, AV_CODEC_ID_MP2, AV_CODEC_ID_AC3,
	AV_CODEC_ID_EAC3, AV_CODEC_ID_OPUS, AV_CODEC_ID_VORBIS, AV_CODEC_ID_FLAC,
	AV_CODEC_ID_ALAC, AV_CODEC_ID_DTS,
	AV_CODEC_ID_PCM_S16LE, AV_CODEC_ID_PCM_S16BE, AV_CODEC_ID_PCM_S24LE,
	AV_CODEC_ID_PCM_S24BE, AV_CODEC_ID_PCM_S32LE, AV_CODEC_ID_PCM_S32BE,
	AV_CODEC_ID_PCM_F32LE, AV_CODEC_ID_PCM_F32BE, AV_CODEC_ID_PCM_F64LE, AV_CODEC_ID_PCM_U8,
	AV_CODEC_ID_PCM_S8, AV_CODEC_ID_PCM_ALAW, AV_CODEC_ID_PCM_MULAW, AV_CODEC_ID_PCM_DVD,
	AV_CODEC_ID_PCM_BLURAY, AV_CODEC_ID_PCM_S16BE_PLANAR, AV_CODEC_ID_PCM_S24DAUD,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

bool reel__media_format_accepted(const char *name)
{
	if (!name)
		return false;
	for (size_t i = 0; i < COUNT(demuxers); i++)
		if (av_match_name(demuxers[i], name))
			return true;
	return false;
}

static bool in_list(const enum AVCodecID *list, size_t n, enum AVCodecID id)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == id)
			return true;
	return false;
}

bool reel__media_codec_accepted(enum AVCodecID id, enum AVMediaType type)
{
	if (type == AVMEDIA_TYPE_VIDEO)
		return in_list(video_codecs, COUNT(video_codecs), id);
	if (type == AVMEDIA_TYPE_AUDIO)
		return in_list(audio_codecs, COUNT(audio_codecs), id);
	return false;
}

/*
 * The demuxer list as libav's format_whitelist wants it, and the names of
 * every decoder of an accepted codec as its codec_whitelist wants them
 * (avformat_find_stream_info() opens decoders of its own, subtitle streams
 * included; with the list, those of other codecs refuse to open).
 */
static char format_list[512];
static char codec_list[4096];

static void append(char *list, size_t size, const char *name)
{
	size_t len = strlen(list);

	/* A name that does not fit is left out: its decoder is then refused, never a stranger let in. */
	if (len + strlen(name) + 2 > size)
		return;
	if (len)
		av_strlcat(list, ",", size);
	av_strlcat(list, name, size);
}

static void build_lists(void)
{
	const AVCodec *c;
	void *it = NULL;

	for (size_t i = 0; i < COUNT(demuxers); i++)
		append(format_list, sizeof(format_list), demuxers[i]);
	while ((c = av_codec_iterate(&it))) {
		if (av_codec_is_decoder(c) && reel__media_codec_accepted(c->id, c->type))
			append(codec_list, sizeof(codec_list), c->name);
	}
}

static pthread_once_t lists_once = PTHREAD_ONCE_INIT;

const char *reel__media_format_whitelist(void)
{
	pthread_once(&lists_once, build_lists);
	return format_list;
}

const char *reel__media_codec_whitelist(void)
{
	pthread_once(&lists_once, build_lists);
	return codec_list;
}

bool reel__media_ts_ok(int64_t ts)
{
	return ts != AV_NOPTS_VALUE && ts >= -REEL__MEDIA_TS_MAX && ts <= REEL__MEDIA_TS_MAX;
}

bool reel__media_clock_may_restart(const AVInputFormat *format)
{
	/*
	 * libav's flag, less Ogg (as ffplay has it): an Ogg packet's position
	 * is its page's, shared by several packets, and a byte seek there does
	 * not reset the demuxer.
	 */
	return format && (format->flags & AVFMT_TS_DISCONT) && strcmp(format->name, "ogg") != 0;
}

bool reel__media_clock_restarts(const AVFormatContext *fmt, int stream, int64_t dts,
                                 int64_t *max_dts)
{
	/* A tenth of a second back is ffmpeg's own threshold for a discontinuity in these formats. */
	int64_t tenth;

	if (!reel__media_ts_ok(dts) || !reel__media_clock_may_restart(fmt->iformat))
		return false;
	if (*max_dts == AV_NOPTS_VALUE || dts > *max_dts) {
		*max_dts = dts;
		return false;
	}
	tenth = av_rescale_q(1, (AVRational){ 1, 10 }, fmt->streams[stream]->time_base);
	return dts < av_sat_sub64(*max_dts, tenth);
}

void reel__media_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}
