/*
 * The floor under reel's materialise figure: libav decoding in this
 * process, threaded as reel's coordinator threads it, with no start-up in
 * the time, three ways.
 *
 *   decode only      what 'ffmpeg -f null' does, without its start-up;
 *   store, copied    each picture written into fresh pages of a file in the
 *                    pictures' folder with pwritev, as reel stores one;
 *   store, direct    the decoder writing straight into fresh pages of a
 *                    mapped file there (get_buffer2), no copy at all.
 *
 * Any design that keeps every decoded picture pays for its pages once; the
 * two "store" figures say what that costs on this machine, so that reel's
 * figure can be read against what storing pictures here allows, not only
 * against a decoder that stores nothing.
 */
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>

#include "bench/bench.h"

/* Pictures kept at most: 1,000 1080p pictures are 3 GB of RAM while the run lasts. */
#define FLOOR_MAX_FRAMES 1000
#define LINE_ALIGN 64
#define PAGE 4096

struct floor_run {
	enum floor_kind kind;
	int fd;
	uint64_t offset;             /* store, copied: where the next picture goes */
	uint8_t *arena;              /* store, direct: the mapped file */
	size_t arena_size;
	atomic_size_t arena_used;
	atomic_bool overflowed;      /* a picture did not fit: the figure would not be a floor */
};

static void keep_pages(void *opaque, uint8_t *data)
{
	(void)opaque;
	(void)data;
}

/*
 * Called from the decoder's threads.  Every picture gets pages of its own
 * that nothing touched before, laid out with the rows and the height the
 * decoder asks for.
 */
static int direct_buffer(AVCodecContext *dec, AVFrame *frame, int flags)
{
	struct floor_run *run = dec->opaque;
	int w = frame->width, h = frame->height, align[AV_NUM_DATA_POINTERS] = { 0 };
	size_t luma, chroma, size, offset;
	int luma_line, chroma_line;
	uint8_t *p;

	if (frame->format != AV_PIX_FMT_YUV420P && frame->format != AV_PIX_FMT_YUVJ420P)
		goto fallback;
	avcodec_align_dimensions2(dec, &w, &h, align);
	luma_line = FFALIGN(w, LINE_ALIGN);
	chroma_line = FFALIGN((w + 1) / 2, LINE_ALIGN);
	luma = (size_t)luma_line * (size_t)h;
	chroma = (size_t)chroma_line * (size_t)((h + 1) / 2 + 1);
	size = FFALIGN(luma + 2 * chroma + LINE_ALIGN, PAGE);
	offset = atomic_fetch_add(&run->arena_used, size);
	if (offset + size > run->arena_size)
		goto fallback;
	p = run->arena + offset;
	frame->buf[0] = av_buffer_create(p, size, keep_pages, NULL, 0);
	if (!frame->buf[0])
		return AVERROR(ENOMEM);
	frame->data[0] = p;
	frame->data[1] = p + luma;
	frame->data[2] = p + luma + chroma;
	frame->linesize[0] = luma_line;
	frame->linesize[1] = chroma_line;
	frame->linesize[2] = chroma_line;
	return 0;
fallback:
	atomic_store(&run->overflowed, true);
	return avcodec_default_get_buffer2(dec, frame, flags);
}

/* One picture's visible rows, one range per row, at the end of the file. */
static int store_copied(struct floor_run *run, const AVFrame *frame)
{
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(frame->format);
	struct iovec iov[IOV_MAX];

	if (!d || (d->flags & AV_PIX_FMT_FLAG_HWACCEL))
		return -EINVAL;
	for (int p = 0; p < d->nb_components && p < 4 && frame->data[p]; p++) {
		int rows = p == 0 || p == 3 ? frame->height : AV_CEIL_RSHIFT(frame->height, d->log2_chroma_h);
		int bytes = av_image_get_linesize(frame->format, frame->width, p);

		if (bytes <= 0)
			return -EINVAL;
		for (int y = 0; y < rows;) {
			int n = 0;
			ssize_t w;

			for (; y < rows && n < IOV_MAX; y++, n++) {
				iov[n].iov_base = frame->data[p] + (ptrdiff_t)y * frame->linesize[p];
				iov[n].iov_len = (size_t)bytes;
			}
			w = pwritev(run->fd, iov, n, (off_t)run->offset);
			if (w != (ssize_t)n * bytes)
				return w < 0 ? -errno : -ENOSPC;
			run->offset += (uint64_t)w;
		}
	}
	return 0;
}

static int open_decoder(AVFormatContext *fmt, int stream, struct floor_run *run,
                        AVCodecContext **ret_dec)
{
	const AVCodecParameters *par = fmt->streams[stream]->codecpar;
	const AVCodec *codec = avcodec_find_decoder(par->codec_id);
	AVCodecContext *dec;
	int r;

	if (!codec)
		return -ENOTSUP;
	dec = avcodec_alloc_context3(codec);
	if (!dec)
		return -ENOMEM;
	r = avcodec_parameters_to_context(dec, par);
	if (r < 0)
		goto out_free;
	/* As the coordinator decodes a run of frames (core/media/source.c). */
	dec->thread_count = 0;
	dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
	dec->pkt_timebase = fmt->streams[stream]->time_base;
	if (run->kind == FLOOR_STORE_DIRECT) {
		dec->opaque = run;
		dec->get_buffer2 = direct_buffer;
#if FF_API_THREAD_SAFE_CALLBACKS
		/* Without it libavcodec 59 refuses frame threads; from 60 on it is the rule. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
		dec->thread_safe_callbacks = 1;
#pragma GCC diagnostic pop
#endif
	}
	r = avcodec_open2(dec, codec, NULL);
	if (r < 0)
		goto out_free;
	*ret_dec = dec;
	return 0;
out_free:
	avcodec_free_context(&dec);
	return r;
}

/* A file in `dir` that nobody else can open and that goes when it is closed. */
static int fresh_file(const char *dir)
{
	char path[PATH_MAX];
	int fd;

	(void)mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/reel-bench-floor-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

static int decode_all(AVFormatContext *fmt, int stream, AVCodecContext *dec,
                      struct floor_run *run, uint64_t *ret_frames)
{
	AVPacket *pkt = av_packet_alloc();
	AVFrame *frame = av_frame_alloc();
	uint64_t frames = 0;
	bool eof = false;
	int r = 0;

	if (!pkt || !frame) {
		r = -ENOMEM;
		goto out;
	}
	while (!eof && frames < FLOOR_MAX_FRAMES) {
		r = av_read_frame(fmt, pkt);
		if (r == AVERROR_EOF) {
			eof = true;
			r = avcodec_send_packet(dec, NULL);
		} else if (r < 0) {
			goto out;
		} else if (pkt->stream_index != stream) {
			av_packet_unref(pkt);
			continue;
		} else {
			r = avcodec_send_packet(dec, pkt);
			av_packet_unref(pkt);
		}
		if (r < 0 && r != AVERROR_INVALIDDATA)
			goto out;
		while (frames < FLOOR_MAX_FRAMES && (r = avcodec_receive_frame(dec, frame)) == 0) {
			if (run->kind == FLOOR_STORE_COPIED && (r = store_copied(run, frame)) < 0)
				goto out;
			frames++;
			av_frame_unref(frame);
		}
		if (r != AVERROR(EAGAIN) && r != AVERROR_EOF && r < 0 && r != AVERROR_INVALIDDATA)
			goto out;
	}
	r = 0;
	*ret_frames = frames;
out:
	av_frame_free(&frame);
	av_packet_free(&pkt);
	return r;
}

int floor_run(const char *video, const char *dir, enum floor_kind kind, double *ret_s,
              uint64_t *ret_frames)
{
	struct floor_run run = { .kind = kind, .fd = -1 };
	AVFormatContext *fmt = NULL;
	AVCodecContext *dec = NULL;
	double t0;
	int stream, r;

	r = avformat_open_input(&fmt, video, NULL, NULL);
	if (r < 0)
		return r;
	r = avformat_find_stream_info(fmt, NULL);
	if (r < 0)
		goto out;
	stream = r = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	if (r < 0)
		goto out;
	if (kind != FLOOR_DECODE_ONLY && (run.fd = r = fresh_file(dir)) < 0)
		goto out;
	if (kind == FLOOR_STORE_DIRECT) {
		const AVCodecParameters *par = fmt->streams[stream]->codecpar;
		/* Room for the aligned height and rows of every picture, a page each way. */
		size_t per = FFALIGN((size_t)FFALIGN(par->width + 64, LINE_ALIGN) * (par->height + 64) * 3 / 2
		                     + 3 * LINE_ALIGN, PAGE) + PAGE;

		run.arena_size = per * (FLOOR_MAX_FRAMES + 16);
		if (ftruncate(run.fd, (off_t)run.arena_size) < 0) {
			r = -errno;
			goto out;
		}
		run.arena = mmap(NULL, run.arena_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		                 run.fd, 0);
		if (run.arena == MAP_FAILED) {
			run.arena = NULL;
			r = -errno;
			goto out;
		}
	}
	r = open_decoder(fmt, stream, &run, &dec);
	if (r < 0)
		goto out;
	t0 = now_us();
	r = decode_all(fmt, stream, dec, &run, ret_frames);
	*ret_s = (now_us() - t0) / 1e6;
	if (r == 0 && atomic_load(&run.overflowed))
		r = -ENOTSUP;
out:
	avcodec_free_context(&dec);
	if (run.arena)
		munmap(run.arena, run.arena_size);
	if (run.fd >= 0)
		close(run.fd);
	avformat_close_input(&fmt);
	return r;
}
