/*
 * reel status, reel ls, reel stop: looking at and stopping live sessions.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "bus/bus.h"
#include "reel/client.h"
#include "reel/error.h"
#include "bus/session.h"

#define CALL_TIMEOUT_MS 5000

/*
 * Parses [--json] [--help] around one positional argument (or none when
 * want_arg is 0): 0 to go on, -1 after printing the help, or an exit code.
 */
static int parse_common(int argc, char **argv, const char *cmd, const char *usage_text,
                        int want_arg, bool *ret_json, const char **ret_arg)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*ret_json = false;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j': *ret_json = true; break;
		case 'h': fputs(usage_text, stdout); return -1;
		default:
			return cli_bad_option(cmd, opt, argv);
		}
	}
	if (argc - optind != want_arg)
		return cli_error(CLI_USAGE, cmd, want_arg ? "expected one SESSION (see 'reel %s --help')"
		                                          : "no arguments expected (see 'reel %s --help')",
		                 cmd);
	*ret_arg = want_arg ? argv[optind] : NULL;
	return 0;
}

static int connect_or_fail(const char *cmd, const char *session, struct reel_client **ret)
{
	int r = reel_session_name_check(session);

	if (r == 0)
		r = reel_client_connect(session, ret);
	if (r < 0)
		return cli_error(r == REEL_E_NOSESSION || r == REEL_E_SESSION ? CLI_USAGE : CLI_FAIL, cmd,
		                 "%s: %s", session, reel_strerror(r));
	return 0;
}

int cmd_status(int argc, char **argv)
{
	static const char *const roles[] = { "coord", "editor", "effect", "audio", "preview" };
	const struct reel_session_record *rec;
	struct reel_client *client;
	struct reel_status st;
	const char *session;
	bool json;
	int r;

	r = parse_common(argc, argv, "status",
	                 "usage: reel status SESSION [--json]\n\n"
	                 "Show a live session: source, frames, resident frames, journal length,\n"
	                 "commands pending, attached stages and queue depths.  With --json, one\n"
	                 "object with the keys session, pid, source, buffer, frames, resident,\n"
	                 "journal, pending, inflight, stages, errors, malformed, generation, queues.\n",
	                 1, &json, &session);
	if (r)
		return r < 0 ? CLI_OK : r;
	if ((r = connect_or_fail("status", session, &client)))
		return r;
	rec = reel_client_record(client);
	r = reel_client_status(client, CALL_TIMEOUT_MS, &st);
	if (r < 0) {
		reel_client_close(client);
		return cli_error(CLI_FAIL, "status", "%s: %s", session,
		                 r == -ETIMEDOUT ? "the coordinator did not answer" : reel_strerror(r));
	}
	if (json) {
		printf("{\"session\":");
		cli_json_string(stdout, session);
		printf(",\"pid\":%ld,\"source\":", (long)rec->pid);
		cli_json_string(stdout, rec->source_path);
		printf(",\"buffer\":");
		cli_json_string(stdout, rec->buffer_path);
		printf(",\"frames\":%" PRIu64 ",\"resident\":%" PRIu64 ",\"journal\":%" PRIu64
		       ",\"pending\":%" PRIu64 ",\"inflight\":%" PRIu64 ",\"stages\":%" PRIu64
		       ",\"errors\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"generation\":%" PRIu64
		       ",\"decoded\":%" PRIu64 ",\"queues\":{",
		       st.frames, st.resident, st.journal,
		       st.pending, st.inflight, st.stages,
		       st.errors, st.malformed,
		       st.generation, st.decoded);
		for (int i = 0; i < 5; i++)
			printf("%s\"%s\":%" PRIu64, i ? "," : "", roles[i], st.queue_depth[i]);
		printf("}}\n");
	} else {
		printf("session     %s (coordinator pid %ld, generation %" PRIu64 ")\n", session,
		       (long)rec->pid, st.generation);
		printf("source      %s\n", rec->source_path);
		printf("buffer      %s\n", rec->buffer_path);
		printf("frames      %" PRIu64 " (%" PRIu64 " resident, %" PRIu64 " in error, %" PRIu64
		       " decoded since start)\n",
		       st.frames, st.resident, st.errors,
		       st.decoded);
		printf("journal     %" PRIu64 " commands, %" PRIu64 " pending, %" PRIu64
		       " work items in flight\n",
		       st.journal, st.pending,
		       st.inflight);
		printf("stages      %" PRIu64 " attached\n", st.stages);
		printf("queues     ");
		for (int i = 0; i < 5; i++)
			printf(" %s %" PRIu64, roles[i], st.queue_depth[i]);
		printf("\nmalformed   %" PRIu64 " messages dropped\n", st.malformed);
	}
	reel_client_close(client);
	return CLI_OK;
}

struct ls_state {
	bool json;
	int count;
};

static int print_session(const struct reel_session_record *rec, void *userdata)
{
	struct ls_state *st = userdata;

	if (!reel_session_alive(rec))
		return 0;
	if (st->json) {
		printf("%s{\"session\":", st->count ? "," : "");
		cli_json_string(stdout, rec->name);
		printf(",\"pid\":%ld,\"source\":", (long)rec->pid);
		cli_json_string(stdout, rec->source_path);
		printf(",\"buffer\":");
		cli_json_string(stdout, rec->buffer_path);
		printf("}");
	} else {
		printf("%-20s %-8ld %s\n", rec->name, (long)rec->pid, rec->source_path);
	}
	st->count++;
	return 0;
}

int cmd_ls(int argc, char **argv)
{
	struct ls_state st = { 0 };
	const char *unused;
	int r;

	r = parse_common(argc, argv, "ls",
	                 "usage: reel ls [--json]\n\nList the live sessions of this user.\n", 0,
	                 &st.json, &unused);
	if (r)
		return r < 0 ? CLI_OK : r;
	if (st.json)
		printf("[");
	else
		printf("%-20s %-8s %s\n", "SESSION", "PID", "SOURCE");
	r = reel_session_list(print_session, &st);
	if (st.json)
		printf("]\n");
	if (r < 0)
		return cli_error(CLI_FAIL, "ls", "%s", reel_strerror(r));
	return CLI_OK;
}

int cmd_stop(int argc, char **argv)
{
	struct reel_client *client;
	const char *session;
	bool json;
	pid_t pid;
	int r;

	r = parse_common(argc, argv, "stop",
	                 "usage: reel stop SESSION\n\n"
	                 "Stop a live session cleanly and wait until its coordinator has exited.\n"
	                 "The buffer file stays: 'reel open' on it resumes the session.\n",
	                 1, &json, &session);
	if (r)
		return r < 0 ? CLI_OK : r;
	if ((r = connect_or_fail("stop", session, &client)))
		return r;
	pid = reel_client_record(client)->pid;
	r = reel_client_stop(client, CALL_TIMEOUT_MS);
	reel_client_close(client);
	if (r < 0)
		return cli_error(CLI_FAIL, "stop", "%s: %s", session,
		                 r == -ETIMEDOUT ? "the coordinator did not answer" : reel_strerror(r));
	/*
	 * Stopped means gone: the coordinator removes its session file after its
	 * queues, as the last thing before it exits, so a script can reopen at once.
	 */
	for (int i = 0; i < 1000; i++) {
		struct reel_session_record rec;
		if (reel_session_read(session, &rec) < 0 || rec.pid != pid)
			return CLI_OK;
		usleep(10000);
	}
	return cli_error(CLI_FAIL, "stop", "%s: coordinator %ld still running after 10 s", session,
	                 (long)pid);
}
