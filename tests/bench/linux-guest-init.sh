#!/bin/busybox sh
# shellcheck shell=dash
# init of the benchmark's Linux guest (tests/bench/build-linux-guest.sh): Debian's kernel
# with fio and iperf3 from Debian, under n90vmm, QEMU or crosvm alike. What to run comes from
# the kernel command line; results are printed on the console, one line each:
#   BENCH-FIO <job> <fio terse v3 line>        (fio --output-format=terse)
#   BENCH-NET <g2h|h2g> <Mbit/s> <retransmits>  (iperf3 against 10.0.2.1, the host's end of the tap)
# bench_jobs=rr1,rr32,rw1,rw32,sr,sw  bench_runtime=SEC  bench_net=SEC (0: no net)
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp && mount -t tmpfs tmpfs /tmp
jobs="" runtime=5 net=0 disk=vda
for word in $(cat /proc/cmdline); do
	case $word in
	bench_jobs=*) jobs=$(echo "${word#bench_jobs=}" | tr , ' ') ;;
	bench_runtime=*) runtime=${word#bench_runtime=} ;;
	bench_net=*) net=${word#bench_net=} ;;
	bench_disk=*) disk=${word#bench_disk=} ;;
	esac
done
for m in virtio_ring virtio virtio_mmio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk \
	failover net_failover virtio_net; do
	insmod "/lib/modules/$m.ko" 2>/dev/null
done
echo "BENCH-GUEST-UP cpus=$(grep -c ^processor /proc/cpuinfo) queues=$(ls /sys/block/$disk/mq 2>/dev/null | wc -l)"
for job in $jobs; do
	case $job in
	rr1) a="--rw=randread --bs=4k --iodepth=1" ;;
	rr32) a="--rw=randread --bs=4k --iodepth=32" ;;
	rw1) a="--rw=randwrite --bs=4k --iodepth=1" ;;
	rw32) a="--rw=randwrite --bs=4k --iodepth=32" ;;
	sr) a="--rw=read --bs=1M --iodepth=8" ;;
	sw) a="--rw=write --bs=1M --iodepth=8" ;;
	*) echo "BENCH-ERROR unknown job $job"; continue ;;
	esac
	# shellcheck disable=SC2086 # $a is a list of options
	line=$(fio --name="$job" --filename="/dev/$disk" --direct=1 --ioengine=libaio $a --numjobs=1 \
		--time_based --runtime="$runtime" --ramp_time=1 --norandommap --randrepeat=0 \
		--output-format=terse --terse-version=3 2>/tmp/fio.err | tail -n 1)
	[ -n "$line" ] || line="error $(head -c 200 /tmp/fio.err | tr '\n' ' ')"
	echo "BENCH-FIO $job $line"
done
if [ "$net" != 0 ]; then
	ip link set lo up
	ip addr add 10.0.2.2/30 dev eth0 && ip link set eth0 up
	i=0
	while ! ping -c 1 -W 1 10.0.2.1 >/dev/null 2>&1 && [ $i -lt 20 ]; do i=$((i + 1)); done
	# iperf3's receiver summary: "... <n> Mbits/sec ... receiver"; the sender's line has the
	# retransmissions. g2h: the guest sends; h2g: -R, the host sends.
	for dir in g2h h2g; do
		r=
		[ $dir = h2g ] && r=-R
		iperf3 -c 10.0.2.1 $r -t "$net" -i 0 -f m >/tmp/iperf.out 2>&1
		mbps=$(awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") v = $i } END { print v }' /tmp/iperf.out)
		retr=$(awk '/sender/ { print $(NF - 1) }' /tmp/iperf.out)
		[ -n "$mbps" ] || { mbps=error; head -c 300 /tmp/iperf.out; }
		echo "BENCH-NET $dir $mbps $retr"
	done
fi
echo "BENCH-GUEST-DONE"
sync
poweroff -f
