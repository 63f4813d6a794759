/*
 * Helpers of the bus fault tests (flood, malformed, users, cycles): a
 * session started with the real `reel open`, and counts of what a run may
 * leave behind (queues, fds, zombies).
 */
#ifndef REEL_FAULT_BUS_UTIL_H
#define REEL_FAULT_BUS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "reel/client.h"

/*
 * /dev/mqueue, mounted when it is not and we are root: the only place queue
 * names can be listed.  false when it cannot be had.
 */
bool bu_mqueue_listable(void);
/* Queues in /dev/mqueue of this user whose session part is session (any nonce). */
unsigned bu_queues_of(const char *session);
/* Open descriptors of this process. */
unsigned bu_fds(void);
/* Zombie children of this process. */
unsigned bu_zombies(void);
/* The path of the reel program ($REEL_BIN). */
const char *bu_reel(void);
/*
 * `reel open video --session session --no-preview`, with one effect worker
 * (and the editor and audio stages) or with --no-stages; its output appended
 * to log; 0 and *ret_pid, *ret_client once a client can
 * connect (within timeout_ms), -1 when it exited or did not come up.
 */
int bu_open(const char *video, const char *session, bool stages, const char *log,
            int timeout_ms, pid_t *ret_pid, struct reel_client **ret_client);

#endif
