/*
 * Tests of the SIGBUS guard (core/base/guard.c) on real files truncated
 * under real mappings.  The cases that must die (a SIGBUS the guard does
 * not own) run in forked children, which report only through their wait
 * status.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/guard.h"
#include "buffer/buffer.h"
#include "reel/error.h"
#include "testutil.h"

#define PAGES 16

struct fixture {
	char *dir;
	char path[4096];
	int fd;
	uint8_t *map;
	size_t len;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = tu_tempdir();
	snprintf(f->path, sizeof(f->path), "%s/file", f->dir);
	f->len = PAGES * (size_t)sysconf(_SC_PAGESIZE);
	f->fd = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(f->fd >= 0);
	assert_int_equal(ftruncate(f->fd, (off_t)f->len), 0);
	f->map = mmap(NULL, f->len, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
	assert_true(f->map != MAP_FAILED);
	memset(f->map, 0xab, f->len);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	munmap(f->map, f->len);
	close(f->fd);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* A truncated file reads as zeros past its new end, the pages before it are untouched, and the flag says so. */
static void test_guard_truncated_reads_zeros(void **state)
{
	struct fixture *f = *state;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int id = reel__guard_add(f->map, f->len, f->fd, PROT_READ | PROT_WRITE);
	volatile uint8_t *p = f->map;

	assert_true(id >= 0);
	assert_int_equal(reel__guard_lost(id), REEL_GUARD_OK);
	assert_int_equal(ftruncate(f->fd, (off_t)(4 * page)), 0);
	assert_int_equal(p[0], 0xab);
	assert_int_equal(reel__guard_lost(id), REEL_GUARD_OK);
	/* Past the end: the guard, not a SIGBUS. */
	assert_int_equal(p[10 * page + 5], 0);
	assert_int_equal(reel__guard_lost(id), REEL_GUARD_TRUNCATED);
	/* Writes go on too (into the zero pages), and the whole tail was patched at once. */
	p[15 * page] = 7;
	assert_int_equal(p[15 * page], 7);
	assert_int_equal(p[3 * page], 0xab);
	reel__guard_remove(id);
}

/* A SIGBUS from a mapping nobody registered keeps its default action: the process dies of it. */
static void test_guard_unregistered_still_dies(void **state)
{
	struct fixture *f = *state;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	pid_t pid;
	int status;

	pid = fork();
	if (pid == 0) {
		volatile uint8_t *p = f->map;
		/* The action before the guard is the default (cmocka has its own in the parent). */
		signal(SIGBUS, SIG_DFL);
		/* Only the first page is watched: the handler is in, the rest of the map is not ours. */
		if (reel__guard_add(f->map, page, f->fd, PROT_READ | PROT_WRITE) < 0 ||
		    ftruncate(f->fd, 0) < 0)
			_exit(2);
		(void)p[8 * page];
		_exit(0);
	}
	assert_true(pid > 0);
	status = tu_wait(pid, 10000);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
}

/* kill(SIGBUS) is not a fault: it keeps its default action whatever is registered. */
static void test_guard_sent_sigbus_still_dies(void **state)
{
	struct fixture *f = *state;
	pid_t pid;
	int status;

	pid = fork();
	if (pid == 0) {
		signal(SIGBUS, SIG_DFL);
		if (reel__guard_add(f->map, f->len, f->fd, PROT_READ | PROT_WRITE) < 0)
			_exit(2);
		raise(SIGBUS);
		_exit(0);
	}
	status = tu_wait(pid, 10000);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
}

/* A buffer file truncated under its handle: reel_buffer_lost() says so, nothing dies. */
static void test_guard_buffer_lost(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p;
	struct reel_buffer *b;
	struct reel_frame view;
	char path[4200];

	memset(&p, 0, sizeof(p));
	p.width = 64;
	p.height = 48;
	p.frame_count = 8;
	p.slot_count = 8;
	p.frame_rate = (struct reel_rational){ 25, 1 };
	p.time_base = (struct reel_rational){ 1, 25 };
	snprintf(p.source.path, sizeof(p.source.path), "/nonexistent/test-guard.mp4");
	snprintf(path, sizeof(path), "%s/buffer.reel", f->dir);
	assert_int_equal(reel_buffer_create(path, &p, &b), 0);
	assert_int_equal(reel_buffer_lost(b), 0);
	assert_int_equal(reel_buffer_frame(b, 7, &view), 0);
	assert_int_equal(truncate(path, 4096), 0);
	memset(view.plane[0], 1, 64);
	assert_int_equal(reel_buffer_lost(b), REEL_E_BUFFERLOST);
	reel_buffer_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_guard_truncated_reads_zeros, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guard_unregistered_still_dies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guard_sent_sigbus_still_dies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guard_buffer_lost, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
