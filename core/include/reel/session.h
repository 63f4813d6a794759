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

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define REEL_PATH_MAX 4096

struct reel_session_record {
	char name[65];
	pid_t pid;
	uint64_t start_time;           /* /proc/<pid>/stat field 22 */
	char buffer_path[REEL_PATH_MAX];
	char source_path[REEL_PATH_MAX];
};

/* The runtime folder, created 0700 when missing, refused when not ours. */
int reel_runtime_dir(char *buf, size_t len);

/* Start time of pid in clock ticks since boot, from /proc. */
int reel_process_start_time(pid_t pid, uint64_t *ret_start);

/* Write the record of this process for session name; -EEXIST when one is there. */
int reel_session_publish(const struct reel_session_record *record);
/* Read and validate the record of session name; REEL_E_NOSESSION when none. */
int reel_session_read(const char *name, struct reel_session_record *ret_record);
/* 1 when the record's coordinator still runs, 0 when not. */
int reel_session_alive(const struct reel_session_record *record);
/* Remove the session file and every queue of the session (reply queues excepted). */
int reel_session_remove(const char *name);

/* Calls fn for each session file found; fn returns non-zero to stop. */
int reel_session_list(int (*fn)(const struct reel_session_record *record, void *userdata),
                      void *userdata);

#endif
