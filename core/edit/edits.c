/*
 * The edit index (see edits.h).
 *
 * Entries are kept in a vector by sequence.  A segment tree over the frames
 * [0, frames) answers "which edits cover frame f" and "what last changed
 * frame f": an edit's range is split into the O(log frames) nodes that
 * cover it exactly, and each of those nodes lists the edit's sequence
 * (appended in journal order, so every list stays sorted) and raises the
 * node's latest-change marks.  A point query walks from the root to the
 * frame's leaf.  Nodes are made only where a range lands, so a long video
 * with few edits costs little.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/buffer.h"
#include "buffer/journal.h"
#include "edit/edits.h"
#include "reel/error.h"
#include "reel/ops.h"

#define CHANGES (REEL_OP_PICTURE | REEL_OP_SOUND)
#define DERIVED (REEL_OP_HOLDS | REEL_OP_MEASURES)

struct node {
	struct node *child[2];
	uint64_t *seqs;            /* edits whose range covers this node's whole span */
	uint32_t nseqs, capseqs;
	uint64_t last_edit;        /* latest edit covering the whole span */
	uint64_t last_control;     /* latest undo/redo/failure reaching the whole span */
};

struct entry {
	uint32_t op;
	uint32_t flags;            /* the op table's REEL_OP_* */
	int64_t first, last;
	uint64_t target;
	double params[4];
	bool effective;            /* an edit in effect now */
	bool failed;
	bool measured;             /* a MEASURES edit whose value is known for today's journal */
	double value;
};

struct seqvec {
	uint64_t *v;
	size_t n, cap;
};

struct spanvec {
	struct reel_span *v;
	size_t n, cap;
};

struct reel_edits {
	pthread_mutex_t lock;
	uint64_t frames;
	struct entry *e;           /* e[seq - 1] */
	size_t n, cap;
	struct node *root;
	struct seqvec derived;     /* edits with REEL_OP_HOLDS or REEL_OP_MEASURES, in order */
	struct seqvec redo;        /* undone edits a redo may bring back, latest last */
	struct spanvec changed;    /* what the last add changed */
	struct seqvec remeasure;
};

/* ---------------------------------------------------------------- vectors */

static int seq_push(struct seqvec *v, uint64_t seq)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		uint64_t *p = realloc(v->v, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		v->v = p;
		v->cap = cap;
	}
	v->v[v->n++] = seq;
	return 0;
}

static void seq_remove(struct seqvec *v, uint64_t seq)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->v[i] == seq) {
			memmove(&v->v[i], &v->v[i + 1], (v->n - i - 1) * sizeof(*v->v));
			v->n--;
			return;
		}
}

/* Add [first, last] to a sorted list of disjoint spans, merging what touches. */
static int span_add(struct spanvec *v, int64_t first, int64_t last)
{
	size_t i = 0, j;

	while (i < v->n && v->v[i].last + 1 < first)
		i++;
	j = i;
	while (j < v->n && v->v[j].first <= last + 1) {
		if (v->v[j].first < first)
			first = v->v[j].first;
		if (v->v[j].last > last)
			last = v->v[j].last;
		j++;
	}
	if (j == i) {
		if (v->n == v->cap) {
			size_t cap = v->cap ? v->cap * 2 : 8;
			struct reel_span *p = realloc(v->v, cap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			v->v = p;
			v->cap = cap;
		}
		memmove(&v->v[i + 1], &v->v[i], (v->n - i) * sizeof(*v->v));
		v->n++;
	} else if (j > i + 1) {
		memmove(&v->v[i + 1], &v->v[j], (v->n - j) * sizeof(*v->v));
		v->n -= j - i - 1;
	}
	v->v[i].first = first;
	v->v[i].last = last;
	return 0;
}

static bool span_contains(const struct spanvec *v, int64_t frame)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->v[i].first <= frame && frame <= v->v[i].last)
			return true;
	return false;
}

static bool span_overlaps(const struct spanvec *v, int64_t first, int64_t last)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->v[i].first <= last && first <= v->v[i].last)
			return true;
	return false;
}

/* ------------------------------------------------------------------ tree */

enum mark { MARK_LIST = 1, MARK_EDIT = 2, MARK_CONTROL = 4 };

static int node_list_push(struct node *n, uint64_t seq)
{
	if (n->nseqs == n->capseqs) {
		uint32_t cap = n->capseqs ? n->capseqs * 2 : 4;
		uint64_t *p = realloc(n->seqs, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		n->seqs = p;
		n->capseqs = cap;
	}
	n->seqs[n->nseqs++] = seq;
	return 0;
}

/* Mark [first, last] inside the node spanning [lo, hi]. */
static int tree_mark(struct node **slot, uint64_t lo, uint64_t hi, uint64_t first, uint64_t last,
                     uint64_t seq, unsigned what)
{
	struct node *n = *slot;
	uint64_t mid;
	int r;

	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n)
			return -ENOMEM;
		*slot = n;
	}
	if (first <= lo && hi <= last) {
		if ((what & MARK_LIST) && (r = node_list_push(n, seq)) < 0)
			return r;
		if ((what & MARK_EDIT) && seq > n->last_edit)
			n->last_edit = seq;
		if ((what & MARK_CONTROL) && seq > n->last_control)
			n->last_control = seq;
		return 0;
	}
	mid = lo + (hi - lo) / 2;
	if (first <= mid && (r = tree_mark(&n->child[0], lo, mid, first, last, seq, what)) < 0)
		return r;
	if (last > mid && (r = tree_mark(&n->child[1], mid + 1, hi, first, last, seq, what)) < 0)
		return r;
	return 0;
}

static void tree_free(struct node *n)
{
	if (!n)
		return;
	tree_free(n->child[0]);
	tree_free(n->child[1]);
	free(n->seqs);
	free(n);
}

static int mark(struct reel_edits *x, int64_t first, int64_t last, uint64_t seq, unsigned what)
{
	return tree_mark(&x->root, 0, x->frames - 1, (uint64_t)first, (uint64_t)last, seq, what);
}

/* ------------------------------------------------------------ lifecycle */

int reel_edits_new(uint64_t frames, struct reel_edits **ret_edits)
{
	struct reel_edits *x;

	if (frames == 0)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->frames = frames;
	pthread_mutex_init(&x->lock, NULL);
	*ret_edits = x;
	return 0;
}

void reel_edits_free(struct reel_edits *x)
{
	if (!x)
		return;
	tree_free(x->root);
	free(x->e);
	free(x->derived.v);
	free(x->redo.v);
	free(x->changed.v);
	free(x->remeasure.v);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

uint64_t reel_edits_count(struct reel_edits *x)
{
	uint64_t n;

	pthread_mutex_lock(&x->lock);
	n = x->n;
	pthread_mutex_unlock(&x->lock);
	return n;
}

/* ------------------------------------------------------------------ adding */

static bool is_edit(const struct entry *en)
{
	return !(en->flags & (REEL_OP_CONTROL | REEL_OP_INTERNAL));
}

/*
 * An edit's target came back, went or failed: the frames it covers change,
 * and so do the frames of later derived edits that depend on them (a freeze
 * of a frame it changed, a normalize over sound it changed), transitively
 * in journal order.  Fills x->changed and x->remeasure and marks the
 * changed frames with the control's sequence.
 */
static int spread_change(struct reel_edits *x, uint64_t control_seq, uint64_t target)
{
	const struct entry *t = &x->e[target - 1];
	struct spanvec pic = { 0 }, snd = { 0 };
	int r = 0;

	if ((t->flags & REEL_OP_PICTURE) && (r = span_add(&pic, t->first, t->last)) < 0)
		goto out;
	if ((t->flags & REEL_OP_SOUND) && (r = span_add(&snd, t->first, t->last)) < 0)
		goto out;
	for (size_t i = 0; i < x->derived.n; i++) {
		uint64_t seq = x->derived.v[i];
		struct entry *d = &x->e[seq - 1];

		if (seq <= target)
			continue;
		if ((d->flags & REEL_OP_HOLDS) && d->effective && span_contains(&pic, (int64_t)d->params[0]) &&
		    (r = span_add(&pic, d->first, d->last)) < 0)
			goto out;
		if ((d->flags & REEL_OP_MEASURES) && span_overlaps(&snd, d->first, d->last)) {
			/* Its value was measured over sound that is no longer there. */
			d->measured = false;
			if (d->effective) {
				if ((r = span_add(&snd, d->first, d->last)) < 0 ||
				    (r = seq_push(&x->remeasure, seq)) < 0)
					goto out;
			}
		}
	}
	for (size_t i = 0; i < pic.n && r == 0; i++)
		r = span_add(&x->changed, pic.v[i].first, pic.v[i].last);
	for (size_t i = 0; i < snd.n && r == 0; i++)
		r = span_add(&x->changed, snd.v[i].first, snd.v[i].last);
	for (size_t i = 0; i < x->changed.n && r == 0; i++)
		r = mark(x, x->changed.v[i].first, x->changed.v[i].last, control_seq, MARK_CONTROL);
out:
	free(pic.v);
	free(snd.v);
	return r;
}

static int add_control(struct reel_edits *x, const struct reel_journal_entry *je, uint64_t seq)
{
	struct entry *t;

	if (je->target == 0 || je->target >= seq)
		return -EINVAL;
	t = &x->e[je->target - 1];
	switch (je->op) {
	case REEL_OP_MEASURED:
		if (!(t->flags & REEL_OP_MEASURES) || !(je->params[0] >= 0))
			return -EINVAL;
		t->measured = true;
		t->value = je->params[0];
		return 0;
	case REEL_OP_UNDO:
		if (!is_edit(t) || !t->effective)
			return -EINVAL;
		t->effective = false;
		if (seq_push(&x->redo, je->target) < 0)
			return -ENOMEM;
		break;
	case REEL_OP_REDO:
		if (!is_edit(t) || t->effective || t->failed)
			return -EINVAL;
		t->effective = true;
		seq_remove(&x->redo, je->target);
		if (t->flags & REEL_OP_MEASURES) {
			/* Measured before it was undone: what lies before it may have changed since. */
			t->measured = false;
			if (seq_push(&x->remeasure, je->target) < 0)
				return -ENOMEM;
		}
		break;
	case REEL_OP_FAILED:
		if (!is_edit(t) || t->failed)
			return -EINVAL;
		t->effective = false;
		t->failed = true;
		seq_remove(&x->redo, je->target);
		break;
	default:
		return -EINVAL;
	}
	return spread_change(x, seq, je->target);
}

static int add_edit(struct reel_edits *x, struct entry *en, uint64_t seq)
{
	int r;

	en->effective = true;
	/* A new edit ends what could be redone, as in every editor. */
	x->redo.n = 0;
	if (en->flags & CHANGES) {
		r = mark(x, en->first, en->last, seq, MARK_LIST | MARK_EDIT);
		if (r < 0)
			return r;
	}
	if (en->flags & DERIVED)
		return seq_push(&x->derived, seq);
	return 0;
}

static int add_locked(struct reel_edits *x, const struct reel_journal_entry *je)
{
	const struct reel_op_desc *d = reel_op_get(je->op);
	uint64_t seq = x->n + 1;
	struct entry *en;
	int r;

	x->changed.n = 0;
	x->remeasure.n = 0;
	if (!d || je->seq != seq || je->first < 0 || je->last < je->first ||
	    (uint64_t)je->last >= x->frames)
		return -EINVAL;
	if ((d->flags & REEL_OP_HOLDS) && !(je->params[0] >= 0 && je->params[0] < (double)x->frames))
		return -EINVAL;
	/*
	 * An edit's parameters were inside the op's bounds when it was accepted;
	 * outside them the entry was not written by a coordinator, and a speed
	 * factor of 1e-300 would have reel_edits_output() loop for ever.
	 */
	if (!(d->flags & (REEL_OP_CONTROL | REEL_OP_INTERNAL)) &&
	    reel_op_check_params(je->op, je->params) < 0)
		return -EINVAL;
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		struct entry *p = realloc(x->e, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		x->e = p;
		x->cap = cap;
	}
	en = &x->e[x->n];
	memset(en, 0, sizeof(*en));
	en->op = je->op;
	en->flags = d->flags;
	en->first = je->first;
	en->last = je->last;
	en->target = je->target;
	memcpy(en->params, je->params, sizeof(en->params));
	/* Counted first: a control's target is checked against what came before it. */
	x->n++;
	if (d->flags & (REEL_OP_CONTROL | REEL_OP_INTERNAL))
		r = add_control(x, je, seq);
	else
		r = add_edit(x, en, seq);
	if (r < 0)
		x->n--;
	return r;
}

int reel_edits_add(struct reel_edits *x, const struct reel_journal_entry *je)
{
	int r;

	pthread_mutex_lock(&x->lock);
	r = add_locked(x, je);
	pthread_mutex_unlock(&x->lock);
	return r;
}

int reel_edits_sync(struct reel_edits *x, const struct reel_buffer *b)
{
	uint64_t count = reel_journal_count(b);

	for (uint64_t seq = reel_edits_count(x) + 1; seq <= count; seq++) {
		struct reel_journal_entry je;
		int r = reel_journal_read(b, seq, &je);

		if (r < 0)
			return r == REEL_E_RANGE ? 0 : REEL_E_JOURNAL;
		r = reel_edits_add(x, &je);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return REEL_E_JOURNAL;
	}
	return 0;
}

void reel_edits_changes(struct reel_edits *x, const struct reel_span **ret_spans, size_t *ret_nspans,
                        const uint64_t **ret_remeasure, size_t *ret_nremeasure)
{
	*ret_spans = x->changed.v;
	*ret_nspans = x->changed.n;
	*ret_remeasure = x->remeasure.v;
	*ret_nremeasure = x->remeasure.n;
}

/* ---------------------------------------------------------------- queries */

static int cmp_seq(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* First index in the sorted list with a sequence above `after`. */
static uint32_t first_after(const struct node *n, uint64_t after)
{
	uint32_t lo = 0, hi = n->nseqs;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (n->seqs[mid] <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The sequences in (after, upto] of the edits covering frame, sorted, into
 * a malloc'ed array (*ret, caller frees); the count, or -ENOMEM.
 */
static long covering(struct reel_edits *x, uint64_t frame, uint64_t after, uint64_t upto,
                     uint64_t **ret)
{
	uint64_t lo = 0, hi = x->frames - 1, *v = NULL;
	size_t n = 0, cap = 0;

	for (struct node *nd = x->root; nd;) {
		uint64_t mid = lo + (hi - lo) / 2;

		for (uint32_t i = first_after(nd, after); i < nd->nseqs && nd->seqs[i] <= upto; i++) {
			if (n == cap) {
				size_t c = cap ? cap * 2 : 32;
				uint64_t *p = realloc(v, c * sizeof(*p));
				if (!p) {
					free(v);
					return -ENOMEM;
				}
				v = p;
				cap = c;
			}
			v[n++] = nd->seqs[i];
		}
		if (lo == hi)
			break;
		if (frame <= mid) {
			nd = nd->child[0];
			hi = mid;
		} else {
			nd = nd->child[1];
			lo = mid + 1;
		}
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_seq);
	*ret = v;
	return (long)n;
}

static void to_edit(const struct entry *en, uint64_t seq, struct reel_edit *out)
{
	memset(out, 0, sizeof(*out));
	out->seq = seq;
	out->op = en->op;
	out->first = en->first;
	out->last = en->last;
	memcpy(out->params, en->params, sizeof(out->params));
	if (en->flags & REEL_OP_MEASURES)
		out->params[1] = en->value;
}

size_t reel_edits_steps(struct reel_edits *x, int64_t frame, uint64_t after, uint64_t upto,
                        uint32_t mask, struct reel_edit *out, size_t max, uint64_t *ret_reached)
{
	uint64_t *seqs = NULL;
	size_t written = 0;
	long n;

	pthread_mutex_lock(&x->lock);
	if (upto > x->n)
		upto = x->n;
	*ret_reached = upto > after ? upto : after;
	if (frame < 0 || (uint64_t)frame >= x->frames || upto <= after)
		goto out;
	n = covering(x, (uint64_t)frame, after, upto, &seqs);
	if (n < 0) {
		/* Out of memory: nothing is applied and the state does not move. */
		*ret_reached = after;
		goto out;
	}
	for (long i = 0; i < n; i++) {
		const struct entry *en = &x->e[seqs[i] - 1];

		if (!en->effective || !(en->flags & mask))
			continue;
		if ((en->flags & REEL_OP_MEASURES) && !en->measured) {
			*ret_reached = seqs[i] - 1;
			break;
		}
		if (written == max) {
			*ret_reached = out[max - 1].seq;
			break;
		}
		to_edit(en, seqs[i], &out[written++]);
	}
out:
	pthread_mutex_unlock(&x->lock);
	free(seqs);
	return written;
}

uint64_t reel_edits_last_change(struct reel_edits *x, int64_t frame, bool controls_only)
{
	uint64_t lo, hi, best = 0;

	if (frame < 0)
		return 0;
	pthread_mutex_lock(&x->lock);
	lo = 0;
	hi = x->frames - 1;
	if ((uint64_t)frame < x->frames) {
		for (struct node *nd = x->root; nd;) {
			uint64_t mid = lo + (hi - lo) / 2;

			if (nd->last_control > best)
				best = nd->last_control;
			if (!controls_only && nd->last_edit > best)
				best = nd->last_edit;
			if (lo == hi)
				break;
			if ((uint64_t)frame <= mid) {
				nd = nd->child[0];
				hi = mid;
			} else {
				nd = nd->child[1];
				lo = mid + 1;
			}
		}
	}
	pthread_mutex_unlock(&x->lock);
	return best;
}

int reel_edits_get(struct reel_edits *x, uint64_t seq, struct reel_edit *ret_edit, uint32_t *ret_state)
{
	const struct entry *en;
	int r = 0;

	pthread_mutex_lock(&x->lock);
	if (seq == 0 || seq > x->n) {
		r = REEL_E_RANGE;
		goto out;
	}
	en = &x->e[seq - 1];
	if (ret_edit)
		to_edit(en, seq, ret_edit);
	if (ret_state) {
		if (!is_edit(en))
			*ret_state = REEL_EDIT_CONTROL;
		else if (en->failed)
			*ret_state = REEL_EDIT_FAILED;
		else if (!en->effective)
			*ret_state = REEL_EDIT_UNDONE;
		else if ((en->flags & REEL_OP_MEASURES) && !en->measured)
			*ret_state = REEL_EDIT_WAITING;
		else
			*ret_state = REEL_EDIT_IN_EFFECT;
	}
out:
	pthread_mutex_unlock(&x->lock);
	return r;
}

uint64_t reel_edits_undo_target(struct reel_edits *x)
{
	uint64_t seq = 0;

	pthread_mutex_lock(&x->lock);
	for (uint64_t s = x->n; s >= 1; s--) {
		const struct entry *en = &x->e[s - 1];
		if (is_edit(en) && en->effective) {
			seq = s;
			break;
		}
	}
	pthread_mutex_unlock(&x->lock);
	return seq;
}

uint64_t reel_edits_redo_target(struct reel_edits *x)
{
	uint64_t seq;

	pthread_mutex_lock(&x->lock);
	seq = x->redo.n ? x->redo.v[x->redo.n - 1] : 0;
	pthread_mutex_unlock(&x->lock);
	return seq;
}

bool reel_edits_measure_ready(struct reel_edits *x, uint64_t seq)
{
	bool ready = false;

	pthread_mutex_lock(&x->lock);
	if (seq >= 1 && seq <= x->n) {
		const struct entry *t = &x->e[seq - 1];

		ready = (t->flags & REEL_OP_MEASURES) && t->effective && !t->measured;
		for (size_t i = 0; ready && i < x->derived.n && x->derived.v[i] < seq; i++) {
			const struct entry *d = &x->e[x->derived.v[i] - 1];
			if ((d->flags & REEL_OP_MEASURES) && d->effective && !d->measured &&
			    d->first <= t->last && t->first <= d->last)
				ready = false;
		}
	}
	pthread_mutex_unlock(&x->lock);
	return ready;
}

/*
 * A speed change over n frames shows m = round(n / factor) frames (at least
 * one): output frame j shows source frame floor(j * n / m) of the range.
 */
static void speed_counts(uint32_t *counts, int64_t first, int64_t last, double factor)
{
	uint64_t n = (uint64_t)(last - first) + 1;
	uint64_t m = (uint64_t)llround((double)n / factor);

	if (m == 0)
		m = 1;
	for (int64_t f = first; f <= last; f++)
		counts[f] = 0;
	for (uint64_t j = 0; j < m; j++)
		counts[first + (int64_t)(j * n / m)]++;
}

uint64_t reel_edits_output(struct reel_edits *x, uint32_t *counts)
{
	uint64_t total = 0;

	pthread_mutex_lock(&x->lock);
	for (uint64_t f = 0; f < x->frames; f++)
		counts[f] = 1;
	/* Speed first, the later change of a frame winning; a trim wins over any speed. */
	for (size_t i = 0; i < x->n; i++)
		if (x->e[i].op == REEL_OP_SPEED && x->e[i].effective)
			speed_counts(counts, x->e[i].first, x->e[i].last, x->e[i].params[0]);
	for (size_t i = 0; i < x->n; i++)
		if (x->e[i].op == REEL_OP_TRIM && x->e[i].effective)
			for (int64_t f = x->e[i].first; f <= x->e[i].last; f++)
				counts[f] = 0;
	for (uint64_t f = 0; f < x->frames; f++)
		total += counts[f];
	pthread_mutex_unlock(&x->lock);
	return total;
}
