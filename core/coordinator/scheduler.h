/*
 * The scheduler: the coordinator's private table of accepted commands, cut
 * into chunks, and of which stage holds which chunk.  It decides what may be
 * dispatched now: a chunk goes out only when no chunk of an earlier command
 * that overlaps its frames is still unfinished, so every frame sees the
 * journal's order while non-overlapping work runs in parallel.
 *
 * Every dispatch gets a fresh epoch; a DONE or CLAIM that names another
 * epoch comes from a dispatch that was taken back (a stage presumed dead or
 * hung) and is ignored.
 */
#ifndef REEL_SCHEDULER_H
#define REEL_SCHEDULER_H

#include <stdint.h>
#include <sys/types.h>

#include "buffer/journal.h"

enum sched_chunk_state { SCHED_PENDING, SCHED_INFLIGHT, SCHED_DONE };

struct sched_chunk {
	uint64_t seq;
	uint32_t op;
	uint32_t role;
	int64_t first, last;
	double params[4];
	uint32_t state;
	pid_t owner;           /* stage that claimed it; 0 while unclaimed */
	uint64_t epoch;        /* of the latest dispatch */
	double since_ms;       /* when dispatched, or claimed */
	int replay;            /* re-applies an applied entry to a frame decoded again */
	int tainted;           /* a frame of it was decoded afresh while it was in flight */
	uint64_t incarnation;  /* replay: the decode of the frame it is meant for */
};

struct reel_sched;

/* chunk_frames: the largest frame range one work item covers. */
int sched_new(uint64_t chunk_frames, struct reel_sched **ret_sched);
void sched_free(struct reel_sched *sched);

/* Add an accepted journal entry for `role`, cut into chunks.  Entries must come in seq order. */
int sched_add(struct reel_sched *sched, const struct reel_journal_entry *entry, uint32_t role);

/*
 * Re-apply an entry that is already applied to one frame that was decoded
 * again (evicted, or rebuilt).  It takes its place in seq order among the
 * unfinished commands, so it runs after earlier and before later edits of
 * that frame.
 */
int sched_add_replay(struct reel_sched *sched, const struct reel_journal_entry *entry,
                     uint32_t role, int64_t frame, uint64_t incarnation);

/*
 * A frame was decoded afresh while commands covering it are in flight: one
 * may be applied to the fresh frame before earlier entries are replayed onto
 * it (and those replays then skipped), so the in-flight command chunks
 * covering the frame are marked tainted, and the frame is to be rebuilt once
 * they are done (sched_done's chunk says so).  Replay chunks are not marked.
 * Returns how many chunks were marked.
 */
int sched_taint_inflight(struct reel_sched *sched, int64_t frame);

/*
 * The next chunk for `role` that may run now; it becomes in flight with a
 * new epoch.  Returns 1 with *ret_chunk filled, 0 when nothing may go.
 */
int sched_take(struct reel_sched *sched, uint32_t role, double now_ms, struct sched_chunk *ret_chunk);
/* Undo a take whose message could not be sent (the queue was full); -ENOENT when unknown. */
int sched_untake(struct reel_sched *sched, uint64_t seq, int64_t first, uint64_t epoch);

/*
 * A stage says it took the chunk.  -ENOENT when no in-flight chunk has that
 * seq, first frame and epoch (a stale or invented answer), -EPERM when
 * another stage claimed it already.
 */
int sched_claim(struct reel_sched *sched, uint64_t seq, int64_t first, uint64_t epoch, pid_t pid,
                double now_ms);
/*
 * A stage finished the chunk.  Returns 1 when it was the command's last
 * unfinished chunk (the command is then dropped from the table), 0 when more
 * remain, -ENOENT as for a claim, -EPERM when another stage claimed it.
 * *ret_chunk (may be NULL) gets a copy of the finished chunk.
 */
int sched_done(struct reel_sched *sched, uint64_t seq, int64_t first, uint64_t epoch, pid_t pid,
               struct sched_chunk *ret_chunk);

/* Put back every in-flight chunk claimed by pid (a dead stage); returns how many. */
int sched_requeue_owner(struct reel_sched *sched, pid_t pid);
/*
 * Put back in-flight chunks older than their deadline: claimed ones older than
 * claimed_before_ms (a hung stage), unclaimed ones older than
 * unclaimed_before_ms (taken off the queue by a stage that died before it
 * could claim).  Returns how many.
 */
int sched_requeue_stale(struct reel_sched *sched, double claimed_before_ms,
                        double unclaimed_before_ms);

/* Commands (replays not counted) with unfinished chunks, and chunks in flight. */
uint64_t sched_commands(const struct reel_sched *sched);
uint64_t sched_inflight(const struct reel_sched *sched);

#endif
