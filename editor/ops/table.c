/*
 * The ops this part applies (see core/edit/ops-impl.h): the picture edits
 * that keep the frame size.  Trim and speed are absent on purpose: they
 * only change which frames an export keeps, so there is nothing to do per
 * frame and the lookup answers NULL for them.
 */
#include "edit/ops-impl.h"

#include "editor-ops.h"

const struct reel_op_impl reel_editor_ops[] = {
	{ REEL_OP_CROP, reel__editor_crop },
	{ REEL_OP_HFLIP, reel__editor_hflip },
	{ REEL_OP_VFLIP, reel__editor_vflip },
	{ REEL_OP_ROTATE180, reel__editor_rotate180 },
	{ REEL_OP_FREEZE, reel__editor_freeze },
	{ REEL_OP_FADE_IN, reel__editor_fade_in },
	{ REEL_OP_FADE_OUT, reel__editor_fade_out },
};
const size_t reel_editor_ops_count = sizeof(reel_editor_ops) / sizeof(reel_editor_ops[0]);
