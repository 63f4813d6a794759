/*
 * `reel inspect FILE [--json]`: describe a buffer file — header, geometry,
 * sections, sizes on disk, slot states, journal — as aligned text or one
 * JSON object.
 *
 * It uses only the public API of core, so it doubles as a smoke test of
 * that API, and it goes through the same validation as every other opener:
 * a damaged or foreign file is refused with one line naming the problem.
 *
 * It opens the file read-only, so it works on a file it may not write and
 * cannot change what it looks at.  The file may be truncated by someone else
 * after it was validated; reading the mapping past the new end raises
 * SIGBUS, which is caught around the reads only and reported as one line.
 *
 * Test hook: when REEL_TEST_INSPECT_SYNC_FD names a file descriptor, inspect
 * writes one byte to it once the file is open and mapped, and waits for one
 * byte back before reading, so that a test can change the file at exactly
 * that point.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "buffer/buffer.h"
#include "reel/error.h"
#include "buffer/journal.h"
#include "buffer/slot.h"

static const char *const journal_keys[REEL_JOURNAL_STATE_COUNT] = {
	[REEL_JOURNAL_PENDING] = "pending",
	[REEL_JOURNAL_APPLIED] = "applied",
	[REEL_JOURNAL_UNDONE] = "undone",
	[REEL_JOURNAL_FAILED] = "failed",
};

struct summary {
	const struct reel_buffer_info *info;
	uint64_t apparent, allocated;
	uint32_t pid;
	bool pid_alive;
	uint64_t generation;
	bool index_complete;
	uint64_t frames;                  /* 0: being counted (frame_count is the index's capacity) */
	uint64_t slot_states[REEL_SLOT_STATE_COUNT];
	uint64_t slots_damaged;
	uint64_t journal_count;
	uint64_t journal_states[REEL_JOURNAL_STATE_COUNT];
	uint64_t journal_damaged;
	uint64_t journal_first_damaged;   /* where replay would stop; 0 when the journal is whole */
	char hash[65];
};

/* Where a SIGBUS during collect() lands; armed only while collect() runs. */
static sigjmp_buf bus_jump;

static void on_sigbus(int sig)
{
	(void)sig;
	/* Only reads of the mapping run while armed: the fault is the truncation, nothing to undo. */
	siglongjmp(bus_jump, 1);
}

/* The test hook described at the top; a bad value or a closed peer means no pause. */
static void test_sync(void)
{
	const char *v = getenv("REEL_TEST_INSPECT_SYNC_FD");
	char *end, byte = 0;
	long fd;

	if (!v || !*v)
		return;
	errno = 0;
	fd = strtol(v, &end, 10);
	if (errno || *end || fd < 0 || fd > 1024)
		return;
	if (write((int)fd, &byte, 1) != 1)
		return;
	while (read((int)fd, &byte, 1) < 0 && errno == EINTR)
		;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: reel inspect FILE [--json]\n\n"
	             "Describe a reel buffer file: format version, geometry, frame rate, audio\n"
	             "format, source identity, coordinator, sections, sizes on disk, slot states\n"
	             "and journal.  The file is validated first; a damaged or foreign file is\n"
	             "refused with one line naming the problem (exit status 2).\n\n"
	             "options:\n"
	             "  --json     print one JSON object instead of text\n"
	             "  --help     show this help\n");
}

static void collect(struct reel_buffer *b, struct summary *s)
{
	const struct reel_buffer_info *info = reel_buffer_info(b);

	s->info = info;
	s->pid = reel_buffer_coordinator_pid(b);
	/* EPERM still means someone has that pid. */
	s->pid_alive = s->pid != 0 && (kill((pid_t)s->pid, 0) == 0 || errno == EPERM);
	s->generation = reel_buffer_generation(b);
	s->index_complete = reel_index_complete(b);
	s->frames = reel_buffer_frames(b);
	for (uint32_t i = 0; i < info->slot_count; i++) {
		struct reel_slot_info si;

		if (reel_slot_get(b, i, &si) < 0 || si.state >= REEL_SLOT_STATE_COUNT)
			s->slots_damaged++;
		else
			s->slot_states[si.state]++;
	}
	{
		struct reel_journal_scan sc;

		/*
		 * The entries say where the journal ends (the stored count is only
		 * their cross-check); a damaged journal shows everything written,
		 * and where a replay would stop.
		 */
		if (reel_journal_scan(b, &sc) < 0) {
			s->journal_first_damaged = sc.damaged;
			s->journal_count = sc.written > sc.damaged ? sc.written : sc.damaged;
		} else {
			s->journal_count = sc.valid;
		}
	}
	for (uint64_t seq = 1; seq <= s->journal_count; seq++) {
		struct reel_journal_entry e;

		if (reel_journal_read(b, seq, &e) < 0)
			s->journal_damaged++;
		else
			s->journal_states[e.state]++;
	}
	for (int i = 0; i < 32; i++)
		snprintf(s->hash + 2 * i, 3, "%02x", info->source.hash[i]);
}

/*
 * collect() with SIGBUS caught; REEL_E_TRUNCATED when the file shrank under
 * the mapping.  Its own function so that no local of the caller lives
 * across the siglongjmp.
 */
static int collect_guarded(struct reel_buffer *b, struct summary *s)
{
	struct sigaction bus, old;
	int r = 0;

	memset(&bus, 0, sizeof(bus));
	bus.sa_handler = on_sigbus;
	sigemptyset(&bus.sa_mask);
	if (sigaction(SIGBUS, &bus, &old) < 0)
		return -errno;
	/* savemask 1: the SIGBUS blocked in the handler is unblocked again on the way out. */
	if (sigsetjmp(bus_jump, 1) == 0)
		collect(b, s);
	else
		r = REEL_E_TRUNCATED;
	sigaction(SIGBUS, &old, NULL);
	return r;
}

static void format_mtime(int64_t mtime_ns, char *buf, size_t len)
{
	time_t t = (time_t)(mtime_ns / 1000000000);
	struct tm tm;

	if (mtime_ns < 0 || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "%" PRId64 " ns", mtime_ns);
}

static void print_section(const char *name, uint64_t offset, uint64_t size)
{
	char human[32];

	printf("  %-12s offset %14" PRIu64 "  size %14" PRIu64 "  (%s)\n", name, offset, size,
	       cli_human_size(size, human, sizeof(human)));
}

static void print_text(const char *path, const struct summary *s)
{
	const struct reel_buffer_info *in = s->info;
	char h1[32], h2[32], when[64];

	printf("%s: reel buffer file, format version %" PRIu32 "\n", path, in->version);
	printf("  %-16s %" PRIu32 "x%" PRIu32 " yuv420p, plane strides %" PRIu32 "/%" PRIu32
	       "/%" PRIu32 "\n", "geometry", in->width, in->height,
	       in->plane_stride[0], in->plane_stride[1], in->plane_stride[2]);
	printf("  %-16s %" PRId32 "/%" PRId32 " (%.3f fps)\n", "frame rate",
	       in->frame_rate.num, in->frame_rate.den,
	       (double)in->frame_rate.num / in->frame_rate.den);
	printf("  %-16s %" PRId32 "/%" PRId32 "\n", "time base", in->time_base.num, in->time_base.den);
	if (s->frames)
		printf("  %-16s %" PRIu64 "\n", "frames", s->frames);
	else
		printf("  %-16s not counted yet (room for %" PRIu64 ")\n", "frames", in->frame_count);
	if (in->sample_fmt == REEL_SAMPLE_NONE)
		printf("  %-16s none\n", "audio");
	else
		printf("  %-16s %" PRIu32 " Hz, %" PRIu32 " channel%s, float32 interleaved, "
		       "%" PRIu32 " samples per slot\n", "audio", in->sample_rate, in->channels,
		       in->channels == 1 ? "" : "s", in->audio_capacity);
	format_mtime(in->source.mtime_ns, when, sizeof(when));
	printf("  %-16s %s\n", "source", in->source.path[0] ? in->source.path : "(none)");
	printf("  %-16s %" PRIu64 " bytes, modified %s\n", "", in->source.size, when);
	printf("  %-16s %s\n", "source hash", s->hash);
	{
		char fmt[128];
		int changed = cli_describe_format(&in->format, fmt, sizeof(fmt));
		printf("  %-16s %s%s\n", "source pictures", fmt,
		       changed > 0 ? "; kept as 8-bit 4:2:0, limited range" : "");
	}
	if (s->pid)
		printf("  %-16s pid %" PRIu32 " (%s), generation %" PRIu64 "\n", "coordinator",
		       s->pid, s->pid_alive ? "running" : "not running", s->generation);
	else
		printf("  %-16s none, generation %" PRIu64 "\n", "coordinator", s->generation);
	printf("  %-16s %s\n", "frame index", s->index_complete ? "complete" : "not complete");

	printf("sections:\n");
	print_section("header", 0, 4096);
	print_section("index", in->index_offset, in->index_size);
	print_section("journal", in->journal_offset, in->journal_size);
	print_section("slot table", in->slot_table_offset, in->slot_table_size);
	print_section("stage table", in->stages_offset, in->stages_size);
	print_section("slots", in->slots_offset, in->slots_size);
	printf("  %-12s %" PRIu32 " x %" PRIu64 " bytes (%s)\n", "slot stride", in->slot_count,
	       in->slot_stride, cli_human_size(in->slot_stride, h1, sizeof(h1)));

	printf("disk:\n");
	printf("  %-12s %s (%" PRIu64 " bytes)\n", "apparent",
	       cli_human_size(s->apparent, h1, sizeof(h1)), s->apparent);
	printf("  %-12s %s (%" PRIu64 " bytes)\n", "allocated",
	       cli_human_size(s->allocated, h2, sizeof(h2)), s->allocated);

	printf("slots: %" PRIu32 "\n ", in->slot_count);
	for (int i = 0; i < REEL_SLOT_STATE_COUNT; i++)
		printf(" %s %" PRIu64 ",", reel_slot_state_name((uint32_t)i), s->slot_states[i]);
	printf(" damaged %" PRIu64 "\n", s->slots_damaged);

	printf("journal: %" PRIu64 " of %" PRIu32 " entries\n ", s->journal_count,
	       in->journal_capacity);
	for (int i = 0; i < REEL_JOURNAL_STATE_COUNT; i++)
		printf(" %s %" PRIu64 ",", journal_keys[i], s->journal_states[i]);
	printf(" damaged %" PRIu64 "\n", s->journal_damaged);
	if (s->journal_first_damaged)
		printf("journal damaged at entry %" PRIu64 ": a reopen stops there ('reel open "
		       "--salvage-journal' keeps the entries before it)\n", s->journal_first_damaged);
}

static void json_section(const char *name, uint64_t offset, uint64_t size, bool last)
{
	printf("\"%s\":{\"offset\":%" PRIu64 ",\"size\":%" PRIu64 "}%s", name, offset, size,
	       last ? "" : ",");
}

static void print_json(const char *path, const struct summary *s)
{
	const struct reel_buffer_info *in = s->info;

	printf("{\"file\":");
	cli_json_string(stdout, path);
	printf(",\"version\":%" PRIu32, in->version);
	printf(",\"width\":%" PRIu32 ",\"height\":%" PRIu32 ",\"pix_fmt\":\"yuv420p\"",
	       in->width, in->height);
	printf(",\"plane_strides\":[%" PRIu32 ",%" PRIu32 ",%" PRIu32 "]",
	       in->plane_stride[0], in->plane_stride[1], in->plane_stride[2]);
	printf(",\"frame_rate\":{\"num\":%" PRId32 ",\"den\":%" PRId32 "}",
	       in->frame_rate.num, in->frame_rate.den);
	printf(",\"time_base\":{\"num\":%" PRId32 ",\"den\":%" PRId32 "}",
	       in->time_base.num, in->time_base.den);
	if (s->frames)
		printf(",\"frames\":%" PRIu64, s->frames);
	else
		printf(",\"frames\":null");
	printf(",\"frame_capacity\":%" PRIu64 ",\"slots\":%" PRIu32 ",\"slot_stride\":%" PRIu64,
	       in->frame_count, in->slot_count, in->slot_stride);
	printf(",\"audio\":{\"sample_fmt\":\"%s\",\"sample_rate\":%" PRIu32 ",\"channels\":%" PRIu32
	       ",\"samples_per_slot\":%" PRIu32 "}",
	       in->sample_fmt == REEL_SAMPLE_NONE ? "none" : "f32", in->sample_rate, in->channels,
	       in->audio_capacity);
	printf(",\"source\":{\"path\":");
	cli_json_string(stdout, in->source.path);
	printf(",\"size\":%" PRIu64 ",\"mtime_ns\":%" PRId64 ",\"hash\":\"%s\"",
	       in->source.size, in->source.mtime_ns, s->hash);
	{
		char fmt[128];
		int changed = cli_describe_format(&in->format, fmt, sizeof(fmt));
		printf(",\"pix_fmt\":");
		cli_json_string(stdout, in->format.pix_fmt);
		printf(",\"codec\":");
		cli_json_string(stdout, in->format.codec);
		printf(",\"bits\":%u,\"chroma\":%u,\"color_range\":\"%s\",\"colorspace\":%u,"
		       "\"converted\":%s}",
		       in->format.bits, in->format.chroma, in->format.full_range ? "full" : "limited",
		       in->format.colorspace, changed > 0 ? "true" : "false");
	}
	printf(",\"coordinator\":{\"pid\":%" PRIu32 ",\"running\":%s,\"generation\":%" PRIu64 "}",
	       s->pid, s->pid_alive ? "true" : "false", s->generation);
	printf(",\"index_complete\":%s", s->index_complete ? "true" : "false");
	printf(",\"file_size\":%" PRIu64 ",\"sections\":{", in->file_size);
	json_section("header", 0, 4096, false);
	json_section("index", in->index_offset, in->index_size, false);
	json_section("journal", in->journal_offset, in->journal_size, false);
	json_section("slot_table", in->slot_table_offset, in->slot_table_size, false);
	json_section("stages", in->stages_offset, in->stages_size, false);
	json_section("slots", in->slots_offset, in->slots_size, true);
	printf("},\"apparent_bytes\":%" PRIu64 ",\"allocated_bytes\":%" PRIu64,
	       s->apparent, s->allocated);
	printf(",\"slot_states\":{");
	for (int i = 0; i < REEL_SLOT_STATE_COUNT; i++)
		printf("\"%s\":%" PRIu64 ",", reel_slot_state_name((uint32_t)i), s->slot_states[i]);
	printf("\"damaged\":%" PRIu64 "}", s->slots_damaged);
	printf(",\"journal\":{\"count\":%" PRIu64 ",\"capacity\":%" PRIu32 ",",
	       s->journal_count, in->journal_capacity);
	for (int i = 0; i < REEL_JOURNAL_STATE_COUNT; i++)
		printf("\"%s\":%" PRIu64 ",", journal_keys[i], s->journal_states[i]);
	printf("\"damaged\":%" PRIu64 ",\"first_damaged\":%" PRIu64 "}}\n", s->journal_damaged,
	       s->journal_first_damaged);
}

int cmd_inspect(int argc, char **argv)
{
	struct reel_buffer *b = NULL;
	struct summary s;
	const char *path = NULL;
	bool json = false;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return CLI_OK;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--")) {
			if (i + 2 != argc || path)
				return cli_error(CLI_USAGE, "inspect",
				                 "expected exactly one FILE (see 'reel inspect --help')");
			path = argv[i + 1];
			break;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return cli_error(CLI_USAGE, "inspect", "unknown option '%s' (see 'reel inspect --help')",
			                 argv[i]);
		} else if (path) {
			return cli_error(CLI_USAGE, "inspect",
			                 "expected exactly one FILE (see 'reel inspect --help')");
		} else {
			path = argv[i];
		}
	}
	if (!path)
		return cli_error(CLI_USAGE, "inspect", "missing FILE (see 'reel inspect --help')");

	r = reel_buffer_open_readonly(path, &b);
	if (r < 0)
		return cli_error(CLI_USAGE, "inspect", "%s: %s", path, reel_strerror(r));
	test_sync();
	memset(&s, 0, sizeof(s));
	r = reel_buffer_disk_usage(b, &s.apparent, &s.allocated);
	if (r < 0) {
		reel_buffer_close(b);
		return cli_error(CLI_USAGE, "inspect", "%s: %s", path, reel_strerror(r));
	}
	r = collect_guarded(b, &s);
	if (r < 0) {
		reel_buffer_close(b);
		if (r == REEL_E_TRUNCATED)
			return cli_error(CLI_USAGE, "inspect",
			                 "%s: buffer file truncated while being read", path);
		return cli_error(CLI_FAIL, "inspect", "%s: %s", path, reel_strerror(r));
	}
	if (json)
		print_json(path, &s);
	else
		print_text(path, &s);
	/* Not before: s.info points into the handle. */
	reel_buffer_close(b);
	if (fflush(stdout) != 0)
		return cli_error(CLI_FAIL, "inspect", "writing output: %s", strerror(errno));
	return CLI_OK;
}
