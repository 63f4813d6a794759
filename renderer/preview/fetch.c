/*
 * The fetch thread: makes sure the frames the window is about to show are
 * in the buffer, so that playback does not stall and the event loop never
 * waits on the coordinator.
 *
 * First the frame the window wants now, at the interactive priority (a
 * person is looking at the 'loading' mark); then the frames after it at the
 * background priority, a few at a time, so that a seek or a key press never
 * waits long behind read-ahead: the coordinator serves a request of a
 * higher class before the rest of a lower one.  Read-ahead covers two
 * seconds while playing and half a second while paused, and never more
 * than half the cache, so it cannot evict what is about to be shown.
 *
 * A NEED's answer is only a hint; what counts is whether the frames are
 * resident, which the thread reads from the slot table.  A request that
 * takes long is not asked again until it has had time to finish.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "preview.h"
#include "reel/error.h"
#include "reel/log.h"

/* Short, so that quitting never waits long on a call in flight. */
#define CALL_TIMEOUT_MS 500
/* A request that did not answer in time is left to finish for this long before it is repeated. */
#define REASK_MS 10000.0
#define CHUNK_FRAMES 8
#define IDLE_WAIT_MS 50
#define BUSY_WAIT_MS 5

struct fetch {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct reel_client *client;
	const struct timeline *timeline;
	uint32_t cache_frames;
	/* Under lock: what the event loop wants, and whether to stop. */
	uint64_t want;
	bool playing;
	bool quit;
	bool gone;
	/* The thread's own: the request that did not answer in time. */
	uint64_t asked_first, asked_last;
	double asked_at;
	uint8_t *map;
	size_t map_len;
};

static uint64_t ahead_frames(const struct fetch *f, bool playing)
{
	double seconds = playing ? 2.0 : 0.5;
	uint64_t n = (uint64_t)(seconds * f->timeline->fps) + 1, cap = f->cache_frames / 2;

	return n < cap ? n : cap > 0 ? cap : 0;
}

static void wait_a_little(struct fetch *f, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	pthread_mutex_lock(&f->lock);
	if (!f->quit)
		pthread_cond_timedwait(&f->wake, &f->lock, &ts);
	pthread_mutex_unlock(&f->lock);
}

/*
 * Ask for first..last unless that very request is still on its way: 1 when
 * asked (look again at once), 0 while it is on its way, -1 when asking is
 * of no use now.
 */
static int ask(struct fetch *f, uint64_t first, uint64_t last, unsigned prio)
{
	double now = clock_monotonic() * 1000;
	int r;

	if (first == f->asked_first && last == f->asked_last && now - f->asked_at < REASK_MS)
		return 0;
	r = reel_client_need(f->client, first, last, prio, CALL_TIMEOUT_MS, NULL);
	if (r == -ETIMEDOUT) {
		/* Still being decoded: its answer will be dropped, its frames will be there. */
		f->asked_first = first;
		f->asked_last = last;
		f->asked_at = now;
		return 1;
	}
	f->asked_first = f->asked_last = UINT64_MAX;
	if (r == 0)
		return 1;
	if (r == -ESHUTDOWN || r == REEL_E_NOSESSION) {
		pthread_mutex_lock(&f->lock);
		f->gone = true;
		pthread_mutex_unlock(&f->lock);
		return -1;
	}
	/* A frame that cannot be decoded is in the buffer as such; -EBUSY passes. */
	if (r != REEL_E_DECODE && r != -EBUSY)
		reel_log(REEL_LOG_WARN, PREVIEW_PROGRAM, "frames %llu-%llu: %s",
		         (unsigned long long)first, (unsigned long long)last, reel_strerror(r));
	return r == -EBUSY ? 0 : 1;
}

/* The first frame of first..last that is not in the buffer, or UINT64_MAX. */
static uint64_t first_absent(struct fetch *f, uint64_t first, uint64_t last)
{
	size_t n = (size_t)(last - first + 1);

	if (n > f->map_len) {
		uint8_t *m = realloc(f->map, n);
		if (!m)
			return UINT64_MAX;
		f->map = m;
		f->map_len = n;
	}
	if (reel_client_resident(f->client, first, n, f->map, NULL) < 0)
		return UINT64_MAX;
	for (size_t i = 0; i < n; i++)
		if (f->map[i] == REEL_FRAME_ABSENT)
			return first + i;
	return UINT64_MAX;
}

/* One step: 1 when a request was made, 0 while one is on its way, -1 with nothing to do. */
static int step(struct fetch *f, uint64_t want, bool playing)
{
	uint64_t frames = f->timeline->frames, ahead = ahead_frames(f, playing), last, g;

	if (first_absent(f, want, want) == want)
		return ask(f, want, want, REEL_PRIO_INTERACTIVE);
	if (ahead == 0 || want + 1 >= frames)
		return -1;
	last = want + ahead < frames - 1 ? want + ahead : frames - 1;
	g = first_absent(f, want + 1, last);
	if (g == UINT64_MAX)
		return -1;
	last = g + CHUNK_FRAMES - 1 < last ? g + CHUNK_FRAMES - 1 : last;
	return ask(f, g, last, REEL_PRIO_BACKGROUND);
}

static void *run(void *arg)
{
	struct fetch *f = arg;

	for (;;) {
		uint64_t want;
		bool playing, quit, gone;

		pthread_mutex_lock(&f->lock);
		want = f->want;
		playing = f->playing;
		quit = f->quit;
		gone = f->gone;
		pthread_mutex_unlock(&f->lock);
		if (quit || gone)
			break;
		switch (step(f, want, playing)) {
		case 1: break;
		case 0: wait_a_little(f, BUSY_WAIT_MS); break;
		default: wait_a_little(f, IDLE_WAIT_MS); break;
		}
	}
	return NULL;
}

int fetch_start(const struct session *s, const struct timeline *t, struct fetch **ret)
{
	struct fetch *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	f->timeline = t;
	f->cache_frames = s->cache_frames;
	f->asked_first = f->asked_last = UINT64_MAX;
	r = reel_client_connect(s->name, &f->client);
	if (r == 0) {
		r = -pthread_create(&f->thread, NULL, run, f);
		f->started = r == 0;
	}
	if (r < 0) {
		fetch_stop(f);
		return r;
	}
	*ret = f;
	return 0;
}

void fetch_stop(struct fetch *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->quit = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	if (f->started)
		pthread_join(f->thread, NULL);
	reel_client_close(f->client);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	free(f->map);
	free(f);
}

void fetch_want(struct fetch *f, uint64_t frame, bool playing)
{
	pthread_mutex_lock(&f->lock);
	if (f->want != frame || f->playing != playing) {
		f->want = frame;
		f->playing = playing;
		pthread_cond_signal(&f->wake);
	}
	pthread_mutex_unlock(&f->lock);
}

bool fetch_gone(struct fetch *f)
{
	bool gone;

	pthread_mutex_lock(&f->lock);
	gone = f->gone;
	pthread_mutex_unlock(&f->lock);
	return gone;
}
