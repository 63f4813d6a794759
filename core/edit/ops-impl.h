/*
 * The implementations of the edit operations, one function per op over a
 * frame view (reel_frame_fn of reel/stage.h).  They live with the part
 * that applies them (editor/ops/, renderer/effects/, audio/ops/) and are
 * built into one library, libreel-ops, which the stages and the
 * coordinator link: the coordinator applies the same functions when it
 * brings a freshly decoded frame up to date with the journal, so an edit
 * has one code path whoever applies it.
 *
 * Every op is deterministic: the same frame, edit and context give the same
 * bytes, whatever process or thread runs it and however the range is cut
 * into work items.
 */
#ifndef REEL_EDIT_OPS_IMPL_H
#define REEL_EDIT_OPS_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "reel/stage.h"

struct reel_op_impl {
	uint32_t op;               /* enum reel_op */
	reel_frame_fn apply;
};

/* Each part's table (its folder's ops table file). */
extern const struct reel_op_impl reel_editor_ops[];
extern const size_t reel_editor_ops_count;
extern const struct reel_op_impl reel_effect_ops[];
extern const size_t reel_effect_ops_count;
extern const struct reel_op_impl reel_audio_ops[];
extern const size_t reel_audio_ops_count;

/*
 * The function that applies op to a frame; NULL for ops with nothing to do
 * per frame (timeline edits, journal control) and unknown ops.  The
 * signature fits reel_op_lookup_fn.
 */
reel_frame_fn reel_op_impl(uint32_t op);

#endif
