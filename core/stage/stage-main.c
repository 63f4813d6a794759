/*
 * The main() of reel's own stage programs (see stage-main.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bus/msg.h"
#include "reel/error.h"
#include "reel/log.h"
#include "reel/ops.h"
#include "stage/stage-main.h"

static void usage(FILE *out, const char *program, unsigned role)
{
	fprintf(out, "usage: %s --session NAME [--verbose]\n\n"
	             "Attach to the live reel session NAME as its %s stage and apply the edits\n"
	             "sent to it, in place in the session's buffer, until SIGTERM or SIGINT (the\n"
	             "work item in hand is finished first) or until the session stops.  'reel open'\n"
	             "starts one for each session; start more by hand to add workers.\n\n"
	             "edits this stage applies:\n",
	        program, reel_role_name(role));
	for (uint32_t op = 1; op < REEL_OP_COUNT; op++) {
		const struct reel_op_desc *d = reel_op_get(op);
		char params[64] = "";

		if (d->role != role)
			continue;
		for (uint32_t i = 0; i < d->nparams; i++) {
			size_t n = strlen(params);
			snprintf(params + n, sizeof(params) - n, " %s", d->param_names[i]);
		}
		fprintf(out, "  %-14s%-16s %s\n", d->name, params, d->help);
	}
}

int reel__stage_main(int argc, char **argv, unsigned role, const char *program,
                     reel_op_lookup_fn lookup)
{
	static const struct option longopts[] = {
		{ "session", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *session = NULL;
	struct reel_stage *stage;
	int opt, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":hv", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': session = optarg; break;
		case 'v': reel_log_set_level(REEL_LOG_DEBUG); break;
		case 'h': usage(stdout, program, role); return 0;
		case ':':
			fprintf(stderr, "%s: option '%s' needs a value\n", program, argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "%s: unknown option '%s' (see '%s --help')\n", program,
			        argv[optind - 1], program);
			return 2;
		}
	}
	if (!session || optind != argc) {
		fprintf(stderr, "%s: expected --session NAME (see '%s --help')\n", program, program);
		return 2;
	}
	/* Once attached, lines go to the session log's ring, which costs nothing to fill. */
	if (reel_log_get_level() < REEL_LOG_INFO)
		reel_log_set_level(REEL_LOG_INFO);
	r = reel_stage_attach(session, role, &stage);
	if (r < 0) {
		fprintf(stderr, "%s: %s: %s\n", program, session, reel_strerror(r));
		return r == REEL_E_NOSESSION || r == REEL_E_SESSION ? 2 : 1;
	}
	reel_log(REEL_LOG_INFO, program, "attached to session %s", session);
	r = reel_stage_serve(stage, lookup);
	reel_stage_detach(stage);
	if (r == REEL_E_NOSESSION) {
		/* The coordinator stopped or died: nothing is lost, its journal has every edit. */
		reel_log(REEL_LOG_INFO, program, "session %s ended; detached", session);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "%s: %s: %s\n", program, session, reel_strerror(r));
		return 1;
	}
	return 0;
}
