/*
 * The stage contract: what an editor, effect or audio process does to take
 * part in a session, and what an edit sees of the frame it changes.
 *
 * A stage attaches to a live session as one role, takes work items off that
 * role's queue (several processes of one role share it: that is the worker
 * pool), applies each to the frames it names, in place in the shared buffer,
 * and reports the item done or failed.  A work item is a typed view of one
 * journaled command: its op, its parameters, the command's whole range, and
 * the sub-range to do now.
 *
 * Only frames that are in the buffer (resident) are edited: a frame that is
 * not gets every edit that covers it, in journal order, when it is decoded.
 * Applying is idempotent: a frame that already holds an edit (its slot says
 * so) is skipped, so a work item done again after a stage died, or done by a
 * stage that was presumed hung, changes nothing twice.
 *
 * Threading: a slot's lock belongs to the thread that takes it (a robust
 * mutex, released by the kernel when the thread dies).  reel_stage_apply()
 * takes and releases each frame's lock in the calling thread and calls the
 * callback with it held; the callback must not call back into the stage or
 * wait on another slot.  Call every function of one reel_stage from one
 * thread; run several stages (or processes) for parallel work.
 */
#ifndef REEL_STAGE_H
#define REEL_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "reel/frame.h"
#include "reel/ops.h"

/* One accepted command, as the journal holds it. */
struct reel_edit {
	uint64_t seq;              /* journal sequence, 1-based */
	uint32_t op;               /* enum reel_op */
	uint32_t reserved;
	int64_t first, last;       /* the command's whole range, inclusive */
	/*
	 * Checked against the op table.  normalize: params[1] is the peak that
	 * was measured over the range (linear, > 0), journaled with the command.
	 */
	double params[4];
};

enum reel_work_kind {
	REEL_WORK_APPLY = 1,       /* apply the edit to the resident frames of first..last */
	REEL_WORK_MEASURE = 2,     /* measure the value the edit needs over its range (normalize) */
};

struct reel_work {
	struct reel_edit edit;
	uint32_t kind;             /* enum reel_work_kind */
	int64_t first, last;       /* the frames to do now, inside edit.first..edit.last */
	uint64_t epoch;            /* names this dispatch; the library checks it */
};

/* Memory an op may use during one call, kept between calls by its owner. */
struct reel_scratch;
/* size bytes, 64-byte aligned, valid until the next call on the same scratch; NULL when out of memory. */
void *reel_scratch_get(struct reel_scratch *scratch, size_t size);

/* What an edit of one frame may look at besides the frame itself. */
struct reel_frame_ctx {
	const struct reel_edit *edit;
	int64_t frame;                  /* this frame; its place in the range is frame - edit->first */
	uint32_t width, height;         /* of the video */
	uint32_t sample_rate;           /* 0 without sound */
	/*
	 * Sound positions as global sample numbers (time since the first frame
	 * times the sample rate): this frame's first sample, and the range's
	 * first sample and one past its last.  Edits that ramp over the range
	 * use them, so the result does not depend on how the range is cut.
	 */
	int64_t sample_start;
	int64_t range_sample_start, range_sample_end;
	const struct reel_frame *held;  /* freeze: the picture to show; NULL for other ops */
	struct reel_scratch *scratch;
};

/*
 * Change one frame in place.  0, or a negative error: the work item then
 * fails with it.  frame->audio_samples says how much sound the frame has.
 */
typedef int (*reel_frame_fn)(const struct reel_frame_ctx *ctx, struct reel_frame *frame,
                             void *userdata);

struct reel_stage;

/*
 * Attach to live session `session` as a stage of `role` (editor, effect,
 * audio, or preview: a preview is listed and logs like any stage, and is
 * never given work items).  REEL_E_NOSESSION when there is none.  While
 * attached, reel_log() lines, from any thread, go to the session's log (a
 * ring in shared memory the coordinator drains; logging never blocks).
 * The first stage of a process also handles SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL, SIGABRT and SIGSYS until it detaches: the signal is noted in the
 * session's stage table, so that a work item that crashes its stages fails
 * (a kill from outside does not count against it), and handed on to the
 * handler installed before.  A handler installed after attaching replaces
 * the note, nothing else.
 */
int reel_stage_attach(const char *session, unsigned role, struct reel_stage **ret_stage);
/* Say goodbye and let go of everything; accepts NULL. */
void reel_stage_detach(struct reel_stage *stage);

/*
 * A file descriptor for the caller's own poll or epoll loop: readable when
 * a work item may be waiting or the coordinator has gone (then
 * reel_stage_next() says which).  Owned by the stage.
 */
int reel_stage_fd(const struct reel_stage *stage);

/*
 * The next work item: 1 with *ret_work filled (claimed: the coordinator now
 * knows this process holds it), 0 when none came within timeout_ms (0: do
 * not wait, negative: wait forever), REEL_E_NOSESSION when the coordinator
 * has gone, or another negative error.  Items that fail validation against
 * the op table and the video are dropped and counted, never returned.
 */
int reel_stage_next(struct reel_stage *stage, struct reel_work *ret_work, int timeout_ms);

/*
 * Apply fn to every resident frame of work->first..last that does not hold
 * the edit yet, each under its slot's lock and seqlock; tells the
 * coordinator the stage is alive while it works.  0, or the first error
 * (fn's included), after which the frame that failed is left as it was.
 */
int reel_stage_apply(struct reel_stage *stage, const struct reel_work *work, reel_frame_fn fn,
                     void *userdata);

/*
 * The peak (largest absolute sample) of the sound over the work's range as
 * it stands before the edit: what normalize needs.  Computed from the
 * source and the journal, so it does not depend on what is resident.
 */
int reel_stage_measure_peak(struct reel_stage *stage, const struct reel_work *work,
                            double *ret_peak);

/* The work item is done.  */
int reel_stage_done(struct reel_stage *stage, const struct reel_work *work);
/* The measure item is done: value is journaled with the command. */
int reel_stage_measured(struct reel_stage *stage, const struct reel_work *work, double value);
/*
 * The work item failed with error (reason: one line for the log, may be
 * NULL).  The coordinator tries it a bounded number of times, then marks
 * the command failed.
 */
int reel_stage_fail(struct reel_stage *stage, const struct reel_work *work, int error,
                    const char *reason);

/*
 * Give the stage the implementations of the picture ops, which it needs to
 * rebuild a frame as it stood before an edit (the picture a freeze holds).
 * Without it a freeze fails.
 */
typedef reel_frame_fn (*reel_op_lookup_fn)(uint32_t op);
void reel_stage_set_ops(struct reel_stage *stage, reel_op_lookup_fn lookup);

/*
 * The usual life of a stage: take work items, apply each with the function
 * lookup gives for its op (a measure item with reel_stage_measure_peak),
 * say done or failed, until SIGTERM or SIGINT arrives (the item in hand is
 * finished first) or the coordinator goes.  The two signals are blocked in
 * the calling thread while it runs and taken through a signalfd.  0 after a
 * signal, REEL_E_NOSESSION when the coordinator went, or the error that
 * stopped it.
 */
int reel_stage_serve(struct reel_stage *stage, reel_op_lookup_fn lookup);

#endif
