/*
 * The coordinator's scheduler: work cut along a fixed grid of cells,
 * journal order per frame, parallel dispatch of work on other frames,
 * claims and epochs, failures and retries, taking work back from dead or
 * hung stages, cancelling, and commands held until a measurement.  A
 * randomised run checks the cell rule against a brute-force oracle of the
 * ordering it must keep.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reel/ops.h"
#include "reel/stage.h"
#include "scheduler.h"

static struct reel_edit edit(uint64_t seq, uint32_t op, int64_t first, int64_t last)
{
	struct reel_edit e;

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
	struct reel_edit e = edit(seq, REEL_OP_BRIGHTNESS, first, last);
	assert_int_equal(sched_add(s, &e, role, false), 0);
}

static int done(struct reel_sched *s, const struct sched_chunk *k)
{
	return sched_done(s, k->edit.seq, k->first, k->epoch, k->owner, NULL);
}

static void test_scheduler_cuts_along_the_grid(void **state)
{
	struct reel_sched *s;
	struct sched_chunk k;
	int64_t expect_first = 10;
	int n = 0;

	(void)state;
	assert_int_equal(sched_new(64, &s), 0);
	add(s, 1, REEL_ROLE_EFFECT, 10, 1000);
	while (sched_take(s, REEL_ROLE_EFFECT, 0, &k) == 1) {
		assert_int_equal(k.edit.seq, 1);
		assert_int_equal(k.edit.first, 10);
		assert_int_equal(k.edit.last, 1000);
		assert_int_equal(k.kind, SCHED_APPLY);
		assert_int_equal(k.first, expect_first);
		/* Every chunk ends on the grid, or at the end of the range. */
		assert_int_equal(k.last, (k.first / 64) * 64 + 63 > 1000 ? 1000 : (k.first / 64) * 64 + 63);
		assert_true(k.edit.params[0] == 0.25);
		expect_first = k.last + 1;
		n++;
	}
	/* 10..1000: 10..63, then 15 cells of 64 (64..1023 clipped to 1000). */
	assert_int_equal(n, 16);
	assert_int_equal(expect_first, 1001);
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
	add(s, 2, REEL_ROLE_EDITOR, 50, 60);     /* same cell as 1: must wait */
	add(s, 3, REEL_ROLE_EDITOR, 1200, 1300); /* another cell: may run at once */
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &a), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &b), 1);
	assert_int_equal(b.edit.seq, 3);
	assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &c), 0);
	assert_true(sched_busy_over(s, 55, 55));
	assert_false(sched_busy_over(s, 500, 999));
	assert_int_equal(done(s, &a), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &c), 1);
	assert_int_equal(c.edit.seq, 2);
	assert_int_equal(sched_commands(s), 2);
	assert_int_equal(done(s, &b), 1);
	assert_int_equal(done(s, &c), 1);
	assert_int_equal(sched_commands(s), 0);
	assert_int_equal(sched_inflight(s), 0);
	assert_false(sched_busy_over(s, 0, 100000));
	sched_free(s);
}

static void test_scheduler_same_role_keeps_journal_order(void **state)
{
	struct reel_sched *s;
	struct sched_chunk a, b, c;

	(void)state;
	assert_int_equal(sched_new(10, &s), 0);
	add(s, 1, REEL_ROLE_EFFECT, 0, 9);
	add(s, 2, REEL_ROLE_EFFECT, 5, 14);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &a), 1);
	assert_int_equal(a.edit.seq, 1);
	/* 2's 5..9 waits for 1 in cell 0; its 10..14 in cell 1 may go. */
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &b), 1);
	assert_int_equal(b.edit.seq, 2);
	assert_int_equal(b.first, 10);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &c), 0);
	assert_int_equal(done(s, &a), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &c), 1);
	assert_int_equal(c.edit.seq, 2);
	assert_int_equal(c.first, 5);
	assert_int_equal(c.last, 9);
	sched_free(s);
}

static void test_scheduler_rejects_out_of_order_add(void **state)
{
	struct reel_sched *s;
	struct reel_edit e = edit(5, REEL_OP_INVERT, 0, 1);
	struct reel_edit older = edit(4, REEL_OP_INVERT, 0, 1);
	struct reel_edit bad = edit(6, REEL_OP_INVERT, 5, 1);

	(void)state;
	assert_int_equal(sched_new(10, &s), 0);
	assert_int_equal(sched_add(s, &e, REEL_ROLE_EFFECT, false), 0);
	assert_int_equal(sched_add(s, &older, REEL_ROLE_EFFECT, false), -EINVAL);
	assert_int_equal(sched_add(s, &bad, REEL_ROLE_EFFECT, false), -EINVAL);
	assert_int_equal(sched_new(0, &(struct reel_sched *){ NULL }), -EINVAL);
	sched_free(s);
}

static void test_scheduler_claims_epochs_and_owners(void **state)
{
	struct reel_sched *s;
	struct sched_chunk a, again;

	(void)state;
	assert_int_equal(sched_new(100, &s), 0);
	add(s, 1, REEL_ROLE_EFFECT, 0, 10);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 100, &a), 1);
	/* A claim or done naming another epoch, frame or seq is a stale or invented answer. */
	assert_int_equal(sched_claim(s, 1, 0, a.epoch + 1, 42, 100), -ENOENT);
	assert_int_equal(sched_claim(s, 1, 1, a.epoch, 42, 100), -ENOENT);
	assert_int_equal(sched_claim(s, 2, 0, a.epoch, 42, 100), -ENOENT);
	assert_int_equal(sched_claim(s, 1, 0, a.epoch, 42, 100), 0);
	/* A claim is also the stage saying it still works: again from the owner is fine. */
	assert_int_equal(sched_claim(s, 1, 0, a.epoch, 42, 200), 0);
	assert_int_equal(sched_claim(s, 1, 0, a.epoch, 43, 200), -EPERM);
	assert_int_equal(sched_done(s, 1, 0, a.epoch, 43, NULL), -EPERM);
	/* Untake puts it back with a new epoch on the next take. */
	assert_int_equal(sched_untake(s, 1, 0, a.epoch), 0);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 300, &again), 1);
	assert_true(again.epoch != a.epoch);
	assert_int_equal(sched_done(s, 1, 0, a.epoch, 0, NULL), -ENOENT);
	assert_int_equal(sched_done(s, 1, 0, again.epoch, 0, NULL), 1);
	sched_free(s);
}

static void test_scheduler_dead_stage_work_goes_again_then_fails(void **state)
{
	const struct sched_loss crash = { true, 3, 10 }, kill = { false, 3, 10 };
	struct reel_sched *s;
	struct sched_chunk a, b, k;
	uint64_t doomed[4];
	size_t nd;

	(void)state;
	assert_int_equal(sched_new(100, &s), 0);
	add(s, 1, REEL_ROLE_EFFECT, 0, 10);
	add(s, 2, REEL_ROLE_EFFECT, 200, 210);
	/* Killed from outside nine times: nothing said about the item, it goes again each time. */
	for (int death = 1; death <= 9; death++) {
		assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &a), 1);
		assert_int_equal(a.edit.seq, 1);
		assert_int_equal(a.losses, death - 1);
		assert_int_equal(sched_claim(s, 1, 0, a.epoch, 77, 0), 0);
		assert_int_equal(sched_requeue_owner(s, 77, &kill, doomed, 4, &nd), 1);
		assert_int_equal(nd, 0);
	}
	/* Crashes count apart: the third dooms the command; the caller fails it. */
	for (int death = 1; death <= 3; death++) {
		assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &a), 1);
		assert_int_equal(a.edit.seq, 1);
		assert_int_equal(a.crashes, death - 1);
		assert_int_equal(a.losses, 9);
		assert_int_equal(sched_claim(s, 1, 0, a.epoch, 77, 0), 0);
		assert_int_equal(sched_requeue_owner(s, 77, &crash, doomed, 4, &nd), 1);
		assert_int_equal(nd, death == 3 ? 1 : 0);
	}
	assert_int_equal(doomed[0], 1);
	assert_int_equal(sched_cancel(s, 1), 0);
	assert_false(sched_has(s, 1));
	/* The tenth loss of an item dooms it too (a stage the kernel kills for its memory, say). */
	for (int death = 1; death <= 10; death++) {
		assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &b), 1);
		assert_int_equal(b.edit.seq, 2);
		assert_int_equal(sched_claim(s, 2, 200, b.epoch, 78, 0), 0);
		assert_int_equal(sched_requeue_owner(s, 78, &kill, doomed, 4, &nd), 1);
		assert_int_equal(nd, death == 10 ? 1 : 0);
	}
	assert_int_equal(doomed[0], 2);
	assert_int_equal(sched_cancel(s, 2), 0);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &k), 0);
	assert_int_equal(sched_requeue_owner(s, 0, &crash, doomed, 4, &nd), -EINVAL);
	assert_int_equal(sched_requeue_owner(s, 78, NULL, doomed, 4, &nd), -EINVAL);
	sched_free(s);
}

static void test_scheduler_hung_and_lost_work_goes_again(void **state)
{
	struct reel_sched *s;
	struct sched_chunk a, b, k;

	(void)state;
	assert_int_equal(sched_new(100, &s), 0);
	add(s, 1, REEL_ROLE_EFFECT, 0, 10);
	add(s, 2, REEL_ROLE_EFFECT, 100, 110);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 1000, &a), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 1000, &b), 1);
	assert_int_equal(sched_claim(s, a.edit.seq, a.first, a.epoch, 5, 1000), 0);
	/* The claimed one speaks again at 5000: not hung at a 3000 deadline counted from 6000. */
	assert_int_equal(sched_claim(s, a.edit.seq, a.first, a.epoch, 5, 5000), 0);
	assert_int_equal(sched_requeue_stale(s, 3000, -1e300), 0);
	/* Unclaimed since 1000, lost before 2000: back. */
	assert_int_equal(sched_requeue_stale(s, 3000, 2000), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 6000, &k), 1);
	assert_int_equal(k.edit.seq, b.edit.seq);
	/* Silent since 5000, past a 5500 deadline: hung, back. */
	assert_int_equal(sched_requeue_stale(s, 5500, -1e300), 1);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 7000, &k), 1);
	assert_int_equal(k.edit.seq, a.edit.seq);
	/* The hung stage's late done names the old epoch: ignored. */
	assert_int_equal(sched_done(s, a.edit.seq, a.first, a.epoch, 5, NULL), -ENOENT);
	sched_free(s);
}

static void test_scheduler_failures_retry_then_fail(void **state)
{
	struct reel_sched *s;
	struct sched_chunk a;

	(void)state;
	assert_int_equal(sched_new(100, &s), 0);
	add(s, 1, REEL_ROLE_AUDIO, 0, 10);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(sched_take(s, REEL_ROLE_AUDIO, 0, &a), 1);
		assert_int_equal(a.failures, i - 1);
		assert_int_equal(sched_fail(s, 1, 0, a.epoch, 0, 3), i == 3 ? 1 : 0);
	}
	assert_int_equal(sched_fail(s, 1, 0, a.epoch, 0, 3), -ENOENT);
	sched_free(s);
}

static void test_scheduler_cancel_lets_the_next_go(void **state)
{
	struct reel_sched *s;
	struct sched_chunk a, b, k;

	(void)state;
	assert_int_equal(sched_new(64, &s), 0);
	add(s, 1, REEL_ROLE_EFFECT, 0, 200);
	add(s, 2, REEL_ROLE_EDITOR, 0, 200);
	add(s, 3, REEL_ROLE_EFFECT, 100, 120);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &a), 1);
	assert_int_equal(a.edit.seq, 1);
	assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &k), 0);
	/* Undo of 1: its chunks go, in flight or not; 2 takes their place in every cell. */
	assert_int_equal(sched_cancel(s, 1), 0);
	assert_int_equal(sched_inflight(s), 0);
	assert_int_equal(done(s, &a), -ENOENT);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &b), 1);
		assert_int_equal(b.edit.seq, 2);
	}
	assert_int_equal(sched_take(s, REEL_ROLE_EDITOR, 0, &b), 0);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &k), 0);
	assert_int_equal(sched_cancel(s, 2), 0);
	assert_int_equal(sched_take(s, REEL_ROLE_EFFECT, 0, &k), 1);
	assert_int_equal(k.edit.seq, 3);
	assert_int_equal(sched_cancel(s, 9), -ENOENT);
	sched_free(s);
}

static void test_scheduler_measure_holds_the_command(void **state)
{
	struct reel_sched *s;
	struct reel_edit n = edit(1, REEL_OP_NORMALIZE, 0, 99);
	struct sched_chunk m, k, later;

	(void)state;
	assert_int_equal(sched_new(64, &s), 0);
	assert_int_equal(sched_add(s, &n, REEL_ROLE_AUDIO, true), 0);
	add(s, 2, REEL_ROLE_AUDIO, 10, 20);
	/* Neither the held chunks nor the measure (not told to go), nor 2 behind them. */
	assert_int_equal(sched_take(s, REEL_ROLE_AUDIO, 0, &k), 0);
	assert_int_equal(sched_measure_go(s, 1), 0);
	assert_int_equal(sched_take(s, REEL_ROLE_AUDIO, 0, &m), 1);
	assert_int_equal(m.kind, SCHED_MEASURE);
	assert_int_equal(m.first, 0);
	assert_int_equal(m.last, 99);
	assert_int_equal(sched_take(s, REEL_ROLE_AUDIO, 0, &k), 0);
	assert_int_equal(done(s, &m), 0);
	assert_int_equal(sched_release(s, 1, 0.5), 0);
	assert_int_equal(sched_take(s, REEL_ROLE_AUDIO, 0, &k), 1);
	assert_int_equal(k.kind, SCHED_APPLY);
	assert_int_equal(k.edit.seq, 1);
	assert_true(k.edit.params[1] == 0.5);
	assert_int_equal(sched_take(s, REEL_ROLE_AUDIO, 0, &later), 1);
	assert_int_equal(later.edit.seq, 1);
	assert_int_equal(sched_take(s, REEL_ROLE_AUDIO, 0, &later), 0);
	assert_int_equal(done(s, &k), 0);
	assert_int_equal(sched_take(s, REEL_ROLE_AUDIO, 0, &later), 1);
	assert_int_equal(later.edit.seq, 2);
	sched_free(s);
}

static void test_scheduler_measure_again_in_place(void **state)
{
	struct reel_sched *s;
	struct reel_edit n = edit(3, REEL_OP_NORMALIZE, 0, 99);
	struct sched_chunk m;

	(void)state;
	assert_int_equal(sched_new(64, &s), 0);
	add(s, 5, REEL_ROLE_EFFECT, 0, 10);
	/* An older command measured again goes in its place by seq. */
	assert_int_equal(sched_add_measure(s, &n, REEL_ROLE_AUDIO), 0);
	assert_int_equal(sched_add_measure(s, &n, REEL_ROLE_AUDIO), -EINVAL);
	assert_true(sched_measure_only(s, 3));
	assert_false(sched_measure_only(s, 5));
	assert_int_equal(sched_commands(s), 2);
	assert_int_equal(sched_measure_go(s, 3), 0);
	assert_int_equal(sched_take(s, REEL_ROLE_AUDIO, 0, &m), 1);
	assert_int_equal(m.kind, SCHED_MEASURE);
	assert_int_equal(done(s, &m), 1);
	assert_false(sched_has(s, 3));
	assert_true(sched_has(s, 5));
	sched_free(s);
}

/*
 * Many commands of random ranges and roles, taken and finished in random
 * order: nothing taken ever overlaps an unfinished chunk of an earlier
 * command (the oracle keeps every chunk handed out), and whenever nothing
 * can be taken, every chunk left is behind an earlier unfinished one on its
 * frames (nothing starves).
 */
#define RAND_CMDS 120
#define RAND_FRAMES 2000

struct taken {
	struct sched_chunk k;
	bool finished;
};

static void test_scheduler_random_runs_keep_the_order(void **state)
{
	static struct taken t[RAND_CMDS * (RAND_FRAMES / 16 + 2)];
	struct reel_sched *s;
	int64_t first[RAND_CMDS + 1], last[RAND_CMDS + 1];
	size_t nt = 0, chunks_total = 0;

	(void)state;
	srand(12345);
	assert_int_equal(sched_new(16, &s), 0);
	for (uint64_t seq = 1; seq <= RAND_CMDS; seq++) {
		uint32_t role = REEL_ROLE_EDITOR + (uint32_t)(rand() % 3);
		first[seq] = rand() % RAND_FRAMES;
		last[seq] = first[seq] + rand() % (rand() % 4 == 0 ? RAND_FRAMES : 40);
		if (last[seq] >= RAND_FRAMES)
			last[seq] = RAND_FRAMES - 1;
		add(s, seq, role, first[seq], last[seq]);
		chunks_total += (size_t)(last[seq] / 16 - first[seq] / 16 + 1);
	}
	for (;;) {
		bool any = false;

		/* Take what may go, in a random order of roles. */
		for (int i = 0; i < 3; i++) {
			struct sched_chunk k;
			uint32_t role = REEL_ROLE_EDITOR + (uint32_t)(rand() % 3);

			while (sched_take(s, role, 0, &k) == 1) {
				for (size_t j = 0; j < nt; j++)
					if (!t[j].finished && t[j].k.edit.seq < k.edit.seq &&
					    t[j].k.first <= k.last && k.first <= t[j].k.last)
						fail_msg("chunk %lu/%ld overlaps unfinished %lu/%ld",
						         (unsigned long)k.edit.seq, (long)k.first,
						         (unsigned long)t[j].k.edit.seq, (long)t[j].k.first);
				/* Nor any chunk of an earlier command never handed out yet. */
				for (uint64_t e = 1; e < k.edit.seq; e++) {
					if (first[e] > k.last || k.first > last[e])
						continue;
					bool seen_done = false;
					for (size_t j = 0; j < nt; j++)
						if (t[j].k.edit.seq == e && t[j].finished && t[j].k.first <= k.last &&
						    k.first <= t[j].k.last)
							seen_done = true;
					if (!seen_done)
						fail_msg("chunk %lu/%ld went before command %lu on its frames",
						         (unsigned long)k.edit.seq, (long)k.first, (unsigned long)e);
				}
				t[nt].k = k;
				t[nt].finished = false;
				nt++;
				any = true;
			}
		}
		/* Finish about half of what is in flight. */
		for (size_t j = 0; j < nt; j++)
			if (!t[j].finished && rand() % 2) {
				assert_true(done(s, &t[j].k) >= 0);
				t[j].finished = true;
				any = true;
			}
		if (!any) {
			bool open = false;
			for (size_t j = 0; j < nt; j++)
				if (!t[j].finished) {
					assert_true(done(s, &t[j].k) >= 0);
					t[j].finished = true;
					open = true;
				}
			if (!open)
				break;
		}
	}
	assert_int_equal(nt, chunks_total);
	assert_int_equal(sched_commands(s), 0);
	assert_int_equal(sched_inflight(s), 0);
	sched_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scheduler_cuts_along_the_grid),
		cmocka_unit_test(test_scheduler_holds_back_overlap_until_done),
		cmocka_unit_test(test_scheduler_same_role_keeps_journal_order),
		cmocka_unit_test(test_scheduler_rejects_out_of_order_add),
		cmocka_unit_test(test_scheduler_claims_epochs_and_owners),
		cmocka_unit_test(test_scheduler_dead_stage_work_goes_again_then_fails),
		cmocka_unit_test(test_scheduler_hung_and_lost_work_goes_again),
		cmocka_unit_test(test_scheduler_failures_retry_then_fail),
		cmocka_unit_test(test_scheduler_cancel_lets_the_next_go),
		cmocka_unit_test(test_scheduler_measure_holds_the_command),
		cmocka_unit_test(test_scheduler_measure_again_in_place),
		cmocka_unit_test(test_scheduler_random_runs_keep_the_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
