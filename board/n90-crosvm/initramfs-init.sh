#!/bin/busybox sh
# init of the N90 board's initramfs (board/n90-crosvm/mkrootfs.sh): Debian's kernels have
# virtio-blk as a module, so this loads it, mounts the board's ext4 rootfs (read-only unless
# the command line says rw) and hands over to the rootfs's init (n90.init=PATH, default
# /usr/local/sbin/n90-init). The rootfs is found by its label, n90root: it is /dev/vda on x86
# and /dev/vdb on crosvm-arm64, which puts a placeholder disk first (docs/arm64.md);
# n90.root=DEV names the device instead.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mode=ro init=/usr/local/sbin/n90-init root=
for word in $(cat /proc/cmdline); do
	case $word in
	rw) mode=rw ;;
	n90.init=*) init=${word#n90.init=} ;;
	n90.root=*) root=${word#n90.root=} ;;
	esac
done
for m in virtio_ring virtio virtio_mmio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
	[ -f "/lib/modules/$m.ko" ] && insmod "/lib/modules/$m.ko" 2>/dev/null
done
# Disks appear asynchronously after the driver binds: wait up to 10 s for the rootfs.
i=0
while [ $i -lt 100 ]; do
	dev=${root:-$(findfs LABEL=n90root 2>/dev/null)}
	[ -b "$dev" ] && break
	sleep 0.1
	i=$((i + 1))
done
# A read-write mount of a read-only disk fails: take it read-only then.
if mount -t ext4 -o "$mode" "$dev" /newroot || { [ "$mode" = rw ] && mount -t ext4 -o ro "$dev" /newroot; }; then
	umount /proc /sys
	mount --move /dev /newroot/dev
	exec switch_root /newroot "$init"
fi
echo "n90-initramfs: cannot mount the rootfs (${root:-LABEL=n90root} -> ${dev:-nothing}, ext4, $mode); no rootfs disk given?" >&2
poweroff -f
