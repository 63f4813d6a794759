#!/bin/sh
# libreel-map.sh OUT HEADER...: the linker version script of the shared
# libreel, exporting exactly the functions the public headers declare, so
# that core's internal layers stay out of the library's ABI.
set -eu
out="$1"
shift
# Comments out, one line; then every reel_* name followed by "(" that is
# not a function pointer type ("(*reel_x_fn)") or a typedef'd name.
names="$(cat "$@" | sed 's|/\*.*\*/||g' | tr '\n' ' ' | sed 's|/\*[^*]*\*/||g' |
	grep -oE '[(*]*reel_[a-z0-9_]+[[:space:]]*\(' | grep -v '^(\*' |
	sed -e 's/^\**//' -e 's/[[:space:]]*($//' | sort -u)"
types="$(cat "$@" | grep -oE '\(\*reel_[a-z0-9_]+\)' | tr -d '()*' | sort -u)"
{
	echo "LIBREEL_0 {"
	echo "  global:"
	for n in $names; do
		echo "$types" | grep -qx "$n" || echo "    $n;"
	done
	echo "  local: *;"
	echo "};"
} > "$out.tmp"
mv "$out.tmp" "$out"
