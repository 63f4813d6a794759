/*
 * The client side of a session: what `reel status`, `reel frame`, the
 * stages and scripts use to talk to a coordinator.  A client finds the
 * coordinator through its session file, sends requests on the coordinator
 * queue and reads replies from a reply queue of its own, which it creates
 * O_EXCL/0600 on connect and removes on close.
 */
#ifndef REEL_CLIENT_H
#define REEL_CLIENT_H

#include <stdint.h>
#include <sys/types.h>

#include "reel/frame.h"

#define REEL_SESSION_NAME_MAX 64
#define REEL_PATH_MAX 4096

/* Priority classes of requests, highest first in the queues. */
enum reel_prio {
	REEL_PRIO_BACKGROUND = 0,   /* read-ahead */
	REEL_PRIO_BATCH = 1,        /* export, work items */
	REEL_PRIO_INTERACTIVE = 2,  /* a person waits: preview keys, reel send, reel frame */
	REEL_PRIO_CONTROL = 3,      /* stop, and the stages' own traffic */
	REEL_PRIO_COUNT
};

/* What a session file says about a live session. */
struct reel_session_record {
	char name[REEL_SESSION_NAME_MAX + 1];
	pid_t pid;
	uint64_t start_time;           /* /proc/<pid>/stat field 22 */
	uint64_t queue_nonce;          /* random part of the session's queue names (never 0) */
	char buffer_path[REEL_PATH_MAX];
	char source_path[REEL_PATH_MAX];
};

/* A session name is 1..64 of [A-Za-z0-9_-]; anything else is REEL_E_SESSION. */
int reel_session_name_check(const char *session);

struct reel_status {
	uint64_t frames;            /* in the video */
	uint64_t resident;          /* READY in the buffer */
	uint64_t errors;            /* frames that could not be decoded */
	uint64_t decoded;           /* frames decoded since the coordinator started */
	uint64_t journal;           /* entries in the journal */
	uint64_t pending;           /* commands not finished */
	uint64_t inflight;          /* work items handed to stages and not done */
	uint64_t stages;            /* attached editor, effect and audio processes (not previews) */
	uint64_t malformed;         /* messages dropped as malformed */
	uint64_t generation;        /* of the buffer: +1 at every coordinator start */
	uint64_t failed;            /* edits that failed since the coordinator started */
	uint64_t queue_depth[5];    /* coord, editor, effect, audio, preview */
	int32_t journal_error;      /* 0, or why the journal could not be written: no edits are accepted */
};

struct reel_client;

/* REEL_E_NOSESSION when no live session has that name. */
int reel_client_connect(const char *session, struct reel_client **ret_client);
/* Removes the reply queue; accepts NULL. */
void reel_client_close(struct reel_client *client);

const struct reel_session_record *reel_client_record(const struct reel_client *client);

/* The session's figures; -ETIMEDOUT when the coordinator did not answer in time. */
int reel_client_status(struct reel_client *client, int timeout_ms, struct reel_status *ret_status);

/* Materialise frames first..last at priority prio; *ret_slot gets the slot of `first`. */
int reel_client_need(struct reel_client *client, uint64_t first, uint64_t last, unsigned prio,
                     int timeout_ms, uint32_t *ret_slot);

/*
 * The same, answered only once no unfinished command covers the frames:
 * what is read then holds every edit acknowledged before the call.
 */
int reel_client_need_settled(struct reel_client *client, uint64_t first, uint64_t last,
                             unsigned prio, int timeout_ms, uint32_t *ret_slot);

/*
 * Send an edit (enum reel_op of reel/ops.h) over frames first..last.
 * Answered once it is in the journal, durably: *ret_seq is its sequence.
 * REEL_E_PARAM when the coordinator refuses its parameters, -EBUSY when too
 * many edits are still being applied.
 */
int reel_client_command(struct reel_client *client, uint32_t op, const double params[4],
                        int64_t first, int64_t last, int timeout_ms, uint64_t *ret_seq);

/*
 * The same with an idempotency key: a caller that timed out and sends the
 * same command again with the same key gets the first one's answer (its
 * sequence) instead of a second edit; the key is journaled with the edit,
 * so this holds across coordinator restarts.  Take a key from
 * reel_client_new_key() per command, and keep it across its retries.
 */
uint64_t reel_client_new_key(void);
int reel_client_command_keyed(struct reel_client *client, uint64_t key, uint32_t op,
                              const double params[4], int64_t first, int64_t last, int timeout_ms,
                              uint64_t *ret_seq);

/*
 * Undo the latest edit still in effect, or redo the latest undone one.
 * *ret_seq gets the undo's (redo's) own sequence, *ret_target the edit's
 * (both may be NULL); REEL_E_NOUNDO when there is nothing to act on.
 */
int reel_client_undo(struct reel_client *client, int timeout_ms, uint64_t *ret_seq,
                     uint64_t *ret_target);
int reel_client_redo(struct reel_client *client, int timeout_ms, uint64_t *ret_seq,
                     uint64_t *ret_target);

/*
 * The video's size, rates, frame count and sound, from the session's
 * buffer.  A session that still counts its frames (a container that does
 * not list them, opened moments ago) is waited for, up to a minute.
 */
int reel_client_video(struct reel_client *client, struct reel_video_info *ret_info);

/*
 * Copy frame `frame` as it stands into dst (memory of the caller's, e.g.
 * from reel_frame_alloc(); its strides are its own; dst->audio may be NULL
 * to leave the sound out, dst->plane[0] NULL to leave the picture out),
 * tear-free: the copy is kept only when no writer touched the slot
 * meanwhile.  The frame is materialised first at priority prio, unless
 * flags has REEL_READ_PEEK: then nothing is asked of the coordinator and
 * nothing is waited for, and -EAGAIN says the frame is not resident now,
 * is on its way in or being edited, or a writer got in the way (a window's
 * event loop can afford that call on every tick).  REEL_READ_SETTLED waits
 * until no unfinished edit covers the frame.  *ret_state (may be NULL) gets
 * the journal state the frame holds.  REEL_E_DECODE (or the decoder's
 * error) when the frame cannot be decoded.
 */
#define REEL_READ_SETTLED 1u
#define REEL_READ_PEEK 2u
int reel_client_read_frame(struct reel_client *client, uint64_t frame, unsigned flags, unsigned prio,
                           int timeout_ms, struct reel_frame *dst, uint64_t *ret_state);

/*
 * Frame `frame` as the buffer holds it now, without copying it and without
 * asking the coordinator: 0 when it is resident, with *ret_version a
 * number that changes whenever its pictures or sound may have (an edit was
 * applied, it was decoded again, it moved to another slot) and *ret_state
 * (may be NULL) the journal state it holds.  A reader that keeps a copy
 * takes the version before reel_client_read_frame(): while the two stay
 * equal, the copy is what the buffer holds.  -EAGAIN when the frame is not
 * resident (or on its way in), REEL_E_RANGE outside the video.
 */
int reel_client_frame_version(struct reel_client *client, uint64_t frame, uint64_t *ret_version,
                              uint64_t *ret_state);

/* What reel_client_resident() says of each frame. */
enum reel_residence {
	REEL_FRAME_ABSENT = 0,      /* not in the buffer, or on its way in */
	REEL_FRAME_RESIDENT = 1,    /* in the buffer, ready to be read */
	REEL_FRAME_FAILED = 2,      /* could not be decoded */
};

/*
 * Which of frames first..first+count-1 are resident now, from the slot
 * table alone (nothing is asked of the coordinator): ret_map[i] gets an
 * enum reel_residence for frame first + i, *ret_resident (may be NULL) how
 * many are resident.  One pass over at most the slot table, so a progress
 * bar can afford it a few times a second.  REEL_E_RANGE when the frames
 * are not all in the video.
 */
int reel_client_resident(struct reel_client *client, uint64_t first, uint64_t count,
                         uint8_t *ret_map, uint64_t *ret_resident);

/* Ask the coordinator to stop; returns once it has acknowledged. */
int reel_client_stop(struct reel_client *client, int timeout_ms);

#endif
