#!/usr/bin/env bash
# The system-test rig: real Linux (Debian's kernel, unmodified) as n90vmm's guest on real KVM,
# inside an L1 Debian booted under QEMU's software emulation. Builds the L2 material, runs
# every scenario in one L1 session, prints a table and exits non-zero on any FAIL.
# usage: tests/system/run.sh            (make system-test builds n90vmm first)
#        RIG_SCENARIOS="virtio-net-tap sandbox" tests/system/run.sh   (only those scenarios)
#        RIG_LONG=1 tests/system/run.sh   (nightly: a 30-minute soak, 100 kills of each kind)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rig=${RIG_DIR:-$root/build/rig}
here=$root/tests/system
start=$(date +%s)

"$here/fetch-kernel.sh"
k=$rig/kernel
mkdir -p "$rig/logs"
work=$(mktemp -d "${TMPDIR:-/tmp}/n90-rig.XXXXXX")
trap 'rm -rf "$work"' EXIT

# L2 initramfs: busybox, the virtio modules of the same kernel, and the scenario init.
l2=$work/l2
mkdir -p "$l2"/{bin,dev,proc,sys,newroot,lib/modules}
cp /bin/busybox "$l2/bin/busybox"
cp "$here/l2-init.sh" "$l2/init"
for m in drivers/virtio/virtio drivers/virtio/virtio_ring drivers/virtio/virtio_mmio \
	drivers/virtio/virtio_pci drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev \
	drivers/block/virtio_blk drivers/char/virtio_console net/core/failover drivers/net/net_failover \
	drivers/net/virtio_net; do
	cp "$k/modules/kernel/$m.ko" "$l2/lib/modules/"
done
(cd "$l2" && find . | cpio -o -H newc --quiet | gzip -1) >"$rig/l2.cpio.gz"

# rootfs.ext4: busybox and an init that marks the disk, made without root mounts.
r=$work/rootfs
mkdir -p "$r"/{bin,sbin,proc,sys,dev}
cp /bin/busybox "$r/bin/busybox"
for cmd in sh mount awk sync poweroff tail echo cat; do ln -s busybox "$r/bin/$cmd"; done
cp "$here/rootfs-init.sh" "$r/sbin/init"
mkfs.ext4 -q -F -d "$r" "$rig/rootfs.ext4" 32M

adds=()
# (l2.cpio.gz and rootfs.ext4 stay in build/rig/ for runs by hand: docs/testing.md.)
for f in "$root/build/n90vmm" "$k/vmlinuz" "$k/vmlinux" "$rig/l2.cpio.gz" "$rig/rootfs.ext4" \
	"$here/l1-scenarios.sh" "$(command -v e2fsck)" "$(command -v debugfs)"; do
	adds+=(--add "$f:/rig/$(basename "$f")")
done
# The durability and soak scenarios' lengths: short in CI, long with RIG_LONG=1 (nightly);
# each may also be set on its own.
soak=${RIG_SOAK_SECONDS:-180} rounds=${RIG_DURABILITY_ROUNDS:-20}
if [ -n "${RIG_LONG:-}" ]; then
	soak=${RIG_SOAK_SECONDS:-1800} rounds=${RIG_DURABILITY_ROUNDS:-100}
fi
# The long scenarios each get an L1 session of their own: a rare wedge of the emulated L1
# (l1.sh tries a session once more) then costs a retry of that scenario, not of the rig.
long=(durability-kill durability-term soak)
short=() picked=()
for name in ${RIG_SCENARIOS:-}; do
	if [[ " ${long[*]} " == *" $name "* ]]; then picked+=("$name"); else short+=("$name"); fi
done
[ -n "${RIG_SCENARIOS:-}" ] || picked=("${long[@]}")
sessions=0 l1_status=0
session() { # LOG TIMEOUT SCENARIO...
	local log=$1 limit=$2
	shift 2
	sessions=$((sessions + 1))
	"$here/l1.sh" --timeout "$limit" --log "$rig/logs/$log" "${adds[@]}" -- env RIG_SKIP="${skip:-}" \
		RIG_SOAK_SECONDS="$soak" RIG_DURABILITY_ROUNDS="$rounds" /rig/l1-scenarios.sh /rig "$@" >>"$work/out.txt" ||
		l1_status=$?
}
set +e
: >"$work/out.txt"
if [ -z "${RIG_SCENARIOS:-}" ] || [ ${#short[@]} -gt 0 ]; then
	skip="${long[*]}" session l1.log 300 "${short[@]}"
fi
for name in "${picked[@]}"; do
	case $name in
	soak) limit=$((300 + soak)) ;;
	*) limit=$((120 + rounds * 40)) ;;
	esac
	skip= session "l1-$name.log" "$limit" "$name"
done
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
if [ "$(grep -c '^SCENARIOS-DONE' "$rig/logs/scenarios.log")" -ne "$sessions" ]; then
	echo "rig: L1 did not finish the scenarios (status $l1_status); see $rig/logs/l1*.log" >&2
	fail=1
fi
echo "rig: $(($(date +%s) - start)) s in all; logs in $rig/logs"
exit $fail
