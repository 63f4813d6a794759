/*
 * Tests of the media access (the files of core/media/) on the clips that
 * tests/helpers/make-clips.sh makes at build time.
 *
 * The frame index is checked against ffprobe's packet list.  Materialised
 * frames are checked against an independent reference: this file decodes
 * each clip again with plain libav (avformat_open_input on the path, no
 * custom I/O, one thread), every frame in order, converts it with its own
 * swscale context using the flags and range rule documented in
 * reel/media.h, and compares planes byte for byte.  Audio is checked
 * against the whole stream decoded from the start and converted by its own
 * swresample context.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/imgutils.h>
#include <libavutil/mathematics.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

#include "buffer/buffer.h"
#include "reel/error.h"
#include "reel/log.h"
#include "media/media.h"
#include "media/media-private.h"
#include "testutil.h"

/* The documented conversion (reel/media.h), restated here on purpose. */
#define TEST_SWS_FLAGS (SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT)

struct clip {
	const char *name;
	bool audio_check;   /* compare audio samples with the reference */
	uint32_t slots;     /* 0: one slot per frame; otherwise fewer, so slots are reused */
	/*
	 * Largest sample difference allowed.  0 where the decoder's output after
	 * a seek and pre-roll cannot differ from a decode from the start: PCM,
	 * and AAC without noise substitution (the AAC decoder's state is the
	 * previous frame's overlap, rebuilt by the pre-roll).  AAC with PNS
	 * draws its noise from a generator that a seek cannot rewind, and Opus
	 * converges to, but not exactly onto, the continuous decode.
	 */
	double audio_tol;
	/*
	 * Compare with ffprobe's decoded frames (their best-effort times), not
	 * its packets: decode-only packets (an mp4 edit list), or packets
	 * without pts (a program stream).
	 */
	bool by_frames;
};

/* ---- small helpers ---------------------------------------------------- */

static const char *find_in_path(const char *prog)
{
	static char path[PATH_MAX];
	const char *p = getenv("PATH");

	if (!p)
		p = "/usr/bin:/bin";
	while (*p) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		snprintf(path, sizeof(path), "%.*s/%s", (int)len, p, prog);
		if (access(path, X_OK) == 0)
			return path;
		p += len + (end ? 1 : 0);
	}
	return NULL;
}

static const char *clip_path(const char *name)
{
	const char *path = tu_clip(name);

	if (!path)
		fail_msg("test clip %s missing (REEL_TEST_CLIPS=%s)", name,
		         getenv("REEL_TEST_CLIPS") ? getenv("REEL_TEST_CLIPS") : "unset");
	return path;
}

static int compare_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * ffprobe's video packet pts (or, with frames, the decoded frames'
 * best-effort times), sorted; *ret_n counts them.
 */
static int64_t *ffprobe_pts_of(const char *path, bool frames, size_t *ret_n, size_t *ret_missing)
{
	char *out = NULL, *err = NULL, *line, *save = NULL;
	const char *ffprobe = find_in_path("ffprobe");
	char *argv[] = { NULL, "-v", "error", "-select_streams", "v", "-show_entries",
	                 frames ? "frame=best_effort_timestamp" : "packet=pts", "-of", "csv=p=0", (char *)path, NULL };
	int64_t *pts = NULL;
	size_t n = 0, cap = 0;

	if (!ffprobe)
		fail_msg("ffprobe not found in PATH");
	argv[0] = strdup(ffprobe);
	tu_run(argv, &out, &err);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *end;
		long long v = strtoll(line, &end, 10);

		if (end == line) {
			/* "N/A": a frame the decoder gave no time (the last of a stream without pts). */
			if (strncmp(line, "N/A", 3) == 0 && ret_missing)
				++*ret_missing;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			pts = realloc(pts, cap * sizeof(*pts));
			assert_non_null(pts);
		}
		pts[n++] = v;
	}
	qsort(pts, n, sizeof(*pts), compare_i64);
	free(argv[0]);
	free(out);
	free(err);
	*ret_n = n;
	return pts;
}

static int64_t *ffprobe_pts(const char *path, size_t *ret_n)
{
	return ffprobe_pts_of(path, false, ret_n, NULL);
}

/* ---- the independent reference --------------------------------------- */

struct ref_video {
	int w, h, cw, ch;
	size_t frame_size;
	size_t n, cap;
	int64_t *pts;
	uint8_t *data;      /* n frames of packed Y, U, V */
};

struct ref_audio {
	int rate, channels;
	int shift;          /* how far apart two readings of one timestamp may lie, in samples */
	int64_t start;      /* sample number of data[0] */
	size_t n, cap;      /* samples per channel */
	float *data;
};

static enum AVPixelFormat ref_plain(enum AVPixelFormat f, bool *full)
{
	switch (f) {
	case AV_PIX_FMT_YUVJ420P: *full = true; return AV_PIX_FMT_YUV420P;
	case AV_PIX_FMT_YUVJ422P: *full = true; return AV_PIX_FMT_YUV422P;
	case AV_PIX_FMT_YUVJ444P: *full = true; return AV_PIX_FMT_YUV444P;
	case AV_PIX_FMT_YUVJ440P: *full = true; return AV_PIX_FMT_YUV440P;
	default: return f;
	}
}

static void ref_add_picture(struct ref_video *r, AVFrame *f, struct SwsContext **sws)
{
	bool full = f->color_range == AVCOL_RANGE_JPEG;
	enum AVPixelFormat fmt = ref_plain((enum AVPixelFormat)f->format, &full);
	AVFrame *conv = NULL, *src = f;
	uint8_t *dst;
	int64_t pts = f->pts != AV_NOPTS_VALUE ? f->pts : f->best_effort_timestamp;

	if (fmt != AV_PIX_FMT_YUV420P || full || f->width != r->w || f->height != r->h) {
		const int *coefs = sws_getCoefficients(SWS_CS_DEFAULT);

		sws_freeContext(*sws);
		*sws = sws_getContext(f->width, f->height, fmt, r->w, r->h, AV_PIX_FMT_YUV420P,
		                      TEST_SWS_FLAGS, NULL, NULL, NULL);
		assert_non_null(*sws);
		sws_setColorspaceDetails(*sws, coefs, full, coefs, 0, 0, 1 << 16, 1 << 16);
		conv = av_frame_alloc();
		conv->format = AV_PIX_FMT_YUV420P;
		conv->width = r->w;
		conv->height = r->h;
		assert_int_equal(av_frame_get_buffer(conv, 0), 0);
		assert_int_equal(sws_scale(*sws, (const uint8_t *const *)f->data, f->linesize, 0,
		                           f->height, conv->data, conv->linesize), r->h);
		src = conv;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->pts = realloc(r->pts, r->cap * sizeof(*r->pts));
		r->data = realloc(r->data, r->cap * r->frame_size);
		assert_non_null(r->pts);
		assert_non_null(r->data);
	}
	dst = r->data + r->n * r->frame_size;
	for (int y = 0; y < r->h; y++)
		memcpy(dst + (size_t)y * r->w, src->data[0] + (size_t)y * src->linesize[0], r->w);
	dst += (size_t)r->w * r->h;
	for (int p = 1; p < 3; p++) {
		for (int y = 0; y < r->ch; y++)
			memcpy(dst + (size_t)y * r->cw, src->data[p] + (size_t)y * src->linesize[p], r->cw);
		dst += (size_t)r->cw * r->ch;
	}
	r->pts[r->n++] = pts;
	av_frame_free(&conv);
}

static void ref_add_samples(struct ref_audio *r, AVFrame *f, struct SwrContext **swr,
                            AVRational tb)
{
	uint8_t *out[1];
	int got;

	if (!*swr) {
		AVChannelLayout ol, il;

		av_channel_layout_default(&ol, r->channels);
		if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
			av_channel_layout_default(&il, f->ch_layout.nb_channels);
		else
			av_channel_layout_copy(&il, &f->ch_layout);
		assert_true(swr_alloc_set_opts2(swr, &ol, AV_SAMPLE_FMT_FLT, r->rate, &il,
		                                (enum AVSampleFormat)f->format, f->sample_rate,
		                                0, NULL) >= 0);
		assert_true(swr_init(*swr) >= 0);
		av_channel_layout_uninit(&il);
		av_channel_layout_uninit(&ol);
	}
	if (r->n == 0) {
		int64_t ts = f->pts != AV_NOPTS_VALUE ? f->pts : f->best_effort_timestamp;
		r->start = av_rescale_q_rnd(ts, tb, (AVRational){ 1, r->rate }, AV_ROUND_NEAR_INF);
	}
	while (r->n + (size_t)f->nb_samples + 64 > r->cap) {
		r->cap = r->cap ? r->cap * 2 : 65536;
		r->data = realloc(r->data, r->cap * r->channels * sizeof(float));
		assert_non_null(r->data);
	}
	out[0] = (uint8_t *)(r->data + r->n * r->channels);
	got = swr_convert(*swr, out, (int)(r->cap - r->n), (const uint8_t **)f->extended_data,
	                  f->nb_samples);
	assert_true(got >= 0);
	r->n += (size_t)got;
}

static AVCodecContext *ref_open_decoder(AVStream *st)
{
	const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
	AVCodecContext *dec;

	assert_non_null(codec);
	dec = avcodec_alloc_context3(codec);
	assert_non_null(dec);
	assert_true(avcodec_parameters_to_context(dec, st->codecpar) >= 0);
	dec->pkt_timebase = st->time_base;
	dec->thread_count = 1;
	assert_int_equal(avcodec_open2(dec, codec, NULL), 0);
	return dec;
}

static void ref_drain(AVCodecContext *dec, AVFrame *f, struct ref_video *rv,
                      struct ref_audio *ra, struct SwsContext **sws, struct SwrContext **swr,
                      AVRational tb)
{
	while (avcodec_receive_frame(dec, f) == 0) {
		if (rv)
			ref_add_picture(rv, f, sws);
		else
			ref_add_samples(ra, f, swr, tb);
		av_frame_unref(f);
	}
}

/* Decode the whole clip: every picture (and the audio when ra is not NULL). */
static void ref_decode(const char *path, struct ref_video *rv, struct ref_audio *ra)
{
	AVFormatContext *fmt = NULL;
	AVCodecContext *vdec, *adec = NULL;
	struct SwsContext *sws = NULL;
	struct SwrContext *swr = NULL;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *f = av_frame_alloc();
	int vi, ai = -1;
	AVRational atb = { 1, 1 };

	assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
	assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
	vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	assert_true(vi >= 0);
	vdec = ref_open_decoder(fmt->streams[vi]);
	memset(rv, 0, sizeof(*rv));
	rv->w = fmt->streams[vi]->codecpar->width;
	rv->h = fmt->streams[vi]->codecpar->height;
	rv->cw = (rv->w + 1) / 2;
	rv->ch = (rv->h + 1) / 2;
	rv->frame_size = (size_t)rv->w * rv->h + 2 * (size_t)rv->cw * rv->ch;
	if (ra) {
		memset(ra, 0, sizeof(*ra));
		ai = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, vi, NULL, 0);
		assert_true(ai >= 0);
		adec = ref_open_decoder(fmt->streams[ai]);
		atb = fmt->streams[ai]->time_base;
		ra->rate = fmt->streams[ai]->codecpar->sample_rate;
		ra->channels = fmt->streams[ai]->codecpar->ch_layout.nb_channels;
		/*
		 * Timestamps rounded to the stream's tick (a millisecond in
		 * matroska) place a frame only to within one tick.
		 */
		ra->shift = (int)av_rescale_rnd(atb.num, ra->rate, atb.den, AV_ROUND_UP);
		if (ra->shift <= 1)
			ra->shift = 0;
	}
	while (av_read_frame(fmt, pkt) >= 0) {
		if (pkt->stream_index == vi) {
			avcodec_send_packet(vdec, pkt);
			ref_drain(vdec, f, rv, NULL, &sws, NULL, atb);
		} else if (pkt->stream_index == ai) {
			avcodec_send_packet(adec, pkt);
			ref_drain(adec, f, NULL, ra, NULL, &swr, atb);
		}
		av_packet_unref(pkt);
	}
	avcodec_send_packet(vdec, NULL);
	ref_drain(vdec, f, rv, NULL, &sws, NULL, atb);
	if (adec) {
		avcodec_send_packet(adec, NULL);
		ref_drain(adec, f, NULL, ra, NULL, &swr, atb);
	}
	sws_freeContext(sws);
	swr_free(&swr);
	avcodec_free_context(&vdec);
	avcodec_free_context(&adec);
	av_frame_free(&f);
	av_packet_free(&pkt);
	avformat_close_input(&fmt);
}

static void ref_free(struct ref_video *rv, struct ref_audio *ra)
{
	if (rv) {
		free(rv->pts);
		free(rv->data);
	}
	if (ra)
		free(ra->data);
}

/* ---- a real buffer from a real scan --------------------------------- */

struct fixture {
	char *dir;
	struct reel_media *media;
	struct reel_buffer *buffer;
	struct reel_index_entry *index;
	uint64_t count;
	uint32_t max_audio;
};

static void fixture_open(struct fixture *fx, const char *path, uint32_t slots)
{
	const struct reel_media_info *info;
	struct reel_buffer_params params;
	char bufpath[PATH_MAX];

	memset(fx, 0, sizeof(*fx));
	assert_int_equal(reel_media_open(path, &fx->media), 0);
	assert_int_equal(reel_media_scan(fx->media, &fx->index, &fx->count, &fx->max_audio), 0);
	info = reel_media_info(fx->media);
	memset(&params, 0, sizeof(params));
	params.width = info->width;
	params.height = info->height;
	params.frame_count = fx->count;
	params.slot_count = slots && slots < fx->count ? slots : (uint32_t)fx->count;
	params.frame_rate = info->frame_rate;
	params.time_base = info->time_base;
	params.sample_rate = info->sample_rate;
	params.channels = info->channels;
	params.audio_capacity = info->sample_rate ? fx->max_audio : 0;
	assert_int_equal(reel_media_source_id(fx->media, &params.source), 0);
	fx->dir = tu_tempdir();
	snprintf(bufpath, sizeof(bufpath), "%s/session.reel", fx->dir);
	assert_int_equal(reel_buffer_create(bufpath, &params, &fx->buffer), 0);
	for (uint64_t i = 0; i < fx->count; i++)
		assert_int_equal(reel_index_put(fx->buffer, i, &fx->index[i]), 0);
	assert_int_equal(reel_index_commit(fx->buffer), 0);
}

static void fixture_close(struct fixture *fx)
{
	reel_buffer_close(fx->buffer);
	reel_media_close(fx->media);
	free(fx->index);
	tu_rmrf(fx->dir);
	free(fx->dir);
}

/* ---- a sink that checks every frame as it lands --------------------- */

struct check_sink {
	struct fixture *fx;
	const struct ref_video *ref;     /* NULL: no picture check (damaged clips) */
	const struct ref_audio *aref;    /* NULL: no audio check */
	double audio_tol;
	uint32_t slots;
	struct reel_frame cur;
	uint8_t *delivered;              /* per frame, this call: 1 ok, 2 error */
	unsigned ok, errors, mismatches, audio_frames, audio_bad;
	unsigned written;                /* pictures written through the file */
	unsigned prepared;               /* pictures the decoder wrote into the planes itself */
	double audio_max_diff;
};

static int check_begin(void *userdata, uint64_t frame, struct reel_frame *ret_frame)
{
	struct check_sink *s = userdata;
	uint32_t slot = (uint32_t)(frame % s->slots);

	assert_true(frame < s->fx->count);
	assert_int_equal(reel_buffer_reserve_slot(s->fx->buffer, slot), 0);
	assert_int_equal(reel_buffer_frame(s->fx->buffer, slot, &s->cur), 0);
	/* Poison the slot, so that a plane the decoder forgets cannot pass. */
	for (int p = 0; p < 3; p++)
		memset(s->cur.plane[p], 0xa5, (size_t)s->cur.stride[p] * s->cur.height[p]);
	if (s->cur.audio)
		memset(s->cur.audio, 0xff, (size_t)s->cur.audio_capacity * s->cur.channels * 4);
	*ret_frame = s->cur;
	return 0;
}

static bool picture_matches(const struct reel_frame *f, const struct ref_video *r, uint64_t i)
{
	const uint8_t *src = r->data + i * r->frame_size;

	for (int p = 0; p < 3; p++) {
		uint32_t w = f->width[p], h = f->height[p];

		for (uint32_t y = 0; y < h; y++)
			if (memcmp(f->plane[p] + (size_t)y * f->stride[p], src + (size_t)y * w, w) != 0)
				return false;
		src += (size_t)w * h;
	}
	return true;
}

static void check_audio(struct check_sink *s, uint64_t frame, uint32_t samples)
{
	const struct ref_audio *r = s->aref;
	const struct reel_buffer_info *bi = reel_buffer_info(s->fx->buffer);
	AVRational tb = { bi->time_base.num, bi->time_base.den };
	int64_t s0, s1, want;
	double best = INFINITY;

	if (frame + 1 >= s->fx->count)
		return;   /* the last frame's end is the decoder's estimate */
	s0 = av_rescale_q_rnd(s->fx->index[frame].pts, tb, (AVRational){ 1, r->rate },
	                      AV_ROUND_NEAR_INF);
	s1 = av_rescale_q_rnd(s->fx->index[frame + 1].pts, tb, (AVRational){ 1, r->rate },
	                      AV_ROUND_NEAR_INF);
	if (s0 - r->shift < r->start || s1 + r->shift > r->start + (int64_t)r->n)
		return;   /* outside the stream: nothing to compare with */
	want = s1 - s0 < (int64_t)s->cur.audio_capacity ? s1 - s0 : s->cur.audio_capacity;
	s->audio_frames++;
	if ((int64_t)samples != want) {
		s->audio_bad++;
		print_message("# frame %llu: %u samples, expected %lld\n", (unsigned long long)frame,
		              samples, (long long)want);
		return;
	}
	for (int shift = -r->shift; shift <= r->shift; shift++) {
		const float *ref = r->data + (size_t)(s0 + shift - r->start) * r->channels;
		double maxd = 0;

		for (int64_t k = 0; k < want * r->channels; k++) {
			double d = fabs((double)s->cur.audio[k] - (double)ref[k]);
			if (!(d <= maxd))
				maxd = d;   /* NaN counts as the largest difference */
		}
		if (maxd < best)
			best = maxd;
	}
	if (!(best <= s->audio_max_diff))
		s->audio_max_diff = best;
	if (!(best <= s->audio_tol)) {
		s->audio_bad++;
		print_message("# frame %llu: audio differs by %g\n", (unsigned long long)frame, best);
	}
}

static int check_end(void *userdata, uint64_t frame, uint32_t audio_samples, int32_t error)
{
	struct check_sink *s = userdata;

	s->delivered[frame] = error ? 2 : 1;
	if (error) {
		s->errors++;
		return 0;
	}
	s->ok++;
	if (s->ref && !picture_matches(&s->cur, s->ref, frame)) {
		s->mismatches++;
		print_message("# frame %llu differs from the reference\n", (unsigned long long)frame);
	}
	if (s->aref)
		check_audio(s, frame, audio_samples);
	else if (s->ref && s->cur.audio)
		assert_true(audio_samples <= s->cur.audio_capacity);
	return 0;
}

/* Decode [frame, last] and check that each of them arrived, good when must_be_ok. */
static void decode_range(struct check_sink *s, uint64_t frame, uint64_t last, bool must_be_ok)
{
	struct reel_sink sink = { check_begin, check_end, s, NULL, NULL };

	memset(s->delivered, 0, s->fx->count);
	assert_int_equal(reel_media_decode(s->fx->media, s->fx->buffer, frame, last, &sink), 0);
	for (uint64_t i = frame; i <= last; i++) {
		if (!s->delivered[i])
			fail_msg("frame %llu of [%llu, %llu] was not delivered", (unsigned long long)i,
			         (unsigned long long)frame, (unsigned long long)last);
		if (must_be_ok && s->delivered[i] != 1)
			fail_msg("frame %llu failed to decode", (unsigned long long)i);
	}
}

static uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* ---- the tests ------------------------------------------------------- */

static void test_media_index_matches_ffprobe(void **state)
{
	const struct clip *clip = *state;
	const char *path = clip_path(clip->name);
	struct reel_media *media;
	struct reel_index_entry *idx;
	uint64_t count;
	uint32_t max_audio;
	size_t n;
	size_t missing = 0;
	int64_t *pts = ffprobe_pts_of(path, clip->by_frames, &n, &missing);

	assert_int_equal(reel_media_open(path, &media), 0);
	assert_int_equal(reel_media_scan(media, &idx, &count, &max_audio), 0);
	assert_true(n > 0);
	/* Frames without a time are the last ones shown: reel gives them a frame each past the end. */
	assert_int_equal(count, n + missing);
	for (uint64_t i = 0; i < count; i++) {
		if (i >= n) {
			assert_true(idx[i].pts > idx[i - 1].pts);
			continue;
		}
		if (idx[i].pts != pts[i])
			fail_msg("%s: frame %llu has pts %lld, ffprobe says %lld", clip->name,
			         (unsigned long long)i, (long long)idx[i].pts, (long long)pts[i]);
		if (i > 0)
			assert_true(idx[i].pts > idx[i - 1].pts);
	}
	/* The first frame in presentation order of these clips is a keyframe (unless cut). */
	assert_true(clip->by_frames || (idx[0].flags & REEL_INDEX_KEY));
	if (reel_media_info(media)->sample_rate) {
		const struct reel_media_info *info = reel_media_info(media);
		double per_frame = (double)info->sample_rate * info->frame_rate.den / info->frame_rate.num;
		/* At least one nominal frame interval of samples, and not absurdly more. */
		assert_true(max_audio >= (uint32_t)per_frame);
		assert_true(max_audio <= 4 * info->sample_rate);
	} else {
		assert_int_equal(max_audio, 0);
	}
	/* A second scan gives the same index. */
	{
		struct reel_index_entry *idx2;
		uint64_t count2;
		uint32_t max2;

		assert_int_equal(reel_media_scan(media, &idx2, &count2, &max2), 0);
		assert_int_equal(count2, count);
		assert_memory_equal(idx2, idx, count * sizeof(*idx));
		free(idx2);
	}
	free(idx);
	free(pts);
	reel_media_close(media);
}

static void test_media_info_matches_libav(void **state)
{
	const struct clip *clip = *state;
	const char *path = clip_path(clip->name);
	const struct reel_media_info *info;
	struct reel_media *media;
	AVFormatContext *fmt = NULL;
	const AVStream *st;
	int vi, ai;

	assert_int_equal(reel_media_open(path, &media), 0);
	info = reel_media_info(media);
	assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
	assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
	vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	st = fmt->streams[vi];
	assert_int_equal(info->width, st->codecpar->width);
	assert_int_equal(info->height, st->codecpar->height);
	assert_int_equal(info->time_base.num, st->time_base.num);
	assert_int_equal(info->time_base.den, st->time_base.den);
	assert_true(av_cmp_q((AVRational){ info->frame_rate.num, info->frame_rate.den },
	                     st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate) == 0);
	assert_string_equal(info->codec, avcodec_get_name(st->codecpar->codec_id));
	assert_string_equal(info->pix_fmt, av_get_pix_fmt_name(st->codecpar->format));
	ai = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, vi, NULL, 0);
	if (ai >= 0) {
		assert_int_equal(info->sample_rate, fmt->streams[ai]->codecpar->sample_rate);
		assert_int_equal(info->channels, fmt->streams[ai]->codecpar->ch_layout.nb_channels);
	} else {
		assert_int_equal(info->sample_rate, 0);
		assert_int_equal(info->channels, 0);
	}
	avformat_close_input(&fmt);
	reel_media_close(media);
}

static void test_media_random_frames_bit_identical(void **state)
{
	const struct clip *clip = *state;
	const char *path = clip_path(clip->name);
	struct fixture fx;
	struct ref_video ref;
	struct ref_audio aref;
	struct check_sink s;
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ strlen(clip->name) * 0x100000001b3ull;
	uint64_t key = 0;

	fixture_open(&fx, path, clip->slots);
	ref_decode(path, &ref, clip->audio_check ? &aref : NULL);
	assert_int_equal(ref.n, fx.count);
	assert_int_equal(ref.w, reel_buffer_info(fx.buffer)->width);
	for (uint64_t i = 0; i < fx.count; i++)
		if (ref.pts[i] != AV_NOPTS_VALUE)   /* the decoder's last frames of a stream without pts */
			assert_int_equal(ref.pts[i], fx.index[i].pts);
	for (uint64_t i = fx.count / 2; i < fx.count; i++)
		if (fx.index[i].flags & REEL_INDEX_KEY) {
			key = i;
			break;
		}

	memset(&s, 0, sizeof(s));
	s.fx = &fx;
	s.ref = &ref;
	s.aref = clip->audio_check ? &aref : NULL;
	s.audio_tol = clip->audio_tol;
	s.slots = reel_buffer_info(fx.buffer)->slot_count;
	s.delivered = calloc(fx.count, 1);

	/* The edges, a keyframe, the frame after it, and the frame before it. */
	decode_range(&s, fx.count - 1, fx.count - 1, true);
	decode_range(&s, 0, 0, true);
	decode_range(&s, key, key, true);
	decode_range(&s, key + 1 < fx.count ? key + 1 : key, key + 1 < fx.count ? key + 1 : key, true);
	if (key > 0)
		decode_range(&s, key - 1, key - 1, true);
	/* Random single frames and short ranges in random order. */
	for (int k = 0; k < 16; k++) {
		uint64_t f = rng_next(&rng) % fx.count;
		uint64_t len = rng_next(&rng) % 4;
		uint64_t last = f + len < fx.count ? f + len : fx.count - 1;

		decode_range(&s, f, last, true);
	}
	/* A sequential run, one frame per call, as playback asks. */
	for (uint64_t f = fx.count / 3; f < fx.count / 3 + 8 && f < fx.count; f++)
		decode_range(&s, f, f, true);
	assert_int_equal(s.mismatches, 0);
	assert_int_equal(s.errors, 0);
	assert_true(s.ok >= 16);
	if (clip->audio_check) {
		print_message("# %s: %u frames of audio checked, max difference %g\n", clip->name,
		              s.audio_frames, s.audio_max_diff);
		assert_true(s.audio_frames > 10);
		assert_int_equal(s.audio_bad, 0);
	}
	free(s.delivered);
	ref_free(&ref, clip->audio_check ? &aref : NULL);
	fixture_close(&fx);
}

/*
 * Every frame on its own, last to first, so that each one is a seek: in
 * AVI the times are made up from the decode order, and in an open group
 * the keyframe's leading pictures need the group before it.
 */
static void test_media_every_frame_after_a_seek(void **state)
{
	const struct clip *clip = *state;
	const char *path = clip_path(clip->name);
	struct fixture fx;
	struct ref_video ref;
	struct check_sink s;

	fixture_open(&fx, path, clip->slots);
	ref_decode(path, &ref, NULL);
	assert_int_equal(ref.n, fx.count);
	memset(&s, 0, sizeof(s));
	s.fx = &fx;
	s.ref = &ref;
	s.slots = reel_buffer_info(fx.buffer)->slot_count;
	s.delivered = calloc(fx.count, 1);
	for (uint64_t f = fx.count; f-- > 0;)
		decode_range(&s, f, f, true);
	assert_int_equal(s.mismatches, 0);
	assert_int_equal(s.errors, 0);
	free(s.delivered);
	ref_free(&ref, NULL);
	fixture_close(&fx);
}

static void test_media_every_frame_in_order(void **state)
{
	const struct clip *clip = *state;
	const char *path = clip_path(clip->name);
	struct fixture fx;
	struct ref_video ref;
	struct ref_audio aref;
	struct check_sink s;

	fixture_open(&fx, path, 5);
	ref_decode(path, &ref, clip->audio_check ? &aref : NULL);
	/*
	 * A coordinator reopening a buffer decodes with the index stored in it,
	 * from a source it opened but never scanned.
	 */
	reel_media_close(fx.media);
	assert_int_equal(reel_media_open(path, &fx.media), 0);
	memset(&s, 0, sizeof(s));
	s.fx = &fx;
	s.ref = &ref;
	s.aref = clip->audio_check ? &aref : NULL;
	s.audio_tol = clip->audio_tol;
	s.slots = reel_buffer_info(fx.buffer)->slot_count;
	s.delivered = calloc(fx.count, 1);
	decode_range(&s, 0, fx.count - 1, true);
	assert_int_equal(s.ok, fx.count);
	assert_int_equal(s.mismatches, 0);
	if (clip->audio_check) {
		assert_true(s.audio_frames + 2 >= fx.count);
		assert_int_equal(s.audio_bad, 0);
	}
	free(s.delivered);
	ref_free(&ref, clip->audio_check ? &aref : NULL);
	fixture_close(&fx);
}

/* The sink may skip frames and stop early; the decoder keeps its place. */
static int skip_begin(void *userdata, uint64_t frame, struct reel_frame *ret_frame)
{
	if (frame % 2)
		return 1;
	return check_begin(userdata, frame, ret_frame);
}

static int cancel_begin(void *userdata, uint64_t frame, struct reel_frame *ret_frame)
{
	(void)userdata; (void)frame; (void)ret_frame;
	return -ECANCELED;
}

static int stop_end(void *userdata, uint64_t frame, uint32_t samples, int32_t error)
{
	check_end(userdata, frame, samples, error);
	return frame >= 6 ? 1 : 0;
}

static void test_media_sink_skip_and_stop(void **state)
{
	const char *path = clip_path("h264-bframes.mp4");
	struct fixture fx;
	struct ref_video ref;
	struct check_sink s;
	struct reel_sink sink;

	(void)state;
	fixture_open(&fx, path, 0);
	ref_decode(path, &ref, NULL);
	memset(&s, 0, sizeof(s));
	s.fx = &fx;
	s.ref = &ref;
	s.slots = reel_buffer_info(fx.buffer)->slot_count;
	s.delivered = calloc(fx.count, 1);
	sink = (struct reel_sink){ skip_begin, stop_end, &s, NULL, NULL };
	assert_int_equal(reel_media_decode(fx.media, fx.buffer, 0, fx.count - 1, &sink), 0);
	/* Even frames up to 6 arrived, odd ones were skipped, nothing after the stop. */
	for (uint64_t i = 0; i < fx.count; i++)
		assert_int_equal(s.delivered[i], i <= 6 && i % 2 == 0 ? 1 : 0);
	assert_int_equal(s.mismatches, 0);
	/* The next frames come out right after a stop. */
	decode_range(&s, 7, 9, true);
	assert_int_equal(s.mismatches, 0);
	/* An aborting sink's error comes back, and the decoder recovers afterwards. */
	{
		struct reel_sink abort_sink = { cancel_begin, check_end, &s, NULL, NULL };
		assert_int_equal(reel_media_decode(fx.media, fx.buffer, 20, 22, &abort_sink),
		                 -ECANCELED);
		abort_sink.end = NULL;
		assert_int_equal(reel_media_decode(fx.media, fx.buffer, 0, 0, &abort_sink), -EINVAL);
		decode_range(&s, 21, 21, true);
		assert_int_equal(s.mismatches, 0);
	}
	assert_int_equal(reel_media_decode(fx.media, fx.buffer, 3, 2, &sink), REEL_E_RANGE);
	assert_int_equal(reel_media_decode(fx.media, fx.buffer, 0, fx.count, &sink), REEL_E_RANGE);
	free(s.delivered);
	ref_free(&ref, NULL);
	fixture_close(&fx);
}

static unsigned seek_count, drop_count;

static void count_seeks(int level, const char *component, const char *message, void *userdata)
{
	(void)level; (void)userdata;
	if (component && strcmp(component, "media") == 0 &&
	    strncmp(message, "seek to keyframe", 16) == 0)
		seek_count++;
	if (component && strcmp(component, "media") == 0 &&
	    strncmp(message, "dropped decoded frame", 21) == 0)
		drop_count++;
}

/* Playback asks frame after frame: the decoder goes on where it stands, never seeking. */
static void test_media_sequential_calls_do_not_seek(void **state)
{
	const char *path = clip_path("h264-bframes.mp4");
	int old_level = reel_log_get_level();
	struct fixture fx;
	struct ref_video ref;
	struct check_sink s;
	uint64_t key = 0;

	(void)state;
	fixture_open(&fx, path, 6);
	ref_decode(path, &ref, NULL);
	memset(&s, 0, sizeof(s));
	s.fx = &fx;
	s.ref = &ref;
	s.slots = reel_buffer_info(fx.buffer)->slot_count;
	s.delivered = calloc(fx.count, 1);
	for (uint64_t i = 1; i < fx.count; i++)
		if (fx.index[i].flags & REEL_INDEX_KEY) {
			key = i;
			break;
		}
	assert_true(key > 4);   /* the clip has a GOP to walk through */
	assert_true(2 * key + 1 < fx.count);
	assert_true(fx.index[2 * key].flags & REEL_INDEX_KEY);

	reel_log_set_callback(count_seeks, NULL);
	reel_log_set_level(REEL_LOG_DEBUG);
	seek_count = drop_count = 0;
	decode_range(&s, 2, 2, true);
	assert_int_equal(seek_count, 1);
	/* Frame by frame across the next keyframe, and a range after that. */
	for (uint64_t f = 3; f <= key + 2; f++)
		decode_range(&s, f, f, true);
	decode_range(&s, key + 3, key + 6, true);
	assert_int_equal(seek_count, 1);
	/* Skipping ahead within the GOP decodes forward too. */
	decode_range(&s, key + 9, key + 9, true);
	assert_int_equal(seek_count, 1);
	/* Going back needs a seek. */
	decode_range(&s, 1, 1, true);
	assert_int_equal(seek_count, 2);
	/* So does jumping past a keyframe; the seeks land on the keyframe, not before it. */
	decode_range(&s, 2 * key + 1, 2 * key + 1, true);
	assert_int_equal(seek_count, 3);
	assert_int_equal(drop_count, 0);
	reel_log_set_callback(NULL, NULL);
	reel_log_set_level(old_level);
	assert_int_equal(s.mismatches, 0);
	free(s.delivered);
	ref_free(&ref, NULL);
	fixture_close(&fx);
}

static void test_media_bad_paths_refused(void **state)
{
	struct reel_media *media = (struct reel_media *)0x1;
	char *dir = tu_tempdir();
	char fifo[PATH_MAX], missing[PATH_MAX];

	(void)state;
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(missing, sizeof(missing), "%s/missing.mp4", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(reel_media_open(dir, &media), REEL_E_NOTREGULAR);
	assert_int_equal(reel_media_open("/dev/null", &media), REEL_E_NOTREGULAR);
	assert_int_equal(reel_media_open(fifo, &media), REEL_E_NOTREGULAR);
	assert_int_equal(reel_media_open(missing, &media), -ENOENT);
	assert_int_equal(reel_media_open(clip_path("empty.mp4"), &media), REEL_E_BADMEDIA);
	assert_int_equal(reel_media_open(clip_path("text.mp4"), &media), REEL_E_BADMEDIA);
	assert_int_equal(reel_media_open(clip_path("too-wide.mkv"), &media), REEL_E_TOOLARGE);
	/* The index of this mp4 was at the end, in the half that is gone. */
	assert_int_equal(reel_media_open(clip_path("truncated.mp4"), &media), REEL_E_BADMEDIA);
	/*
	 * Playlists name other files: nothing may be opened by name.  Plain
	 * libav opens both and finds the video they point at, so the refusal
	 * is reel's doing.
	 */
	{
		const char *lists[] = { "playlist.m3u8", "list.ffconcat" };

		for (int i = 0; i < 2; i++) {
			AVFormatContext *fmt = NULL;

			assert_int_equal(avformat_open_input(&fmt, clip_path(lists[i]), NULL, NULL), 0);
			assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
			assert_true(av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0) >= 0);
			avformat_close_input(&fmt);
			assert_int_equal(reel_media_open(clip_path(lists[i]), &media), REEL_E_BADMEDIA);
		}
	}
	/* ret_media untouched on every failure. */
	assert_ptr_equal(media, (struct reel_media *)0x1);
	reel_media_close(NULL);
	tu_rmrf(dir);
	free(dir);
}

/* Damaged files open with what can be demuxed, and every frame ends clean: good or ERROR. */
static void test_media_damaged_files_decode_cleanly(void **state)
{
	const char *names[] = { "truncated-faststart.mp4", "corrupt.mp4" };

	(void)state;
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		const char *path = clip_path(names[k]);
		struct fixture fx;
		struct check_sink s;
		size_t n;
		int64_t *pts = ffprobe_pts(path, &n);

		fixture_open(&fx, path, 4);
		assert_int_equal(fx.count, n);
		memset(&s, 0, sizeof(s));
		s.fx = &fx;
		s.slots = reel_buffer_info(fx.buffer)->slot_count;
		s.delivered = calloc(fx.count, 1);
		decode_range(&s, 0, fx.count - 1, false);
		print_message("# %s: %llu frames, %u decoded, %u in error\n", names[k],
		              (unsigned long long)fx.count, s.ok, s.errors);
		assert_int_equal(s.ok + s.errors, fx.count);
		decode_range(&s, fx.count / 2, fx.count / 2, false);
		decode_range(&s, fx.count - 1, fx.count - 1, false);
		decode_range(&s, 1, 3, false);
		free(s.delivered);
		free(pts);
		fixture_close(&fx);
	}
}

static void test_media_source_id(void **state)
{
	const char *path = clip_path("h264-bframes.mp4");
	char *argv[] = { NULL, (char *)path, NULL };
	const char *sha = find_in_path("sha256sum");
	struct reel_source_id id;
	struct reel_media *media;
	char real[PATH_MAX], hex[65], *out = NULL;
	struct stat st;

	(void)state;
	char *dir = tu_tempdir(), *data, *sized;
	char sized_path[PATH_MAX];
	size_t len;

	assert_non_null(sha);
	assert_int_equal(stat(path, &st), 0);
	/* Up to 2 MiB the whole file is hashed, after its size: sha256sum of both agrees. */
	assert_true(st.st_size < 2 * 1024 * 1024);
	assert_non_null(realpath(path, real));
	assert_int_equal(reel_media_open(path, &media), 0);
	assert_int_equal(reel_media_source_id(media, &id), 0);
	assert_int_equal(id.size, (uint64_t)st.st_size);
	assert_int_equal(id.mtime_ns, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
	assert_string_equal(id.path, real);
	data = tu_slurp(path, &len);
	assert_non_null(data);
	sized = malloc(len + 8);
	assert_non_null(sized);
	for (int i = 0; i < 8; i++)
		sized[i] = (char)((uint64_t)len >> (8 * i));
	memcpy(sized + 8, data, len);
	snprintf(sized_path, sizeof(sized_path), "%s/sized", dir);
	assert_int_equal(tu_write_file(sized_path, sized, len + 8), 0);
	argv[0] = strdup(sha);
	argv[1] = sized_path;
	assert_int_equal(tu_run(argv, &out, NULL), 0);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", id.hash[i]);
	assert_memory_equal(out, hex, 64);
	free(out);
	free(argv[0]);
	free(sized);
	free(data);
	reel_media_close(media);
	tu_rmrf(dir);
	free(dir);
}

/* A file of the fuzz seed corpus (tests/fuzz/corpus/media/), crafted or made by ffmpeg. */
static const char *seed_path(const char *name)
{
	static char path[PATH_MAX];
	const char *root = getenv("REEL_SOURCE_ROOT");

	assert_non_null(root);
	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/media/%s", root, name);
	return path;
}

/*
 * Timestamps at 2^62, near 2^63 and past it (as uint64 cluster times in
 * Matroska): the index holds only times within +-2^62, the index refuses
 * entries beyond, and every frame decodes or ends in ERROR (the sanitizer
 * build checks that no arithmetic overflowed on the way).
 */
static void test_media_extreme_timestamps_bounded(void **state)
{
	const char *names[] = { "extreme-ts-ms.mkv", "extreme-ts-ns.mkv" };
	struct reel_index_entry bad = { 0 };

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		struct fixture fx;
		struct check_sink s;

		fixture_open(&fx, seed_path(names[k]), 4);
		assert_int_equal(fx.count, 12);
		for (uint64_t i = 0; i < fx.count; i++)
			assert_true(fx.index[i].pts >= -((int64_t)1 << 62) &&
			            fx.index[i].pts <= ((int64_t)1 << 62));
		memset(&s, 0, sizeof(s));
		s.fx = &fx;
		s.slots = reel_buffer_info(fx.buffer)->slot_count;
		s.delivered = calloc(fx.count, 1);
		decode_range(&s, 0, fx.count - 1, false);
		print_message("# %s: %u decoded, %u in error\n", names[k], s.ok, s.errors);
		/* The first three frames have ordinary times. */
		assert_true(s.ok >= 3);
		decode_range(&s, fx.count - 1, fx.count - 1, false);
		bad.pts = ((int64_t)1 << 62) + 1;
		assert_int_equal(reel_index_put(fx.buffer, 0, &bad), -EINVAL);
		bad.pts = 0;
		bad.dts = INT64_MAX;
		assert_int_equal(reel_index_put(fx.buffer, 0, &bad), -EINVAL);
		free(s.delivered);
		fixture_close(&fx);
	}
}

/* Refusals name what they refuse: a format, a codec, a frame count. */
static void test_media_refusals_say_why(void **state)
{
	struct reel_index_entry *idx = NULL;
	struct reel_media *media = NULL;
	uint64_t count = 0;
	uint32_t max_audio;
	char why[256];

	(void)state;
	assert_int_equal(reel_media_open_why(seed_path("bad-wmv2.wmv"), &media, why, sizeof(why)),
	                 REEL_E_BADMEDIA);
	assert_non_null(strstr(why, "'asf'"));
	assert_int_equal(reel_media_open_why(clip_path("playlist.m3u8"), &media, why, sizeof(why)),
	                 REEL_E_BADMEDIA);
	assert_non_null(strstr(why, "'hls'"));
	assert_int_equal(reel_media_open_why(clip_path("text.mp4"), &media, why, sizeof(why)),
	                 REEL_E_BADMEDIA);
	assert_non_null(strstr(why, "no container format"));
	assert_int_equal(reel_media_open_why(clip_path("too-wide.mkv"), &media, why, sizeof(why)),
	                 REEL_E_TOOLARGE);
	assert_non_null(strstr(why, "16400x16"));
	/* 20,000 laced one-byte frames in 24 KB: past one frame per 4 bytes. */
	assert_int_equal(reel_media_open_why(seed_path("bad-tiny-frames.mkv"), &media, why,
	                                     sizeof(why)), 0);
	assert_int_equal(reel_media_scan(media, &idx, &count, &max_audio), REEL_E_TOOLARGE);
	assert_null(idx);
	assert_non_null(strstr(reel_media_why(media), "one per 4 bytes"));
	reel_media_close(media);
}

/* Flip one byte at off, take the identity, flip it back. */
static void id_with_byte_flipped(const char *path, uint64_t off, struct reel_source_id *ret_id)
{
	struct reel_media *media;
	int fd = open(path, O_RDWR);
	unsigned char b;
	char why[256];

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x5a;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
	if (reel_media_open_why(path, &media, why, sizeof(why)) < 0)
		fail_msg("%s: %s", path, why);
	assert_int_equal(reel_media_source_id(media, ret_id), 0);
	reel_media_close(media);
	b ^= 0x5a;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

/*
 * A large source: a change in the last MiB or in one of the 64 sampled
 * blocks is seen; one in the gaps between blocks is not (the documented
 * limit of a bounded-time identity); the mtime is recorded, not compared.
 */
static void test_media_source_id_covers_the_file(void **state)
{
	const char *clip = clip_path("h264-faststart.mp4");
	char *dir = tu_tempdir(), path[PATH_MAX], *data, *big;
	const size_t pad = 20u << 20;
	struct reel_source_id id0, id;
	struct reel_media *media;
	uint64_t size, head = 1u << 20, tail, span;
	size_t len;

	(void)state;
	data = tu_slurp(clip, &len);
	assert_non_null(data);
	/* A faststart mp4 is read from its moov: bytes after the media data are never demuxed. */
	big = malloc(len + pad);
	assert_non_null(big);
	memcpy(big, data, len);
	for (size_t i = 0; i < pad; i++)
		big[len + i] = (char)(i * 2654435761u >> 13);
	snprintf(path, sizeof(path), "%s/big.mp4", dir);
	assert_int_equal(tu_write_file(path, big, len + pad), 0);
	size = len + pad;
	tail = size - (1u << 20);
	span = tail - head;

	assert_int_equal(reel_media_open(path, &media), 0);
	assert_int_equal(reel_media_source_id(media, &id0), 0);
	reel_media_close(media);
	assert_int_equal(id0.size, size);

	id_with_byte_flipped(path, size - 100, &id);   /* the last MiB */
	assert_memory_not_equal(id.hash, id0.hash, 32);
	/* Just past the first MiB, before block 0 (centred at head + span / 128): a gap. */
	assert_true(span / 128 > 32768 + 10);
	id_with_byte_flipped(path, head + 10, &id);
	assert_memory_equal(id.hash, id0.hash, 32);
	id_with_byte_flipped(path, head + span / 64 * 10 + span / 128, &id);   /* centre of block 10 */
	assert_memory_not_equal(id.hash, id0.hash, 32);
	assert_true(len < head - 100);
	id_with_byte_flipped(path, head - 100, &id);   /* the first MiB (past the clip's own bytes) */
	assert_memory_not_equal(id.hash, id0.hash, 32);

	/* Same bytes, another mtime: the same source (a copy keeps matching). */
	assert_int_equal(truncate(path, (off_t)size), 0);
	{
		struct timespec times[2] = { { 0, UTIME_OMIT }, { 1000000000, 0 } };
		assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	}
	assert_int_equal(reel_media_open(path, &media), 0);
	assert_int_equal(reel_media_source_id(media, &id), 0);
	reel_media_close(media);
	assert_memory_equal(id.hash, id0.hash, 32);
	assert_int_equal(id.mtime_ns, INT64_C(1000000000) * 1000000000);

	free(big);
	free(data);
	tu_rmrf(dir);
	free(dir);
}

static void test_media_write_image(void **state)
{
	const char *path = clip_path("odd-97x55.mp4");
	struct fixture fx;
	struct ref_video ref;
	struct check_sink s;
	char yuv[PATH_MAX], png[PATH_MAX];
	uint64_t f;

	(void)state;
	fixture_open(&fx, path, 0);
	ref_decode(path, &ref, NULL);
	memset(&s, 0, sizeof(s));
	s.fx = &fx;
	s.ref = &ref;
	s.slots = reel_buffer_info(fx.buffer)->slot_count;
	s.delivered = calloc(fx.count, 1);
	f = fx.count / 2;
	decode_range(&s, f, f, true);
	snprintf(yuv, sizeof(yuv), "%s/frame.yuv", fx.dir);
	snprintf(png, sizeof(png), "%s/frame.png", fx.dir);
	assert_int_equal(reel_media_write_image(yuv, &s.cur, 2), 0);

	/* Raw planes, rows packed: exactly the reference frame. */
	{
		FILE *fp = fopen(yuv, "rb");
		uint8_t *data = malloc(ref.frame_size + 1);
		size_t got = fread(data, 1, ref.frame_size + 1, fp);

		fclose(fp);
		assert_int_equal(got, ref.frame_size);
		assert_memory_equal(data, ref.data + f * ref.frame_size, ref.frame_size);
		free(data);
	}
	/*
	 * PNG: decodes to the documented YUV -> RGB24 conversion of the frame,
	 * in the source's matrix: untagged at this height is BT.601, a BT.709
	 * tag is honoured.
	 */
	for (int pass = 0; pass < 2; pass++) {
		int colorspace = pass ? 1 /* AVCOL_SPC_BT709 */ : 2 /* unspecified */;
		AVFormatContext *fmt = NULL;
		AVCodecContext *dec;
		AVPacket *pkt = av_packet_alloc();
		AVFrame *img = av_frame_alloc(), *rgb = av_frame_alloc();
		const uint8_t *src[4];
		int src_stride[4] = { ref.w, ref.cw, ref.cw, 0 };
		struct SwsContext *sws;
		const int *coefs = sws_getCoefficients(pass ? SWS_CS_ITU709 : SWS_CS_DEFAULT);
		const uint8_t *base = ref.data + f * ref.frame_size;
		bool differs = false;

		assert_int_equal(reel_media_write_image(png, &s.cur, colorspace), 0);
		assert_int_equal(avformat_open_input(&fmt, png, NULL, NULL), 0);
		assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
		dec = ref_open_decoder(fmt->streams[0]);
		assert_int_equal(av_read_frame(fmt, pkt), 0);
		assert_int_equal(avcodec_send_packet(dec, pkt), 0);
		assert_int_equal(avcodec_receive_frame(dec, img), 0);
		assert_int_equal(img->format, AV_PIX_FMT_RGB24);
		assert_int_equal(img->width, ref.w);
		assert_int_equal(img->height, ref.h);

		src[0] = base;
		src[1] = base + (size_t)ref.w * ref.h;
		src[2] = src[1] + (size_t)ref.cw * ref.ch;
		src[3] = NULL;
		rgb->format = AV_PIX_FMT_RGB24;
		rgb->width = ref.w;
		rgb->height = ref.h;
		assert_int_equal(av_frame_get_buffer(rgb, 0), 0);
		sws = sws_getContext(ref.w, ref.h, AV_PIX_FMT_YUV420P, ref.w, ref.h, AV_PIX_FMT_RGB24,
		                     TEST_SWS_FLAGS | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
		sws_setColorspaceDetails(sws, coefs, 0, coefs, 1, 0, 1 << 16, 1 << 16);
		assert_int_equal(sws_scale(sws, src, src_stride, 0, ref.h, rgb->data, rgb->linesize),
		                 ref.h);
		for (int y = 0; y < ref.h; y++)
			assert_memory_equal(img->data[0] + (size_t)y * img->linesize[0],
			                    rgb->data[0] + (size_t)y * rgb->linesize[0], (size_t)ref.w * 3);
		/* And the other matrix would have given other colours: the tag made the difference. */
		sws_setColorspaceDetails(sws, sws_getCoefficients(pass ? SWS_CS_DEFAULT : SWS_CS_ITU709),
		                         0, coefs, 1, 0, 1 << 16, 1 << 16);
		assert_int_equal(sws_scale(sws, src, src_stride, 0, ref.h, rgb->data, rgb->linesize),
		                 ref.h);
		for (int y = 0; y < ref.h && !differs; y++)
			differs = memcmp(img->data[0] + (size_t)y * img->linesize[0],
			                 rgb->data[0] + (size_t)y * rgb->linesize[0], (size_t)ref.w * 3) != 0;
		assert_true(differs);
		sws_freeContext(sws);
		av_frame_free(&rgb);
		av_frame_free(&img);
		av_packet_free(&pkt);
		avcodec_free_context(&dec);
		avformat_close_input(&fmt);
	}
	/* A bad view is refused and no file appears. */
	{
		struct reel_frame bad = s.cur;
		char other[PATH_MAX];

		snprintf(other, sizeof(other), "%s/bad.png", fx.dir);
		bad.width[1] = bad.width[0];
		assert_int_equal(reel_media_write_image(other, &bad, 2), -EINVAL);
		assert_int_equal(access(other, F_OK), -1);
	}
	free(s.delivered);
	ref_free(&ref, NULL);
	fixture_close(&fx);
}

static int write_through(void *userdata, uint64_t frame, const uint8_t *const plane[3],
                         const int linesize[3])
{
	struct check_sink *s = userdata;
	int r = reel_buffer_write_picture(s->fx->buffer, (uint32_t)(frame % s->slots), plane,
	                                  linesize);

	s->written += r == 0;
	return r;
}

static int prepare_planes(void *userdata, uint64_t frame)
{
	struct check_sink *s = userdata;

	(void)frame;
	s->prepared++;
	return 0;
}

/*
 * Pictures written through the file (pwritev, as the materialiser does on
 * tmpfs) land in the slots every mapping sees, exactly, padding or not; on
 * a disk file the decoder copies them into the planes instead.
 */
static void test_media_write_through_file(void **state)
{
	/* Rows with padding after them in the slot, in the luma (160 of 192) and the chroma. */
	static const char *const clips[] = { "h264-bframes.mp4", "long.mp4" };
	const char *dir = *state, *old = getenv("TMPDIR");
	char *saved = old ? strdup(old) : NULL;
	struct statfs sfs;
	bool tmpfs;

	if (access(dir, W_OK) != 0)
		skip();
	tmpfs = statfs(dir, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
	setenv("TMPDIR", dir, 1);
	for (size_t k = 0; k < sizeof(clips) / sizeof(clips[0]); k++) {
		const char *path = clip_path(clips[k]);
		struct fixture fx;
		struct ref_video ref;
		struct check_sink s;
		struct reel_sink sink;

		fixture_open(&fx, path, 0);
		ref_decode(path, &ref, NULL);
		memset(&s, 0, sizeof(s));
		s.fx = &fx;
		s.ref = &ref;
		s.slots = reel_buffer_info(fx.buffer)->slot_count;
		s.delivered = calloc(fx.count, 1);
		sink = (struct reel_sink){ check_begin, check_end, &s, write_through, prepare_planes };
		assert_int_equal(reel_media_decode(fx.media, fx.buffer, 0, fx.count - 1, &sink), 0);
		assert_int_equal(s.ok, fx.count);
		assert_int_equal(s.written, tmpfs ? fx.count : 0);
		/* The sink is told before the decoder writes a plane itself, and only then. */
		assert_int_equal(s.prepared, tmpfs ? 0 : fx.count);
		assert_int_equal(s.mismatches, 0);
		free(s.delivered);
		ref_free(&ref, NULL);
		fixture_close(&fx);
	}
	if (saved)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	free(saved);
}

/*
 * A frame far past what the background scan has indexed is served from a
 * local index (the groups of pictures around it, numbered from the sample
 * table): the same pictures, under the same numbers, as with the whole
 * index; and the scan's entries, once there, agree with it.
 */
static void test_media_local_index_far_frames(void **state)
{
	const char *path = clip_path("long.mp4");
	struct fixture fx;
	struct ref_video ref;
	struct check_sink s;
	uint64_t last, keys = 0;
	uint64_t picks[2];
	const uint64_t *far;

	(void)state;
	fixture_open(&fx, path, 0);
	ref_decode(path, &ref, NULL);
	for (uint64_t i = 0; i < fx.count; i++)
		keys += (fx.index[i].flags & REEL_INDEX_KEY) != 0;
	assert_true(keys >= 3);
	/* As a coordinator has it right after the open: nothing indexed, a fresh source. */
	reel_index_restart(fx.buffer);
	reel_media_close(fx.media);
	assert_int_equal(reel_media_open(path, &fx.media), 0);
	memset(&s, 0, sizeof(s));
	s.fx = &fx;
	s.ref = &ref;
	s.slots = reel_buffer_info(fx.buffer)->slot_count;
	s.delivered = calloc(fx.count, 1);
	picks[0] = 10;
	picks[1] = fx.count * 3 / 4;
	for (far = picks; far < picks + 2; far++) {
		assert_int_equal(reel_media_local_index(fx.media, fx.buffer, *far, &last), 0);
		assert_true(last >= *far && last < fx.count);
		assert_true(reel_media_local_covers(fx.media, *far, &last));
		assert_int_equal(reel_index_ready(fx.buffer), 0);
		memset(s.delivered, 0, fx.count);
		decode_range(&s, *far, last, true);
		assert_int_equal(s.mismatches, 0);
	}
	/* The scan catches up: its entries are the local index's. */
	assert_int_equal(reel_media_local_check(fx.media, fx.buffer), 0);
	assert_int_equal(reel_index_publish(fx.buffer, 0, fx.index, fx.count), 0);
	assert_int_equal(reel_media_local_check(fx.media, fx.buffer), 1);
	free(s.delivered);
	ref_free(&ref, NULL);
	fixture_close(&fx);
}

/* An edit list numbers frames the sample table does not: no local index, the scan is waited for. */
static void test_media_local_index_refused_with_edit_list(void **state)
{
	struct fixture fx;
	uint64_t last;

	(void)state;
	fixture_open(&fx, clip_path("cut.mp4"), 0);
	reel_index_restart(fx.buffer);
	assert_int_equal(reel_media_local_index(fx.media, fx.buffer, fx.count - 1, &last), -ENOTSUP);
	assert_false(reel_media_local_covers(fx.media, fx.count - 1, &last));
	fixture_close(&fx);
}

struct publications {
	struct reel_index_entry *entries;
	uint64_t count, cap;
	unsigned calls;
	uint64_t first_call_at;   /* entries handed out by the first call */
};

static int collect_publication(void *userdata, const struct reel_index_entry *entries, uint64_t n)
{
	struct publications *p = userdata;

	assert_true(n > 0);
	if (p->count + n > p->cap) {
		p->cap = (p->count + n) * 2;
		p->entries = realloc(p->entries, p->cap * sizeof(*p->entries));
		assert_non_null(p->entries);
	}
	memcpy(p->entries + p->count, entries, n * sizeof(*entries));
	if (p->calls++ == 0)
		p->first_call_at = n;
	p->count += n;
	return 0;
}

/*
 * The background scan publishes, piece by piece, exactly the index the
 * whole scan gives; the sample table (mp4, mov) gives its count at open.
 */
static void test_media_progressive_scan_matches(void **state)
{
	const struct clip *clip = *state;
	const char *path = clip_path(clip->name);
	struct publications pub = { 0 };
	const struct reel_media_scan_sink sink = { collect_publication, &pub };
	struct reel_media *media;
	struct reel_index_entry *idx;
	uint64_t count, total, table_count;
	uint32_t max_audio, table_audio;
	const char *dot = strrchr(clip->name, '.');
	/* A recording picked up part-way gives none (test_media_sample_table_refused_when_cut). */
	bool is_mp4 = !strcmp(dot, ".mp4") || !strcmp(dot, ".mov");
	bool has_table = is_mp4 && strncmp(clip->name, "midstart", 8) != 0;
	int r;

	assert_int_equal(reel_media_open(path, &media), 0);
	r = reel_media_sample_table(media, &table_count, &table_audio);
	assert_int_equal(reel_media_scan(media, &idx, &count, &max_audio), 0);
	assert_int_equal(reel_media_scan_progressive(media, &sink, &total), 0);
	assert_int_equal(total, count);
	assert_int_equal(pub.count, count);
	assert_memory_equal(pub.entries, idx, count * sizeof(*idx));
	if (has_table) {
		assert_int_equal(r, 0);
		assert_int_equal(table_count, count);
		/* Room for at least the sound the exact scan found in one interval. */
		assert_true(table_audio + 16 >= max_audio);
		assert_true(table_audio <= 4 * reel_media_info(media)->sample_rate);
		/* Published as it goes, not in one piece at the end. */
		assert_true(pub.calls > 1);
		assert_true(pub.first_call_at < count);
	} else {
		uint64_t bound;
		uint32_t bound_audio;

		assert_int_equal(r, -ENOTSUP);
		/* An mp4 without its table is counted before a buffer is made for it. */
		if (is_mp4) {
			assert_int_equal(reel_media_count_bound(media, &bound, &bound_audio), -ENOTSUP);
			goto out;
		}
		/*
		 * Any other container declares a duration: a buffer is made for an
		 * upper bound of the count, with room for the sound of a frame.
		 */
		assert_int_equal(reel_media_count_bound(media, &bound, &bound_audio), 0);
		assert_true(bound >= count);
		if (reel_media_info(media)->sample_rate)
			assert_true(bound_audio >= max_audio);
		/* Published as it goes here too (Matroska's first packets have no dts). */
		assert_true(pub.calls > 1);
		assert_true(pub.first_call_at < count);
	}
out:
	free(pub.entries);
	free(idx);
	reel_media_close(media);
}

/* The first keyframe's packet of a file's video, as libav's demuxer (and parser) flag it. */
static void first_keyframe_unit(const char *name, struct reel__h264_unit *ret_unit)
{
	AVFormatContext *fmt = NULL;
	AVPacket *pkt = av_packet_alloc();
	int vi;

	assert_int_equal(avformat_open_input(&fmt, clip_path(name), NULL, NULL), 0);
	assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
	vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	assert_true(vi >= 0);
	for (;;) {
		assert_int_equal(av_read_frame(fmt, pkt), 0);
		if (pkt->stream_index == vi && (pkt->flags & AV_PKT_FLAG_KEY))
			break;
		av_packet_unref(pkt);
	}
	reel__media_h264_look(fmt->streams[vi]->codecpar, pkt->data, (size_t)pkt->size, ret_unit);
	av_packet_free(&pkt);
	avformat_close_input(&fmt);
}

/*
 * Where decoding may start in H.264: an IDR picture; a recovery point whole
 * at once (an open group's I-picture); a recovery point of intra refresh,
 * whole only frames later, which the scan asks a decoder about.  The SEI is
 * read through its emulation prevention bytes.
 */
static void test_media_h264_where_decoding_may_start(void **state)
{
	/* Start code, SEI; a message of type 1 whose payload 00 00 01 is escaped; then recovery_frame_cnt 5. */
	static const uint8_t sei[] = { 0, 0, 0, 1, 0x06, 0x01, 0x03, 0x00, 0x00, 0x03, 0x01,
	                               0x06, 0x02, 0x34, 0x40, 0x80 };
	AVCodecParameters *par = avcodec_parameters_alloc();
	struct reel__h264_unit u;
	(void)state;

	assert_non_null(par);
	par->codec_id = AV_CODEC_ID_H264;
	reel__media_h264_look(par, sei, sizeof(sei), &u);
	assert_false(u.idr);
	assert_int_equal(u.recovery_frames, 5);
	/* Cut inside the message: no recovery point read from it. */
	reel__media_h264_look(par, sei, sizeof(sei) - 4, &u);
	assert_int_equal(u.recovery_frames, -1);
	avcodec_parameters_free(&par);

	first_keyframe_unit("h264-bframes.mp4", &u);   /* length-prefixed (avcC) */
	assert_true(u.idr);
	first_keyframe_unit("midstart-open.ts", &u);
	assert_false(u.idr);
	assert_int_equal(u.recovery_frames, 0);
	first_keyframe_unit("midstart-irefresh.ts", &u);
	assert_false(u.idr);
	assert_true(u.recovery_frames > 0);
}

/*
 * A table that names bytes past the end of a cut file is not believed, nor
 * one whose first sample the decoder does not show (a recording picked up
 * part-way, remuxed): the scan finds where the frames are.
 */
static void test_media_sample_table_refused_when_cut(void **state)
{
	static const char *const cut[] = { "truncated.mp4", "truncated-faststart.mp4",
	                                   "midstart-irefresh.mp4" };
	(void)state;

	for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		struct reel_media *media;
		uint64_t count;
		uint32_t audio;

		if (reel_media_open(clip_path(cut[i]), &media) != 0)
			continue;   /* refused at open: nothing to count */
		assert_int_equal(reel_media_sample_table(media, &count, &audio), -ENOTSUP);
		reel_media_close(media);
	}
}

static const struct clip clip_h264 = { "h264-bframes.mp4", true, 7, 0, false };
static const struct clip clip_h264_full = { "h264-faststart.mp4", true, 0, 1e-3, false };
static const struct clip clip_prores = { "prores422-10.mov", true, 6, 0, false };
static const struct clip clip_odd = { "odd-97x55.mp4", false, 5, 0, false };
static const struct clip clip_odd_ffv1 = { "odd-97x55-ffv1.mkv", false, 9, 0, false };
static const struct clip clip_hevc = { "hevc.mkv", true, 8, 0, false };
static const struct clip clip_vp9 = { "vp9.webm", true, 8, 1e-3, false };
static const struct clip clip_mjpeg = { "mjpeg.avi", false, 4, 0, false };
static const struct clip clip_vfr = { "vfr.mkv", false, 6, 0, false };
static const struct clip clip_noaudio = { "noaudio.mp4", false, 3, 0, false };
static const struct clip clip_cut = { "cut.mp4", true, 4, 0, true };
static const struct clip clip_ts = { "plain.ts", true, 6, 0, false };
static const struct clip clip_mpg = { "mpeg2.mpg", true, 6, 0, true };
static const struct clip clip_midstart = { "midstart.ts", true, 6, 0, true };
static const struct clip clip_midstart_open = { "midstart-open.ts", false, 6, 0, true };
static const struct clip clip_midstart_irefresh = { "midstart-irefresh.ts", false, 6, 0, true };
static const struct clip clip_midstart_irefresh_mp4 = { "midstart-irefresh.mp4", false, 6, 0, true };
static const struct clip clip_divx = { "divx.avi", true, 5, 0, true };
static const struct clip clip_h264_avi = { "h264.avi", true, 5, 0, true };
static const struct clip clip_opengop_avi = { "opengop.avi", false, 5, 0, true };

#define CLIP_TESTS(fn) \
	cmocka_unit_test_prestate(fn, (void *)&clip_h264), \
	cmocka_unit_test_prestate(fn, (void *)&clip_h264_full), \
	cmocka_unit_test_prestate(fn, (void *)&clip_prores), \
	cmocka_unit_test_prestate(fn, (void *)&clip_odd), \
	cmocka_unit_test_prestate(fn, (void *)&clip_odd_ffv1), \
	cmocka_unit_test_prestate(fn, (void *)&clip_hevc), \
	cmocka_unit_test_prestate(fn, (void *)&clip_vp9), \
	cmocka_unit_test_prestate(fn, (void *)&clip_mjpeg), \
	cmocka_unit_test_prestate(fn, (void *)&clip_vfr), \
	cmocka_unit_test_prestate(fn, (void *)&clip_noaudio), \
	cmocka_unit_test_prestate(fn, (void *)&clip_cut), \
	cmocka_unit_test_prestate(fn, (void *)&clip_ts), \
	cmocka_unit_test_prestate(fn, (void *)&clip_mpg), \
	cmocka_unit_test_prestate(fn, (void *)&clip_midstart), \
	cmocka_unit_test_prestate(fn, (void *)&clip_midstart_open), \
	cmocka_unit_test_prestate(fn, (void *)&clip_midstart_irefresh), \
	cmocka_unit_test_prestate(fn, (void *)&clip_midstart_irefresh_mp4), \
	cmocka_unit_test_prestate(fn, (void *)&clip_divx), \
	cmocka_unit_test_prestate(fn, (void *)&clip_h264_avi)

struct progress_seen {
	int calls;
	int cancel_at;
	uint64_t last_done, total;
	int backwards;
};

/*
 * MPEG-TS files joined with cat (tests/helpers/make-clips.sh): the time
 * starts again where the second begins.  The index ends there, with a note
 * that says so; its frames are the first file's, picture and sound, however
 * they are reached (a time seek could land in a later file at the same
 * time, over other pictures).
 */
struct joined {
	const char *first, *joined;
};

static void test_media_joined_files_number_the_first_timeline(void **state)
{
	const struct joined *j = *state;
	char plain[PATH_MAX], joined[PATH_MAX];
	struct reel_index_entry *idx;
	struct reel_media *media;
	struct ref_video ref;
	struct ref_audio aref;
	struct check_sink s;
	struct fixture fx;
	uint64_t count, rng = 0x2545f4914f6cdd1dull;
	uint32_t max_audio;
	struct publications pub = { 0 };
	const struct reel_media_scan_sink sink = { collect_publication, &pub };

	/* clip_path's answer lasts until its next call. */
	snprintf(plain, sizeof(plain), "%s", clip_path(j->first));
	snprintf(joined, sizeof(joined), "%s", clip_path(j->joined));
	assert_int_equal(reel_media_open(plain, &media), 0);
	assert_int_equal(reel_media_scan(media, &idx, &count, &max_audio), 0);
	assert_string_equal(reel_media_scan_note(media), "");
	reel_media_close(media);

	fixture_open(&fx, joined, 7);
	assert_int_equal(fx.count, count);
	assert_memory_equal(fx.index, idx, count * sizeof(*idx));
	assert_non_null(strstr(reel_media_scan_note(fx.media), "starts again"));

	/* The scan that publishes as it goes ends at the same place, and says the same. */
	{
		uint64_t n = 0;

		assert_int_equal(reel_media_scan_progressive(fx.media, &sink, &n), 0);
		assert_int_equal(n, count);
		assert_int_equal(pub.count, count);
		assert_memory_equal(pub.entries, idx, count * sizeof(*idx));
		assert_non_null(strstr(reel_media_scan_note(fx.media), "starts again"));
		free(pub.entries);
	}

	/* Every frame reached any way is the first file's, against libav's decode of it alone. */
	ref_decode(plain, &ref, &aref);
	assert_int_equal(ref.n, fx.count);
	memset(&s, 0, sizeof(s));
	s.fx = &fx;
	s.ref = &ref;
	s.aref = &aref;
	s.slots = reel_buffer_info(fx.buffer)->slot_count;
	s.delivered = calloc(fx.count, 1);
	decode_range(&s, fx.count - 1, fx.count - 1, true);
	for (int k = 0; k < 24; k++) {
		uint64_t f = rng_next(&rng) % fx.count;
		uint64_t last = f + 2 < fx.count ? f + 2 : fx.count - 1;

		decode_range(&s, f, last, true);
	}
	decode_range(&s, fx.count - 6, fx.count - 1, true);
	decode_range(&s, 0, fx.count - 1, true);
	print_message("# %s: %u frames checked, %u of them with sound\n", j->joined, s.ok,
	              s.audio_frames);
	assert_int_equal(s.mismatches, 0);
	assert_int_equal(s.errors, 0);
	assert_true(s.audio_frames > 20);
	assert_int_equal(s.audio_bad, 0);
	free(s.delivered);
	ref_free(&ref, &aref);
	free(idx);
	fixture_close(&fx);
}

static const struct joined joined_ts = { "plain.ts", "joined.ts" };
static const struct joined joined_mpg = { "mpeg2.mpg", "joined.mpg" };

static int count_progress(void *userdata, uint64_t done, uint64_t total)
{
	struct progress_seen *p = userdata;

	if (done < p->last_done)
		p->backwards++;
	p->last_done = done;
	p->total = total;
	return ++p->calls == p->cancel_at;
}

static void test_media_scan_progress_and_cancel(void **state)
{
	const char *clip = tu_clip("h264-bframes.mp4");
	struct reel_index_entry *entries = NULL;
	struct progress_seen seen = { 0 };
	struct reel_media *m;
	uint64_t count;
	uint32_t max_audio;
	struct stat st;

	(void)state;
	assert_non_null(clip);
	assert_int_equal(stat(clip, &st), 0);
	assert_int_equal(reel_media_open(clip, &m), 0);
	reel_media_set_progress(m, count_progress, &seen);
	assert_int_equal(reel_media_scan(m, &entries, &count, &max_audio), 0);
	free(entries);
	entries = NULL;
	assert_true(seen.calls >= 1);
	assert_int_equal(seen.backwards, 0);
	assert_int_equal(seen.total, (uint64_t)st.st_size);
	assert_true(seen.last_done <= seen.total);
	/* Cancelled at the first call: nothing is returned, and the media still works. */
	memset(&seen, 0, sizeof(seen));
	seen.cancel_at = 1;
	assert_int_equal(reel_media_scan(m, &entries, &count, &max_audio), -ECANCELED);
	assert_null(entries);
	reel_media_set_progress(m, NULL, NULL);
	assert_int_equal(reel_media_scan(m, &entries, &count, &max_audio), 0);
	assert_int_equal(count, 50);
	free(entries);
	reel_media_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CLIP_TESTS(test_media_index_matches_ffprobe),
		CLIP_TESTS(test_media_info_matches_libav),
		CLIP_TESTS(test_media_random_frames_bit_identical),
		cmocka_unit_test_prestate(test_media_every_frame_in_order, (void *)&clip_h264),
		cmocka_unit_test_prestate(test_media_every_frame_in_order, (void *)&clip_prores),
		cmocka_unit_test_prestate(test_media_every_frame_in_order, (void *)&clip_vfr),
		cmocka_unit_test_prestate(test_media_every_frame_in_order, (void *)&clip_vp9),
		cmocka_unit_test_prestate(test_media_every_frame_after_a_seek, (void *)&clip_divx),
		cmocka_unit_test_prestate(test_media_every_frame_after_a_seek, (void *)&clip_h264_avi),
		cmocka_unit_test_prestate(test_media_every_frame_after_a_seek, (void *)&clip_opengop_avi),
		cmocka_unit_test_prestate(test_media_every_frame_after_a_seek, (void *)&clip_mpg),
		cmocka_unit_test_prestate(test_media_every_frame_after_a_seek, (void *)&clip_midstart),
		cmocka_unit_test_prestate(test_media_every_frame_after_a_seek,
		                          (void *)&clip_midstart_open),
		cmocka_unit_test_prestate(test_media_every_frame_after_a_seek,
		                          (void *)&clip_midstart_irefresh),
		cmocka_unit_test_prestate(test_media_every_frame_in_order,
		                          (void *)&clip_midstart_irefresh),
		cmocka_unit_test(test_media_h264_where_decoding_may_start),
		cmocka_unit_test(test_media_sink_skip_and_stop),
		cmocka_unit_test(test_media_sequential_calls_do_not_seek),
		cmocka_unit_test(test_media_bad_paths_refused),
		cmocka_unit_test(test_media_damaged_files_decode_cleanly),
		cmocka_unit_test(test_media_source_id),
		cmocka_unit_test(test_media_source_id_covers_the_file),
		cmocka_unit_test(test_media_extreme_timestamps_bounded),
		cmocka_unit_test(test_media_refusals_say_why),
		cmocka_unit_test(test_media_write_image),
		cmocka_unit_test(test_media_scan_progress_and_cancel),
		CLIP_TESTS(test_media_progressive_scan_matches),
		cmocka_unit_test(test_media_sample_table_refused_when_cut),
		cmocka_unit_test_prestate(test_media_write_through_file, (void *)"/dev/shm"),
		cmocka_unit_test_prestate(test_media_write_through_file, (void *)"/tmp"),
		cmocka_unit_test(test_media_local_index_far_frames),
		cmocka_unit_test(test_media_local_index_refused_with_edit_list),
		cmocka_unit_test_prestate(test_media_joined_files_number_the_first_timeline,
		                          (void *)&joined_ts),
		cmocka_unit_test_prestate(test_media_joined_files_number_the_first_timeline,
		                          (void *)&joined_mpg),
	};

	av_log_set_level(AV_LOG_QUIET);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
