# Sourced by the rig's scripts (needs $root): the architecture the rig emulates and where its
# material lives. RIG_ARCH (x86_64, the default, or arm64) chooses; a script's --arch sets it.
#   rig_arch      x86_64 | arm64
#   rig_dir       build/rig (x86_64, where it always was) or build/rig/arm64
#   rig_cc        the compiler for static helpers that run in L1 (a cross compiler on arm64)
#   rig_busybox   a static busybox of that architecture (rig_fetch_busybox makes it exist)
#   rig_libarch   the Debian multiarch triplet of L1's binaries
rig_root=${RIG_DIR:-$root/build/rig}
case ${RIG_ARCH:-x86_64} in
x86_64 | amd64)
	rig_arch=x86_64 rig_dir=$rig_root rig_cc=gcc rig_busybox=/bin/busybox rig_libarch=x86_64-linux-gnu ;;
arm64 | aarch64)
	rig_arch=arm64 rig_dir=$rig_root/arm64 rig_cc=aarch64-linux-gnu-gcc rig_busybox=$rig_root/arm64/busybox/bin/busybox
	rig_libarch=aarch64-linux-gnu ;;
*) echo "rig: unknown RIG_ARCH/--arch '${RIG_ARCH}' (x86_64 or arm64)" >&2; exit 2 ;;
esac
export RIG_ARCH=$rig_arch

# Debian's arm64 packages come through this host's apt sources once dpkg knows the
# architecture (make deps does this; so does this function, as root, on a host set up before).
rig_apt_arm64() {
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		echo "rig: adding the arm64 architecture to dpkg (as make deps does)" >&2
		dpkg --add-architecture arm64
		apt-get update -qq >/dev/null
	elif [ -z "$(apt-cache policy busybox-static:arm64 2>/dev/null | awk '/Candidate:/ && $2 != "(none)"')" ]; then
		apt-get update -qq >/dev/null
	fi
}

# rig_deb_extract PACKAGE DIR: downloads one Debian package (any architecture, "name:arm64")
# and unpacks it into DIR with dpkg -x, without installing it.
rig_deb_extract() {
	local dl
	dl=$(mktemp -d "${TMPDIR:-/tmp}/n90-deb.XXXXXX")
	(cd "$dl" && apt-get download "$1" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
	ls "$dl"/*.deb >/dev/null 2>&1 || { echo "rig: apt-get download $1 failed" >&2; rm -rf "$dl"; return 1; }
	mkdir -p "$2"
	dpkg -x "$dl"/*.deb "$2"
	rm -rf "$dl"
}

# busybox-static:arm64 cannot be installed next to the amd64 one (same path, not Multi-Arch:
# same), so the arm64 rig unpacks its own copy under build/ (kept).
rig_fetch_busybox() {
	[ -x "$rig_busybox" ] && return 0
	rig_apt_arm64
	rm -rf "$rig_dir/busybox.tmp"
	rig_deb_extract busybox-static:arm64 "$rig_dir/busybox.tmp"
	rm -rf "$rig_dir/busybox" && mv "$rig_dir/busybox.tmp" "$rig_dir/busybox"
}
