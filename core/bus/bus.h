/*
 * The command bus: priority POSIX message queues, one per role of a
 * session, named /reel.<uid>.<session>.<nonce>.<role>.<coordinator pid>, plus
 * one reply queue per client connection,
 * /reel.<uid>.<session>.<nonce>.r<client pid>.<tag>.
 *
 * The nonce is 64 random bits chosen by the coordinator and published only
 * in the session file, in the user's private runtime folder: another local
 * user cannot predict a name, so cannot create it first and block the
 * session (a creator that meets EEXIST chooses again).  The tag of a reply
 * queue is random too.  A client unlinks its reply queue's name as soon as
 * the coordinator has answered once (the coordinator holds it open from
 * then on), so the kernel frees it when both have closed it, whatever kills
 * them; names left by a death before that, and role queues of a coordinator
 * that was killed, are swept (reel_session_sweep): each name says whose
 * process it belongs to.
 *
 * Queues are created O_EXCL with mode 0600 and hold REEL_BUS_DEPTH messages
 * (Linux's default, which root cannot raise inside a container).  Nothing is
 * ever dropped: a sender waits with mq_timedsend, and a non-blocking sender
 * gets -EAGAIN and keeps the message until the queue drains (backpressure).
 */
#ifndef REEL_BUS_H
#define REEL_BUS_H

#include <mqueue.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bus/msg.h"
#include "reel/client.h"

#define REEL_BUS_DEPTH 10
#define REEL_QUEUE_NAME_MAX 192

struct reel_session_record;

/* 64 random bits from getrandom(), never 0: queue nonces, reply tags, command keys. */
int reel_random_u64(uint64_t *ret);

/* "/reel.<uid>.<session>.<nonce>.<role>.<pid>" of the session record into buf. */
int reel_queue_name_of(char *buf, size_t len, const struct reel_session_record *record,
                       unsigned role);
/*
 * "/reel.<uid>.<session>.<nonce>.r<pid>.<tag>" into buf: the reply queue of
 * client `pid`, `tag` being the random tag it sends in each request's flags.
 */
int reel_reply_queue_name_of(char *buf, size_t len, const struct reel_session_record *record,
                             pid_t pid, uint64_t tag);
/*
 * The same for session name, the nonce read from its session file:
 * REEL_E_NOSESSION when there is none.
 */
int reel_queue_name(char *buf, size_t len, const char *session, unsigned role);
int reel_reply_queue_name(char *buf, size_t len, const char *session, pid_t pid, uint64_t tag);

/* Flags for reel_queue_create/open. */
#define REEL_QUEUE_NONBLOCK 1

/* Create with O_EXCL, mode 0600; -EEXIST when it exists. */
int reel_queue_create(const char *name, int flags, mqd_t *ret_queue);
/*
 * Open an existing queue and check that it is ours: owned by this user,
 * mode 0600 or narrower, message size REEL_MSG_SIZE (REEL_E_FOREIGNQUEUE when not).
 */
int reel_queue_open(const char *name, int flags, mqd_t *ret_queue);
void reel_queue_close(mqd_t queue);

/*
 * Send with the mq priority of prio_class.  timeout_ms < 0 waits forever,
 * 0 does not wait (-EAGAIN when full), > 0 waits that long (-ETIMEDOUT).
 */
int reel_queue_send(mqd_t queue, const struct reel_msg *msg, unsigned prio_class, int timeout_ms);

/*
 * Receive one message; same timeout rules.  A message that fails
 * reel_msg_decode() is consumed and reported as REEL_E_BADMSG.
 */
int reel_queue_recv(mqd_t queue, struct reel_msg *ret_msg, unsigned *ret_mq_prio, int timeout_ms);

/* Messages waiting in the queue, or a negative error. */
long reel_queue_depth(mqd_t queue);

/*
 * Send request (kind and fields set by the caller; sender, id and reply tag
 * are filled in) with priority class prio, and wait at most timeout_ms for
 * its reply (replies to other ids are discarded).  Returns the reply's
 * result: 0, or the coordinator's error code; -ETIMEDOUT.
 */
int reel_client_call(struct reel_client *client, struct reel_msg *request, unsigned prio,
                     int timeout_ms, struct reel_msg *ret_reply);

#endif
