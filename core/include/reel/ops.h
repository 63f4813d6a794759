/*
 * The edit operations that a command can name, and the bounds of their
 * parameters.  The table in core/bus/ops.c is the one place that knows them:
 * the message decoder checks commands against it, `reel send --help` lists it.
 */
#ifndef REEL_OPS_H
#define REEL_OPS_H

#include <stdint.h>

/* Who takes part in a session. */
enum reel_role {
	REEL_ROLE_COORD = 0,
	REEL_ROLE_EDITOR,
	REEL_ROLE_EFFECT,
	REEL_ROLE_AUDIO,
	REEL_ROLE_PREVIEW,
	REEL_ROLE_CLIENT,      /* a short-lived command line client */
	REEL_ROLE_COUNT
};

enum reel_op {
	REEL_OP_NONE = 0,
	/* journal control */
	REEL_OP_UNDO, REEL_OP_REDO,
	/* editor: geometry-preserving frame and timeline edits */
	REEL_OP_DROP, REEL_OP_CROP, REEL_OP_HFLIP, REEL_OP_VFLIP, REEL_OP_ROTATE180,
	REEL_OP_FREEZE, REEL_OP_FADE_IN, REEL_OP_FADE_OUT, REEL_OP_SPEED,
	/* effects */
	REEL_OP_BRIGHTNESS, REEL_OP_CONTRAST, REEL_OP_GAMMA, REEL_OP_SATURATION,
	REEL_OP_GRAYSCALE, REEL_OP_INVERT, REEL_OP_BLUR, REEL_OP_SHARPEN,
	/* audio */
	REEL_OP_GAIN, REEL_OP_MUTE, REEL_OP_AUDIO_FADE_IN, REEL_OP_AUDIO_FADE_OUT,
	REEL_OP_NORMALIZE,
	REEL_OP_COUNT
};

struct reel_op_desc {
	const char *name;
	uint32_t role;            /* enum reel_role that applies it */
	uint32_t nparams;
	const char *param_names[4];
	double min[4], max[4];
	const char *help;
};

/* NULL for an unknown op. */
const struct reel_op_desc *reel_op_get(uint32_t op);
/* REEL_OP_NONE when no op has that name. */
uint32_t reel_op_by_name(const char *name);
/* 0 when params are finite and within the op's bounds, REEL_E_BADMSG otherwise. */
int reel_op_check_params(uint32_t op, const double params[4]);

#endif
