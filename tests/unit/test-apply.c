/*
 * The applier (core/edit/apply.c) on real decoded frames: a frame brought
 * up to date equals the ops applied one by one; a freeze shows its source
 * frame as it stood before the freeze, rebuilt from the source and the
 * journal, and is rebuilt again after an undo reaches it; a normalize
 * waits for its measurement, and the peak measured is that of the sound
 * before it; sound edits ramp over the range's samples whatever the cut.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buffer/buffer.h"
#include "buffer/journal.h"
#include "edit/apply.h"
#include "edit/edits.h"
#include "edit/ops-impl.h"
#include "edit/scratch.h"
#include "media/media.h"
#include "reel/error.h"
#include "reel/ops.h"
#include "testutil.h"

struct fixture {
	char *dir;
	const char *clip;
	struct reel_media *media;
	struct reel_buffer *buffer;
	const struct reel_buffer_info *info;
	struct reel_edits *edits;
	struct reel_applier *applier;
	uint64_t n;
};

/* A private frame of the buffer's geometry, sound included. */
struct pframe {
	uint8_t *data;
	float *audio;
	struct reel_frame v;
};

static void pframe_new(const struct reel_buffer_info *in, struct pframe *p)
{
	size_t off[3], size = 0;

	for (int i = 0; i < 3; i++) {
		off[i] = size;
		size += (size_t)in->plane_stride[i] * (i ? (in->height + 1) / 2 : in->height);
	}
	p->data = calloc(1, size);
	p->audio = calloc((size_t)in->audio_capacity * in->channels + 1, sizeof(float));
	assert_non_null(p->data);
	memset(&p->v, 0, sizeof(p->v));
	for (int i = 0; i < 3; i++) {
		p->v.plane[i] = p->data + off[i];
		p->v.stride[i] = in->plane_stride[i];
		p->v.width[i] = i ? (in->width + 1) / 2 : in->width;
		p->v.height[i] = i ? (in->height + 1) / 2 : in->height;
	}
	p->v.audio = p->audio;
	p->v.audio_capacity = in->audio_capacity;
	p->v.channels = in->channels;
}

static void pframe_free(struct pframe *p)
{
	free(p->data);
	free(p->audio);
}

/* Frame f decoded from source: the picture and the frame's sound. */
static void decode(struct fixture *fx, int64_t f, struct pframe *p)
{
	uint32_t n = 0;

	assert_int_equal(reel_media_decode_picture(fx->media, fx->buffer, (uint64_t)f, &p->v), 0);
	assert_int_equal(reel_media_decode_audio(fx->media, fx->buffer, (uint64_t)f, &p->v, &n), 0);
	p->v.audio_samples = n;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const struct reel_media_info *mi;
	struct reel_buffer_params params;
	struct reel_index_entry *index;
	uint32_t max_audio;
	char path[4096];

	fx->clip = tu_clip("h264-bframes.mp4");
	assert_non_null(fx->clip);
	assert_int_equal(reel_media_open(fx->clip, &fx->media), 0);
	assert_int_equal(reel_media_scan(fx->media, &index, &fx->n, &max_audio), 0);
	mi = reel_media_info(fx->media);
	memset(&params, 0, sizeof(params));
	params.width = mi->width;
	params.height = mi->height;
	params.frame_count = fx->n;
	params.slot_count = (uint32_t)fx->n;
	params.frame_rate = mi->frame_rate;
	params.time_base = mi->time_base;
	params.sample_rate = mi->sample_rate;
	params.channels = mi->channels;
	params.audio_capacity = max_audio;
	assert_int_equal(reel_media_source_id(fx->media, &params.source), 0);
	fx->dir = tu_tempdir();
	snprintf(path, sizeof(path), "%s/a.reel", fx->dir);
	assert_int_equal(reel_buffer_create(path, &params, &fx->buffer), 0);
	for (uint64_t i = 0; i < fx->n; i++)
		assert_int_equal(reel_index_put(fx->buffer, i, &index[i]), 0);
	assert_int_equal(reel_index_commit(fx->buffer), 0);
	free(index);
	fx->info = reel_buffer_info(fx->buffer);
	assert_int_equal(reel_edits_new(fx->n, &fx->edits), 0);
	{
		const struct reel_applier_config ac = { .buffer = fx->buffer, .edits = fx->edits,
		                                        .lookup = reel_op_impl, .source = fx->clip };
		assert_int_equal(reel_applier_new(&ac, &fx->applier), 0);
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	reel_applier_free(fx->applier);
	reel_edits_free(fx->edits);
	reel_buffer_close(fx->buffer);
	reel_media_close(fx->media);
	tu_rmrf(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* Journal an entry, as the coordinator would, and take it into the index. */
static uint64_t journal(struct fixture *fx, uint32_t op, int64_t first, int64_t last, double p0,
                        uint64_t target)
{
	struct reel_journal_entry e;
	uint64_t seq;

	memset(&e, 0, sizeof(e));
	e.op = op;
	e.first = first;
	e.last = last;
	e.params[0] = p0;
	e.target = target;
	assert_int_equal(reel_journal_append(fx->buffer, &e, &seq), 0);
	assert_int_equal(reel_journal_read(fx->buffer, seq, &e), 0);
	assert_int_equal(reel_edits_add(fx->edits, &e), 0);
	return seq;
}

/* Apply op by hand, with a context of our own: what bring() must equal. */
static void by_hand(struct fixture *fx, uint32_t op, int64_t first, int64_t last, double p0,
                    int64_t frame, struct pframe *p, const struct reel_frame *held)
{
	struct reel_edit e = { .seq = 1, .op = op, .first = first, .last = last, .params = { p0 } };
	struct reel_frame_ctx ctx = { .edit = &e, .frame = frame, .width = fx->info->width,
	                              .height = fx->info->height, .held = held };
	struct reel_scratch scratch = { 0 };

	ctx.scratch = &scratch;
	assert_int_equal(reel_op_impl(op)(&ctx, &p->v, NULL), 0);
	reel__scratch_fini(&scratch);
}

static bool same_picture(const struct reel_frame *a, const struct reel_frame *b)
{
	for (int i = 0; i < 3; i++)
		for (uint32_t y = 0; y < a->height[i]; y++)
			if (memcmp(a->plane[i] + (size_t)y * a->stride[i], b->plane[i] + (size_t)y * b->stride[i],
			           a->width[i]))
				return false;
	return true;
}

static void test_apply_bring_equals_ops_in_order(void **state)
{
	struct fixture *fx = *state;
	struct pframe got, want;
	uint64_t reached, failed = 0;

	journal(fx, REEL_OP_BRIGHTNESS, 0, 20, 0.3, 0);     /* 1 */
	journal(fx, REEL_OP_HFLIP, 10, 30, 0, 0);           /* 2 */
	journal(fx, REEL_OP_TRIM, 0, 49, 0, 0);             /* 3: nothing per frame */
	journal(fx, REEL_OP_CONTRAST, 15, 15, 1.5, 0);      /* 4 */
	pframe_new(fx->info, &got);
	pframe_new(fx->info, &want);
	decode(fx, 15, &got);
	decode(fx, 15, &want);
	assert_int_equal(reel_applier_bring(fx->applier, 15, &got.v, 0, UINT64_MAX, &reached, &failed),
	                 0);
	assert_int_equal(reached, 4);
	by_hand(fx, REEL_OP_BRIGHTNESS, 0, 20, 0.3, 15, &want, NULL);
	by_hand(fx, REEL_OP_HFLIP, 10, 30, 0, 15, &want, NULL);
	by_hand(fx, REEL_OP_CONTRAST, 15, 15, 1.5, 15, &want, NULL);
	assert_true(same_picture(&got.v, &want.v));
	/* From a state on: only what comes after it. */
	decode(fx, 15, &got);
	decode(fx, 15, &want);
	by_hand(fx, REEL_OP_BRIGHTNESS, 0, 20, 0.3, 15, &got, NULL);
	assert_int_equal(reel_applier_bring(fx->applier, 15, &got.v, 1, UINT64_MAX, &reached, &failed),
	                 0);
	by_hand(fx, REEL_OP_BRIGHTNESS, 0, 20, 0.3, 15, &want, NULL);
	by_hand(fx, REEL_OP_HFLIP, 10, 30, 0, 15, &want, NULL);
	by_hand(fx, REEL_OP_CONTRAST, 15, 15, 1.5, 15, &want, NULL);
	assert_true(same_picture(&got.v, &want.v));
	pframe_free(&got);
	pframe_free(&want);
}

static void test_apply_freeze_holds_the_frame_as_it_stood(void **state)
{
	struct fixture *fx = *state;
	struct pframe got, want, src10;
	uint64_t reached, bright;

	bright = journal(fx, REEL_OP_BRIGHTNESS, 0, 20, -0.2, 0);  /* 1: reaches frame 10 */
	journal(fx, REEL_OP_FREEZE, 30, 35, 10, 0);                 /* 2: shows frame 10 */
	journal(fx, REEL_OP_BRIGHTNESS, 0, 12, 0.5, 0);             /* 3: after the freeze: not held */
	journal(fx, REEL_OP_VFLIP, 32, 32, 0, 0);                   /* 4: on top of the held picture */
	pframe_new(fx->info, &got);
	pframe_new(fx->info, &want);
	pframe_new(fx->info, &src10);
	decode(fx, 10, &src10);
	by_hand(fx, REEL_OP_BRIGHTNESS, 0, 20, -0.2, 10, &src10, NULL);
	decode(fx, 32, &got);
	decode(fx, 32, &want);
	assert_int_equal(reel_applier_bring(fx->applier, 32, &got.v, 0, UINT64_MAX, &reached, NULL), 0);
	by_hand(fx, REEL_OP_FREEZE, 30, 35, 10, 32, &want, &src10.v);
	by_hand(fx, REEL_OP_VFLIP, 32, 32, 0, 32, &want, NULL);
	assert_true(same_picture(&got.v, &want.v));
	/* The sound stays the frame's own. */
	assert_int_equal(got.v.audio_samples, want.v.audio_samples);
	assert_memory_equal(got.audio, want.audio,
	                    (size_t)got.v.audio_samples * got.v.channels * sizeof(float));

	/* Undo the edit the held frame had: the freeze shows the source frame now. */
	journal(fx, REEL_OP_UNDO, 0, 20, 0, bright);
	decode(fx, 10, &src10);
	decode(fx, 32, &got);
	decode(fx, 32, &want);
	assert_int_equal(reel_applier_bring(fx->applier, 32, &got.v, 0, UINT64_MAX, &reached, NULL), 0);
	by_hand(fx, REEL_OP_FREEZE, 30, 35, 10, 32, &want, &src10.v);
	by_hand(fx, REEL_OP_VFLIP, 32, 32, 0, 32, &want, NULL);
	assert_true(same_picture(&got.v, &want.v));
	pframe_free(&got);
	pframe_free(&want);
	pframe_free(&src10);
}

static void test_apply_normalize_measures_the_sound_before_it(void **state)
{
	struct fixture *fx = *state;
	struct pframe p;
	uint64_t reached, norm, norm2;
	double peak, want = 0, gain = pow(10, 6.0 / 20);

	journal(fx, REEL_OP_GAIN, 0, 49, 6, 0);               /* 1 */
	norm = journal(fx, REEL_OP_NORMALIZE, 5, 40, -1, 0);  /* 2 */
	norm2 = journal(fx, REEL_OP_NORMALIZE, 30, 45, -6, 0); /* 3: over the first's sound */
	journal(fx, REEL_OP_MUTE, 0, 49, 0, 0);               /* 4: after: not measured */
	pframe_new(fx->info, &p);
	for (int64_t f = 5; f <= 40; f++) {
		decode(fx, f, &p);
		for (size_t i = 0; i < (size_t)p.v.audio_samples * p.v.channels; i++) {
			double v = fabs((double)(float)(p.audio[i] * gain));
			if (v > want)
				want = v;
		}
	}
	assert_true(want > 0.01);
	/* The later normalize must wait for the earlier one's value. */
	assert_int_equal(reel_applier_peak(fx->applier, norm2, 30, 45, &peak), -EAGAIN);
	assert_int_equal(reel_applier_peak(fx->applier, norm, 5, 40, &peak), 0);
	assert_true(peak == want);
	/* A frame under it stops just before it until the value is journaled. */
	decode(fx, 20, &p);
	assert_int_equal(reel_applier_bring(fx->applier, 20, &p.v, 0, UINT64_MAX, &reached, NULL), 0);
	assert_int_equal(reached, norm - 1);
	journal(fx, REEL_OP_MEASURED, 5, 40, peak, norm);     /* 5 */
	assert_int_equal(reel_applier_peak(fx->applier, norm2, 30, 45, &peak), 0);
	assert_true(peak > 0);
	decode(fx, 20, &p);
	assert_int_equal(reel_applier_bring(fx->applier, 20, &p.v, 0, UINT64_MAX, &reached, NULL), 0);
	/* The mute at 4 comes after everything: silence, and the whole journal is in. */
	assert_int_equal(reached, 5);
	for (size_t i = 0; i < (size_t)p.v.audio_samples * p.v.channels; i++)
		assert_true(p.audio[i] == 0.0f);
	pframe_free(&p);
}

static void test_apply_sound_ramps_over_the_range(void **state)
{
	struct fixture *fx = *state;
	struct pframe p, src;
	double last_t = -1;
	uint64_t reached;

	journal(fx, REEL_OP_AUDIO_FADE_IN, 10, 19, 0, 0);
	pframe_new(fx->info, &p);
	pframe_new(fx->info, &src);
	for (int64_t f = 10; f <= 19; f++) {
		decode(fx, f, &p);
		decode(fx, f, &src);
		assert_int_equal(reel_applier_bring(fx->applier, f, &p.v, 0, UINT64_MAX, &reached, NULL), 0);
		/* Frame by frame, the gain keeps rising across frame boundaries. */
		for (uint32_t i = 0; i < p.v.audio_samples; i++) {
			double s = src.audio[i * p.v.channels], v = p.audio[i * p.v.channels];
			if (fabs(s) > 0.05) {
				double t = v / s;
				assert_true(t >= last_t - 1e-6);
				assert_true(t >= 0 && t <= 1);
				last_t = t;
			}
		}
	}
	assert_true(last_t > 0.8);
	pframe_free(&p);
	pframe_free(&src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_bring_equals_ops_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_freeze_holds_the_frame_as_it_stood, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_apply_normalize_measures_the_sound_before_it, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_apply_sound_ramps_over_the_range, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
