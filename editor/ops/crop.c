/*
 * crop: keep the rectangle w x h at x,y and scale it back to the full
 * frame with bilinear interpolation, so the frame keeps its size (the
 * buffer's slots all have the video's geometry).
 *
 * The sampling is fixed-point and exact, so every process computes the same
 * bytes: output pixel i of a plane PW wide samples the rectangle at
 * rx + (i + 1/2) * rw / PW - 1/2 (pixel centres aligned, the positions
 * swscale's bilinear scaler uses too: test-ops compares the two), in
 * 1/65536 pixel, clamped to the rectangle so that the edges replicate
 * rather than read outside it; the weights are the top 8 bits of the
 * fraction.  Chroma uses the chroma samples that cover the luma rectangle
 * (x / 2 up to (x + w + 1) / 2), kept inside the plane.
 *
 * The source plane is copied to scratch first because the output overwrites
 * it in place, and the per-column positions are computed once per plane.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "edit/op-util.h"
#include "editor-ops.h"

struct rect {
	int64_t x, y, w, h;
};

/*
 * Source position of output sample i of n over [r0, r0 + rn): the left (or
 * top) sample, the one after it and the weight of the latter in 1/256.
 */
static void position(int64_t i, int64_t n, int64_t r0, int64_t rn, int32_t *ret_a, int32_t *ret_b,
                     uint32_t *ret_f)
{
	int64_t s = r0 * 65536 + ((2 * i + 1) * rn * 65536) / (2 * n) - 32768;
	int64_t lo = r0 * 65536, hi = (r0 + rn - 1) * 65536;

	if (s < lo)
		s = lo;
	if (s > hi)
		s = hi;
	*ret_a = (int32_t)(s >> 16);
	*ret_f = (uint32_t)((s >> 8) & 255);
	*ret_b = *ret_a + 1 < r0 + rn - 1 ? *ret_a + 1 : (int32_t)(r0 + rn - 1);
}

/* Scratch for one plane: the copy of its pixels, then three per-column tables. */
static size_t plane_scratch(size_t pw, size_t ph, size_t *ret_copy)
{
	*ret_copy = (pw * ph + 63) & ~(size_t)63;
	return *ret_copy + pw * (2 * sizeof(int32_t) + sizeof(uint32_t));
}

static int crop_plane(uint8_t *plane, size_t stride, size_t pw, size_t ph, struct rect r,
                      struct reel_scratch *scratch)
{
	size_t copy;
	uint8_t *mem = reel_scratch_get(scratch, plane_scratch(pw, ph, &copy));
	uint8_t *src;
	int32_t *xa, *xb;
	uint32_t *xf;

	if (!mem)
		return -ENOMEM;
	src = mem;
	xa = (int32_t *)(mem + copy);
	xb = xa + pw;
	xf = (uint32_t *)(xb + pw);
	for (size_t y = 0; y < ph; y++)
		memcpy(src + y * pw, plane + y * stride, pw);
	for (size_t i = 0; i < pw; i++)
		position((int64_t)i, (int64_t)pw, r.x, r.w, &xa[i], &xb[i], &xf[i]);

	for (size_t j = 0; j < ph; j++) {
		int32_t ya, yb;
		uint32_t fy;
		const uint8_t *r0, *r1;
		uint8_t *out = plane + j * stride;

		position((int64_t)j, (int64_t)ph, r.y, r.h, &ya, &yb, &fy);
		r0 = src + (size_t)ya * pw;
		r1 = src + (size_t)yb * pw;
		for (size_t i = 0; i < pw; i++) {
			uint32_t fx = xf[i];
			uint32_t top = r0[xa[i]] * (256 - fx) + r0[xb[i]] * fx;
			uint32_t bottom = r1[xa[i]] * (256 - fx) + r1[xb[i]] * fx;

			/* Expanded, this is the four-corner weighting p00 (256-fx)(256-fy) + ...: the same integer. */
			out[i] = (uint8_t)((top * (256 - fy) + bottom * fy + 32768) >> 16);
		}
	}
	return 0;
}

int reel__editor_crop(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata)
{
	struct rect luma;

	if (!ctx || !ctx->edit || !ctx->scratch || !frame)
		return -EINVAL;
	luma.x = lround(ctx->edit->params[0]);
	luma.y = lround(ctx->edit->params[1]);
	luma.w = lround(ctx->edit->params[2]);
	luma.h = lround(ctx->edit->params[3]);
	/* reel_op_validate() has checked this against the video; a frame of another size is a bug. */
	if (luma.x < 0 || luma.y < 0 || luma.w < 1 || luma.h < 1 || luma.x + luma.w > frame->width[0] ||
	    luma.y + luma.h > frame->height[0])
		return -EINVAL;

	/*
	 * Ask for the largest plane's scratch before changing anything: the
	 * smaller requests after it cannot fail, so a frame is either cropped
	 * whole or left as it was.
	 */
	for (int p = 0; p < 3; p++) {
		size_t copy;

		if (!reel_scratch_get(ctx->scratch, plane_scratch(frame->width[p], frame->height[p], &copy)))
			return -ENOMEM;
	}

	for (int p = 0; p < 3; p++) {
		struct rect r = luma;
		int64_t pw = frame->width[p], ph = frame->height[p];
		int ret;

		if (pw < 1 || ph < 1)
			continue;
		if (p > 0) {
			r.x = luma.x / 2;
			r.y = luma.y / 2;
			r.w = (luma.x + luma.w + 1) / 2 - r.x;
			r.h = (luma.y + luma.h + 1) / 2 - r.y;
			if (r.x > pw - 1)
				r.x = pw - 1;
			if (r.y > ph - 1)
				r.y = ph - 1;
			if (r.x + r.w > pw)
				r.w = pw - r.x;
			if (r.y + r.h > ph)
				r.h = ph - r.y;
			if (r.w < 1)
				r.w = 1;
			if (r.h < 1)
				r.h = 1;
		}
		ret = crop_plane(frame->plane[p], frame->stride[p], (size_t)pw, (size_t)ph, r, ctx->scratch);
		if (ret < 0)
			return ret;
	}
	return 0;
}
