#!/usr/bin/env bash
# Builds the benchmark's Linux guest: an initramfs with busybox, the virtio modules of the
# rig's Debian kernel (tests/system/fetch-kernel.sh), fio and iperf3 from this host's Debian
# packages with their shared libraries, and tests/bench/linux-guest-init.sh as /init. The same
# file boots under n90vmm, QEMU and crosvm with the same kernel.
# usage: build-linux-guest.sh OUT.cpio.gz
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$1
"$root/tests/system/fetch-kernel.sh" >&2
k=$root/build/rig/kernel
for tool in fio iperf3 busybox; do
	command -v "$tool" >/dev/null || { echo "build-linux-guest: $tool missing (make deps installs it)" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/n90-bench-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT
g=$work/g
mkdir -p "$g"/{bin,dev,proc,sys,tmp,lib/modules,etc}
cp "$(command -v busybox)" "$g/bin/busybox"
file -L "$g/bin/busybox" 2>/dev/null | grep -q 'statically linked' || true
install -m 0755 "$root/tests/bench/linux-guest-init.sh" "$g/init"
for m in drivers/virtio/virtio drivers/virtio/virtio_ring drivers/virtio/virtio_mmio \
	drivers/virtio/virtio_pci drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev \
	drivers/block/virtio_blk net/core/failover drivers/net/net_failover drivers/net/virtio_net; do
	[ -f "$k/modules/kernel/$m.ko" ] && cp "$k/modules/kernel/$m.ko" "$g/lib/modules/"
done
# fio and iperf3 with everything ldd says they load (the guest's kernel is Debian's too).
for tool in fio iperf3; do
	cp -L "$(command -v $tool)" "$g/bin/$tool"
	ldd "$(command -v $tool)" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r lib; do
		mkdir -p "$g$(dirname "$lib")"
		cp -L "$lib" "$g$lib"
	done
done
echo "root:x:0:0:root:/:/bin/sh" >"$g/etc/passwd"
(cd "$g" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
echo "build-linux-guest: $out ($(du -h "$out" | cut -f1))" >&2
