/*
 * Tests of the bus message codec and the op table (core/bus/msg.c, core/bus/ops.c).
 *
 * The decoder is the gate for every byte another process sends, so most of
 * this file tries to get something malformed past it: each malformed
 * variant by hand, then every single-bit and single-byte corruption of a
 * valid message of every kind, then seeded random messages, each judged
 * against an oracle written here from the protocol's rules (not from the
 * decoder's code).  Whatever the decoder accepts must re-encode to exactly
 * the bytes it was given, and whatever it rejects must leave its output
 * untouched.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "reel/error.h"
#include "bus/msg.h"
#include "reel/ops.h"
#include "reel/stage.h"

/* A byte pattern no decoder would produce: proves an output was not written. */
#define POISON 0xa5

/* The kinds that carry a journal sequence of stage work. */
static const unsigned work_kinds[] = { REEL_MSG_WORK, REEL_MSG_DONE, REEL_MSG_CLAIM,
                                       REEL_MSG_FAIL, REEL_MSG_MEASURED };
#define NWORK (sizeof(work_kinds) / sizeof(work_kinds[0]))

/* A valid message of each kind, with every field the kind uses set to something distinctive. */
static struct reel_msg sample(unsigned kind)
{
	struct reel_msg m;

	reel_msg_init(&m, (uint16_t)kind);
	m.sender_pid = 4242;
	m.id = 0x0102030405060708ull;
	switch (kind) {
	case REEL_MSG_HELLO:
		m.role = REEL_ROLE_EFFECT;
		m.priority = REEL_PRIO_CONTROL;
		break;
	case REEL_MSG_BYE:
		m.role = REEL_ROLE_EDITOR;
		break;
	case REEL_MSG_NEED:
		m.role = REEL_ROLE_PREVIEW;
		m.priority = REEL_PRIO_INTERACTIVE;
		m.first = 10;
		m.last = 20;
		break;
	case REEL_MSG_STATUS:
		m.role = REEL_ROLE_CLIENT;
		m.flags = 77;
		break;
	case REEL_MSG_STOP:
		m.role = REEL_ROLE_CLIENT;
		m.priority = REEL_PRIO_CONTROL;
		break;
	case REEL_MSG_COMMAND:
		m.role = REEL_ROLE_CLIENT;
		m.priority = REEL_PRIO_BATCH;
		m.op = REEL_OP_BRIGHTNESS;
		m.params[0] = 0.25;
		m.first = 0;
		m.last = 8999;
		break;
	case REEL_MSG_WORK:
		m.role = REEL_ROLE_COORD;
		m.seq = 5;
		m.epoch = 3;
		m.op = REEL_OP_CROP;
		m.params[0] = 0.1;
		m.params[1] = 0.2;
		m.params[2] = 0.5;
		m.params[3] = 0.5;
		m.first = 100;
		m.last = 131;
		m.stat[REEL_WORK_RANGE_FIRST] = 90;
		m.stat[REEL_WORK_RANGE_LAST] = 200;
		m.stat[REEL_WORK_KIND] = REEL_WORK_APPLY;
		break;
	case REEL_MSG_DONE:
	case REEL_MSG_CLAIM:
	case REEL_MSG_MEASURED:
	case REEL_MSG_FAIL:
		m.role = REEL_ROLE_EFFECT;
		m.seq = 5;
		m.epoch = 3;
		m.op = REEL_OP_GAMMA;
		m.params[0] = 2.2;
		m.first = 100;
		m.last = 131;
		if (kind == REEL_MSG_FAIL) {
			m.result = REEL_E_EDIT;
			memcpy(m.stat, "out of memory", 14);
		}
		break;
	case REEL_MSG_REPLY:
		m.role = REEL_ROLE_COORD;
		m.result = REEL_E_RANGE;
		m.seq = 12;
		m.slot = 3;
		m.first = 7;
		m.last = 7;
		break;
	case REEL_MSG_STATUS_REPLY:
		m.role = REEL_ROLE_COORD;
		for (unsigned i = 0; i < REEL_STAT_COUNT; i++)
			m.stat[i] = i * 1000ull + 7;
		break;
	default:
		break;
	}
	return m;
}

/* A double whose bits are all zero: the one encoding of an unused parameter. */
static bool is_plus_zero(double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	return bits == 0;
}

static bool params_ok(uint32_t op, const double p[4])
{
	const struct reel_op_desc *d = reel_op_get(op);

	if (!d)
		return false;
	for (unsigned i = 0; i < 4; i++) {
		if (i >= d->nparams) {
			if (!is_plus_zero(p[i]))
				return false;
		} else if (!(p[i] >= d->min[i] && p[i] <= d->max[i])) {
			/* Written so that NaN fails; infinities are outside every bound. */
			return false;
		} else if ((d->integer >> i) & 1u) {
			if (p[i] != (double)(int64_t)p[i])
				return false;
		}
	}
	return true;
}

static bool range_ok(const struct reel_msg *m)
{
	return m->first >= 0 && m->last >= m->first;
}

static bool op_known(uint32_t op)
{
	return op > REEL_OP_NONE && op < REEL_OP_COUNT;
}

/*
 * The protocol's rules, restated independently of core/bus/msg.c: the header
 * fields every message has, then what each kind uses.  Fields a kind does
 * not use are not judged (a reply's params, a status request's range).
 */
static bool oracle_valid(const struct reel_msg *m)
{
	if (m->magic != REEL_MSG_MAGIC || m->version != REEL_MSG_VERSION || m->size != REEL_MSG_SIZE)
		return false;
	if (m->reserved[0] != 0 || m->reserved[1] != 0)
		return false;
	if (m->priority > REEL_PRIO_CONTROL || m->role > REEL_ROLE_CLIENT)
		return false;
	switch (m->kind) {
	case REEL_MSG_HELLO:
		/* Only stages register: a coordinator or a client saying hello is lying. */
		return m->role == REEL_ROLE_EDITOR || m->role == REEL_ROLE_EFFECT ||
		       m->role == REEL_ROLE_AUDIO || m->role == REEL_ROLE_PREVIEW;
	case REEL_MSG_BYE:
	case REEL_MSG_STATUS:
	case REEL_MSG_STOP:
	case REEL_MSG_STATUS_REPLY:
		return true;
	case REEL_MSG_NEED:
		return range_ok(m);
	case REEL_MSG_COMMAND:
		/* What only the coordinator writes into the journal cannot be sent. */
		if (!op_known(m->op) || (reel_op_get(m->op)->flags & REEL_OP_INTERNAL))
			return false;
		/* Undo and redo name no frames; their (absent) parameters still have one encoding. */
		if (m->op == REEL_OP_UNDO || m->op == REEL_OP_REDO)
			return params_ok(m->op, m->params);
		return range_ok(m) && params_ok(m->op, m->params);
	case REEL_MSG_WORK:
	case REEL_MSG_DONE:
	case REEL_MSG_CLAIM:
	case REEL_MSG_FAIL:
	case REEL_MSG_MEASURED:
		if (m->seq == 0 || !op_known(m->op) || !range_ok(m))
			return false;
		for (unsigned i = 0; i < 4; i++)
			if (!isfinite(m->params[i]))
				return false;
		/* Work names the command's range around its part, and whether to apply or measure. */
		if (m->kind == REEL_MSG_WORK)
			return (int64_t)m->stat[REEL_WORK_RANGE_FIRST] >= 0 &&
			       (int64_t)m->stat[REEL_WORK_RANGE_FIRST] <= m->first &&
			       (int64_t)m->stat[REEL_WORK_RANGE_LAST] >= m->last &&
			       (m->stat[REEL_WORK_KIND] == REEL_WORK_APPLY ||
			        m->stat[REEL_WORK_KIND] == REEL_WORK_MEASURE);
		/* A failure says why, as text that ends inside the message. */
		if (m->kind == REEL_MSG_FAIL)
			return m->result < 0 && memchr(m->stat, 0, sizeof(m->stat)) != NULL;
		return true;
	case REEL_MSG_REPLY:
		return m->result <= 0;
	default:
		return false;
	}
}

/* Decode len bytes and check the verdict; on rejection the output must be untouched. */
static int decode_checked(const void *buf, size_t len, struct reel_msg *ret_msg)
{
	unsigned char poison[sizeof(struct reel_msg)];
	int r;

	memset(poison, POISON, sizeof(poison));
	memcpy(ret_msg, poison, sizeof(poison));
	r = reel_msg_decode(buf, len, ret_msg);
	if (r != 0) {
		assert_int_equal(r, REEL_E_BADMSG);
		assert_memory_equal(ret_msg, poison, sizeof(poison));
	}
	return r;
}

static void expect_reject(const struct reel_msg *m)
{
	unsigned char buf[REEL_MSG_SIZE];
	struct reel_msg out;

	assert_int_equal(reel_msg_encode(m, buf, sizeof(buf)), REEL_MSG_SIZE);
	assert_int_equal(decode_checked(buf, sizeof(buf), &out), REEL_E_BADMSG);
}

static void expect_accept(const struct reel_msg *m)
{
	unsigned char buf[REEL_MSG_SIZE];
	struct reel_msg out;

	assert_int_equal(reel_msg_encode(m, buf, sizeof(buf)), REEL_MSG_SIZE);
	assert_int_equal(decode_checked(buf, sizeof(buf), &out), 0);
	assert_memory_equal(&out, m, sizeof(out));
}

static void test_msg_init_sets_header(void **state)
{
	struct reel_msg m;

	(void)state;
	memset(&m, 0x5a, sizeof(m));
	reel_msg_init(&m, REEL_MSG_STOP);
	assert_int_equal(m.magic, REEL_MSG_MAGIC);
	assert_int_equal(m.version, REEL_MSG_VERSION);
	assert_int_equal(m.size, REEL_MSG_SIZE);
	assert_int_equal(m.kind, REEL_MSG_STOP);
	/* Everything after the header is zero, reserved words included. */
	for (size_t i = offsetof(struct reel_msg, sender_pid); i < sizeof(m); i++)
		assert_int_equal(((unsigned char *)&m)[i], 0);
	/* The magic reads "REEL" in memory on this (little-endian) machine. */
	assert_memory_equal(&m.magic, "REEL", 4);
}

static void test_msg_round_trip_every_kind(void **state)
{
	(void)state;
	for (unsigned kind = REEL_MSG_HELLO; kind < REEL_MSG_KIND_COUNT; kind++) {
		struct reel_msg in = sample(kind), out;
		unsigned char buf[REEL_MSG_SIZE + 16];

		assert_true(oracle_valid(&in));
		memset(buf, 0, sizeof(buf));
		assert_int_equal(reel_msg_encode(&in, buf, sizeof(buf)), REEL_MSG_SIZE);
		assert_int_equal(decode_checked(buf, REEL_MSG_SIZE, &out), 0);
		assert_memory_equal(&out, &in, sizeof(in));
		assert_int_equal(out.kind, kind);
		assert_string_not_equal(reel_msg_kind_name(kind), "unknown");
	}
	assert_string_equal(reel_msg_kind_name(0), "unknown");
	assert_string_equal(reel_msg_kind_name(REEL_MSG_KIND_COUNT), "unknown");
}

static void test_msg_encode_short_buffer(void **state)
{
	struct reel_msg m = sample(REEL_MSG_NEED);
	unsigned char buf[REEL_MSG_SIZE];

	(void)state;
	memset(buf, 0x33, sizeof(buf));
	assert_int_equal(reel_msg_encode(&m, buf, REEL_MSG_SIZE - 1), -EINVAL);
	assert_int_equal(reel_msg_encode(&m, buf, 0), -EINVAL);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0x33);
}

static void test_msg_reject_wrong_length(void **state)
{
	struct reel_msg m = sample(REEL_MSG_STATUS), out;
	unsigned char buf[2 * REEL_MSG_SIZE];

	(void)state;
	memset(buf, 0, sizeof(buf));
	reel_msg_encode(&m, buf, sizeof(buf));
	assert_int_equal(decode_checked(buf, REEL_MSG_SIZE - 1, &out), REEL_E_BADMSG);
	assert_int_equal(decode_checked(buf, 17, &out), REEL_E_BADMSG);
	assert_int_equal(decode_checked(buf, 1, &out), REEL_E_BADMSG);
	assert_int_equal(decode_checked(buf, 0, &out), REEL_E_BADMSG);
	/* A longer message is malformed even when its first 256 bytes are fine. */
	assert_int_equal(decode_checked(buf, REEL_MSG_SIZE + 1, &out), REEL_E_BADMSG);
	assert_int_equal(decode_checked(buf, sizeof(buf), &out), REEL_E_BADMSG);
	assert_int_equal(decode_checked(NULL, REEL_MSG_SIZE, &out), REEL_E_BADMSG);
	/* And the same bytes at the right length pass. */
	assert_int_equal(decode_checked(buf, REEL_MSG_SIZE, &out), 0);
}

static void test_msg_reject_bad_header(void **state)
{
	static const uint16_t bad_kinds[] = { 0, REEL_MSG_KIND_COUNT, REEL_MSG_KIND_COUNT + 1, 0xffff };
	static const uint32_t bad_sizes[] = { 0, REEL_MSG_SIZE - 1, REEL_MSG_SIZE + 1, 0xffffffffu };
	struct reel_msg m;

	(void)state;
	m = sample(REEL_MSG_STATUS);
	m.magic = 0x4c455553u;
	expect_reject(&m);
	m.magic = 0x5245454cu; /* "REEL" with the bytes the other way round */
	expect_reject(&m);

	m = sample(REEL_MSG_STATUS);
	m.version = 0;
	expect_reject(&m);
	m.version = REEL_MSG_VERSION + 1;
	expect_reject(&m);

	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		m = sample(REEL_MSG_STATUS);
		m.size = bad_sizes[i];
		expect_reject(&m);
	}
	for (size_t i = 0; i < sizeof(bad_kinds) / sizeof(bad_kinds[0]); i++) {
		m = sample(REEL_MSG_STATUS);
		m.kind = bad_kinds[i];
		expect_reject(&m);
	}
}

static void test_msg_reject_priority_role_reserved(void **state)
{
	(void)state;
	for (unsigned kind = REEL_MSG_HELLO; kind < REEL_MSG_KIND_COUNT; kind++) {
		struct reel_msg m = sample(kind);

		m.priority = REEL_PRIO_COUNT;
		expect_reject(&m);
		m.priority = 0xffffffffu;
		expect_reject(&m);

		m = sample(kind);
		m.role = REEL_ROLE_COUNT;
		expect_reject(&m);
		m.role = 0x80000000u;
		expect_reject(&m);

		m = sample(kind);
		m.reserved[0] = 1;
		expect_reject(&m);
		m = sample(kind);
		m.reserved[1] = 1ull << 63;
		expect_reject(&m);

		/* Every class and every role inside the bounds is fine where the kind allows it. */
		for (unsigned p = 0; p < REEL_PRIO_COUNT; p++) {
			m = sample(kind);
			m.priority = p;
			expect_accept(&m);
		}
	}
}

static void test_msg_reject_hello_from_coord_or_client(void **state)
{
	struct reel_msg m = sample(REEL_MSG_HELLO);

	(void)state;
	m.role = REEL_ROLE_COORD;
	expect_reject(&m);
	m.role = REEL_ROLE_CLIENT;
	expect_reject(&m);
	for (unsigned role = REEL_ROLE_EDITOR; role <= REEL_ROLE_PREVIEW; role++) {
		m.role = role;
		expect_accept(&m);
	}
}

static void test_msg_reject_command_bad_op(void **state)
{
	static const uint32_t bad_ops[] = { REEL_OP_NONE, REEL_OP_COUNT, REEL_OP_COUNT + 1, 1000,
	                                    0xffffffffu };

	(void)state;
	for (size_t i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++) {
		struct reel_msg m = sample(REEL_MSG_COMMAND);
		m.op = bad_ops[i];
		m.params[0] = 0;
		expect_reject(&m);
		for (size_t k = 0; k < NWORK; k++) {
			m = sample(work_kinds[k]);
			m.op = bad_ops[i];
			expect_reject(&m);
		}
	}
}

static void test_msg_reject_bad_range(void **state)
{
	static const unsigned kinds[] = { REEL_MSG_NEED, REEL_MSG_COMMAND, REEL_MSG_WORK, REEL_MSG_DONE,
	                                  REEL_MSG_CLAIM };
	static const int64_t bad[][2] = {
		{ -1, 5 }, { -1, -1 }, { INT64_MIN, 0 }, { 5, 4 }, { 1, 0 }, { 0, -1 },
		{ INT64_MAX, 0 },
	};
	static const int64_t good[][2] = { { 0, 0 }, { 7, 7 }, { 0, INT64_MAX }, { INT64_MAX, INT64_MAX } };

	(void)state;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct reel_msg m = sample(kinds[k]);
			m.first = bad[i][0];
			m.last = bad[i][1];
			expect_reject(&m);
		}
		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			struct reel_msg m = sample(kinds[k]);
			m.first = good[i][0];
			m.last = good[i][1];
			if (kinds[k] == REEL_MSG_WORK) {
				m.stat[REEL_WORK_RANGE_FIRST] = (uint64_t)m.first;
				m.stat[REEL_WORK_RANGE_LAST] = (uint64_t)m.last;
			}
			expect_accept(&m);
		}
	}
}

static void test_msg_reject_work_outside_its_command(void **state)
{
	struct reel_msg m;

	(void)state;
	/* sample(): part 100..131 of a command over 90..200. */
	m = sample(REEL_MSG_WORK);
	m.stat[REEL_WORK_RANGE_FIRST] = 101;
	expect_reject(&m);
	m = sample(REEL_MSG_WORK);
	m.stat[REEL_WORK_RANGE_LAST] = 130;
	expect_reject(&m);
	m = sample(REEL_MSG_WORK);
	m.stat[REEL_WORK_RANGE_FIRST] = (uint64_t)-1;
	expect_reject(&m);
	m = sample(REEL_MSG_WORK);
	m.stat[REEL_WORK_KIND] = 3;
	expect_reject(&m);
	m = sample(REEL_MSG_WORK);
	m.stat[REEL_WORK_KIND] = REEL_WORK_MEASURE;
	expect_accept(&m);
	/* A failure with no end to its reason, or that claims success, is malformed. */
	m = sample(REEL_MSG_FAIL);
	memset(m.stat, 'x', sizeof(m.stat));
	expect_reject(&m);
	m = sample(REEL_MSG_FAIL);
	m.result = 0;
	expect_reject(&m);
}

static void test_msg_reject_bad_params(void **state)
{
	const double nonfinite[] = { NAN, -NAN, INFINITY, -INFINITY };
	struct reel_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(nonfinite) / sizeof(nonfinite[0]); i++) {
		for (unsigned slot = 0; slot < 4; slot++) {
			m = sample(REEL_MSG_COMMAND);
			m.params[slot] = nonfinite[i];
			expect_reject(&m);
			for (size_t k = 0; k < NWORK; k++) {
				m = sample(work_kinds[k]);
				m.params[slot] = nonfinite[i];
				expect_reject(&m);
			}
		}
	}

	/* Out of the op's bounds: brightness is a delta in [-1, 1]. */
	m = sample(REEL_MSG_COMMAND);
	m.params[0] = 1.5;
	expect_reject(&m);
	m.params[0] = -1.0000001;
	expect_reject(&m);
	m.params[0] = 1e300;
	expect_reject(&m);

	/* Unused parameters must be zero, and +0 at that, so that a command has one encoding. */
	for (unsigned slot = 1; slot < 4; slot++) {
		m = sample(REEL_MSG_COMMAND);
		m.params[slot] = 0.5;
		expect_reject(&m);
		m.params[slot] = 1e-300;
		expect_reject(&m);
		m.params[slot] = -0.0;
		expect_reject(&m);
	}
	m = sample(REEL_MSG_COMMAND);
	m.op = REEL_OP_INVERT;
	m.params[0] = 0;
	expect_accept(&m);
	m.params[0] = 1;
	expect_reject(&m);

	/* Undo and redo take no parameter either. */
	m = sample(REEL_MSG_COMMAND);
	m.op = REEL_OP_UNDO;
	m.params[0] = 0;
	expect_accept(&m);
	m.params[0] = 3;
	expect_reject(&m);
	m.op = REEL_OP_REDO;
	expect_reject(&m);
	m.params[0] = NAN;
	expect_reject(&m);
}

static void test_msg_reject_crop_past_frame(void **state)
{
	/* x, y, w, h in pixels of a 640x360 video. */
	static const double bad[][4] = {
		{ 320, 0, 321, 100 }, { 0, 200, 100, 161 }, { 639, 359, 2, 2 }, { 10, 10, 640, 360 },
	};
	static const double good[][4] = {
		{ 0, 0, 640, 360 }, { 320, 180, 320, 180 }, { 638, 358, 2, 2 }, { 100, 50, 400, 200 },
	};
	static const double fractional[4] = { 0.5, 0, 100, 100 };
	const struct reel_op_limits lim = { 640, 360, 1000, 48000 };
	struct reel_msg m;
	char why[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* The wire does not know the picture size; the video's limits do. */
		assert_int_equal(reel_op_check_params(REEL_OP_CROP, bad[i]), 0);
		why[0] = 0;
		assert_int_equal(reel_op_validate(REEL_OP_CROP, bad[i], 0, 9, &lim, why, sizeof(why)),
		                 REEL_E_PARAM);
		assert_non_null(strstr(why, "beyond"));
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		m = sample(REEL_MSG_COMMAND);
		m.op = REEL_OP_CROP;
		memcpy(m.params, good[i], sizeof(m.params));
		expect_accept(&m);
		assert_int_equal(reel_op_validate(REEL_OP_CROP, good[i], 0, 9, &lim, NULL, 0), 0);
	}
	m = sample(REEL_MSG_COMMAND);
	m.op = REEL_OP_CROP;
	memcpy(m.params, fractional, sizeof(m.params));
	expect_reject(&m);
	assert_int_equal(reel_op_validate(REEL_OP_CROP, fractional, 0, 9, &lim, why, sizeof(why)),
	                 REEL_E_PARAM);
	assert_non_null(strstr(why, "whole number"));
	/* The range, a frozen frame that exists, sound on a video that has some. */
	assert_int_equal(reel_op_validate(REEL_OP_HFLIP, (double[4]){ 0 }, 0, 1000, &lim, NULL, 0),
	                 REEL_E_RANGE);
	assert_int_equal(reel_op_validate(REEL_OP_FREEZE, (double[4]){ 1000 }, 0, 9, &lim, NULL, 0),
	                 REEL_E_PARAM);
	assert_int_equal(reel_op_validate(REEL_OP_FREEZE, (double[4]){ 999 }, 0, 9, &lim, NULL, 0), 0);
	assert_int_equal(reel_op_validate(REEL_OP_MUTE, (double[4]){ 0 }, 0, 9,
	                                  &(struct reel_op_limits){ 640, 360, 1000, 0 }, why, sizeof(why)),
	                 REEL_E_PARAM);
	assert_non_null(strstr(why, "no sound"));
	/* Internal ops are never a command. */
	m = sample(REEL_MSG_COMMAND);
	m.op = REEL_OP_FAILED;
	m.params[0] = 0;
	expect_reject(&m);
}

static void test_msg_reject_work_seq_zero(void **state)
{
	struct reel_msg m;

	(void)state;
	for (size_t k = 0; k < NWORK; k++) {
		m = sample(work_kinds[k]);
		m.seq = 0;
		expect_reject(&m);
		m.seq = UINT64_MAX;
		expect_accept(&m);
		m.seq = 1;
		expect_accept(&m);
	}
}

static void test_msg_reject_positive_reply_result(void **state)
{
	struct reel_msg m = sample(REEL_MSG_REPLY);

	(void)state;
	m.result = 1;
	expect_reject(&m);
	m.result = INT32_MAX;
	expect_reject(&m);
	m.result = 0;
	expect_accept(&m);
	m.result = -EIO;
	expect_accept(&m);
	m.result = INT32_MIN;
	expect_accept(&m);
}

static void test_msg_op_table_complete(void **state)
{
	(void)state;
	assert_null(reel_op_get(REEL_OP_NONE));
	assert_null(reel_op_get(REEL_OP_COUNT));
	assert_null(reel_op_get(0xffffffffu));
	assert_int_equal(reel_op_by_name("no-such-op"), REEL_OP_NONE);
	assert_int_equal(reel_op_by_name(""), REEL_OP_NONE);
	assert_int_equal(reel_op_by_name("BRIGHTNESS"), REEL_OP_NONE);

	for (uint32_t op = 1; op < REEL_OP_COUNT; op++) {
		const struct reel_op_desc *d = reel_op_get(op);

		assert_non_null(d);
		assert_non_null(d->name);
		assert_true(strlen(d->name) > 0);
		assert_non_null(d->help);
		assert_int_equal(reel_op_by_name(d->name), op);
		assert_true(d->nparams <= 4);
		assert_true(d->role == REEL_ROLE_COORD || d->role == REEL_ROLE_EDITOR ||
		            d->role == REEL_ROLE_EFFECT || d->role == REEL_ROLE_AUDIO);
		/* Only the journal's own ops are applied by the coordinator. */
		assert_int_equal(d->role == REEL_ROLE_COORD,
		                 (d->flags & (REEL_OP_CONTROL | REEL_OP_INTERNAL)) != 0);
		for (uint32_t i = 0; i < d->nparams; i++) {
			assert_non_null(d->param_names[i]);
			assert_true(isfinite(d->min[i]) && isfinite(d->max[i]));
			assert_true(d->min[i] <= d->max[i]);
		}
		/* Names are unique: the lookup above would have found the first duplicate. */
		for (uint32_t other = 1; other < op; other++)
			assert_string_not_equal(reel_op_get(other)->name, d->name);
	}
}

/* Parameters at every op's minimum: the neutral base each bound test starts from. */
static void params_at_min(const struct reel_op_desc *d, double p[4])
{
	memset(p, 0, 4 * sizeof(p[0]));
	for (uint32_t i = 0; i < d->nparams; i++)
		p[i] = d->min[i];
}

static void check_command(uint32_t op, const double p[4], bool ok)
{
	struct reel_msg m = sample(REEL_MSG_COMMAND);

	m.op = op;
	memcpy(m.params, p, sizeof(m.params));
	assert_int_equal(reel_op_check_params(op, p), ok ? 0 : REEL_E_BADMSG);
	/* Ops only the coordinator journals are never a command, whatever their parameters. */
	if (ok && !(reel_op_get(op)->flags & REEL_OP_INTERNAL))
		expect_accept(&m);
	else
		expect_reject(&m);
}

static void test_msg_op_bounds(void **state)
{
	(void)state;
	for (uint32_t op = 1; op < REEL_OP_COUNT; op++) {
		const struct reel_op_desc *d = reel_op_get(op);
		double p[4];

		params_at_min(d, p);
		check_command(op, p, true);
		for (uint32_t i = 0; i < d->nparams; i++) {
			params_at_min(d, p);
			p[i] = d->max[i];
			check_command(op, p, true);
			p[i] = nextafter(d->max[i], INFINITY);
			check_command(op, p, false);
			params_at_min(d, p);
			p[i] = nextafter(d->min[i], -INFINITY);
			check_command(op, p, false);
			p[i] = NAN;
			check_command(op, p, false);
		}
		for (uint32_t i = d->nparams; i < 4; i++) {
			params_at_min(d, p);
			p[i] = 1;
			check_command(op, p, false);
		}
	}
	{
		double p[4] = { 0 };
		assert_int_equal(reel_op_check_params(REEL_OP_NONE, p), REEL_E_BADMSG);
		assert_int_equal(reel_op_check_params(REEL_OP_COUNT, p), REEL_E_BADMSG);
	}
}

static void test_msg_prio_mq_order(void **state)
{
	(void)state;
	assert_true(reel_prio_mq(REEL_PRIO_CONTROL) > reel_prio_mq(REEL_PRIO_INTERACTIVE));
	assert_true(reel_prio_mq(REEL_PRIO_INTERACTIVE) > reel_prio_mq(REEL_PRIO_BATCH));
	assert_true(reel_prio_mq(REEL_PRIO_BATCH) > reel_prio_mq(REEL_PRIO_BACKGROUND));
	/* Linux guarantees at least 32768 priorities, POSIX at least 32. */
	assert_true(reel_prio_mq(REEL_PRIO_CONTROL) < 32);
	assert_string_equal(reel_role_name(REEL_ROLE_COORD), "coord");
	assert_string_equal(reel_role_name(REEL_ROLE_COUNT), "unknown");
}

/* Check one (possibly corrupted) encoding against the oracle and the byte round trip. */
static void judge(const unsigned char *buf, unsigned *accepted)
{
	struct reel_msg as_struct, out;
	unsigned char again[REEL_MSG_SIZE];
	int r;

	memcpy(&as_struct, buf, sizeof(as_struct));
	r = decode_checked(buf, REEL_MSG_SIZE, &out);
	if (oracle_valid(&as_struct) != (r == 0)) {
		fprintf(stderr, "# decoder says %d, oracle says %s for kind %u op %u\n", r,
		        oracle_valid(&as_struct) ? "valid" : "invalid", as_struct.kind, as_struct.op);
		fail();
	}
	if (r == 0) {
		assert_int_equal(reel_msg_encode(&out, again, sizeof(again)), REEL_MSG_SIZE);
		assert_memory_equal(again, buf, REEL_MSG_SIZE);
		(*accepted)++;
	}
}

static void test_msg_every_bit_and_byte_flip(void **state)
{
	unsigned accepted = 0, total = 0;

	(void)state;
	for (unsigned kind = REEL_MSG_HELLO; kind < REEL_MSG_KIND_COUNT; kind++) {
		struct reel_msg m = sample(kind);
		unsigned char buf[REEL_MSG_SIZE];

		reel_msg_encode(&m, buf, sizeof(buf));
		for (size_t i = 0; i < REEL_MSG_SIZE; i++) {
			for (unsigned bit = 0; bit < 8; bit++) {
				buf[i] ^= (unsigned char)(1u << bit);
				judge(buf, &accepted);
				buf[i] ^= (unsigned char)(1u << bit);
				total++;
			}
			buf[i] ^= 0xff;
			judge(buf, &accepted);
			buf[i] ^= 0xff;
			total++;
		}
	}
	/* Both verdicts occurred, so the oracle was really exercised both ways. */
	assert_true(accepted > 0 && accepted < total);
}

/* xorshift64*: a fixed seed makes a failure reproducible. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static double interesting_double(uint64_t r)
{
	static const double v[] = { 0, -0.0, 0.5, 1, -1, 0.01, 0.99, 2.2, 8, 32, 100, -60, 24,
	                            4294967295.0, 1e-310, NAN, INFINITY, -INFINITY, 0.125, 0.1 };
	return v[r % (sizeof(v) / sizeof(v[0]))];
}

static void test_msg_random_messages_match_oracle(void **state)
{
	static const int64_t frames[] = { 0, 1, 7, -1, INT64_MIN, INT64_MAX, 1000, 999 };
	uint64_t s = 0x9e3779b97f4a7c15ull;
	unsigned accepted = 0;

	(void)state;
	for (unsigned n = 0; n < 200000; n++) {
		struct reel_msg m;
		unsigned char buf[REEL_MSG_SIZE];
		uint64_t r = rng_next(&s);

		/* Mostly-sane headers, so that the kind-specific rules get exercised too. */
		reel_msg_init(&m, (uint16_t)(r % (REEL_MSG_KIND_COUNT + 1)));
		if (r % 97 == 0)
			m.version = (uint16_t)(r >> 32);
		r = rng_next(&s);
		m.priority = (uint32_t)(r % (REEL_PRIO_COUNT + 1));
		m.role = (uint32_t)((r >> 8) % (REEL_ROLE_COUNT + 1));
		m.op = (uint32_t)((r >> 16) % (REEL_OP_COUNT + 1));
		m.seq = (r >> 24) % 3;
		m.result = (int32_t)((r >> 32) % 3) - 1;
		m.first = frames[(r >> 40) % 8];
		m.last = frames[(r >> 44) % 8];
		if ((r >> 50) % 61 == 0)
			m.reserved[(r >> 56) & 1] = r;
		r = rng_next(&s);
		for (unsigned i = 0; i < 4; i++)
			m.params[i] = (r >> (8 * i)) % 3 ? interesting_double(r >> (8 * i + 2)) : 0;
		reel_msg_encode(&m, buf, sizeof(buf));
		judge(buf, &accepted);
	}
	assert_true(accepted > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_init_sets_header),
		cmocka_unit_test(test_msg_round_trip_every_kind),
		cmocka_unit_test(test_msg_encode_short_buffer),
		cmocka_unit_test(test_msg_reject_wrong_length),
		cmocka_unit_test(test_msg_reject_bad_header),
		cmocka_unit_test(test_msg_reject_priority_role_reserved),
		cmocka_unit_test(test_msg_reject_hello_from_coord_or_client),
		cmocka_unit_test(test_msg_reject_command_bad_op),
		cmocka_unit_test(test_msg_reject_bad_range),
		cmocka_unit_test(test_msg_reject_work_outside_its_command),
		cmocka_unit_test(test_msg_reject_bad_params),
		cmocka_unit_test(test_msg_reject_crop_past_frame),
		cmocka_unit_test(test_msg_reject_work_seq_zero),
		cmocka_unit_test(test_msg_reject_positive_reply_result),
		cmocka_unit_test(test_msg_op_table_complete),
		cmocka_unit_test(test_msg_op_bounds),
		cmocka_unit_test(test_msg_prio_mq_order),
		cmocka_unit_test(test_msg_every_bit_and_byte_flip),
		cmocka_unit_test(test_msg_random_messages_match_oracle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
