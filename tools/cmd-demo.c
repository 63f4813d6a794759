/*
 * reel demo: the main job end to end on one video.  It starts a real
 * coordinator as a child process, materialises every frame through the
 * bus (with a progress line on a terminal), writes a few frames as PNG,
 * prints the session's status and stops it cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli.h"
#include "bus/bus.h"
#include "reel/client.h"
#include "reel/error.h"

#define CHUNK 32

static double now_s(void)
{
	return (double)reel__now_ns() / 1e9;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: reel demo VIDEO [--out DIR] [--keep]\n\n"
	             "Open VIDEO in a session of its own, materialise every frame through the\n"
	             "command bus, write the first, middle and last frames as PNG into DIR\n"
	             "(default ./reel-demo), show the session's status, and stop it.\n"
	             "  --keep   keep the buffer file (in DIR) instead of removing it\n");
}

/* This program: the `reel` binary the demo runs its coordinator and frame writes with. */
static int self_path(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	return 0;
}

static int write_frame(const char *session, uint64_t frame, const char *dir)
{
	char path[PATH_MAX], n[32], exe[PATH_MAX];
	pid_t pid;
	int status;

	if (self_path(exe, sizeof(exe)) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/frame-%06" PRIu64 ".png", dir, frame);
	snprintf(n, sizeof(n), "%" PRIu64, frame);
	pid = fork();
	if (pid == 0) {
		execl(exe, "reel", "frame", session, n, "--out", path, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	printf("  wrote %s\n", path);
	return 0;
}

int cmd_demo(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "keep", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = "reel-demo", *video;
	char session[64], buffer[PATH_MAX], log[PATH_MAX], self[PATH_MAX];
	struct reel_client *client = NULL;
	struct reel_status st = { 0 };
	uint64_t frames, errors = 0;
	double t0, t_first, t_all;
	bool keep = false, progress = cli_progress_enabled();
	int opt, r, status, code = CLI_FAIL;
	pid_t pid;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o': dir = optarg; break;
		case 'k': keep = true; break;
		case 'h': usage(stdout); return CLI_OK;
		default:
			return cli_bad_option("demo", opt, argv);
		}
	}
	if (argc - optind != 1)
		return cli_error(CLI_USAGE, "demo", "expected one VIDEO (see 'reel demo --help')");
	video = argv[optind];
	if (access(video, R_OK) < 0)
		return cli_error(CLI_USAGE, "demo", "%s: %s", video, strerror(errno));
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return cli_error(CLI_FAIL, "demo", "%s: %s", dir, strerror(errno));
	snprintf(session, sizeof(session), "demo-%ld", (long)getpid());
	snprintf(buffer, sizeof(buffer), "%s/%s.reel", dir, session);
	snprintf(log, sizeof(log), "%s/coordinator.log", dir);

	printf("reel demo: %s\n", video);
	t0 = now_s();
	if (self_path(self, sizeof(self)) < 0)
		return cli_error(CLI_FAIL, "demo", "cannot find this program: %s", strerror(errno));
	/* The coordinator's own lines go to `log`, shown only when something fails. */
	pid = cli_spawn_open(self, video, session, buffer, log);
	if (pid < 0)
		return cli_error(CLI_FAIL, "demo", "cannot start the coordinator: %s", strerror((int)-pid));
	r = cli_wait_session(session, pid, 30000, &client, &status);
	if (r < 0) {
		if (r == -ETIMEDOUT) {
			kill(pid, SIGTERM);
			waitpid(pid, &status, 0);
		}
		cli_show_log(log);
		/* The coordinator's own line says why; its exit code says whose fault. */
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			return WEXITSTATUS(status);
		return cli_error(CLI_FAIL, "demo", "the session did not start");
	}
	r = reel_client_need(client, 0, 0, REEL_PRIO_INTERACTIVE, 60000, NULL);
	t_first = now_s() - t0;
	if (r < 0 && r != REEL_E_DECODE) {
		cli_error(CLI_FAIL, "demo", "frame 0: %s", reel_strerror(r));
		goto out_stop;
	}
	if (reel_client_status(client, 5000, &st) < 0) {
		cli_error(CLI_FAIL, "demo", "the coordinator did not answer");
		goto out_stop;
	}
	frames = st.frames;
	printf("  session %s: %" PRIu64 " frames; first frame in the buffer after %.0f ms\n", session,
	       frames, t_first * 1e3);

	t0 = now_s();
	for (uint64_t f = 0; f < frames; f += CHUNK) {
		uint64_t last = f + CHUNK - 1 < frames ? f + CHUNK - 1 : frames - 1;
		r = reel_client_need(client, f, last, REEL_PRIO_BATCH, 120000, NULL);
		/* A frame that cannot be decoded is counted below; anything else is a failure. */
		if (r < 0 && r != REEL_E_DECODE) {
			cli_error(CLI_FAIL, "demo", "frames %" PRIu64 "-%" PRIu64 ": %s", f, last,
			          reel_strerror(r));
			goto out_stop;
		}
		if (progress)
			fprintf(stderr, "\r  materialising %" PRIu64 "/%" PRIu64 " frames (%.0f fps)   ",
			        last + 1, frames, (double)(last + 1) / (now_s() - t0));
	}
	t_all = now_s() - t0;
	if (progress)
		fputc('\n', stderr);
	if (reel_client_status(client, 5000, &st) == 0)
		errors = st.errors;
	printf("  materialised %" PRIu64 " frames in %.2f s (%.0f fps), %" PRIu64 " in error\n", frames,
	       t_all, (double)frames / t_all, errors);
	printf("  resident %" PRIu64 ", journal %" PRIu64 ", malformed messages %" PRIu64 "\n",
	       st.resident, st.journal, st.malformed);
	if (write_frame(session, 0, dir) < 0 || write_frame(session, frames / 2, dir) < 0 ||
	    write_frame(session, frames - 1, dir) < 0) {
		cli_error(CLI_FAIL, "demo", "could not write the frames");
		goto out_stop;
	}
	code = CLI_OK;

out_stop:
	reel_client_stop(client, 5000);
	reel_client_close(client);
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("  session stopped cleanly\n");
	} else {
		cli_show_log(log);
		code = cli_error(CLI_FAIL, "demo", "the coordinator did not stop cleanly");
	}
	if (!keep)
		unlink(buffer);
	else
		printf("  buffer kept: %s (see 'reel inspect %s')\n", buffer, buffer);
	return code;
}
