/*
 * Applying the journal to frames (see apply.h).
 *
 * A held picture (what a freeze shows) is the source frame decoded afresh
 * by the applier's own decoder, then brought to the state just before the
 * freeze with the picture edits in effect; a freeze among those asks for its
 * own held picture, and so on down (each step goes to an earlier sequence,
 * so it ends).  Pictures are cached by (frame, sequence) and checked before
 * use against the latest undo, redo or failure that reached their frame.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "edit/apply.h"
#include "edit/edits.h"
#include "edit/scratch.h"
#include "media/media.h"
#include "reel/error.h"
#include "reel/ops.h"

#define STEPS 64
#define HELD_CACHE 4
/* Freezes of freezes of ... deeper than this are refused rather than recursed into. */
#define MAX_DEPTH 32
/* Frames measured between two progress calls. */
#define PROGRESS_EVERY 32

struct held {
	int64_t frame;
	uint64_t before;           /* the picture is the state before this sequence */
	uint64_t checked;          /* latest control that had reached the frame when built */
	uint64_t used;
	uint8_t *data;
	struct reel_frame view;
};

struct reel_applier {
	struct reel_applier_config cfg;
	char *source;
	const struct reel_buffer_info *info;
	struct reel_media *media;  /* opened on first need */
	struct reel_scratch scratch;
	struct held held[HELD_CACHE];
	uint64_t tick;
	float *sound;              /* one frame's sound, for measuring */
};

int reel_applier_new(const struct reel_applier_config *cfg, struct reel_applier **ret_applier)
{
	struct reel_applier *a;

	if (!cfg || !cfg->buffer || !cfg->edits)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	a->info = reel_buffer_info(cfg->buffer);
	if (cfg->source) {
		a->source = strdup(cfg->source);
		if (!a->source) {
			free(a);
			return -ENOMEM;
		}
	}
	a->cfg.source = a->source;
	for (int i = 0; i < HELD_CACHE; i++)
		a->held[i].frame = -1;
	*ret_applier = a;
	return 0;
}

void reel_applier_free(struct reel_applier *a)
{
	if (!a)
		return;
	for (int i = 0; i < HELD_CACHE; i++)
		free(a->held[i].data);
	reel_media_close(a->media);
	reel__scratch_fini(&a->scratch);
	free(a->sound);
	free(a->source);
	free(a);
}

/*
 * What a decode of the source gave, unless the source lost pages under it
 * (base/guard.h): then the loss, so that nothing decoded from zeros is
 * used and the reason is the real one.
 */
static int source_checked(const struct reel_applier *a, int r)
{
	int lost = reel_media_lost(a->media);

	return lost < 0 ? lost : r;
}

static int open_media(struct reel_applier *a)
{
	struct reel_source_id id;
	int r;

	if (a->media)
		return 0;
	if (!a->source)
		return REEL_E_EDIT;
	r = reel_media_open(a->source, &a->media);
	if (r < 0)
		return r;
	/* Rebuilding from another file than the buffer's would give other pixels. */
	r = reel_media_source_id(a->media, &id);
	if (r == 0 && (id.size != a->info->source.size ||
	               memcmp(id.hash, a->info->source.hash, sizeof(id.hash)) != 0))
		r = REEL_E_SOURCE;
	if (r < 0) {
		reel_media_close(a->media);
		a->media = NULL;
	}
	return r;
}

/* ------------------------------------------------------------ context */

/*
 * A sound edit's range may end past the part of the index built so far
 * (the coordinator builds it in the background after the first open, about
 * a second per hour of video): its time is waited for, at most a minute.
 */
#define INDEX_WAIT_US (60 * 1000 * 1000)

static int pts_of(struct reel_applier *a, int64_t frame, int64_t *ret_pts)
{
	struct reel_index_entry e;
	int r = reel_index_get(a->cfg.buffer, (uint64_t)frame, &e);

	for (long waited = 0; r == REEL_E_NOTYET && waited < INDEX_WAIT_US &&
	                      !reel_index_failed(a->cfg.buffer); waited += 1000) {
		usleep(1000);
		r = reel_index_get(a->cfg.buffer, (uint64_t)frame, &e);
	}

	if (r == 0)
		*ret_pts = e.pts;
	return r;
}

/* The global sample number where frame `frame` ends (the next one starts). */
static int sample_end(struct reel_applier *a, int64_t frame, int64_t *ret)
{
	const struct reel_buffer_info *in = a->info;
	int64_t pts = 0, prev = 0, d = 0;
	int r;

	if ((uint64_t)frame + 1 < reel_index_end(a->cfg.buffer)) {
		r = pts_of(a, frame + 1, &pts);
		if (r == 0)
			*ret = reel_media_sample_at(pts, in->time_base, in->sample_rate);
		return r;
	}
	r = pts_of(a, frame, &pts);
	if (r < 0)
		return r;
	/* The last frame lasts as long as the one before it, or one nominal frame. */
	if (frame > 0 && pts_of(a, frame - 1, &prev) == 0 && prev < pts)
		d = pts - prev;
	if (d <= 0 && in->frame_rate.num > 0 && in->frame_rate.den > 0 && in->time_base.num > 0)
		d = (int64_t)llround((double)in->frame_rate.den * in->time_base.den /
		                     ((double)in->frame_rate.num * in->time_base.num));
	if (d <= 0)
		d = 1;
	*ret = reel_media_sample_at(pts + d, in->time_base, in->sample_rate);
	return 0;
}

static int fill_context(struct reel_applier *a, const struct reel_edit *edit, int64_t frame,
                        struct reel_frame_ctx *ctx)
{
	const struct reel_buffer_info *in = a->info;
	int64_t pts = 0;
	int r;

	memset(ctx, 0, sizeof(*ctx));
	ctx->edit = edit;
	ctx->frame = frame;
	ctx->width = in->width;
	ctx->height = in->height;
	ctx->sample_rate = in->sample_rate;
	ctx->scratch = &a->scratch;
	if (in->sample_rate == 0)
		return 0;
	r = pts_of(a, frame, &pts);
	if (r == 0) {
		ctx->sample_start = reel_media_sample_at(pts, in->time_base, in->sample_rate);
		r = pts_of(a, edit->first, &pts);
	}
	if (r == 0) {
		ctx->range_sample_start = reel_media_sample_at(pts, in->time_base, in->sample_rate);
		r = sample_end(a, edit->last, &ctx->range_sample_end);
	}
	return r;
}

/* -------------------------------------------------------- held pictures */

static int bring_picture(struct reel_applier *a, int64_t frame, struct reel_frame *view,
                         uint64_t upto, int depth);

static struct held *held_slot(struct reel_applier *a)
{
	struct held *best = &a->held[0];

	for (int i = 1; i < HELD_CACHE; i++)
		if (a->held[i].used < best->used)
			best = &a->held[i];
	return best;
}

static int alloc_picture(struct reel_applier *a, struct held *h)
{
	const struct reel_buffer_info *in = a->info;
	size_t size = 0, off[3];

	if (h->data)
		return 0;
	for (int i = 0; i < 3; i++) {
		off[i] = size;
		size += (size_t)in->plane_stride[i] * (i ? (in->height + 1) / 2 : in->height);
	}
	h->data = malloc(size);
	if (!h->data)
		return -ENOMEM;
	for (int i = 0; i < 3; i++) {
		h->view.plane[i] = h->data + off[i];
		h->view.stride[i] = in->plane_stride[i];
		h->view.width[i] = i ? (in->width + 1) / 2 : in->width;
		h->view.height[i] = i ? (in->height + 1) / 2 : in->height;
	}
	h->view.audio = NULL;
	h->view.audio_capacity = h->view.audio_samples = h->view.channels = 0;
	return 0;
}

/* Frame `frame` as it stands just before sequence `before`, picture only. */
static int held_picture(struct reel_applier *a, int64_t frame, uint64_t before, int depth,
                        const struct reel_frame **ret)
{
	uint64_t checked = reel_edits_last_change(a->cfg.edits, frame, true);
	struct held *h;
	int r;

	if (depth > MAX_DEPTH)
		return REEL_E_EDIT;
	for (int i = 0; i < HELD_CACHE; i++) {
		h = &a->held[i];
		if (h->frame == frame && h->before == before && h->checked == checked) {
			h->used = ++a->tick;
			*ret = &h->view;
			return 0;
		}
	}
	r = open_media(a);
	if (r < 0)
		return r;
	h = held_slot(a);
	h->frame = -1;
	r = alloc_picture(a, h);
	if (r == 0)
		r = source_checked(a, reel_media_decode_picture(a->media, a->cfg.buffer, (uint64_t)frame,
		                                                &h->view));
	if (r == 0)
		r = bring_picture(a, frame, &h->view, before - 1, depth + 1);
	if (r < 0)
		return r;
	h->frame = frame;
	h->before = before;
	h->checked = checked;
	h->used = ++a->tick;
	*ret = &h->view;
	return 0;
}

static int apply_at(struct reel_applier *a, const struct reel_edit *edit, int64_t frame,
                    struct reel_frame *view, reel_frame_fn fn, void *userdata, int depth)
{
	const struct reel_op_desc *d = reel_op_get(edit->op);
	struct reel_frame_ctx ctx;
	int r;

	if (!d)
		return REEL_E_EDIT;
	if (!fn) {
		fn = a->cfg.lookup ? a->cfg.lookup(edit->op) : NULL;
		userdata = NULL;
	}
	/* Ops with nothing to do per frame (trim, speed) have no implementation. */
	if (!fn)
		return (d->flags & (REEL_OP_PICTURE | REEL_OP_SOUND)) ? REEL_E_EDIT : 0;
	r = fill_context(a, edit, frame, &ctx);
	if (r < 0)
		return r;
	if (d->flags & REEL_OP_HOLDS) {
		/* The source frame as it stood just before this edit, never what a slot holds now. */
		r = held_picture(a, (int64_t)edit->params[0], edit->seq, depth, &ctx.held);
		if (r < 0)
			return r;
	}
	return fn(&ctx, view, userdata);
}

int reel_applier_apply(struct reel_applier *a, const struct reel_edit *edit, int64_t frame,
                       struct reel_frame *view, reel_frame_fn fn, void *userdata)
{
	return apply_at(a, edit, frame, view, fn, userdata, 0);
}

static int bring_mask(struct reel_applier *a, int64_t frame, struct reel_frame *view, uint64_t from,
                      uint64_t upto, uint32_t mask, int depth, uint64_t *ret_reached,
                      uint64_t *ret_failed)
{
	struct reel_edit steps[STEPS];
	uint64_t reached = from;
	int r = 0;

	for (;;) {
		uint64_t to;
		size_t n = reel_edits_steps(a->cfg.edits, frame, reached, upto, mask, steps, STEPS, &to);

		for (size_t i = 0; i < n; i++) {
			r = apply_at(a, &steps[i], frame, view, NULL, NULL, depth);
			if (r < 0) {
				if (ret_failed)
					*ret_failed = steps[i].seq;
				goto out;
			}
			reached = steps[i].seq;
		}
		/* A full batch may have more behind it; otherwise the frame is where the index says. */
		if (n < STEPS) {
			reached = to;
			break;
		}
	}
out:
	*ret_reached = reached;
	return r;
}

static int bring_picture(struct reel_applier *a, int64_t frame, struct reel_frame *view,
                         uint64_t upto, int depth)
{
	uint64_t reached;

	return bring_mask(a, frame, view, 0, upto, REEL_OP_PICTURE, depth, &reached, NULL);
}

int reel_applier_bring(struct reel_applier *a, int64_t frame, struct reel_frame *view,
                       uint64_t from, uint64_t upto, uint64_t *ret_reached, uint64_t *ret_failed_seq)
{
	return bring_mask(a, frame, view, from, upto, REEL_OP_PICTURE | REEL_OP_SOUND, 0, ret_reached,
	                  ret_failed_seq);
}

/* ---------------------------------------------------------------- peak */

int reel_applier_peak(struct reel_applier *a, uint64_t seq, int64_t first, int64_t last,
                      double *ret_peak)
{
	const struct reel_buffer_info *in = a->info;
	struct reel_frame view;
	double peak = 0;
	int r;

	if (first < 0 || last < first || (uint64_t)last >= in->frame_count || seq == 0)
		return REEL_E_RANGE;
	if (in->sample_rate == 0 || in->channels == 0) {
		*ret_peak = 0;
		return 0;
	}
	r = open_media(a);
	if (r < 0)
		return r;
	if (!a->sound) {
		a->sound = malloc((size_t)in->audio_capacity * in->channels * sizeof(float));
		if (!a->sound)
			return -ENOMEM;
	}
	memset(&view, 0, sizeof(view));
	view.audio = a->sound;
	view.audio_capacity = in->audio_capacity;
	view.channels = in->channels;
	for (int64_t f = first; f <= last; f++) {
		uint64_t reached;
		uint32_t n;
		size_t count;

		if (a->cfg.progress && (f - first) % PROGRESS_EVERY == 0 &&
		    a->cfg.progress(a->cfg.progress_data))
			return -ECANCELED;
		r = source_checked(a, reel_media_decode_audio(a->media, a->cfg.buffer, (uint64_t)f,
		                                              &view, &n));
		if (r < 0)
			return r;
		view.audio_samples = n;
		r = bring_mask(a, f, &view, 0, seq - 1, REEL_OP_SOUND, 0, &reached, NULL);
		if (r < 0)
			return r;
		if (reached < seq - 1)
			return -EAGAIN;
		count = (size_t)view.audio_samples * view.channels;
		for (size_t i = 0; i < count; i++) {
			double v = fabs((double)a->sound[i]);
			if (v > peak)
				peak = v;
		}
	}
	*ret_peak = peak;
	return 0;
}
