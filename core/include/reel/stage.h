/*
 * The stage side of a session: what an editor, effect or audio process does
 * to take part.  A stage attaches (connect, map the buffer, HELLO, open its
 * role's queue), takes work items one by one (each is claimed at once, so
 * the coordinator knows who holds it), applies them frame by frame under
 * the slot protocol, and says DONE.
 *
 * The contract that makes replays and re-dispatch harmless: an entry is
 * applied to a frame only when the slot's journal_seq is below the entry's
 * seq, and the slot then records that seq; a replay is applied only to the
 * decode of the frame it names (the slot's incarnation).  reel_stage_apply()
 * keeps it.
 */
#ifndef REEL_STAGE_H
#define REEL_STAGE_H

#include <stdint.h>

#include "reel/frame.h"

struct reel_msg;

struct reel_stage;

/*
 * Attach to live session `session` as a stage of `role` (editor, effect or
 * audio).  REEL_E_NOSESSION when there is none.
 */
int reel_stage_attach(const char *session, unsigned role, struct reel_stage **ret_stage);
/* Say goodbye and let go of everything; accepts NULL. */
void reel_stage_detach(struct reel_stage *stage);

/*
 * The next work item, claimed: 1 with *ret_work filled, 0 when none came
 * within timeout_ms (negative: wait forever), or a negative error.  Work
 * that fails validation is dropped and counted, never returned.
 */
int reel_stage_next(struct reel_stage *stage, struct reel_msg *ret_work, int timeout_ms);

/*
 * Called once per frame of a work item with the slot locked, inside a
 * seqlock write, and the frame's pixels and samples in *frame.  It must not
 * fail: an edit is a loop over memory that is already there.
 */
typedef void (*reel_stage_apply_fn)(struct reel_frame *frame, int64_t frame_number,
                                    const struct reel_msg *work, void *userdata);

/*
 * Apply `fn` to every frame of `work`: materialise the frame (a need to the
 * coordinator), lock its slot, skip it when the slot already holds this
 * entry (journal_seq >= seq), else mark it BUSY, call fn, record the seq and
 * mark it READY again.  Returns 0, or the error that stopped it.
 */
int reel_stage_apply(struct reel_stage *stage, const struct reel_msg *work, reel_stage_apply_fn fn,
                     void *userdata);

/* Tell the coordinator that `work` is done. */
int reel_stage_done(struct reel_stage *stage, const struct reel_msg *work);

#endif
