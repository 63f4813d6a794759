/*
 * Shared by the buffer's fault tests: real coordinators started and stopped,
 * frames read through the client library as `reel frame` reads them.
 */
#include "buffer-faults.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buffer/buffer.h"
#include "reel/client.h"
#include "reel/frame.h"
#include "testutil.h"

const char *bf_reel(void)
{
	const char *bin = getenv("REEL_BIN");

	return bin ? bin : "reel";
}

pid_t bf_open(const char *video, const char *session, const char *buffer, const char *log,
              const char *const *extra, int *ret_exit)
{
	char *argv[24];
	int n = 0;
	pid_t pid;

	argv[n++] = (char *)bf_reel();
	argv[n++] = "open";
	argv[n++] = (char *)video;
	argv[n++] = "--session";
	argv[n++] = (char *)session;
	argv[n++] = "--buffer";
	argv[n++] = (char *)buffer;
	argv[n++] = "--no-stages";
	argv[n++] = "--no-preview";
	for (int i = 0; extra && extra[i] && n < 23; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	pid = tu_spawn(argv, log);
	if (pid < 0)
		return -1;
	for (int i = 0; i < 4000; i++) {
		struct reel_client *c;
		int st;

		if (reel_client_connect(session, &c) == 0) {
			reel_client_close(c);
			return pid;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			if (ret_exit)
				*ret_exit = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			return -1;
		}
		usleep(5000);
	}
	kill(pid, SIGKILL);
	tu_wait(pid, 5000);
	if (ret_exit)
		*ret_exit = -1;
	return -1;
}

int bf_stop(const char *session, pid_t pid)
{
	char *argv[] = { (char *)bf_reel(), "stop", (char *)session, NULL };
	char *out = NULL, *err = NULL;
	int st;

	tu_run(argv, &out, &err);
	free(out);
	free(err);
	st = tu_wait(pid, 15000);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

size_t bf_frame_bytes(uint32_t width, uint32_t height)
{
	size_t cw = (width + 1) / 2, ch = (height + 1) / 2;

	return (size_t)width * height + 2 * cw * ch;
}

static void pack(const struct reel_frame *f, uint8_t *out)
{
	for (int i = 0; i < 3; i++) {
		for (uint32_t y = 0; y < f->height[i]; y++) {
			memcpy(out, f->plane[i] + (size_t)y * f->stride[i], f->width[i]);
			out += f->width[i];
		}
	}
}

int bf_read_frames(const char *session, uint64_t first, uint64_t count, uint8_t *out,
                   int *errors)
{
	struct reel_client *c;
	struct reel_video_info vi;
	struct reel_frame f;
	size_t bytes;
	int r, n = 0;

	r = reel_client_connect(session, &c);
	if (r < 0)
		return r;
	r = reel_client_video(c, &vi);
	if (r < 0)
		goto out_close;
	vi.channels = 0;
	r = reel_frame_alloc(&vi, &f);
	if (r < 0)
		goto out_close;
	bytes = bf_frame_bytes(vi.width, vi.height);
	for (uint64_t i = 0; i < count; i++) {
		r = reel_client_read_frame(c, first + i, REEL_READ_SETTLED, REEL_PRIO_INTERACTIVE, 20000, &f,
		                           NULL);
		if (errors)
			errors[i] = r;
		if (r == 0) {
			pack(&f, out + i * bytes);
			n++;
		} else {
			memset(out + i * bytes, 0, bytes);
		}
	}
	reel_frame_free(&f);
	r = n;
out_close:
	reel_client_close(c);
	return r;
}

void bf_pack_slot(struct reel_buffer *buffer, uint32_t slot, uint8_t *out)
{
	struct reel_frame f;

	if (reel_buffer_frame(buffer, slot, &f) == 0)
		pack(&f, out);
}

int bf_copy_file(const char *from, const char *to)
{
	size_t len;
	char *data = tu_slurp(from, &len);
	int r;

	if (!data)
		return -errno ? -errno : -EIO;
	r = tu_write_file(to, data, len);
	free(data);
	return r;
}

uint64_t bf_rand(uint64_t *state)
{
	/* splitmix64 */
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint8_t *bf_reference(const char *session, const char *buffer, struct reel_buffer_info *ret_info,
                      size_t *ret_frame_bytes)
{
	struct reel_buffer *b;
	uint8_t *ref = NULL;
	int errors[512];

	if (reel_buffer_open_readonly(buffer, &b) < 0)
		return NULL;
	*ret_info = *reel_buffer_info(b);
	reel_buffer_close(b);
	*ret_frame_bytes = bf_frame_bytes(ret_info->width, ret_info->height);
	if (ret_info->frame_count <= 512)
		ref = calloc(ret_info->frame_count, *ret_frame_bytes);
	if (ref && bf_read_frames(session, 0, ret_info->frame_count, ref, errors) !=
	               (int)ret_info->frame_count) {
		free(ref);
		ref = NULL;
	}
	return ref;
}
