/*
 * reel-preview: what its parts share.  Each part has a file of its own:
 *
 *   args.c      the command line
 *   snapshot.c  --snapshot / --time with --out: one frame to a file, no window
 *   session.c   attaching to the session like a stage; the reader the window uses
 *   timeline.c  frame times from the buffer's index, timecodes
 *   fetch.c     a thread that asks the coordinator for the frames about to be shown
 *   sender.c    a thread that sends quick edits, undo and redo, and reads the status
 *   audio.c     SDL audio output, and the play clock it drives
 *   video.c     the window: texture upload, letterbox, fullscreen, presenting
 *   overlay.c   frame number, timecode, the residency bar, marks and messages
 *   keys.c      keys and clicks turned into moves and edits
 *   player.c    the event loop that ties them together
 *
 * Threads: the event loop (main thread) never waits on the coordinator.  It
 * reads the buffer itself (peeks that never wait, see reel/client.h) and
 * hands everything that needs an answer to the fetch and sender threads,
 * each with a connection of its own.  SDL's audio thread only takes
 * samples out of a ring the event loop fills.
 */
#ifndef REEL_PREVIEW_H
#define REEL_PREVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reel/client.h"
#include "reel/frame.h"

#define PREVIEW_PROGRAM "reel-preview"

/* Exit codes: 0 ok, 1 failure at run time, 2 bad input or usage. */
enum { PREVIEW_OK = 0, PREVIEW_FAIL = 1, PREVIEW_USAGE = 2 };

/* Quick edits cover the frame on screen to the end of the video; these are their steps. */
#define QUICK_BRIGHTNESS_STEP 0.05
#define QUICK_CONTRAST_DOWN 0.9
#define QUICK_CONTRAST_UP 1.1

/* ------------------------------------------------------------------ args */

struct preview_args {
	const char *session;
	const char *out;            /* snapshot mode when set */
	const char *time;           /* --time T: the frame to show first, or to write */
	uint64_t frame;             /* --frame N / --snapshot N */
	bool have_frame;
	bool settled;               /* snapshot: wait until no edit covers the frame */
	bool play;                  /* start playing */
	bool loop;                  /* from the end, play again from the start */
	const char *trace;          /* append a line per presented frame here (measurement) */
	bool verbose;
};

/* PREVIEW_OK with *ret filled, -1 after --help was printed, or PREVIEW_USAGE after saying why. */
int preview_parse_args(int argc, char **argv, struct preview_args *ret);

/* "reel-preview: <message>" on stderr; returns code. */
__attribute__((format(printf, 2, 3)))
int preview_error(int code, const char *fmt, ...);

int preview_snapshot(const struct preview_args *args);
int preview_window(const struct preview_args *args);

/* -------------------------------------------------------------- timeline */

struct reel_buffer;

struct timeline {
	uint64_t frames;
	double *start;              /* seconds from the first frame's pts, never decreasing */
	double period;              /* nominal frame period, seconds */
	double end;                 /* when the last frame stops being shown */
	double fps;                 /* nominal */
	bool exact;                 /* every frame's time is the index's, not a nominal estimate */
};

int timeline_load(const struct reel_buffer *buffer, struct timeline *ret);
/*
 * While the index is still being built, the frames past it have nominal
 * times: load again once it is complete (cheap to call on every turn).
 */
void timeline_refresh(const struct reel_buffer *buffer, struct timeline *t);
void timeline_free(struct timeline *t);
/* The frame on screen at t (the last that starts at or before it). */
uint64_t timeline_frame_at(const struct timeline *t, double seconds);
double timeline_time(const struct timeline *t, uint64_t frame);
/* "HH:MM:SS.mmm" */
void timeline_timecode(double seconds, char *buf, size_t len);

/* --------------------------------------------------------------- session */

struct reel_stage;

struct session {
	const char *name;
	struct reel_stage *stage;   /* attached as the preview: listed, logged, watched */
	struct reel_client *reader; /* event loop only: peeks, versions, residency */
	struct reel_buffer *buffer; /* read-only: the frame index and the source's format */
	struct reel_video_info video;
	uint32_t cache_frames;      /* slots: how many frames can be resident at once */
	uint32_t colorspace;        /* libav's AVColorSpace of the source */
};

/* PREVIEW_OK, or an exit code after saying why. */
int session_open(const char *name, struct session *ret);
void session_close(struct session *s);
/* True once the coordinator has gone (it stopped or died). */
bool session_gone(struct session *s);

/* ----------------------------------------------------------------- fetch */

struct fetch;

/* Thread with a connection of its own, asking for the frames around `frame`. */
int fetch_start(const struct session *s, const struct timeline *t, struct fetch **ret);
/* Stop and join; accepts NULL. */
void fetch_stop(struct fetch *f);
/* What the event loop shows now: the thread asks for it first, then reads ahead. */
void fetch_want(struct fetch *f, uint64_t frame, bool playing);
/* True once a request said the coordinator has gone. */
bool fetch_gone(struct fetch *f);

/* ---------------------------------------------------------------- sender */

enum request_kind { REQUEST_EDIT = 1, REQUEST_UNDO, REQUEST_REDO };

struct request {
	enum request_kind kind;
	uint32_t op;
	double params[4];
	int64_t first, last;
};

/* What the sender thread learnt last. */
struct sender_news {
	uint64_t pending;           /* commands not finished, from the latest status */
	uint64_t journal;           /* entries in the journal */
	bool status_known;
	bool gone;                  /* the coordinator has gone */
	char message[160];          /* the outcome of the latest request */
	uint64_t message_id;        /* +1 for every new message */
};

struct sender;

/* trace_fd: -1, or where to append "edit T seq S" when an edit is journaled (--trace). */
int sender_start(const char *session, int trace_fd, struct sender **ret);
void sender_stop(struct sender *s);
/* Queue a request; -EBUSY when too many wait already. */
int sender_push(struct sender *s, const struct request *req);
void sender_news(struct sender *s, struct sender_news *ret);

/* ----------------------------------------------------------------- audio */

struct audio;

/*
 * Open SDL audio for the video's sound (float32, its rate and channels).
 * *ret is NULL, and 0 returned, when the video has none; an error when the
 * device cannot be opened (the caller then plays on the monotonic clock).
 */
int audio_open(const struct reel_video_info *video, struct audio **ret);
void audio_close(struct audio *a);
/* Drop what is queued and start playing sound that begins at time `at` (seconds). */
void audio_start(struct audio *a, double at);
/* Stop playing and drop what is queued. */
void audio_stop(struct audio *a);
/* Samples per channel the ring can take now, and how many wait in it to be heard. */
uint32_t audio_room(struct audio *a);
uint32_t audio_queued(struct audio *a);
/* Queue n samples per channel (interleaved), the sound that follows what was queued before. */
void audio_feed(struct audio *a, const float *samples, uint32_t n);
/*
 * The time (seconds) of the sound being heard now: audio drives the
 * picture.  It stops while the ring is empty (a frame's sound is late).
 */
double audio_clock(struct audio *a);

/* The play clock: audio's when there is sound, else monotonic time from a start. */
struct play_clock {
	struct audio *audio;        /* NULL: monotonic */
	bool running;
	double base;                /* video time at mono0 */
	double mono0;
};

double clock_monotonic(void);
void clock_start(struct play_clock *c, double at);
void clock_stop(struct play_clock *c);
double clock_now(const struct play_clock *c);

/* ----------------------------------------------------------------- video */

struct SDL_Renderer;

struct rect {
	int x, y, w, h;
};

struct video;

int video_open(const char *title, const struct session *s, struct video **ret);
void video_close(struct video *v);
/* Upload a picture of the session's size (YUV420P) as the one to show. */
int video_upload(struct video *v, const struct reel_frame *picture);
/* Clear the window and draw the picture letterboxed; *ret_rect gets where it went. */
void video_draw(struct video *v, struct rect *ret_rect);
void video_present(struct video *v);
/* Wait until the display server has done what was sent to it (the picture is on screen). */
void video_sync(struct video *v);
void video_toggle_fullscreen(struct video *v);
/* The drawable size of the window, in pixels. */
void video_output_size(struct video *v, int *ret_w, int *ret_h);
struct SDL_Renderer *video_renderer(struct video *v);
/* The X11 window id, 0 when not on X11 (for --trace). */
unsigned long video_window_id(struct video *v);
/* The YUV matrix the picture is shown with: "BT.601" or "BT.709". */
const char *video_matrix(const struct video *v);

/* --------------------------------------------------------------- overlay */

struct overlay;

/* What the overlay shows this time. */
struct overlay_state {
	uint64_t frame, frames;
	double seconds;
	bool playing;
	bool loading;               /* the frame shown is not the one due yet */
	bool failed;                /* the frame due cannot be decoded */
	bool pending_known;
	uint64_t pending;           /* edits still being applied */
	const char *message;        /* a line about the latest key, or NULL */
	const uint8_t *residence;   /* enum reel_residence per frame */
};

int overlay_open(struct SDL_Renderer *renderer, struct overlay **ret);
void overlay_close(struct overlay *o);
/*
 * Draw over a window of w x h pixels: the marks on the picture (at
 * `picture`) always, the strip at the bottom when full.  The first row the
 * strip (and the message above it) covers; h when none.
 */
int overlay_draw(struct overlay *o, const struct overlay_state *st, int w, int h,
                  const struct rect *picture, bool full);
/* Where the scrub bar is in a window of w x h pixels, and where the strip begins. */
struct rect overlay_bar(const struct overlay *o, int w, int h);
int overlay_top(const struct overlay *o, int h);

/* ------------------------------------------------------------------ keys */

enum action_kind {
	ACTION_NONE = 0,
	ACTION_QUIT,
	ACTION_PLAY_PAUSE,
	ACTION_STEP,                /* arg frames, pauses */
	ACTION_SEEK_BY,             /* arg seconds (x1000) */
	ACTION_SEEK_TO,             /* arg: frame */
	ACTION_FULLSCREEN,
	ACTION_OVERLAY,
	ACTION_REQUEST,             /* request */
	ACTION_REDRAW,
};

struct action {
	enum action_kind kind;
	int64_t arg;
	struct request request;
	const char *say;            /* what the key does, for the overlay's message */
};

union SDL_Event;

/* What an event asks for; frame is the one on screen, for the range of a quick edit. */
struct action keys_action(const union SDL_Event *ev, uint64_t frame, uint64_t frames,
                          const struct rect *bar, bool has_sound, bool *dragging);

#endif
