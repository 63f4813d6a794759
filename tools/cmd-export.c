/*
 * reel export: encode the frames of a session, as they stand, to a file or
 * to standard output.  The export engine (core/export/) reads and encodes;
 * this file reads the arguments, keeps the user's file safe (a temporary
 * name next to OUT, renamed once complete, removed on failure or a signal)
 * and shows the progress.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "buffer/buffer.h"
#include "cli.h"
#include "edit-args.h"
#include "export/export.h"
#include "media/media.h"
#include "reel/client.h"
#include "reel/error.h"

#define PROGRESS_EVERY_MS 250

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: reel export SESSION OUT [--frames A-B | --time T1-T2] [--codec NAME]\n"
	        "                   [--crf N] [--preset P] [--audio-codec NAME | --no-audio]\n"
	        "                   [--threads N] [--format F] [--json]\n\n"
	        "Encode the session's frames as they stand, every edit in, into OUT.  Trimmed\n"
	        "frames are left out; a speed change repeats or drops frames, and each showing\n"
	        "of a frame carries that frame's own sound.  Frames keep their timestamps, so a\n"
	        "variable frame rate survives.  Each frame is read once no edit still being\n"
	        "applied covers it.\n\n"
	        "OUT's extension names the container: .mp4, .mkv, .mov, .nut, or .y4m\n"
	        "(YUV4MPEG2: pictures only, no sound).  OUT - writes to standard output in\n"
	        "--format y4m (the default), nut or mkv, for ffmpeg, ffplay, x264 or mpv to\n"
	        "read from a pipe.  A file is written under a temporary name next to OUT and\n"
	        "renamed once complete: an error or Ctrl-C leaves OUT as it was.\n\n"
	        "  --frames A-B        source frames A to B (also A, or A- to the end), numbered\n"
	        "                      as everywhere in reel: before trims and speed changes.\n"
	        "                      Ranges that split the video (0-999, 1000-1999, 2000-)\n"
	        "                      give parts that join into the whole export with\n"
	        "                      ffmpeg's concat demuxer (see the README)\n"
	        "  --time T1-T2        the source frames shown from T1 up to T2 (times as\n"
	        "                      ffmpeg's -ss reads them: 6.5, 1:02.5, 00:01:02.5)\n"
	        "  --codec NAME        video encoder (default libx264), e.g. libx265, ffv1, utvideo\n"
	        "  --crf N             constant rate factor (libx264's default here: 23)\n"
	        "  --preset P          encoder preset (libx264's default here: medium)\n"
	        "  --audio-codec NAME  sound encoder (default aac), e.g. flac, pcm_s16le, libopus\n"
	        "  --no-audio          leave the sound out\n"
	        "  --threads N         encoder threads (default: as many as the encoder likes)\n"
	        "  --format F          with OUT -: y4m, nut or mkv\n"
	        "  --json              a summary as one JSON object (on stderr with OUT -)\n\n"
	        "Exit status: 0 done, 1 failed while running, 2 bad arguments, 128+N after\n"
	        "signal N (Ctrl-C: 130).\n");
}

struct progress {
	bool show;
	double t0, last;
	uint64_t done;               /* frames written at the last call */
	double since;                /* when that count was first seen */
	int signal;                  /* the stop signal that arrived, 0 none */
};

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };

/* Called by the engine after every frame: the line on a terminal, and whether to stop. */
static int on_progress(void *userdata, uint64_t done, uint64_t total)
{
	struct progress *p = userdata;
	double now = reel__now_ms();
	sigset_t pending;

	sigpending(&pending);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		if (sigismember(&pending, stop_signals[i])) {
			p->signal = stop_signals[i];
			return 1;
		}
	if (done != p->done || p->since == 0) {
		p->done = done;
		p->since = now;
	}
	if (p->show && (now - p->last >= PROGRESS_EVERY_MS || done == total)) {
		double secs = (now - p->t0) / 1e3, fps = secs > 0 ? (double)done / secs : 0;
		double eta = fps > 0 ? (double)(total - done) / fps : 0;

		p->last = now;
		fprintf(stderr, "\r\033[Kexport: %" PRIu64 "/%" PRIu64 " frames (%.0f%%), %.1f fps, ETA "
		        "%d:%02d", done, total, total ? 100.0 * (double)done / (double)total : 100.0, fps,
		        (int)eta / 60, (int)eta % 60);
		/* The engine calls every couple of seconds while it waits for one frame. */
		if (now - p->since >= 1500)
			fprintf(stderr, "; waiting %.0f s for a frame (being decoded, or edits on it still "
			        "being applied: see 'reel status')", (now - p->since) / 1e3);
		fflush(stderr);
	}
	return 0;
}

/* Where the temporary file goes: ".<name>.reel-XXXXXX" in OUT's folder. */
static int make_temp(const char *out, char *tmp, size_t len)
{
	char a[PATH_MAX], b[PATH_MAX];
	mode_t mask = umask(0);
	int fd;

	umask(mask);
	if (strlen(out) >= sizeof(a))
		return -ENAMETOOLONG;
	strcpy(a, out);
	strcpy(b, out);
	if ((size_t)snprintf(tmp, len, "%s/.%s.reel-XXXXXX", dirname(a), basename(b)) >= len)
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* mkostemp makes it 0600; OUT gets what any new file would. */
	if (fchmod(fd, 0666 & ~mask) < 0) {
		int e = -errno;
		close(fd);
		unlink(tmp);
		return e;
	}
	return fd;
}

/* The same file as path (an existing one)? */
static bool same_file(const struct stat *st, const char *path)
{
	struct stat o;

	return path && *path && stat(path, &o) == 0 && o.st_dev == st->st_dev && o.st_ino == st->st_ino;
}

/* OUT must not be a folder, the session's source or its buffer. */
static int check_out(const char *out, const struct reel_session_record *rec)
{
	struct stat st;

	if (stat(out, &st) != 0)
		return 0;
	if (S_ISDIR(st.st_mode))
		return cli_error(CLI_USAGE, "export", "%s: is a folder; name the file to write", out);
	if (same_file(&st, rec->source_path) || same_file(&st, rec->buffer_path))
		return cli_error(CLI_USAGE, "export", "%s: is the session's own %s; name another file",
		                 out, same_file(&st, rec->source_path) ? "source video" : "buffer file");
	return 0;
}

/* The container OUT (or --format, for OUT -) asks for, or an error line (returned code). */
static int pick_container(const char *out, const char *format, const char **ret)
{
	const char *c, *dot;

	if (strcmp(out, "-") == 0) {
		c = format ? reel_media_container_named(format) : "y4m";
		if (!c || (strcmp(c, "y4m") && strcmp(c, "nut") && strcmp(c, "matroska")))
			return cli_error(CLI_USAGE, "export", "--format %s: standard output takes y4m, nut or "
			                 "mkv (a stream that needs no seeking)", format);
		if (isatty(STDOUT_FILENO))
			return cli_error(CLI_USAGE, "export", "OUT -: standard output is a terminal; redirect "
			                 "it to a file or a pipe");
		*ret = c;
		return 0;
	}
	c = reel_media_container_for_path(out);
	if (!c) {
		dot = strrchr(out, '.');
		if (dot && !strchr(dot, '/'))
			return cli_error(CLI_USAGE, "export", "%s: unknown container '%s' (name a .mp4, .mkv, "
			                 ".mov, .nut or .y4m file)", out, dot);
		return cli_error(CLI_USAGE, "export", "%s: no extension to name the container (name a "
		                 ".mp4, .mkv, .mov, .nut or .y4m file)", out);
	}
	if (format && reel_media_container_named(format) != c)
		return cli_error(CLI_USAGE, "export", "--format %s does not match %s", format, out);
	*ret = c;
	return 0;
}

static void print_summary(FILE *f, bool json, const char *session, const char *out,
                          const char *container, const struct reel_export_options *o,
                          const struct reel_export_stats *st, uint32_t channels)
{
	double fps = st->total_ms > 0 ? (double)st->frames / (st->total_ms / 1e3) : 0;
	bool y4m = strcmp(container, "y4m") == 0;

	if (!json) {
		fprintf(f, "%s: %" PRIu64 " frames, %.3f s (source frames %" PRId64 "-%" PRId64 "), "
		        "%.1f s at %.1f fps\n", strcmp(out, "-") ? out : "standard output", st->frames,
		        st->duration_s, o->first, o->last, st->total_ms / 1e3, fps);
		return;
	}
	fputs("{\"session\":", f);
	cli_json_string(f, session);
	fputs(",\"out\":", f);
	cli_json_string(f, out);
	fprintf(f, ",\"container\":\"%s\",\"video_codec\":", container);
	if (y4m)
		fputs("null", f);
	else
		cli_json_string(f, o->video_codec ? o->video_codec : "libx264");
	fputs(",\"audio_codec\":", f);
	if (channels)
		cli_json_string(f, o->audio_codec ? o->audio_codec : "aac");
	else
		fputs("null", f);
	fprintf(f, ",\"first\":%" PRId64 ",\"last\":%" PRId64 ",\"frames\":%" PRIu64
	        ",\"source_frames\":%" PRIu64 ",\"duration\":%.6f,\"audio_samples\":%" PRIu64
	        ",\"seconds\":%.3f,\"fps\":%.2f,\"read_ms\":%.1f,\"encode_ms\":%.1f,\"window\":%u}\n",
	        o->first, o->last, st->frames, st->source_frames, st->duration_s, st->audio_samples,
	        st->total_ms / 1e3, fps, st->read_ms, st->encode_ms, st->window);
}

int cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "frames", required_argument, NULL, 'F' },
		{ "time", required_argument, NULL, 't' },
		{ "codec", required_argument, NULL, 'c' },
		{ "crf", required_argument, NULL, 'q' },
		{ "preset", required_argument, NULL, 'p' },
		{ "audio-codec", required_argument, NULL, 'a' },
		{ "no-audio", no_argument, NULL, 'A' },
		{ "threads", required_argument, NULL, 'T' },
		{ "format", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct reel_export_options o = { .crf = -1, .fd = -1 };
	struct progress prog = { 0 };
	struct reel_export_stats st;
	struct reel_client *client = NULL;
	struct reel_buffer *buffer = NULL;
	struct reel_export *ex = NULL;
	const char *frames = NULL, *times = NULL, *format = NULL, *session, *out;
	char tmp[PATH_MAX + 32] = "", why[512];
	sigset_t stop, old;
	uint64_t v;
	bool json = false, to_stdout, blocked = false;
	int opt, r, code = CLI_FAIL;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'F': frames = optarg; break;
		case 't': times = optarg; break;
		case 'c': o.video_codec = optarg; break;
		case 'q':
			if (cli_parse_u64(optarg, &v) < 0 || v > 100)
				return cli_error(CLI_USAGE, "export", "--crf %s: expected a whole number from 0 "
				                 "(libx264: 0 to 51)", optarg);
			o.crf = (int)v;
			break;
		case 'p': o.preset = optarg; break;
		case 'a': o.audio_codec = optarg; break;
		case 'A': o.no_audio = true; break;
		case 'T':
			if (cli_parse_u64(optarg, &v) < 0 || v > 256)
				return cli_error(CLI_USAGE, "export", "--threads %s: expected 0 to 256", optarg);
			o.threads = (int)v;
			break;
		case 'f': format = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return CLI_OK;
		default:
			return cli_bad_option("export", opt, argv);
		}
	}
	if (argc - optind != 2)
		return cli_error(CLI_USAGE, "export", "expected SESSION and OUT (see 'reel export --help')");
	session = argv[optind];
	out = argv[optind + 1];
	to_stdout = strcmp(out, "-") == 0;
	if (!*out)
		return cli_error(CLI_USAGE, "export", "OUT is empty: name a file, or - for standard output");
	r = pick_container(out, format, &o.container);
	if (r)
		return r;
	if (strcmp(o.container, "y4m") == 0 && (o.video_codec || o.crf >= 0 || o.preset ||
	                                         o.audio_codec))
		return cli_error(CLI_USAGE, "export", "y4m is raw pictures: --codec, --crf, --preset and "
		                 "--audio-codec do not apply");
	if (o.no_audio && o.audio_codec)
		return cli_error(CLI_USAGE, "export", "--no-audio and --audio-codec: give one");

	r = reel_session_name_check(session);
	if (r == 0)
		r = reel_client_connect(session, &client);
	if (r < 0)
		return cli_error(CLI_USAGE, "export", "%s: %s", session, reel_strerror(r));
	r = reel_buffer_open_readonly(reel_client_record(client)->buffer_path, &buffer);
	if (r < 0) {
		cli_error(CLI_FAIL, "export", "%s: %s", reel_client_record(client)->buffer_path,
		          reel_strerror(r));
		goto out_close;
	}
	/* The plan needs every frame's time. */
	r = cli_wait_index(buffer);
	if (r < 0) {
		cli_error(CLI_FAIL, "export", r == REEL_E_NOTYET ?
		          "%s: the frame index is still being built after a minute" :
		          "%s: the frame index could not be built (%s); reopen the session to index the "
		          "whole file", session, reel_strerror(r));
		goto out_close;
	}
	if (cli_parse_range(frames, times, buffer, &o.first, &o.last, why, sizeof(why)) < 0) {
		code = cli_error(CLI_USAGE, "export", "%s", why);
		goto out_close;
	}
	if (!to_stdout && (code = check_out(out, reel_client_record(client))) != 0)
		goto out_close;
	code = CLI_FAIL;
	if (strcmp(o.container, "y4m") == 0 && reel_buffer_info(buffer)->sample_rate > 0)
		fprintf(stderr, "reel export: y4m carries pictures only: the sound is left out\n");

	/* Stop signals are taken between frames, so the temporary file is always removed. */
	sigemptyset(&stop);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaddset(&stop, stop_signals[i]);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	signal(SIGPIPE, SIG_IGN);
	if (to_stdout) {
		o.fd = STDOUT_FILENO;
	} else {
		o.fd = make_temp(out, tmp, sizeof(tmp));
		if (o.fd < 0) {
			code = cli_error(CLI_USAGE, "export", "%s: cannot write a file there: %s", out,
			                 strerror(-o.fd));
			tmp[0] = 0;
			goto out_signals;
		}
	}
	o.session = session;
	prog.show = cli_progress_enabled();
	prog.t0 = prog.last = reel__now_ms();
	o.progress = on_progress;
	o.userdata = &prog;
	r = reel_export_open(&o, &ex, why, sizeof(why));
	if (r < 0) {
		bool bad_input = r == REEL_E_PARAM || r == REEL_E_RANGE || r == -ENODATA ||
		                 r == REEL_E_NOSESSION;
		code = cli_error(bad_input ? CLI_USAGE : CLI_FAIL, "export", "%s", why);
		goto out_remove;
	}
	r = reel_export_run(ex, &st, why, sizeof(why));
	if (prog.show)
		fputs("\r\033[K", stderr);
	if (r == -ECANCELED && prog.signal) {
		fprintf(stderr, "reel export: stopped by %s; %s\n", strsignal(prog.signal),
		        to_stdout ? "the stream is cut short" : "nothing was written");
		code = 128 + prog.signal;
		goto out_remove;
	}
	if (r == -EPIPE && to_stdout) {
		cli_error(CLI_FAIL, "export", "standard output was closed by its reader after %" PRIu64
		          " frames", st.frames);
		goto out_remove;
	}
	if (r < 0) {
		cli_error(CLI_FAIL, "export", "%s: %s", to_stdout ? "standard output" : out, why);
		goto out_remove;
	}
	if (!to_stdout) {
		/* The data on disk before the name: a crash never leaves a short OUT in place of the old one. */
		if (fsync(o.fd) < 0 || close(o.fd) < 0) {
			o.fd = -1;
			cli_error(CLI_FAIL, "export", "%s: %s", out, strerror(errno));
			goto out_remove;
		}
		o.fd = -1;
		if (rename(tmp, out) < 0) {
			cli_error(CLI_FAIL, "export", "%s: %s", out, strerror(errno));
			goto out_remove;
		}
		tmp[0] = 0;
	}
	print_summary(to_stdout ? stderr : stdout, json, session, out, o.container, &o, &st,
	              reel_export_channels(ex));
	code = CLI_OK;
out_remove:
	reel_export_close(ex);
	if (o.fd >= 0 && !to_stdout)
		close(o.fd);
	if (tmp[0])
		unlink(tmp);
out_signals:
	/* A stop signal we acted on is taken off, rather than delivered once unblocked. */
	if (prog.signal) {
		struct timespec zero = { 0, 0 };
		while (sigtimedwait(&stop, NULL, &zero) > 0)
			;
	}
	blocked = true;
out_close:
	reel_buffer_close(buffer);
	reel_client_close(client);
	if (blocked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	return code;
}
