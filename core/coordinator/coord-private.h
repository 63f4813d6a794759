/*
 * The coordinator's private state, shared by coord.c (set-up, teardown and
 * the event loop), coord-replies.c (answers and the outbox) and
 * coord-requests.c (what each message does).  Only the loop's thread
 * touches it; the materialiser thread has its own state behind its API.
 */
#ifndef REEL_COORD_PRIVATE_H
#define REEL_COORD_PRIVATE_H

#include <mqueue.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/clock.h"
#include "coord.h"
#include "materialise.h"
#include "bus/bus.h"
#include "buffer/journal.h"
#include "bus/msg.h"
#include "bus/session.h"
#include "scheduler.h"

#define MAX_STAGES 64
#define MAX_OUTBOX 4096
#define MAX_OUTBOX_PER_PEER 128
#define MAX_SERVED 256
#define MAX_WAITING 1024
#define MAX_WAITING_PER_PEER 32
#define MAX_COMMANDS 256          /* unfinished commands before new ones get -EBUSY */
#define CHUNK_FRAMES 64
#define CLAIM_DEADLINE_MS 30000.0
#define UNCLAIMED_DEADLINE_MS 10000.0
#define OUTBOX_GIVE_UP_MS 5000.0
#define MIN_SLOTS 16

enum { TAG_COORD = 1, TAG_SIGNAL, TAG_MATERIALISER, TAG_STAGE_QUEUE, TAG_PIDFD };

struct stage {
	pid_t pid;
	uint32_t role;
	int pidfd;
};

/* A NEED that waits for the materialiser, then for replays of its frames. */
struct waiting {
	uint64_t token;
	pid_t pid;
	uint32_t tag;
	uint64_t id;
	uint64_t first, last;     /* the frames served */
	bool decoded;             /* the materialiser is done; only replays remain */
	int32_t result;
	uint32_t slot;
};

/* A reply or a work item that did not fit into its queue yet. */
struct outgoing {
	pid_t pid;                /* 0: a work item for role queue `role` */
	uint32_t tag;
	uint32_t role;
	unsigned prio;
	double since_ms;
	struct reel_msg msg;
};

/* An accepted journal entry that is not undone: every decoded frame it covers needs it. */
struct accepted {
	uint64_t seq;
	uint32_t op, role;
	int64_t first, last;
	double params[4];
};

struct reel_coord {
	char session[REEL_SESSION_NAME_MAX + 1];
	char buffer_path[REEL_PATH_MAX];
	struct reel_session_record record;
	int resumed;
	bool published, created, claimed;
	struct reel_media *media;
	struct reel_buffer *buffer;
	const struct reel_buffer_info *info;
	mqd_t queues[REEL_ROLE_CLIENT];
	bool queue_blocked[REEL_ROLE_CLIENT];
	int epfd, sigfd, evfd;
	sigset_t old_mask;
	struct materialiser *mat;
	struct reel_sched *sched;

	struct stage stages[MAX_STAGES];
	size_t nstages;

	struct waiting *waiting;
	size_t nwaiting;
	uint64_t next_token;

	struct outgoing *outbox;
	size_t noutbox;
	double outbox_retry_ms;   /* back-off between flushes that made no progress */
	double next_flush_ms;

	/* Reply queues kept open: a client makes many calls over one queue. */
	struct { pid_t pid; uint32_t tag; mqd_t queue; } served[MAX_SERVED];
	size_t nserved;

	struct accepted *accepted;
	size_t naccepted, acceptedcap;
	uint16_t *replaying;      /* per frame: replays dispatched and not yet done */
	uint8_t *rebuild;         /* per frame: decoded afresh under in-flight commands; rebuild when they are done */

	const struct reel_coord_options *options;   /* during reel_coord_open() only */

	uint64_t malformed;
	uint64_t refused;         /* well-formed requests refused (busy, range) */
	bool stopping;
};

/* coord-replies.c */
void coord_reply(struct reel_coord *c, pid_t pid, uint32_t tag, uint64_t id, unsigned prio,
                 struct reel_msg *msg);
void coord_reply_result(struct reel_coord *c, const struct reel_msg *req, int32_t result,
                        uint64_t seq, uint32_t slot, uint64_t first, uint64_t last);
void coord_flush_outbox(struct reel_coord *c);
void coord_forget_served(struct reel_coord *c, bool all);

/* coord-requests.c */
void coord_handle(struct reel_coord *c, const struct reel_msg *msg);
void coord_dispatch(struct reel_coord *c);
void coord_finish_needs(struct reel_coord *c);
void coord_stage_died(struct reel_coord *c, pid_t pid);
void coord_watch_writable(struct reel_coord *c, unsigned role, bool on);
int coord_load_journal(struct reel_coord *c);
void coord_fail_waiting(struct reel_coord *c, int32_t result);
void coord_forget_dead_waiters(struct reel_coord *c);
void coord_recover_dead_writers(struct reel_coord *c);

#endif
