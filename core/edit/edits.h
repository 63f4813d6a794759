/*
 * The edit index: what the journal means for each frame.
 *
 * The journal is the truth of a session, and a frame's pixels are a cache
 * of "the source frame, then every edit in effect that covers it, in
 * journal order".  This module reads the journal entry by entry and answers
 * the questions everyone asks of it, each without walking the whole
 * journal:
 *
 *   - which edits bring frame f from journal state A to state B, in order
 *     (a frame decoded afresh, a frozen picture rebuilt, a sound measured);
 *   - since which journal sequence frame f has not changed meaning (is a
 *     slot that says it holds state J still right?);
 *   - which frames an undo, a redo or a failure changed, and which measured
 *     values it made stale;
 *   - what to undo or redo next, and which frames an export keeps.
 *
 * A frame's *state* is a journal sequence J: the frame holds the source with
 * every edit of sequence <= J that is in effect and covers it.  Whether an
 * edit is in effect follows from the entries themselves: an undo, a redo or
 * a "failed" entry names the edit it acts on.  An edit that needs a value
 * measured first (normalize) waits until a "measured" entry gives it;
 * frames it covers stop at the state just before it until then.
 *
 * Derived edits see other frames: a freeze shows its source frame as it
 * stands just before the freeze (with the edits in effect now), a normalize
 * scales by the peak of its range just before it.  So an undo, redo or
 * failure of an edit also changes the frames of later freezes whose source
 * it touched, and makes later normalizes over its sound measure again.
 *
 * One coordinator thread adds entries while others query: every call takes
 * the index's own lock.  Storage is a segment tree over frames whose nodes
 * hold the sequences of the edits covering them, built on demand, so a
 * query costs O(log frames + answer).
 */
#ifndef REEL_EDIT_EDITS_H
#define REEL_EDIT_EDITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer/journal.h"
#include "reel/stage.h"

struct reel_buffer;
struct reel_edits;

struct reel_span {
	int64_t first, last;
};

enum reel_edit_state {
	REEL_EDIT_IN_EFFECT = 0,
	REEL_EDIT_WAITING,        /* in effect, but its measured value is not known yet */
	REEL_EDIT_UNDONE,
	REEL_EDIT_FAILED,
	REEL_EDIT_CONTROL,        /* not an edit: an undo, redo, failed or measured entry */
};

int reel_edits_new(uint64_t frames, struct reel_edits **ret_edits);
void reel_edits_free(struct reel_edits *edits);

/* Entries taken so far: the journal state the index describes. */
uint64_t reel_edits_count(struct reel_edits *edits);

/*
 * Take journal entry number count + 1, already validated by the journal.
 * -EINVAL when it cannot follow what came before (an undo of an edit not
 * in effect, a target that is not an edit, a sequence out of order, an
 * edit's parameter outside its op's bounds): a coordinator never writes
 * that, so the caller treats it as damage.
 */
int reel_edits_add(struct reel_edits *edits, const struct reel_journal_entry *entry);

/*
 * Read the journal entries of buffer the index has not taken yet (a stage
 * catching up).  REEL_E_JOURNAL at the first damaged or inconsistent one.
 */
int reel_edits_sync(struct reel_edits *edits, const struct reel_buffer *buffer);

/*
 * What the last reel_edits_add changed for frames already built: the spans
 * of frames whose pixels or sound are no longer right (sorted, disjoint),
 * and the measured edits that must be measured again.  Only the thread that
 * adds may ask; the arrays stay valid until its next add.
 */
void reel_edits_changes(struct reel_edits *edits, const struct reel_span **ret_spans,
                        size_t *ret_nspans, const uint64_t **ret_remeasure, size_t *ret_nremeasure);

/*
 * The edits that take frame `frame` from state `after` to state `upto`
 * (UINT64_MAX: the latest): those in effect that cover it and change what
 * `mask` names (REEL_OP_PICTURE, REEL_OP_SOUND), in journal order, up to
 * the first that waits for a measurement.  At most max are written to out;
 * the count is returned, and *ret_reached is the state the frame is in once
 * they are applied (the last one's sequence when out was too small).  A
 * measured edit's value is in params[1].
 */
size_t reel_edits_steps(struct reel_edits *edits, int64_t frame, uint64_t after, uint64_t upto,
                        uint32_t mask, struct reel_edit *out, size_t max, uint64_t *ret_reached);

/*
 * The latest sequence that changed what frame `frame` should hold: an edit
 * that covers it, or an undo, redo or failure that reached it.  A slot in
 * state J is right when this is <= J.  With controls_only, edits are left
 * out (a new edit is brought to resident frames by the stages anyway).
 */
uint64_t reel_edits_last_change(struct reel_edits *edits, int64_t frame, bool controls_only);

/* Entry seq as an edit, and its state; REEL_E_RANGE when there is none. */
int reel_edits_get(struct reel_edits *edits, uint64_t seq, struct reel_edit *ret_edit,
                   uint32_t *ret_state);

/* The edit an undo would act on now, and the one a redo would; 0 when none. */
uint64_t reel_edits_undo_target(struct reel_edits *edits);
uint64_t reel_edits_redo_target(struct reel_edits *edits);

/*
 * Edit seq waits for a measurement, and every earlier edit that waits for
 * one and overlaps its sound is measured (so the sound it will measure is
 * known).
 */
bool reel_edits_measure_ready(struct reel_edits *edits, uint64_t seq);

/*
 * How many times an export shows each frame (counts[frames]): 1, 0 when
 * trimmed, more or fewer where a speed change repeats or drops frames.
 * Returns the total.
 */
uint64_t reel_edits_output(struct reel_edits *edits, uint32_t *counts);

#endif
