/*
 * The materialiser thread (see materialise.h).
 *
 * Requests wait in a small array kept in priority order (FIFO within a
 * class).  The thread decodes one request at a time through
 * reel_media_decode(), whose sink callbacks pick a slot for each frame,
 * lock it, mark it DECODING inside a seqlock write, and on completion mark
 * it READY (or ERROR with the reason) and wake its waiters.  A request of a
 * higher class arriving meanwhile preempts the current one between two
 * frames; the rest of the current request goes back in the queue.
 *
 * Faulting in fresh pages of a slot costs about as much as decoding the
 * frame (the kernel zeroes every page first).  A second thread, the
 * prefaulter, populates the slots the decoder will fill next
 * (reel_buffer_prefault_slot), so that this cost overlaps with decoding on
 * the other core instead of adding to it.
 *
 * Every frame decoded is brought up to date with the journal before it is
 * READY (reel_applier_bring, in this thread, under the slot's lock): a frame
 * that was not resident when an edit came gets it here, exactly as a stage
 * would have applied it.  The frame's status is DECODING in the private map
 * from the moment its slot is chosen, so that the loop never takes a frame
 * on its way in for an absent one (see materialiser_any_present()).
 *
 * When there are at least as many slots as frames, frame f lives in slot f
 * and nothing is ever evicted.  Otherwise slots are handed out free first,
 * then by least recent use; the frames of the request being served are
 * touched first so that they are the last candidates.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "buffer/slot.h"
#include "reel/log.h"
#include "edit/apply.h"
#include "edit/edits.h"
#include "materialise.h"
#include "media/media.h"
#include "reel/error.h"

#define NO_SLOT UINT32_MAX

enum { FRAME_ABSENT = 0, FRAME_DECODING, FRAME_READY, FRAME_ERROR };

/* More waiting requests than this are refused: the coordinator caps clients first. */
#define MAX_REQUESTS 4096
/*
 * How pictures go into slots, known once the first one went in.  Until then
 * the prefaulter waits: on the common path (through the file) it would only
 * take the other core from the first frame's decode, and make the write
 * after it slower (docs/ARCHITECTURE.md).
 */
enum { PICTURES_UNKNOWN, PICTURES_THROUGH_FILE, PICTURES_THROUGH_MAPPING };

/* Slots the prefaulter keeps ready ahead of the decoder. */
#define PREFAULT_AHEAD 16

struct request {
	uint64_t first, last, token, order;
	uint64_t next;               /* where serving resumes after a preemption */
	unsigned prio;
	int error;                   /* why a frame of it could not be had at all (no slot for it) */
};

struct materialiser {
	struct reel_buffer *buffer;
	struct reel_media *media;
	const struct reel_buffer_info *info;
	int notify_fd;
	pthread_t thread;
	bool started;

	/* Everything below is guarded by lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct request *reqs;
	size_t nreqs, reqcap;
	uint64_t order;
	struct mat_done *done;       /* room for every queued request is reserved */
	size_t ndone, donecap;
	struct mat_failure *failures; /* edits that failed on fresh frames, not yet taken */
	size_t nfailures, failurecap;
	bool failed;                 /* the thread stopped on its own */
	bool index_waiting;          /* the thread waits for the index to grow */
	int picture_path;            /* PICTURES_* (atomic): how the latest picture went in */
	int index_error;             /* the index will not grow past where it is: why */
	unsigned serving_prio;       /* class of the request being decoded */
	bool preempt;                /* a higher class waits */

	bool identity;               /* slot f holds frame f */
	uint32_t *frame_slot;        /* frame -> slot, NO_SLOT when absent */
	uint8_t *frame_status;       /* FRAME_* */
	int64_t *slot_frame;         /* slot -> frame, -1 when free */
	uint64_t *last_use;          /* slot -> tick of its latest use */
	uint64_t tick;
	struct mat_stats stats;

	/* The prefaulter: wakes when the decoder moves on (prefault_hint). */
	pthread_t prefaulter;
	bool prefaulter_started;
	pthread_cond_t prefault_cond;
	uint64_t prefault_hint;      /* the frame the decoder is at; guarded by lock */
	uint64_t prefault_seen;

	/* The thread's own: the slot being written between begin() and end(). */
	uint32_t cur_slot;
	uint64_t cur_first;
	struct reel_edits *edits;
	struct reel_applier *applier;
};

static void forget_slot(struct materialiser *m, uint32_t slot)
{
	int64_t old = m->slot_frame[slot];

	if (old >= 0) {
		if (m->frame_status[old] == FRAME_READY)
			m->stats.resident--;
		else if (m->frame_status[old] == FRAME_ERROR)
			m->stats.errors--;
		m->frame_status[old] = FRAME_ABSENT;
		m->frame_slot[old] = NO_SLOT;
	}
	m->slot_frame[slot] = -1;
}

/* A slot for `frame`: free first, else least recently used; NO_SLOT when none. */
static uint32_t pick_slot(struct materialiser *m, uint64_t frame, bool free_only)
{
	uint32_t best = NO_SLOT;

	if (m->identity)
		return (uint32_t)frame;
	for (uint32_t s = 0; s < m->info->slot_count; s++) {
		if (m->slot_frame[s] < 0)
			return s;
		if (!free_only && (best == NO_SLOT || m->last_use[s] < m->last_use[best]))
			best = s;
	}
	return best;
}

/* Caller holds m->lock: the frame goes back to absent after a failed start. */
static void unclaim(struct materialiser *m, uint64_t frame, uint32_t slot)
{
	if (m->frame_slot[frame] == slot && m->frame_status[frame] == FRAME_DECODING) {
		m->frame_status[frame] = FRAME_ABSENT;
		m->frame_slot[frame] = NO_SLOT;
		m->slot_frame[slot] = -1;
	}
}

/*
 * Pictures that need no conversion go into the slot through the file: one
 * copy into the page cache, instead of zeroing fresh pages (the
 * prefaulter) and faulting them in through the mapping to copy into them
 * (measured in docs/ARCHITECTURE.md).  The prefaulter then has nothing to do.
 */
static int sink_write_picture(void *userdata, uint64_t frame, const uint8_t *const plane[3],
                              const int linesize[3])
{
	struct materialiser *m = userdata;
	int r;

	(void)frame;
	r = reel_buffer_write_picture(m->buffer, m->cur_slot, plane, linesize);
	if (r == 0)
		__atomic_store_n(&m->picture_path, PICTURES_THROUGH_FILE, __ATOMIC_RELAXED);
	return r;
}

/* The decoder writes into the planes through the mapping: their pages must exist first. */
static int sink_prepare_planes(void *userdata, uint64_t frame)
{
	struct materialiser *m = userdata;

	(void)frame;
	__atomic_store_n(&m->picture_path, PICTURES_THROUGH_MAPPING, __ATOMIC_RELAXED);
	return reel_buffer_reserve_slot(m->buffer, m->cur_slot);
}

static int sink_begin(void *userdata, uint64_t frame, struct reel_frame *ret_frame)
{
	struct materialiser *m = userdata;
	uint32_t slot;
	int r;

	pthread_mutex_lock(&m->lock);
	if (m->stop) {
		pthread_mutex_unlock(&m->lock);
		return -ECANCELED;
	}
	if (frame >= m->info->frame_count || m->frame_status[frame] != FRAME_ABSENT) {
		pthread_mutex_unlock(&m->lock);
		return 1;
	}
	m->prefault_hint = frame + 1;
	pthread_cond_signal(&m->prefault_cond);
	/* Read-ahead before the request may use free slots, never evict. */
	slot = pick_slot(m, frame, frame < m->cur_first);
	if (slot == NO_SLOT) {
		pthread_mutex_unlock(&m->lock);
		return 1;
	}
	forget_slot(m, slot);
	/*
	 * On its way in from now on: the loop counts it as present (so work for
	 * it is dispatched), and the prefaulter leaves the slot alone.
	 */
	m->frame_slot[frame] = slot;
	m->slot_frame[slot] = (int64_t)frame;
	m->frame_status[frame] = FRAME_DECODING;
	pthread_mutex_unlock(&m->lock);

	r = reel_slot_lock(m->buffer, slot, 2000);
	if (r < 0)
		goto out_unclaim;
	/* Reserved when the picture is written (sink_write_picture, sink_prepare_planes). */
	r = reel_buffer_frame(m->buffer, slot, ret_frame);
	if (r < 0)
		goto out_unlock;
	/* The frame number first: whoever sees DECODING sees which frame it is for. */
	reel_slot_write_begin(m->buffer, slot);
	reel_slot_set_contents(m->buffer, slot, (int64_t)frame, 0, 0);
	reel_slot_set_state(m->buffer, slot, REEL_SLOT_DECODING, 0);
	m->cur_slot = slot;
	return 0;

out_unlock:
	reel_slot_unlock(m->buffer, slot);
out_unclaim:
	pthread_mutex_lock(&m->lock);
	unclaim(m, frame, slot);
	pthread_mutex_unlock(&m->lock);
	/* A slot that cannot be had now skips the frame; a full disk stops the decode. */
	return r == -ETIMEDOUT || r == REEL_E_SLOT ? 1 : r;
}

static void note_failure(struct materialiser *m, uint64_t frame, uint64_t seq, int32_t error)
{
	if (m->nfailures == m->failurecap) {
		size_t cap = m->failurecap ? m->failurecap * 2 : 16;
		struct mat_failure *v = realloc(m->failures, cap * sizeof(*v));
		if (!v)
			return;
		m->failures = v;
		m->failurecap = cap;
	}
	m->failures[m->nfailures].frame = (int64_t)frame;
	m->failures[m->nfailures].seq = seq;
	m->failures[m->nfailures].error = error;
	m->nfailures++;
}

static int sink_end(void *userdata, uint64_t frame, uint32_t audio_samples, int32_t error)
{
	struct materialiser *m = userdata;
	uint32_t slot = m->cur_slot;
	uint64_t seen = 0, reached = 0, failed_seq = 0;
	bool stale;
	int r;

	/*
	 * No room for the picture (it is written, and its slot reserved, only
	 * now): as when a slot cannot be reserved at all, the frame goes back
	 * to absent and the decode stops with the error.
	 */
	if (error == -ENOSPC || error == -EDQUOT) {
		reel_slot_set_contents(m->buffer, slot, -1, 0, 0);
		reel_slot_write_end(m->buffer, slot);
		reel_slot_set_state(m->buffer, slot, REEL_SLOT_EMPTY, 0);
		pthread_mutex_lock(&m->lock);
		unclaim(m, frame, slot);
		pthread_mutex_unlock(&m->lock);
		reel_slot_unlock(m->buffer, slot);
		return error;
	}
	if (!error) {
		struct reel_frame view;

		/*
		 * Up to date with the journal before anyone sees it.  `seen` is the
		 * journal as the steps were read: an undo or a failure after that
		 * reaching this frame makes the result stale (checked below).
		 */
		seen = reel_edits_count(m->edits);
		error = reel_buffer_frame(m->buffer, slot, &view);
		view.audio_samples = audio_samples;
		if (!error)
			error = reel_applier_bring(m->applier, (int64_t)frame, &view, 0, seen, &reached,
			                           &failed_seq);
	}
	/*
	 * A source that lost pages may have fed the decoder zeros: whatever was
	 * decoded since the loss is an error with its reason, never a picture.
	 */
	if (!error)
		error = reel_media_lost(m->media);
	reel_slot_set_contents(m->buffer, slot, (int64_t)frame, reached, audio_samples);
	reel_slot_write_end(m->buffer, slot);

	/*
	 * Lock order everywhere: slot lock, then m->lock, then the edit index's.
	 * The loop adds an undo to the index before it takes m->lock to forget
	 * the frames it changed, so either the check below sees the undo or the
	 * loop finds this frame in the map.
	 */
	pthread_mutex_lock(&m->lock);
	stale = !error && reel_edits_last_change(m->edits, (int64_t)frame, true) > seen;
	if (stale) {
		reel_slot_set_state(m->buffer, slot, REEL_SLOT_STALE, 0);
		unclaim(m, frame, slot);
	} else {
		reel_slot_set_state(m->buffer, slot, error ? REEL_SLOT_ERROR : REEL_SLOT_READY, error);
		m->frame_status[frame] = error ? FRAME_ERROR : FRAME_READY;
		m->last_use[slot] = ++m->tick;
		if (error)
			m->stats.errors++;
		else
			m->stats.resident++;
		if (error && failed_seq)
			note_failure(m, frame, failed_seq, error);
	}
	m->stats.decoded++;
	r = m->stop ? -ECANCELED : m->preempt ? 1 : 0;
	pthread_mutex_unlock(&m->lock);
	reel_slot_unlock(m->buffer, slot);
	return r;
}

/*
 * Give a frame that the decoder could not produce a slot in ERROR, so nobody
 * waits on it; false when no slot could be had for it either.
 */
static bool mark_error(struct materialiser *m, uint64_t frame, int32_t error)
{
	struct reel_frame unused;

	/* No room: the request carries the reason (serve()), the frame stays absent. */
	if (error == -ENOSPC || error == -EDQUOT || sink_begin(m, frame, &unused) != 0)
		return false;
	sink_end(m, frame, 0, error);
	return true;
}

/*
 * A frame the map holds whose slot went STALE (its lock was recovered from a
 * stage that died editing it) is forgotten, so that it is decoded again.
 * Trusting the table this far is safe: a scribbling stage can only cause an
 * extra decode.  Caller holds m->lock.
 */
static void drop_if_stale(struct materialiser *m, uint64_t frame)
{
	struct reel_slot_info si;
	uint32_t slot = m->frame_slot[frame];

	/* A frame on its way in is the decoder's until it is done. */
	if (slot == NO_SLOT || m->frame_status[frame] == FRAME_DECODING)
		return;
	if (reel_slot_get(m->buffer, slot, &si) < 0 || si.state == REEL_SLOT_STALE ||
	    si.frame != (int64_t)frame)
		forget_slot(m, slot);
}

static bool present(struct materialiser *m, uint64_t frame)
{
	bool p;

	pthread_mutex_lock(&m->lock);
	drop_if_stale(m, frame);
	p = m->frame_status[frame] == FRAME_READY || m->frame_status[frame] == FRAME_ERROR;
	pthread_mutex_unlock(&m->lock);
	return p;
}

/* Touch the resident frames of first..last so eviction takes them last. */
static void touch_range(struct materialiser *m, uint64_t first, uint64_t last)
{
	for (uint64_t f = first; f <= last; f++)
		if (m->frame_slot[f] != NO_SLOT)
			m->last_use[m->frame_slot[f]] = ++m->tick;
}

static bool all_present(struct materialiser *m, uint64_t first, uint64_t last)
{
	for (uint64_t f = first; f <= last; f++)
		if (!present(m, f))
			return false;
	return true;
}

/*
 * The buffer lost pages under us (base/guard.h): nothing written into it
 * can be trusted any more, so the thread stops serving at once and wakes
 * the loop, which answers everyone and ends the session.
 */
static bool buffer_lost(struct materialiser *m)
{
	uint64_t one = 1;

	if (!reel_buffer_lost(m->buffer))
		return false;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->prefault_cond);
	pthread_mutex_unlock(&m->lock);
	if (write(m->notify_fd, &one, sizeof(one)) < 0) {
		/* The loop looks at the buffer on every turn anyway. */
	}
	return true;
}

void materialiser_index_grew(struct materialiser *m, int error)
{
	pthread_mutex_lock(&m->lock);
	if (error < 0)
		m->index_error = error;
	if (m->index_waiting || error < 0)
		pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

/*
 * Frames this far past the scan are served from a local index rather than
 * waited for: the scan covers a hundred thousand frames or more a second,
 * a local index costs demuxing three groups of pictures.
 */
#define LOCAL_INDEX_AHEAD 3000

/* A local index the scan has now reached must agree with it: said once, loudly, if not. */
static void check_local_index(struct materialiser *m)
{
	if (reel_media_local_check(m->media, m->buffer) < 0)
		reel_log(REEL_LOG_ERROR, "coord", "frames numbered from the sample table before the "
		         "scan reached them differ from the scan's index: this file's groups of "
		         "pictures only looked closed; frames served before the scan may be misnumbered");
}

/*
 * Wait until the index reaches frame f and the one after it (a frame's
 * sound ends where the next frame starts), while the indexer still builds
 * it.  0 with *ret_upto the last frame decodable now (at least f), 1 when
 * stopped or preempted meanwhile, < 0 when the index will never get there.
 */
static int reach_index(struct materialiser *m, uint64_t f, uint64_t *ret_upto)
{
	bool local_tried = false;
	int r = 0;

	check_local_index(m);
	pthread_mutex_lock(&m->lock);
	for (;;) {
		uint64_t ready = reel_index_ready(m->buffer), last;
		/* 0 while the frames are counted (a buffer made for an upper bound of them). */
		uint64_t count = reel_buffer_frames(m->buffer);

		if (count && f >= count) {
			r = REEL_E_RANGE;
			break;
		}
		if (count && ready == count) {
			*ret_upto = count - 1;
			break;
		}
		if (ready >= f + 2) {
			*ret_upto = ready - 2;
			break;
		}
		/*
		 * Far past the scan: a keyframe seek with the frames numbered from
		 * the sample table beats waiting (local-index.c), when the file
		 * allows it.
		 */
		if (reel_media_local_covers(m->media, f, &last)) {
			*ret_upto = last;
			break;
		}
		/*
		 * Before the scan has published anything (its demuxer is still
		 * opening: tens of ms on a long file) the first frames come from a
		 * local index too.
		 */
		if (!local_tried && (ready == 0 || f >= ready + LOCAL_INDEX_AHEAD)) {
			local_tried = true;
			pthread_mutex_unlock(&m->lock);
			r = reel_media_local_index(m->media, m->buffer, f, &last);
			pthread_mutex_lock(&m->lock);
			if (r == 0) {
				reel_log(REEL_LOG_DEBUG, "coord", "frames %" PRIu64 "-%" PRIu64 " served from "
				         "a local index (the scan is at %" PRIu64 ")", f, last, ready);
				*ret_upto = last;
				break;
			}
			r = 0;
			continue;
		}
		if (m->index_error < 0) {
			r = m->index_error;
			break;
		}
		if (m->stop || m->preempt) {
			r = 1;
			break;
		}
		m->index_waiting = true;
		pthread_cond_wait(&m->cond, &m->lock);
		m->index_waiting = false;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

/*
 * Returns 1 when every frame of the request is present, 0 when preempted or
 * stopped.  Frames served earlier may have been evicted by a request that
 * preempted this one: they are decoded again before the request counts as done.
 */
static int serve(struct materialiser *m, struct request *req)
{
	const struct reel_sink sink = { sink_begin, sink_end, m, sink_write_picture,
	                                sink_prepare_planes };

	for (int pass = 0; pass < 3; pass++) {
		pthread_mutex_lock(&m->lock);
		touch_range(m, req->first, req->last);
		pthread_mutex_unlock(&m->lock);
		m->cur_first = req->first;
		for (uint64_t f = req->next; f <= req->last; f++) {
			uint64_t upto;
			int r;

			if (buffer_lost(m)) {
				req->next = f;
				return 0;
			}
			if (present(m, f))
				continue;
			r = reach_index(m, f, &upto);
			if (r == 1) {
				req->next = f;
				return 0;
			}
			/* Counted while it waited: the rest of the request does not exist. */
			if (r == REEL_E_RANGE) {
				req->error = r;
				req->next = req->first;
				return 1;
			}
			if (r == 0)
				r = reel_media_decode(m->media, m->buffer, f,
				                      upto < req->last ? upto : req->last, &sink);
			pthread_mutex_lock(&m->lock);
			if (m->stop || (m->preempt && r >= 0)) {
				pthread_mutex_unlock(&m->lock);
				req->next = f;
				return 0;
			}
			pthread_mutex_unlock(&m->lock);
			if (r < 0 && reel_media_lost(m->media))
				r = reel_media_lost(m->media);
			/*
			 * A slot that could not be had, or a full disk (no room for
			 * the picture), leaves the frame with no slot to carry an
			 * ERROR state: the request keeps the reason instead, so that
			 * the reply says ENOSPC, not "could not be decoded".
			 */
			if (!present(m, f) && !mark_error(m, f, r < 0 ? r : REEL_E_DECODE) && r < 0 &&
			    r != -ECANCELED)
				req->error = r;
		}
		req->next = req->first;
		if (all_present(m, req->first, req->last))
			return 1;
	}
	/* Still missing after three passes: the cache is too small for the range; say so. */
	return 1;
}

static void fill_done(struct materialiser *m, uint64_t first, uint64_t last, uint64_t token,
                      int error, struct mat_done *d)
{
	uint32_t slot = m->frame_slot[first];

	d->token = token;
	d->first = first;
	d->last = last;
	d->slot = slot == NO_SLOT ? 0 : slot;
	if (slot == NO_SLOT)
		d->result = error < 0 ? error : REEL_E_DECODE;
	else if (m->frame_status[first] == FRAME_ERROR) {
		struct reel_slot_info si;
		d->result = reel_slot_get(m->buffer, slot, &si) == 0 && si.error < 0 ? si.error
		                                                                     : REEL_E_DECODE;
	} else
		d->result = 0;
}

static void push_done(struct materialiser *m, const struct request *req)
{
	uint64_t one = 1;

	pthread_mutex_lock(&m->lock);
	/* Room was reserved when the request was queued. */
	fill_done(m, req->first, req->last, req->token, req->error, &m->done[m->ndone++]);
	pthread_mutex_unlock(&m->lock);
	if (write(m->notify_fd, &one, sizeof(one)) < 0) {
		/* The loop also polls on a timer; a lost wake-up only delays the reply. */
	}
}

/* Insert keeping (prio desc, order asc); caller holds the lock. */
static int enqueue(struct materialiser *m, const struct request *req)
{
	size_t i;

	if (m->nreqs == m->reqcap) {
		size_t cap = m->reqcap ? m->reqcap * 2 : 16;
		struct request *v = realloc(m->reqs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->reqs = v;
		m->reqcap = cap;
	}
	for (i = m->nreqs; i > 0; i--) {
		const struct request *p = &m->reqs[i - 1];
		if (p->prio > req->prio || (p->prio == req->prio && p->order < req->order))
			break;
	}
	memmove(&m->reqs[i + 1], &m->reqs[i], (m->nreqs - i) * sizeof(*req));
	m->reqs[i] = *req;
	m->nreqs++;
	return 0;
}

/* The slots the decoder will fill next after frame `from`; caller holds the lock. */
static size_t next_slots(struct materialiser *m, uint64_t from, uint32_t *slots, size_t max)
{
	size_t n = 0;

	if (m->identity) {
		for (uint64_t f = from; f < m->info->frame_count && n < max; f++)
			if (m->frame_status[f] == FRAME_ABSENT)
				slots[n++] = (uint32_t)f;
		return n;
	}
	/* With eviction, only free slots can be fresh: used ones were faulted in already. */
	for (uint32_t s = 0; s < m->info->slot_count && n < max; s++)
		if (m->slot_frame[s] < 0)
			slots[n++] = s;
	return n;
}

/*
 * Prefault one slot that holds no frame.  Under its lock, so that its pages
 * may be overwritten with zeros (faster on a disk file): the decoder takes
 * the same lock before it writes, and a slot that got a frame meanwhile is
 * left alone.  A slot in use is skipped rather than waited for, and
 * failures are the writer's to meet.
 */
static void prefault(struct materialiser *m, uint32_t slot)
{
	bool free_slot;

	/* Pictures written through the file need no pages made ready for them. */
	if (__atomic_load_n(&m->picture_path, __ATOMIC_RELAXED) != PICTURES_THROUGH_MAPPING)
		return;
	if (reel_slot_lock(m->buffer, slot, 0) < 0)
		return;
	pthread_mutex_lock(&m->lock);
	free_slot = m->slot_frame[slot] < 0;
	pthread_mutex_unlock(&m->lock);
	if (free_slot) {
		/*
		 * The slot may still hold an evicted frame that a reader was told
		 * about: it goes EMPTY, and the zeros are written inside a seqlock
		 * write, so no reader accepts them as that frame.
		 */
		reel_slot_set_state(m->buffer, slot, REEL_SLOT_EMPTY, 0);
		reel_slot_write_begin(m->buffer, slot);
		reel_slot_set_contents(m->buffer, slot, -1, 0, 0);
		reel_buffer_prefault_slot(m->buffer, slot, REEL_PREFAULT_DISCARD);
		reel_slot_write_end(m->buffer, slot);
	}
	reel_slot_unlock(m->buffer, slot);
}

static void *prefault_main(void *arg)
{
	struct materialiser *m = arg;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		uint32_t slots[PREFAULT_AHEAD];
		size_t n;

		while (!m->stop && m->prefault_hint == m->prefault_seen)
			pthread_cond_wait(&m->prefault_cond, &m->lock);
		m->prefault_seen = m->prefault_hint;
		n = next_slots(m, m->prefault_hint, slots, PREFAULT_AHEAD);
		pthread_mutex_unlock(&m->lock);
		for (size_t i = 0; i < n; i++)
			prefault(m, slots[i]);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

static void *thread_main(void *arg)
{
	struct materialiser *m = arg;

	pthread_mutex_lock(&m->lock);
	for (;;) {
		struct request req;
		bool complete;

		while (!m->stop && m->nreqs == 0)
			pthread_cond_wait(&m->cond, &m->lock);
		if (m->stop)
			break;
		req = m->reqs[0];
		memmove(&m->reqs[0], &m->reqs[1], (m->nreqs - 1) * sizeof(req));
		m->nreqs--;
			m->serving_prio = req.prio;
		m->preempt = false;
		m->prefault_hint = req.next;
		pthread_cond_signal(&m->prefault_cond);
		pthread_mutex_unlock(&m->lock);

		complete = serve(m, &req);
		if (complete)
			push_done(m, &req);

		pthread_mutex_lock(&m->lock);
		if (!complete && !m->stop) {
			/* Preempted: the rest of the request waits behind the higher class. */
			if (enqueue(m, &req) < 0) {
				m->failed = true;
				break;
			}
		}
		m->preempt = false;
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/*
 * Adopt what a previous coordinator left READY, but only what provably
 * holds every edit that covers it: the slot says which journal state it
 * holds, and the edit index says when the frame last changed meaning.  A
 * slot whose writer died mid-edit (its robust lock says so), or whose
 * seqlock is odd, is not adopted.  Everything else is free, to be decoded
 * afresh and brought up to date.
 */
static void adopt_slots(struct materialiser *m)
{
	uint64_t journal = reel_edits_count(m->edits);
	uint8_t *claims = NULL;

	/*
	 * Two READY slots that name one frame cannot both be right, and the
	 * table cannot say which is: neither is adopted.  (With a slot for every
	 * frame, reel_slot_get() already refuses a frame outside its own slot.)
	 */
	if (!m->identity) {
		claims = calloc(m->info->frame_count, 1);
		if (!claims)
			return;   /* nothing adopted: every frame is decoded afresh */
		for (uint32_t s = 0; s < m->info->slot_count; s++) {
			struct reel_slot_info si;

			if (reel_slot_get(m->buffer, s, &si) == 0 && si.state == REEL_SLOT_READY &&
			    si.frame >= 0 && claims[si.frame] < 2)
				claims[si.frame]++;
		}
	}
	for (uint32_t s = 0; s < m->info->slot_count; s++) {
		struct reel_slot_info si;
		uint64_t f;
		int r;

		/* reel_slot_get() refuses a READY entry whose seal does not match: damage is decoded again. */
		if (reel_slot_get(m->buffer, s, &si) < 0 || si.state != REEL_SLOT_READY || si.frame < 0 ||
		    (si.version & 1u))
			continue;
		f = (uint64_t)si.frame;
		if (f >= m->info->frame_count || m->frame_slot[f] != NO_SLOT || (m->identity && f != s) ||
		    (claims && claims[f] != 1))
			continue;
		if (si.journal_seq > journal ||
		    reel_edits_last_change(m->edits, (int64_t)f, false) > si.journal_seq) {
			m->stats.stale_at_start++;
			continue;
		}
		r = reel_slot_lock(m->buffer, s, 100);
		if (r < 0)
			continue;
		reel_slot_unlock(m->buffer, s);
		if (r == REEL_SLOT_RECOVERED)
			continue;
		m->frame_slot[f] = s;
		m->slot_frame[s] = (int64_t)f;
		m->frame_status[f] = FRAME_READY;
		m->last_use[s] = ++m->tick;
		m->stats.resident++;
		m->stats.adopted++;
	}
	free(claims);
}

int materialiser_start(struct reel_buffer *buffer, struct reel_media *media,
                       struct reel_edits *edits, reel_op_lookup_fn lookup, const char *source,
                       int notify_fd, struct materialiser **ret_mat)
{
	const struct reel_applier_config ac = { .buffer = buffer, .edits = edits, .lookup = lookup,
	                                        .source = source };
	struct materialiser *m;
	int r = -ENOMEM;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->buffer = buffer;
	m->media = media;
	m->edits = edits;
	m->info = reel_buffer_info(buffer);
	m->notify_fd = notify_fd;
	r = reel_applier_new(&ac, &m->applier);
	if (r < 0) {
		free(m);
		return r;
	}
	r = -ENOMEM;
	m->identity = m->info->slot_count >= m->info->frame_count;
	m->frame_slot = malloc(m->info->frame_count * sizeof(*m->frame_slot));
	m->frame_status = calloc(m->info->frame_count, 1);
	m->slot_frame = malloc(m->info->slot_count * sizeof(*m->slot_frame));
	m->last_use = calloc(m->info->slot_count, sizeof(*m->last_use));
	if (!m->frame_slot || !m->frame_status || !m->slot_frame || !m->last_use)
		goto out_free;
	memset(m->frame_slot, 0xff, m->info->frame_count * sizeof(*m->frame_slot));
	for (uint32_t s = 0; s < m->info->slot_count; s++)
		m->slot_frame[s] = -1;
	adopt_slots(m);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	pthread_cond_init(&m->prefault_cond, NULL);
	m->prefault_hint = m->prefault_seen = UINT64_MAX;
	r = -pthread_create(&m->prefaulter, NULL, prefault_main, m);
	if (r < 0)
		goto out_destroy;
	m->prefaulter_started = true;
	r = -pthread_create(&m->thread, NULL, thread_main, m);
	if (r < 0)
		goto out_stop;
	m->started = true;
	*ret_mat = m;
	return 0;

out_stop:
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->prefault_cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->prefaulter, NULL);
out_destroy:
	pthread_cond_destroy(&m->prefault_cond);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
out_free:
	reel_applier_free(m->applier);
	free(m->frame_slot);
	free(m->frame_status);
	free(m->slot_frame);
	free(m->last_use);
	free(m);
	return r;
}

void materialiser_stop(struct materialiser *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->cond);
	pthread_cond_broadcast(&m->prefault_cond);
	pthread_mutex_unlock(&m->lock);
	if (m->started)
		pthread_join(m->thread, NULL);
	if (m->prefaulter_started)
		pthread_join(m->prefaulter, NULL);
	pthread_cond_destroy(&m->prefault_cond);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	reel_applier_free(m->applier);
	free(m->reqs);
	free(m->done);
	free(m->failures);
	free(m->frame_slot);
	free(m->frame_status);
	free(m->slot_frame);
	free(m->last_use);
	free(m);
}

int materialiser_request(struct materialiser *m, uint64_t first, uint64_t last, unsigned prio,
                         uint64_t token)
{
	struct request req = { first, last, token, 0, first, prio, 0 };
	int r = 0;

	if (first > last || last >= m->info->frame_count)
		return REEL_E_RANGE;
	pthread_mutex_lock(&m->lock);
	if (m->failed || m->stop) {
		r = -ESHUTDOWN;
		goto out_unlock;
	}
	if (m->nreqs + m->ndone >= MAX_REQUESTS) {
		r = -EBUSY;
		goto out_unlock;
	}
	/* Reserve the result's room now, so finishing a request cannot fail. */
	if (m->donecap < m->nreqs + m->ndone + 2) {
		size_t cap = m->donecap ? m->donecap * 2 : 16;
		struct mat_done *v = realloc(m->done, cap * sizeof(*v));
		if (!v) {
			r = -ENOMEM;
			goto out_unlock;
		}
		m->done = v;
		m->donecap = cap;
	}
	req.order = m->order++;
	r = enqueue(m, &req);
	if (r == 0) {
		if (prio > m->serving_prio)
			m->preempt = true;
		pthread_cond_signal(&m->cond);
	}
out_unlock:
	pthread_mutex_unlock(&m->lock);
	return r;
}

size_t materialiser_failures(struct materialiser *m, struct mat_failure *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->nfailures < max ? m->nfailures : max;
	if (n > 0) {
		memcpy(out, m->failures, n * sizeof(*out));
		memmove(m->failures, m->failures + n, (m->nfailures - n) * sizeof(*out));
	}
	m->nfailures -= n;
	pthread_mutex_unlock(&m->lock);
	return n;
}

int materialiser_poll(struct materialiser *m, struct mat_done *ret_done)
{
	int found = 0;

	pthread_mutex_lock(&m->lock);
	if (m->ndone) {
		*ret_done = m->done[0];
		memmove(&m->done[0], &m->done[1], (m->ndone - 1) * sizeof(*m->done));
		m->ndone--;
		found = 1;
	}
	pthread_mutex_unlock(&m->lock);
	return found;
}

int materialiser_lookup(struct materialiser *m, uint64_t first, uint64_t last,
                        struct mat_done *ret_done)
{
	int all = 1;

	if (first > last || last >= m->info->frame_count)
		return REEL_E_RANGE;
	pthread_mutex_lock(&m->lock);
	for (uint64_t f = first; f <= last && all; f++) {
		drop_if_stale(m, f);
		all = m->frame_status[f] == FRAME_READY || m->frame_status[f] == FRAME_ERROR;
	}
	if (all) {
		touch_range(m, first, last);
		fill_done(m, first, last, 0, 0, ret_done);
	}
	pthread_mutex_unlock(&m->lock);
	return all;
}

/* Mark the frame's slot STALE and forget it; the decoder's own frames are left alone. */
static void invalidate(struct materialiser *m, uint64_t frame, bool *ret_was_resident)
{
	uint32_t slot;
	bool locked;

	*ret_was_resident = false;
	pthread_mutex_lock(&m->lock);
	slot = m->frame_slot[frame];
	if (m->frame_status[frame] == FRAME_DECODING)
		slot = NO_SLOT;
	pthread_mutex_unlock(&m->lock);
	if (slot == NO_SLOT)
		return;
	/* Readers learn it from the table; a stage editing the slot is waited for. */
	locked = reel_slot_lock(m->buffer, slot, 2000) >= 0;
	if (locked)
		reel_slot_set_state(m->buffer, slot, REEL_SLOT_STALE, 0);
	pthread_mutex_lock(&m->lock);
	if (m->frame_slot[frame] == slot && m->frame_status[frame] != FRAME_DECODING) {
		*ret_was_resident = m->frame_status[frame] == FRAME_READY;
		forget_slot(m, slot);
	}
	pthread_mutex_unlock(&m->lock);
	if (locked)
		reel_slot_unlock(m->buffer, slot);
}

void materialiser_invalidate(struct materialiser *m, uint64_t frame)
{
	bool was;

	if (frame < m->info->frame_count)
		invalidate(m, frame, &was);
}

static bool in_spans(const struct reel_span *spans, size_t n, int64_t frame)
{
	for (size_t i = 0; i < n; i++)
		if (spans[i].first <= frame && frame <= spans[i].last)
			return true;
	return false;
}

size_t materialiser_invalidate_spans(struct materialiser *m, const struct reel_span *spans,
                                     size_t nspans, uint64_t *resident, size_t max)
{
	uint64_t *frames;
	size_t n = 0, count = 0;

	/* The resident frames in the spans, found through the slots: there are fewer of them. */
	frames = malloc((size_t)m->info->slot_count * sizeof(*frames));
	if (!frames)
		return 0;
	pthread_mutex_lock(&m->lock);
	for (uint32_t s = 0; s < m->info->slot_count; s++) {
		int64_t f = m->slot_frame[s];
		if (f >= 0 && m->frame_status[f] != FRAME_DECODING && in_spans(spans, nspans, f))
			frames[n++] = (uint64_t)f;
	}
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; i < n; i++) {
		bool was;

		invalidate(m, frames[i], &was);
		if (was && count < max)
			resident[count++] = frames[i];
	}
	free(frames);
	return count;
}

bool materialiser_any_present(struct materialiser *m, uint64_t first, uint64_t last)
{
	bool any = false;

	if (last >= m->info->frame_count)
		last = m->info->frame_count - 1;
	pthread_mutex_lock(&m->lock);
	for (uint64_t f = first; f <= last && !any; f++)
		any = m->frame_status[f] != FRAME_ABSENT;
	pthread_mutex_unlock(&m->lock);
	return any;
}

void materialiser_stats(struct materialiser *m, struct mat_stats *ret_stats)
{
	pthread_mutex_lock(&m->lock);
	*ret_stats = m->stats;
	pthread_mutex_unlock(&m->lock);
}
