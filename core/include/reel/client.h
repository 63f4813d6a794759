/*
 * The client side of a session: what `reel status`, `reel frame`, the
 * stages and the tests use to talk to a coordinator.  A client finds the
 * coordinator through its session file, sends requests on the coordinator
 * queue and reads replies from a reply queue of its own, which it creates
 * O_EXCL/0600 on connect and removes on close.
 */
#ifndef REEL_CLIENT_H
#define REEL_CLIENT_H

#include <stdint.h>

#include "reel/msg.h"
#include "reel/session.h"

struct reel_client;

/* REEL_E_NOSESSION when no live session has that name. */
int reel_client_connect(const char *session, struct reel_client **ret_client);
/* Removes the reply queue; accepts NULL. */
void reel_client_close(struct reel_client *client);

const struct reel_session_record *reel_client_record(const struct reel_client *client);

/*
 * Send request (kind and fields set by the caller; sender, id and reply tag
 * are filled in) with priority class prio, and wait at most timeout_ms for
 * its reply (replies to other ids are discarded).  Returns the reply's
 * result: 0, or the coordinator's error code; -ETIMEDOUT.
 */
int reel_client_call(struct reel_client *client, struct reel_msg *request, unsigned prio,
                     int timeout_ms, struct reel_msg *ret_reply);

/* Materialise frames first..last; *ret_slot gets the slot of `first`. */
int reel_client_need(struct reel_client *client, uint64_t first, uint64_t last, unsigned prio,
                     int timeout_ms, uint32_t *ret_slot);

#endif
