/*
 * libFuzzer target for the bus message decoder.
 *
 * reel_msg_decode() is the gate every byte from another process passes
 * before the coordinator or a stage acts on it (any local process that can
 * open a queue can write one).  It must never read past its input, and what
 * it accepts must hold the promises the receivers rely on without checking
 * again: the kind, priority and role index their tables, a command names an
 * op a client may send with parameters inside the op's bounds, a range is
 * ordered, a failure's reason is terminated.  The sanitizers catch the
 * first, the explicit checks below the second; an accepted message then
 * goes on to reel_op_validate(), as a COMMAND does in the coordinator.
 *
 * Built with -DREEL_FUZZ_REPLAY it is instead a small program that runs the
 * seed corpus through the same entry point and reports each file as a TAP
 * case: files named valid-* must be accepted, files named bad-* refused.
 * `--make-seeds DIR` writes the seeds afresh from reel_msg_init() and
 * reel_msg_encode().
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus/msg.h"
#include "reel/ops.h"
#include "reel/stage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What an accepted message promises to every receiver. */
static void check_accepted(const struct reel_msg *m, const uint8_t *data)
{
	uint8_t again[REEL_MSG_SIZE];
	const struct reel_op_desc *d;

	/* One encoding: the decoder copies, it does not repair. */
	if (reel_msg_encode(m, again, sizeof(again)) != REEL_MSG_SIZE ||
	    memcmp(again, data, REEL_MSG_SIZE) != 0)
		abort();
	if (m->magic != REEL_MSG_MAGIC || m->version != REEL_MSG_VERSION || m->size != REEL_MSG_SIZE)
		abort();
	if (m->kind < REEL_MSG_HELLO || m->kind >= REEL_MSG_KIND_COUNT ||
	    m->priority >= REEL_PRIO_COUNT || m->role >= REEL_ROLE_COUNT || m->reserved[0] ||
	    m->reserved[1])
		abort();
	if (!strcmp(reel_msg_kind_name(m->kind), "unknown") ||
	    !strcmp(reel_role_name(m->role), "unknown"))
		abort();
	switch (m->kind) {
	case REEL_MSG_HELLO:
		if (m->role == REEL_ROLE_COORD || m->role == REEL_ROLE_CLIENT)
			abort();
		break;
	case REEL_MSG_NEED:
		if (m->first < 0 || m->last < m->first)
			abort();
		break;
	case REEL_MSG_COMMAND: {
		struct reel_op_limits lim = { 1920, 1080, 1000, 48000 };
		char why[160];
		int r;

		d = reel_op_get(m->op);
		if (!d || (d->flags & REEL_OP_INTERNAL) || reel_op_check_params(m->op, m->params) < 0)
			abort();
		if (!(d->flags & REEL_OP_CONTROL) && (m->first < 0 || m->last < m->first))
			abort();
		/* What the coordinator does next with it; the reason must be a string. */
		why[0] = 0;
		r = reel_op_validate(m->op, m->params, m->first, m->last, &lim, why, sizeof(why));
		if (r < 0 && (memchr(why, 0, sizeof(why)) == NULL || why[0] == 0))
			abort();
		lim.sample_rate = 0;
		lim.frames = 1;
		(void)reel_op_validate(m->op, m->params, m->first, m->last, &lim, NULL, 0);
		break;
	}
	case REEL_MSG_WORK:
	case REEL_MSG_DONE:
	case REEL_MSG_CLAIM:
	case REEL_MSG_MEASURED:
	case REEL_MSG_FAIL:
		if (m->seq == 0 || !reel_op_get(m->op) || m->first < 0 || m->last < m->first)
			abort();
		for (int i = 0; i < 4; i++)
			if (!isfinite(m->params[i]))
				abort();
		if (m->kind == REEL_MSG_FAIL &&
		    (m->result >= 0 || strnlen((const char *)m->stat, sizeof(m->stat)) >= sizeof(m->stat)))
			abort();
		if (m->kind == REEL_MSG_WORK &&
		    ((int64_t)m->stat[REEL_WORK_RANGE_FIRST] > m->first ||
		     (int64_t)m->stat[REEL_WORK_RANGE_LAST] < m->last))
			abort();
		break;
	case REEL_MSG_REPLY:
		if (m->result > 0)
			abort();
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reel_msg m, untouched;

	memset(&m, 0xa5, sizeof(m));
	untouched = m;
	if (reel_msg_decode(data, size, &m) == 0) {
		if (size != REEL_MSG_SIZE)
			abort();
		check_accepted(&m, data);
	} else if (memcmp(&m, &untouched, sizeof(m)) != 0) {
		/* A refused message leaves the caller's copy alone (msg.h). */
		abort();
	}
	/* The names are looked up from untrusted numbers in log lines. */
	if (size >= 8) {
		uint16_t kind;

		memcpy(&kind, data + 6, sizeof(kind));
		(void)reel_msg_kind_name(kind);
		(void)reel_role_name(kind);
		(void)reel_op_get(kind);
	}
	return 0;
}

#ifdef REEL_FUZZ_REPLAY
#include "fuzz-replay.h"

static int make_seeds(const char *dir)
{
	struct reel_msg m;
	int r = 0;

#define SEED(name, kind, change)                                  \
	do {                                                      \
		uint8_t buf[REEL_MSG_SIZE];                       \
		reel_msg_init(&m, kind);                          \
		m.sender_pid = 4242;                              \
		m.id = 7;                                         \
		change;                                           \
		reel_msg_encode(&m, buf, sizeof(buf));            \
		r |= fuzz_write_seed(dir, name, buf, sizeof(buf)); \
	} while (0)
	SEED("valid-hello-editor", REEL_MSG_HELLO, (m.role = REEL_ROLE_EDITOR, m.priority = REEL_PRIO_CONTROL));
	SEED("valid-hello-preview", REEL_MSG_HELLO, (m.role = REEL_ROLE_PREVIEW, m.priority = REEL_PRIO_CONTROL));
	SEED("valid-bye", REEL_MSG_BYE, m.role = REEL_ROLE_EFFECT);
	SEED("valid-need", REEL_MSG_NEED, (m.role = REEL_ROLE_CLIENT, m.first = 10, m.last = 20,
	                                   m.priority = REEL_PRIO_INTERACTIVE));
	SEED("valid-need-settled", REEL_MSG_NEED, (m.role = REEL_ROLE_PREVIEW, m.first = 0, m.last = 0,
	                                           m.seq = 3));
	SEED("valid-status", REEL_MSG_STATUS, m.role = REEL_ROLE_CLIENT);
	SEED("valid-stop", REEL_MSG_STOP, (m.role = REEL_ROLE_CLIENT, m.priority = REEL_PRIO_CONTROL));
	SEED("valid-command-brightness", REEL_MSG_COMMAND,
	     (m.role = REEL_ROLE_CLIENT, m.op = REEL_OP_BRIGHTNESS, m.first = 0, m.last = 99,
	      m.params[0] = 0.25, m.priority = REEL_PRIO_INTERACTIVE));
	SEED("valid-command-crop", REEL_MSG_COMMAND,
	     (m.role = REEL_ROLE_CLIENT, m.op = REEL_OP_CROP, m.first = 5, m.last = 6,
	      m.params[0] = 16, m.params[1] = 16, m.params[2] = 64, m.params[3] = 32));
	SEED("valid-command-freeze", REEL_MSG_COMMAND,
	     (m.role = REEL_ROLE_CLIENT, m.op = REEL_OP_FREEZE, m.first = 30, m.last = 40,
	      m.params[0] = 12));
	SEED("valid-command-trim", REEL_MSG_COMMAND,
	     (m.role = REEL_ROLE_CLIENT, m.op = REEL_OP_TRIM, m.first = 0, m.last = 9));
	SEED("valid-command-normalize", REEL_MSG_COMMAND,
	     (m.role = REEL_ROLE_CLIENT, m.op = REEL_OP_NORMALIZE, m.first = 0, m.last = 200,
	      m.params[0] = -1));
	SEED("valid-command-undo", REEL_MSG_COMMAND, (m.role = REEL_ROLE_CLIENT, m.op = REEL_OP_UNDO));
	SEED("valid-work-apply", REEL_MSG_WORK,
	     (m.role = REEL_ROLE_COORD, m.op = REEL_OP_GAMMA, m.seq = 4, m.epoch = 2, m.first = 10,
	      m.last = 19, m.params[0] = 1.5, m.stat[REEL_WORK_RANGE_FIRST] = 0,
	      m.stat[REEL_WORK_RANGE_LAST] = 99, m.stat[REEL_WORK_KIND] = REEL_WORK_APPLY));
	SEED("valid-work-measure", REEL_MSG_WORK,
	     (m.role = REEL_ROLE_COORD, m.op = REEL_OP_NORMALIZE, m.seq = 9, m.first = 0, m.last = 200,
	      m.stat[REEL_WORK_RANGE_LAST] = 200, m.stat[REEL_WORK_KIND] = REEL_WORK_MEASURE));
	SEED("valid-done", REEL_MSG_DONE,
	     (m.role = REEL_ROLE_EFFECT, m.op = REEL_OP_BLUR, m.seq = 4, m.epoch = 2, m.first = 10,
	      m.last = 19, m.params[0] = 2));
	SEED("valid-claim", REEL_MSG_CLAIM,
	     (m.role = REEL_ROLE_EDITOR, m.op = REEL_OP_HFLIP, m.seq = 2, m.first = 3, m.last = 3));
	SEED("valid-measured", REEL_MSG_MEASURED,
	     (m.role = REEL_ROLE_AUDIO, m.op = REEL_OP_NORMALIZE, m.seq = 9, m.first = 0, m.last = 200,
	      m.params[0] = 0.5));
	SEED("valid-fail", REEL_MSG_FAIL,
	     (m.role = REEL_ROLE_EFFECT, m.op = REEL_OP_SHARPEN, m.seq = 5, m.first = 0, m.last = 1,
	      m.result = -12, memcpy(m.stat, "out of memory", 14)));
	SEED("valid-reply", REEL_MSG_REPLY, (m.role = REEL_ROLE_COORD, m.result = -2, m.seq = 3));
	SEED("valid-status-reply", REEL_MSG_STATUS_REPLY,
	     (m.role = REEL_ROLE_COORD, m.stat[REEL_STAT_FRAMES] = 250, m.stat[REEL_STAT_JOURNAL] = 3));

	SEED("bad-magic", REEL_MSG_STATUS, m.magic = 0x4c45454cu);
	SEED("bad-version", REEL_MSG_STATUS, m.version = 2);
	SEED("bad-size-field", REEL_MSG_STATUS, m.size = 128);
	SEED("bad-kind-zero", 0, m.role = REEL_ROLE_CLIENT);
	SEED("bad-kind-count", REEL_MSG_KIND_COUNT, m.role = REEL_ROLE_CLIENT);
	SEED("bad-priority", REEL_MSG_STATUS, m.priority = REEL_PRIO_COUNT);
	SEED("bad-role", REEL_MSG_STATUS, m.role = REEL_ROLE_COUNT);
	SEED("bad-reserved", REEL_MSG_STATUS, m.reserved[1] = 1);
	SEED("bad-hello-client", REEL_MSG_HELLO, m.role = REEL_ROLE_CLIENT);
	SEED("bad-need-reversed", REEL_MSG_NEED, (m.first = 9, m.last = 8));
	SEED("bad-command-internal-op", REEL_MSG_COMMAND,
	     (m.op = REEL_OP_FAILED, m.first = 0, m.last = 1));
	SEED("bad-command-nan", REEL_MSG_COMMAND,
	     (m.op = REEL_OP_BRIGHTNESS, m.first = 0, m.last = 1, m.params[0] = NAN));
	SEED("bad-command-out-of-bounds", REEL_MSG_COMMAND,
	     (m.op = REEL_OP_BRIGHTNESS, m.first = 0, m.last = 1, m.params[0] = 1e9));
	SEED("bad-command-unused-param", REEL_MSG_COMMAND,
	     (m.op = REEL_OP_HFLIP, m.first = 0, m.last = 1, m.params[3] = -0.0));
	SEED("bad-command-negative-frame", REEL_MSG_COMMAND,
	     (m.op = REEL_OP_HFLIP, m.first = -1, m.last = 1));
	SEED("bad-work-seq0", REEL_MSG_WORK,
	     (m.op = REEL_OP_GAMMA, m.first = 0, m.last = 1, m.params[0] = 1,
	      m.stat[REEL_WORK_RANGE_LAST] = 1, m.stat[REEL_WORK_KIND] = REEL_WORK_APPLY));
	SEED("bad-work-outside-range", REEL_MSG_WORK,
	     (m.op = REEL_OP_GAMMA, m.seq = 1, m.first = 0, m.last = 10, m.params[0] = 1,
	      m.stat[REEL_WORK_RANGE_LAST] = 5, m.stat[REEL_WORK_KIND] = REEL_WORK_APPLY));
	SEED("bad-fail-unterminated", REEL_MSG_FAIL,
	     (m.op = REEL_OP_SHARPEN, m.seq = 5, m.first = 0, m.last = 1, m.result = -12,
	      memset(m.stat, 'x', sizeof(m.stat))));
	SEED("bad-fail-success", REEL_MSG_FAIL,
	     (m.op = REEL_OP_SHARPEN, m.seq = 5, m.first = 0, m.last = 1, m.result = 0));
	SEED("bad-reply-positive", REEL_MSG_REPLY, m.result = 1);
#undef SEED
	{
		uint8_t buf[REEL_MSG_SIZE + 1] = { 0 };

		reel_msg_init(&m, REEL_MSG_STATUS);
		reel_msg_encode(&m, buf, sizeof(buf));
		r |= fuzz_write_seed(dir, "bad-short", buf, REEL_MSG_SIZE - 1);
		r |= fuzz_write_seed(dir, "bad-long", buf, REEL_MSG_SIZE + 1);
		r |= fuzz_write_seed(dir, "bad-empty", buf, 0);
	}
	return r ? 1 : 0;
}

static int replay_one(const char *name, const uint8_t *data, size_t size, char *detail, size_t len)
{
	struct reel_msg m;
	int r;

	LLVMFuzzerTestOneInput(data, size);
	r = reel_msg_decode(data, size, &m);
	snprintf(detail, len, "decoder returned %d", r);
	return fuzz_expect(name, r == 0);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--make-seeds"))
		return make_seeds(argv[2]);
	return fuzz_replay_main(argc, argv, replay_one);
}
#endif
