/*
 * The state behind a struct reel_media, shared by the files of core/media/ and by no
 * other file: these files are the only ones that include libav headers.
 *
 * One read-only MAP_SHARED mapping of the source feeds two AVFormatContexts
 * through two AVIOContexts (each with its own read position): `video` is
 * used by the scan and the video decoder, `audio` only demuxes the audio
 * stream, so audio for a frame can be read wherever the video demuxer
 * stands, without seeking it back and forth.
 */
#ifndef REEL_MEDIA_PRIVATE_H
#define REEL_MEDIA_PRIVATE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

#include "buffer/buffer.h"
#include "media/media.h"

/*
 * The swscale flags of every YUV -> YUV420P conversion (see reel/media.h);
 * the PNG writer adds SWS_FULL_CHR_H_INT for its YUV -> RGB24 step.
 */
#define REEL__SWS_FLAGS (SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT)

/* A read position over the shared mapping, one per AVIOContext. */
struct reel__mapio {
	const uint8_t *data;
	size_t size;
	size_t pos;
	int fd;                     /* the source, for its current size */
	bool shrunk;                /* a read found the file shorter than its mapping */
	bool cancel;                /* atomic: set by another thread, the next read fails (AVERROR_EXIT) */
	/*
	 * Set by the index scan of a file whose demuxer has read every table
	 * at open and never looks into a sample's bytes (core/media/scan.c):
	 * reads are counted, not copied, so that the scan touches none of the
	 * file's pages.  The context is reopened afterwards.
	 */
	bool skip_copies;
};

/* The video demuxer, decoder and what the decoder is positioned on. */
struct reel__video {
	struct reel__mapio io;
	AVFormatContext *fmt;
	int stream;                 /* index in fmt */
	/*
	 * Two decoders of the stream: one thread, for a call that delivers a
	 * few frames from a seek (a frame-threaded decoder holds its first
	 * picture back until several packets are in: 35-65 ms against 25 for
	 * the first frame of 1080p H.264 here), and frame threads, opened when
	 * a longer run first needs them.  dec is the one in use; they are
	 * swapped only at a seek, and decode alike, bit for bit.
	 */
	AVCodecContext *dec;
	AVCodecContext *dec_single, *dec_threads;
	bool threads_failed;        /* the frame-threaded one could not be opened: one thread it is */
	AVPacket *pkt;
	AVFrame *frame;             /* the frame being delivered */
	AVFrame *pending;           /* decoded after `last`, kept for the next call */
	bool has_pending;
	bool fresh;                 /* fmt not read since it was opened */
	bool positioned;            /* dec fed in order, next_index is meaningful */
	bool draining;              /* demuxer at its end, decoder being drained */
	/* The highest dts read since the last seek or rewind, AV_NOPTS_VALUE before one (decode.c). */
	int64_t max_dts;
	uint64_t next_index;        /* the frame the decoder delivers next */
	uint64_t run_key;           /* the keyframe the decoder's run started from (its last seek) */

	/* cached converter: rebuilt only when the source or target changes */
	struct SwsContext *sws;
	int sws_src_w, sws_src_h, sws_src_fmt, sws_src_range;
	int sws_dst_w, sws_dst_h;
};

/* The audio demuxer and decoder, and the decoded samples not yet handed out. */
struct reel__audio {
	struct reel__mapio io;
	AVFormatContext *fmt;       /* NULL when the source has no audio (or it could not be opened) */
	int stream;                 /* index in fmt */
	/*
	 * The audio demuxer is opened by a thread of its own while the caller
	 * goes on (it parses the whole sample table again: 50 ms for an hour of
	 * mp4); fmt, stream and io belong to that thread until
	 * reel__media_audio_join().
	 */
	pthread_t opener;
	bool opening;
	/*
	 * Opened from the start, beside the video's demuxer, probing the file
	 * itself (both parse the container at once, on two cores): which stream
	 * is the sound is known only after the video's, so the join checks
	 * that the early context has want_index with want_codec, and opens
	 * again otherwise (-1: no sound wanted, the context is closed).
	 */
	bool early;
	int want_index;
	enum AVCodecID want_codec;
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *frame;
	struct SwrContext *swr;
	AVChannelLayout swr_in_layout;
	int swr_in_fmt, swr_in_rate;
	uint32_t out_rate, out_channels;
	bool fresh;                 /* fmt not read since it was opened */
	bool positioned;            /* buf continues the stream without a gap */
	bool eof;                   /* no more samples after buf_start + buf_len */
	/*
	 * Float32 interleaved samples of the global sample numbers
	 * [buf_start, buf_start + buf_len); a global sample number is a time
	 * on the container clock times out_rate.
	 */
	float *buf;
	size_t buf_cap, buf_len;    /* in samples per channel */
	int64_t buf_start;
};

struct reel_media {
	int fd;
	const uint8_t *map;
	size_t size;
	int64_t mtime_ns;
	int guard;                  /* the mapping's SIGBUS guard (base/guard.h); -1 none */
	char path[REEL_SOURCE_PATH_MAX];
	const AVInputFormat *iformat;
	int nb_streams;
	int audio_index;            /* of the best audio stream in video.fmt, -1 none */
	struct reel_media_info info;
	struct reel__video video;
	struct reel__audio audio;
	/*
	 * A local index (local-index.c): the entries of frames
	 * [island_first, island_first + island_count) found by demuxing the
	 * GOPs around a frame the background scan has not reached yet.
	 */
	struct reel_index_entry *island;
	uint64_t island_first, island_count, island_last;   /* last: the last frame decodable */
	bool island_checked;        /* compared with the scan's entries once they came */
	reel_progress_fn progress;  /* see reel_media_set_progress() */
	void *progress_data;
	char why[256];              /* the reason of the last refusal, "" when none */
	char scan_note[320];        /* why the last scan ended before the file did, "" when not */
	bool with_sound;            /* false: opened for the scan alone (reel_media_open_scan) */
	/*
	 * The source's identity (reel_media_source_id), hashed by a thread of
	 * its own from the moment the file is open, while the demuxer parses
	 * the container on the other core; hash_ret and hash belong to that
	 * thread until reel__media_hash_join().
	 */
	pthread_t hasher;
	bool hashing;
	int hash_ret;
	uint8_t hash[32];
};

/* ---- what reel accepts (accept.c) ---- */

/* Timestamps beyond +-2^62 are treated as missing: two believed times never overflow a sum. */
#define REEL__MEDIA_TS_MAX ((int64_t)1 << 62)

/* A demuxer (by libav's name, which may list several) reel lets read a source. */
bool reel__media_format_accepted(const char *name);
/* A codec reel lets decode, for a video or an audio stream. */
bool reel__media_codec_accepted(enum AVCodecID id, enum AVMediaType type);
/* The same lists as libav's format_whitelist and codec_whitelist options want them. */
const char *reel__media_format_whitelist(void);
const char *reel__media_codec_whitelist(void);
/* ts is a time reel believes: not AV_NOPTS_VALUE and within +-REEL__MEDIA_TS_MAX. */
bool reel__media_ts_ok(int64_t ts);
/*
 * A format whose clock may start again part-way (MPEG-TS, program
 * streams): its times can name two places, so it is sought by bytes, and
 * a time going back ends the video (core/media/scan.c).
 */
bool reel__media_clock_may_restart(const AVInputFormat *format);
/*
 * Whether a packet of `stream` with decode time dts starts the clock again
 * (more than a tenth of a second below *max_dts, the highest read so far,
 * AV_NOPTS_VALUE before one, which it keeps), in such a format.  The scan
 * ends the video there, and the decoder's reads end there too.
 */
bool reel__media_clock_restarts(const AVFormatContext *fmt, int stream, int64_t dts,
                                int64_t *max_dts);
/* printf into why (may be NULL). */
void reel__media_why(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Route libav's log into reel_log (once per process; every entry point that uses libav calls it). */
void reel__media_log_init(void);

/* Convert a libav error code to one of ours; AVERROR(e) stays -e. */
int reel__from_averror(int err);

/*
 * Open an AVFormatContext over the mapping through io (rewound to the
 * start), with every protocol refused.  When iformat is NULL the format is
 * probed.  find_info runs avformat_find_stream_info().
 */
int reel__media_open_format(struct reel_media *media, struct reel__mapio *io,
                            const AVInputFormat *iformat, bool find_info,
                            AVFormatContext **ret_fmt);
void reel__media_close_format(AVFormatContext **fmt);

/* Reopen the video demuxer at the start of the file (used by the scan after decoding). */
int reel__media_rewind_video(struct reel_media *media);

/*
 * Read the next packet of the video stream into v->pkt, as the decoder is
 * fed (decode.c); < 0 at the end or on damage.  Where the clock starts
 * again (reel__media_clock_restarts, since v->max_dts was last reset) the
 * scan ended the video: the end here too, so that no picture of the next
 * part is taken for one of this part with the same time.
 */
int reel__media_read_video_packet(struct reel__video *v);

/* What an H.264 packet's bytes say about where decoding may start (core/media/recovery.c). */
struct reel__h264_unit {
	bool idr;                   /* it holds a slice of an IDR picture */
	int recovery_frames;        /* its recovery-point SEI's recovery_frame_cnt; -1: none */
};
void reel__media_h264_look(const AVCodecParameters *par, const uint8_t *data, size_t size,
                           struct reel__h264_unit *ret_unit);
/*
 * The time of the first picture a decoder shows when fed the video from its
 * first keyframe on (AV_NOPTS_VALUE: none, or none with a time), for a
 * stream that starts at a recovery point (core/media/recovery.c).  The
 * video's demuxer is at the top of the file afterwards.
 */
int reel__media_first_shown_pts(struct reel_media *media, int64_t *ret_pts);

/* Allocate a decoder for a stream, with reel's limits, and open it. */
int reel__media_open_decoder(const AVStream *st, bool threads, AVCodecContext **ret_dec);

/* Free the decoders' state, converters and buffers (media-decode.c). */
void reel__media_decode_fini(struct reel_media *media);
/* Wait for the audio demuxer being opened (see struct reel__audio); the media's own thread only. */
void reel__media_audio_join(struct reel_media *media);

/*
 * The time of the end of the last frame: its pts plus `duration` when
 * positive, else plus the previous frame interval, else plus one nominal
 * frame interval.  Every timestamp is in time_base.
 */
int64_t reel__media_last_end(int64_t pts, int64_t duration, int64_t prev_pts,
                             struct reel_rational frame_rate, struct reel_rational time_base);

/* A time in time_base as a global audio sample number at rate (rounded to nearest). */
int64_t reel__media_sample_at(int64_t ts, struct reel_rational time_base, uint32_t rate);

/*
 * A frame view is writable picture memory: sizes within limits, YUV420P
 * plane sizes, strides that hold a row (media-image.c).
 */
bool reel__frame_view_valid(const struct reel_frame *f);

#endif
