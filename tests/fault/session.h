/*
 * A reel session as the fault tests drive it: `reel open` as a child
 * process, a client connected to it, edits sent through the client API,
 * every frame read back settled and hashed, so that a run under faults can
 * be compared with a run without them.  The approach of
 * tests/integration/test-stages.c, cut down to what the fault tests share;
 * every wait is bounded.
 */
#ifndef REEL_FAULT_SESSION_H
#define REEL_FAULT_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "reel/client.h"

struct fs_sess {
	char name[64];
	char buffer[4096];
	char log[4096];
	char clip[4096];
	pid_t pid;                 /* `reel open`, our child; 0 when not running */
	struct reel_client *c;     /* connected while it runs */
};

/* A deterministic edit: the fault-free run and the faulty one send the same list. */
struct fs_edit {
	uint32_t op;
	double params[4];
	int64_t first, last;
};

/* $REEL_BIN, or exit 77 when the test runs outside meson. */
const char *fs_reel_bin(void);
/*
 * Name the session and its files: buffer and log in dir, clip from
 * $REEL_TEST_CLIPS (exit 77 when missing).
 */
void fs_init(struct fs_sess *s, const char *dir, const char *clip_name);
/*
 * `reel open CLIP --session S --buffer B --verbose [extra...]` with its
 * output appended to the session's log; 0 once a client is connected, -1
 * (said on stderr, with the log's end) when it exited or never came up.
 */
int fs_open(struct fs_sess *s, const char *const *extra);
/* The end of the session's log on stderr: what led to a failure. */
void fs_show_log(const struct fs_sess *s);
/* Until no command is unfinished, bounded; 0, or -1 (said on stderr). */
int fs_wait_idle(struct fs_sess *s, int timeout_ms);
/* `reel stop S` and wait for the coordinator: its wait status, or -1. */
int fs_stop(struct fs_sess *s);
/* SIGKILL the coordinator and reap it; its wait status. */
int fs_kill(struct fs_sess *s);
/* The i-th edit of a fixed pseudo-random list over frames 0..frames-1 (picture edits only). */
void fs_edit_make(unsigned i, uint64_t frames, struct fs_edit *ret);
/* Send it; 0 with *ret_seq once acknowledged (journaled), else the error. */
int fs_send(struct fs_sess *s, const struct fs_edit *e, uint64_t *ret_seq);
/*
 * Read every frame settled and hash it (pictures and sound) into
 * hashes[0..frames); 0, or the first error (said on stderr).
 */
int fs_hash_frames(struct fs_sess *s, uint64_t *hashes, uint64_t frames);
/*
 * As a client of its own would (a connection of this process, closed
 * after): read frame settled, waiting up to timeout_ms; 0 or the error.
 */
int fs_read_settled(const char *session, uint64_t frame, int timeout_ms);
/* The session's frame count (0 when not connected). */
uint64_t fs_frames(struct fs_sess *s);
/* The stages of the session (pids from /proc, coordinator excluded); how many. */
size_t fs_stages(const struct fs_sess *s, pid_t *out, size_t max);
/* Wait status description for a message: "exit N" or "signal NAME". */
const char *fs_status_text(int status);

#endif

/*
 * Start a stage program of the build tree by hand (`reel open --no-stages`
 * sessions): folder/name next to $REEL_BIN's folder, e.g. "renderer",
 * "reel-effects"; its output appended to the session's log.  Its pid.
 */
pid_t fs_stage_spawn(const struct fs_sess *s, const char *folder, const char *name);
/*
 * The fault-free run: a fresh session of clip (a test clip's name, or a
 * path) in dir, every frame made
 * resident, edits 0..n-1 of fs_edit_make() sent and applied, every frame
 * hashed into hashes[0..frames).  0, or -1 (said on stderr).
 */
int fs_reference(const char *dir, const char *clip, unsigned seed, unsigned n, uint64_t *hashes,
                 uint64_t frames);
/* Frames whose hashes differ. */
unsigned fs_differ(const uint64_t *a, const uint64_t *b, uint64_t frames);
/*
 * The final check of a fault run: frames 0..frames-1 read settled and
 * compared with ref (the run without faults), said on stdout; the number
 * that differ, or 1 when they could not all be read.
 */
unsigned fs_frames_lost(struct fs_sess *s, const uint64_t *ref, uint64_t frames);
/*
 * A 10 s, 250-frame H.264 clip of size (e.g. "640x360") made with the
 * ffmpeg program (PATH) into dir, for faults that need the stages to work
 * longer per frame than the 160x120 test clips allow; its path (static
 * buffer), or NULL when ffmpeg is missing or failed.
 */
const char *fs_make_clip(const char *dir, const char *size);
/* As fs_init(), with a clip given by path. */
void fs_init_path(struct fs_sess *s, const char *dir, const char *clip_path);
