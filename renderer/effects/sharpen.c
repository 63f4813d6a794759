/*
 * sharpen: an unsharp mask of the luma over the 3 x 3 neighbourhood (edges
 * replicated).  With S9 the sum of the nine samples and A = lround(a * 256),
 *
 *   Y' = clamp8(Y + round_div((9 Y - S9) A, 2304))
 *
 * which is Y + a (Y - mean of the nine) in exact integers (2304 = 9 * 256).
 * Chroma is untouched: sharpening colour mostly adds fringes.
 *
 * The plane is copied to scratch with a one-sample replicated border, so
 * the inner loop reads its nine samples without edge tests and writes the
 * output in place.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "edit/op-util.h"
#include "effect-ops.h"

int reel__effect_sharpen(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                         void *userdata)
{
	size_t pw, ph, bw, stride;
	uint8_t *copy, *plane;
	int64_t a;

	if (!ctx || !ctx->edit || !ctx->scratch || !frame)
		return -EINVAL;
	a = lround(ctx->edit->params[0] * 256.0);
	pw = frame->width[0];
	ph = frame->height[0];
	if (a == 0 || pw == 0 || ph == 0)
		return 0;
	bw = pw + 2;
	copy = reel_scratch_get(ctx->scratch, bw * (ph + 2));
	if (!copy)
		return -ENOMEM;
	plane = frame->plane[0];
	stride = frame->stride[0];
	for (size_t y = 0; y < ph + 2; y++) {
		const uint8_t *src = plane + (y == 0 ? 0 : y - 1 < ph ? y - 1 : ph - 1) * stride;
		uint8_t *dst = copy + y * bw;

		dst[0] = src[0];
		memcpy(dst + 1, src, pw);
		dst[pw + 1] = src[pw - 1];
	}
	for (size_t y = 0; y < ph; y++) {
		const uint8_t *r0 = copy + y * bw, *r1 = r0 + bw, *r2 = r1 + bw;
		uint8_t *out = plane + y * stride;

		for (size_t x = 0; x < pw; x++) {
			int64_t s9 = r0[x] + r0[x + 1] + r0[x + 2] + r1[x] + r1[x + 1] + r1[x + 2] + r2[x] +
			             r2[x + 1] + r2[x + 2];
			int64_t v = r1[x + 1];

			out[x] = reel__clamp8(v + reel__round_div((9 * v - s9) * a, 2304));
		}
	}
	return 0;
}
