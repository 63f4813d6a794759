/*
 * Idempotency keys: a client that timed out and sends its command again
 * sends the same key, and must get the first answer, not a second edit.
 * Every journaled command's key is kept here (filled from the journal at
 * start, so a retry across a coordinator restart is caught too), in an
 * open-addressing table: keys are random, so their low bits hash well.
 */
#include <errno.h>
#include <stdlib.h>

#include "coord-private.h"

static void put(struct reel_coord *c, uint64_t key, uint64_t seq)
{
	size_t mask = c->capkeys - 1;

	for (size_t i = (size_t)key & mask;; i = (i + 1) & mask) {
		if (c->keys[i].key == 0 || c->keys[i].key == key) {
			c->nkeys += c->keys[i].key == 0;
			c->keys[i].key = key;
			c->keys[i].seq = seq;
			return;
		}
	}
}

int coord_keys_add(struct reel_coord *c, uint64_t key, uint64_t seq)
{
	if (key == 0)
		return 0;
	/* At most half full, so that a miss ends quickly. */
	if ((c->nkeys + 1) * 2 > c->capkeys) {
		size_t old = c->capkeys, cap = old ? old * 2 : 256;
		__typeof__(c->keys) prev = c->keys;

		c->keys = calloc(cap, sizeof(*c->keys));
		if (!c->keys) {
			c->keys = prev;
			return -ENOMEM;
		}
		c->capkeys = cap;
		c->nkeys = 0;
		for (size_t i = 0; i < old; i++)
			if (prev[i].key)
				put(c, prev[i].key, prev[i].seq);
		free(prev);
	}
	put(c, key, seq);
	return 0;
}

uint64_t coord_keys_find(const struct reel_coord *c, uint64_t key)
{
	size_t mask = c->capkeys - 1;

	if (key == 0 || c->capkeys == 0)
		return 0;
	for (size_t i = (size_t)key & mask; c->keys[i].key; i = (i + 1) & mask)
		if (c->keys[i].key == key)
			return c->keys[i].seq;
	return 0;
}

void coord_keys_free(struct reel_coord *c)
{
	free(c->keys);
	c->keys = NULL;
	c->nkeys = c->capkeys = 0;
}
