#!/bin/sh
# make-clips.sh FFMPEG OUTDIR STAMP
#
# The tiny test clips every media test decodes, made from lavfi sources with
# the ffmpeg command line tool so that no media is committed.  Each clip is
# about 2 s at 25 fps and small, so the whole set takes a few seconds on two
# cores.  The output is written under a temporary name and renamed, so an
# interrupted run never leaves a half-written clip that looks finished, and a
# second run only redoes what is missing (idempotent).
#
# Good clips: H.264 with B-frames and a long-ish GOP (mp4, AAC without
# perceptual noise substitution, whose random noise a decoder cannot repeat
# after a seek, so that audio can be compared exactly), the same with PNS and
# faststart, ProRes 4:2:2
# 10-bit (mov, PCM), an odd-sized 97x55 H.264 4:4:4 (mp4) and FFV1 4:2:0
# (mkv), HEVC (mkv), VP9 (webm, Opus), MJPEG yuvj422p (avi), a variable frame
# rate H.264 (mkv), a video without audio (mp4), one too wide for reel, and
# one longer clip: 10 s, 250 frames of 160x120 H.264 with a fixed GOP of 50
# and AAC (mp4), for edits that span many work items.  MPEG-TS (H.264, AAC),
# alone and joined with cat to others whose timestamps start over, and
# picked up part-way: plain, with open groups, and with intra refresh.
# Bad inputs: an mp4 cut in half (index at the end: unreadable), a
# "faststart" mp4 cut in half (index intact, data missing), an mp4 with bytes
# overwritten in the middle, an empty file, a text file, and playlists (HLS,
# ffconcat) that point at another clip and must not be followed.
set -eu

FFMPEG=$1
OUT=$2
STAMP=$3
mkdir -p "$OUT"

# Clips made by another version of this script are made again: "exists"
# alone would keep a clip whose recipe has changed.
recipe=$(cksum < "$0")
if [ "$(cat "$OUT/.recipe" 2>/dev/null)" != "$recipe" ]; then
	find "$OUT" -mindepth 1 -delete
	printf '%s\n' "$recipe" > "$OUT/.recipe"
fi

# make NAME ffmpeg-arguments...: run ffmpeg into NAME unless it exists.
make() {
	name=$1
	shift
	[ -s "$OUT/$name" ] && return 0
	ext=${name##*.}
	"$FFMPEG" -nostdin -hide_banner -loglevel error -y "$@" "$OUT/.tmp-$name.$ext"
	mv "$OUT/.tmp-$name.$ext" "$OUT/$name"
}

SRC="-f lavfi -i testsrc2=size=320x240:rate=25:duration=2"
SINE44="-f lavfi -i sine=frequency=440:sample_rate=44100:duration=2"
SINE48="-f lavfi -i sine=frequency=660:sample_rate=48000:duration=2"

# shellcheck disable=SC2086
{
make h264-bframes.mp4 $SRC $SINE44 -c:v libx264 -preset veryfast -bf 3 -g 20 \
	-keyint_min 20 -sc_threshold 0 -pix_fmt yuv420p -c:a aac -aac_pns 0 -b:a 64k -ac 2
make h264-faststart.mp4 $SRC $SINE44 -c:v libx264 -preset veryfast -bf 2 -g 12 \
	-pix_fmt yuv420p -c:a aac -b:a 48k -movflags +faststart
make prores422-10.mov -f lavfi -i testsrc2=size=176x144:rate=25:duration=2 $SINE48 \
	-c:v prores_ks -profile:v 2 -pix_fmt yuv422p10le -c:a pcm_s16le
make odd-97x55.mp4 -f lavfi -i mandelbrot=size=97x55:rate=25 -t 2 \
	-c:v libx264 -preset veryfast -bf 2 -g 10 -pix_fmt yuv444p
make odd-97x55-ffv1.mkv -f lavfi -i mandelbrot=size=97x55:rate=25 -t 2 \
	-c:v ffv1 -pix_fmt yuv420p
make hevc.mkv -f lavfi -i testsrc2=size=192x108:rate=25:duration=2 $SINE48 \
	-c:v libx265 -preset ultrafast -x265-params log-level=error:keyint=15:min-keyint=15:bframes=3 \
	-pix_fmt yuv420p -c:a aac -aac_pns 0 -b:a 48k
make vp9.webm -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 $SINE48 \
	-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 15 -b:v 300k -c:a libopus -b:a 48k
make mjpeg.avi -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 \
	-c:v mjpeg -pix_fmt yuvj422p -q:v 4
# Frames 0-19 every 40 ms, then every 80 ms: variable frame rate.
make vfr.mkv -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 \
	-vf "setpts='if(lt(N,20),N*0.04,0.8+(N-20)*0.08)/TB'" -fps_mode passthrough \
	-c:v libx264 -preset veryfast -bf 2 -pix_fmt yuv420p
# Wider than reel's 16384-pixel limit (two frames, a few KiB).
make too-wide.mkv -f lavfi -i color=size=16400x16:rate=25:duration=0.08 -c:v ffv1
make noaudio.mp4 -f lavfi -i testsrc2=size=128x96:rate=25:duration=2 \
	-c:v libx264 -preset veryfast -pix_fmt yuv420p
# Full range, tagged BT.709: what an export must tag as limited range, BT.709.
make bt709-full.mp4 -f lavfi -i testsrc2=size=160x120:rate=25:duration=1 \
	-c:v libx264 -preset veryfast -pix_fmt yuvj420p -colorspace bt709 -color_primaries bt709 \
	-color_trc bt709 -color_range pc
# MPEG-TS, and three of them joined with cat: each starts its timestamps at
# the same 1.4 s, so the joined file's time starts again twice, over
# different pictures and sound (what a time seek must not land in).
make plain.ts -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 $SINE48 \
	-c:v libx264 -preset veryfast -bf 2 -g 10 -pix_fmt yuv420p -c:a aac -aac_pns 0 -b:a 48k
make other.ts -f lavfi -i smptebars=size=160x120:rate=25:duration=2 \
	-f lavfi -i sine=frequency=1500:sample_rate=48000:duration=2 \
	-c:v libx264 -preset veryfast -bf 2 -g 10 -pix_fmt yuv420p -c:a aac -aac_pns 0 -b:a 48k
# An MPEG program stream (MPEG-2 video, MP2 sound), the other format whose
# timestamps may start over, and whose reference pictures may lack a pts.
make mpeg2.mpg -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 $SINE48 \
	-c:v mpeg2video -bf 2 -g 12 -q:v 4 -c:a mp2 -b:a 128k
# AVI keeps decode times only: MPEG-4 part 2 with B-frames (libav fills in
# the B-frames' pts, not the others'), and H.264 with B-frames (no pts at all).
make divx.avi -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 $SINE48 \
	-c:v mpeg4 -bf 2 -g 12 -vtag DX50 -q:v 4 -c:a pcm_s16le
make h264.avi -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 $SINE48 \
	-c:v libx264 -preset veryfast -bf 3 -g 15 -pix_fmt yuv420p -c:a pcm_s16le
# Open groups of pictures in AVI: an I-frame is listed (and flagged) where
# it is decoded, after the B-frames shown before it that need the group before.
make opengop.avi -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 \
	-c:v libx264 -preset veryfast -bf 3 -x264-params open-gop=1:keyint=12:min-keyint=12:scenecut=0 \
	-pix_fmt yuv420p
make other.mpg -f lavfi -i smptebars=size=160x120:rate=25:duration=2 \
	-f lavfi -i sine=frequency=1500:sample_rate=48000:duration=2 \
	-c:v mpeg2video -bf 2 -g 12 -q:v 4 -c:a mp2 -b:a 128k
# Open groups in MPEG-TS, to be picked up part-way.
make opengop.ts -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 \
	-c:v libx264 -preset veryfast -bf 3 -x264-params open-gop=1:keyint=12:min-keyint=12:scenecut=0 \
	-pix_fmt yuv420p
# Intra refresh in MPEG-TS, headers repeated, to be picked up part-way: no
# IDR picture after the first, so it is entered at a recovery point, and the
# decoder shows nothing until the refresh has gone round once.
make irefresh.ts -f lavfi -i testsrc2=size=160x120:rate=25:duration=6 \
	-c:v libx264 -preset veryfast -bf 2 -x264-params intra-refresh=1:keyint=25:repeat-headers=1 \
	-pix_fmt yuv420p
make long.mp4 -f lavfi -i testsrc2=size=160x120:rate=25:duration=10 \
	-f lavfi -i sine=frequency=440:sample_rate=44100:duration=10 \
	-c:v libx264 -preset veryfast -bf 3 -g 50 -keyint_min 50 -sc_threshold 0 -pix_fmt yuv420p \
	-c:a aac -aac_pns 0 -b:a 64k -ac 2
}

# Picked up part-way: from a third on (whole 188-byte packets), so that it
# starts inside a group of pictures whose keyframe it does not have.
from_a_third() {
	[ -s "$OUT/$2" ] && return 0
	size=$(wc -c < "$OUT/$1")
	tail -c +$((size / 3 / 188 * 188 + 1)) "$OUT/$1" > "$OUT/.tmp-$2"
	mv "$OUT/.tmp-$2" "$OUT/$2"
}
from_a_third plain.ts midstart.ts
from_a_third opengop.ts midstart-open.ts
from_a_third irefresh.ts midstart-irefresh.ts
# The same remuxed into mp4, whose sample table lists every packet from the
# cut on: the first sample shown comes a refresh period in.
make midstart-irefresh.mp4 -i "$OUT/midstart-irefresh.ts" -c copy

if [ ! -s "$OUT/joined.ts" ]; then
	cat "$OUT/plain.ts" "$OUT/other.ts" "$OUT/other.ts" > "$OUT/.tmp-joined.ts"
	mv "$OUT/.tmp-joined.ts" "$OUT/joined.ts"
fi
if [ ! -s "$OUT/joined.mpg" ]; then
	cat "$OUT/mpeg2.mpg" "$OUT/other.mpg" "$OUT/other.mpg" > "$OUT/.tmp-joined.mpg"
	mv "$OUT/.tmp-joined.mpg" "$OUT/joined.mpg"
fi

cut_half() {
	[ -s "$OUT/$2" ] && return 0
	size=$(wc -c < "$OUT/$1")
	head -c $((size / 2)) "$OUT/$1" > "$OUT/.tmp-$2"
	mv "$OUT/.tmp-$2" "$OUT/$2"
}
cut_half h264-bframes.mp4 truncated.mp4
cut_half h264-faststart.mp4 truncated-faststart.mp4

# Cut by stream copy away from a keyframe: the mp4 edit list makes the
# packets before the cut decode-only (discarded).
make cut.mp4 -ss 0.5 -i "$OUT/h264-bframes.mp4" -c copy -t 1

if [ ! -s "$OUT/corrupt.mp4" ]; then
	cp "$OUT/h264-faststart.mp4" "$OUT/.tmp-corrupt.mp4"
	size=$(wc -c < "$OUT/.tmp-corrupt.mp4")
	# 16 KiB of a fixed pattern over the middle of the media data.
	awk 'BEGIN { for (i = 0; i < 16384; i++) printf "%c", 33 + (i * 7919) % 90 }' |
		dd of="$OUT/.tmp-corrupt.mp4" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
	mv "$OUT/.tmp-corrupt.mp4" "$OUT/corrupt.mp4"
fi

: > "$OUT/empty.mp4"
printf 'This is not a video.\nJust some text.\n' > "$OUT/text.mp4"
printf '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nnoaudio.mp4\n#EXT-X-ENDLIST\n' \
	> "$OUT/playlist.m3u8"
# Relative names only: the concat demuxer's own "safe" check would refuse an
# absolute one before reel's refusal to open anything by name is reached.
printf 'ffconcat version 1.0\nfile noaudio.mp4\nfile vp9.webm\n' > "$OUT/list.ffconcat"

touch "$STAMP"
