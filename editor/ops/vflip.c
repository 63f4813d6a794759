/*
 * vflip: mirror the picture top-bottom: the rows of every plane in reverse order, in place.
 * The chroma planes are mirrored as they stand, without resampling: with an
 * odd width (or height), or with chroma sited on the left, the 4:2:0 chroma
 * grid is not symmetric about the picture's centre, so mirrored chroma can
 * sit up to one luma pixel from where an exact mirror would put it: the
 * price of a lossless mirror in place.
 */
#include <errno.h>

#include "editor-ops.h"
#include "flip.h"

int reel__editor_vflip(const struct reel_frame_ctx *ctx, struct reel_frame *frame, void *userdata)
{
	if (!frame)
		return -EINVAL;
	for (int p = 0; p < 3; p++)
		flip_plane(frame->plane[p], frame->stride[p], frame->width[p], frame->height[p], 0, 1);
	return 0;
}
