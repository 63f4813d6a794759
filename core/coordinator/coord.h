/*
 * The coordinator of a session: `reel open` builds one, runs its event loop
 * in the foreground, and closes it.  It owns the buffer file, the session's
 * queues and session file, the materialiser thread and the scheduler.
 */
#ifndef REEL_COORD_H
#define REEL_COORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer/buffer.h"
#include "reel/client.h"
#include "reel/stage.h"

struct reel_coord_options {
	const char *video;
	const char *session;        /* NULL: the video's file name (see reel_coord_open) */
	const char *buffer_path;    /* NULL: <cache folder>/<session>.reel */
	uint64_t cache_bytes;       /* 0: the whole clip when it fits in a quarter of RAM */
	bool no_stages;             /* start no stage processes */
	bool no_preview;            /* start no preview window (none is started without a display) */
	unsigned workers;           /* effect workers to start; 0: one per core */
	/*
	 * A resumed buffer whose journal is damaged: false refuses to open
	 * (REEL_E_JOURNAL, the entry in reel_coord_names); true keeps the
	 * entries before the damage and saves the rest beside the buffer.
	 */
	bool salvage_journal;
	reel_op_lookup_fn lookup;   /* the ops' implementations (libreel-ops), for fresh frames */
	/* Told how long work at open (the index scan) advances; may be NULL. */
	void (*progress)(void *userdata, const char *what, uint64_t done, uint64_t total);
	void *progress_data;
};

struct reel_coord;

/* The names an open chose, for its caller to report (on failure too). */
struct reel_coord_names {
	char session[REEL_SESSION_NAME_MAX + 1];
	char buffer_path[REEL_PATH_MAX];
	char why[256];              /* why the video was refused, "" when it was not */
	/* What the open found in a resumed buffer's journal and slot table. */
	uint64_t journal_damaged;   /* 0, or the first damaged (or missing) entry */
	uint64_t journal_written;   /* the last entry position written, damaged ones included */
	uint64_t journal_saved;     /* entry positions moved out to journal_side (salvage) */
	uint64_t journal_count_was; /* the damaged count that was repaired; 0 when none was */
	bool journal_count_repaired;
	char journal_side[REEL_PATH_MAX];
	uint32_t slots_reset;       /* slots left locked or mid-write, reset for a rebuild */
	uint32_t slots_cut;         /* slots lost to a file cut short, reset for a rebuild */
	bool slots_not_reset;       /* a process of the last session was still alive: no reset */
};

/*
 * Open the video, create or resume the buffer file, claim the session and
 * create its queues (the stages start with reel_coord_run()).  On failure
 * nothing is left behind (no queue, no session file, no new buffer file)
 * and *ret_coord is untouched.  SIGINT, SIGTERM or SIGHUP during the index
 * scan cancel it (-ECANCELED); the signal is then delivered once everything
 * is cleaned up.
 *
 * Without a session or buffer given, both are named after the video's file
 * name, or, when that name belongs to another source already, after the
 * file name and a tag of this source ("clip-1a2b3c4d").  ret_names (may be
 * NULL) gets the names chosen, as far as the open got.  A cache size given
 * for a buffer that exists must lead to the slot count it has
 * (REEL_E_CACHESIZE otherwise): a buffer's layout is fixed when it is made.
 */
int reel_coord_open(const struct reel_coord_options *options, struct reel_coord **ret_coord,
                    struct reel_coord_names *ret_names);

/*
 * Accept an edit as if a client had sent it (reel open --edits), before the
 * loop runs: checked, journaled, scheduled.  0 with *ret_seq, or an error
 * with a one-line reason in why.
 */
int reel_coord_send(struct reel_coord *coord, uint32_t op, const double params[4], int64_t first,
                    int64_t last, uint64_t *ret_seq, char *why, size_t whylen);

/*
 * Write a line to the session log (next to the buffer file), from any
 * thread.  The program that runs the coordinator routes reel_log() here.
 */
void reel_coord_log(struct reel_coord *coord, int level, const char *component, const char *text);

/*
 * Start the stages (unless options said no_stages) and run the event loop
 * until a STOP message, SIGINT or SIGTERM; 0 on a clean stop.
 */
int reel_coord_run(struct reel_coord *coord);

/* Remove queues and session file, stop the materialiser, unmap; accepts NULL. */
void reel_coord_close(struct reel_coord *coord);

const char *reel_coord_session(const struct reel_coord *coord);
const char *reel_coord_buffer_path(const struct reel_coord *coord);
const struct reel_buffer_info *reel_coord_info(const struct reel_coord *coord);
/* The buffer, to read (its frame index, for a time given on the command line). */
const struct reel_buffer *reel_coord_buffer(const struct reel_coord *coord);
/* The signal that stopped the loop (SIGINT, SIGTERM, SIGHUP), or 0 when a client did. */
int reel_coord_stop_signal(const struct reel_coord *coord);
/* 1 when the buffer file existed and was resumed, 0 when new. */
int reel_coord_resumed(const struct reel_coord *coord);

/* The absolute buffer path options and session name lead to. */
int reel_coord_buffer_path_for(const struct reel_coord_options *options, const char *session,
                               char *buf, size_t len);

/* The folder for buffer files when --buffer is not given (created 0700). */
int reel_coord_default_buffer_dir(char *buf, size_t len);

/* Pick a session name from a video path: its base name, reduced to [A-Za-z0-9_-]. */
void reel_coord_session_from_path(const char *video, char *buf, size_t len);

#endif
