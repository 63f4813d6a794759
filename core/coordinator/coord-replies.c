/*
 * Answers from the coordinator.  A reply goes to the requester's reply
 * queue with a non-blocking send: the loop never waits for a client.  What
 * does not fit waits in the outbox, at most MAX_OUTBOX_PER_PEER per reply
 * queue, and is retried with a back-off.  A client that keeps more requests
 * unanswered than that, or has not read its queue for OUTBOX_GIVE_UP_MS,
 * loses those replies: they answer requests only it made, and no command is
 * lost this way (commands are journaled before they are answered).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coord-private.h"
#include "reel/error.h"
#include "reel/log.h"

static size_t pending_for(const struct reel_coord *c, pid_t pid, uint32_t tag)
{
	size_t n = 0;

	for (size_t i = 0; i < c->noutbox; i++)
		n += c->outbox[i].pid == pid && c->outbox[i].tag == tag;
	return n;
}

void coord_reply(struct reel_coord *c, pid_t pid, uint32_t tag, uint64_t id, unsigned prio,
                 struct reel_msg *msg)
{
	struct outgoing *o;
	mqd_t q;
	int r;

	msg->id = id;
	msg->sender_pid = (uint32_t)getpid();
	msg->role = REEL_ROLE_COORD;
	msg->priority = prio;
	/* Replies queue behind earlier ones to the same client, so they keep their order. */
	if (pending_for(c, pid, tag) == 0) {
		q = coord_peer_queue(c, pid, tag);
		if (q == (mqd_t)-1) {
			reel_log(REEL_LOG_DEBUG, "coord", "reply to pid %ld dropped: no connection",
			         (long)pid);
			return;
		}
		r = reel_queue_send(q, msg, prio, 0);
		if (r != -EAGAIN)
			return;
	}
	if (c->noutbox == MAX_OUTBOX || pending_for(c, pid, tag) >= MAX_OUTBOX_PER_PEER) {
		reel_log(REEL_LOG_DEBUG, "coord", "pid %ld does not read its replies; one dropped",
		         (long)pid);
		return;
	}
	if (!c->outbox) {
		c->outbox = malloc(MAX_OUTBOX * sizeof(*c->outbox));
		if (!c->outbox)
			return;
	}
	o = &c->outbox[c->noutbox++];
	o->pid = pid;
	o->tag = tag;
	o->role = REEL_ROLE_CLIENT;
	o->prio = prio;
	o->since_ms = reel__now_ms();
	o->msg = *msg;
	c->outbox_retry_ms = 2;
	c->next_flush_ms = o->since_ms + c->outbox_retry_ms;
}

void coord_reply_result(struct reel_coord *c, const struct reel_msg *req, int32_t result,
                        uint64_t seq, uint32_t slot, uint64_t first, uint64_t last)
{
	struct reel_msg m;

	reel_msg_init(&m, REEL_MSG_REPLY);
	m.result = result > 0 ? 0 : result;
	m.seq = seq;
	m.slot = slot;
	m.first = (int64_t)first;
	m.last = (int64_t)(last < first ? first : last);
	coord_reply(c, (pid_t)req->sender_pid, req->flags, req->id, req->priority, &m);
}

void coord_flush_outbox(struct reel_coord *c)
{
	double now = reel__now_ms();
	size_t keep = 0, sent = 0;

	/* Each destination is opened once per flush and left at its first full queue. */
	for (size_t i = 0; i < c->noutbox; i++) {
		struct outgoing *o = &c->outbox[i];
		bool blocked = false;
		mqd_t q;

		for (size_t j = 0; j < keep; j++)
			if (c->outbox[j].pid == o->pid && c->outbox[j].tag == o->tag) {
				blocked = true;
				break;
			}
		if (!blocked && (q = coord_peer_queue(c, o->pid, o->tag)) != (mqd_t)-1) {
			int r = reel_queue_send(q, &o->msg, o->prio, 0);
			if (r != -EAGAIN) {
				sent++;
				continue;
			}
		} else if (!blocked) {
			continue;        /* the client is gone */
		}
		if (now - o->since_ms > OUTBOX_GIVE_UP_MS) {
			reel_log(REEL_LOG_WARN, "coord", "pid %ld has not read its replies for %.0f s; "
			         "dropping them", (long)o->pid, OUTBOX_GIVE_UP_MS / 1000);
			continue;
		}
		c->outbox[keep++] = *o;
	}
	c->noutbox = keep;
	/* Back off while nothing moves: a stuck client must not cost a core. */
	if (sent)
		c->outbox_retry_ms = 2;
	else if (c->outbox_retry_ms < 250)
		c->outbox_retry_ms *= 2;
	c->next_flush_ms = now + c->outbox_retry_ms;
}
