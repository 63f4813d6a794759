/*
 * The overlay: a strip at the bottom of the window with the frame number,
 * the timecode, whether it plays, the count of edits still being applied
 * and a bar of which frames are in the buffer (click it to go there), a line
 * about the latest key for a few seconds, and a 'loading' (or 'cannot
 * decode') mark on the picture while the frame due is not the one shown.
 *
 * Text is drawn by SDL2_ttf in DejaVu Sans Mono, found through fontconfig:
 * a kept library and a packaged font give real glyphs (any message, any
 * size) for less code than a bitmap font of our own.  Each line is
 * rendered to a texture only when its text changes.  Without a font the
 * overlay still draws its bar and marks, and says once why it has no text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <SDL.h>
#include <SDL_ttf.h>
#include <fontconfig/fontconfig.h>

#include "preview.h"
#include "reel/log.h"

#define FONT_NAME "DejaVu Sans Mono:style=Book"
#define FONT_POINTS 13
#define PAD 5
#define BAR_H 10

enum text_slot { TEXT_STATUS, TEXT_PENDING, TEXT_MESSAGE, TEXT_MARK, TEXT_COUNT };

struct text {
	char s[192];
	SDL_Texture *texture;
	int w, h;
};

struct overlay {
	SDL_Renderer *renderer;
	TTF_Font *font;
	bool ttf;
	int line_h;
	struct text text[TEXT_COUNT];
};

/* The file of the font fontconfig picks for FONT_NAME, into buf; 0 or -ENOENT. */
static int find_font(char *buf, size_t len)
{
	FcPattern *want, *got;
	FcResult result;
	FcChar8 *file = NULL;
	int r = -ENOENT;

	if (!FcInit())
		return -ENOENT;
	want = FcNameParse((const FcChar8 *)FONT_NAME);
	if (!want)
		return -ENOENT;
	FcConfigSubstitute(NULL, want, FcMatchPattern);
	FcDefaultSubstitute(want);
	got = FcFontMatch(NULL, want, &result);
	if (got && FcPatternGetString(got, FC_FILE, 0, &file) == FcResultMatch && file) {
		snprintf(buf, len, "%s", (const char *)file);
		r = 0;
	}
	if (got)
		FcPatternDestroy(got);
	FcPatternDestroy(want);
	return r;
}

int overlay_open(SDL_Renderer *renderer, struct overlay **ret)
{
	struct overlay *o = calloc(1, sizeof(*o));
	char path[4096];

	if (!o)
		return -ENOMEM;
	o->renderer = renderer;
	o->line_h = 16;
	if (TTF_Init() == 0) {
		o->ttf = true;
		if (find_font(path, sizeof(path)) == 0)
			o->font = TTF_OpenFont(path, FONT_POINTS);
	}
	if (o->font)
		o->line_h = TTF_FontLineSkip(o->font);
	else
		reel_log(REEL_LOG_WARN, PREVIEW_PROGRAM, "no font for the overlay's text (%s through "
		         "fontconfig): the bar and the marks only", FONT_NAME);
	SDL_SetRenderDrawBlendMode(renderer, SDL_BLENDMODE_BLEND);
	*ret = o;
	return 0;
}

void overlay_close(struct overlay *o)
{
	if (!o)
		return;
	for (int i = 0; i < TEXT_COUNT; i++)
		if (o->text[i].texture)
			SDL_DestroyTexture(o->text[i].texture);
	if (o->font)
		TTF_CloseFont(o->font);
	if (o->ttf)
		TTF_Quit();
	free(o);
}

int overlay_top(const struct overlay *o, int h)
{
	return h - (PAD + o->line_h + PAD + BAR_H + PAD);
}

struct rect overlay_bar(const struct overlay *o, int w, int h)
{
	(void)o;
	return (struct rect){ PAD, h - PAD - BAR_H, w - 2 * PAD > 1 ? w - 2 * PAD : 1, BAR_H };
}

/* The texture of slot's text, made again only when the text changed; NULL without a font. */
static struct text *text_of(struct overlay *o, enum text_slot slot, const char *s, SDL_Color c)
{
	struct text *t = &o->text[slot];
	SDL_Surface *surface;

	if (!o->font || !s || !*s)
		return NULL;
	if (t->texture && strcmp(t->s, s) == 0)
		return t;
	if (t->texture)
		SDL_DestroyTexture(t->texture);
	t->texture = NULL;
	snprintf(t->s, sizeof(t->s), "%s", s);
	surface = TTF_RenderUTF8_Blended(o->font, t->s, c);
	if (!surface)
		return NULL;
	t->texture = SDL_CreateTextureFromSurface(o->renderer, surface);
	t->w = surface->w;
	t->h = surface->h;
	SDL_FreeSurface(surface);
	return t->texture ? t : NULL;
}

static void fill(struct overlay *o, int x, int y, int w, int h, Uint8 r, Uint8 g, Uint8 b, Uint8 a)
{
	SDL_Rect rc = { x, y, w, h };

	SDL_SetRenderDrawColor(o->renderer, r, g, b, a);
	SDL_RenderFillRect(o->renderer, &rc);
}

static void blit(struct overlay *o, const struct text *t, int x, int y)
{
	SDL_Rect rc;

	if (!t)
		return;
	rc = (SDL_Rect){ x, y, t->w, t->h };
	SDL_RenderCopy(o->renderer, t->texture, NULL, &rc);
}

/* A column's shade: 0 none resident, 1 some, 2 all, 3 one cannot be decoded. */
static int column_shade(const struct overlay_state *st, int x, int w)
{
	uint64_t a = st->frames * (uint64_t)x / (uint64_t)w;
	uint64_t z = st->frames * (uint64_t)(x + 1) / (uint64_t)w, in = 0;

	if (z <= a)
		z = a + 1;
	if (z > st->frames)
		z = st->frames;
	for (uint64_t f = a; f < z; f++) {
		if (st->residence[f] == REEL_FRAME_FAILED)
			return 3;
		in += st->residence[f] == REEL_FRAME_RESIDENT;
	}
	return in == 0 ? 0 : in < z - a ? 1 : 2;
}

/* The bar, one column per pixel, drawn as runs of one shade; the playhead on top. */
static void draw_bar(struct overlay *o, const struct overlay_state *st, const struct rect *bar)
{
	static const Uint8 shades[4][3] = { { 40, 40, 40 }, { 110, 110, 110 }, { 170, 170, 170 },
	                                     { 210, 50, 50 } };
	int run = 0, shade = st->residence && st->frames ? column_shade(st, 0, bar->w) : 0;

	for (int x = 1; x <= bar->w; x++) {
		int next = x < bar->w && st->residence && st->frames ? column_shade(st, x, bar->w) : -1;
		if (next == shade)
			continue;
		fill(o, bar->x + run, bar->y, x - run, bar->h, shades[shade][0], shades[shade][1],
		     shades[shade][2], 240);
		run = x;
		shade = next < 0 ? 0 : next;
	}
	if (st->frames > 0) {
		int x = bar->x + (int)((double)bar->w * ((double)st->frame + 0.5) / (double)st->frames);
		fill(o, x - 1, bar->y - 2, 3, bar->h + 4, 255, 255, 255, 255);
	}
}

static void draw_mark(struct overlay *o, const struct overlay_state *st, const struct rect *pic)
{
	static const SDL_Color white = { 255, 255, 255, 255 };
	const char *what = st->failed ? "cannot decode" : "loading";
	struct text *t = text_of(o, TEXT_MARK, what, white);
	int w = t ? t->w + 2 * PAD : 3 * BAR_H, h = t ? t->h + PAD : 2 * BAR_H;

	if (st->failed)
		fill(o, pic->x + PAD, pic->y + PAD, w, h, 190, 30, 30, 220);
	else
		fill(o, pic->x + PAD, pic->y + PAD, w, h, 230, 130, 0, 220);
	blit(o, t, pic->x + 2 * PAD, pic->y + PAD + PAD / 2);
}

/* "2 edits pending", or "2 pending" when short; empty while the count is not known. */
static void pending_text(const struct overlay_state *st, char *buf, size_t len, bool full)
{
	buf[0] = 0;
	if (st->pending_known)
		snprintf(buf, len, "%llu %s", (unsigned long long)st->pending,
		         !full ? "pending" : st->pending == 1 ? "edit pending" : "edits pending");
}

static int width_of(struct overlay *o, const char *s)
{
	int w = 0;

	if (o->font && *s && TTF_SizeUTF8(o->font, s, &w, NULL) < 0)
		w = 0;
	return w;
}

static SDL_Color amber_if(const struct overlay_state *st)
{
	return st->pending ? (SDL_Color){ 255, 200, 90, 255 } : (SDL_Color){ 255, 255, 255, 255 };
}

int overlay_draw(struct overlay *o, const struct overlay_state *st, int w, int h,
                 const struct rect *picture, bool full)
{
	static const SDL_Color white = { 255, 255, 255, 255 };
	char left[192], right[64], tc[32], digits[24];
	struct text *t, *pending;
	struct rect bar;
	int top, covered;

	if (st->loading || st->failed)
		draw_mark(o, st, picture);
	if (!full)
		return h;
	top = covered = overlay_top(o, h);
	fill(o, 0, top, w, h - top, 0, 0, 0, 170);
	timeline_timecode(st->seconds, tc, sizeof(tc));
	snprintf(digits, sizeof(digits), "%llu", (unsigned long long)(st->frames ? st->frames - 1 : 0));
	pending_text(st, right, sizeof(right), true);
	snprintf(left, sizeof(left), "%s  frame %*llu / %s  %s", tc, (int)strlen(digits),
	         (unsigned long long)st->frame, digits, st->playing ? "playing" : "paused");
	/* A narrow window gets the short forms. */
	if (width_of(o, left) + width_of(o, right) + 3 * PAD > w) {
		pending_text(st, right, sizeof(right), false);
		snprintf(left, sizeof(left), "%s %llu/%s %s", tc, (unsigned long long)st->frame, digits,
		         st->playing ? "play" : "pause");
	}
	t = text_of(o, TEXT_STATUS, left, white);
	pending = text_of(o, TEXT_PENDING, right, amber_if(st));
	blit(o, t, PAD, top + PAD);
	if (pending)
		blit(o, pending, w - PAD - pending->w, top + PAD);
	if (st->message && *st->message) {
		t = text_of(o, TEXT_MESSAGE, st->message, white);
		if (t) {
			fill(o, 0, top - t->h - 2 * PAD, t->w + 2 * PAD, t->h + 2 * PAD, 0, 0, 0, 170);
			blit(o, t, PAD, top - t->h - PAD);
			covered = top - t->h - 2 * PAD;
		}
	}
	bar = overlay_bar(o, w, h);
	draw_bar(o, st, &bar);
	return covered;
}
