/*
 * The coordinator: set-up, teardown and the event loop.  The loop is one
 * epoll over the session's coordinator queue, a signalfd, an eventfd from
 * the materialiser thread, the pidfds of attached stages and, when a stage
 * queue was full, that queue's writability.  It never blocks on another
 * process (see coord-replies.c); what each message does is in
 * coord-requests.c.
 *
 * Start-up order matters for crash safety.  Under the runtime folder's lock,
 * a dead session of the same name is reclaimed and ours is published (the
 * O_EXCL link of the session file is the session's lock); the buffer is
 * opened or created and flock()ed at once (one coordinator per buffer, under
 * any name); only then is anything written to it.  A clean stop undoes it
 * all in the opposite order and removes the session file last.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "buffer/journal.h"
#include "buffer/slot.h"
#include "buffer/stagetab.h"
#include "coord-private.h"
#include "indexer.h"
#include "media/media.h"
#include "reel/error.h"
#include "reel/log.h"

void reel_coord_session_from_path(const char *video, char *buf, size_t len)
{
	const char *base = strrchr(video, '/');
	size_t n = 0;

	base = base ? base + 1 : video;
	for (const char *p = base; *p && *p != '.' && n + 1 < len && n < REEL_SESSION_NAME_MAX; p++) {
		buf[n++] = reel__session_char_ok(*p) ? *p : '_';
	}
	if (n == 0)
		n = (size_t)snprintf(buf, len, "session");
	buf[n] = 0;
}

int reel_coord_default_buffer_dir(char *buf, size_t len)
{
	const char *env = getenv("REEL_BUFFER_DIR");
	const char *cache = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	char parent[REEL_PATH_MAX];
	int n;

	if (env && *env) {
		n = snprintf(buf, len, "%s", env);
	} else {
		/*
		 * A cache folder on disk, not /dev/shm: first writes to fresh pages
		 * cost less on ext4 than on tmpfs here, and a buffer on disk does not
		 * pin RAM (docs/ARCHITECTURE.md has the figures).
		 */
		if (cache && *cache)
			snprintf(parent, sizeof(parent), "%s", cache);
		else if (home && *home)
			snprintf(parent, sizeof(parent), "%s/.cache", home);
		else
			snprintf(parent, sizeof(parent), "/tmp");
		if (mkdir(parent, 0700) < 0 && errno != EEXIST)
			return -errno;
		n = snprintf(buf, len, "%s/reel", parent);
	}
	if (n <= 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int reel_coord_buffer_path_for(const struct reel_coord_options *o, const char *session, char *buf,
                               size_t len)
{
	char dir[REEL_PATH_MAX], cwd[REEL_PATH_MAX];
	int n, r;

	if (o->buffer_path && o->buffer_path[0] == '/') {
		n = snprintf(buf, len, "%s", o->buffer_path);
	} else if (o->buffer_path) {
		/* Clients in other folders read the path from the session file: make it absolute. */
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		n = snprintf(buf, len, "%s/%s", cwd, o->buffer_path);
	} else {
		r = reel_coord_default_buffer_dir(dir, sizeof(dir));
		if (r < 0)
			return r;
		n = snprintf(buf, len, "%s/%s.reel", dir, session);
	}
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* ---------------------------------------------------------------- set-up */

static unsigned default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 && n < 32 ? (unsigned)n : n >= 32 ? 32 : 1;
}

static uint64_t default_cache_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || size <= 0)
		return 1ull << 30;
	return (uint64_t)pages * (uint64_t)size / 4;
}

/* How many slots a cache of budget bytes holds, within what a buffer may have. */
static uint32_t slots_for(uint64_t budget, uint64_t slot_bytes, uint64_t frames)
{
	uint64_t slots = budget / slot_bytes;

	if (slots < MIN_SLOTS)
		slots = MIN_SLOTS;
	if (slots > frames)
		slots = frames;
	return slots > UINT32_MAX ? UINT32_MAX : (uint32_t)slots;
}

static int lock_buffer(struct reel_coord *c)
{
	if (flock(reel_buffer_fd(c->buffer), LOCK_EX | LOCK_NB) == 0)
		return 0;
	return errno == EWOULDBLOCK ? REEL_E_BUFFERBUSY : -errno;
}

/*
 * Write the scanned index into the buffer and mark it complete.  A buffer
 * made counting takes any count up to its capacity.
 */
static int write_index(struct reel_coord *c, const struct reel_index_entry *entries, uint64_t count)
{
	int r;

	if (count != c->info->frame_count && !(c->counting && count <= c->info->frame_count)) {
		if (c->counting)
			reel_log(REEL_LOG_ERROR, "coord", "the file has %" PRIu64 " frames, more than the "
			         "%" PRIu64 " its duration allowed when the buffer was made: remove the "
			         "buffer (reel rm) and open the file again", count, c->info->frame_count);
		return REEL_E_SOURCE;
	}
	r = reel_index_publish(c->buffer, 0, entries, count);
	return r < 0 ? r : reel_index_commit(c->buffer);
}

/* The scan's progress: passed on, and a stop signal waiting (blocked) cancels it. */
static int scan_progress(void *userdata, uint64_t done, uint64_t total)
{
	struct reel_coord *c = userdata;
	sigset_t pending;

	if (sigpending(&pending) == 0 && (sigismember(&pending, SIGINT) ||
	                                  sigismember(&pending, SIGTERM) ||
	                                  sigismember(&pending, SIGHUP)))
		return 1;
	if (c->options && c->options->progress)
		c->options->progress(c->options->progress_data, "indexing", done, total);
	return 0;
}

/* The whole scan, before the buffer is made or when its index is built again. */
static int scan_whole(struct reel_coord *c, struct reel_index_entry **ret_entries,
                      uint64_t *ret_count, uint32_t *ret_max_audio)
{
	int r = reel_media_scan(c->media, ret_entries, ret_count, ret_max_audio);

	if (r == 0 && reel_media_scan_note(c->media)[0])
		reel_log(REEL_LOG_WARN, "coord", "%s", reel_media_scan_note(c->media));
	return r;
}

static int create_buffer(struct reel_coord *c, const struct reel_coord_options *o,
                         const struct reel_source_id *id)
{
	const struct reel_media_info *mi = reel_media_info(c->media);
	struct reel_index_entry *entries = NULL;
	struct reel_buffer_params p;
	uint64_t count, slot_bytes;
	uint32_t max_audio;
	int r;

	/*
	 * A container that lists its samples gives the frame count at once:
	 * the buffer is made now and its index built in the background.  Any
	 * other with a declared duration gets a buffer sized for an upper
	 * bound of the count, and its frames counted in the background (the
	 * first frame then waits for the first packets, not the whole file).
	 */
	r = reel_media_sample_table(c->media, &count, &max_audio);
	if (r < 0 && reel_media_count_bound(c->media, &count, &max_audio) == 0) {
		c->counting = true;
		r = 0;
	}
	if (r == 0)
		c->index_pending = true;
	else
		r = scan_whole(c, &entries, &count, &max_audio);
	if (r < 0)
		return r;
	if (count == 0) {
		r = REEL_E_BADMEDIA;
		goto out_free;
	}
	memset(&p, 0, sizeof(p));
	p.width = mi->width;
	p.height = mi->height;
	p.frame_count = count;
	p.counting = c->counting;
	p.frame_rate = mi->frame_rate;
	p.time_base = mi->time_base;
	if (mi->sample_rate && mi->channels) {
		p.sample_rate = mi->sample_rate;
		p.channels = mi->channels;
		p.audio_capacity = max_audio ? max_audio : 1;
	}
	p.source = *id;
	p.format = mi->format;
	p.slot_count = 1;
	slot_bytes = reel_buffer_slot_size(&p);
	if (slot_bytes == 0) {
		r = REEL_E_GEOMETRY;
		goto out_free;
	}
	p.slot_count = slots_for(o->cache_bytes ? o->cache_bytes : default_cache_bytes(), slot_bytes,
	                         count);
	r = reel_buffer_create(c->buffer_path, &p, &c->buffer);
	if (r < 0)
		goto out_free;
	c->created = true;
	c->info = reel_buffer_info(c->buffer);
	r = lock_buffer(c);
	if (r == 0 && !c->index_pending)
		r = write_index(c, entries, count);
out_free:
	free(entries);
	return r;
}

/*
 * The journal of a resumed buffer, before anything reads or appends to it:
 * its end found from the entries (journal.c).  A damaged entry stops the
 * open, with the entry named, unless the caller asked to salvage: then the
 * entries before it are kept, the rest saved raw beside the buffer
 * ("<buffer>.journal-<seq>.damaged"), and the open goes on.  Nothing is
 * dropped without the caller being told.
 */
static int check_journal(struct reel_coord *c, const struct reel_coord_options *o,
                         struct reel_coord_names *n)
{
	struct reel_journal_scan sc;
	int fd, r;

	r = reel_journal_scan(c->buffer, &sc);
	if (r == 0) {
		if (!sc.count_repair)
			return 0;
		n->journal_count_repaired = true;
		n->journal_count_was = sc.count;
		return reel_journal_repair_count(c->buffer, sc.valid);
	}
	if (r != REEL_E_JOURNAL)
		return r;
	n->journal_damaged = sc.damaged;
	n->journal_written = sc.written;
	if (!o->salvage_journal)
		return REEL_E_JOURNAL;
	if (snprintf(n->journal_side, sizeof(n->journal_side), "%s.journal-%" PRIu64 ".damaged",
	             c->buffer_path, sc.damaged) >= (int)sizeof(n->journal_side))
		return -ENAMETOOLONG;
	fd = open(n->journal_side, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = reel_journal_cut(c->buffer, sc.valid, fd, &n->journal_saved);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	/* Counted entries that were never there (zeros) leave nothing to keep. */
	if (r < 0 || n->journal_saved == 0) {
		unlink(n->journal_side);
		n->journal_side[0] = 0;
	}
	return r;
}

/* Locks left behind by a crash or a power loss: reset once this coordinator is alone. */
static void reset_locks(struct reel_coord *c, struct reel_coord_names *n)
{
	int r = reel_slot_reset_table(c->buffer, &n->slots_reset);

	/* A stage of the last session still alive keeps its locks; robust mutexes cover it. */
	if (r == -EBUSY)
		n->slots_not_reset = true;
}

/* Every slot EMPTY: what they hold is decoded again (the coordinator is alone: no stage runs yet). */
static void forget_slots(struct reel_coord *c)
{
	for (uint32_t slot = 0; slot < c->info->slot_count; slot++) {
		if (reel_slot_lock(c->buffer, slot, 0) < 0)
			continue;
		reel_slot_write_begin(c->buffer, slot);
		reel_slot_set_contents(c->buffer, slot, -1, 0, 0);
		reel_slot_set_state(c->buffer, slot, REEL_SLOT_EMPTY, 0);
		reel_slot_write_end(c->buffer, slot);
		reel_slot_unlock(c->buffer, slot);
	}
}

/*
 * The decoded pictures in RAM (core/buffer/pictures.c) unless that cannot
 * be had; a session whose pictures stay in the buffer file works the same,
 * slower, so a refusal is a warning, not a failure.
 */
static void place_pictures(struct reel_coord *c)
{
	char dir[PATH_MAX];
	const char *where = reel_buffer_pictures_dir(dir, sizeof(dir));
	bool forget = false;
	int r = reel_buffer_place_pictures(c->buffer, where, &forget);

	/* A buffer made by this run has every slot empty already. */
	if (forget && c->resumed)
		forget_slots(c);
	if (r < 0)
		reel_log(REEL_LOG_WARN, "coord", "decoded pictures kept in the buffer file, not in %s: %s",
		         where, reel_strerror(r));
	else if (r > 0)
		reel_log(REEL_LOG_INFO, "coord", "decoded pictures in RAM: %s",
		         reel_buffer_pictures_path(c->buffer));
}

static int open_buffer(struct reel_coord *c, const struct reel_coord_options *o,
                       struct reel_coord_names *n)
{
	struct reel_index_entry *entries = NULL;
	struct reel_source_id id;
	uint64_t count;
	uint32_t max_audio;
	bool failed_before;
	int r;

	r = reel_media_source_id(c->media, &id);
	if (r < 0)
		return r;
	/* A file cut short in its slots keeps its journal: mended, the lost frames decoded again. */
	r = reel_buffer_open_mend(c->buffer_path, &c->buffer, &n->slots_cut);
	if (r == -ENOENT)
		return create_buffer(c, o, &id);
	if (r < 0)
		return r;
	c->resumed = 1;
	c->info = reel_buffer_info(c->buffer);
	r = lock_buffer(c);
	if (r < 0)
		return r;
	if (!reel_media_same_source(&c->info->source, &id))
		return REEL_E_SOURCE;
	r = check_journal(c, o, n);
	if (r < 0)
		return r;
	reset_locks(c, n);
	/*
	 * The slots are laid out when the buffer is made; a cache size asked
	 * for now that would make another number of them cannot be honoured.
	 */
	if (o->cache_bytes && c->info->slot_stride &&
	    slots_for(o->cache_bytes, c->info->slot_stride, c->info->frame_count) != c->info->slot_count)
		return REEL_E_CACHESIZE;
	if (reel_index_complete(c->buffer))
		return 0;
	/*
	 * An earlier first open was interrupted before the index was complete:
	 * redo it, in the background unless the background scan failed on this
	 * file before.  Then its frames may have been numbered from a local
	 * index the scan disagreed with: the slots are not trusted either.
	 */
	failed_before = reel_index_failed(c->buffer) < 0;
	reel_index_restart(c->buffer);
	c->counting = reel_buffer_frames(c->buffer) == 0;
	if (failed_before)
		forget_slots(c);
	if (!failed_before && (c->counting ||
	                       (reel_media_sample_table(c->media, &count, &max_audio) == 0 &&
	                        count == c->info->frame_count))) {
		c->index_pending = true;
		return 0;
	}
	r = scan_whole(c, &entries, &count, &max_audio);
	if (r == 0)
		r = write_index(c, entries, count);
	free(entries);
	return r;
}

/* Eight hex digits that tell sources apart: the content hash and size, mixed (FNV-1a). */
static void source_tag(const struct reel_source_id *id, char *buf, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(id->hash); i++)
		h = (h ^ id->hash[i]) * 16777619u;
	for (unsigned i = 0; i < 8; i++)
		h = (h ^ (uint8_t)(id->size >> (8 * i))) * 16777619u;
	snprintf(buf, len, "%08x", h);
}

/* 1 when a default buffer at path is free for this source (none there, or made from it), 0 when not. */
static int buffer_is_ours(const char *path, const struct reel_source_id *id)
{
	struct reel_buffer *b;
	int r = reel_buffer_open_readonly(path, &b);

	if (r == -ENOENT)
		return 1;
	/* A damaged buffer is reported, not stepped around: it may hold someone's edits. */
	if (r < 0)
		return r;
	r = reel_media_same_source(&reel_buffer_info(b)->source, id);
	reel_buffer_close(b);
	return r;
}

/* 1 when no live session has this name, or the live one uses this buffer (the open says so). */
static int name_is_free(const char *name, const char *buffer_path)
{
	struct reel_session_record rec;

	if (reel_session_read(name, &rec) < 0 || !reel_session_alive(&rec))
		return 1;
	return strcmp(rec.buffer_path, buffer_path) == 0;
}

/*
 * The session name and buffer path.  Given ones are taken as they are.
 * By default both are the video's file name, so that reopening a video
 * resumes its buffer; when that name already belongs to another source
 * (a file of the same name in another folder), both get a tag of this
 * source added, "clip-1a2b3c4d", the same every time for the same file.
 */
static int choose_names(struct reel_coord *c, const struct reel_coord_options *o)
{
	struct reel_coord_options given = *o;
	struct reel_source_id id;
	char base[REEL_SESSION_NAME_MAX + 1], tag[16];
	int r;

	if (o->session || o->buffer_path) {
		if (o->session)
			snprintf(c->session, sizeof(c->session), "%s", o->session);
		else
			reel_coord_session_from_path(o->video, c->session, sizeof(c->session));
		return reel_coord_buffer_path_for(o, c->session, c->buffer_path, sizeof(c->buffer_path));
	}
	r = reel_media_source_id(c->media, &id);
	if (r < 0)
		return r;
	reel_coord_session_from_path(o->video, base, sizeof(base));
	source_tag(&id, tag, sizeof(tag));
	for (int attempt = 0; attempt < 2; attempt++) {
		if (attempt == 0)
			snprintf(c->session, sizeof(c->session), "%s", base);
		else
			snprintf(c->session, sizeof(c->session), "%.*s-%s",
			         (int)(REEL_SESSION_NAME_MAX - 1 - strlen(tag)), base, tag);
		given.session = c->session;
		r = reel_coord_buffer_path_for(&given, c->session, c->buffer_path, sizeof(c->buffer_path));
		if (r == 0)
			r = buffer_is_ours(c->buffer_path, &id);
		if (r < 0)
			return r;
		if (r == 1 && name_is_free(c->session, c->buffer_path))
			return 0;
	}
	/* The tagged name is this source's own; what holds it is reported by the open. */
	return 0;
}

/*
 * The role queues, under the random nonce published with the session.  A
 * name taken already (EEXIST: someone who guessed, against 2^-64) makes us
 * choose another nonce and publish it instead.  They are made last in
 * reel_coord_open(): a client that can open them finds the buffer ready.
 */
static int create_queues(struct reel_coord *c)
{
	char name[REEL_QUEUE_NAME_MAX];
	int r = -EEXIST;

	for (int attempt = 0; attempt < 8 && r == -EEXIST; attempt++) {
		unsigned role;

		r = 0;
		if (attempt > 0) {
			r = reel_random_u64(&c->record.queue_nonce);
			if (r == 0)
				r = reel_session_update(&c->record);
			if (r < 0)
				return r;
		}
		for (role = 0; role < REEL_ROLE_CLIENT && r == 0; role++) {
			r = reel_queue_name_of(name, sizeof(name), &c->record, role);
			if (r == 0)
				r = reel_queue_create(name, REEL_QUEUE_NONBLOCK, &c->queues[role]);
		}
		if (r == 0)
			return 0;
		/* Undo the part made under this nonce before choosing another. */
		for (unsigned k = 0; k < REEL_ROLE_CLIENT; k++) {
			if (c->queues[k] == (mqd_t)-1)
				continue;
			reel_queue_close(c->queues[k]);
			c->queues[k] = (mqd_t)-1;
			if (reel_queue_name_of(name, sizeof(name), &c->record, k) == 0)
				mq_unlink(name);
		}
	}
	return r;
}

/* Under the runtime folder's lock: free the name if its coordinator is dead, then take it. */
static int claim_session(struct reel_coord *c, const char *video)
{
	struct reel_session_record old;
	char *real;
	int lock, r;

	memset(&c->record, 0, sizeof(c->record));
	snprintf(c->record.name, sizeof(c->record.name), "%s", c->session);
	c->record.pid = getpid();
	r = reel_process_start_time(c->record.pid, &c->record.start_time);
	if (r < 0)
		return r;
	snprintf(c->record.buffer_path, sizeof(c->record.buffer_path), "%s", c->buffer_path);
	real = realpath(video, NULL);
	snprintf(c->record.source_path, sizeof(c->record.source_path), "%s", real ? real : video);
	snprintf(c->source_path, sizeof(c->source_path), "%s", c->record.source_path);
	free(real);

	r = reel_session_lock(&lock);
	if (r < 0)
		return r;
	r = reel_session_read(c->session, &old);
	if (r == 0 && reel_session_alive(&old)) {
		r = REEL_E_LIVE;
		goto out_unlock;
	}
	if (r == 0)
		reel_log(REEL_LOG_INFO, "coord", "reclaiming session '%s' of dead pid %ld", c->session,
		         (long)old.pid);
	/* A damaged record is not taken over silently: the user removes it. */
	if (r < 0 && r != REEL_E_NOSESSION)
		goto out_unlock;
	/* No record, or a dead one: queues may be left from a crash. */
	r = reel_session_remove(c->session);
	/*
	 * Queues of coordinators and clients that died (SIGKILL leaves their
	 * names) are freed while we hold the lock: they are a machine-wide
	 * budget (queues_max), and each leak would bring every user's open
	 * nearer to failing.
	 */
	if (r == 0) {
		unsigned swept = 0;
		if (reel_session_sweep(&swept) == 0 && swept)
			reel_log(REEL_LOG_INFO, "coord", "%u queues left by dead reel processes removed",
			         swept);
		r = reel_random_u64(&c->record.queue_nonce);
	}
	if (r == 0)
		r = reel_session_publish(&c->record);
	if (r == -EEXIST)
		r = REEL_E_LIVE;
	if (r == 0)
		c->published = true;
out_unlock:
	reel_session_unlock(lock);
	return r;
}

static void stop_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGHUP);
}

static int setup_events(struct reel_coord *c)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t mask;

	stop_signals(&mask);
	c->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	c->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->sigfd < 0 || c->evfd < 0 || c->epfd < 0)
		return -errno;
	ev.data.u64 = (uint64_t)TAG_COORD << 32;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, (int)c->queues[REEL_ROLE_COORD], &ev) < 0)
		return -errno;
	ev.data.u64 = (uint64_t)TAG_SIGNAL << 32;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->sigfd, &ev) < 0)
		return -errno;
	ev.data.u64 = (uint64_t)TAG_MATERIALISER << 32;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->evfd, &ev) < 0)
		return -errno;
	return 0;
}

static void teardown(struct reel_coord *c);

/*
 * How long a claimed work item may go unmentioned before its stage is
 * presumed hung: CLAIM_DEADLINE_MS, or $REEL_STAGE_DEADLINE_MS so that a
 * test can stop a stage past it in seconds.  Never below 2 s: a working
 * stage repeats its claim every second.
 */
static double claim_deadline(void)
{
	const char *env = getenv("REEL_STAGE_DEADLINE_MS");
	char *end;
	double ms;

	if (!env || !*env)
		return CLAIM_DEADLINE_MS;
	ms = strtod(env, &end);
	if (*end || !(ms >= 2000.0) || ms > 3600000.0)
		return CLAIM_DEADLINE_MS;
	return ms;
}

int reel_coord_open(const struct reel_coord_options *o, struct reel_coord **ret_coord,
                    struct reel_coord_names *ret_names)
{
	struct reel_coord *c;
	sigset_t mask;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->sigfd = c->evfd = c->epfd = c->log_fd = -1;
	c->claim_deadline_ms = claim_deadline();
	for (unsigned role = 0; role < REEL_ROLE_CLIENT; role++)
		c->queues[role] = (mqd_t)-1;
	/*
	 * Block the stop signals before any thread exists (libav's decoder
	 * threads start with the media), so that every thread inherits the mask
	 * and the signalfd is the only way they arrive.
	 */
	stop_signals(&mask);
	if (sigprocmask(SIG_BLOCK, &mask, &c->old_mask) < 0) {
		r = -errno;
		free(c);
		return r;
	}
	r = o->session ? reel_session_name_check(o->session) : 0;
	if (r < 0)
		goto out;
	if (ret_names)
		ret_names->why[0] = 0;
	r = reel_media_open_why(o->video, &c->media, ret_names ? ret_names->why : NULL,
	                        ret_names ? sizeof(ret_names->why) : 0);
	if (r == 0)
		r = choose_names(c, o);
	if (ret_names) {
		snprintf(ret_names->session, sizeof(ret_names->session), "%s", c->session);
		snprintf(ret_names->buffer_path, sizeof(ret_names->buffer_path), "%s", c->buffer_path);
	}
	if (r < 0)
		goto out;
	c->options = o;
	reel_media_set_progress(c->media, scan_progress, c);
	r = claim_session(c, o->video);
	if (r < 0)
		goto out;
	{
		struct reel_coord_names found;

		memset(&found, 0, sizeof(found));
		r = open_buffer(c, o, &found);
		if (ret_names) {
			memcpy(found.session, ret_names->session, sizeof(found.session));
			memcpy(found.buffer_path, ret_names->buffer_path, sizeof(found.buffer_path));
			memcpy(found.why, ret_names->why, sizeof(found.why));
			*ret_names = found;
			/* The scan's refusal of a hostile video (too many frames) says why. */
			if (r < 0 && reel_media_why(c->media)[0])
				snprintf(ret_names->why, sizeof(ret_names->why), "%s", reel_media_why(c->media));
		}
	}
	if (r < 0)
		goto out;
	reel_buffer_claim(c->buffer, (uint32_t)getpid());
	c->claimed = true;
	r = coord_log_open(c);
	if (r < 0)
		goto out;
	/*
	 * Before the materialiser reads the slot table, and before the queues
	 * exist: stages and readers connect through them before they map the
	 * buffer, so none maps it before its pictures are placed.
	 */
	place_pictures(c);
	reel_stagetab_assign(c->buffer, REEL_STAGETAB_COORD, (uint32_t)getpid(), REEL_ROLE_COORD,
	                     reel_buffer_generation(c->buffer), 0);
	c->lookup = o->lookup;
	c->limits.width = c->info->width;
	c->limits.height = c->info->height;
	c->limits.frames = c->info->frame_count;
	c->limits.sample_rate = c->info->sample_rate;
	r = sched_new(CHUNK_FRAMES, &c->sched);
	if (r == 0)
		r = reel_edits_new(c->info->frame_count, &c->edits);
	/* The journal first: the materialiser keeps only the slots that hold all of it. */
	if (r == 0)
		r = coord_load_journal(c);
	if (r == 0)
		r = create_queues(c);
	if (r == 0)
		r = setup_events(c);
	if (r == 0)
		r = materialiser_start(c->buffer, c->media, c->edits, c->lookup, c->source_path, c->evfd,
		                       &c->mat);
	if (r == 0 && c->index_pending)
		r = indexer_start(c->source_path, c->buffer, c->mat, &c->indexer);
	if (r < 0)
		goto out;
	/* Started by the loop, so that a caller who gives up before running it has none to stop. */
	c->spawn_effects = o->no_stages ? 0 : o->workers ? o->workers : default_workers();
	c->spawn_others = !o->no_stages;
	/* A window needs a display; without one the session runs headless. */
	c->spawn_preview = !o->no_preview && ((getenv("DISPLAY") && *getenv("DISPLAY")) ||
	                                      (getenv("WAYLAND_DISPLAY") && *getenv("WAYLAND_DISPLAY")));
	reel_media_set_progress(c->media, NULL, NULL);
	c->options = NULL;
	*ret_coord = c;
	return 0;

out:
	teardown(c);
	return r;
}

/* ------------------------------------------------------------- teardown */

static void teardown(struct reel_coord *c)
{
	/* Stages first: they use the queues and the buffer until they are gone. */
	coord_close_stages(c);
	/* The indexer tells the materialiser as it goes: it ends first. */
	indexer_stop(c->indexer);
	c->indexer = NULL;
	materialiser_stop(c->mat);
	/* Closed here, unlinked with the session file at the end (reel_session_release). */
	for (unsigned role = 0; role < REEL_ROLE_CLIENT; role++)
		reel_queue_close(c->queues[role]);
	coord_forget_served(c, true);
	if (c->buffer) {
		bool remove = c->created && !c->claimed;
		if (c->claimed) {
			/* The pictures in RAM go with this process: the table must not say otherwise. */
			if (reel_buffer_pictures_path(c->buffer))
				forget_slots(c);
			coord_drain_logs(c, -1);
			reel_stagetab_release(c->buffer, REEL_STAGETAB_COORD);
			reel_buffer_claim(c->buffer, 0);
		}
		reel_buffer_close(c->buffer);
		/* A buffer this run created and never got to use is not left behind. */
		if (remove)
			unlink(c->buffer_path);
	}
	reel_media_close(c->media);
	coord_log_close(c);
	sched_free(c->sched);
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->evfd >= 0)
		close(c->evfd);
	if (c->sigfd >= 0)
		close(c->sigfd);
	free(c->waiting);
	free(c->outbox);
	free(c->measures);
	coord_keys_free(c);
	reel_edits_free(c->edits);
	/*
	 * Queues and session file go last, and only while the file still names
	 * this process: never another coordinator's of the same name.  Once the
	 * file is gone, `reel stop` reports the session stopped.
	 */
	if (c->published)
		reel_session_release(&c->record);
	/* Really last: a stop signal still pending is delivered now, with nothing left to clean. */
	sigprocmask(SIG_SETMASK, &c->old_mask, NULL);
	free(c);
}

void reel_coord_close(struct reel_coord *coord)
{
	if (coord)
		teardown(coord);
}

const char *reel_coord_session(const struct reel_coord *coord)
{
	return coord->session;
}

const char *reel_coord_buffer_path(const struct reel_coord *coord)
{
	return coord->buffer_path;
}

const struct reel_buffer_info *reel_coord_info(const struct reel_coord *coord)
{
	return coord->info;
}

const struct reel_buffer *reel_coord_buffer(const struct reel_coord *coord)
{
	return coord->buffer;
}

int reel_coord_stop_signal(const struct reel_coord *coord)
{
	return coord->stop_signal;
}

int reel_coord_resumed(const struct reel_coord *coord)
{
	return coord->resumed;
}

int reel_coord_send(struct reel_coord *coord, uint32_t op, const double params[4], int64_t first,
                    int64_t last, uint64_t *ret_seq, char *why, size_t whylen)
{
	return coord_accept_edit(coord, 0, op, params, first, last, ret_seq, why, whylen);
}

/* ------------------------------------------------------------ the loop */

/*
 * After a request, the queue is looked at again for this long before the
 * loop sleeps: a client calling in a loop sends its next request within
 * microseconds, and catching it awake costs a few receives, where sleeping
 * costs a wake-up of this thread's CPU (tens of microseconds on a VM whose
 * idle vCPU halted: measured in docs/ARCHITECTURE.md).
 */
#define SPIN_AFTER_REQUEST_MS 0.05

static void drain_coord_queue(struct reel_coord *c)
{
	double spin_until = 0;

	/* Bounded, so that signals and finished decodes are looked at in between. */
	for (int i = 0; i < 256;) {
		struct reel_msg m;
		int r = reel_queue_recv(c->queues[REEL_ROLE_COORD], &m, NULL, 0);
		if (r == -EAGAIN) {
			if (spin_until > 0 && reel__now_ms() < spin_until)
				continue;
			return;
		}
		i++;
		spin_until = reel__now_ms() + SPIN_AFTER_REQUEST_MS;
		if (r == REEL_E_BADMSG) {
			coord_reject(c, "malformed message");
			continue;
		}
		if (r < 0) {
			reel_log(REEL_LOG_ERROR, "coord", "receive failed: %s", reel_strerror(r));
			return;
		}
		if (coord_admit(c, &m))
			coord_handle(c, &m);
	}
}

/* The end of the background index scan, once, in the session log. */
static void report_index(struct reel_coord *c)
{
	const char *why;
	int state;

	if (!c->indexer || c->index_reported)
		return;
	state = indexer_state(c->indexer, &why);
	if (state == 0)
		return;
	c->index_reported = true;
	if (state > 0) {
		/* A note says why the scan ended before the file did: worth a warning. */
		const char *note = indexer_note(c->indexer);

		reel_log(note[0] ? REEL_LOG_WARN : REEL_LOG_INFO, "coord", "index complete: %" PRIu64
		         " frames%s%s", reel_buffer_frames(c->buffer), note[0] ? "; " : "", note);
	} else if (c->counting) {
		reel_log(REEL_LOG_ERROR, "coord", "the index stops at frame %" PRIu64 ": %s; the "
		         "frames past it cannot be decoded", reel_index_ready(c->buffer), why);
	} else {
		reel_log(REEL_LOG_ERROR, "coord", "the index stops at frame %" PRIu64 " of %" PRIu64
		         ": %s; the frames past it cannot be decoded", reel_index_ready(c->buffer),
		         c->info->frame_count, why);
	}
}

static void tick(struct reel_coord *c)
{
	double now = reel__now_ms();
	bool queues_empty = true;
	int n;

	for (unsigned role = REEL_ROLE_EDITOR; role <= REEL_ROLE_AUDIO; role++)
		if (reel_queue_depth(c->queues[role]) > 0)
			queues_empty = false;
	/* Unclaimed work is presumed lost only when nothing waits in the queues any more. */
	n = sched_requeue_stale(c->sched, now - c->claim_deadline_ms,
	                        queues_empty ? now - UNCLAIMED_DEADLINE_MS : -1e300);
	if (n > 0) {
		reel_log(REEL_LOG_WARN, "coord", "%d work items past their deadline dispatched again", n);
		coord_dispatch(c);
	}
	coord_forget_served(c, false);
	coord_reject_summary(c, false);
	coord_forget_dead_waiters(c);
	coord_recover_dead_writers(c);
	coord_fence_hung_holders(c);
	coord_restart_stages(c);
	coord_take_failures(c);
	coord_dispatch(c);
	report_index(c);
}

/*
 * The buffer file lost pages under the session (truncated by someone, or an
 * I/O error): what it holds from here on is zeros, so nothing more can be
 * served or acknowledged.  Everyone waiting is answered with the reason at
 * once, the stages are asked to leave (they see the loss themselves too),
 * and the loop ends; teardown then removes the queues and the session file.
 */
static void lose_buffer(struct reel_coord *c, int why)
{
	c->lost = why;
	reel_log(REEL_LOG_INFO, "coord", "%s: stopping the session", reel_strerror(why));
	c->stopping = true;
	c->stop_deadline_ms = reel__now_ms() + STAGE_LOST_MS;
	coord_fail_waiting(c, why);
	coord_stop_stages(c);
}

int reel_coord_run(struct reel_coord *c)
{
	double next_tick = reel__now_ms() + 1000;

	if (c->spawn_effects || c->spawn_others || c->spawn_preview)
		coord_spawn_stages(c, c->spawn_others, c->spawn_effects, c->spawn_others, c->spawn_preview);
	/* Measurements the journal still waits for go out now. */
	coord_dispatch(c);
	/*
	 * After a stop is asked for, the loop goes on until the stages it
	 * started have finished their work item and left (or their time is up),
	 * so that what they report is still heard.
	 */
	while (!c->stopping || (!coord_stages_gone(c) && reel__now_ms() < c->stop_deadline_ms)) {
		struct epoll_event ev[16];
		double now = reel__now_ms();
		int timeout = 250, n;

		if (c->noutbox)
			timeout = c->next_flush_ms > now ? (int)(c->next_flush_ms - now) + 1 : 0;
		n = epoll_wait(c->epfd, ev, 16, timeout);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			uint32_t tag = (uint32_t)(ev[i].data.u64 >> 32);
			uint32_t value = (uint32_t)ev[i].data.u64;
			struct signalfd_siginfo si;

			switch (tag) {
			case TAG_COORD:
				drain_coord_queue(c);
				break;
			case TAG_SIGNAL:
				if (read(c->sigfd, &si, sizeof(si)) == sizeof(si)) {
					if (!c->stopping)
						c->stop_signal = (int)si.ssi_signo;
					coord_begin_stop(c);
				}
				break;
			case TAG_MATERIALISER:
				coord_finish_needs(c);
				break;
			case TAG_STAGE_QUEUE:
				coord_watch_writable(c, value, false);
				coord_dispatch(c);
				break;
			case TAG_PIDFD:
				coord_stage_died(c, (pid_t)value);
				break;
			}
		}
		if (!c->lost && reel_buffer_lost(c->buffer))
			lose_buffer(c, reel_buffer_lost(c->buffer));
		if (c->noutbox && reel__now_ms() >= c->next_flush_ms)
			coord_flush_outbox(c);
		if (reel__now_ms() - c->last_drain_ms >= 200)
			coord_drain_logs(c, -1);
		if (reel__now_ms() >= next_tick) {
			tick(c);
			next_tick = reel__now_ms() + 1000;
		}
	}
	/*
	 * Nobody waits in vain: needs in flight, and requests still queued behind
	 * the stop (nothing of theirs was journaled), are told the session is
	 * stopping.
	 */
	coord_fail_waiting(c, c->lost ? c->lost : -ESHUTDOWN);
	for (int i = 0; i < 4096; i++) {
		struct reel_msg m;
		int r = reel_queue_recv(c->queues[REEL_ROLE_COORD], &m, NULL, 0);
		if (r == REEL_E_BADMSG) {
			c->malformed++;
			continue;
		}
		if (r < 0)
			break;
		if (!coord_admit(c, &m))
			continue;
		if (m.kind == REEL_MSG_NEED || m.kind == REEL_MSG_STATUS || m.kind == REEL_MSG_COMMAND ||
		    m.kind == REEL_MSG_STOP || m.kind == REEL_MSG_HELLO)
			coord_reply_result(c, &m, m.kind == REEL_MSG_STOP ? 0 : c->lost ? c->lost : -ESHUTDOWN,
			                   0, 0, 0, 0);
	}
	coord_flush_outbox(c);
	coord_reject_summary(c, true);
	/*
	 * A lost buffer first; then edits that may have been refused, or
	 * acknowledged ones that may not have reached the disk: say so.
	 */
	return c->lost ? c->lost : c->journal_error;
}
