/*
 * reel-bench ipc: the classic comparison of ways to move bytes from one
 * process to another, done so that every figure includes the receiver
 * reading what it got.  Two real processes (fork), six mechanisms: a pipe,
 * a System V message queue, a POSIX message queue, a Unix stream socket,
 * TCP over loopback and a single-producer/single-consumer ring in a shared
 * anonymous mapping.  Each moves 1 KiB messages, then a bulk of bytes, then
 * does a 1 KiB ping-pong; the receiver sums every 64-bit word it receives
 * and the sum is compared with the sender's, so no read can be skipped.
 *
 * Then the hand-off reel does: only a frame number (8 bytes) travels, over
 * a POSIX queue, and the receiver reads the 1080p frame in place from its
 * own MAP_SHARED mapping of a file in the buffer folder; next to the same
 * frames written through a pipe, and to the reader alone (no IPC at all).
 *
 * memcpy's bandwidth is measured in the same runs, as the machine's
 * reference, and the bulk figures are given as ratios to it.
 */
#include "bench/bench.h"

#include <arpa/inet.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>

#define MSG_BYTES 1024u
#define MAX_CHUNK (64u << 10)          /* bulk: the most one send carries */
#define SRC_BYTES (64u << 20)          /* bulk: the sender's data, more than the caches hold */
#define HEADROOM 64u                   /* room before every buffer sent (System V's type) */
#define SLOT_BYTES 256u
#define RING_SLOTS 16384u              /* 4 MiB a direction */
#define SPIN_TRIES 2000u
#define IPC_FRAME_BYTES 3110400u       /* 1920 x 1080 x 1.5: a 1080p YUV420P frame */
#define MAPPED_FRAMES 32u              /* ~100 MB: more than the caches hold */
#define IPC_MEMCPY_BYTES (64u << 20)
#define IPC_MEMCPY_PASSES 5
#define MAX_RUNS 64
#define WATCH_US 200000                /* the parent's SIGALRM period while a child runs */
#define DEFAULT_COUNT 1000000
#define DEFAULT_BULK_MIB 1024
#define DEFAULT_FRAMES 1000
#define FRAME_WAYS 4

enum { FWD, BACK };                    /* FWD: parent (sender) -> child; BACK: the reverse */

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() ((void)0)
#endif

#define IPC_NOTE                                                                                  \
	"A claim like \"shared memory moved 1 GB in 0.5 ms\" times passing a pointer or an offset "    \
	"to bytes that already sit in a shared mapping: a few bytes travel, the gigabyte does not. "  \
	"It leaves out what the reader pays to use the data: touching every byte, with a page "       \
	"fault on the first touch of each 4 KiB page, cache misses, and the memory bandwidth that "   \
	"bounds it all (the memcpy figure here). In every figure here the receiver reads every byte " \
	"it gets (a sum checked against the sender's), so shared memory is bounded by memory "        \
	"bandwidth like everything else; what the frame hand-off saves is the copies into and out "   \
	"of the kernel, not the reading."

/* ------------------------------------------------------------ helpers */

/* The sum of the 64-bit words of p (len a multiple of 8): reads every byte. */
static uint64_t sum_words(const unsigned char *p, size_t len)
{
	uint64_t a = 0, b = 0, c = 0, d = 0, w[4];
	size_t i = 0;

	for (; i + 32 <= len; i += 32) {
		memcpy(w, p + i, 32);
		a += w[0];
		b += w[1];
		c += w[2];
		d += w[3];
	}
	for (; i + 8 <= len; i += 8) {
		memcpy(w, p + i, 8);
		a += w[0];
	}
	return a + b + c + d;
}

/* A number from a /proc file, or fallback. */
static long proc_number(const char *path, long fallback)
{
	FILE *f = fopen(path, "r");
	long v;

	if (!f)
		return fallback;
	if (fscanf(f, "%ld", &v) != 1)
		v = fallback;
	fclose(f);
	return v;
}

/*
 * Called through a volatile pointer so that the compiler can neither drop
 * copies nobody reads nor fold the loop into one call.
 */
static void *(*volatile ipc_copy)(void *, const void *, size_t) = memcpy;

/*
 * passes copies of 64 MiB, far more than the caches hold, their times (µs)
 * into ret_us; 0, or -ENOMEM.
 */
int bench_memcpy_passes(unsigned passes, double *ret_us)
{
	unsigned char *src = malloc(IPC_MEMCPY_BYTES), *dst = malloc(IPC_MEMCPY_BYTES);

	if (!src || !dst) {
		free(src);
		free(dst);
		return -ENOMEM;
	}
	/* Every page touched once first: the passes time copies, not page faults. */
	memset(src, 0x5a, IPC_MEMCPY_BYTES);
	memset(dst, 0xa5, IPC_MEMCPY_BYTES);
	for (unsigned i = 0; i < passes; i++) {
		double t0 = now_us();
		ipc_copy(dst, src, IPC_MEMCPY_BYTES);
		ret_us[i] = now_us() - t0;
	}
	free(src);
	free(dst);
	return 0;
}

double bench_memcpy_gbps(const double *us, unsigned n)
{
	double tmp[MAX_RUNS * IPC_MEMCPY_PASSES];

	if (n == 0 || n > MAX_RUNS * IPC_MEMCPY_PASSES)
		return NAN;
	memcpy(tmp, us, n * sizeof(*tmp));
	return (double)IPC_MEMCPY_BYTES / (median(tmp, n) / 1e6) / 1e9;
}

/* ------------------------------------------------- a child that may die */

/*
 * The parent blocks in write(), mq_send(), msgsnd() or FUTEX_WAIT while the
 * child reads; if the child dies, some of those would block for ever (a
 * full queue never drains).  While a child runs, a SIGALRM every 200 ms
 * (no SA_RESTART) makes any blocked call return EINTR, and the caller looks
 * whether the child is still there before it blocks again.  The child is
 * killed by the kernel if the parent dies (PR_SET_PDEATHSIG).
 */
static pid_t peer;

static void on_alarm(int sig)
{
	(void)sig;
}

static void watch(bool on)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	if (on) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		sigemptyset(&sa.sa_mask);
		/* Left installed after the timer stops: a late SIGALRM must not kill us. */
		sigaction(SIGALRM, &sa, NULL);
		it.it_interval.tv_usec = it.it_value.tv_usec = WATCH_US;
	}
	setitimer(ITIMER_REAL, &it, NULL);
}

/* True when the child the parent waits on has exited (not reaped: WNOWAIT). */
static bool peer_gone(void)
{
	siginfo_t si;

	if (peer <= 0)
		return false;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)peer, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return true;
	return si.si_pid == peer;
}

/* What a failed call returns: EINTR with the peer gone is a broken pipe. */
static int again_or(int err)
{
	if (err == EINTR)
		return peer_gone() ? -EPIPE : 0;
	return -err;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			int r = again_or(errno);
			if (r < 0)
				return r;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0) {
			int r = again_or(errno);
			if (r < 0)
				return r;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The System V queue is the one object here with a name that cannot go at
 * once (the POSIX queues and the frame file are unlinked as soon as they
 * are open, the rings are anonymous): a SIGINT, SIGTERM or SIGHUP while one
 * exists removes it before the signal does what it does.
 */
static volatile sig_atomic_t live_msqid = -1;

static void on_fatal(int sig)
{
	if (live_msqid >= 0)
		msgctl(live_msqid, IPC_RMID, NULL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void guard_signals(bool on)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on ? on_fatal : SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* ------------------------------------------------------- the shm ring */

/*
 * A single-producer/single-consumer ring of 256-byte slots in a MAP_SHARED
 * anonymous mapping, one per direction.  head and tail count slots and wrap
 * at 2^32; head - tail slots are full.  A message of n slots (n a power of
 * two: both sides round the same way) starts at a multiple of n, so it
 * never wraps around the end and the consumer reads it in place; the slots
 * skipped to get there count as consumed.
 *
 * Waiting: a side that finds no room (producer) or no message (consumer)
 * spins SPIN_TRIES times with the CPU's pause instruction, then sets its
 * waiter flag and sleeps in FUTEX_WAIT on the other side's counter.  The
 * other side stores its counter and then loads the flag, both seq_cst, so
 * either the sleeper sees the new counter or the publisher sees the flag
 * and calls FUTEX_WAKE (which it skips when nobody sleeps).
 */
struct ring {
	/* Written by the producer only. */
	_Alignas(64) _Atomic uint32_t head;        /* slots published */
	_Atomic uint32_t tail_waiter;              /* the producer sleeps on tail */
	/* Written by the consumer only. */
	_Alignas(64) _Atomic uint32_t tail;        /* slots consumed */
	_Atomic uint32_t head_waiter;              /* the consumer sleeps on head */
	_Alignas(64) unsigned char slot[RING_SLOTS][SLOT_BYTES];
};

static long futex(_Atomic uint32_t *word, int op, uint32_t val)
{
	/* Not FUTEX_PRIVATE_FLAG: the word is shared between two processes. */
	return syscall(SYS_futex, (uint32_t *)word, op, val, NULL, NULL, 0);
}

/* Wait until *word has reached target (in wrapping arithmetic). */
static int ring_wait(_Atomic uint32_t *word, _Atomic uint32_t *waiter, uint32_t target)
{
	for (unsigned i = 0;; i++) {
		uint32_t v = atomic_load_explicit(word, memory_order_acquire);
		if ((int32_t)(v - target) >= 0)
			return 0;
		if (i < SPIN_TRIES) {
			cpu_relax();
			continue;
		}
		atomic_store(waiter, 1);
		v = atomic_load(word);
		if ((int32_t)(v - target) < 0 && futex(word, FUTEX_WAIT, v) < 0) {
			int r = errno == EAGAIN ? 0 : again_or(errno);
			if (r < 0) {
				atomic_store(waiter, 0);
				return r;
			}
		}
		atomic_store_explicit(waiter, 0, memory_order_relaxed);
	}
}

/* Slots a message of len bytes takes: a power of two. */
static uint32_t ring_slots(size_t len)
{
	uint32_t n = 1;

	while ((size_t)n * SLOT_BYTES < len)
		n <<= 1;
	return n;
}

static int ring_send(struct ring *rg, uint32_t *pos, const void *buf, size_t len)
{
	uint32_t n = ring_slots(len), h = (*pos + n - 1) & ~(n - 1);
	int r = ring_wait(&rg->tail, &rg->tail_waiter, h + n - RING_SLOTS);

	if (r < 0)
		return r;
	memcpy(rg->slot[h % RING_SLOTS], buf, len);
	*pos = h + n;
	atomic_store(&rg->head, h + n);
	if (atomic_load(&rg->head_waiter))
		futex(&rg->head, FUTEX_WAKE, 1);
	return 0;
}

static int ring_recv(struct ring *rg, uint32_t *pos, size_t len, unsigned char **ret_view)
{
	uint32_t n = ring_slots(len), t = (*pos + n - 1) & ~(n - 1);
	int r = ring_wait(&rg->head, &rg->head_waiter, t + n);

	if (r < 0)
		return r;
	*pos = t;
	*ret_view = rg->slot[t % RING_SLOTS];
	return 0;
}

static void ring_done(struct ring *rg, uint32_t *pos, size_t len)
{
	*pos += ring_slots(len);
	atomic_store(&rg->tail, *pos);
	if (atomic_load(&rg->tail_waiter))
		futex(&rg->tail, FUTEX_WAKE, 1);
}

/* ------------------------------------------------------- the channels */

/* Both directions of one mechanism between the parent and its child. */
struct chan {
	int pipes[2][2];           /* pipe: [direction][read end, write end] */
	int socks[2];              /* sockets: [0] the parent's end, [1] the child's */
	int rfd[2], wfd[2];        /* this process's ends per direction, once sided */
	mqd_t mq[2];
	int msqid;
	struct ring *ring;         /* [2], one mapping */
	uint32_t pos[2];           /* ring: this process's head (sending) or tail (receiving) */
	size_t chunk;              /* bulk: bytes per send */
	size_t mq_msgsize;
	unsigned char *rbase, *rbuf; /* a received message; rbuf = rbase + HEADROOM */
	size_t rlen;               /* bytes at rbuf */
	bool child;
};

struct mech {
	const char *key, *name;
	int (*open)(struct chan *c);
	/*
	 * send may use the HEADROOM bytes before buf (System V puts its type
	 * there) and gives them back as they were.
	 */
	int (*send)(struct chan *c, int dir, unsigned char *buf, size_t len);
	/* A view of the next message of exactly len bytes, valid until done. */
	int (*recv)(struct chan *c, int dir, size_t len, unsigned char **ret_view);
	void (*done)(struct chan *c, int dir, size_t len);
};

static void *alloc_with_headroom(size_t len, unsigned char **ret_base)
{
	unsigned char *b = aligned_alloc(64, HEADROOM + len);

	*ret_base = b;
	return b ? b + HEADROOM : NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void chan_init(struct chan *c)
{
	memset(c, 0, sizeof(*c));
	for (int d = 0; d < 2; d++) {
		c->pipes[d][0] = c->pipes[d][1] = -1;
		c->socks[d] = c->rfd[d] = c->wfd[d] = -1;
		c->mq[d] = (mqd_t)-1;
	}
	c->msqid = -1;
	c->chunk = MAX_CHUNK;
}

/* Everything this process holds of c; the System V queue is removed by the parent. */
static void chan_close(struct chan *c)
{
	for (int d = 0; d < 2; d++) {
		close_fd(&c->pipes[d][0]);
		close_fd(&c->pipes[d][1]);
		close_fd(&c->socks[d]);
		if (c->mq[d] != (mqd_t)-1)
			mq_close(c->mq[d]);
		c->mq[d] = (mqd_t)-1;
	}
	if (c->msqid >= 0 && !c->child) {
		msgctl(c->msqid, IPC_RMID, NULL);
		live_msqid = -1;
	}
	c->msqid = -1;
	if (c->ring)
		munmap(c->ring, 2 * sizeof(struct ring));
	c->ring = NULL;
	free(c->rbase);
	c->rbase = c->rbuf = NULL;
}

/* The receive buffer of this process: a bulk chunk, or a queue's whole message size. */
static int chan_alloc(struct chan *c)
{
	c->rlen = c->chunk > MSG_BYTES ? c->chunk : MSG_BYTES;
	if (c->mq_msgsize > c->rlen)
		c->rlen = c->mq_msgsize;
	c->rbuf = alloc_with_headroom(c->rlen, &c->rbase);
	return c->rbuf ? 0 : -ENOMEM;
}

/* After the fork: keep this side's ends, close the other side's. */
static void chan_side(struct chan *c, bool child)
{
	c->child = child;
	if (c->pipes[FWD][0] >= 0) {
		if (child) {
			c->rfd[FWD] = c->pipes[FWD][0];
			c->wfd[BACK] = c->pipes[BACK][1];
			close_fd(&c->pipes[FWD][1]);
			close_fd(&c->pipes[BACK][0]);
		} else {
			c->wfd[FWD] = c->pipes[FWD][1];
			c->rfd[BACK] = c->pipes[BACK][0];
			close_fd(&c->pipes[FWD][0]);
			close_fd(&c->pipes[BACK][1]);
		}
	}
	if (c->socks[0] >= 0) {
		int mine = child ? 1 : 0;
		close_fd(&c->socks[!mine]);
		c->rfd[FWD] = c->rfd[BACK] = c->wfd[FWD] = c->wfd[BACK] = c->socks[mine];
	}
}

static int fd_send(struct chan *c, int dir, unsigned char *buf, size_t len)
{
	return write_all(c->wfd[dir], buf, len);
}

static int fd_recv(struct chan *c, int dir, size_t len, unsigned char **ret_view)
{
	int r = read_all(c->rfd[dir], c->rbuf, len);

	if (r == 0)
		*ret_view = c->rbuf;
	return r;
}

static void nothing_done(struct chan *c, int dir, size_t len)
{
	(void)c; (void)dir; (void)len;
}

static int pipe_open(struct chan *c)
{
	if (pipe2(c->pipes[FWD], O_CLOEXEC) < 0 || pipe2(c->pipes[BACK], O_CLOEXEC) < 0)
		return -errno;
	return 0;
}

static int unix_open(struct chan *c)
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c->socks) < 0 ? -errno : 0;
}

static int tcp_open(struct chan *c)
{
	struct sockaddr_in addr;
	socklen_t alen = sizeof(addr);
	int one = 1, r = 0;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0)
		return -errno;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&addr, &alen) < 0)
		goto out_errno;
	c->socks[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->socks[0] < 0 || connect(c->socks[0], (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto out_errno;
	c->socks[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (c->socks[1] < 0)
		goto out_errno;
	/* The ping-pong's small writes go out at once, not after Nagle's wait. */
	if (setsockopt(c->socks[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    setsockopt(c->socks[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		goto out_errno;
	goto out_close;
out_errno:
	r = -errno;
out_close:
	close(l);
	return r;
}

static int mq_open_pair(mqd_t mq[2], const char *what, size_t msgsize)
{
	struct mq_attr attr;
	char name[64];

	memset(&attr, 0, sizeof(attr));
	attr.mq_maxmsg = proc_number("/proc/sys/fs/mqueue/msg_max", 10);
	if (attr.mq_maxmsg > 64)
		attr.mq_maxmsg = 64;
	attr.mq_msgsize = (long)msgsize;
	for (int d = 0; d < 2; d++) {
		snprintf(name, sizeof(name), "/reel-bench.%ld.%s-%d", (long)getpid(), what, d);
		mq[d] = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
		if (mq[d] == (mqd_t)-1)
			return -errno;
		/* The name goes at once: nothing is left behind, whatever happens next. */
		mq_unlink(name);
	}
	return 0;
}

static int posix_mq_open(struct chan *c)
{
	long most = proc_number("/proc/sys/fs/mqueue/msgsize_max", 8192);

	c->chunk = most > 0 && (size_t)most < MAX_CHUNK ? (size_t)most : MAX_CHUNK;
	/* A power of two, so that the bulk is a whole number of sends. */
	while (c->chunk & (c->chunk - 1))
		c->chunk &= c->chunk - 1;
	c->mq_msgsize = c->chunk > MSG_BYTES ? c->chunk : MSG_BYTES;
	return mq_open_pair(c->mq, "ipc", c->mq_msgsize);
}

static int posix_mq_send(struct chan *c, int dir, unsigned char *buf, size_t len)
{
	while (mq_send(c->mq[dir], (const char *)buf, len, 0) < 0) {
		int r = again_or(errno);
		if (r < 0)
			return r;
	}
	return 0;
}

static int posix_mq_recv(struct chan *c, int dir, size_t len, unsigned char **ret_view)
{
	for (;;) {
		ssize_t n = mq_receive(c->mq[dir], (char *)c->rbuf, c->mq_msgsize, NULL);
		if (n >= 0) {
			if ((size_t)n != len)
				return -EPROTO;
			*ret_view = c->rbuf;
			return 0;
		}
		int r = again_or(errno);
		if (r < 0)
			return r;
	}
}

static int sysv_open(struct chan *c)
{
	long most = proc_number("/proc/sys/kernel/msgmax", 8192);
	long queue = proc_number("/proc/sys/kernel/msgmnb", 16384);

	if (queue < most)
		most = queue;
	c->chunk = most > 0 && (size_t)most < MAX_CHUNK ? (size_t)most : MAX_CHUNK;
	while (c->chunk & (c->chunk - 1))
		c->chunk &= c->chunk - 1;
	c->msqid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	live_msqid = c->msqid;
	return c->msqid < 0 ? -errno : 0;
}

/* One queue for both directions: the message type says which (1 forward, 2 back). */
static int sysv_send(struct chan *c, int dir, unsigned char *buf, size_t len)
{
	unsigned char *hdr = buf - sizeof(long);
	long type = dir + 1, saved;
	int r = 0;

	memcpy(&saved, hdr, sizeof(long));
	memcpy(hdr, &type, sizeof(long));
	while (msgsnd(c->msqid, hdr, len, 0) < 0) {
		r = again_or(errno);
		if (r < 0)
			break;
	}
	memcpy(hdr, &saved, sizeof(long));
	return r;
}

static int sysv_recv(struct chan *c, int dir, size_t len, unsigned char **ret_view)
{
	for (;;) {
		ssize_t n = msgrcv(c->msqid, c->rbuf - sizeof(long), c->rlen, dir + 1, 0);
		if (n >= 0) {
			if ((size_t)n != len)
				return -EPROTO;
			*ret_view = c->rbuf;
			return 0;
		}
		int r = again_or(errno);
		if (r < 0)
			return r;
	}
}

static int shm_ring_open(struct chan *c)
{
	void *p = mmap(NULL, 2 * sizeof(struct ring), PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	c->ring = p;
	return 0;
}

static int shm_ring_send(struct chan *c, int dir, unsigned char *buf, size_t len)
{
	return ring_send(&c->ring[dir], &c->pos[dir], buf, len);
}

static int shm_ring_recv(struct chan *c, int dir, size_t len, unsigned char **ret_view)
{
	return ring_recv(&c->ring[dir], &c->pos[dir], len, ret_view);
}

static void shm_ring_done(struct chan *c, int dir, size_t len)
{
	ring_done(&c->ring[dir], &c->pos[dir], len);
}

static const struct mech mechs[] = {
	{ "pipe", "pipe", pipe_open, fd_send, fd_recv, nothing_done },
	{ "sysv_msg", "System V msg queue", sysv_open, sysv_send, sysv_recv, nothing_done },
	{ "posix_mq", "POSIX mq", posix_mq_open, posix_mq_send, posix_mq_recv, nothing_done },
	{ "unix_stream", "Unix stream socket", unix_open, fd_send, fd_recv, nothing_done },
	{ "tcp_loopback", "TCP loopback", tcp_open, fd_send, fd_recv, nothing_done },
	{ "shm_ring", "shm SPSC ring", shm_ring_open, shm_ring_send, shm_ring_recv, shm_ring_done },
};
#define MECHS (sizeof(mechs) / sizeof(mechs[0]))

/* ------------------------------------------------------------ the job */

/* What the receiver reports, in a MAP_SHARED page the parent reads after. */
struct ipc_result {
	double end_us;             /* when it had read the last byte (CLOCK_MONOTONIC) */
	uint64_t sum;              /* of every 64-bit word it received */
};
struct ipc_shared {
	struct ipc_result msgs, bulk, frames;
	char why[200];             /* the receiver's error, when it failed */
};

struct ipc_job {
	uint64_t count, bulk, frames, runs, pp;
	unsigned pp_warm;
	const char *base;
	bool json;
	struct ipc_shared *sh;
	unsigned char *msg;        /* MSG_BYTES, HEADROOM before it */
	unsigned char *src;        /* SRC_BYTES, HEADROOM before it */
	uint64_t msgs_sum, bulk_sum;
	/* The frames: a file in the buffer folder, already unlinked. */
	int frame_fd;
	unsigned char *frame_map;
	uint64_t frame_sum[MAPPED_FRAMES], frames_sum;
	char frame_dir[PATH_MAX], frame_fs[64];
};

/* Per mechanism and run. */
struct mech_runs {
	double msgs_us[MAX_RUNS], bulk_us[MAX_RUNS];
	double *rtt;               /* pp x runs round trips (µs) */
	size_t chunk;
};

__attribute__((format(printf, 2, 3)))
static int child_fail(struct ipc_shared *sh, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sh->why, sizeof(sh->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* The child: receives, reads every byte, echoes the ping-pong. */
static int receiver(const struct mech *m, struct chan *c, const struct ipc_job *j)
{
	struct ipc_shared *sh = j->sh;
	unsigned char *v, *sbase, *sbuf = alloc_with_headroom(MSG_BYTES, &sbase);
	uint64_t sum = 0;
	int r;

	if (!sbuf || chan_alloc(c) < 0)
		return child_fail(sh, "out of memory");
	memset(sbuf, 0, MSG_BYTES);
	if ((r = m->send(c, BACK, sbuf, MSG_BYTES)) < 0)
		return child_fail(sh, "sending 'ready': %s", strerror(-r));
	for (uint64_t i = 0; i < j->count; i++) {
		uint64_t seq;
		if ((r = m->recv(c, FWD, MSG_BYTES, &v)) < 0)
			return child_fail(sh, "receiving message %" PRIu64 ": %s", i, strerror(-r));
		memcpy(&seq, v, sizeof(seq));
		if (seq != i)
			return child_fail(sh, "message %" PRIu64 " arrived in place of %" PRIu64, seq, i);
		sum += sum_words(v, MSG_BYTES);
		m->done(c, FWD, MSG_BYTES);
	}
	sh->msgs.end_us = now_us();
	sh->msgs.sum = sum;
	if ((r = m->send(c, BACK, sbuf, MSG_BYTES)) < 0)
		return child_fail(sh, "acknowledging the messages: %s", strerror(-r));
	sum = 0;
	for (uint64_t off = 0; off < j->bulk; off += c->chunk) {
		if ((r = m->recv(c, FWD, c->chunk, &v)) < 0)
			return child_fail(sh, "receiving the bulk at byte %" PRIu64 ": %s", off, strerror(-r));
		sum += sum_words(v, c->chunk);
		m->done(c, FWD, c->chunk);
	}
	sh->bulk.end_us = now_us();
	sh->bulk.sum = sum;
	if ((r = m->send(c, BACK, sbuf, MSG_BYTES)) < 0)
		return child_fail(sh, "acknowledging the bulk: %s", strerror(-r));
	for (uint64_t i = 0; i < j->pp_warm + j->pp; i++) {
		if ((r = m->recv(c, FWD, MSG_BYTES, &v)) < 0 || (r = m->send(c, BACK, v, MSG_BYTES)) < 0)
			return child_fail(sh, "ping-pong %" PRIu64 ": %s", i, strerror(-r));
		m->done(c, FWD, MSG_BYTES);
	}
	free(sbase);
	return 0;
}

/* The parent: sends, times; *out gets this run's figures. */
static int sender(const struct mech *m, struct chan *c, const struct ipc_job *j, unsigned run,
                  struct mech_runs *out)
{
	struct ipc_shared *sh = j->sh;
	unsigned char *v;
	double t0;
	int r;

	if (chan_alloc(c) < 0)
		return -ENOMEM;
	if ((r = m->recv(c, BACK, MSG_BYTES, &v)) < 0)
		return r;
	m->done(c, BACK, MSG_BYTES);

	t0 = now_us();
	for (uint64_t i = 0; i < j->count; i++) {
		memcpy(j->msg, &i, sizeof(i));
		if ((r = m->send(c, FWD, j->msg, MSG_BYTES)) < 0)
			return r;
	}
	if ((r = m->recv(c, BACK, MSG_BYTES, &v)) < 0)
		return r;
	m->done(c, BACK, MSG_BYTES);
	out->msgs_us[run] = sh->msgs.end_us - t0;
	if (sh->msgs.sum != j->msgs_sum)
		return fail("%s: the receiver's sum of the messages is not the sender's", m->name),
		       -EBADMSG;

	t0 = now_us();
	for (uint64_t off = 0; off < j->bulk; off += c->chunk)
		if ((r = m->send(c, FWD, j->src + off % SRC_BYTES, c->chunk)) < 0)
			return r;
	if ((r = m->recv(c, BACK, MSG_BYTES, &v)) < 0)
		return r;
	m->done(c, BACK, MSG_BYTES);
	out->bulk_us[run] = sh->bulk.end_us - t0;
	if (sh->bulk.sum != j->bulk_sum)
		return fail("%s: the receiver's sum of the bulk is not the sender's", m->name), -EBADMSG;

	for (uint64_t i = 0; i < j->pp_warm + j->pp; i++) {
		t0 = now_us();
		if ((r = m->send(c, FWD, j->msg, MSG_BYTES)) < 0 ||
		    (r = m->recv(c, BACK, MSG_BYTES, &v)) < 0)
			return r;
		m->done(c, BACK, MSG_BYTES);
		if (i >= j->pp_warm)
			out->rtt[(size_t)run * j->pp + (i - j->pp_warm)] = now_us() - t0;
	}
	return 0;
}

/*
 * Fork child(ud) in a fresh process and run parent(ud) here while it runs;
 * the child is reaped whatever happens.  0 when both did their part.
 */
static int with_child(const char *what, struct ipc_shared *sh, int (*child)(void *ud),
                      int (*parent)(void *ud), void *ud)
{
	pid_t me = getpid(), pid;
	bool died_first;
	int r, status;

	memset(sh, 0, sizeof(*sh));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return fail("%s: fork: %s", what, strerror(errno)), -errno;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != me)
			_exit(1);
		_exit(child(ud) < 0 ? 1 : 0);
	}
	peer = pid;
	watch(true);
	r = parent(ud);
	watch(false);
	/* When the receiver went first, its own status says why; otherwise it is stopped here. */
	died_first = r < 0 && peer_gone();
	if (r < 0 && !died_first)
		kill(pid, SIGKILL);
	status = reap(pid, 30000);
	peer = 0;
	if (r == -EBADMSG)
		return r;           /* said already */
	if (r < 0 || status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (sh->why[0])
			fail("%s: the receiver failed: %s", what, sh->why);
		else if ((died_first || r == 0) && status >= 0 && WIFSIGNALED(status))
			fail("%s: the receiver was killed by signal %d (%s)", what, WTERMSIG(status),
			     strsignal(WTERMSIG(status)));
		else if ((died_first || r == 0) && status >= 0 && WIFEXITED(status))
			fail("%s: the receiver exited with status %d", what, WEXITSTATUS(status));
		else
			fail("%s: %s", what, r < 0 ? strerror(-r) : "the receiver did not exit");
		return r < 0 ? r : -ECHILD;
	}
	return 0;
}

struct mech_call {
	const struct mech *m;
	struct chan *c;
	const struct ipc_job *j;
	unsigned run;
	struct mech_runs *out;
};

static int mech_child(void *ud)
{
	struct mech_call *k = ud;

	chan_side(k->c, true);
	return receiver(k->m, k->c, k->j);
}

static int mech_parent(void *ud)
{
	struct mech_call *k = ud;

	chan_side(k->c, false);
	return sender(k->m, k->c, k->j, k->run, k->out);
}

static int run_mech(const struct mech *m, const struct ipc_job *j, unsigned run,
                    struct mech_runs *out)
{
	struct chan c;
	struct mech_call k = { m, &c, j, run, out };
	int r;

	chan_init(&c);
	r = m->open(&c);
	if (r < 0) {
		fail("%s: cannot set it up: %s", m->name, strerror(-r));
		chan_close(&c);
		return r;
	}
	out->chunk = c.chunk;
	r = with_child(m->name, j->sh, mech_child, mech_parent, &k);
	chan_close(&c);
	return r;
}

/* ---------------------------------------------------------- the frames */

/*
 * MAPPED_FRAMES frames of pseudo-random bytes in a file of the buffer
 * folder (the file and its folder are unlinked at once: the open fd and
 * the mappings keep it), written back to disk before any timing, so that
 * writeback does not run beside the runs.
 */
static int frames_setup(struct ipc_job *j)
{
	size_t size = (size_t)MAPPED_FRAMES * IPC_FRAME_BYTES;
	char dir[PATH_MAX], path[PATH_MAX + 16];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int r;

	r = make_workdir(j->base, dir, sizeof(dir));
	if (r < 0)
		return fail("cannot make a work folder: %s", reel_strerror(r)), r;
	snprintf(j->frame_dir, sizeof(j->frame_dir), "%.*s", (int)(strrchr(dir, '/') - dir), dir);
	if (bench_fs_type(dir, j->frame_fs, sizeof(j->frame_fs)) < 0)
		snprintf(j->frame_fs, sizeof(j->frame_fs), "unknown");
	snprintf(path, sizeof(path), "%s/frames", dir);
	j->frame_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	r = j->frame_fd < 0 ? -errno : 0;
	unlink(path);
	rmdir(dir);
	if (r < 0)
		return fail("%s: %s", path, strerror(-r)), r;
	if (ftruncate(j->frame_fd, (off_t)size) < 0)
		return fail("%s: cannot size it: %s", path, strerror(errno)), -errno;
	j->frame_map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, j->frame_fd, 0);
	if (j->frame_map == MAP_FAILED) {
		j->frame_map = NULL;
		return fail("%s: mmap: %s", path, strerror(errno)), -errno;
	}
	for (size_t i = 0; i < size; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(j->frame_map + i, &x, 8);
	}
	for (unsigned f = 0; f < MAPPED_FRAMES; f++)
		j->frame_sum[f] = sum_words(j->frame_map + (size_t)f * IPC_FRAME_BYTES, IPC_FRAME_BYTES);
	j->frames_sum = 0;
	for (uint64_t i = 0; i < j->frames; i++)
		j->frames_sum += j->frame_sum[i % MAPPED_FRAMES];
	if (fdatasync(j->frame_fd) < 0)
		return fail("%s: fdatasync: %s", path, strerror(errno)), -errno;
	return 0;
}

static void frames_teardown(struct ipc_job *j)
{
	if (j->frame_map)
		munmap(j->frame_map, (size_t)MAPPED_FRAMES * IPC_FRAME_BYTES);
	if (j->frame_fd >= 0)
		close(j->frame_fd);
}

struct frame_call {
	struct ipc_job *j;
	mqd_t mq[2];               /* the hand-off: frame numbers forward, 'ready' and 'done' back */
	int pipes[2][2];           /* raw frames: [direction][read end, write end] */
	int pipe_size;             /* F_SETPIPE_SZ of the frames' pipe, or 0: the default */
	double us;
};

/* The hand-off's reader: its own MAP_SHARED mapping of the file, each frame read in place. */
static int handoff_child(void *ud)
{
	struct frame_call *k = ud;
	struct ipc_shared *sh = k->j->sh;
	size_t size = (size_t)MAPPED_FRAMES * IPC_FRAME_BYTES;
	/* Populated at once, as a stage's mapping is after its first pass: faults are not timed. */
	unsigned char *map = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, k->j->frame_fd, 0);
	uint64_t n = 0, sum = 0;

	if (map == MAP_FAILED)
		return child_fail(sh, "mmap: %s", strerror(errno));
	if (mq_send(k->mq[BACK], (const char *)&n, sizeof(n), 0) < 0)
		return child_fail(sh, "sending 'ready': %s", strerror(errno));
	for (uint64_t i = 0; i < k->j->frames; i++) {
		if (mq_receive(k->mq[FWD], (char *)&n, sizeof(n), NULL) != sizeof(n))
			return child_fail(sh, "receiving frame number %" PRIu64 ": %s", i, strerror(errno));
		if (n >= MAPPED_FRAMES)
			return child_fail(sh, "frame %" PRIu64 " is not in the file", n);
		sum += sum_words(map + n * IPC_FRAME_BYTES, IPC_FRAME_BYTES);
	}
	sh->frames.end_us = now_us();
	sh->frames.sum = sum;
	if (mq_send(k->mq[BACK], (const char *)&n, sizeof(n), 0) < 0)
		return child_fail(sh, "acknowledging: %s", strerror(errno));
	return 0;
}

static int mq_wait_one(mqd_t q)
{
	uint64_t n;

	while (mq_receive(q, (char *)&n, sizeof(n), NULL) < 0) {
		int r = again_or(errno);
		if (r < 0)
			return r;
	}
	return 0;
}

static int handoff_parent(void *ud)
{
	struct frame_call *k = ud;
	double t0;
	int r;

	if ((r = mq_wait_one(k->mq[BACK])) < 0)
		return r;
	t0 = now_us();
	for (uint64_t i = 0; i < k->j->frames; i++) {
		uint64_t n = i % MAPPED_FRAMES;
		while (mq_send(k->mq[FWD], (const char *)&n, sizeof(n), 0) < 0)
			if ((r = again_or(errno)) < 0)
				return r;
	}
	if ((r = mq_wait_one(k->mq[BACK])) < 0)
		return r;
	k->us = k->j->sh->frames.end_us - t0;
	if (k->j->sh->frames.sum != k->j->frames_sum)
		return fail("frame hand-off: the reader's sum is not the sender's"), -EBADMSG;
	return 0;
}

/* The pipe's reader: each frame read whole into its own buffer, then read through. */
static int pipe_frames_child(void *ud)
{
	struct frame_call *k = ud;
	struct ipc_shared *sh = k->j->sh;
	unsigned char *buf = aligned_alloc(64, IPC_FRAME_BYTES);
	uint64_t sum = 0;
	char b = 0;
	int r;

	close_fd(&k->pipes[FWD][1]);
	close_fd(&k->pipes[BACK][0]);
	if (!buf)
		return child_fail(sh, "out of memory");
	memset(buf, 0, IPC_FRAME_BYTES);
	if ((r = write_all(k->pipes[BACK][1], &b, 1)) < 0)
		return child_fail(sh, "sending 'ready': %s", strerror(-r));
	for (uint64_t i = 0; i < k->j->frames; i++) {
		if ((r = read_all(k->pipes[FWD][0], buf, IPC_FRAME_BYTES)) < 0)
			return child_fail(sh, "reading frame %" PRIu64 ": %s", i, strerror(-r));
		sum += sum_words(buf, IPC_FRAME_BYTES);
	}
	sh->frames.end_us = now_us();
	sh->frames.sum = sum;
	if ((r = write_all(k->pipes[BACK][1], &b, 1)) < 0)
		return child_fail(sh, "acknowledging: %s", strerror(-r));
	free(buf);
	return 0;
}

static int pipe_frames_parent(void *ud)
{
	struct frame_call *k = ud;
	double t0;
	char b;
	int r;

	close_fd(&k->pipes[FWD][0]);
	close_fd(&k->pipes[BACK][1]);
	if ((r = read_all(k->pipes[BACK][0], &b, 1)) < 0)
		return r;
	t0 = now_us();
	for (uint64_t i = 0; i < k->j->frames; i++)
		if ((r = write_all(k->pipes[FWD][1], k->j->frame_map +
		                   (i % MAPPED_FRAMES) * IPC_FRAME_BYTES, IPC_FRAME_BYTES)) < 0)
			return r;
	if ((r = read_all(k->pipes[BACK][0], &b, 1)) < 0)
		return r;
	k->us = k->j->sh->frames.end_us - t0;
	if (k->j->sh->frames.sum != k->j->frames_sum)
		return fail("raw frames in a pipe: the reader's sum is not the sender's"), -EBADMSG;
	return 0;
}

/* The frames' pipe made larger: 1 MiB, or what /proc/sys/fs/pipe-max-size allows. */
static int big_pipe_size(void)
{
	long most = proc_number("/proc/sys/fs/pipe-max-size", 1 << 20);

	return most < (1 << 20) ? (int)most : 1 << 20;
}

/*
 * way 0: hand-off, 1: raw frames in a pipe, 2: the reader alone (no second
 * process), 3: raw frames in a pipe made larger (F_SETPIPE_SZ).
 */
static int run_frames(struct ipc_job *j, unsigned way, double *ret_us)
{
	struct frame_call k;
	int r;

	memset(&k, 0, sizeof(k));
	k.j = j;
	k.mq[0] = k.mq[1] = (mqd_t)-1;
	for (int d = 0; d < 2; d++)
		k.pipes[d][0] = k.pipes[d][1] = -1;
	if (way == 2) {
		uint64_t sum = 0;
		double t0 = now_us();
		for (uint64_t i = 0; i < j->frames; i++)
			sum += sum_words(j->frame_map + (i % MAPPED_FRAMES) * IPC_FRAME_BYTES,
			                 IPC_FRAME_BYTES);
		*ret_us = now_us() - t0;
		if (sum != j->frames_sum)
			return fail("the reader alone: the sum is wrong"), -EBADMSG;
		return 0;
	}
	if (way == 0) {
		r = mq_open_pair(k.mq, "frame", sizeof(uint64_t));
		if (r < 0)
			fail("frame hand-off: POSIX queues: %s", strerror(-r));
		else
			r = with_child("frame hand-off", j->sh, handoff_child, handoff_parent, &k);
	} else {
		const char *what = way == 3 ? "raw frames in a larger pipe" : "raw frames in a pipe";
		r = pipe2(k.pipes[FWD], O_CLOEXEC) < 0 || pipe2(k.pipes[BACK], O_CLOEXEC) < 0 ? -errno : 0;
		if (r == 0 && way == 3) {
			k.pipe_size = fcntl(k.pipes[FWD][1], F_SETPIPE_SZ, big_pipe_size());
			r = k.pipe_size < 0 ? -errno : 0;
		}
		if (r < 0)
			fail("%s: %s", what, strerror(-r));
		else
			r = with_child(what, j->sh, pipe_frames_child, pipe_frames_parent, &k);
	}
	for (int d = 0; d < 2; d++) {
		if (k.mq[d] != (mqd_t)-1)
			mq_close(k.mq[d]);
		close_fd(&k.pipes[d][0]);
		close_fd(&k.pipes[d][1]);
	}
	*ret_us = k.us;
	return r;
}

/* ------------------------------------------------------------ the command */

/* text on out, its words wrapped before column width. */
static void put_wrapped(FILE *out, const char *text, size_t width)
{
	size_t col = 0;

	while (*text) {
		size_t n = strcspn(text, " ");
		if (col && col + 1 + n > width) {
			fputc('\n', out);
			col = 0;
		} else if (col) {
			fputc(' ', out);
			col++;
		}
		fwrite(text, 1, n, out);
		col += n;
		text += n;
		while (*text == ' ')
			text++;
	}
	fputc('\n', out);
}

static void ipc_usage(FILE *out)
{
	fprintf(out,
	        "usage: reel-bench ipc [--count N] [--bulk-mib M] [--frames F] [--runs R]\n"
	        "                      [--buffer-dir DIR] [--json]\n\n"
	        "Ways to move bytes between two processes (fork), each measured with the\n"
	        "receiver reading every byte it gets: it sums every 64-bit word, and the sum\n"
	        "is checked against the sender's.  Six mechanisms, kernel defaults as they are:\n"
	        "  pipe, System V message queue, POSIX message queue, Unix stream socket\n"
	        "  (socketpair), TCP over loopback (TCP_NODELAY), and a single-producer/\n"
	        "  single-consumer ring of %u-byte slots in a MAP_SHARED anonymous mapping\n"
	        "  (C11 atomics; a waiting side spins %u times with the pause instruction,\n"
	        "  then sleeps in FUTEX_WAIT; the other side calls FUTEX_WAKE only when a\n"
	        "  waiter flag is set).  The receiver reads the ring's slots in place.\n"
	        "Each: N messages of 1 KiB (default %d): messages/s; M MiB in bulk (default\n"
	        "%d), in sends of 64 KiB or the most the mechanism takes (8 KiB for both\n"
	        "message queues by default): GB/s, and its ratio to memcpy's bandwidth\n"
	        "measured in the same runs; and a 1 KiB ping-pong (N/100 round trips, at\n"
	        "least 200 and at most 10000): p50 and p99 in microseconds.  The bulk is\n"
	        "sent from %u MiB of data, more than the caches hold, as memcpy's 64 MiB;\n"
	        "a mechanism's own buffer (the ring's 4 MiB, a pipe's 64 KiB) may stay in\n"
	        "the caches, so the receiver's reads can beat memcpy's.\n\n"
	        "Frames: the hand-off reel does, only a frame number (8 bytes) over a POSIX\n"
	        "queue, the receiver reading the 1080p YUV420P frame (%u bytes) in place\n"
	        "from its own MAP_SHARED mapping of a file in the buffer folder (reel's\n"
	        "default, or DIR); next to the same frames written through a pipe (as it\n"
	        "comes, 64 KiB, as between 'ffmpeg | ffmpeg'; and made 1 MiB with\n"
	        "F_SETPIPE_SZ) and read whole into the receiver's buffer; and next to the\n"
	        "reader alone, summing the frames in place with no second process.  F frames\n"
	        "(default %d), cycling over %u in the file; frames/s, the hand-off's speed\n"
	        "over the pipe (the issue's goal: at least 10x), and the transport alone:\n"
	        "each way's time per frame over the reader alone's.  Medians of R runs\n"
	        "(default 3).\n\n",
	        SLOT_BYTES, SPIN_TRIES, DEFAULT_COUNT, DEFAULT_BULK_MIB, SRC_BYTES >> 20, IPC_FRAME_BYTES,
	        DEFAULT_FRAMES, MAPPED_FRAMES);
	put_wrapped(out, IPC_NOTE, 78);
}

static double median_of(const double *v, size_t n)
{
	double tmp[MAX_RUNS];

	memcpy(tmp, v, n * sizeof(*tmp));
	return median(tmp, n);
}

int cmd_ipc(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "bulk-mib", required_argument, NULL, 'b' },
		{ "frames", required_argument, NULL, 'f' },
		{ "runs", required_argument, NULL, 'r' },
		{ "buffer-dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const frame_ways[FRAME_WAYS] = {
		"frame hand-off", "raw frames in a pipe", "the reader alone", "raw frames in a 1 MiB pipe",
	};
	struct ipc_job j;
	struct mech_runs *mr = NULL;
	double *copies = NULL, frame_us[FRAME_WAYS][MAX_RUNS], memcpy_gbps;
	double msgs_per_s[MECHS], msg_gbps[MECHS], bulk_gbps[MECHS], fps[FRAME_WAYS];
	double per_frame_us[FRAME_WAYS];
	double ratio, transport[2], transport_ratio;
	struct pct rtt[MECHS];
	unsigned char *msg_base = NULL, *src_base = NULL;
	uint64_t mib = DEFAULT_BULK_MIB, tmpl = 0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int opt, code = CLI_FAIL;

	memset(&j, 0, sizeof(j));
	j.count = DEFAULT_COUNT;
	j.frames = DEFAULT_FRAMES;
	j.runs = 3;
	j.frame_fd = -1;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_option_number("--count", optarg, 10, 100000000, &j.count) < 0)
				return CLI_USAGE;
			break;
		case 'b':
			if (parse_option_number("--bulk-mib", optarg, 1, 65536, &mib) < 0)
				return CLI_USAGE;
			break;
		case 'f':
			if (parse_option_number("--frames", optarg, 1, 1000000, &j.frames) < 0)
				return CLI_USAGE;
			break;
		case 'r':
			if (parse_option_number("--runs", optarg, 1, MAX_RUNS, &j.runs) < 0)
				return CLI_USAGE;
			break;
		case 'd': j.base = optarg; break;
		case 'j': j.json = true; break;
		case 'h': ipc_usage(stdout); return CLI_OK;
		default:
			return fail("ipc: unknown option '%s' (see 'reel-bench ipc --help')",
			            argv[optind - 1]), CLI_USAGE;
		}
	}
	if (argc - optind > 0)
		return fail("ipc: no argument is taken (see 'reel-bench ipc --help')"), CLI_USAGE;
	j.bulk = mib << 20;
	j.pp = j.count / 100 < 200 ? 200 : j.count / 100 > 10000 ? 10000 : j.count / 100;
	j.pp_warm = (unsigned)(j.pp / 10);

	guard_signals(true);
	j.sh = mmap(NULL, sizeof(*j.sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (j.sh == MAP_FAILED) {
		j.sh = NULL;
		fail("mmap: %s", strerror(errno));
		goto out;
	}
	j.msg = alloc_with_headroom(MSG_BYTES, &msg_base);
	j.src = alloc_with_headroom(SRC_BYTES, &src_base);
	mr = calloc(MECHS, sizeof(*mr));
	copies = malloc(j.runs * IPC_MEMCPY_PASSES * sizeof(*copies));
	if (!j.msg || !j.src || !mr || !copies) {
		fail("out of memory");
		goto out;
	}
	for (unsigned k = 0; k < MECHS; k++) {
		mr[k].rtt = malloc(j.pp * j.runs * sizeof(double));
		if (!mr[k].rtt) {
			fail("out of memory");
			goto out;
		}
	}
	/* A message: its number in the first word, a fixed pattern after it. */
	for (unsigned w = 1; w < MSG_BYTES / 8; w++) {
		uint64_t v = 0x0101010101010101ull * w;
		memcpy(j.msg + w * 8, &v, 8);
		tmpl += v;
	}
	j.msgs_sum = j.count * tmpl + (j.count % 2 ? j.count * ((j.count - 1) / 2)
	                                            : (j.count / 2) * (j.count - 1));
	{
		uint64_t x = 0x2545f4914f6cdd1dull;
		for (size_t i = 0; i < SRC_BYTES; i += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(j.src + i, &x, 8);
		}
		j.bulk_sum = (j.bulk / SRC_BYTES) * sum_words(j.src, SRC_BYTES) +
		             sum_words(j.src, j.bulk % SRC_BYTES);
	}
	note("ipc: writing %u frames to a file in the buffer folder", MAPPED_FRAMES);
	if (frames_setup(&j) < 0)
		goto out;

	for (unsigned run = 0; run < j.runs; run++) {
		note("ipc: memcpy, run %u/%" PRIu64, run + 1, j.runs);
		if (bench_memcpy_passes(IPC_MEMCPY_PASSES, copies + (size_t)run * IPC_MEMCPY_PASSES) < 0) {
			fail("out of memory");
			goto out;
		}
		/* The mechanisms take turns at going first, run by run. */
		for (unsigned i = 0; i < MECHS; i++) {
			unsigned k = (run + i) % MECHS;
			note("ipc: run %u/%" PRIu64 ", %s", run + 1, j.runs, mechs[k].name);
			if (run_mech(&mechs[k], &j, run, &mr[k]) < 0)
				goto out;
		}
		for (unsigned i = 0; i < FRAME_WAYS; i++) {
			unsigned w = (run + i) % FRAME_WAYS;
			note("ipc: run %u/%" PRIu64 ", %s", run + 1, j.runs, frame_ways[w]);
			if (run_frames(&j, w, &frame_us[w][run]) < 0)
				goto out;
		}
	}
	note_done();

	memcpy_gbps = bench_memcpy_gbps(copies, (unsigned)(j.runs * IPC_MEMCPY_PASSES));
	for (unsigned k = 0; k < MECHS; k++) {
		double mu = median_of(mr[k].msgs_us, j.runs), bu = median_of(mr[k].bulk_us, j.runs);
		msgs_per_s[k] = (double)j.count / (mu / 1e6);
		msg_gbps[k] = (double)j.count * MSG_BYTES / (mu / 1e6) / 1e9;
		bulk_gbps[k] = (double)j.bulk / (bu / 1e6) / 1e9;
		rtt[k] = summarise(mr[k].rtt, (unsigned)j.pp, (unsigned)j.runs);
	}
	for (unsigned w = 0; w < FRAME_WAYS; w++) {
		double us = median_of(frame_us[w], j.runs);
		fps[w] = (double)j.frames / (us / 1e6);
		per_frame_us[w] = us / (double)j.frames;
	}
	ratio = fps[0] / fps[1];
	/* The transport alone: each way's time per frame over the reader alone's. */
	transport[0] = per_frame_us[0] - per_frame_us[2];
	transport[1] = per_frame_us[1] - per_frame_us[2];
	transport_ratio = transport[0] > 0 && transport[1] > 0 ? transport[1] / transport[0] : NAN;

	if (j.json) {
		printf("{\"bench\":\"ipc\",\"runs\":%" PRIu64 ",\"cores\":%ld,\"count\":%" PRIu64
		       ",\"message_bytes\":%u,\"bulk_bytes\":%" PRIu64 ",\"bulk_source_bytes\":%u,"
		       "\"pingpong_count\":%" PRIu64
		       ",\"memcpy_gbps\":%.3f,\"ring\":{\"slot_bytes\":%u,\"slots\":%u,\"wait\":"
		       "\"spin %u pauses, then FUTEX_WAIT\"},\"mechanisms\":[",
		       j.runs, cores, j.count, MSG_BYTES, j.bulk, SRC_BYTES, j.pp, memcpy_gbps, SLOT_BYTES,
		       RING_SLOTS, SPIN_TRIES);
		for (unsigned k = 0; k < MECHS; k++)
			printf("%s{\"key\":\"%s\",\"name\":\"%s\",\"chunk_bytes\":%zu,\"msgs_per_s\":%.0f,"
			       "\"msg_gbps\":%.3f,\"bulk_gbps\":%.3f,\"bulk_memcpy_ratio\":%.3f,"
			       "\"rtt_p50_us\":%.2f,\"rtt_p99_us\":%.2f}",
			       k ? "," : "", mechs[k].key, mechs[k].name, mr[k].chunk, msgs_per_s[k],
			       msg_gbps[k], bulk_gbps[k], bulk_gbps[k] / memcpy_gbps, rtt[k].p50, rtt[k].p99);
		printf("],\"frames\":{\"count\":%" PRIu64 ",\"frame_bytes\":%u,\"mapped_frames\":%u,"
		       "\"buffer_dir\":", j.frames, IPC_FRAME_BYTES, MAPPED_FRAMES);
		cli_json_string(stdout, j.frame_dir);
		printf(",\"buffer_fs\":");
		cli_json_string(stdout, j.frame_fs);
		printf(",\"handoff_fps\":%.1f,\"pipe_fps\":%.1f,\"big_pipe_fps\":%.1f,"
		       "\"big_pipe_bytes\":%d,\"read_only_fps\":%.1f,\"handoff_gbps\":%.3f,"
		       "\"ratio\":%.3f,\"goal\":10,\"met\":%s,\"ratio_big_pipe\":%.3f,"
		       "\"transport_us_per_frame\":{\"handoff\":%.2f,\"pipe\":%.2f},\"transport_ratio\":",
		       fps[0], fps[1], fps[3], big_pipe_size(), fps[2], fps[0] * IPC_FRAME_BYTES / 1e9,
		       ratio, ratio >= 10 ? "true" : "false", fps[0] / fps[3], transport[0], transport[1]);
		if (isnan(transport_ratio))
			printf("null");
		else
			printf("%.3f", transport_ratio);
		printf("},\"note\":");
		cli_json_string(stdout, IPC_NOTE);
		printf("}\n");
	} else {
		printf("reel-bench ipc: two processes (fork); the receiver reads every byte (a sum\n"
		       "checked against the sender's).  Medians of %" PRIu64 " runs, %ld cores.\n"
		       "memcpy, 64 MiB buffers: %.2f GB/s\n\n", j.runs, cores, memcpy_gbps);
		printf("  %-20s %9s | %11s %7s | %8s %9s | %9s %9s\n", "", "", "1 KiB msgs", "",
		       "bulk", "", "1 KiB rtt", "");
		printf("  %-20s %9s | %11s %7s | %8s %9s | %9s %9s\n", "mechanism", "chunk", "msgs/s",
		       "GB/s", "GB/s", "/memcpy", "p50 us", "p99 us");
		for (unsigned k = 0; k < MECHS; k++)
			printf("  %-20s %5zu KiB | %11.0f %7.2f | %8.2f %8.2fx | %9.1f %9.1f\n",
			       mechs[k].name, mr[k].chunk >> 10, msgs_per_s[k], msg_gbps[k], bulk_gbps[k],
			       bulk_gbps[k] / memcpy_gbps, rtt[k].p50, rtt[k].p99);
		printf("\n  %" PRIu64 " messages, %" PRIu64 " MiB of bulk, %" PRIu64 " round trips a run;"
		       " ring: %u slots of %u bytes,\n  spin %u pauses then FUTEX_WAIT.  The bulk is sent "
		       "from %u MiB, more than the caches\n  hold; a mechanism's own buffer (the ring's 4 MiB, "
		       "a pipe's 64 KiB) may stay in them,\n  memcpy's 64 MiB do not: above 1x memcpy means "
		       "the receiver read from the caches.\n\n",
		       j.count, mib, j.pp, RING_SLOTS, SLOT_BYTES, SPIN_TRIES, SRC_BYTES >> 20);
		printf("frames: %" PRIu64 " 1080p YUV420P frames (%u bytes), cycling over %u in a\n"
		       "MAP_SHARED file in %s (%s)\n", j.frames, IPC_FRAME_BYTES, MAPPED_FRAMES,
		       j.frame_dir, j.frame_fs);
		printf("  %-58s %9s %8s\n", "", "frames/s", "us/frame");
		printf("  %-58s %9.1f %8.1f\n", "hand-off: 8-byte number over a POSIX queue, read in place",
		       fps[0], per_frame_us[0]);
		printf("  %-58s %9.1f %8.1f\n", "raw frames through a pipe, read whole, then read", fps[1],
		       per_frame_us[1]);
		printf("  %-58s %9.1f %8.1f\n", "the same through a 1 MiB pipe (F_SETPIPE_SZ)", fps[3],
		       per_frame_us[3]);
		printf("  %-58s %9.1f %8.1f\n", "the reader alone (in place, no second process)", fps[2],
		       per_frame_us[2]);
		printf("\n  hand-off over the pipe: %.2fx (goal >= 10x: %s); over the 1 MiB pipe: %.2fx\n",
		       ratio, met(ratio >= 10), fps[0] / fps[3]);
		if (isnan(transport_ratio))
			printf("  the transport alone (time per frame over the reader alone's): within the "
			       "noise\n");
		else
			printf("  the transport alone (time per frame over the reader alone's): %.1f us "
			       "against %.1f us, %.1fx\n", transport[0], transport[1], transport_ratio);
		printf("\n(what \"shared memory moved 1 GB in 0.5 ms\" leaves out: see 'reel-bench ipc "
		       "--help')\n");
	}
	code = CLI_OK;
out:
	note_done();
	frames_teardown(&j);
	if (mr)
		for (unsigned k = 0; k < MECHS; k++)
			free(mr[k].rtt);
	free(mr);
	free(copies);
	free(msg_base);
	free(src_base);
	if (j.sh)
		munmap(j.sh, sizeof(*j.sh));
	guard_signals(false);
	return code;
}
