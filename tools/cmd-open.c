/*
 * reel open: run a session's coordinator in the foreground until it is
 * stopped (reel stop, Ctrl-C or SIGTERM).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "coord.h"
#include "buffer/buffer.h"
#include "bus/bus.h"
#include "reel/error.h"
#include "reel/log.h"
#include "edit-args.h"
#include "bus/session.h"
#include "edit/ops-impl.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: reel open VIDEO [--session NAME] [--buffer PATH] [--cache SIZE]\n"
	        "                 [--workers N] [--no-stages] [--no-preview] [--edits FILE]\n"
	        "                 [--salvage-journal] [--verbose]\n\n"
	        "Open VIDEO in a new session and coordinate it until it is stopped.\n"
	        "Frames are decoded lazily into a shared buffer file; reopening the same\n"
	        "buffer resumes the session, journal and all.\n\n"
	        "  --session NAME  session name (default: the video's file name)\n"
	        "  --buffer PATH   buffer file (default: ~/.cache/reel/NAME.reel, or\n"
	        "                  $REEL_BUFFER_DIR/NAME.reel)\n"
	        "  --cache SIZE    memory budget for decoded frames, e.g. 512M, 4G\n"
	        "                  (default: the whole clip if it fits in a quarter of RAM)\n"
	        "  --workers N     effect workers to start (default: one per core)\n"
	        "  --no-stages     start no stage (editor, effect workers, audio); stages\n"
	        "                  started by hand with --session NAME attach to the session\n"
	        "  --no-preview    do not open the preview window (none is opened without a\n"
	        "                  display: $DISPLAY or $WAYLAND_DISPLAY)\n"
	        "  --edits FILE    send the edits in FILE first, one per line as 'reel send'\n"
	        "                  takes them ('reel edits' prints such a file); '#' comments\n"
	        "  --salvage-journal\n"
	        "                  when the buffer's journal is damaged, keep the edits\n"
	        "                  before the damaged entry and save the rest to a file\n"
	        "                  beside the buffer (without it, such a buffer is refused)\n"
	        "  --verbose       log what the coordinator does\n\n"
	        "By default the session and its buffer are named after VIDEO's file name;\n"
	        "when that name already belongs to another video (one of the same name in\n"
	        "another folder), a tag of this video is added: clip-1a2b3c4d.  A buffer's\n"
	        "size is fixed when it is made: --cache on a resumed buffer must agree.\n\n"
	        "While the session runs, the decoded pictures are kept in RAM, in\n"
	        "/dev/shm/reel-UID (or $REEL_PICTURES_DIR; set it empty to keep them in\n"
	        "the buffer file), and they go when it stops: a resumed session decodes\n"
	        "its frames again, bringing each up to date with the journal.\n\n"
	        "Exit: 0 after 'reel stop' or SIGTERM, 130 after Ctrl-C (a clean stop too),\n"
	        "2 for bad input (a video that is not there, a damaged or busy buffer).\n");
}

/* A progress line on a terminal while the first open indexes a long video. */
static void show_progress(void *userdata, const char *what, uint64_t done, uint64_t total)
{
	const char *video = userdata;

	if (total)
		fprintf(stderr, "\rreel: %s %s: %3.0f%%", what, video, 100.0 * (double)done / (double)total);
}

struct log_route {
	struct reel_coord *coord;
	int stderr_level;
};

static void log_line(int level, const char *component, const char *message, void *userdata)
{
	const struct log_route *route = userdata;

	reel_coord_log(route->coord, level, component, message);
	if (level <= route->stderr_level)
		fprintf(stderr, "reel %s: %s%s\n", component ? component : "",
		        level == REEL_LOG_ERROR ? "error: " : level == REEL_LOG_WARN ? "warning: " : "",
		        message);
}

/*
 * Every line of the file is parsed before any is sent, so a bad line
 * leaves the journal as it was; then they go in, in order.
 */
static int send_edits(struct reel_coord *coord, const char *path, FILE *f)
{
	struct cli_edit *list = NULL;
	size_t n = 0, cap = 0;
	char line[1024], why[256];
	unsigned lineno = 0;
	int code = CLI_OK;

	while (fgets(line, sizeof(line), f)) {
		char *words[32];
		int nw;

		lineno++;
		nw = cli_split_words(line, words, 32);
		if (nw == 0)
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 32;
			struct cli_edit *v = realloc(list, c * sizeof(*v));
			if (!v) {
				code = cli_error(CLI_FAIL, "open", "out of memory");
				goto out;
			}
			list = v;
			cap = c;
		}
		if (cli_parse_edit(nw, words, reel_coord_buffer(coord), &list[n], why, sizeof(why)) < 0) {
			code = cli_error(CLI_USAGE, "open", "--edits %s, line %u: %s", path, lineno, why);
			goto out;
		}
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t seq;
		int r = reel_coord_send(coord, list[i].op, list[i].params, list[i].first, list[i].last, &seq,
		                        why, sizeof(why));
		if (r < 0) {
			code = cli_error(r == REEL_E_PARAM ? CLI_USAGE : CLI_FAIL, "open",
			                 "--edits %s: edit %zu of %zu: %s", path, i + 1, n,
			                 why[0] ? why : reel_strerror(r));
			goto out;
		}
	}
	if (n)
		fprintf(stderr, "reel: %zu edits from %s sent\n", n, path);
out:
	free(list);
	return code;
}

/* The buffer's own size, for a line that says why a cache size cannot be had. */
static void describe_buffer_size(const char *path, char *buf, size_t len)
{
	struct reel_buffer *b;
	char size[32];

	if (reel_buffer_open_readonly(path, &b) < 0) {
		snprintf(buf, len, "its own size");
		return;
	}
	snprintf(buf, len, "%u frames (%s)", reel_buffer_info(b)->slot_count,
	         cli_human_size(reel_buffer_info(b)->slots_size, size, sizeof(size)));
	reel_buffer_close(b);
}

/* One line that says what went wrong and names what the user gave (or what reel chose). */
static int open_failed(const struct reel_coord_options *o, const struct reel_coord_names *n, int r)
{
	/* Bad input (a video that is not there or not readable), a busy name or buffer: 2. */
	int code = (r >= REEL_E_FIRST && r < REEL_E_LAST) || r == -ENOENT || r == -ENOTDIR ||
	           r == -EACCES || r == -EISDIR || r == -ELOOP ? CLI_USAGE : CLI_FAIL;
	struct reel_session_record rec;
	char what[128];

	switch (r) {
	case REEL_E_LIVE:
		if (reel_session_read(n->session, &rec) < 0)
			break;
		if (!strcmp(rec.buffer_path, n->buffer_path)) {
			char *real = realpath(o->video, NULL);
			bool same = real && !strcmp(real, rec.source_path);
			free(real);
			if (same)
				return cli_error(code, "open", "%s is open already as session %s (pid %ld); "
				                 "'reel stop %s' first", o->video, n->session, (long)rec.pid,
				                 n->session);
			/* Another video under a live session's name: say whose it is, not that this one is open. */
			return cli_error(code, "open", "%s: session name '%s' is taken by a live session of "
			                 "%s (pid %ld); 'reel stop %s' first or choose another --session",
			                 o->video, n->session, rec.source_path, (long)rec.pid, n->session);
		}
		return cli_error(code, "open", "%s: session name '%s' is taken by a live session of %s%s",
		                 o->video, n->session, rec.source_path,
		                 o->session ? "; choose another --session" : "");
	case REEL_E_BUFFERBUSY:
		/* Which session holds it, when one of ours does. */
		return cli_error(code, "open", "%s: buffer %s is in use by another coordinator%s%s%s",
		                 o->video, n->buffer_path, cli_session_of_buffer(n->buffer_path, what,
		                 sizeof(what)) == 0 ? " (session " : "", what,
		                 what[0] ? ")" : "");
	case REEL_E_SOURCE:
		return cli_error(code, "open", "%s: buffer %s (%s) was made from another video; give "
		                 "another %s or remove it with 'reel rm %s'", o->video, n->buffer_path,
		                 o->buffer_path ? "--buffer" : "--session",
		                 o->buffer_path ? "--buffer" : "--session", n->buffer_path);
	case REEL_E_CACHESIZE:
		describe_buffer_size(n->buffer_path, what, sizeof(what));
		return cli_error(code, "open", "--cache: buffer %s holds %s, fixed when it was made; "
		                 "leave --cache out to resume it, or 'reel rm %s' first to make it anew",
		                 n->buffer_path, what, n->session);
	case REEL_E_JOURNAL:
		if (!n->journal_damaged)
			break;
		return cli_error(code, "open", "%s: buffer %s: journal entry %" PRIu64 " is damaged%s; "
		                 "nothing was replayed. 'reel open --salvage-journal' keeps the %" PRIu64
		                 " entries before it and saves entries %" PRIu64 "-%" PRIu64
		                 " to a file beside the buffer", o->video, n->buffer_path,
		                 n->journal_damaged, n->journal_written > n->journal_damaged ?
		                 " (entries follow it)" : "", n->journal_damaged - 1,
		                 n->journal_damaged, n->journal_written > n->journal_damaged ?
		                 n->journal_written : n->journal_damaged);
	case REEL_E_BUFFERPERM:
		return cli_error(code, "open", "%s: buffer %s: %s; reel writes only its own private "
		                 "buffers", o->video, n->buffer_path, reel_strerror(r));
	case REEL_E_BUFFERDIR:
		return cli_error(code, "open", "%s: buffer %s: %s", o->video, n->buffer_path,
		                 reel_strerror(r));
	case -ENOSPC:
		return cli_error(CLI_FAIL, "open", "%s: buffer %s: no space left on the device for the "
		                 "buffer's metadata; nothing was left behind", o->video,
		                 n->buffer_path);
	case REEL_E_INCOMPLETE:
	case REEL_E_BADMAGIC: case REEL_E_VERSION: case REEL_E_BYTEORDER: case REEL_E_TRUNCATED:
	case REEL_E_SECTION: case REEL_E_HEADER: case REEL_E_SLOTCOUNT: case REEL_E_SLOTSTRIDE:
		return cli_error(code, "open", "%s: buffer %s: %s (remove it with 'reel rm %s')", o->video,
		                 n->buffer_path[0] ? n->buffer_path : "(none)", reel_strerror(r),
		                 n->buffer_path);
	default:
		break;
	}
	/* The media layer's own line names the format, codec or limit it refused. */
	if (n->why[0])
		return cli_error(code, "open", "%s: %s", o->video, n->why);
	return cli_error(code, "open", "%s: %s", o->video, reel_strerror(r));
}

int cmd_open(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "session", required_argument, NULL, 's' },
		{ "buffer", required_argument, NULL, 'b' },
		{ "cache", required_argument, NULL, 'c' },
		{ "no-stages", no_argument, NULL, 'S' },
		{ "workers", required_argument, NULL, 'w' },
		{ "no-preview", no_argument, NULL, 'P' },
		{ "edits", required_argument, NULL, 'e' },
		{ "salvage-journal", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct reel_coord_options o = { .lookup = reel_op_impl };
	const char *edits = NULL;
	FILE *edits_file = NULL;
	bool verbose = cli_verbose;
	struct log_route route = { 0 };
	struct reel_coord_names names = { 0 };
	struct reel_coord *coord;
	const struct reel_buffer_info *info;
	int opt, r, sig;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': o.session = optarg; break;
		case 'b': o.buffer_path = optarg; break;
		case 'c':
			if (cli_parse_size(optarg, &o.cache_bytes) < 0 || o.cache_bytes == 0)
				return cli_error(CLI_USAGE, "open", "--cache: '%s' is not a size (e.g. 512M, 4G)", optarg);
			break;
		case 'S': o.no_stages = true; break;
		case 'P': o.no_preview = true; break;
		case 'w': {
			uint64_t n;
			if (cli_parse_u64(optarg, &n) < 0 || n == 0 || n > 32)
				return cli_error(CLI_USAGE, "open", "--workers: '%s' is not a number of workers "
				                 "(1-32)", optarg);
			o.workers = (unsigned)n;
			break;
		}
		case 'e': edits = optarg; break;
		case 'J': o.salvage_journal = true; break;
		case 'h': usage(stdout); return CLI_OK;
		default:
			return cli_bad_option("open", opt, argv);
		}
	}
	if (optind != argc - 1)
		return cli_error(CLI_USAGE, "open", "expected one VIDEO (see 'reel open --help')");
	o.video = argv[optind];
	/* Read before anything is opened, so a missing file leaves nothing behind. */
	if (edits && !(edits_file = fopen(edits, "r")))
		return cli_error(CLI_USAGE, "open", "--edits %s: %s", edits, strerror(errno));
	if (cli_progress_enabled()) {
		o.progress = show_progress;
		o.progress_data = (void *)o.video;
	}

	r = reel_coord_open(&o, &coord, &names);
	if (r < 0 && edits_file)
		fclose(edits_file);
	if (o.progress)
		fprintf(stderr, "\r\033[K");
	if (r == -ECANCELED)
		return cli_error(130, "open", "%s: interrupted; nothing was left behind", o.video);
	if (r < 0)
		return open_failed(&o, &names, r);
	/* What the open repaired is said once, on the terminal, before the session starts. */
	if (names.journal_damaged && names.journal_saved)
		fprintf(stderr, "reel: journal entry %" PRIu64 " was damaged: kept the %" PRIu64
		        " entries before it, saved entries %" PRIu64 "-%" PRIu64 " to %s\n",
		        names.journal_damaged, names.journal_damaged - 1, names.journal_damaged,
		        names.journal_damaged + names.journal_saved - 1, names.journal_side);
	else if (names.journal_damaged)
		fprintf(stderr, "reel: journal entries from %" PRIu64 " on were missing: kept the %" PRIu64
		        " entries before them\n", names.journal_damaged, names.journal_damaged - 1);
	if (names.journal_count_repaired)
		fprintf(stderr, "reel: note: the journal's count was damaged (it said %" PRIu64 "); "
		        "its entries check out and were all kept\n", names.journal_count_was);
	if (names.slots_cut)
		fprintf(stderr, "reel: note: the buffer file had been cut short: %u slots lost their "
		        "frames, which will be decoded again; the journal is whole\n", names.slots_cut);
	if (names.slots_reset)
		fprintf(stderr, "reel: note: %u slots were left locked or half written by the last "
		        "session; they will be decoded again\n", names.slots_reset);
	if (edits_file) {
		r = send_edits(coord, edits, edits_file);
		fclose(edits_file);
		if (r) {
			/* Nothing of a new session is kept when its edits were refused. */
			char buffer[4096], log[4096];
			bool created = !reel_coord_resumed(coord);
			snprintf(buffer, sizeof(buffer), "%s", reel_coord_buffer_path(coord));
			reel_coord_close(coord);
			if (created && reel_session_log_path(buffer, log, sizeof(log)) == 0) {
				unlink(buffer);
				unlink(log);
			}
			return r;
		}
	}
	info = reel_coord_info(coord);
	{
		char fmt[128];
		/* Honest about what the buffer changed: depth, chroma and range are converted. */
		if (cli_describe_format(&info->format, fmt, sizeof(fmt)) > 0)
			fprintf(stderr, "reel: note: the source is %s; the buffer keeps it as 8-bit 4:2:0, "
			        "limited range\n", fmt);
	}
	{
		uint64_t frames = reel_buffer_frames(reel_coord_buffer(coord));
		char count[64];

		/* A container that does not list its frames: they are counted in the background. */
		if (frames)
			snprintf(count, sizeof(count), "%" PRIu64 " frames", frames);
		else
			snprintf(count, sizeof(count), "frames being counted");
		fprintf(stderr,
		        "reel: session %s %s: %ux%u, %s, %u slots, buffer %s\n"
		        "reel: stop it with 'reel stop %s' or Ctrl-C\n",
		        reel_coord_session(coord), reel_coord_resumed(coord) ? "resumed" : "opened",
		        info->width, info->height, count, info->slot_count,
		        reel_coord_buffer_path(coord), reel_coord_session(coord));
	}
	/* From here on every line goes to the session log; the terminal gets what matters. */
	route.coord = coord;
	route.stderr_level = verbose ? REEL_LOG_INFO : REEL_LOG_WARN;
	reel_log_set_level(verbose ? REEL_LOG_DEBUG : REEL_LOG_INFO);
	reel_log_set_callback(log_line, &route);
	r = reel_coord_run(coord);
	sig = reel_coord_stop_signal(coord);
	{
		char session[REEL_SESSION_NAME_MAX + 1], path[REEL_PATH_MAX];

		snprintf(session, sizeof(session), "%s", reel_coord_session(coord));
		snprintf(path, sizeof(path), "%s", reel_coord_buffer_path(coord));
		reel_coord_close(coord);
		reel_log_set_callback(NULL, NULL);
		/* The buffer lost pages under the session: everyone was answered, the session is gone. */
		if (r == REEL_E_BUFFERLOST || r == -EIO)
			return cli_error(CLI_FAIL, "open", "session %s stopped: %s (%s)", session,
			                 reel_strerror(r), path);
	}
	if (r < 0)
		return cli_error(CLI_FAIL, "open", "%s", reel_strerror(r));
	if (verbose)
		fprintf(stderr, "reel: session stopped cleanly%s%s\n", sig ? " on " : "",
		        sig ? strsignal(sig) : "");
	/*
	 * Ctrl-C is an interruption a script should see (130, as a shell would
	 * say of a program SIGINT stopped); SIGTERM and SIGHUP are how service
	 * managers and terminals ask for the normal stop, which is 0.
	 */
	return sig == SIGINT ? 128 + SIGINT : CLI_OK;
}
