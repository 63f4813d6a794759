/*
 * reel_client: a connection to a session's coordinator (see reel/client.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "bus/bus.h"
#include "bus/session.h"
#include "reel/client.h"
#include "reel/error.h"

struct reel_client {
	struct reel_session_record record;
	mqd_t coord;
	mqd_t reply;
	uint32_t tag;
	uint64_t next_id;
	char reply_name[REEL_QUEUE_NAME_MAX];
};

int reel_client_connect(const char *session, struct reel_client **ret_client)
{
	struct reel_client *c;
	char name[REEL_QUEUE_NAME_MAX];
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->coord = c->reply = (mqd_t)-1;
	r = reel_session_read(session, &c->record);
	if (r < 0)
		goto out_free;
	if (!reel_session_alive(&c->record)) {
		r = REEL_E_NOSESSION;
		goto out_free;
	}
	r = reel_queue_name(name, sizeof(name), session, REEL_ROLE_COORD);
	if (r < 0)
		goto out_free;
	r = reel_queue_open(name, 0, &c->coord);
	if (r < 0) {
		r = r == -ENOENT ? REEL_E_NOSESSION : r;
		goto out_free;
	}
	/* The tag only has to differ between the clients of one process. */
	c->tag = (uint32_t)((uint64_t)reel__now_ns() ^ (uintptr_t)c) | 1u;
	c->next_id = 1;
	r = reel_reply_queue_name(c->reply_name, sizeof(c->reply_name), session, getpid(), c->tag);
	if (r < 0)
		goto out_close;
	r = reel_queue_create(c->reply_name, 0, &c->reply);
	if (r < 0)
		goto out_close;
	*ret_client = c;
	return 0;

out_close:
	reel_queue_close(c->coord);
out_free:
	free(c);
	return r;
}

void reel_client_close(struct reel_client *client)
{
	if (!client)
		return;
	reel_queue_close(client->coord);
	if (client->reply != (mqd_t)-1) {
		reel_queue_close(client->reply);
		mq_unlink(client->reply_name);
	}
	free(client);
}

const struct reel_session_record *reel_client_record(const struct reel_client *client)
{
	return &client->record;
}

int reel_client_call(struct reel_client *client, struct reel_msg *request, unsigned prio,
                     int timeout_ms, struct reel_msg *ret_reply)
{
	double deadline = reel__now_ms() + timeout_ms;
	struct reel_msg reply;
	int r;

	request->sender_pid = (uint32_t)getpid();
	/* A stage says which role it plays; everyone else is a client. */
	if (request->role == REEL_ROLE_COORD)
		request->role = REEL_ROLE_CLIENT;
	request->flags = client->tag;
	request->id = client->next_id++;
	request->priority = prio;
	r = reel_queue_send(client->coord, request, prio, timeout_ms);
	if (r < 0)
		return r == -EAGAIN ? -ETIMEDOUT : r;
	for (;;) {
		int left = timeout_ms < 0 ? -1 : (int)(deadline - reel__now_ms());
		if (timeout_ms >= 0 && left <= 0)
			return -ETIMEDOUT;
		r = reel_queue_recv(client->reply, &reply, NULL, left);
		if (r == REEL_E_BADMSG)
			continue;
		if (r < 0)
			return r == -EAGAIN ? -ETIMEDOUT : r;
		if (reply.id != request->id ||
		    (reply.kind != REEL_MSG_REPLY && reply.kind != REEL_MSG_STATUS_REPLY))
			continue;
		if (ret_reply)
			*ret_reply = reply;
		return reply.result;
	}
}

static int need(struct reel_client *client, uint64_t first, uint64_t last, unsigned prio,
                int timeout_ms, bool settled, uint32_t *ret_slot)
{
	struct reel_msg req, reply;
	int r;

	if (first > INT64_MAX || last > INT64_MAX || last < first)
		return REEL_E_RANGE;
	reel_msg_init(&req, REEL_MSG_NEED);
	req.first = (int64_t)first;
	req.last = (int64_t)last;
	req.seq = settled ? 1 : 0;
	r = reel_client_call(client, &req, prio, timeout_ms, &reply);
	if (r == 0 && ret_slot)
		*ret_slot = reply.slot;
	return r;
}

int reel_client_need(struct reel_client *client, uint64_t first, uint64_t last, unsigned prio,
                     int timeout_ms, uint32_t *ret_slot)
{
	return need(client, first, last, prio, timeout_ms, false, ret_slot);
}

int reel_client_need_settled(struct reel_client *client, uint64_t first, uint64_t last,
                             unsigned prio, int timeout_ms, uint32_t *ret_slot)
{
	return need(client, first, last, prio, timeout_ms, true, ret_slot);
}

int reel_client_command(struct reel_client *client, uint32_t op, const double params[4],
                        int64_t first, int64_t last, int timeout_ms, uint64_t *ret_seq)
{
	struct reel_msg req, reply;
	int r;

	reel_msg_init(&req, REEL_MSG_COMMAND);
	req.op = op;
	req.first = first;
	req.last = last;
	memcpy(req.params, params, sizeof(req.params));
	r = reel_client_call(client, &req, REEL_PRIO_INTERACTIVE, timeout_ms, &reply);
	if (r == 0 && ret_seq)
		*ret_seq = reply.seq;
	return r;
}

static int control(struct reel_client *client, uint32_t op, int timeout_ms, uint64_t *ret_seq,
                   uint64_t *ret_target)
{
	struct reel_msg req, reply;
	int r;

	reel_msg_init(&req, REEL_MSG_COMMAND);
	req.op = op;
	r = reel_client_call(client, &req, REEL_PRIO_INTERACTIVE, timeout_ms, &reply);
	if (r == 0 && ret_seq)
		*ret_seq = reply.seq;
	if (r == 0 && ret_target)
		*ret_target = reply.stat[REEL_REPLY_TARGET];
	return r;
}

int reel_client_undo(struct reel_client *client, int timeout_ms, uint64_t *ret_seq,
                     uint64_t *ret_target)
{
	return control(client, REEL_OP_UNDO, timeout_ms, ret_seq, ret_target);
}

int reel_client_redo(struct reel_client *client, int timeout_ms, uint64_t *ret_seq,
                     uint64_t *ret_target)
{
	return control(client, REEL_OP_REDO, timeout_ms, ret_seq, ret_target);
}

int reel_client_status(struct reel_client *client, int timeout_ms, struct reel_status *ret_status)
{
	struct reel_msg req, rep;
	int r;

	reel_msg_init(&req, REEL_MSG_STATUS);
	r = reel_client_call(client, &req, REEL_PRIO_INTERACTIVE, timeout_ms, &rep);
	if (r < 0)
		return r;
	memset(ret_status, 0, sizeof(*ret_status));
	ret_status->frames = rep.stat[REEL_STAT_FRAMES];
	ret_status->resident = rep.stat[REEL_STAT_RESIDENT];
	ret_status->errors = rep.stat[REEL_STAT_ERRORS];
	ret_status->decoded = rep.stat[REEL_STAT_DECODED];
	ret_status->journal = rep.stat[REEL_STAT_JOURNAL];
	ret_status->pending = rep.stat[REEL_STAT_PENDING];
	ret_status->inflight = rep.stat[REEL_STAT_INFLIGHT];
	ret_status->stages = rep.stat[REEL_STAT_STAGES];
	ret_status->malformed = rep.stat[REEL_STAT_MALFORMED];
	ret_status->generation = rep.stat[REEL_STAT_GENERATION];
	ret_status->failed = rep.stat[REEL_STAT_FAILED];
	for (int i = 0; i < 5; i++)
		ret_status->queue_depth[i] = rep.stat[REEL_STAT_Q_COORD + i];
	return 0;
}

int reel_client_stop(struct reel_client *client, int timeout_ms)
{
	struct reel_msg req;

	reel_msg_init(&req, REEL_MSG_STOP);
	return reel_client_call(client, &req, REEL_PRIO_CONTROL, timeout_ms, NULL);
}
