/*
 * The background index scan.  A source whose container lists its samples
 * (reel_media_sample_table) gets its buffer made at once with the exact
 * frame count and an empty index; this thread then demuxes the file with a
 * demuxer of its own and publishes the entries as they become final
 * (reel_media_scan_progressive), and the materialiser serves every frame
 * whose entry, and its successor's, is published.  The first frame thus
 * waits for the first packets only, not for a scan of the whole file.
 *
 * Any other container with a declared duration gets its buffer made for
 * an upper bound of the count (reel_media_count_bound), and this scan
 * counts the frames: reel_buffer_frames() says how many once it commits.
 *
 * The entries published never change: the scan hands out an entry only
 * once no packet still to come can sort before it, so a frame number names
 * the same picture before and after the scan ends.  At the end the count
 * is checked against the sample table's and the index committed (durable,
 * CRC-sealed); a scan that fails leaves the index incomplete, the frames
 * past it in ERROR, and the next open scans again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/buffer.h"
#include "indexer.h"
#include "materialise.h"
#include "media/media.h"
#include "reel/error.h"

struct indexer {
	char path[REEL_SOURCE_PATH_MAX];
	struct reel_buffer *buffer;
	struct materialiser *mat;
	pthread_t thread;
	/* Set by the owner to cancel; read by the scan's progress callback. */
	int stop;
	/* Written by the thread before it ends: 1 done, < 0 failed. */
	int state;
	/*
	 * The thread's own count of what it published: where the next entries
	 * go.  Never taken back from the shared header, which anyone mapping
	 * the file could have changed (reel_index_publish refuses a header
	 * that disagrees, and the scan then fails).
	 */
	uint64_t published;
	char why[256];
	char note[320];   /* the scan's note (it ended where the timestamps restart), "" if none */
};

static int publish(void *userdata, const struct reel_index_entry *entries, uint64_t n)
{
	struct indexer *ix = userdata;
	int r = reel_index_publish(ix->buffer, ix->published, entries, n);

	if (r == 0) {
		ix->published += n;
		materialiser_index_grew(ix->mat, 0);
	}
	return r;
}

/* The file at the path must still be the one the buffer was made from (a save by rename may have replaced it). */
static int same_source(struct reel_media *media, const struct reel_buffer *buffer)
{
	const struct reel_source_id *want = &reel_buffer_info(buffer)->source;
	struct reel_source_id id;
	int r = reel_media_source_id(media, &id);

	if (r < 0)
		return r;
	return reel_media_same_source(&id, want) ? 0 : REEL_E_SOURCE;
}

static int cancelled(void *userdata, uint64_t done, uint64_t total)
{
	struct indexer *ix = userdata;

	(void)done;
	(void)total;
	return __atomic_load_n(&ix->stop, __ATOMIC_ACQUIRE);
}

static void *indexer_main(void *arg)
{
	struct indexer *ix = arg;
	const struct reel_media_scan_sink sink = { publish, ix };
	struct reel_media *media = NULL;
	uint64_t count = 0;
	int r;

	/* The scan reads the video's packets alone: no sound demuxer parses the file beside it. */
	r = reel_media_open_scan(ix->path, &media, ix->why, sizeof(ix->why));
	if (r == 0)
		r = same_source(media, ix->buffer);
	if (r == 0) {
		reel_media_set_progress(media, cancelled, ix);
		r = reel_media_scan_progressive(media, &sink, &count);
		if (r == REEL_E_RANGE && reel_buffer_frames(ix->buffer) == 0)
			snprintf(ix->why, sizeof(ix->why), "the file has more than the %llu frames its "
			         "duration allows: remove the buffer (reel rm) and open it again",
			         (unsigned long long)reel_buffer_info(ix->buffer)->frame_count);
		else if (r < 0 && reel_media_why(media)[0])
			snprintf(ix->why, sizeof(ix->why), "%s", reel_media_why(media));
	}
	if (r == 0)
		snprintf(ix->note, sizeof(ix->note), "%s", reel_media_scan_note(media));
	/* Counting, the scan gives the count; otherwise it must agree with the sample table. */
	if (r == 0 && reel_buffer_frames(ix->buffer) != 0 &&
	    count != reel_buffer_info(ix->buffer)->frame_count) {
		snprintf(ix->why, sizeof(ix->why),
		         "the scan found %llu frames where the sample table lists %llu",
		         (unsigned long long)count,
		         (unsigned long long)reel_buffer_info(ix->buffer)->frame_count);
		r = REEL_E_INDEX;
	}
	if (r == 0 && reel_index_ready(ix->buffer) != ix->published)
		r = REEL_E_INDEX;   /* the shared count was changed under us */
	if (r == 0)
		r = reel_index_commit(ix->buffer);
	reel_media_close(media);
	/*
	 * Cancelled by the owner (the session stops): nothing failed, and the
	 * frames still waiting are the stop's to answer, not ERROR.
	 */
	if (r == -ECANCELED && __atomic_load_n(&ix->stop, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&ix->state, r, __ATOMIC_RELEASE);
		return NULL;
	}
	if (r < 0 && !ix->why[0])
		snprintf(ix->why, sizeof(ix->why), "%s", reel_strerror(r));
	/* Readers waiting for the index give up; the next open scans the whole file first. */
	if (r < 0)
		reel_index_set_failed(ix->buffer, r);
	__atomic_store_n(&ix->state, r < 0 ? r : 1, __ATOMIC_RELEASE);
	/* Frames past what was published can no longer come: the waiting ones fail. */
	materialiser_index_grew(ix->mat, r < 0 ? r : 0);
	return NULL;
}

int indexer_start(const char *path, struct reel_buffer *buffer, struct materialiser *mat,
                  struct indexer **ret_indexer)
{
	struct indexer *ix;
	int r;

	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	if ((size_t)snprintf(ix->path, sizeof(ix->path), "%s", path) >= sizeof(ix->path)) {
		free(ix);
		return -ENAMETOOLONG;
	}
	ix->buffer = buffer;
	ix->mat = mat;
	r = pthread_create(&ix->thread, NULL, indexer_main, ix);
	if (r != 0) {
		free(ix);
		return -r;
	}
	*ret_indexer = ix;
	return 0;
}

int indexer_state(struct indexer *ix, const char **ret_why)
{
	int state = __atomic_load_n(&ix->state, __ATOMIC_ACQUIRE);

	if (ret_why)
		*ret_why = state < 0 ? ix->why : "";
	return state;
}

const char *indexer_note(struct indexer *ix)
{
	return __atomic_load_n(&ix->state, __ATOMIC_ACQUIRE) > 0 ? ix->note : "";
}

void indexer_stop(struct indexer *ix)
{
	if (!ix)
		return;
	__atomic_store_n(&ix->stop, 1, __ATOMIC_RELEASE);
	pthread_join(ix->thread, NULL);
	free(ix);
}
