#!/usr/bin/env bash
# The Linux half of `make bench`: fio and iperf3 in Debian's kernel under n90vmm, QEMU (and
# crosvm when a `crosvm` binary is on PATH), the same kernel, initramfs and disk, with the
# host's own ceiling measured in the same run (tests/bench/linux-cases.sh). Where: on this
# host when its KVM runs an unmodified Linux (tests/lib/host-kvm.sh: real KVM), else in the
# rig's L1 VM (QEMU TCG with nested SVM), whose disk is a raw file given to L1 as a virtio
# disk, so O_DIRECT reaches a real block device there. Writes build/bench/linux-runs.jsonl
# (one JSON object per figure) and build/bench/linux-where.txt.
# usage: linux.sh BUILD_DIR
# Environment: BENCH_RUNS (3), BENCH_RUNTIME (s per fio job; 5), BENCH_NET (s per direction;
# 5), BENCH_JOBS, BENCH_BREAKDOWN (rr1,rr32), BENCH_WHERE=host|rig-l1 to force.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
out=$build/bench
mkdir -p "$out"
runs=${BENCH_RUNS:-3}
export BENCH_RUNTIME=${BENCH_RUNTIME:-5} BENCH_NET=${BENCH_NET:-5} BENCH_BREAKDOWN=${BENCH_BREAKDOWN:-rr1,rr32}
[ -n "${BENCH_JOBS:-}" ] && export BENCH_JOBS

"$root/tests/system/fetch-kernel.sh" >&2
guest=$out/linux-guest.cpio.gz
if [ ! -f "$guest" ] || [ "$guest" -ot "$root/tests/bench/linux-guest-init.sh" ] ||
	[ "$guest" -ot "$root/tests/bench/build-linux-guest.sh" ]; then
	"$root/tests/bench/build-linux-guest.sh" "$guest"
fi
qemu=$(command -v qemu-system-x86_64 || true)
crosvm=$(command -v crosvm || true)
. "$root/tests/lib/host-kvm.sh"
# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
host_kvm_init "$build/n90vmm"
where=${BENCH_WHERE:-$(host_kvm_can linux && echo host || echo rig-l1)}
echo "$where" >"$out/linux-where.txt"
echo "bench linux: where: $where (this host's KVM: $(host_kvm_flavour))" >&2

if [ "$where" = host ]; then
	d=$(mktemp -d "${TMPDIR:-/var/tmp}/n90-bench.XXXXXX")
	trap 'rm -rf "$d"' EXIT
	ln -s "$build/n90vmm" "$d/n90vmm"
	ln -s "$root/build/rig/kernel/vmlinuz" "$d/vmlinuz"
	ln -s "$guest" "$d/guest.cpio.gz"
	ln -s "$(command -v fio)" "$d/fio"
	ln -s "$(command -v iperf3)" "$d/iperf3"
	[ -n "$qemu" ] && ln -s "$qemu" "$d/qemu" && ln -s /usr/share/qemu "$d/qemu-data"
	[ -n "$crosvm" ] && ln -s "$crosvm" "$d/crosvm"
	# A file on a real file system (O_DIRECT), in a network namespace of its own (the tap,
	# its address and iperf3's server stay in there).
	QEMU_CPU=$(qemu_kvm_cpu) unshare --net "$root/tests/bench/linux-cases.sh" "$d" "$d/disk.img" "$runs" \
		>"$out/linux-runs.jsonl"
else
	disk=$out/linux-disk.img
	dd if=/dev/zero of="$disk" bs=1M count=256 2>/dev/null
	k=$root/build/rig/kernel/modules/kernel
	adds=(--add "$build/n90vmm:/b/n90vmm" --add "$root/build/rig/kernel/vmlinuz:/b/vmlinuz"
		--add "$guest:/b/guest.cpio.gz" --add "$(command -v fio):/b/fio" --add "$(command -v iperf3):/b/iperf3"
		--add "$root/tests/bench/linux-cases.sh:/b/linux-cases.sh" --add "$(command -v ip):/b/bin/ip")
	for m in drivers/virtio/virtio drivers/virtio/virtio_ring drivers/virtio/virtio_pci_legacy_dev \
		drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk; do
		adds+=(--add "$k/$m.ko:/b/mods/$(basename "$m").ko")
	done
	if [ -n "$qemu" ]; then
		adds+=(--add "$qemu:/b/qemu")
		qemu_data_adds bios-256k.bin linuxboot_dma.bin kvmvapic.bin vgabios-stdvga.bin efi-virtio.rom
	fi
	# In L1: its disk appears once the virtio modules are in; the cases run on it. BENCH-SESSION
	# marks each attempt (only the last attempt's lines count if l1.sh retries).
	cat >"$out/linux-l1.sh" <<EOS
#!/bin/sh
echo BENCH-SESSION
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do insmod /b/mods/\$m.ko || echo "bench: insmod \$m failed"; done
i=0; while [ ! -b /dev/vda ] && [ \$i -lt 50 ]; do sleep 0.2; i=\$((i + 1)); done
[ -b /dev/vda ] || { echo "bench: L1 has no /dev/vda (its disk)"; ls /dev; exit 1; }
BENCH_RUNTIME=$BENCH_RUNTIME BENCH_NET=$BENCH_NET BENCH_JOBS=${BENCH_JOBS:-rr1,rr32,rw1,rw32,sr,sw} BENCH_BREAKDOWN=$BENCH_BREAKDOWN \\
	QEMU_CPU=host,-arch-capabilities IP=/b/bin/ip TMPDIR=/tmp /b/linux-cases.sh /b /dev/vda $runs
EOS
	chmod +x "$out/linux-l1.sh"
	adds+=(--add "$out/linux-l1.sh:/b/linux-l1.sh")
	"$root/tests/system/l1.sh" --timeout "${BENCH_L1_TIMEOUT:-3000}" --retries 1 --mem 3072 --log "$out/linux-l1.log" \
		--disk "$disk" "${adds[@]}" -- /b/linux-l1.sh | tr -d '\r' |
		awk '/BENCH-SESSION/ { n = 0 } /\{"(monitor|breakdown)"/ { sub(/^.*\{"/, "{\""); sub(/\}[^}]*$/, "}"); line[n++] = $0 }
			END { for (i = 0; i < n; i++) print line[i] }' >"$out/linux-runs.jsonl"
	rm -f "$disk"
fi
echo "bench linux: $(wc -l <"$out/linux-runs.jsonl") figures in $out/linux-runs.jsonl" >&2
