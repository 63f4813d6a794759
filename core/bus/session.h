/*
 * Sessions: a name, a coordinator process and its queues.  A coordinator
 * records itself in a session file, <runtime dir>/<name>.session, created
 * O_EXCL and mode 0600 in a folder only its user can write
 * ($XDG_RUNTIME_DIR/reel, or /tmp/reel-<uid>, checked to be ours and 0700).
 * A session is live while the recorded pid runs with the recorded start
 * time, so a recycled pid never passes for a coordinator.
 */
#ifndef REEL_SESSION_H
#define REEL_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "reel/client.h"


/* A byte a session name may hold: [A-Za-z0-9_-]. */
bool reel__session_char_ok(char c);

/* The runtime folder, created 0700 when missing, refused when not ours. */
int reel_runtime_dir(char *buf, size_t len);

/* Start time of pid in clock ticks since boot, from /proc. */
int reel_process_start_time(pid_t pid, uint64_t *ret_start);

/*
 * Write the record of this process for session name; -EEXIST when one is
 * there.  Paths are stored with bytes below 0x20, 0x7f and '%' escaped as
 * %XX, so every record written reads back.
 */
int reel_session_publish(const struct reel_session_record *record);
/*
 * Replace this process's own published record (a new queue nonce)
 * atomically; -ESTALE when the file names another process.
 */
int reel_session_update(const struct reel_session_record *record);
/*
 * Read and validate the record of session name: REEL_E_NOSESSION when there
 * is none, REEL_E_SESSIONFILE when the file is damaged.
 */
int reel_session_read(const char *name, struct reel_session_record *ret_record);

/*
 * Serialise the check-reclaim-publish sequence of coordinators starting at
 * the same time: an exclusive flock on <runtime dir>/.lock.  *ret_fd is
 * passed to reel_session_unlock().
 */
int reel_session_lock(int *ret_fd);
void reel_session_unlock(int fd);

/*
 * Remove session record->name (file and role queues) only while its file
 * still names record's pid and start time, so a coordinator never removes a
 * session that is not its own.  0 when removed, -ESTALE when not ours.
 */
int reel_session_release(const struct reel_session_record *record);
/* 1 when the record's coordinator still runs, 0 when not. */
int reel_session_alive(const struct reel_session_record *record);
/* Remove the session file and every queue of the session (reply queues excepted). */
int reel_session_remove(const char *name);

#define REEL_MQUEUE_DIR "/dev/mqueue"
/*
 * Unlink this user's reel queues nobody can use any more: role queues of a
 * dead coordinator and reply queues of a dead client (the pid is in each
 * name).  -ENOTSUP when the queue file
 * system is not mounted at REEL_MQUEUE_DIR (names cannot be listed then);
 * *ret_removed (may be NULL) gets how many were removed.
 */
int reel_session_sweep(unsigned *ret_removed);

/*
 * The session log that goes with a buffer file: its path with ".reel"
 * replaced by ".log" (or ".log" added), so it lives and is found with it.
 */
int reel_session_log_path(const char *buffer_path, char *buf, size_t len);

/* Calls fn for each session file found; fn returns non-zero to stop. */
int reel_session_list(int (*fn)(const struct reel_session_record *record, void *userdata),
                      void *userdata);

#endif
