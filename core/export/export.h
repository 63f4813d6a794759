/*
 * The export: a session's frames, as they stand, encoded into a file.
 *
 * What an export shows comes from the journal alone (reel_edits_output):
 * every source frame of the range that is not trimmed, as many times as a
 * speed change says.  Each showing lasts its source frame's own duration
 * (the gap to the next frame's timestamp), so a frame shown once keeps its
 * place in time (variable frame rates survive), a trimmed frame takes its
 * time with it, and a frame repeated by a slow-down holds its duration
 * each time.  The sound follows the pictures: each showing carries that
 * frame's own samples, so sound and picture never drift apart (a speed
 * change repeats or drops a frame's sound with its picture; the pitch does
 * not change, and there is no time-stretching).
 *
 * The pictures are read through the slots, settled (once no unfinished
 * edit covers them, so they hold every edit acknowledged before they are
 * read), at batch priority.  A second connection asks the coordinator for
 * the frames ahead of the encoder, so that decoding in the coordinator
 * overlaps encoding here; it keeps within half the buffer's slots, so that
 * the frames it asks for are not evicted before they are read.
 */
#ifndef REEL_EXPORT_H
#define REEL_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reel/frame.h"

struct reel_buffer;

/* Source frame `frame`, shown `count` times, each showing `duration` ticks of the buffer's time base. */
struct reel_export_step {
	int64_t frame;
	uint32_t count;
	int64_t duration;
};

/* What an export of a range shows, in order. */
struct reel_export_plan {
	struct reel_export_step *steps;     /* malloc'ed; only frames shown at least once */
	size_t nsteps;
	uint64_t output_frames;             /* the sum of the counts */
	int64_t output_duration;            /* the sum of count × duration, in the time base */
	struct reel_rational time_base;
};

/*
 * The plan of source frames first..last (inclusive, inside the video) from
 * the buffer's journal and frame index.  REEL_E_RANGE for a range outside
 * the video, REEL_E_JOURNAL or REEL_E_INDEX for damage.  A range whose
 * frames are all trimmed gives an empty plan (0 steps).
 */
int reel_export_plan(const struct reel_buffer *buffer, int64_t first, int64_t last,
                     struct reel_export_plan *ret_plan);
void reel_export_plan_fini(struct reel_export_plan *plan);

struct reel_export_options {
	const char *session;
	int64_t first, last;                /* source frames, inclusive */
	int fd;                             /* where the file goes (the caller's; left open) */
	const char *container;              /* reel_media_container_*(): a muxer, or "y4m" */
	const char *video_codec;            /* NULL: libx264 */
	int crf;                            /* < 0: the codec's default */
	const char *preset;                 /* NULL: the codec's default */
	const char *audio_codec;            /* NULL: aac */
	bool no_audio;                      /* leave the sound out (y4m always does) */
	int threads;                        /* encoder threads, 0: libav decides */
	unsigned window;                    /* frames asked for ahead, 0: picked from the slots */
	/*
	 * Called after every output frame, and every couple of seconds while a
	 * frame is awaited: done of total frames.  Non-zero cancels the export
	 * (-ECANCELED).  May be NULL.
	 */
	int (*progress)(void *userdata, uint64_t done, uint64_t total);
	void *userdata;
};

/* Where the time went, and what came out. */
struct reel_export_stats {
	uint64_t frames;                    /* output frames written */
	uint64_t source_frames;             /* distinct source frames read */
	double duration_s;                  /* of the video track */
	uint64_t audio_samples;             /* per channel, given to the sound track */
	double wait_ms;                     /* waiting for frames (decoding, edits being applied) */
	double read_ms;                     /* copying them out of the slots */
	double encode_ms;                   /* encoding and writing */
	double total_ms;
	unsigned window;                    /* frames asked for ahead */
};

struct reel_export;

/*
 * Connect to the session, make the plan and open the encoder, which writes
 * the container's header to options->fd.  REEL_E_NOSESSION when there is
 * no such session, REEL_E_RANGE for a range outside the video, -ENODATA
 * when every frame of the range is trimmed, REEL_E_PARAM for a codec or
 * setting the encoder refuses; each with a one-line reason in why.
 */
int reel_export_open(const struct reel_export_options *options, struct reel_export **ret_export,
                     char *why, size_t whylen);
/* Accepts NULL. */
void reel_export_close(struct reel_export *ex);

const struct reel_export_plan *reel_export_get_plan(const struct reel_export *ex);
/* The video's sound: 0 channels when it has none or the export leaves it out. */
uint32_t reel_export_channels(const struct reel_export *ex);

/*
 * Read, encode and write every frame of the plan, then the container's
 * trailer.  0, -ECANCELED when progress asked, or the error (with why).
 * *ret_stats (may be NULL) is filled either way.
 */
int reel_export_run(struct reel_export *ex, struct reel_export_stats *ret_stats, char *why,
                    size_t whylen);

/* ------------------------------------------------------------------ y4m */

/*
 * YUV4MPEG2 to fd, written here without libav: the header (C420mpeg2,
 * limited range), then one "FRAME" and the three planes per picture.
 */
int reel_y4m_write_header(int fd, uint32_t width, uint32_t height, struct reel_rational frame_rate);
int reel_y4m_write_frame(int fd, const struct reel_frame *picture);

#endif
