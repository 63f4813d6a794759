/*
 * Unit tests of the buffer file (core/buffer/buffer.c) and the frame index
 * (core/buffer/index.c): real files in a private temp folder, damaged on disk with
 * pwrite/ftruncate and reopened, so that every validation path is reached
 * the way a hostile or broken file would reach it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>

#include "buffer/layout.h"
#include "buffer/buffer-private.h"
#include "buffer/buffer.h"
#include "reel/error.h"
#include "buffer/journal.h"
#include "reel/ops.h"
#include "buffer/slot.h"
#include "testutil.h"

struct fixture {
	char *dir;
	char path[4096];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->dir = tu_tempdir();
	snprintf(f->path, sizeof(f->path), "%s/buffer.reel", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* A small buffer with odd sizes, so that chroma rounding and padding show. */
static struct reel_buffer_params small_params(void)
{
	struct reel_buffer_params p;

	memset(&p, 0, sizeof(p));
	p.width = 101;
	p.height = 75;
	p.frame_count = 10;
	p.slot_count = 4;
	p.journal_capacity = 16;
	p.frame_rate = (struct reel_rational){ 30000, 1001 };
	p.time_base = (struct reel_rational){ 1, 90000 };
	p.sample_rate = 48000;
	p.channels = 2;
	p.audio_capacity = 1602;
	p.source.size = 123456789;
	p.source.mtime_ns = 1700000000123456789LL;
	for (int i = 0; i < 32; i++)
		p.source.hash[i] = (uint8_t)(i * 7 + 1);
	snprintf(p.source.path, sizeof(p.source.path), "/videos/some clip.mp4");
	return p;
}

static void create_small(const char *path)
{
	struct reel_buffer_params p = small_params();
	struct reel_buffer *b = NULL;

	assert_int_equal(reel_buffer_create(path, &p, &b), 0);
	reel_buffer_close(b);
}

static uint64_t file_blocks(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/* Writes len bytes at offset into the file on disk, as a hostile process would. */
static void damage(const char *path, uint64_t offset, const void *bytes, size_t len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, len, (off_t)offset), (ssize_t)len);
	close(fd);
}

static void damage_u32(const char *path, size_t offset, uint32_t v)
{
	damage(path, offset, &v, sizeof(v));
}

static void damage_u64(const char *path, size_t offset, uint64_t v)
{
	damage(path, offset, &v, sizeof(v));
}

static struct reel__header read_header(const char *path)
{
	struct reel__header h;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	close(fd);
	return h;
}

static void expect_open_fails(const char *path, int code)
{
	struct reel_buffer *b = (struct reel_buffer *)0x1;
	int r = reel_buffer_open(path, &b);

	if (r != code)
		fail_msg("open gave %d (%s), expected %d (%s)", r, reel_strerror(r), code,
		         reel_strerror(code));
	/* ret_* is never written on failure */
	assert_ptr_equal(b, (struct reel_buffer *)0x1);
}

static void test_buffer_create_open_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *b = NULL, *b2 = NULL;
	struct reel_buffer_info created, opened;
	struct stat st;

	assert_int_equal(reel_buffer_create(f->path, &p, &b), 0);
	created = *reel_buffer_info(b);
	reel_buffer_close(b);

	assert_int_equal(reel_buffer_open(f->path, &b2), 0);
	opened = *reel_buffer_info(b2);

	/* What the caller asked for comes back. */
	assert_int_equal(opened.width, p.width);
	assert_int_equal(opened.height, p.height);
	assert_int_equal(opened.pix_fmt, REEL_PIX_YUV420P);
	assert_int_equal(opened.frame_count, p.frame_count);
	assert_int_equal(opened.slot_count, p.slot_count);
	assert_int_equal(opened.journal_capacity, p.journal_capacity);
	assert_int_equal(opened.frame_rate.num, p.frame_rate.num);
	assert_int_equal(opened.frame_rate.den, p.frame_rate.den);
	assert_int_equal(opened.time_base.num, p.time_base.num);
	assert_int_equal(opened.time_base.den, p.time_base.den);
	assert_int_equal(opened.sample_rate, p.sample_rate);
	assert_int_equal(opened.channels, p.channels);
	assert_int_equal(opened.sample_fmt, REEL_SAMPLE_F32);
	assert_int_equal(opened.audio_capacity, p.audio_capacity);
	assert_int_equal(opened.source.size, p.source.size);
	assert_true(opened.source.mtime_ns == p.source.mtime_ns);
	assert_memory_equal(opened.source.hash, p.source.hash, sizeof(p.source.hash));
	assert_string_equal(opened.source.path, p.source.path);
	assert_int_equal(opened.version, REEL__FORMAT_VERSION);

	/* Every field, layout included, is the same after a reopen. */
	assert_int_equal(opened.page_size, created.page_size);
	assert_int_equal(opened.file_size, created.file_size);
	assert_int_equal(opened.index_offset, created.index_offset);
	assert_int_equal(opened.index_size, created.index_size);
	assert_int_equal(opened.journal_offset, created.journal_offset);
	assert_int_equal(opened.journal_size, created.journal_size);
	assert_int_equal(opened.slot_table_offset, created.slot_table_offset);
	assert_int_equal(opened.slot_table_size, created.slot_table_size);
	assert_int_equal(opened.slots_offset, created.slots_offset);
	assert_int_equal(opened.slots_size, created.slots_size);
	assert_int_equal(opened.slot_stride, created.slot_stride);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(opened.plane_stride[i], created.plane_stride[i]);
		assert_int_equal(opened.plane_offset[i], created.plane_offset[i]);
	}
	assert_int_equal(opened.audio_offset, created.audio_offset);
	assert_memory_equal(&opened, &created, sizeof(opened));

	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, opened.file_size);

	/* A new buffer has no coordinator yet and generation 0. */
	assert_int_equal(reel_buffer_coordinator_pid(b2), 0);
	assert_int_equal(reel_buffer_generation(b2), 0);
	assert_false(reel_index_complete(b2));
	reel_buffer_close(b2);
}

static void test_buffer_slot_size_matches_create(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *b = NULL;
	uint64_t predicted = reel_buffer_slot_size(&p);

	assert_int_equal(reel_buffer_create(f->path, &p, &b), 0);
	assert_int_not_equal(predicted, 0);
	assert_int_equal(predicted, reel_buffer_info(b)->slot_stride);
	reel_buffer_close(b);

	p.width = 0;
	assert_int_equal(reel_buffer_slot_size(&p), 0);
	p = small_params();
	p.channels = REEL_MAX_CHANNELS + 1;
	assert_int_equal(reel_buffer_slot_size(&p), 0);
	assert_int_equal(reel_buffer_slot_size(NULL), 0);
}

static void test_buffer_create_without_audio(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *b = NULL;
	struct reel_frame fr;

	p.sample_rate = 0;
	p.channels = 0;
	p.audio_capacity = 0;
	assert_int_equal(reel_buffer_create(f->path, &p, &b), 0);
	reel_buffer_close(b);
	b = NULL;
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	assert_int_equal(reel_buffer_info(b)->sample_fmt, REEL_SAMPLE_NONE);
	assert_int_equal(reel_buffer_frame(b, 0, &fr), 0);
	assert_null(fr.audio);
	assert_int_equal(fr.channels, 0);
	reel_buffer_close(b);
}

static void test_buffer_create_refuses_existing(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *b = (struct reel_buffer *)0x1;
	const char text[] = "precious data";
	char back[sizeof(text) + 16] = { 0 };
	int fd;

	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text)), (ssize_t)sizeof(text));
	close(fd);

	assert_int_equal(reel_buffer_create(f->path, &p, &b), -EEXIST);
	assert_ptr_equal(b, (struct reel_buffer *)0x1);

	/* Left exactly as it was. */
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, back, sizeof(back)), (ssize_t)sizeof(text));
	close(fd);
	assert_memory_equal(back, text, sizeof(text));
}

static void test_buffer_create_mode_0600(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	mode_t old = umask(0);

	create_small(f->path);
	umask(old);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_buffer_create_bad_params_leave_nothing(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p;
	struct reel_buffer *b = (struct reel_buffer *)0x1;

	p = small_params();
	p.width = 0;
	assert_int_equal(reel_buffer_create(f->path, &p, &b), REEL_E_GEOMETRY);
	p = small_params();
	p.height = REEL_MAX_DIMENSION + 1;
	assert_int_equal(reel_buffer_create(f->path, &p, &b), REEL_E_GEOMETRY);
	p = small_params();
	p.slot_count = 11;
	assert_int_equal(reel_buffer_create(f->path, &p, &b), REEL_E_SLOTCOUNT);
	p = small_params();
	p.slot_count = 0;
	assert_int_equal(reel_buffer_create(f->path, &p, &b), REEL_E_SLOTCOUNT);
	p = small_params();
	p.channels = REEL_MAX_CHANNELS + 1;
	assert_int_equal(reel_buffer_create(f->path, &p, &b), REEL_E_GEOMETRY);
	p = small_params();
	p.frame_count = 0;
	p.slot_count = 0;
	assert_int_equal(reel_buffer_create(f->path, &p, &b), REEL_E_HEADER);
	p = small_params();
	p.frame_count = REEL__MAX_FRAMES + 1;
	assert_int_equal(reel_buffer_create(f->path, &p, &b), REEL_E_TOOLARGE);
	p = small_params();
	p.frame_rate.den = 0;
	assert_int_equal(reel_buffer_create(f->path, &p, &b), REEL_E_HEADER);
	p = small_params();
	memset(p.source.path, 'x', sizeof(p.source.path));
	assert_int_equal(reel_buffer_create(f->path, &p, &b), REEL_E_HEADER);
	assert_ptr_equal(b, (struct reel_buffer *)0x1);
	assert_int_equal(access(f->path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_buffer_create_failure_after_open_unlinks(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *b = (struct reel_buffer *)0x1;
	int r;

	/*
	 * Valid by every limit, but about 1.7 EB: the file is opened, then
	 * ftruncate (EFBIG) or mmap (ENOMEM) fails.  Nothing may stay behind.
	 */
	p.width = REEL_MAX_DIMENSION;
	p.height = REEL_MAX_DIMENSION;
	p.frame_count = UINT32_MAX;
	p.slot_count = UINT32_MAX;
	r = reel_buffer_create(f->path, &p, &b);
	assert_true(r < 0);
	assert_ptr_equal(b, (struct reel_buffer *)0x1);
	assert_int_equal(access(f->path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_buffer_open_missing_file(void **state)
{
	struct fixture *f = *state;

	expect_open_fails(f->path, -ENOENT);
}

static void test_buffer_open_bad_magic(void **state)
{
	struct fixture *f = *state;

	create_small(f->path);
	damage(f->path, 0, "REELBUG", 8);
	expect_open_fails(f->path, REEL_E_BADMAGIC);
}

static void test_buffer_open_random_bytes(void **state)
{
	struct fixture *f = *state;
	uint8_t bytes[65536];
	int fd;

	/* Deterministic noise: a file that is not ours, whatever its size. */
	srand(12345);
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)rand();
	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, sizeof(bytes)), (ssize_t)sizeof(bytes));
	close(fd);
	expect_open_fails(f->path, REEL_E_BADMAGIC);
}

static void test_buffer_open_empty_file(void **state)
{
	struct fixture *f = *state;
	int fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	close(fd);
	/* Not even the magic is there: it is not a reel file, truncated or not. */
	expect_open_fails(f->path, REEL_E_BADMAGIC);
}

static void test_buffer_open_shorter_than_header_page(void **state)
{
	struct fixture *f = *state;

	create_small(f->path);
	/* The magic is there, the rest of the header page is not. */
	assert_int_equal(truncate(f->path, 1000), 0);
	expect_open_fails(f->path, REEL_E_TRUNCATED);
}

static void test_buffer_open_other_version(void **state)
{
	struct fixture *f = *state;

	create_small(f->path);
	damage_u32(f->path, offsetof(struct reel__header, version), REEL__FORMAT_VERSION + 1);
	expect_open_fails(f->path, REEL_E_VERSION);
}

static void test_buffer_open_other_byte_order(void **state)
{
	struct fixture *f = *state;

	create_small(f->path);
	damage_u32(f->path, offsetof(struct reel__header, byte_order),
	           __builtin_bswap32(REEL__BYTE_ORDER));
	expect_open_fails(f->path, REEL_E_BYTEORDER);
}

static void test_buffer_open_truncated(void **state)
{
	struct fixture *f = *state;
	struct reel__header h;

	create_small(f->path);
	h = read_header(f->path);
	assert_int_equal(truncate(f->path, (off_t)(h.file_size - 4096)), 0);
	expect_open_fails(f->path, REEL_E_TRUNCATED);
}

static void test_buffer_open_bad_header_size(void **state)
{
	struct fixture *f = *state;

	create_small(f->path);
	damage_u32(f->path, offsetof(struct reel__header, header_size), 8192);
	expect_open_fails(f->path, REEL_E_HEADER);
}

static void test_buffer_open_section_outside(void **state)
{
	struct fixture *f = *state;
	struct reel__header h;

	create_small(f->path);
	h = read_header(f->path);
	/* Page-aligned and with its size intact, but past the end of the file. */
	damage_u64(f->path, offsetof(struct reel__header, journal_offset), h.file_size);
	expect_open_fails(f->path, REEL_E_SECTION);
}

static void test_buffer_open_section_overlap(void **state)
{
	struct fixture *f = *state;
	struct reel__header h;

	create_small(f->path);
	h = read_header(f->path);
	damage_u64(f->path, offsetof(struct reel__header, journal_offset), h.index_offset);
	expect_open_fails(f->path, REEL_E_SECTION);
}

static void test_buffer_open_section_misaligned(void **state)
{
	struct fixture *f = *state;
	struct reel__header h;

	create_small(f->path);
	h = read_header(f->path);
	damage_u64(f->path, offsetof(struct reel__header, slot_table_offset), h.slot_table_offset + 64);
	expect_open_fails(f->path, REEL_E_SECTION);
}

static void test_buffer_open_section_too_small(void **state)
{
	struct fixture *f = *state;

	create_small(f->path);
	/* 10 frames need 320 bytes of index. */
	damage_u64(f->path, offsetof(struct reel__header, index_size), 0);
	expect_open_fails(f->path, REEL_E_SECTION);
}

static void test_buffer_open_geometry_zero(void **state)
{
	struct fixture *f = *state;

	create_small(f->path);
	damage_u32(f->path, offsetof(struct reel__header, width), 0);
	expect_open_fails(f->path, REEL_E_GEOMETRY);
}

static void test_buffer_open_geometry_too_large(void **state)
{
	struct fixture *f = *state;

	create_small(f->path);
	damage_u32(f->path, offsetof(struct reel__header, height), REEL_MAX_DIMENSION + 1);
	expect_open_fails(f->path, REEL_E_GEOMETRY);
}

static void test_buffer_open_bad_formats(void **state)
{
	struct fixture *f = *state;

	create_small(f->path);
	damage_u32(f->path, offsetof(struct reel__header, pix_fmt), 99);
	expect_open_fails(f->path, REEL_E_GEOMETRY);

	assert_int_equal(unlink(f->path), 0);
	create_small(f->path);
	damage_u32(f->path, offsetof(struct reel__header, channels), REEL_MAX_CHANNELS + 1);
	expect_open_fails(f->path, REEL_E_GEOMETRY);

	assert_int_equal(unlink(f->path), 0);
	create_small(f->path);
	damage_u32(f->path, offsetof(struct reel__header, sample_fmt), REEL_SAMPLE_NONE);
	/* audio fields set while the format says "no audio" */
	expect_open_fails(f->path, REEL_E_GEOMETRY);
}

static void test_buffer_open_bad_rational(void **state)
{
	struct fixture *f = *state;

	create_small(f->path);
	damage_u32(f->path, offsetof(struct reel__header, time_base_den), 0);
	expect_open_fails(f->path, REEL_E_HEADER);
}

static void test_buffer_open_slot_count_zero(void **state)
{
	struct fixture *f = *state;

	create_small(f->path);
	damage_u32(f->path, offsetof(struct reel__header, slot_count), 0);
	expect_open_fails(f->path, REEL_E_SLOTCOUNT);
}

static void test_buffer_open_slot_count_above_frames(void **state)
{
	struct fixture *f = *state;

	create_small(f->path);
	damage_u32(f->path, offsetof(struct reel__header, slot_count), 11);
	expect_open_fails(f->path, REEL_E_SLOTCOUNT);
}

static void test_buffer_open_slot_stride_too_small(void **state)
{
	struct fixture *f = *state;

	create_small(f->path);
	/* Page-aligned, but a 101x75 frame with 1602 stereo samples needs more. */
	damage_u64(f->path, offsetof(struct reel__header, slot_stride), 4096);
	expect_open_fails(f->path, REEL_E_SLOTSTRIDE);
}

static void test_buffer_open_plane_layout_inconsistent(void **state)
{
	struct fixture *f = *state;
	struct reel__header h;

	create_small(f->path);
	h = read_header(f->path);
	/* The V plane starting inside the U plane. */
	damage_u64(f->path, offsetof(struct reel__header, plane_offset[2]), h.plane_offset[1] + 64);
	expect_open_fails(f->path, REEL_E_SLOTSTRIDE);

	assert_int_equal(unlink(f->path), 0);
	create_small(f->path);
	damage_u32(f->path, offsetof(struct reel__header, plane_stride[0]), 64);
	expect_open_fails(f->path, REEL_E_SLOTSTRIDE);
}

static void test_buffer_open_unterminated_path(void **state)
{
	struct fixture *f = *state;
	char path[REEL_SOURCE_PATH_MAX];

	create_small(f->path);
	memset(path, 'A', sizeof(path));
	damage(f->path, offsetof(struct reel__header, source_path), path, sizeof(path));
	expect_open_fails(f->path, REEL_E_HEADER);
}

static void test_buffer_validate_header_short_images(void **state)
{
	struct fixture *f = *state;
	uint8_t page[REEL__HEADER_SIZE];
	struct reel__header h;
	struct reel_buffer_info info;
	int fd;

	create_small(f->path);
	h = read_header(f->path);
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, page, sizeof(page), 0), (ssize_t)sizeof(page));
	close(fd);

	assert_int_equal(reel_buffer_validate_header(page, sizeof(page), h.file_size, &info), 0);
	assert_int_equal(info.file_size, h.file_size);
	/* A larger file is fine (only the header's size is mapped), a smaller one is not. */
	assert_int_equal(reel_buffer_validate_header(page, sizeof(page), h.file_size + 4096, NULL), 0);
	assert_int_equal(reel_buffer_validate_header(page, sizeof(page), h.file_size - 1, NULL),
	                 REEL_E_TRUNCATED);
	for (size_t len = 0; len < 8; len++)
		assert_int_equal(reel_buffer_validate_header(page, len, h.file_size, NULL),
		                 REEL_E_BADMAGIC);
	for (size_t len = 8; len < sizeof(page); len += 97)
		assert_int_equal(reel_buffer_validate_header(page, len, h.file_size, NULL),
		                 REEL_E_TRUNCATED);
	assert_int_equal(reel_buffer_validate_header(NULL, 0, 0, NULL), REEL_E_BADMAGIC);
}

static void check_layout(const char *path, uint32_t width, uint32_t height, uint32_t channels)
{
	struct reel_buffer_params p = small_params();
	struct reel_buffer *b = NULL;
	const struct reel_buffer_info *info;
	uint64_t prev_end;

	p.width = width;
	p.height = height;
	p.channels = channels;
	if (!channels) {
		p.sample_rate = 0;
		p.audio_capacity = 0;
	}
	assert_int_equal(reel_buffer_create(path, &p, &b), 0);
	info = reel_buffer_info(b);

	/* Sections in order, page-aligned, each after the previous. */
	assert_int_equal(info->index_offset, REEL__HEADER_SIZE);
	assert_int_equal(info->index_offset % 4096, 0);
	assert_int_equal(info->journal_offset, info->index_offset + info->index_size);
	assert_int_equal(info->slot_table_offset, info->journal_offset + info->journal_size);
	assert_int_equal(info->stages_offset, info->slot_table_offset + info->slot_table_size);
	assert_true(info->stages_size >= REEL__STAGE_ENTRIES * sizeof(struct reel__stage_entry));
	assert_int_equal(info->slots_offset, info->stages_offset + info->stages_size);
	assert_int_equal(info->slots_offset % 4096, 0);
	assert_int_equal(info->slot_stride % 4096, 0);
	assert_int_equal(info->file_size, info->slots_offset + info->slot_count * info->slot_stride);
	assert_true(info->index_size >= info->frame_count * 32);
	assert_true(info->slot_table_size >= info->slot_count * 128ull);

	/* Planes 64-byte aligned, wide enough, in order, audio last, all inside the stride. */
	prev_end = 0;
	for (uint32_t s = 0; s < info->slot_count; s++) {
		struct reel_frame fr;

		assert_int_equal(reel_buffer_frame(b, s, &fr), 0);
		assert_int_equal(((uintptr_t)fr.plane[0] - (uintptr_t)b->map - info->slots_offset) %
		                 4096, 0);
		for (int i = 0; i < 3; i++) {
			assert_int_equal((uintptr_t)fr.plane[i] % 64, 0);
			assert_int_equal(fr.stride[i] % 64, 0);
			assert_true(fr.stride[i] >= fr.width[i]);
			assert_int_equal(fr.width[i], i ? (width + 1) / 2 : width);
			assert_int_equal(fr.height[i], i ? (height + 1) / 2 : height);
			if (i)
				assert_true(fr.plane[i] >= fr.plane[i - 1] +
				            (size_t)fr.stride[i - 1] * fr.height[i - 1]);
			assert_true(fr.plane[i] >= b->map && fr.plane[i] < b->map + b->map_size);
		}
		if (channels) {
			uint8_t *audio = (uint8_t *)fr.audio;
			assert_int_equal((uintptr_t)audio % 64, 0);
			assert_true(audio >= fr.plane[2] + (size_t)fr.stride[2] * fr.height[2]);
			assert_true(audio + (size_t)fr.audio_capacity * fr.channels * sizeof(float) <=
			            fr.plane[0] + info->slot_stride);
		} else {
			assert_true(fr.plane[2] + (size_t)fr.stride[2] * fr.height[2] <=
			            fr.plane[0] + info->slot_stride);
		}
		assert_true((uint64_t)(fr.plane[0] - b->map) >= prev_end);
		prev_end = (uint64_t)(fr.plane[0] - b->map) + info->slot_stride;
		assert_true(prev_end <= b->map_size);
	}
	reel_buffer_close(b);
	assert_int_equal(unlink(path), 0);
}

static void test_buffer_layout_alignment(void **state)
{
	struct fixture *f = *state;

	check_layout(f->path, 1, 1, 0);
	check_layout(f->path, 33, 17, 1);
	check_layout(f->path, 101, 75, 2);
	check_layout(f->path, 1920, 1080, 2);
	check_layout(f->path, 4097, 3, 16);
}

static void test_buffer_reserve_slot_allocates(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *b = NULL;
	struct reel_frame fr;
	uint64_t before, after, again, apparent, allocated;
	uint64_t stride;

	assert_int_equal(reel_buffer_create(f->path, &p, &b), 0);
	stride = reel_buffer_info(b)->slot_stride;
	before = file_blocks(f->path);
	assert_int_equal(reel_buffer_reserve_slot(b, 2), 0);
	after = file_blocks(f->path);
	assert_true(after >= before + stride);
	assert_int_equal(reel_buffer_disk_usage(b, &apparent, &allocated), 0);
	assert_int_equal(allocated, after);
	assert_int_equal(apparent, reel_buffer_info(b)->file_size);

	/* Reserving again costs nothing, and writing the reserved slot allocates no more. */
	assert_int_equal(reel_buffer_reserve_slot(b, 2), 0);
	assert_int_equal(reel_buffer_frame(b, 2, &fr), 0);
	for (int i = 0; i < 3; i++)
		for (uint32_t y = 0; y < fr.height[i]; y++)
			memset(fr.plane[i] + (size_t)y * fr.stride[i], 0x5a, fr.width[i]);
	for (uint32_t s = 0; s < fr.audio_capacity * fr.channels; s++)
		fr.audio[s] = 0.25f;
	again = file_blocks(f->path);
	assert_int_equal(again, after);

	assert_int_equal(reel_buffer_reserve_slot(b, p.slot_count), REEL_E_RANGE);
	assert_int_equal(reel_buffer_frame(b, p.slot_count, &fr), REEL_E_RANGE);
	reel_buffer_close(b);
}

/* Pages of [addr, addr + len) resident in memory, by mincore(). */
static size_t resident_pages(const void *addr, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (len + page - 1) / page, count = 0;
	unsigned char *vec = malloc(n);

	assert_int_equal(mincore((void *)addr, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		count += vec[i] & 1;
	free(vec);
	return count;
}

static void test_buffer_prefault_slot_populates_without_writing(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *b = NULL, *ro = NULL;
	struct reel_frame fr;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages;
	uint64_t stride;

	/* 1080p slots: far larger than any read-ahead, so a fresh slot is not in memory. */
	p.width = 1920;
	p.height = 1080;
	p.frame_count = 8;
	p.slot_count = 8;
	assert_int_equal(reel_buffer_create(f->path, &p, &b), 0);
	stride = reel_buffer_info(b)->slot_stride;
	pages = (size_t)stride / page;
	assert_int_equal(reel_buffer_frame(b, 5, &fr), 0);
	assert_true(resident_pages(fr.plane[0], (size_t)stride) < pages / 2);
	/* A writer got to the first row already: its bytes must survive. */
	memset(fr.plane[0], 0x77, fr.width[0]);
	assert_int_equal(reel_buffer_prefault_slot(b, 5, 0), 0);
	assert_int_equal(resident_pages(fr.plane[0], (size_t)stride), pages);
	for (uint32_t x = 0; x < fr.width[0]; x++)
		assert_int_equal(fr.plane[0][x], 0x77);
	assert_int_equal(fr.plane[0][(size_t)fr.stride[0] * 2], 0);
	/* Reserved on disk too, and a second call is free. */
	assert_true(file_blocks(f->path) >= stride);
	assert_int_equal(reel_buffer_prefault_slot(b, 5, 0), 0);
	assert_int_equal(reel_buffer_prefault_slot(b, p.slot_count, 0), REEL_E_RANGE);
	assert_int_equal(reel_buffer_open_readonly(f->path, &ro), 0);
	assert_int_equal(reel_buffer_prefault_slot(ro, 5, 0), -EBADF);
	/* Discarding: the slot reads as zeros afterwards, on a disk file and on tmpfs alike. */
	assert_int_equal(reel_buffer_frame(b, 6, &fr), 0);
	memset(fr.plane[0], 0x55, fr.width[0]);
	assert_int_equal(reel_buffer_prefault_slot(b, 6, REEL_PREFAULT_DISCARD), 0);
	assert_int_equal(resident_pages(fr.plane[0], (size_t)stride), pages);
	{
		struct statfs sfs;
		/* tmpfs needs no zeros written; a disk file gets them. */
		uint8_t want = statfs(f->path, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC ? 0x55 : 0;
		for (uint32_t x = 0; x < fr.width[0]; x++)
			assert_int_equal(fr.plane[0][x], want);
	}
	reel_buffer_close(ro);
	reel_buffer_close(b);
}

static void test_buffer_sparse_20000_1080p(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *b = NULL;
	uint64_t apparent, allocated;
	double t0, t1;

	p.width = 1920;
	p.height = 1080;
	p.frame_count = 20000;
	p.slot_count = 20000;
	p.journal_capacity = 0;
	p.audio_capacity = 1600;
	t0 = tu_now_ms();
	assert_int_equal(reel_buffer_create(f->path, &p, &b), 0);
	t1 = tu_now_ms();
	assert_int_equal(reel_buffer_info(b)->journal_capacity, REEL__DEFAULT_JOURNAL);
	assert_int_equal(reel_buffer_disk_usage(b, &apparent, &allocated), 0);
	print_message("# create+map of %.1f GB apparent (%" PRIu64 " bytes): %.2f ms, "
	              "%" PRIu64 " bytes allocated\n", apparent / 1e9, apparent, t1 - t0, allocated);
	assert_true(apparent > 60000000000ull);
	/*
	 * The metadata is reserved (a full disk must not SIGBUS a journal
	 * append), the 62 GB of slots are not.
	 */
	assert_true(allocated >= reel_buffer_info(b)->slots_offset);
	assert_true(allocated < reel_buffer_info(b)->slots_offset + 1024 * 1024);
	reel_buffer_close(b);

	/* Opening it again is as cheap and reads the same figures. */
	b = NULL;
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	assert_int_equal(reel_buffer_info(b)->file_size, apparent);
	assert_int_equal(reel_buffer_disk_usage(b, NULL, &allocated), 0);
	assert_true(allocated < reel_buffer_info(b)->slots_offset + 1024 * 1024);
	reel_buffer_close(b);
}

static void test_buffer_claim_seen_by_other_process(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer *b = NULL;
	pid_t pid;
	int status;

	create_small(f->path);
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	assert_int_equal(reel_buffer_claim(b, 4242), 1);
	assert_int_equal(reel_buffer_claim(b, (uint32_t)getpid()), 2);
	/* Letting go keeps the generation. */
	assert_int_equal(reel_buffer_claim(b, 0), 2);
	assert_int_equal(reel_buffer_coordinator_pid(b), 0);
	assert_int_equal(reel_buffer_claim(b, (uint32_t)getpid()), 3);
	assert_int_equal(reel_buffer_coordinator_pid(b), (uint32_t)getpid());

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct reel_buffer *c = NULL;
		int ok = reel_buffer_open(f->path, &c) == 0 &&
		         reel_buffer_generation(c) == 3 &&
		         reel_buffer_coordinator_pid(c) == (uint32_t)getppid() &&
		         reel_buffer_claim(c, (uint32_t)getpid()) == 4;
		reel_buffer_close(c);
		_exit(ok ? 0 : 1);
	}
	status = tu_wait(pid, 5000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The child's claim landed in our mapping too. */
	assert_int_equal(reel_buffer_generation(b), 4);
	assert_int_equal(reel_buffer_coordinator_pid(b), (uint32_t)pid);
	reel_buffer_close(b);
}

static void test_buffer_index_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer *b = NULL;
	struct reel_index_entry e, back;

	create_small(f->path);
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	for (uint64_t i = 0; i < 10; i++) {
		e = (struct reel_index_entry){ .pts = (int64_t)i * 3003 - 6006, .dts = (int64_t)i * 3003,
		                               .pos = i == 4 ? -1 : (int64_t)i * 1000,
		                               .flags = i % 5 == 0 ? REEL_INDEX_KEY : 0,
		                               .size = (uint32_t)(i + 100) };
		assert_int_equal(reel_index_put(b, i, &e), 0);
	}
	assert_false(reel_index_complete(b));
	assert_int_equal(reel_index_commit(b), 0);
	assert_true(reel_index_complete(b));
	reel_buffer_close(b);

	b = NULL;
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	assert_true(reel_index_complete(b));
	for (uint64_t i = 0; i < 10; i++) {
		assert_int_equal(reel_index_get(b, i, &back), 0);
		assert_true(back.pts == (int64_t)i * 3003 - 6006);
		assert_true(back.dts == (int64_t)i * 3003);
		assert_true(back.pos == (i == 4 ? -1 : (int64_t)i * 1000));
		assert_int_equal(back.flags, i % 5 == 0 ? REEL_INDEX_KEY : 0);
		assert_int_equal(back.size, i + 100);
	}
	assert_int_equal(reel_index_get(b, 10, &back), REEL_E_RANGE);
	assert_int_equal(reel_index_put(b, 10, &e), REEL_E_RANGE);
	e.flags = 0x80;
	assert_int_equal(reel_index_put(b, 3, &e), -EINVAL);
	reel_buffer_close(b);
}

/*
 * An index built in the background: entries past the published part are
 * "not yet" to every reader (another process's mapping included), and a
 * lookup that could land past it says so instead of answering wrong.
 */
static void test_buffer_index_published_progressively(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer *b = NULL, *r = NULL;
	struct reel_index_entry e[10], back;
	uint64_t frame;

	create_small(f->path);
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	assert_int_equal(reel_buffer_open_readonly(f->path, &r), 0);
	for (int i = 0; i < 10; i++)
		e[i] = (struct reel_index_entry){ .pts = i * 100, .dts = i * 100, .pos = i * 10,
		                                  .flags = i % 5 == 0 ? REEL_INDEX_KEY : 0, .size = 1 };
	assert_int_equal(reel_index_ready(r), 0);
	assert_int_equal(reel_index_get(r, 0, &back), REEL_E_NOTYET);
	assert_int_equal(reel_index_publish(b, 0, e, 4), 0);
	assert_int_equal(reel_index_ready(r), 4);
	assert_int_equal(reel_index_get(r, 3, &back), 0);
	assert_true(back.pts == 300);
	assert_int_equal(reel_index_get(r, 4, &back), REEL_E_NOTYET);
	assert_int_equal(reel_index_get(r, 10, &back), REEL_E_RANGE);
	/* pts 250 lies among the published entries; 350 might be a frame still to come. */
	assert_int_equal(reel_index_lower_bound(r, 250, &frame), 0);
	assert_int_equal(frame, 3);
	assert_int_equal(reel_index_lower_bound(r, 350, &frame), REEL_E_NOTYET);
	/* Only where the published part ends, and never past the count. */
	assert_int_equal(reel_index_publish(b, 2, e, 2), -EINVAL);
	assert_int_equal(reel_index_publish(b, 4, e + 4, 7), REEL_E_RANGE);
	assert_int_equal(reel_index_publish(r, 4, e + 4, 1), -EBADF);
	assert_int_equal(reel_index_publish(b, 4, e + 4, 6), 0);
	assert_int_equal(reel_index_ready(r), 10);
	assert_false(reel_index_complete(r));
	assert_int_equal(reel_index_commit(b), 0);
	assert_true(reel_index_complete(r));
	assert_int_equal(reel_index_lower_bound(r, 950, &frame), 0);
	assert_int_equal(frame, 10);
	/* A new build forgets the old one, and a failure of the last. */
	reel_index_set_failed(b, REEL_E_INDEX);
	assert_int_equal(reel_index_failed(r), REEL_E_INDEX);
	reel_index_set_failed(b, 5);   /* not an error: ignored */
	assert_int_equal(reel_index_failed(r), REEL_E_INDEX);
	reel_index_restart(b);
	assert_int_equal(reel_index_ready(r), 0);
	assert_int_equal(reel_index_failed(r), 0);
	assert_false(reel_index_complete(r));
	reel_buffer_close(r);
	reel_buffer_close(b);
}

static void test_buffer_index_damaged_entry(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer *b = NULL;
	struct reel_index_entry back;
	struct reel__header h;
	uint32_t flags = 0x40000000u;
	int64_t pos = -7;

	create_small(f->path);
	/* A complete index (of zeros): only damage makes an entry unreadable. */
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	assert_int_equal(reel_index_commit(b), 0);
	reel_buffer_close(b);
	h = read_header(f->path);
	damage(f->path, h.index_offset + 3 * sizeof(struct reel_index_entry) +
	       offsetof(struct reel_index_entry, flags), &flags, sizeof(flags));
	damage(f->path, h.index_offset + 5 * sizeof(struct reel_index_entry) +
	       offsetof(struct reel_index_entry, pos), &pos, sizeof(pos));
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	memset(&back, 0x11, sizeof(back));
	assert_int_equal(reel_index_get(b, 3, &back), REEL_E_INDEX);
	assert_int_equal(reel_index_get(b, 5, &back), REEL_E_INDEX);
	assert_true(back.pts == 0x1111111111111111LL);
	assert_int_equal(reel_index_get(b, 4, &back), 0);
	reel_buffer_close(b);
}

/* The whole file, for proving that something did not change it. */
static uint8_t *file_bytes(const char *path, size_t *ret_len)
{
	struct stat st;
	uint8_t *bytes;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	bytes = malloc((size_t)st.st_size);
	assert_non_null(bytes);
	assert_int_equal(pread(fd, bytes, (size_t)st.st_size, 0), (ssize_t)st.st_size);
	close(fd);
	*ret_len = (size_t)st.st_size;
	return bytes;
}

/*
 * Root bypasses file modes, which would make a mode test pass whatever the
 * code does: take CAP_DAC_OVERRIDE away from this (child) process for good.
 */
static int drop_dac_override(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (geteuid() != 0)
		return 0;
	if (prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	d[0].effective &= ~(1u << CAP_DAC_OVERRIDE);
	d[0].permitted &= ~(1u << CAP_DAC_OVERRIDE);
	d[0].inheritable &= ~(1u << CAP_DAC_OVERRIDE);
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

static void test_buffer_readonly_opens_mode_0400(void **state)
{
	struct fixture *f = *state;
	pid_t pid;
	int status;

	create_small(f->path);
	assert_int_equal(chmod(f->path, 0400), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct reel_buffer *b = NULL;
		int fd;

		if (drop_dac_override() < 0)
			_exit(10);
		/* Precondition: this process really cannot write the file. */
		fd = open(f->path, O_RDWR | O_CLOEXEC);
		if (fd >= 0 || errno != EACCES)
			_exit(11);
		if (reel_buffer_open(f->path, &b) != -EACCES)
			_exit(12);
		if (reel_buffer_open_readonly(f->path, &b) != 0)
			_exit(13);
		if (reel_buffer_info(b)->width != small_params().width)
			_exit(14);
		reel_buffer_close(b);
		_exit(0);
	}
	status = tu_wait(pid, 5000);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("child failed at step %d (10 cap drop, 11 precondition, 12 rw open, "
		         "13 read-only open, 14 info)", WEXITSTATUS(status));
}

static void test_buffer_readonly_writers_refuse(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer *b = NULL;
	struct reel_buffer_info rw_info;
	struct reel_journal_entry e, back;
	struct reel_index_entry ie, ie_back;
	struct reel_slot_info si;
	struct reel_frame fr;
	uint8_t *before, *after;
	size_t before_len, after_len;
	uint32_t version;

	/* Something in every section, written through a read-write handle. */
	create_small(f->path);
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	rw_info = *reel_buffer_info(b);
	memset(&e, 0, sizeof(e));
	e.op = REEL_OP_BRIGHTNESS;
	e.last = 3;
	e.params[0] = 0.5;
	assert_int_equal(reel_journal_append(b, &e, NULL), 0);
	memset(&ie, 0, sizeof(ie));
	ie.pts = 3003;
	ie.pos = 48;
	ie.flags = REEL_INDEX_KEY;
	assert_int_equal(reel_index_put(b, 1, &ie), 0);
	assert_int_equal(reel_index_commit(b), 0);
	assert_int_equal(reel_buffer_claim(b, 4242), 1);
	assert_int_equal(reel_slot_lock(b, 1, 1000), 0);
	assert_int_equal(reel_slot_set_contents(b, 1, 2, 1, 0), 0);
	assert_int_equal(reel_slot_set_state(b, 1, REEL_SLOT_READY, 0), 0);
	assert_int_equal(reel_slot_unlock(b, 1), 0);
	reel_buffer_close(b);
	before = file_bytes(f->path, &before_len);

	b = NULL;
	assert_int_equal(reel_buffer_open_readonly(f->path, &b), 0);
	assert_memory_equal(reel_buffer_info(b), &rw_info, sizeof(rw_info));

	/* Readers work as on a read-write handle. */
	assert_int_equal(reel_buffer_coordinator_pid(b), 4242);
	assert_int_equal(reel_buffer_generation(b), 1);
	assert_true(reel_index_complete(b));
	assert_int_equal(reel_index_get(b, 1, &ie_back), 0);
	assert_int_equal(ie_back.pts, 3003);
	assert_int_equal(reel_journal_count(b), 1);
	assert_int_equal(reel_journal_read(b, 1, &back), 0);
	assert_int_equal(back.last, 3);
	assert_int_equal(reel_slot_get(b, 1, &si), 0);
	assert_int_equal(si.state, REEL_SLOT_READY);
	assert_int_equal(si.frame, 2);
	assert_int_equal(reel_slot_get(b, 0, &si), 0);
	assert_int_equal(si.frame, -1);
	version = reel_slot_read_begin(b, 1);
	assert_int_equal(reel_buffer_frame(b, 1, &fr), 0);
	assert_int_equal(fr.plane[0][0], 0);
	assert_true(reel_slot_read_validate(b, 1, version));
	assert_int_equal(reel_buffer_disk_usage(b, NULL, NULL), 0);

	/* Every writer refuses instead of faulting on the PROT_READ mapping. */
	assert_int_equal(reel_buffer_reserve_slot(b, 0), -EBADF);
	assert_int_equal(reel_index_put(b, 2, &ie), -EBADF);
	assert_int_equal(reel_index_commit(b), -EBADF);
	assert_int_equal(reel_journal_append(b, &e, NULL), -EBADF);
	assert_int_equal(reel_journal_set_state(b, 1, REEL_JOURNAL_APPLIED), -EBADF);
	assert_int_equal(reel_buffer_claim(b, 77), 0);
	assert_int_equal(reel_buffer_generation(b), 1);
	/* Slot 0 was never used: locking it would have to initialise its mutex. */
	assert_int_equal(reel_slot_lock(b, 0, 100), -EBADF);
	assert_int_equal(reel_slot_lock(b, 1, 100), -EBADF);
	assert_int_equal(reel_slot_unlock(b, 1), -EBADF);
	assert_int_equal(reel_slot_set_contents(b, 1, 3, 1, 0), -EBADF);
	assert_int_equal(reel_slot_set_state(b, 0, REEL_SLOT_STALE, 0), -EBADF);
	assert_int_equal(reel_slot_set_state(b, 1, REEL_SLOT_STALE, 0), -EBADF);
	reel_slot_write_begin(b, 1);
	reel_slot_write_end(b, 1);
	assert_int_equal(reel_slot_get(b, 1, &si), 0);
	assert_int_equal(si.version, version);
	reel_buffer_close(b);

	after = file_bytes(f->path, &after_len);
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	free(before);
	free(after);
}

static void test_buffer_readonly_wait_woken_by_writer(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer *b = NULL;
	struct reel_slot_info si;
	double t0;
	pid_t pid;
	int status, r;

	create_small(f->path);
	assert_int_equal(reel_buffer_open_readonly(f->path, &b), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct reel_buffer *w = NULL;
		struct timespec pause = { 0, 100 * 1000 * 1000 };
		int ok;

		/* Late enough that the parent is most likely asleep on the word. */
		nanosleep(&pause, NULL);
		ok = reel_buffer_open(f->path, &w) == 0 && reel_slot_lock(w, 2, 1000) == 0 &&
		     reel_slot_set_state(w, 2, REEL_SLOT_DECODING, 0) == 0 &&
		     reel_slot_unlock(w, 2) == 0;
		reel_buffer_close(w);
		_exit(ok ? 0 : 1);
	}
	/* A futex wait needs only read access to the word: it must sleep, not fail. */
	t0 = tu_now_ms();
	do
		r = reel_slot_wait(b, 2, REEL_SLOT_EMPTY, 5000);
	while (r == 0 && reel_slot_get(b, 2, &si) == 0 && si.state == REEL_SLOT_EMPTY &&
	       tu_now_ms() - t0 < 5000);
	assert_int_equal(r, 0);
	status = tu_wait(pid, 5000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(reel_slot_get(b, 2, &si), 0);
	assert_int_equal(si.state, REEL_SLOT_DECODING);
	reel_buffer_close(b);
}

static void test_buffer_close_accepts_null(void **state)
{
	(void)state;
	reel_buffer_close(NULL);
}


/* ------------------------------------------- integrity and privacy */

/* A header field damaged into another plausible value: only the header CRC can tell. */
static void test_buffer_header_crc(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer *b = NULL;
	char c = 'X';

	create_small(f->path);
	damage(f->path, offsetof(struct reel__header, source_path) + 3, &c, 1);
	expect_open_fails(f->path, REEL_E_HEADER);
	assert_int_equal(reel_buffer_open_readonly(f->path, &b), REEL_E_HEADER);
	damage_u32(f->path, offsetof(struct reel__header, frame_rate_num), 24);
	expect_open_fails(f->path, REEL_E_HEADER);
}

/* A slot filled and sealed READY with frame `frame`, as the materialiser leaves it. */
static void fill_slot(struct reel_buffer *b, uint32_t slot, int64_t frame)
{
	assert_true(reel_slot_lock(b, slot, 1000) >= 0);
	reel_slot_write_begin(b, slot);
	assert_int_equal(reel_slot_set_contents(b, slot, frame, 1, 0), 0);
	reel_slot_write_end(b, slot);
	assert_int_equal(reel_slot_set_state(b, slot, REEL_SLOT_READY, 0), 0);
	assert_int_equal(reel_slot_unlock(b, slot), 0);
}

/*
 * A file cut in its slots (truncated under a live session): a plain open
 * refuses it; the coordinator's mending open makes it whole, keeps the
 * journal and the slots before the cut, and forgets the slots that lost
 * pages.  A cut inside the metadata cannot be mended.
 */
static void test_buffer_mend_cut_slots(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer *b = NULL;
	struct reel_journal_entry e;
	struct reel_buffer_info info;
	struct reel_slot_info si;
	uint32_t mended = 99;
	struct stat st;

	create_small(f->path);
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	info = *reel_buffer_info(b);
	memset(&e, 0, sizeof(e));
	e.op = REEL_OP_BRIGHTNESS;
	e.last = 3;
	e.params[0] = 0.5;
	assert_int_equal(reel_journal_append(b, &e, NULL), 0);
	for (uint32_t i = 0; i < info.slot_count; i++)
		fill_slot(b, i, i);
	reel_buffer_close(b);

	/* Cut in the middle of slot 2: slots 2 and 3 lose pages. */
	assert_int_equal(truncate(f->path, (off_t)(info.slots_offset + 2 * info.slot_stride + 4096)), 0);
	expect_open_fails(f->path, REEL_E_TRUNCATED);
	assert_int_equal(reel_buffer_open_mend(f->path, &b, &mended), 0);
	assert_int_equal(mended, 2);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, info.file_size);
	assert_int_equal(reel_journal_count(b), 1);
	for (uint32_t i = 0; i < info.slot_count; i++) {
		assert_int_equal(reel_slot_get(b, i, &si), 0);
		assert_int_equal(si.state, i < 2 ? REEL_SLOT_READY : REEL_SLOT_EMPTY);
		assert_int_equal(si.frame, i < 2 ? (int64_t)i : -1);
	}
	reel_buffer_close(b);
	/* Whole again: a plain open takes it, and a mending open has nothing to mend. */
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	reel_buffer_close(b);
	assert_int_equal(reel_buffer_open_mend(f->path, &b, &mended), 0);
	assert_int_equal(mended, 0);
	reel_buffer_close(b);

	/* Cut inside the journal: the edits are gone, nothing to mend. */
	assert_int_equal(truncate(f->path, (off_t)(info.journal_offset + 64)), 0);
	assert_int_equal(reel_buffer_open_mend(f->path, &b, &mended), REEL_E_TRUNCATED);
}

/* Version 2 files (no CRCs, no seals, another source identity) are refused: a flipped version byte cannot switch the checks off. */
static void test_buffer_version_2_refused(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer *b = NULL;

	create_small(f->path);
	damage_u32(f->path, offsetof(struct reel__header, version), 2);
	expect_open_fails(f->path, REEL_E_VERSION);
	assert_int_equal(reel_buffer_open_readonly(f->path, &b), REEL_E_VERSION);
}

/* A damaged index entry makes the index incomplete: the coordinator scans again. */
static void test_buffer_index_crc(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer *b = NULL;
	struct reel_index_entry e = { .pts = 10, .dts = 10, .pos = 100, .flags = REEL_INDEX_KEY,
	                              .size = 5 };
	uint64_t index_offset;
	int64_t pts = 11;

	create_small(f->path);
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	for (uint64_t i = 0; i < reel_buffer_info(b)->frame_count; i++)
		assert_int_equal(reel_index_put(b, i, &e), 0);
	assert_int_equal(reel_index_commit(b), 0);
	assert_true(reel_index_complete(b));
	index_offset = reel_buffer_info(b)->index_offset;
	reel_buffer_close(b);
	damage(f->path, index_offset + 3 * sizeof(struct reel_index_entry), &pts, sizeof(pts));
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	assert_false(reel_index_complete(b));
	reel_buffer_close(b);
}

/*
 * A buffer made before its frames are counted (a container that does not
 * list them): frame_count is the index's capacity, the count is unknown
 * (0) to every reader until the commit gives it, and then what was
 * published is all there is.  The count is covered by the index CRC: a
 * damaged one is no count, and the index is scanned again.
 */
static void test_buffer_counting(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *b = NULL, *r = NULL;
	struct reel_index_entry e[6], back;
	uint64_t frame, total, live_total;

	p.counting = true;
	assert_int_equal(reel_buffer_create(f->path, &p, &b), 0);
	assert_int_equal(reel_buffer_open_readonly(f->path, &r), 0);
	assert_int_equal(reel_buffer_info(r)->frame_count, 10);
	assert_int_equal(reel_buffer_frames(b), 0);
	assert_int_equal(reel_buffer_frames(r), 0);
	assert_int_equal(reel_index_end(r), 10);
	for (int i = 0; i < 6; i++)
		e[i] = (struct reel_index_entry){ .pts = i * 3003, .dts = i * 3003, .pos = i * 100,
		                                  .flags = i == 0 ? REEL_INDEX_KEY : 0, .size = 9 };
	assert_int_equal(reel_index_publish(b, 0, e, 4), 0);
	assert_int_equal(reel_index_ready(r), 4);
	/* Past what is published, nobody knows yet whether a frame is there. */
	assert_int_equal(reel_index_lower_bound(r, 5 * 3003, &frame), REEL_E_NOTYET);
	assert_int_equal(reel_index_publish(b, 4, e + 4, 2), 0);
	assert_int_equal(reel_index_commit(b), 0);
	/* Counted: six frames, in every handle, and nothing after them. */
	assert_int_equal(reel_buffer_frames(r), 6);
	assert_int_equal(reel_index_end(r), 6);
	assert_int_equal(reel_index_ready(r), 6);
	assert_true(reel_index_complete(r));
	assert_int_equal(reel_index_lower_bound(r, 99 * 3003, &frame), 0);
	assert_int_equal(frame, 6);
	assert_int_equal(reel_index_frame_at_time(r, 60 * 1000000, &frame), REEL_E_RANGE);
	assert_int_equal(reel_index_get(r, 5, &back), 0);
	assert_true(back.pts == 5 * 3003);
	reel_buffer_close(r);
	reel_buffer_close(b);
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	assert_int_equal(reel_buffer_frames(b), 6);
	assert_true(reel_index_complete(b));
	reel_buffer_close(b);

	/* A count changed on disk (within the capacity) fails the CRC: counted again. */
	live_total = REEL__LIVE_OFFSET + offsetof(struct reel__header_live, frame_total);
	total = 7;
	damage(f->path, live_total, &total, sizeof(total));
	assert_int_equal(reel_buffer_open(f->path, &b), 0);
	assert_false(reel_index_complete(b));
	reel_index_restart(b);
	assert_int_equal(reel_buffer_frames(b), 0);
	reel_buffer_close(b);
	/* Past the capacity it is no count at all. */
	total = 11;
	damage(f->path, live_total, &total, sizeof(total));
	assert_int_equal(reel_buffer_open_readonly(f->path, &r), 0);
	assert_int_equal(reel_buffer_frames(r), 0);
	reel_buffer_close(r);

	/* A buffer made with its count keeps it, restarted or not. */
	unlink(f->path);
	p.counting = false;
	assert_int_equal(reel_buffer_create(f->path, &p, &b), 0);
	assert_int_equal(reel_buffer_frames(b), 10);
	reel_index_restart(b);
	assert_int_equal(reel_buffer_frames(b), 10);
	reel_buffer_close(b);
}

/*
 * A writer opens only its own private file, never through a link; a reader
 * may look at anything.  Each refusal is its own code.
 */
static void test_buffer_open_refuses_foreign_files(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer *b = NULL;
	char link_path[4200];

	create_small(f->path);
	assert_int_equal(chmod(f->path, 0640), 0);
	expect_open_fails(f->path, REEL_E_BUFFERPERM);
	assert_int_equal(reel_buffer_open_readonly(f->path, &b), 0);
	reel_buffer_close(b);
	assert_int_equal(chmod(f->path, 0600), 0);

	snprintf(link_path, sizeof(link_path), "%s/link.reel", f->dir);
	assert_int_equal(symlink(f->path, link_path), 0);
	expect_open_fails(link_path, REEL_E_BUFFERPERM);
	assert_int_equal(reel_buffer_open_readonly(link_path, &b), 0);
	reel_buffer_close(b);

	if (geteuid() == 0) {
		/* Root can make a file another user's: the owner check, on its own. */
		assert_int_equal(chown(f->path, 65534, 65534), 0);
		expect_open_fails(f->path, REEL_E_BUFFERPERM);
		assert_int_equal(reel_buffer_open_readonly(f->path, &b), 0);
		reel_buffer_close(b);
	}
}

static void test_buffer_create_refuses_open_folder(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *b = NULL;
	struct stat st;

	assert_int_equal(chmod(f->dir, 0777), 0);
	assert_int_equal(reel_buffer_create(f->path, &p, &b), REEL_E_BUFFERDIR);
	assert_int_equal(stat(f->path, &st), -1);
	/* A sticky shared folder (as /tmp, /dev/shm) is safe enough to make a file in. */
	assert_int_equal(chmod(f->dir, 01777), 0);
	assert_int_equal(reel_buffer_create(f->path, &p, &b), 0);
	reel_buffer_close(b);
	assert_int_equal(chmod(f->dir, 0700), 0);
}

/*
 * The name appears only once the file is whole: every moment it exists, it
 * opens.  A child creating buffers is killed at random moments; whatever
 * name it left opens, and no temporary is left where a dead creator made one.
 */
static void test_buffer_create_is_atomic(void **state)
{
	struct fixture *f = *state;
	unsigned named = 0;

	for (int round = 0; round < 30; round++) {
		struct reel_buffer *b = NULL;
		pid_t pid;

		unlink(f->path);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct reel_buffer_params p = small_params();
			p.frame_count = 20000;
			p.slot_count = 20000;
			_exit(reel_buffer_create(f->path, &p, &b) == 0 ? 0 : 1);
		}
		/* From before the file is made to after it is named. */
		usleep((useconds_t)(round * 397 % 8000));
		kill(pid, SIGKILL);
		tu_wait(pid, 5000);
		if (access(f->path, F_OK) == 0) {
			named++;
			assert_int_equal(reel_buffer_open(f->path, &b), 0);
			reel_buffer_close(b);
		}
	}
	print_message("# %u of 30 killed creates had named their file; every one opened\n", named);
}

/* The fallback's temporaries: one of a dead creator is swept, one of a live one kept. */
static void test_buffer_sweep_temporaries(void **state)
{
	struct fixture *f = *state;
	char dead[4200], live[4200];
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_true(tu_wait(pid, 5000) >= 0);
	snprintf(dead, sizeof(dead), "%s.tmp-%ld", f->path, (long)pid);
	snprintf(live, sizeof(live), "%s.tmp-%ld", f->path, (long)getpid());
	assert_int_equal(tu_write_file(dead, "x", 1), 0);
	assert_int_equal(tu_write_file(live, "x", 1), 0);
	reel__sweep_temporaries(f->path);
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(access(live, F_OK), 0);
}

/* A private folder for pictures files, in RAM where the machine has /dev/shm. */
static char *pictures_folder(const char *fallback)
{
	char *dir;

	if (access("/dev/shm", W_OK) == 0) {
		dir = strdup("/dev/shm/reel-test-XXXXXX");
		assert_non_null(dir);
		assert_non_null(mkdtemp(dir));
		return dir;
	}
	assert_true(asprintf(&dir, "%s/pictures", fallback) > 0);
	return dir;
}

static void read_at(const char *path, uint64_t offset, void *bytes, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, bytes, len, (off_t)offset), (ssize_t)len);
	close(fd);
}

/*
 * The coordinator moves the pictures to a file in RAM: every handle opened
 * afterwards (writer or reader) maps that file over the slot section, the
 * buffer file's slots stay a hole, and closing the coordinator's handle
 * removes the file.  The next coordinator is told to forget the slots.
 */
static void test_buffer_pictures_in_ram(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer *b = NULL, *w = NULL, *ro = NULL;
	const struct reel_buffer_info *info;
	struct reel_frame fr, fw, fro;
	uint8_t got[64], zeros[64], mine[64];
	char *dir, pictures[4096];
	bool forget = false;
	struct statfs sfs;
	uint64_t at;

	assert_int_equal(statfs(f->dir, &sfs), 0);
	if (sfs.f_type == TMPFS_MAGIC)
		skip();   /* a buffer already in RAM keeps its pictures */
	dir = pictures_folder(f->dir);
	create_small(f->path);
	assert_int_equal(reel_buffer_open_mend(f->path, &b, NULL), 0);
	info = reel_buffer_info(b);
	assert_true(reel_buffer_claim(b, (uint32_t)getpid()) > 0);
	assert_int_equal(reel_buffer_place_pictures(b, dir, &forget), 1);
	assert_true(forget);
	assert_non_null(reel_buffer_pictures_path(b));
	snprintf(pictures, sizeof(pictures), "%s", reel_buffer_pictures_path(b));
	assert_int_equal(strncmp(pictures, dir, strlen(dir)), 0);
	{
		struct stat st;
		assert_int_equal(stat(pictures, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal((uint64_t)st.st_size, info->slots_size);
	}

	/* Written through the coordinator's mapping: in the pictures file, not the buffer file. */
	for (size_t i = 0; i < sizeof(mine); i++)
		mine[i] = (uint8_t)(i * 13 + 5);
	memset(zeros, 0, sizeof(zeros));
	assert_int_equal(reel_buffer_prefault_slot(b, 2, REEL_PREFAULT_DISCARD), 0);
	assert_int_equal(reel_buffer_frame(b, 2, &fr), 0);
	memcpy(fr.plane[1], mine, sizeof(mine));
	at = 2 * info->slot_stride + info->plane_offset[1];
	read_at(pictures, at, got, sizeof(got));
	assert_memory_equal(got, mine, sizeof(mine));
	read_at(f->path, info->slots_offset + at, got, sizeof(got));
	assert_memory_equal(got, zeros, sizeof(zeros));
	assert_true(file_blocks(f->path) < info->slots_offset + 1024 * 1024);

	/* A stage and a reader that open now see the same pages, both ways. */
	assert_int_equal(reel_buffer_open(f->path, &w), 0);
	assert_int_equal(reel_buffer_open_readonly(f->path, &ro), 0);
	assert_string_equal(reel_buffer_pictures_path(w), pictures);
	assert_int_equal(reel_buffer_frame(w, 2, &fw), 0);
	assert_int_equal(reel_buffer_frame(ro, 2, &fro), 0);
	assert_memory_equal(fw.plane[1], mine, sizeof(mine));
	assert_memory_equal(fro.plane[1], mine, sizeof(mine));
	fw.plane[0][7] = 0xab;
	assert_int_equal(fr.plane[0][7], 0xab);
	assert_int_equal(fro.plane[0][7], 0xab);
	assert_int_equal(reel_buffer_lost(w), 0);

	/* Cut under the session, the pictures file is a loss every handle reports. */
	assert_int_equal(truncate(pictures, 4096), 0);
	assert_int_equal(reel_buffer_lost(ro), REEL_E_PICTURES);
	assert_int_equal(truncate(pictures, (off_t)info->slots_size), 0);
	assert_int_equal(reel_buffer_lost(ro), 0);

	/* Only the coordinator's handle removes the file, when it closes. */
	reel_buffer_close(w);
	reel_buffer_close(ro);
	assert_int_equal(access(pictures, F_OK), 0);
	reel_buffer_claim(b, 0);
	reel_buffer_close(b);
	assert_int_equal(access(pictures, F_OK), -1);

	/* Stopped: a reader opens without them; the next coordinator forgets the slots. */
	assert_int_equal(reel_buffer_open_readonly(f->path, &ro), 0);
	assert_null(reel_buffer_pictures_path(ro));
	reel_buffer_close(ro);
	assert_int_equal(reel_buffer_open_mend(f->path, &b, NULL), 0);
	forget = false;
	assert_int_equal(reel_buffer_place_pictures(b, NULL, &forget), 0);
	assert_true(forget);
	assert_null(reel_buffer_pictures_path(b));
	forget = true;
	assert_int_equal(reel_buffer_place_pictures(b, NULL, &forget), 0);
	assert_false(forget);
	reel_buffer_close(b);
	tu_rmrf(dir);
	free(dir);
}

/* The record in the header page is untrusted: a writer attaches only to the session's own file. */
static void test_buffer_pictures_record_untrusted(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer *b = NULL, *w = NULL;
	char *dir, other[REEL__PICTURES_PATH], path[REEL__PICTURES_PATH];
	bool forget;
	struct statfs sfs;

	assert_int_equal(statfs(f->dir, &sfs), 0);
	if (sfs.f_type == TMPFS_MAGIC)
		skip();
	dir = pictures_folder(f->dir);
	create_small(f->path);
	assert_int_equal(reel_buffer_open_mend(f->path, &b, NULL), 0);
	assert_true(reel_buffer_claim(b, (uint32_t)getpid()) > 0);
	assert_int_equal(reel_buffer_place_pictures(b, dir, &forget), 1);

	/* Another file of the wrong size, one open to others, a path without its end. */
	assert_true((size_t)snprintf(other, sizeof(other), "%s/other.pictures", dir) < sizeof(other));
	assert_int_equal(tu_write_file(other, "x", 1), 0);
	chmod(other, 0600);
	memset(path, 0, sizeof(path));
	memcpy(path, other, strlen(other));
	damage(f->path, REEL__PICTURES_OFFSET + 8, path, sizeof(path));
	assert_int_equal(reel_buffer_open(f->path, &w), REEL_E_PICTURES);
	assert_int_equal(truncate(other, (off_t)reel_buffer_info(b)->slots_size), 0);
	chmod(other, 0644);
	assert_int_equal(reel_buffer_open(f->path, &w), REEL_E_PICTURES);
	chmod(other, 0600);
	assert_int_equal(reel_buffer_open(f->path, &w), 0);   /* now it is a fit file */
	reel_buffer_close(w);
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	damage(f->path, REEL__PICTURES_OFFSET + 8, path, sizeof(path));
	assert_int_equal(reel_buffer_open(f->path, &w), REEL_E_PICTURES);
	/* With no coordinator running, nothing is attached and the open succeeds. */
	reel_buffer_claim(b, 0);
	assert_int_equal(reel_buffer_open(f->path, &w), 0);
	assert_null(reel_buffer_pictures_path(w));
	reel_buffer_close(w);
	reel_buffer_close(b);
	tu_rmrf(dir);
	free(dir);
}

/* Leftovers of coordinators that died go; those of live ones, and other files, stay. */
static void test_buffer_pictures_sweep(void **state)
{
	struct fixture *f = *state;
	char dead[4096], live[4096], other[4096];
	uint64_t bytes = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_true(tu_wait(pid, 5000) >= 0);
	snprintf(dead, sizeof(dead), "%s/12-34-%ld.pictures", f->dir, (long)pid);
	snprintf(live, sizeof(live), "%s/12-35-%ld.pictures", f->dir, (long)getpid());
	snprintf(other, sizeof(other), "%s/12-36-%ld.pictures.keep", f->dir, (long)pid);
	assert_int_equal(tu_write_file(dead, "xyz", 3), 0);
	assert_int_equal(tu_write_file(live, "x", 1), 0);
	assert_int_equal(tu_write_file(other, "x", 1), 0);
	assert_int_equal(reel_buffer_sweep_pictures(f->dir, &bytes), 1);
	assert_true(bytes > 0);
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(access(live, F_OK), 0);
	assert_int_equal(access(other, F_OK), 0);
	assert_int_equal(reel_buffer_sweep_pictures("/nonexistent/reel", NULL), 0);
}

static long minor_faults(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_minflt;
}

/*
 * A stage's prefault of a filled slot whose pictures are on tmpfs maps every
 * page by touching it: afterwards, writing the whole slot takes no fault, and
 * nothing the writer put there changed.
 */
static void test_buffer_prefault_filled_maps_tmpfs_pages(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *b = NULL, *w = NULL;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t stride;
	struct reel_frame fr;
	struct statfs sfs;
	char *dir;
	bool forget;
	long before;
	uint8_t *pattern, *data;

	assert_int_equal(statfs(f->dir, &sfs), 0);
	if (sfs.f_type == TMPFS_MAGIC || access("/dev/shm", W_OK) != 0)
		skip();
	dir = pictures_folder(f->dir);
	p.width = 1920;
	p.height = 1080;
	p.frame_count = 8;
	p.slot_count = 8;
	assert_int_equal(reel_buffer_create(f->path, &p, &b), 0);
	assert_true(reel_buffer_claim(b, (uint32_t)getpid()) > 0);
	assert_int_equal(reel_buffer_place_pictures(b, dir, &forget), 1);
	stride = reel_buffer_info(b)->slot_stride;
	/* The writer fills slot 3 through the file, as the materialiser does. */
	assert_int_equal(reel_buffer_reserve_slot(b, 3), 0);
	pattern = malloc(stride);
	assert_non_null(pattern);
	for (uint64_t i = 0; i < stride; i++)
		pattern[i] = (uint8_t)(i * 31 + 7);
	{
		int fd = open(reel_buffer_pictures_path(b), O_WRONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, pattern, stride, (off_t)(3 * stride)), (ssize_t)stride);
		close(fd);
	}
	assert_int_equal(reel_buffer_open(f->path, &w), 0);
	assert_int_equal(reel_buffer_frame(w, 3, &fr), 0);
	data = fr.plane[0];
	before = minor_faults();
	assert_int_equal(reel_buffer_prefault_slot(w, 3, REEL_PREFAULT_FILLED), 0);
	/* Taken here (fewer than pages: a read fault maps 16 writable tmpfs pages at once). */
	assert_true(minor_faults() - before > 0);
	before = minor_faults();
	for (uint64_t off = 0; off < stride; off += page)
		data[off] ^= 0;
	assert_true(minor_faults() - before < 8);
	assert_memory_equal(data, pattern, stride);
	/* Once per slot per process; the checks of a plain prefault hold. */
	assert_int_equal(reel_buffer_prefault_slot(w, 3, REEL_PREFAULT_FILLED), 0);
	assert_int_equal(reel_buffer_prefault_slot(w, 8, REEL_PREFAULT_FILLED), REEL_E_RANGE);
	free(pattern);
	reel_buffer_close(w);
	reel_buffer_close(b);
	tu_rmrf(dir);
	free(dir);
}

/* Bytes of fd backed by memory or disk (reserved pages count: SEEK_HOLE would call them holes). */
static uint64_t backed(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/*
 * A picture written through the file into a slot never reserved leaves the
 * whole slot backed (planes by the write, the sound and the gaps by
 * reservation): writing any of it through a mapping afterwards cannot meet
 * a hole.  Odd sizes, so that rows have padding and the last row's is not
 * written; source rows further apart than the slot's.
 */
static void test_buffer_write_picture_backs_whole_slot(void **state)
{
	struct fixture *f = *state;
	struct reel_buffer_params p = small_params();
	struct reel_buffer *b = NULL;
	const struct reel_buffer_info *info;
	struct reel_frame fr;
	struct statfs sfs;
	uint8_t *src[3];
	uint64_t before;
	int linesize[3], fd;
	char *dir;
	bool forget;

	assert_int_equal(statfs(f->dir, &sfs), 0);
	if (sfs.f_type == TMPFS_MAGIC || access("/dev/shm", W_OK) != 0)
		skip();
	dir = pictures_folder(f->dir);
	p.width = 1001;
	p.height = 563;
	assert_int_equal(reel_buffer_create(f->path, &p, &b), 0);
	assert_true(reel_buffer_claim(b, (uint32_t)getpid()) > 0);
	assert_int_equal(reel_buffer_place_pictures(b, dir, &forget), 1);
	info = reel_buffer_info(b);
	fd = open(reel_buffer_pictures_path(b), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	before = backed(fd);
	for (int i = 0; i < 3; i++) {
		uint32_t w = i ? (p.width + 1) / 2 : p.width, h = i ? (p.height + 1) / 2 : p.height;

		linesize[i] = (int)w + 77;
		src[i] = malloc((size_t)linesize[i] * h);
		assert_non_null(src[i]);
		for (size_t k = 0; k < (size_t)linesize[i] * h; k++)
			src[i][k] = (uint8_t)(k * 7 + (size_t)i * 50 + 3);
	}
	assert_int_equal(reel_buffer_write_picture(b, 2, (const uint8_t *const *)src, linesize), 0);
	/* The whole slot, and nothing more. */
	assert_int_equal(backed(fd) - before, info->slot_stride);
	assert_int_equal(reel_buffer_frame(b, 2, &fr), 0);
	for (int i = 0; i < 3; i++)
		for (uint32_t y = 0; y < fr.height[i]; y++) {
			assert_memory_equal(fr.plane[i] + (size_t)y * fr.stride[i],
			                    src[i] + (size_t)y * (size_t)linesize[i], fr.width[i]);
			/* The padding after a row (all but the last) is zeros. */
			if (y + 1 < fr.height[i] && fr.stride[i] > fr.width[i])
				assert_int_equal(fr.plane[i][(size_t)y * fr.stride[i] + fr.width[i]], 0);
		}
	/* The sound goes through the mapping, into pages that exist. */
	fr.audio[0] = 0.5f;
	fr.audio[info->audio_capacity * info->channels - 1] = -0.5f;
	/* Writing again changes nothing but the pixels, and backs nothing more. */
	assert_int_equal(reel_buffer_write_picture(b, 2, (const uint8_t *const *)src, linesize), 0);
	assert_true(fr.audio[0] == 0.5f);
	assert_int_equal(backed(fd) - before, info->slot_stride);
	for (int i = 0; i < 3; i++)
		free(src[i]);
	close(fd);
	reel_buffer_close(b);
	tu_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_buffer_create_open_roundtrip),
		T(test_buffer_header_crc),
		T(test_buffer_version_2_refused),
		T(test_buffer_mend_cut_slots),
		T(test_buffer_index_crc),
		T(test_buffer_open_refuses_foreign_files),
		T(test_buffer_create_refuses_open_folder),
		T(test_buffer_create_is_atomic),
		T(test_buffer_sweep_temporaries),
		T(test_buffer_slot_size_matches_create),
		T(test_buffer_create_without_audio),
		T(test_buffer_create_refuses_existing),
		T(test_buffer_create_mode_0600),
		T(test_buffer_create_bad_params_leave_nothing),
		T(test_buffer_create_failure_after_open_unlinks),
		T(test_buffer_open_missing_file),
		T(test_buffer_open_bad_magic),
		T(test_buffer_open_random_bytes),
		T(test_buffer_open_empty_file),
		T(test_buffer_open_shorter_than_header_page),
		T(test_buffer_open_other_version),
		T(test_buffer_open_other_byte_order),
		T(test_buffer_open_truncated),
		T(test_buffer_open_bad_header_size),
		T(test_buffer_open_section_outside),
		T(test_buffer_open_section_overlap),
		T(test_buffer_open_section_misaligned),
		T(test_buffer_open_section_too_small),
		T(test_buffer_open_geometry_zero),
		T(test_buffer_open_geometry_too_large),
		T(test_buffer_open_bad_formats),
		T(test_buffer_open_bad_rational),
		T(test_buffer_open_slot_count_zero),
		T(test_buffer_open_slot_count_above_frames),
		T(test_buffer_open_slot_stride_too_small),
		T(test_buffer_open_plane_layout_inconsistent),
		T(test_buffer_open_unterminated_path),
		T(test_buffer_validate_header_short_images),
		T(test_buffer_layout_alignment),
		T(test_buffer_reserve_slot_allocates),
		T(test_buffer_prefault_slot_populates_without_writing),
		T(test_buffer_sparse_20000_1080p),
		T(test_buffer_claim_seen_by_other_process),
		T(test_buffer_index_roundtrip),
		T(test_buffer_index_published_progressively),
		T(test_buffer_index_damaged_entry),
		T(test_buffer_readonly_opens_mode_0400),
		T(test_buffer_readonly_writers_refuse),
		T(test_buffer_readonly_wait_woken_by_writer),
		T(test_buffer_close_accepts_null),
		T(test_buffer_pictures_in_ram),
		T(test_buffer_write_picture_backs_whole_slot),
		T(test_buffer_counting),
		T(test_buffer_pictures_record_untrusted),
		T(test_buffer_pictures_sweep),
		T(test_buffer_prefault_filled_maps_tmpfs_pages),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
