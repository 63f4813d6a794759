#!/bin/sh
# make-media-seeds.sh OUTDIR: the seed corpus of fuzz-media, tiny real clips
# made with the ffmpeg command line tool from lavfi sources (a few KiB each:
# 64x48, a handful of frames), one per container and codec family reel
# takes, and a few damaged copies.  The seeds are committed (libFuzzer needs
# them before any build); run this again only to change them.
#   valid-*  must open, scan and decode at least one frame in the replay test
#   bad-*    must be refused with a reason
#   any other name: anything goes but a crash (damaged clips that may open)
# Four more are crafted byte by byte (a frame cut short, timestamps at and
# past 2^62 and 2^63, 20,000 one-byte frames in 23 KB) by
# `build/tests/fault/fault-inputs --write-seeds OUTDIR`; found-* are inputs
# the fuzzer once crashed on, kept as regression seeds.
set -eu
OUT=$1
mkdir -p "$OUT"
F="ffmpeg -nostdin -hide_banner -loglevel error -y"
V="-f lavfi -i testsrc2=size=64x48:rate=25:duration=0.24"
A="-f lavfi -i sine=frequency=440:sample_rate=8000:duration=0.24"
# shellcheck disable=SC2086
{
$F $V $A -c:v libx264 -preset veryfast -bf 2 -g 3 -pix_fmt yuv420p -c:a aac -b:a 16k -ac 1 "$OUT/valid-h264-aac.mp4"
$F $V -c:v libx264 -preset veryfast -pix_fmt yuv420p10le "$OUT/valid-h264-10bit.mkv"
$F $V $A -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 3 -b:v 50k -c:a libopus -b:a 16k -ar 48000 "$OUT/valid-vp9-opus.webm"
$F $V -c:v libvpx -deadline realtime -b:v 50k "$OUT/valid-vp8.webm"
$F $V -c:v libx265 -preset ultrafast -x265-params log-level=error:keyint=3 "$OUT/valid-hevc.mkv"
$F $V $A -c:v mpeg2video -g 3 -c:a mp2 -b:a 32k "$OUT/valid-mpeg2-mp2.ts"
$F $V -c:v mpeg1video "$OUT/valid-mpeg1.mpg"
$F $V $A -c:v mpeg4 -c:a pcm_s16le "$OUT/valid-mpeg4-pcm.avi"
$F $V -c:v mjpeg -q:v 10 "$OUT/valid-mjpeg.avi"
$F $V $A -c:v libtheora -c:a libvorbis "$OUT/valid-theora-vorbis.ogv"
$F $V -c:v libx264 -preset veryfast "$OUT/valid-h264.flv"
$F $V -c:v rawvideo -pix_fmt yuv420p -frames:v 2 "$OUT/valid-raw.nut"
$F $V -pix_fmt yuv420p -frames:v 2 "$OUT/valid-raw.y4m"
$F $V -c:v ffv1 -frames:v 2 "$OUT/valid-ffv1.mkv"
$F $V -c:v libaom-av1 -cpu-used 8 -b:v 30k -frames:v 3 "$OUT/valid-av1.ivf"
$F $V -c:v libx264 -preset veryfast -vf "setpts='if(lt(N,3),N*0.04,0.12+(N-3)*0.2)/TB'" -fps_mode passthrough "$OUT/valid-vfr.mkv"
$F $V -c:v wmv2 "$OUT/bad-wmv2.wmv"
$F $V -c:v gif "$OUT/bad-anim.gif"
}
# Damaged copies: cut, bytes overwritten in the middle, the header lost.
size=$(wc -c < "$OUT/valid-h264-aac.mp4")
head -c $((size / 2)) "$OUT/valid-h264-aac.mp4" > "$OUT/bad-truncated.mp4"
cp "$OUT/valid-mpeg2-mp2.ts" "$OUT/corrupt-middle.ts"
size=$(wc -c < "$OUT/corrupt-middle.ts")
head -c 600 /dev/zero | tr '\0' 'Z' | dd of="$OUT/corrupt-middle.ts" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
tail -c +200 "$OUT/valid-vp8.webm" > "$OUT/bad-headless.webm"
printf 'This is not a video.\n' > "$OUT/bad-text.txt"
: > "$OUT/bad-empty"
