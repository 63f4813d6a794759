/*
 * The slot protocol: how the processes of a session share the frame slots
 * of one buffer file without copying a pixel.
 *
 * Every slot has a 128-byte entry in the slot table (struct reel__slot in
 * layout.h).  The entry lives in the MAP_SHARED file, so every word of it
 * may be read and written by any process at any time, and any process may
 * die at any instruction.  This file is the only code that touches it.
 *
 * States and transitions
 * ----------------------
 *
 *              need                 decoded                 edit begins
 *     EMPTY ───────────▶ DECODING ───────────▶ READY ───────────▶ BUSY
 *       ▲                 │    ▲                │ │ ◀───────────
 *       │          failed │    │ rebuild   undo │ │   edit done
 *       │                 ▼    │                │ │
 *       │               ERROR  STALE ◀──────────┘ │
 *       │                                         │
 *       └─────────────────────────────────────────┘
 *                          evict
 *
 *     any state ──▶ STALE     when a mutex owner died holding the lock
 *
 *   EMPTY    -> DECODING   coordinator, when a frame is needed in this slot
 *   DECODING -> READY      coordinator, frame decoded and journal re-applied
 *   DECODING -> ERROR      coordinator, the frame cannot be decoded (`error`
 *                          says why; a later attempt may go ERROR -> DECODING)
 *   READY    -> STALE      coordinator, an undo/redo covers the frame
 *   STALE    -> DECODING   coordinator, rebuilding from source + journal
 *   READY    -> EMPTY      coordinator, evicting the slot for another frame
 *   READY    -> BUSY       a stage, starting to edit the pixels in place
 *   BUSY     -> READY      the same stage, edit done, journal_seq advanced
 *   any      -> STALE      whoever next locks the mutex after its owner died:
 *                          the pixels may be half written, only a rebuild
 *                          from source + journal can be trusted
 *
 * The library stores whatever legal state it is given: the transition rules
 * are the coordinator's and the stages' to keep, and the coordinator trusts
 * its own private table, not this word, when it decides what to rebuild.
 *
 * Who protects what
 * -----------------
 *
 *   mutex        robust, process-shared, error-checking.  Writers of pixels,
 *                samples, frame, journal_seq, audio_samples, error and
 *                owner_pid hold it.
 *   state        written with an atomic release store by the lock holder
 *                (reel_slot_set_state; the coordinator may also store it
 *                for a slot it alone uses), then FUTEX_WAKE on the word; read
 *                with atomic loads by anyone.  It is the futex word waiters
 *                sleep on (reel_slot_wait).  Not the _PRIVATE futex ops: the
 *                word is in a file shared between processes, and the kernel
 *                keys it by inode and offset.
 *   version      the seqlock.  Odd while a writer is between write_begin and
 *                write_end.  Only the lock holder changes it, with atomic
 *                increments; readers load it atomically.
 *   frame, journal_seq, audio_samples, error, owner_pid
 *                written by the lock holder with atomic stores, so a reader
 *                never sees a torn word; a reader that needs them to agree
 *                with the pixels reads them inside its seqlock section.
 *                owner_pid is a hint for tools and for catching a caller
 *                that forgot the lock, never a proof of ownership: a pid
 *                can be reused, and the mutex alone decides.
 *   waiters      anyone about to sleep on state adds 1 and takes it away on
 *                waking (sequentially consistent), so a change of state is
 *                a FUTEX_WAKE system call only when someone sleeps.
 *   mutex_init   0 on the zero page of a fresh sparse file, 1 while one
 *                process initialises the mutex, 2 once it is usable.
 *
 * A writer's sequence: reel_slot_lock, reel_slot_set_state(BUSY or
 * DECODING), reel_slot_write_begin, the pixels and samples,
 * reel_slot_set_contents, reel_slot_write_end, reel_slot_set_state(READY),
 * reel_slot_unlock.  The robust list is per thread, so the thread that
 * locks is the one that unlocks.
 *
 * Readers take no lock
 * --------------------
 *
 * The preview and exporters copy a frame out while writers may be editing
 * it: reel_slot_read_begin() waits for an even version, the reader copies,
 * and reel_slot_read_validate() rereads the version after an acquire fence.
 * The copy is good only when both versions are the same even number: the
 * writer's fences put the odd increment before its first data store and the
 * even increment after its last, so any overlap changes the version.  A
 * reader therefore never blocks a writer, and a dead reader holds nothing.
 *
 * Lazy initialisation
 * -------------------
 *
 * The slot table is not written at create time: a buffer of 20,000 slots
 * must stay sparse.  The first process that needs a slot's mutex moves
 * mutex_init from 0 to 1 with a CAS, initialises the mutex (pshared, robust)
 * and stores frame = -1, then stores 2 with release.  Others that see 1 wait
 * (yielding, then sleeping) until they see 2, for a bounded time.  A slot
 * whose mutex_init is still 0 has never been used: reel_slot_get() reports
 * it EMPTY with frame -1, because on the zero page frame reads 0, which is a
 * real frame number.  Any other value of mutex_init is damage (REEL_E_SLOT).
 *
 * What a crashed process leaves
 * -----------------------------
 *
 *   - dead while holding the mutex: the kernel walks the dead thread's
 *     robust list and marks the mutex; the next locker gets EOWNERDEAD, and
 *     reel_slot_lock() makes the version even again (so every copy a reader
 *     began before the crash fails validation), stores STALE and wakes the
 *     waiters, makes the mutex consistent, and returns REEL_SLOT_RECOVERED
 *     with the lock held.
 *   - dead between write_begin and write_end: as above, the version is left
 *     odd, so readers never accept a copy in the meantime; read_begin gives
 *     up waiting after a bound and returns the odd version, which
 *     read_validate() always rejects.
 *   - dead while waiting or reading: nothing to undo.
 *   - dead between mutex_init 1 and 2: the slot's mutex cannot be trusted;
 *     lockers give up after a bound with REEL_E_SLOT.  The window is a few
 *     library calls that do not block.
 *
 * The seal
 * --------
 *
 * What a READY slot holds is named by its frame, journal_seq and
 * audio_samples; one flipped bit in `frame` would make it serve another
 * frame's pixels.  So reel_slot_set_state(READY) first stores `seal`, a
 * CRC of the slot's index and those three fields, and reel_slot_get()
 * reports a READY entry whose seal does not match as REEL_E_SLOT: the
 * coordinator does not adopt it (the frame is decoded again) and readers
 * refuse it.  The seal is checked only on a stable snapshot (the same even
 * version and state before and after the loads): while a writer is inside,
 * the fields may disagree with it legitimately, and the seqlock already
 * makes every copy taken then fail.  With a slot for every frame, frame f
 * lives in slot f and nowhere else, which reel_slot_get() checks too.
 *
 * After a power loss
 * ------------------
 *
 * A page of the table written back while a mutex was held, or mid-write,
 * comes back locked by nobody alive, with no robust list to release it.
 * Like LMDB's lock table, the coordinator resets it once it has proved it
 * is alone (its exclusive flock on the file, no live stage in the stage
 * table): reel_slot_reset_table() initialises every mutex again and marks
 * whatever was mid-write STALE, to be rebuilt.
 *
 * Damage: the table is untrusted input.  A state outside the enum, a frame
 * outside the buffer, an audio count above the capacity or a mutex_init
 * other than 0/1/2 are reported as REEL_E_SLOT, never followed.  A state
 * word can be repaired by storing a legal state (reel_slot_set_state()).
 * Garbage inside the pthread_mutex_t itself is beyond what can be checked.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <zlib.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "buffer/buffer-private.h"
#include "reel/error.h"
#include "buffer/slot.h"

enum {
	MUTEX_ZERO = 0,
	MUTEX_INITIALISING = 1,
	MUTEX_READY = 2,
};

/* Initialising a mutex takes microseconds; a slot stuck longer is damaged. */
#define INIT_WAIT_MS 2000
/* Spins before a waiting reader or initialiser starts to yield the CPU. */
#define SPINS_BEFORE_YIELD 64
/*
 * How long read_begin waits for a writer to leave before handing back the
 * odd version: about one frame period, so a preview keeps its previous
 * frame instead of stalling behind a slow or dead writer.
 */
#define READ_WAIT_MS 20
/* How often a waiter on a read-only handle looks at the state again (it cannot be woken). */
#define READONLY_POLL_MS 5

static const char *const state_names[REEL_SLOT_STATE_COUNT] = {
	[REEL_SLOT_EMPTY] = "empty",
	[REEL_SLOT_DECODING] = "decoding",
	[REEL_SLOT_READY] = "ready",
	[REEL_SLOT_BUSY] = "busy",
	[REEL_SLOT_STALE] = "stale",
	[REEL_SLOT_ERROR] = "error",
};

const char *reel_slot_state_name(uint32_t state)
{
	return state < REEL_SLOT_STATE_COUNT ? state_names[state] : "invalid";
}

static struct reel__slot *entry_or_null(const struct reel_buffer *buffer, uint32_t slot)
{
	if (!buffer || slot >= buffer->info.slot_count)
		return NULL;
	return reel__slot_entry(buffer, slot);
}

/* Input errors: a NULL buffer is a programming error, a bad index a range error. */
static int check_args(const struct reel_buffer *buffer, uint32_t slot)
{
	if (!buffer)
		return -EINVAL;
	if (slot >= buffer->info.slot_count)
		return REEL_E_RANGE;
	return 0;
}

/*
 * As check_args, for the calls that write the table: a read-only handle maps
 * it PROT_READ (even a failed compare-and-swap is a write on x86), so they
 * refuse it rather than fault.
 */
static int check_write_args(const struct reel_buffer *buffer, uint32_t slot)
{
	if (buffer && buffer->readonly)
		return -EBADF;
	return check_args(buffer, slot);
}

static long futex(uint32_t *word, int op, uint32_t value, const struct timespec *timeout)
{
	return syscall(SYS_futex, word, op, value, timeout, NULL, 0);
}

/*
 * A wake is a system call only when someone waits.  The store of the state
 * and the load of the waiter count are both sequentially consistent, and so
 * are a waiter's increment and its load of the state (reel_slot_wait): of
 * two processes doing "store mine, load theirs" at least one sees the
 * other's store, so either the waiter sees the new state and does not
 * sleep, or the writer sees the waiter and wakes it.  A waiter killed while
 * asleep leaves the count high: that only costs spare wakes.
 */
static void store_state(struct reel__slot *s, uint32_t state, int32_t error)
{
	/*
	 * Leaving READY breaks the seal, so that a state word damaged back to
	 * READY (a STALE slot's half-edited pixels) does not pass for sealed.
	 */
	if (state != REEL_SLOT_READY)
		__atomic_store_n(&s->seal, 0u, __ATOMIC_RELAXED);
	__atomic_store_n(&s->error, state == REEL_SLOT_ERROR ? error : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->state, state, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&s->waiters, __ATOMIC_SEQ_CST) != 0)
		futex(&s->state, FUTEX_WAKE, INT_MAX, NULL);
}

static uint32_t seal_of(uint32_t slot, int64_t frame, uint64_t journal_seq, uint32_t audio_samples)
{
	uint8_t bytes[4 + 8 + 8 + 4];
	uLong crc = crc32(0L, Z_NULL, 0);

	memcpy(bytes, &slot, 4);
	memcpy(bytes + 4, &frame, 8);
	memcpy(bytes + 12, &journal_seq, 8);
	memcpy(bytes + 20, &audio_samples, 4);
	/* Never 0: a zero seal is what a version 2 file or a fresh page holds. */
	crc = crc32(crc, bytes, sizeof(bytes));
	return (uint32_t)crc ? (uint32_t)crc : 1u;
}

static void backoff(unsigned *spins)
{
	if (++*spins < SPINS_BEFORE_YIELD)
		return;
	if (*spins < 4 * SPINS_BEFORE_YIELD) {
		sched_yield();
	} else {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 100 * 1000 };
		nanosleep(&ts, NULL);
	}
}

static int init_mutex(struct reel__slot *s)
{
	pthread_mutexattr_t attr;
	int r;

	r = pthread_mutexattr_init(&attr);
	if (r)
		return -r;
	r = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	if (!r)
		r = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	/* Error-checking: relocking or unlocking another's lock is a bug to report, not a hang. */
	if (!r)
		r = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	if (!r)
		r = pthread_mutex_init(&s->mutex, &attr);
	pthread_mutexattr_destroy(&attr);
	return -r;
}

/*
 * Make the slot's mutex usable, initialising it if this process is the
 * first user.  deadline_ms (monotonic, or -1 for none) is the caller's own
 * timeout: when it comes before the initialisation bound, the caller gets
 * -ETIMEDOUT rather than a verdict of damage.
 */
static int ensure_mutex(struct reel__slot *s, int64_t deadline_ms)
{
	uint32_t v = __atomic_load_n(&s->mutex_init, __ATOMIC_ACQUIRE);
	int64_t give_up;
	unsigned spins = 0;
	int r;

	if (v == MUTEX_READY)
		return 0;
	if (v == MUTEX_ZERO) {
		if (__atomic_compare_exchange_n(&s->mutex_init, &v, MUTEX_INITIALISING, false,
		                                __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
			r = init_mutex(s);
			if (r < 0) {
				__atomic_store_n(&s->mutex_init, MUTEX_ZERO, __ATOMIC_RELEASE);
				return r;
			}
			__atomic_store_n(&s->frame, (int64_t)-1, __ATOMIC_RELAXED);
			__atomic_store_n(&s->mutex_init, MUTEX_READY, __ATOMIC_RELEASE);
			return 0;
		}
		/* v now holds what the winner stored. */
	}

	give_up = (reel__now_ns() / 1000000) + INIT_WAIT_MS;
	for (;;) {
		int64_t now;

		if (v == MUTEX_READY)
			return 0;
		if (v != MUTEX_INITIALISING)
			return REEL_E_SLOT;
		now = (reel__now_ns() / 1000000);
		if (deadline_ms >= 0 && now >= deadline_ms && deadline_ms < give_up)
			return -ETIMEDOUT;
		if (now >= give_up)
			return REEL_E_SLOT;
		backoff(&spins);
		v = __atomic_load_n(&s->mutex_init, __ATOMIC_ACQUIRE);
	}
}

int reel_slot_lock(struct reel_buffer *buffer, uint32_t slot, int timeout_ms)
{
	struct reel__slot *s;
	struct timespec deadline;
	uint32_t version;
	int r;

	r = check_write_args(buffer, slot);
	if (r < 0)
		return r;
	s = reel__slot_entry(buffer, slot);

	r = ensure_mutex(s, timeout_ms < 0 ? -1 : (reel__now_ns() / 1000000) + timeout_ms);
	if (r < 0)
		return r;
	if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) >= REEL_SLOT_STATE_COUNT)
		return REEL_E_SLOT;

	if (timeout_ms < 0) {
		r = pthread_mutex_lock(&s->mutex);
	} else {
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		r = pthread_mutex_timedlock(&s->mutex, &deadline);
	}

	if (r == 0) {
		__atomic_store_n(&s->owner_pid, (uint32_t)getpid(), __ATOMIC_RELAXED);
		return 0;
	}
	if (r != EOWNERDEAD)
		return -r;

	/*
	 * We hold the lock of a process that died holding it.  An odd version
	 * means it died inside a write: one more increment makes the version
	 * even and different from any a reader began with, so every copy in
	 * flight fails validation.
	 */
	version = __atomic_load_n(&s->version, __ATOMIC_RELAXED);
	if (version & 1u)
		__atomic_add_fetch(&s->version, 1, __ATOMIC_SEQ_CST);
	store_state(s, REEL_SLOT_STALE, 0);
	r = pthread_mutex_consistent(&s->mutex);
	if (r) {
		pthread_mutex_unlock(&s->mutex);
		return -r;
	}
	__atomic_store_n(&s->owner_pid, (uint32_t)getpid(), __ATOMIC_RELAXED);
	return REEL_SLOT_RECOVERED;
}

int reel_slot_unlock(struct reel_buffer *buffer, uint32_t slot)
{
	struct reel__slot *s;
	uint32_t me = (uint32_t)getpid();
	int r;

	r = check_write_args(buffer, slot);
	if (r < 0)
		return r;
	s = reel__slot_entry(buffer, slot);
	if (__atomic_load_n(&s->mutex_init, __ATOMIC_ACQUIRE) != MUTEX_READY)
		return REEL_E_SLOT;

	/* Cleared first, so no one sees our pid on a lock we no longer hold. */
	if (!__atomic_compare_exchange_n(&s->owner_pid, &me, 0, false, __ATOMIC_RELAXED,
	                                 __ATOMIC_RELAXED))
		return -EPERM;
	r = pthread_mutex_unlock(&s->mutex);
	if (r) {
		__atomic_store_n(&s->owner_pid, (uint32_t)getpid(), __ATOMIC_RELAXED);
		return -r;
	}
	return 0;
}

void reel_slot_write_begin(struct reel_buffer *buffer, uint32_t slot)
{
	struct reel__slot *s = entry_or_null(buffer, slot);

	/* A bad index or a read-only handle has nothing to protect; the lock call reported it. */
	if (!s || buffer->readonly)
		return;
	__atomic_add_fetch(&s->version, 1, __ATOMIC_RELAXED);
	/* The odd version must be visible before any byte of the new data. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void reel_slot_write_end(struct reel_buffer *buffer, uint32_t slot)
{
	struct reel__slot *s = entry_or_null(buffer, slot);

	if (!s || buffer->readonly)
		return;
	/* Every byte of the new data must be visible before the even version. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_add_fetch(&s->version, 1, __ATOMIC_RELEASE);
}

uint32_t reel_slot_read_begin(const struct reel_buffer *buffer, uint32_t slot)
{
	struct reel__slot *s = entry_or_null(buffer, slot);
	int64_t give_up = -1;
	unsigned spins = 0;
	uint32_t v;

	/* An odd version never validates, so a bad index yields a copy that is never kept. */
	if (!s)
		return 1;
	for (;;) {
		v = __atomic_load_n(&s->version, __ATOMIC_ACQUIRE);
		if (!(v & 1u))
			return v;
		if (spins >= SPINS_BEFORE_YIELD) {
			int64_t now = (reel__now_ns() / 1000000);

			if (give_up < 0)
				give_up = now + READ_WAIT_MS;
			else if (now >= give_up)
				return v;
		}
		backoff(&spins);
	}
}

bool reel_slot_read_validate(const struct reel_buffer *buffer, uint32_t slot, uint32_t version)
{
	struct reel__slot *s = entry_or_null(buffer, slot);

	if (!s || (version & 1u))
		return false;
	/* The data loads of the copy must complete before the version is read again. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&s->version, __ATOMIC_RELAXED) == version;
}

/* Loads of the fields, in the order the writers' stores make safe (see the seal). */
static void load_entry(const struct reel__slot *s, uint32_t *ret_init, struct reel_slot_info *info,
                       uint32_t *ret_seal)
{
	*ret_init = __atomic_load_n(&s->mutex_init, __ATOMIC_ACQUIRE);
	info->version = __atomic_load_n(&s->version, __ATOMIC_ACQUIRE);
	info->state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
	info->owner_pid = __atomic_load_n(&s->owner_pid, __ATOMIC_RELAXED);
	info->frame = __atomic_load_n(&s->frame, __ATOMIC_RELAXED);
	info->journal_seq = __atomic_load_n(&s->journal_seq, __ATOMIC_RELAXED);
	info->audio_samples = __atomic_load_n(&s->audio_samples, __ATOMIC_RELAXED);
	info->error = __atomic_load_n(&s->error, __ATOMIC_RELAXED);
	*ret_seal = __atomic_load_n(&s->seal, __ATOMIC_RELAXED);
}

/* How many times reel_slot_get() looks again for a snapshot no writer changed. */
#define SNAPSHOT_TRIES 64

int reel_slot_get(const struct reel_buffer *buffer, uint32_t slot, struct reel_slot_info *ret_info)
{
	struct reel__slot *s;
	struct reel_slot_info info;
	uint32_t init, seal;
	bool stable = false;
	int r;

	r = check_args(buffer, slot);
	if (r < 0)
		return r;
	if (!ret_info)
		return -EINVAL;
	s = reel__slot_entry(buffer, slot);

	for (int tries = 0; tries < SNAPSHOT_TRIES && !stable; tries++) {
		load_entry(s, &init, &info, &seal);
		/* The loads above complete before the version and state are read again. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		stable = __atomic_load_n(&s->version, __ATOMIC_RELAXED) == info.version &&
		         __atomic_load_n(&s->state, __ATOMIC_RELAXED) == info.state;
		if (!stable)
			sched_yield();
	}

	if (init > MUTEX_READY)
		return REEL_E_SLOT;
	if (info.state >= REEL_SLOT_STATE_COUNT)
		return REEL_E_SLOT;

	if (init != MUTEX_READY) {
		/* Never used: every field is still the zero page, except that frame 0 means none. */
		if (info.state != REEL_SLOT_EMPTY)
			return REEL_E_SLOT;
		info.frame = -1;
		info.journal_seq = 0;
		info.audio_samples = 0;
		info.error = 0;
		*ret_info = info;
		return 0;
	}

	if (info.frame < -1 || (info.frame >= 0 && (uint64_t)info.frame >= buffer->info.frame_count))
		return REEL_E_SLOT;
	if (info.audio_samples > buffer->info.audio_capacity)
		return REEL_E_SLOT;
	/* A slot for every frame: frame f is in slot f, so any other number is damage. */
	if (buffer->info.slot_count >= buffer->info.frame_count && info.frame >= 0 &&
	    (uint64_t)info.frame != slot)
		return REEL_E_SLOT;
	if (stable && info.state == REEL_SLOT_READY && !(info.version & 1u) &&
	    seal != seal_of(slot, info.frame, info.journal_seq, info.audio_samples))
		return REEL_E_SLOT;
	*ret_info = info;
	return 0;
}

int reel_slot_reset_table(struct reel_buffer *buffer, uint32_t *ret_reset)
{
	uint32_t reset = 0;

	if (!buffer)
		return -EINVAL;
	if (buffer->readonly)
		return -EBADF;
	/*
	 * The caller holds the file's exclusive flock, so no other coordinator
	 * runs; a stage of the previous one could still be alive and hold a
	 * mutex, and then nothing may be reset.  A pid reused by an unrelated
	 * process errs on the safe side.
	 */
	for (unsigned i = 0; i < REEL__STAGE_ENTRIES; i++) {
		uint32_t pid = __atomic_load_n(&buffer->stages[i].pid, __ATOMIC_ACQUIRE);

		if (pid != 0 && pid != (uint32_t)getpid() && pid <= INT_MAX &&
		    (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			return -EBUSY;
	}
	for (uint32_t slot = 0; slot < buffer->info.slot_count; slot++) {
		struct reel__slot *s = reel__slot_entry(buffer, slot);
		uint32_t init = __atomic_load_n(&s->mutex_init, __ATOMIC_ACQUIRE);
		uint32_t state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		uint32_t version = __atomic_load_n(&s->version, __ATOMIC_ACQUIRE);
		bool mid_write = (version & 1u) || state == REEL_SLOT_DECODING ||
		                 state == REEL_SLOT_BUSY || state >= REEL_SLOT_STATE_COUNT;

		/* Never used (the zero page): nothing to reset, and the file stays sparse. */
		if (init == MUTEX_ZERO && state == REEL_SLOT_EMPTY && version == 0)
			continue;
		if (init != MUTEX_READY || mid_write ||
		    __atomic_load_n(&s->owner_pid, __ATOMIC_RELAXED) != 0)
			reset++;
		if (init_mutex(s) < 0)
			return -EINVAL;
		if (version & 1u)
			__atomic_store_n(&s->version, version + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&s->owner_pid, 0u, __ATOMIC_RELAXED);
		__atomic_store_n(&s->waiters, 0u, __ATOMIC_RELAXED);
		if (init != MUTEX_READY) {
			/* It was never (or never fully) given a frame: it holds none. */
			__atomic_store_n(&s->frame, (int64_t)-1, __ATOMIC_RELAXED);
			__atomic_store_n(&s->journal_seq, (uint64_t)0, __ATOMIC_RELAXED);
			__atomic_store_n(&s->audio_samples, 0u, __ATOMIC_RELAXED);
			store_state(s, REEL_SLOT_EMPTY, 0);
		} else if (mid_write) {
			store_state(s, REEL_SLOT_STALE, 0);
		}
		__atomic_store_n(&s->mutex_init, MUTEX_READY, __ATOMIC_RELEASE);
	}
	if (ret_reset)
		*ret_reset = reset;
	return 0;
}

/* The slot entry of a slot the caller holds locked, for its writers. */
static int holder_entry(struct reel_buffer *buffer, uint32_t slot, struct reel__slot **ret_entry)
{
	struct reel__slot *s;
	int r;

	r = check_write_args(buffer, slot);
	if (r < 0)
		return r;
	s = reel__slot_entry(buffer, slot);
	switch (__atomic_load_n(&s->mutex_init, __ATOMIC_ACQUIRE)) {
	case MUTEX_READY:
		break;
	case MUTEX_ZERO:
	case MUTEX_INITIALISING:
		return -EPERM;
	default:
		return REEL_E_SLOT;
	}
	/* Catches a caller that forgot the lock; owner_pid is only a hint, not a proof. */
	if (__atomic_load_n(&s->owner_pid, __ATOMIC_RELAXED) != (uint32_t)getpid())
		return -EPERM;
	*ret_entry = s;
	return 0;
}

int reel_slot_set_contents(struct reel_buffer *buffer, uint32_t slot, int64_t frame,
                           uint64_t journal_seq, uint32_t audio_samples)
{
	struct reel__slot *s;
	int r;

	r = holder_entry(buffer, slot, &s);
	if (r < 0)
		return r;
	if (frame < -1 || (frame >= 0 && (uint64_t)frame >= buffer->info.frame_count))
		return REEL_E_RANGE;
	if (audio_samples > buffer->info.audio_capacity)
		return REEL_E_RANGE;
	__atomic_store_n(&s->frame, frame, __ATOMIC_RELAXED);
	__atomic_store_n(&s->journal_seq, journal_seq, __ATOMIC_RELAXED);
	__atomic_store_n(&s->audio_samples, audio_samples, __ATOMIC_RELAXED);
	return 0;
}

int reel_slot_set_state(struct reel_buffer *buffer, uint32_t slot, uint32_t state, int32_t error)
{
	struct reel__slot *s;
	int r;

	r = check_write_args(buffer, slot);
	if (r < 0)
		return r;
	if (state >= REEL_SLOT_STATE_COUNT)
		return -EINVAL;
	s = reel__slot_entry(buffer, slot);
	/*
	 * A state is only meaningful on an initialised entry: reel_slot_get()
	 * reads a never-initialised one as EMPTY with no frame.
	 */
	r = ensure_mutex(s, -1);
	if (r < 0)
		return r;
	/* The seal before the state: whoever sees READY sees the seal of what it holds. */
	if (state == REEL_SLOT_READY)
		__atomic_store_n(&s->seal,
		                 seal_of(slot, __atomic_load_n(&s->frame, __ATOMIC_RELAXED),
		                         __atomic_load_n(&s->journal_seq, __ATOMIC_RELAXED),
		                         __atomic_load_n(&s->audio_samples, __ATOMIC_RELAXED)),
		                 __ATOMIC_RELEASE);
	store_state(s, state, error);
	return 0;
}

int reel_slot_wait(struct reel_buffer *buffer, uint32_t slot, uint32_t state, int timeout_ms)
{
	struct reel__slot *s;
	int64_t deadline = 0;
	int r;

	r = check_args(buffer, slot);
	if (r < 0)
		return r;
	if (state >= REEL_SLOT_STATE_COUNT)
		return -EINVAL;
	s = reel__slot_entry(buffer, slot);
	/* Nanoseconds, so that rounding never makes the wait shorter than asked. */
	if (timeout_ms >= 0)
		deadline = reel__now_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		struct timespec rel, *timeout = NULL;
		long fr;

		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != state)
			return 0;
		if (timeout_ms >= 0) {
			int64_t left = deadline - reel__now_ns();

			if (left <= 0)
				return -ETIMEDOUT;
			rel.tv_sec = left / 1000000000;
			rel.tv_nsec = left % 1000000000;
			timeout = &rel;
		}
		/*
		 * The kernel sleeps only if the word still equals state, so a
		 * store + wake between our load and this call is not lost.
		 * EAGAIN, EINTR, ETIMEDOUT and spurious wake-ups all go back to
		 * the check above.
		 */
		if (buffer->readonly) {
			/*
			 * A read-only mapping cannot count itself in `waiters`, so no
			 * writer wakes it: it looks again every READONLY_POLL_MS.
			 */
			if (!timeout || rel.tv_sec > 0 || rel.tv_nsec > READONLY_POLL_MS * 1000000L) {
				rel.tv_sec = 0;
				rel.tv_nsec = READONLY_POLL_MS * 1000000L;
				timeout = &rel;
			}
			fr = futex(&s->state, FUTEX_WAIT, state, timeout);
			if (fr < 0)
				fr = -errno;
			if (fr == -ETIMEDOUT)
				fr = 0;
		} else {
			__atomic_add_fetch(&s->waiters, 1, __ATOMIC_SEQ_CST);
			fr = __atomic_load_n(&s->state, __ATOMIC_SEQ_CST) == state ?
			     futex(&s->state, FUTEX_WAIT, state, timeout) : 0;
			if (fr < 0)
				fr = -errno;
			__atomic_sub_fetch(&s->waiters, 1, __ATOMIC_SEQ_CST);
		}
		if (fr < 0 && fr != -EAGAIN && fr != -EINTR && fr != -ETIMEDOUT)
			return (int)fr;
	}
}
