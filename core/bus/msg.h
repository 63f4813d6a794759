/*
 * The command bus message: one fixed-size, versioned binary record, the
 * same for every kind of request, reply and work item.  There is one
 * encoder and one validating decoder; a receiver never acts on bytes that
 * reel_msg_decode() did not accept.
 */
#ifndef REEL_MSG_H
#define REEL_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "reel/client.h"
#include "reel/ops.h"

#define REEL_MSG_MAGIC 0x4c454552u   /* "REEL" read as little-endian bytes */
#define REEL_MSG_VERSION 1u
#define REEL_MSG_SIZE 256u

enum reel_msg_kind {
	REEL_MSG_HELLO = 1,    /* stage -> coord: register role, pid */
	REEL_MSG_BYE,          /* stage -> coord: leaving cleanly */
	REEL_MSG_NEED,         /* client -> coord: materialise frames first..last */
	REEL_MSG_STATUS,       /* client -> coord */
	REEL_MSG_STOP,         /* client -> coord */
	REEL_MSG_COMMAND,      /* client -> coord: op over first..last with params */
	REEL_MSG_WORK,         /* coord -> stage: apply journal seq to first..last */
	REEL_MSG_DONE,         /* stage -> coord: work (seq, first..last, epoch) finished */
	REEL_MSG_REPLY,        /* coord -> client: result, seq, slot */
	REEL_MSG_STATUS_REPLY, /* coord -> client: the stat[] array */
	REEL_MSG_CLAIM,        /* stage -> coord: took work (seq, first, epoch) off its queue, or still works on it */
	REEL_MSG_FAIL,         /* stage -> coord: work (seq, first, epoch) failed: result, and a reason */
	REEL_MSG_MEASURED,     /* stage -> coord: measure work (seq, first, epoch) found params[0] */
	REEL_MSG_KIND_COUNT
};

/* Indices of stat[] in a STATUS_REPLY. */
enum reel_stat {
	REEL_STAT_FRAMES, REEL_STAT_RESIDENT, REEL_STAT_JOURNAL, REEL_STAT_PENDING,
	REEL_STAT_STAGES, REEL_STAT_INFLIGHT, REEL_STAT_MALFORMED, REEL_STAT_GENERATION,
	REEL_STAT_Q_COORD, REEL_STAT_Q_EDITOR, REEL_STAT_Q_EFFECT, REEL_STAT_Q_AUDIO,
	REEL_STAT_Q_PREVIEW, REEL_STAT_ERRORS, REEL_STAT_DECODED, REEL_STAT_FAILED,
	REEL_STAT_COUNT = 16
};

struct reel_msg {
	uint32_t magic;        /* REEL_MSG_MAGIC */
	uint16_t version;      /* REEL_MSG_VERSION */
	uint16_t kind;         /* enum reel_msg_kind */
	uint32_t size;         /* REEL_MSG_SIZE */
	uint32_t sender_pid;
	uint64_t id;           /* chosen by the requester, echoed in the reply */
	uint64_t seq;          /* journal sequence (COMMAND reply, WORK, DONE) */
	uint64_t epoch;        /* WORK/DONE: fences a late answer from a stage presumed dead */
	uint32_t op;           /* enum reel_op */
	uint32_t priority;     /* enum reel_prio */
	uint32_t role;         /* enum reel_role of the sender */
	int32_t result;        /* 0 or a reel error code */
	int64_t first, last;   /* frame range, inclusive */
	uint32_t slot;         /* REPLY to NEED: the slot holding `first` */
	uint32_t flags;
	double params[4];
	uint64_t stat[REEL_STAT_COUNT];
	uint64_t reserved[2];  /* zero */
};

_Static_assert(sizeof(struct reel_msg) == REEL_MSG_SIZE, "reel_msg must be REEL_MSG_SIZE bytes");

/*
 * Fields a kind keeps in stat[]:
 *   WORK      the command's whole range and the kind of work (enum
 *             reel_work_kind); first..last is the part to do now.
 *   FAIL      a NUL-terminated reason, in the bytes of stat[].
 *   NEED      seq != 0: answer once no command covering the frames is
 *             unfinished (the frames are settled), not as they stand.
 *   REPLY     to HELLO: the stage's slot in the session's stage table;
 *             to an undo or redo: the command it acted on.
 *   COMMAND   the idempotency key (0: none): a command whose key is in the
 *             journal already gets that entry's answer, not a second entry.
 * A STATUS_REPLY's `first` holds the coordinator's latched journal error (0
 * none): once an append failed, no edit is accepted.
 */
#define REEL_WORK_RANGE_FIRST 0
#define REEL_WORK_RANGE_LAST 1
#define REEL_WORK_KIND 2
#define REEL_REPLY_STAGE_SLOT 0
#define REEL_REPLY_TARGET 0
#define REEL_COMMAND_KEY 0
#define REEL_FAIL_REASON_MAX (REEL_STAT_COUNT * 8)

/* Fill magic, version and size; zero everything else. */
void reel_msg_init(struct reel_msg *msg, uint16_t kind);

/* Encode into buf (len >= REEL_MSG_SIZE); returns REEL_MSG_SIZE or -EINVAL. */
int reel_msg_encode(const struct reel_msg *msg, void *buf, size_t len);

/*
 * Validate len bytes from another process and copy them into *ret_msg.
 * REEL_E_BADMSG for any malformed field: size, magic, version, kind, op,
 * range, priority, role or parameters.  *ret_msg is untouched on failure.
 */
int reel_msg_decode(const void *buf, size_t len, struct reel_msg *ret_msg);

/* The mq_send priority of a class: control > interactive > batch > background. */
unsigned reel_prio_mq(unsigned prio_class);

const char *reel_msg_kind_name(unsigned kind);
const char *reel_role_name(unsigned role);

#endif
