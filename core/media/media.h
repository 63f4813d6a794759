/*
 * The source video: mapped read-only and fed to libavformat through our own
 * AVIOContext (no other protocol is allowed), with limits on pixels and
 * samples.  Only the files of core/media/ include libav headers.
 *
 * reel_media_open() probes the file; reel_media_scan() builds the frame
 * index with a demux-only pass (no decoding); a reel_decoder decodes frames
 * into buffer slots as YUV420P and float32 interleaved audio; a
 * reel_encoder writes frames into a file (the export).
 */
#ifndef REEL_MEDIA_H
#define REEL_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "buffer/buffer.h"

struct reel_media;

struct reel_media_info {
	uint32_t width, height;           /* as decoded */
	struct reel_rational frame_rate;  /* nominal (average) */
	struct reel_rational time_base;   /* of the video stream */
	uint32_t sample_rate, channels;   /* 0 when there is no audio */
	char codec[32];
	char pix_fmt[32];
	char container[32];
	int64_t duration_us;
	struct reel_source_format format;  /* the pictures before they become 8-bit 4:2:0 */
};

/*
 * Open path (a regular file; REEL_E_NOTREGULAR otherwise), probe it, pick
 * the best video stream.  REEL_E_BADMEDIA when libav cannot read it.
 */
int reel_media_open(const char *path, struct reel_media **ret_media);
/*
 * The same, with a one-line reason in why (may be NULL) on failure: the
 * container format or codec reel does not take (by name), no video
 * stream, a damaged header, a picture too large.  Only the demuxers and
 * decoders listed in core/media/accept.c run.
 */
int reel_media_open_why(const char *path, struct reel_media **ret_media, char *why,
                        size_t whylen);
/*
 * The same for a reader of the container alone (the background index
 * scan): the sound's demuxer and decoder are not opened, so its frames
 * cannot be decoded with their sound; the info still describes the sound.
 */
int reel_media_open_scan(const char *path, struct reel_media **ret_media, char *why,
                         size_t whylen);
void reel_media_close(struct reel_media *media);
/*
 * 0 while the source is whole; REEL_E_SOURCELOST once it is shorter than
 * when it was opened (one fstat), or a read stopped at its new end, or a
 * page of the mapping vanished (base/guard.h); -EIO once a page could not
 * be read.
 * A frame decoded after a loss may hold zeros: it is not to be trusted.
 */
int reel_media_lost(const struct reel_media *media);
const struct reel_media_info *reel_media_info(const struct reel_media *media);

/*
 * Size, mtime and a SHA-256 over the size, the first and last MiB and 64
 * blocks of 64 KiB spread evenly between (the whole file up to 2 MiB): at
 * most 6 MiB read.  Two sources are the same when size and hash are; the
 * mtime is a hint for people (a copy keeps matching).  Hashed by a thread
 * from the moment the source is opened, beside the container's parsing; the
 * first call waits for it, later ones are free.
 */
int reel_media_source_id(struct reel_media *media, struct reel_source_id *ret_id);
/* The same source: same size and hash (the mtime and path are hints). */
bool reel_media_same_source(const struct reel_source_id *a, const struct reel_source_id *b);

/* The one-line reason of the last refusal of reel_media_scan(), "" when none. */
const char *reel_media_why(const struct reel_media *media);
/*
 * Why the last scan ended before the file did, "" when it read it all: the
 * video's timestamps start again part-way (the frames after that point are
 * not numbered; see core/media/scan.c).  One line, for the user.
 */
const char *reel_media_scan_note(const struct reel_media *media);

/*
 * Called now and then during long work (the index scan) with the bytes
 * done and the total; a non-zero return cancels the work, which then
 * returns -ECANCELED.  fn NULL removes it.
 */
typedef int (*reel_progress_fn)(void *userdata, uint64_t done, uint64_t total);
void reel_media_set_progress(struct reel_media *media, reel_progress_fn fn, void *userdata);

/*
 * The most frames a source may have: 2^22, 19 hours at 60 fps (the index
 * and the per-frame tables stay under a few hundred MiB).  A source may
 * also not claim more than one frame per REEL_MEDIA_MIN_FRAME_BYTES bytes
 * of file (the smallest frame any container stores, dropped AVI frames
 * included, takes more), so that a small file cannot ask for a large index.
 */
#define REEL_MEDIA_MAX_FRAMES (UINT64_C(1) << 22)
#define REEL_MEDIA_MIN_FRAME_BYTES 4

/*
 * Demux-only scan: every video packet, sorted into presentation order
 * (entry count and pts as ffprobe lists the packets, less the decode-only
 * packets an mp4 edit list cuts away; a packet without pts takes its dts,
 * one without either the previous pts plus its duration).
 * *ret_entries is malloc'ed (caller frees) with *ret_count entries.
 * Also reports the largest number of audio samples per channel that fall
 * in one frame interval, for sizing slots (0 without audio; at most 4 s of
 * samples: a longer still frame keeps the start of its audio).  A truncated
 * or damaged file gives the packets demuxed before the damage; no video
 * packet at all is REEL_E_BADMEDIA.  More frames than the limits above is
 * REEL_E_TOOLARGE, found before the memory is taken.  Times beyond +-2^62
 * (in the stream's time base) are taken as missing.  A refusal leaves its
 * reason in reel_media_why().  Scanning after decoding is allowed.
 */
int reel_media_scan(struct reel_media *media, struct reel_index_entry **ret_entries,
                    uint64_t *ret_count, uint32_t *ret_max_audio_per_frame);

/*
 * The frame count of a container that lists its samples in its header
 * (mov, mp4: not fragmented, no sample past the end of the file, the first
 * sample one the decoder shows: a sync sample, an IDR picture in H.264), from
 * libav's index entries, without reading a packet: the same count the scan
 * gives.  *ret_max_audio_per_frame sizes the slots' sound before the
 * presentation times are known (from the samples' dts).  -ENOTSUP for any
 * other file: the scan is the way there.
 */
int reel_media_sample_table(struct reel_media *media, uint64_t *ret_count,
                            uint32_t *ret_max_audio_per_frame);

/*
 * For any other container (not mov or mp4): an upper bound of the frame count, from the
 * duration and the fastest frame rate the file declares (twice their
 * product, and 1024 frames more; within the scan's own limits), so that a
 * buffer can be made before the frames are counted.  -ENOTSUP when the
 * file declares no duration, or one guessed from its bit rate, or no
 * believable rate: the scan is the way there.  *ret_max_audio_per_frame as
 * above, from the nominal rate (at least a second).
 */
int reel_media_count_bound(struct reel_media *media, uint64_t *ret_bound,
                           uint32_t *ret_max_audio_per_frame);

/*
 * The scan, handing out the index as it goes: publish() gets the next
 * entries in presentation order as soon as no packet still to come can
 * sort before them (its pts is below the dts of the packet just read, and
 * no later packet's pts lies below its dts), so that frames can be served
 * while the rest of the file is scanned.  A stream whose dts goes back or
 * is missing publishes the rest at the end.  The entries are exactly those
 * reel_media_scan() gives, in the same order.  *ret_count gets the total;
 * a publish() < 0 stops the scan with that error.  REEL_E_INDEX if a packet
 * would sort before entries already published (pts below its dts).
 */
/*
 * A frame the background scan has not reached yet, numbered from the
 * sample table: demux the group of pictures it lies in and the ones around
 * it, and when they are closed (checked: see core/media/local-index.c) keep
 * their entries so that reel_media_decode() can serve frames up to
 * *ret_last without the index (the decoder is moved).  -ENOTSUP when the
 * file does not allow it (open groups, an edit list, no sample table):
 * wait for the scan.  Returns at once when the frame is already covered.
 */
int reel_media_local_index(struct reel_media *media, const struct reel_buffer *buffer,
                           uint64_t frame, uint64_t *ret_last);
/* true with *ret_last when the local index covers frame. */
bool reel_media_local_covers(const struct reel_media *media, uint64_t frame, uint64_t *ret_last);
/*
 * Once the scan has reached the local index: 1 when its entries are the
 * scan's, -1 when they differ (frames were served under other numbers: a
 * file whose groups only looked closed), 0 before, and after the answer.
 */
int reel_media_local_check(struct reel_media *media, const struct reel_buffer *buffer);

struct reel_media_scan_sink {
	int (*publish)(void *userdata, const struct reel_index_entry *entries, uint64_t n);
	void *userdata;
};
int reel_media_scan_progressive(struct reel_media *media, const struct reel_media_scan_sink *sink,
                                uint64_t *ret_count);

/*
 * Where decoded frames go.  begin() is asked for the destination of frame
 * `frame` (slot planes in the buffer, usually) and returns 0 with *ret_frame
 * filled, 1 to skip this frame, or < 0 to abort.  The decoder then writes
 * the picture (copied, or converted by swscale straight into the planes) and
 * the frame's audio, and calls end() with the number of samples per channel
 * written, or error != 0 when this frame could not be produced.  end()
 * returns 0 to go on, 1 to stop, < 0 to abort with that error.
 */
struct reel_sink {
	int (*begin)(void *userdata, uint64_t frame, struct reel_frame *ret_frame);
	int (*end)(void *userdata, uint64_t frame, uint32_t audio_samples, int32_t error);
	void *userdata;
	/*
	 * Optional: a picture that needs no conversion (8-bit 4:2:0, limited
	 * range, the buffer's size) is handed over as the decoder has it, for
	 * the sink to write where begin() said (the materialiser writes it
	 * through the file: reel_buffer_write_picture).  0 written; -ENOTSUP
	 * to have the decoder copy it into the planes instead; < 0 an error.
	 */
	int (*write_picture)(void *userdata, uint64_t frame, const uint8_t *const plane[3],
	                     const int linesize[3]);
	/*
	 * Optional: called before the decoder writes into begin()'s planes
	 * itself (a conversion, or write_picture declined), so that the sink
	 * makes them ready for writing only when they are written so (the
	 * materialiser reserves the slot then).  < 0 fails the frame.
	 */
	int (*prepare_planes)(void *userdata, uint64_t frame);
};

/*
 * Seek through the buffer's index to the keyframe at or before `frame`,
 * decode forward and hand every frame from there up to `last` to the sink
 * (frames before `frame` included: read-ahead for free).  Returns 0, or the
 * error that stopped it; a frame that fails alone goes to end() with its error.
 *
 * The decoder keeps its place between calls: when the next frame it would
 * deliver is at or before `frame` and no keyframe lies between, it decodes
 * on without seeking (playback, frame after frame, never seeks).  Decoded
 * pictures are matched to frames by pts; frames before the keyframe sought
 * to (open-GOP leading pictures) are never delivered.
 *
 * Pictures: a limited-range YUV420P picture of the buffer's size is copied
 * as is.  Anything else (10-bit, 4:2:2, 4:4:4, another size, full range) is
 * converted by swscale straight into the slot with the flags
 * SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT, after
 * sws_setColorspaceDetails(ctx, coefs, src_full, coefs, 0, 0, 1 << 16,
 * 1 << 16) with coefs = sws_getCoefficients(SWS_CS_DEFAULT), where src_full
 * is 1 for yuvj formats (given to swscale as their yuv twins) and for
 * color_range == AVCOL_RANGE_JPEG: the buffer is always limited range.
 *
 * Audio: frame f gets the samples whose time on the container clock lies in
 * [pts(f), pts(f + 1)), the bounds rounded to the nearest sample; the last
 * frame ends at its pts plus its decoded duration (or the previous
 * interval).  Samples are converted by swresample to float32 interleaved at
 * the buffer's rate and channel count, and cut at the slot's capacity.
 * Gaps in the audio are silence; audio outside the video's time is dropped.
 * After a seek, decoded audio is placed by its timestamp, so its position is
 * as exact as the container's clock (one sample in mp4, 1 ms in matroska).
 * Audio is read by its own demuxer and decoder, which seek 200 ms (or the
 * codec's pre-roll) ahead of what they need and start afresh near the top
 * of the file, so a frame's samples do not depend on the order frames were
 * asked in (except for codecs with decoder-side randomness, AAC PNS).
 */
int reel_media_decode(struct reel_media *media, const struct reel_buffer *buffer,
                      uint64_t frame, uint64_t last, const struct reel_sink *sink);

/*
 * Decode the picture of frame `frame` alone into dst (memory of the
 * caller's, laid out as a YUV420P frame of the buffer's size), exactly as
 * reel_media_decode() would write it into a slot.  dst's sound is not
 * touched.  REEL_E_DECODE when the frame cannot be decoded.
 */
int reel_media_decode_picture(struct reel_media *media, const struct reel_buffer *buffer,
                              uint64_t frame, const struct reel_frame *dst);

/*
 * The sound of frame `frame` into dst->audio (at most dst->audio_capacity
 * samples per channel of dst->channels), as reel_media_decode() puts it in
 * a slot, without decoding any picture; *ret_samples gets the count.  The
 * last frame of the video ends one frame interval after it starts (the
 * decoder would use the decoded picture's duration).
 */
int reel_media_decode_audio(struct reel_media *media, const struct reel_buffer *buffer,
                            uint64_t frame, const struct reel_frame *dst, uint32_t *ret_samples);

/* A time in time_base as a global sample number at rate (rounded to nearest), as the decoder places sound. */
int64_t reel_media_sample_at(int64_t ts, struct reel_rational time_base, uint32_t rate);

/*
 * A time as ffmpeg's -ss and -to read one ("6.5", "1:02.5", "00:01:02.5"),
 * in microseconds; -EINVAL when it is not one.
 */
int reel_media_parse_time(const char *text, int64_t *ret_us);

enum reel_image_format { REEL_IMAGE_PNG = 1, REEL_IMAGE_JPEG, REEL_IMAGE_YUV };

/* The image format a file name asks for by its extension (.png, .jpg/.jpeg, .yuv); -EINVAL otherwise. */
int reel_media_image_format(const char *path);

/* Matrices, as swscale numbers them (SWS_CS_ITU709, SWS_CS_ITU601). */
enum { REEL_MATRIX_BT709 = 1, REEL_MATRIX_BT601 = 5 };

/*
 * The matrix (REEL_MATRIX_*) a picture of the source's colorspace
 * (libav's AVColorSpace, as the buffer header records it) and height is
 * shown with: BT.709 or BT.601 when tagged so; untagged, BT.601 up to 576
 * lines and BT.709 above, as players and SDL guess.  The preview uses the
 * same rule.
 */
int reel_media_matrix(uint32_t colorspace, uint32_t height);

/*
 * Write one frame's picture to path, in the format its extension names:
 * PNG (converted to RGB24 by swscale with SWS_BICUBIC | SWS_ACCURATE_RND |
 * SWS_BITEXACT | SWS_FULL_CHR_H_INT, limited range in the matrix
 * reel_media_matrix() gives for colorspace in, full range out), JPEG
 * (full-range BT.601 YUV 4:2:0 as JFIF has it, quality 2), or the raw
 * YUV420P planes, rows packed without padding (width bytes per Y row,
 * (width + 1) / 2 per U and V row).  The file is created or truncated,
 * mode 0644 less the umask; on failure it is removed.  -EINVAL for another
 * extension.
 */
int reel_media_write_image(const char *path, const struct reel_frame *frame, int colorspace);
/* The same into an open file descriptor (standard output, a pipe). */
int reel_media_write_image_fd(int fd, int format, const struct reel_frame *frame, int colorspace);

/* ------------------------------------------------------------ encoding */

/*
 * The containers an export writes, named by a file's extension (.mp4,
 * .mkv, .mov, .nut, .y4m) or by name (mp4, matroska or mkv, mov, nut,
 * y4m): libav's muxer name, "y4m" for YUV4MPEG2 (written without libav),
 * or NULL for anything else.
 */
const char *reel_media_container_for_path(const char *path);
const char *reel_media_container_named(const char *name);

struct reel_encoder;

struct reel_encode_params {
	const char *container;             /* libav's muxer name, from the functions above */
	const char *video_codec;           /* an encoder's name; NULL: libx264 */
	int crf;                           /* < 0: the codec's default (libx264: 23) */
	const char *preset;                /* NULL: the codec's default (libx264: medium) */
	int threads;                       /* 0: as many as libav likes */
	uint32_t width, height;
	struct reel_rational time_base;    /* of the timestamps given to reel_encoder_send_picture() */
	struct reel_rational frame_rate;   /* nominal, for the encoder's rate control */
	int colorspace;                    /* libav's AVColorSpace of the pictures (the source's matrix) */
	const char *audio_codec;           /* NULL: aac; unused without sound */
	uint32_t sample_rate, channels;    /* of the sound given; 0: no sound track */
};

/*
 * Encoders and a muxer writing to fd (the caller's: left open; seeked when
 * it is a regular file, written in order when it is a pipe).  Pictures are
 * 8-bit 4:2:0 tagged limited range with params->colorspace; sound is
 * float32 interleaved, converted to what the audio encoder takes.
 * REEL_E_PARAM with a one-line reason in why for a codec libav does not
 * have, one the container cannot hold, one that does not take 8-bit 4:2:0,
 * or a --crf or --preset it does not know; another negative error for the
 * rest.  The container's header is written before it returns.
 */
int reel_encoder_open(int fd, const struct reel_encode_params *params,
                      struct reel_encoder **ret_encoder, char *why, size_t whylen);
/* Accepts NULL. */
void reel_encoder_free(struct reel_encoder *encoder);

/*
 * Memory for the next picture (ret_picture: the three planes, no sound),
 * the encoder's own: fill it, then send it.  Valid until the next call.
 */
int reel_encoder_picture(struct reel_encoder *encoder, struct reel_frame *ret_picture);
/*
 * Encode the picture last handed out, shown at pts for duration (both in
 * params->time_base; pts must grow).  May be called again for the same
 * picture with a later pts: a repeated frame costs no copy.
 */
int reel_encoder_send_picture(struct reel_encoder *encoder, int64_t pts, int64_t duration);
/* Append count samples per channel of sound (float32 interleaved) to the sound track. */
int reel_encoder_send_audio(struct reel_encoder *encoder, const float *samples, uint32_t count);
/* Flush the encoders and write the container's trailer. */
int reel_encoder_finish(struct reel_encoder *encoder);

#endif
