/*
 * A stage that crashes says so before it goes: handlers for the signals of a
 * fault of its own (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS) write
 * the signal into its stage table entry, then hand the signal on to whatever
 * handled it before (the default: die; a sanitizer: report).  The
 * coordinator reads it when the stage is gone, and tells a work item that
 * crashes every stage taking it from a stage killed from outside.
 */
#ifndef REEL_STAGE_CRASH_H
#define REEL_STAGE_CRASH_H

struct reel__stage_entry;

/* From now on a crash is written into entry; 0 or -errno. One entry per process. */
int reel__crash_watch(struct reel__stage_entry *entry);
/* The handlers that were there before, back. */
void reel__crash_unwatch(void);

#endif
