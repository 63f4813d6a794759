/*
 * The stage table of the buffer file: who takes part in a session, their
 * figures, and a lock-free single-producer log ring per participant (see
 * struct reel__stage_entry in layout.h for who writes which field).
 *
 * Entry 0 is the coordinator's; it hands entries 1.. out to stages when
 * they say hello and takes them back when they are gone.  A stage logs into
 * its ring without ever waiting (a full ring drops the record and counts
 * it); the coordinator drains the rings into the session log.  Readers of
 * the table (`reel status`) get validated copies.
 */
#ifndef REEL_BUFFER_STAGETAB_H
#define REEL_BUFFER_STAGETAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer/layout.h"

struct reel_buffer;

#define REEL_STAGETAB_COORD 0

/* A validated copy of one entry. */
struct reel_stage_record {
	uint32_t pid;
	uint32_t role;
	uint64_t generation;
	int64_t attached_ns;
	uint64_t items_done, items_failed, frames_edited, frames_skipped;
	uint64_t busy_seq;
	int64_t busy_first, busy_last;
	uint64_t errors, dropped;
	int crash_signal;          /* the signal it crashed with (SIGSEGV...), 0 none */
	char last_error[REEL__LOG_TEXT];
};

/* One log record, validated and NUL-terminated. */
struct reel_log_line {
	int64_t time_ns;
	uint32_t level;
	uint32_t pid;
	char component[REEL__LOG_COMPONENT];
	char text[REEL__LOG_TEXT];
};

/* Copy entry index out; REEL_E_RANGE for an index outside the table. */
int reel_stagetab_read(const struct reel_buffer *buffer, unsigned index,
                       struct reel_stage_record *ret_record);

/* The coordinator: hand entry index to pid (its figures and ring start afresh), or take it back. */
int reel_stagetab_assign(struct reel_buffer *buffer, unsigned index, uint32_t pid, uint32_t role,
                         uint64_t generation, int64_t now_ns);
void reel_stagetab_release(struct reel_buffer *buffer, unsigned index);

/* The entry's owner: its entry, to update its figures in place; NULL for a bad index. */
struct reel__stage_entry *reel_stagetab_entry(struct reel_buffer *buffer, unsigned index);

/*
 * The entry's owner: add a record to its ring (never waits: a full ring
 * drops it and counts it); an error record also becomes last_error.
 */
void reel_stagetab_log(struct reel__stage_entry *entry, int level, const char *component,
                       const char *text);

/*
 * The coordinator: hand every record waiting in entry index's ring to fn,
 * in order, and free their room.  A ring whose indices make no sense is
 * skipped to its head (the records are lost, counted in *ret_lost).
 * Returns how many records were handed over.
 */
size_t reel_stagetab_drain(struct reel_buffer *buffer, unsigned index,
                           void (*fn)(void *userdata, const struct reel_log_line *line),
                           void *userdata, uint64_t *ret_lost);

#endif
