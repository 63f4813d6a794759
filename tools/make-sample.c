/*
 * reel-make-sample: the sample clip `reel demo` opens when it is given
 * none: libavfilter's testsrc2 pattern (moving, with a frame counter, so
 * edits and seeks show) and a beeping sine tone, encoded by the export's
 * encoder.  Video and sound are pulled from two filter graphs and fed to
 * the encoder in step, the sound of each frame before the next picture, as
 * a muxer likes them.
 *
 * A program of its own, not part of libreel: libavfilter and the libraries
 * it pulls in cost every process that loads them about 25 ms at start
 * (measured here), and the coordinator and every stage start often.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavutil/frame.h>

#include "cli.h"
#include "media/media.h"
#include "reel/client.h"
#include "reel/error.h"

#define SAMPLE_RATE 48000

/* One source filter chain ending in a sink: "testsrc2=...,format=yuv420p" into buffersink. */
static int make_graph(const char *chain, bool audio, AVFilterGraph **ret_graph,
                      AVFilterContext **ret_sink)
{
	AVFilterGraph *g = avfilter_graph_alloc();
	AVFilterInOut *in = avfilter_inout_alloc();
	AVFilterContext *sink = NULL;
	int r;

	if (!g || !in) {
		r = -ENOMEM;
		goto out;
	}
	r = avfilter_graph_create_filter(&sink, avfilter_get_by_name(audio ? "abuffersink" : "buffersink"),
	                                 "out", NULL, NULL, g);
	if (r < 0)
		goto out;
	/* The chain's one open output links to the sink's input, labelled "out". */
	in->name = av_strdup("out");
	in->filter_ctx = sink;
	in->pad_idx = 0;
	in->next = NULL;
	if (!in->name) {
		r = -ENOMEM;
		goto out;
	}
	r = avfilter_graph_parse_ptr(g, chain, &in, NULL, NULL);
	if (r >= 0)
		r = avfilter_graph_config(g, NULL);
out:
	avfilter_inout_free(&in);
	if (r < 0) {
		avfilter_graph_free(&g);
		return r;
	}
	*ret_graph = g;
	*ret_sink = sink;
	return 0;
}

/* Copy a decoded picture into the encoder's, plane by plane. */
static void copy_picture(const AVFrame *src, const struct reel_frame *dst)
{
	for (int p = 0; p < 3; p++)
		for (uint32_t y = 0; y < dst->height[p]; y++)
			memcpy(dst->plane[p] + (size_t)y * dst->stride[p],
			       src->data[p] + (ptrdiff_t)y * src->linesize[p], dst->width[p]);
}

/* All the sound up to `until` samples (or the end), to the encoder. */
static int pump_audio(AVFilterContext *sink, AVFrame *frame, struct reel_encoder *enc,
                      int64_t *sent, int64_t until)
{
	int r;

	while (*sent < until) {
		r = av_buffersink_get_frame(sink, frame);
		if (r == AVERROR_EOF || r == AVERROR(EAGAIN))
			return 0;
		if (r < 0)
			return r;
		r = reel_encoder_send_audio(enc, (const float *)frame->data[0], (uint32_t)frame->nb_samples);
		*sent += frame->nb_samples;
		av_frame_unref(frame);
		if (r < 0)
			return r;
	}
	return 0;
}

static int make_sample(const char *path, uint32_t width, uint32_t height, int fps,
                           int seconds, reel_progress_fn progress, void *userdata, char *why,
                           size_t whylen)
{
	AVFilterGraph *vg = NULL, *ag = NULL;
	AVFilterContext *vsink = NULL, *asink = NULL;
	AVFrame *frame = av_frame_alloc();
	struct reel_encoder *enc = NULL;
	struct reel_encode_params p = { 0 };
	char chain[256], tmp[REEL_PATH_MAX];
	int64_t frames = (int64_t)fps * seconds, sent = 0;
	int fd = -1, r;

	why[0] = 0;
	if (!frame)
		return -ENOMEM;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.part", path) >= sizeof(tmp)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	snprintf(chain, sizeof(chain), "testsrc2=size=%ux%u:rate=%d:duration=%d,format=yuv420p", width,
	         height, fps, seconds);
	r = make_graph(chain, false, &vg, &vsink);
	if (r == 0) {
		snprintf(chain, sizeof(chain), "sine=frequency=440:beep_factor=2:sample_rate=%d:"
		         "duration=%d,aformat=sample_fmts=flt:channel_layouts=stereo", SAMPLE_RATE, seconds);
		r = make_graph(chain, true, &ag, &asink);
	}
	if (r < 0) {
		snprintf(why, whylen, "libavfilter: %s", av_err2str(r));
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		snprintf(why, whylen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	p.container = reel_media_container_for_path(path);
	p.video_codec = "libx264";
	p.crf = 20;
	p.preset = "veryfast";
	p.width = width;
	p.height = height;
	p.time_base = (struct reel_rational){ 1, fps };
	p.frame_rate = (struct reel_rational){ fps, 1 };
	p.colorspace = 2;   /* unspecified: testsrc2 draws in YUV without naming a matrix */
	p.audio_codec = "aac";
	p.sample_rate = SAMPLE_RATE;
	p.channels = 2;
	r = reel_encoder_open(fd, &p, &enc, why, whylen);
	if (r < 0)
		goto out;
	for (int64_t i = 0; i < frames; i++) {
		struct reel_frame pic;

		r = av_buffersink_get_frame(vsink, frame);
		if (r == AVERROR_EOF)
			break;
		if (r < 0)
			goto out_av;
		r = reel_encoder_picture(enc, &pic);
		if (r == 0) {
			copy_picture(frame, &pic);
			r = reel_encoder_send_picture(enc, i, 1);
		}
		av_frame_unref(frame);
		if (r == 0)
			r = pump_audio(asink, frame, enc, &sent, (i + 1) * SAMPLE_RATE / fps);
		if (r < 0)
			goto out_av;
		if (progress && progress(userdata, (uint64_t)i + 1, (uint64_t)frames)) {
			r = -ECANCELED;
			goto out;
		}
	}
	r = pump_audio(asink, frame, enc, &sent, INT64_MAX);
	if (r == 0)
		r = reel_encoder_finish(enc);
	if (r < 0)
		goto out_av;
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		r = -errno;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
	}
	goto out;
out_av:
	if (!why[0])
		snprintf(why, whylen, "%s", r < 0 && r > -4096 ? av_err2str(r) : reel_strerror(r));
out:
	reel_encoder_free(enc);
	if (fd >= 0) {
		close(fd);
		if (r < 0)
			unlink(tmp);
	}
	avfilter_graph_free(&vg);
	avfilter_graph_free(&ag);
	av_frame_free(&frame);
	return r;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static int show_progress(void *userdata, uint64_t done, uint64_t total)
{
	(void)userdata;
	if (cli_progress_enabled())
		fprintf(stderr, "\r  making the sample clip: %3.0f%%", 100.0 * (double)done / (double)total);
	return interrupted != 0;
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: reel-make-sample OUT [--seconds N] [--size WxH]\n\n"
	        "Make the sample clip 'reel demo' opens when it is given no video:\n"
	        "libavfilter's testsrc2 pattern (moving, with a frame counter) and a beeping\n"
	        "440 Hz tone, H.264 (libx264) and AAC at 30 fps, in the container OUT's\n"
	        "extension names.  Written to OUT.part and renamed once complete.\n\n"
	        "  --seconds N   length (1-600, default 10)\n"
	        "  --size WxH    picture size (even, 16x16 to 7680x4320; default 1280x720)\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'z' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	uint32_t width = 1280, height = 720;
	uint64_t seconds = 10;
	char why[2 * REEL_PATH_MAX];
	int opt, r;

	cli_program = "reel-make-sample";
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (cli_parse_u64(optarg, &seconds) < 0 || seconds < 1 || seconds > 600)
				return cli_error(CLI_USAGE, NULL, "--seconds %s: expected 1 to 600", optarg);
			break;
		case 'z':
			if (cli_parse_picture_size(optarg, &width, &height) < 0)
				return cli_error(CLI_USAGE, NULL, "--size %s: expected WxH, even, "
				                 "16x16 to 7680x4320", optarg);
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			return cli_bad_option(NULL, opt, argv);
		}
	}
	if (argc - optind != 1)
		return cli_error(CLI_USAGE, NULL, "expected one OUT file (see 'reel-make-sample --help')");
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	r = make_sample(argv[optind], width, height, 30, (int)seconds, show_progress, NULL, why,
	                sizeof(why));
	if (cli_progress_enabled())
		fprintf(stderr, "\r\033[K");
	/* Stopped by a signal, whatever the step it stopped: the part made is gone already. */
	if (r < 0 && interrupted)
		return 128 + interrupted;
	if (r < 0)
		return cli_error(CLI_FAIL, NULL, "%s: %s", argv[optind], why[0] ? why : reel_strerror(r));
	return CLI_OK;
}
