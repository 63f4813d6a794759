/*
 * reel: the command line front end.  Each subcommand lives in its own
 * cmd-*.c file; this file only dispatches and prints the overview.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "demo", cmd_demo, "open a video, materialise every frame, write a few as PNG, stop" },
	{ "open", cmd_open, "open a video in a new session and coordinate it (foreground)" },
	{ "status", cmd_status, "show a live session: frames, resident, journal, stages" },
	{ "ls", cmd_ls, "list live sessions" },
	{ "stop", cmd_stop, "stop a live session cleanly" },
	{ "frame", cmd_frame, "write frame N of a session as PNG or raw YUV420P" },
	{ "send", cmd_send, "send an edit (brightness, crop, fade-in, gain, ...) to a session" },
	{ "undo", cmd_undo, "undo the latest edit still in effect" },
	{ "redo", cmd_redo, "redo the latest undone edit" },
	{ "edits", cmd_edits, "print a session's edit list (replayable with reel open --edits)" },
	{ "logs", cmd_logs, "print a session's log (coordinator and stages); -f follows" },
	{ "export", cmd_export, "encode a session's frames, edits and all, to a video file or a pipe" },
	{ "inspect", cmd_inspect, "describe a buffer file: header, sizes, slots, journal" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: reel COMMAND [OPTIONS]\n\n"
	             "reel keeps a video's decoded frames in one shared, memory-mapped buffer\n"
	             "file and edits them in place from several processes.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'reel COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		puts("reel 0.1.0");
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	return cli_error(CLI_USAGE, NULL, "unknown command '%s' (see 'reel --help')", argv[1]);
}
