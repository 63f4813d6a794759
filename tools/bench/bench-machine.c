/*
 * What reel-bench finds out about the machine it runs on, for the parts
 * and for `all`'s description of it: a program in PATH, the filesystem
 * that holds a folder.
 */
#include "bench/bench.h"

#include <sys/statfs.h>

int bench_which(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char dir[PATH_MAX];

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		if (n > 0 && n < sizeof(dir)) {
			memcpy(dir, path, n);
			dir[n] = 0;
			if ((size_t)snprintf(buf, len, "%s/%s", dir, name) < len && access(buf, X_OK) == 0)
				return 0;
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return -ENOENT;
}

/*
 * The filesystem of path: the mount whose mount point is the longest prefix
 * of its real path, from /proc/self/mountinfo; statfs's magic when that is
 * not readable.
 */
int bench_fs_type(const char *path, char *buf, size_t len)
{
	static const struct { unsigned long magic; const char *name; } magics[] = {
		{ 0xef53, "ext2/3/4" }, { 0x01021994, "tmpfs" }, { 0x58465342, "xfs" },
		{ 0x9123683e, "btrfs" }, { 0x794c7630, "overlay" }, { 0x6969, "nfs" },
		{ 0x2fc12fc1, "zfs" }, { 0xf2f52010, "f2fs" },
	};
	char real[PATH_MAX], line[4096], best[64] = "";
	size_t best_len = 0;
	struct statfs st;
	FILE *f;

	if (!realpath(path, real))
		return -errno;
	f = fopen("/proc/self/mountinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		/* id parent major:minor root mountpoint options [optional...] - fstype source ... */
		char mnt[PATH_MAX], *dash = strstr(line, " - ");
		char type[64];
		size_t n;
		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(dash + 3, "%63s", type) != 1)
			continue;
		n = strlen(mnt);
		/* Mount points with spaces are escaped (\040) there; those are not matched. */
		if ((n == 1 && mnt[0] == '/') ||
		    (!strncmp(real, mnt, n) && (real[n] == '/' || real[n] == 0))) {
			if (n >= best_len) {
				best_len = n;
				snprintf(best, sizeof(best), "%s", type);
			}
		}
	}
	if (f)
		fclose(f);
	if (best[0]) {
		snprintf(buf, len, "%s", best);
		return 0;
	}
	if (statfs(real, &st) < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if ((unsigned long)st.f_type == magics[i].magic) {
			snprintf(buf, len, "%s", magics[i].name);
			return 0;
		}
	snprintf(buf, len, "0x%lx", (unsigned long)st.f_type);
	return 0;
}
