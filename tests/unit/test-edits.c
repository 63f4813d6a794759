/*
 * The edit index (core/edit/edits.c): which edits bring a frame from one
 * journal state to another, what an undo, redo or failure changes (the
 * frames of the edit, of later freezes that show one of them, of later
 * normalizes over its sound), measurements, what to undo or redo, the
 * frames an export keeps, and reading a real journal.  A randomised run
 * checks every answer against a brute-force reading of the same journal.
 */
#include <errno.h>
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
#include "edit/edits.h"
#include "reel/error.h"
#include "reel/ops.h"
#include "testutil.h"

#define FRAMES 1000

/* The index under test, and the entries given to it (e[seq]). */
struct book {
	struct reel_edits *x;
	struct reel_journal_entry e[512];
	uint64_t n;
};

static int setup(void **state)
{
	struct book *b = calloc(1, sizeof(*b));

	assert_int_equal(reel_edits_new(FRAMES, &b->x), 0);
	*state = b;
	return 0;
}

static int teardown(void **state)
{
	struct book *b = *state;

	reel_edits_free(b->x);
	free(b);
	return 0;
}

static int add(struct book *b, uint32_t op, int64_t first, int64_t last, double p0, uint64_t target)
{
	struct reel_journal_entry e;
	int r;

	memset(&e, 0, sizeof(e));
	e.seq = b->n + 1;
	e.op = op;
	e.first = first;
	e.last = last;
	e.params[0] = p0;
	e.target = target;
	r = reel_edits_add(b->x, &e);
	if (r == 0)
		b->e[++b->n] = e;
	return r;
}

static uint64_t edit(struct book *b, uint32_t op, int64_t first, int64_t last, double p0)
{
	assert_int_equal(add(b, op, first, last, p0, 0), 0);
	return b->n;
}

static uint64_t control(struct book *b, uint32_t op, uint64_t target)
{
	assert_int_equal(add(b, op, b->e[target].first, b->e[target].last, 0, target), 0);
	return b->n;
}

/* The sequences of the steps for frame from state `after` to the latest. */
static size_t steps(struct book *b, int64_t frame, uint64_t after, uint32_t mask, uint64_t *seqs,
                    uint64_t *ret_reached)
{
	struct reel_edit out[64];
	size_t n = reel_edits_steps(b->x, frame, after, UINT64_MAX, mask, out, 64, ret_reached);

	for (size_t i = 0; i < n; i++)
		seqs[i] = out[i].seq;
	return n;
}

#define BOTH (REEL_OP_PICTURE | REEL_OP_SOUND)

static void test_edits_steps_cover_in_order(void **state)
{
	struct book *b = *state;
	uint64_t s[64], reached;

	assert_int_equal(steps(b, 5, 0, BOTH, s, &reached), 0);
	assert_int_equal(reached, 0);
	edit(b, REEL_OP_BRIGHTNESS, 0, 99, 0.1);       /* 1 */
	edit(b, REEL_OP_GAIN, 50, 150, -6);            /* 2 */
	edit(b, REEL_OP_TRIM, 0, 999, 0);              /* 3: timeline, no steps */
	edit(b, REEL_OP_HFLIP, 60, 60, 0);             /* 4 */
	edit(b, REEL_OP_BLUR, 0, 999, 2);              /* 5 */
	assert_int_equal(steps(b, 60, 0, BOTH, s, &reached), 4);
	assert_int_equal(s[0], 1);
	assert_int_equal(s[1], 2);
	assert_int_equal(s[2], 4);
	assert_int_equal(s[3], 5);
	assert_int_equal(reached, 5);
	/* The picture alone, the sound alone. */
	assert_int_equal(steps(b, 60, 0, REEL_OP_PICTURE, s, &reached), 3);
	assert_int_equal(steps(b, 60, 0, REEL_OP_SOUND, s, &reached), 1);
	assert_int_equal(s[0], 2);
	/* From a state: only what comes after it. */
	assert_int_equal(steps(b, 60, 2, BOTH, s, &reached), 2);
	assert_int_equal(s[0], 4);
	assert_int_equal(steps(b, 999, 0, BOTH, s, &reached), 1);
	assert_int_equal(steps(b, 100, 0, BOTH, s, &reached), 2);
	/* Up to a state. */
	{
		struct reel_edit out[8];
		assert_int_equal(reel_edits_steps(b->x, 60, 0, 3, BOTH, out, 8, &reached), 2);
		assert_int_equal(reached, 3);
		/* A batch too small says where it stopped. */
		assert_int_equal(reel_edits_steps(b->x, 60, 0, UINT64_MAX, BOTH, out, 2, &reached), 2);
		assert_int_equal(reached, 2);
	}
	assert_int_equal(reel_edits_last_change(b->x, 60, false), 5);
	assert_int_equal(reel_edits_last_change(b->x, 60, true), 0);
	assert_int_equal(reel_edits_last_change(b->x, -1, false), 0);
	assert_int_equal(reel_edits_count(b->x), 5);
}

static void test_edits_undo_redo_and_what_they_change(void **state)
{
	struct book *b = *state;
	const struct reel_span *spans;
	const uint64_t *re;
	size_t ns, nre;
	uint64_t s[64], reached, u, r;
	uint32_t st;

	edit(b, REEL_OP_BRIGHTNESS, 0, 99, 0.1);       /* 1 */
	edit(b, REEL_OP_INVERT, 200, 299, 0);          /* 2 */
	assert_int_equal(reel_edits_undo_target(b->x), 2);
	assert_int_equal(reel_edits_redo_target(b->x), 0);
	u = control(b, REEL_OP_UNDO, 2);               /* 3 */
	reel_edits_changes(b->x, &spans, &ns, &re, &nre);
	assert_int_equal(ns, 1);
	assert_int_equal(spans[0].first, 200);
	assert_int_equal(spans[0].last, 299);
	assert_int_equal(nre, 0);
	assert_int_equal(reel_edits_last_change(b->x, 250, true), u);
	assert_int_equal(reel_edits_last_change(b->x, 50, true), 0);
	assert_int_equal(steps(b, 250, 0, BOTH, s, &reached), 0);
	assert_int_equal(reel_edits_get(b->x, 2, NULL, &st), 0);
	assert_int_equal(st, REEL_EDIT_UNDONE);
	assert_int_equal(reel_edits_undo_target(b->x), 1);
	assert_int_equal(reel_edits_redo_target(b->x), 2);
	/* An undo of what is not in effect does not follow. */
	assert_int_equal(add(b, REEL_OP_UNDO, 200, 299, 0, 2), -EINVAL);
	r = control(b, REEL_OP_REDO, 2);               /* 4 */
	assert_int_equal(reel_edits_last_change(b->x, 250, true), r);
	assert_int_equal(steps(b, 250, 0, BOTH, s, &reached), 1);
	assert_int_equal(s[0], 2);
	/* A new edit ends what could be redone. */
	control(b, REEL_OP_UNDO, 2);                   /* 5 */
	assert_int_equal(reel_edits_redo_target(b->x), 2);
	edit(b, REEL_OP_GRAYSCALE, 0, 9, 0);           /* 6 */
	assert_int_equal(reel_edits_redo_target(b->x), 0);
	assert_int_equal(add(b, REEL_OP_REDO, 200, 299, 0, 7), -EINVAL);
	assert_int_equal(reel_edits_get(b->x, 5, NULL, &st), 0);
	assert_int_equal(st, REEL_EDIT_CONTROL);
	assert_int_equal(reel_edits_get(b->x, 99, NULL, &st), REEL_E_RANGE);
}

static void test_edits_failed_is_gone_for_good(void **state)
{
	struct book *b = *state;
	uint64_t s[64], reached;
	uint32_t st;

	edit(b, REEL_OP_BLUR, 0, 9, 3);                /* 1 */
	control(b, REEL_OP_FAILED, 1);                 /* 2 */
	assert_int_equal(reel_edits_get(b->x, 1, NULL, &st), 0);
	assert_int_equal(st, REEL_EDIT_FAILED);
	assert_int_equal(steps(b, 5, 0, BOTH, s, &reached), 0);
	assert_int_equal(reel_edits_undo_target(b->x), 0);
	assert_int_equal(reel_edits_redo_target(b->x), 0);
	assert_int_equal(add(b, REEL_OP_REDO, 0, 9, 0, 1), -EINVAL);
	assert_int_equal(add(b, REEL_OP_FAILED, 0, 9, 0, 1), -EINVAL);
	/* Controls act on edits only. */
	assert_int_equal(add(b, REEL_OP_UNDO, 0, 9, 0, 2), -EINVAL);
	assert_int_equal(reel_edits_count(b->x), 2);
}

static void test_edits_normalize_waits_for_its_measurement(void **state)
{
	struct book *b = *state;
	uint64_t s[64], reached, n1, n2;
	struct reel_edit out[8];
	uint32_t st;

	edit(b, REEL_OP_GAIN, 0, 99, -6);              /* 1 */
	n1 = edit(b, REEL_OP_NORMALIZE, 0, 49, -1);    /* 2 */
	edit(b, REEL_OP_MUTE, 10, 10, 0);              /* 3 */
	n2 = edit(b, REEL_OP_NORMALIZE, 40, 89, -3);   /* 4 */
	/* Frames under a normalize stop just before it; the others go on. */
	assert_int_equal(steps(b, 10, 0, BOTH, s, &reached), 1);
	assert_int_equal(reached, n1 - 1);
	assert_int_equal(steps(b, 95, 0, BOTH, s, &reached), 1);
	assert_int_equal(reached, 4);
	assert_int_equal(reel_edits_get(b->x, n1, NULL, &st), 0);
	assert_int_equal(st, REEL_EDIT_WAITING);
	/* The second overlaps the first's sound: it is measured after it. */
	assert_true(reel_edits_measure_ready(b->x, n1));
	assert_false(reel_edits_measure_ready(b->x, n2));
	assert_int_equal(add(b, REEL_OP_MEASURED, 0, 49, 0.25, n1), 0);  /* 5 */
	assert_true(reel_edits_measure_ready(b->x, n2));
	assert_false(reel_edits_measure_ready(b->x, n1));
	/* The value rides in params[1]; picture steps never see sound edits. */
	assert_int_equal(reel_edits_steps(b->x, 10, 0, UINT64_MAX, BOTH, out, 8, &reached), 3);
	assert_int_equal(out[1].seq, n1);
	assert_true(out[1].params[1] == 0.25);
	assert_int_equal(reached, 5);
	assert_int_equal(reel_edits_steps(b->x, 45, 0, UINT64_MAX, REEL_OP_PICTURE, out, 8, &reached),
	                 0);
	assert_int_equal(reached, 5);
	/* Measured is for measured edits only. */
	assert_int_equal(add(b, REEL_OP_MEASURED, 0, 49, 0.5, 1), -EINVAL);
}

static void test_edits_undo_reaches_freezes_and_normalizes(void **state)
{
	struct book *b = *state;
	const struct reel_span *spans;
	const uint64_t *re;
	size_t ns, nre;
	uint64_t g, n, f1, f2;
	uint32_t st;

	edit(b, REEL_OP_INVERT, 500, 510, 0);          /* 1: a picture edit of frame 505 */
	g = edit(b, REEL_OP_GAIN, 700, 720, 6);        /* 2: sound of 700-720 */
	f1 = edit(b, REEL_OP_FREEZE, 100, 120, 505);   /* 3: shows frame 505 */
	f2 = edit(b, REEL_OP_FREEZE, 300, 310, 110);   /* 4: shows frame 110, which shows 505 */
	n = edit(b, REEL_OP_NORMALIZE, 650, 800, -1);  /* 5: measured over 700-720 too */
	assert_int_equal(add(b, REEL_OP_MEASURED, 650, 800, 0.5, n), 0); /* 6 */
	edit(b, REEL_OP_FREEZE, 900, 905, 400);        /* 7: shows a frame nothing touched */

	control(b, REEL_OP_UNDO, 1);                   /* 8 */
	reel_edits_changes(b->x, &spans, &ns, &re, &nre);
	/* Its own frames, the freezes down the chain; not 900-905. */
	assert_int_equal(ns, 3);
	assert_int_equal(spans[0].first, 100);
	assert_int_equal(spans[0].last, 120);
	assert_int_equal(spans[1].first, 300);
	assert_int_equal(spans[1].last, 310);
	assert_int_equal(spans[2].first, 500);
	assert_int_equal(spans[2].last, 510);
	assert_int_equal(nre, 0);
	assert_int_equal(reel_edits_last_change(b->x, 305, true), 8);
	assert_int_equal(reel_edits_last_change(b->x, 902, true), 0);
	(void)f1;
	(void)f2;

	control(b, REEL_OP_UNDO, g);                   /* 9 */
	reel_edits_changes(b->x, &spans, &ns, &re, &nre);
	/* The gain's sound, and the normalize measured over it, which must measure again. */
	assert_int_equal(ns, 1);
	assert_int_equal(spans[0].first, 650);
	assert_int_equal(spans[0].last, 800);
	assert_int_equal(nre, 1);
	assert_int_equal(re[0], n);
	assert_int_equal(reel_edits_get(b->x, n, NULL, &st), 0);
	assert_int_equal(st, REEL_EDIT_WAITING);
	/* Undo of the normalize itself, then redo: measured again. */
	assert_int_equal(add(b, REEL_OP_MEASURED, 650, 800, 0.4, n), 0); /* 10 */
	control(b, REEL_OP_UNDO, n);                   /* 11 */
	control(b, REEL_OP_REDO, n);                   /* 12 */
	reel_edits_changes(b->x, &spans, &ns, &re, &nre);
	assert_int_equal(nre, 1);
	assert_int_equal(re[0], n);
	assert_int_equal(reel_edits_get(b->x, n, NULL, &st), 0);
	assert_int_equal(st, REEL_EDIT_WAITING);
}

static void test_edits_output_counts(void **state)
{
	struct book *b = *state;
	uint32_t *counts = calloc(FRAMES, sizeof(*counts));
	uint64_t trim;

	assert_int_equal(reel_edits_output(b->x, counts), FRAMES);
	trim = edit(b, REEL_OP_TRIM, 0, 99, 0);
	assert_int_equal(reel_edits_output(b->x, counts), FRAMES - 100);
	assert_int_equal(counts[99], 0);
	assert_int_equal(counts[100], 1);
	/* Twice as fast over 200 frames: 100 of them shown; half as fast over 10: 20 shown. */
	edit(b, REEL_OP_SPEED, 200, 399, 2);
	edit(b, REEL_OP_SPEED, 500, 509, 0.5);
	assert_int_equal(reel_edits_output(b->x, counts), FRAMES - 100 - 100 + 10);
	assert_int_equal(counts[200], 1);
	assert_int_equal(counts[201], 0);
	assert_int_equal(counts[500], 2);
	/* A trim over sped-up frames wins. */
	edit(b, REEL_OP_TRIM, 300, 399, 0);
	assert_int_equal(reel_edits_output(b->x, counts), FRAMES - 100 - 100 + 10 - 50);
	control(b, REEL_OP_UNDO, b->n);
	control(b, REEL_OP_UNDO, trim);
	assert_int_equal(reel_edits_output(b->x, counts), FRAMES - 100 + 10);
	free(counts);
}

static void test_edits_rejects_what_cannot_follow(void **state)
{
	struct book *b = *state;
	struct reel_journal_entry e;

	memset(&e, 0, sizeof(e));
	e.seq = 2;           /* out of order */
	e.op = REEL_OP_INVERT;
	assert_int_equal(reel_edits_add(b->x, &e), -EINVAL);
	e.seq = 1;
	e.last = FRAMES;     /* past the end */
	assert_int_equal(reel_edits_add(b->x, &e), -EINVAL);
	e.last = 5;
	e.op = REEL_OP_FREEZE;
	e.params[0] = FRAMES;   /* a frame that does not exist */
	assert_int_equal(reel_edits_add(b->x, &e), -EINVAL);
	e.op = REEL_OP_UNDO;
	e.params[0] = 0;
	e.target = 1;        /* itself */
	assert_int_equal(reel_edits_add(b->x, &e), -EINVAL);
	assert_int_equal(reel_edits_count(b->x), 0);
	assert_int_equal(reel_edits_new(0, &(struct reel_edits *){ NULL }), -EINVAL);
}

static void test_edits_sync_reads_a_real_journal(void **state)
{
	char *dir = tu_tempdir(), path[4096];
	struct reel_buffer_params p;
	struct reel_buffer *buf;
	struct reel_edits *x;
	struct reel_journal_entry e;
	struct reel_edit out[4];
	uint64_t reached;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.width = 64;
	p.height = 48;
	p.frame_count = 100;
	p.slot_count = 16;
	p.journal_capacity = 64;
	p.frame_rate = (struct reel_rational){ 25, 1 };
	p.time_base = (struct reel_rational){ 1, 25 };
	snprintf(p.source.path, sizeof(p.source.path), "/x.mp4");
	snprintf(path, sizeof(path), "%s/j.reel", dir);
	assert_int_equal(reel_buffer_create(path, &p, &buf), 0);
	memset(&e, 0, sizeof(e));
	e.op = REEL_OP_BRIGHTNESS;
	e.last = 10;
	e.params[0] = 0.5;
	assert_int_equal(reel_journal_append(buf, &e, NULL), 0);
	e.op = REEL_OP_UNDO;
	e.target = 1;
	e.params[0] = 0;
	assert_int_equal(reel_journal_append(buf, &e, NULL), 0);
	assert_int_equal(reel_edits_new(100, &x), 0);
	assert_int_equal(reel_edits_sync(x, buf), 0);
	assert_int_equal(reel_edits_count(x), 2);
	assert_int_equal(reel_edits_steps(x, 5, 0, UINT64_MAX, BOTH, out, 4, &reached), 0);
	assert_int_equal(reel_edits_last_change(x, 5, true), 2);
	/* More entries later: a second sync takes only those. */
	e.op = REEL_OP_REDO;
	assert_int_equal(reel_journal_append(buf, &e, NULL), 0);
	assert_int_equal(reel_edits_sync(x, buf), 0);
	assert_int_equal(reel_edits_count(x), 3);
	assert_int_equal(reel_edits_steps(x, 5, 0, UINT64_MAX, BOTH, out, 4, &reached), 1);
	/* An entry that is valid to the journal but cannot follow is damage to the index. */
	e.op = REEL_OP_REDO;
	assert_int_equal(reel_journal_append(buf, &e, NULL), 0);
	assert_int_equal(reel_edits_sync(x, buf), REEL_E_JOURNAL);
	reel_edits_free(x);
	reel_buffer_close(buf);
	tu_rmrf(dir);
	free(dir);
}

/*
 * A random journal on 60 frames, checked after every entry against a
 * plain reading: an edit is in effect unless the last undo/redo/failed
 * that names it says otherwise (failed for ever); the steps of frame f are
 * the edits in effect that change something and cover f, in order, up to
 * the first normalize not measured since it last changed; the last change
 * of f is the latest edit covering f, or control reaching f (directly or
 * through freezes and normalizes that depend on what it touched).
 */
#define RFRAMES 60

static void oracle_effect(const struct book *b, uint64_t upto, bool *effective, bool *failed)
{
	for (uint64_t s = 1; s <= upto; s++) {
		const struct reel_journal_entry *e = &b->e[s];
		effective[s] = false;
		failed[s] = false;
		if (e->op == REEL_OP_UNDO)
			effective[e->target] = false;
		else if (e->op == REEL_OP_REDO)
			effective[e->target] = true;
		else if (e->op == REEL_OP_FAILED)
			effective[e->target] = false, failed[e->target] = true;
		else if (e->op != REEL_OP_MEASURED)
			effective[s] = true;
	}
}

static void test_edits_random_journals_match_a_plain_reading(void **state)
{
	static const uint32_t ops[] = { REEL_OP_BRIGHTNESS, REEL_OP_HFLIP, REEL_OP_GAIN, REEL_OP_MUTE,
	                                REEL_OP_TRIM, REEL_OP_BLUR };
	struct book *b;
	bool effective[512], failed[512];

	(void)state;
	srand(777);
	for (int round = 0; round < 20; round++) {
		b = calloc(1, sizeof(*b));
		assert_int_equal(reel_edits_new(RFRAMES, &b->x), 0);
		for (int i = 0; i < 120; i++) {
			int what = rand() % 10;
			uint64_t t;

			if (what < 6 || b->n == 0) {
				int64_t a = rand() % RFRAMES, z = a + rand() % 20;
				uint32_t op = ops[rand() % 6];
				/* A parameter inside the op's bounds, as a coordinator journals it. */
				double p0 = reel_op_get(op)->nparams ? reel_op_get(op)->min[0] : 0;

				edit(b, op, a, z >= RFRAMES ? RFRAMES - 1 : z, p0);
			} else if (what < 8 && (t = reel_edits_undo_target(b->x))) {
				control(b, REEL_OP_UNDO, t);
			} else if (what < 9 && (t = reel_edits_redo_target(b->x))) {
				control(b, REEL_OP_REDO, t);
			} else if ((t = reel_edits_undo_target(b->x))) {
				control(b, REEL_OP_FAILED, t);
			}
			oracle_effect(b, b->n, effective, failed);
			for (int64_t f = 0; f < RFRAMES; f++) {
				uint64_t want[512], got[64], reached, last_edit = 0;
				size_t nw = 0, ng;

				for (uint64_t s = 1; s <= b->n; s++) {
					const struct reel_journal_entry *e = &b->e[s];
					const struct reel_op_desc *d = reel_op_get(e->op);
					if (!(d->flags & (REEL_OP_CONTROL | REEL_OP_INTERNAL)) && e->first <= f &&
					    f <= e->last && (d->flags & BOTH)) {
						last_edit = s;
						if (effective[s])
							want[nw++] = s;
					}
				}
				ng = steps(b, f, 0, BOTH, got, &reached);
				assert_int_equal(ng, nw);
				for (size_t k = 0; k < ng; k++)
					assert_int_equal(got[k], want[k]);
				assert_int_equal(reached, b->n);
				/* With no freezes or normalizes, a control reaches exactly its target's frames. */
				{
					uint64_t last_ctl = 0;
					for (uint64_t s = 1; s <= b->n; s++) {
						const struct reel_journal_entry *e = &b->e[s];
						if ((e->op == REEL_OP_UNDO || e->op == REEL_OP_REDO ||
						     e->op == REEL_OP_FAILED) &&
						    (reel_op_get(b->e[e->target].op)->flags & BOTH) &&
						    b->e[e->target].first <= f && f <= b->e[e->target].last)
							last_ctl = s;
					}
					assert_int_equal(reel_edits_last_change(b->x, f, true), last_ctl);
					assert_int_equal(reel_edits_last_change(b->x, f, false),
					                 last_ctl > last_edit ? last_ctl : last_edit);
				}
			}
			for (uint64_t s = 1; s <= b->n; s++) {
				uint32_t st;
				assert_int_equal(reel_edits_get(b->x, s, NULL, &st), 0);
				if (st != REEL_EDIT_CONTROL)
					assert_int_equal(st, failed[s] ? REEL_EDIT_FAILED :
					                     effective[s] ? REEL_EDIT_IN_EFFECT : REEL_EDIT_UNDONE);
			}
		}
		reel_edits_free(b->x);
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_edits_steps_cover_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edits_undo_redo_and_what_they_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edits_failed_is_gone_for_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edits_normalize_waits_for_its_measurement, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_edits_undo_reaches_freezes_and_normalizes, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_edits_output_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edits_rejects_what_cannot_follow, setup, teardown),
		cmocka_unit_test(test_edits_sync_reads_a_real_journal),
		cmocka_unit_test(test_edits_random_journals_match_a_plain_reading),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
