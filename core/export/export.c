/*
 * The export engine (see export.h): the plan, a read-ahead thread that
 * asks the coordinator for the frames the encoder will want next, and the
 * encoder's loop, which reads each frame settled straight into the
 * encoder's picture memory and sends it once per showing.
 *
 * Two connections, because a client waits for one reply at a time: the
 * read-ahead's needs block in its own thread while the encoder's reads,
 * answered at once for a frame already there, go through the other.  Both
 * ask at batch priority, below a person at the preview.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "buffer/buffer.h"
#include "bus/session.h"
#include "export/export.h"
#include "media/media.h"
#include "reel/client.h"
#include "reel/error.h"

/* How long one request may wait before the export looks at cancellation and the coordinator. */
#define WAIT_TIMEOUT_MS 2000
/* Frames asked for ahead of the encoder at most, and per request. */
#define WINDOW_MAX 48
#define CHUNK_MAX 16
#define BUSY_SLEEP_US 20000

struct reel_export {
	struct reel_export_options opt;
	struct reel_client *client;        /* the encoder's reads */
	struct reel_client *ahead;         /* the read-ahead's needs */
	struct reel_buffer *buffer;        /* read-only: geometry, index, journal */
	struct reel_video_info video;
	struct reel_export_plan plan;
	struct reel_encoder *enc;          /* NULL for y4m */
	struct reel_frame packed;          /* y4m: the picture read */
	float *audio;                      /* one frame's sound */
	uint32_t channels;                 /* of the sound exported; 0: none */
	unsigned window, chunk;

	pthread_mutex_t lock;
	pthread_cond_t moved;              /* `reading` grew, or `stop` was set */
	size_t reading;                    /* the step the encoder reads now */
	bool stop;
};

/* The read-ahead asks for no source frame at or past this one. */
static int64_t ahead_limit(const struct reel_export *ex)
{
	return ex->plan.steps[ex->reading].frame + (int64_t)ex->window;
}

/*
 * The read-ahead: needs over the steps after the encoder's, a chunk at a
 * time, never past `window` source frames ahead of the frame being read
 * (frames skipped inside a chunk are decoded anyway, on the way).  An error
 * ends it quietly: the encoder's own read of that frame meets it and says
 * what it is.
 */
static void *read_ahead(void *arg)
{
	struct reel_export *ex = arg;
	const struct reel_export_step *s = ex->plan.steps;
	size_t n = ex->plan.nsteps, q = 0;

	pthread_mutex_lock(&ex->lock);
	while (!ex->stop) {
		size_t end;
		int64_t limit;
		int r;

		if (q < ex->reading)
			q = ex->reading;
		if (q >= n)
			break;
		limit = ahead_limit(ex);
		if (s[q].frame >= limit) {
			pthread_cond_wait(&ex->moved, &ex->lock);
			continue;
		}
		for (end = q + 1; end < n && s[end].frame < limit &&
		     s[end].frame - s[q].frame < (int64_t)ex->chunk; end++)
			;
		pthread_mutex_unlock(&ex->lock);
		r = reel_client_need(ex->ahead, (uint64_t)s[q].frame, (uint64_t)s[end - 1].frame,
		                     REEL_PRIO_BATCH, WAIT_TIMEOUT_MS, NULL);
		if (r == -EBUSY)
			usleep(BUSY_SLEEP_US);
		pthread_mutex_lock(&ex->lock);
		if (r == 0)
			q = end;
		else if (r != -ETIMEDOUT && r != -EBUSY)
			break;
	}
	pthread_mutex_unlock(&ex->lock);
	return NULL;
}

static int open_output(struct reel_export *ex, char *why, size_t whylen)
{
	const struct reel_export_options *o = &ex->opt;
	struct reel_rational rate = ex->video.frame_rate;
	struct reel_encode_params p = {
		.container = o->container,
		.video_codec = o->video_codec,
		.crf = o->crf,
		.preset = o->preset,
		.threads = o->threads,
		.width = ex->video.width,
		.height = ex->video.height,
		.time_base = ex->video.time_base,
		.colorspace = (int)reel_buffer_info(ex->buffer)->format.colorspace,
		.audio_codec = o->audio_codec,
		.sample_rate = ex->channels ? ex->video.sample_rate : 0,
		.channels = ex->channels,
	};
	struct reel_video_info picture = ex->video;
	int r;

	if (rate.num <= 0 || rate.den <= 0)
		rate = (struct reel_rational){ 25, 1 };
	p.frame_rate = rate;
	if (strcmp(o->container, "y4m") != 0)
		return reel_encoder_open(o->fd, &p, &ex->enc, why, whylen);
	picture.channels = 0;
	r = reel_frame_alloc(&picture, &ex->packed);
	if (r == 0)
		r = reel_y4m_write_header(o->fd, ex->video.width, ex->video.height, rate);
	if (r < 0)
		snprintf(why, whylen, "writing the y4m header: %s", reel_strerror(r));
	return r;
}

/* Read-ahead window: half the slots when the clip does not fit, so what it asks for stays. */
static void pick_window(struct reel_export *ex)
{
	const struct reel_buffer_info *in = reel_buffer_info(ex->buffer);
	unsigned w = WINDOW_MAX;

	if (in->slot_count < in->frame_count && in->slot_count / 2 < w)
		w = in->slot_count / 2;
	ex->window = w ? w : 1;
	ex->chunk = ex->window / 3 < 1 ? 1 : ex->window / 3 > CHUNK_MAX ? CHUNK_MAX : ex->window / 3;
}

int reel_export_open(const struct reel_export_options *o, struct reel_export **ret, char *why,
                     size_t whylen)
{
	struct reel_export *ex;
	int r;

	snprintf(why, whylen, "the export could not start");
	if (!o || !ret || !o->session || !o->container || o->fd < 0)
		return -EINVAL;
	ex = calloc(1, sizeof(*ex));
	if (!ex)
		return -ENOMEM;
	ex->opt = *o;
	pthread_mutex_init(&ex->lock, NULL);
	pthread_cond_init(&ex->moved, NULL);
	r = reel_client_connect(o->session, &ex->client);
	if (r == 0)
		r = reel_client_connect(o->session, &ex->ahead);
	if (r < 0) {
		snprintf(why, whylen, "%s: %s", o->session, reel_strerror(r));
		goto out_close;
	}
	r = reel_buffer_open_readonly(reel_client_record(ex->client)->buffer_path, &ex->buffer);
	if (r == 0)
		r = reel_client_video(ex->client, &ex->video);
	if (r < 0) {
		snprintf(why, whylen, "%s: %s", reel_client_record(ex->client)->buffer_path,
		         reel_strerror(r));
		goto out_close;
	}
	r = reel_export_plan(ex->buffer, o->first, o->last, &ex->plan);
	if (r == REEL_E_RANGE) {
		snprintf(why, whylen, "frames %" PRId64 "-%" PRId64 " are not all in the video (frames 0 to "
		         "%" PRIu64 ")", o->first, o->last, ex->video.frames - 1);
		goto out_close;
	}
	if (r < 0) {
		snprintf(why, whylen, "%s: %s", reel_client_record(ex->client)->buffer_path,
		         reel_strerror(r));
		goto out_close;
	}
	if (ex->plan.nsteps == 0) {
		snprintf(why, whylen, "every frame of %" PRId64 "-%" PRId64 " is trimmed: nothing to "
		         "export", o->first, o->last);
		r = -ENODATA;
		goto out_close;
	}
	if (!o->no_audio && strcmp(o->container, "y4m") != 0 && ex->video.sample_rate > 0 &&
	    ex->video.audio_capacity > 0)
		ex->channels = ex->video.channels;
	if (ex->channels) {
		ex->audio = malloc((size_t)ex->video.audio_capacity * ex->channels * sizeof(float));
		if (!ex->audio) {
			r = -ENOMEM;
			goto out_close;
		}
	}
	pick_window(ex);
	r = open_output(ex, why, whylen);
	if (r < 0)
		goto out_close;
	*ret = ex;
	return 0;

out_close:
	reel_export_close(ex);
	return r;
}

void reel_export_close(struct reel_export *ex)
{
	if (!ex)
		return;
	reel_encoder_free(ex->enc);
	reel_frame_free(&ex->packed);
	free(ex->audio);
	reel_export_plan_fini(&ex->plan);
	reel_buffer_close(ex->buffer);
	reel_client_close(ex->ahead);
	reel_client_close(ex->client);
	pthread_cond_destroy(&ex->moved);
	pthread_mutex_destroy(&ex->lock);
	free(ex);
}

const struct reel_export_plan *reel_export_get_plan(const struct reel_export *ex)
{
	return &ex->plan;
}

uint32_t reel_export_channels(const struct reel_export *ex)
{
	return ex->channels;
}

static bool cancelled(const struct reel_export *ex, uint64_t done)
{
	return ex->opt.progress && ex->opt.progress(ex->opt.userdata, done, ex->plan.output_frames);
}

/*
 * Frame `frame` as it stands once settled, into view.  A wait that runs
 * out is not an error: the frame may be decoding, or edits on it may still
 * be applied.  In between, cancellation and the coordinator are looked at.
 */
static int read_settled(struct reel_export *ex, int64_t frame, struct reel_frame *view,
                        uint64_t done)
{
	for (;;) {
		int r = reel_client_read_frame(ex->client, (uint64_t)frame, REEL_READ_SETTLED,
		                               REEL_PRIO_BATCH, WAIT_TIMEOUT_MS, view, NULL);

		if (r != -ETIMEDOUT && r != -EBUSY && r != -EAGAIN)
			return r;
		if (cancelled(ex, done))
			return -ECANCELED;
		if (!reel_session_alive(reel_client_record(ex->client)))
			return REEL_E_NOSESSION;
		if (r == -EBUSY)
			usleep(BUSY_SLEEP_US);
	}
}

/* Show the picture in view (and its sound) once more, at *pts. */
static int show(struct reel_export *ex, const struct reel_frame *view, int64_t pts,
                int64_t duration)
{
	int r;

	if (!ex->enc)
		return reel_y4m_write_frame(ex->opt.fd, view);
	r = reel_encoder_send_picture(ex->enc, pts, duration);
	if (r == 0 && ex->channels && view->audio_samples)
		r = reel_encoder_send_audio(ex->enc, view->audio, view->audio_samples);
	return r;
}

int reel_export_run(struct reel_export *ex, struct reel_export_stats *ret_stats, char *why,
                    size_t whylen)
{
	struct reel_export_stats st = { .window = ex->window };
	const struct reel_export_plan *plan = &ex->plan;
	double t0 = reel__now_ms(), t;
	bool ahead = false;
	pthread_t thread;
	int64_t pts = 0;
	int r = 0;

	snprintf(why, whylen, "the export failed");
	ahead = pthread_create(&thread, NULL, read_ahead, ex) == 0;
	for (size_t i = 0; i < plan->nsteps && r == 0; i++) {
		const struct reel_export_step *s = &plan->steps[i];
		struct reel_frame view;

		pthread_mutex_lock(&ex->lock);
		ex->reading = i;
		pthread_cond_signal(&ex->moved);
		pthread_mutex_unlock(&ex->lock);

		if (ex->enc) {
			r = reel_encoder_picture(ex->enc, &view);
			if (r < 0)
				break;
		} else {
			view = ex->packed;
		}
		view.audio = ex->audio;
		view.audio_capacity = ex->channels ? ex->video.audio_capacity : 0;
		view.channels = ex->channels;
		view.audio_samples = 0;
		t = reel__now_ms();
		r = read_settled(ex, s->frame, &view, st.frames);
		st.read_ms += reel__now_ms() - t;
		if (r < 0) {
			if (r == REEL_E_NOSESSION)
				snprintf(why, whylen, "the session stopped during the export (at frame %" PRId64
				         ")", s->frame);
			else if (r != -ECANCELED)
				snprintf(why, whylen, "frame %" PRId64 ": %s", s->frame, reel_strerror(r));
			break;
		}
		st.source_frames++;
		for (uint32_t k = 0; k < s->count && r == 0; k++) {
			t = reel__now_ms();
			r = show(ex, &view, pts, s->duration);
			st.encode_ms += reel__now_ms() - t;
			if (r < 0) {
				snprintf(why, whylen, "encoding frame %" PRId64 ": %s", s->frame, reel_strerror(r));
				break;
			}
			pts += s->duration;
			st.frames++;
			st.audio_samples += ex->channels ? view.audio_samples : 0;
			if (cancelled(ex, st.frames))
				r = -ECANCELED;
		}
	}
	if (ahead) {
		pthread_mutex_lock(&ex->lock);
		ex->stop = true;
		pthread_cond_signal(&ex->moved);
		pthread_mutex_unlock(&ex->lock);
		pthread_join(thread, NULL);
	}
	if (r == 0 && ex->enc) {
		t = reel__now_ms();
		r = reel_encoder_finish(ex->enc);
		st.encode_ms += reel__now_ms() - t;
		if (r < 0)
			snprintf(why, whylen, "finishing the file: %s", reel_strerror(r));
	}
	if (r == -ECANCELED)
		snprintf(why, whylen, "cancelled");
	st.duration_s = (double)pts * plan->time_base.num / plan->time_base.den;
	st.total_ms = reel__now_ms() - t0;
	if (ret_stats)
		*ret_stats = st;
	return r;
}
