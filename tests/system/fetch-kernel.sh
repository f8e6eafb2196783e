#!/usr/bin/env bash
# Fetches Debian's cloud amd64 kernel into build/rig/kernel/ (vmlinuz, config, modules/,
# vmlinux), for the rig's L1 host and for its L2 guests. The package name carries the kernel
# version, so it is looked up at run time through the meta package. Idempotent: a finished
# download is reused.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${RIG_DIR:-$root/build/rig}/kernel
[ -f "$out/.done" ] && exit 0

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
