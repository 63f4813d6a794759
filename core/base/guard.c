/*
 * The SIGBUS guard (see guard.h).  The table is a fixed array so that the
 * handler needs no lock and no allocation: an entry is claimed with a CAS
 * on `used`, filled, and published by a release store of `start`; the
 * handler reads `start` with acquire and then the rest.  Removal stores 0
 * to `start` before the caller unmaps.  A handler running in another thread
 * at that very moment could still map zero pages over the range just
 * unmapped; the window is a few instructions between a fault and the
 * close of the same mapping, which only happens when a process tears down
 * after a loss, so it is accepted and named here.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/guard.h"

#define GUARD_MAX 64

struct guard {
	atomic_int used;
	atomic_uintptr_t start;     /* 0 while the entry is not (yet) watched */
	atomic_size_t len;
	atomic_int fd;
	atomic_int prot;
	atomic_int lost;            /* REEL_GUARD_*: the first loss seen wins */
};

static struct guard table[GUARD_MAX];
static struct sigaction previous;
static uintptr_t page_size;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

/* Whatever was there before us decides about a SIGBUS that is not ours. */
static void pass_on(int sig, siginfo_t *si, void *uc)
{
	if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
		previous.sa_sigaction(sig, si, uc);
		return;
	}
	if (!(previous.sa_flags & SA_SIGINFO) && previous.sa_handler != SIG_DFL &&
	    previous.sa_handler != SIG_IGN) {
		previous.sa_handler(sig);
		return;
	}
	/*
	 * The default action (ignoring a fault would only loop on it): reset
	 * it and raise again; the signal is blocked inside the handler, so it
	 * is delivered, fatally, as the handler returns.
	 */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGBUS, &dfl, NULL);
	raise(SIGBUS);
}

/* Zero pages over [from, to) of guard g; false when that failed. */
static bool patch(struct guard *g, uintptr_t from, uintptr_t to)
{
	void *p = mmap((void *)from, to - from, atomic_load(&g->prot),
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	return p != MAP_FAILED;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	uintptr_t addr = (uintptr_t)si->si_addr;

	/* si_code <= 0: sent by kill() or sigqueue(), and si_addr means nothing. */
	if (si->si_code > 0) {
		for (int i = 0; i < GUARD_MAX; i++) {
			struct guard *g = &table[i];
			uintptr_t start = atomic_load_explicit(&g->start, memory_order_acquire);
			uintptr_t len, page, end, from;
			struct stat st;
			int kind = REEL_GUARD_IOERROR;

			if (!start)
				continue;
			len = atomic_load(&g->len);
			if (addr < start || addr - start >= len)
				continue;
			page = addr & ~(page_size - 1);
			end = page + page_size;
			from = page;
			if (fstat(atomic_load(&g->fd), &st) == 0 && (uint64_t)st.st_size <= page - start) {
				/*
				 * Past the end of the file: everything from the file's end on
				 * is gone, so it is patched at once rather than a fault a page.
				 */
				uintptr_t eof = ((uintptr_t)st.st_size + page_size - 1) & ~(page_size - 1);
				kind = REEL_GUARD_TRUNCATED;
				from = eof < page - start ? start + eof : page;
				end = start + len;
			}
			if (patch(g, from, end)) {
				int none = REEL_GUARD_OK;
				atomic_compare_exchange_strong(&g->lost, &none, kind);
				errno = saved;
				return;
			}
			break;
		}
	}
	pass_on(sig, si, uc);
	errno = saved;
}

/*
 * Ours must be the SIGBUS action when a mapping is added.  Someone may have
 * set another since (a test framework, a library): then ours goes in again,
 * in front of it, and it becomes the action for SIGBUS that is not ours.
 */
static int ensure_installed(void)
{
	struct sigaction sa, cur;
	int r = 0;

	pthread_mutex_lock(&install_lock);
	if (!page_size) {
		long ps = sysconf(_SC_PAGESIZE);
		if (ps <= 0) {
			r = -EINVAL;
			goto out;
		}
		page_size = (uintptr_t)ps;
	}
	if (sigaction(SIGBUS, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
	    cur.sa_sigaction == on_sigbus)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &previous) < 0)
		r = -errno;
out:
	pthread_mutex_unlock(&install_lock);
	return r;
}

int reel__guard_add(void *addr, size_t len, int fd, int prot)
{
	int r;

	if (!addr || len == 0 || fd < 0)
		return -EINVAL;
	r = ensure_installed();
	if (r < 0)
		return r;
	for (int i = 0; i < GUARD_MAX; i++) {
		struct guard *g = &table[i];
		int free_ = 0;

		if (!atomic_compare_exchange_strong(&g->used, &free_, 1))
			continue;
		atomic_store(&g->len, len);
		atomic_store(&g->fd, fd);
		atomic_store(&g->prot, prot);
		atomic_store(&g->lost, REEL_GUARD_OK);
		atomic_store_explicit(&g->start, (uintptr_t)addr, memory_order_release);
		return i;
	}
	return -ENOSPC;
}

void reel__guard_remove(int id)
{
	if (id < 0 || id >= GUARD_MAX)
		return;
	atomic_store_explicit(&table[id].start, 0, memory_order_release);
	atomic_store(&table[id].used, 0);
}

int reel__guard_lost(int id)
{
	if (id < 0 || id >= GUARD_MAX)
		return REEL_GUARD_OK;
	return atomic_load_explicit(&table[id].lost, memory_order_acquire);
}
