/*
 * Encoding frames into a file with libav: the export's one place that
 * includes libav's encoding and muxing headers.
 */
#include "media/media-private.h"
