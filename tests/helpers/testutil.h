/*
 * Helpers shared by the test binaries: private temp folders, unique session
 * names, child processes that are always reaped.
 */
#ifndef REEL_TESTUTIL_H
#define REEL_TESTUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* A fresh folder under $TMPDIR (or /tmp); the caller removes it with tu_rmrf(). */
char *tu_tempdir(void);
/* rm -rf path; accepts NULL. */
void tu_rmrf(const char *path);
/* A session name unique to this process and call: "t<pid>x<counter>". */
void tu_session_name(char *buf, size_t len);
/* path of the test clip `name` under $REEL_TEST_CLIPS, or NULL when absent (static buffer). */
const char *tu_clip(const char *name);
/* waitpid with a timeout; SIGKILLs the child and fails when it does not exit in time. Returns the wait status. */
int tu_wait(pid_t pid, int timeout_ms);
/*
 * Wait for child pid (tu_wait's bound) and clear it from pids[0..n), so that
 * teardown does not kill it again; its exit code, or -1 when it did not exit.
 */
int tu_reap(pid_t *pids, size_t n, pid_t pid, int timeout_ms);
/* SIGKILL and reap every pid > 0 of pids[0..n): what a test left running. */
void tu_kill_all(const pid_t *pids, size_t n);
/* Monotonic milliseconds. */
double tu_now_ms(void);
/* Run argv (argv[0] a path), capturing stdout and stderr into malloc'ed strings; returns the exit status or -1. */
int tu_run(char *const argv[], char **ret_out, char **ret_err);

#endif
