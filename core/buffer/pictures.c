/*
 * Where the decoded pictures live.  The buffer file holds the header,
 * index, journal and tables, and by default it is on disk, where the
 * journal is durable and a stopped session pins no RAM.  Decoded pictures
 * need neither: every one can be decoded again, and on disk they are
 * written back for nothing, which throttles the decoder (measured in
 * docs/ARCHITECTURE.md, "Where pixels live").  So the coordinator puts them
 * in a file of its own on tmpfs, mapped over the slot section of the
 * buffer's mapping so that every offset stays what it is, and removes it
 * when it stops.  The slot section of the buffer file is then a hole.
 *
 * The file is <folder>/<dev>-<ino>-<pid>.pictures: the buffer file's
 * identity and the coordinator's pid, so that a leftover of a coordinator
 * that died is known by its name alone (reel_buffer_sweep_pictures).  The
 * folder is the user's own (mode 0700), made on first use.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/guard.h"
#include "buffer/buffer-private.h"
#include "reel/error.h"

#define SUFFIX ".pictures"

const char *reel_buffer_pictures_dir(char *buf, size_t len)
{
	const char *env = getenv("REEL_PICTURES_DIR");

	/* Set but empty: the pictures stay in the buffer file. */
	if (env && !*env)
		return NULL;
	if (env)
		snprintf(buf, len, "%s", env);
	else
		snprintf(buf, len, "/dev/shm/reel-%u", (unsigned)geteuid());
	return buf;
}

/* The folder, made if missing: ours, a real folder, open to nobody else. */
static int private_folder(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		return REEL_E_BUFFERDIR;
	return 0;
}

static bool coordinator_alive(uint32_t pid)
{
	if (pid == 0 || pid > (uint32_t)INT32_MAX)
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int reel_buffer_sweep_pictures(const char *dir, uint64_t *ret_bytes)
{
	uint64_t bytes = 0;
	struct dirent *e;
	int fd, removed = 0;
	DIR *d;

	if (!dir)
		return 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((e = readdir(d))) {
		unsigned long long dev, ino;
		unsigned pid;
		int end = 0;
		struct stat st;

		if (sscanf(e->d_name, "%llu-%llu-%u" SUFFIX "%n", &dev, &ino, &pid, &end) != 3 ||
		    end <= 0 || e->d_name[end] || coordinator_alive(pid))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    unlinkat(dirfd(d), e->d_name, 0) == 0) {
			bytes += (uint64_t)st.st_blocks * 512;
			removed++;
		}
	}
	closedir(d);
	if (ret_bytes)
		*ret_bytes = bytes;
	return removed;
}

/* fd's pages over the slot section, each part of the mapping watched against its own file. */
static int map_over_slots(struct reel_buffer *b, int fd)
{
	int prot = b->readonly ? PROT_READ : PROT_READ | PROT_WRITE;
	uint8_t *at = b->map + b->info.slots_offset;
	struct statfs sfs;

	if (mmap(at, (size_t)b->info.slots_size, prot, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
		int r = -errno;

		/* A failed MAP_FIXED may have unmapped the range: put the buffer file's pages back. */
		if (mmap(at, (size_t)b->info.slots_size, prot, MAP_SHARED | MAP_FIXED, b->fd,
		         (off_t)b->info.slots_offset) == MAP_FAILED)
			abort();
		return r;
	}
	reel__guard_remove(b->guard);
	b->guard = reel__guard_add(b->map, (size_t)b->info.slots_offset, b->fd, prot);
	b->pictures_guard = reel__guard_add(at, (size_t)b->info.slots_size, fd, prot);
	b->pictures_fd = fd;
	b->on_tmpfs = fstatfs(fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
	return 0;
}

int reel__pictures_attach(struct reel_buffer *b)
{
	struct reel__pictures_live *rec = reel__pictures_record(b);
	char path[REEL__PICTURES_PATH];
	struct stat mine, st;
	int fd, r;

	if (__atomic_load_n(&rec->elsewhere, __ATOMIC_ACQUIRE) != 1 || b->info.slots_size == 0)
		return 0;
	/* Stopped: the pictures went with the coordinator; whoever starts next decodes again. */
	if (!coordinator_alive(reel_buffer_coordinator_pid(b)))
		return 0;
	memcpy(path, rec->path, sizeof(path));
	if (path[0] != '/' || !memchr(path, 0, sizeof(path)))
		return REEL_E_PICTURES;
	fd = open(path, (b->readonly ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return REEL_E_PICTURES;
	/* The session's own: made by the buffer file's owner, for nobody else, of the slots' size. */
	if (fstat(fd, &st) < 0 || fstat(b->fd, &mine) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != mine.st_uid || (st.st_mode & 077) || (uint64_t)st.st_size != b->info.slots_size) {
		r = REEL_E_PICTURES;
		goto out_close;
	}
	r = map_over_slots(b, fd);
	if (r < 0)
		goto out_close;
	memcpy(b->pictures_path, path, sizeof(path));
	return 0;

out_close:
	close(fd);
	return r;
}

void reel__pictures_detach(struct reel_buffer *b)
{
	reel__guard_remove(b->pictures_guard);
	b->pictures_guard = -1;
	if (b->pictures_fd != b->fd)
		close(b->pictures_fd);
	if (b->pictures_owner == getpid() && b->pictures_path[0])
		unlink(b->pictures_path);
}

/* The pictures file made and mapped; on failure nothing is left of it. */
static int move_pictures(struct reel_buffer *b, const char *dir)
{
	struct reel__pictures_live *rec = reel__pictures_record(b);
	char path[REEL__PICTURES_PATH];
	struct statvfs vfs;
	struct stat st;
	int fd, r;

	r = private_folder(dir);
	if (r < 0)
		return r;
	(void)reel_buffer_sweep_pictures(dir, NULL);
	/* Room for the whole cache, or the decoder would meet ENOSPC halfway through a film. */
	if (statvfs(dir, &vfs) < 0)
		return -errno;
	if ((uint64_t)vfs.f_bavail * vfs.f_frsize < b->info.slots_size)
		return -ENOSPC;
	if (fstat(b->fd, &st) < 0)
		return -errno;
	/* Zeros after the name: the whole record goes into the file. */
	memset(path, 0, sizeof(path));
	if ((size_t)snprintf(path, sizeof(path), "%s/%ju-%ju-%ld" SUFFIX, dir, (uintmax_t)st.st_dev,
	                     (uintmax_t)st.st_ino, (long)getpid()) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)b->info.slots_size) < 0) {
		r = -errno;
		goto out_unlink;
	}
	r = map_over_slots(b, fd);
	if (r < 0)
		goto out_unlink;
	memcpy(b->pictures_path, path, sizeof(path));
	b->pictures_owner = getpid();
	/* The old pictures in the buffer file are forgotten with their slots: give the disk back. */
	(void)fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)b->info.slots_offset,
	                (off_t)b->info.slots_size);
	memcpy(rec->path, path, sizeof(path));
	__atomic_store_n(&rec->elsewhere, 1, __ATOMIC_RELEASE);
	return 0;

out_unlink:
	close(fd);
	unlink(path);
	return r;
}

int reel_buffer_place_pictures(struct reel_buffer *b, const char *dir, bool *ret_forget)
{
	struct reel__pictures_live *rec;
	bool was_elsewhere;
	int r = 0;

	if (b->readonly || b->pictures_fd != b->fd)
		return -EBADF;
	rec = reel__pictures_record(b);
	was_elsewhere = __atomic_load_n(&rec->elsewhere, __ATOMIC_ACQUIRE) != 0;
	/* A buffer already in RAM gains nothing from a second file. */
	if (dir && !b->on_tmpfs && b->info.slots_size) {
		r = move_pictures(b, dir);
		if (r == 0) {
			*ret_forget = true;
			r = 1;
			goto out;
		}
	}
	*ret_forget = was_elsewhere;
	__atomic_store_n(&rec->elsewhere, 0, __ATOMIC_RELEASE);
	memset(rec->path, 0, sizeof(rec->path));
out:
	(void)reel__msync_range(b, b->map, REEL__HEADER_SIZE);
	return r;
}

const char *reel_buffer_pictures_path(const struct reel_buffer *b)
{
	return b->pictures_fd != b->fd ? b->pictures_path : NULL;
}
