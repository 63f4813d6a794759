#!/bin/sh
# make-clips.sh FFMPEG OUTDIR STAMP: the tiny test clips (filled in by the media work).
set -e
mkdir -p "$2"
touch "$3"
