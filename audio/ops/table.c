/*
 * The ops this part applies (see core/edit/ops-impl.h): the sound edits.
 */
#include "edit/ops-impl.h"

#include "audio-ops.h"

const struct reel_op_impl reel_audio_ops[] = {
	{ REEL_OP_GAIN, reel__audio_gain },
	{ REEL_OP_MUTE, reel__audio_mute },
	{ REEL_OP_AUDIO_FADE_IN, reel__audio_fade_in },
	{ REEL_OP_AUDIO_FADE_OUT, reel__audio_fade_out },
	{ REEL_OP_NORMALIZE, reel__audio_normalize },
};
const size_t reel_audio_ops_count = sizeof(reel_audio_ops) / sizeof(reel_audio_ops[0]);
