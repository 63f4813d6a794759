/*
 * The window and its picture.  Frames are 8-bit YUV 4:2:0, limited range,
 * so they go to the GPU as they are, in an IYUV streaming texture, and SDL
 * converts them to RGB with the matrix set here: BT.709 when the source
 * says BT.709, BT.601 when it says BT.601 (or SMPTE 170M), and otherwise
 * SDL's own rule for untagged video (BT.601 up to 576 lines, BT.709 above).
 * The range is always limited: full-range sources were converted on the
 * way into the buffer.
 *
 * The picture keeps its aspect ratio in any window size (letterbox); it is
 * scaled with nearest-neighbour sampling at its own size, so that a pixel is
 * exactly a pixel, and bilinear sampling otherwise.
 */
#include <errno.h>
#include <stdlib.h>

#include <SDL.h>
#include <SDL_syswm.h>

#include "media/media.h"
#include "preview.h"

/* Below this width the overlay does not fit: small videos are shown at a whole multiple. */
#define MIN_WINDOW_WIDTH 320

struct video {
	SDL_Window *window;
	SDL_Renderer *renderer;
	SDL_Texture *texture;
	int width, height;
	bool have_picture;
	SDL_YUV_CONVERSION_MODE mode;
	SDL_ScaleMode scale;
	int windowed_w, windowed_h;  /* the size to come back to from fullscreen */
};

/* The matrix snapshots and `reel frame` use too (one rule: reel_media_matrix). */
static SDL_YUV_CONVERSION_MODE matrix_for(uint32_t colorspace, int height)
{
	return reel_media_matrix(colorspace, (uint32_t)height) == REEL_MATRIX_BT709
	               ? SDL_YUV_CONVERSION_BT709
	               : SDL_YUV_CONVERSION_BT601;
}

/* The video's size, scaled down to fit the screen, or up by a whole factor when tiny. */
static void window_size(int w, int h, int *ret_w, int *ret_h)
{
	SDL_Rect usable;
	int factor = 1;

	while (w * factor < MIN_WINDOW_WIDTH && factor < 16)
		factor++;
	w *= factor;
	h *= factor;
	if (SDL_GetDisplayUsableBounds(0, &usable) == 0 && usable.w > 0 && usable.h > 0) {
		double s = SDL_min(usable.w * 0.9 / w, usable.h * 0.9 / h);
		if (s < 1) {
			w = (int)(w * s);
			h = (int)(h * s);
		}
	}
	*ret_w = w > 0 ? w : 1;
	*ret_h = h > 0 ? h : 1;
}

int video_open(const char *title, const struct session *s, struct video **ret)
{
	struct video *v = calloc(1, sizeof(*v));
	int w, h;

	if (!v)
		return -ENOMEM;
	v->width = (int)s->video.width;
	v->height = (int)s->video.height;
	if (SDL_InitSubSystem(SDL_INIT_VIDEO) < 0) {
		free(v);
		return -ENODEV;
	}
	v->mode = matrix_for(s->colorspace, v->height);
	SDL_SetYUVConversionMode(v->mode);
	window_size(v->width, v->height, &w, &h);
	v->window = SDL_CreateWindow(title, SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, w, h,
	                             SDL_WINDOW_RESIZABLE);
	if (v->window)
		v->renderer = SDL_CreateRenderer(v->window, -1, 0);
	if (v->renderer)
		v->texture = SDL_CreateTexture(v->renderer, SDL_PIXELFORMAT_IYUV,
		                               SDL_TEXTUREACCESS_STREAMING, v->width, v->height);
	if (!v->texture) {
		video_close(v);
		return -ENODEV;
	}
	v->scale = SDL_ScaleModeNearest;
	SDL_SetTextureScaleMode(v->texture, v->scale);
	SDL_SetWindowMinimumSize(v->window, 160, 120);
	/* Keys are commands, not text: no input method between a key and the loop. */
	SDL_StopTextInput();
	*ret = v;
	return 0;
}

void video_close(struct video *v)
{
	if (!v)
		return;
	if (v->texture)
		SDL_DestroyTexture(v->texture);
	if (v->renderer)
		SDL_DestroyRenderer(v->renderer);
	if (v->window)
		SDL_DestroyWindow(v->window);
	SDL_QuitSubSystem(SDL_INIT_VIDEO);
	free(v);
}

int video_upload(struct video *v, const struct reel_frame *p)
{
	if (SDL_UpdateYUVTexture(v->texture, NULL, p->plane[0], (int)p->stride[0], p->plane[1],
	                         (int)p->stride[1], p->plane[2], (int)p->stride[2]) < 0)
		return -EIO;
	v->have_picture = true;
	return 0;
}

void video_output_size(struct video *v, int *ret_w, int *ret_h)
{
	if (SDL_GetRendererOutputSize(v->renderer, ret_w, ret_h) < 0)
		*ret_w = *ret_h = 0;
}

void video_draw(struct video *v, struct rect *ret)
{
	SDL_Rect r;
	int ow, oh;

	video_output_size(v, &ow, &oh);
	/* The largest rectangle of the picture's shape that fits, centred. */
	if ((long long)ow * v->height <= (long long)oh * v->width) {
		r.w = ow;
		r.h = (int)((long long)ow * v->height / v->width);
	} else {
		r.h = oh;
		r.w = (int)((long long)oh * v->width / v->height);
	}
	r.x = (ow - r.w) / 2;
	r.y = (oh - r.h) / 2;
	SDL_SetRenderDrawColor(v->renderer, 0, 0, 0, 255);
	SDL_RenderClear(v->renderer);
	if (v->have_picture) {
		SDL_ScaleMode scale = r.w == v->width && r.h == v->height ? SDL_ScaleModeNearest
		                                                          : SDL_ScaleModeLinear;
		if (scale != v->scale && SDL_SetTextureScaleMode(v->texture, scale) == 0)
			v->scale = scale;
		SDL_RenderCopy(v->renderer, v->texture, NULL, &r);
	}
	*ret = (struct rect){ r.x, r.y, r.w, r.h };
}

void video_present(struct video *v)
{
	SDL_RenderPresent(v->renderer);
}

void video_toggle_fullscreen(struct video *v)
{
	bool full = SDL_GetWindowFlags(v->window) & SDL_WINDOW_FULLSCREEN_DESKTOP;

	if (!full)
		SDL_GetWindowSize(v->window, &v->windowed_w, &v->windowed_h);
	SDL_SetWindowFullscreen(v->window, full ? 0 : SDL_WINDOW_FULLSCREEN_DESKTOP);
	/* Without a window manager to restore it, the window would keep the screen's size. */
	if (full && v->windowed_w > 0)
		SDL_SetWindowSize(v->window, v->windowed_w, v->windowed_h);
}

void video_sync(struct video *v)
{
#if defined(REEL_PREVIEW_X11) && defined(SDL_VIDEO_DRIVER_X11)
	SDL_SysWMinfo info;

	SDL_VERSION(&info.version);
	if (SDL_GetWindowWMInfo(v->window, &info) && info.subsystem == SDL_SYSWM_X11)
		XSync(info.info.x11.display, False);
#else
	(void)v;
#endif
}

struct SDL_Renderer *video_renderer(struct video *v)
{
	return v->renderer;
}

unsigned long video_window_id(struct video *v)
{
	SDL_SysWMinfo info;

	SDL_VERSION(&info.version);
	if (!SDL_GetWindowWMInfo(v->window, &info))
		return 0;
#if defined(SDL_VIDEO_DRIVER_X11)
	if (info.subsystem == SDL_SYSWM_X11)
		return (unsigned long)info.info.x11.window;
#endif
	return 0;
}

const char *video_matrix(const struct video *v)
{
	return v->mode == SDL_YUV_CONVERSION_BT709 ? "BT.709" : "BT.601";
}
