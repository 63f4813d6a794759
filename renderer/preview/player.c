/*
 * The window's event loop.  Every tick it takes the events (keys, clicks,
 * resizes, SDL_QUIT from a close or a stop signal), works out which frame
 * is due (the play clock, or where the keys left it), tells the fetch
 * thread, queues the sound that follows, and shows the frame due when the
 * buffer holds it: a peek that never waits, made only when the frame's
 * version says it changed (a frame that did not change costs one look at
 * its slot per tick).  The window is drawn again only when something on it
 * changed.
 *
 * A tick lasts at most a few milliseconds, so an edit that lands on the
 * frame on screen (from a key here, or from anywhere else) is shown within
 * a frame period.  Nothing here waits on the coordinator: a frame that is
 * not in the buffer keeps the previous one up with a 'loading' mark until
 * it is.
 *
 * --trace FILE appends, for measurement and tests, a line per presented
 * frame: "present T frame F state S version V loading L picture X Y W H
 * overlay Y found T2 due D failed E" (T in seconds on CLOCK_MONOTONIC, S
 * the journal state the picture holds, Y the first row the overlay covers,
 * T2 when the loop found that picture in the buffer, D the frame due, E 1
 * when that one cannot be decoded), after the X server has taken the
 * picture; and the sender thread a line "edit T seq S" when a
 * quick edit is journaled.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <SDL.h>

#include "edit-args.h"
#include "preview.h"
#include "reel/error.h"
#include "reel/log.h"

/* Paused, a tick this long: an edit landing on the frame on screen shows well within a frame. */
#define PAUSED_TICK_MS 5
#define MAX_TICK_MS 10
/* Sound queued ahead of the clock: enough to ride out a slow tick, short enough for 'm'. */
#define SOUND_AHEAD_S 0.3
#define RESIDENCE_EVERY_S 0.25
#define MESSAGE_FOR_S 4.0
/* After a quick edit is sent, look for it this often, and keep the overlay for it this long. */
#define AWAIT_TICK_MS 1
#define AWAIT_EDIT_S 0.1

struct player {
	bool loop;                  /* --loop: at the end, from the start again */
	struct session session;
	struct timeline timeline;
	struct fetch *fetch;
	struct sender *sender;
	struct audio *audio;
	struct play_clock clock;
	struct video *video;
	struct overlay *overlay;
	struct reel_frame picture;  /* the frame due, peeked */
	struct reel_frame sound;    /* one frame's sound, peeked: a view of sound_memory without picture */
	struct reel_frame sound_memory;
	uint8_t *residence, *residence_new;
	double residence_at;
	int trace_fd;

	uint64_t position;          /* the frame due */
	bool playing;
	uint64_t sound_next;        /* the next frame whose sound is to be queued */
	bool have_shown;
	uint64_t shown, shown_version, shown_state;
	double shown_at;            /* when the loop found the picture it shows (monotonic) */
	bool loading, failed;
	bool overlay_on, dragging, quit;
	bool dirty;                 /* the picture or the window changed: draw at once */
	bool overlay_dirty;         /* only the overlay changed: draw, unless an edit is awaited */
	double await_until;         /* an edit is on its way to the frame on screen until then */
	bool resume;                /* a late frame came: the clock restarts once it is on screen */

	struct sender_news news;
	char message[192];
	double message_at;
	struct rect picture_rect;
	int overlay_covers;         /* the first row the overlay draws over */
};

/* ----------------------------------------------------------------- moves */

static uint64_t clamp_frame(const struct player *p, int64_t f)
{
	return f < 0 ? 0 : (uint64_t)f >= p->timeline.frames ? p->timeline.frames - 1 : (uint64_t)f;
}

static void start_playing(struct player *p)
{
	p->playing = true;
	p->sound_next = p->position;
	clock_start(&p->clock, timeline_time(&p->timeline, p->position));
}

static void stop_playing(struct player *p)
{
	p->playing = false;
	clock_stop(&p->clock);
}

static void seek(struct player *p, int64_t frame)
{
	p->position = clamp_frame(p, frame);
	if (p->playing)
		start_playing(p);
	p->dirty = true;
}

static void seek_by(struct player *p, double seconds)
{
	double t = timeline_time(&p->timeline, p->position) + seconds;

	if (t >= p->timeline.end)
		seek(p, (int64_t)p->timeline.frames - 1);
	else
		seek(p, (int64_t)timeline_frame_at(&p->timeline, t));
}

static void say(struct player *p, const char *what)
{
	snprintf(p->message, sizeof(p->message), "%s", what);
	p->message_at = clock_monotonic();
	p->overlay_dirty = true;
}

static void act(struct player *p, const struct action *a)
{
	switch (a->kind) {
	case ACTION_QUIT: p->quit = true; break;
	case ACTION_PLAY_PAUSE:
		if (p->playing) {
			stop_playing(p);
		} else {
			/* From the start again once the end was reached. */
			if (p->position + 1 >= p->timeline.frames)
				p->position = 0;
			start_playing(p);
		}
		p->dirty = true;
		break;
	case ACTION_STEP:
		stop_playing(p);
		seek(p, (int64_t)p->position + a->arg);
		break;
	case ACTION_SEEK_BY: seek_by(p, (double)a->arg / 1000); break;
	case ACTION_SEEK_TO: seek(p, a->arg); break;
	case ACTION_FULLSCREEN: video_toggle_fullscreen(p->video); break;
	case ACTION_OVERLAY:
		p->overlay_on = !p->overlay_on;
		p->dirty = true;
		break;
	case ACTION_REQUEST:
		/* What became of it is said once the coordinator has answered. */
		if (sender_push(p->sender, &a->request) < 0)
			say(p, "too many keys waiting to be sent; wait a moment");
		else
			p->await_until = clock_monotonic() + AWAIT_EDIT_S;
		break;
	case ACTION_REDRAW: p->dirty = true; break;
	case ACTION_NONE:
		if (a->say)
			say(p, a->say);
		break;
	}
}

static void handle(struct player *p, const SDL_Event *ev)
{
	int w, h;
	struct rect bar;
	struct action a;

	video_output_size(p->video, &w, &h);
	bar = overlay_bar(p->overlay, w, h);
	if (!p->overlay_on)
		bar.w = 0;   /* no bar to click */
	a = keys_action(ev, p->shown, p->timeline.frames, &bar, p->audio != NULL, &p->dragging);
	act(p, &a);
}

/* ----------------------------------------------------------------- a tick */

/* Where the clock says playback is; pauses at the end. */
static void advance(struct player *p)
{
	uint64_t last = p->timeline.frames - 1;
	double t;
	bool at_end;

	/* Without sound the clock waits for a late frame (see show()): so does the frame due. */
	if (!p->playing || (!p->audio && p->loading && !p->failed))
		return;
	t = clock_now(&p->clock);
	p->position = timeline_frame_at(&p->timeline, t);
	if (p->audio)
		at_end = p->position == last && p->sound_next > last && audio_queued(p->audio) == 0;
	else
		at_end = t >= p->timeline.end;
	if (at_end && p->loop) {
		p->position = 0;
		start_playing(p);
		p->dirty = true;
	} else if (at_end) {
		p->position = last;
		stop_playing(p);
		p->dirty = true;
	}
}

/* Queue the sound of the frames after the last queued, while they are in the buffer. */
static void queue_sound(struct player *p)
{
	double now;

	if (!p->playing || !p->audio)
		return;
	now = clock_now(&p->clock);
	while (p->sound_next < p->timeline.frames &&
	       timeline_time(&p->timeline, p->sound_next) - now < SOUND_AHEAD_S &&
	       audio_room(p->audio) >= p->sound.audio_capacity) {
		int r = reel_client_read_frame(p->session.reader, p->sound_next, REEL_READ_PEEK, 0, 0,
		                               &p->sound, NULL);
		if (r == -EAGAIN)
			return;   /* not in the buffer yet: the clock waits for it */
		if (r < 0) {
			/* A frame that cannot be decoded is heard as silence of its length. */
			double len = (p->sound_next + 1 < p->timeline.frames
			              ? timeline_time(&p->timeline, p->sound_next + 1) : p->timeline.end) -
			             timeline_time(&p->timeline, p->sound_next);
			uint64_t n = (uint64_t)(len * p->session.video.sample_rate + 0.5);

			memset(p->sound.audio, 0, (size_t)p->sound.audio_capacity * p->sound.channels *
			       sizeof(float));
			p->sound.audio_samples = (uint32_t)(n < p->sound.audio_capacity ? n
			                                    : p->sound.audio_capacity);
		}
		audio_feed(p->audio, p->sound.audio, p->sound.audio_samples);
		p->sound_next++;
	}
}

/* Bring the picture up to the frame due, if the buffer has it. */
static void show(struct player *p)
{
	uint64_t want = p->position, version = 0, state = 0;
	bool loading, failed = false;
	double looked = clock_monotonic();
	int r = reel_client_frame_version(p->session.reader, want, &version, &state);

	if (r == 0 && p->have_shown && p->shown == want && p->shown_version == version) {
		loading = false;
	} else {
		/* The version first, then the copy: a copy made after holds at least that version. */
		r = reel_client_read_frame(p->session.reader, want, REEL_READ_PEEK, 0, 0, &p->picture,
		                           &state);
		if (r == 0 && video_upload(p->video, &p->picture) == 0) {
			p->resume |= p->playing && !p->audio && p->loading;
			p->have_shown = true;
			p->shown = want;
			p->shown_version = version;
			p->shown_state = state;
			p->shown_at = looked;
			p->dirty = true;
			p->await_until = 0;
		}
		failed = r < 0 && r != -EAGAIN;
		loading = !(p->have_shown && p->shown == want);
	}
	if (loading != p->loading || failed != p->failed)
		p->dirty = true;
	p->loading = loading;
	p->failed = failed && loading;
	/*
	 * Without sound, a late frame holds the clock until it is on screen
	 * (with sound, the sound waits for it already); one that cannot be
	 * decoded does not.
	 */
	if (p->playing && !p->audio && p->loading && !p->failed) {
		p->clock.base = timeline_time(&p->timeline, want);
		p->clock.mono0 = clock_monotonic();
	}
}

static void refresh(struct player *p)
{
	double now = clock_monotonic();
	struct sender_news n;

	if (now - p->residence_at >= RESIDENCE_EVERY_S) {
		if (reel_client_resident(p->session.reader, 0, p->timeline.frames, p->residence_new,
		                         NULL) == 0 &&
		    memcmp(p->residence_new, p->residence, p->timeline.frames) != 0) {
			uint8_t *old = p->residence;
			p->residence = p->residence_new;
			p->residence_new = old;
			p->overlay_dirty |= p->overlay_on;
		}
		p->residence_at = now;
	}
	sender_news(p->sender, &n);
	if (n.message_id != p->news.message_id)
		say(p, n.message);
	if (n.pending != p->news.pending || n.status_known != p->news.status_known)
		p->overlay_dirty = true;
	p->news = n;
	if (p->message[0] && now - p->message_at > MESSAGE_FOR_S) {
		p->message[0] = 0;
		p->overlay_dirty = true;
	}
}

static void trace(struct player *p)
{
	char line[256];
	int n;

	if (p->trace_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "present %.6f frame %" PRIu64 " state %" PRIu64 " version %"
	             PRIu64 " loading %d picture %d %d %d %d overlay %d found %.6f due %" PRIu64
	             " failed %d\n", clock_monotonic(), p->shown, p->shown_state, p->shown_version,
	             p->loading ? 1 : 0, p->picture_rect.x, p->picture_rect.y, p->picture_rect.w,
	             p->picture_rect.h, p->overlay_covers, p->shown_at, p->position, p->failed ? 1 : 0);
	if (n > 0 && write(p->trace_fd, line, (size_t)n) < 0)
		p->trace_fd = -1;
}

static void draw(struct player *p)
{
	struct overlay_state st = {
		.frame = p->position, .frames = p->timeline.frames,
		.seconds = timeline_time(&p->timeline, p->position), .playing = p->playing,
		.loading = p->loading, .failed = p->failed, .pending_known = p->news.status_known,
		.pending = p->news.pending, .message = p->message, .residence = p->residence,
	};
	int w, h;

	video_output_size(p->video, &w, &h);
	video_draw(p->video, &p->picture_rect);
	p->overlay_covers = overlay_draw(p->overlay, &st, w, h, &p->picture_rect, p->overlay_on);
	video_present(p->video);
	if (p->resume && p->playing) {
		p->clock.base = timeline_time(&p->timeline, p->shown);
		p->clock.mono0 = clock_monotonic();
	}
	p->resume = false;
	if (p->trace_fd >= 0) {
		/* "Presented" means the display server has the picture, not only that it was sent. */
		video_sync(p->video);
		trace(p);
	}
	p->dirty = p->overlay_dirty = false;
}

static int tick_ms(const struct player *p)
{
	double next, now;

	if (p->await_until > 0 && clock_monotonic() < p->await_until)
		return AWAIT_TICK_MS;
	if (!p->playing || p->position + 1 >= p->timeline.frames)
		return PAUSED_TICK_MS;
	now = clock_now(&p->clock);
	next = timeline_time(&p->timeline, p->position + 1);
	return next - now < 0.001 ? 1 : next - now > MAX_TICK_MS / 1000.0 ? MAX_TICK_MS
	                                                                 : (int)((next - now) * 1000);
}

/* ------------------------------------------------------------ the window */

/* The frame to start on: --frame N or --time T; PREVIEW_OK or an exit code. */
static int start_frame(struct player *p, const struct preview_args *a)
{
	char why[256];
	int64_t at;

	if (a->time) {
		if (cli_frame_at(p->session.buffer, a->time, &at, why, sizeof(why)) < 0)
			return preview_error(PREVIEW_USAGE, "%s", why);
		p->position = (uint64_t)at;
	} else if (a->have_frame) {
		if (a->frame >= p->timeline.frames)
			return preview_error(PREVIEW_USAGE, "--frame %" PRIu64 ": out of range (the video "
			                     "has %" PRIu64 " frames, 0 to %" PRIu64 ")", a->frame,
			                     p->timeline.frames, p->timeline.frames - 1);
		p->position = a->frame;
	}
	return PREVIEW_OK;
}

static int open_parts(struct player *p, const struct preview_args *a)
{
	struct reel_video_info sound_only;
	char title[128];
	int r;

	if (timeline_load(p->session.buffer, &p->timeline) < 0)
		return preview_error(PREVIEW_FAIL, "%s: the buffer's frame index cannot be read",
		                     p->session.name);
	r = start_frame(p, a);
	if (r != PREVIEW_OK)
		return r;
	if (a->trace) {
		p->trace_fd = open(a->trace, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (p->trace_fd < 0)
			return preview_error(PREVIEW_USAGE, "--trace %s: %s", a->trace, strerror(errno));
	}
	p->residence = calloc(p->timeline.frames, 1);
	p->residence_new = calloc(p->timeline.frames, 1);
	sound_only = p->session.video;
	sound_only.width = sound_only.height = 1;
	if (!p->residence || !p->residence_new || reel_frame_alloc(&p->session.video, &p->picture) < 0 ||
	    (p->session.video.channels && reel_frame_alloc(&sound_only, &p->sound_memory) < 0))
		return preview_error(PREVIEW_FAIL, "out of memory");
	/* The sound reads leave the picture out. */
	p->sound = p->sound_memory;
	p->sound.plane[0] = NULL;
	snprintf(title, sizeof(title), PREVIEW_PROGRAM ": %s", p->session.name);
	if (video_open(title, &p->session, &p->video) < 0)
		return preview_error(PREVIEW_FAIL, "cannot open a window: %s", SDL_GetError());
	if (overlay_open(video_renderer(p->video), &p->overlay) < 0)
		return preview_error(PREVIEW_FAIL, "out of memory");
	if (audio_open(&p->session.video, &p->audio) < 0)
		reel_log(REEL_LOG_WARN, PREVIEW_PROGRAM, "no sound (%s): the picture plays on its own "
		         "clock", SDL_GetError());
	p->clock.audio = p->audio;
	r = fetch_start(&p->session, &p->timeline, &p->fetch);
	if (r == 0)
		r = sender_start(p->session.name, p->trace_fd, &p->sender);
	if (r < 0)
		return preview_error(PREVIEW_FAIL, "%s: %s", p->session.name, reel_strerror(r));
	if (p->trace_fd >= 0)
		dprintf(p->trace_fd, "window 0x%lx matrix %s\n", video_window_id(p->video),
		        video_matrix(p->video));
	reel_log(REEL_LOG_INFO, PREVIEW_PROGRAM, "showing session %s (%ux%u, %s)", p->session.name,
	         p->session.video.width, p->session.video.height, video_matrix(p->video));
	return PREVIEW_OK;
}

static void close_parts(struct player *p)
{
	/* The threads first: they use their own connections, the rest is the loop's. */
	fetch_stop(p->fetch);
	sender_stop(p->sender);
	clock_stop(&p->clock);
	audio_close(p->audio);
	overlay_close(p->overlay);
	video_close(p->video);
	reel_frame_free(&p->picture);
	reel_frame_free(&p->sound_memory);
	free(p->residence);
	free(p->residence_new);
	timeline_free(&p->timeline);
	if (p->trace_fd >= 0)
		close(p->trace_fd);
	session_close(&p->session);
	SDL_Quit();
}

static void loop(struct player *p)
{
	while (!p->quit) {
		timeline_refresh(p->session.buffer, &p->timeline);
		SDL_Event ev;

		if (SDL_WaitEventTimeout(&ev, tick_ms(p))) {
			handle(p, &ev);
			while (!p->quit && SDL_PollEvent(&ev))
				handle(p, &ev);
		}
		if (p->quit)
			break;
		if (session_gone(&p->session) || fetch_gone(p->fetch) || p->news.gone) {
			reel_log(REEL_LOG_INFO, PREVIEW_PROGRAM, "session %s ended; closing",
			         p->session.name);
			break;
		}
		advance(p);
		fetch_want(p->fetch, p->position, p->playing);
		queue_sound(p);
		show(p);
		refresh(p);
		/*
		 * Drawing takes the CPU for a while (on a software renderer, more
		 * than the edit itself): while an edit is on its way to the frame on
		 * screen, a change of the overlay alone waits to be drawn with it.
		 */
		if (p->dirty || (p->overlay_dirty && clock_monotonic() >= p->await_until))
			draw(p);
	}
}

static bool nonempty(const char *s)
{
	return s && *s;
}

/* A wrong session is a usage error, whatever else is wrong: PREVIEW_OK when it is live. */
static int session_exists(const char *name)
{
	struct reel_client *c;
	int r = reel_session_name_check(name);

	if (r == 0)
		r = reel_client_connect(name, &c);
	if (r < 0)
		return preview_error(PREVIEW_USAGE, "--session %s: %s", name, reel_strerror(r));
	reel_client_close(c);
	return PREVIEW_OK;
}

int preview_window(const struct preview_args *a)
{
	struct player p = { .trace_fd = -1, .overlay_on = true, .residence_at = -1e9 };
	int code;

	/*
	 * Without a display SDL would pick its offscreen driver and show
	 * nothing to nobody; SDL_VIDEODRIVER still chooses one on purpose
	 * (kmsdrm on a console).
	 */
	if (!nonempty(getenv("DISPLAY")) && !nonempty(getenv("WAYLAND_DISPLAY")) &&
	    !nonempty(getenv("SDL_VIDEODRIVER"))) {
		code = session_exists(a->session);
		return code != PREVIEW_OK ? code : preview_error(PREVIEW_FAIL, "cannot open a window: no "
		       "display (DISPLAY and WAYLAND_DISPLAY are not set); --out FILE writes a frame "
		       "without one");
	}
	/* SDL turns SIGINT and SIGTERM (what 'reel stop' sends) into SDL_QUIT: a clean exit. */
	if (SDL_Init(SDL_INIT_EVENTS) < 0)
		return preview_error(PREVIEW_FAIL, "SDL: %s", SDL_GetError());
	code = session_open(a->session, &p.session);
	if (code != PREVIEW_OK) {
		SDL_Quit();
		return code;
	}
	code = open_parts(&p, a);
	if (code == PREVIEW_OK) {
		p.loop = a->loop;
		if (a->play)
			start_playing(&p);
		p.dirty = true;
		loop(&p);
	}
	close_parts(&p);
	return code;
}
