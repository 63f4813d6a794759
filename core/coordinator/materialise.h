/*
 * The materialiser: the coordinator's decoding thread.  It owns the media
 * handle and the private map from frames to slots (with the LRU order used
 * for eviction), serves `need` requests in priority order, and tells the
 * event loop through an eventfd when a request is complete.
 *
 * The slot table in the buffer says what each slot holds, but a stage may
 * have scribbled there: the coordinator trusts only this private map.
 */
#ifndef REEL_MATERIALISE_H
#define REEL_MATERIALISE_H

#include <stddef.h>
#include <stdint.h>

#include "edit/edits.h"
#include "reel/stage.h"

struct reel_buffer;
struct reel_media;
struct materialiser;

struct mat_done {
	uint64_t token;        /* the caller's, from materialiser_request() */
	int32_t result;        /* 0, or why the first frame is not READY */
	uint32_t slot;         /* slot of the request's first frame */
	uint64_t first, last;  /* the frames served */
};

/*
 * Starts the thread.  notify_fd (an eventfd) is written when results are
 * ready.  Every frame decoded is brought up to date with the journal
 * (edits, with the ops of lookup; source is the video, for the frames a
 * freeze holds) before it is READY.  Slots a previous coordinator left
 * READY are kept only when the edit index proves they hold every edit that
 * covers them.
 */
int materialiser_start(struct reel_buffer *buffer, struct reel_media *media,
                       struct reel_edits *edits, reel_op_lookup_fn lookup, const char *source,
                       int notify_fd, struct materialiser **ret_mat);
/* Stops the thread after the frame it is decoding; accepts NULL. */
void materialiser_stop(struct materialiser *mat);
/*
 * The index grew (the indexer published entries), or, with error < 0, will
 * grow no more: frames past its end then fail with that error instead of
 * waiting.  Called from the indexer's thread.
 */
void materialiser_index_grew(struct materialiser *mat, int error);

/*
 * Queue frames first..last at priority class prio.  -ESHUTDOWN when the
 * thread has stopped (it failed), -EBUSY when too many requests wait.
 */
int materialiser_request(struct materialiser *mat, uint64_t first, uint64_t last, unsigned prio,
                         uint64_t token);

/*
 * An edit that failed while a freshly decoded frame was brought up to date:
 * the frame is left in ERROR.  Up to max into out; returns how many.
 */
struct mat_failure {
	int64_t frame;
	uint64_t seq;
	int32_t error;
};
size_t materialiser_failures(struct materialiser *mat, struct mat_failure *out, size_t max);
/* Take one finished request; 1 when one was there, 0 when none. */
int materialiser_poll(struct materialiser *mat, struct mat_done *ret_done);

/*
 * When every frame of first..last is READY or ERROR, fill *ret_done's slot
 * and result as a finished request would and return 1; else 0.  Marks the
 * frames used (LRU).
 */
int materialiser_lookup(struct materialiser *mat, uint64_t first, uint64_t last,
                        struct mat_done *ret_done);

/*
 * Forget frame `frame`: its slot goes STALE and the next need decodes it
 * again from source (and so brings it up to date with the journal).
 */
void materialiser_invalidate(struct materialiser *mat, uint64_t frame);

/*
 * Forget every resident frame of the spans (an undo, redo or failure
 * changed them).  The frames that were resident go to resident (up to max,
 * in order) so they can be rebuilt; returns how many there were.
 */
size_t materialiser_invalidate_spans(struct materialiser *mat, const struct reel_span *spans,
                                     size_t nspans, uint64_t *resident, size_t max);

/*
 * Whether a frame of first..last is resident or being decoded: a work item
 * over frames that are neither has nothing to do, since a frame decoded
 * later is brought up to date with every edit accepted before.
 */
bool materialiser_any_present(struct materialiser *mat, uint64_t first, uint64_t last);

struct mat_stats {
	uint64_t resident;      /* frames READY */
	uint64_t errors;        /* frames in ERROR */
	uint64_t decoded;       /* frames written since start */
	uint64_t adopted;       /* slots kept from the previous coordinator */
	uint64_t stale_at_start; /* slots of the previous coordinator that missed edits */
};
void materialiser_stats(struct materialiser *mat, struct mat_stats *ret_stats);

#endif
