#!/usr/bin/env bash
# `make bench-arm64`: n90vmm's arm64 build next to QEMU's virt machine on the arm64 test guest
# (tests/bench/arm64-cases.sh: boot time and peak RSS, 4 KiB virtio-blk IOPS over PCI; then
# tests/bench/net-cases.sh: virtio-net frames/s and MB/s each way on a tap), in
# the arm64 rig's L1 (real arm64 KVM under QEMU's TCG) on an x86_64 host, here on an arm64
# host. Medians per monitor as JSON in build/bench/arm64/arm64.json. In the rig the figures
# compare the two monitors inside the same emulated machine; they are not hardware speed.
# usage: tests/bench/arm64.sh [BUILD_DIR]   (BENCH_RUNS, default 5; BENCH_BLK_REQUESTS, 2000;
#        BENCH_NET_BYTES, 32M)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
build=$(cd "${1:-$root/build}" && pwd)
runs=${BENCH_RUNS:-5}
reqs=${BENCH_BLK_REQUESTS:-2000}
net_bytes=${BENCH_NET_BYTES:-32M}
out=$build/bench/arm64
mkdir -p "$out"
guest=$build/guest/arm64/guest.Image
[ -f "$guest" ] || { echo "bench-arm64: $guest missing (make guests)" >&2; exit 2; }
# The net cases as net-cases.sh runs them for QEMU's arm64 virt machine (2 GiB: crosvm-arm64's least).
net_env="QEMU_NET_MACHINE=virt,gic-version=3 NET_MEM=2048"

if [ "$(uname -m)" = aarch64 ]; then
	where=host
	gcc -O2 -Wall -Wextra -Werror -o "$out/runstat" "$root/tests/bench/runstat.c"
	"$root/tests/bench/arm64-cases.sh" "$out/runstat" "$build/n90vmm" "$(command -v qemu-system-aarch64)" "$guest" \
		"$runs" "$reqs" >"$out/runs.txt"
	# shellcheck disable=SC2086 # $net_env is a list of assignments
	env $net_env QEMU_ACCEL="-accel kvm -cpu host" "$root/tests/bench/net-cases.sh" "$root/tests/integration/net-cases.sh" \
		"$build/nettest" "$build/n90vmm" "$(command -v qemu-system-aarch64)" - "$guest" "$runs" "$net_bytes" >>"$out/runs.txt"
else
	where=rig-l1
	n90=$build/arm64/n90vmm
	[ -x "$n90" ] || { echo "bench-arm64: $n90 missing (make ARCH=arm64)" >&2; exit 2; }
	aarch64-linux-gnu-gcc -O2 -Wall -Wextra -Werror -o "$out/runstat" "$root/tests/bench/runstat.c"
	"$root/tests/system/fetch-qemu-arm64.sh" >/dev/null
	[ -x "$build/arm64/nettest" ] || { echo "bench-arm64: $build/arm64/nettest missing (make arm64-cross)" >&2; exit 2; }
	sys=$root/build/rig/arm64/qemu/sysroot
	# One L1 session: the boot and blk cases, then the net cases with the arm64 iproute2,
	# iputils and nettest by absolute path (L1's busybox sh would run its own applets).
	printf '#!/bin/sh\n/b/arm64-cases.sh /b/runstat /b/n90vmm /b/qemu /b/guest.Image %s %s\n%s IP=/b/bin/ip PING=/b/bin/ping QEMU_ACCEL="-accel kvm -cpu host" /b/net-cases.sh /b/net-case.sh /b/nettest /b/n90vmm /b/qemu - /b/guest.Image %s %s\n' \
		"$runs" "$reqs" "$net_env" "$runs" "$net_bytes" >"$out/l1-cases.sh"
	chmod +x "$out/l1-cases.sh"
	"$root/tests/system/l1.sh" --arch arm64 --timeout 1800 --log "$out/l1.log" \
		--libdir "$sys/usr/lib/aarch64-linux-gnu" --libdir "$sys/lib/aarch64-linux-gnu" \
		--add "$out/runstat:/b/runstat" --add "$n90:/b/n90vmm" --add "$sys/usr/bin/qemu-system-aarch64:/b/qemu" \
		--add "$guest:/b/guest.Image" --add "$root/tests/bench/arm64-cases.sh:/b/arm64-cases.sh" \
		--add "$out/l1-cases.sh:/b/l1-cases.sh" --add "$root/tests/bench/net-cases.sh:/b/net-cases.sh" \
		--add "$root/tests/integration/net-cases.sh:/b/net-case.sh" --add "$build/arm64/nettest:/b/nettest" \
		--add "$sys/bin/ip:/b/bin/ip" --add "$sys/bin/ping:/b/bin/ping" -- /b/l1-cases.sh |
		tr -d '\r' | sed -n 's/^[^{]*\({"label".*}\)[^}]*$/\1/p' >"$out/runs.txt"
fi

# median FILTER FIELD [FILTER2]: the median of FIELD over the runs matching FILTER (and
# FILTER2), null if none.
median() {
	grep -- "$1" "$out/runs.txt" | grep -- "${3:-}" | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" | sort -n |
		awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "null" }'
}
{
	printf '{"benchmark":"arm64","where":"%s","guest":"tests/guest/aarch64 guest.Image, 1 vCPU","runs":%s,' "$where" "$runs"
	printf '"boot":{'
	sep=
	for label in n90vmm qemu-virt; do
		f="\"label\":\"$label\"," ok='"exit_status":0'
		printf '%s"%s":{"first_byte_ms":%s,"exit_ms":%s,"max_rss_kib":%s,"ok_runs":%s}' "$sep" "$label" \
			"$(median "$f" first_byte_ms "$ok")" "$(median "$f" exit_ms "$ok")" "$(median "$f" max_rss_kib "$ok")" \
			"$(grep -- "$f" "$out/runs.txt" | grep -c -- "$ok" || true)"
		sep=,
	done
	printf '},"blk":{"what":"4 KiB random, queue depth 8, polled, virtio-pci, a 64 MiB raw image in the RAM-backed root of the machine running the cases; IOPS on the clock of that machine","requests":%s,' "$reqs"
	sep=
	for label in n90vmm-pci qemu-virt-pci; do
		printf '%s"%s":{"randread_iops":%s,"randwrite_iops":%s}' "$sep" "$label" \
			"$(median "\"label\":\"$label\",\"op\":\"randread\"" host_iops)" \
			"$(median "\"label\":\"$label\",\"op\":\"randwrite\"" host_iops)"
		sep=,
	done
	printf '}'
	# virtio-net each way on the host's clock (nettest --bench: 1408-byte frames, 256 in
	# flight, polled guest), median per monitor/transport over the runs without problems.
	printf ',"net":{"what":"guest.Image bench=net, polled; nettest --bench on a tap in a network namespace","bytes_each_way":"%s",' "$net_bytes"
	net_results_json "$out/runs.txt" n90vmm-pci n90vmm-mmio qemu-virt-pci
	printf '}}\n'
} >"$out/arm64.json"
cat "$out/arm64.json"
