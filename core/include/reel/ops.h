/*
 * The edit operations a command can name, and what is known of each: who
 * applies it, what it changes, its parameters and their bounds.  The table
 * in core/bus/ops.c is the one place that knows them: the message decoder
 * checks commands against it, stages check the work they get against it
 * again, and `reel send --help` lists it.
 */
#ifndef REEL_OPS_H
#define REEL_OPS_H

#include <stddef.h>
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
	/* journal control: act on an earlier command */
	REEL_OP_UNDO, REEL_OP_REDO,
	/* editor: frame and timeline edits that keep the frame size */
	REEL_OP_TRIM, REEL_OP_CROP, REEL_OP_HFLIP, REEL_OP_VFLIP, REEL_OP_ROTATE180,
	REEL_OP_FREEZE, REEL_OP_FADE_IN, REEL_OP_FADE_OUT, REEL_OP_SPEED,
	/* effects */
	REEL_OP_BRIGHTNESS, REEL_OP_CONTRAST, REEL_OP_GAMMA, REEL_OP_SATURATION,
	REEL_OP_GRAYSCALE, REEL_OP_INVERT, REEL_OP_BLUR, REEL_OP_SHARPEN, REEL_OP_COLORBALANCE,
	/* audio */
	REEL_OP_GAIN, REEL_OP_MUTE, REEL_OP_AUDIO_FADE_IN, REEL_OP_AUDIO_FADE_OUT,
	REEL_OP_NORMALIZE,
	/* written into the journal by the coordinator alone, never sent */
	REEL_OP_FAILED,        /* the command `target` failed; the entry's note says why */
	REEL_OP_MEASURED,      /* params[0] is the value measured for command `target` */
	REEL_OP_COUNT
};

/* What an op changes and needs (reel_op_desc.flags). */
#define REEL_OP_PICTURE  0x01u   /* changes pixels */
#define REEL_OP_SOUND    0x02u   /* changes samples */
#define REEL_OP_TIMELINE 0x04u   /* changes which frames an export keeps; no pixel changes */
#define REEL_OP_HOLDS    0x08u   /* shows another frame as it stood before this edit (freeze) */
#define REEL_OP_MEASURES 0x10u   /* needs a value measured over its range first (normalize) */
#define REEL_OP_CONTROL  0x20u   /* acts on an earlier command (undo, redo) */
#define REEL_OP_INTERNAL 0x40u   /* written by the coordinator only */

struct reel_op_desc {
	const char *name;
	uint32_t role;            /* enum reel_role that applies it */
	uint32_t flags;           /* REEL_OP_* */
	uint32_t nparams;         /* parameters a command carries */
	uint32_t nrequired;       /* the first nrequired must be given; the rest have defaults */
	uint32_t integer;         /* bit i: parameter i is a whole number */
	const char *param_names[4];
	double min[4], max[4], def[4];
	const char *help;
};

/* NULL for an unknown op. */
const struct reel_op_desc *reel_op_get(uint32_t op);
/* REEL_OP_NONE when no op has that name (aliases such as "afade-in" included). */
uint32_t reel_op_by_name(const char *name);

/*
 * 0 when params are finite, within the op's bounds and whole where they
 * must be, and the parameters the op does not use are +0; REEL_E_BADMSG
 * otherwise.  Needs nothing but the op table: the message decoder uses it.
 */
int reel_op_check_params(uint32_t op, const double params[4]);

/* What the video allows; the checks that need it are in reel_op_validate(). */
struct reel_op_limits {
	uint32_t width, height;
	uint64_t frames;
	uint32_t sample_rate;     /* 0 when the video has no sound */
};

/*
 * reel_op_check_params() and the checks that depend on the video (a crop
 * inside the picture, a frozen frame that exists, a sound edit on a video
 * with sound), for a command over first..last.  0, REEL_E_RANGE for frames
 * outside the video, or REEL_E_PARAM, each with a one-line reason in why
 * (may be NULL).
 */
int reel_op_validate(uint32_t op, const double params[4], int64_t first, int64_t last,
                     const struct reel_op_limits *limits, char *why, size_t whylen);

#endif
