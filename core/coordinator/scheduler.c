/*
 * The scheduler (see scheduler.h).  Commands sit in a vector in seq order,
 * each with its chunks; finished commands leave the vector.  The overlap
 * test is a scan of the earlier commands' unfinished chunks: the coordinator
 * refuses new commands while the table is full (REEL_SCHED_MAX_COMMANDS), so
 * the scan stays short.
 *
 * Epochs start at a random value, so that a stage cannot guess the epoch of
 * work it was never given.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "scheduler.h"

struct command {
	uint64_t seq;
	uint32_t role;
	int replay;
	uint32_t nchunks;
	uint32_t unfinished;
	struct sched_chunk *chunks;
};

struct reel_sched {
	uint64_t chunk_frames;
	uint64_t next_epoch;
	struct command *cmds;
	size_t ncmds, cap;
	uint64_t inflight;
	uint64_t replays;      /* of ncmds, how many are replays */
};

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

void sched_free(struct reel_sched *sched)
{
	if (!sched)
		return;
	for (size_t i = 0; i < sched->ncmds; i++)
		free(sched->cmds[i].chunks);
	free(sched->cmds);
	free(sched);
}

/* Make room for one more command at index `at`; returns it, or NULL. */
static struct command *insert_at(struct reel_sched *s, size_t at)
{
	if (s->ncmds == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct command *v = realloc(s->cmds, cap * sizeof(*v));
		if (!v)
			return NULL;
		s->cmds = v;
		s->cap = cap;
	}
	memmove(&s->cmds[at + 1], &s->cmds[at], (s->ncmds - at) * sizeof(*s->cmds));
	s->ncmds++;
	return &s->cmds[at];
}

static int add_range(struct reel_sched *s, size_t at, const struct reel_journal_entry *e,
                     uint32_t role, int64_t first, int64_t last, int replay, uint64_t incarnation)
{
	uint64_t frames = (uint64_t)(last - first) + 1;
	uint64_t n = (frames + s->chunk_frames - 1) / s->chunk_frames;
	struct sched_chunk *chunks;
	struct command *c;

	if (n > UINT32_MAX)
		return -E2BIG;
	chunks = calloc(n, sizeof(*chunks));
	if (!chunks)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		struct sched_chunk *k = &chunks[i];
		k->seq = e->seq;
		k->op = e->op;
		k->role = role;
		k->first = first + (int64_t)(i * s->chunk_frames);
		k->last = k->first + (int64_t)s->chunk_frames - 1;
		if (k->last > last)
			k->last = last;
		memcpy(k->params, e->params, sizeof(k->params));
		k->state = SCHED_PENDING;
		k->replay = replay;
		k->incarnation = incarnation;
	}
	c = insert_at(s, at);
	if (!c) {
		free(chunks);
		return -ENOMEM;
	}
	c->seq = e->seq;
	c->role = role;
	c->replay = replay;
	c->chunks = chunks;
	c->nchunks = c->unfinished = (uint32_t)n;
	if (replay)
		s->replays++;
	return 0;
}

int sched_add(struct reel_sched *s, const struct reel_journal_entry *e, uint32_t role)
{
	if (e->first < 0 || e->last < e->first)
		return -EINVAL;
	if (s->ncmds && s->cmds[s->ncmds - 1].seq >= e->seq)
		return -EINVAL;
	return add_range(s, s->ncmds, e, role, e->first, e->last, 0, 0);
}

int sched_add_replay(struct reel_sched *s, const struct reel_journal_entry *e, uint32_t role,
                     int64_t frame, uint64_t incarnation)
{
	size_t at = s->ncmds;

	if (frame < e->first || frame > e->last || e->first < 0)
		return -EINVAL;
	while (at > 0 && s->cmds[at - 1].seq > e->seq)
		at--;
	return add_range(s, at, e, role, frame, frame, 1, incarnation);
}

/* True when an unfinished chunk of a command before index ci overlaps [first, last]. */
static int blocked(const struct reel_sched *s, size_t ci, int64_t first, int64_t last)
{
	for (size_t i = 0; i < ci; i++) {
		const struct command *c = &s->cmds[i];
		for (uint32_t j = 0; j < c->nchunks; j++) {
			const struct sched_chunk *k = &c->chunks[j];
			if (k->state != SCHED_DONE && k->first <= last && first <= k->last)
				return 1;
		}
	}
	return 0;
}

int sched_take(struct reel_sched *s, uint32_t role, double now_ms, struct sched_chunk *ret_chunk)
{
	for (size_t i = 0; i < s->ncmds; i++) {
		struct command *c = &s->cmds[i];
		if (c->role != role)
			continue;
		for (uint32_t j = 0; j < c->nchunks; j++) {
			struct sched_chunk *k = &c->chunks[j];
			if (k->state != SCHED_PENDING || blocked(s, i, k->first, k->last))
				continue;
			k->state = SCHED_INFLIGHT;
			k->owner = 0;
			k->epoch = s->next_epoch++;
			k->since_ms = now_ms;
			s->inflight++;
			*ret_chunk = *k;
			return 1;
		}
	}
	return 0;
}

/* The in-flight chunk (seq, first, epoch); several replays may share a seq. */
static struct sched_chunk *find(struct reel_sched *s, uint64_t seq, int64_t first, uint64_t epoch,
                                size_t *ret_ci)
{
	for (size_t i = 0; i < s->ncmds; i++) {
		struct command *c = &s->cmds[i];
		if (c->seq != seq)
			continue;
		for (uint32_t j = 0; j < c->nchunks; j++) {
			struct sched_chunk *k = &c->chunks[j];
			if (k->first == first && k->epoch == epoch && k->state == SCHED_INFLIGHT) {
				*ret_ci = i;
				return k;
			}
		}
	}
	return NULL;
}

int sched_untake(struct reel_sched *s, uint64_t seq, int64_t first, uint64_t epoch)
{
	size_t ci;
	struct sched_chunk *k = find(s, seq, first, epoch, &ci);

	if (!k)
		return -ENOENT;
	k->state = SCHED_PENDING;
	s->inflight--;
	return 0;
}

int sched_claim(struct reel_sched *s, uint64_t seq, int64_t first, uint64_t epoch, pid_t pid,
                double now_ms)
{
	size_t ci;
	struct sched_chunk *k = find(s, seq, first, epoch, &ci);

	if (!k)
		return -ENOENT;
	if (k->owner && k->owner != pid)
		return -EPERM;
	k->owner = pid;
	k->since_ms = now_ms;
	return 0;
}

int sched_done(struct reel_sched *s, uint64_t seq, int64_t first, uint64_t epoch, pid_t pid,
               struct sched_chunk *ret_chunk)
{
	size_t ci;
	struct sched_chunk *k = find(s, seq, first, epoch, &ci);
	struct command *c;

	if (!k)
		return -ENOENT;
	if (k->owner && k->owner != pid)
		return -EPERM;
	k->state = SCHED_DONE;
	s->inflight--;
	if (ret_chunk)
		*ret_chunk = *k;
	c = &s->cmds[ci];
	if (--c->unfinished > 0)
		return 0;
	if (c->replay)
		s->replays--;
	free(c->chunks);
	memmove(c, c + 1, (s->ncmds - ci - 1) * sizeof(*c));
	s->ncmds--;
	return 1;
}

static int requeue_if(struct reel_sched *s, int (*pred)(const struct sched_chunk *, const void *),
                      const void *arg)
{
	int n = 0;

	for (size_t i = 0; i < s->ncmds; i++)
		for (uint32_t j = 0; j < s->cmds[i].nchunks; j++) {
			struct sched_chunk *k = &s->cmds[i].chunks[j];
			if (k->state == SCHED_INFLIGHT && pred(k, arg)) {
				k->state = SCHED_PENDING;
				k->owner = 0;
				s->inflight--;
				n++;
			}
		}
	return n;
}

static int owned_by(const struct sched_chunk *k, const void *arg)
{
	return k->owner == *(const pid_t *)arg;
}

int sched_requeue_owner(struct reel_sched *s, pid_t pid)
{
	if (pid <= 0)
		return -EINVAL;
	return requeue_if(s, owned_by, &pid);
}

struct deadlines { double claimed, unclaimed; };

static int too_old(const struct sched_chunk *k, const void *arg)
{
	const struct deadlines *d = arg;
	return k->since_ms < (k->owner ? d->claimed : d->unclaimed);
}

int sched_requeue_stale(struct reel_sched *s, double claimed_before_ms, double unclaimed_before_ms)
{
	struct deadlines d = { claimed_before_ms, unclaimed_before_ms };
	return requeue_if(s, too_old, &d);
}

int sched_taint_inflight(struct reel_sched *s, int64_t frame)
{
	int n = 0;

	for (size_t i = 0; i < s->ncmds; i++)
		for (uint32_t j = 0; j < s->cmds[i].nchunks; j++) {
			struct sched_chunk *k = &s->cmds[i].chunks[j];
			/*
			 * Replays are left alone: tainting them would make every replay's
			 * own need for the frame start another rebuild, without end.
			 */
			if (k->state == SCHED_INFLIGHT && !k->replay && k->first <= frame && frame <= k->last) {
				k->tainted = 1;
				n++;
			}
		}
	return n;
}

uint64_t sched_commands(const struct reel_sched *s)
{
	return s->ncmds - s->replays;
}

uint64_t sched_inflight(const struct reel_sched *s)
{
	return s->inflight;
}
