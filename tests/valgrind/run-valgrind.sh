#!/bin/sh
# The command line paths of reel under valgrind memcheck: every run must end
# with no memory error and no definite leak (exit 99 otherwise), and with the
# exit status the command would have without valgrind.  A real session is
# opened (coordinator under valgrind too), looked at, edited, exported from
# and stopped; then the buffer it left is listed, inspected and read.  Error
# paths are run as well (a damaged buffer, a session that is not there):
# that is where a leak hides.
#
#   run-valgrind.sh REEL CLIP SUPPRESSIONS SHIM
#
# SHIM is a preload library for one valgrind limitation (see
# hwy-rdtscp-shim.c): it is used only when valgrind cannot start reel
# without it, and the output says so.
set -u

# meson hands built files over relative to the build folder.
reel="$(realpath "$1")" clip="$(realpath "$2")" supp="$(realpath "$3")" shim="$(realpath "$4")"

if ! command -v valgrind >/dev/null; then
	echo "1..0 # SKIP valgrind is not installed (tools/run installs it)"
	exit 0
fi
tmp="$(mktemp -d)"
coord=""
cleanup() {
	# A coordinator still running after a failure: stopped, then waited for.
	if [ -n "$coord" ] && kill -0 "$coord" 2>/dev/null; then
		kill "$coord" 2>/dev/null
		wait "$coord" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 1" INT TERM
mkdir -m 700 "$tmp/run" "$tmp/buffers"
export REEL_RUNTIME_DIR="$tmp/run" REEL_BUFFER_DIR="$tmp/buffers"
unset DISPLAY WAYLAND_DISPLAY
session="vg$$"

vg() { # vg NAME COMMAND...: the command under memcheck, its log in $tmp/NAME.log
	name="$1"; shift
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite --track-origins=yes --num-callers=40 \
		--suppressions="$supp" --log-file="$tmp/$name.log" "$@"
}

# vg_bg: as vg, for a program started with &: the background subshell becomes
# valgrind (exec), so $! is the process to signal and to wait for.
vg_bg() {
	name="$1"; shift
	exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite --track-origins=yes --num-callers=40 \
		--suppressions="$supp" --log-file="$tmp/$name.log" "$@"
}

n=0 failed=0
# result NAME STATUS WANT: one TAP line; the valgrind log and stderr when it failed.
result() {
	n=$((n + 1))
	if [ "$2" -eq "$3" ]; then
		echo "ok $n - $1"
		return 0
	fi
	failed=$((failed + 1))
	if [ "$2" -eq 99 ]; then
		echo "not ok $n - $1: memcheck found errors"
	else
		echo "not ok $n - $1: exit status $2, expected $3"
	fi
	sed 's/^/# /' "$tmp/$1.log" "$tmp/$1.err" 2>/dev/null | head -200
	return 1
}
# step NAME WANT COMMAND...: run reel's COMMAND under memcheck and report it.
step() {
	name="$1" want="$2"; shift 2
	started=$(date +%s)
	vg "$name" "$reel" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	status=$?
	echo "# $name: $(($(date +%s) - started)) s"
	result "$name" $status "$want"
}

# Valgrind 3.19 decodes RDTSCP only when CPUID announces it; some virtual
# CPUs run it without announcing it, and libhwy (libavcodec -> libjxl) runs
# it in a constructor, so reel would die of SIGILL before main.
if ! valgrind --error-exitcode=99 "$reel" --version >/dev/null 2>"$tmp/probe.err"; then
	if grep -q 'Unrecognised instruction' "$tmp/probe.err" && grep -q libhwy "$tmp/probe.err"; then
		echo "# valgrind cannot decode libhwy's RDTSCP on this CPU: preloading $(basename "$shim")"
		export LD_PRELOAD="$shim${LD_PRELOAD:+:$LD_PRELOAD}"
	else
		echo "1..0 # SKIP valgrind cannot run reel here: $(sed 's/^==[0-9]*== *//' "$tmp/probe.err" |
			grep -m1 .)"
		exit 0
	fi
fi

step help 0 --help
step version 0 --version
step usage-error 2 send
step open-missing 2 open "$tmp/no-such-video.mp4" --no-stages --no-preview
step open-text 2 open "$(dirname "$clip")/text.mp4" --no-stages --no-preview

# A session: the coordinator in the background, clients against it.
vg_bg open "$reel" open "$clip" --session "$session" --no-stages --no-preview \
	>"$tmp/open.out" 2>"$tmp/open.err" &
coord=$!
tries=0
until "$reel" status "$session" >/dev/null 2>&1; do
	tries=$((tries + 1))
	if [ "$tries" -gt 360 ] || ! kill -0 "$coord" 2>/dev/null; then
		echo "not ok $((n + 1)) - the session under valgrind did not come up"
		sed 's/^/# /' "$tmp/open.log" "$tmp/open.err"
		echo "1..$((n + 1))"
		exit 1
	fi
	sleep 0.5
done
step status 0 status "$session"
step frame 0 frame "$session" 3 --out "$tmp/frame3.png"
step frame-yuv 0 frame "$session" 10 --out "$tmp/frame10.yuv"
step send-trim 0 send "$session" trim --frames 0-1
# No stage runs: this one stays pending, and reel edits says so.
step send-brightness 0 send "$session" brightness 0.1 --frames 40-45
step send-bad-param 2 send "$session" brightness 99
step undo 0 undo "$session"
step redo 0 redo "$session"
step edits-live 0 edits "$session"
step logs 0 logs "$session"
step ls-live 0 ls --all
step export 0 export "$session" "$tmp/out.mp4" --frames 0-6
step export-y4m 0 export "$session" "$tmp/out.y4m" --frames 2-4 --no-audio
step stop 0 stop "$session"
wait "$coord"
result open $? 0
coord=""

buffer="$REEL_BUFFER_DIR/$session.reel"
step ls-all 0 ls --all
step edits-stopped 0 edits "$buffer"
step inspect 0 inspect "$buffer"
step inspect-json 0 inspect "$buffer" --json
step status-gone 2 status "$session"
head -c 4096 /dev/urandom >"$tmp/damaged.reel"
step inspect-damaged 2 inspect "$tmp/damaged.reel"
step rm 0 rm "$session"

echo "1..$n"
[ "$failed" -eq 0 ]
