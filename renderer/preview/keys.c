/*
 * Keys and clicks, turned into what the player does.  Moves act on the
 * window at once; quick edits become requests for the sender thread, over
 * the frame on screen to the end of the video (a change "from here on",
 * which also puts the frame on screen first in the coordinator's order of
 * work, so it is the first to show the edit).
 */
#include <SDL.h>

#include "preview.h"
#include "reel/ops.h"

static struct action edit(uint32_t op, double param, uint64_t frame, uint64_t frames,
                          const char *say)
{
	struct action a = { .kind = ACTION_REQUEST, .say = say };

	a.request.kind = REQUEST_EDIT;
	a.request.op = op;
	a.request.params[0] = param;
	a.request.first = (int64_t)frame;
	a.request.last = (int64_t)frames - 1;
	return a;
}

static struct action simple(enum action_kind kind, int64_t arg)
{
	return (struct action){ .kind = kind, .arg = arg };
}

/* The frame under x on the bar. */
static int64_t frame_under(int x, const struct rect *bar, uint64_t frames)
{
	double at = (double)(x - bar->x) / bar->w;
	int64_t f = (int64_t)((at < 0 ? 0 : at) * (double)frames);

	return f < (int64_t)frames ? f : (int64_t)frames - 1;
}

static bool on_bar(int x, int y, const struct rect *bar)
{
	/* A little taller than drawn: a thin bar is hard to hit. */
	return x >= bar->x && x < bar->x + bar->w && y >= bar->y - 6 && y < bar->y + bar->h + 6;
}

static struct action key(const SDL_KeyboardEvent *k, uint64_t frame, uint64_t frames,
                         bool has_sound)
{
	bool shift = k->keysym.mod & KMOD_SHIFT;
	struct action a;

	switch (k->keysym.sym) {
	case SDLK_q:
	case SDLK_ESCAPE: return simple(ACTION_QUIT, 0);
	case SDLK_SPACE: return simple(ACTION_PLAY_PAUSE, 0);
	case SDLK_LEFT: return shift ? simple(ACTION_SEEK_BY, -1000) : simple(ACTION_STEP, -1);
	case SDLK_RIGHT: return shift ? simple(ACTION_SEEK_BY, 1000) : simple(ACTION_STEP, 1);
	case SDLK_DOWN: return simple(ACTION_SEEK_BY, -10000);
	case SDLK_UP: return simple(ACTION_SEEK_BY, 10000);
	case SDLK_HOME: return simple(ACTION_SEEK_TO, 0);
	case SDLK_END: return simple(ACTION_SEEK_TO, (int64_t)frames - 1);
	case SDLK_f: return simple(ACTION_FULLSCREEN, 0);
	case SDLK_o: return simple(ACTION_OVERLAY, 0);
	case SDLK_b:
		return edit(REEL_OP_BRIGHTNESS, shift ? QUICK_BRIGHTNESS_STEP : -QUICK_BRIGHTNESS_STEP,
		            frame, frames, shift ? "brightness up" : "brightness down");
	case SDLK_c:
		return edit(REEL_OP_CONTRAST, shift ? QUICK_CONTRAST_UP : QUICK_CONTRAST_DOWN, frame,
		            frames, shift ? "contrast up" : "contrast down");
	case SDLK_g: return edit(REEL_OP_GRAYSCALE, 0, frame, frames, "grayscale");
	case SDLK_i: return edit(REEL_OP_INVERT, 0, frame, frames, "invert");
	case SDLK_m:
		if (!has_sound) {
			a = simple(ACTION_NONE, 0);
			a.say = "this video has no sound to mute";
			return a;
		}
		return edit(REEL_OP_MUTE, 0, frame, frames, "mute");
	case SDLK_u:
		a = simple(ACTION_REQUEST, 0);
		a.request.kind = REQUEST_UNDO;
		a.say = "undo";
		return a;
	case SDLK_r:
		a = simple(ACTION_REQUEST, 0);
		a.request.kind = REQUEST_REDO;
		a.say = "redo";
		return a;
	default: return simple(ACTION_NONE, 0);
	}
}

struct action keys_action(const SDL_Event *ev, uint64_t frame, uint64_t frames,
                          const struct rect *bar, bool has_sound, bool *dragging)
{
	switch (ev->type) {
	case SDL_QUIT: return simple(ACTION_QUIT, 0);
	case SDL_KEYDOWN: return key(&ev->key, frame, frames, has_sound);
	case SDL_MOUSEBUTTONDOWN:
		if (ev->button.button == SDL_BUTTON_LEFT && on_bar(ev->button.x, ev->button.y, bar)) {
			*dragging = true;
			return simple(ACTION_SEEK_TO, frame_under(ev->button.x, bar, frames));
		}
		return simple(ACTION_NONE, 0);
	case SDL_MOUSEMOTION:
		if (*dragging && (ev->motion.state & SDL_BUTTON_LMASK))
			return simple(ACTION_SEEK_TO, frame_under(ev->motion.x, bar, frames));
		*dragging = false;
		return simple(ACTION_NONE, 0);
	case SDL_MOUSEBUTTONUP:
		*dragging = false;
		return simple(ACTION_NONE, 0);
	case SDL_WINDOWEVENT:
		/* A new size or uncovered pixels need a draw; focus and the pointer do not. */
		switch (ev->window.event) {
		case SDL_WINDOWEVENT_SHOWN:
		case SDL_WINDOWEVENT_EXPOSED:
		case SDL_WINDOWEVENT_SIZE_CHANGED:
		case SDL_WINDOWEVENT_RESTORED:
		case SDL_WINDOWEVENT_MAXIMIZED:
			return simple(ACTION_REDRAW, 0);
		default:
			return simple(ACTION_NONE, 0);
		}
	default: return simple(ACTION_NONE, 0);
	}
}
