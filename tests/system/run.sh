#!/usr/bin/env bash
# The system-test rig: real Linux (Debian's kernel, unmodified) as n90vmm's guest on real KVM,
# inside an L1 Debian booted under QEMU's software emulation. Builds the L2 material, runs
# every scenario in one L1 session (a scenario that stalls, or that a wedged L1 never ran, once
# more in a fresh session: the table says so), prints a table and exits non-zero on any FAIL.
# usage: tests/system/run.sh            (make system-test builds n90vmm first)
#        RIG_SCENARIOS="virtio-net-tap sandbox" tests/system/run.sh   (only those scenarios)
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
# session N NAME...: one L1 session running those scenarios (all when none are named), its
# console in $rig/logs/scenarios[-retry].log, each scenario's part in $rig/logs/<name>.log.
# (The first marker may follow L1's firmware escape codes on the same line.)
session() {
	local n=$1 log=$rig/logs/scenarios.log fake=()
	shift
	[ "$n" = 2 ] && log=$rig/logs/scenarios-retry.log
	# RIG_FAKE_STALL=NAME stalls NAME in the first session; NAME:always in the retry too.
	case ${RIG_FAKE_STALL:-} in
	'') ;;
	*:always) fake=(env "RIG_FAKE_STALL=${RIG_FAKE_STALL%:always}") ;;
	*) [ "$n" = 1 ] && fake=(env "RIG_FAKE_STALL=$RIG_FAKE_STALL") ;;
	esac
	set +e
	# --retries 0: a wedged session is not run again whole; its unfinished scenarios are.
	"$here/l1.sh" --timeout "${RIG_L1_TIMEOUT:-420}" --retries 0 --log "$rig/logs/l1-$n.log" "${adds[@]}" -- \
		"${fake[@]}" /rig/l1-scenarios.sh /rig "$@" >"$work/out.txt"
	l1_status=$?
	set -e
	tr -d '\r' <"$work/out.txt" >"$log"
	awk -v dir="$rig/logs" '/=== [a-z0-9-]+$/ { sub(/.*=== /, ""); f = dir "/" $0 ".log"; printf "" > f; next } f { print > f }' \
		"$log"
}

# The scenarios asked for, in order: RIG_SCENARIOS or every one l1-scenarios.sh defines.
# shellcheck disable=SC2206 # a list of words
wanted=(${RIG_SCENARIOS:-$(sed -n 's/^scenario \([a-z0-9-]*\).*/\1/p' "$here/l1-scenarios.sh")})
declare -A verdict secs note
rm -f "$rig/logs"/*.first.log "$rig/logs/scenarios-retry.log" "$rig/logs"/l1-2.log*
session 1 ${RIG_SCENARIOS:-}
first_status=$l1_status
while read -r _ name v t; do verdict[$name]=$v secs[$name]=$t; done < <(grep '^SCENARIO ' "$rig/logs/scenarios.log")

# A scenario that stalled, or that L1 never finished (a wedged L1 stops them all), is tried
# once more in a fresh L1 session: TCG's rare wedges say nothing about n90vmm.
retry=()
for name in "${wanted[@]}"; do
	case ${verdict[$name]:-} in
	STALL) retry+=("$name") note[$name]="retried: stalled in the first L1 session" ;;
	'') retry+=("$name") note[$name]="retried: the first L1 session ended before it (status $first_status)" ;;
	esac
done
if [ ${#retry[@]} -gt 0 ]; then
	echo "rig: ${retry[*]}: once more in a fresh L1 session" >&2
	for name in "${retry[@]}"; do
		[ -f "$rig/logs/$name.log" ] && mv "$rig/logs/$name.log" "$rig/logs/$name.first.log"
		unset "verdict[$name]"
	done
	session 2 "${retry[@]}"
	while read -r _ name v t; do verdict[$name]=$v secs[$name]=$t; done < <(grep '^SCENARIO ' "$rig/logs/scenarios-retry.log")
fi

# The table.
fail=0
printf '\n%-26s %-10s %-8s %s\n' scenario verdict seconds note
for name in "${wanted[@]}"; do
	v=${verdict[$name]:-FAIL} t=${secs[$name]:--}
	case $v in
	STALL) v=FAIL note[$name]="${note[$name]:-}; stalled again" ;;
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
