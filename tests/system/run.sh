#!/usr/bin/env bash
# The system-test rig: real Linux (Debian's kernel, unmodified) as n90vmm's guest on real KVM,
# inside an L1 Debian booted under QEMU's software emulation. Builds the L2 material, runs
# every scenario in one L1 session, prints a table and exits non-zero on any FAIL.
# usage: tests/system/run.sh            (make system-test builds n90vmm first)
#        RIG_SCENARIOS="virtio-net-tap sandbox" tests/system/run.sh   (only those scenarios)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rig=${RIG_DIR:-$root/build/rig}
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
for f in "$root/build/n90vmm" "$k/vmlinuz" "$k/vmlinux" "$rig/l2.cpio.gz" "$rig/rootfs.ext4" \
	"$here/l1-scenarios.sh" "$(command -v e2fsck)" "$(command -v debugfs)"; do
	adds+=(--add "$f:/rig/$(basename "$f")")
done
set +e
"$here/l1.sh" --timeout 240 --log "$rig/logs/l1.log" "${adds[@]}" -- /rig/l1-scenarios.sh /rig ${RIG_SCENARIOS:-} >"$work/out.txt"
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
