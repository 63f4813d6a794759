/*
 * Sound and the play clock.  As in ffplay, the sound is the master clock:
 * the picture on screen is the frame whose time has come by the sound being
 * heard, so picture and sound cannot drift apart, and playback waits when a
 * frame's sound is not in the buffer yet.  Without sound (or without an
 * audio device) a monotonic clock takes its place.
 *
 * The event loop queues each frame's samples, in order, into a ring; SDL's
 * audio thread takes them out in its callback and counts what it handed to
 * the device.  The time heard now is the time of the last sample handed,
 * less the device's buffer, plus the time since that callback, never past
 * what was handed: an empty ring stops the clock.  Both sides take SDL's
 * device lock, which the callback holds while it runs; the event loop holds
 * it only for a copy into the ring.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <SDL.h>

#include "preview.h"

struct audio {
	SDL_AudioDeviceID dev;
	uint32_t rate, channels;
	double device_seconds;      /* one callback's worth of sound */
	/* Under the device lock. */
	float *ring;
	uint32_t capacity;          /* samples per channel */
	uint32_t head, count;
	bool playing;
	double base;                /* the time of the first sample queued since audio_start */
	uint64_t handed;            /* samples per channel handed to the device since then */
	double handed_at;           /* when the latest callback ran (monotonic seconds) */
	double last_clock;          /* what audio_clock said last: it never goes back */
};

double clock_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void callback(void *userdata, Uint8 *stream, int len)
{
	struct audio *a = userdata;
	uint32_t want = (uint32_t)len / (a->channels * sizeof(float)), take, first;
	float *out = (float *)(void *)stream;

	take = a->playing && a->count < want ? a->count : a->playing ? want : 0;
	/* In at most two pieces: up to the end of the ring, then from its start. */
	first = take < a->capacity - a->head ? take : a->capacity - a->head;
	memcpy(out, a->ring + (size_t)a->head * a->channels, (size_t)first * a->channels * sizeof(float));
	memcpy(out + (size_t)first * a->channels, a->ring,
	       (size_t)(take - first) * a->channels * sizeof(float));
	/* What is missing is silence; the clock does not count it. */
	memset(out + (size_t)take * a->channels, 0, (size_t)len - (size_t)take * a->channels *
	       sizeof(float));
	a->head = (a->head + take) % a->capacity;
	a->count -= take;
	a->handed += take;
	a->handed_at = clock_monotonic();
}

int audio_open(const struct reel_video_info *v, struct audio **ret)
{
	SDL_AudioSpec want = { 0 }, have;
	struct audio *a;

	*ret = NULL;
	if (v->sample_rate == 0 || v->channels == 0)
		return 0;
	if (SDL_InitSubSystem(SDL_INIT_AUDIO) < 0)
		return -ENODEV;
	a = calloc(1, sizeof(*a));
	if (!a)
		goto out_quit;
	a->rate = v->sample_rate;
	a->channels = v->channels;
	/* A second of sound: the picture is read ahead further than that anyway. */
	a->capacity = v->sample_rate;
	a->ring = malloc((size_t)a->capacity * a->channels * sizeof(float));
	if (!a->ring)
		goto out_free;
	want.freq = (int)v->sample_rate;
	want.format = AUDIO_F32SYS;
	want.channels = (Uint8)v->channels;
	/* About 20 ms a callback: short enough to follow, long enough not to starve. */
	want.samples = v->sample_rate >= 32000 ? 1024 : 512;
	want.callback = callback;
	want.userdata = a;
	/* SDL converts to what the device takes; the callback always sees the video's own format. */
	a->dev = SDL_OpenAudioDevice(NULL, 0, &want, &have, 0);
	if (a->dev == 0)
		goto out_free;
	a->device_seconds = (double)have.samples / have.freq;
	*ret = a;
	return 0;

out_free:
	free(a->ring);
	free(a);
out_quit:
	SDL_QuitSubSystem(SDL_INIT_AUDIO);
	return -ENODEV;
}

void audio_close(struct audio *a)
{
	if (!a)
		return;
	SDL_CloseAudioDevice(a->dev);
	SDL_QuitSubSystem(SDL_INIT_AUDIO);
	free(a->ring);
	free(a);
}

void audio_start(struct audio *a, double at)
{
	SDL_LockAudioDevice(a->dev);
	a->head = a->count = 0;
	a->handed = 0;
	a->base = at;
	a->last_clock = at;
	a->handed_at = clock_monotonic();
	a->playing = true;
	SDL_UnlockAudioDevice(a->dev);
	SDL_PauseAudioDevice(a->dev, 0);
}

void audio_stop(struct audio *a)
{
	SDL_PauseAudioDevice(a->dev, 1);
	SDL_LockAudioDevice(a->dev);
	a->playing = false;
	a->head = a->count = 0;
	SDL_UnlockAudioDevice(a->dev);
}

uint32_t audio_room(struct audio *a)
{
	uint32_t room;

	SDL_LockAudioDevice(a->dev);
	room = a->capacity - a->count;
	SDL_UnlockAudioDevice(a->dev);
	return room;
}

uint32_t audio_queued(struct audio *a)
{
	uint32_t n;

	SDL_LockAudioDevice(a->dev);
	n = a->count;
	SDL_UnlockAudioDevice(a->dev);
	return n;
}

void audio_feed(struct audio *a, const float *samples, uint32_t n)
{
	uint32_t tail, first;

	SDL_LockAudioDevice(a->dev);
	if (n > a->capacity - a->count)
		n = a->capacity - a->count;
	tail = (a->head + a->count) % a->capacity;
	first = n < a->capacity - tail ? n : a->capacity - tail;
	memcpy(a->ring + (size_t)tail * a->channels, samples, (size_t)first * a->channels *
	       sizeof(float));
	memcpy(a->ring, samples + (size_t)first * a->channels, (size_t)(n - first) * a->channels *
	       sizeof(float));
	a->count += n;
	SDL_UnlockAudioDevice(a->dev);
}

double audio_clock(struct audio *a)
{
	double handed_end, t;

	SDL_LockAudioDevice(a->dev);
	handed_end = a->base + (double)a->handed / a->rate;
	t = a->handed ? handed_end - a->device_seconds + (clock_monotonic() - a->handed_at) : a->base;
	if (t > handed_end)
		t = handed_end;
	if (t < a->last_clock)
		t = a->last_clock;
	a->last_clock = t;
	SDL_UnlockAudioDevice(a->dev);
	return t;
}

void clock_start(struct play_clock *c, double at)
{
	c->running = true;
	c->base = at;
	c->mono0 = clock_monotonic();
	if (c->audio)
		audio_start(c->audio, at);
}

void clock_stop(struct play_clock *c)
{
	if (c->running && c->audio)
		audio_stop(c->audio);
	c->running = false;
}

double clock_now(const struct play_clock *c)
{
	if (!c->running)
		return c->base;
	return c->audio ? audio_clock(c->audio) : c->base + clock_monotonic() - c->mono0;
}
