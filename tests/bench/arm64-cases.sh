#!/bin/sh
# arm64 benchmark cases, run where KVM runs the arm64 test guest (the arm64 rig's L1 VM, or
# an arm64 host): n90vmm's arm64 build (crosvm-arm64) and QEMU's virt machine (GICv3, KVM)
# boot the same guest.Image, RUNS times each, interleaved: time to the first serial byte,
# time to exit, peak RSS (runstat); then the guest's bench= mode, N random 4 KiB reads and
# writes, 8 in flight, polled, over virtio-pci on the same raw image, timed on the host's
# clock (runstat -m, from BENCH-START to BENCH). Prints one JSON object per run. It
# measures; it never decides a test verdict.
# usage: arm64-cases.sh RUNSTAT N90VMM QEMU GUEST RUNS REQUESTS
runstat=$1 n90=$2 qemu=$3 guest=$4 runs=$5 n=$6
limit=120 # per run: a hung guest costs one run, not the session
img=${TMPDIR:-/tmp}/n90-bench-arm64.$$.img
stat=${TMPDIR:-/tmp}/n90-bench-arm64.$$.stat
dd if=/dev/zero of="$img" bs=1M count=64 2>/dev/null
# QEMU as the arm64 rig's reference scenarios run it; 2 GiB like crosvm-arm64's default.
qemu_common="-M virt,gic-version=3 -accel kvm -cpu host -smp 1 -m 2048 -nodefaults -nographic -no-reboot
	-monitor none -serial stdio"
qemu_disk="-drive id=d0,file=$img,format=raw,if=none -device virtio-blk-pci,drive=d0"

boot() { # LABEL COMMAND...: one boot, its runstat line
	label=$1
	shift
	"$runstat" "$label" "$@" >/dev/null 2>"$stat" </dev/null
	grep '^{' "$stat" | head -n 1
}
blk() { # LABEL OP COMMAND...: one run of the guest's bench= loop, timed on the host's clock
	label=$1 op=$2
	shift 2
	"$runstat" -m BENCH-START "BENCH {" "$label" "$@" 2>"$stat" </dev/null >/dev/null
	ms=$(sed -n 's/.*"span_ms":\([0-9.]*\).*/\1/p' "$stat" | tail -n 1)
	[ -n "$ms" ] && awk -v l="$label" -v op="$op" -v ms="$ms" -v n="$n" \
		'BEGIN { if (ms > 0) printf "{\"label\":\"%s\",\"op\":\"%s\",\"host_ms\":%s,\"host_iops\":%d}\n", l, op, ms, n * 1000 / ms }'
}

i=0
while [ "$i" -lt "$runs" ]; do
	boot n90vmm "$n90" --timeout $limit --no-stdin -c 1 -p "expect_cpus=1" "$guest"
	# shellcheck disable=SC2086 # option lists
	boot qemu-virt timeout $limit "$qemu" $qemu_common -kernel "$guest" -append "expect_cpus=1"
	for op in randread randwrite; do
		words="virtio=blk-pci-poll bench=$op bench_n=$n bench_qd=8"
		blk n90vmm-pci $op "$n90" --timeout $limit --no-stdin -c 1 --virtio-transport pci --disk "$img" -p "$words" "$guest"
		# shellcheck disable=SC2086
		blk qemu-virt-pci $op timeout $limit "$qemu" $qemu_common $qemu_disk -kernel "$guest" -append "$words"
	done
	i=$((i + 1))
done
rm -f "$img" "$stat"
