/*
 * A stage written outside reel's tree, against the installed libreel:
 *
 *   cc -o invert-stage invert-stage.c $(pkg-config --cflags --libs reel)
 *   ./invert-stage --session clip
 *
 * It attaches to a live session as an effect worker, beside (or instead of)
 * reel-effects, and does the effect queue's `invert` work items: the
 * negative of limited-range video as the op table defines it (Y' = 251 - Y,
 * U' = 256 - U, V' = 256 - V, each clamped to 0..255).  An op it does not
 * know fails, and the session gives that item to another worker.
 *
 * A stage must compute an op exactly as reel defines it: frames that are
 * decoded later are brought up to date by the coordinator with reel's own
 * implementation, and both must agree.
 */
#include <stdio.h>
#include <string.h>

#include <reel/error.h>
#include <reel/ops.h>
#include <reel/stage.h>

static uint8_t clamp8(int v)
{
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static int invert(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata)
{
	(void)ctx;
	(void)userdata;
	for (int p = 0; p < 3; p++) {
		int white = p == 0 ? 251 : 256;
		for (uint32_t y = 0; y < frame->height[p]; y++) {
			uint8_t *row = frame->plane[p] + (size_t)y * frame->stride[p];
			for (uint32_t x = 0; x < frame->width[p]; x++)
				row[x] = clamp8(white - row[x]);
		}
	}
	return 0;
}

static reel_frame_fn lookup(uint32_t op)
{
	return op == REEL_OP_INVERT ? invert : NULL;
}

int main(int argc, char **argv)
{
	struct reel_stage *stage;
	int r;

	if (argc != 3 || strcmp(argv[1], "--session") != 0) {
		fprintf(stderr, "usage: %s --session NAME\n", argv[0]);
		return 2;
	}
	r = reel_stage_attach(argv[2], REEL_ROLE_EFFECT, &stage);
	if (r < 0) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], argv[2], reel_strerror(r));
		return r == REEL_E_NOSESSION || r == REEL_E_SESSION ? 2 : 1;
	}
	/* Until SIGTERM or SIGINT (the item in hand is finished first) or the session ends. */
	r = reel_stage_serve(stage, lookup);
	reel_stage_detach(stage);
	if (r < 0 && r != REEL_E_NOSESSION) {
		fprintf(stderr, "%s: %s\n", argv[0], reel_strerror(r));
		return 1;
	}
	return 0;
}
