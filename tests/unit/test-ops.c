/*
 * Tests of the edit operations (editor/ops/, renderer/effects/, audio/ops/),
 * reached the way the stages reach them: through reel_op_impl().
 *
 * Every op is compared bit for bit with a reference written in this file
 * straight from the op's definition (plain loops, per-pixel formulas, the
 * 2-D box sum for the blur, no tables, no running sums), on real pictures
 * and sound decoded here with plain libav from the clips that
 * tests/helpers/make-clips.sh makes: 320x240 H.264 with AAC, and the
 * odd-sized 97x55 clip converted to 4:2:0 (chroma planes of 49x28, odd
 * luma height).  The frames handed to the ops have rows wider than the
 * picture, with the padding filled with a sentinel that must survive, and
 * sound whose unused capacity holds a sentinel too.
 *
 * A chain crop -> brightness -> grayscale is also compared with FFmpeg's
 * own filters through libavfilter, within a stated tolerance: the two are
 * independent implementations of the same pictures, not the same integers.
 *
 * reel_scratch_get() is wrapped at link time (-Wl,--wrap, see
 * tests/unit/meson.build) so that a test can make it fail.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "edit/ops-impl.h"
#include "edit/scratch.h"
#include "reel/ops.h"
#include "testutil.h"

#define SENTINEL 0xa5
#define AUDIO_SENTINEL (-7.25f)

/* ---- scratch that can be made to fail ---------------------------------- */

void *__real_reel_scratch_get(struct reel_scratch *scratch, size_t size);
void *__wrap_reel_scratch_get(struct reel_scratch *scratch, size_t size);

static bool scratch_fails;
static struct reel_scratch op_scratch;

void *__wrap_reel_scratch_get(struct reel_scratch *s, size_t size)
{
	if (scratch_fails)
		return NULL;
	return __real_reel_scratch_get(s, size);
}

/* ---- pictures: packed planes, the reference's own format --------------- */

struct pic {
	int w[3], h[3];
	uint8_t *p[3];
};

#define PX(pic, pl, x, y) ((pic)->p[pl][(size_t)(y) * (size_t)(pic)->w[pl] + (size_t)(x)])

static void pic_alloc(struct pic *pic, int w, int h)
{
	memset(pic, 0, sizeof(*pic));
	for (int p = 0; p < 3; p++) {
		pic->w[p] = p ? (w + 1) / 2 : w;
		pic->h[p] = p ? (h + 1) / 2 : h;
		pic->p[p] = calloc((size_t)pic->w[p] * (size_t)pic->h[p], 1);
		assert_non_null(pic->p[p]);
	}
}

static void pic_copy(struct pic *dst, const struct pic *src)
{
	pic_alloc(dst, src->w[0], src->h[0]);
	for (int p = 0; p < 3; p++)
		memcpy(dst->p[p], src->p[p], (size_t)src->w[p] * (size_t)src->h[p]);
}

static void pic_free(struct pic *pic)
{
	for (int p = 0; p < 3; p++) {
		free(pic->p[p]);
		pic->p[p] = NULL;
	}
}

/* ---- frame views with padded rows and spare sound capacity ------------- */

struct view {
	struct reel_frame f;
	uint8_t *mem[3];
};

/*
 * A view of pic whose rows are wider than the picture by pad and a little
 * more that differs per plane, padding and spare sound filled with
 * sentinels.  audio may be NULL (no sound).
 */
static void view_make_padded(struct view *v, const struct pic *pic, size_t pad, const float *audio,
                             uint32_t samples, uint32_t channels, uint32_t capacity)
{
	memset(v, 0, sizeof(*v));
	for (int p = 0; p < 3; p++) {
		size_t stride = (size_t)pic->w[p] + pad + 6 * (size_t)p;

		v->mem[p] = malloc(stride * (size_t)pic->h[p]);
		assert_non_null(v->mem[p]);
		memset(v->mem[p], SENTINEL, stride * (size_t)pic->h[p]);
		for (int y = 0; y < pic->h[p]; y++)
			memcpy(v->mem[p] + (size_t)y * stride, &PX(pic, p, 0, y), (size_t)pic->w[p]);
		v->f.plane[p] = v->mem[p];
		v->f.stride[p] = (uint32_t)stride;
		v->f.width[p] = (uint32_t)pic->w[p];
		v->f.height[p] = (uint32_t)pic->h[p];
	}
	if (audio) {
		assert_true(samples <= capacity);
		v->f.audio = malloc((size_t)capacity * channels * sizeof(float));
		assert_non_null(v->f.audio);
		for (size_t i = 0; i < (size_t)capacity * channels; i++)
			v->f.audio[i] = AUDIO_SENTINEL;
		memcpy(v->f.audio, audio, (size_t)samples * channels * sizeof(float));
		v->f.audio_capacity = capacity;
		v->f.audio_samples = samples;
		v->f.channels = channels;
	}
}

static void view_make(struct view *v, const struct pic *pic, const float *audio, uint32_t samples,
                      uint32_t channels, uint32_t capacity)
{
	view_make_padded(v, pic, 17, audio, samples, channels, capacity);
}

static void view_free(struct view *v)
{
	for (int p = 0; p < 3; p++)
		free(v->mem[p]);
	free(v->f.audio);
	memset(v, 0, sizeof(*v));
}

/* The view's pixels as a packed picture. */
static void view_pic(const struct view *v, struct pic *out)
{
	pic_alloc(out, (int)v->f.width[0], (int)v->f.height[0]);
	for (int p = 0; p < 3; p++)
		for (int y = 0; y < out->h[p]; y++)
			memcpy(&PX(out, p, 0, y), v->f.plane[p] + (size_t)y * v->f.stride[p],
			       (size_t)out->w[p]);
}

/* The view holds exactly want, and every padding byte still holds the sentinel. */
static void assert_view_pixels(const struct view *v, const struct pic *want, const char *what)
{
	for (int p = 0; p < 3; p++) {
		assert_int_equal(v->f.width[p], want->w[p]);
		assert_int_equal(v->f.height[p], want->h[p]);
		for (int y = 0; y < want->h[p]; y++) {
			const uint8_t *row = v->f.plane[p] + (size_t)y * v->f.stride[p];

			for (int x = 0; x < want->w[p]; x++)
				if (row[x] != PX(want, p, x, y))
					fail_msg("%s: plane %d (%d,%d) is %u, the reference says %u", what, p, x,
					         y, row[x], PX(want, p, x, y));
			for (size_t x = (size_t)want->w[p]; x < v->f.stride[p]; x++)
				if (row[x] != SENTINEL)
					fail_msg("%s: plane %d row %d: padding byte %zu changed", what, p, y, x);
		}
	}
}

/* The view's sound is bit for bit `want` (samples x channels), its spare capacity untouched. */
static void assert_view_audio(const struct view *v, const float *want, const char *what)
{
	size_t used = (size_t)v->f.audio_samples * v->f.channels;

	if (!want) {
		assert_null(v->f.audio);
		return;
	}
	for (size_t i = 0; i < used; i++)
		if (memcmp(&v->f.audio[i], &want[i], sizeof(float)) != 0)
			fail_msg("%s: sample %zu (channel %zu) is %.9g, the reference says %.9g", what,
			         i / v->f.channels, i % v->f.channels, (double)v->f.audio[i],
			         (double)want[i]);
	for (size_t i = used; i < (size_t)v->f.audio_capacity * v->f.channels; i++)
		if (memcmp(&v->f.audio[i], &(float){ AUDIO_SENTINEL }, sizeof(float)) != 0)
			fail_msg("%s: spare sound capacity changed at %zu", what, i);
}

/* ---- the clips, decoded once with plain libav -------------------------- */

#define CLIP_FRAMES 3

struct clip {
	const char *name;
	struct pic pics[CLIP_FRAMES];   /* frames 0, 12 and 37 of the clip, as 4:2:0 */
};

static struct clip big = { .name = "h264-bframes.mp4" };
static struct clip odd = { .name = "odd-97x55.mp4" };
static const int picked[CLIP_FRAMES] = { 0, 12, 37 };

/* The clip's sound: interleaved float, from the start. */
static float *sound;
static uint32_t sound_samples, sound_channels, sound_rate;

static AVCodecContext *open_decoder(AVStream *st)
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

/* A decoded picture as packed 4:2:0 (converted with swscale when it is not). */
static void picture_to_pic(const AVFrame *f, struct pic *out)
{
	pic_alloc(out, f->width, f->height);
	if (f->format == AV_PIX_FMT_YUV420P) {
		for (int p = 0; p < 3; p++)
			for (int y = 0; y < out->h[p]; y++)
				memcpy(&PX(out, p, 0, y), f->data[p] + (size_t)y * (size_t)f->linesize[p],
				       (size_t)out->w[p]);
		return;
	}
	{
		struct SwsContext *sws = sws_getContext(f->width, f->height, (enum AVPixelFormat)f->format,
		                                        f->width, f->height, AV_PIX_FMT_YUV420P,
		                                        SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT,
		                                        NULL, NULL, NULL);
		int linesize[4] = { out->w[0], out->w[1], out->w[2], 0 };
		uint8_t *dst[4] = { out->p[0], out->p[1], out->p[2], NULL };

		assert_non_null(sws);
		assert_int_equal(sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0,
		                           f->height, dst, linesize),
		                 f->height);
		sws_freeContext(sws);
	}
}

static void append_sound(const AVFrame *f)
{
	uint32_t ch = (uint32_t)f->ch_layout.nb_channels;
	float *more;

	if (!sound_channels) {
		sound_channels = ch;
		sound_rate = (uint32_t)f->sample_rate;
	}
	assert_int_equal(ch, sound_channels);
	if (f->format != AV_SAMPLE_FMT_FLTP && f->format != AV_SAMPLE_FMT_FLT)
		fail_msg("unexpected sample format %d", f->format);
	more = realloc(sound, ((size_t)sound_samples + (size_t)f->nb_samples) * ch * sizeof(float));
	assert_non_null(more);
	sound = more;
	for (int i = 0; i < f->nb_samples; i++)
		for (uint32_t c = 0; c < ch; c++) {
			float v = f->format == AV_SAMPLE_FMT_FLTP
			                  ? ((const float *)f->extended_data[c])[i]
			                  : ((const float *)f->extended_data[0])[(size_t)i * ch + c];

			sound[((size_t)sound_samples + (size_t)i) * ch + c] = v;
		}
	sound_samples += (uint32_t)f->nb_samples;
}

/* Decode the picked frames of clip c, and with_sound: all of its sound. */
static void decode_clip(struct clip *c, bool with_sound)
{
	AVFormatContext *fmt = NULL;
	AVCodecContext *vdec, *adec = NULL;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *f = av_frame_alloc();
	const char *path = tu_clip(c->name);
	int vi, ai = -1, seen = 0, next = 0;
	bool flushed = false;

	if (!path)
		fail_msg("test clip %s missing (REEL_TEST_CLIPS=%s)", c->name,
		         getenv("REEL_TEST_CLIPS") ? getenv("REEL_TEST_CLIPS") : "unset");
	assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
	assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
	vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	assert_true(vi >= 0);
	vdec = open_decoder(fmt->streams[vi]);
	if (with_sound) {
		ai = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, vi, NULL, 0);
		assert_true(ai >= 0);
		adec = open_decoder(fmt->streams[ai]);
	}
	while (!flushed) {
		AVCodecContext *dec = NULL;

		if (av_read_frame(fmt, pkt) < 0) {
			avcodec_send_packet(vdec, NULL);
			if (adec)
				avcodec_send_packet(adec, NULL);
			flushed = true;
		} else if (pkt->stream_index == vi) {
			dec = vdec;
		} else if (pkt->stream_index == ai) {
			dec = adec;
		}
		if (dec)
			assert_true(avcodec_send_packet(dec, pkt) >= 0);
		av_packet_unref(pkt);
		while (avcodec_receive_frame(vdec, f) == 0) {
			if (next < CLIP_FRAMES && seen == picked[next])
				picture_to_pic(f, &c->pics[next++]);
			seen++;
			av_frame_unref(f);
		}
		while (adec && avcodec_receive_frame(adec, f) == 0) {
			append_sound(f);
			av_frame_unref(f);
		}
	}
	assert_int_equal(next, CLIP_FRAMES);
	avcodec_free_context(&vdec);
	avcodec_free_context(&adec);
	av_frame_free(&f);
	av_packet_free(&pkt);
	avformat_close_input(&fmt);
}

static int group_setup(void **state)
{
	av_log_set_level(AV_LOG_ERROR);
	decode_clip(&big, true);
	decode_clip(&odd, false);
	assert_int_equal(big.pics[0].w[0], 320);
	assert_int_equal(big.pics[0].h[0], 240);
	assert_int_equal(odd.pics[0].w[0], 97);
	assert_int_equal(odd.pics[0].h[0], 55);
	assert_true(sound_samples > 44100 && sound_channels == 2);
	return 0;
}

static int group_teardown(void **state)
{
	for (int i = 0; i < CLIP_FRAMES; i++) {
		pic_free(&big.pics[i]);
		pic_free(&odd.pics[i]);
	}
	free(sound);
	reel__scratch_fini(&op_scratch);
	return 0;
}

static struct clip *const clips[] = { &big, &odd };
#define NCLIPS 2

/* ---- running an op ----------------------------------------------------- */

static reel_frame_fn impl(uint32_t op)
{
	reel_frame_fn fn = reel_op_impl(op);

	if (!fn)
		fail_msg("no implementation for op %u (%s)", op, reel_op_get(op)->name);
	return fn;
}

static struct reel_edit edit_of(uint32_t op, double p0, double p1, double p2, double p3)
{
	struct reel_edit e;

	memset(&e, 0, sizeof(e));
	e.seq = 1;
	e.op = op;
	e.first = 0;
	e.last = 0;
	e.params[0] = p0;
	e.params[1] = p1;
	e.params[2] = p2;
	e.params[3] = p3;
	return e;
}

static struct reel_frame_ctx ctx_of(const struct reel_edit *e, const struct view *v)
{
	struct reel_frame_ctx c;

	memset(&c, 0, sizeof(c));
	c.edit = e;
	c.frame = e->first;
	c.width = v->f.width[0];
	c.height = v->f.height[0];
	c.scratch = &op_scratch;
	return c;
}

/*
 * Apply e to a padded view of src (with sound, which a picture op must
 * leave alone) and check it against want, the padding and the sound.
 */
static void check_picture_op(const struct reel_edit *e, const struct pic *src,
                             const struct pic *want, const char *what)
{
	struct view v;
	struct reel_frame_ctx c;
	uint32_t n = 1000;

	view_make(&v, src, sound, n, sound_channels, n + 37);
	c = ctx_of(e, &v);
	assert_int_equal(impl(e->op)(&c, &v.f, NULL), 0);
	assert_view_pixels(&v, want, what);
	assert_view_audio(&v, sound, what);
	view_free(&v);
}

/* ---- the references, straight from the definitions --------------------- */

static int clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static uint8_t clamp8(long long v)
{
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static long long round_div(long long a, long long b)
{
	/* Nearest, halves away from zero, by the definition rather than op-util.h's code. */
	long long q = a / b, r = a % b;

	if (2 * llabs(r) >= b)
		q += a < 0 ? -1 : 1;
	return q;
}

static void ref_crop(const struct pic *in, struct pic *out, int x, int y, int w, int h)
{
	pic_alloc(out, in->w[0], in->h[0]);
	for (int p = 0; p < 3; p++) {
		int pw = in->w[p], ph = in->h[p];
		int rx = x, ry = y, rw = w, rh = h;

		if (p) {
			rx = x / 2;
			ry = y / 2;
			rw = (x + w + 1) / 2 - rx;
			rh = (y + h + 1) / 2 - ry;
			if (rx + rw > pw)
				rw = pw - rx;
			if (ry + rh > ph)
				rh = ph - ry;
			if (rw < 1)
				rw = 1;
			if (rh < 1)
				rh = 1;
		}
		for (int j = 0; j < ph; j++)
			for (int i = 0; i < pw; i++) {
				int64_t sx = (int64_t)rx * 65536 + ((int64_t)(2 * i + 1) * rw * 65536) / (2 * pw) - 32768;
				int64_t sy = (int64_t)ry * 65536 + ((int64_t)(2 * j + 1) * rh * 65536) / (2 * ph) - 32768;
				int x0, x1, y0, y1;
				int64_t fx, fy, p00, p01, p10, p11;

				if (sx < (int64_t)rx * 65536)
					sx = (int64_t)rx * 65536;
				if (sx > (int64_t)(rx + rw - 1) * 65536)
					sx = (int64_t)(rx + rw - 1) * 65536;
				if (sy < (int64_t)ry * 65536)
					sy = (int64_t)ry * 65536;
				if (sy > (int64_t)(ry + rh - 1) * 65536)
					sy = (int64_t)(ry + rh - 1) * 65536;
				x0 = (int)(sx >> 16);
				y0 = (int)(sy >> 16);
				fx = (sx >> 8) & 255;
				fy = (sy >> 8) & 255;
				x1 = x0 + 1 < rx + rw - 1 ? x0 + 1 : rx + rw - 1;
				y1 = y0 + 1 < ry + rh - 1 ? y0 + 1 : ry + rh - 1;
				p00 = PX(in, p, x0, y0);
				p01 = PX(in, p, x1, y0);
				p10 = PX(in, p, x0, y1);
				p11 = PX(in, p, x1, y1);
				PX(out, p, i, j) = (uint8_t)((p00 * (256 - fx) * (256 - fy) + p01 * fx * (256 - fy) +
				                              p10 * (256 - fx) * fy + p11 * fx * fy + 32768) >> 16);
			}
	}
}

static void ref_flip(const struct pic *in, struct pic *out, bool h, bool v)
{
	pic_alloc(out, in->w[0], in->h[0]);
	for (int p = 0; p < 3; p++)
		for (int y = 0; y < in->h[p]; y++)
			for (int x = 0; x < in->w[p]; x++)
				PX(out, p, x, y) = PX(in, p, h ? in->w[p] - 1 - x : x, v ? in->h[p] - 1 - y : y);
}

static void ref_fade(const struct pic *in, struct pic *out, long long k, long long n)
{
	pic_alloc(out, in->w[0], in->h[0]);
	for (int p = 0; p < 3; p++) {
		int black = p ? 128 : 16;

		for (int y = 0; y < in->h[p]; y++)
			for (int x = 0; x < in->w[p]; x++)
				PX(out, p, x, y) = clamp8(black + round_div((PX(in, p, x, y) - black) * k, n));
	}
}

enum ref_fx { BRIGHTNESS, CONTRAST, GAMMA, SATURATION, GRAYSCALE, INVERT, COLORBALANCE };

/* The per-pixel effects: each sample by its formula, in double where the definition is. */
static void ref_pixel_effect(enum ref_fx fx, const double *a, const struct pic *in, struct pic *out)
{
	long long d[3] = { 0, 0, 0 };

	if (fx == BRIGHTNESS)
		d[0] = lround(a[0] * 255);
	if (fx == COLORBALANCE) {
		d[0] = lround(65.481 * a[0] + 128.553 * a[1] + 24.966 * a[2]);
		d[1] = lround(-37.797 * a[0] - 74.203 * a[1] + 112.0 * a[2]);
		d[2] = lround(112.0 * a[0] - 93.786 * a[1] - 18.214 * a[2]);
	}
	pic_copy(out, in);
	for (int p = 0; p < 3; p++)
		for (int y = 0; y < in->h[p]; y++)
			for (int x = 0; x < in->w[p]; x++) {
				int v = PX(in, p, x, y);
				uint8_t *o = &PX(out, p, x, y);

				switch (fx) {
				case BRIGHTNESS:
				case COLORBALANCE:
					*o = clamp8(v + d[p]);
					break;
				case CONTRAST:
					if (p == 0)
						*o = clamp8(lround(a[0] * (v - 128.0) + 128.0));
					break;
				case GAMMA:
					if (p == 0)
						*o = clamp8(lround(255.0 * pow(v / 255.0, 1.0 / a[0])));
					break;
				case SATURATION:
					if (p > 0)
						*o = clamp8(lround(a[0] * (v - 128.0) + 128.0));
					break;
				case GRAYSCALE:
					if (p > 0)
						*o = 128;
					break;
				case INVERT:
					*o = clamp8((p ? 256 : 251) - v);
					break;
				}
			}
}

/* The 2-D box: every one of the (2R + 1)^2 samples summed, edges replicated. */
static void ref_blur(const struct pic *in, struct pic *out, int r)
{
	pic_alloc(out, in->w[0], in->h[0]);
	for (int p = 0; p < 3; p++) {
		int rr = p ? (r + 1) / 2 : r;
		long long n = (2LL * rr + 1) * (2LL * rr + 1);

		for (int y = 0; y < in->h[p]; y++)
			for (int x = 0; x < in->w[p]; x++) {
				long long s = 0;

				for (int dy = -rr; dy <= rr; dy++)
					for (int dx = -rr; dx <= rr; dx++)
						s += PX(in, p, clampi(x + dx, 0, in->w[p] - 1), clampi(y + dy, 0, in->h[p] - 1));
				PX(out, p, x, y) = (uint8_t)((s + n / 2) / n);
			}
	}
}

static void ref_sharpen(const struct pic *in, struct pic *out, double a)
{
	long long amount = lround(a * 256);

	pic_copy(out, in);
	for (int y = 0; y < in->h[0]; y++)
		for (int x = 0; x < in->w[0]; x++) {
			long long s9 = 0, v = PX(in, 0, x, y);

			for (int dy = -1; dy <= 1; dy++)
				for (int dx = -1; dx <= 1; dx++)
					s9 += PX(in, 0, clampi(x + dx, 0, in->w[0] - 1), clampi(y + dy, 0, in->h[0] - 1));
			PX(out, 0, x, y) = clamp8(v + round_div((9 * v - s9) * amount, 2304));
		}
}

/* ---- the op table and the lookup ---------------------------------------- */

static bool in_table(const struct reel_op_impl *t, size_t n, uint32_t op)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].op == op)
			return t[i].apply != NULL;
	return false;
}

/*
 * Every op that changes pixels or samples has a function, in the table of
 * the part whose role the op table names, exactly once; timeline and
 * control ops, internal ops and unknown numbers have none.
 */
static void test_ops_lookup_covers_the_op_table(void **state)
{
	const struct {
		const struct reel_op_impl *t;
		size_t n;
		uint32_t role;
	} parts[] = {
		{ reel_editor_ops, reel_editor_ops_count, REEL_ROLE_EDITOR },
		{ reel_effect_ops, reel_effect_ops_count, REEL_ROLE_EFFECT },
		{ reel_audio_ops, reel_audio_ops_count, REEL_ROLE_AUDIO },
	};

	for (uint32_t op = 1; op < REEL_OP_COUNT; op++) {
		const struct reel_op_desc *d = reel_op_get(op);
		bool acts = d->flags & (REEL_OP_PICTURE | REEL_OP_SOUND);
		int places = 0;

		for (size_t i = 0; i < 3; i++)
			for (size_t j = 0; j < parts[i].n; j++)
				if (parts[i].t[j].op == op) {
					places++;
					assert_int_equal(parts[i].role, d->role);
				}
		if (acts) {
			assert_non_null(reel_op_impl(op));
			assert_int_equal(places, 1);
		} else {
			assert_null(reel_op_impl(op));
			assert_int_equal(places, 0);
		}
	}
	assert_null(reel_op_impl(REEL_OP_TRIM));
	assert_null(reel_op_impl(REEL_OP_SPEED));
	assert_null(reel_op_impl(REEL_OP_NONE));
	assert_null(reel_op_impl(REEL_OP_COUNT));
	assert_null(reel_op_impl(UINT32_MAX));
	assert_true(in_table(reel_editor_ops, reel_editor_ops_count, REEL_OP_CROP));
	assert_true(in_table(reel_effect_ops, reel_effect_ops_count, REEL_OP_BLUR));
	assert_true(in_table(reel_audio_ops, reel_audio_ops_count, REEL_OP_NORMALIZE));
}

/* ---- editor ops -------------------------------------------------------- */

/*
 * crop against the reference on every picked frame of both clips: the
 * smallest rectangle (2x2) in each corner, the whole frame, odd positions
 * and sizes (whose chroma rectangle rounds outwards), one-pixel-short
 * rectangles, and thin strips.
 */
static void test_ops_crop_matches_reference(void **state)
{
	static const int rects_big[][4] = {
		{ 0, 0, 2, 2 },      { 318, 238, 2, 2 },  { 0, 238, 2, 2 },   { 0, 0, 320, 240 },
		{ 33, 17, 101, 77 }, { 1, 1, 319, 239 },  { 160, 0, 160, 240 }, { 5, 9, 2, 231 },
		{ 100, 50, 3, 3 },   { 0, 120, 320, 2 },  { 41, 3, 279, 237 },
	};
	static const int rects_odd[][4] = {
		{ 0, 0, 2, 2 },   { 95, 53, 2, 2 },  { 0, 0, 97, 55 }, { 1, 1, 96, 54 },
		{ 13, 7, 41, 23 }, { 94, 0, 3, 55 }, { 0, 0, 96, 54 }, { 48, 27, 49, 28 },
	};

	for (int c = 0; c < NCLIPS; c++) {
		const int(*rects)[4] = c == 0 ? rects_big : rects_odd;
		size_t n = c == 0 ? sizeof(rects_big) / sizeof(rects_big[0])
		                  : sizeof(rects_odd) / sizeof(rects_odd[0]);

		for (int f = 0; f < CLIP_FRAMES; f++)
			for (size_t r = 0; r < n; r++) {
				const int *q = rects[r];
				struct reel_edit e = edit_of(REEL_OP_CROP, q[0], q[1], q[2], q[3]);
				struct pic want;
				char what[96];

				snprintf(what, sizeof(what), "%s frame %d crop %d,%d %dx%d", clips[c]->name,
				         picked[f], q[0], q[1], q[2], q[3]);
				ref_crop(&clips[c]->pics[f], &want, q[0], q[1], q[2], q[3]);
				check_picture_op(&e, &clips[c]->pics[f], &want, what);
				pic_free(&want);
			}
	}
}

/* A crop of the whole frame samples every pixel at its own centre: the picture is unchanged. */
static void test_ops_crop_whole_frame_is_identity(void **state)
{
	for (int c = 0; c < NCLIPS; c++) {
		const struct pic *src = &clips[c]->pics[1];
		struct reel_edit e = edit_of(REEL_OP_CROP, 0, 0, src->w[0], src->h[0]);

		check_picture_op(&e, src, src, clips[c]->name);
	}
}

/*
 * hflip, vflip and rotate180 against the reference (odd heights included:
 * the middle row of 55 and of 28), rotate180 is hflip then vflip, and each
 * applied twice gives the picture back.
 */
static void test_ops_flips_match_reference(void **state)
{
	static const struct {
		uint32_t op;
		bool h, v;
	} flips[] = {
		{ REEL_OP_HFLIP, true, false },
		{ REEL_OP_VFLIP, false, true },
		{ REEL_OP_ROTATE180, true, true },
	};

	for (int c = 0; c < NCLIPS; c++)
		for (int f = 0; f < CLIP_FRAMES; f++) {
			const struct pic *src = &clips[c]->pics[f];

			for (size_t i = 0; i < 3; i++) {
				struct reel_edit e = edit_of(flips[i].op, 0, 0, 0, 0);
				struct reel_frame_ctx ctx;
				struct pic want;
				struct view v;

				ref_flip(src, &want, flips[i].h, flips[i].v);
				check_picture_op(&e, src, &want, reel_op_get(flips[i].op)->name);
				pic_free(&want);

				view_make(&v, src, NULL, 0, 0, 0);
				ctx = ctx_of(&e, &v);
				assert_int_equal(impl(e.op)(&ctx, &v.f, NULL), 0);
				assert_int_equal(impl(e.op)(&ctx, &v.f, NULL), 0);
				assert_view_pixels(&v, src, "flipped twice");
				view_free(&v);
			}
			{
				struct reel_edit h = edit_of(REEL_OP_HFLIP, 0, 0, 0, 0);
				struct reel_edit vf = edit_of(REEL_OP_VFLIP, 0, 0, 0, 0);
				struct reel_frame_ctx ctx;
				struct pic want;
				struct view v;

				ref_flip(src, &want, true, true);
				view_make(&v, src, NULL, 0, 0, 0);
				ctx = ctx_of(&h, &v);
				assert_int_equal(impl(REEL_OP_HFLIP)(&ctx, &v.f, NULL), 0);
				ctx = ctx_of(&vf, &v);
				assert_int_equal(impl(REEL_OP_VFLIP)(&ctx, &v.f, NULL), 0);
				assert_view_pixels(&v, &want, "hflip then vflip");
				view_free(&v);
				pic_free(&want);
			}
		}
}

/*
 * freeze copies the held picture, whose rows have strides of their own,
 * into the frame; the held picture and the frame's sound are left alone.
 */
static void test_ops_freeze_copies_the_held_picture(void **state)
{
	for (int c = 0; c < NCLIPS; c++) {
		const struct pic *src = &clips[c]->pics[0], *held_pic = &clips[c]->pics[2];
		struct reel_edit e = edit_of(REEL_OP_FREEZE, 37, 0, 0, 0);
		struct reel_frame_ctx ctx;
		struct view v, held;

		view_make(&v, src, sound, 500, sound_channels, 512);
		view_make_padded(&held, held_pic, 40, NULL, 0, 0, 0);
		ctx = ctx_of(&e, &v);
		ctx.held = &held.f;
		assert_int_equal(impl(REEL_OP_FREEZE)(&ctx, &v.f, NULL), 0);
		assert_view_pixels(&v, held_pic, "frozen");
		assert_view_pixels(&held, held_pic, "the held picture");
		assert_view_audio(&v, sound, "frozen frame's sound");
		view_free(&held);
		view_free(&v);
	}
}

/*
 * freeze without a held picture, or with one of another size, fails with
 * -EINVAL and changes nothing.
 */
static void test_ops_freeze_without_held_is_einval(void **state)
{
	const struct pic *src = &big.pics[0];
	struct reel_edit e = edit_of(REEL_OP_FREEZE, 0, 0, 0, 0);
	struct reel_frame_ctx ctx;
	struct view v, other;

	view_make(&v, src, sound, 100, sound_channels, 100);
	ctx = ctx_of(&e, &v);
	assert_int_equal(impl(REEL_OP_FREEZE)(&ctx, &v.f, NULL), -EINVAL);
	view_make(&other, &odd.pics[0], NULL, 0, 0, 0);
	ctx.held = &other.f;
	assert_int_equal(impl(REEL_OP_FREEZE)(&ctx, &v.f, NULL), -EINVAL);
	assert_int_equal(impl(REEL_OP_FREEZE)(NULL, &v.f, NULL), -EINVAL);
	assert_view_pixels(&v, src, "refused freeze");
	assert_view_audio(&v, sound, "refused freeze");
	view_free(&other);
	view_free(&v);
}

/*
 * fade-in and fade-out against the reference over ranges of 1, 2, 25 and
 * 200 frames, at the first, second, middle and last frame; fade-in's first
 * frame and fade-out's last are black (Y 16, U and V 128).
 */
static void test_ops_fades_match_reference(void **state)
{
	static const int64_t ranges[][2] = { { 10, 10 }, { 0, 1 }, { 5, 29 }, { 1000, 1199 } };

	for (int c = 0; c < NCLIPS; c++)
		for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
			int64_t first = ranges[r][0], last = ranges[r][1], n = last - first + 1;
			int64_t frames[] = { first, first + 1, first + n / 2, last };

			for (size_t i = 0; i < 4; i++) {
				int64_t fr = frames[i] > last ? last : frames[i];
				const struct pic *src = &clips[c]->pics[i % CLIP_FRAMES];

				for (int in = 0; in < 2; in++) {
					struct reel_edit e = edit_of(in ? REEL_OP_FADE_IN : REEL_OP_FADE_OUT, 0, 0, 0, 0);
					struct reel_frame_ctx ctx;
					struct pic want;
					struct view v;
					int64_t k = in ? fr - first : last - fr;

					e.first = first;
					e.last = last;
					ref_fade(src, &want, k, n);
					if (k == 0)
						for (int p = 0; p < 3; p++)
							for (int j = 0; j < want.w[p] * want.h[p]; j++)
								assert_int_equal(want.p[p][j], p ? 128 : 16);
					view_make(&v, src, sound, 300, sound_channels, 301);
					ctx = ctx_of(&e, &v);
					ctx.frame = fr;
					assert_int_equal(impl(e.op)(&ctx, &v.f, NULL), 0);
					assert_view_pixels(&v, &want, in ? "fade-in" : "fade-out");
					assert_view_audio(&v, sound, "fade");
					view_free(&v);
					pic_free(&want);
				}
			}
		}
}

/*
 * A fade over 200 frames applied frame by frame as a stage would, in work
 * items of 64 frames (the context always carries the command's whole
 * range): every frame equals the reference, and the ramp is continuous:
 * every pixel's distance from black grows (fade-in) or shrinks (fade-out)
 * monotonically from frame to frame, across the work items' boundaries
 * too, and the plane's total distance strictly, so no frame is repeated or
 * skipped at a boundary.
 */
static void test_ops_fade_is_range_independent(void **state)
{
	const struct pic *src = &big.pics[1];
	const int64_t first = 5000, last = 5199, n = last - first + 1;

	for (int in = 0; in < 2; in++) {
		struct reel_edit e = edit_of(in ? REEL_OP_FADE_IN : REEL_OP_FADE_OUT, 0, 0, 0, 0);
		struct pic prev = { { 0 }, { 0 }, { NULL } };
		long long prev_total = -1;

		e.first = first;
		e.last = last;
		for (int64_t item = first; item <= last; item += 64) {
			int64_t item_last = item + 63 > last ? last : item + 63;

			for (int64_t fr = item; fr <= item_last; fr++) {
				struct reel_frame_ctx ctx;
				struct view v;
				struct pic want, got;
				long long total = 0;

				view_make(&v, src, NULL, 0, 0, 0);
				ctx = ctx_of(&e, &v);
				ctx.frame = fr;
				assert_int_equal(impl(e.op)(&ctx, &v.f, NULL), 0);
				ref_fade(src, &want, in ? fr - first : last - fr, n);
				assert_view_pixels(&v, &want, "fade over 200 frames");
				view_pic(&v, &got);
				for (int p = 0; p < 3; p++) {
					int black = p ? 128 : 16;

					for (int j = 0; j < got.w[p] * got.h[p]; j++) {
						int d = abs(got.p[p][j] - black);

						total += d;
						if (prev.p[0]) {
							int pd = abs(prev.p[p][j] - black);

							if (in ? d < pd : d > pd)
								fail_msg("frame %lld plane %d sample %d: not monotonic (%d after %d)",
								         (long long)fr, p, j, d, pd);
						}
					}
				}
				if (prev_total >= 0 && (in ? total <= prev_total : total >= prev_total))
					fail_msg("frame %lld: total distance from black %lld after %lld",
					         (long long)fr, total, prev_total);
				prev_total = total;
				pic_free(&prev);
				prev = got;
				pic_free(&want);
				view_free(&v);
			}
		}
		pic_free(&prev);
	}
}

/*
 * A fade of a frame outside its command's range, or without the command, is
 * refused with -EINVAL and changes nothing.
 */
static void test_ops_fade_without_range_is_einval(void **state)
{
	const struct pic *src = &odd.pics[0];

	for (int in = 0; in < 2; in++) {
		struct reel_edit e = edit_of(in ? REEL_OP_FADE_IN : REEL_OP_FADE_OUT, 0, 0, 0, 0);
		struct reel_frame_ctx ctx;
		struct view v;

		e.first = 10;
		e.last = 20;
		view_make(&v, src, NULL, 0, 0, 0);
		ctx = ctx_of(&e, &v);
		ctx.frame = 9;
		assert_int_equal(impl(e.op)(&ctx, &v.f, NULL), -EINVAL);
		ctx.frame = 21;
		assert_int_equal(impl(e.op)(&ctx, &v.f, NULL), -EINVAL);
		ctx.frame = 15;
		ctx.edit = NULL;
		assert_int_equal(impl(e.op)(&ctx, &v.f, NULL), -EINVAL);
		assert_view_pixels(&v, src, "refused fade");
		view_free(&v);
	}
}

/* ---- effects ----------------------------------------------------------- */

static void check_pixel_effect(uint32_t op, enum ref_fx fx, const double *params, size_t nparams,
                               size_t stride)
{
	for (int c = 0; c < NCLIPS; c++)
		for (int f = 0; f < CLIP_FRAMES; f++)
			for (size_t i = 0; i < nparams; i++) {
				const double *a = params + i * stride;
				struct reel_edit e = edit_of(op, a[0], stride > 1 ? a[1] : 0, stride > 2 ? a[2] : 0, 0);
				struct pic want;
				char what[128];

				snprintf(what, sizeof(what), "%s %g %g %g on %s frame %d", reel_op_get(op)->name,
				         a[0], stride > 1 ? a[1] : 0.0, stride > 2 ? a[2] : 0.0, clips[c]->name,
				         picked[f]);
				ref_pixel_effect(fx, a, &clips[c]->pics[f], &want);
				check_picture_op(&e, &clips[c]->pics[f], &want, what);
				pic_free(&want);
			}
}

/*
 * brightness at both bounds (everything white or black), zero, and values
 * whose delta rounds at .5.
 */
static void test_ops_brightness_matches_reference(void **state)
{
	static const double d[] = { -1, -0.5, -0.1, 0, 0.5 / 255, 0.0019, 0.3, 1 };

	check_pixel_effect(REEL_OP_BRIGHTNESS, BRIGHTNESS, d, sizeof(d) / sizeof(d[0]), 1);
}

static void test_ops_contrast_matches_reference(void **state)
{
	static const double c[] = { 0, 0.25, 0.5, 1, 1.3, 2, 4 };

	check_pixel_effect(REEL_OP_CONTRAST, CONTRAST, c, sizeof(c) / sizeof(c[0]), 1);
}

static void test_ops_gamma_matches_reference(void **state)
{
	static const double g[] = { 0.1, 0.45, 1, 2.2, 10 };

	check_pixel_effect(REEL_OP_GAMMA, GAMMA, g, sizeof(g) / sizeof(g[0]), 1);
}

static void test_ops_saturation_matches_reference(void **state)
{
	static const double s[] = { 0, 0.5, 1, 1.7, 4 };

	check_pixel_effect(REEL_OP_SATURATION, SATURATION, s, sizeof(s) / sizeof(s[0]), 1);
}

static void test_ops_grayscale_matches_reference(void **state)
{
	static const double none[] = { 0 };

	check_pixel_effect(REEL_OP_GRAYSCALE, GRAYSCALE, none, 1, 1);
}

static void test_ops_invert_matches_reference(void **state)
{
	static const double none[] = { 0 };

	check_pixel_effect(REEL_OP_INVERT, INVERT, none, 1, 1);
}

/* colorbalance at the corners of its parameter cube, zero, and mixed values. */
static void test_ops_colorbalance_matches_reference(void **state)
{
	static const double rgb[][3] = {
		{ 0, 0, 0 },  { 1, 1, 1 },      { -1, -1, -1 }, { 1, -1, 1 },  { -1, 1, -1 },
		{ 1, 0, 0 },  { 0, 1, 0 },      { 0, 0, 1 },    { 0.1, -0.2, 0.05 },
		{ -0.5, 0.25, 0.75 },
	};

	check_pixel_effect(REEL_OP_COLORBALANCE, COLORBALANCE, &rgb[0][0], sizeof(rgb) / sizeof(rgb[0]),
	                   3);
}

/*
 * blur against the 2-D box sum: radius 1 and 32 (the bounds) and more on
 * the 97x55 frames, where at 32 the box (65 samples) is wider than the
 * picture is high and the chroma box (33) wider than the chroma plane is
 * high (28); small radii on the 320x240 frames.
 */
static void test_ops_blur_matches_reference(void **state)
{
	static const int radii_odd[] = { 1, 2, 3, 8, 27, 31, 32 };
	static const int radii_big[] = { 1, 2, 5 };

	for (int c = 0; c < NCLIPS; c++) {
		const int *radii = c == 0 ? radii_big : radii_odd;
		size_t n = c == 0 ? sizeof(radii_big) / sizeof(radii_big[0])
		                  : sizeof(radii_odd) / sizeof(radii_odd[0]);

		for (int f = 0; f < CLIP_FRAMES; f++)
			for (size_t i = 0; i < n; i++) {
				struct reel_edit e = edit_of(REEL_OP_BLUR, radii[i], 0, 0, 0);
				struct pic want;
				char what[96];

				snprintf(what, sizeof(what), "blur %d on %s frame %d", radii[i], clips[c]->name,
				         picked[f]);
				ref_blur(&clips[c]->pics[f], &want, radii[i]);
				check_picture_op(&e, &clips[c]->pics[f], &want, what);
				pic_free(&want);
			}
	}
}

/* sharpen at 0 (no change), small and large amounts and the bound, 4. */
static void test_ops_sharpen_matches_reference(void **state)
{
	static const double a[] = { 0, 0.001, 0.3, 1, 2.5, 4 };

	for (int c = 0; c < NCLIPS; c++)
		for (int f = 0; f < CLIP_FRAMES; f++)
			for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
				struct reel_edit e = edit_of(REEL_OP_SHARPEN, a[i], 0, 0, 0);
				struct pic want;
				char what[96];

				snprintf(what, sizeof(what), "sharpen %g on %s frame %d", a[i], clips[c]->name,
				         picked[f]);
				ref_sharpen(&clips[c]->pics[f], &want, a[i]);
				check_picture_op(&e, &clips[c]->pics[f], &want, what);
				pic_free(&want);
			}
}

/*
 * The ops that need scratch (crop, blur, sharpen) fail with -ENOMEM when
 * it cannot be had, and with -EINVAL when the context has none, and leave
 * the frame as it was.
 */
static void test_ops_scratch_failure_is_enomem(void **state)
{
	const struct reel_edit edits[] = {
		edit_of(REEL_OP_CROP, 10, 10, 100, 100),
		edit_of(REEL_OP_BLUR, 3, 0, 0, 0),
		edit_of(REEL_OP_SHARPEN, 1, 0, 0, 0),
	};
	/* A fresh scratch, so that nothing already held can satisfy the request. */
	struct reel_scratch own = { NULL, 0 };

	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		struct reel_frame_ctx ctx;
		struct view v;

		view_make(&v, &big.pics[0], NULL, 0, 0, 0);
		ctx = ctx_of(&edits[i], &v);
		ctx.scratch = &own;
		scratch_fails = true;
		assert_int_equal(impl(edits[i].op)(&ctx, &v.f, NULL), -ENOMEM);
		scratch_fails = false;
		assert_view_pixels(&v, &big.pics[0], reel_op_get(edits[i].op)->name);
		/* Without a scratch at all, the context is incomplete. */
		ctx.scratch = NULL;
		assert_int_equal(impl(edits[i].op)(&ctx, &v.f, NULL), -EINVAL);
		assert_view_pixels(&v, &big.pics[0], reel_op_get(edits[i].op)->name);
		view_free(&v);
	}
	reel__scratch_fini(&own);
}

/* ---- sound ------------------------------------------------------------- */

/* The sound cut into frames of `per` samples, like 25 fps at 44.1 kHz (1764). */
#define PER_FRAME 1764

static double clamp01(double t)
{
	return t < 0 ? 0 : t > 1 ? 1 : t;
}

/*
 * Run an audio op over sound[from, to) cut into frames of PER_FRAME
 * samples, each in its own view (with a picture, which must stay as it
 * was), sample positions starting at base + from.  Returns the output.
 */
static float *run_audio(const struct reel_edit *e, const float *in, uint32_t from, uint32_t to,
                        int64_t base, int64_t range_start, int64_t range_end, uint32_t per)
{
	float *out = malloc((size_t)(to - from) * sound_channels * sizeof(float));

	assert_non_null(out);
	for (uint32_t s = from; s < to; s += per) {
		uint32_t n = to - s < per ? to - s : per;
		struct reel_frame_ctx ctx;
		struct view v;

		view_make(&v, &odd.pics[0], in + (size_t)s * sound_channels, n, sound_channels, per + 5);
		ctx = ctx_of(e, &v);
		ctx.sample_rate = sound_rate;
		ctx.sample_start = base + s;
		ctx.range_sample_start = range_start;
		ctx.range_sample_end = range_end;
		assert_int_equal(impl(e->op)(&ctx, &v.f, NULL), 0);
		assert_view_pixels(&v, &odd.pics[0], "an audio op's frame");
		/* Compared with itself: only the spare capacity is really checked. */
		assert_view_audio(&v, v.f.audio, "an audio op's spare capacity");
		memcpy(out + (size_t)(s - from) * sound_channels, v.f.audio,
		       (size_t)n * sound_channels * sizeof(float));
		view_free(&v);
	}
	return out;
}

static void assert_samples(const float *got, const float *want, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
			fail_msg("%s: value %zu is %.9g, the reference says %.9g", what, i, (double)got[i],
			         (double)want[i]);
}

/*
 * gain (the bounds, 0 dB, and between), mute, and normalize (several
 * targets and peaks, and a silent range).
 */
static void test_ops_audio_levels_match_reference(void **state)
{
	static const double gains[] = { -60, -6, -0.5, 0, 3, 24 };
	static const double norms[][2] = {
		{ 0, 0.5 }, { -1, 0.9 }, { -60, 1e-3 }, { -3, 2.0 }, { -1, 0 },
	};
	const uint32_t to = 30000;
	size_t values = (size_t)to * sound_channels;
	float *want = malloc(values * sizeof(float)), *got;

	assert_non_null(want);
	for (size_t i = 0; i < sizeof(gains) / sizeof(gains[0]); i++) {
		struct reel_edit e = edit_of(REEL_OP_GAIN, gains[i], 0, 0, 0);
		double g = pow(10, gains[i] / 20);

		for (size_t j = 0; j < values; j++)
			want[j] = (float)(sound[j] * g);
		got = run_audio(&e, sound, 0, to, 0, 0, to, PER_FRAME);
		assert_samples(got, want, values, "gain");
		free(got);
	}
	{
		struct reel_edit e = edit_of(REEL_OP_MUTE, 0, 0, 0, 0);

		memset(want, 0, values * sizeof(float));
		got = run_audio(&e, sound, 0, to, 0, 0, to, PER_FRAME);
		assert_samples(got, want, values, "mute");
		free(got);
	}
	for (size_t i = 0; i < sizeof(norms) / sizeof(norms[0]); i++) {
		struct reel_edit e = edit_of(REEL_OP_NORMALIZE, norms[i][0], norms[i][1], 0, 0);
		double g = norms[i][1] > 0 ? pow(10, norms[i][0] / 20) / norms[i][1] : 1;

		for (size_t j = 0; j < values; j++)
			want[j] = (float)(sound[j] * g);
		got = run_audio(&e, sound, 0, to, 0, 0, to, PER_FRAME);
		assert_samples(got, want, values, "normalize");
		free(got);
	}
	free(want);
}

/*
 * Audio fades over a range of samples that starts and ends inside frames,
 * applied frame by frame (frames of 1764, and of 1024 like AAC's): the
 * output is the reference computed over the whole sound at once (so it
 * does not depend on how the sound is cut), samples before the range are
 * silent (fade-in) or untouched (fade-out), and the gain applied to a
 * constant signal ramps monotonically across every frame boundary.
 */
static void test_ops_audio_fades_are_continuous_across_frames(void **state)
{
	const uint32_t to = 40000;
	const int64_t base = 123456;   /* the clip's first sample is not sample 0 of the video */
	const int64_t rs = base + 2500, re = base + 33333;
	static const uint32_t cuts[] = { PER_FRAME, 1024, 777 };
	size_t values = (size_t)to * sound_channels;
	float *want = malloc(values * sizeof(float)), *ones = malloc(values * sizeof(float));

	assert_non_null(want);
	assert_non_null(ones);
	for (size_t j = 0; j < values; j++)
		ones[j] = 1.0f;
	for (int in = 0; in < 2; in++) {
		struct reel_edit e = edit_of(in ? REEL_OP_AUDIO_FADE_IN : REEL_OP_AUDIO_FADE_OUT, 0, 0, 0, 0);

		for (uint32_t i = 0; i < to; i++) {
			int64_t pos = base + i;
			double t = clamp01(in ? (pos - rs) / (double)(re - rs) : (re - pos) / (double)(re - rs));

			for (uint32_t c = 0; c < sound_channels; c++)
				want[(size_t)i * sound_channels + c] = (float)(sound[(size_t)i * sound_channels + c] * t);
		}
		for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
			float *got = run_audio(&e, sound, 0, to, base, rs, re, cuts[k]);
			float *ramp = run_audio(&e, ones, 0, to, base, rs, re, cuts[k]);

			assert_samples(got, want, values, in ? "audio-fade-in" : "audio-fade-out");
			for (uint32_t i = 1; i < to; i++) {
				float a = ramp[(size_t)(i - 1) * sound_channels], b = ramp[(size_t)i * sound_channels];

				if (in ? b < a : b > a)
					fail_msg("sample %u (cut every %u): gain %.9g after %.9g", i, cuts[k],
					         (double)b, (double)a);
				assert_true(ramp[(size_t)i * sound_channels + 1] == b);
			}
			/* Silent before the fade-in; whole before the fade-out; the ramp ends where the range does. */
			assert_true(ramp[0] == (in ? 0.0f : 1.0f));
			assert_true(ramp[(size_t)(rs - base) * sound_channels] == (in ? 0.0f : 1.0f));
			assert_true(ramp[(size_t)(re - base) * sound_channels] == (in ? 1.0f : 0.0f));
			assert_true(ramp[(size_t)(to - 1) * sound_channels] == (in ? 1.0f : 0.0f));
			free(ramp);
			free(got);
		}
	}
	free(ones);
	free(want);
}

/*
 * Frames without sound (no buffer, or no samples) and fades over an empty
 * range of samples are left alone, and succeed.
 */
static void test_ops_audio_without_sound_is_left_alone(void **state)
{
	static const uint32_t ops[] = { REEL_OP_GAIN, REEL_OP_MUTE, REEL_OP_AUDIO_FADE_IN,
		                            REEL_OP_AUDIO_FADE_OUT, REEL_OP_NORMALIZE };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct reel_edit e = edit_of(ops[i], 0, 0, 0, 0);
		struct reel_frame_ctx ctx;
		struct view v;

		if (ops[i] == REEL_OP_GAIN)
			e.params[0] = 6;
		if (ops[i] == REEL_OP_NORMALIZE)
			e.params[1] = 0.25;
		view_make(&v, &odd.pics[1], NULL, 0, 0, 0);
		ctx = ctx_of(&e, &v);
		ctx.range_sample_end = 1000;
		assert_int_equal(impl(ops[i])(&ctx, &v.f, NULL), 0);
		assert_view_pixels(&v, &odd.pics[1], "no sound");
		view_free(&v);

		view_make(&v, &odd.pics[1], sound, 0, sound_channels, 64);
		ctx = ctx_of(&e, &v);
		ctx.range_sample_end = 1000;
		assert_int_equal(impl(ops[i])(&ctx, &v.f, NULL), 0);
		assert_view_audio(&v, sound, "no samples");
		view_free(&v);
	}
	for (int in = 0; in < 2; in++) {
		struct reel_edit e = edit_of(in ? REEL_OP_AUDIO_FADE_IN : REEL_OP_AUDIO_FADE_OUT, 0, 0, 0, 0);
		struct reel_frame_ctx ctx;
		struct view v;

		view_make(&v, &odd.pics[1], sound, 256, sound_channels, 256);
		ctx = ctx_of(&e, &v);
		ctx.sample_start = 100;
		ctx.range_sample_start = 200;
		ctx.range_sample_end = 200;
		assert_int_equal(impl(e.op)(&ctx, &v.f, NULL), 0);
		ctx.range_sample_end = 150;
		assert_int_equal(impl(e.op)(&ctx, &v.f, NULL), 0);
		assert_view_audio(&v, sound, "empty fade range");
		view_free(&v);
	}
}

/* Audio ops that need their command's parameters refuse a context without it. */
static void test_ops_audio_without_edit_is_einval(void **state)
{
	static const uint32_t ops[] = { REEL_OP_GAIN, REEL_OP_NORMALIZE };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct reel_edit e = edit_of(ops[i], -6, 0.5, 0, 0);
		struct reel_frame_ctx ctx;
		struct view v;

		view_make(&v, &odd.pics[1], sound, 64, sound_channels, 64);
		ctx = ctx_of(&e, &v);
		ctx.edit = NULL;
		assert_int_equal(impl(ops[i])(&ctx, &v.f, NULL), -EINVAL);
		assert_int_equal(impl(ops[i])(NULL, &v.f, NULL), -EINVAL);
		assert_view_audio(&v, sound, "refused audio op");
		view_free(&v);
	}
}

/* ---- each half left to the other --------------------------------------- */

static struct reel_edit some_edit(uint32_t op, const struct pic *pic)
{
	switch (op) {
	case REEL_OP_CROP: return edit_of(op, 3, 5, pic->w[0] / 2, pic->h[0] / 3);
	case REEL_OP_FREEZE: return edit_of(op, 0, 0, 0, 0);
	case REEL_OP_BRIGHTNESS: return edit_of(op, 0.2, 0, 0, 0);
	case REEL_OP_CONTRAST: return edit_of(op, 1.5, 0, 0, 0);
	case REEL_OP_GAMMA: return edit_of(op, 1.8, 0, 0, 0);
	case REEL_OP_SATURATION: return edit_of(op, 2, 0, 0, 0);
	case REEL_OP_BLUR: return edit_of(op, 4, 0, 0, 0);
	case REEL_OP_SHARPEN: return edit_of(op, 1.5, 0, 0, 0);
	case REEL_OP_COLORBALANCE: return edit_of(op, 0.1, 0.2, -0.3, 0);
	case REEL_OP_GAIN: return edit_of(op, -12, 0, 0, 0);
	case REEL_OP_NORMALIZE: return edit_of(op, -1, 0.3, 0, 0);
	default: return edit_of(op, 0, 0, 0, 0);
	}
}

/*
 * Every picture op leaves the frame's sound (and its spare capacity) as it
 * was, and gives the same pixels whatever the sample fields of the context
 * say: it never looks at them.
 */
static void test_ops_picture_ops_leave_sound_alone(void **state)
{
	for (uint32_t op = 1; op < REEL_OP_COUNT; op++) {
		const struct reel_op_desc *d = reel_op_get(op);
		const struct pic *src = &big.pics[2];
		struct reel_edit e;
		struct reel_frame_ctx ctx;
		struct view a, b, held;
		struct pic pa;

		if (!(d->flags & REEL_OP_PICTURE))
			continue;
		e = some_edit(op, src);
		e.first = 40;
		e.last = 80;
		view_make(&held, &big.pics[0], NULL, 0, 0, 0);
		view_make(&a, src, sound, 1500, sound_channels, 1600);
		view_make(&b, src, sound, 1500, sound_channels, 1600);
		ctx = ctx_of(&e, &a);
		ctx.frame = 50;
		ctx.held = op == REEL_OP_FREEZE ? &held.f : NULL;
		ctx.sample_rate = 44100;
		ctx.sample_start = 88200;
		ctx.range_sample_start = 70560;
		ctx.range_sample_end = 142884;
		assert_int_equal(impl(op)(&ctx, &a.f, NULL), 0);
		assert_view_audio(&a, sound, d->name);
		ctx.sample_rate = 7;
		ctx.sample_start = -999999;
		ctx.range_sample_start = 5;
		ctx.range_sample_end = -5;
		assert_int_equal(impl(op)(&ctx, &b.f, NULL), 0);
		assert_view_audio(&b, sound, d->name);
		view_pic(&a, &pa);
		assert_view_pixels(&b, &pa, d->name);
		pic_free(&pa);
		view_free(&a);
		view_free(&b);
		view_free(&held);
	}
}

/*
 * Every sound op leaves the pixels (and the rows' padding) as they were;
 * run again on a frame whose planes point nowhere, it still works: it
 * never looks at them.
 */
static void test_ops_sound_ops_leave_pixels_alone(void **state)
{
	for (uint32_t op = 1; op < REEL_OP_COUNT; op++) {
		const struct reel_op_desc *d = reel_op_get(op);
		const struct pic *src = &big.pics[1];
		struct reel_edit e;
		struct reel_frame_ctx ctx;
		struct view v;
		float *first;

		if (!(d->flags & REEL_OP_SOUND))
			continue;
		e = some_edit(op, src);
		view_make(&v, src, sound + 4000, 1764, sound_channels, 1764);
		ctx = ctx_of(&e, &v);
		ctx.sample_rate = sound_rate;
		ctx.sample_start = 3000;
		ctx.range_sample_start = 2000;
		ctx.range_sample_end = 9000;
		assert_int_equal(impl(op)(&ctx, &v.f, NULL), 0);
		assert_view_pixels(&v, src, d->name);
		first = malloc((size_t)1764 * sound_channels * sizeof(float));
		assert_non_null(first);
		memcpy(first, v.f.audio, (size_t)1764 * sound_channels * sizeof(float));

		memcpy(v.f.audio, sound + 4000, (size_t)1764 * sound_channels * sizeof(float));
		for (int p = 0; p < 3; p++) {
			v.f.plane[p] = NULL;
			v.f.stride[p] = 0;
		}
		assert_int_equal(impl(op)(&ctx, &v.f, NULL), 0);
		assert_samples(v.f.audio, first, (size_t)1764 * sound_channels, d->name);
		free(first);
		view_free(&v);
	}
}

/* ---- against FFmpeg's filters ------------------------------------------ */

/* Run one picture through a libavfilter chain, single-threaded; the caller frees the result. */
static AVFrame *run_filters(const struct pic *pic, const char *chain)
{
	AVFilterGraph *graph = avfilter_graph_alloc();
	AVFilterContext *src = NULL, *sink = NULL;
	AVFilterInOut *outputs = avfilter_inout_alloc(), *inputs = avfilter_inout_alloc();
	AVFrame *in = av_frame_alloc(), *out = av_frame_alloc();
	char args[256];

	assert_non_null(graph);
	assert_non_null(outputs);
	assert_non_null(inputs);
	graph->nb_threads = 1;
	snprintf(args, sizeof(args), "video_size=%dx%d:pix_fmt=%d:time_base=1/25:pixel_aspect=1/1",
	         pic->w[0], pic->h[0], AV_PIX_FMT_YUV420P);
	assert_true(avfilter_graph_create_filter(&src, avfilter_get_by_name("buffer"), "in", args,
	                                         NULL, graph) >= 0);
	assert_true(avfilter_graph_create_filter(&sink, avfilter_get_by_name("buffersink"), "out",
	                                         NULL, NULL, graph) >= 0);
	outputs->name = av_strdup("in");
	outputs->filter_ctx = src;
	inputs->name = av_strdup("out");
	inputs->filter_ctx = sink;
	assert_true(avfilter_graph_parse_ptr(graph, chain, &inputs, &outputs, NULL) >= 0);
	assert_true(avfilter_graph_config(graph, NULL) >= 0);

	in->format = AV_PIX_FMT_YUV420P;
	in->width = pic->w[0];
	in->height = pic->h[0];
	in->color_range = AVCOL_RANGE_MPEG;
	in->pts = 0;
	assert_int_equal(av_frame_get_buffer(in, 0), 0);
	for (int p = 0; p < 3; p++)
		for (int y = 0; y < pic->h[p]; y++)
			memcpy(in->data[p] + (size_t)y * (size_t)in->linesize[p], &PX(pic, p, 0, y),
			       (size_t)pic->w[p]);
	assert_true(av_buffersrc_add_frame(src, in) >= 0);
	assert_true(av_buffersrc_add_frame(src, NULL) >= 0);
	assert_true(av_buffersink_get_frame(sink, out) >= 0);
	assert_int_equal(out->format, AV_PIX_FMT_YUV420P);
	assert_int_equal(out->width, pic->w[0]);
	assert_int_equal(out->height, pic->h[0]);

	avfilter_inout_free(&inputs);
	avfilter_inout_free(&outputs);
	av_frame_free(&in);
	avfilter_graph_free(&graph);
	return out;
}

/*
 * The largest and the mean absolute difference, plane by plane from plane
 * `from`, between a view and FFmpeg's picture; fails past max_tol or
 * mean_tol.
 */
static void compare_with_ffmpeg(const struct view *v, const AVFrame *ff, const char *chain,
                                int frame, int from, int max_tol, double mean_tol)
{
	for (int p = from; p < 3; p++) {
		long long sum = 0;
		int max = 0;
		double mean;

		for (uint32_t y = 0; y < v->f.height[p]; y++)
			for (uint32_t x = 0; x < v->f.width[p]; x++) {
				int d = abs(v->f.plane[p][(size_t)y * v->f.stride[p] + x] -
				            ff->data[p][(size_t)y * (size_t)ff->linesize[p] + x]);

				sum += d;
				max = d > max ? d : max;
			}
		mean = (double)sum / ((double)v->f.width[p] * v->f.height[p]);
		if (max > max_tol || mean > mean_tol)
			fail_msg("%s, frame %d, plane %d: max |diff| %d (allowed %d), mean %.4f (allowed %g)",
			         chain, frame, p, max, max_tol, mean, mean_tol);
	}
}

/*
 * crop, and the chain crop -> brightness -> grayscale, against FFmpeg's
 * filters:
 *
 *   crop=W:H:X:Y,scale=320:240:flags=bilinear+accurate_rnd
 *   ...,lutyuv=y=clip(val+D\,0\,255),hue=s=0,format=yuv420p
 *
 * with D = lround(255 * delta), the brightness op's definition.  Not eq's
 * brightness: eq (gamma 1) adds ((int)(100 b + 100) * 511) / 200 - 256, a
 * coarser quantisation of the same parameter that is 1 to 4 away from
 * lround(255 b) (4 at b = -0.2, where 100 b + 100 truncates to 79), so it
 * would measure eq's rounding rather than ours.  hue=s=0 sets U and V to
 * 128 exactly, as grayscale does.
 *
 * swscale's bilinear upscale with accurate rounding samples at the same
 * centre-aligned positions (chroma included) with finer weights (14-bit
 * against our 8-bit): on these frames the two are identical at 1x, 1.6x
 * and 2x and differ by at most 1 on 0.02 of the samples on average at 5x.
 * Allowed, per plane: max |diff| <= 2 and mean |diff| <= 0.1, which leaves
 * room for another swscale's rounding but not for a wrong sample position
 * (a shift of half a pixel gives a mean of several units on these
 * pictures) or a wrong chroma rectangle.
 */
static void test_ops_chain_matches_libavfilter(void **state)
{
	static const struct {
		int x, y, w, h;
		double d;
	} cases[] = {
		{ 40, 30, 160, 120, 0.1 },
		{ 0, 0, 320, 240, -0.2 },
		{ 100, 60, 200, 150, 0.05 },
		{ 2, 2, 64, 48, 0.3 },
		{ 120, 88, 200, 152, -1 },
	};
	const int max_tol = 2;
	const double mean_tol = 0.1;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (int f = 0; f < CLIP_FRAMES; f++) {
			const struct pic *src = &big.pics[f];
			struct reel_edit crop = edit_of(REEL_OP_CROP, cases[i].x, cases[i].y, cases[i].w,
			                                cases[i].h);
			struct reel_edit bright = edit_of(REEL_OP_BRIGHTNESS, cases[i].d, 0, 0, 0);
			struct reel_edit gray = edit_of(REEL_OP_GRAYSCALE, 0, 0, 0, 0);
			struct reel_frame_ctx ctx;
			struct view v;
			char scale[128], chain[256];
			AVFrame *ff;

			snprintf(scale, sizeof(scale), "crop=%d:%d:%d:%d,scale=%d:%d:flags=bilinear+accurate_rnd",
			         cases[i].w, cases[i].h, cases[i].x, cases[i].y, src->w[0], src->h[0]);
			view_make(&v, src, NULL, 0, 0, 0);
			ctx = ctx_of(&crop, &v);
			assert_int_equal(impl(REEL_OP_CROP)(&ctx, &v.f, NULL), 0);
			ff = run_filters(src, scale);
			compare_with_ffmpeg(&v, ff, scale, picked[f], 0, max_tol, mean_tol);
			av_frame_free(&ff);

			ctx.edit = &bright;
			assert_int_equal(impl(REEL_OP_BRIGHTNESS)(&ctx, &v.f, NULL), 0);
			ctx.edit = &gray;
			assert_int_equal(impl(REEL_OP_GRAYSCALE)(&ctx, &v.f, NULL), 0);
			snprintf(chain, sizeof(chain), "%s,lutyuv=y=clip(val+%ld\\,0\\,255),hue=s=0,format=yuv420p",
			         scale, lround(cases[i].d * 255));
			ff = run_filters(src, chain);
			compare_with_ffmpeg(&v, ff, chain, picked[f], 0, max_tol, mean_tol);
			/* Both make the chroma exactly neutral. */
			compare_with_ffmpeg(&v, ff, chain, picked[f], 1, 0, 0);
			av_frame_free(&ff);
			view_free(&v);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops_lookup_covers_the_op_table),
		cmocka_unit_test(test_ops_crop_matches_reference),
		cmocka_unit_test(test_ops_crop_whole_frame_is_identity),
		cmocka_unit_test(test_ops_flips_match_reference),
		cmocka_unit_test(test_ops_freeze_copies_the_held_picture),
		cmocka_unit_test(test_ops_freeze_without_held_is_einval),
		cmocka_unit_test(test_ops_fades_match_reference),
		cmocka_unit_test(test_ops_fade_is_range_independent),
		cmocka_unit_test(test_ops_fade_without_range_is_einval),
		cmocka_unit_test(test_ops_brightness_matches_reference),
		cmocka_unit_test(test_ops_contrast_matches_reference),
		cmocka_unit_test(test_ops_gamma_matches_reference),
		cmocka_unit_test(test_ops_saturation_matches_reference),
		cmocka_unit_test(test_ops_grayscale_matches_reference),
		cmocka_unit_test(test_ops_invert_matches_reference),
		cmocka_unit_test(test_ops_colorbalance_matches_reference),
		cmocka_unit_test(test_ops_blur_matches_reference),
		cmocka_unit_test(test_ops_sharpen_matches_reference),
		cmocka_unit_test(test_ops_scratch_failure_is_enomem),
		cmocka_unit_test(test_ops_audio_levels_match_reference),
		cmocka_unit_test(test_ops_audio_fades_are_continuous_across_frames),
		cmocka_unit_test(test_ops_audio_without_sound_is_left_alone),
		cmocka_unit_test(test_ops_audio_without_edit_is_einval),
		cmocka_unit_test(test_ops_picture_ops_leave_sound_alone),
		cmocka_unit_test(test_ops_sound_ops_leave_pixels_alone),
		cmocka_unit_test(test_ops_chain_matches_libavfilter),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
