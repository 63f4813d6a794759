#!/bin/sh
# Checks that the programs and the library this build made carry the
# hardening the build asked for (top-level meson.build): PIE, RELRO with
# BIND_NOW, a non-executable stack, the stack protector and _FORTIFY_SOURCE.
# Each property is read from the ELF itself with readelf, so a flag that was
# passed but lost (a link step that drops it, a toolchain that ignores it)
# shows up.  What the build legitimately lacks is a TAP skip that says why.
#
#   check-elf.sh PIE SSP RELRO NOW FORTIFY SANITIZE -- PROGRAM... -- LIBRARY...
#     PIE, SSP, RELRO, NOW: yes or no (what the build asked for)
#     FORTIFY: the _FORTIFY_SOURCE level, or "" when not asked for
#     SANITIZE: meson's b_sanitize ("none" for a plain build)
set -u

pie="$1" ssp="$2" relro="$3" now="$4" fortify="$5" sanitize="$6"
shift 6
[ "$1" = "--" ] && shift
programs=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do programs="$programs $1"; shift; done
[ $# -gt 0 ] && shift
libraries="$*"

if ! command -v readelf >/dev/null; then
	echo "1..0 # SKIP readelf (binutils) is not installed"
	exit 0
fi

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
check() { # check DESCRIPTION COMMAND...: ok when the command succeeds
	d="$1"; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}

is_dyn() { LC_ALL=C readelf -h "$1" | grep -Eq 'Type:[[:space:]]+DYN'; }
has_relro() { LC_ALL=C readelf -lW "$1" | grep -q 'GNU_RELRO'; }
has_now() { LC_ALL=C readelf -dW "$1" | grep -Eq '\(BIND_NOW\)|\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW'; }
stack_noexec() { ! LC_ALL=C readelf -lW "$1" | grep 'GNU_STACK' | grep -q 'RWE'; }
has_symbol() { LC_ALL=C readelf -sW --dyn-syms "$1" | grep -Eq "[[:space:]]$2(@|\$)"; }
# Any glibc checking variant but the stack protector's own: __memcpy_chk, __snprintf_chk...
has_chk() { LC_ALL=C readelf -sW --dyn-syms "$1" | grep -E '__[a-z0-9_]+_chk(@|$)' | grep -vq '__stack_chk_'; }

for f in $programs; do
	name="$(basename "$f")"
	if [ "$pie" = yes ]; then
		check "$name: position independent (ELF type DYN)" is_dyn "$f"
	else
		skip "$name: PIE not asked for (b_pie=false)"
	fi
done
for f in $programs $libraries; do
	name="$(basename "$f")"
	if [ "$relro" = yes ]; then
		check "$name: GNU_RELRO segment" has_relro "$f"
	else
		skip "$name: RELRO: the linker does not take -z relro"
	fi
	if [ "$now" = yes ]; then
		check "$name: BIND_NOW (relocations resolved at load, then read-only)" has_now "$f"
	else
		skip "$name: BIND_NOW: the linker does not take -z now"
	fi
	check "$name: stack not executable" stack_noexec "$f"
	if [ "$ssp" = yes ]; then
		check "$name: stack protector (__stack_chk_fail)" has_symbol "$f" __stack_chk_fail
	else
		skip "$name: the compiler does not take -fstack-protector-strong"
	fi
	if [ -n "$fortify" ]; then
		check "$name: _FORTIFY_SOURCE=$fortify (__*_chk functions)" has_chk "$f"
	elif [ "$sanitize" != none ]; then
		skip "$name: _FORTIFY_SOURCE is left out of a sanitizer build ($sanitize)"
	else
		skip "$name: _FORTIFY_SOURCE needs an optimised build (this one is -O0 or plain, or -Dhardening=false)"
	fi
done
echo "1..$n"
[ "$failed" -eq 0 ]
