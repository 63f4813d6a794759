/*
 * Hostile videos made byte by byte, for the damaged-input fault test: what
 * no encoder writes on purpose, but a file can say.
 *
 * Matroska is written with every element size in the 8-byte form (legal
 * EBML, simple to write) and one video track of uncompressed 16x16 I420
 * ("V_UNCOMPRESSED", ColourSpace "I420"), so that each frame's pixels are
 * known exactly and a damaged frame is one whose size is wrong.
 */
#include "craft-media.h"

#include <stdlib.h>
#include <string.h>

struct out {
	uint8_t *data;
	size_t len, cap;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->len + n > o->cap) {
		size_t cap = (o->len + n) * 2;
		uint8_t *d = realloc(o->data, cap);
		if (!d)
			abort();
		o->data = d;
		o->cap = cap;
	}
	memcpy(o->data + o->len, p, n);
	o->len += n;
}

static void put_id(struct out *o, uint32_t id)
{
	uint8_t b[4];
	int n = id > 0xffffff ? 4 : id > 0xffff ? 3 : id > 0xff ? 2 : 1;

	for (int i = 0; i < n; i++)
		b[i] = (uint8_t)(id >> (8 * (n - 1 - i)));
	put(o, b, (size_t)n);
}

static void put_size8(struct out *o, uint64_t size)
{
	uint8_t b[8] = { 0x01 };

	for (int i = 1; i < 8; i++)
		b[i] = (uint8_t)(size >> (8 * (7 - i)));
	put(o, b, 8);
}

/* Open a master element; returns where its size goes, fixed by end(). */
static size_t begin(struct out *o, uint32_t id)
{
	size_t at;

	put_id(o, id);
	at = o->len;
	put_size8(o, 0);
	return at;
}

static void end(struct out *o, size_t at)
{
	struct out fix = { o->data + at, 0, 8 };

	put_size8(&fix, o->len - at - 8);
}

static void put_uint(struct out *o, uint32_t id, uint64_t v)
{
	uint8_t b[8];

	put_id(o, id);
	put_size8(o, 8);
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * (7 - i)));
	put(o, b, 8);
}

static void put_bytes(struct out *o, uint32_t id, const void *p, size_t n)
{
	put_id(o, id);
	put_size8(o, n);
	put(o, p, n);
}

static void put_str(struct out *o, uint32_t id, const char *s)
{
	put_bytes(o, id, s, strlen(s));
}

static void header(struct out *o, uint64_t timestamp_scale)
{
	size_t ebml = begin(o, 0x1A45DFA3), info, tracks, entry, video;

	put_uint(o, 0x4286, 1);
	put_uint(o, 0x42F7, 1);
	put_uint(o, 0x42F2, 4);
	put_uint(o, 0x42F3, 8);
	put_str(o, 0x4282, "matroska");
	put_uint(o, 0x4287, 4);
	put_uint(o, 0x4285, 2);
	end(o, ebml);
	put_id(o, 0x18538067);           /* Segment: unknown size, runs to the end */
	put(o, (const uint8_t[]){ 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 8);
	info = begin(o, 0x1549A966);
	put_uint(o, 0x2AD7B1, timestamp_scale);
	put_str(o, 0x4D80, "reel-fault");
	put_str(o, 0x5741, "reel-fault");
	end(o, info);
	tracks = begin(o, 0x1654AE6B);
	entry = begin(o, 0xAE);
	put_uint(o, 0xD7, 1);
	put_uint(o, 0x73C5, 1);
	put_uint(o, 0x83, 1);
	put_str(o, 0x86, "V_UNCOMPRESSED");
	video = begin(o, 0xE0);
	put_uint(o, 0xB0, CRAFT_SIZE);
	put_uint(o, 0xBA, CRAFT_SIZE);
	put_bytes(o, 0x2EB524, "I420", 4);
	end(o, video);
	end(o, entry);
	end(o, tracks);
}

/* A cluster at time t holding one SimpleBlock of n frames of len bytes each (fixed lacing when n > 1). */
static void cluster(struct out *o, uint64_t t, const uint8_t *frame, size_t len, unsigned n)
{
	size_t c = begin(o, 0x1F43B675), block;
	uint8_t head[5] = { 0x81, 0, 0, 0x80, 0 };

	put_uint(o, 0xE7, t);
	block = begin(o, 0xA3);
	if (n > 1) {
		head[3] |= 0x04;              /* fixed-size lacing */
		head[4] = (uint8_t)(n - 1);
		put(o, head, 5);
	} else {
		put(o, head, 4);
	}
	for (unsigned i = 0; i < n; i++)
		put(o, frame, len);
	end(o, block);
	end(o, c);
}

void craft_frame(uint8_t *frame, unsigned i)
{
	memset(frame, (int)craft_luma(i), CRAFT_SIZE * CRAFT_SIZE);
	memset(frame + CRAFT_SIZE * CRAFT_SIZE, 128, CRAFT_FRAME_BYTES - CRAFT_SIZE * CRAFT_SIZE);
}

uint8_t craft_luma(unsigned i)
{
	return (uint8_t)(32 + (i * 8) % 192);
}

uint8_t *craft_mkv(const uint64_t *times, unsigned count, unsigned bad, uint64_t timestamp_scale,
                   size_t *ret_len)
{
	struct out o = { 0 };
	uint8_t frame[CRAFT_FRAME_BYTES];

	header(&o, timestamp_scale);
	for (unsigned i = 0; i < count; i++) {
		craft_frame(frame, i);
		/* The damaged frame is cut short: the raw decoder refuses a frame of the wrong size. */
		cluster(&o, times[i], frame, i == bad ? CRAFT_FRAME_BYTES / 4 : CRAFT_FRAME_BYTES, 1);
	}
	*ret_len = o.len;
	return o.data;
}

uint8_t *craft_mkv_tiny_frames(uint64_t frames, size_t *ret_len)
{
	struct out o = { 0 };
	uint8_t one = 0x10;

	header(&o, 1000000);
	/* 256 frames of one byte a block: about 1.2 bytes of file a frame. */
	for (uint64_t done = 0, t = 0; done < frames; done += 256, t += 256 * 40)
		cluster(&o, t, &one, 1, 256);
	*ret_len = o.len;
	return o.data;
}

/* ---- mp4: rewrite the video track's sample tables in place ---- */

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void walk(uint8_t *d, size_t off, size_t end_off, uint32_t claim, int *video)
{
	while (off + 8 <= end_off) {
		uint32_t size = rd32(d + off);
		const uint8_t *t = d + off + 4;

		if (size < 8 || size > end_off - off)
			return;
		if (!memcmp(t, "hdlr", 4) && size >= 24)
			*video = !memcmp(d + off + 16, "vide", 4);
		if (*video && !memcmp(t, "stts", 4) && size >= 24) {
			wr32(d + off + 12, 1);      /* one run: claim samples of 512 ticks */
			wr32(d + off + 16, claim);
			wr32(d + off + 20, 512);
		} else if (*video && !memcmp(t, "stsz", 4) && size >= 20) {
			wr32(d + off + 12, 1);      /* every sample one byte */
			wr32(d + off + 16, claim);
		} else if (*video && !memcmp(t, "stsc", 4) && size >= 28) {
			wr32(d + off + 12, 1);      /* all of them in the first chunk */
			wr32(d + off + 16, 1);
			wr32(d + off + 20, claim);
			wr32(d + off + 24, 1);
		} else if (*video && !memcmp(t, "stss", 4)) {
			memcpy(d + off + 4, "free", 4);   /* no sync table: every sample a keyframe */
		}
		if (!memcmp(t, "moov", 4) || !memcmp(t, "trak", 4) || !memcmp(t, "mdia", 4) ||
		    !memcmp(t, "minf", 4) || !memcmp(t, "stbl", 4))
			walk(d, off + 8, off + size, claim, video);
		off += size;
	}
}

int craft_mp4_claim(uint8_t *mp4, size_t len, uint32_t claim)
{
	int video = 0;

	walk(mp4, 0, len, claim, &video);
	return 0;
}
