/*
 * blur: box blur of radius r on the luma and (r + 1) / 2 on the chroma
 * (whose samples are twice as far apart).  Each output is the rounded mean
 * of the (2R + 1)^2 samples around it, edges replicated:
 *
 *   out(x, y) = (S + n / 2) / n,  n = (2R + 1)^2,
 *   S = sum of src(clamp(x + dx), clamp(y + dy)) for |dx|, |dy| <= R.
 *
 * The box is separable and the sums are integers, so S is computed exactly
 * in two running-sum passes, O(1) per pixel whatever R is: a horizontal
 * pass over each row copied with R replicated samples on either side,
 * keeping every row's sums in scratch (16 bits hold 65 * 255), then a
 * vertical pass that slides one accumulator per column down the plane and
 * writes each output row in place (the horizontal sums of every row are
 * already taken, so overwriting the source is safe).  The one division at
 * the end is a multiply by a 40-bit reciprocal: m = ceil(2^40 / n) gives
 * floor(x / n) exactly for x * (m n - 2^40) < 2^40, and here x < 256 n and
 * m n - 2^40 < n <= 65^2, so x * (m n - 2^40) < 2^33.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "effect-ops.h"

#define ALIGN64(n) (((n) + 63) & ~(size_t)63)
#define BLOCK 16

/* Scratch for one plane: every row's horizontal sums, the column accumulators, one padded row. */
static size_t plane_scratch(size_t pw, size_t ph, size_t r)
{
	return ALIGN64(pw * ph * sizeof(uint16_t)) + ALIGN64(pw * sizeof(uint32_t)) + pw + 2 * r;
}

/*
 * One output row from the column accumulators, then the accumulators moved
 * down a row when `slide`.  Restrict pointers and fixed-count blocks are
 * what gcc -O2 needs to vectorise the accumulator update.
 */
static void blur_row(uint8_t *restrict out, uint32_t *restrict acc, const uint16_t *restrict enter,
                     const uint16_t *restrict leave, size_t pw, uint32_t n, uint64_t m, bool slide)
{
	size_t x;

	for (x = 0; x < pw; x++)
		out[x] = (uint8_t)(((acc[x] + n / 2) * m) >> 40);
	if (!slide)
		return;
	for (x = 0; x + BLOCK <= pw; x += BLOCK) {
		uint32_t *restrict a = acc + x;
		const uint16_t *restrict e = enter + x, *restrict l = leave + x;

		for (size_t j = 0; j < BLOCK; j++)
			a[j] += (uint32_t)e[j] - l[j];
	}
	for (; x < pw; x++)
		acc[x] += (uint32_t)enter[x] - leave[x];
}

static void blur_plane(uint8_t *plane, size_t stride, size_t pw, size_t ph, size_t r, void *mem)
{
	uint16_t *hsum = mem;
	uint32_t *acc = (uint32_t *)((uint8_t *)mem + ALIGN64(pw * ph * sizeof(uint16_t)));
	uint8_t *pad = (uint8_t *)acc + ALIGN64(pw * sizeof(uint32_t));
	const uint32_t n = (uint32_t)((2 * r + 1) * (2 * r + 1));
	const uint64_t m = ((UINT64_C(1) << 40) + n - 1) / n;

	for (size_t y = 0; y < ph; y++) {
		const uint8_t *src = plane + y * stride;
		uint16_t *out = hsum + y * pw;
		uint32_t sum = 0;

		memset(pad, src[0], r);
		memcpy(pad + r, src, pw);
		memset(pad + r + pw, src[pw - 1], r);
		for (size_t k = 0; k <= 2 * r; k++)
			sum += pad[k];
		out[0] = (uint16_t)sum;
		for (size_t x = 1; x < pw; x++) {
			sum += (uint32_t)pad[x + 2 * r] - pad[x - 1];
			out[x] = (uint16_t)sum;
		}
	}

	/* The window around row 0 holds row 0 r + 1 times: r copies above the edge and itself. */
	memset(acc, 0, pw * sizeof(*acc));
	for (size_t k = 0; k <= 2 * r; k++) {
		const uint16_t *h = hsum + (k < r ? 0 : k - r < ph ? k - r : ph - 1) * pw;

		for (size_t x = 0; x < pw; x++)
			acc[x] += h[x];
	}
	for (size_t y = 0; y < ph; y++) {
		/* Slide the window down a row: row y + r + 1 enters, row y - r leaves (both clamped). */
		const uint16_t *enter = hsum + (y + r + 1 < ph ? y + r + 1 : ph - 1) * pw;
		const uint16_t *leave = hsum + (y >= r ? y - r : 0) * pw;

		blur_row(plane + y * stride, acc, enter, leave, pw, n, m, y + 1 < ph);
	}
}

int reel__effect_blur(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata)
{
	size_t radius[3];
	long r;

	if (!ctx || !ctx->edit || !ctx->scratch || !frame)
		return -EINVAL;
	r = lround(ctx->edit->params[0]);
	/* 32 is the op table's bound, and the one the 16-bit row sums are sized for. */
	if (r < 1 || r > 32)
		return -EINVAL;
	radius[0] = (size_t)r;
	radius[1] = radius[2] = (size_t)(r + 1) / 2;

	/*
	 * Take the largest plane's scratch before changing anything: the later,
	 * smaller requests cannot fail, so a frame is blurred whole or not at all.
	 */
	for (int p = 0; p < 3; p++)
		if (!reel_scratch_get(ctx->scratch,
		                      plane_scratch(frame->width[p], frame->height[p], radius[p])))
			return -ENOMEM;
	for (int p = 0; p < 3; p++) {
		void *mem;

		if (frame->width[p] == 0 || frame->height[p] == 0)
			continue;
		mem = reel_scratch_get(ctx->scratch,
		                       plane_scratch(frame->width[p], frame->height[p], radius[p]));
		if (!mem)
			return -ENOMEM;
		blur_plane(frame->plane[p], frame->stride[p], frame->width[p], frame->height[p],
		           radius[p], mem);
	}
	return 0;
}
