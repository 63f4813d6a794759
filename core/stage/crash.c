/* Crashes written into the stage table as the stage dies (see crash.h). */
#include "stage/crash.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>

#include "buffer/layout.h"

static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS };
#define NSIGNALS (sizeof(crash_signals) / sizeof(crash_signals[0]))

static struct reel__stage_entry *volatile watched;
static struct sigaction before[NSIGNALS];
static volatile sig_atomic_t installed;

static void on_crash(int sig, siginfo_t *info, void *uctx)
{
	struct reel__stage_entry *e = watched;

	(void)uctx;
	if (e)
		__atomic_store_n(&e->crash_signal, sig, __ATOMIC_RELAXED);
	for (size_t i = 0; i < NSIGNALS; i++)
		if (crash_signals[i] == sig)
			sigaction(sig, &before[i], NULL);
	/*
	 * A fault returns to the instruction that faulted, which faults again
	 * into the handler before ours.  A signal that was sent (raise, abort,
	 * kill) is sent again.
	 */
	if (info->si_code <= 0)
		raise(sig);
}

int reel__crash_watch(struct reel__stage_entry *entry)
{
	struct sigaction sa = { .sa_sigaction = on_crash, .sa_flags = SA_SIGINFO | SA_NODEFER };

	if (installed)
		return -EBUSY;
	sigemptyset(&sa.sa_mask);
	watched = entry;
	for (size_t i = 0; i < NSIGNALS; i++)
		if (sigaction(crash_signals[i], &sa, &before[i]) < 0) {
			int e = -errno;

			while (i-- > 0)
				sigaction(crash_signals[i], &before[i], NULL);
			watched = NULL;
			return e;
		}
	installed = 1;
	return 0;
}

void reel__crash_unwatch(void)
{
	if (!installed)
		return;
	for (size_t i = 0; i < NSIGNALS; i++)
		sigaction(crash_signals[i], &before[i], NULL);
	watched = NULL;
	installed = 0;
}
