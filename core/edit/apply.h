/*
 * Applying the journal to frames: the one place that turns "frame f in
 * state J" into "frame f in state T" by calling the ops, in journal order,
 * with the context each op needs (where the frame's sound lies in its
 * range, the picture a freeze holds).
 *
 * The coordinator uses it on every frame it decodes, so a frame that was
 * not resident when an edit came gets it the moment it is materialised; the
 * stages use it for the edit of each work item.  Both get the same bytes.
 *
 * Some edits read other frames as they stood before them: a freeze shows
 * its source frame with the earlier edits in effect, a normalize scales by
 * the peak of its range before it.  The applier rebuilds those from the
 * source (its own decoder, opened on first use) and the journal, so the
 * result never depends on what the buffer happens to hold.  Rebuilt
 * pictures are cached until an undo, redo or failure reaches them.
 *
 * One thread uses an applier at a time.
 */
#ifndef REEL_EDIT_APPLY_H
#define REEL_EDIT_APPLY_H

#include <stdint.h>

#include "reel/stage.h"

struct reel_buffer;
struct reel_edits;
struct reel_applier;

struct reel_applier_config {
	const struct reel_buffer *buffer;   /* geometry and frame index */
	struct reel_edits *edits;           /* what the journal means */
	reel_op_lookup_fn lookup;           /* the ops' implementations */
	const char *source;                 /* the video, opened when a frame must be rebuilt */
	/* Called now and then during long work; non-zero stops it with -ECANCELED.  May be NULL. */
	int (*progress)(void *userdata);
	void *progress_data;
};

/* The config's pointers must outlive the applier; source is copied. */
int reel_applier_new(const struct reel_applier_config *config, struct reel_applier **ret_applier);
void reel_applier_free(struct reel_applier *applier);

/*
 * Apply edit to frame number `frame` (view: its pixels and sound) with fn,
 * or with the op's own implementation when fn is NULL.  The context is
 * filled in (a freeze's held picture rebuilt when needed).  0 or the op's
 * error; REEL_E_EDIT when the op has no implementation here.
 */
int reel_applier_apply(struct reel_applier *applier, const struct reel_edit *edit, int64_t frame,
                       struct reel_frame *view, reel_frame_fn fn, void *userdata);

/*
 * Bring frame `frame` from state `from` to state `upto` (UINT64_MAX: the
 * latest): every edit in effect that covers it, in order, up to one that
 * waits for a measurement.  *ret_reached gets the state the frame is in
 * afterwards, also on error (the state before the edit that failed, whose
 * sequence goes to *ret_failed_seq when not NULL).
 */
int reel_applier_bring(struct reel_applier *applier, int64_t frame, struct reel_frame *view,
                       uint64_t from, uint64_t upto, uint64_t *ret_reached,
                       uint64_t *ret_failed_seq);

/*
 * The peak (largest absolute sample) of the sound of frames first..last as
 * it stands just before edit seq.  -EAGAIN when an earlier edit over that
 * sound still waits for its own measurement.
 */
int reel_applier_peak(struct reel_applier *applier, uint64_t seq, int64_t first, int64_t last,
                      double *ret_peak);

#endif
