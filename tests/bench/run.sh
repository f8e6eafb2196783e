#!/usr/bin/env bash
# `make bench`: boot time (start to first serial byte, start to exit) and peak RSS of n90vmm
# and QEMU (microvm and q35) booting the same test guest, several runs each, written as JSON
# to build/bench/boot.json with the median per monitor. On a host without a usable /dev/kvm
# the runs happen inside the rig's L1 VM, where KVM is itself emulated: those figures compare
# the monitors with each other, not with bare metal.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
runs=${BENCH_RUNS:-5}
out=$build/bench
mkdir -p "$out"
gcc -O2 -Wall -Wextra -Werror -o "$out/runstat" "$root/tests/bench/runstat.c"

qemu=$(command -v qemu-system-x86_64)
if [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; then
	where=host
	"$root/tests/bench/boot-cases.sh" "$out/runstat" "$build/n90vmm" "$qemu" /usr/share/qemu \
		"$build/guest/mb.bin" "$runs" >"$out/boot-runs.txt"
else
	where=rig-l1
	adds=(--add "$out/runstat:/b/runstat" --add "$build/n90vmm:/b/n90vmm" --add "$qemu:/b/qemu"
		--add "$build/guest/mb.bin:/b/mb.bin" --add "$root/tests/bench/boot-cases.sh:/b/boot-cases.sh")
	# QEMU's firmware files, dereferenced (several are symlinks into other packages).
	for f in bios-microvm.bin bios-256k.bin linuxboot_dma.bin multiboot_dma.bin pvh.bin kvmvapic.bin; do
		for dir in /usr/share/qemu /usr/share/seabios; do
			if [ -e "$dir/$f" ]; then
				adds+=(--add "$dir/$f:/b/qemu-data/$f")
				break
			fi
		done
	done
	"$root/tests/system/l1.sh" --timeout 600 --log "$out/l1.log" "${adds[@]}" -- \
		/b/boot-cases.sh /b/runstat /b/n90vmm /b/qemu /b/qemu-data /b/mb.bin "$runs" | tr -d '\r' |
		grep -o '{"label".*}' >"$out/boot-runs.txt"
fi

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
	printf '}}\n'
} >"$out/boot.json"
cat "$out/boot.json"
