/*
 * Core-internal declarations shared between the files of core/ (names with
 * the reel__ prefix).  Nothing outside core/ and the tests includes this.
 */
#ifndef REEL_PRIVATE_H
#define REEL_PRIVATE_H

#include <assert.h>
#include <stdbool.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer/layout.h"
#include "buffer/buffer.h"

/*
 * A process's handle on a buffer file.  `info` is the validated private
 * copy of the header, and every pointer below was computed from it, so they
 * are safe to use whatever another process writes into the mapping.
 */
struct reel_buffer {
	int fd;
	uint8_t *map;
	size_t map_size;
	struct reel_buffer_info info;
	struct reel__header_live *live;   /* inside map, header page */
	struct reel__slot *slot_table;    /* inside map */
	struct reel_index_entry *index;   /* inside map */
	struct reel_journal_entry *journal; /* inside map */
	uint8_t *slots;                   /* inside map: slot 0 */
	struct reel__stage_entry *stages; /* inside map: REEL__STAGE_ENTRIES of them */
	uint8_t *reserved;                /* private bitmap: slots already fallocated; NULL when read-only */
	bool on_tmpfs;                    /* fresh pages are cheap to fault in */
	uint8_t *populated;               /* private bitmap: slots already prefaulted; NULL when read-only */
	bool readonly;                    /* O_RDONLY fd, PROT_READ mapping: every writer refuses */
	int journal_error;                /* latched: the first failure to make the journal durable */
	int guard;                        /* the mapping's SIGBUS guard (base/guard.h); -1 none */
};

static inline struct reel__slot *reel__slot_entry(const struct reel_buffer *b, uint32_t slot)
{
	assert(slot < b->info.slot_count);
	return &b->slot_table[slot];
}

static inline uint8_t *reel__slot_data(const struct reel_buffer *b, uint32_t slot)
{
	assert(slot < b->info.slot_count);
	return b->slots + (uint64_t)slot * b->info.slot_stride;
}

/* CRC-32 of a header with its header_crc field taken as zero. */
uint32_t reel__header_crc(const struct reel__header *header);

/* Removes "<path>.tmp-<pid>" files of ours whose creating process is dead. */
void reel__sweep_temporaries(const char *path);

/* msync the pages that cover [addr, addr + len). */
int reel__msync_range(const struct reel_buffer *b, const void *addr, size_t len);

#endif
