#!/bin/sh
# virtio-net benchmark cases, run where KVM runs the test guest (the host, or the rig's L1 VM): the test
# guest's bench=net mode (tests/guest/virtio_net.c) on a tap in a network namespace of its own
# (tests/integration/net-cases.sh), under n90vmm (virtio-pci and virtio-mmio) and QEMU (q35 +
# virtio-net-pci, modern, vhost off: the same userspace tap path as n90vmm's; no iPXE ROM). nettest --bench
# moves BYTES each way in 1408-byte frames (256 in flight) without checksums and times each
# direction on the host's clock: frames/s and MB/s (10^6 bytes) host-to-guest ("h2g") and
# guest-to-host ("g2h"). Prints one JSON object per run. It measures; it never decides a test
# verdict. Environment: IP, PING as net-cases.sh takes them; QEMU_ACCEL; for the arm64 guest
# (tests/bench/arm64.sh) QEMU_NET_MACHINE=virt,gic-version=3 and NET_MEM=2048 (crosvm-arm64's
# least RAM), QEMU_DATA_DIR "-" for none.
# usage: net-cases.sh NET_CASES NETTEST N90VMM QEMU QEMU_DATA_DIR GUEST RUNS BYTES
netcases=$1 nettest=$2 n90=$3 qemu=$4 qdata=$5 guest=$6 runs=$7 bytes=$8
limit=120 # per run: a hung guest costs one run, not the session
log=${TMPDIR:-/tmp}/n90-bench-net.$$.log
# QEMU_ACCEL: QEMU's accelerator and CPU (run.sh: from tests/lib/host-kvm.sh).
qaccel=${QEMU_ACCEL:--accel kvm -cpu host,-arch-capabilities}
machine=${QEMU_NET_MACHINE:-q35} mem=${NET_MEM:-256}
qlabel=qemu-${machine%%,*}-pci
qdata_opt="-L $qdata"
[ "$qdata" = - ] && qdata_opt=
qemu_common="$qaccel -smp 1 -m $mem -nodefaults -nographic -no-reboot -monitor none -serial stdio
	-netdev tap,id=n0,ifname=n90tap0,script=no,downscript=no,vhost=off"

# run LABEL COMMAND...: nettest's JSON line, labelled (printed as soon as measured).
run() {
	label=$1
	shift
	echo "net case: $label" >&2
	"$netcases" --name "$label" --nettest "$nettest" --wait $limit \
		--nettest-args "--bench --json --h2g $bytes --g2h $bytes --timeout 20" -- "$@" >/dev/null 2>"$log"
	if ! grep -q '^{"h2g"' "$log"; then
		echo "net case $label: no result" >&2
		tail -n 8 "$log" >&2
		return 0
	fi
	sed -n "s/^{\"h2g\"/{\"label\":\"$label\",\"h2g\"/p" "$log" | head -n 1
}

i=0
while [ "$i" -lt "$runs" ]; do
	for t in pci mmio; do
		run "n90vmm-$t" "$n90" --timeout $limit --no-stdin -c 1 -m "$mem" --virtio-transport $t \
			--net tap=n90tap0,mac=52:54:00:12:34:56 -p "virtio=net-$t-poll bench=net" "$guest"
	done
	# shellcheck disable=SC2086 # $qemu_common and $qdata_opt are lists of options
	run "$qlabel" timeout $limit "$qemu" $qdata_opt -M "$machine" $qemu_common \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,disable-legacy=on,romfile= \
		-kernel "$guest" -append "virtio=net-pci-poll bench=net"
	i=$((i + 1))
done
rm -f "$log"
