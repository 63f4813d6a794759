/*
 * The table of edit operations: name, the role that applies it, what it
 * changes, and the bounds and defaults of each parameter.  The message
 * decoder checks every command against it, so a stage never sees a
 * parameter outside these bounds; reel_op_validate() adds the checks that
 * need the video's size.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "reel/error.h"
#include "reel/ops.h"

#define ED REEL_ROLE_EDITOR
#define FX REEL_ROLE_EFFECT
#define AU REEL_ROLE_AUDIO
#define CO REEL_ROLE_COORD

#define PIC REEL_OP_PICTURE
#define SND REEL_OP_SOUND

static const struct reel_op_desc ops[REEL_OP_COUNT] = {
	[REEL_OP_UNDO] = { "undo", CO, REEL_OP_CONTROL, 0, 0, 0, { 0 }, { 0 }, { 0 }, { 0 },
	                   "undo the latest command still in effect" },
	[REEL_OP_REDO] = { "redo", CO, REEL_OP_CONTROL, 0, 0, 0, { 0 }, { 0 }, { 0 }, { 0 },
	                   "redo the latest undone command" },
	[REEL_OP_TRIM] = { "trim", ED, REEL_OP_TIMELINE, 0, 0, 0, { 0 }, { 0 }, { 0 }, { 0 },
	                   "leave the frames out of the output" },
	[REEL_OP_CROP] = { "crop", ED, PIC, 4, 4, 0xf, { "x", "y", "w", "h" }, { 0, 0, 2, 2 },
	                   { 16383, 16383, 16384, 16384 }, { 0 },
	                   "keep the rectangle W x H at X,Y (pixels), scaled back to the full frame" },
	[REEL_OP_HFLIP] = { "hflip", ED, PIC, 0, 0, 0, { 0 }, { 0 }, { 0 }, { 0 }, "mirror left-right" },
	[REEL_OP_VFLIP] = { "vflip", ED, PIC, 0, 0, 0, { 0 }, { 0 }, { 0 }, { 0 }, "mirror top-bottom" },
	[REEL_OP_ROTATE180] = { "rotate180", ED, PIC, 0, 0, 0, { 0 }, { 0 }, { 0 }, { 0 },
	                        "turn the picture by 180 degrees" },
	[REEL_OP_FREEZE] = { "freeze", ED, PIC | REEL_OP_HOLDS, 1, 1, 0x1, { "frame" }, { 0 },
	                     { 4294967295.0 }, { 0 },
	                     "show FRAME, as it stands before this edit, over the whole range" },
	[REEL_OP_FADE_IN] = { "fade-in", ED, PIC, 0, 0, 0, { 0 }, { 0 }, { 0 }, { 0 },
	                      "fade the picture in from black over the range" },
	[REEL_OP_FADE_OUT] = { "fade-out", ED, PIC, 0, 0, 0, { 0 }, { 0 }, { 0 }, { 0 },
	                       "fade the picture out to black over the range" },
	[REEL_OP_SPEED] = { "speed", ED, REEL_OP_TIMELINE, 1, 1, 0, { "factor" }, { 0.125 }, { 8 }, { 0 },
	                    "play the range FACTOR times as fast in the output (frames dropped or repeated)" },
	[REEL_OP_BRIGHTNESS] = { "brightness", FX, PIC, 1, 1, 0, { "delta" }, { -1 }, { 1 }, { 0 },
	                         "add DELTA (-1..1 of full scale) to the luma" },
	[REEL_OP_CONTRAST] = { "contrast", FX, PIC, 1, 1, 0, { "factor" }, { 0 }, { 4 }, { 0 },
	                       "scale the luma around mid-grey by FACTOR" },
	[REEL_OP_GAMMA] = { "gamma", FX, PIC, 1, 1, 0, { "gamma" }, { 0.1 }, { 10 }, { 0 },
	                    "gamma-correct the luma (above 1 brightens)" },
	[REEL_OP_SATURATION] = { "saturation", FX, PIC, 1, 1, 0, { "factor" }, { 0 }, { 4 }, { 0 },
	                         "scale the colour by FACTOR (0 is grey)" },
	[REEL_OP_GRAYSCALE] = { "grayscale", FX, PIC, 0, 0, 0, { 0 }, { 0 }, { 0 }, { 0 }, "remove the colour" },
	[REEL_OP_INVERT] = { "invert", FX, PIC, 0, 0, 0, { 0 }, { 0 }, { 0 }, { 0 }, "make a negative" },
	[REEL_OP_BLUR] = { "blur", FX, PIC, 1, 1, 0x1, { "radius" }, { 1 }, { 32 }, { 0 },
	                   "box blur of RADIUS pixels" },
	[REEL_OP_SHARPEN] = { "sharpen", FX, PIC, 1, 1, 0, { "amount" }, { 0 }, { 4 }, { 0 },
	                      "unsharp mask of the luma with strength AMOUNT" },
	[REEL_OP_COLORBALANCE] = { "colorbalance", FX, PIC, 3, 3, 0, { "r", "g", "b" }, { -1, -1, -1 },
	                           { 1, 1, 1 }, { 0 },
	                           "add R, G, B (-1..1 of full scale) to the red, green and blue" },
	[REEL_OP_GAIN] = { "gain", AU, SND, 1, 1, 0, { "db" }, { -60 }, { 24 }, { 0 },
	                   "change the volume by DB decibels" },
	[REEL_OP_MUTE] = { "mute", AU, SND, 0, 0, 0, { 0 }, { 0 }, { 0 }, { 0 }, "silence the range" },
	[REEL_OP_AUDIO_FADE_IN] = { "audio-fade-in", AU, SND, 0, 0, 0, { 0 }, { 0 }, { 0 }, { 0 },
	                            "fade the sound in over the range" },
	[REEL_OP_AUDIO_FADE_OUT] = { "audio-fade-out", AU, SND, 0, 0, 0, { 0 }, { 0 }, { 0 }, { 0 },
	                             "fade the sound out over the range" },
	[REEL_OP_NORMALIZE] = { "normalize", AU, SND | REEL_OP_MEASURES, 1, 0, 0, { "peak-db" }, { -60 },
	                        { 0 }, { -1 },
	                        "scale the sound so that its peak over the range reaches PEAK-DB" },
	[REEL_OP_FAILED] = { "failed", CO, REEL_OP_CONTROL | REEL_OP_INTERNAL, 0, 0, 0, { 0 }, { 0 },
	                     { 0 }, { 0 }, "a command that failed (written by the coordinator)" },
	[REEL_OP_MEASURED] = { "measured", CO, REEL_OP_INTERNAL, 1, 1, 0, { "value" }, { 0 }, { 1e30 },
	                       { 0 }, "a value measured for a command (written by the coordinator)" },
};

static const struct {
	const char *alias;
	uint32_t op;
} aliases[] = {
	{ "afade-in", REEL_OP_AUDIO_FADE_IN },
	{ "afade-out", REEL_OP_AUDIO_FADE_OUT },
	{ "volume", REEL_OP_GAIN },
	{ "cut", REEL_OP_TRIM },
	{ "negate", REEL_OP_INVERT },
	{ "rotate", REEL_OP_ROTATE180 },
};

const struct reel_op_desc *reel_op_get(uint32_t op)
{
	if (op == REEL_OP_NONE || op >= REEL_OP_COUNT)
		return NULL;
	return &ops[op];
}

uint32_t reel_op_by_name(const char *name)
{
	if (!name)
		return REEL_OP_NONE;
	for (uint32_t op = 1; op < REEL_OP_COUNT; op++)
		if (!strcmp(ops[op].name, name))
			return op;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcmp(aliases[i].alias, name))
			return aliases[i].op;
	return REEL_OP_NONE;
}

int reel_op_check_params(uint32_t op, const double params[4])
{
	const struct reel_op_desc *d = reel_op_get(op);

	if (!d || !params)
		return REEL_E_BADMSG;
	for (uint32_t i = 0; i < 4; i++) {
		if (!isfinite(params[i]))
			return REEL_E_BADMSG;
		if (i >= d->nparams) {
			/* Unused parameters must be +0 so a message has one encoding (-0 == 0). */
			if (params[i] != 0 || signbit(params[i]))
				return REEL_E_BADMSG;
			continue;
		}
		if (params[i] < d->min[i] || params[i] > d->max[i])
			return REEL_E_BADMSG;
		if ((d->integer & (1u << i)) && params[i] != floor(params[i]))
			return REEL_E_BADMSG;
	}
	return 0;
}

__attribute__((format(printf, 3, 4)))
static int refuse(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return REEL_E_PARAM;
}

int reel_op_validate(uint32_t op, const double params[4], int64_t first, int64_t last,
                     const struct reel_op_limits *lim, char *why, size_t whylen)
{
	const struct reel_op_desc *d = reel_op_get(op);

	if (!d || (d->flags & (REEL_OP_INTERNAL | REEL_OP_CONTROL)))
		return refuse(why, whylen, "not an edit that can be sent");
	for (uint32_t i = 0; i < d->nparams; i++) {
		if (!isfinite(params[i]) || params[i] < d->min[i] || params[i] > d->max[i])
			return refuse(why, whylen, "%s: %s must lie in %g..%g", d->name, d->param_names[i],
			              d->min[i], d->max[i]);
		if ((d->integer & (1u << i)) && params[i] != floor(params[i]))
			return refuse(why, whylen, "%s: %s must be a whole number", d->name,
			              d->param_names[i]);
	}
	if (reel_op_check_params(op, params) < 0)
		return refuse(why, whylen, "%s takes %u parameters", d->name, d->nparams);
	if (first < 0 || last < first || (uint64_t)last >= lim->frames) {
		refuse(why, whylen, "frames %lld-%lld: the video has frames 0-%llu", (long long)first,
		       (long long)last, (unsigned long long)(lim->frames ? lim->frames - 1 : 0));
		return REEL_E_RANGE;
	}
	if (op == REEL_OP_CROP) {
		if (params[0] + params[2] > lim->width)
			return refuse(why, whylen, "crop: x + w = %g is beyond the width, %u", params[0] + params[2],
			              lim->width);
		if (params[1] + params[3] > lim->height)
			return refuse(why, whylen, "crop: y + h = %g is beyond the height, %u",
			              params[1] + params[3], lim->height);
	}
	if (op == REEL_OP_FREEZE && params[0] >= (double)lim->frames)
		return refuse(why, whylen, "freeze: frame %g does not exist (the video has %llu)", params[0],
		              (unsigned long long)lim->frames);
	if ((d->flags & REEL_OP_SOUND) && lim->sample_rate == 0)
		return refuse(why, whylen, "%s: the video has no sound", d->name);
	return 0;
}
