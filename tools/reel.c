/*
 * reel: the command line front end.  Each subcommand lives in its own
 * cmd-*.c file; this file only dispatches and prints the overview.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "reel/log.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "demo", cmd_demo, "open a video, materialise every frame, write a few as PNG, stop" },
	{ "open", cmd_open, "open a video in a new session and coordinate it (foreground)" },
	{ "status", cmd_status, "show a live session: frames, resident, journal, stages" },
	{ "ls", cmd_ls, "list live sessions; --all: stopped ones too, with size and source" },
	{ "stop", cmd_stop, "stop a live session cleanly" },
	{ "frame", cmd_frame, "write frame N of a session as PNG or raw YUV420P" },
	{ "send", cmd_send, "send an edit (brightness, crop, fade-in, gain, ...) to a session" },
	{ "undo", cmd_undo, "undo the latest edit still in effect" },
	{ "redo", cmd_redo, "redo the latest undone edit" },
	{ "edits", cmd_edits, "print a session's edit list (replayable with reel open --edits)" },
	{ "logs", cmd_logs, "print a session's log (coordinator and stages); -f follows" },
	{ "export", cmd_export, "encode a session's frames, edits and all, to a video file or a pipe" },
	{ "rm", cmd_rm, "remove a stopped session's buffer and log" },
	{ "gc", cmd_gc, "remove buffers whose source is gone, or unused for a given age" },
	{ "inspect", cmd_inspect, "describe a buffer file: header, sizes, slots, journal" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: reel COMMAND [OPTIONS]\n\n"
	             "reel keeps a video's decoded frames in one shared, memory-mapped buffer\n"
	             "file and edits them in place from several processes.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\noptions:\n"
	             "  --verbose  say what happens (any command; also after it)\n"
	             "  --version  print reel's version\n"
	             "\n'reel COMMAND --help' describes each command.  Exit codes: 0 done,\n"
	             "1 failed at run time, 2 bad input or usage, 130 interrupted (Ctrl-C).\n");
}

/* Edit distance of two short words (commands), for the hint after a typo. */
static unsigned distance(const char *a, const char *b)
{
	unsigned row[32], la = (unsigned)strlen(a), lb = (unsigned)strlen(b);

	if (la >= 32 || lb >= 32)
		return 99;
	for (unsigned j = 0; j <= lb; j++)
		row[j] = j;
	for (unsigned i = 1; i <= la; i++) {
		unsigned diag = row[0];
		row[0] = i;
		for (unsigned j = 1; j <= lb; j++) {
			unsigned up = row[j], best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static int unknown_command(const char *name)
{
	const char *best = NULL;
	unsigned best_d = 3;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		unsigned d = distance(name, commands[i].name);
		/* A prefix of one command ("stat") counts as close. */
		if (!strncmp(commands[i].name, name, strlen(name)) && strlen(name) >= 2)
			d = 1;
		if (d < best_d) {
			best_d = d;
			best = commands[i].name;
		}
	}
	if (best)
		return cli_error(CLI_USAGE, NULL, "unknown command '%s'; did you mean '%s'?", name, best);
	return cli_error(CLI_USAGE, NULL, "unknown command '%s' (see 'reel --help')", name);
}

/*
 * --verbose is taken wherever it stands (before the command or among its
 * options) and removed, so that every command has it; "--" ends the search.
 */
static int take_verbose(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--verbose")) {
			cli_verbose = true;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
			argc--;
			i--;
		}
	}
	return argc;
}

int main(int argc, char **argv)
{
	argc = take_verbose(argc, argv);
	if (cli_verbose)
		reel_log_set_level(REEL_LOG_DEBUG);
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("reel %s\n", REEL_VERSION);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		return cli_error(CLI_USAGE, NULL, "unknown option '%s' (see 'reel --help')", argv[1]);
	return unknown_command(argv[1]);
}
