#!/usr/bin/env bash
# The system-test rig: real Linux (Debian's kernel, unmodified) as n90vmm's guest on real KVM,
# inside an L1 Debian booted under QEMU's software emulation. Builds the L2 material, runs
# every scenario in one L1 session, prints a table and exits non-zero on any FAIL.
# usage: tests/system/run.sh            (make system-test builds n90vmm first)
#        RIG_SCENARIOS="virtio-net-tap sandbox" tests/system/run.sh   (only those scenarios)
#        tests/system/run.sh --arch arm64  (or RIG_ARCH=arm64): the arm64 rig, its scenarios
#            in l1-scenarios-arm64.sh: L1's KVM probe, Debian's arm64 Linux on it under QEMU
#            (RIG_ARM64_QEMU=0 leaves QEMU out), n90vmm when $N90VMM_ARM64 (default
#            build/arm64/n90vmm, cross-built) exists
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
	runner=l1-scenarios.sh timeout=900
	for f in "$k/Image" "$rig/l2.cpio.gz" "$rig/rootfs.ext4" "$here/$runner" "$here/l1-scenario-lib.sh" \
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
	runner=l1-scenarios.sh timeout=240
	for f in "$root/build/n90vmm" "$k/vmlinuz" "$k/vmlinux" "$rig/l2.cpio.gz" "$rig/rootfs.ext4" \
		"$here/$runner" "$here/l1-scenario-lib.sh" "$(command -v e2fsck)" "$(command -v debugfs)"; do
		adds+=(--add "$f:/rig/$(basename "$f")")
	done
fi
set +e
"$here/l1.sh" --timeout "$timeout" --log "$rig/logs/l1.log" "${adds[@]}" -- "/rig/$runner" /rig ${RIG_SCENARIOS:-} >"$work/out.txt"
l1_status=$?
set -e
tr -d '\r' <"$work/out.txt" >"$rig/logs/scenarios.log"

# Per-scenario logs, then the table.
# (The first marker may follow L1's firmware escape codes on the same line.)
awk -v dir="$rig/logs" '/=== [a-z0-9-]+$/ { sub(/.*=== /, ""); f = dir "/" $0 ".log"; printf "" > f; next } f { print > f }' \
	"$rig/logs/scenarios.log"
fail=0
printf '\n%-26s %-10s %s\n' scenario verdict seconds
while read -r _ name verdict secs; do
	printf '%-26s %-10s %s\n' "$name" "$verdict" "$secs"
	[ "$verdict" = FAIL ] && fail=1
done < <(grep '^SCENARIO ' "$rig/logs/scenarios.log")
if ! grep -q '^SCENARIOS-DONE' "$rig/logs/scenarios.log"; then
	echo "rig: L1 did not finish the scenarios (status $l1_status); see $rig/logs/l1.log" >&2
	fail=1
fi
echo "rig: $(($(date +%s) - start)) s in all; logs in $rig/logs"
exit $fail
