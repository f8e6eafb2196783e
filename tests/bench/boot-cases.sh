#!/bin/sh
# Boot-time benchmark cases, run where KVM runs the test guest (the host, or the rig's L1 VM):
# n90vmm and QEMU boot the same test guest file with the same command line, several times
# each, and runstat records time to the first serial byte, time to exit and peak RSS.
# Prints one JSON object per run. It measures; it never decides a test verdict.
# QEMU_ACCEL: QEMU's accelerator and CPU (run.sh: from tests/lib/host-kvm.sh).
# usage: boot-cases.sh RUNSTAT N90VMM QEMU QEMU_DATA_DIR GUEST RUNS
runstat=$1 n90=$2 qemu=$3 qdata=$4 guest=$5 runs=$6
# Every run has a limit, so one hung guest costs a failed run ("ok_runs"), not the session.
limit=120
args="expect_cpus=1 expect_mem_mb=256"
qaccel=${QEMU_ACCEL:--accel kvm -cpu host,-arch-capabilities}
log=${TMPDIR:-/tmp}/n90-bench.$$
: >"$log"
i=0
while [ "$i" -lt "$runs" ]; do
	"$runstat" n90vmm "$n90" --timeout $limit --no-stdin -c 1 -m 256 -p "$args" "$guest" >/dev/null 2>>"$log"
	# shellcheck disable=SC2086 # $qaccel is a list of options
	"$runstat" qemu-microvm timeout $limit "$qemu" -L "$qdata" -M microvm $qaccel -smp 1 -m 256 \
		-nodefaults -nographic -no-reboot -monitor none -serial stdio -kernel "$guest" -append "$args" \
		>/dev/null 2>>"$log"
	# shellcheck disable=SC2086
	"$runstat" qemu-q35 timeout $limit "$qemu" -L "$qdata" -M q35 $qaccel -smp 1 -m 256 \
		-nodefaults -nographic -no-reboot -monitor none -serial stdio -kernel "$guest" -append "$args" \
		>/dev/null 2>>"$log"
	i=$((i + 1))
done
grep "^{" "$log"
rm -f "$log"
