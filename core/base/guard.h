/*
 * The SIGBUS guard: a file mapping that loses pages under a process (the
 * buffer file or the source truncated by someone else, an I/O error on a
 * page of it) must not kill the process.  A mapping registered here is
 * watched by one SA_SIGINFO handler: a fault inside it maps anonymous zero
 * pages over what is gone, so the faulting instruction completes with
 * zeros, and raises the mapping's "lost" flag.  Code that reads or writes
 * the mapping looks at the flag at its safe points (after a frame, after a
 * journal append, each loop tick) and reports the loss; nothing that was
 * computed from the zero pages may be trusted or acknowledged after the
 * flag is up.  A SIGBUS outside every registered mapping, or sent with
 * kill(), gets the action that was there before (the default: the process
 * dies), so real bugs still crash.
 *
 * Async-signal-safe: the table is a fixed array of atomics, the handler
 * calls only fstat and mmap.
 */
#ifndef REEL_GUARD_H
#define REEL_GUARD_H

#include <stddef.h>

/* What a mapping lost, as the handler saw it. */
enum {
	REEL_GUARD_OK = 0,
	REEL_GUARD_TRUNCATED = 1,   /* the fault lay past the file's end: the file shrank */
	REEL_GUARD_IOERROR = 2,     /* inside the file: an I/O error or no space for the page */
};

/*
 * Watch [addr, addr + len), a MAP_SHARED mapping of fd mapped with prot;
 * fd must stay open until reel__guard_remove().  Installs the handler on
 * first use.  Returns the guard's id (>= 0), or -ENOSPC when the table is
 * full (the mapping then works unguarded, as before) or another -errno.
 */
int reel__guard_add(void *addr, size_t len, int fd, int prot);
/* Stop watching; call before munmap.  Accepts a negative id. */
void reel__guard_remove(int id);
/* REEL_GUARD_OK, or what the mapping lost.  A negative id is OK. */
int reel__guard_lost(int id);

#endif
