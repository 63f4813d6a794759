/*
 * An editor stage that misbehaves on every frame it edits, as
 * $REEL_ODD_STAGE says: "segv" faults (a real invalid write), "slow"
 * sleeps 40 ms first and then edits as reel-editor does.  For the fault
 * test that tells a work item crashing its stages from stages killed
 * from outside (fault-poison.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edit/ops-impl.h"
#include "reel/ops.h"
#include "stage/stage-main.h"

static int odd_edit(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata)
{
	const char *mode = getenv("REEL_ODD_STAGE");
	reel_frame_fn real = reel_op_impl(ctx->edit->op);

	if (mode && strcmp(mode, "segv") == 0) {
		/* An address no mapping has: the fault a bad pointer makes. */
		volatile uintptr_t bad = 16;

		*(volatile int *)bad = 1;
	}
	usleep(40000);
	return real ? real(ctx, frame, userdata) : -1;
}

static reel_frame_fn lookup(uint32_t op)
{
	return reel_op_impl(op) ? odd_edit : NULL;
}

int main(int argc, char **argv)
{
	return reel__stage_main(argc, argv, REEL_ROLE_EDITOR, "odd-stage", lookup);
}
