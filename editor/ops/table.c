/*
 * The ops this part applies (see core/edit/ops-impl.h).
 */
#include "edit/ops-impl.h"

const struct reel_op_impl reel_editor_ops[] = {
	{ REEL_OP_NONE, NULL },
};
const size_t reel_editor_ops_count = 0;
