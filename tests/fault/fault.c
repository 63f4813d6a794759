#include "fault.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

int fault_report(const char *fault, unsigned tries, unsigned held, unsigned lost, const char *note)
{
	int ok = tries > 0 && held == tries && lost == 0;
	printf("fault: %s: tried %u, held %u, lost %u%s%s -> %s\n", fault, tries, held, lost,
	       note ? ": " : "", note ? note : "", ok ? "ok" : "FAILED");
	fflush(stdout);

	const char *path = getenv("REEL_FAULT_RESULTS");
	if (path && *path) {
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			/* Tab-separated; flock because a row must not interleave with another's. */
			flock(fd, LOCK_EX);
			dprintf(fd, "%s\t%u\t%u\t%u\t%s\n", fault, tries, held, lost, note ? note : "");
			close(fd);
		}
	}
	return ok ? 0 : 1;
}
