/*
 * reel ls, reel rm, reel gc: the sessions a person has, live or stopped,
 * and removing the buffers of stopped ones.
 *
 * A stopped session is a buffer file in the buffer folder (where `reel
 * open` puts them by default); its name is the file's name less ".reel",
 * the session name it had by default.  A buffer is never removed while a
 * coordinator holds it: the coordinator keeps an exclusive flock() on its
 * buffer for as long as it runs, and rm and gc take the same lock before
 * they unlink.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "coord.h"
#include "buffer/buffer.h"
#include "bus/session.h"
#include "reel/error.h"

enum source_state { SOURCE_PRESENT, SOURCE_GONE, SOURCE_CHANGED, SOURCE_UNKNOWN };

struct entry {
	char name[REEL_SESSION_NAME_MAX + 1];
	char buffer[REEL_PATH_MAX];
	char source[REEL_PATH_MAX];
	bool live;
	pid_t pid;
	bool busy;                 /* held by a coordinator that has no session file here */
	const char *damage;        /* why the buffer cannot be read, or NULL */
	enum source_state source_state;
	uint64_t disk;             /* bytes on disk, buffer and log */
	time_t used;               /* last change of the buffer or its log */
};

struct listing {
	struct entry *v;
	size_t n, cap;
};

static const char *const source_words[] = { "", "gone", "changed", "unknown" };

static struct entry *add_entry(struct listing *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct entry *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	return &l->v[l->n++];
}

/* Bytes on disk and last change of one file, added to e's. */
static void add_file(struct entry *e, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return;
	e->disk += (uint64_t)st.st_blocks * 512;
	if (st.st_mtime > e->used)
		e->used = st.st_mtime;
}

/* Whether the source the buffer was made from is still there as it was. */
static enum source_state source_state(const struct reel_source_id *id)
{
	struct stat st;

	if (!id->path[0])
		return SOURCE_UNKNOWN;
	if (stat(id->path, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR ? SOURCE_GONE : SOURCE_UNKNOWN;
	/* The size is what reel open checks first; another size is another video. */
	return (uint64_t)st.st_size == id->size ? SOURCE_PRESENT : SOURCE_CHANGED;
}

/* 1 when a coordinator holds the buffer (its flock), 0 when not, -errno when it cannot be told. */
static int buffer_held(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r = 0;

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		r = errno == EWOULDBLOCK ? 1 : -errno;
	close(fd);
	return r;
}

/* What the buffer file says: its source, or why it cannot be read. */
static void describe(struct entry *e)
{
	struct reel_buffer *b;
	char log[REEL_PATH_MAX];
	int r;

	add_file(e, e->buffer);
	if (reel_session_log_path(e->buffer, log, sizeof(log)) == 0)
		add_file(e, log);
	r = reel_buffer_open_readonly(e->buffer, &b);
	if (r < 0) {
		e->damage = reel_strerror(r);
		e->source_state = SOURCE_UNKNOWN;
		return;
	}
	if (!e->source[0])
		snprintf(e->source, sizeof(e->source), "%s", reel_buffer_info(b)->source.path);
	e->source_state = source_state(&reel_buffer_info(b)->source);
	reel_buffer_close(b);
}

static int add_live(const struct reel_session_record *rec, void *userdata)
{
	struct listing *l = userdata;
	struct entry *e;

	if (!reel_session_alive(rec))
		return 0;
	e = add_entry(l);
	if (!e)
		return 1;
	snprintf(e->name, sizeof(e->name), "%s", rec->name);
	snprintf(e->buffer, sizeof(e->buffer), "%s", rec->buffer_path);
	snprintf(e->source, sizeof(e->source), "%s", rec->source_path);
	e->live = true;
	e->pid = rec->pid;
	describe(e);
	return 0;
}

static bool listed(const struct listing *l, const char *buffer)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].buffer, buffer))
			return true;
	return false;
}

/* The buffer files of the buffer folder that no live session uses. */
static int add_stopped(struct listing *l)
{
	char dir[REEL_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r;

	r = reel_coord_default_buffer_dir(dir, sizeof(dir));
	if (r < 0)
		return r;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char path[REEL_PATH_MAX];
		struct entry *e;

		if (n <= 5 || strcmp(de->d_name + n - 5, ".reel") ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path) ||
		    listed(l, path))
			continue;
		e = add_entry(l);
		if (!e) {
			closedir(d);
			return -ENOMEM;
		}
		snprintf(e->name, sizeof(e->name), "%.*s", (int)(n - 5), de->d_name);
		snprintf(e->buffer, sizeof(e->buffer), "%s", path);
		e->busy = buffer_held(path) == 1;
		describe(e);
	}
	closedir(d);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->live != y->live)
		return x->live ? -1 : 1;
	return strcmp(x->name, y->name);
}

static const char *state_word(const struct entry *e)
{
	return e->live ? "live" : e->busy ? "in use" : e->damage ? "damaged" : "stopped";
}

static const char *age(time_t then, char *buf, size_t len)
{
	double s = difftime(time(NULL), then);

	if (then == 0)
		snprintf(buf, len, "-");
	else if (s < 120)
		snprintf(buf, len, "just now");
	else if (s < 7200)
		snprintf(buf, len, "%.0f min ago", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, len, "%.0f h ago", s / 3600);
	else
		snprintf(buf, len, "%.0f days ago", s / 86400);
	return buf;
}

static void print_json(const struct listing *l)
{
	printf("[");
	for (size_t i = 0; i < l->n; i++) {
		const struct entry *e = &l->v[i];
		printf("%s{\"session\":", i ? "," : "");
		cli_json_string(stdout, e->name);
		printf(",\"state\":\"%s\",\"pid\":%ld,\"source\":", e->live ? "live" : e->busy ? "in-use" :
		       e->damage ? "damaged" : "stopped", (long)e->pid);
		cli_json_string(stdout, e->source);
		printf(",\"source_state\":\"%s\",\"buffer\":",
		       e->source_state == SOURCE_PRESENT ? "present" : source_words[e->source_state]);
		cli_json_string(stdout, e->buffer);
		printf(",\"disk_bytes\":%" PRIu64 ",\"used\":%lld", e->disk, (long long)e->used);
		if (e->damage) {
			printf(",\"damage\":");
			cli_json_string(stdout, e->damage);
		}
		printf("}");
	}
	printf("]\n");
}

/* Columns as wide as what they hold, so long names never run into the next one. */
static void print_table(const struct listing *l, bool all)
{
	int wname = 7, wstate = 5;
	char size[32], when[32];

	for (size_t i = 0; i < l->n; i++) {
		int n = (int)strlen(l->v[i].name), s = (int)strlen(state_word(&l->v[i]));
		wname = n > wname ? n : wname;
		wstate = s > wstate ? s : wstate;
	}
	if (!all) {
		printf("%-*s  %-8s %s\n", wname, "SESSION", "PID", "SOURCE");
		for (size_t i = 0; i < l->n; i++)
			printf("%-*s  %-8ld %s\n", wname, l->v[i].name, (long)l->v[i].pid, l->v[i].source);
		return;
	}
	printf("%-*s  %-*s  %-8s %10s  %-13s %s\n", wname, "SESSION", wstate, "STATE", "PID",
	       "ON DISK", "USED", "SOURCE");
	for (size_t i = 0; i < l->n; i++) {
		const struct entry *e = &l->v[i];
		char pid[16] = "-";
		if (e->live)
			snprintf(pid, sizeof(pid), "%ld", (long)e->pid);
		printf("%-*s  %-*s  %-8s %10s  %-13s %s", wname, e->name, wstate, state_word(e), pid,
		       cli_human_size(e->disk, size, sizeof(size)), age(e->used, when, sizeof(when)),
		       e->damage ? e->damage : e->source);
		if (!e->damage && e->source_state != SOURCE_PRESENT)
			printf(" (%s)", source_words[e->source_state]);
		printf("\n");
	}
}

int cmd_ls(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct listing l = { 0 };
	bool all = false, json = false;
	int opt, r;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":ah", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a': all = true; break;
		case 'j': json = true; break;
		case 'h':
			printf("usage: reel ls [--all] [--json]\n\n"
			       "List this user's live sessions.  With --all, also the stopped ones:\n"
			       "the buffer files in the buffer folder, with their state (stopped,\n"
			       "damaged, or in use by a coordinator under another name), their size\n"
			       "on disk with the log, when they were last used, and their source\n"
			       "(marked 'gone' when the file is no longer there and 'changed' when it\n"
			       "is another size).  'reel open' on the source resumes a stopped one;\n"
			       "'reel rm' and 'reel gc' remove them.\n\n"
			       "  -a, --all   stopped sessions too\n"
			       "  --json      one array of objects: session, state, pid, source,\n"
			       "              source_state, buffer, disk_bytes, used (Unix time),\n"
			       "              damage (when damaged)\n");
			return CLI_OK;
		default:
			return cli_bad_option("ls", opt, argv);
		}
	}
	if (optind != argc)
		return cli_error(CLI_USAGE, "ls", "unexpected argument '%s' (see 'reel ls --help')",
		                 argv[optind]);
	r = reel_session_list(add_live, &l);
	if (r == 0 && all)
		r = add_stopped(&l);
	if (r < 0 || r == 1) {
		free(l.v);
		return cli_error(CLI_FAIL, "ls", "%s", r == 1 ? "out of memory" : reel_strerror(r));
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(l.v[0]), by_name);
	if (json)
		print_json(&l);
	else
		print_table(&l, all);
	free(l.v);
	return CLI_OK;
}

/* ------------------------------------------------------------------ removing */

/* A file that starts with a buffer's magic: never unlink anything else a user names by mistake. */
static bool looks_like_buffer(const char *path)
{
	char magic[8];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	bool ok;

	if (fd < 0)
		return false;
	ok = read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) && !memcmp(magic, "REELBUF", 8);
	close(fd);
	return ok;
}

/*
 * Unlink a buffer and its log under the buffer's lock, so that no
 * coordinator holds it meanwhile.  0, 1 when a coordinator holds it, -errno.
 */
static int remove_buffer(const char *path)
{
	char log[REEL_PATH_MAX];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r = 0;

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? 1 : -errno;
		goto out;
	}
	if (unlink(path) < 0) {
		r = -errno;
		goto out;
	}
	if (reel_session_log_path(path, log, sizeof(log)) == 0)
		unlink(log);
out:
	close(fd);
	return r;
}

/* Which buffer an argument of rm names: 0 with the path, or an exit code after saying why. */
static int resolve(const char *arg, struct entry *e)
{
	struct reel_session_record rec;
	char dir[REEL_PATH_MAX];

	memset(e, 0, sizeof(*e));
	if (strchr(arg, '/') || (strlen(arg) > 5 && !strcmp(arg + strlen(arg) - 5, ".reel"))) {
		if (access(arg, F_OK) < 0)
			return cli_error(CLI_USAGE, "rm", "%s: %s", arg, strerror(errno));
		if (!looks_like_buffer(arg))
			return cli_error(CLI_USAGE, "rm", "%s: not a reel buffer file; left alone", arg);
		snprintf(e->buffer, sizeof(e->buffer), "%s", arg);
		snprintf(e->name, sizeof(e->name), "%s", "-");
		return 0;
	}
	if (reel_session_name_check(arg) < 0)
		return cli_error(CLI_USAGE, "rm", "%s: %s", arg, reel_strerror(REEL_E_SESSION));
	if (reel_session_read(arg, &rec) == 0 && reel_session_alive(&rec))
		return cli_error(CLI_FAIL, "rm", "%s: the session is live (pid %ld); stop it first with "
		                 "'reel stop %s'", arg, (long)rec.pid, arg);
	if (reel_coord_default_buffer_dir(dir, sizeof(dir)) < 0 ||
	    (size_t)snprintf(e->buffer, sizeof(e->buffer), "%s/%s.reel", dir, arg) >= sizeof(e->buffer))
		return cli_error(CLI_FAIL, "rm", "%s: no buffer folder", arg);
	if (access(e->buffer, F_OK) < 0)
		return cli_error(CLI_USAGE, "rm", "%s: no stopped session of that name (see 'reel ls "
		                 "--all')", arg);
	snprintf(e->name, sizeof(e->name), "%s", arg);
	return 0;
}

int cmd_rm(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, code = CLI_OK;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf("usage: reel rm SESSION|BUFFER...\n\n"
			       "Remove stopped sessions: each one's buffer file and log.  A SESSION is\n"
			       "a name 'reel ls --all' lists; a BUFFER is the path of a buffer file\n"
			       "(one made with --buffer, or a damaged one).  A live session, or a\n"
			       "buffer a coordinator holds, is refused and left as it is.  Every\n"
			       "argument is tried; the exit code is that of the last failure.\n");
			return CLI_OK;
		default:
			return cli_bad_option("rm", opt, argv);
		}
	}
	if (optind == argc)
		return cli_error(CLI_USAGE, "rm", "expected a SESSION or BUFFER (see 'reel rm --help')");
	for (int i = optind; i < argc; i++) {
		struct entry e;
		char size[32];
		int r = resolve(argv[i], &e);

		if (r) {
			code = r;
			continue;
		}
		describe(&e);
		r = remove_buffer(e.buffer);
		if (r == 1)
			code = cli_error(CLI_FAIL, "rm", "%s: buffer %s is in use by a coordinator; stop it "
			                 "first", argv[i], e.buffer);
		else if (r < 0)
			code = cli_error(CLI_FAIL, "rm", "%s: %s", e.buffer, strerror(-r));
		else
			printf("removed %s (%s)\n", e.buffer, cli_human_size(e.disk, size, sizeof(size)));
	}
	return code;
}

/* "30m", "12h", "7d", "2w" or seconds; -EINVAL otherwise. */
static int parse_age(const char *text, uint64_t *ret_seconds)
{
	char *end;
	double v;
	uint64_t unit = 1;

	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || v < 0 || *text == '-')
		return -EINVAL;
	switch (*end) {
	case 0: case 's': break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'w': unit = 7 * 86400; break;
	default: return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (v * (double)unit > 1e15)
		return -EINVAL;
	*ret_seconds = (uint64_t)(v * (double)unit);
	return 0;
}

int cmd_gc(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "older-than", required_argument, NULL, 'o' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct listing l = { 0 };
	uint64_t older = 0, freed = 0, removed = 0, damaged = 0, pictures_bytes = 0;
	unsigned queues = 0, pictures = 0;
	bool dry = false, json = false, have_age = false;
	char size[32];
	int opt, r, code = CLI_OK;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":nh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			if (parse_age(optarg, &older) < 0)
				return cli_error(CLI_USAGE, "gc", "--older-than: '%s' is not an age (e.g. 90m, "
				                 "12h, 7d, 2w)", optarg);
			have_age = true;
			break;
		case 'n': dry = true; break;
		case 'j': json = true; break;
		case 'h':
			printf("usage: reel gc [--older-than AGE] [--dry-run] [--json]\n\n"
			       "Remove the buffers of stopped sessions that are of no more use: those\n"
			       "whose source is gone (or is now another size), and with --older-than,\n"
			       "those not used for longer than AGE.  Live sessions, buffers a\n"
			       "coordinator holds and damaged buffers are left alone (remove a damaged\n"
			       "one by its path with 'reel rm').\n\n"
			       "  --older-than AGE  also remove buffers unused for AGE: 90m, 12h, 7d, 2w\n"
			       "  -n, --dry-run     say what would be removed, remove nothing\n"
			       "  --json            one object: removed (a list of session, buffer,\n"
			       "                    disk_bytes, reason), freed_bytes, dry_run,\n"
			       "                    queues_removed, pictures_removed, pictures_bytes\n\n"
			       "It also removes what killed reel processes left: their POSIX queues,\n"
			       "and the decoded pictures a killed coordinator left in RAM\n"
			       "(/dev/shm/reel-UID, or $REEL_PICTURES_DIR).\n");
			return CLI_OK;
		default:
			return cli_bad_option("gc", opt, argv);
		}
	}
	if (optind != argc)
		return cli_error(CLI_USAGE, "gc", "unexpected argument '%s' (see 'reel gc --help')",
		                 argv[optind]);
	r = reel_session_list(add_live, &l);
	if (r == 0)
		r = add_stopped(&l);
	if (r < 0 || r == 1) {
		free(l.v);
		return cli_error(CLI_FAIL, "gc", "%s", r == 1 ? "out of memory" : reel_strerror(r));
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(l.v[0]), by_name);
	if (json)
		printf("{\"removed\":[");
	for (size_t i = 0; i < l.n; i++) {
		const struct entry *e = &l.v[i];
		const char *why = NULL;

		if (e->live || e->busy)
			continue;
		if (e->damage) {
			damaged++;
			continue;
		}
		if (e->source_state == SOURCE_GONE)
			why = "source gone";
		else if (e->source_state == SOURCE_CHANGED)
			why = "source changed";
		else if (have_age && difftime(time(NULL), e->used) > (double)older)
			why = "unused";
		if (!why)
			continue;
		r = dry ? 0 : remove_buffer(e->buffer);
		if (r != 0) {
			/* A coordinator took it meanwhile, or the file went: not ours to count. */
			if (r < 0 && r != -ENOENT)
				code = cli_error(CLI_FAIL, "gc", "%s: %s", e->buffer, strerror(-r));
			continue;
		}
		if (json) {
			printf("%s{\"session\":", removed ? "," : "");
			cli_json_string(stdout, e->name);
			printf(",\"buffer\":");
			cli_json_string(stdout, e->buffer);
			printf(",\"disk_bytes\":%" PRIu64 ",\"reason\":\"%s\"}", e->disk, why);
		} else {
			printf("%s %s (%s, %s; source %s)\n", dry ? "would remove" : "removed", e->name,
			       cli_human_size(e->disk, size, sizeof(size)), why, e->source);
		}
		removed++;
		freed += e->disk;
	}
	/*
	 * Queues of reel processes that were killed are a machine-wide budget
	 * (queues_max): free this user's that nobody can use any more.  Only
	 * where /dev/mqueue is mounted can they be listed.
	 */
	if (!dry) {
		int lock;
		if (reel_session_lock(&lock) == 0) {
			if (reel_session_sweep(&queues) == 0 && queues && !json)
				printf("removed %u queue%s left by dead reel processes\n", queues,
				       queues == 1 ? "" : "s");
			reel_session_unlock(lock);
		}
		/* So is RAM: decoded pictures of coordinators that were killed. */
		{
			char dir[PATH_MAX];
			int n = reel_buffer_sweep_pictures(reel_buffer_pictures_dir(dir, sizeof(dir)),
			                                   &pictures_bytes);

			pictures = n > 0 ? (unsigned)n : 0;
			if (pictures && !json)
				printf("removed %u pictures file%s left by dead coordinators (%s of RAM)\n",
				       pictures, pictures == 1 ? "" : "s",
				       cli_human_size(pictures_bytes, size, sizeof(size)));
		}
	}
	if (json)
		printf("],\"freed_bytes\":%" PRIu64 ",\"dry_run\":%s,\"queues_removed\":%u,"
		       "\"pictures_removed\":%u,\"pictures_bytes\":%" PRIu64 "}\n", freed,
		       dry ? "true" : "false", queues, pictures, pictures_bytes);
	else
		printf("%s %" PRIu64 " buffer%s, %s\n", dry ? "would free" : "freed", removed,
		       removed == 1 ? "" : "s", cli_human_size(freed, size, sizeof(size)));
	if (damaged && !json)
		fprintf(stderr, "reel gc: %" PRIu64 " damaged buffer%s left alone (see 'reel ls --all')\n",
		        damaged, damaged == 1 ? "" : "s");
	free(l.v);
	return code;
}
