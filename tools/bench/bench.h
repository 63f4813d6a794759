/*
 * What the subcommands of reel-bench share: progress lines and errors,
 * medians and percentiles, a coordinator as a child process, the raw queue
 * ping-pong, and the cached test clips.  Each subcommand has a file of its
 * own (bench-*.c); reel-bench.c dispatches.
 */
#ifndef REEL_BENCH_H
#define REEL_BENCH_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <mqueue.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli.h"
#include "coord.h"
#include "buffer/buffer.h"
#include "buffer/journal.h"
#include "bus/bus.h"
#include "bus/session.h"
#include "reel/client.h"
#include "reel/error.h"
#include "reel/ops.h"
#include "bus/msg.h"

#define CALL_TIMEOUT_MS 5000
#define READY_TIMEOUT_MS 120000
#define NEED_TIMEOUT_MS 120000
#define DEFAULT_CHUNK 32

/* A progress line on stderr when it is a terminal. */
extern bool progress;
/* Frames per NEED in a throughput run (--chunk). */
extern uint64_t chunk;

#define NO_STAGES (-1)
#define DEFAULT_STAGES 0

struct coord_child {
	pid_t pid;
	char session[REEL_SESSION_NAME_MAX + 1];
	char buffer[PATH_MAX];
	char log[PATH_MAX];
	struct reel_client *client;
	uint64_t frames;
	double ready_ms;           /* from spawn to the first answered STATUS */
};
/* One edit as the benches send it: an op and its one parameter (0 when it has none). */
struct bench_edit {
	uint32_t op;
	double param;
};
struct pct {
	double p50, p99;
};
/* The floor: REEL_MSG_SIZE bytes A -> B -> A over two POSIX queues, nothing else. */
struct pingpong {
	char ping_name[64], pong_name[64];
	mqd_t ping, pong;
	pid_t pid;
	double spin_us;            /* both sides look for the next message this long before sleeping */
};
struct clip {
	const char *label;
	char path[PATH_MAX];
	double ttff_ms, ready_ms, ffmpeg_first_ms;
	int far_s;                  /* a frame this far in (seconds) is timed too; 0: not */
	double rate;                /* nominal frames per second, from the session */
	double far_ms, ffmpeg_far_ms;
	double cold_ttff_ms, cold_ffmpeg_first_ms, cold_far_ms, cold_ffmpeg_far_ms;
	uint64_t frames;
};

/* Ways of decoding every frame in reel-bench itself (bench-floor.c). */
enum floor_kind {
	FLOOR_DECODE_ONLY,
	FLOOR_STORE_COPIED,
	FLOOR_STORE_DIRECT,
};
#define FLOOR_KINDS 3

double now_us(void);
void note(const char *fmt, ...);
void note_done(void);
int fail(const char *fmt, ...);
double percentile(double *v, size_t n, double p);
double median(double *v, size_t n);
void rmrf(const char *path);
int find_reel(char *buf, size_t len);
int reap(pid_t pid, int timeout_ms);
double run_timed(char *const argv[]);
int parse_option_number(const char *name, const char *text, uint64_t lo, uint64_t hi,
                               uint64_t *ret_value);
void show_log(const char *path);
int make_workdir(const char *base, char *buf, size_t len);
int coord_start_stages(const char *reel, const char *video, const char *workdir, unsigned n,
                              int workers, struct coord_child *c, double *ret_t0);
int coord_start(const char *reel, const char *video, const char *workdir, unsigned n,
                       struct coord_child *c, double *ret_t0);
int coord_stop(struct coord_child *c);
int wait_stages(struct coord_child *c, uint64_t want, int timeout_ms);
int materialise_frames(struct coord_child *c, uint64_t n, const char *what);
int send_edits(struct coord_child *c, const struct bench_edit *edits, unsigned n,
                      int64_t first, int64_t last, uint64_t *ret_seq);
int check_applied(const struct coord_child *c, uint64_t first_seq, unsigned n);
struct pct summarise(double *samples, unsigned count, unsigned runs);
void pingpong_stop(struct pingpong *pp);
int pingpong_start(struct pingpong *pp);
int pingpong_start_spinning(struct pingpong *pp, double spin_us);
int pingpong_batch(struct pingpong *pp, unsigned n, double *samples);
int bus_calls(struct reel_client *client, uint16_t kind, unsigned n, double *samples);
int make_small_clip(const char *path);
int cache_dir(char *buf, size_t len);
int make_ten_second_clip(const char *dir, char *ten_s, size_t len, const char *what);
int make_bench_clips(const char *dir, char *ten_s, char *ten_min, size_t len);
int make_hour_clip(const char *dir, const char *ten_min, char *hour, size_t len);
bool drop_page_cache(void);
int process_cpu(pid_t pid, double *ret_user, double *ret_sys);
const char *met(bool yes);

int floor_run(const char *video, const char *dir, enum floor_kind kind, double *ret_s,
              uint64_t *ret_frames);

int cmd_rtt(int argc, char **argv);
int cmd_edit_rtt(int argc, char **argv);
int cmd_open_bench(int argc, char **argv);
int cmd_effects(int argc, char **argv);
int cmd_pipeline(int argc, char **argv);
int cmd_export_bench(int argc, char **argv);
int cmd_keypress_bench(int argc, char **argv);

/* ------------------------------------------------ ipc, all and plot */

int cmd_ipc(int argc, char **argv);
int cmd_all(int argc, char **argv);
int cmd_plot(int argc, char **argv);

/* memcpy over 64 MiB buffers: passes timed copies into ret_us (µs); 0 or -ENOMEM. */
int bench_memcpy_passes(unsigned passes, double *ret_us);
/* GB/s from n such times (their median). */
double bench_memcpy_gbps(const double *us, unsigned n);
/* The type of the filesystem that holds path ("ext4", "tmpfs"): 0 or -errno. */
int bench_fs_type(const char *path, char *buf, size_t len);
/* The executable `name` in PATH into buf: 0, or -ENOENT. */
int bench_which(const char *name, char *buf, size_t len);

/* A parsed JSON value (bench-json.c): a tree the caller frees with json_free(). */
enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };
struct json {
	enum json_type type;
	bool boolean;
	double number;
	char *string;              /* JSON_STRING: the text, unescaped */
	char *key;                 /* the member's name, inside an object */
	struct json *child;        /* arrays and objects: the first element */
	struct json *next;         /* the next element of the same array or object */
};
/* Parse text (NUL-terminated): the tree, or NULL with the reason in err. */
struct json *json_parse(const char *text, char *err, size_t errlen);
void json_free(struct json *j);
/*
 * The value at path under root, or NULL: members by name, separated by
 * '.', and in arrays [N] (from 0) or [NAME=TEXT] (the first element whose
 * member NAME is the string TEXT), e.g. "configs[edits=blur].fps".
 */
const struct json *json_get(const struct json *root, const char *path);
/* The number at path: true when there is one. */
bool json_number_at(const struct json *root, const char *path, double *ret);

/* One figure of the table of `all`, evaluated from the results (bench-all.c). */
struct bench_figure {
	const char *part, *figure, *label;  /* label: short, for a chart */
	const char *unit;
	double reel, base, ratio;           /* NAN when not reported */
	bool lower_better;                  /* the ratio is reel over the baseline of a time */
	char target[32];                    /* "" when none */
	int met;                            /* 1, 0, or -1: not reported */
};
/* The figures found in results, at most max of them, into out; their count. */
size_t bench_figures(const struct json *results, struct bench_figure *out, size_t max);
/* Charts of results as PNG in dir with gnuplot (bench-plot.c): 0, or an exit code. */
int bench_plot(const struct json *results, const char *dir);

#endif
