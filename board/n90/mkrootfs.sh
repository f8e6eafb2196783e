#!/usr/bin/env bash
# Builds the N90 board's guest material under build/n90/ (reused when nothing changed):
#   base.tar        a real Debian rootfs (mmdebstrap, minbase + the packages below), fetched
#                   through this host's own apt sources: no mirror is named here
#   rootfs.ext4     base.tar + the kernel's modules + overlay/ (the board test script and the
#                   security suite), made with mkfs.ext4 -d: no root mounts
#   initrd.cpio.gz  busybox + the virtio modules; mounts /dev/vda and switch_roots into the
#                   rootfs's /usr/local/sbin/n90-init (board/n90/initramfs-init.sh)
# The kernel is Debian's cloud kernel that the rig fetches (tests/system/fetch-kernel.sh).
# usage: board/n90/mkrootfs.sh [OUTDIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/board/n90
out=$(mkdir -p "${1:-$root/build/n90}" && cd "${1:-$root/build/n90}" && pwd)
packages=iproute2,iputils-ping,procps,kmod,util-linux,passwd
"$root/tests/system/fetch-kernel.sh"
k=${RIG_DIR:-$root/build/rig}/kernel
kver=$(cat "$k/version")

die() { echo "mkrootfs: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (file ownership inside the image); run as root"
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (make deps)"

# 1. The Debian base, cached: only a changed package list rebuilds it.
if [ ! -f "$out/base.tar" ] || [ "$(cat "$out/base.packages" 2>/dev/null)" != "$packages" ]; then
	sources=()
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -s "$f" ] && sources+=("$f")
	done
	[ ${#sources[@]} -gt 0 ] || die "no apt sources on this host (/etc/apt/sources.list*)"
	suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
	mmdebstrap --quiet --variant=minbase --include="$packages" \
		--dpkgopt='path-exclude=/usr/share/{doc,man,info,locale}/*' \
		--format=tar "$suite" "$out/base.tmp.tar" "${sources[@]}"
	mv "$out/base.tmp.tar" "$out/base.tar"
	echo "$packages" >"$out/base.packages"
fi

# 2. rootfs.ext4, rebuilt when the base, the overlay or this script is newer.
newest=$(find "$root/overlay" "$here/mkrootfs.sh" "$out/base.tar" -newer "$out/rootfs.ext4" 2>/dev/null | head -n 1 || true)
if [ ! -f "$out/rootfs.ext4" ] || [ -n "$newest" ]; then
	tree=$(mktemp -d "${TMPDIR:-/tmp}/n90-rootfs.XXXXXX")
	trap 'rm -rf "$tree"' EXIT
	tar -C "$tree" --same-owner -xf "$out/base.tar"
	# The kernel's modules a virtio machine needs (all of them would add 90 MiB), for modprobe.
	m=$tree/lib/modules/$kver
	mkdir -p "$m"
	cp "$k"/modules/modules.* "$m/"
	(cd "$k/modules" && cp --parents -r kernel/drivers/virtio kernel/drivers/block kernel/drivers/char \
		kernel/drivers/net/virtio_net.ko kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko "$m/")
	depmod -b "$tree" "$kver"
	cp -a "$root/overlay/." "$tree/"
	chown -R 0:0 "$tree/usr/local" "$tree/etc/sysctl.d"
	echo n90 >"$tree/etc/hostname"
	# Room for the tree plus a tenth and 32 MiB: the board mounts it read-only,
	# but a by-hand read-write boot should not find it full.
	used=$(du -sm "$tree" | cut -f1)
	size=$((used + used / 10 + 32))
	mkfs.ext4 -q -F -L n90root -d "$tree" "$out/rootfs.ext4.tmp" "${size}M"
	mv "$out/rootfs.ext4.tmp" "$out/rootfs.ext4"
fi

# 3. The initramfs that mounts it.
if [ ! -f "$out/initrd.cpio.gz" ] || [ "$here/initramfs-init.sh" -nt "$out/initrd.cpio.gz" ] ||
	[ "$0" -nt "$out/initrd.cpio.gz" ]; then
	ir=$(mktemp -d "${TMPDIR:-/tmp}/n90-initrd.XXXXXX")
	mkdir -p "$ir"/{bin,dev,proc,sys,newroot,lib/modules}
	cp /bin/busybox "$ir/bin/busybox"
	cp "$here/initramfs-init.sh" "$ir/init"
	for m in drivers/virtio/virtio drivers/virtio/virtio_ring drivers/virtio/virtio_mmio \
		drivers/virtio/virtio_pci drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev \
		drivers/block/virtio_blk; do
		cp "$k/modules/kernel/$m.ko" "$ir/lib/modules/"
	done
	(cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initrd.cpio.gz"
	rm -rf "$ir"
fi
ls -l "$out/rootfs.ext4" "$out/initrd.cpio.gz" | awk '{print "mkrootfs: " $NF " " int($5 / 1048576) " MiB"}'
