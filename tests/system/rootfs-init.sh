#!/bin/sh
# /sbin/init of the rig's rootfs.ext4: proves the root filesystem is the virtio-blk disk by
# writing a file there, then powers off.
mount -t proc proc /proc
echo "written by L2 at boot" >/l2-was-here
sync
echo "L2-ROOTFS-INIT-OK root=$(awk '$2 == "/" {print $1}' /proc/mounts | tail -1)"
# How the disk interrupts (MSI-X, or INTx on an IOAPIC line): the scenarios check it.
awk '/virtio/ { print "L2-IRQ " $0 }' /proc/interrupts
poweroff -f
