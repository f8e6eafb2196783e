# Sourced by kvm-cases.sh, kvm-arm64-cases.sh and qemu-arm64-cases.sh (POSIX sh: busybox in
# the rig's L1 too): the disk images of the virtio-blk cases and the host-side check of what
# the test guest wrote (tests/guest/virtio_blk.c). The checks report through the caller's
# bad() and use its $tmp.

# A 1 MiB image, zero but for sector 2, which holds "host-sector-0002" x 32 (the guest reads
# it back to prove reads reach the file).
make_image() {
	dd if=/dev/zero of="$1" bs=512 count=2048 2>/dev/null
	i=0
	while [ $i -lt 32 ]; do printf 'host-sector-0002'; i=$((i + 1)); done |
		dd of="$1" bs=512 seek=2 conv=notrunc 2>/dev/null
}

# The bytes the guest writes to SECTOR of disk DISK over TRANSPORT (virtio_blk.c fill_pattern):
# 16 records "sector NNNNNN of disk D by TTTT\n".
sector_pattern() {
	i=0
	while [ $i -lt 16 ]; do printf 'sector %06d of disk %d by %-4s\n' "$1" "$2" "$3"; i=$((i + 1)); done
}

# check_written NAME IMAGE TRANSPORT [DISK]: on the host side, the sectors the guest wrote to
# disk DISK (default 0) hold its pattern, sector 2 still holds the host's, and sector 3
# (never written) is still zero.
check_written() {
	for s in 0 1 64 65 66 67 68 69 70 71 2047; do
		sector_pattern "$s" "${4:-0}" "$3" >"$tmp/want"
		dd if="$2" bs=512 skip="$s" count=1 2>/dev/null >"$tmp/got"
		if ! cmp -s "$tmp/want" "$tmp/got"; then
			bad "$1" "image sector $s is not what the guest wrote"
			od -c "$tmp/got" | head -4 | sed 's/^/    | /'
			return 1
		fi
	done
	make_image "$tmp/fresh.img"
	for s in 2 3; do
		dd if="$tmp/fresh.img" bs=512 skip=$s count=1 2>/dev/null >"$tmp/want"
		dd if="$2" bs=512 skip=$s count=1 2>/dev/null >"$tmp/got"
		if ! cmp -s "$tmp/want" "$tmp/got"; then
			bad "$1" "image sector $s changed; the guest never wrote it"
			return 1
		fi
	done
	return 0
}

# blk_images: a fresh read-write and read-only pair, $tmp/rw.img and $tmp/ro.img (the
# virtio=blk-* cases give both, in that order).
blk_images() {
	make_image "$tmp/rw.img"
	make_image "$tmp/ro.img"
	blk_ro_sum=$(sha256sum <"$tmp/ro.img")
}

# blk_checks NAME TRANSPORT: after such a case, the guest's pattern is on rw.img and ro.img is
# unchanged.
blk_checks() {
	check_written "$1" "$tmp/rw.img" "$2" || return 1
	if [ "$(sha256sum <"$tmp/ro.img")" != "$blk_ro_sum" ]; then
		bad "$1" "the read-only image changed"
		return 1
	fi
	return 0
}
