/*
 * Edits on the command line (see edit-args.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "edit-args.h"
#include "media/media.h"
#include "reel/error.h"
#include "reel/ops.h"

static bool number(const char *s, double *ret)
{
	char *end;
	double v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return false;
	*ret = v;
	return true;
}

static bool frame_number(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0)
		return false;
	*ret = v;
	return true;
}

/* "A-B", "A" or "A-". */
static int parse_frames(const char *text, uint64_t frames, int64_t *first, int64_t *last)
{
	char buf[64];
	char *dash;

	if (strlen(text) >= sizeof(buf))
		return -1;
	strcpy(buf, text);
	dash = strchr(buf, '-');
	if (dash)
		*dash = 0;
	if (!frame_number(buf, first))
		return -1;
	if (!dash)
		*last = *first;
	else if (!dash[1])
		*last = frames ? (int64_t)frames - 1 : 0;
	else if (!frame_number(dash + 1, last))
		return -1;
	return 0;
}

/*
 * While the coordinator still builds the index (in the background, from
 * the first open of a file), a time past its end waits for it: about a
 * second per hour of video.  A minute without an answer gives up.
 */
#define INDEX_WAIT_MS 60000

/* After a lookup said REEL_E_NOTYET: wait a little and say whether to look again. */
static bool index_may_grow(const struct reel_buffer *b, int *waited)
{
	if (*waited >= INDEX_WAIT_MS || reel_index_failed(b))
		return false;
	usleep(5000);
	*waited += 5;
	return true;
}

/*
 * The frame count, waited for while the coordinator counts the frames (a
 * container that does not list them, opened moments ago).  -1 with why.
 */
static int count_waiting(const struct reel_buffer *b, uint64_t *ret, char *why, size_t len)
{
	int waited = 0;

	while ((*ret = reel_buffer_frames(b)) == 0)
		if (!index_may_grow(b, &waited)) {
			if (reel_index_failed(b))
				snprintf(why, len, "the video's frames could not be counted (%s); reopen the "
				         "session to index the whole file", reel_strerror(reel_index_failed(b)));
			else
				snprintf(why, len, "the video's frames are still being counted, and were not "
				         "in a minute");
			return -1;
		}
	return 0;
}

static int lower_bound_waiting(const struct reel_buffer *b, int64_t pts, uint64_t *ret)
{
	int r, waited = 0;

	while ((r = reel_index_lower_bound(b, pts, ret)) == REEL_E_NOTYET &&
	       index_may_grow(b, &waited))
		;
	return r;
}

int cli_wait_index(const struct reel_buffer *b)
{
	int waited = 0;

	while (reel_buffer_frames(b) == 0 || reel_index_ready(b) < reel_buffer_frames(b))
		if (!index_may_grow(b, &waited))
			return reel_index_failed(b) ? reel_index_failed(b) : REEL_E_NOTYET;
	return 0;
}

static int pts_of_time_waiting(const struct reel_buffer *b, int64_t us, int64_t *ret)
{
	int r, waited = 0;

	while ((r = reel_index_pts_of_time(b, us, ret)) == REEL_E_NOTYET &&
	       index_may_grow(b, &waited))
		;
	return r;
}

static int parse_times(const char *text, const struct reel_buffer *b, int64_t *first, int64_t *last,
                       char *why, size_t len)
{
	char buf[128];
	char *dash;
	int64_t t1, t2, p1, p2;
	uint64_t a, z;

	if (strlen(text) >= sizeof(buf)) {
		snprintf(why, len, "--time %s: not a time (e.g. 6.5, 1:02.5 or 00:01:02.5)", text);
		return -1;
	}
	strcpy(buf, text);
	/* A time never starts with '-', so the first '-' after the first character splits. */
	dash = strchr(buf + 1, '-');
	if (dash)
		*dash = 0;
	if (reel_media_parse_time(buf, &t1) < 0 || t1 < 0 ||
	    (dash && (reel_media_parse_time(dash + 1, &t2) < 0 || t2 <= t1))) {
		snprintf(why, len, "--time %s: not a time or a range T1-T2 of times (e.g. 6.5, 1:02.5, "
		         "00:01:02.5-00:01:10)", text);
		return -1;
	}
	if (pts_of_time_waiting(b, t1, &p1) < 0 || lower_bound_waiting(b, p1, &a) < 0)
		goto out_index;
	if (a >= reel_index_end(b)) {
		/* Nothing starts at or after t1: `ffmpeg -ss t1` would give no frame either. */
		snprintf(why, len, "--time %s: no frame starts at or after %s (the last one starts at "
		         "%.3f s)", text, buf, reel_index_seconds(b, reel_index_end(b) - 1));
		return -1;
	}
	if (!dash) {
		/* The first frame that starts at or after t1: the one `ffmpeg -ss t1` decodes first. */
		*first = *last = (int64_t)a;
		return 0;
	}
	if (pts_of_time_waiting(b, t2, &p2) < 0 || lower_bound_waiting(b, p2, &z) < 0)
		goto out_index;
	if (a >= z) {
		snprintf(why, len, "--time %s: no frame starts in that time", text);
		return -1;
	}
	*first = (int64_t)a;
	*last = (int64_t)z - 1;
	return 0;

out_index:
	if (reel_index_failed(b))
		snprintf(why, len, "the frame index could not be built past frame %llu (%s); reopen "
		         "the session to index the whole file", (unsigned long long)reel_index_ready(b),
		         reel_strerror(reel_index_failed(b)));
	else
		snprintf(why, len, reel_buffer_frames(b) == 0 || reel_index_ready(b) < reel_index_end(b) ?
		         "the frame index is still being built, and did not reach that time in a minute" :
		         "the buffer's frame index is damaged");
	return -1;
}

int cli_frame_at(const struct reel_buffer *b, const char *time, int64_t *ret_frame, char *why,
                 size_t whylen)
{
	int64_t last;

	if (strchr(time + (time[0] ? 1 : 0), '-')) {
		snprintf(why, whylen, "--time %s: one time, not a range", time);
		return -1;
	}
	return parse_times(time, b, ret_frame, &last, why, whylen);
}

int cli_parse_range(const char *frames, const char *times, const struct reel_buffer *b,
                    int64_t *ret_first, int64_t *ret_last, char *why, size_t len)
{
	uint64_t count;
	int64_t first = 0, last;

	if (count_waiting(b, &count, why, len) < 0)
		return -1;
	last = (int64_t)count - 1;
	if (frames && times) {
		snprintf(why, len, "give one --frames or one --time");
		return -1;
	}
	if (frames && parse_frames(frames, count, &first, &last) < 0) {
		snprintf(why, len, "--frames %s: expected A-B, A or A- (frame numbers from 0)", frames);
		return -1;
	}
	if (times && parse_times(times, b, &first, &last, why, len) < 0)
		return -1;
	if (frames && last < first) {
		snprintf(why, len, "--frames %s: the range ends before it starts", frames);
		return -1;
	}
	if (count == 0 || (uint64_t)last >= count) {
		snprintf(why, len, "--frames %s: frame %lld is out of range (the video has %llu frames, "
		         "0 to %llu)", frames ? frames : "", (long long)last, (unsigned long long)count,
		         (unsigned long long)(count ? count - 1 : 0));
		return -1;
	}
	*ret_first = first;
	*ret_last = last;
	return 0;
}

double cli_frame_seconds(const struct reel_buffer *b, int64_t frame)
{
	return frame < 0 ? 0 : reel_index_seconds(b, (uint64_t)frame);
}

int cli_parse_edit(int argc, char **argv, const struct reel_buffer *b, struct cli_edit *ret,
                   char *why, size_t len)
{
	const struct reel_buffer_info *in = reel_buffer_info(b);
	const struct reel_op_desc *d;
	struct reel_op_limits lim = { in->width, in->height, 0, in->sample_rate };
	const char *frames = NULL, *times = NULL;
	uint32_t given = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (count_waiting(b, &lim.frames, why, len) < 0)
		return -1;
	if (argc < 1) {
		snprintf(why, len, "no edit given (see 'reel send --help')");
		return -1;
	}
	ret->op = reel_op_by_name(argv[0]);
	d = reel_op_get(ret->op);
	if (!d || (d->flags & (REEL_OP_CONTROL | REEL_OP_INTERNAL))) {
		snprintf(why, len, "'%s' is not an edit (see 'reel send --help')", argv[0]);
		return -1;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *value = NULL;
		double v;

		if (!strncmp(a, "--frames", 8) || !strncmp(a, "--time", 6)) {
			bool is_frames = a[2] == 'f';
			const char *eq = strchr(a, '=');
			size_t n = eq ? (size_t)(eq - a) : strlen(a);
			if (n != (is_frames ? 8u : 6u)) {
				snprintf(why, len, "unknown option '%s'", a);
				return -1;
			}
			value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (!value || !*value) {
				snprintf(why, len, "option '%s' needs a value", is_frames ? "--frames" : "--time");
				return -1;
			}
			if ((is_frames && frames) || (!is_frames && times) || (is_frames ? times : frames)) {
				snprintf(why, len, "give one --frames or one --time");
				return -1;
			}
			*(is_frames ? &frames : &times) = value;
			continue;
		}
		if (number(a, &v)) {
			if (given == d->nparams) {
				snprintf(why, len, "%s takes %u parameter%s; '%s' is one too many", d->name,
				         d->nparams, d->nparams == 1 ? "" : "s", a);
				return -1;
			}
			ret->params[given++] = v;
			continue;
		}
		snprintf(why, len, a[0] == '-' ? "unknown option '%s'" : "'%s' is not a number", a);
		return -1;
	}
	ret->first = 0;
	ret->last = (int64_t)lim.frames - 1;
	if (frames && parse_frames(frames, lim.frames, &ret->first, &ret->last) < 0) {
		snprintf(why, len, "--frames %s: expected A-B, A or A- (frame numbers from 0)", frames);
		return -1;
	}
	if (times && parse_times(times, b, &ret->first, &ret->last, why, len) < 0)
		return -1;
	if (given < d->nrequired) {
		/* A freeze holds the first frame of its range unless told otherwise. */
		if (ret->op == REEL_OP_FREEZE && given == 0) {
			ret->params[0] = (double)ret->first;
			given = 1;
		} else {
			snprintf(why, len, "%s needs %u parameter%s (see 'reel send --help')", d->name,
			         d->nrequired, d->nrequired == 1 ? "" : "s");
			return -1;
		}
	}
	for (uint32_t i = given; i < d->nparams; i++)
		ret->params[i] = d->def[i];
	r = reel_op_validate(ret->op, ret->params, ret->first, ret->last, &lim, why, len);
	return r < 0 ? -1 : 0;
}

/* The shortest decimal that reads back as the same double. */
static void print_number(FILE *out, double v)
{
	char buf[32];

	for (int digits = 6; digits <= 17; digits++) {
		snprintf(buf, sizeof(buf), "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, out);
}

void cli_format_edit(FILE *out, uint32_t op, const double params[4], int64_t first, int64_t last)
{
	const struct reel_op_desc *d = reel_op_get(op);

	fputs(d ? d->name : "?", out);
	for (uint32_t i = 0; d && i < d->nparams; i++) {
		fputc(' ', out);
		print_number(out, params[i]);
	}
	if (first == last)
		fprintf(out, " --frames %lld", (long long)first);
	else
		fprintf(out, " --frames %lld-%lld", (long long)first, (long long)last);
}

void cli_print_ops(FILE *out)
{
	static const unsigned roles[] = { REEL_ROLE_EDITOR, REEL_ROLE_EFFECT, REEL_ROLE_AUDIO };
	static const char *const titles[] = { "editor", "effects", "audio" };

	for (size_t r = 0; r < 3; r++) {
		fprintf(out, "%s:\n", titles[r]);
		for (uint32_t op = 1; op < REEL_OP_COUNT; op++) {
			const struct reel_op_desc *d = reel_op_get(op);
			char usage[64], bounds[160] = "";
			size_t n;

			if (d->role != roles[r] || (d->flags & REEL_OP_INTERNAL))
				continue;
			snprintf(usage, sizeof(usage), "%s", d->name);
			for (uint32_t i = 0; i < d->nparams; i++) {
				/* A freeze's frame may be left out: the first frame of the range. */
				bool optional = i >= d->nrequired || op == REEL_OP_FREEZE;
				char upper[16];
				size_t k;

				for (k = 0; d->param_names[i][k] && k < sizeof(upper) - 1; k++)
					upper[k] = (char)(d->param_names[i][k] >= 'a' && d->param_names[i][k] <= 'z'
					                  ? d->param_names[i][k] - 32 : d->param_names[i][k]);
				upper[k] = 0;
				n = strlen(usage);
				snprintf(usage + n, sizeof(usage) - n, optional ? " [%s]" : " %s", upper);
				n = strlen(bounds);
				if (op == REEL_OP_FREEZE)
					snprintf(bounds + n, sizeof(bounds) - n, "FRAME: a frame number (default: the "
					         "first of the range)");
				else
					snprintf(bounds + n, sizeof(bounds) - n, "%s%s %g..%g", i ? ", " : "", upper,
					         d->min[i], d->max[i]);
				if (optional && op != REEL_OP_FREEZE) {
					n = strlen(bounds);
					snprintf(bounds + n, sizeof(bounds) - n, " (default %g)", d->def[i]);
				}
			}
			fprintf(out, "  %-22s %s\n", usage, d->help);
			if (bounds[0])
				fprintf(out, "  %-22s %s\n", "", bounds);
		}
	}
	fprintf(out, "other names: cut (trim), negate (invert), volume (gain), afade-in and afade-out\n"
	             "(audio-fade-in and audio-fade-out)\n");
}

int cli_split_words(char *line, char **words, int max)
{
	int n = 0;

	for (char *p = line; *p && n < max;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p || *p == '#')
			break;
		words[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			p++;
		if (*p)
			*p++ = 0;
	}
	return n;
}
