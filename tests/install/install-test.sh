#!/bin/sh
# meson install into a temporary folder, then use what was installed as
# someone else would: every program and the man page are in place, the
# installed `reel open` finds its stage programs next to itself, and a
# stage written outside the tree (docs/examples/invert-stage.c) builds
# against the installed headers through pkg-config, links the installed
# shared libreel, attaches to a session and edits its frames.
#
#   install-test.sh BUILD_DIR SOURCE_DIR CLIP CC WITH_PREVIEW
set -eu
build="$1" src="$2" clip="$3" cc="$4" with_preview="$5"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/reel-install-XXXXXX")"
pids=""
cleanup() {
	# A failed check leaves sessions running: stop them (no queue left), then make sure.
	for name in ${s:-} ${s2:-}; do "${bin:-/nonexistent}/reel" stop "$name" >/dev/null 2>&1 || true; done
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "not ok - $*"; exit 1; }

meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null ||
	fail "meson install"
prefix="$(meson introspect "$build" --buildoptions |
	sed -n 's/.*"name": "prefix", "value": "\([^"]*\)".*/\1/p')"
[ -n "$prefix" ] || prefix="$(grep -o '"prefix"[^}]*"value": "[^"]*"' "$build/meson-info/intro-buildoptions.json" |
	sed 's/.*"value": "//; s/"$//')"
root="$tmp/root$prefix"
bin="$root/bin"

for p in reel reel-make-sample reel-editor reel-effects reel-audio reel-bench; do
	[ -x "$bin/$p" ] || fail "$p not installed in $bin"
done
if [ "$with_preview" = "true" ]; then
	[ -x "$bin/reel-preview" ] || fail "reel-preview not installed"
fi
[ -f "$root/share/man/man1/reel.1" ] || fail "no man page"
man -l "$root/share/man/man1/reel.1" >/dev/null 2>&1 ||
	groff -man -Tutf8 "$root/share/man/man1/reel.1" >/dev/null 2>&1 ||
	[ ! -x /usr/bin/man ] || fail "the man page does not render"
# The man page names every command `reel --help` lists.
for c in $("$bin/reel" --help | sed -n '/^commands:/,/^$/p' | awk 'NF && $1 != "commands:" { print $1 }'); do
	grep -q "^\.BI \"$c " "$root/share/man/man1/reel.1" ||
		grep -q "^\.BI \".*, $c " "$root/share/man/man1/reel.1" || fail "reel.1 does not describe reel $c"
done
for h in error log frame ops client stage; do
	[ -f "$root/include/reel/$h.h" ] || fail "reel/$h.h not installed"
done
pc="$(find "$root" -name reel.pc | head -n 1)"
[ -n "$pc" ] || fail "no reel.pc"
echo "ok 1 - installed: programs, man page, headers, $(basename "$pc")"

# Build the out-of-tree stage as a user would, against the installed files only.
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
flags="$(pkg-config --cflags --libs reel)" || fail "pkg-config reel"
# shellcheck disable=SC2086
"$cc" -std=c17 -Wall -Wextra -Werror -o "$tmp/invert-stage" "$src/docs/examples/invert-stage.c" \
	$flags || fail "the example stage does not build against the installed libreel"
libdir="$(dirname "$(find "$root" -name 'libreel.so*' | head -n 1)")"
export LD_LIBRARY_PATH="$libdir"
ldd "$tmp/invert-stage" | grep -q "$libdir/libreel.so" || fail "the stage does not link the installed libreel"
# The library's ABI is what the public headers declare, every function of them, and nothing else.
nm -D --defined-only "$libdir/libreel.so" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' |
	sort > "$tmp/exported.txt"
sed -n 's/^    \(reel_[a-z0-9_]*\);$/\1/p' "$build/core/libreel.map" | sort > "$tmp/declared.txt"
[ -s "$tmp/declared.txt" ] || fail "no public function found in the headers"
diff "$tmp/declared.txt" "$tmp/exported.txt" >"$tmp/abi.diff" ||
	{ cat "$tmp/abi.diff"; fail "libreel.so exports other than the public headers declare"; }
echo "ok 2 - the example stage builds with pkg-config and links the installed libreel.so, which exports the $(wc -l < "$tmp/declared.txt") functions the headers declare"

# A session run by the installed reel, with no other effect worker.
export REEL_RUNTIME_DIR="$tmp/run" REEL_BUFFER_DIR="$tmp/buffers"
unset REEL_STAGE_DIR DISPLAY WAYLAND_DISPLAY
mkdir -m 700 "$tmp/run"
s="inst$$"
wait_live() {
	i=0
	until "$bin/reel" status "$1" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "session $1 did not start"
		sleep 0.05
	done
}
"$bin/reel" open "$clip" --session "$s" --no-stages --no-preview 2>"$tmp/open.log" &
pids="$pids $!"
wait_live "$s"
"$bin/reel" frame "$s" 5 --out "$tmp/before.yuv" >/dev/null || fail "reel frame before"
"$tmp/invert-stage" --session "$s" 2>"$tmp/stage.log" &
stage=$!
pids="$pids $stage"
"$bin/reel" send "$s" invert --wait >/dev/null || fail "reel send invert"
"$bin/reel" frame "$s" 5 --out "$tmp/after.yuv" --settled >/dev/null || fail "reel frame after"
w=$(cd "$tmp" && "$bin/reel" status "$s" --json | sed 's/.*"width":\([0-9]*\).*/\1/')
h=$(cd "$tmp" && "$bin/reel" status "$s" --json | sed 's/.*"height":\([0-9]*\).*/\1/')
ysize=$((w * h))
# Every byte against the op's definition: Y' = 251 - Y, U' and V' = 256 - U, clamped.
od -An -v -tu1 -w1 "$tmp/before.yuv" > "$tmp/b.txt"
od -An -v -tu1 -w1 "$tmp/after.yuv" > "$tmp/a.txt"
paste "$tmp/b.txt" "$tmp/a.txt" | awk -v ys="$ysize" '
	{ white = NR <= ys ? 251 : 256; e = white - $1; if (e < 0) e = 0; if (e > 255) e = 255
	  if ($2 != e) { bad++; if (bad == 1) printf "byte %d: %d became %d, expected %d\n", NR, $1, $2, e } }
	END { exit bad ? 1 : 0 }' || fail "the frame is not what the example stage makes"
[ "$(wc -l < "$tmp/b.txt")" -gt "$ysize" ] || fail "frame too short"
"$bin/reel" stop "$s" >/dev/null || fail "reel stop"
i=0
while kill -0 "$stage" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 200 ] || fail "the example stage did not leave with the session"; sleep 0.05
done
wait "$stage" || fail "the example stage exited with an error"
echo "ok 3 - the out-of-tree stage applied invert in place ($w x $h, every byte checked) and left with the session"

# The installed reel starts the installed stage programs, found next to itself.
s2="inst2$$"
"$bin/reel" open "$clip" --session "$s2" --workers 1 --no-preview 2>"$tmp/open2.log" &
coord=$!
pids="$pids $coord"
wait_live "$s2"
i=0
until "$bin/reel" status "$s2" --json | grep -q '"role":"audio"' &&
      "$bin/reel" status "$s2" --json | grep -q '"role":"editor"' &&
      "$bin/reel" status "$s2" --json | grep -q '"role":"effect"'; do
	i=$((i + 1)); [ $i -lt 400 ] || { cat "$tmp/open2.log"; fail "the installed stages did not attach"; }
	sleep 0.05
done
"$bin/reel" stop "$s2" >/dev/null || fail "reel stop (stages)"
wait "$coord" || fail "the installed reel open did not stop cleanly"
echo "ok 4 - the installed reel open started the installed reel-editor, reel-effects and reel-audio"
echo "1..4"
