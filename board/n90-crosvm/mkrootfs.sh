#!/usr/bin/env bash
# Builds the N90 board's guest for one architecture under build/n90-crosvm/ARCH/ (the
# directory of the board's ROOTFS), unattended and reused when nothing changed:
#   base.tar        Debian (this host's release) minbase + packages.txt, by mmdebstrap through
#                   this host's own apt sources (no mirror is named here). For a foreign
#                   architecture (arm64 on an x86_64 host) mmdebstrap runs the packages'
#                   scripts under qemu-user-static through binfmt_misc, which this script
#                   mounts and registers when they are missing (root; `make deps` installs it).
#   rootfs.ext4     base.tar, then the post-build hook (post-build.sh TREE: the kernel's
#                   modules, overlay/, the package manifest), made with mkfs.ext4 -d: no loop
#                   mounts; then the post-image hook (post-image.sh OUTDIR: rootfs.img,
#                   sizes, build-info.txt)
#   initrd.cpio.gz  busybox of the architecture + the virtio modules; mounts the rootfs by its
#                   label and switch_roots into /usr/local/sbin/n90-init (initramfs-init.sh)
# The kernel is Debian's that the rig fetches (tests/system/fetch-kernel.sh [--arch arm64]).
# --without-tools leaves out the packages.txt lines tagged [tools] (strace, gdb, htop: promised
# for people, used by no suite; gdb alone brings ~25 libraries): CI's smaller, faster image.
# --fetch-only: only the downloads it shares with the rig (the kernel; arm64's busybox), so
# that the rest can run beside the rig's own steps (.ci/run).
# usage: board/n90-crosvm/mkrootfs.sh [--arch aarch64|x86_64] [--board NAME] [--without-tools] [--fetch-only]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$(cd "$(dirname "$0")" && pwd)
board=n90-crosvm arch= tools=yes fetch_only=no
while [ $# -gt 0 ]; do
	case $1 in
	--arch) arch=$2; shift 2 ;;
	--board) board=$2; shift 2 ;;
	--without-tools) tools=no; shift ;;
	--fetch-only) fetch_only=yes; shift ;;
	*) echo "mkrootfs: unknown argument $1 (usage: mkrootfs.sh [--arch aarch64|x86_64] [--board NAME] [--without-tools] [--fetch-only])" >&2; exit 2 ;;
	esac
done
die() { echo "mkrootfs: $*" >&2; exit 1; }
eval "$("$root/harness/board.py" ${arch:+--arch "$arch"} "$board" | sed 's/^/conf_/')"
arch=$conf_ARCH
out=$root/$(dirname "$conf_ROOTFS")
mkdir -p "$out"
case $arch in
aarch64) debarch=arm64 rig=arm64 ;;
x86_64) debarch=amd64 rig=x86_64 ;;
esac
[ "$(id -u)" = 0 ] || die "needs root (file ownership inside the image, binfmt_misc); run as root"
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (make deps)"
t_start=$(date +%s)
"$root/tests/system/fetch-kernel.sh" --arch "$rig"
# The initramfs's busybox: the host's, or the arm64 rig's unpacked copy.
busybox=/bin/busybox
if [ "$arch" = aarch64 ]; then
	(export RIG_ARCH=arm64 && . "$root/tests/system/rig-arch.sh" && rig_fetch_busybox)
	busybox=$root/build/rig/arm64/busybox/bin/busybox
fi
[ $fetch_only = no ] || exit 0
kernel_dir=$(dirname "$root/$conf_KERNEL")
kver=$(cat "$kernel_dir/version")

# foreign_arch_ready: this host runs $debarch binaries (qemu-user-static through binfmt_misc,
# with the F flag so that the interpreter works inside mmdebstrap's chroot).
foreign_arch_ready() {
	local name=qemu-$arch conf=/usr/lib/binfmt.d/qemu-$arch.conf
	[ "$debarch" = "$(dpkg --print-architecture)" ] && return 0
	command -v arch-test >/dev/null || die "arch-test is missing (make deps)"
	[ -f "$conf" ] || die "$conf is missing: qemu-user-static is not installed (make deps)"
	[ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
		die "cannot mount binfmt_misc on /proc/sys/fs/binfmt_misc"
	if [ ! -e "/proc/sys/fs/binfmt_misc/$name" ]; then
		echo "mkrootfs: registering $name with binfmt_misc ($conf)" >&2
		cat "$conf" >/proc/sys/fs/binfmt_misc/register || die "cannot register $name with binfmt_misc"
	fi
	arch-test "$debarch" >/dev/null || die "this host cannot run $debarch binaries (arch-test $debarch fails)"
}

# 1. The Debian base, cached: only a changed package list (or architecture) rebuilds it.
packages=$(if [ $tools = yes ]; then cat "$here/packages.txt"; else grep -v '\[tools\]' "$here/packages.txt"; fi |
	sed 's/#.*//' | tr -s ' \t\n' '\n' | grep . | sort | paste -sd, -)
t_base=0
if [ ! -f "$out/base.tar" ] || [ "$(cat "$out/base.packages" 2>/dev/null)" != "$debarch $packages" ]; then
	foreign_arch_ready
	sources=()
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -s "$f" ] && sources+=("$f")
	done
	[ ${#sources[@]} -gt 0 ] || die "no apt sources on this host (/etc/apt/sources.list*)"
	suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
	t0=$(date +%s)
	echo "mkrootfs: mmdebstrap $suite $debarch minbase + $packages" >&2
	mmdebstrap --quiet --arch="$debarch" --variant=minbase --include="$packages" \
		--dpkgopt='path-exclude=/usr/share/{doc,man,info,locale}/*' \
		--format=tar "$suite" "$out/base.tmp.tar" "${sources[@]}"
	mv "$out/base.tmp.tar" "$out/base.tar"
	echo "$debarch $packages" >"$out/base.packages"
	t_base=$(($(date +%s) - t0))
	echo "$t_base" >"$out/base.seconds"
fi

# 2. rootfs.ext4, rebuilt when the base, the overlay or the board's scripts are newer.
hooks=(env ROOT="$root" BOARD_DIR="$here" ARCH="$arch" KERNEL_DIR="$kernel_dir" KERNEL_VERSION="$kver")
newest=$(find "$root/overlay" "$here" "$out/base.tar" -newer "$out/rootfs.ext4" 2>/dev/null | head -n 1 || true)
t_image=0
if [ ! -f "$out/rootfs.ext4" ] || [ -n "$newest" ]; then
	t0=$(date +%s)
	tree=$(mktemp -d "${TMPDIR:-/tmp}/n90-rootfs.XXXXXX")
	trap 'rm -rf "$tree"' EXIT
	tar -C "$tree" --same-owner -xf "$out/base.tar"
	"${hooks[@]}" OUT="$out" "$here/post-build.sh" "$tree"
	# Room for the tree plus a tenth and 32 MiB: the board mounts it read-only, but a by-hand
	# read-write boot should not find it full.
	used=$(du -sm "$tree" | cut -f1)
	mkfs.ext4 -q -F -L n90root -d "$tree" "$out/rootfs.ext4.tmp" "$((used + used / 10 + 32))M"
	mv "$out/rootfs.ext4.tmp" "$out/rootfs.ext4"
	rm -rf "$tree"
	trap - EXIT
	t_image=$(($(date +%s) - t0))
fi

# 3. The initramfs that mounts it.
if [ ! -f "$out/initrd.cpio.gz" ] || [ -n "$(find "$here" -newer "$out/initrd.cpio.gz" | head -n 1)" ]; then
	ir=$(mktemp -d "${TMPDIR:-/tmp}/n90-initrd.XXXXXX")
	mkdir -p "$ir"/{bin,dev,proc,sys,newroot,lib/modules}
	cp "$busybox" "$ir/bin/busybox"
	cp "$here/initramfs-init.sh" "$ir/init"
	# Those of the virtio drivers the kernel has as modules (arm64's has virtio-pci built in).
	for m in drivers/virtio/virtio drivers/virtio/virtio_ring drivers/virtio/virtio_mmio \
		drivers/virtio/virtio_pci drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev \
		drivers/block/virtio_blk; do
		[ -f "$kernel_dir/modules/kernel/$m.ko" ] && cp "$kernel_dir/modules/kernel/$m.ko" "$ir/lib/modules/"
	done
	(cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initrd.cpio.gz"
	rm -rf "$ir"
fi

"${hooks[@]}" BASE_SECONDS="$t_base" IMAGE_SECONDS="$t_image" TOTAL_SECONDS=$(($(date +%s) - t_start)) \
	"$here/post-image.sh" "$out"
