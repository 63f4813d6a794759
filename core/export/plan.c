/*
 * The export's plan: which source frames it shows, how often, and for how
 * long each time (see export.h for the rules).  A function of the journal
 * and the frame index only, never of what the slots hold.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/buffer.h"
#include "edit/edits.h"
#include "export/export.h"
#include "reel/error.h"

/*
 * How long frame f is on screen: until the next frame's timestamp.  The
 * last frame of the video lasts as long as the one before it (one nominal
 * frame interval in a video of one frame).  Never 0, so that timestamps
 * always grow, even over a damaged index.
 */
static int frame_duration(const struct reel_buffer *b, int64_t f, int64_t *ret)
{
	const struct reel_buffer_info *in = reel_buffer_info(b);
	struct reel_index_entry e, other;
	int64_t d;
	int r;

	r = reel_index_get(b, (uint64_t)f, &e);
	if (r < 0)
		return r;
	if ((uint64_t)f + 1 < reel_index_end(b)) {
		r = reel_index_get(b, (uint64_t)f + 1, &other);
		d = other.pts - e.pts;
	} else if (f > 0) {
		r = reel_index_get(b, (uint64_t)f - 1, &other);
		d = e.pts - other.pts;
	} else {
		/* time_base.den / (time_base.num × frame rate), rounded */
		double v = (double)in->time_base.den * in->frame_rate.den /
		           ((double)in->time_base.num * in->frame_rate.num);
		d = (int64_t)(v + 0.5);
	}
	if (r < 0)
		return r;
	*ret = d > 0 ? d : 1;
	return 0;
}

int reel_export_plan(const struct reel_buffer *b, int64_t first, int64_t last,
                     struct reel_export_plan *ret)
{
	const struct reel_buffer_info *in = reel_buffer_info(b);
	struct reel_export_plan plan = { .time_base = in->time_base };
	struct reel_edits *edits = NULL;
	uint32_t *counts = NULL;
	int r;

	/* Frames still being counted cannot be planned: the caller waits for the count. */
	if (reel_buffer_frames(b) == 0)
		return REEL_E_NOTYET;
	if (first < 0 || last < first || (uint64_t)last >= reel_buffer_frames(b))
		return REEL_E_RANGE;
	r = reel_edits_new(in->frame_count, &edits);
	if (r < 0)
		return r;
	r = reel_edits_sync(edits, b);
	if (r < 0)
		goto out_free;
	r = 0;
	counts = malloc(in->frame_count * sizeof(*counts));
	plan.steps = malloc((size_t)(last - first + 1) * sizeof(*plan.steps));
	if (!counts || !plan.steps) {
		r = -ENOMEM;
		goto out_free;
	}
	reel_edits_output(edits, counts);
	for (int64_t f = first; f <= last; f++) {
		struct reel_export_step *s = &plan.steps[plan.nsteps];

		if (counts[f] == 0)
			continue;
		s->frame = f;
		s->count = counts[f];
		r = frame_duration(b, f, &s->duration);
		if (r < 0)
			goto out_free;
		plan.output_frames += s->count;
		plan.output_duration += (int64_t)s->count * s->duration;
		plan.nsteps++;
	}
	*ret = plan;
	plan.steps = NULL;
out_free:
	free(plan.steps);
	free(counts);
	reel_edits_free(edits);
	return r;
}

void reel_export_plan_fini(struct reel_export_plan *plan)
{
	if (!plan)
		return;
	free(plan->steps);
	memset(plan, 0, sizeof(*plan));
}
