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
durability)
	# ext4 on virtio-blk (PCI): files written and fsync'ed one after another until n90vmm is
	# killed; a file's line comes only once its data and its directory entry are on the disk.
	load virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk
	mkdir -p /mnt
	mount -t ext4 "/dev/$rootdev" /mnt || { echo "L2-DUR-MOUNT-FAILED"; poweroff -f; }
	rm -rf /mnt/d && mkdir /mnt/d && sync
	echo "L2-DUR-READY"
	n=0
	while :; do
		dd if=/dev/urandom of=/mnt/d/f$n bs=4k count=$((1 + n % 16)) conv=fsync 2>/dev/null &&
			sync /mnt/d && echo "L2-DUR-SYNCED f$n $(md5sum </mnt/d/f$n | cut -d' ' -f1)"
		n=$((n + 1))
	done
	;;
soak)
	# Disk, network and console traffic together for soak=SECONDS: 1 MiB written, fsync'ed,
	# read back past the page cache and compared; a 1 MiB file fetched from L1 over HTTP and
	# a ping; ten lines on the console; again.
	load virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk failover \
		net_failover virtio_net
	mkdir -p /mnt /tmp
	mount -t ext4 "/dev/$rootdev" /mnt || echo "L2-SOAK-MOUNT-FAILED"
	ip link set lo up
	ip addr add 10.0.2.2/30 dev eth0 && ip link set eth0 up
	secs=$(sed -n 's/.*soak=\([0-9]*\).*/\1/p' /proc/cmdline)
	end=$(($(date +%s) + ${secs:-60}))
	n=0 bad=0 net=
	echo "L2-SOAK-START ${secs:-60}"
	while [ "$(date +%s)" -lt $end ]; do
		dd if=/dev/urandom of=/mnt/soak bs=64k count=16 conv=fsync 2>/dev/null
		a=$(md5sum </mnt/soak)
		echo 3 >/proc/sys/vm/drop_caches
		[ "$a" = "$(md5sum </mnt/soak)" ] || { bad=$((bad + 1)); echo "L2-SOAK-DISK-MISMATCH $n"; }
		if wget -q -O /tmp/blob http://10.0.2.1:8080/blob; then
			got=$(md5sum </tmp/blob | cut -d' ' -f1)
			[ -n "$net" ] || { net=$got; echo "L2-SOAK-NET $net"; }
			[ "$got" = "$net" ] || { bad=$((bad + 1)); echo "L2-SOAK-NET-MISMATCH $n"; }
		else
			bad=$((bad + 1))
			echo "L2-SOAK-NET-FAILED $n"
		fi
		ping -c 1 -W 5 10.0.2.1 >/dev/null || { bad=$((bad + 1)); echo "L2-SOAK-PING-FAILED $n"; }
		rm -f /tmp/blob
		i=0
		while [ $i -lt 10 ]; do
			echo "L2-SOAK-LINE $n.$i the quick brown fox jumps over the lazy dog 0123456789abcdefghijklmnopqrstuvwxyz"
			i=$((i + 1))
		done
		n=$((n + 1))
	done
	umount /mnt
	echo "L2-SOAK-DONE rounds=$n errors=$bad"
	;;
harness)
	# A shell with StarryOS's prompt on the serial console, as the harness expects.
	PS1='starry:~# ' setsid cttyhack sh -i
	;;
esac
poweroff -f
