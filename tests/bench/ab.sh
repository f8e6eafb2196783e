#!/usr/bin/env bash
# `make bench-ab A=<commit> B=<commit>`: A/B test of two n90vmm builds, in the manner of
# Firecracker's A/B testing. Both commits are built from `git archive` (nothing else in the
# tree moves), then the cheap cases run interleaved, round by round, alternating which build
# goes first (ABBA...), on the same test guest file (this tree's): the tiny guest's boot (time
# to the first serial byte and to exit) and 4 KiB virtio-blk requests of the test guest (QD 8,
# polled; IOPS on the host's clock). tests/bench/abstat.py then compares each metric with a
# permutation test on the runs' ranks (the change is that of the medians) and prints a table;
# build/bench/ab/ab.json keeps everything.
# usage: ab.sh BUILD_DIR A B
# Environment: AB_ROUNDS (default 8), AB_BLK_REQUESTS (default 3000), AB_FAIL=1: exit 1 on a
# regression that is both significant (p < AB_ALPHA, 0.01) and larger than AB_THRESHOLD (20 %).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
a=$2 b=$3
rounds=${AB_ROUNDS:-8}
reqs=${AB_BLK_REQUESTS:-3000}
out=$build/bench/ab
mkdir -p "$out"
rm -f "$out/ab-runs.jsonl" "$out/ab.json"
started=$(date +%s)

rev() { git -C "$root" rev-parse --verify --quiet "$1^{commit}"; }
ca=$(rev "$a") || { echo "bench-ab: A=$a is not a commit" >&2; exit 2; }
cb=$(rev "$b") || { echo "bench-ab: B=$b is not a commit" >&2; exit 2; }
echo "bench-ab: A=$a ($(git -C "$root" log -1 --format='%h %s' "$ca" | cut -c1-70))"
echo "bench-ab: B=$b ($(git -C "$root" log -1 --format='%h %s' "$cb" | cut -c1-70))"

# Each side's monitor, built from its own tree with the same compiler and flags.
for side in A B; do
	c=$ca
	[ $side = B ] && c=$cb
	# A build of the same commit from an earlier A/B is reused.
	if [ -x "$out/n90vmm-$c" ]; then
		cp "$out/n90vmm-$c" "$out/n90vmm-$side"
		continue
	fi
	src=$out/src-$side
	rm -rf "$src"
	mkdir -p "$src"
	git -C "$root" archive "$c" | tar -x -C "$src"
	if ! make -C "$src" -j2 O=build build/n90vmm >"$out/build-$side.log" 2>&1; then
		echo "bench-ab: $side ($c) does not build; see $out/build-$side.log" >&2
		tail -n 5 "$out/build-$side.log" >&2
		echo "bench-ab: no comparison"
		exit 0
	fi
	cp "$src/build/n90vmm" "$out/n90vmm-$side"
	cp "$src/build/n90vmm" "$out/n90vmm-$c"
	rm -rf "$src"
done
echo "bench-ab: built both in $(($(date +%s) - started)) s"

gcc -O2 -Wall -Wextra -Werror -o "$out/runstat" "$root/tests/bench/runstat.c"
guest=$build/guest/mb.bin
[ -f "$guest" ] || make -C "$root" guests >/dev/null
. "$root/tests/lib/host-kvm.sh"
host_kvm_init "$out/n90vmm-B"
if ! host_kvm_can any; then
	echo "bench-ab: this host's KVM cannot run the test guest ($(host_kvm_flavour)); no comparison here"
	exit 0
fi
img=$(mktemp "${TMPDIR:-/tmp}/n90-ab.XXXXXX.img")
trap 'rm -f "$img" "$img.stat"' EXIT
dd if=/dev/zero of="$img" bs=1M count=64 2>/dev/null

# Each case prints one JSON line (into ab-runs.jsonl).
boot_case() { # SIDE
	"$out/runstat" "$1" "$out/n90vmm-$1" --timeout 60 --no-stdin -c 1 -m 256 -p "expect_cpus=1 expect_mem_mb=256" \
		"$guest" >/dev/null 2>"$img.stat" </dev/null || true
	sed -n "s/^{\"label\":\"$1\",/{\"side\":\"$1\",\"case\":\"boot\",/p" "$img.stat" | head -n 1
}
blk_case() { # OP SIDE
	"$out/runstat" -m BENCH-START "BENCH {" "$2" "$out/n90vmm-$2" --timeout 120 --no-stdin -c 1 -m 256 \
		--virtio-transport pci --disk "$img" -p "virtio=blk-pci-poll bench=$1 bench_n=$reqs bench_qd=8" "$guest" \
		>/dev/null 2>"$img.stat" </dev/null || true
	ms=$(sed -n 's/.*"span_ms":\([0-9.]*\).*/\1/p' "$img.stat" | tail -n 1)
	[ -n "$ms" ] && awk -v s="$2" -v op="$1" -v ms="$ms" -v n="$reqs" \
		'BEGIN { if (ms > 0) printf "{\"side\":\"%s\",\"case\":\"blk-%s\",\"iops\":%.1f}\n", s, op, n * 1000 / ms }'
}
one_round() { # SIDE
	boot_case "$1"
	blk_case randread "$1"
	blk_case randwrite "$1"
}
: >"$out/ab-runs.jsonl"
for i in $(seq 1 "$rounds"); do
	if [ $((i % 2)) = 1 ]; then first=A second=B; else first=B second=A; fi
	one_round $first >>"$out/ab-runs.jsonl"
	one_round $second >>"$out/ab-runs.jsonl"
	echo "bench-ab: round $i of $rounds done ($first first)" >&2
done
status=0
python3 "$root/tests/bench/abstat.py" "$out/ab-runs.jsonl" "$out/ab.json" "$a" "$b" || status=$?
echo "bench-ab: $(($(date +%s) - started)) s in all"
exit $status
