/*
 * The coordinator's private state, shared by coord.c (set-up, teardown and
 * the event loop), coord-replies.c (answers and the outbox),
 * coord-requests.c (needs, status and stop), coord-edits.c (commands, undo,
 * redo, failures, measurements, dispatch) and coord-stages.c (the stage
 * processes: started, attached, dead).  Only the loop's thread touches it;
 * the materialiser thread has its own state behind its API.
 */
#ifndef REEL_COORD_PRIVATE_H
#define REEL_COORD_PRIVATE_H

#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/clock.h"
#include "bus/bus.h"
#include "bus/msg.h"
#include "bus/session.h"
#include "coord.h"
#include "edit/edits.h"
#include "materialise.h"
#include "scheduler.h"

#define MAX_STAGES 64
#define MAX_OUTBOX 4096
#define MAX_OUTBOX_PER_PEER 128
#define MAX_SERVED 1024          /* client connections at once; beyond, new ones are refused */
#define MAX_WAITING 1024
#define MAX_WAITING_PER_PEER 32
#define MAX_COMMANDS 256          /* unfinished commands before new ones get -EBUSY */
/*
 * The grid of work items: small enough that a few hundred resident frames
 * give every worker something to do, large enough that a message per item
 * costs nothing next to the work.
 */
#define CHUNK_FRAMES 16
#define CLAIM_DEADLINE_MS 30000.0 /* a claimed item the stage has not spoken of for this long: hung */
#define UNCLAIMED_DEADLINE_MS 10000.0
#define OUTBOX_GIVE_UP_MS 5000.0
#define MIN_SLOTS 16
#define MAX_FAILURES 3            /* a work item failed this often fails its command */
#define MAX_CRASHES 3             /* its stage crashed (or hung) holding it this often: the same */
#define MAX_LOSSES 10             /* its stage was killed from outside or exited, this often */
#define STAGE_STOP_MS 5000.0      /* stages asked to leave at stop get this long */
#define STAGE_LOST_MS 1000.0      /* and this long when the buffer was lost: nothing they say counts */
#define RESTARTS_PER_MINUTE 5
#define REJECT_LINES 10           /* rejected messages logged one by one per window ... */
#define REJECT_WINDOW_MS 10000.0  /* ... then counted, and summed up in one line per window */

enum { TAG_COORD = 1, TAG_SIGNAL, TAG_MATERIALISER, TAG_STAGE_QUEUE, TAG_PIDFD };

struct stage {
	pid_t pid;
	uint32_t role;
	int pidfd;                /* watched in epoll while the process lives */
	bool attached;            /* it said hello */
	bool spawned;             /* started by this coordinator (and restarted when it dies) */
	int index;                /* spawned: which of the coordinator's stages it is */
	int table;                /* its entry in the buffer's stage table; 0 none yet */
	bool hung;                /* killed by us for holding a frame's lock without moving */
};

/* A stage this coordinator starts: restarted when it dies, within limits. */
struct spawn {
	uint32_t role;
	pid_t pid;                /* 0 while not running */
	double restart_at_ms;     /* when to start it again; 0 none due */
	double restarts[RESTARTS_PER_MINUTE];
	bool given_up;
};

/* A NEED that waits for the materialiser, and maybe for the frames to settle. */
struct waiting {
	uint64_t token;
	pid_t pid;
	uint32_t tag;
	uint64_t id;
	uint64_t first, last;     /* the frames served */
	bool decoded;             /* the materialiser is done */
	bool settle;              /* also wait until no unfinished command covers the frames */
	int32_t result;
	uint32_t slot;
};

/* A reply that did not fit into its queue yet. */
struct outgoing {
	pid_t pid;
	uint32_t tag;
	uint32_t role;
	unsigned prio;
	double since_ms;
	struct reel_msg msg;
};

struct reel_coord {
	char session[REEL_SESSION_NAME_MAX + 1];
	char buffer_path[REEL_PATH_MAX];
	char source_path[REEL_PATH_MAX];
	struct reel_session_record record;
	int resumed;
	bool published, created, claimed;
	struct reel_media *media;
	struct reel_buffer *buffer;
	const struct reel_buffer_info *info;
	struct reel_op_limits limits;
	reel_op_lookup_fn lookup;
	mqd_t queues[REEL_ROLE_CLIENT];
	bool queue_blocked[REEL_ROLE_CLIENT];
	int epfd, sigfd, evfd;
	sigset_t old_mask;
	struct materialiser *mat;
	/* The background index scan, while the index is being built (indexer.c). */
	struct indexer *indexer;
	bool index_pending;       /* the buffer's index is to be built in the background */
	bool counting;            /* frame_count is the index's capacity: the scan counts the frames */
	bool index_reported;      /* its end was logged */
	struct reel_sched *sched;
	struct reel_edits *edits;

	struct stage stages[MAX_STAGES];
	size_t nstages;
	struct spawn spawns[MAX_STAGES];
	size_t nspawns;
	unsigned spawn_effects, spawn_others;   /* what reel_coord_run() starts */
	bool spawn_preview;
	char self_dir[REEL_PATH_MAX];   /* where this program lives: the stages are found from it */

	struct waiting *waiting;
	size_t nwaiting;
	uint64_t next_token;

	struct outgoing *outbox;
	size_t noutbox;
	double outbox_retry_ms;   /* back-off between flushes that made no progress */
	double next_flush_ms;

	/*
	 * The client connections: the reply queue of each, opened at its first
	 * request and held until the client dies (the client unlinks the name
	 * once answered, so this descriptor is the only way to it).  The tag
	 * names the connection; its pid is bound to it for good.
	 */
	struct { pid_t pid; uint32_t tag; mqd_t queue; } served[MAX_SERVED];
	size_t nserved;

	/* Idempotency keys of journaled commands -> their sequence (open addressing, 0 free). */
	struct { uint64_t key, seq; } *keys;
	size_t nkeys, capkeys;

	uint64_t *measures;       /* normalizes waiting for earlier measurements before theirs can go */
	size_t nmeasures, capmeasures;

	const struct reel_coord_options *options;   /* during reel_coord_open() only */

	int log_fd;               /* the session log */
	pthread_mutex_t log_lock;
	bool log_lock_ready;
	double last_drain_ms;

	uint64_t malformed;        /* messages rejected: malformed, unexpected or from a pid that does not check out */
	double reject_window_ms;   /* start of the current logging window */
	unsigned reject_lines;     /* lines logged in it */
	uint64_t reject_quiet;     /* rejections counted in it but not logged */
	int journal_error;         /* latched: an append failed; no edit is accepted any more */
	uint64_t refused;         /* well-formed requests refused (busy, range) */
	uint64_t failed;          /* commands failed since start */
	bool stopping;            /* a stop was asked for: the stages are leaving */
	int stop_signal;          /* the signal that asked for it; 0 for a STOP message */
	double stop_deadline_ms;
	int lost;                 /* the buffer lost pages under the session (base/guard.h): why */
	double claim_deadline_ms; /* CLAIM_DEADLINE_MS, or $REEL_STAGE_DEADLINE_MS (for tests) */
	/* Slot locks seen held by a stage, unchanged, since since_ms (coord_fence_hung_holders). */
	struct held { uint32_t slot, pid, version; double since_ms; } held[MAX_STAGES];
	size_t nheld;
};

/* coord-replies.c */
void coord_reply(struct reel_coord *c, pid_t pid, uint32_t tag, uint64_t id, unsigned prio,
                 struct reel_msg *msg);
void coord_reply_result(struct reel_coord *c, const struct reel_msg *req, int32_t result,
                        uint64_t seq, uint32_t slot, uint64_t first, uint64_t last);
void coord_flush_outbox(struct reel_coord *c);
void coord_forget_served(struct reel_coord *c, bool all);

/* coord-peers.c */
/*
 * Whether message m may be acted on: a stage's report must come from an
 * attached stage's pid; a request from a connection whose pid checks out
 * (not 1, not us, alive, ours, holding the reply queue named for it) and
 * stays the same.  Rejected messages are counted and logged (rate-bounded).
 */
bool coord_admit(struct reel_coord *c, const struct reel_msg *m);
/* The connection's reply queue, or (mqd_t)-1 when it has none. */
mqd_t coord_peer_queue(struct reel_coord *c, pid_t pid, uint32_t tag);
/* Count a rejected message and log why, at most REJECT_LINES lines per window. */
void coord_reject(struct reel_coord *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Close the logging window when its time is up (or now): one line with what was not logged. */
void coord_reject_summary(struct reel_coord *c, bool now);

/* coord-keys.c */
int coord_keys_add(struct reel_coord *c, uint64_t key, uint64_t seq);
/* The sequence journaled with key, or 0. */
uint64_t coord_keys_find(const struct reel_coord *c, uint64_t key);
void coord_keys_free(struct reel_coord *c);

/* coord-requests.c */
void coord_handle(struct reel_coord *c, const struct reel_msg *msg);
void coord_finish_needs(struct reel_coord *c);
void coord_answer_settled(struct reel_coord *c);
void coord_fail_waiting(struct reel_coord *c, int32_t result);
void coord_forget_dead_waiters(struct reel_coord *c);
/* Stop: refuse new work, answer the needs in flight, ask the stages to leave. */
void coord_begin_stop(struct reel_coord *c);

/* coord-edits.c */
/* An append or state write failed: latch it, say so once, accept no more edits. */
void coord_journal_broken(struct reel_coord *c, int error);
int coord_load_journal(struct reel_coord *c);
void coord_command(struct reel_coord *c, const struct reel_msg *req);
void coord_work_done(struct reel_coord *c, const struct reel_msg *m);
void coord_work_failed(struct reel_coord *c, const struct reel_msg *m);
void coord_work_measured(struct reel_coord *c, const struct reel_msg *m);
void coord_fail_command(struct reel_coord *c, uint64_t seq, const char *reason);
void coord_take_failures(struct reel_coord *c);
void coord_dispatch(struct reel_coord *c);
void coord_watch_writable(struct reel_coord *c, unsigned role, bool on);
/* Send one edit as if a client had, before the loop runs (reel open --edits). */
int coord_accept_edit(struct reel_coord *c, uint64_t key, uint32_t op, const double params[4],
                      int64_t first, int64_t last, uint64_t *ret_seq, char *why, size_t whylen);

/* coord-log.c */
int coord_log_open(struct reel_coord *c);
void coord_log_close(struct reel_coord *c);
/* Drain the log rings of the stages (index < 0: all of them) into the session log. */
void coord_drain_logs(struct reel_coord *c, int index);

/* coord-stages.c */
int coord_hello(struct reel_coord *c, const struct reel_msg *m);
void coord_stage_died(struct reel_coord *c, pid_t pid);
void coord_recover_dead_writers(struct reel_coord *c);
/* Kill a stage that has held one slot's lock, unchanged, past the claim deadline. */
void coord_fence_hung_holders(struct reel_coord *c);
int coord_spawn_stages(struct reel_coord *c, unsigned editors, unsigned effects, unsigned audio,
                       bool preview);
void coord_restart_stages(struct reel_coord *c);
/* SIGTERM to the stages this coordinator started: they finish their item and leave. */
void coord_stop_stages(struct reel_coord *c);
bool coord_stages_gone(const struct reel_coord *c);
void coord_close_stages(struct reel_coord *c);
size_t coord_stages_of(const struct reel_coord *c, uint32_t role);
/* pid is a stage that said hello. */
bool coord_is_stage(const struct reel_coord *c, pid_t pid);

/*
 * The frames a request may name: the count, or while the background scan
 * counts them, the index's capacity (the materialiser answers REEL_E_RANGE
 * past the count once it is known).
 */
static inline uint64_t coord_frames(const struct reel_coord *c)
{
	return reel_index_end(c->buffer);
}

#endif
