#!/usr/bin/env bash
# `make bench`: boot time (start to first serial byte, start to exit) and peak RSS of n90vmm
# and QEMU (microvm and q35) booting the same test guest, several runs each, and 4 KiB
# virtio-blk requests per second (blk-cases.sh), written as JSON to build/bench/boot.json with
# the median per monitor, and virtio-net frames/s and MB/s each way (net-cases.sh). On a host
# whose KVM cannot run the test guest (tests/lib/host-kvm.sh: none, or N90_HOST_KVM=none) the
# runs happen inside the rig's L1 VM, where KVM is itself emulated: those figures compare
# the monitors with each other, not with bare metal.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
runs=${BENCH_RUNS:-5}
blk_requests=${BENCH_BLK_REQUESTS:-2000}
net_bytes=${BENCH_NET_BYTES:-32M}
out=$build/bench
mkdir -p "$out"
gcc -O2 -Wall -Wextra -Werror -o "$out/runstat" "$root/tests/bench/runstat.c"

qemu=$(command -v qemu-system-x86_64)
. "$root/tests/lib/host-kvm.sh"
# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
host_kvm_init "$build/n90vmm"
if host_kvm_can any; then
	where=host
	# QEMU with KVM and a CPU model this host accepts (plain host aborts on kvm-pvm).
	QEMU_ACCEL="-accel kvm -cpu $(qemu_kvm_cpu)"
	export QEMU_ACCEL
	"$root/tests/bench/boot-cases.sh" "$out/runstat" "$build/n90vmm" "$qemu" /usr/share/qemu \
		"$build/guest/mb.bin" "$runs" >"$out/boot-runs.txt"
	"$root/tests/bench/blk-cases.sh" "$out/runstat" "$build/n90vmm" "$qemu" /usr/share/qemu "$build/guest/mb.bin" "$runs" \
		"$blk_requests" >"$out/blk-runs.txt"
	"$root/tests/bench/net-cases.sh" "$root/tests/integration/net-cases.sh" "$build/nettest" "$build/n90vmm" "$qemu" \
		/usr/share/qemu "$build/guest/mb.bin" "$runs" "$net_bytes" >"$out/net-runs.txt"
else
	where=rig-l1
	adds=(--add "$out/runstat:/b/runstat" --add "$build/n90vmm:/b/n90vmm" --add "$qemu:/b/qemu"
		--add "$build/guest/mb.bin:/b/mb.bin" --add "$root/tests/bench/boot-cases.sh:/b/boot-cases.sh")
	qemu_data_adds bios-microvm.bin bios-256k.bin linuxboot_dma.bin multiboot_dma.bin pvh.bin kvmvapic.bin
	# One L1 session for both: the boot cases, then the blk cases.
	# Nested SVM under TCG sometimes wedges the whole L1 in the middle of a run (seen during
	# QEMU q35 blk runs; no L1 kernel message, the per-run limit never fires): a session that
	# normally takes about 4 minutes (2 of them the net cases) gets 12, and two more attempts.
	# BENCH-SESSION marks each L1 attempt: if l1.sh retries, only the last attempt's runs count.
	# Then the net cases; iproute2 and iputils by absolute path (L1's busybox sh prefers its applets).
	# (QEMU_ACCEL unset in L1: the cases' default, KVM with host,-arch-capabilities.)
	printf '#!/bin/sh\necho BENCH-SESSION\n/b/boot-cases.sh /b/runstat /b/n90vmm /b/qemu /b/qemu-data /b/mb.bin %s\n/b/blk-cases.sh /b/runstat /b/n90vmm /b/qemu /b/qemu-data /b/mb.bin %s %s\nIP=/b/bin/ip PING=/b/bin/ping /b/net-cases.sh /b/net-case.sh /b/nettest /b/n90vmm /b/qemu /b/qemu-data /b/mb.bin %s %s\n' \
		"$runs" "$runs" "$blk_requests" "$runs" "$net_bytes" >"$out/l1-cases.sh"
	chmod +x "$out/l1-cases.sh"
	adds+=(--add "$root/tests/bench/blk-cases.sh:/b/blk-cases.sh" --add "$out/l1-cases.sh:/b/l1-cases.sh"
		--add "$root/tests/bench/net-cases.sh:/b/net-cases.sh" --add "$root/tests/integration/net-cases.sh:/b/net-case.sh"
		--add "$build/nettest:/b/nettest" --add "$(command -v ip):/b/bin/ip" --add "$(command -v ping):/b/bin/ping")
	"$root/tests/system/l1.sh" --timeout 720 --retries 2 --log "$out/l1.log" "${adds[@]}" -- /b/l1-cases.sh | tr -d '\r' |
		awk '/BENCH-SESSION/ { n = 0 } /\{"label"/ { sub(/^.*\{"label"/, "{\"label\""); sub(/\}[^}]*$/, "}"); line[n++] = $0 }
			END { for (i = 0; i < n; i++) print line[i] }' >"$out/all-runs.txt"
	grep -v -e '"op":' -e '"h2g":' "$out/all-runs.txt" >"$out/boot-runs.txt" || true
	grep '"op":' "$out/all-runs.txt" >"$out/blk-runs.txt" || true
	grep '"h2g":' "$out/all-runs.txt" >"$out/net-runs.txt" || true
fi

# blk_median LABEL OP FIELD: the median of FIELD over LABEL's error-free OP runs (null if none).
blk_median() {
	grep "\"label\":\"$1\",\"op\":\"$2\"" "$out/blk-runs.txt" | grep '"errors":0' |
		sed -n "s/.*\"$3\":\([0-9.]*\).*/\1/p" | sort -n |
		awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "null"}' || true
}

# Median per label, as one JSON document.
{
	printf '{"benchmark":"boot","where":"%s","guest":"tests/guest mb.bin (multiboot, 1 vCPU, 256 MiB)","runs":%s,"results":{' \
		"$where" "$runs"
	first=1
	for label in n90vmm qemu-microvm qemu-q35; do
		med() { grep "\"label\":\"$label\"" "$out/boot-runs.txt" | grep '"exit_status":0' |
			sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "null"}'; }
		[ $first = 1 ] || printf ','
		first=0
		printf '"%s":{"first_byte_ms":%s,"exit_ms":%s,"max_rss_kib":%s,"ok_runs":%s}' "$label" \
			"$(med first_byte_ms)" "$(med exit_ms)" "$(med max_rss_kib)" \
			"$(grep "\"label\":\"$label\"" "$out/boot-runs.txt" | grep -c '"exit_status":0' || true)"
	done
	printf '}'
	# 4 KiB virtio-blk requests per second, median per monitor/transport and operation:
	# on the host's clock (runstat -m). The guest's own TSC figure stays in blk-runs.txt only:
	# its PIT calibration is unreliable under nested emulation (it read 5-8 MHz in the rig).
	printf ',"blk":{"guest":"tests/guest mb.bin bench=randread|randwrite, 4 KiB, queue depth 8, polled","requests":%s,"results":{' \
		"$blk_requests"
	first=1
	for label in n90vmm-pci n90vmm-mmio qemu-q35-pci qemu-microvm-mmio; do
		[ $first = 1 ] || printf ','
		first=0
		printf '"%s":{' "$label"
		sep=
		for op in randread randwrite; do
			v=$(blk_median "$label" "$op" host_iops)
			printf '%s"%s_iops":%s' "$sep" "$op" "$v"
			sep=,
		done
		printf '}'
	done
	printf '}}'
	# n90vmm-pci's per-request breakdown (--stats), median per operation.
	printf ',"blk_breakdown":{'
	sep=
	for op in randread randwrite; do
		printf '%s"%s":{' "$sep" "$op"
		sep2=
		for f in exits_per_req syscalls_per_req notify_to_completion_us interrupts_per_req; do
			v=$(blk_median n90vmm-pci "$op" "$f")
			printf '%s"%s":%s' "$sep2" "$f" "$v"
			sep2=,
		done
		k=$(grep "\"label\":\"n90vmm-pci\",\"op\":\"$op\"" "$out/blk-runs.txt" | sed -n 's/.*"exits_kind":"\([a-z-]*\)".*/\1/p' | head -n 1)
		printf ',"exits_kind":"%s"}' "${k:-none}"
		sep=,
	done
	printf '}'
	# virtio-net, median per monitor/transport of each direction's frames/s and MB/s, on the
	# host's clock (nettest --bench: 1408-byte frames, 256 in flight, polled guest).
	printf ',"net":{"guest":"tests/guest mb.bin bench=net, polled; host tool nettest --bench on the tap, in a network namespace","bytes_each_way":"%s","results":{' \
		"$net_bytes"
	net_results_json "$out/net-runs.txt" n90vmm-pci n90vmm-mmio qemu-q35-pci
	printf '}}}\n'
} >"$out/boot.json"
cat "$out/boot.json"
