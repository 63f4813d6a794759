/*
 * Hostile videos made byte by byte (craft-media.c), for fault-inputs.
 */
#ifndef REEL_CRAFT_MEDIA_H
#define REEL_CRAFT_MEDIA_H

#include <stddef.h>
#include <stdint.h>

/* The crafted Matroska track: CRAFT_SIZE x CRAFT_SIZE I420, uncompressed. */
#define CRAFT_SIZE 16
#define CRAFT_FRAME_BYTES (CRAFT_SIZE * CRAFT_SIZE * 3 / 2)

/* The luma every pixel of frame i has (chroma 128): a frame's identity in its pixels. */
uint8_t craft_luma(unsigned i);
void craft_frame(uint8_t *frame, unsigned i);

/*
 * A Matroska file of count frames, frame i at cluster time times[i] (in
 * units of timestamp_scale ns, any 64-bit value); frame `bad` (or none when
 * >= count) is cut to a quarter of its size.  malloc'ed, *ret_len bytes.
 */
uint8_t *craft_mkv(const uint64_t *times, unsigned count, unsigned bad, uint64_t timestamp_scale,
                   size_t *ret_len);

/* A Matroska file of `frames` one-byte frames, 256 to a laced block: about 1.2 bytes a frame. */
uint8_t *craft_mkv_tiny_frames(uint64_t frames, size_t *ret_len);

/* Rewrite an mp4's video sample tables in place so that it claims `claim` one-byte samples. */
int craft_mp4_claim(uint8_t *mp4, size_t len, uint32_t claim);

#endif
