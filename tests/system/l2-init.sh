#!/bin/busybox sh
# init of the rig's L2 initramfs (Debian's kernel inside n90vmm). The scenario comes from
# the kernel command line (scenario=NAME); results are printed as lines the L1 side checks.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
scenario=
# rootdev=: the disk the scenarios use (vda; vdb on crosvm-arm64, whose rootfs is the second).
rootdev=vda
for word in $(cat /proc/cmdline); do
	case $word in
	scenario=*) scenario=${word#scenario=} ;;
	rootdev=*) rootdev=${word#rootdev=} ;;
	esac
done
load() { for m in "$@"; do insmod "/lib/modules/$m.ko" 2>/dev/null; done; }
echo "L2-USERSPACE-OK scenario=$scenario cpus=$(grep -c ^processor /proc/cpuinfo)"
case $scenario in
blk-rootfs)
	load virtio_ring virtio virtio_mmio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk
	mkdir -p /newroot
	if mount -t ext4 "/dev/$rootdev" /newroot; then
		# The rootfs's own init writes a file and powers off (a real switch_root).
		exec switch_root /newroot /sbin/init
	fi
	echo "L2-ROOTFS-MOUNT-FAILED"
	;;
blk-readonly)
	load virtio_ring virtio virtio_mmio virtio_blk
	echo "L2-RO-MD5 $(md5sum <"/dev/$rootdev" | cut -d' ' -f1)"
	if dd if=/dev/zero of="/dev/$rootdev" bs=512 count=8 conv=fsync 2>/dev/null; then
		echo "L2-RO-WRITE-ACCEPTED"
	else
		echo "L2-RO-WRITE-REFUSED"
	fi
	;;
hvc0)
	load virtio_ring virtio virtio_mmio virtio_console
	sleep 0.2
	exec </dev/hvc0 >/dev/hvc0 2>&1
	echo "L2-HVC0-READY"
	read -r line
	echo "L2-HVC0-GOT:$line"
	;;
net)
	# virtio-net (PCI, MSI-X): ping the host, serve a 4 MiB file to it and fetch one from it
	# over HTTP (TCP with checksum and segmentation offloads, mergeable buffers).
	load virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net
	ip link set lo up
	ip addr add 10.0.2.2/30 dev eth0 && ip link set eth0 up
	echo "L2-NET-UP $(cat /sys/class/net/eth0/address)"
	ping -c 3 -W 5 10.0.2.1 >/dev/null && echo "L2-PING-OK"
	mkdir -p /www /tmp
	dd if=/dev/urandom of=/www/blob bs=64k count=64 2>/dev/null
	httpd -p 8080 -h /www
	echo "L2-TX-READY $(md5sum </www/blob | cut -d' ' -f1)"
	wget -q -O /tmp/got http://10.0.2.1:8080/blob && echo "L2-RX-MD5 $(md5sum </tmp/got | cut -d' ' -f1)"
	# The host creates /go once it has fetched our file.
	i=0
	while [ $i -lt 600 ] && ! wget -q -O /dev/null http://10.0.2.1:8080/go 2>/dev/null; do
		sleep 0.2
		i=$((i + 1))
	done
	echo "L2-NET-DONE rx_packets=$(cat /sys/class/net/eth0/statistics/rx_packets) tx_packets=$(cat /sys/class/net/eth0/statistics/tx_packets) rx_dropped=$(cat /sys/class/net/eth0/statistics/rx_dropped)"
	;;
harness)
	# A shell with StarryOS's prompt on the serial console, as the harness expects.
	PS1='starry:~# ' setsid cttyhack sh -i
	;;
esac
poweroff -f
