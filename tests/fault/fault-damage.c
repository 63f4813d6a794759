/*
 * Fault 8: damaged buffer files.  Two reference buffers are made by real
 * sessions (a slot for every frame, and a small cache where slots are
 * reused), with three edits journaled and every frame materialised and
 * read back as the reference pictures.  Then 1,000 variants, each with one
 * to three bytes flipped in the header page, the index, the journal (its
 * entries or its count) or the slot table, are opened as every process
 * opens a buffer (read-write as a coordinator, read-only as a client), and
 * judged:
 *
 *   - the open fails with a specific reel error; or
 *   - it opens, and: a damaged journal entry is reported at its own
 *     position (nothing after it replayed) and a damaged count loses no
 *     entry; a damaged index is not taken as complete (it is scanned
 *     again); every slot the coordinator would adopt holds exactly the
 *     reference picture of the frame it names.
 *
 * A flipped byte is restored after each variant, so one file serves them
 * all.  Then a dozen variants are opened by a real coordinator and read in
 * full by a client: each either opens and serves every frame identical to
 * the reference, or refuses with a non-zero exit and a line naming the
 * problem; a damaged journal refuses without --salvage-journal and, with
 * it, keeps the entries before the damage and saves the rest beside the
 * buffer.  "lost" counts wrong pictures served and edits dropped silently.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buffer-faults.h"
#include "buffer/buffer-private.h"
#include "buffer/buffer.h"
#include "buffer/journal.h"
#include "buffer/layout.h"
#include "buffer/slot.h"
#include "fault.h"
#include "reel/error.h"
#include "testutil.h"

#define VARIANTS 1000
#define REOPENS 12
#define EDITS 3

enum region { R_HEADER, R_INDEX, R_JOURNAL, R_SLOTS, R_COUNT };
static const char *const region_names[R_COUNT] = { "header", "index", "journal", "slot table" };

struct reference {
	char path[4096];
	uint8_t *frames;            /* every frame, packed, as a client read it */
	size_t frame_bytes;
	uint64_t frame_count;
	uint32_t slot_count;
	uint8_t *index;             /* the index section's entries as written */
	struct reel_buffer_info info;
};

struct tally {
	unsigned tries, held, lost;
	unsigned refused[R_COUNT], opened[R_COUNT];
	unsigned journal_stops, count_repairs, index_rescans, slots_refused, slots_checked;
};

static const char *clip;
static char edits_path[4096], log_path[4096];

/* Make a reference buffer with a real session: the edits, every frame read back. */
static int make_reference(const char *dir, const char *name, const char *cache,
                          struct reference *ref)
{
	const char *extra[] = { "--edits", edits_path, cache ? "--cache" : NULL, cache, NULL };
	char session[64];
	struct reel_buffer *b;
	int errors[4096], r;
	pid_t pid;

	snprintf(ref->path, sizeof(ref->path), "%s/%s.reel", dir, name);
	tu_session_name(session, sizeof(session));
	pid = bf_open(clip, session, ref->path, log_path, extra, NULL);
	if (pid < 0)
		return -1;
	r = reel_buffer_open_readonly(ref->path, &b);
	if (r < 0)
		return -1;
	ref->info = *reel_buffer_info(b);
	reel_buffer_close(b);
	ref->frame_count = ref->info.frame_count;
	ref->slot_count = ref->info.slot_count;
	ref->frame_bytes = bf_frame_bytes(ref->info.width, ref->info.height);
	ref->frames = calloc(ref->frame_count, ref->frame_bytes);
	if (!ref->frames || ref->frame_count > 4096)
		return -1;
	r = bf_read_frames(session, 0, ref->frame_count, ref->frames, errors);
	if (bf_stop(session, pid) != 0 || r != (int)ref->frame_count)
		return -1;
	/* The index as the coordinator wrote it: a damaged one taken as complete would differ. */
	r = reel_buffer_open_readonly(ref->path, &b);
	if (r < 0)
		return -1;
	ref->index = malloc(ref->frame_count * sizeof(struct reel_index_entry));
	if (!ref->index)
		return -1;
	memcpy(ref->index, b->index, ref->frame_count * sizeof(struct reel_index_entry));
	if (reel_journal_count(b) != EDITS) {
		reel_buffer_close(b);
		return -1;
	}
	reel_buffer_close(b);
	printf("reference %s: %" PRIu64 " frames, %u slots\n", name, ref->frame_count, ref->slot_count);
	return 0;
}

/* The byte range a region's damage falls in. */
static void region_range(const struct reference *ref, enum region region, uint64_t *ret_start,
                         uint64_t *ret_len)
{
	switch (region) {
	case R_HEADER:
		*ret_start = 0;
		*ret_len = REEL__HEADER_SIZE;
		break;
	case R_INDEX:
		*ret_start = ref->info.index_offset;
		*ret_len = ref->frame_count * sizeof(struct reel_index_entry);
		break;
	case R_JOURNAL:
		*ret_start = ref->info.journal_offset;
		/* The written entries and the next one (which must stay empty). */
		*ret_len = (EDITS + 1) * sizeof(struct reel_journal_entry);
		break;
	default:
		*ret_start = ref->info.slot_table_offset;
		*ret_len = (uint64_t)ref->slot_count * sizeof(struct reel__slot);
		break;
	}
}

/* The first journal entry (1-based) a flip landed in; 0 when none did. */
static uint64_t first_entry_hit(const struct reference *ref, const uint64_t *offs, int n)
{
	uint64_t best = 0;

	for (int i = 0; i < n; i++) {
		uint64_t e;

		if (offs[i] < ref->info.journal_offset)
			continue;
		e = (offs[i] - ref->info.journal_offset) / sizeof(struct reel_journal_entry) + 1;
		if (e <= ref->info.journal_capacity && (best == 0 || e < best))
			best = e;
	}
	return best;
}

/*
 * The slots a coordinator would adopt (slot.c's checks, then materialise.c's:
 * READY, even version, up to date with the journal, one slot per frame)
 * must each hold the reference picture of their frame.  Returns how many
 * wrong pictures would be served.
 */
static unsigned check_slots(struct reel_buffer *b, const struct reference *ref, uint64_t journal,
                            struct tally *t)
{
	uint8_t claims[4096] = { 0 }, *pixels = malloc(ref->frame_bytes);
	unsigned wrong = 0;

	if (!pixels)
		return 1;
	/* Pictures that lived in RAM are forgotten, slots and all (a flip can say so). */
	if (__atomic_load_n(&reel__pictures_record(b)->elsewhere, __ATOMIC_ACQUIRE)) {
		free(pixels);
		return 0;
	}
	for (uint32_t s = 0; s < ref->slot_count; s++) {
		struct reel_slot_info si;

		if (reel_slot_get(b, s, &si) == 0 && si.state == REEL_SLOT_READY && si.frame >= 0 &&
		    si.frame < 4096 && claims[si.frame] < 2)
			claims[si.frame]++;
	}
	for (uint32_t s = 0; s < ref->slot_count; s++) {
		struct reel_slot_info si;
		int r = reel_slot_get(b, s, &si);

		if (r < 0) {
			t->slots_refused++;
			continue;
		}
		if (si.state != REEL_SLOT_READY || si.frame < 0 || si.frame >= 4096 || (si.version & 1u) ||
		    si.journal_seq != journal || claims[si.frame] != 1)
			continue;
		t->slots_checked++;
		bf_pack_slot(b, s, pixels);
		if (memcmp(pixels, ref->frames + (size_t)si.frame * ref->frame_bytes, ref->frame_bytes)) {
			printf("slot %u accepted as frame %" PRId64 " with another picture\n", s, si.frame);
			wrong++;
		}
	}
	free(pixels);
	return wrong;
}

/*
 * Open one damaged variant as a coordinator and as a reader would; true when
 * it held.  *lost gets wrong pictures accepted and edits dropped silently.
 */
static bool judge(const struct reference *ref, enum region region, const uint64_t *offs, int n,
                  struct tally *t, unsigned *lost)
{
	struct reel_buffer *b = NULL, *ro = NULL;
	struct reel_journal_scan sc;
	bool held = true;
	int r, rro;

	*lost = 0;
	r = reel_buffer_open(ref->path, &b);
	rro = reel_buffer_open_readonly(ref->path, &ro);
	if (r < 0 || rro < 0) {
		reel_buffer_close(b);
		reel_buffer_close(ro);
		t->refused[region]++;
		/* A specific reel error, the same for a reader and a writer. */
		if (r != rro || r < REEL_E_FIRST || r >= REEL_E_LAST) {
			printf("%s damage: open gave %d (%s), read-only %d\n", region_names[region], r,
			       reel_strerror(r), rro);
			return false;
		}
		return true;
	}
	t->opened[region]++;

	r = reel_journal_scan(b, &sc);
	if (r == REEL_E_JOURNAL) {
		uint64_t entry = first_entry_hit(ref, offs, n);

		t->journal_stops++;
		/* Only journal damage, found at the first damaged entry, never past it. */
		if (region != R_JOURNAL || entry == 0 || sc.damaged > entry) {
			printf("journal reported damaged at %" PRIu64 " after %s damage\n", sc.damaged,
			       region_names[region]);
			held = false;
		}
	} else if (r == 0) {
		if (sc.count_repair)
			t->count_repairs++;
		if (sc.valid != EDITS) {
			printf("journal scan clean with %" PRIu64 " of %d entries (%s damage)\n", sc.valid,
			       EDITS, region_names[region]);
			(*lost)++;
			held = false;
		}
	} else {
		held = false;
	}

	if (!reel_index_complete(b)) {
		t->index_rescans++;
	} else if (memcmp(b->index, ref->index, ref->frame_count * sizeof(struct reel_index_entry))) {
		printf("a damaged index was taken as complete\n");
		(*lost)++;
		held = false;
	}

	/* What the coordinator would adopt, and what a reader would accept, alike. */
	*lost += check_slots(b, ref, r == 0 ? sc.valid : 0, t);
	*lost += check_slots(ro, ref, r == 0 ? sc.valid : 0, t);
	if (*lost)
		held = false;
	reel_buffer_close(b);
	reel_buffer_close(ro);
	return held;
}

/* XOR n bytes of the file in place, keeping what they were in orig. */
static void flip_bytes(const char *path, const uint64_t *offs, uint8_t *orig, const uint8_t *xors,
                       int n)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < n; i++) {
		uint8_t v;

		if (pread(fd, &orig[i], 1, (off_t)offs[i]) != 1)
			break;
		v = orig[i] ^ xors[i];
		if (pwrite(fd, &v, 1, (off_t)offs[i]) != 1)
			break;
	}
	close(fd);
}

/* Put the bytes back, last first, so that a byte flipped twice comes back as it was. */
static void restore_bytes(const char *path, const uint64_t *offs, const uint8_t *orig, int n)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = n - 1; i >= 0; i--)
		if (pwrite(fd, &orig[i], 1, (off_t)offs[i]) != 1)
			break;
	close(fd);
}

/* Pick one to three offsets in the region; the first is the lowest. */
static int pick(const struct reference *ref, enum region region, uint64_t *rng, uint64_t *offs,
                uint8_t *xors)
{
	uint64_t start, len;
	int n = 1 + (int)(bf_rand(rng) % 3);

	region_range(ref, region, &start, &len);
	for (int i = 0; i < n; i++) {
		/* The journal's count and its check word are part of its damage too. */
		if (region == R_JOURNAL && bf_rand(rng) % 4 == 0)
			offs[i] = REEL__LIVE_OFFSET + offsetof(struct reel__header_live, journal_count) +
			          bf_rand(rng) % 16;
		else
			offs[i] = start + bf_rand(rng) % len;
		xors[i] = (uint8_t)(1u + bf_rand(rng) % 255);
	}
	for (int i = 1; i < n; i++)
		if (offs[i] < offs[0]) {
			uint64_t o = offs[0];
			uint8_t x = xors[0];
			offs[0] = offs[i];
			xors[0] = xors[i];
			offs[i] = o;
			xors[i] = x;
		}
	return n;
}

/*
 * A variant opened by a real coordinator and read in full.  Journal entry
 * damage must be refused (exit 2, the entry named), and then salvaged.
 */
static bool full_reopen(const char *dir, const struct reference *ref, enum region region, int k,
                        uint64_t *rng, unsigned *lost)
{
	char path[4200], session[64], side[4300];
	const char *salvage[] = { "--salvage-journal", NULL };
	uint64_t offs[3];
	uint8_t orig[3], xors[3];
	uint8_t *frames = calloc(ref->frame_count, ref->frame_bytes);
	int errors[4096], code = 0, n, got;
	struct reel_journal_scan sc;
	struct reel_buffer *b;
	bool journal_damaged = false, held = false;
	char *log = NULL;
	pid_t pid;

	*lost = 0;
	if (!frames)
		return false;
	snprintf(path, sizeof(path), "%s/variant-%d.reel", dir, k);
	if (bf_copy_file(ref->path, path) < 0)
		goto out;
	n = pick(ref, region, rng, offs, xors);
	flip_bytes(path, offs, orig, xors, n);
	/* What the library finds decides what the command must do. */
	if (reel_buffer_open_readonly(path, &b) == 0) {
		journal_damaged = reel_journal_scan(b, &sc) == REEL_E_JOURNAL;
		reel_buffer_close(b);
	}
	tu_session_name(session, sizeof(session));
	tu_write_file(log_path, "", 0);
	pid = bf_open(clip, session, path, log_path, NULL, &code);
	log = tu_slurp(log_path, NULL);
	if (pid < 0) {
		/* Refused: non-zero, one line saying why. */
		held = code > 0 && log && strstr(log, "reel open:");
		printf("reopen %d (%s damage): refused, exit %d: %s", k, region_names[region], code,
		       log ? log : "(no log)\n");
		if (journal_damaged && held) {
			held = strstr(log, "journal entry") && strstr(log, "--salvage-journal");
			pid = bf_open(clip, session, path, log_path, salvage, &code);
			snprintf(side, sizeof(side), "%s.journal-%" PRIu64 ".damaged", path, sc.damaged);
			if (pid < 0) {
				printf("reopen %d: --salvage-journal did not open (exit %d)\n", k, code);
				held = false;
			} else {
				got = bf_read_frames(session, 0, ref->frame_count, frames, errors);
				held = held && got == (int)ref->frame_count && access(side, F_OK) == 0;
				held = bf_stop(session, pid) == 0 && held;
				printf("reopen %d: salvaged (damaged tail in %s), %d frames served\n", k,
				       strrchr(side, '/') + 1, got);
			}
		}
	} else {
		if (journal_damaged) {
			printf("reopen %d: a damaged journal was not refused\n", k);
			(*lost)++;
		}
		got = bf_read_frames(session, 0, ref->frame_count, frames, errors);
		for (uint64_t f = 0; f < ref->frame_count; f++)
			if (errors[f] == 0 && memcmp(frames + f * ref->frame_bytes,
			                             ref->frames + f * ref->frame_bytes, ref->frame_bytes))
				(*lost)++;
		held = bf_stop(session, pid) == 0 && got == (int)ref->frame_count && *lost == 0;
		printf("reopen %d (%s damage): opened, %d of %" PRIu64 " frames served, %u wrong\n", k,
		       region_names[region], got, ref->frame_count, *lost);
	}
out:
	free(log);
	free(frames);
	return held;
}

int main(void)
{
	char *dir = tu_private_env();
	char buffers[4096];
	struct reference refs[2];
	struct tally t;
	uint64_t rng = 0x5eed0008;
	char note[512];

	/* Progress lines as they happen, also into meson's log. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/*
	 * Pictures in the buffer file, where a damaged slot table could make a
	 * coordinator adopt a wrong one: in RAM they go with the session, and
	 * the next coordinator forgets every slot.
	 */
	setenv("REEL_PICTURES_DIR", "", 1);
	memset(&t, 0, sizeof(t));
	memset(refs, 0, sizeof(refs));
	clip = tu_clip("h264-bframes.mp4");
	if (!dir || !clip) {
		printf("no clip or temp folder\n");
		return 1;
	}
	snprintf(buffers, sizeof(buffers), "%s", getenv("REEL_BUFFER_DIR"));
	snprintf(edits_path, sizeof(edits_path), "%s/edits.txt", dir);
	snprintf(log_path, sizeof(log_path), "%s/open.log", dir);
	tu_write_file(edits_path, "brightness 0.1\ncontrast 1.3 --frames 10-30\nvflip --frames 40-\n",
	              strlen("brightness 0.1\ncontrast 1.3 --frames 10-30\nvflip --frames 40-\n"));
	if (make_reference(buffers, "full", NULL, &refs[0]) < 0 ||
	    make_reference(buffers, "small", "2M", &refs[1]) < 0) {
		char *log = tu_slurp(log_path, NULL);
		printf("could not make the reference buffers: %s\n", log ? log : "");
		free(log);
		tu_rmrf(dir);
		return 1;
	}

	for (int i = 0; i < VARIANTS; i++) {
		const struct reference *ref = &refs[i % 2];
		enum region region = (enum region)((i / 2) % R_COUNT);
		uint64_t offs[3];
		uint8_t orig[3], xors[3];
		unsigned lost;
		int n = pick(ref, region, &rng, offs, xors);
		bool held;

		flip_bytes(ref->path, offs, orig, xors, n);
		held = judge(ref, region, offs, n, &t, &lost);
		restore_bytes(ref->path, offs, orig, n);
		t.tries++;
		t.held += held;
		t.lost += lost;
		if (!held)
			printf("variant %d: %s damage at %" PRIu64 " (+%d more) did not hold\n", i,
			       region_names[region], offs[0], n - 1);
		if ((i + 1) % 250 == 0)
			printf("%d variants opened\n", i + 1);
	}
	printf("opened/refused: header %u/%u, index %u/%u, journal %u/%u, slot table %u/%u; journal "
	       "stops %u, count repairs %u, index rescans %u, slot entries refused %u, adopted and "
	       "compared %u\n", t.opened[R_HEADER], t.refused[R_HEADER], t.opened[R_INDEX],
	       t.refused[R_INDEX], t.opened[R_JOURNAL], t.refused[R_JOURNAL], t.opened[R_SLOTS],
	       t.refused[R_SLOTS], t.journal_stops, t.count_repairs, t.index_rescans, t.slots_refused,
	       t.slots_checked);

	for (int k = 0; k < REOPENS; k++) {
		const struct reference *ref = &refs[k % 2];
		enum region region = (enum region)((k / 2) % R_COUNT);
		unsigned lost;
		bool held;

		/* Half of the reopens damage the journal: the refusal and the salvage are what matter most. */
		if (k % 4 == 1)
			region = R_JOURNAL;
		held = full_reopen(buffers, ref, region, k, &rng, &lost);
		t.tries++;
		t.held += held;
		t.lost += lost;
	}

	snprintf(note, sizeof(note), "%d damaged variants opened as coordinator and reader, %d by a "
	         "real session; held = a specific error, or only correct frames and a damaged "
	         "journal refused at its first bad entry", VARIANTS, REOPENS);
	tu_rmrf(dir);
	free(dir);
	for (int i = 0; i < 2; i++) {
		free(refs[i].frames);
		free(refs[i].index);
	}
	return fault_report("damaged buffer files (header, index, journal, slot table)", t.tries,
	                    t.held, t.lost, note);
}
