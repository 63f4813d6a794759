/*
 * The sender thread: quick edits, undo and redo go to the coordinator from
 * here, in the order the keys were pressed, so that the event loop never
 * waits for a journal entry to be made durable.  Between requests it reads
 * the session's status a few times a second for the overlay's count of
 * edits still being applied.  With --trace it notes when each edit was
 * journaled (one write(2) of a whole line, so its lines and the event
 * loop's never mix).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "preview.h"
#include "reel/error.h"
#include "reel/log.h"
#include "reel/ops.h"

#define CALL_TIMEOUT_MS 10000
#define STATUS_TIMEOUT_MS 1000
#define STATUS_EVERY_MS 200
#define MAX_WAITING 16

struct sender {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct reel_client *client;
	int trace_fd;
	/* Under lock. */
	struct request waiting[MAX_WAITING];
	unsigned head, count;
	bool quit;
	struct sender_news news;
};

static void say(struct sender *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct sender *s, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	va_start(ap, fmt);
	vsnprintf(s->news.message, sizeof(s->news.message), fmt, ap);
	va_end(ap);
	s->news.message_id++;
	pthread_mutex_unlock(&s->lock);
}

static void send_one(struct sender *s, const struct request *q)
{
	const struct reel_op_desc *d = reel_op_get(q->op);
	uint64_t seq = 0, target = 0;
	int r;

	switch (q->kind) {
	case REQUEST_EDIT:
		r = reel_client_command(s->client, q->op, q->params, q->first, q->last, CALL_TIMEOUT_MS,
		                        &seq);
		if (r == 0) {
			char what[48] = "";
			if (s->trace_fd >= 0) {
				char line[64];
				int n = snprintf(line, sizeof(line), "edit %.6f seq %llu\n", clock_monotonic(),
				                 (unsigned long long)seq);
				if (write(s->trace_fd, line, (size_t)n) < 0)
					s->trace_fd = -1;
			}
			if (d && d->nparams > 0)
				snprintf(what, sizeof(what), " %g", q->params[0]);
			say(s, "edit %llu: %s%s on frames %lld-%lld", (unsigned long long)seq, d->name, what,
			    (long long)q->first, (long long)q->last);
			reel_log(REEL_LOG_INFO, PREVIEW_PROGRAM, "sent edit %llu: %s%s on frames %lld-%lld",
			         (unsigned long long)seq, d->name, what, (long long)q->first,
			         (long long)q->last);
		} else {
			say(s, "%s refused: %s", d ? d->name : "edit",
			    r == -EBUSY ? "too many edits still being applied; try again" :
			    r == -ETIMEDOUT ? "the coordinator did not answer" : reel_strerror(r));
		}
		break;
	case REQUEST_UNDO:
	case REQUEST_REDO:
		r = q->kind == REQUEST_UNDO ? reel_client_undo(s->client, CALL_TIMEOUT_MS, &seq, &target)
		                            : reel_client_redo(s->client, CALL_TIMEOUT_MS, &seq, &target);
		if (r == 0)
			say(s, "%s of edit %llu", q->kind == REQUEST_UNDO ? "undo" : "redo",
			    (unsigned long long)target);
		else if (r == REEL_E_NOUNDO)
			say(s, "nothing to %s", q->kind == REQUEST_UNDO ? "undo" : "redo");
		else
			say(s, "%s refused: %s", q->kind == REQUEST_UNDO ? "undo" : "redo",
			    r == -ETIMEDOUT ? "the coordinator did not answer" : reel_strerror(r));
		break;
	}
}

static void read_status(struct sender *s)
{
	struct reel_status st;
	int r = reel_client_status(s->client, STATUS_TIMEOUT_MS, &st);

	pthread_mutex_lock(&s->lock);
	if (r == 0) {
		s->news.pending = st.pending;
		s->news.journal = st.journal;
		s->news.status_known = true;
	} else if (r == -ESHUTDOWN || r == REEL_E_NOSESSION) {
		s->news.gone = true;
	}
	pthread_mutex_unlock(&s->lock);
}

static void *run(void *arg)
{
	struct sender *s = arg;
	double last_status = 0;

	for (;;) {
		struct request q;
		bool have = false, quit;
		double now;

		pthread_mutex_lock(&s->lock);
		if (s->count == 0 && !s->quit) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += STATUS_EVERY_MS * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			pthread_cond_timedwait(&s->wake, &s->lock, &ts);
		}
		quit = s->quit;
		if (s->count > 0) {
			q = s->waiting[s->head];
			s->head = (s->head + 1) % MAX_WAITING;
			s->count--;
			have = true;
		}
		pthread_mutex_unlock(&s->lock);
		if (quit)
			break;
		if (have)
			send_one(s, &q);
		now = clock_monotonic() * 1000;
		/* Right after an edit too, so the count shows it at once. */
		if (have || now - last_status >= STATUS_EVERY_MS) {
			read_status(s);
			last_status = now;
		}
	}
	return NULL;
}

int sender_start(const char *session, int trace_fd, struct sender **ret)
{
	struct sender *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->trace_fd = trace_fd;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	r = reel_client_connect(session, &s->client);
	if (r == 0) {
		r = -pthread_create(&s->thread, NULL, run, s);
		s->started = r == 0;
	}
	if (r < 0) {
		sender_stop(s);
		return r;
	}
	*ret = s;
	return 0;
}

void sender_stop(struct sender *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->quit = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (s->started)
		pthread_join(s->thread, NULL);
	reel_client_close(s->client);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int sender_push(struct sender *s, const struct request *q)
{
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (s->count == MAX_WAITING) {
		r = -EBUSY;
	} else {
		s->waiting[(s->head + s->count) % MAX_WAITING] = *q;
		s->count++;
		pthread_cond_signal(&s->wake);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void sender_news(struct sender *s, struct sender_news *ret)
{
	pthread_mutex_lock(&s->lock);
	*ret = s->news;
	pthread_mutex_unlock(&s->lock);
}
