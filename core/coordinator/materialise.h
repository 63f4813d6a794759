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

#include <stdint.h>

struct reel_buffer;
struct reel_media;
struct materialiser;

struct mat_done {
	uint64_t token;        /* the caller's, from materialiser_request() */
	int32_t result;        /* 0, or why the first frame is not READY */
	uint32_t slot;         /* slot of the request's first frame */
	uint64_t first, last;  /* the frames served */
};

/* Starts the thread.  notify_fd (an eventfd) is written when results are ready. */
int materialiser_start(struct reel_buffer *buffer, struct reel_media *media, int notify_fd,
                       struct materialiser **ret_mat);
/* Stops the thread after the frame it is decoding; accepts NULL. */
void materialiser_stop(struct materialiser *mat);

/*
 * Queue frames first..last at priority class prio.  -ESHUTDOWN when the
 * thread has stopped (it failed), -EBUSY when too many requests wait.
 */
int materialiser_request(struct materialiser *mat, uint64_t first, uint64_t last, unsigned prio,
                         uint64_t token);

/*
 * Frames decoded since the last call: each has journal_seq 0 in its slot
 * and needs every accepted journal entry that covers it re-applied, for
 * that decode (incarnation) of the frame.  Up to max into fresh; returns
 * how many.
 */
struct mat_fresh {
	uint64_t frame;
	uint64_t incarnation;
};
size_t materialiser_fresh(struct materialiser *mat, struct mat_fresh *fresh, size_t max);
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
 * again from source (and so replays the journal onto it).
 */
void materialiser_invalidate(struct materialiser *mat, uint64_t frame);

struct mat_stats {
	uint64_t resident;      /* frames READY */
	uint64_t errors;        /* frames in ERROR */
	uint64_t decoded;       /* frames written since start */
};
void materialiser_stats(struct materialiser *mat, struct mat_stats *ret_stats);

#endif
