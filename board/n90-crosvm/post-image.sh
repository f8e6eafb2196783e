#!/usr/bin/env bash
# Post-image hook of the N90 board (mkrootfs.sh runs it on the output directory after the
# images are made, as a buildroot board's post-image.sh gets BINARIES_DIR):
#   - rootfs.img, the name the N90 setup's QEMU board (qemu_virt) uses, as a link to rootfs.ext4
#   - build-info.txt: architecture, kernel, image sizes and build times (reported by
#     mkrootfs.sh and by quickstart-n90.sh build-all)
# usage: post-image.sh OUTDIR   (environment from mkrootfs.sh: ARCH, KERNEL_VERSION,
#                                BASE_SECONDS, IMAGE_SECONDS, TOTAL_SECONDS)
set -euo pipefail
out=$1
ln -sf rootfs.ext4 "$out/rootfs.img"
mib() { echo $(($(stat -L -c %s "$1") / 1048576)); }
# A cached base keeps the time its build took.
base_seconds=$BASE_SECONDS
[ "$base_seconds" = 0 ] && [ -f "$out/base.seconds" ] && base_seconds="$(cat "$out/base.seconds") (cached)"
{
	echo "arch: $ARCH"
	echo "kernel: $KERNEL_VERSION"
	echo "packages: $(wc -l <"$out/packages.manifest") (board/n90-crosvm/packages.txt and their dependencies)"
	echo "rootfs.ext4: $(mib "$out/rootfs.ext4") MiB ($(du -m "$out/rootfs.ext4" | cut -f1) MiB allocated)"
	echo "initrd.cpio.gz: $(($(stat -c %s "$out/initrd.cpio.gz") / 1024)) KiB"
	echo "base.tar: $(mib "$out/base.tar") MiB"
	echo "build seconds: base $base_seconds, image $IMAGE_SECONDS, this run $TOTAL_SECONDS"
} >"$out/build-info.txt"
sed 's/^/mkrootfs: /' "$out/build-info.txt" >&2
