/*
 * One lookup over the three parts' op tables (see ops-impl.h).  Built into
 * libreel-ops with the parts' op files, not into libreel.
 */
#include "edit/ops-impl.h"

static reel_frame_fn find(const struct reel_op_impl *table, size_t n, uint32_t op)
{
	for (size_t i = 0; i < n; i++)
		if (table[i].op == op)
			return table[i].apply;
	return NULL;
}

reel_frame_fn reel_op_impl(uint32_t op)
{
	reel_frame_fn fn = find(reel_editor_ops, reel_editor_ops_count, op);

	if (!fn)
		fn = find(reel_effect_ops, reel_effect_ops_count, op);
	if (!fn)
		fn = find(reel_audio_ops, reel_audio_ops_count, op);
	return fn;
}
