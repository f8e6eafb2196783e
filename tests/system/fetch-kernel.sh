#!/usr/bin/env bash
# Fetches the rig's Debian kernel, for its L1 host and for its L2 guests. The package name
# carries the kernel version, so it is looked up at run time through a meta package.
# Idempotent: a finished download is reused.
#   (default, RIG_ARCH=x86_64) linux-image-cloud-amd64 into build/rig/kernel/: vmlinuz,
#       config, modules/, vmlinux (the ELF inside the bzImage, for PVH boots).
#   --arch arm64 (or RIG_ARCH=arm64) linux-image-6.12-cloud-arm64 into build/rig/arm64/kernel/:
#       vmlinuz (what QEMU boots as L1), Image (the raw arm64 Image for L2: 64-byte header,
#       "ARM\x64" at offset 56), config, modules/ (decompressed .ko).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ "${1:-}" = --arch ] && { export RIG_ARCH=$2; shift 2; }
# shellcheck source=tests/system/rig-arch.sh
. "$root/tests/system/rig-arch.sh"
out=$rig_dir/kernel
[ -f "$out/.done" ] && exit 0

if [ "$rig_arch" = arm64 ]; then
	# 6.12, not bookworm's default 6.1: n90vmm's arm64 backend needs the SMCCC filter
	# (KVM_ARM_VM_SMCCC_FILTER, Linux 6.4+). The cloud flavour is made for VMs (QEMU's virt
	# machine: PL011, GICv3, virtio built in) and boots faster under TCG than the generic one;
	# KVM is built in on arm64 (CONFIG_KVM=y, it cannot be a module).
	meta=${RIG_ARM64_KERNEL:-linux-image-6.12-cloud-arm64}:arm64
	rig_apt_arm64
	pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$pkg" ] || { echo "fetch-kernel: cannot resolve $meta" >&2; exit 1; }
	rm -rf "$out.tmp" && mkdir -p "$out.tmp"
	rig_deb_extract "$pkg" "$out.tmp/pkg"
	ver=$(ls "$out.tmp/pkg/lib/modules")
	cp "$out.tmp/pkg/boot/vmlinuz-$ver" "$out.tmp/vmlinuz"
	cp "$out.tmp/pkg/boot/config-$ver" "$out.tmp/config"
	mv "$out.tmp/pkg/lib/modules/$ver" "$out.tmp/modules"
	echo "$ver" >"$out.tmp/version"
	# Debian compresses every module (CONFIG_MODULE_COMPRESS_ALL, xz); busybox's insmod
	# wants them plain.
	find "$out.tmp/modules" -name '*.ko.xz' -print0 | xargs -0 -r xz -d
	find "$out.tmp/modules" -name '*.ko.zst' -print0 | xargs -0 -r zstd -q -d --rm
	# The raw Image: Debian's signed vmlinuz is the Image itself (with its PE/COFF header for
	# the EFI stub); other builds gzip it, or wrap it in an EFI zboot image ("MZ", "zimg" at
	# 4, payload offset and size at 8 and 12: drivers/firmware/efi/libstub/zboot-header.S).
	v=$out.tmp/vmlinuz
	hex() { od -An -tx1 -j "$1" -N "$2" "$3" | tr -d ' \n'; }
	decompress() { # FILE: its contents, decompressed as its first bytes say
		case $(hex 0 4 "$1") in
		1f8b*) gzip -dc "$1" ;;
		fd377a58) xz -dc "$1" ;;
		28b52ffd) zstd -dc "$1" ;;
		5d00*) xz --format=lzma -dc "$1" ;;
		*) cat "$1" ;;
		esac
	}
	if [ "$(hex 0 2 "$v")$(hex 4 4 "$v")" = 4d5a7a696d67 ]; then
		off=$(od -An -tu4 -j 8 -N4 "$v" | tr -d ' ')
		len=$(od -An -tu4 -j 12 -N4 "$v" | tr -d ' ')
		# The size leaves out a 4-byte trailer that gzip counts as its own: keep it, and let
		# the check below judge the result rather than the decompressor's status.
		tail -c +$((off + 1)) "$v" | head -c $((len + 4)) >"$out.tmp/payload"
		decompress "$out.tmp/payload" >"$out.tmp/Image" 2>/dev/null || true
		rm "$out.tmp/payload"
	else
		decompress "$v" >"$out.tmp/Image" 2>/dev/null || true
	fi
	[ "$(hex 56 4 "$out.tmp/Image")" = 41524d64 ] ||
		{ echo "fetch-kernel: no arm64 Image (magic \"ARMd\" at 56) in $pkg's vmlinuz" >&2; exit 1; }
	rm -rf "$out.tmp/pkg"
	rm -rf "$out" && mv "$out.tmp" "$out"
	touch "$out/.done"
	echo "fetch-kernel: $pkg ($ver) in $out" >&2
	exit 0
fi

pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$pkg" ]; then
	apt-get update -qq >/dev/null
	pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[ -n "$pkg" ] || { echo "fetch-kernel: cannot resolve linux-image-cloud-amd64" >&2; exit 1; }
rm -rf "$out.tmp" && mkdir -p "$out.tmp/dl"
(cd "$out.tmp/dl" && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
deb=$(ls "$out.tmp"/dl/*.deb)
dpkg -x "$deb" "$out.tmp/pkg"
ver=$(ls "$out.tmp/pkg/lib/modules")
cp "$out.tmp/pkg/boot/vmlinuz-$ver" "$out.tmp/vmlinuz"
cp "$out.tmp/pkg/boot/config-$ver" "$out.tmp/config"
mv "$out.tmp/pkg/lib/modules/$ver" "$out.tmp/modules"
echo "$ver" >"$out.tmp/version"

# vmlinux: the ELF inside the bzImage, found through the setup header's payload_offset /
# payload_length (Documentation/arch/x86/boot.rst) and decompressed by its magic.
vmlinuz=$out.tmp/vmlinuz
u8() { od -An -tu1 -j "$1" -N1 "$vmlinuz" | tr -d ' '; }
u32() { od -An -tu4 -j "$1" -N4 "$vmlinuz" | tr -d ' '; }
setup_sects=$(u8 $((0x1f1)))
[ "$setup_sects" -eq 0 ] && setup_sects=4
start=$(( (setup_sects + 1) * 512 + $(u32 $((0x248))) ))
len=$(u32 $((0x24c)))
magic=$(od -An -tx1 -j "$start" -N4 "$vmlinuz" | tr -d ' ')
case $magic in
1f8b*) dec="gzip -dc" ;;
02214c18) dec="lz4 -dc" ;;
fd377a58) dec="xz -dc" ;;
28b52ffd) dec="zstd -dc" ;;
*) echo "fetch-kernel: unknown payload compression (magic $magic)" >&2; exit 1 ;;
esac
tail -c +$((start + 1)) "$vmlinuz" | head -c "$len" | $dec >"$out.tmp/vmlinux" 2>/dev/null || true
[ "$(head -c 4 "$out.tmp/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
	{ echo "fetch-kernel: extracted vmlinux is not an ELF file" >&2; exit 1; }
rm -rf "$out.tmp/dl" "$out.tmp/pkg"
rm -rf "$out" && mv "$out.tmp" "$out"
touch "$out/.done"
echo "fetch-kernel: $pkg ($ver) in $out" >&2
