/*
 * Shared pieces of the command line tools: the subcommands of `reel`, and
 * small helpers for arguments and output.
 */
#ifndef REEL_CLI_H
#define REEL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Exit codes: 0 ok, 1 failure at run time, 2 bad input or usage. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cmd_inspect(int argc, char **argv);
int cmd_open(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_frame(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_undo(int argc, char **argv);
int cmd_redo(int argc, char **argv);
int cmd_edits(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* Set by --verbose (taken by reel's main wherever it stands). */
extern bool cli_verbose;

/* The program that names itself in messages: "reel", unless a program of its own says otherwise. */
extern const char *cli_program;

/* "reel <cmd>: <message>" (cli_program) on stderr, only with --verbose. */
__attribute__((format(printf, 2, 3)))
void cli_say(const char *cmd, const char *fmt, ...);

/* "reel <cmd>: <message>" (cli_program; no cmd: "reel: ...") on stderr; returns code. */
__attribute__((format(printf, 3, 4)))
int cli_error(int code, const char *cmd, const char *fmt, ...);

/*
 * The error line for what getopt_long() returned as '?' or ':' (optstring
 * must start with ':'); returns CLI_USAGE.
 */
int cli_bad_option(const char *cmd, int opt, char **argv);

/* A picture size "WxH", both even, 16x16 to 7680x4320; -EINVAL on anything else. */
int cli_parse_picture_size(const char *text, uint32_t *ret_width, uint32_t *ret_height);

/* Parse "512M", "2G", "1048576" into bytes; -EINVAL on anything else. */
int cli_parse_size(const char *text, uint64_t *ret_bytes);
/* Parse a non-negative integer that fits in int64; -EINVAL otherwise. */
int cli_parse_u64(const char *text, uint64_t *ret_value);
/* Print s as a JSON string literal (quotes and escapes included). */
void cli_json_string(FILE *out, const char *s);
/* Human size: "1.5 GiB". */
const char *cli_human_size(uint64_t bytes, char *buf, size_t len);
/*
 * Fork and exec argv (argv[0] looked up in PATH), stdin from /dev/null,
 * stdout and stderr into log_path (or /dev/null).  The pid, or -errno.
 */
pid_t cli_spawn(char *const argv[], const char *log_path);

/* `reel open VIDEO --session S --buffer B --no-stages --no-preview` as a child, as cli_spawn(). */
pid_t cli_spawn_open(const char *reel, const char *video, const char *session, const char *buffer,
                     const char *log_path);

/*
 * Wait until `session` accepts a connection (*ret_client), polling every
 * 0.5 ms: 0, -ECHILD when `pid` exited first (its wait status in
 * *ret_status), or -ETIMEDOUT.
 */
struct reel_client;
int cli_wait_session(const char *session, pid_t pid, int timeout_ms,
                     struct reel_client **ret_client, int *ret_status);

/* The end (last 2 KiB) of a log file on stderr: what a child said before it failed. */
void cli_show_log(const char *path);

struct reel_source_format;
/*
 * The source's pictures in words ("yuv422p10le, 10-bit 4:2:2, full range"),
 * and whether the buffer's 8-bit 4:2:0 limited range changed them (1: it
 * did; 0: kept as is; -1: not known, a buffer made without the format).
 */
int cli_describe_format(const struct reel_source_format *f, char *buf, size_t len);

/* The live session whose coordinator holds buffer_path, in name; -ENOENT when none. */
int cli_session_of_buffer(const char *buffer_path, char *name, size_t len);

/* True when stderr is a terminal (progress lines are shown only then). */
bool cli_progress_enabled(void);

#endif
