/*
 * The scheduler (see scheduler.h).
 *
 * Commands sit in a vector in seq order, each owning an array of chunks (so
 * chunk pointers stay put while the command lives).  Every apply chunk is
 * also on its cell's doubly linked list, in seq order; a cell is found
 * through an open-addressing hash table keyed by cell number (cells are
 * never removed: a video has at most frames / chunk_frames of them).  A
 * chunk that may run is in its role's binary heap, ordered by (seq, first),
 * and knows its place there so that a cancel can take it out.
 *
 * Epochs start at a random value, so that a stage cannot guess the epoch of
 * work it was never given.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "reel/ops.h"
#include "scheduler.h"

enum chunk_state { WAITING, READY, INFLIGHT, DONE };

struct chunk {
	struct sched_chunk pub;
	uint32_t state;            /* enum chunk_state */
	double since_ms;           /* dispatched, or last heard of */
	struct chunk *prev, *next; /* the cell's list (apply chunks) */
	struct cell *cell;
	size_t heap_at;            /* index in the role's heap while READY */
};

struct cell {
	uint64_t key;              /* cell number + 1; 0 is an empty table entry */
	struct chunk *head, *tail;
};

struct command {
	uint64_t seq;
	uint32_t role;
	bool held;                 /* waits for its measurement */
	uint32_t nchunks, unfinished;
	struct chunk *chunks;      /* nchunks apply chunks, then the measure item if any */
	bool has_measure;
};

struct heap {
	struct chunk **v;
	size_t n, cap;
};

struct reel_sched {
	uint64_t chunk_frames;
	uint64_t next_epoch;
	struct command *cmds;
	size_t ncmds, capcmds;
	struct cell *cells;
	size_t ncells, capcells;   /* capcells a power of two */
	struct heap ready[REEL_ROLE_COUNT];
	uint64_t inflight;
};

/* ------------------------------------------------------------------ heaps */

static bool before(const struct chunk *a, const struct chunk *b)
{
	if (a->pub.edit.seq != b->pub.edit.seq)
		return a->pub.edit.seq < b->pub.edit.seq;
	return a->pub.first < b->pub.first;
}

static void heap_set(struct heap *h, size_t i, struct chunk *c)
{
	h->v[i] = c;
	c->heap_at = i;
}

static void heap_up(struct heap *h, size_t i)
{
	struct chunk *c = h->v[i];

	while (i > 0 && before(c, h->v[(i - 1) / 2])) {
		heap_set(h, i, h->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(h, i, c);
}

static void heap_down(struct heap *h, size_t i)
{
	struct chunk *c = h->v[i];

	for (;;) {
		size_t l = 2 * i + 1, best = i;
		struct chunk *b = c;

		if (l < h->n && before(h->v[l], b)) {
			best = l;
			b = h->v[l];
		}
		if (l + 1 < h->n && before(h->v[l + 1], b))
			best = l + 1;
		if (best == i)
			break;
		heap_set(h, i, h->v[best]);
		i = best;
	}
	heap_set(h, i, c);
}

static int heap_push(struct heap *h, struct chunk *c)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct chunk **v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	heap_set(h, h->n++, c);
	heap_up(h, h->n - 1);
	return 0;
}

static void heap_remove(struct heap *h, struct chunk *c)
{
	size_t i = c->heap_at;

	if (i >= h->n || h->v[i] != c)
		return;
	h->n--;
	if (i == h->n)
		return;
	heap_set(h, i, h->v[h->n]);
	heap_up(h, i);
	heap_down(h, h->v[i]->heap_at);
}

/* ------------------------------------------------------------------ cells */

static uint64_t hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

static int cells_grow(struct reel_sched *s)
{
	size_t cap = s->capcells ? s->capcells * 2 : 64;
	struct cell *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < s->capcells; i++) {
		struct cell *old = &s->cells[i];
		size_t j;

		if (!old->key)
			continue;
		for (j = hash(old->key) & (cap - 1); v[j].key; j = (j + 1) & (cap - 1))
			;
		v[j] = *old;
		for (struct chunk *c = old->head; c; c = c->next)
			c->cell = &v[j];
	}
	free(s->cells);
	s->cells = v;
	s->capcells = cap;
	return 0;
}

static struct cell *cell_find(const struct reel_sched *s, uint64_t cell)
{
	uint64_t key = cell + 1;

	if (!s->capcells)
		return NULL;
	for (size_t j = hash(key) & (s->capcells - 1);; j = (j + 1) & (s->capcells - 1)) {
		if (s->cells[j].key == key)
			return &s->cells[j];
		if (!s->cells[j].key)
			return NULL;
	}
}

static struct cell *cell_get(struct reel_sched *s, uint64_t cell)
{
	struct cell *c = cell_find(s, cell);
	size_t j;

	if (c)
		return c;
	if ((s->ncells + 1) * 2 > s->capcells && cells_grow(s) < 0)
		return NULL;
	for (j = hash(cell + 1) & (s->capcells - 1); s->cells[j].key; j = (j + 1) & (s->capcells - 1))
		;
	s->cells[j].key = cell + 1;
	s->ncells++;
	return &s->cells[j];
}

/* ------------------------------------------------------------- commands */

static struct command *find_cmd(struct reel_sched *s, uint64_t seq, size_t *ret_at)
{
	size_t lo = 0, hi = s->ncmds;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->cmds[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->ncmds && s->cmds[lo].seq == seq) {
		if (ret_at)
			*ret_at = lo;
		return &s->cmds[lo];
	}
	return NULL;
}

/* The chunk may run when it heads its cell, its command is not held, and it is not running. */
static int maybe_ready(struct reel_sched *s, struct chunk *c, const struct command *cmd)
{
	if (c->state != WAITING)
		return 0;
	if (c->pub.kind == SCHED_APPLY && (cmd->held || c->cell->head != c))
		return 0;
	c->state = READY;
	return heap_push(&s->ready[c->pub.role], c);
}

/* Take a finished or cancelled apply chunk off its cell; the next one there may run. */
static int unlink_chunk(struct reel_sched *s, struct chunk *c)
{
	struct cell *cell = c->cell;
	bool was_head = cell->head == c;

	if (c->prev)
		c->prev->next = c->next;
	else
		cell->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		cell->tail = c->prev;
	c->prev = c->next = NULL;
	if (was_head && cell->head) {
		struct command *next = find_cmd(s, cell->head->pub.edit.seq, NULL);
		if (next)
			return maybe_ready(s, cell->head, next);
	}
	return 0;
}

static void drop_command(struct reel_sched *s, size_t at)
{
	free(s->cmds[at].chunks);
	memmove(&s->cmds[at], &s->cmds[at + 1], (s->ncmds - at - 1) * sizeof(*s->cmds));
	s->ncmds--;
}

int sched_new(uint64_t chunk_frames, struct reel_sched **ret_sched)
{
	struct reel_sched *s;

	if (chunk_frames == 0)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->chunk_frames = chunk_frames;
	if (getrandom(&s->next_epoch, sizeof(s->next_epoch), 0) != sizeof(s->next_epoch))
		s->next_epoch = (uint64_t)(uintptr_t)s;
	/* Keep clear of 0 and of wrapping for the life of a session. */
	s->next_epoch = (s->next_epoch >> 2) | 1;
	*ret_sched = s;
	return 0;
}

void sched_free(struct reel_sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ncmds; i++)
		free(s->cmds[i].chunks);
	free(s->cmds);
	free(s->cells);
	for (int r = 0; r < REEL_ROLE_COUNT; r++)
		free(s->ready[r].v);
	free(s);
}

int sched_add(struct reel_sched *s, const struct reel_edit *e, uint32_t role, bool measure)
{
	uint64_t cf = s->chunk_frames, n;
	struct command *cmd;
	struct chunk *chunks;
	int r = 0;

	if (e->first < 0 || e->last < e->first || role >= REEL_ROLE_COUNT)
		return -EINVAL;
	if (s->ncmds && s->cmds[s->ncmds - 1].seq >= e->seq)
		return -EINVAL;
	n = (uint64_t)e->last / cf - (uint64_t)e->first / cf + 1;
	if (n > UINT32_MAX - 1)
		return -E2BIG;
	chunks = calloc(n + (measure ? 1 : 0), sizeof(*chunks));
	if (!chunks)
		return -ENOMEM;
	if (s->ncmds == s->capcmds) {
		size_t cap = s->capcmds ? s->capcmds * 2 : 16;
		struct command *v = realloc(s->cmds, cap * sizeof(*v));
		if (!v) {
			free(chunks);
			return -ENOMEM;
		}
		s->cmds = v;
		s->capcmds = cap;
	}
	cmd = &s->cmds[s->ncmds++];
	memset(cmd, 0, sizeof(*cmd));
	cmd->seq = e->seq;
	cmd->role = role;
	cmd->held = measure;
	cmd->has_measure = measure;
	cmd->chunks = chunks;
	cmd->nchunks = (uint32_t)n;
	cmd->unfinished = (uint32_t)n + (measure ? 1 : 0);
	for (uint64_t i = 0; i < n; i++) {
		struct chunk *c = &chunks[i];
		uint64_t cell = (uint64_t)e->first / cf + i;

		c->pub.edit = *e;
		c->pub.role = role;
		c->pub.kind = SCHED_APPLY;
		c->pub.first = i == 0 ? e->first : (int64_t)(cell * cf);
		c->pub.last = (int64_t)(cell * cf + cf - 1) < e->last ? (int64_t)(cell * cf + cf - 1) : e->last;
		c->state = WAITING;
		c->cell = cell_get(s, cell);
		if (!c->cell) {
			r = -ENOMEM;
			break;
		}
		c->prev = c->cell->tail;
		if (c->cell->tail)
			c->cell->tail->next = c;
		else
			c->cell->head = c;
		c->cell->tail = c;
	}
	if (r == 0 && measure) {
		struct chunk *m = &chunks[n];
		m->pub.edit = *e;
		m->pub.role = role;
		m->pub.kind = SCHED_MEASURE;
		m->pub.first = e->first;
		m->pub.last = e->last;
		m->state = WAITING;
	}
	for (uint64_t i = 0; i < n && r == 0; i++)
		r = maybe_ready(s, &chunks[i], cmd);
	if (r < 0)
		sched_cancel(s, e->seq);
	return r;
}

int sched_add_measure(struct reel_sched *s, const struct reel_edit *e, uint32_t role)
{
	struct chunk *m;
	size_t at = 0, lo = 0, hi;

	if (role >= REEL_ROLE_COUNT || find_cmd(s, e->seq, NULL))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (s->ncmds == s->capcmds) {
		size_t cap = s->capcmds ? s->capcmds * 2 : 16;
		struct command *v = realloc(s->cmds, cap * sizeof(*v));
		if (!v) {
			free(m);
			return -ENOMEM;
		}
		s->cmds = v;
		s->capcmds = cap;
	}
	for (hi = s->ncmds; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->cmds[mid].seq < e->seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	at = lo;
	memmove(&s->cmds[at + 1], &s->cmds[at], (s->ncmds - at) * sizeof(*s->cmds));
	s->ncmds++;
	memset(&s->cmds[at], 0, sizeof(s->cmds[at]));
	s->cmds[at].seq = e->seq;
	s->cmds[at].role = role;
	s->cmds[at].has_measure = true;
	s->cmds[at].chunks = m;
	s->cmds[at].unfinished = 1;
	m->pub.edit = *e;
	m->pub.role = role;
	m->pub.kind = SCHED_MEASURE;
	m->pub.first = e->first;
	m->pub.last = e->last;
	m->state = WAITING;
	return 0;
}

bool sched_measure_only(const struct reel_sched *s, uint64_t seq)
{
	const struct command *cmd = find_cmd((struct reel_sched *)s, seq, NULL);

	return cmd && cmd->has_measure && cmd->nchunks == 0;
}

int sched_measure_go(struct reel_sched *s, uint64_t seq)
{
	struct command *cmd = find_cmd(s, seq, NULL);

	if (!cmd || !cmd->has_measure)
		return -ENOENT;
	return maybe_ready(s, &cmd->chunks[cmd->nchunks], cmd);
}

int sched_release(struct reel_sched *s, uint64_t seq, double value)
{
	struct command *cmd = find_cmd(s, seq, NULL);
	int r = 0;

	if (!cmd)
		return -ENOENT;
	cmd->held = false;
	for (uint32_t i = 0; i < cmd->nchunks; i++)
		cmd->chunks[i].pub.edit.params[1] = value;
	for (uint32_t i = 0; i < cmd->nchunks && r == 0; i++)
		r = maybe_ready(s, &cmd->chunks[i], cmd);
	return r;
}

int sched_take(struct reel_sched *s, uint32_t role, double now_ms, struct sched_chunk *ret_chunk)
{
	struct heap *h;
	struct chunk *c;

	if (role >= REEL_ROLE_COUNT)
		return 0;
	h = &s->ready[role];
	if (h->n == 0)
		return 0;
	c = h->v[0];
	heap_remove(h, c);
	c->state = INFLIGHT;
	c->pub.owner = 0;
	c->pub.epoch = s->next_epoch++;
	c->since_ms = now_ms;
	s->inflight++;
	*ret_chunk = c->pub;
	return 1;
}

/* The in-flight chunk (seq, first, epoch) and its command. */
static struct chunk *find_inflight(struct reel_sched *s, uint64_t seq, int64_t first, uint64_t epoch,
                                   size_t *ret_at)
{
	struct command *cmd = find_cmd(s, seq, ret_at);

	if (!cmd)
		return NULL;
	for (uint32_t i = 0; i < cmd->nchunks + (cmd->has_measure ? 1 : 0); i++) {
		struct chunk *c = &cmd->chunks[i];
		if (c->state == INFLIGHT && c->pub.first == first && c->pub.epoch == epoch)
			return c;
	}
	return NULL;
}

static int requeue(struct reel_sched *s, struct chunk *c)
{
	c->state = READY;
	c->pub.owner = 0;
	s->inflight--;
	return heap_push(&s->ready[c->pub.role], c);
}

int sched_untake(struct reel_sched *s, uint64_t seq, int64_t first, uint64_t epoch)
{
	struct chunk *c = find_inflight(s, seq, first, epoch, NULL);

	return c ? requeue(s, c) : -ENOENT;
}

int sched_claim(struct reel_sched *s, uint64_t seq, int64_t first, uint64_t epoch, pid_t pid,
                double now_ms)
{
	struct chunk *c = find_inflight(s, seq, first, epoch, NULL);

	if (!c)
		return -ENOENT;
	if (c->pub.owner && c->pub.owner != pid)
		return -EPERM;
	c->pub.owner = pid;
	c->since_ms = now_ms;
	return 0;
}

int sched_done(struct reel_sched *s, uint64_t seq, int64_t first, uint64_t epoch, pid_t pid,
               struct sched_chunk *ret_chunk)
{
	size_t at;
	struct chunk *c = find_inflight(s, seq, first, epoch, &at);
	struct command *cmd;
	int r = 0;

	if (!c)
		return -ENOENT;
	if (c->pub.owner && c->pub.owner != pid)
		return -EPERM;
	c->state = DONE;
	s->inflight--;
	if (ret_chunk)
		*ret_chunk = c->pub;
	if (c->pub.kind == SCHED_APPLY)
		r = unlink_chunk(s, c);
	cmd = &s->cmds[at];
	if (--cmd->unfinished > 0)
		return r < 0 ? r : 0;
	drop_command(s, at);
	return r < 0 ? r : 1;
}

int sched_fail(struct reel_sched *s, uint64_t seq, int64_t first, uint64_t epoch, pid_t pid,
               uint32_t max_failures)
{
	struct chunk *c = find_inflight(s, seq, first, epoch, NULL);
	int r;

	if (!c)
		return -ENOENT;
	if (c->pub.owner && c->pub.owner != pid)
		return -EPERM;
	c->pub.failures++;
	r = requeue(s, c);
	if (r < 0)
		return r;
	return c->pub.failures >= max_failures ? 1 : 0;
}

int sched_cancel(struct reel_sched *s, uint64_t seq)
{
	size_t at;
	struct command *cmd = find_cmd(s, seq, &at);
	int r = 0;

	if (!cmd)
		return -ENOENT;
	for (uint32_t i = 0; i < cmd->nchunks + (cmd->has_measure ? 1 : 0); i++) {
		struct chunk *c = &cmd->chunks[i];

		if (c->state == READY)
			heap_remove(&s->ready[c->pub.role], c);
		else if (c->state == INFLIGHT)
			s->inflight--;
		if (c->state != DONE && c->pub.kind == SCHED_APPLY && c->cell) {
			/* Unlinked before it counts as done, so the next one of its cell is not ready twice. */
			c->state = DONE;
			int e = unlink_chunk(s, c);
			if (e < 0 && r == 0)
				r = e;
		}
		c->state = DONE;
	}
	/* Unlinking touches cells and heaps only, so `at` still names the command. */
	drop_command(s, at);
	return r;
}

int sched_requeue_owner(struct reel_sched *s, pid_t pid, const struct sched_loss *how,
                        uint64_t *doomed, size_t max_doomed, size_t *ret_ndoomed)
{
	size_t ndoomed = 0;
	int n = 0;

	if (pid <= 0 || !how)
		return -EINVAL;
	for (size_t i = 0; i < s->ncmds; i++) {
		struct command *cmd = &s->cmds[i];
		bool doom = false;

		for (uint32_t j = 0; j < cmd->nchunks + (cmd->has_measure ? 1 : 0); j++) {
			struct chunk *c = &cmd->chunks[j];

			if (c->state != INFLIGHT || c->pub.owner != pid)
				continue;
			if (how->crashed ? ++c->pub.crashes >= how->max_crashes
			                 : ++c->pub.losses >= how->max_losses)
				doom = true;
			if (requeue(s, c) == 0)
				n++;
		}
		if (doom && ndoomed < max_doomed)
			doomed[ndoomed++] = cmd->seq;
	}
	if (ret_ndoomed)
		*ret_ndoomed = ndoomed;
	return n;
}

int sched_requeue_stale(struct reel_sched *s, double claimed_before_ms, double unclaimed_before_ms)
{
	int n = 0;

	for (size_t i = 0; i < s->ncmds; i++) {
		struct command *cmd = &s->cmds[i];

		for (uint32_t j = 0; j < cmd->nchunks + (cmd->has_measure ? 1 : 0); j++) {
			struct chunk *c = &cmd->chunks[j];
			double limit = c->pub.owner ? claimed_before_ms : unclaimed_before_ms;

			if (c->state == INFLIGHT && c->since_ms < limit && requeue(s, c) == 0)
				n++;
		}
	}
	return n;
}

uint64_t sched_commands(const struct reel_sched *s)
{
	return s->ncmds;
}

uint64_t sched_inflight(const struct reel_sched *s)
{
	return s->inflight;
}

bool sched_has(const struct reel_sched *s, uint64_t seq)
{
	return find_cmd((struct reel_sched *)s, seq, NULL) != NULL;
}

bool sched_busy_over(const struct reel_sched *s, int64_t first, int64_t last)
{
	uint64_t c0, c1;

	if (first < 0 || last < first || s->ncmds == 0)
		return false;
	c0 = (uint64_t)first / s->chunk_frames;
	c1 = (uint64_t)last / s->chunk_frames;
	/* Look the cells up one by one, or walk the table when that is shorter. */
	if (c1 - c0 < s->ncells) {
		for (uint64_t cell = c0; cell <= c1; cell++) {
			const struct cell *c = cell_find(s, cell);
			for (const struct chunk *k = c ? c->head : NULL; k; k = k->next)
				if (k->pub.first <= last && first <= k->pub.last)
					return true;
		}
		return false;
	}
	for (size_t i = 0; i < s->capcells; i++)
		for (const struct chunk *k = s->cells[i].head; k; k = k->next)
			if (k->pub.first <= last && first <= k->pub.last)
				return true;
	return false;
}
