/*
 * reel send, reel undo, reel redo, reel edits: editing a session and
 * reading its edit list.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "buffer/buffer.h"
#include "buffer/journal.h"
#include "bus/session.h"
#include "cli.h"
#include "coord.h"
#include "edit-args.h"
#include "edit/edits.h"
#include "reel/client.h"
#include "reel/error.h"
#include "reel/ops.h"

#define CALL_TIMEOUT_MS 10000

static int connect_session(const char *cmd, const char *session, struct reel_client **ret_client,
                           struct reel_buffer **ret_buffer)
{
	int r = reel_session_name_check(session);

	if (r == 0)
		r = reel_client_connect(session, ret_client);
	if (r < 0)
		return cli_error(r == REEL_E_NOSESSION || r == REEL_E_SESSION ? CLI_USAGE : CLI_FAIL, cmd,
		                 "%s: %s", session, reel_strerror(r));
	if (!ret_buffer)
		return 0;
	r = reel_buffer_open_readonly(reel_client_record(*ret_client)->buffer_path, ret_buffer);
	if (r < 0) {
		reel_client_close(*ret_client);
		return cli_error(CLI_FAIL, cmd, "%s: %s", reel_client_record(*ret_client)->buffer_path,
		                 reel_strerror(r));
	}
	return 0;
}

/* Wait until journal entry seq is no longer pending (applied, failed or undone). */
static int wait_applied(const struct reel_buffer *b, uint64_t seq, int timeout_ms,
                        struct reel_journal_entry *ret)
{
	double deadline = reel__now_ms() + timeout_ms;

	for (;;) {
		int r = reel_journal_read(b, seq, ret);
		if (r < 0)
			return r;
		if (ret->state != REEL_JOURNAL_PENDING)
			return 0;
		if (reel__now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(5000);
	}
}

static void send_usage(FILE *out)
{
	fprintf(out, "usage: reel send SESSION OP [PARAMS...] [--frames A-B | --time T1-T2]\n"
	             "                 [--wait] [--json]\n\n"
	             "Send an edit to a live session.  It is journaled before it is acknowledged,\n"
	             "then applied in place to the frames in the buffer by the session's stages;\n"
	             "frames decoded later get it as they are decoded.\n\n"
	             "  --frames A-B   frames A to B (from 0, presentation order); also A, or A-\n"
	             "  --time T1-T2   the frames that start from T1 up to T2, times as ffmpeg's\n"
	             "                 -ss and -to read them (6.5, 1:02.5, 00:01:02.5); a single\n"
	             "                 T is the first frame that starts at or after T (the one\n"
	             "                 'ffmpeg -ss T' decodes first).  Neither: the whole video.\n"
	             "  --wait         return once the edit is applied (or has failed)\n"
	             "  --json         print {\"seq\":N,\"op\":...,\"first\":A,\"last\":B}\n\n"
	             "Edits and their parameters:\n");
	cli_print_ops(out);
	fprintf(out, "\nExit status: 0 accepted, 2 refused (bad edit, no such session), 1 failed.\n");
}

int cmd_send(int argc, char **argv)
{
	struct reel_client *client = NULL;
	struct reel_buffer *buffer = NULL;
	struct reel_journal_entry je;
	struct cli_edit e;
	char why[256];
	char **rest;
	int nrest = 0, code = CLI_OK, r;
	bool json = false, wait = false;
	uint64_t seq;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			send_usage(stdout);
			return CLI_OK;
		}
	if (argc < 3)
		return cli_error(CLI_USAGE, "send", "expected SESSION and an edit (see 'reel send --help')");
	rest = calloc((size_t)argc, sizeof(*rest));
	if (!rest)
		return cli_error(CLI_FAIL, "send", "out of memory");
	/* Negative parameters look like options to getopt: the edit is parsed by hand. */
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--wait"))
			wait = true;
		else
			rest[nrest++] = argv[i];
	}
	if ((r = connect_session("send", argv[1], &client, &buffer))) {
		free(rest);
		return r;
	}
	if (cli_parse_edit(nrest, rest, buffer, &e, why, sizeof(why)) < 0) {
		code = cli_error(CLI_USAGE, "send", "%s", why);
		goto out;
	}
	cli_say("send", "%s over frames %" PRId64 "-%" PRId64 " to session %s (pid %ld), interactive "
	        "priority", reel_op_get(e.op)->name, e.first, e.last, argv[1],
	        (long)reel_client_record(client)->pid);
	r = reel_client_command(client, e.op, e.params, e.first, e.last, CALL_TIMEOUT_MS, &seq);
	if (r < 0) {
		code = cli_error(r == REEL_E_PARAM || r == REEL_E_RANGE ? CLI_USAGE : CLI_FAIL, "send",
		                 "%s: %s", argv[1],
		                 r == -ETIMEDOUT ? "the coordinator did not answer" : reel_strerror(r));
		goto out;
	}
	if (wait) {
		r = wait_applied(buffer, seq, 600000, &je);
		if (r < 0) {
			code = cli_error(CLI_FAIL, "send", "edit %" PRIu64 ": %s", seq, reel_strerror(r));
			goto out;
		}
	}
	if (json) {
		printf("{\"seq\":%" PRIu64 ",\"op\":\"%s\",\"first\":%" PRId64 ",\"last\":%" PRId64, seq,
		       reel_op_get(e.op)->name, e.first, e.last);
		if (wait)
			printf(",\"state\":\"%s\"", je.state == REEL_JOURNAL_APPLIED ? "applied" :
			                            je.state == REEL_JOURNAL_FAILED ? "failed" : "undone");
		printf("}\n");
	} else {
		printf("edit %" PRIu64 " accepted: ", seq);
		cli_format_edit(stdout, e.op, e.params, e.first, e.last);
		printf("%s\n", !wait ? "" : je.state == REEL_JOURNAL_APPLIED ? " (applied)" :
		                            je.state == REEL_JOURNAL_FAILED ? " (failed: see reel edits)"
		                                                            : " (undone)");
	}
	if (wait && je.state == REEL_JOURNAL_FAILED)
		code = CLI_FAIL;
out:
	free(rest);
	reel_buffer_close(buffer);
	reel_client_close(client);
	return code;
}

static int undo_redo(int argc, char **argv, bool undo)
{
	const char *cmd = undo ? "undo" : "redo";
	struct reel_client *client;
	struct reel_buffer *buffer;
	struct reel_journal_entry t;
	uint64_t seq, target;
	int r;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: reel %s SESSION\n\n%s\n", cmd,
		       undo ? "Undo the latest edit still in effect.  The frames it covered are rebuilt\n"
		              "from the source and the edits that remain, exactly as if it had never\n"
		              "been sent.  'reel redo' brings it back."
		            : "Redo the latest undone edit (until a new edit is sent).  Its frames are\n"
		              "rebuilt with it in its place in the journal.");
		return CLI_OK;
	}
	if (argc != 2)
		return cli_error(CLI_USAGE, cmd, "expected one SESSION (see 'reel %s --help')", cmd);
	if ((r = connect_session(cmd, argv[1], &client, &buffer)))
		return r;
	r = undo ? reel_client_undo(client, CALL_TIMEOUT_MS, &seq, &target)
	         : reel_client_redo(client, CALL_TIMEOUT_MS, &seq, &target);
	if (r == 0 && reel_journal_read(buffer, target, &t) == 0) {
		printf("%s edit %" PRIu64 ": ", undo ? "undid" : "redid", target);
		cli_format_edit(stdout, t.op, t.params, t.first, t.last);
		printf("\n");
	}
	reel_buffer_close(buffer);
	reel_client_close(client);
	if (r < 0)
		return cli_error(r == REEL_E_NOUNDO ? CLI_USAGE : CLI_FAIL, cmd, "%s: %s", argv[1],
		                 r == REEL_E_NOUNDO ? (undo ? "nothing to undo" : "nothing to redo")
		                                    : reel_strerror(r));
	return CLI_OK;
}

int cmd_undo(int argc, char **argv)
{
	return undo_redo(argc, argv, true);
}

int cmd_redo(int argc, char **argv)
{
	return undo_redo(argc, argv, false);
}

/* ------------------------------------------------------------ reel edits */

static const char *state_name(uint32_t st)
{
	switch (st) {
	case REEL_EDIT_IN_EFFECT: return "applied";
	case REEL_EDIT_WAITING: return "measuring";
	case REEL_EDIT_UNDONE: return "undone";
	case REEL_EDIT_FAILED: return "failed";
	default: return "control";
	}
}

int cmd_edits(int argc, char **argv)
{
	struct reel_session_record rec;
	struct reel_buffer *b = NULL;
	struct reel_edits *x = NULL;
	const char *path;
	bool json = false;
	uint64_t count, shown = 0;
	int r, code = CLI_OK;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: reel edits SESSION|BUFFER [--json]\n\n"
			       "Print the edit list of a session (live or stopped, by name or buffer file),\n"
			       "oldest first, one edit per line as 'reel send' takes it, with its journal\n"
			       "sequence and state in a comment: applied, pending (being applied),\n"
			       "measuring (normalize waiting for its peak), undone or failed (with why).\n"
			       "Undone and failed edits are commented out, so the output is a file\n"
			       "'reel open VIDEO --edits FILE' replays.  --json prints an array instead.\n");
			return CLI_OK;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof(*argv));
			argc--;
			i--;
		}
	if (argc != 2)
		return cli_error(CLI_USAGE, "edits", "expected one SESSION or buffer file (see 'reel "
		                 "edits --help')");
	path = argv[1];
	if (!strchr(path, '/') && reel_session_name_check(path) == 0 &&
	    reel_session_read(path, &rec) == 0)
		path = rec.buffer_path;
	else if (!strchr(path, '/') && access(path, F_OK) < 0 && reel_session_name_check(path) == 0) {
		/* A stopped session's buffer, where reel open puts it by default. */
		struct reel_coord_options o = { 0 };
		if (reel_coord_buffer_path_for(&o, path, rec.buffer_path, sizeof(rec.buffer_path)) == 0 &&
		    access(rec.buffer_path, F_OK) == 0)
			path = rec.buffer_path;
	}
	r = reel_buffer_open_readonly(path, &b);
	if (r < 0)
		return cli_error(r == -ENOENT ? CLI_USAGE : CLI_USAGE, "edits", "%s: %s", argv[1],
		                 r == -ENOENT ? "no such session or buffer file" : reel_strerror(r));
	count = reel_journal_count(b);
	r = reel_edits_new(reel_buffer_info(b)->frame_count, &x);
	if (r == 0)
		r = reel_edits_sync(x, b);
	if (r < 0) {
		code = cli_error(CLI_USAGE, "edits", "%s: %s", path, reel_strerror(r));
		goto out;
	}
	if (json)
		printf("[");
	else
		printf("# reel edits of %s: %" PRIu64 " journal entries\n", path, count);
	for (uint64_t seq = 1; seq <= count; seq++) {
		struct reel_journal_entry je;
		struct reel_edit ed;
		uint32_t st;
		const char *name;

		if (reel_journal_read(b, seq, &je) < 0 || reel_edits_get(x, seq, &ed, &st) < 0)
			continue;
		if (st == REEL_EDIT_CONTROL)
			continue;
		name = state_name(st);
		if (st == REEL_EDIT_IN_EFFECT && je.state == REEL_JOURNAL_PENDING)
			name = "pending";
		if (json) {
			const struct reel_op_desc *d = reel_op_get(je.op);
			printf("%s{\"seq\":%" PRIu64 ",\"op\":\"%s\",\"params\":[", shown ? "," : "", seq,
			       d->name);
			for (uint32_t i = 0; i < d->nparams; i++)
				printf("%s%.17g", i ? "," : "", je.params[i]);
			printf("],\"first\":%" PRId64 ",\"last\":%" PRId64 ",\"state\":\"%s\"", je.first,
			       je.last, name);
			if (d->flags & REEL_OP_MEASURES && st == REEL_EDIT_IN_EFFECT)
				printf(",\"measured\":%.17g", ed.params[1]);
			if (st == REEL_EDIT_FAILED) {
				/* The failed entry that names it says why. */
				for (uint64_t s = seq + 1; s <= count; s++) {
					struct reel_journal_entry f;
					if (reel_journal_read(b, s, &f) == 0 && f.op == REEL_OP_FAILED && f.target == seq) {
						printf(",\"reason\":");
						cli_json_string(stdout, f.note);
						break;
					}
				}
			}
			printf(",\"time\":%.3f}", (double)je.time_ns / 1e9);
		} else {
			if (st == REEL_EDIT_UNDONE || st == REEL_EDIT_FAILED)
				printf("# ");
			cli_format_edit(stdout, je.op, je.params, je.first, je.last);
			printf("    # %" PRIu64 " %s", seq, name);
			if (reel_op_get(je.op)->flags & REEL_OP_MEASURES && st == REEL_EDIT_IN_EFFECT)
				printf(", peak %.6g", ed.params[1]);
			if (st == REEL_EDIT_FAILED)
				for (uint64_t s = seq + 1; s <= count; s++) {
					struct reel_journal_entry f;
					if (reel_journal_read(b, s, &f) == 0 && f.op == REEL_OP_FAILED && f.target == seq) {
						printf(": %s", f.note);
						break;
					}
				}
			printf("\n");
		}
		shown++;
	}
	if (json)
		printf("]\n");
out:
	reel_edits_free(x);
	reel_buffer_close(b);
	return code;
}
