#!/usr/bin/env bash
# Builds the rig's L2 material, the guests that scenarios boot inside L1, for the rig's
# architecture (--arch / RIG_ARCH, default x86_64), into build/rig/ (x86_64) or
# build/rig/arm64/:
#   l2.cpio.gz   initramfs: busybox, the virtio modules of the rig's own kernel (those built
#                as modules; the rest are built in), and the scenario init l2-init.sh
#   rootfs.ext4  busybox and an init (rootfs-init.sh) that marks the disk; made with
#                mkfs.ext4 -d, without root mounts
# The kernel to boot them with is fetch-kernel.sh's (vmlinuz/vmlinux; Image on arm64).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ "${1:-}" = --arch ] && { export RIG_ARCH=$2; shift 2; }
# shellcheck source=tests/system/rig-arch.sh
. "$root/tests/system/rig-arch.sh"
here=$root/tests/system
"$here/fetch-kernel.sh"
[ "$rig_arch" = arm64 ] && rig_fetch_busybox
k=$rig_dir/kernel
work=$(mktemp -d "${TMPDIR:-/tmp}/n90-l2.XXXXXX")
trap 'rm -rf "$work"' EXIT

# L2 initramfs. l2-init.sh loads what a scenario needs by name and ignores the built-in ones.
l2=$work/l2
mkdir -p "$l2"/{bin,dev,proc,sys,newroot,lib/modules}
cp "$rig_busybox" "$l2/bin/busybox"
cp "$here/l2-init.sh" "$l2/init"
for m in drivers/virtio/virtio drivers/virtio/virtio_ring drivers/virtio/virtio_mmio \
	drivers/virtio/virtio_pci drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev \
	drivers/block/virtio_blk drivers/char/virtio_console net/core/failover drivers/net/net_failover \
	drivers/net/virtio_net; do
	if [ -f "$k/modules/kernel/$m.ko" ]; then
		cp "$k/modules/kernel/$m.ko" "$l2/lib/modules/"
	elif ! grep -qx "kernel/$m.ko" "$k/modules/modules.builtin"; then
		echo "build-l2: $m is neither a module nor built into $(cat "$k/version")" >&2
		exit 1
	fi
done
(cd "$l2" && find . | cpio -o -H newc --quiet | gzip -1) >"$rig_dir/l2.cpio.gz"

# rootfs.ext4
r=$work/rootfs
mkdir -p "$r"/{bin,sbin,proc,sys,dev}
cp "$rig_busybox" "$r/bin/busybox"
for cmd in sh mount awk sync poweroff tail echo cat; do ln -s busybox "$r/bin/$cmd"; done
cp "$here/rootfs-init.sh" "$r/sbin/init"
mkfs.ext4 -q -F -d "$r" "$rig_dir/rootfs.ext4" 32M
