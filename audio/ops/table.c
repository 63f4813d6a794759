/*
 * The ops this part applies (see core/edit/ops-impl.h).
 */
#include "edit/ops-impl.h"

const struct reel_op_impl reel_audio_ops[] = {
	{ REEL_OP_NONE, NULL },
};
const size_t reel_audio_ops_count = 0;
