/*
 * What the buffer's fault tests (fault-locks, fault-diskfull, fault-damage)
 * share: a real `reel open` started in the background and waited for, its
 * frames read through the client library, and frames packed into plain
 * bytes so that two runs can be compared byte for byte.
 */
#ifndef REEL_BUFFER_FAULTS_H
#define REEL_BUFFER_FAULTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buffer/buffer.h"

/* $REEL_BIN, the reel command under test. */
const char *bf_reel(void);

/*
 * `reel open VIDEO --session S --buffer B --no-stages --no-preview [extra...]`
 * (extra NULL-terminated, may be NULL) with stderr appended to log; waits
 * until the session answers.  Its pid, or -1 when it exited first (its exit
 * code in *ret_exit, may be NULL) or never became ready in 20 s.
 */
pid_t bf_open(const char *video, const char *session, const char *buffer, const char *log,
              const char *const *extra, int *ret_exit);

/* `reel stop S` and wait for the coordinator; its exit code (-1 when it had to be killed). */
int bf_stop(const char *session, pid_t pid);

/* Bytes of one frame packed: Y, then U, then V, rows without padding. */
size_t bf_frame_bytes(uint32_t width, uint32_t height);

/*
 * Read frames first..first+count-1 of a live session, settled, into out
 * (count * bf_frame_bytes); errors[i] (may be NULL) gets each read's result.
 * Returns how many were read, or a negative error when the session could
 * not be reached.
 */
int bf_read_frames(const char *session, uint64_t first, uint64_t count, uint8_t *out,
                   int *errors);

/*
 * The reference pictures of a live session whose buffer is at buffer: every
 * frame read settled and packed (malloc'ed, frames * frame_bytes), or NULL
 * when it has more than 512 frames or a read failed.  *ret_info gets the
 * buffer's geometry.
 */
uint8_t *bf_reference(const char *session, const char *buffer, struct reel_buffer_info *ret_info,
                      size_t *ret_frame_bytes);

/* Pack what slot `slot` of buffer holds, as bf_read_frames packs a frame. */
void bf_pack_slot(struct reel_buffer *buffer, uint32_t slot, uint8_t *out);

/* Copy a file byte for byte to a new path (0600); 0 or -errno. */
int bf_copy_file(const char *from, const char *to);

/* A small, fixed-seed random generator, so that a failing run can be repeated. */
uint64_t bf_rand(uint64_t *state);

#endif
