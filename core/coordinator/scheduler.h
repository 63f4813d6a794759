/*
 * The scheduler: the coordinator's private table of accepted commands cut
 * into work items (chunks), and of which stage holds which.  It decides
 * what may be dispatched now so that every frame sees the journal's order
 * while work on other frames runs in parallel.
 *
 * Frames are grouped into cells of chunk_frames frames on a fixed grid
 * (frame / chunk_frames), and a command's range is cut along that grid, so
 * two chunks overlap exactly when they are in the same cell.  Each cell
 * keeps its chunks in journal order, and only the first unfinished chunk of
 * a cell may run: a chunk waits for exactly the earlier work on its own
 * frames, never for a scan of the other commands.  Chunks that may run wait
 * in one heap per role, oldest command first.  Every operation costs
 * O(log n) or less.
 *
 * A command that needs a value measured first (normalize) also has one
 * measure item over its whole range; its chunks stay held until the value
 * is in (sched_release).
 *
 * Every dispatch gets a fresh epoch; a DONE, CLAIM or FAIL that names
 * another epoch comes from a dispatch taken back (a stage presumed dead or
 * hung) and is ignored.
 */
#ifndef REEL_SCHEDULER_H
#define REEL_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "reel/stage.h"

enum sched_kind { SCHED_APPLY = 1, SCHED_MEASURE = 2 };

/* A copy of a work item, as sched_take() and the others hand it out. */
struct sched_chunk {
	struct reel_edit edit;     /* the command */
	uint32_t role;
	uint32_t kind;             /* enum sched_kind */
	int64_t first, last;       /* the frames of this item */
	uint64_t epoch;            /* of the latest dispatch */
	pid_t owner;               /* the stage that claimed it; 0 while unclaimed */
	uint32_t failures;         /* times a stage reported it failed */
	uint32_t crashes;          /* times its stage crashed (or hung) holding it */
	uint32_t losses;           /* times its stage went otherwise holding it (killed, exited) */
};

struct reel_sched;

/* chunk_frames: the grid, and the largest range one work item covers. */
int sched_new(uint64_t chunk_frames, struct reel_sched **ret_sched);
void sched_free(struct reel_sched *sched);

/*
 * Add a command (edit.seq above every earlier one) for `role`.  With
 * measure, its chunks are held and a measure item over the whole range is
 * added, which runs once sched_measure_go() says so.
 */
int sched_add(struct reel_sched *sched, const struct reel_edit *edit, uint32_t role, bool measure);

/*
 * Measure an earlier command again (an undo changed the sound it measured):
 * a command of one measure item and no chunks, in its place by seq.
 */
int sched_add_measure(struct reel_sched *sched, const struct reel_edit *edit, uint32_t role);
/* Whether seq is such a command (sched_add_measure). */
bool sched_measure_only(const struct reel_sched *sched, uint64_t seq);

/* The measure item of seq may run now (every earlier measurement it depends on is in). */
int sched_measure_go(struct reel_sched *sched, uint64_t seq);
/* The measured value of seq is in (edit.params[1] of later items): its chunks may run. */
int sched_release(struct reel_sched *sched, uint64_t seq, double value);

/* The next item for `role` that may run now, in flight with a new epoch: 1, or 0 when none. */
int sched_take(struct reel_sched *sched, uint32_t role, double now_ms, struct sched_chunk *ret_chunk);
/* Undo a take whose message could not be sent (the queue was full). */
int sched_untake(struct reel_sched *sched, uint64_t seq, int64_t first, uint64_t epoch);

/*
 * A stage took the item, or says it is still working on it: the deadline
 * starts again.  -ENOENT for no in-flight item with that seq, first frame
 * and epoch (stale or invented), -EPERM when another stage claimed it.
 */
int sched_claim(struct reel_sched *sched, uint64_t seq, int64_t first, uint64_t epoch, pid_t pid,
                double now_ms);

/*
 * A stage finished the item.  1 when it was the command's last unfinished
 * item (the command then leaves the table), 0 when more remain, -ENOENT or
 * -EPERM as for a claim.  *ret_chunk (may be NULL) gets a copy of the item.
 */
int sched_done(struct reel_sched *sched, uint64_t seq, int64_t first, uint64_t epoch, pid_t pid,
               struct sched_chunk *ret_chunk);

/*
 * A stage could not do the item.  It is put back to be tried again, and 1
 * is returned once it has failed max_failures times (the caller then fails
 * the command and cancels it); 0 otherwise; -ENOENT or -EPERM as above.
 */
int sched_fail(struct reel_sched *sched, uint64_t seq, int64_t first, uint64_t epoch, pid_t pid,
               uint32_t max_failures);

/* Drop every unfinished item of command seq (undone, failed); the commands after it may go on. */
int sched_cancel(struct reel_sched *sched, uint64_t seq);

/*
 * How a stage holding work went, and how often each way fails an item's
 * command.  A crash (a fault signal of its own, or hung and killed) that
 * comes back with the item is likely the item's doing; a stage killed from
 * outside or gone of itself says nothing about the item, so it takes more.
 */
struct sched_loss {
	bool crashed;
	uint32_t max_crashes, max_losses;
};

/*
 * Put back every in-flight item claimed by pid (a dead stage), counting the
 * death against it as `how` says.  Items that reach a limit are put back
 * too, and their commands' sequences go to doomed (up to max_doomed,
 * distinct) for the caller to fail.  Returns how many items were put back.
 */
int sched_requeue_owner(struct reel_sched *sched, pid_t pid, const struct sched_loss *how,
                        uint64_t *doomed, size_t max_doomed, size_t *ret_ndoomed);

/*
 * Put back in-flight items past their deadline: claimed ones whose stage
 * has not said anything since claimed_before_ms (hung), unclaimed ones
 * dispatched before unclaimed_before_ms (taken by a stage that died before
 * it could claim).  Returns how many.
 */
int sched_requeue_stale(struct reel_sched *sched, double claimed_before_ms,
                        double unclaimed_before_ms);

/* Commands with unfinished items, and items in flight. */
uint64_t sched_commands(const struct reel_sched *sched);
uint64_t sched_inflight(const struct reel_sched *sched);
/* Whether command seq still has unfinished items. */
bool sched_has(const struct reel_sched *sched, uint64_t seq);
/* Whether an unfinished item covers a frame of first..last. */
bool sched_busy_over(const struct reel_sched *sched, int64_t first, int64_t last);

#endif
