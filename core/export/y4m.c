/*
 * YUV4MPEG2 (see export.h): what ffmpeg, ffplay, x264 and mpv read from a
 * pipe.  The header says 4:2:0 with MPEG-2 chroma siting (that of H.264
 * and of every 4:2:0 source reel copies as is) and limited range, which is
 * what the buffer holds; frames follow with no timestamps, at the nominal
 * rate the header names.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

#include "export/export.h"

#define MAX_IOV 64

/* writev until every byte is out (iov is changed). */
static int write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int reel_y4m_write_header(int fd, uint32_t width, uint32_t height, struct reel_rational rate)
{
	char line[160];
	struct iovec iov;
	int n;

	if (width == 0 || height == 0 || rate.num <= 0 || rate.den <= 0)
		return -EINVAL;
	n = snprintf(line, sizeof(line), "YUV4MPEG2 W%u H%u F%d:%d Ip A1:1 C420mpeg2 XYSCSS=420MPEG2 "
	             "XCOLORRANGE=LIMITED\n", width, height, rate.num, rate.den);
	iov = (struct iovec){ line, (size_t)n };
	return write_all(fd, &iov, 1);
}

int reel_y4m_write_frame(int fd, const struct reel_frame *f)
{
	static const char tag[] = "FRAME\n";
	struct iovec iov[MAX_IOV];
	int n = 0, r;

	iov[n++] = (struct iovec){ (void *)tag, sizeof(tag) - 1 };
	for (int i = 0; i < 3; i++) {
		/* Rows packed: the plane in one piece; else row by row. */
		bool packed = f->stride[i] == f->width[i];
		uint32_t rows = packed ? 1 : f->height[i];
		size_t len = packed ? (size_t)f->width[i] * f->height[i] : f->width[i];

		for (uint32_t y = 0; y < rows; y++) {
			if (n == MAX_IOV) {
				r = write_all(fd, iov, n);
				if (r < 0)
					return r;
				n = 0;
			}
			iov[n++] = (struct iovec){ f->plane[i] + (size_t)y * f->stride[i], len };
		}
	}
	return write_all(fd, iov, n);
}
