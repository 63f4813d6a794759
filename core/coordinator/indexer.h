/*
 * The background index scan (see indexer.c).
 */
#ifndef REEL_COORD_INDEXER_H
#define REEL_COORD_INDEXER_H

#include <stdint.h>

struct reel_buffer;
struct materialiser;
struct indexer;

/*
 * Start scanning the source at path into buffer's index (which must be
 * empty: reel_index_restart), telling mat as it grows.  The buffer and mat
 * must outlive the indexer.
 */
int indexer_start(const char *path, struct reel_buffer *buffer, struct materialiser *mat,
                  struct indexer **ret_indexer);
/*
 * 0 while it runs, 1 once the index is complete and durable, < 0 when the
 * scan failed (the error).  *ret_why, when not NULL, gets the reason.
 */
int indexer_state(struct indexer *ix, const char **ret_why);
/* Once complete: why the scan ended before the file did (reel_media_scan_note), "" if it did not. */
const char *indexer_note(struct indexer *ix);
/* Cancel (a partial index stays incomplete: the next open scans again) and join.  Accepts NULL. */
void indexer_stop(struct indexer *ix);

#endif
