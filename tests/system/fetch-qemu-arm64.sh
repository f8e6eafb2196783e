#!/usr/bin/env bash
# Fetches Debian's arm64 QEMU (qemu-system-arm:arm64, which has qemu-system-aarch64) and the
# arm64 tools the scenarios run in L1 (e2fsck/debugfs, dtc, ip, ping, Criterion for the unit
# tests cross-built for arm64, dnsmasq for the N90 board's network) with the arm64 libraries they
# may need into build/rig/arm64/qemu/sysroot/, unpacked with dpkg -x and never installed (it
# would replace this host's QEMU). The arm64 rig runs it inside L1 with
# -accel kvm: the L2 proof that needs no n90vmm, and the reference for side-by-side
# benchmarks. l1.sh --libdir picks, with readelf, only the libraries the binary needs.
# Idempotent: a finished download is reused.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export RIG_ARCH=arm64
# shellcheck source=tests/system/rig-arch.sh
. "$root/tests/system/rig-arch.sh"
out=$rig_dir/qemu
# What the sysroot holds; a sysroot made for another list is made again.
roots="qemu-system-arm:arm64 e2fsprogs:arm64 libcriterion3:arm64 iproute2:arm64 iputils-ping:arm64 device-tree-compiler:arm64 dnsmasq-base:arm64"
[ -f "$out/.done" ] && [ "$(cat "$out/.done")" = "$roots" ] && exit 0
rig_apt_arm64
# Every arm64 package in the dependency closure (Depends and Pre-Depends: e2fsprogs pre-depends on its libraries; a few, like dpkg
# and tar, are there for installing it, and cost little). apt has no soname index to pick the
# library packages more narrowly; the readelf walk in l1.sh does that.
pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
	--no-replaces --no-enhances $roots |
	grep -E '^[a-z0-9][^ <]*:arm64$' | sort -u)
rm -rf "$out.tmp" && mkdir -p "$out.tmp/dl"
# shellcheck disable=SC2086 # one word per package
(cd "$out.tmp/dl" && apt-get download $pkgs 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
for deb in "$out.tmp"/dl/*.deb; do dpkg -x "$deb" "$out.tmp/sysroot"; done
[ -x "$out.tmp/sysroot/usr/bin/qemu-system-aarch64" ] ||
	{ echo "fetch-qemu-arm64: no qemu-system-aarch64 in qemu-system-arm:arm64" >&2; exit 1; }
dpkg-deb -f "$out.tmp"/dl/qemu-system-arm_*.deb Version >"$out.tmp/version"
rm -rf "$out.tmp/dl"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$roots" >"$out/.done"
echo "fetch-qemu-arm64: qemu-system-arm:arm64 $(cat "$out/version") in $out/sysroot" >&2
