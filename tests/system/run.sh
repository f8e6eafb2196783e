#!/usr/bin/env bash
# The system-test rig: real Linux (Debian's kernel, unmodified) as n90vmm's guest on real KVM,
# inside an L1 Debian booted under QEMU's software emulation. Builds the L2 material, runs
# the short scenarios in one L1 session and durability-kill, durability-term and soak in a
# session each (a scenario that stalls, or that a wedged L1 never ran, once more in a fresh
# session: the table says so), prints a table and exits non-zero on any FAIL.
# usage: tests/system/run.sh            (make system-test builds n90vmm first)
#        RIG_LONG=1 tests/system/run.sh   (nightly: a 30-minute soak, 100 ends of each kind)
#        RIG_SCENARIOS="virtio-net-tap sandbox" tests/system/run.sh   (only those scenarios)
#        tests/system/run.sh --arch arm64  (or RIG_ARCH=arm64): the arm64 rig: the same n90vmm
#            scenarios with $N90VMM_ARM64 (default build/arm64/n90vmm, cross-built), plus
#            l1-scenarios-arm64.sh's: L1's KVM probe, Debian's arm64 Linux on it under QEMU
#            (RIG_ARM64_QEMU=0 leaves QEMU out)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ "${1:-}" = --arch ] && { export RIG_ARCH=$2; shift 2; }
# shellcheck source=tests/system/rig-arch.sh
. "$root/tests/system/rig-arch.sh"
rig=$rig_dir
here=$root/tests/system
start=$(date +%s)

# L2 initramfs and rootfs.ext4 (with the kernel, fetched first).
"$here/build-l2.sh"
k=$rig/kernel
mkdir -p "$rig/logs"
work=$(mktemp -d "${TMPDIR:-/tmp}/n90-rig.XXXXXX")
trap 'rm -rf "$work"' EXIT

adds=()
# (l2.cpio.gz and rootfs.ext4 stay in build/rig/ for runs by hand: docs/testing.md.)
if [ "$rig_arch" = arm64 ]; then
	timeout=900
	for f in "$k/Image" "$rig/l2.cpio.gz" "$rig/rootfs.ext4" "$here/l1-scenarios.sh" "$here/l1-scenario-lib.sh" \
		"$here/l1-scenarios-arm64.sh"; do
		adds+=(--add "$f:/rig/$(basename "$f")")
	done
	# QEMU (the reference L2 boots) and the arm64 tools the scenarios use.
	"$here/fetch-qemu-arm64.sh"
	sys=$rig/qemu/sysroot
	[ "${RIG_ARM64_QEMU:-1}" = 1 ] && adds+=(--add "$sys/usr/bin/qemu-system-aarch64:/rig/qemu-system-aarch64")
	adds+=(--add "$sys/sbin/e2fsck:/rig/e2fsck" --add "$sys/sbin/debugfs:/rig/debugfs" --add "$sys/usr/bin/dtc:/rig/dtc")
	# Libraries for the arm64 binaries (QEMU's; n90vmm's libseccomp is among them).
	adds+=(--libdir "$rig/qemu/sysroot/usr/lib/aarch64-linux-gnu" --libdir "$rig/qemu/sysroot/lib/aarch64-linux-gnu")
	n90=${N90VMM_ARM64:-$root/build/arm64/n90vmm}
	[ -f "$n90" ] && adds+=(--add "$n90:/rig/n90vmm")
else
	timeout=420
	for f in "$root/build/n90vmm" "$k/vmlinuz" "$k/vmlinux" "$rig/l2.cpio.gz" "$rig/rootfs.ext4" \
		"$here/l1-scenarios.sh" "$here/l1-scenario-lib.sh" "$(command -v e2fsck)" "$(command -v debugfs)"; do
		adds+=(--add "$f:/rig/$(basename "$f")")
	done
fi
# The durability and soak scenarios' lengths: short by default (CI), long with RIG_LONG=1
# (nightly); each may also be set on its own.
soak=${RIG_SOAK_SECONDS:-60} rounds=${RIG_DURABILITY_ROUNDS:-5}
if [ -n "${RIG_LONG:-}" ]; then
	soak=${RIG_SOAK_SECONDS:-1800} rounds=${RIG_DURABILITY_ROUNDS:-100}
fi
# Each long scenario gets an L1 session of its own and a limit to match (a round is mostly one
# L2 boot: ~15 s on x86_64's rig, more on arm64's).
long=" durability-kill durability-term soak "
limit_of() { # NAME
	local per=40 base=$timeout
	[ "$rig_arch" = arm64 ] && per=80
	case $1 in
	soak) echo $((base + 2 * soak)) ;;
	durability-*) echo $((base + rounds * per)) ;;
	esac
}

# session TAG LIMIT NAME...: one L1 session running those scenarios, its console in
# $rig/logs/scenarios-TAG.log, L1's in l1-TAG.log, each scenario's part in $rig/logs/<name>.log.
# (The first marker may follow L1's firmware escape codes on the same line.)
session() {
	local tag=$1 limit=$2 log=$rig/logs/scenarios-$1.log fake=()
	shift 2
	# RIG_FAKE_STALL=NAME stalls NAME in its first session; NAME:always in the retry too.
	case ${RIG_FAKE_STALL:-} in
	'') ;;
	*:always) fake=(env "RIG_FAKE_STALL=${RIG_FAKE_STALL%:always}") ;;
	*) [ "$tag" = retry ] || fake=(env "RIG_FAKE_STALL=$RIG_FAKE_STALL") ;;
	esac
	set +e
	# --retries 0: a wedged session is not run again whole; its unfinished scenarios are.
	"$here/l1.sh" --timeout "${RIG_L1_TIMEOUT:-$limit}" --retries 0 --log "$rig/logs/l1-$tag.log" "${adds[@]}" -- \
		env RIG_SOAK_SECONDS="$soak" RIG_DURABILITY_ROUNDS="$rounds" "${fake[@]}" /rig/l1-scenarios.sh /rig "$@" \
		>"$work/out.txt"
	l1_status=$?
	set -e
	tr -d '\r' <"$work/out.txt" >"$log"
	awk -v dir="$rig/logs" '/=== [a-z0-9-]+$/ { sub(/.*=== /, ""); f = dir "/" $0 ".log"; printf "" > f; next } f { print > f }' \
		"$log"
	while read -r _ name v t; do verdict[$name]=$v secs[$name]=$t; done < <(grep '^SCENARIO ' "$log")
	return 0
}

# The scenarios asked for, in order: RIG_SCENARIOS or every one l1-scenarios.sh defines.
# shellcheck disable=SC2206 # a list of words
wanted=(${RIG_SCENARIOS:-$("$here/l1-scenarios.sh" --list "$rig_arch")})
declare -A verdict secs note
rm -f "$rig/logs"/*.first.log "$rig/logs"/scenarios*.log "$rig/logs"/l1-*.log*
short=() first_status=()
for name in "${wanted[@]}"; do [[ $long == *" $name "* ]] || short+=("$name"); done
if [ ${#short[@]} -gt 0 ]; then
	session main "$timeout" "${short[@]}"
	first_status+=("main:$l1_status")
fi
for name in "${wanted[@]}"; do
	[[ $long == *" $name "* ]] || continue
	session "$name" "$(limit_of "$name")" "$name"
	first_status+=("$name:$l1_status")
done

# A scenario that stalled, whose L2 kernel died before its init, or that L1 never finished (a
# wedged L1 stops them all), is tried once more in a fresh L1 session and the table says so:
# TCG's rare wedges say nothing about n90vmm (the early triple fault's cause is not known yet:
# docs/testing.md); twice in a row is a FAIL.
retry=() retry_limit=$timeout
for name in "${wanted[@]}"; do
	case ${verdict[$name]:-} in
	STALL) retry+=("$name") note[$name]="retried: stalled in its first L1 session" ;;
	NOBOOT) retry+=("$name") note[$name]="retried: its L2 kernel died (triple fault) before its init in its first L1 session" ;;
	'') retry+=("$name") note[$name]="retried: its first L1 session ended before it (${first_status[*]})" ;;
	*) continue ;;
	esac
	[[ $long == *" $name "* ]] && retry_limit=$((retry_limit + $(limit_of "$name")))
done
if [ ${#retry[@]} -gt 0 ]; then
	echo "rig: ${retry[*]}: once more in a fresh L1 session" >&2
	for name in "${retry[@]}"; do
		[ -f "$rig/logs/$name.log" ] && mv "$rig/logs/$name.log" "$rig/logs/$name.first.log"
		unset "verdict[$name]"
	done
	session retry "$retry_limit" "${retry[@]}"
fi

# The table.
fail=0
printf '\n%-26s %-10s %-8s %s\n' scenario verdict seconds note
for name in "${wanted[@]}"; do
	v=${verdict[$name]:-FAIL} t=${secs[$name]:--}
	case $v in
	STALL) v=FAIL note[$name]="${note[$name]:-}; stalled again" ;;
	NOBOOT) v=FAIL note[$name]="${note[$name]:-}; died before its init again" ;;
	pass | not-built) ;;
	*)
		v=FAIL
		[ -n "${verdict[$name]:-}" ] || note[$name]="${note[$name]:-}; no verdict: L1 did not finish (status $l1_status, see $rig/logs/l1-*.log)"
		;;
	esac
	[ "$v" = FAIL ] && fail=1
	printf '%-26s %-10s %-8s %s\n' "$name" "$v" "$t" "${note[$name]:-}"
done
echo "rig: $(($(date +%s) - start)) s in all; logs in $rig/logs"
exit $fail
