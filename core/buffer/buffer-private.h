/*
 * Core-internal declarations shared between the files of core/ (names with
 * the reel__ prefix).  Nothing outside core/ and the tests includes this.
 */
#ifndef REEL_PRIVATE_H
#define REEL_PRIVATE_H

#include <assert.h>
#include <stdbool.h>
#include <sys/types.h>
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
	bool on_tmpfs;                    /* the pictures' fresh pages are cheap to fault in */
	/*
	 * The file the slots' pages come from: fd itself (at slots_offset), or
	 * a pictures file in RAM mapped over the slot section (at 0, pictures.c).
	 */
	int pictures_fd;
	int pictures_guard;               /* the pictures mapping's own SIGBUS guard; -1 none */
	pid_t pictures_owner;             /* the coordinator that made the pictures file: removes it at close */
	char pictures_path[REEL__PICTURES_PATH];
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

/* Where slot's bytes start in pictures_fd. */
static inline uint64_t reel__slot_file_offset(const struct reel_buffer *b, uint32_t slot)
{
	return (b->pictures_fd == b->fd ? b->info.slots_offset : 0) + (uint64_t)slot * b->info.slot_stride;
}

static inline struct reel__pictures_live *reel__pictures_record(const struct reel_buffer *b)
{
	return (struct reel__pictures_live *)(b->map + REEL__PICTURES_OFFSET);
}

/*
 * Maps the pictures file of the running coordinator over the slot section,
 * when the header says they live elsewhere.  A writer must get them while a
 * coordinator runs (REEL_E_PICTURES); a reader takes them when it can.
 */
int reel__pictures_attach(struct reel_buffer *b);
/* Close and, for the coordinator that made it, remove the pictures file. */
void reel__pictures_detach(struct reel_buffer *b);

/* CRC-32 of a header with its header_crc field taken as zero. */
uint32_t reel__header_crc(const struct reel__header *header);

/* Removes "<path>.tmp-<pid>" files of ours whose creating process is dead. */
void reel__sweep_temporaries(const char *path);

/* msync the pages that cover [addr, addr + len). */
int reel__msync_range(const struct reel_buffer *b, const void *addr, size_t len);

#endif
