/*
 * The ops this part applies (see core/edit/ops-impl.h).
 */
#include "edit/ops-impl.h"

const struct reel_op_impl reel_effect_ops[] = {
	{ REEL_OP_NONE, NULL },
};
const size_t reel_effect_ops_count = 0;
