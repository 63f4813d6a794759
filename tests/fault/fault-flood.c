/*
 * Fault 5: the consumer of a queue paused (SIGSTOP) while 10,000 messages
 * are sent to it, through the bus API every reel process uses
 * (reel_queue_send/recv on a queue made as a session makes its own).
 *
 *  A. 500 rounds: the consumer is stopped with the queue empty, ten
 *     messages of random priority classes are sent, the consumer goes on:
 *     it must receive the ten highest class first, and in the order sent
 *     within a class.
 *  B. Four producer processes, one per class, send 1,250 messages each with
 *     blocking sends while the consumer is stopped and resumed 50 times at
 *     random: a full queue makes them wait (backpressure), and the consumer
 *     must receive every message exactly once, in order per producer.
 *
 * The consumer polls (a receive that does not wait, then a short sleep), so
 * that it is never stopped inside mq_receive: Linux hands a message straight
 * to a receiver already waiting, which would make the first of a round
 * arrive first whatever its class, as it should in real use.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus-util.h"
#include "bus/bus.h"
#include "bus/msg.h"
#include "fault.h"
#include "reel/client.h"
#include "testutil.h"

#define ROUNDS 500
#define PER_ROUND 10
#define PRODUCERS 4
#define PER_PRODUCER 1250
#define PAUSES 50
#define TOTAL (ROUNDS * PER_ROUND + PRODUCERS * PER_PRODUCER)

struct verdict {
	unsigned received, order_errors, gaps, duplicates;
};

/* The consumer: phase A's order check, phase B's exactly-once check; its verdict into fd. */
static int consume(mqd_t q, int fd)
{
	struct verdict v = { 0 };
	uint64_t next[PRODUCERS] = { 0 };
	struct reel_msg prev = { 0 };
	unsigned in_round = 0;
	double deadline = tu_now_ms() + 120000;

	while (v.received < TOTAL && tu_now_ms() < deadline) {
		struct reel_msg m;
		int r = reel_queue_recv(q, &m, NULL, 0);

		if (r == -EAGAIN) {
			usleep(100);
			continue;
		}
		if (r < 0)
			break;
		v.received++;
		if (m.seq > 0) {
			/* Phase A: round m.seq, message m.first of it, class m.priority. */
			if (in_round > 0 && prev.seq == m.seq &&
			    (m.priority > prev.priority ||
			     (m.priority == prev.priority && m.first < prev.first)))
				v.order_errors++;
			in_round = prev.seq == m.seq ? in_round + 1 : 1;
			prev = m;
		} else {
			/* Phase B: producer m.first's message number m.id. */
			unsigned p = (unsigned)m.first;
			if (p >= PRODUCERS)
				continue;
			if (m.id < next[p])
				v.duplicates++;
			else if (m.id > next[p])
				v.gaps += (unsigned)(m.id - next[p]);
			next[p] = m.id + 1;
		}
	}
	return write(fd, &v, sizeof(v)) == sizeof(v) ? 0 : 1;
}

static int produce(mqd_t q, unsigned p)
{
	for (uint64_t i = 0; i < PER_PRODUCER; i++) {
		struct reel_msg m;
		reel_msg_init(&m, REEL_MSG_STATUS);
		m.first = p;
		m.id = i;
		m.priority = p;
		/* A full queue waits, up to a bound no pause comes near. */
		if (reel_queue_send(q, &m, p, 30000) < 0)
			return 1;
	}
	return 0;
}

static void stop_and_wait(pid_t pid)
{
	int st;

	kill(pid, SIGSTOP);
	waitpid(pid, &st, WUNTRACED);
}

int main(void)
{
	struct reel_session_record rec = { .pid = 0 };
	char name[REEL_QUEUE_NAME_MAX], note[256];
	pid_t consumer, producers[PRODUCERS];
	struct verdict v = { 0 };
	int fds[2], st, ok_producers = 0;
	unsigned sent = 0;
	double t0 = tu_now_ms();
	mqd_t q;

	tu_session_name(rec.name, sizeof(rec.name));
	rec.pid = getpid();
	if (reel_random_u64(&rec.queue_nonce) < 0 ||
	    reel_queue_name_of(name, sizeof(name), &rec, REEL_ROLE_EFFECT) < 0 ||
	    reel_queue_create(name, 0, &q) < 0 || pipe(fds) < 0) {
		fprintf(stderr, "cannot make the queue\n");
		return 1;
	}
	srand((unsigned)getpid());
	fflush(NULL);
	consumer = fork();
	if (consumer == 0) {
		close(fds[0]);
		_exit(consume(q, fds[1]));
	}
	close(fds[1]);

	/* A: paused with the queue empty, ten sent, then resumed. */
	for (unsigned round = 1; round <= ROUNDS; round++) {
		for (int k = 0; k < 2000 && reel_queue_depth(q) > 0; k++)
			usleep(100);
		stop_and_wait(consumer);
		for (unsigned i = 0; i < PER_ROUND; i++) {
			struct reel_msg m;
			unsigned cls = (unsigned)rand() % REEL_PRIO_COUNT;
			reel_msg_init(&m, REEL_MSG_STATUS);
			m.seq = round;
			m.first = i;
			m.priority = cls;
			sent += reel_queue_send(q, &m, cls, 0) == 0;
		}
		kill(consumer, SIGCONT);
	}
	printf("# phase A: %u rounds of %u messages sent to a paused consumer in %.1f s\n", ROUNDS,
	       PER_ROUND, (tu_now_ms() - t0) / 1000);

	/* B: producers that outrun a consumer paused again and again. */
	for (unsigned p = 0; p < PRODUCERS; p++) {
		producers[p] = fork();
		if (producers[p] == 0)
			_exit(produce(q, p));
	}
	for (unsigned i = 0; i < PAUSES; i++) {
		stop_and_wait(consumer);
		usleep((useconds_t)(10000 + rand() % 20000));
		kill(consumer, SIGCONT);
		usleep((useconds_t)(rand() % 5000));
	}
	for (unsigned p = 0; p < PRODUCERS; p++) {
		st = tu_wait(producers[p], 60000);
		ok_producers += WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	sent += (unsigned)ok_producers * PER_PRODUCER;
	if (read(fds[0], &v, sizeof(v)) != sizeof(v))
		memset(&v, 0, sizeof(v));
	close(fds[0]);
	st = tu_wait(consumer, 60000);
	reel_queue_close(q);
	mq_unlink(name);
	printf("# %u sent, %u received in %.1f s with %u pauses; %u out of priority order, %u missing, "
	       "%u twice\n", sent, v.received, (tu_now_ms() - t0) / 1000, ROUNDS + PAUSES,
	       v.order_errors, v.gaps, v.duplicates);
	snprintf(note, sizeof(note), "consumer paused %u times; none dropped or doubled, priority "
	         "order kept after each resume", ROUNDS + PAUSES);
	return fault_report("paused consumer, 10,000 sends", TOTAL,
	                    v.received - (v.order_errors + v.gaps + v.duplicates < v.received
	                                  ? v.order_errors + v.gaps + v.duplicates : v.received),
	                    (TOTAL - v.received) + v.gaps + v.duplicates + v.order_errors, note);
}
