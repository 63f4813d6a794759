/*
 * reel-bench all: every part of reel-bench, each run as a child
 * `reel-bench PART --json` so that the parts stay independent (one that
 * fails or crashes does not take the others with it), their JSON objects
 * collected into one with a description of the machine; then a table of
 * the figures that have a baseline, or that object (--json), and charts
 * (--plot DIR, bench-plot.c).  reel-bench plot draws the charts of a saved
 * result.
 */
#include "bench/bench.h"

#include <sched.h>
#include <sys/utsname.h>

#define MAX_FIGURES 64
#define MAX_PART_ARGS 16
#define MACHINE_MEMCPY_PASSES 5

struct part {
	const char *name;
	const char *what;          /* for the progress line */
	const char *quick[9];      /* --quick: smaller counts and runs */
	bool display;              /* needs an X display */
};

static const struct part parts[] = {
	{ "ipc", "pipes, queues, sockets, a shared ring; the frame hand-off",
	  { "--count", "20000", "--bulk-mib", "64", "--frames", "60", "--runs", "1" }, false },
	{ "rtt", "command round trips", { "--count", "200", "--runs", "1" }, false },
	{ "open", "time to first frame, materialising", { "--runs", "1" }, false },
	{ "effects", "effect workers on resident frames", { "--runs", "1", "--frames", "64" }, false },
	{ "pipeline", "decode, brightness, blur end to end", { "--runs", "1" }, false },
	{ "edit-rtt", "the round trip of an edit", { "--count", "100", "--runs", "1" }, false },
	{ "export", "reel export next to ffmpeg", { "--runs", "1", "--preset", "veryfast" }, false },
	{ "keypress", "a key press to the edited frame on screen", { "--count", "10", "--runs", "1" },
	  true },
};
#define PARTS (sizeof(parts) / sizeof(parts[0]))

/* ------------------------------------------------------------- helpers */

/* The value after "key<spaces>:" on the first line of path that starts with key. */
static bool proc_field(const char *path, const char *key, char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen(path, "r");
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *colon, *v;
		if (strncmp(line, key, strlen(key)) || !(colon = strchr(line, ':')))
			continue;
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		v[strcspn(v, "\n")] = 0;
		snprintf(buf, len, "%s", v);
		found = true;
	}
	fclose(f);
	return found;
}

/* --------------------------------------------------------- the machine */

struct machine {
	long online, usable;
	char cpu[256], kernel[512], buffer_dir[PATH_MAX], buffer_fs[64], date[32];
	uint64_t mem_bytes;
	double memcpy_gbps;
	bool display, gnuplot, gstreamer;
};

static int describe_machine(struct machine *m, const char *base)
{
	double us[MACHINE_MEMCPY_PASSES];
	char tmp[128];
	struct utsname u;
	cpu_set_t set;
	time_t now = time(NULL);
	struct tm tm;
	int r;

	memset(m, 0, sizeof(*m));
	m->online = sysconf(_SC_NPROCESSORS_ONLN);
	m->usable = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : m->online;
	if (!proc_field("/proc/cpuinfo", "model name", m->cpu, sizeof(m->cpu)) &&
	    !proc_field("/proc/cpuinfo", "Hardware", m->cpu, sizeof(m->cpu)))
		snprintf(m->cpu, sizeof(m->cpu), "unknown");
	if (proc_field("/proc/meminfo", "MemTotal", tmp, sizeof(tmp)))
		m->mem_bytes = strtoull(tmp, NULL, 10) * 1024;
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof(m->kernel), "%s %s %s %s", u.sysname, u.release, u.version,
		         u.machine);
	if (base)
		snprintf(m->buffer_dir, sizeof(m->buffer_dir), "%s", base);
	else if ((r = reel_coord_default_buffer_dir(m->buffer_dir, sizeof(m->buffer_dir))) < 0)
		return fail("no buffer folder: %s", reel_strerror(r)), r;
	if (bench_fs_type(m->buffer_dir, m->buffer_fs, sizeof(m->buffer_fs)) < 0)
		snprintf(m->buffer_fs, sizeof(m->buffer_fs), "unknown");
	gmtime_r(&now, &tm);
	strftime(m->date, sizeof(m->date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	note("all: measuring memcpy");
	if (bench_memcpy_passes(MACHINE_MEMCPY_PASSES, us) < 0)
		return fail("out of memory"), -ENOMEM;
	m->memcpy_gbps = bench_memcpy_gbps(us, MACHINE_MEMCPY_PASSES);
	m->display = getenv("DISPLAY") && *getenv("DISPLAY");
	m->gnuplot = bench_which("gnuplot", tmp, sizeof(tmp)) == 0;
	m->gstreamer = bench_which("gst-launch-1.0", tmp, sizeof(tmp)) == 0;
	return 0;
}

static void print_machine_json(FILE *out, const struct machine *m)
{
	fprintf(out, "{\"cores_online\":%ld,\"cores_usable\":%ld,\"cpu\":", m->online, m->usable);
	cli_json_string(out, m->cpu);
	fprintf(out, ",\"mem_total_bytes\":%" PRIu64 ",\"memcpy_gbps\":%.3f,\"kernel\":",
	        m->mem_bytes, m->memcpy_gbps);
	cli_json_string(out, m->kernel);
	fprintf(out, ",\"buffer_dir\":");
	cli_json_string(out, m->buffer_dir);
	fprintf(out, ",\"buffer_fs\":");
	cli_json_string(out, m->buffer_fs);
	fprintf(out, ",\"date\":\"%s\",\"display\":%s,\"gnuplot\":%s,\"gstreamer\":%s}", m->date,
	        m->display ? "true" : "false", m->gnuplot ? "true" : "false",
	        m->gstreamer ? "true" : "false");
}

/* ----------------------------------------------------------- the parts */

enum part_state { PART_OK, PART_FAILED, PART_SKIPPED };

struct part_result {
	enum part_state state;
	char *json;                /* PART_OK: its object as it printed it */
	char why[160];             /* failed or skipped: why */
	double seconds;
};

/*
 * Run `self PART --json [args]` with its stdout into a pipe we read whole,
 * stdin from /dev/null, stderr ours (its progress and its errors show).
 */
static int run_part(const char *self, char *const argv[], char **ret_out, int *ret_status)
{
	size_t len = 0, cap = 65536;
	char *out = malloc(cap);
	int fds[2], status;
	pid_t pid;

	if (!out)
		return -ENOMEM;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		free(out);
		return -errno;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		free(out);
		return -e;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (in < 0 || dup2(in, 0) < 0 || dup2(fds[1], 1) < 0)
			_exit(127);
		execv(self, argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n;
		if (len + 1 >= cap) {
			char *bigger = cap < (64u << 20) ? realloc(out, cap * 2) : NULL;
			if (!bigger)
				break;         /* a part that prints that much is wrong: what we have is kept */
			out = bigger;
			cap *= 2;
		}
		n = read(fds[0], out + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fds[0]);
	out[len] = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	*ret_out = out;
	*ret_status = status;
	return 0;
}

static void run_one(const char *self, const struct part *p, unsigned i, unsigned n, bool quick,
                    const char *base, struct part_result *res)
{
	char *argv[MAX_PART_ARGS + 8], *out = NULL, err[96];
	size_t k = 0, len;
	struct json *parsed;
	double t0 = now_us();
	int status, r;

	argv[k++] = (char *)self;
	argv[k++] = (char *)p->name;
	argv[k++] = (char *)"--json";
	for (size_t q = 0; quick && q < sizeof(p->quick) / sizeof(p->quick[0]) && p->quick[q]; q++)
		argv[k++] = (char *)p->quick[q];
	if (base) {
		argv[k++] = (char *)"--buffer-dir";
		argv[k++] = (char *)base;
	}
	argv[k] = NULL;
	/* A line of its own: the part's progress and errors come below it. */
	if (progress)
		fprintf(stderr, "all: [%u/%u] %s: %s\n", i + 1, n, p->name, p->what);
	r = run_part(self, argv, &out, &status);
	res->seconds = (now_us() - t0) / 1e6;
	if (r < 0) {
		res->state = PART_FAILED;
		snprintf(res->why, sizeof(res->why), "could not run it: %s", strerror(-r));
		free(out);
		return;
	}
	/* The object, without the white space around it. */
	len = strlen(out);
	while (len && (out[len - 1] == '\n' || out[len - 1] == ' ' || out[len - 1] == '\r'))
		out[--len] = 0;
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		res->state = PART_FAILED;
		if (status >= 0 && WIFSIGNALED(status))
			snprintf(res->why, sizeof(res->why), "killed by signal %d", WTERMSIG(status));
		else if (status >= 0 && WIFEXITED(status))
			snprintf(res->why, sizeof(res->why), "exit status %d", WEXITSTATUS(status));
		else
			snprintf(res->why, sizeof(res->why), "lost");
		free(out);
		return;
	}
	parsed = json_parse(out, err, sizeof(err));
	if (!parsed || parsed->type != JSON_OBJECT) {
		res->state = PART_FAILED;
		snprintf(res->why, sizeof(res->why), "its output is not one JSON object (%s)",
		         parsed ? "not an object" : err);
		json_free(parsed);
		free(out);
		return;
	}
	json_free(parsed);
	res->state = PART_OK;
	res->json = out;
}

/* ---------------------------------------------------------- the figures */

/*
 * The figures of the table: paths into each part's JSON object (see the
 * cmd_* of bench-*.c for their shapes).  reel and base are the two figures
 * compared, ratio the ratio the part reports (NULL: reel over base), goal a
 * number to print as the target and met a boolean the part reports.
 */
struct figure_def {
	const char *part, *figure, *label, *unit;
	const char *reel, *base, *ratio;
	bool lower_better;
	const char *target;        /* fixed words, or NULL */
	const char *goal;          /* or a number at this path */
	const char *met;
};

static const struct figure_def figure_defs[] = {
	{ "ipc", "frame hand-off (8 bytes, read in place) vs raw frames, pipe", "hand-off vs pipe",
	  "fps", "frames.handoff_fps", "frames.pipe_fps", "frames.ratio", false, ">= 10x", NULL,
	  "frames.met" },
	{ "ipc", "frame hand-off vs raw frames, 1 MiB pipe (F_SETPIPE_SZ)", "hand-off vs 1 MiB pipe",
	  "fps", "frames.handoff_fps", "frames.big_pipe_fps", "frames.ratio_big_pipe", false, NULL,
	  NULL, NULL },
	{ "ipc", "frame transport alone (time over the reader alone's) vs pipe", "transport vs pipe",
	  "us", "frames.transport_us_per_frame.handoff", "frames.transport_us_per_frame.pipe",
	  NULL, true, NULL, NULL, NULL },
	{ "rtt", "STATUS round trip p50 vs raw queue ping-pong", "STATUS p50", "us", "status.p50_us",
	  "raw.p50_us", "status.p50_ratio", true, NULL, NULL, NULL },
	{ "rtt", "STATUS round trip p99 vs raw queue ping-pong", "STATUS p99", "us", "status.p99_us",
	  "raw.p99_us", "status.p99_ratio", true, NULL, NULL, NULL },
	{ "rtt", "NEED of a resident frame p50 vs raw ping-pong", "NEED p50", "us", "need.p50_us",
	  "raw.p50_us", "need.p50_ratio", true, NULL, NULL, NULL },
	{ "rtt", "NEED p99 vs raw ping-pong", "NEED p99", "us", "need.p99_us",
	  "raw.p99_us", "need.p99_ratio", true, "<= 1.5x", NULL, NULL },
	{ "rtt", "STATUS p50 vs raw ping-pong spinning 50 us as the bus", "STATUS p50 vs spinning",
	  "us", "status.p50_us", "raw_spinning.p50_us", "status_vs_spinning.p50_ratio", true,
	  "<= 1.5x", NULL, NULL },
	{ "rtt", "STATUS p99 vs raw ping-pong spinning", "STATUS p99 vs spinning", "us",
	  "status.p99_us", "raw_spinning.p99_us", "status_vs_spinning.p99_ratio", true, "<= 1.5x",
	  NULL, NULL },
	{ "rtt", "NEED p50 vs raw ping-pong spinning", "NEED p50 vs spinning", "us", "need.p50_us",
	  "raw_spinning.p50_us", "need_vs_spinning.p50_ratio", true, "<= 1.5x", NULL, NULL },
	{ "rtt", "NEED p99 vs raw ping-pong spinning", "NEED p99 vs spinning", "us", "need.p99_us",
	  "raw_spinning.p99_us", "need_vs_spinning.p99_ratio", true, "<= 1.5x", NULL, NULL },
	{ "open", "time to first frame, 10 s 1080p vs ffmpeg", "first frame 10 s", "ms",
	  "first_frame[0].reel_ms", "first_frame[0].ffmpeg_ms", "first_frame[0].ratio", true, NULL,
	  NULL, NULL },
	{ "open", "time to first frame, 10 min 1080p vs ffmpeg", "first frame 10 min", "ms",
	  "first_frame[1].reel_ms", "first_frame[1].ffmpeg_ms", "first_frame[1].ratio", true, NULL,
	  NULL, NULL },
	{ "open", "time to first frame, 10 min, cold cache", "first frame 10 min cold", "ms",
	  "first_frame[1].cold_reel_ms", "first_frame[1].cold_ffmpeg_ms", "first_frame[1].cold_ratio",
	  true, NULL, NULL, NULL },
	{ "open", "time to the frame at 500 s, 10 min, vs ffmpeg -ss", "frame at 500 s", "ms",
	  "first_frame[1].far_reel_ms", "first_frame[1].far_ffmpeg_ms", "first_frame[1].far_ratio",
	  true, "<= 1x", NULL, NULL },
	{ "open", "time to first frame, 1 h 1080p vs ffmpeg", "first frame 1 h", "ms",
	  "first_frame[2].reel_ms", "first_frame[2].ffmpeg_ms", "first_frame[2].ratio", true,
	  "<= 1x", NULL, NULL },
	{ "open", "time to first frame, 1 h, cold cache", "first frame 1 h cold", "ms",
	  "first_frame[2].cold_reel_ms", "first_frame[2].cold_ffmpeg_ms", "first_frame[2].cold_ratio",
	  true, "<= 1x", NULL, NULL },
	{ "open", "time to the frame at 3000 s, 1 h, vs ffmpeg -ss", "frame at 3000 s", "ms",
	  "first_frame[2].far_reel_ms", "first_frame[2].far_ffmpeg_ms", "first_frame[2].far_ratio",
	  true, "<= 1x", NULL, NULL },
	{ "open", "the same, cold cache", "frame at 3000 s cold", "ms",
	  "first_frame[2].cold_far_reel_ms", "first_frame[2].cold_far_ffmpeg_ms",
	  "first_frame[2].cold_far_ratio", true, "<= 1x", NULL, NULL },
	{ "open", "materialise every frame vs ffmpeg -f null", "materialise", "fps",
	  "throughput.reel_fps", "throughput.ffmpeg_fps", "throughput.ratio", false, ">= 0.9x", NULL,
	  NULL },
	{ "open", "materialise every frame vs ffmpeg writing raw frames to a file", "vs raw file",
	  "fps", "throughput.reel_fps", "throughput.ffmpeg_raw_file_fps", "throughput.ratio_raw_file",
	  false, ">= 1.2x", NULL, NULL },
	{ "open", "materialise vs libav storing every picture (the floor)", "vs storing floor", "fps",
	  "throughput.reel_fps", "throughput.libav_store_copied_fps",
	  "throughput.ratio_libav_store_copied", false, NULL, NULL, NULL },
	{ "effects", "brightness, one worker, vs memcpy", "brightness vs memcpy", "GB/s",
	  "configs[edits=brightness].gbps", "memcpy_gbps", "goal_brightness_vs_memcpy.ratio", false,
	  ">= 0.5x", NULL, "goal_brightness_vs_memcpy.met" },
	{ "effects", "brightness, one worker per core vs one", "brightness scaling", NULL, NULL, NULL,
	  "scaling[edits=brightness].ratio", false, NULL, "scaling[edits=brightness].goal",
	  "scaling[edits=brightness].met" },
	{ "effects", "blur 2, one worker per core vs one", "blur scaling", NULL, NULL, NULL,
	  "scaling[edits=blur].ratio", false, NULL, "scaling[edits=blur].goal",
	  "scaling[edits=blur].met" },
	{ "pipeline", "decode+brightness+blur, edits first, vs ffmpeg", "edits first vs ffmpeg", "fps",
	  "reel_edits_before_decode.fps", "ffmpeg_one_process.fps",
	  "ratios.reel_edits_before_decode.vs_one_process", false, ">= 1x", NULL,
	  "ratios.reel_edits_before_decode.as_fast_as_one_process" },
	{ "pipeline", "the same vs ffmpeg | ffmpeg (raw frames, pipe)", "edits first vs ffmpeg|ffmpeg",
	  "fps", "reel_edits_before_decode.fps", "ffmpeg_two_processes.fps",
	  "ratios.reel_edits_before_decode.vs_two_processes", false, ">= 1.3x", NULL,
	  "ratios.reel_edits_before_decode.at_least_1_3x_two_processes" },
	{ "pipeline", "edits on resident frames vs ffmpeg", "resident vs ffmpeg", "fps",
	  "reel_edits_on_resident.fps", "ffmpeg_one_process.fps",
	  "ratios.reel_edits_on_resident.vs_one_process", false, ">= 1x", NULL,
	  "ratios.reel_edits_on_resident.as_fast_as_one_process" },
	{ "pipeline", "edits first vs GStreamer shmsink|shmsrc", "edits first vs GStreamer", "fps",
	  "reel_edits_before_decode.fps", "gstreamer.fps",
	  "ratios.reel_edits_before_decode.vs_gstreamer", false, NULL, NULL, NULL },
	{ "edit-rtt", "edit round trip p50 (journaled) vs STATUS", "edit p50", "us",
	  "command.p50_us", "status.p50_us", "command.p50_vs_status", true, NULL, NULL, NULL },
	{ "edit-rtt", "edit round trip p99 (journaled) vs STATUS", "edit p99", "us",
	  "command.p99_us", "status.p99_us", "command.p99_vs_status", true, NULL, NULL, NULL },
	{ "export", "reel export, session just opened, vs ffmpeg", "fresh vs ffmpeg", "ms",
	  "reel_fresh.ms", "ffmpeg.ms", "time_over_ffmpeg.reel_fresh", true, "<= 1.1x", NULL,
	  "time_over_ffmpeg.within_1_1x" },
	{ "export", "reel export, frames resident, vs ffmpeg", "resident vs ffmpeg", "ms",
	  "reel_resident.ms", "ffmpeg.ms", "time_over_ffmpeg.reel_resident", true, NULL, NULL, NULL },
	{ "keypress", "key press to edited frame p99 vs a frame period", "key press p99", "ms",
	  "key_to_screen.p99_ms", "frame_period_ms", "key_to_screen.p99_frames", true, "<= 1x", NULL,
	  "goal_met" },
	{ "keypress", "key press to edited frame p50 vs a frame period", "key press p50", "ms",
	  "key_to_screen.p50_ms", "frame_period_ms", "key_to_screen.p50_frames", true, NULL, NULL,
	  NULL },
};
#define FIGURE_DEFS (sizeof(figure_defs) / sizeof(figure_defs[0]))

size_t bench_figures(const struct json *results, struct bench_figure *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < FIGURE_DEFS && n < max; i++) {
		const struct figure_def *d = &figure_defs[i];
		const struct json *part = json_get(results, d->part), *m;
		struct bench_figure *f = &out[n];
		double goal;

		if (!part || part->type != JSON_OBJECT)
			continue;
		memset(f, 0, sizeof(*f));
		f->part = d->part;
		f->figure = d->figure;
		f->label = d->label;
		f->unit = d->unit;
		f->lower_better = d->lower_better;
		f->reel = f->base = f->ratio = NAN;
		if (d->reel)
			json_number_at(part, d->reel, &f->reel);
		if (d->base)
			json_number_at(part, d->base, &f->base);
		/* A ratio of times or rates that are not both positive (noise) means nothing. */
		if (!d->ratio || !json_number_at(part, d->ratio, &f->ratio))
			f->ratio = f->reel > 0 && f->base > 0 ? f->reel / f->base : NAN;
		/* A figure the part did not report (a GStreamer skipped, one core) is left out. */
		if (isnan(f->ratio))
			continue;
		if (d->target)
			snprintf(f->target, sizeof(f->target), "%s", d->target);
		else if (d->goal && json_number_at(part, d->goal, &goal))
			snprintf(f->target, sizeof(f->target), "%s %.2fx", d->lower_better ? "<=" : ">=",
			         goal);
		m = d->met ? json_get(part, d->met) : NULL;
		f->met = m && m->type == JSON_BOOL ? m->boolean : -1;
		/* A target of the form "<= 1.5x" or ">= 0.9x" the part does not judge is judged here. */
		if (f->met < 0 && d->target) {
			double want;
			char op[3];

			if (sscanf(d->target, "%2s %lfx", op, &want) == 2 && (!strcmp(op, "<=") ||
			                                                       !strcmp(op, ">=")))
				f->met = op[0] == '<' ? f->ratio <= want : f->ratio >= want;
		}
		n++;
	}
	return n;
}

/* A value with its unit in a few characters. */
static const char *fmt_value(double v, const char *unit, char *buf, size_t len)
{
	if (isnan(v) || !unit) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (fabs(v) >= 1e6)
		snprintf(buf, len, "%.2fM %s", v / 1e6, unit);
	else if (fabs(v) >= 100000)
		snprintf(buf, len, "%.0fk %s", v / 1e3, unit);
	else if (fabs(v) >= 100)
		snprintf(buf, len, "%.0f %s", v, unit);
	else if (fabs(v) >= 10)
		snprintf(buf, len, "%.1f %s", v, unit);
	else
		snprintf(buf, len, "%.2f %s", v, unit);
	return buf;
}

static void print_table(const struct json *results, const struct machine *m,
                        const struct part_result *res, const bool *chosen)
{
	struct bench_figure figs[MAX_FIGURES];
	size_t n = bench_figures(results, figs, MAX_FIGURES);
	char a[32], b[32];

	printf("reel-bench all: %ld cores (%ld usable), %s, %.1f GiB, memcpy %.2f GB/s\n%s\n"
	       "buffers in %s (%s), %s\n\n", m->online, m->usable, m->cpu,
	       (double)m->mem_bytes / (1u << 30), m->memcpy_gbps, m->kernel, m->buffer_dir,
	       m->buffer_fs, m->date);
	printf("%-9s %-62s %12s %12s %8s %8s %s\n", "part", "figure", "reel", "baseline", "ratio",
	       "target", "");
	for (size_t i = 0; i < n; i++) {
		const struct bench_figure *f = &figs[i];
		char ratio[32];
		/* Two decimals, or two significant digits for the very small. */
		snprintf(ratio, sizeof(ratio), fabs(f->ratio) >= 0.1 ? "%.2fx" : "%.2gx", f->ratio);
		printf("%-9s %-62s %12s %12s %8s %8s %s\n", i == 0 || strcmp(f->part, figs[i - 1].part)
		       ? f->part : "", f->figure, fmt_value(f->reel, f->unit, a, sizeof(a)),
		       fmt_value(f->base, f->unit, b, sizeof(b)), ratio, f->target[0] ? f->target : "-",
		       f->met < 0 ? "" : met(f->met));
	}
	printf("\n(ratio: reel over the baseline as the part reports it; for times, lower is better)\n");
	printf("\nparts:");
	for (size_t i = 0; i < PARTS; i++) {
		if (!chosen[i])
			continue;
		if (res[i].state == PART_OK)
			printf(" %s ok (%.1f s);", parts[i].name, res[i].seconds);
		else
			printf(" %s %s (%s);", parts[i].name,
			       res[i].state == PART_SKIPPED ? "skipped" : "FAILED", res[i].why);
	}
	printf("\n");
}

/* The whole result as one JSON object. */
static void print_results(FILE *out, const struct machine *m, const struct part_result *res,
                          const bool *chosen, bool quick)
{
	unsigned failed = 0;

	fprintf(out, "{\"machine\":");
	print_machine_json(out, m);
	for (size_t i = 0; i < PARTS; i++) {
		if (!chosen[i])
			continue;
		fprintf(out, ",\n\"%s\":", parts[i].name);
		if (res[i].state == PART_OK) {
			fputs(res[i].json, out);
			continue;
		}
		fprintf(out, "{\"%s\":", res[i].state == PART_SKIPPED ? "skipped" : "failed");
		cli_json_string(out, res[i].why);
		fputc('}', out);
	}
	fprintf(out, ",\n\"all\":{\"quick\":%s,\"parts\":[", quick ? "true" : "false");
	for (size_t i = 0, k = 0; i < PARTS; i++) {
		static const char *const states[] = { "ok", "failed", "skipped" };
		if (!chosen[i])
			continue;
		fprintf(out, "%s{\"part\":\"%s\",\"status\":\"%s\",\"seconds\":%.1f}", k++ ? "," : "",
		        parts[i].name, states[res[i].state], res[i].seconds);
		failed += res[i].state == PART_FAILED;
	}
	fprintf(out, "],\"failed\":%u}}\n", failed);
}

static void all_usage(FILE *out)
{
	fprintf(out,
	        "usage: reel-bench all [--json] [--plot DIR] [--quick] [--only PART,...]\n"
	        "                      [--keypress] [--buffer-dir DIR]\n\n"
	        "Every part of reel-bench in turn, each as a child 'reel-bench PART --json'\n"
	        "(with its own defaults; --quick: smaller counts and one run each, for a smoke\n"
	        "run): ipc, rtt, open, effects, pipeline, edit-rtt, export, and keypress when\n"
	        "there is a display (DISPLAY; --keypress runs it anyway, under xvfb-run).\n"
	        "A part that fails is reported as failed and the others still run; the exit\n"
	        "status is then 1.  --only runs the parts named.\n\n"
	        "Prints a table of the figures that have a baseline (part, figure, reel,\n"
	        "baseline, ratio, target, met), or with --json one object:\n"
	        "  {\"machine\":{cores, cpu, memory, memcpy GB/s measured now, kernel, the\n"
	        "   buffer folder and its filesystem, date}, \"ipc\":{...}, \"rtt\":{...}, ...,\n"
	        "   \"all\":{\"quick\":..., \"parts\":[{part, status, seconds}], \"failed\":N}}\n"
	        "each part's object as it prints it; a part that failed or was skipped is\n"
	        "{\"failed\":\"why\"} or {\"skipped\":\"why\"}.\n\n"
	        "--plot DIR also writes DIR/results.json and charts as PNG with gnuplot (see\n"
	        "'reel-bench plot --help'); without gnuplot they are skipped with a note.\n");
}

/* --only's list into chosen[]: 0, or -1 after saying which name is unknown. */
static int choose_parts(const char *list, bool *chosen)
{
	memset(chosen, 0, PARTS * sizeof(*chosen));
	while (*list) {
		size_t n = strcspn(list, ","), i;
		for (i = 0; i < PARTS; i++)
			if (strlen(parts[i].name) == n && !strncmp(parts[i].name, list, n))
				break;
		if (i == PARTS)
			return fail("all: --only: no part '%.*s' (ipc, rtt, open, effects, pipeline, "
			            "edit-rtt, export, keypress)", (int)n, list), -1;
		chosen[i] = true;
		list += n;
		if (*list == ',')
			list++;
	}
	return 0;
}

int cmd_all(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "plot", required_argument, NULL, 'p' },
		{ "quick", no_argument, NULL, 'q' },
		{ "only", required_argument, NULL, 'o' },
		{ "keypress", no_argument, NULL, 'k' },
		{ "buffer-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct part_result res[PARTS];
	struct machine m;
	bool chosen[PARTS], json = false, quick = false, keypress = false;
	const char *plot_dir = NULL, *base = NULL;
	char self[PATH_MAX], results_path[PATH_MAX];
	unsigned failed = 0, n = 0, at = 0;
	ssize_t len;
	int opt, code = CLI_OK;

	for (size_t i = 0; i < PARTS; i++)
		chosen[i] = true;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'p': plot_dir = optarg; break;
		case 'q': quick = true; break;
		case 'o':
			if (choose_parts(optarg, chosen) < 0)
				return CLI_USAGE;
			break;
		case 'k': keypress = true; break;
		case 'd': base = optarg; break;
		case 'h': all_usage(stdout); return CLI_OK;
		default:
			return fail("all: unknown option '%s' (see 'reel-bench all --help')",
			            argv[optind - 1]), CLI_USAGE;
		}
	}
	if (argc - optind > 0)
		return fail("all: no argument is taken (see 'reel-bench all --help')"), CLI_USAGE;
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return fail("cannot find this program: %s", strerror(errno));
	self[len] = 0;
	if (plot_dir) {
		if (mkdir(plot_dir, 0755) < 0 && errno != EEXIST)
			return fail("%s: %s", plot_dir, strerror(errno));
		if ((size_t)snprintf(results_path, sizeof(results_path), "%s/results.json", plot_dir) >=
		    sizeof(results_path))
			return fail("%s: the path is too long", plot_dir), CLI_USAGE;
	}
	if (describe_machine(&m, base) < 0)
		return CLI_FAIL;

	memset(res, 0, sizeof(res));
	for (size_t i = 0; i < PARTS; i++)
		n += chosen[i];
	for (size_t i = 0; i < PARTS; i++) {
		if (!chosen[i])
			continue;
		if (parts[i].display && !m.display && !keypress) {
			res[i].state = PART_SKIPPED;
			snprintf(res[i].why, sizeof(res[i].why), "no display: DISPLAY is not set");
		} else {
			run_one(self, &parts[i], at, n, quick, base, &res[i]);
		}
		at++;
		if (progress) {
			note_done();
			if (res[i].state == PART_OK)
				fprintf(stderr, "all: %s: done in %.1f s\n", parts[i].name, res[i].seconds);
			else
				fprintf(stderr, "all: %s: %s: %s\n", parts[i].name,
				        res[i].state == PART_SKIPPED ? "skipped" : "FAILED", res[i].why);
		} else if (res[i].state == PART_FAILED) {
			fprintf(stderr, "reel-bench: all: %s failed: %s\n", parts[i].name, res[i].why);
		}
		failed += res[i].state == PART_FAILED;
	}
	note_done();

	{
		/* The result, as text, read back: the table and the charts come from it. */
		char *text = NULL, err[128];
		size_t size = 0;
		FILE *mem = open_memstream(&text, &size);
		struct json *results = NULL;

		if (mem) {
			print_results(mem, &m, res, chosen, quick);
			fclose(mem);
		}
		if (text)
			results = json_parse(text, err, sizeof(err));
		if (!results) {
			fail("all: the collected results do not read back as JSON: %s",
			     text ? err : "out of memory");
			code = CLI_FAIL;
		} else {
			if (json)
				fputs(text, stdout);
			else
				print_table(results, &m, res, chosen);
			fflush(stdout);
			if (plot_dir) {
				FILE *f = fopen(results_path, "w");
				if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
					fail("%s: %s", results_path, strerror(errno));
					code = CLI_FAIL;
				} else if (!m.gnuplot) {
					fprintf(stderr, "reel-bench: gnuplot is not installed (Debian: gnuplot-nox): "
					        "no charts\n");
				} else if (bench_plot(results, plot_dir) != CLI_OK) {
					code = CLI_FAIL;
				}
			}
		}
		json_free(results);
		free(text);
	}
	for (size_t i = 0; i < PARTS; i++)
		free(res[i].json);
	return failed ? CLI_FAIL : code;
}

/* ---------------------------------------------------------------- plot */

static void plot_usage(FILE *out)
{
	fprintf(out,
	        "usage: reel-bench plot RESULTS.json DIR\n\n"
	        "Charts of a result of 'reel-bench all --json' (or of a single part's --json,\n"
	        "as {\"PART\":{...}} or as it printed itself) as PNG in DIR, drawn by gnuplot\n"
	        "(Debian: gnuplot-nox), with their data (.dat) and the gnuplot script beside\n"
	        "them:\n"
	        "  ipc.png       IPC by mechanism: bulk GB/s with memcpy's, 1 KiB messages/s,\n"
	        "                and the frame hand-off next to raw frames in a pipe\n"
	        "  latency.png   round trips p50 and p99: the command bus (STATUS, NEED, an\n"
	        "                edit) next to the raw queue ping-pong and the IPC ping-pongs\n"
	        "  ratios.png    reel against each baseline, as reel's advantage (above 1: reel\n"
	        "                faster or cheaper), with a line at 1\n");
}

/* Read a whole file, NUL-terminated, malloc'ed; NULL with errno. */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t len = 0, cap = 65536;
	char *text = malloc(cap), *bigger;

	if (!f || !text) {
		if (f)
			fclose(f);
		free(text);
		return NULL;
	}
	for (;;) {
		size_t n = fread(text + len, 1, cap - len - 1, f);
		len += n;
		if (len + 1 < cap)
			break;
		bigger = cap < (256u << 20) ? realloc(text, cap * 2) : NULL;
		if (!bigger) {
			free(text);
			fclose(f);
			errno = EFBIG;
			return NULL;
		}
		text = bigger;
		cap *= 2;
	}
	text[len] = 0;
	if (ferror(f)) {
		free(text);
		text = NULL;
		errno = EIO;
	}
	fclose(f);
	return text;
}

int cmd_plot(int argc, char **argv)
{
	char tmp[PATH_MAX], err[128], *text;
	struct json *results, *bench;
	int code;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		plot_usage(stdout);
		return CLI_OK;
	}
	if (argc != 3)
		return fail("plot: RESULTS.json and DIR (see 'reel-bench plot --help')"), CLI_USAGE;
	if (bench_which("gnuplot", tmp, sizeof(tmp)) < 0)
		return fail("gnuplot is not installed (Debian: gnuplot-nox): no charts");
	text = read_file(argv[1]);
	if (!text)
		return fail("%s: %s", argv[1], strerror(errno)), CLI_USAGE;
	results = json_parse(text, err, sizeof(err));
	free(text);
	if (!results || results->type != JSON_OBJECT) {
		json_free(results);
		return fail("%s: not a JSON object: %s", argv[1], results ? "another value" : err),
		       CLI_USAGE;
	}
	/* One part's own object ({"bench":"ipc",...}) is plotted as {"ipc":{...}}. */
	bench = (struct json *)json_get(results, "bench");
	if (bench && bench->type == JSON_STRING) {
		struct json *wrap = calloc(1, sizeof(*wrap));
		if (!wrap || !(results->key = strdup(bench->string))) {
			free(wrap);
			json_free(results);
			return fail("out of memory");
		}
		wrap->type = JSON_OBJECT;
		wrap->child = results;
		results = wrap;
	}
	if (mkdir(argv[2], 0755) < 0 && errno != EEXIST) {
		json_free(results);
		return fail("%s: %s", argv[2], strerror(errno));
	}
	code = bench_plot(results, argv[2]);
	json_free(results);
	return code;
}
