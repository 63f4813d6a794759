/*
 * reel logs: print a session's log (the coordinator's lines and its
 * stages'), live or stopped; -f follows it until the session stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/session.h"
#include "cli.h"
#include "coord.h"
#include "reel/client.h"
#include "reel/error.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: reel logs SESSION [-f] [-n LINES]\n\n"
	             "Print the log of a session, live or stopped: what the coordinator and each\n"
	             "stage said, one line each, oldest first.  The log lives next to the\n"
	             "session's buffer file (NAME.log beside NAME.reel).\n\n"
	             "  -f, --follow   keep printing new lines until the session stops\n"
	             "  -n LINES       only the last LINES lines to begin with\n");
}

/* Copy from fd to stdout until its end; the bytes copied. */
static long pump(int fd)
{
	char buf[8192];
	long total = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, (size_t)n, stdout);
		total += n;
	}
	fflush(stdout);
	return total;
}

/* Move fd to the start of its last `lines` lines. */
static void seek_tail(int fd, long lines)
{
	off_t end = lseek(fd, 0, SEEK_END), pos = end;
	char buf[4096];
	long seen = 0;

	while (pos > 0) {
		size_t chunk = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
		pos -= (off_t)chunk;
		if (pread(fd, buf, chunk, pos) != (ssize_t)chunk)
			break;
		for (size_t i = chunk; i-- > 0;) {
			/* The newline that ends the last line does not count. */
			if (buf[i] == '\n' && pos + (off_t)i != end - 1 && ++seen == lines) {
				lseek(fd, pos + (off_t)i + 1, SEEK_SET);
				return;
			}
		}
	}
	lseek(fd, 0, SEEK_SET);
}

int cmd_logs(int argc, char **argv)
{
	struct reel_session_record rec;
	struct reel_coord_options o = { 0 };
	char buffer[REEL_PATH_MAX], path[REEL_PATH_MAX];
	const char *session = NULL;
	bool follow = false, live;
	long lines = -1;
	int fd;

	for (int i = 1; i < argc; i++) {
		uint64_t n;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return CLI_OK;
		} else if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow")) {
			follow = true;
		} else if (!strcmp(argv[i], "-n") || !strcmp(argv[i], "--lines")) {
			if (i + 1 >= argc || cli_parse_u64(argv[i + 1], &n) < 0)
				return cli_error(CLI_USAGE, "logs", "-n needs a number of lines");
			lines = (long)n;
			i++;
		} else if (argv[i][0] == '-') {
			return cli_error(CLI_USAGE, "logs", "unknown option '%s' (see 'reel logs --help')",
			                 argv[i]);
		} else if (!session) {
			session = argv[i];
		} else {
			return cli_error(CLI_USAGE, "logs", "expected one SESSION (see 'reel logs --help')");
		}
	}
	if (!session)
		return cli_error(CLI_USAGE, "logs", "expected one SESSION (see 'reel logs --help')");
	if (reel_session_name_check(session) < 0)
		return cli_error(CLI_USAGE, "logs", "%s: %s", session, reel_strerror(REEL_E_SESSION));
	live = reel_session_read(session, &rec) == 0 && reel_session_alive(&rec);
	if (live)
		snprintf(buffer, sizeof(buffer), "%s", rec.buffer_path);
	else if (reel_coord_buffer_path_for(&o, session, buffer, sizeof(buffer)) < 0)
		return cli_error(CLI_FAIL, "logs", "%s: no buffer folder", session);
	if (reel_session_log_path(buffer, path, sizeof(path)) < 0)
		return cli_error(CLI_FAIL, "logs", "%s: path too long", session);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_error(errno == ENOENT ? CLI_USAGE : CLI_FAIL, "logs", "%s: %s", session,
		                 errno == ENOENT ? "no log (no such session, or it never ran here)"
		                                 : strerror(errno));
	if (lines >= 0)
		seek_tail(fd, lines);
	pump(fd);
	while (follow) {
		usleep(200000);
		if (pump(fd) > 0)
			continue;
		/* Gone: one more look for what it wrote on its way out, then stop. */
		if (!(reel_session_read(session, &rec) == 0 && reel_session_alive(&rec))) {
			pump(fd);
			break;
		}
	}
	close(fd);
	return CLI_OK;
}
