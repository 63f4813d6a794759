/*
 * Helpers of the bus fault tests: see bus-util.h.
 */
#include "bus-util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define MQUEUE_MAGIC 0x19800202

bool bu_mqueue_listable(void)
{
	struct statfs fs;

	if (statfs("/dev/mqueue", &fs) == 0 && fs.f_type == MQUEUE_MAGIC)
		return true;
	if (geteuid() != 0)
		return false;
	mkdir("/dev/mqueue", 01777);
	if (mount("mqueue", "/dev/mqueue", "mqueue", 0, NULL) < 0)
		return false;
	return statfs("/dev/mqueue", &fs) == 0 && fs.f_type == MQUEUE_MAGIC;
}

unsigned bu_queues_of(const char *session)
{
	char prefix[128];
	DIR *d = opendir("/dev/mqueue");
	struct dirent *de;
	unsigned n = 0;
	int len = snprintf(prefix, sizeof(prefix), "reel.%u.%s.", (unsigned)getuid(), session);

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += strncmp(de->d_name, prefix, (size_t)len) == 0;
	closedir(d);
	return n;
}

unsigned bu_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	/* The directory's own descriptor is not one of ours. */
	return n - 1;
}

unsigned bu_zombies(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[300], text[512], *p, state;
		long ppid;
		FILE *f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		p = fgets(text, sizeof(text), f);
		fclose(f);
		if (!p || !(p = strrchr(text, ')')) || sscanf(p + 1, " %c %ld", &state, &ppid) != 2)
			continue;
		n += state == 'Z' && ppid == (long)getpid();
	}
	closedir(d);
	return n;
}

const char *bu_reel(void)
{
	const char *bin = getenv("REEL_BIN");
	return bin && *bin ? bin : "reel";
}

int bu_open(const char *video, const char *session, bool stages, const char *log,
            int timeout_ms, pid_t *ret_pid, struct reel_client **ret_client)
{
	char *argv[] = { (char *)bu_reel(), "open", (char *)video, "--session", (char *)session,
		         "--no-preview", stages ? "--workers=1" : "--no-stages", NULL };
	double deadline = tu_now_ms() + timeout_ms;
	pid_t pid = tu_spawn(argv, log);

	for (;;) {
		int st;
		if (reel_client_connect(session, ret_client) == 0) {
			*ret_pid = pid;
			return 0;
		}
		if (waitpid(pid, &st, WNOHANG) == pid)
			return -1;
		if (tu_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		usleep(2000);
	}
}
