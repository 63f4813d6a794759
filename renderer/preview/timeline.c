/*
 * When each frame is shown: the buffer's frame index holds every frame's
 * real timestamp (a variable frame rate stays variable), read once at start
 * and kept as seconds from the first frame, the clock the sound and the
 * overlay's timecode use.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "buffer/buffer.h"
#include "preview.h"
#include "reel/error.h"

int timeline_load(const struct reel_buffer *b, struct timeline *t)
{
	const struct reel_buffer_info *in = reel_buffer_info(b);
	/* 0 while the coordinator counts the frames: the caller waited for the count (reel_client_video). */
	uint64_t n = reel_buffer_frames(b);
	struct reel_index_entry e0, e;
	double tb;

	t->frames = n;
	t->start = NULL;
	if (n == 0)
		return REEL_E_NOTYET;
	if (n > SIZE_MAX / sizeof(double) ||
	    in->time_base.num <= 0 || in->time_base.den <= 0 || in->frame_rate.num <= 0 ||
	    in->frame_rate.den <= 0)
		return -EINVAL;
	t->start = malloc(n * sizeof(double));
	if (!t->start)
		return -ENOMEM;
	tb = (double)in->time_base.num / in->time_base.den;
	t->fps = (double)in->frame_rate.num / in->frame_rate.den;
	t->period = 1.0 / t->fps;
	if (reel_index_get(b, 0, &e0) < 0)
		e0.pts = 0;
	for (uint64_t f = 0; f < n; f++) {
		double s = f * t->period;

		if (reel_index_get(b, f, &e) == 0)
			s = (double)(e.pts - e0.pts) * tb;
		/* Presentation order: a time going backwards is damage, and is not followed. */
		if (!isfinite(s) || (f > 0 && s < t->start[f - 1]))
			s = f > 0 ? t->start[f - 1] : 0;
		t->start[f] = s;
	}
	t->end = t->start[t->frames - 1] + t->period;
	t->exact = reel_index_ready(b) == n;
	return 0;
}

void timeline_refresh(const struct reel_buffer *b, struct timeline *t)
{
	struct timeline fresh;

	if (t->exact || reel_index_ready(b) < t->frames)
		return;
	if (timeline_load(b, &fresh) == 0 && fresh.frames == t->frames) {
		timeline_free(t);
		*t = fresh;
	} else {
		timeline_free(&fresh);
	}
}

void timeline_free(struct timeline *t)
{
	free(t->start);
	t->start = NULL;
}

uint64_t timeline_frame_at(const struct timeline *t, double seconds)
{
	uint64_t lo = 0, hi = t->frames;

	/* The first frame that starts after `seconds`; the one before it is on screen. */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (t->start[mid] <= seconds)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : 0;
}

double timeline_time(const struct timeline *t, uint64_t frame)
{
	return t->start[frame < t->frames ? frame : t->frames - 1];
}

void timeline_timecode(double seconds, char *buf, size_t len)
{
	long long ms = seconds > 0 ? llround(seconds * 1000) : 0;

	snprintf(buf, len, "%02lld:%02lld:%02lld.%03lld", ms / 3600000, ms / 60000 % 60,
	         ms / 1000 % 60, ms % 1000);
}
