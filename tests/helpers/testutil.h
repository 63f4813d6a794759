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
/*
 * A fresh folder as tu_tempdir(), holding a private runtime folder (run/,
 * 0700) set as REEL_RUNTIME_DIR and a buffer folder (buffers/) set as
 * REEL_BUFFER_DIR: the sessions and buffers of a test never meet another's.
 */
char *tu_private_env(void);
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
/*
 * Start argv (argv[0] a path) in a child process with stdin from /dev/null
 * and stdout and stderr appended to log (NULL: inherited); its pid.
 */
pid_t tu_spawn(char *const argv[], const char *log);
/* The whole file, malloc'ed, with a NUL after it; *ret_len (may be NULL) gets its size.  NULL when unreadable. */
char *tu_slurp(const char *path, size_t *ret_len);
/* Write len bytes to path (created or truncated, 0600); 0 or -errno. */
int tu_write_file(const char *path, const void *data, size_t len);
/*
 * Live processes (zombies left out) whose arguments hold "--session NAME"
 * or "--session=NAME": a session's coordinator and its stages.  Up to max
 * pids go to out (may be NULL); returns how many there are.
 */
size_t tu_session_procs(const char *session, pid_t *out, size_t max);
/*
 * Reap every zombie child of this process that is not in keep[0..nkeep):
 * processes adopted as a child subreaper (PR_SET_CHILD_SUBREAPER) once their
 * parent exited.  Returns how many were reaped.
 */
size_t tu_reap_adopted(const pid_t *keep, size_t nkeep);
/* The first unsigned number after "key": in json, from the start; -1 when absent. */
int tu_json_u64(const char *json, const char *key, unsigned long long *ret);

/*
 * Queue names hold a nonce known only while the session file exists: note
 * session's names while it is live, then ask whether one of its role
 * queues (of any remembered run) is left behind after it stopped (1, its
 * name in buf) or not (0).
 */
void tu_session_remember(const char *session);
int tu_session_queue_left(const char *session, char *buf, size_t len);

#endif
