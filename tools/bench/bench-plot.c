/*
 * The charts of reel-bench all --plot and reel-bench plot: the figures of
 * a result written as gnuplot data files (.dat) and one script
 * (plots.gp) in the chart folder, then gnuplot run there as a child, so
 * that a chart can be redrawn or restyled by hand from what is beside it.
 */
#include "bench/bench.h"

#define MAX_ROWS 64

/* A label for a gnuplot data file: in double quotes, which labels here never hold. */
static void put_label(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		fputc(*s == '"' ? '\'' : *s, f);
	fputc('"', f);
}

static FILE *open_dat(const char *dir, const char *name)
{
	char path[PATH_MAX];
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	f = fopen(path, "w");
	if (f)
		fprintf(f, "# written by reel-bench; columns as plots.gp reads them\n");
	return f;
}

/* ipc-mech.dat: index, mechanism, bulk GB/s, 1 KiB messages (millions/s). */
static int write_ipc(const char *dir, const struct json *results, unsigned *ret_mechs,
                     unsigned *ret_frames, double *ret_memcpy)
{
	const struct json *ipc = json_get(results, "ipc"), *mechs = json_get(ipc, "mechanisms");
	static const char *const ways[][2] = {
		{ "frames.handoff_fps", "hand-off (8 bytes, read in place)" },
		{ "frames.pipe_fps", "raw frames, pipe (64 KiB)" },
		{ "frames.big_pipe_fps", "raw frames, 1 MiB pipe" },
		{ "frames.read_only_fps", "the reader alone (no IPC)" },
	};
	unsigned n = 0, k = 0;
	FILE *f;

	*ret_mechs = *ret_frames = 0;
	*ret_memcpy = NAN;
	if (!mechs || mechs->type != JSON_ARRAY)
		return 0;
	json_number_at(ipc, "memcpy_gbps", ret_memcpy);
	if (!(f = open_dat(dir, "ipc-mech.dat")))
		return -errno;
	for (const struct json *m = mechs->child; m; m = m->next) {
		const struct json *name = json_get(m, "name");
		double bulk, msgs;
		if (!name || name->type != JSON_STRING || !json_number_at(m, "bulk_gbps", &bulk) ||
		    !json_number_at(m, "msgs_per_s", &msgs))
			continue;
		fprintf(f, "%u ", n++);
		put_label(f, name->string);
		fprintf(f, " %.4f %.4f\n", bulk, msgs / 1e6);
	}
	if (fclose(f) != 0)
		return -errno;
	if (!(f = open_dat(dir, "ipc-frames.dat")))
		return -errno;
	for (size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
		double fps;
		if (!json_number_at(ipc, ways[w][0], &fps))
			continue;
		fprintf(f, "%u ", k++);
		put_label(f, ways[w][1]);
		fprintf(f, " %.2f\n", fps);
	}
	if (fclose(f) != 0)
		return -errno;
	*ret_mechs = n;
	*ret_frames = k;
	return 0;
}

/* latency.dat: index, what, p50 µs, p99 µs. */
static int write_latency(const char *dir, const struct json *results, unsigned *ret_rows)
{
	static const char *const rows[][3] = {
		{ "rtt.raw", "raw POSIX queues, 256 B", "" },
		{ "rtt.raw_spinning", "the same, spinning 50 us", "" },
		{ "rtt.status", "STATUS via the coordinator", "" },
		{ "rtt.need", "NEED of a resident frame", "" },
		{ "edit-rtt.command", "an edit, journaled (msync)", "" },
	};
	const struct json *mechs = json_get(results, "ipc.mechanisms");
	char p50[96], p99[96], label[96];
	unsigned n = 0;
	FILE *f = open_dat(dir, "latency.dat");

	*ret_rows = 0;
	if (!f)
		return -errno;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		double a, b;
		snprintf(p50, sizeof(p50), "%s.p50_us", rows[i][0]);
		snprintf(p99, sizeof(p99), "%s.p99_us", rows[i][0]);
		if (!json_number_at(results, p50, &a) || !json_number_at(results, p99, &b))
			continue;
		fprintf(f, "%u ", n++);
		put_label(f, rows[i][1]);
		fprintf(f, " %.3f %.3f\n", a, b);
	}
	for (const struct json *m = mechs && mechs->type == JSON_ARRAY ? mechs->child : NULL; m;
	     m = m->next) {
		const struct json *name = json_get(m, "name");
		double a, b;
		if (!name || name->type != JSON_STRING || !json_number_at(m, "rtt_p50_us", &a) ||
		    !json_number_at(m, "rtt_p99_us", &b))
			continue;
		snprintf(label, sizeof(label), "%s, 1 KiB", name->string);
		fprintf(f, "%u ", n++);
		put_label(f, label);
		fprintf(f, " %.3f %.3f\n", a, b);
	}
	if (fclose(f) != 0)
		return -errno;
	*ret_rows = n;
	return 0;
}

/* ratios.dat: index, figure, reel's advantage (above 1: reel better). */
static int write_ratios(const char *dir, const struct json *results, unsigned *ret_rows)
{
	struct bench_figure figs[MAX_ROWS];
	size_t n = bench_figures(results, figs, MAX_ROWS);
	unsigned k = 0;
	FILE *f = open_dat(dir, "ratios.dat");

	*ret_rows = 0;
	if (!f)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		double adv = figs[i].lower_better ? 1 / figs[i].ratio : figs[i].ratio;
		char label[96];
		if (!(adv > 0) || isinf(adv))
			continue;
		snprintf(label, sizeof(label), "%s: %s", figs[i].part, figs[i].label);
		fprintf(f, "%u ", k++);
		put_label(f, label);
		fprintf(f, " %.4f\n", adv);
	}
	if (fclose(f) != 0)
		return -errno;
	*ret_rows = k;
	return 0;
}

static const char *const style =
	"set terminal pngcairo size %u,%u font 'DejaVu Sans,10'\n"
	"set output '%s'\n"
	"set style fill solid 0.85 border -1\n"
	"set grid ytics lc rgb '#dddddd'\n"
	"set key top right\n"
	"set xtics rotate by -30 nomirror\n"
	"set ytics nomirror\n";

static void ipc_chart(FILE *gp, unsigned mechs, unsigned frames, double memcpy_gbps)
{
	fprintf(gp, style, 1500u, 560u, "ipc.png");
	fprintf(gp, "set multiplot layout 1,3 title 'reel-bench ipc: two processes, the receiver "
	            "reads every byte'\n");
	/* Room above the tallest bar for its label, and the memcpy line's key out of its way. */
	fprintf(gp, "set xrange [-0.6:%u.4]\nset yrange [0:*]\nset boxwidth 0.7\n"
	            "set offsets 0, 0, graph 0.1, 0\nset key top left\n", mechs - 1);
	fprintf(gp, "set title 'bulk, GB/s'\n");
	if (!isnan(memcpy_gbps))
		fprintf(gp, "plot 'ipc-mech.dat' using 1:3:xtic(2) with boxes lc rgb '#4c72b0' notitle, "
		            "'' using 1:3:(sprintf('%%.2f', $3)) with labels offset 0,0.7 notitle, "
		            "%.4f with lines dt 2 lc rgb 'black' title sprintf('memcpy %%.1f GB/s', %.4f)\n",
		        memcpy_gbps, memcpy_gbps);
	else
		fprintf(gp, "plot 'ipc-mech.dat' using 1:3:xtic(2) with boxes lc rgb '#4c72b0' notitle\n");
	fprintf(gp, "set title '1 KiB messages, millions/s'\n"
	            "plot 'ipc-mech.dat' using 1:4:xtic(2) with boxes lc rgb '#55a868' notitle, "
	            "'' using 1:4:(sprintf('%%.2f', $4)) with labels offset 0,0.7 notitle\n");
	if (frames) {
		fprintf(gp, "set xrange [-0.6:%u.4]\n", frames - 1);
		fprintf(gp, "set title '1080p frames to another process, frames/s'\n"
		            "plot 'ipc-frames.dat' using 1:3:xtic(2) with boxes lc rgb '#c44e52' notitle, "
		            "'' using 1:3:(sprintf('%%.0f', $3)) with labels offset 0,0.7 notitle\n");
	}
	fprintf(gp, "unset multiplot\nunset title\nunset xrange\nunset yrange\nunset offsets\n"
	            "set key top right\n");
}

static void latency_chart(FILE *gp, unsigned rows)
{
	fprintf(gp, style, 1200u, 560u, "latency.png");
	fprintf(gp, "set title 'round trips, p50 and p99 (microseconds, log scale)'\n"
	            "set logscale y\nset xrange [-0.6:%u.4]\nset boxwidth 0.34\n", rows - 1);
	fprintf(gp, "plot 'latency.dat' using ($1-0.18):3 with boxes lc rgb '#4c72b0' title 'p50', "
	            "'' using ($1+0.18):4:xtic(2) with boxes lc rgb '#dd8452' title 'p99', "
	            "'' using ($1-0.18):3:(sprintf('%%.1f', $3)) with labels offset 0,0.7 font ',8' "
	            "notitle, "
	            "'' using ($1+0.18):4:(sprintf('%%.1f', $4)) with labels offset 0,0.7 font ',8' "
	            "notitle\n");
	fprintf(gp, "unset logscale y\nunset title\nunset xrange\n");
}

static void ratios_chart(FILE *gp, unsigned rows)
{
	fprintf(gp, style, 1400u, 640u, "ratios.png");
	fprintf(gp, "set title \"reel against each baseline, as reel's advantage: the baseline's time "
	            "over reel's, or reel's rate over the baseline's\\n(above 1: reel faster or "
	            "cheaper; log scale)\"\n"
	            "set logscale y\nset xrange [-0.6:%u.4]\n", rows - 1);
	fprintf(gp, "plot 'ratios.dat' using 1:3:($1-0.35):($1+0.35):(1):3:($3 >= 1 ? 0x55a868 : "
	            "0xc44e52):xtic(2) with boxxyerror fs solid 0.85 lc rgb variable notitle, "
	            "'' using 1:($3 >= 1 ? $3 : 1/0):(sprintf($3 >= 100 ? '%%.0f' : '%%.2f', $3)) "
	            "with labels offset 0,0.7 font ',8' notitle, "
	            "'' using 1:($3 < 1 ? $3 : 1/0):(sprintf($3 >= 0.1 ? '%%.2f' : '%%.2g', $3)) "
	            "with labels offset 0,-0.7 font ',8' notitle, "
	            "1 with lines dt 2 lc rgb 'black' title 'even (1)'\n");
	fprintf(gp, "unset logscale y\nunset title\nunset xrange\n");
}

/* gnuplot plots.gp in dir, its words into dir/gnuplot.log (removed when it worked). */
static int run_gnuplot(const char *dir)
{
	char log[PATH_MAX];
	pid_t pid;
	int status;

	if ((size_t)snprintf(log, sizeof(log), "%s/gnuplot.log", dir) >= sizeof(log))
		return -ENAMETOOLONG;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || in < 0 || chdir(dir) < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 ||
		    dup2(fd, 2) < 0)
			_exit(127);
		execlp("gnuplot", "gnuplot", "plots.gp", (char *)NULL);
		_exit(127);
	}
	status = reap(pid, 120000);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "reel-bench: gnuplot failed on %s/plots.gp; it said:\n", dir);
		cli_show_log(log);
		return -EIO;
	}
	unlink(log);
	return 0;
}

int bench_plot(const struct json *results, const char *dir)
{
	char path[PATH_MAX], drawn[128] = "";
	unsigned mechs, frames, lat, ratios;
	double memcpy_gbps;
	FILE *gp;
	int r;

	if ((r = write_ipc(dir, results, &mechs, &frames, &memcpy_gbps)) < 0 ||
	    (r = write_latency(dir, results, &lat)) < 0 || (r = write_ratios(dir, results, &ratios)) < 0)
		return fail("%s: cannot write the chart data: %s", dir, strerror(-r));
	if ((size_t)snprintf(path, sizeof(path), "%s/plots.gp", dir) >= sizeof(path))
		return fail("%s: the path is too long", dir), CLI_USAGE;
	gp = fopen(path, "w");
	if (!gp)
		return fail("%s: %s", path, strerror(errno));
	fprintf(gp, "# The charts of reel-bench; run 'gnuplot plots.gp' in this folder to redraw them.\n");
	if (mechs) {
		ipc_chart(gp, mechs, frames, memcpy_gbps);
		strcat(drawn, " ipc.png");
	}
	if (lat) {
		latency_chart(gp, lat);
		strcat(drawn, " latency.png");
	}
	if (ratios) {
		ratios_chart(gp, ratios);
		strcat(drawn, " ratios.png");
	}
	if (fclose(gp) != 0)
		return fail("%s: %s", path, strerror(errno));
	if (!drawn[0]) {
		fprintf(stderr, "reel-bench: plot: no figure in the results to chart\n");
		return CLI_OK;
	}
	r = run_gnuplot(dir);
	if (r < 0)
		return r == -EIO ? CLI_FAIL : fail("gnuplot: %s", strerror(-r));
	fprintf(stderr, "reel-bench: charts in %s:%s%s%s\n", dir, drawn,
	        mechs ? "" : " (no ipc figures: no ipc.png)",
	        lat ? "" : " (no round trips: no latency.png)");
	return CLI_OK;
}
