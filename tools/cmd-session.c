/*
 * reel status, reel stop: looking at and stopping live sessions.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "bus/bus.h"
#include "reel/client.h"
#include "reel/error.h"
#include "bus/session.h"
#include "buffer/buffer.h"
#include "buffer/journal.h"
#include "buffer/stagetab.h"
#include "edit/edits.h"
#include "bus/msg.h"
#include "reel/ops.h"

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

/* What the buffer itself says: the stage table and the journal's states. */
struct table_view {
	struct reel_stage_record rec[REEL__STAGE_ENTRIES];
	bool live[REEL__STAGE_ENTRIES];
	uint64_t states[REEL_JOURNAL_STATE_COUNT];
	uint64_t edits;
	uint64_t output;          /* frames an export keeps, with trims and speed changes */
	bool have_info;
	uint64_t index_ready;     /* frames whose index entry is known (all once it is complete) */
	uint64_t frames;          /* the count; 0 while the coordinator counts them */
	int index_failed;         /* why the index scan stopped short (< 0), 0 when it did not */
	struct reel_buffer_info info;
	double duration;          /* seconds, from the first frame's start to the last one's end */
	char pictures[REEL__PICTURES_PATH]; /* the pictures file in RAM; empty: in the buffer file */
	uint64_t pictures_bytes;  /* of RAM it holds */
};

/* From the first frame's pts to the end of the last one (its interval taken from the one before). */
static double video_duration(const struct reel_buffer *b)
{
	const struct reel_buffer_info *in = reel_buffer_info(b);
	struct reel_index_entry first, last, prev;
	double tb = (double)in->time_base.num / in->time_base.den, d;
	uint64_t n = reel_buffer_frames(b);

	if (n == 0 || reel_index_get(b, 0, &first) < 0 || reel_index_get(b, n - 1, &last) < 0)
		return 0;
	if (n > 1 && reel_index_get(b, n - 2, &prev) == 0 &&
	    prev.pts < last.pts)
		d = (double)(last.pts - prev.pts) * tb;
	else
		d = (double)in->frame_rate.den / in->frame_rate.num;
	return (double)(last.pts - first.pts) * tb + d;
}

static void read_table(const char *path, uint64_t generation, struct table_view *v)
{
	struct reel_buffer *b;
	uint64_t count;

	memset(v, 0, sizeof(*v));
	if (reel_buffer_open_readonly(path, &b) < 0)
		return;
	for (unsigned i = 0; i < REEL__STAGE_ENTRIES; i++) {
		struct reel_stage_record *r = &v->rec[i];
		/* An entry of this run whose process is still there. */
		v->live[i] = reel_stagetab_read(b, i, r) == 0 && r->pid != 0 && r->generation == generation &&
		             (kill((pid_t)r->pid, 0) == 0 || errno != ESRCH) && r->role < REEL_ROLE_COUNT;
	}
	v->frames = reel_buffer_frames(b);
	v->output = v->frames;
	v->info = *reel_buffer_info(b);
	v->have_info = true;
	v->index_ready = reel_index_ready(b);
	v->index_failed = reel_index_failed(b);
	if (reel_buffer_pictures_path(b)) {
		struct stat pst;

		snprintf(v->pictures, sizeof(v->pictures), "%s", reel_buffer_pictures_path(b));
		if (stat(v->pictures, &pst) == 0)
			v->pictures_bytes = (uint64_t)pst.st_blocks * 512;
	}
	v->duration = video_duration(b);
	if (v->frames) {
		struct reel_edits *x = NULL;
		uint32_t *counts = calloc(v->frames, sizeof(*counts));
		if (counts && reel_edits_new(v->frames, &x) == 0 &&
		    reel_edits_sync(x, b) == 0)
			v->output = reel_edits_output(x, counts);
		reel_edits_free(x);
		free(counts);
	}
	count = reel_journal_count(b);
	for (uint64_t seq = 1; seq <= count; seq++) {
		struct reel_journal_entry e;
		if (reel_journal_read(b, seq, &e) == 0 &&
		    !(reel_op_get(e.op)->flags & (REEL_OP_CONTROL | REEL_OP_INTERNAL))) {
			v->states[e.state]++;
			v->edits++;
		}
	}
	reel_buffer_close(b);
}

static void print_status_json(const char *session, const struct reel_session_record *rec,
                              const struct reel_status *st, const struct table_view *v)
{
	static const char *const roles[] = { "coord", "editor", "effect", "audio", "preview" };
	bool first = true;

	printf("{\"session\":");
	cli_json_string(stdout, session);
	printf(",\"pid\":%ld,\"source\":", (long)rec->pid);
	cli_json_string(stdout, rec->source_path);
	printf(",\"buffer\":");
	cli_json_string(stdout, rec->buffer_path);
	printf(",\"frames\":%" PRIu64 ",\"resident\":%" PRIu64 ",\"journal\":%" PRIu64
	       ",\"pending\":%" PRIu64 ",\"inflight\":%" PRIu64 ",\"errors\":%" PRIu64
	       ",\"failed\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"generation\":%" PRIu64
	       ",\"decoded\":%" PRIu64,
	       st->frames, st->resident, st->journal, st->pending, st->inflight, st->errors,
	       st->failed, st->malformed, st->generation, st->decoded);
	if (v->have_info)
		printf(",\"index_ready\":%" PRIu64 ",\"index_complete\":%s,\"counting\":%s",
		       v->index_ready, v->frames && v->index_ready == v->frames ? "true" : "false",
		       v->frames || v->index_failed < 0 ? "false" : "true");
	if (v->have_info && v->index_failed < 0) {
		printf(",\"index_error\":");
		cli_json_string(stdout, reel_strerror(v->index_failed));
	}
	printf(",\"pictures\":");
	if (v->pictures[0])
		cli_json_string(stdout, v->pictures);
	else
		printf("null");
	printf(",\"pictures_bytes\":%" PRIu64, v->pictures_bytes);
	printf(",\"journal_error\":");
	if (st->journal_error)
		cli_json_string(stdout, reel_strerror(st->journal_error));
	else
		printf("null");
	printf(",\"output_frames\":%" PRIu64, v->output);
	if (v->have_info) {
		const struct reel_buffer_info *in = &v->info;
		char fmt[128];
		int changed = cli_describe_format(&in->format, fmt, sizeof(fmt));

		printf(",\"width\":%u,\"height\":%u,\"frame_rate\":\"%d/%d\",\"fps\":%.6g"
		       ",\"duration\":%.6f,\"sample_rate\":%u,\"channels\":%u,\"source_pix_fmt\":",
		       in->width, in->height, in->frame_rate.num, in->frame_rate.den,
		       (double)in->frame_rate.num / in->frame_rate.den, v->duration, in->sample_rate,
		       in->channels);
		cli_json_string(stdout, in->format.pix_fmt);
		printf(",\"source_bits\":%u,\"source_chroma\":%u,\"color_range\":\"%s\""
		       ",\"converted\":%s",
		       in->format.bits, in->format.chroma, in->format.full_range ? "full" : "limited",
		       changed > 0 ? "true" : "false");
	}
	printf(",\"edits\":{\"total\":%" PRIu64 ",\"pending\":%" PRIu64 ",\"applied\":%" PRIu64
	       ",\"undone\":%" PRIu64 ",\"failed\":%" PRIu64 "}",
	       v->edits, v->states[REEL_JOURNAL_PENDING], v->states[REEL_JOURNAL_APPLIED],
	       v->states[REEL_JOURNAL_UNDONE], v->states[REEL_JOURNAL_FAILED]);
	printf(",\"queues\":{");
	for (int i = 0; i < 5; i++)
		printf("%s\"%s\":%" PRIu64, i ? "," : "", roles[i], st->queue_depth[i]);
	printf("},\"stages\":[");
	for (unsigned i = 1; i < REEL__STAGE_ENTRIES; i++) {
		const struct reel_stage_record *r = &v->rec[i];
		if (!v->live[i])
			continue;
		printf("%s{\"pid\":%u,\"role\":\"%s\",\"items_done\":%" PRIu64
		       ",\"items_failed\":%" PRIu64 ",\"frames_edited\":%" PRIu64
		       ",\"frames_skipped\":%" PRIu64 ",\"busy_edit\":%" PRIu64 ",\"errors\":%" PRIu64
		       ",\"log_dropped\":%" PRIu64 ",\"last_error\":",
		       first ? "" : ",", r->pid, reel_role_name(r->role), r->items_done, r->items_failed,
		       r->frames_edited, r->frames_skipped, r->busy_seq, r->errors, r->dropped);
		cli_json_string(stdout, r->last_error);
		printf("}");
		first = false;
	}
	printf("],\"last_error\":");
	cli_json_string(stdout, v->live[0] ? v->rec[0].last_error : "");
	printf("}\n");
}

static void print_status_text(const char *session, const struct reel_session_record *rec,
                              const struct reel_status *st, const struct table_view *v)
{
	static const char *const roles[] = { "coord", "editor", "effect", "audio", "preview" };
	unsigned nstages = 0;
	uint64_t errors = v->live[0] ? v->rec[0].errors : 0;

	printf("session     %s (coordinator pid %ld, generation %" PRIu64 ")\n", session,
	       (long)rec->pid, st->generation);
	printf("source      %s\n", rec->source_path);
	if (v->have_info) {
		char fmt[128];
		int changed = cli_describe_format(&v->info.format, fmt, sizeof(fmt));
		printf("video       %ux%u, %.6g fps, %.3f s; source pictures %s%s\n", v->info.width,
		       v->info.height, (double)v->info.frame_rate.num / v->info.frame_rate.den,
		       v->duration, fmt, changed > 0 ? " (kept as 8-bit 4:2:0, limited range)" : "");
	}
	printf("buffer      %s\n", rec->buffer_path);
	if (v->pictures[0]) {
		char size[32];
		printf("pictures    in RAM, %s: %s\n", cli_human_size(v->pictures_bytes, size, sizeof(size)),
		       v->pictures);
	}
	if (v->have_info && !v->frames && v->index_failed < 0)
		printf("frames      not counted: the index stops at frame %" PRIu64 " (%" PRIu64
		       " resident, %" PRIu64 " in error, %" PRIu64 " decoded since start)\n",
		       v->index_ready, st->resident, st->errors, st->decoded);
	else if (v->have_info && !v->frames)
		printf("frames      still being counted (%" PRIu64 " resident, %" PRIu64 " in error, %"
		       PRIu64 " decoded since start)\n", st->resident, st->errors, st->decoded);
	else
		printf("frames      %" PRIu64 " (%" PRIu64 " resident, %" PRIu64 " in error, %" PRIu64
		       " decoded since start)\n", st->frames, st->resident, st->errors, st->decoded);
	if (v->have_info && v->index_failed < 0)
		printf("index       stopped at frame %" PRIu64 ": %s; the frames past it cannot be "
		       "decoded (see 'reel logs %s')\n", v->index_ready, reel_strerror(v->index_failed),
		       session);
	else if (v->have_info && !v->frames)
		printf("index       being built: %" PRIu64 " frames so far; the count and the duration "
		       "are known when it ends\n", v->index_ready);
	else if (v->have_info && v->index_ready < v->frames)
		printf("index       being built: %" PRIu64 " of %" PRIu64 " frames (%.0f%%); the "
		       "duration is known when it ends\n", v->index_ready, v->frames,
		       100.0 * (double)v->index_ready / (double)v->frames);
	if (v->frames && v->output != st->frames)
		printf("output      %" PRIu64 " frames after trims and speed changes\n", v->output);
	printf("edits       %" PRIu64 " (%" PRIu64 " applied, %" PRIu64 " pending, %" PRIu64
	       " undone, %" PRIu64 " failed); %" PRIu64 " journal entries, %" PRIu64
	       " work items in flight\n",
	       v->edits, v->states[REEL_JOURNAL_APPLIED], v->states[REEL_JOURNAL_PENDING],
	       v->states[REEL_JOURNAL_UNDONE], v->states[REEL_JOURNAL_FAILED], st->journal,
	       st->inflight);
	for (unsigned i = 1; i < REEL__STAGE_ENTRIES; i++)
		nstages += v->live[i];
	printf("stages      %u attached\n", nstages);
	if (nstages)
		printf("  %-8s %-7s %7s %7s %8s  %s\n", "PID", "ROLE", "ITEMS", "FAILED", "FRAMES", "NOW");
	for (unsigned i = 1; i < REEL__STAGE_ENTRIES; i++) {
		const struct reel_stage_record *r = &v->rec[i];
		char now[64] = "idle";

		if (!v->live[i])
			continue;
		if (r->busy_seq)
			snprintf(now, sizeof(now), "edit %" PRIu64 ", frames %" PRId64 "-%" PRId64, r->busy_seq,
			         r->busy_first, r->busy_last);
		printf("  %-8u %-7s %7" PRIu64 " %7" PRIu64 " %8" PRIu64 "  %s\n", r->pid,
		       reel_role_name(r->role), r->items_done, r->items_failed, r->frames_edited, now);
		errors += r->errors;
	}
	printf("queues     ");
	for (int i = 0; i < 5; i++)
		printf(" %s %" PRIu64, roles[i], st->queue_depth[i]);
	printf("\nmalformed   %" PRIu64 " messages dropped\n", st->malformed);
	if (st->journal_error)
		printf("journal     NOT WRITABLE (%s): no edits are accepted; stop the session and "
		       "check the disk\n", reel_strerror(st->journal_error));
	printf("errors      %" PRIu64 " logged", errors);
	if (v->live[0] && v->rec[0].last_error[0])
		printf("; last: %s", v->rec[0].last_error);
	printf(" (see 'reel logs %s')\n", session);
	for (unsigned i = 1; i < REEL__STAGE_ENTRIES; i++)
		if (v->live[i] && v->rec[i].last_error[0])
			printf("  %s %u: %s\n", reel_role_name(v->rec[i].role), v->rec[i].pid,
			       v->rec[i].last_error);
}

int cmd_status(int argc, char **argv)
{
	const struct reel_session_record *rec;
	struct reel_client *client;
	struct reel_status st;
	struct table_view *v;
	const char *session;
	bool json;
	int r;

	r = parse_common(argc, argv, "status",
	                 "usage: reel status SESSION [--json]\n\n"
	                 "Show a live session: source, frames and how many are resident, the edits\n"
	                 "and their states, the attached stages with what each is doing, queue\n"
	                 "depths and errors.  With --json, one object with the keys session, pid,\n"
	                 "source, buffer, frames, resident, journal, pending, inflight, errors,\n"
	                 "failed, malformed, generation, decoded, index_ready (frames whose\n"
	                 "timestamps are known while the index is built), index_complete,\n"
	                 "pictures (the file in RAM that holds the decoded pictures, or null when\n"
	                 "they are in the buffer file), pictures_bytes, output_frames, width, height,\n"
	                 "frame_rate, fps, duration (s), sample_rate, channels, source_pix_fmt,\n"
	                 "source_bits, source_chroma, color_range, converted, edits, queues,\n"
	                 "stages and last_error.\n",
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
	v = malloc(sizeof(*v));
	if (!v) {
		reel_client_close(client);
		return cli_error(CLI_FAIL, "status", "out of memory");
	}
	read_table(rec->buffer_path, st.generation, v);
	if (json)
		print_status_json(session, rec, &st, v);
	else
		print_status_text(session, rec, &st, v);
	free(v);
	reel_client_close(client);
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
	cli_say("stop", "asking coordinator %ld of %s to stop", (long)pid, session);
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
		if (reel_session_read(session, &rec) < 0 || rec.pid != pid) {
			cli_say("stop", "%s stopped: its stages have left and its queues are removed", session);
			return CLI_OK;
		}
		usleep(10000);
	}
	return cli_error(CLI_FAIL, "stop", "%s: coordinator %ld still running after 10 s", session,
	                 (long)pid);
}
