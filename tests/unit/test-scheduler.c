/*
 * The coordinator's scheduler: journal order per frame, parallel dispatch of
 * non-overlapping work, chunking, claims, epochs, and taking work back from
 * dead or hung stages.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bus/msg.h"
#include "reel/ops.h"
#include "scheduler.h"

static struct reel_journal_entry entry(uint64_t seq, uint32_t op, int64_t first, int64_t last)
{
	struct reel_journal_entry e;

	memset(&e, 0, sizeof(e));
	e.seq = seq;
	e.op = op;
	e.first = first;
	e.last = last;
	e.params[0] = 0.25;
	return e;
}

static void add(struct reel_sched *s, uint64_t seq, uint32_t role, int64_t first, int64_t last)
{
	struct reel_journal_entry e = entry(seq, REEL_OP_BRIGHTNESS, first, last);
	assert_int_equal(sched_add(s, &e, role), 0);
}

static void test_scheduler_chunks_a_range(void **state)
{
	struct reel_sched *s;
	struct sched_chunk k;
	int64_t expect_first = 0;
	int n = 0;

	(void)state;
	assert_int_equal(sched_new(64, &s), 0);
	add(s, 1, REEL_ROLE_EFFECT, 0, 999);
	while (sched_take(s, REEL_ROLE_EFFECT, 0, &k) == 1) {
		assert_int_equal(k.seq, 1);
		assert_int_equal(k.first, expect_first);
		assert_int_equal(k.last, expect_first + 63 > 999 ? 999 : expect_first + 63);
		assert_true(k.params[0] == 0.25);
		expect_first = k.last + 1;
		n++;
	}
	/* 1000 frames in chunks of 64: 15 full chunks and one of 40. */
	assert_int_equal(n, 16);
	assert_int_equal(expect_first, 1000);
	assert_int_equal(sched_inflight(s), 16);
	assert_int_equal(sched_commands(s), 1);
	sched_free(s);
}

static void test_scheduler_holds_back_overlap_until_done(void **state)
{
	struct reel_sched *s;
	struct sched_chunk a, b, c;

	(void)state;
	assert_int_equal(sched_new(1000, &s), 0);
	add(s, 1, REEL_ROLE_EFFECT, 0, 99);
	add(s, 2, REEL_ROLE_EDITOR, 50, 60);   /* overlaps 1: must wait */
	add(s, 3, REEL_ROLE_EDITOR, 200, 300); /* disjoint: may run at once */
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &a), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &b), 1);
	assert_int_equal(b.seq, 3);
	assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &c), 0);
	assert_int_equal(sched_done(s, a.seq, a.first, a.epoch, 0, NULL), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &c), 1);
	assert_int_equal(c.seq, 2);
	assert_int_equal(sched_commands(s), 2);
	assert_int_equal(sched_done(s, b.seq, b.first, b.epoch, 0, NULL), 1);
	assert_int_equal(sched_done(s, c.seq, c.first, c.epoch, 0, NULL), 1);
	assert_int_equal(sched_commands(s), 0);
	assert_int_equal(sched_inflight(s), 0);
	sched_free(s);
}

static void test_scheduler_same_role_keeps_journal_order(void **state)
{
	struct reel_sched *s;
	struct sched_chunk a, b;

	(void)state;
	assert_int_equal(sched_new(10, &s), 0);
	add(s, 1, REEL_ROLE_EFFECT, 0, 9);
	add(s, 2, REEL_ROLE_EFFECT, 5, 14);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &a), 1);
	assert_int_equal(a.seq, 1);
	/* 2's first chunk (5..14) overlaps 1's in-flight chunk. */
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &b), 0);
	assert_int_equal(sched_done(s, 1, 0, a.epoch, 0, NULL), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &b), 1);
	assert_int_equal(b.seq, 2);
	sched_free(s);
}

static void test_scheduler_rejects_out_of_order_add(void **state)
{
	struct reel_sched *s;
	struct reel_journal_entry e = entry(5, REEL_OP_INVERT, 0, 1);
	struct reel_journal_entry older = entry(4, REEL_OP_INVERT, 0, 1);
	struct reel_journal_entry bad = entry(6, REEL_OP_INVERT, 5, 1);

	(void)state;
	assert_int_equal(sched_new(10, &s), 0);
	assert_int_equal(sched_add(s, &e, REEL_ROLE_EFFECT), 0);
	assert_int_equal(sched_add(s, &older, REEL_ROLE_EFFECT), -EINVAL);
	assert_int_equal(sched_add(s, &bad, REEL_ROLE_EFFECT), -EINVAL);
	assert_int_equal(sched_new(0, &(struct reel_sched *){ NULL }), -EINVAL);
	sched_free(s);
	sched_free(NULL);
}

static void test_scheduler_dead_owner_work_dispatched_again(void **state)
{
	struct reel_sched *s;
	struct sched_chunk a, b, again;

	(void)state;
	assert_int_equal(sched_new(10, &s), 0);
	add(s, 1, REEL_ROLE_EFFECT, 0, 19);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &a), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &b), 1);
	assert_int_equal(sched_claim(s, a.seq, a.first, a.epoch, 111, 0), 0);
	assert_int_equal(sched_claim(s, b.seq, b.first, b.epoch, 222, 0), 0);
	assert_int_equal(sched_requeue_owner(s, 111), 1);
	assert_int_equal(sched_inflight(s), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &again), 1);
	assert_int_equal(again.first, a.first);
	assert_true(again.epoch != a.epoch);
	/* The dead stage's late answer carries the old epoch: fenced. */
	assert_int_equal(sched_done(s, a.seq, a.first, a.epoch, 111, NULL), -ENOENT);
	assert_int_equal(sched_claim(s, a.seq, a.first, a.epoch, 111, 0), -ENOENT);
	/* Work claimed by one stage cannot be answered or claimed by another. */
	assert_int_equal(sched_claim(s, b.seq, b.first, b.epoch, 333, 0), -EPERM);
	assert_int_equal(sched_done(s, b.seq, b.first, b.epoch, 333, NULL), -EPERM);
	assert_int_equal(sched_done(s, again.seq, again.first, again.epoch, 0, NULL), 0);
	assert_int_equal(sched_done(s, b.seq, b.first, b.epoch, 222, NULL), 1);
	assert_int_equal(sched_done(s, b.seq, b.first, b.epoch, 222, NULL), -ENOENT);
	sched_free(s);
}

static void test_scheduler_deadlines_take_work_back(void **state)
{
	struct reel_sched *s;
	struct sched_chunk a, b, k;

	(void)state;
	assert_int_equal(sched_new(10, &s), 0);
	add(s, 1, REEL_ROLE_AUDIO, 0, 19);
	assert_int_equal(sched_take(s, REEL_ROLE_AUDIO, 1000, &a), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_AUDIO, 1000, &b), 1);
	assert_int_equal(sched_claim(s, b.seq, b.first, b.epoch, 42, 1000), 0);
	/* Nothing is old enough yet. */
	assert_int_equal(sched_requeue_stale(s, 500, 500), 0);
	/* The unclaimed one is past its deadline, the claimed one not yet. */
	assert_int_equal(sched_requeue_stale(s, 500, 2000), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_AUDIO, 3000, &k), 1);
	assert_int_equal(k.first, a.first);
	/* Now the hung owner of b misses its deadline too. */
	assert_int_equal(sched_requeue_stale(s, 2000, 0), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_AUDIO, 3000, &k), 1);
	assert_int_equal(k.first, b.first);
	sched_free(s);
}

static void test_scheduler_untake_after_full_queue(void **state)
{
	struct reel_sched *s;
	struct sched_chunk a, again;

	(void)state;
	assert_int_equal(sched_new(10, &s), 0);
	add(s, 1, REEL_ROLE_EDITOR, 0, 5);
	assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &a), 1);
	assert_int_equal(sched_untake(s, a.seq, a.first, a.epoch + 1), -ENOENT);
	assert_int_equal(sched_untake(s, a.seq, a.first, a.epoch), 0);
	assert_int_equal(sched_inflight(s), 0);
	assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &again), 1);
	assert_int_equal(again.first, 0);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &again), 0);
	sched_free(s);
}

static void test_scheduler_replay_takes_its_place_in_seq_order(void **state)
{
	struct reel_sched *s;
	struct reel_journal_entry old = entry(3, REEL_OP_INVERT, 0, 99);
	struct sched_chunk k, r1, r2, done;

	(void)state;
	assert_int_equal(sched_new(64, &s), 0);
	add(s, 7, REEL_ROLE_EFFECT, 40, 40);
	/* Entry 3 is applied already; frame 40 was decoded again and needs it back first. */
	assert_int_equal(sched_add_replay(s, &old, REEL_ROLE_EDITOR, 40, 7), 0);
	assert_int_equal(sched_add_replay(s, &old, REEL_ROLE_EDITOR, 40, 8), 0);
	assert_int_equal(sched_add_replay(s, &old, REEL_ROLE_EDITOR, 100, 9), -EINVAL);
	/* 7 waits for the replays of 3 on the same frame. */
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &k), 0);
	assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &r1), 1);
	assert_int_equal(r1.seq, 3);
	assert_int_equal(r1.first, 40);
	assert_int_equal(r1.last, 40);
	assert_true(r1.replay);
	assert_int_equal(r1.incarnation, 7);
	/* The second replay of the same frame waits behind the first (same frame, same seq). */
	assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &r2), 0);
	assert_int_equal(sched_done(s, r1.seq, r1.first, r1.epoch, 0, &done), 1);
	assert_true(done.replay);
	assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &r2), 1);
	assert_true(r2.epoch != r1.epoch);
	assert_int_equal(sched_done(s, r2.seq, r2.first, r2.epoch, 0, NULL), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &k), 1);
	assert_int_equal(k.seq, 7);
	assert_false(k.replay);
	sched_free(s);
}

static void test_scheduler_taint_marks_inflight_commands_only(void **state)
{
	struct reel_sched *s;
	struct reel_journal_entry old = entry(1, REEL_OP_INVERT, 0, 99);
	struct sched_chunk k, r, done;

	(void)state;
	assert_int_equal(sched_new(64, &s), 0);
	add(s, 2, REEL_ROLE_EFFECT, 0, 99);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &k), 1);
	/* A replay for frame 10 (decoded again) while command 2 is in flight over it. */
	assert_int_equal(sched_add_replay(s, &old, REEL_ROLE_EDITOR, 10, 5), 0);
	assert_int_equal(sched_commands(s), 1);        /* replays are not counted */
	assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &r), 1);
	assert_int_equal(sched_taint_inflight(s, 10), 1);  /* the command, not the replay */
	assert_int_equal(sched_taint_inflight(s, 80), 0);  /* chunk 0..63 does not cover 80 */
	assert_int_equal(sched_done(s, k.seq, k.first, k.epoch, 0, &done), 0);
	assert_true(done.tainted);
	assert_int_equal(sched_done(s, r.seq, r.first, r.epoch, 0, &done), 1);
	assert_false(done.tainted);
	sched_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scheduler_chunks_a_range),
		cmocka_unit_test(test_scheduler_holds_back_overlap_until_done),
		cmocka_unit_test(test_scheduler_same_role_keeps_journal_order),
		cmocka_unit_test(test_scheduler_rejects_out_of_order_add),
		cmocka_unit_test(test_scheduler_dead_owner_work_dispatched_again),
		cmocka_unit_test(test_scheduler_deadlines_take_work_back),
		cmocka_unit_test(test_scheduler_untake_after_full_queue),
		cmocka_unit_test(test_scheduler_replay_takes_its_place_in_seq_order),
		cmocka_unit_test(test_scheduler_taint_marks_inflight_commands_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
