/*
 * The ops this part applies (see core/edit/ops-impl.h): the effects, every
 * one a change of pixel values that keeps the frame's geometry.
 */
#include "edit/ops-impl.h"

#include "effect-ops.h"

const struct reel_op_impl reel_effect_ops[] = {
	{ REEL_OP_BRIGHTNESS, reel__effect_brightness },
	{ REEL_OP_CONTRAST, reel__effect_contrast },
	{ REEL_OP_GAMMA, reel__effect_gamma },
	{ REEL_OP_SATURATION, reel__effect_saturation },
	{ REEL_OP_GRAYSCALE, reel__effect_grayscale },
	{ REEL_OP_INVERT, reel__effect_invert },
	{ REEL_OP_BLUR, reel__effect_blur },
	{ REEL_OP_SHARPEN, reel__effect_sharpen },
	{ REEL_OP_COLORBALANCE, reel__effect_colorbalance },
};
const size_t reel_effect_ops_count = sizeof(reel_effect_ops) / sizeof(reel_effect_ops[0]);
