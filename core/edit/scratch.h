/*
 * Scratch memory for ops (struct reel_scratch of reel/stage.h): one block
 * that grows to the largest request and is kept between calls, so an op
 * that needs a copy of a plane does not allocate per frame.  Each thread
 * that applies ops owns its own.
 */
#ifndef REEL_EDIT_SCRATCH_H
#define REEL_EDIT_SCRATCH_H

#include <stddef.h>

#include "reel/stage.h"

struct reel_scratch {
	void *data;
	size_t size;
};

/* Free the block; the scratch can be used again afterwards.  Accepts NULL. */
void reel__scratch_fini(struct reel_scratch *scratch);

#endif
