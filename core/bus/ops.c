/*
 * The table of edit operations: name, the role that applies it, and the
 * bounds of each parameter.  The message decoder checks every command
 * against it, so a stage never sees a parameter outside these bounds.
 */
#include <math.h>
#include <string.h>

#include "reel/error.h"
#include "bus/msg.h"
#include "reel/ops.h"

#define ED REEL_ROLE_EDITOR
#define FX REEL_ROLE_EFFECT
#define AU REEL_ROLE_AUDIO

static const struct reel_op_desc ops[REEL_OP_COUNT] = {
	[REEL_OP_UNDO] = { "undo", REEL_ROLE_COORD, 0, { 0 }, { 0 }, { 0 },
	                   "undo the latest applied command" },
	[REEL_OP_REDO] = { "redo", REEL_ROLE_COORD, 0, { 0 }, { 0 }, { 0 },
	                   "redo the latest undone command" },
	[REEL_OP_DROP] = { "drop", ED, 0, { 0 }, { 0 }, { 0 }, "drop the frames from the export (trim/cut)" },
	[REEL_OP_CROP] = { "crop", ED, 4, { "x", "y", "w", "h" }, { 0, 0, 0.01, 0.01 }, { 0.99, 0.99, 1, 1 },
	                   "crop a rectangle (fractions of the frame) and scale it back to full size" },
	[REEL_OP_HFLIP] = { "hflip", ED, 0, { 0 }, { 0 }, { 0 }, "mirror left-right" },
	[REEL_OP_VFLIP] = { "vflip", ED, 0, { 0 }, { 0 }, { 0 }, "mirror top-bottom" },
	[REEL_OP_ROTATE180] = { "rotate180", ED, 0, { 0 }, { 0 }, { 0 }, "rotate by 180 degrees" },
	[REEL_OP_FREEZE] = { "freeze", ED, 1, { "frame" }, { 0 }, { 4294967295.0 },
	                     "show one frame over the whole range" },
	[REEL_OP_FADE_IN] = { "fade-in", ED, 0, { 0 }, { 0 }, { 0 }, "fade from black over the range" },
	[REEL_OP_FADE_OUT] = { "fade-out", ED, 0, { 0 }, { 0 }, { 0 }, "fade to black over the range" },
	[REEL_OP_SPEED] = { "speed", ED, 1, { "factor" }, { 0.125 }, { 8 },
	                    "play the range faster or slower in export (frame drop/duplicate)" },
	[REEL_OP_BRIGHTNESS] = { "brightness", FX, 1, { "delta" }, { -1 }, { 1 }, "add delta to luma" },
	[REEL_OP_CONTRAST] = { "contrast", FX, 1, { "factor" }, { 0 }, { 4 }, "scale luma around mid-grey" },
	[REEL_OP_GAMMA] = { "gamma", FX, 1, { "gamma" }, { 0.1 }, { 10 }, "gamma-correct luma" },
	[REEL_OP_SATURATION] = { "saturation", FX, 1, { "factor" }, { 0 }, { 4 }, "scale chroma" },
	[REEL_OP_GRAYSCALE] = { "grayscale", FX, 0, { 0 }, { 0 }, { 0 }, "remove colour" },
	[REEL_OP_INVERT] = { "invert", FX, 0, { 0 }, { 0 }, { 0 }, "invert every plane" },
	[REEL_OP_BLUR] = { "blur", FX, 1, { "radius" }, { 1 }, { 32 }, "box blur of the given radius" },
	[REEL_OP_SHARPEN] = { "sharpen", FX, 1, { "amount" }, { 0 }, { 4 }, "unsharp mask" },
	[REEL_OP_GAIN] = { "gain", AU, 1, { "db" }, { -60 }, { 24 }, "change the volume" },
	[REEL_OP_MUTE] = { "mute", AU, 0, { 0 }, { 0 }, { 0 }, "silence the range" },
	[REEL_OP_AUDIO_FADE_IN] = { "audio-fade-in", AU, 0, { 0 }, { 0 }, { 0 }, "fade the sound in" },
	[REEL_OP_AUDIO_FADE_OUT] = { "audio-fade-out", AU, 0, { 0 }, { 0 }, { 0 }, "fade the sound out" },
	[REEL_OP_NORMALIZE] = { "normalize", AU, 1, { "peak-db" }, { -60 }, { 0 },
	                        "scale the range so its peak reaches peak-db" },
};

const struct reel_op_desc *reel_op_get(uint32_t op)
{
	if (op == REEL_OP_NONE || op >= REEL_OP_COUNT)
		return NULL;
	return &ops[op];
}

uint32_t reel_op_by_name(const char *name)
{
	for (uint32_t op = 1; op < REEL_OP_COUNT; op++)
		if (!strcmp(ops[op].name, name))
			return op;
	return REEL_OP_NONE;
}

int reel_op_check_params(uint32_t op, const double params[4])
{
	const struct reel_op_desc *d = reel_op_get(op);

	if (!d)
		return REEL_E_BADMSG;
	for (uint32_t i = 0; i < 4; i++) {
		if (!isfinite(params[i]))
			return REEL_E_BADMSG;
		if (i >= d->nparams) {
			/* Unused parameters must be +0 so a message has one encoding (-0 == 0). */
			if (params[i] != 0 || signbit(params[i]))
				return REEL_E_BADMSG;
		} else if (params[i] < d->min[i] || params[i] > d->max[i]) {
			return REEL_E_BADMSG;
		}
	}
	if (op == REEL_OP_CROP && (params[0] + params[2] > 1 || params[1] + params[3] > 1))
		return REEL_E_BADMSG;
	return 0;
}
