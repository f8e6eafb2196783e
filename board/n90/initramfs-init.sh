#!/bin/busybox sh
# init of the N90 board's initramfs (board/n90/mkrootfs.sh): Debian's cloud kernel has
# virtio-blk as a module, so this loads it, mounts the board's ext4 rootfs from the first
# virtio disk (read-only unless the command line says rw) and hands over to the rootfs's init
# (n90.init=PATH, default /usr/local/sbin/n90-init).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mode=ro init=/usr/local/sbin/n90-init root=/dev/vda
for word in $(cat /proc/cmdline); do
	case $word in
	rw) mode=rw ;;
	n90.init=*) init=${word#n90.init=} ;;
	n90.root=*) root=${word#n90.root=} ;;
	esac
done
for m in virtio_ring virtio virtio_mmio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
	insmod "/lib/modules/$m.ko" 2>/dev/null
done
# The disk appears asynchronously after the driver binds: wait up to 5 s for it.
i=0
while [ ! -b "$root" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if mount -t ext4 -o "$mode" "$root" /newroot; then
	umount /proc /sys
	mount --move /dev /newroot/dev
	exec switch_root /newroot "$init"
fi
echo "n90-initramfs: cannot mount $root (ext4, $mode); no rootfs disk given?" >&2
poweroff -f
