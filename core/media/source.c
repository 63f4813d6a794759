/*
 * Opening a source video.  The file must be a regular file; it is mapped
 * read-only MAP_SHARED and libavformat reads it only through our own
 * AVIOContexts over the mapping, with every protocol refused (no playlist,
 * concat list or reference in a container can make libav open another
 * file or a URL), and with limits on pixels and samples.  libav's log
 * lines are routed into reel_log() under the component "libav".
 *
 * The source may be changed by someone else while it is mapped.  The read
 * callback compares with the file's current size, so a source that shrank
 * reads as an I/O error where it now ends; a truncation that races that
 * check is caught by the SIGBUS guard (base/guard.h), which puts zero
 * pages in place.  Either way reel_media_lost() says so, and whatever was
 * decoded after the loss is not trusted.  The identity (size, and a hash of
 * the first and last MiB and 64 blocks spread across the file; mtime kept
 * as a hint) lets a buffer refuse a source that changed since.
 *
 * Only the demuxers and decoders of accept.c run: the format is probed
 * here and refused by name before its demuxer reads the header.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/log.h>
#include <libavutil/mathematics.h>
#include <libavutil/parseutils.h>
#include <libavutil/pixdesc.h>
#include <openssl/evp.h>

#include "base/guard.h"
#include "media/media-private.h"
#include "reel/error.h"
#include "reel/log.h"

#define IO_BUFFER_SIZE (64 * 1024)
#define PROBE_BYTES (1024 * 1024)
/*
 * The identity hashes the first and the last HASH_EDGE bytes and
 * HASH_SAMPLES blocks of HASH_BLOCK bytes spread evenly between: at most
 * 6 MiB read, whatever the file's size.
 */
#define HASH_EDGE (1024 * 1024)
#define HASH_BLOCK (64 * 1024)
#define HASH_SAMPLES 64
#define MAX_STREAMS 256
/* Per decoded audio frame; far above any real codec's frame size. */
#define MAX_AUDIO_SAMPLES (1 << 20)

int reel__from_averror(int err)
{
	if (err >= 0)
		return err;
	if (err == AVERROR(ENOMEM))
		return -ENOMEM;
	/* Plain errno values from the I/O layer pass through; libav's own tags become ours. */
	if (err > -4096 && err != AVERROR_EOF)
		return err;
	return REEL_E_BADMEDIA;
}

/*
 * libav logs from its own threads too, so the "print prefix" state that
 * av_log_format_line2() keeps between calls is per thread.
 */
static _Thread_local int log_print_prefix = 1;

static void av_log_to_reel(void *avcl, int level, const char *fmt, va_list vl)
{
	char line[1024];
	size_t len;
	int reel_level;

	/*
	 * libav complains loudly about damaged input that reel reports through
	 * return values anyway, so its errors are informational to us and its
	 * warnings debug output; the default level keeps it quiet.
	 */
	if (level <= AV_LOG_ERROR)
		reel_level = REEL_LOG_INFO;
	else if (level <= AV_LOG_WARNING)
		reel_level = REEL_LOG_DEBUG;
	else
		return;
	if (reel_level > reel_log_get_level())
		return;
	av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &log_print_prefix);
	len = strlen(line);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = 0;
	if (len > 0)
		reel_log(reel_level, "libav", "%s", line);
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void install_log_callback(void)
{
	av_log_set_callback(av_log_to_reel);
}

void reel__media_log_init(void)
{
	pthread_once(&log_once, install_log_callback);
}

static int mapio_read(void *opaque, uint8_t *buf, int size)
{
	struct reel__mapio *io = opaque;
	struct stat st;
	size_t n;

	if (size <= 0)
		return size == 0 ? 0 : AVERROR(EINVAL);
	if (__atomic_load_n(&io->cancel, __ATOMIC_ACQUIRE))
		return AVERROR_EXIT;
	if (io->pos >= io->size)
		return AVERROR_EOF;
	/*
	 * Pages past the file's current end are gone from the mapping: a
	 * source that shrank reads as an I/O error where it ends now, instead
	 * of touching them (a truncation between this check and the copy is
	 * the SIGBUS guard's, see base/guard.h).  One fstat per 64 KiB read.
	 */
	n = io->size - io->pos;
	if (io->fd >= 0 && fstat(io->fd, &st) == 0 && st.st_size >= 0 &&
	    (uint64_t)st.st_size < io->size) {
		io->shrunk = true;
		if (io->pos >= (uint64_t)st.st_size)
			return AVERROR(EIO);
		if ((uint64_t)st.st_size - io->pos < n)
			n = (size_t)((uint64_t)st.st_size - io->pos);
	}
	if (n > (size_t)size)
		n = (size_t)size;
	if (!io->skip_copies)
		memcpy(buf, io->data + io->pos, n);
	io->pos += n;
	return (int)n;
}

static int64_t mapio_seek(void *opaque, int64_t offset, int whence)
{
	struct reel__mapio *io = opaque;
	int64_t base;

	switch (whence & ~AVSEEK_FORCE) {
	case AVSEEK_SIZE:
		return (int64_t)io->size;
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = (int64_t)io->pos;
		break;
	case SEEK_END:
		base = (int64_t)io->size;
		break;
	default:
		return AVERROR(EINVAL);
	}
	/* Positions past the end are refused, as lseek on a pipe-less file would not. */
	if (offset > (int64_t)io->size - base || offset < -base)
		return AVERROR(EINVAL);
	io->pos = (size_t)(base + offset);
	return (int64_t)io->pos;
}

/* Every nested open (HLS segments, concat entries, mov references, ...) ends here. */
static int refuse_io_open(struct AVFormatContext *s, AVIOContext **pb, const char *url,
                          int flags, AVDictionary **options)
{
	(void)pb; (void)flags; (void)options;
	av_log(s, AV_LOG_ERROR, "refusing to open '%s': reel reads only the source file\n", url);
	return AVERROR(EPERM);
}

void reel__media_close_format(AVFormatContext **fmt)
{
	AVIOContext *pb;

	if (!fmt || !*fmt)
		return;
	pb = (*fmt)->pb;
	avformat_close_input(fmt);
	if (pb) {
		av_freep(&pb->buffer);
		avio_context_free(&pb);
	}
}

int reel__media_open_format(struct reel_media *media, struct reel__mapio *io,
                            const AVInputFormat *iformat, bool find_info,
                            AVFormatContext **ret_fmt)
{
	AVFormatContext *fmt;
	AVIOContext *pb;
	AVDictionary *opts = NULL;
	uint8_t *iobuf;
	int ret;

	io->data = media->map;
	io->size = media->size;
	io->pos = 0;
	io->fd = media->fd;
	io->shrunk = false;

	iobuf = av_malloc(IO_BUFFER_SIZE);
	if (!iobuf)
		return -ENOMEM;
	pb = avio_alloc_context(iobuf, IO_BUFFER_SIZE, 0, io, mapio_read, NULL, mapio_seek);
	if (!pb) {
		av_free(iobuf);
		return -ENOMEM;
	}
	fmt = avformat_alloc_context();
	if (!fmt) {
		ret = -ENOMEM;
		goto out_free_pb;
	}
	fmt->pb = pb;
	fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
	fmt->io_open = refuse_io_open;
	fmt->max_streams = MAX_STREAMS;
	/*
	 * An empty whitelist means "no whitelist" to libav, so name a protocol
	 * that does not exist, and blacklist everything ("ALL") as well.
	 */
	av_dict_set(&opts, "protocol_whitelist", "reel-none", 0);
	av_dict_set(&opts, "protocol_blacklist", "ALL", 0);
	av_dict_set(&opts, "probesize", "10000000", 0);
	av_dict_set(&opts, "formatprobesize", "1048576", 0);
	av_dict_set(&opts, "analyzeduration", "10000000", 0);
	/* Belt and braces: libav itself refuses what the checks below refuse. */
	av_dict_set(&opts, "format_whitelist", reel__media_format_whitelist(), 0);
	av_dict_set(&opts, "codec_whitelist", reel__media_codec_whitelist(), 0);

	/*
	 * Probe here rather than inside avformat_open_input(), so that a
	 * format reel does not take is refused by name before its demuxer
	 * reads the header.  Probing runs only the demuxers' probe functions.
	 */
	if (!iformat) {
		ret = av_probe_input_buffer2(pb, &iformat, "", NULL, 0, PROBE_BYTES);
		if (ret < 0 || !iformat) {
			reel__media_why(media->why, sizeof(media->why),
			                "not a video file: no container format recognised");
			ret = REEL_E_BADMEDIA;
			goto out_free_fmt;
		}
		if (!reel__media_format_accepted(iformat->name)) {
			reel__media_why(media->why, sizeof(media->why),
			                "container format '%s' (%s) is not one reel takes",
			                iformat->name, iformat->long_name ? iformat->long_name : "?");
			ret = REEL_E_BADMEDIA;
			goto out_free_fmt;
		}
	}

	/* On failure avformat_open_input frees fmt, but never our custom pb. */
	ret = avformat_open_input(&fmt, NULL, iformat, &opts);
	av_dict_free(&opts);
	if (ret < 0) {
		/*
		 * Whatever a demuxer says about a file it cannot read (playlists
		 * whose entries we refuse to open even report ENOMEM), the file is
		 * not a video reel can use.
		 */
		reel__media_why(media->why, sizeof(media->why),
		                "damaged or unreadable %s file: libav cannot read its header",
		                iformat->name);
		ret = REEL_E_BADMEDIA;
		goto out_free_pb;
	}
	if (find_info) {
		ret = avformat_find_stream_info(fmt, NULL);
		if (ret < 0) {
			reel__media_why(media->why, sizeof(media->why),
			                "damaged %s file: libav cannot find its streams", iformat->name);
			ret = REEL_E_BADMEDIA;
			goto out_close;
		}
	}
	*ret_fmt = fmt;
	return 0;

out_close:
	avformat_close_input(&fmt);
	goto out_free_pb;
out_free_fmt:
	av_dict_free(&opts);
	avformat_free_context(fmt);
out_free_pb:
	av_freep(&pb->buffer);
	avio_context_free(&pb);
	return ret;
}

int reel__media_open_decoder(const AVStream *st, bool threads, AVCodecContext **ret_dec)
{
	const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
	AVDictionary *opts = NULL;
	AVCodecContext *dec;
	int ret;

	/* The stream was checked when the source was opened; this is the last gate. */
	if (!codec || !reel__media_codec_accepted(st->codecpar->codec_id, st->codecpar->codec_type))
		return REEL_E_BADMEDIA;
	dec = avcodec_alloc_context3(codec);
	if (!dec)
		return -ENOMEM;
	ret = avcodec_parameters_to_context(dec, st->codecpar);
	if (ret < 0) {
		ret = reel__from_averror(ret);
		goto out_free;
	}
	dec->pkt_timebase = st->time_base;
	if (threads) {
		dec->thread_count = 0;
		dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
	} else {
		dec->thread_count = 1;
	}
	av_dict_set_int(&opts, "max_pixels", (int64_t)REEL_MAX_DIMENSION * REEL_MAX_DIMENSION, 0);
	av_dict_set(&opts, "codec_whitelist", reel__media_codec_whitelist(), 0);
	if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
		av_dict_set_int(&opts, "max_samples", MAX_AUDIO_SAMPLES, 0);
	ret = avcodec_open2(dec, codec, &opts);
	av_dict_free(&opts);
	if (ret < 0) {
		ret = ret == AVERROR(ENOMEM) ? -ENOMEM : REEL_E_BADMEDIA;
		goto out_free;
	}
	*ret_dec = dec;
	return 0;

out_free:
	avcodec_free_context(&dec);
	return ret;
}

/* The best video stream that is a real video, not a cover picture. */
static int pick_video_stream(AVFormatContext *fmt)
{
	int best = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);

	if (best >= 0 && !(fmt->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC))
		return best;
	for (unsigned i = 0; i < fmt->nb_streams; i++) {
		const AVStream *st = fmt->streams[i];
		if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
		    !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
			return (int)i;
	}
	return -1;
}

/* Keep only `keep` in fmt: the demuxer then skips the other streams' data. */
static void discard_all_but(AVFormatContext *fmt, int keep)
{
	for (unsigned i = 0; i < fmt->nb_streams; i++)
		fmt->streams[i]->discard = (int)i == keep ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
}

int reel__media_rewind_video(struct reel_media *media)
{
	struct reel__video *v = &media->video;
	AVFormatContext *fmt;
	int ret;

	ret = reel__media_open_format(media, &v->io, media->iformat, true, &fmt);
	if (ret < 0)
		return ret;
	/* Same file, same demuxer: the streams must come out the same. */
	if ((int)fmt->nb_streams <= v->stream ||
	    fmt->streams[v->stream]->codecpar->codec_id != v->dec->codec_id) {
		reel__media_close_format(&fmt);
		return REEL_E_BADMEDIA;
	}
	reel__media_close_format(&v->fmt);
	v->fmt = fmt;
	discard_all_but(fmt, v->stream);
	v->fresh = true;
	v->positioned = false;
	v->draining = false;
	v->max_dts = AV_NOPTS_VALUE;
	v->has_pending = false;
	av_frame_unref(v->pending);
	avcodec_flush_buffers(v->dec);
	return 0;
}

/*
 * The audio demuxer.  The format is known, so no probing; and the stream
 * parameters come from the video context, which ran
 * avformat_find_stream_info().  A demuxer that finds its streams only while
 * reading needs the full treatment.  `from` gives the file (and takes a
 * reason); the context goes to `a`.
 */
static int open_audio_format(struct reel_media *from, struct reel__audio *a, int index,
                             enum AVCodecID codec)
{
	int ret;

	ret = reel__media_open_format(from, &a->io, from->iformat, false, &a->fmt);
	if (ret < 0)
		return ret;
	if ((int)a->fmt->nb_streams <= index || a->fmt->streams[index]->codecpar->codec_id != codec) {
		reel__media_close_format(&a->fmt);
		ret = reel__media_open_format(from, &a->io, from->iformat, true, &a->fmt);
		if (ret < 0)
			return ret;
		if ((int)a->fmt->nb_streams <= index ||
		    a->fmt->streams[index]->codecpar->codec_id != codec) {
			reel__media_close_format(&a->fmt);
			return REEL_E_BADMEDIA;
		}
	}
	a->stream = index;
	discard_all_but(a->fmt, a->stream);
	return 0;
}

/*
 * The opener thread's own copy of what it reads of the media (the file, the
 * format), so that it shares nothing but the audio context with the media's
 * thread, which goes on with the video meanwhile.
 */
struct opener_args {
	struct reel_media view;
	struct reel__audio *audio;
	int index;
	enum AVCodecID codec;
};

static void *audio_opener(void *arg)
{
	struct opener_args *o = arg;
	int ret;

	/* Early: the stream is not known yet (see struct reel__audio); the join judges. */
	if (o->index < 0) {
		if (reel__media_open_format(&o->view, &o->audio->io, NULL, false, &o->audio->fmt) < 0)
			o->audio->fmt = NULL;
		free(o);
		return NULL;
	}
	ret = open_audio_format(&o->view, o->audio, o->index, o->codec);
	if (ret < 0)
		reel_log(REEL_LOG_WARN, "media", "the sound of %s could not be opened (%s): its frames "
		         "will be silent", o->view.path, o->view.why[0] ? o->view.why : reel_strerror(ret));
	free(o);
	return NULL;
}

/* The early context, judged once the video's demuxer has said which stream is the sound. */
static void finish_early_audio(struct reel_media *media)
{
	struct reel__audio *a = &media->audio;
	int ret;

	a->early = false;
	if (a->want_index < 0) {
		reel__media_close_format(&a->fmt);
		return;
	}
	if (a->fmt && (int)a->fmt->nb_streams > a->want_index &&
	    a->fmt->streams[a->want_index]->codecpar->codec_id == a->want_codec) {
		a->stream = a->want_index;
		discard_all_but(a->fmt, a->stream);
		return;
	}
	/* A demuxer that finds its streams while reading: the full treatment, now. */
	reel__media_close_format(&a->fmt);
	ret = open_audio_format(media, a, a->want_index, a->want_codec);
	if (ret < 0) {
		a->fmt = NULL;
		reel_log(REEL_LOG_WARN, "media", "the sound of %s could not be opened (%s): its frames "
		         "will be silent", media->path, reel_strerror(ret));
	}
}

void reel__media_audio_join(struct reel_media *media)
{
	struct reel__audio *a = &media->audio;

	if (!a->opening)
		return;
	pthread_join(a->opener, NULL);
	a->opening = false;
	if (a->early)
		finish_early_audio(media);
	/* The decoder's timestamps are read in the audio context's time base. */
	if (a->fmt)
		a->dec->pkt_timebase = a->fmt->streams[a->stream]->time_base;
}

/*
 * The sound's demuxer, opened from the start by a thread while the video's
 * parses the same container on the other core (50 ms for an hour of mp4):
 * the first decode, which joins it, then does not wait for a second parse
 * begun only after the first.  Without a thread, open_audio() opens it.
 */
static void start_audio_early(struct reel_media *media)
{
	struct reel__audio *a = &media->audio;
	struct opener_args *o = malloc(sizeof(*o));

	if (!o)
		return;
	o->view = *media;
	o->view.why[0] = 0;
	o->audio = a;
	o->index = -1;
	o->codec = AV_CODEC_ID_NONE;
	if (pthread_create(&a->opener, NULL, audio_opener, o) != 0) {
		free(o);
		return;
	}
	a->opening = true;
	a->early = true;
}

/*
 * The audio decoder, from the video context's stream parameters, now: it
 * decides whether the video has sound.  Its demuxer is opened beside.
 */
static int open_audio(struct reel_media *media)
{
	struct reel__audio *a = &media->audio;
	const AVStream *vst = media->video.fmt->streams[media->audio_index];
	struct opener_args *o;
	int ret;

	ret = reel__media_open_decoder(vst, false, &a->dec);
	if (ret < 0)
		return ret;
	a->pkt = av_packet_alloc();
	a->frame = av_frame_alloc();
	if (!a->pkt || !a->frame)
		return -ENOMEM;
	a->fresh = true;
	/* Its demuxer is being opened already: the join finishes the work. */
	if (a->early) {
		a->want_index = media->audio_index;
		a->want_codec = vst->codecpar->codec_id;
		return 0;
	}
	o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->view = *media;
	o->view.why[0] = 0;
	o->audio = a;
	o->index = media->audio_index;
	o->codec = vst->codecpar->codec_id;
	ret = pthread_create(&a->opener, NULL, audio_opener, o);
	if (ret != 0) {
		free(o);
		/* No thread to spare: opened here instead. */
		ret = open_audio_format(media, a, media->audio_index, vst->codecpar->codec_id);
		if (ret == 0)
			a->dec->pkt_timebase = a->fmt->streams[a->stream]->time_base;
		return ret;
	}
	a->opening = true;
	return 0;
}

static struct reel_rational pick_frame_rate(const AVStream *st)
{
	AVRational r = st->avg_frame_rate;

	if (r.num <= 0 || r.den <= 0)
		r = st->r_frame_rate;
	if (r.num <= 0 || r.den <= 0)
		r = (AVRational){ 25, 1 };   /* nothing known: a common default */
	av_reduce(&r.num, &r.den, r.num, r.den, INT32_MAX);
	return (struct reel_rational){ r.num, r.den };
}

/* What the source's pictures are: depth, subsampling, range, colour matrix. */
static void fill_format(const AVCodecParameters *par, const char *pix, struct reel_source_format *f)
{
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(par->format);

	memset(f, 0, sizeof(*f));
	snprintf(f->pix_fmt, sizeof(f->pix_fmt), "%s", pix ? pix : "unknown");
	snprintf(f->codec, sizeof(f->codec), "%s", avcodec_get_name(par->codec_id));
	f->bits = d && d->comp[0].depth > 0 && d->comp[0].depth <= 16 ? (uint32_t)d->comp[0].depth : 8;
	if (!d || d->nb_components < 3)
		f->chroma = 400;
	else if (d->log2_chroma_w == 1 && d->log2_chroma_h == 1)
		f->chroma = 420;
	else if (d->log2_chroma_w == 1 && d->log2_chroma_h == 0)
		f->chroma = 422;
	else if (d->log2_chroma_w == 0 && d->log2_chroma_h == 1)
		f->chroma = 440;
	else if (d->log2_chroma_w == 2 && d->log2_chroma_h == 0)
		f->chroma = 411;
	else if (d->log2_chroma_w == 2 && d->log2_chroma_h == 1)
		f->chroma = 410;
	else
		f->chroma = 444;
	/* The yuvj formats are full range whatever the stream says. */
	f->full_range = par->color_range == AVCOL_RANGE_JPEG ||
	                (pix && !strncmp(pix, "yuvj", 4));
	f->colorspace = par->color_space >= 0 && par->color_space < 256 ? (uint32_t)par->color_space : 2;
}

static void fill_info(struct reel_media *media)
{
	struct reel_media_info *info = &media->info;
	const AVFormatContext *fmt = media->video.fmt;
	const AVStream *st = fmt->streams[media->video.stream];
	const AVCodecParameters *par = st->codecpar;
	const char *pix = av_get_pix_fmt_name(par->format);

	info->width = (uint32_t)par->width;
	info->height = (uint32_t)par->height;
	info->frame_rate = pick_frame_rate(st);
	info->time_base = (struct reel_rational){ st->time_base.num, st->time_base.den };
	if (media->audio_index >= 0) {
		const AVCodecParameters *apar = fmt->streams[media->audio_index]->codecpar;
		info->sample_rate = (uint32_t)apar->sample_rate;
		info->channels = (uint32_t)apar->ch_layout.nb_channels;
	}
	snprintf(info->codec, sizeof(info->codec), "%s", avcodec_get_name(par->codec_id));
	snprintf(info->pix_fmt, sizeof(info->pix_fmt), "%s", pix ? pix : "unknown");
	snprintf(info->container, sizeof(info->container), "%s", fmt->iformat->name);
	info->duration_us = fmt->duration > 0 ? fmt->duration : 0;
	fill_format(par, pix, &info->format);
	/* Where ffmpeg's -ss and players count time from: the earliest start of any stream. */
	if (fmt->start_time != AV_NOPTS_VALUE) {
		info->format.start_us = fmt->start_time;
		info->format.start_known = 1;
	}
}

/* A usable audio stream, or -1: a source with odd audio is still a video. */
static int pick_audio_stream(AVFormatContext *fmt, int video)
{
	int idx = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, video, NULL, 0);
	const AVCodecParameters *par;

	if (idx < 0)
		return -1;
	par = fmt->streams[idx]->codecpar;
	if (par->sample_rate <= 0 || par->sample_rate > REEL_MAX_SAMPLE_RATE ||
	    par->ch_layout.nb_channels <= 0 || par->ch_layout.nb_channels > REEL_MAX_CHANNELS ||
	    !reel__media_codec_accepted(par->codec_id, AVMEDIA_TYPE_AUDIO) ||
	    !avcodec_find_decoder(par->codec_id))
		return -1;
	return idx;
}

static int open_streams(struct reel_media *media)
{
	struct reel__video *v = &media->video;
	const AVCodecParameters *par;
	int ret;

	ret = reel__media_open_format(media, &v->io, NULL, true, &v->fmt);
	if (ret < 0)
		return ret;
	media->iformat = v->fmt->iformat;
	media->nb_streams = (int)v->fmt->nb_streams;
	v->stream = pick_video_stream(v->fmt);
	if (v->stream < 0) {
		reel__media_why(media->why, sizeof(media->why), "no video stream in this %s file",
		                media->iformat->name);
		return REEL_E_BADMEDIA;
	}
	par = v->fmt->streams[v->stream]->codecpar;
	if (!reel__media_codec_accepted(par->codec_id, AVMEDIA_TYPE_VIDEO)) {
		reel__media_why(media->why, sizeof(media->why),
		                "video codec '%s' is not one reel takes", avcodec_get_name(par->codec_id));
		return REEL_E_BADMEDIA;
	}
	if (par->width <= 0 || par->height <= 0) {
		reel__media_why(media->why, sizeof(media->why),
		                "damaged %s video: no picture size", avcodec_get_name(par->codec_id));
		return REEL_E_BADMEDIA;
	}
	if (par->width > REEL_MAX_DIMENSION || par->height > REEL_MAX_DIMENSION) {
		reel__media_why(media->why, sizeof(media->why),
		                "picture %dx%d is larger than reel's limit of %d pixels a side",
		                par->width, par->height, REEL_MAX_DIMENSION);
		return REEL_E_TOOLARGE;
	}
	ret = reel__media_open_decoder(v->fmt->streams[v->stream], false, &v->dec_single);
	v->dec = v->dec_single;
	if (ret < 0) {
		reel__media_why(media->why, sizeof(media->why), "no working %s decoder for this video",
		                avcodec_get_name(par->codec_id));
		return ret;
	}
	v->pkt = av_packet_alloc();
	v->frame = av_frame_alloc();
	v->pending = av_frame_alloc();
	if (!v->pkt || !v->frame || !v->pending)
		return -ENOMEM;
	v->fresh = true;
	v->max_dts = AV_NOPTS_VALUE;

	media->audio_index = pick_audio_stream(v->fmt, v->stream);
	if (media->audio_index >= 0 && media->with_sound) {
		ret = open_audio(media);
		if (ret == -ENOMEM)
			return ret;
		if (ret < 0) {
			/* Undecodable audio: a silent video. */
			avcodec_free_context(&media->audio.dec);
			media->audio_index = -1;
		}
	}
	/* No sound after all: the early demuxer stops at its next read. */
	media->audio.want_index = media->audio_index;
	if (media->audio_index < 0)
		__atomic_store_n(&media->audio.io.cancel, true, __ATOMIC_RELEASE);
	discard_all_but(v->fmt, v->stream);
	fill_info(media);
	return 0;
}

static void *hasher_main(void *arg);
static void hash_join(struct reel_media *media);

static int open_source(const char *path, bool with_sound, struct reel_media **ret_media,
                       char *why, size_t whylen)
{
	struct reel_media *media;
	struct stat st;
	char *real;
	void *map;
	int fd, ret;

	if (!path || !ret_media)
		return -EINVAL;
	pthread_once(&log_once, install_log_callback);

	/* stat first, so that a FIFO or a device is never even opened. */
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return REEL_E_NOTREGULAR;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = REEL_E_NOTREGULAR;
		goto out_close;
	}
	if (st.st_size <= 0) {
		reel__media_why(why, whylen, "empty file");
		ret = REEL_E_BADMEDIA;
		goto out_close;
	}
	if ((uint64_t)st.st_size > SIZE_MAX / 2) {
		reel__media_why(why, whylen, "file too large to map");
		ret = REEL_E_TOOLARGE;
		goto out_close;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		goto out_close;
	}
	media = calloc(1, sizeof(*media));
	if (!media) {
		ret = -ENOMEM;
		goto out_unmap;
	}
	media->fd = fd;
	media->map = map;
	media->size = (size_t)st.st_size;
	/* Unguarded when the table is full: a truncation then kills, as in any mmap reader. */
	media->guard = reel__guard_add(map, media->size, fd, PROT_READ);
	/* Any time_t is possible (touch -d); one beyond year 2262 is pinned rather than overflowed. */
	media->mtime_ns = st.st_mtim.tv_sec > INT64_MAX / 1000000000 - 1 ? INT64_MAX :
	                  st.st_mtim.tv_sec < INT64_MIN / 1000000000 + 1 ? INT64_MIN :
	                  (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	media->audio_index = -1;
	media->audio.stream = -1;
	media->audio.want_index = -1;
	media->with_sound = with_sound;
	real = realpath(path, NULL);
	/* av_strlcpy truncates and always terminates; a cut path still identifies well with the hash. */
	av_strlcpy(media->path, real ? real : path, sizeof(media->path));
	free(real);

	/* The sound's demuxer and the identity, each on a thread beside the video's demuxer. */
	if (with_sound)
		start_audio_early(media);
	/* Without the thread, the identity is hashed when first asked for. */
	media->hash_ret = 1;
	media->hashing = pthread_create(&media->hasher, NULL, hasher_main, media) == 0;
	ret = open_streams(media);
	if (ret < 0) {
		if (media->why[0])
			reel__media_why(why, whylen, "%s", media->why);
		else
			reel__media_why(why, whylen, "%s", reel_strerror(ret));
		/* reel_media_close() undoes whatever open_streams() got to, mapping included. */
		reel_media_close(media);
		return ret;
	}
	*ret_media = media;
	return 0;

out_unmap:
	munmap(map, (size_t)st.st_size);
out_close:
	close(fd);
	return ret;
}

int reel_media_open(const char *path, struct reel_media **ret_media)
{
	return open_source(path, true, ret_media, NULL, 0);
}

int reel_media_open_why(const char *path, struct reel_media **ret_media, char *why, size_t whylen)
{
	return open_source(path, true, ret_media, why, whylen);
}

int reel_media_open_scan(const char *path, struct reel_media **ret_media, char *why, size_t whylen)
{
	return open_source(path, false, ret_media, why, whylen);
}

void reel_media_close(struct reel_media *media)
{
	if (!media)
		return;
	hash_join(media);
	reel__media_audio_join(media);
	reel__media_decode_fini(media);
	free(media->island);
	avcodec_free_context(&media->video.dec_single);
	avcodec_free_context(&media->video.dec_threads);
	media->video.dec = NULL;
	av_packet_free(&media->video.pkt);
	av_frame_free(&media->video.frame);
	av_frame_free(&media->video.pending);
	reel__media_close_format(&media->video.fmt);
	avcodec_free_context(&media->audio.dec);
	av_packet_free(&media->audio.pkt);
	av_frame_free(&media->audio.frame);
	reel__media_close_format(&media->audio.fmt);
	reel__guard_remove(media->guard);
	if (media->map)
		munmap((void *)media->map, media->size);
	if (media->fd >= 0)
		close(media->fd);
	free(media);
}

int reel_media_lost(const struct reel_media *media)
{
	int lost = media ? reel__guard_lost(media->guard) : REEL_GUARD_OK;
	struct stat st;

	if (!media)
		return 0;
	/* The audio context's flag, once its opener is done with it. */
	if (lost == REEL_GUARD_TRUNCATED || media->video.io.shrunk ||
	    (!media->audio.opening && media->audio.io.shrunk))
		return REEL_E_SOURCELOST;
	/* Shorter now than when it was mapped, whether or not a read has got there yet. */
	if (fstat(media->fd, &st) == 0 && st.st_size >= 0 && (uint64_t)st.st_size < media->size)
		return REEL_E_SOURCELOST;
	return lost == REEL_GUARD_IOERROR ? -EIO : 0;
}

const struct reel_media_info *reel_media_info(const struct reel_media *media)
{
	return media ? &media->info : NULL;
}

/* Hash len bytes of the file from off, read with pread: a file cut meanwhile is an error, not SIGBUS. */
static int hash_range(EVP_MD_CTX *sha, int fd, uint64_t off, uint64_t len, uint8_t *buf)
{
	while (len > 0) {
		size_t want = len < HASH_BLOCK ? (size_t)len : HASH_BLOCK;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return REEL_E_SOURCE;   /* shorter than when it was opened */
		if (!EVP_DigestUpdate(sha, buf, (size_t)n))
			return -ENOMEM;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/*
 * The identity's hash: SHA-256 over the size (8 bytes, little endian),
 * then the first HASH_EDGE bytes, HASH_SAMPLES blocks of HASH_BLOCK bytes
 * at evenly spaced offsets between, and the last HASH_EDGE bytes (ranges
 * that overlap in a small file are clipped, so a file up to 2 MiB is
 * hashed whole).  What it catches and misses: docs/RELIABILITY.md.
 */
static int hash_source(const struct reel_media *media, uint8_t hash[32])
{
	uint64_t size = media->size, head, tail_start, at = 0;
	uint8_t sizebuf[8], *buf;
	EVP_MD_CTX *sha;
	int ret = 0;

	buf = malloc(HASH_BLOCK);
	sha = EVP_MD_CTX_new();
	if (!buf || !sha || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL)) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (unsigned i = 0; i < 8; i++)
		sizebuf[i] = (uint8_t)(size >> (8 * i));
	if (!EVP_DigestUpdate(sha, sizebuf, sizeof(sizebuf))) {
		ret = -ENOMEM;
		goto out_free;
	}
	head = size < HASH_EDGE ? size : HASH_EDGE;
	tail_start = size > HASH_EDGE ? size - HASH_EDGE : 0;
	if (tail_start < head)
		tail_start = head;
	ret = hash_range(sha, media->fd, 0, head, buf);
	at = head;
	/* Blocks centred in HASH_SAMPLES equal parts of the middle, never overlapping the edges. */
	for (unsigned i = 0; ret == 0 && i < HASH_SAMPLES && tail_start > head; i++) {
		uint64_t span = tail_start - head;
		uint64_t centre = head + span / HASH_SAMPLES * i + span / HASH_SAMPLES / 2;
		uint64_t from = centre > HASH_BLOCK / 2 ? centre - HASH_BLOCK / 2 : 0;
		uint64_t to;

		if (from < at)
			from = at;
		to = from + HASH_BLOCK < tail_start ? from + HASH_BLOCK : tail_start;
		if (to > from)
			ret = hash_range(sha, media->fd, from, to - from, buf);
		at = to > at ? to : at;
	}
	if (ret == 0)
		ret = hash_range(sha, media->fd, tail_start, size - tail_start, buf);
	if (ret == 0 && !EVP_DigestFinal_ex(sha, hash, NULL))
		ret = -ENOMEM;
out_free:
	EVP_MD_CTX_free(sha);
	free(buf);
	return ret;
}

bool reel_media_same_source(const struct reel_source_id *a, const struct reel_source_id *b)
{
	return a->size == b->size && !memcmp(a->hash, b->hash, sizeof(a->hash));
}

static void *hasher_main(void *arg)
{
	struct reel_media *media = arg;

	media->hash_ret = hash_source(media, media->hash);
	return NULL;
}

/* The identity's hash is the caller's from here on (computed now if no thread did). */
static void hash_join(struct reel_media *media)
{
	if (!media->hashing)
		return;
	pthread_join(media->hasher, NULL);
	media->hashing = false;
}

int reel_media_source_id(struct reel_media *media, struct reel_source_id *ret_id)
{
	struct reel_source_id id;
	int ret;

	if (!media || !ret_id)
		return -EINVAL;
	hash_join(media);
	memset(&id, 0, sizeof(id));
	/* Hashed once; again when the thread could not run or failed (a read error may pass). */
	if (media->hash_ret != 0) {
		ret = hash_source(media, media->hash);
		if (ret < 0)
			return ret;
		media->hash_ret = 0;
	}
	memcpy(id.hash, media->hash, sizeof(id.hash));
	id.size = media->size;
	id.mtime_ns = media->mtime_ns;
	memcpy(id.path, media->path, sizeof(id.path));
	*ret_id = id;
	return 0;
}

const char *reel_media_why(const struct reel_media *media)
{
	return media ? media->why : "";
}

const char *reel_media_scan_note(const struct reel_media *media)
{
	return media ? media->scan_note : "";
}

int reel_media_parse_time(const char *text, int64_t *ret_us)
{
	int64_t us;

	/* As ffmpeg's -ss reads a time: seconds ("6.5") or [-][HH:]MM:SS[.m...]. */
	if (!text || !*text || av_parse_time(&us, text, 1) < 0)
		return -EINVAL;
	*ret_us = us;
	return 0;
}
