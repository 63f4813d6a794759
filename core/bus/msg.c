/*
 * The one encoder and the one validating decoder of bus messages.  The
 * decoder is the gate every byte from another process passes: it checks
 * size, magic, version, kind, the fields each kind uses, and the
 * parameters of a command against the op table, before anything acts.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "reel/error.h"
#include "bus/msg.h"
#include "reel/ops.h"
#include "reel/stage.h"

void reel_msg_init(struct reel_msg *msg, uint16_t kind)
{
	memset(msg, 0, sizeof(*msg));
	msg->magic = REEL_MSG_MAGIC;
	msg->version = REEL_MSG_VERSION;
	msg->size = REEL_MSG_SIZE;
	msg->kind = kind;
}

int reel_msg_encode(const struct reel_msg *msg, void *buf, size_t len)
{
	if (len < REEL_MSG_SIZE)
		return -EINVAL;
	memcpy(buf, msg, REEL_MSG_SIZE);
	return REEL_MSG_SIZE;
}

static int check_range(const struct reel_msg *m)
{
	return m->first >= 0 && m->last >= m->first ? 0 : REEL_E_BADMSG;
}

static int check_params_finite(const struct reel_msg *m)
{
	for (int i = 0; i < 4; i++)
		if (!isfinite(m->params[i]))
			return REEL_E_BADMSG;
	return 0;
}

/* Kind-specific checks: the fields a kind uses must make sense for it. */
static int check_kind(const struct reel_msg *m)
{
	switch (m->kind) {
	case REEL_MSG_HELLO:
		return m->role > REEL_ROLE_COORD && m->role < REEL_ROLE_CLIENT ? 0 : REEL_E_BADMSG;
	case REEL_MSG_BYE:
	case REEL_MSG_STATUS:
	case REEL_MSG_STOP:
		return 0;
	case REEL_MSG_NEED:
		return check_range(m);
	case REEL_MSG_COMMAND:
		/* What only the coordinator writes into the journal cannot be sent. */
		if (!reel_op_get(m->op) || (reel_op_get(m->op)->flags & REEL_OP_INTERNAL))
			return REEL_E_BADMSG;
		/* Undo and redo name no frames, but take no parameters either. */
		if (m->op == REEL_OP_UNDO || m->op == REEL_OP_REDO)
			return reel_op_check_params(m->op, m->params);
		if (check_range(m) < 0)
			return REEL_E_BADMSG;
		return reel_op_check_params(m->op, m->params);
	case REEL_MSG_WORK:
		if (m->seq == 0 || !reel_op_get(m->op) || check_range(m) < 0)
			return REEL_E_BADMSG;
		/* The part to do lies inside the command's range; the kind is one of two. */
		if ((int64_t)m->stat[REEL_WORK_RANGE_FIRST] < 0 ||
		    (int64_t)m->stat[REEL_WORK_RANGE_FIRST] > m->first ||
		    (int64_t)m->stat[REEL_WORK_RANGE_LAST] < m->last ||
		    (m->stat[REEL_WORK_KIND] != REEL_WORK_APPLY && m->stat[REEL_WORK_KIND] != REEL_WORK_MEASURE))
			return REEL_E_BADMSG;
		return check_params_finite(m);
	case REEL_MSG_DONE:
	case REEL_MSG_CLAIM:
	case REEL_MSG_MEASURED:
		if (m->seq == 0 || !reel_op_get(m->op) || check_range(m) < 0)
			return REEL_E_BADMSG;
		return check_params_finite(m);
	case REEL_MSG_FAIL:
		if (m->seq == 0 || !reel_op_get(m->op) || check_range(m) < 0 || m->result >= 0)
			return REEL_E_BADMSG;
		/* The reason is text that ends inside the message. */
		if (!memchr(m->stat, 0, sizeof(m->stat)))
			return REEL_E_BADMSG;
		return check_params_finite(m);
	case REEL_MSG_REPLY:
		return m->result <= 0 ? 0 : REEL_E_BADMSG;
	case REEL_MSG_STATUS_REPLY:
		return 0;
	default:
		return REEL_E_BADMSG;
	}
}

int reel_msg_decode(const void *buf, size_t len, struct reel_msg *ret_msg)
{
	struct reel_msg m;

	if (!buf || len != REEL_MSG_SIZE)
		return REEL_E_BADMSG;
	memcpy(&m, buf, sizeof(m));
	if (m.magic != REEL_MSG_MAGIC || m.version != REEL_MSG_VERSION || m.size != REEL_MSG_SIZE)
		return REEL_E_BADMSG;
	if (m.kind < REEL_MSG_HELLO || m.kind >= REEL_MSG_KIND_COUNT)
		return REEL_E_BADMSG;
	if (m.priority >= REEL_PRIO_COUNT || m.role >= REEL_ROLE_COUNT)
		return REEL_E_BADMSG;
	if (m.reserved[0] || m.reserved[1])
		return REEL_E_BADMSG;
	if (check_kind(&m) < 0)
		return REEL_E_BADMSG;
	*ret_msg = m;
	return 0;
}

unsigned reel_prio_mq(unsigned prio_class)
{
	/* Spaced so that a later issue can slot finer levels in between. */
	return prio_class < REEL_PRIO_COUNT ? prio_class * 8 : 0;
}

const char *reel_msg_kind_name(unsigned kind)
{
	static const char *const names[REEL_MSG_KIND_COUNT] = {
		[REEL_MSG_HELLO] = "hello", [REEL_MSG_BYE] = "bye", [REEL_MSG_NEED] = "need",
		[REEL_MSG_STATUS] = "status", [REEL_MSG_STOP] = "stop",
		[REEL_MSG_COMMAND] = "command", [REEL_MSG_WORK] = "work", [REEL_MSG_DONE] = "done",
		[REEL_MSG_REPLY] = "reply", [REEL_MSG_STATUS_REPLY] = "status-reply",
		[REEL_MSG_CLAIM] = "claim", [REEL_MSG_FAIL] = "fail", [REEL_MSG_MEASURED] = "measured",
	};
	return kind < REEL_MSG_KIND_COUNT && names[kind] ? names[kind] : "unknown";
}

const char *reel_role_name(unsigned role)
{
	static const char *const names[REEL_ROLE_COUNT] = {
		"coord", "editor", "effect", "audio", "preview", "client",
	};
	return role < REEL_ROLE_COUNT ? names[role] : "unknown";
}
