/*
 * Fault 7: a full disk, on a small tmpfs mounted in a mount namespace of
 * this test's own (root only: exit 77 otherwise).
 *
 *   1. Creating a buffer on a file system with too little room for its
 *      metadata: `reel open` fails with a clear "no space" line and a
 *      non-zero exit, and leaves no file; once there is room, the same
 *      command opens.
 *   2. Frames materialised until the disk is full: every frame read back
 *      is either the reference picture or a clear ENOSPC for that frame
 *      (not "could not be decoded"); the coordinator lives on, and the
 *      frames read before are read again unchanged.
 *   3. The journal grows with the disk full to the last byte: every edit
 *      is acknowledged (the journal was reserved when the buffer was made)
 *      or refused with an error, nothing dies of SIGBUS, and after a
 *      restart with room again every acknowledged edit is in the journal.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "buffer-faults.h"
#include "buffer/buffer.h"
#include "buffer/journal.h"
#include "fault.h"
#include "reel/client.h"
#include "reel/error.h"
#include "reel/ops.h"
#include "testutil.h"

#define EDITS_WHEN_FULL 12

struct tally {
	unsigned tries, held, lost;
};

static const char *clip;
static char log_path[4096];

static int mount_tmpfs(const char *dir, uint64_t bytes, bool remount)
{
	char opts[64];

	snprintf(opts, sizeof(opts), "size=%" PRIu64 ",mode=0700", bytes);
	return mount("tmpfs", dir, "tmpfs", remount ? MS_REMOUNT : 0, opts) < 0 ? -errno : 0;
}

/* Names in dir other than . and .. that are not the session log; how many. */
static int leftovers(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || (len > 4 && !strcmp(de->d_name + len - 4, ".log")))
			continue;
		printf("left behind: %s\n", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* 1: buffer creation with too little room. */
static void create_when_full(const char *mnt, uint64_t metadata, struct tally *t)
{
	const uint64_t sizes[] = { 64 * 1024, 1024 * 1024, metadata / 2, metadata - 8192 };
	char buffer[4400], session[64];

	snprintf(buffer, sizeof(buffer), "%s/new.reel", mnt);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int code = 0;
		bool held;
		char *log;
		pid_t pid;

		if (mount_tmpfs(mnt, sizes[i], false) < 0) {
			t->tries++;
			continue;
		}
		tu_session_name(session, sizeof(session));
		tu_write_file(log_path, "", 0);
		pid = bf_open(clip, session, buffer, log_path, NULL, &code);
		log = tu_slurp(log_path, NULL);
		held = pid < 0 && code > 0 && log && strstr(log, "no space") && leftovers(mnt) == 0;
		printf("create on %" PRIu64 " KiB: exit %d: %s", sizes[i] / 1024, code,
		       log ? log : "(no output)\n");
		free(log);
		if (pid > 0)
			bf_stop(session, pid);
		/* With room again the same open works: nothing blocks it. */
		if (held && mount_tmpfs(mnt, metadata + 64ull * 1024 * 1024, true) == 0) {
			pid = bf_open(clip, session, buffer, log_path, NULL, &code);
			held = pid > 0 && bf_stop(session, pid) == 0;
			if (!held)
				printf("the open with room again failed (exit %d)\n", code);
		}
		umount2(mnt, MNT_DETACH);
		t->tries++;
		t->held += held;
	}
}

/* Fill the file system to the last block; the filler's path. */
static void fill(const char *mnt, char *path, size_t len)
{
	static char block[65536];
	int fd;

	snprintf(path, len, "%s/filler", mnt);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	while (write(fd, block, sizeof(block)) > 0)
		;
	while (write(fd, block, 512) > 0)
		;
	close(fd);
}

/* 2 and 3: frames until the disk is full, then edits with not a byte free. */
static void materialise_when_full(const char *mnt, uint64_t metadata, uint64_t slot_bytes,
                                  const uint8_t *ref, size_t frame_bytes, uint64_t frames,
                                  struct tally *t)
{
	char buffer[4400], session[64], filler[4400];
	uint8_t *got = calloc(frames, frame_bytes), *again = calloc(frames, frame_bytes);
	int *errors = calloc(frames, sizeof(int)), *errors2 = calloc(frames, sizeof(int));
	unsigned served = 0, nospace = 0, other = 0, acked = 0, refused = 0;
	uint64_t seqs[EDITS_WHEN_FULL] = { 0 };
	struct reel_client *c;
	struct reel_buffer *b;
	int code = 0, st;
	pid_t pid;

	if (!got || !again || !errors || !errors2 ||
	    mount_tmpfs(mnt, metadata + 10 * slot_bytes + 256 * 1024, false) < 0) {
		t->tries++;
		goto out;
	}
	snprintf(buffer, sizeof(buffer), "%s/full.reel", mnt);
	tu_session_name(session, sizeof(session));
	pid = bf_open(clip, session, buffer, log_path, NULL, &code);
	if (pid < 0) {
		printf("could not open a session on the small file system (exit %d)\n", code);
		t->tries++;
		goto out_umount;
	}
	bf_read_frames(session, 0, frames, got, errors);
	for (uint64_t f = 0; f < frames; f++) {
		bool ok = errors[f] == 0 && !memcmp(got + f * frame_bytes, ref + f * frame_bytes,
		                                    frame_bytes);
		served += ok;
		nospace += errors[f] == -ENOSPC;
		if (!ok && errors[f] != -ENOSPC) {
			other++;
			printf("frame %" PRIu64 ": %s\n", f, errors[f] ? reel_strerror(errors[f]) :
			                                                "a wrong picture");
		}
		t->tries++;
		t->held += ok || errors[f] == -ENOSPC;
		t->lost += errors[f] == 0 && !ok;
	}
	printf("disk full while materialising: %u frames served, %u refused with ENOSPC, %u other\n",
	       served, nospace, other);
	/* The frames served before are still there, unchanged. */
	bf_read_frames(session, 0, frames, again, errors2);
	for (uint64_t f = 0; f < frames; f++)
		if (errors[f] == 0 && (errors2[f] != 0 || memcmp(again + f * frame_bytes,
		                                                 got + f * frame_bytes, frame_bytes)))
			t->lost++;

	/* 3: not a byte left, and the journal grows. */
	fill(mnt, filler, sizeof(filler));
	if (reel_client_connect(session, &c) == 0) {
		for (int i = 0; i < EDITS_WHEN_FULL; i++) {
			const double params[4] = { 0.01 * (i + 1), 0, 0, 0 };
			int r = reel_client_command(c, REEL_OP_BRIGHTNESS, params, 0, 4, 10000, &seqs[i]);

			if (r == 0)
				acked++;
			else
				refused++;
		}
		reel_client_close(c);
	}
	printf("disk full, %d edits sent: %u acknowledged, %u refused\n", EDITS_WHEN_FULL, acked,
	       refused);
	st = bf_stop(session, pid);
	unlink(filler);
	/* Restarted with room: every acknowledged edit is in the journal. */
	{
		struct reel_journal_scan sc;
		unsigned found = 0;

		if (reel_buffer_open(buffer, &b) == 0) {
			if (reel_journal_scan(b, &sc) == 0) {
				for (int i = 0; i < EDITS_WHEN_FULL; i++) {
					struct reel_journal_entry e;
					found += seqs[i] && reel_journal_read(b, seqs[i], &e) == 0 &&
					         e.op == REEL_OP_BRIGHTNESS;
				}
			}
			reel_buffer_close(b);
		}
		pid = bf_open(clip, session, buffer, log_path, NULL, &code);
		printf("after the restart: %u of %u acknowledged edits in the journal; the session %s\n",
		       found, acked, pid > 0 ? "resumed" : "did not resume");
		t->tries += EDITS_WHEN_FULL;
		t->held += (st == 0 && pid > 0) ? found + refused : 0;
		t->lost += acked - (found < acked ? found : acked);
		if (pid > 0)
			bf_stop(session, pid);
	}
out_umount:
	umount2(mnt, MNT_DETACH);
out:
	free(got);
	free(again);
	free(errors);
	free(errors2);
}

int main(void)
{
	char *dir;
	char mnt[4200], buffer[4200], session[64];
	struct tally t = { 0 };
	uint64_t metadata = 0, slot_bytes = 0, frames = 0;
	uint8_t *ref = NULL;
	size_t frame_bytes = 0;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("skipped: mounting a small tmpfs needs root\n");
		return 77;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("skipped: no mount namespace of our own (%s)\n", strerror(errno));
		return 77;
	}
	dir = tu_private_env();
	clip = tu_clip("h264-bframes.mp4");
	if (!dir || !clip)
		return 1;
	snprintf(log_path, sizeof(log_path), "%s/open.log", dir);
	snprintf(mnt, sizeof(mnt), "%s/small", dir);
	mkdir(mnt, 0700);

	/* The reference, on a disk with room: its pictures and its metadata size. */
	snprintf(buffer, sizeof(buffer), "%s/ref.reel", getenv("REEL_BUFFER_DIR"));
	tu_session_name(session, sizeof(session));
	pid = bf_open(clip, session, buffer, log_path, NULL, NULL);
	if (pid > 0) {
		struct reel_buffer_info info;

		ref = bf_reference(session, buffer, &info, &frame_bytes);
		metadata = info.slots_offset;
		slot_bytes = info.slot_stride;
		frames = info.frame_count;
	}
	if (pid > 0)
		bf_stop(session, pid);
	if (!ref) {
		printf("could not make the reference session\n");
		t.tries++;
	} else {
		printf("reference: %" PRIu64 " frames, %" PRIu64 " KiB of metadata, %" PRIu64
		       " KiB a slot\n", frames, metadata / 1024, slot_bytes / 1024);
		create_when_full(mnt, metadata, &t);
		materialise_when_full(mnt, metadata, slot_bytes, ref, frame_bytes, frames, &t);
	}
	free(ref);
	tu_rmrf(dir);
	free(dir);
	return fault_report("disk full (tmpfs) at create, while materialising, while the journal grows",
	                    t.tries, t.held, t.lost,
	                    "held = a clear ENOSPC or the right result, no file left behind, "
	                    "acknowledged edits and earlier frames intact");
}
