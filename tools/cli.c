/*
 * Helpers shared by the command line tools: error lines, argument parsing,
 * JSON strings, human sizes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "buffer/buffer.h"
#include "reel/client.h"
#include "bus/session.h"

#include "cli.h"

bool cli_verbose;
const char *cli_program = "reel";

void cli_say(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	if (!cli_verbose)
		return;
	fprintf(stderr, "%s%s%s: ", cli_program, cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_error(int code, const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s%s%s: ", cli_program, cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int cli_bad_option(const char *cmd, int opt, char **argv)
{
	extern int optind;

	if (opt == ':')
		return cli_error(CLI_USAGE, cmd, "option '%s' needs a value", argv[optind - 1]);
	return cli_error(CLI_USAGE, cmd, "unknown option '%s' (see '%s%s%s --help')", argv[optind - 1],
	                 cli_program, cmd ? " " : "", cmd ? cmd : "");
}

int cli_parse_picture_size(const char *text, uint32_t *ret_width, uint32_t *ret_height)
{
	unsigned w, h;
	char end;

	if (sscanf(text, "%ux%u%c", &w, &h, &end) != 2 || w < 16 || h < 16 || w > 7680 || h > 4320 ||
	    w % 2 || h % 2)
		return -EINVAL;
	*ret_width = w;
	*ret_height = h;
	return 0;
}

int cli_parse_u64(const char *text, uint64_t *ret_value)
{
	char *end;
	unsigned long long v;

	if (!text || !*text || *text == '-' || *text == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v > INT64_MAX)
		return -EINVAL;
	*ret_value = v;
	return 0;
}

int cli_parse_size(const char *text, uint64_t *ret_bytes)
{
	char *end;
	double v;
	uint64_t mult = 1;

	if (!text || !*text || *text == '-')
		return -EINVAL;
	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || v < 0)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': mult = 1ull << 10; end++; break;
	case 'm': case 'M': mult = 1ull << 20; end++; break;
	case 'g': case 'G': mult = 1ull << 30; end++; break;
	case 't': case 'T': mult = 1ull << 40; end++; break;
	default: break;
	}
	if (*end == 'i' && mult > 1)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v * (double)mult > 9.0e18)
		return -EINVAL;
	*ret_bytes = (uint64_t)(v * (double)mult);
	return 0;
}

void cli_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

const char *cli_human_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	unsigned u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

int cli_describe_format(const struct reel_source_format *f, char *buf, size_t len)
{
	char chroma[16];

	if (!f->pix_fmt[0] || f->bits == 0) {
		snprintf(buf, len, "not recorded");
		return -1;
	}
	if (f->chroma == 400)
		snprintf(chroma, sizeof(chroma), "grey");
	else
		snprintf(chroma, sizeof(chroma), "%u:%u:%u", f->chroma / 100, f->chroma / 10 % 10,
		         f->chroma % 10);
	snprintf(buf, len, "%s, %u-bit %s, %s range", f->pix_fmt, f->bits, chroma,
	         f->full_range ? "full" : "limited");
	return f->bits != 8 || f->chroma != 420 || f->full_range;
}

bool cli_progress_enabled(void)
{
	return isatty(STDERR_FILENO);
}

pid_t cli_spawn(char *const argv[], const char *log_path)
{
	pid_t pid, parent = getpid();

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		              0600);
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		/*
		 * A helper goes with whoever started it, however that one ends (a
		 * benchmark killed, `reel demo` killed): SIGTERM is a clean stop for
		 * a coordinator, its queues and pictures removed.  The parent may
		 * be gone already by the time the request is made.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(127);
		if (fd < 0 || in < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

pid_t cli_spawn_open(const char *reel, const char *video, const char *session, const char *buffer,
                     const char *log_path)
{
	char *argv[] = {
		(char *)reel, (char *)"open", (char *)video, (char *)"--session", (char *)session,
		(char *)"--buffer", (char *)buffer, (char *)"--no-stages", (char *)"--no-preview", NULL,
	};

	return cli_spawn(argv, log_path);
}

int cli_wait_session(const char *session, pid_t pid, int timeout_ms,
                     struct reel_client **ret_client, int *ret_status)
{
	double deadline = reel__now_ms() + timeout_ms;

	for (;;) {
		if (reel_client_connect(session, ret_client) == 0)
			return 0;
		if (waitpid(pid, ret_status, WNOHANG) == pid)
			return -ECHILD;
		if (reel__now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(500);
	}
}

void cli_show_log(const char *path)
{
	char buf[2048];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return;
	if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > (long)sizeof(buf) - 1)
		fseek(f, -(long)sizeof(buf) + 1, SEEK_END);
	else
		rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	fputs(buf, stderr);
}

struct buffer_owner {
	const char *buffer;
	char *name;
	size_t len;
	bool found;
};

static int match_buffer(const struct reel_session_record *rec, void *userdata)
{
	struct buffer_owner *w = userdata;

	if (strcmp(rec->buffer_path, w->buffer) || !reel_session_alive(rec))
		return 0;
	snprintf(w->name, w->len, "%s", rec->name);
	w->found = true;
	return 1;
}

int cli_session_of_buffer(const char *buffer_path, char *name, size_t len)
{
	struct buffer_owner w = { buffer_path, name, len, false };

	name[0] = 0;
	reel_session_list(match_buffer, &w);
	return w.found ? 0 : -ENOENT;
}
