#!/bin/sh
# virtio-blk benchmark cases, run where /dev/kvm works (the host, or the rig's L1 VM): the test
# guest's bench= mode (tests/guest/virtio_blk.c) issues N random 4 KiB requests, 8 in flight,
# polled, against the same raw image under n90vmm (virtio-pci and virtio-mmio) and QEMU
# (q35 + virtio-blk-pci, microvm + virtio-mmio version 2), and reports the time it measured
# with its TSC (calibrated against the PIT). Prints one JSON object per run. It measures; it
# never decides a test verdict.
# usage: blk-cases.sh N90VMM QEMU QEMU_DATA_DIR GUEST RUNS REQUESTS
n90=$1 qemu=$2 qdata=$3 guest=$4 runs=$5 n=$6
img=${TMPDIR:-/tmp}/n90-bench-blk.$$.img
log=${TMPDIR:-/tmp}/n90-bench-blk.$$.log
dd if=/dev/zero of="$img" bs=1M count=64 2>/dev/null
: >"$log"
qemu_common="-accel kvm -cpu host,-arch-capabilities -smp 1 -m 256 -nodefaults -nographic -no-reboot
	-monitor none -serial stdio -drive id=d0,file=$img,format=raw,if=none"

# run LABEL TRANSPORT OP MONITOR_ARGS...: the guest's BENCH line, labelled.
run() {
	label=$1 transport=$2 op=$3
	shift 3
	"$@" -p "virtio=blk-$transport-poll bench=$op bench_n=$n bench_qd=8" 2>/dev/null </dev/null |
		tr -d '\r' | sed -n "s/^BENCH {/{\"label\":\"$label\",/p" >>"$log"
}
# QEMU takes the command line as -append.
qrun() {
	label=$1 transport=$2 op=$3
	shift 3
	"$@" -append "virtio=blk-$transport-poll bench=$op bench_n=$n bench_qd=8" 2>/dev/null </dev/null |
		tr -d '\r' | sed -n "s/^.*BENCH {/{\"label\":\"$label\",/p" >>"$log"
}

i=0
while [ "$i" -lt "$runs" ]; do
	for op in randread randwrite; do
		run n90vmm-pci pci $op "$n90" --no-stdin -c 1 -m 256 --virtio-transport pci --disk "$img" "$guest"
		run n90vmm-mmio mmio $op "$n90" --no-stdin -c 1 -m 256 --virtio-transport mmio --disk "$img" "$guest"
		# shellcheck disable=SC2086 # $qemu_common is a list of options
		qrun qemu-q35-pci pci $op "$qemu" -L "$qdata" -M q35 $qemu_common \
			-device virtio-blk-pci,drive=d0,disable-legacy=on -kernel "$guest"
		# shellcheck disable=SC2086
		qrun qemu-microvm-mmio mmio $op "$qemu" -L "$qdata" -M microvm $qemu_common \
			-global virtio-mmio.force-legacy=false -device virtio-blk-device,drive=d0 -kernel "$guest"
	done
	i=$((i + 1))
done
cat "$log"
rm -f "$img" "$log"
