#!/bin/sh
# virtio-blk benchmark cases, run where KVM runs the test guest (the host, or the rig's L1 VM): the test
# guest's bench= mode (tests/guest/virtio_blk.c) issues N random 4 KiB requests, 8 in flight,
# polled, against the same raw image under n90vmm (virtio-pci and virtio-mmio) and QEMU
# (q35 + virtio-blk-pci, microvm + virtio-mmio version 2). Time is taken twice: by the guest
# (TSC calibrated against the PIT: "usec", "iops") and by the host (runstat -m: from the
# guest's BENCH-START line to its BENCH line: "host_ms", "host_iops"). Under nested emulation
# the guest's calibration is unreliable, so the host's figure is the one to read. Prints one
# JSON object per run. It measures; it never decides a test verdict.
# usage: blk-cases.sh RUNSTAT N90VMM QEMU QEMU_DATA_DIR GUEST RUNS REQUESTS
runstat=$1 n90=$2 qemu=$3 qdata=$4 guest=$5 runs=$6 n=$7
limit=120 # per run: a hung guest costs one run, not the session
img=${TMPDIR:-/tmp}/n90-bench-blk.$$.img
stat=${TMPDIR:-/tmp}/n90-bench-blk.$$.stat
dd if=/dev/zero of="$img" bs=1M count=64 2>/dev/null
# QEMU_ACCEL: QEMU's accelerator and CPU (run.sh: from tests/lib/host-kvm.sh).
qemu_common="${QEMU_ACCEL:--accel kvm -cpu host,-arch-capabilities} -smp 1 -m 256 -nodefaults -nographic -no-reboot
	-monitor none -serial stdio -drive id=d0,file=$img,format=raw,if=none"

# emit LABEL: the guest's BENCH line from stdin, labelled, with the host's time of the loop.
emit() {
	line=$(tr -d '\r' | sed -n "s/^.*BENCH {/{\"label\":\"$1\",/p" | head -n 1)
	ms=$(sed -n 's/.*"span_ms":\([-0-9.]*\).*/\1/p' "$stat" | tail -n 1)
	[ -n "$line" ] || return 0
	case $ms in '' | -*) ms=-1 ;; esac
	reqs=$(echo "$line" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
	hiops=$(awk -v r="$reqs" -v ms="$ms" 'BEGIN { if (ms > 0) printf "%d", r * 1000 / ms; else print 0 }')
	# n90vmm's per-request breakdown (--stats), when it printed one.
	bd=$(awk '/per-request/ { for (i = 1; i <= NF; i++) { split($i, kv, "=")
			if (kv[1] == "exits") { e = kv[2]; k = $(i + 1); gsub(/[()]/, "", k) }
			if (kv[1] == "syscalls") s = kv[2]; if (kv[1] == "notify-to-completion-us") l = kv[2]
			if (kv[1] == "interrupts") q = kv[2] }
		printf ",\"exits_per_req\":%s,\"exits_kind\":\"%s\",\"syscalls_per_req\":%s,\"notify_to_completion_us\":%s,\"interrupts_per_req\":%s", e, k, s, l, q }' "$stat" | head -n 1)
	# Printed as soon as measured: if L1 wedges, its log shows how far the cases got.
	echo "$line" | sed "s/}\$/,\"host_ms\":$ms,\"host_iops\":$hiops$bd}/"
}
# run LABEL TRANSPORT OP MONITOR_ARGS...
run() {
	label=$1 transport=$2 op=$3
	shift 3
	echo "blk case: $label $op" >&2
	"$runstat" -m BENCH-START "BENCH {" "$label" "$@" -p "virtio=blk-$transport-poll bench=$op bench_n=$n bench_qd=8" \
		2>"$stat" </dev/null | emit "$label"
}
# QEMU takes the command line as -append.
qrun() {
	label=$1 transport=$2 op=$3
	shift 3
	echo "blk case: $label $op" >&2
	"$runstat" -m BENCH-START "BENCH {" "$label" "$@" -append "virtio=blk-$transport-poll bench=$op bench_n=$n bench_qd=8" \
		2>"$stat" </dev/null | emit "$label"
}

i=0
while [ "$i" -lt "$runs" ]; do
	for op in randread randwrite; do
		run n90vmm-pci pci $op "$n90" --timeout $limit --no-stdin --stats -c 1 -m 256 --virtio-transport pci --disk "$img" "$guest"
		run n90vmm-mmio mmio $op "$n90" --timeout $limit --no-stdin -c 1 -m 256 --virtio-transport mmio --disk "$img" "$guest"
		# shellcheck disable=SC2086 # $qemu_common is a list of options
		qrun qemu-q35-pci pci $op timeout $limit "$qemu" -L "$qdata" -M q35 $qemu_common \
			-device virtio-blk-pci,drive=d0,disable-legacy=on -kernel "$guest"
		# shellcheck disable=SC2086
		qrun qemu-microvm-mmio mmio $op timeout $limit "$qemu" -L "$qdata" -M microvm $qemu_common \
			-global virtio-mmio.force-legacy=false -device virtio-blk-device,drive=d0 -kernel "$guest"
	done
	i=$((i + 1))
done
rm -f "$img" "$stat"
