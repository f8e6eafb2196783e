#!/bin/sh
# The Linux benchmark's cases, run where KVM runs an unmodified Linux (this host when its KVM
# is real, else the rig's L1 VM): each run measures the host's own ceiling for the disk (fio
# on the device itself, same jobs, O_DIRECT), then boots the same Linux guest (kernel,
# initramfs with fio and iperf3, disk, tap) under each monitor, in turn, interleaved run by
# run, so a slow minute of the machine hits all of them alike. Prints one JSON object per
# figure: {"monitor":..,"run":..,"workload":..,"iops":..,"mbps":..,"lat_us":..}; with
# BENCH_BREAKDOWN, one more n90vmm boot per listed job with --stats ("breakdown" lines).
# It measures; it never decides a verdict.
# usage: linux-cases.sh DIR DISK RUNS   (DIR: n90vmm, vmlinuz, guest.cpio.gz, fio, iperf3, and
#                                        optionally qemu + qemu-data/, crosvm; DISK: a block
#                                        device or file, overwritten)
# Environment: BENCH_JOBS (rr1,rr32,rw1,rw32,sr,sw), BENCH_RUNTIME (s per job), BENCH_NET (s
# per direction, 0: none), BENCH_CPUS, BENCH_MEM, IP (path of ip), QEMU_CPU (default host),
# BENCH_BREAKDOWN (jobs, e.g. rr1,rr32).
d=$1 disk=$2 runs=$3
jobs=${BENCH_JOBS:-rr1,rr32,rw1,rw32,sr,sw}
runtime=${BENCH_RUNTIME:-5}
net=${BENCH_NET:-5}
cpus=${BENCH_CPUS:-2}
mem=${BENCH_MEM:-512}
ip=${IP:-ip}
limit=600
tap=n90b0
log=${TMPDIR:-/tmp}/n90-bench-linux.$$
base="console=ttyS0 quiet panic=-1 bench_runtime=$runtime"

# fio's terse v3 line -> JSON fields: read fields 7 (KiB/s), 8 (IOPS), 40 (lat mean us);
# write fields 48, 49, 81. A job reports the direction it did.
terse_json() { # MONITOR RUN JOB LINE
	echo "$4" | awk -F';' -v m="$1" -v r="$2" -v j="$3" '
		NF < 81 { printf "{\"monitor\":\"%s\",\"run\":%s,\"workload\":\"%s\",\"error\":\"fio\"}\n", m, r, j; next }
		{ w = ($49 + 0 > $8 + 0); iops = w ? $49 : $8; kb = w ? $48 : $7; lat = w ? $81 : $40
		  printf "{\"monitor\":\"%s\",\"run\":%s,\"workload\":\"%s\",\"iops\":%.1f,\"mbps\":%.2f,\"lat_us\":%.1f}\n",
			m, r, j, iops, kb * 1024 / 1e6, lat }'
}

tap_up() {
	$ip link del $tap 2>/dev/null
	$ip tuntap add dev $tap mode tap && $ip addr add 10.0.2.1/30 dev $tap && $ip link set $tap up
}

# The host's own ceiling: the same fio jobs on DISK from here.
host_ceiling() { # RUN
	for job in $(echo "$jobs" | tr , ' '); do
		case $job in
		rr1) a="--rw=randread --bs=4k --iodepth=1" ;; rr32) a="--rw=randread --bs=4k --iodepth=32" ;;
		rw1) a="--rw=randwrite --bs=4k --iodepth=1" ;; rw32) a="--rw=randwrite --bs=4k --iodepth=32" ;;
		sr) a="--rw=read --bs=1M --iodepth=8" ;; sw) a="--rw=write --bs=1M --iodepth=8" ;;
		esac
		# shellcheck disable=SC2086
		line=$("$d/fio" --name="$job" --filename="$disk" --direct=1 --ioengine=libaio $a --numjobs=1 --time_based \
			--runtime="$runtime" --ramp_time=1 --norandommap --randrepeat=0 --output-format=terse \
			--terse-version=3 2>"$log.fio" | tail -n 1)
		[ -s "$log.fio" ] && { echo "bench: host fio $job:" >&2; head -c 400 "$log.fio" >&2; }
		terse_json host "$1" "$job" "$line"
	done
	if [ "$net" != 0 ]; then
		# The network's ceiling here: iperf3 over loopback, the same duration.
		"$d/iperf3" -s -1 -B 127.0.0.1 >/dev/null 2>&1 &
		sleep 0.5
		mbps=$("$d/iperf3" -c 127.0.0.1 -t "$net" -i 0 -f m 2>/dev/null |
			awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") v = $i } END { print v }')
		wait
		printf '{"monitor":"host","run":%s,"workload":"net-loopback","mbps":%s}\n' "$1" "${mbps:-null}"
	fi
}

# guest MONITOR RUN JOBS NET [STATSFILE]: boots the guest under MONITOR, prints its figures.
guest() {
	m=$1 r=$2 gj=$3 gn=$4
	cmd="$base bench_jobs=$gj bench_net=$gn"
	tap_up
	"$d/iperf3" -s -B 10.0.2.1 >/dev/null 2>&1 &
	srv=$!
	case $m in
	n90vmm)
		timeout $limit "$d/n90vmm" --no-stdin --stats -c "$cpus" -m "$mem" -p "$cmd" -i "$d/guest.cpio.gz" \
			--disk "$disk,direct" --net "tap=$tap,mac=52:54:00:12:34:56" "$d/vmlinuz" >"$log" 2>&1 ;;
	qemu)
		# q35 + virtio-blk-pci on the same O_DIRECT device (io_uring, as n90vmm) and
		# virtio-net-pci on the same tap without vhost (n90vmm has none either).
		timeout $limit "$d/qemu" -L "$d/qemu-data" -M q35 -accel kvm -cpu "${QEMU_CPU:-host}" -smp "$cpus" -m "$mem" \
			-nodefaults -nographic -no-reboot -monitor none -serial stdio \
			-drive "id=d0,file=$disk,format=raw,if=none,cache=none,aio=io_uring" \
			-device virtio-blk-pci,drive=d0,disable-legacy=on \
			-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=off" \
			-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,disable-legacy=on,romfile= \
			-kernel "$d/vmlinuz" -initrd "$d/guest.cpio.gz" -append "$cmd" </dev/null >"$log" 2>&1 ;;
	crosvm)
		timeout $limit "$d/crosvm" run --disable-sandbox -c "$cpus" -m "$mem" -p "$cmd" -i "$d/guest.cpio.gz" \
			--block "path=$disk,o_direct=true" --net "tap-name=$tap,mac=52:54:00:12:34:56" \
			"$d/vmlinuz" </dev/null >"$log" 2>&1 ;;
	esac
	rc=$?
	kill $srv 2>/dev/null
	wait $srv 2>/dev/null
	tr -d '\r' <"$log" >"$log.clean"
	grep -q BENCH-GUEST-DONE "$log.clean" || {
		echo "bench: $m run $r: no BENCH-GUEST-DONE (exit $rc)" >&2
		tail -n 15 "$log.clean" >&2
	}
	grep '^BENCH-FIO ' "$log.clean" | while read -r _ job line; do
		terse_json "$m" "$r" "$job" "$line"
	done
	grep '^BENCH-NET ' "$log.clean" | while read -r _ dir mbps retr; do
		case $mbps in '' | *[!0-9.]*) mbps=null ;; esac
		case $retr in '' | *[!0-9]*) retr=null ;; esac
		printf '{"monitor":"%s","run":%s,"workload":"net-%s","mbps":%s,"retransmits":%s}\n' "$m" "$r" "$dir" "$mbps" "$retr"
	done
	# n90vmm's per-request breakdown of the whole boot (--stats).
	[ -n "${5:-}" ] && grep 'per-request\|backend=' "$log.clean" >"$5"
	cp "$log.clean" "${TMPDIR:-/tmp}/n90-bench-last-$m.log"
	return 0
}

monitors="n90vmm"
[ -x "$d/qemu" ] && monitors="$monitors qemu"
[ -x "$d/crosvm" ] && monitors="$monitors crosvm"
echo "bench: monitors: $monitors; disk $disk; $runs runs; jobs $jobs, ${runtime}s each; net ${net}s" >&2
# Non-sparse, so reads cost what reads cost.
[ -b "$disk" ] || [ -s "$disk" ] || dd if=/dev/zero of="$disk" bs=1M count=256 2>/dev/null
i=1
while [ "$i" -le "$runs" ]; do
	echo "bench: run $i: host" >&2
	host_ceiling $i
	for m in $monitors; do
		echo "bench: run $i: $m" >&2
		guest "$m" "$i" "$jobs" "$net"
	done
	i=$((i + 1))
done
# One n90vmm boot per breakdown job, its --stats as JSON.
for job in $(echo "${BENCH_BREAKDOWN:-}" | tr , ' '); do
	echo "bench: breakdown: $job" >&2
	guest n90vmm 0 "$job" 0 "$log.stats" >/dev/null
	awk -v j="$job" '
		/backend=/ { for (i = 1; i <= NF; i++) if ($i ~ /^(backend|queues|completed|batches|publishes|max_inflight)=/) { split($i, kv, "="); f[kv[1]] = kv[2] } }
		/per-request/ { for (i = 1; i <= NF; i++) { if ($i ~ /^exits=/) { split($i, kv, "="); ex = kv[2]; ek = $(i + 1) }
			if ($i ~ /^syscalls=/) { split($i, kv, "="); sc = kv[2] }
			if ($i ~ /^notify-to-completion-us=/) { split($i, kv, "="); lat = kv[2] }
			if ($i ~ /^interrupts=/) { split($i, kv, "="); irq = kv[2] }
			if ($i ~ /^notifies=/) { split($i, kv, "="); nt = kv[2] } } }
		END { gsub(/[()]/, "", ek); printf "{\"breakdown\":\"%s\",\"backend\":\"%s\",\"queues\":%s,\"completed\":%s,\"exits_per_req\":%s,\"exits_kind\":\"%s\",\"syscalls_per_req\":%s,\"notify_to_completion_us\":%s,\"interrupts_per_req\":%s,\"notifies_per_req\":%s,\"max_inflight\":%s}\n",
			j, f["backend"], f["queues"] + 0, f["completed"] + 0, ex + 0, ek, sc + 0, lat + 0, irq + 0, nt + 0, f["max_inflight"] + 0 }' "$log.stats"
done
$ip link del $tap 2>/dev/null
rm -f "$log" "$log.clean" "$log.stats" "$log.fio"
