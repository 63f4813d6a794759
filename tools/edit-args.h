/*
 * One way to write an edit on the command line, shared by `reel send`,
 * `reel open --edits FILE` and `reel edits` (which prints edits this way):
 *
 *     OP [PARAMS...] [--frames A-B | --time T1-T2]
 *
 * Frames are numbers in presentation order: "A-B", "A" or "A-" (to the
 * end).  Times are read as ffmpeg's -ss and -to read them ("6.5",
 * "1:02.5", "00:01:02.5") and mapped through the frame index's real
 * timestamps, on the source's clock (from the container's start, as
 * ffmpeg counts): T1-T2 names the frames that start
 * from T1 up to, not including, T2 (as ffmpeg's -ss T1 -to T2 keeps them);
 * a single T names the first frame that starts at or after T (the frame
 * `ffmpeg -ss T` decodes first).  No range is the whole video.
 */
#ifndef REEL_EDIT_ARGS_H
#define REEL_EDIT_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct reel_buffer;

struct cli_edit {
	uint32_t op;
	double params[4];
	int64_t first, last;
};

/*
 * Parse argv[0..argc) (argv[0] is the op) against the video in buffer.  0,
 * or -1 with a one-line reason in why.  The edit is checked against the op
 * table and the video as the coordinator will check it.
 */
int cli_parse_edit(int argc, char **argv, const struct reel_buffer *buffer, struct cli_edit *ret,
                   char *why, size_t whylen);

/*
 * A frame named by a time (as --time reads it, a single T: the first frame
 * that starts at or after T) in the video of buffer.  0, or -1 with a
 * reason in why.
 */
int cli_frame_at(const struct reel_buffer *buffer, const char *time, int64_t *ret_frame, char *why,
                 size_t whylen);
/*
 * Wait until the session's frame index is complete (it is built in the
 * background after the first open of a file: about a second per hour of
 * video), at most a minute.  0, REEL_E_NOTYET when it did not end, or the
 * error the background scan stopped on.
 */
int cli_wait_index(const struct reel_buffer *buffer);

/*
 * A range of frames from --frames A-B (also A or A-) or --time T1-T2 (one
 * of them, or neither: the whole video), inside the video of buffer.  0, or
 * -1 with a one-line reason in why.
 */
int cli_parse_range(const char *frames, const char *times, const struct reel_buffer *buffer,
                    int64_t *ret_first, int64_t *ret_last, char *why, size_t whylen);
/* A frame's start in seconds on the source's clock (see reel_index_seconds). */
double cli_frame_seconds(const struct reel_buffer *buffer, int64_t frame);

/* The edit as a line cli_parse_edit() reads back ("brightness 0.1 --frames 0-299"). */
void cli_format_edit(FILE *out, uint32_t op, const double params[4], int64_t first, int64_t last);

/* The list of ops and their parameters, for --help. */
void cli_print_ops(FILE *out);

/* Split a line into words at blanks, up to max; '#' starts a comment.  The count. */
int cli_split_words(char *line, char **words, int max);

#endif
