/*
 * The stage table and its log rings (see stagetab.h).
 *
 * The ring is the classic single-producer, single-consumer one: the
 * producer writes the record at head % N, then publishes head + 1 with a
 * release store; the consumer reads head with an acquire load, copies the
 * records below it, then gives their room back by storing tail with
 * release.  The producer reads tail with acquire before it reuses a
 * record's room.  Neither ever waits for the other.  Each record carries
 * the position it was written at, so the consumer can tell a record that
 * was never written (a producer that died between its write and its
 * publish cannot publish, but a damaged file can say anything).
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buffer/buffer-private.h"
#include "buffer/stagetab.h"
#include "reel/error.h"
#include "reel/log.h"

static struct reel__stage_entry *entry_at(const struct reel_buffer *b, unsigned index)
{
	if (!b || index >= REEL__STAGE_ENTRIES)
		return NULL;
	return &b->stages[index];
}

/* A string field copied out, cut at its size whatever the file holds. */
static void copy_text(char *dst, const char *src, size_t size)
{
	memcpy(dst, src, size);
	dst[size - 1] = 0;
}

int reel_stagetab_read(const struct reel_buffer *b, unsigned index, struct reel_stage_record *ret)
{
	const struct reel__stage_entry *e = entry_at(b, index);

	if (!e)
		return REEL_E_RANGE;
	memset(ret, 0, sizeof(*ret));
	ret->pid = __atomic_load_n(&e->pid, __ATOMIC_ACQUIRE);
	ret->role = __atomic_load_n(&e->role, __ATOMIC_RELAXED);
	ret->generation = __atomic_load_n(&e->generation, __ATOMIC_RELAXED);
	ret->attached_ns = __atomic_load_n(&e->attached_ns, __ATOMIC_RELAXED);
	ret->items_done = __atomic_load_n(&e->items_done, __ATOMIC_RELAXED);
	ret->items_failed = __atomic_load_n(&e->items_failed, __ATOMIC_RELAXED);
	ret->frames_edited = __atomic_load_n(&e->frames_edited, __ATOMIC_RELAXED);
	ret->frames_skipped = __atomic_load_n(&e->frames_skipped, __ATOMIC_RELAXED);
	ret->busy_seq = __atomic_load_n(&e->busy_seq, __ATOMIC_RELAXED);
	ret->busy_first = __atomic_load_n(&e->busy_first, __ATOMIC_RELAXED);
	ret->busy_last = __atomic_load_n(&e->busy_last, __ATOMIC_RELAXED);
	ret->errors = __atomic_load_n(&e->errors, __ATOMIC_RELAXED);
	ret->dropped = __atomic_load_n(&e->dropped, __ATOMIC_RELAXED);
	ret->crash_signal = __atomic_load_n(&e->crash_signal, __ATOMIC_RELAXED);
	/* The stage writes it: anything but a signal number is no crash. */
	if (ret->crash_signal <= 0 || ret->crash_signal >= 65)
		ret->crash_signal = 0;
	copy_text(ret->last_error, e->last_error, sizeof(ret->last_error));
	return 0;
}

int reel_stagetab_assign(struct reel_buffer *b, unsigned index, uint32_t pid, uint32_t role,
                         uint64_t generation, int64_t now_ns)
{
	struct reel__stage_entry *e = entry_at(b, index);

	if (!e)
		return REEL_E_RANGE;
	if (b->readonly)
		return -EBADF;
	/* Nobody writes the entry now: its stage does not know its index yet. */
	memset(e, 0, offsetof(struct reel__stage_entry, records));
	e->role = role;
	e->generation = generation;
	e->attached_ns = now_ns;
	__atomic_store_n(&e->pid, pid, __ATOMIC_RELEASE);
	return 0;
}

void reel_stagetab_release(struct reel_buffer *b, unsigned index)
{
	struct reel__stage_entry *e = entry_at(b, index);

	if (e && !b->readonly)
		__atomic_store_n(&e->pid, 0, __ATOMIC_RELEASE);
}

struct reel__stage_entry *reel_stagetab_entry(struct reel_buffer *b, unsigned index)
{
	return b && !b->readonly ? entry_at(b, index) : NULL;
}

void reel_stagetab_log(struct reel__stage_entry *e, int level, const char *component,
                       const char *text)
{
	struct reel__log_record *rec;
	struct timespec ts;
	uint64_t head, tail;

	if (!e)
		return;
	if (level == REEL_LOG_ERROR) {
		e->errors++;
		strncpy(e->last_error, text, sizeof(e->last_error) - 1);
		e->last_error[sizeof(e->last_error) - 1] = 0;
	}
	head = e->head;
	tail = __atomic_load_n(&e->tail, __ATOMIC_ACQUIRE);
	/* Full (or a tail from the future, which only damage makes): drop, count, go on. */
	if (head - tail >= REEL__LOG_RECORDS || tail > head) {
		e->dropped++;
		return;
	}
	rec = &e->records[head % REEL__LOG_RECORDS];
	clock_gettime(CLOCK_REALTIME, &ts);
	rec->time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	rec->number = head;
	rec->level = (uint32_t)level;
	rec->pid = (uint32_t)getpid();
	strncpy(rec->component, component ? component : "", sizeof(rec->component) - 1);
	rec->component[sizeof(rec->component) - 1] = 0;
	strncpy(rec->text, text ? text : "", sizeof(rec->text) - 1);
	rec->text[sizeof(rec->text) - 1] = 0;
	__atomic_store_n(&e->head, head + 1, __ATOMIC_RELEASE);
}

size_t reel_stagetab_drain(struct reel_buffer *b, unsigned index,
                           void (*fn)(void *userdata, const struct reel_log_line *line),
                           void *userdata, uint64_t *ret_lost)
{
	struct reel__stage_entry *e = entry_at(b, index);
	uint64_t head, tail, lost = 0;
	size_t n = 0;

	if (ret_lost)
		*ret_lost = 0;
	if (!e || b->readonly)
		return 0;
	head = __atomic_load_n(&e->head, __ATOMIC_ACQUIRE);
	tail = e->tail;
	if (head < tail || head - tail > REEL__LOG_RECORDS) {
		/* Indices no producer could have left: start again from where the head is. */
		lost = head < tail ? 0 : head - tail;
		__atomic_store_n(&e->tail, head, __ATOMIC_RELEASE);
		if (ret_lost)
			*ret_lost = lost;
		return 0;
	}
	for (; tail < head; tail++) {
		const struct reel__log_record *rec = &e->records[tail % REEL__LOG_RECORDS];
		struct reel_log_line line;

		if (rec->number != tail || rec->level > REEL_LOG_DEBUG) {
			lost++;
			continue;
		}
		line.time_ns = rec->time_ns;
		line.level = rec->level;
		line.pid = rec->pid;
		copy_text(line.component, rec->component, sizeof(line.component));
		copy_text(line.text, rec->text, sizeof(line.text));
		fn(userdata, &line);
		n++;
	}
	__atomic_store_n(&e->tail, head, __ATOMIC_RELEASE);
	if (ret_lost)
		*ret_lost = lost;
	return n;
}
