/*
 * reel-bench: the benchmarks of the coordinator and the command bus.
 *
 *   reel-bench rtt      [VIDEO] [--count N] [--runs R] [--json]
 *   reel-bench open     [VIDEO] [--runs R] [--json]
 *   reel-bench effects  [--runs R] [--frames N] [--json]
 *   reel-bench pipeline [--runs R] [--json]
 *   reel-bench edit-rtt [VIDEO] [--count N] [--runs R] [--json]
 *   reel-bench ipc      [--count N] [--bulk-mib M] [--frames F] [--runs R] [--json]
 *   reel-bench all      [--json] [--plot DIR] [--quick]
 *   reel-bench plot     RESULTS.json DIR
 *
 * Every figure is printed next to a baseline measured in the same run, as
 * a ratio, because this machine is shared and noisy: absolute numbers from
 * another day mean little, the ratio to something simple measured a second
 * earlier means more.  Figures are medians over several runs.
 *
 * rtt: a raw ping-pong of REEL_MSG_SIZE messages between two processes over
 * two POSIX queues (the floor), then STATUS and NEED round trips through a
 * real coordinator (`reel open`, the binary next to this one) with
 * reel_client_call.
 *
 * open: time from spawning `reel open` to the reply of NEED(0), on a
 * 10-second and a 10-minute 1080p30 H.264 clip (made once with the ffmpeg
 * command line tool and cached), next to ffmpeg's time to decode one frame;
 * then the throughput of materialising every frame of the 10-second clip
 * next to `ffmpeg -i FILE -f null -`.
 *
 * effects: the effect workers applying edits in place to resident frames
 * (brightness, blur, and a chain of three edits) with one worker and with
 * one per core, from the first send until the frames are settled, in
 * frames/s and GB/s next to memcpy's bandwidth measured in the same run.
 *
 * pipeline: decode -> brightness -> blur over the 10-second clip, end to
 * end: reel with the edits sent before the frames are decoded, reel with
 * the edits sent to frames already resident, one ffmpeg process with the
 * same filters, and two ffmpeg processes joined by a pipe of raw frames.
 *
 * edit-rtt: the round trip of one edit (send -> acknowledged once journaled
 * durably) through a real coordinator, next to the raw queue ping-pong and
 * a STATUS round trip measured in the same run.
 *
 * ipc: pipe, System V and POSIX message queues, a Unix stream socket, TCP
 * over loopback and a shared-memory ring between two processes, each with
 * the receiver reading every byte, next to memcpy; and the frame hand-off
 * reel does (a frame number over a queue, the frame read in place from a
 * shared file mapping) next to raw frames through a pipe.
 *
 * all: every part as a child `reel-bench PART --json`, collected into one
 * object with a description of the machine, as a table or JSON, with
 * charts drawn by gnuplot (--plot DIR; plot: from a saved result).
 *
 * Buffer files go to a fresh folder inside reel's default buffer folder
 * (so that the figures are those of the default), removed at the end.
 */
#include "bench/bench.h"

/* --------------------------------------------------------------- main */

static void usage(FILE *out)
{
	fprintf(out, "usage: reel-bench COMMAND [OPTIONS]\n\n"
	             "  rtt       command round trips through the bus, next to a raw queue ping-pong\n"
	             "  open      time to first frame and materialising throughput, next to ffmpeg\n"
	             "  effects   effect workers on resident frames, 1 and one per core, next to memcpy\n"
	             "  pipeline  decode, brightness and blur end to end, next to ffmpeg's filters\n"
	             "  edit-rtt  the round trip of an edit (journaled durably), next to the raw\n"
	             "            ping-pong and STATUS\n"
	             "  export    reel export's speed, next to ffmpeg with the same filters and encoder\n"
	             "  keypress  from a key press in the preview to the edited frame on screen\n"
	             "  ipc       pipes, message queues, sockets, TCP and a shared ring between two\n"
	             "            processes, every byte read; the frame hand-off next to a pipe\n"
	             "  all       every part above, one table (or --json object), --plot DIR charts\n"
	             "  plot      charts of a saved 'all --json' result (gnuplot)\n\n"
	             "'reel-bench COMMAND --help' describes each.  A progress line is shown on\n"
	             "stderr when it is a terminal; --json prints one object with every figure.\n");
}

int main(int argc, char **argv)
{
	progress = cli_progress_enabled();
	/* A coordinator we talk to may go away; a write to its queue must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "rtt"))
		return cmd_rtt(argc - 1, argv + 1);
	if (!strcmp(argv[1], "open"))
		return cmd_open_bench(argc - 1, argv + 1);
	if (!strcmp(argv[1], "effects"))
		return cmd_effects(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pipeline"))
		return cmd_pipeline(argc - 1, argv + 1);
	if (!strcmp(argv[1], "edit-rtt"))
		return cmd_edit_rtt(argc - 1, argv + 1);
	if (!strcmp(argv[1], "export"))
		return cmd_export_bench(argc - 1, argv + 1);
	if (!strcmp(argv[1], "keypress"))
		return cmd_keypress_bench(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ipc"))
		return cmd_ipc(argc - 1, argv + 1);
	if (!strcmp(argv[1], "all"))
		return cmd_all(argc - 1, argv + 1);
	if (!strcmp(argv[1], "plot"))
		return cmd_plot(argc - 1, argv + 1);
	fprintf(stderr, "reel-bench: unknown command '%s' (see 'reel-bench --help')\n", argv[1]);
	return CLI_USAGE;
}
