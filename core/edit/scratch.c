/*
 * Scratch memory for ops (see scratch.h).
 */
#include <stdlib.h>

#include "edit/scratch.h"

void *reel_scratch_get(struct reel_scratch *s, size_t size)
{
	size_t rounded;
	void *p;

	if (!s)
		return NULL;
	if (size <= s->size && s->data)
		return s->data;
	/* Grow with headroom, so that a frame a little larger does not reallocate again. */
	rounded = (size + size / 4 + 63) & ~(size_t)63;
	if (rounded < size)
		return NULL;
	p = aligned_alloc(64, rounded);
	if (!p)
		return NULL;
	free(s->data);
	s->data = p;
	s->size = rounded;
	return p;
}

void reel__scratch_fini(struct reel_scratch *s)
{
	if (!s)
		return;
	free(s->data);
	s->data = NULL;
	s->size = 0;
}
