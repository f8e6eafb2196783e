#!/usr/bin/env bash
# Runs a script on real KVM: boots Debian's kernel as an "L1" host under QEMU's software
# emulation (TCG) and runs SCRIPT there with its /dev/kvm. The L1 console streams to stdout
# (and --log). Two machines (--arch, or RIG_ARCH; default x86_64):
#   x86_64  q35, -cpu max (AMD SVM with nested paging), Debian's cloud amd64 kernel with the
#           KVM modules; the script's exit status comes back through QEMU's isa-debug-exit.
#   arm64   virt with EL2 (virtualization=on) and a GICv3, -cpu max, Debian's 6.12 cloud
#           arm64 kernel (KVM built in, VHE). virt has no isa-debug-exit, and semihosting
#           would let any code in L1 or its guests open files on this host; so L1 writes the
#           status to a virtio-serial port that QEMU puts in a file of this script's, out of
#           band of everything the script prints, and powers off.
#
# usage: l1.sh [--arch x86_64|arm64] [--timeout SEC] [--retries N] [--log FILE] [--mem MIB]
#              [--interactive] [--libdir DIR] [--disk FILE] --add HOSTPATH[:L1PATH] ... -- SCRIPT [ARGS...]
# --disk FILE: a raw virtio disk for L1 (O_DIRECT on this side, cache=none), e.g. for
# benchmarks that need a real block device in L1 (its tmpfs has no O_DIRECT); L1 sees it once
# the virtio modules are loaded (the script's business).
# Exit status: SCRIPT's status; 125 if L1 ended without reporting one (crash, no /dev/kvm);
# 124 if the run timed out. A run that ends either way is tried again, up to --retries times
# (default 1): nested virtualisation under TCG emulation very occasionally wedges L1 (seen
# about once in a dozen sessions), which says nothing about the script. The L1 kernel's own
# messages go to LOG.kernel, apart from the script's output.
# Added ELF executables get their shared libraries: ldd's on x86_64; on arm64 (ldd cannot
# run foreign binaries) the interpreter and NEEDED entries found with readelf, in the --libdir
# directories first, then the arm64 multiarch and cross-toolchain ones. Static ones need none.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
timeout=600 log=/dev/null mem=3072 interactive=0 retries=1
adds=() libdirs=() disks=()
while [ $# -gt 0 ]; do
	case $1 in
	--arch) export RIG_ARCH=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--retries) retries=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--interactive) interactive=1; shift ;;
	--add) adds+=("$2"); shift 2 ;;
	--libdir) libdirs+=("$2"); shift 2 ;;
	--disk) disks+=(-drive "file=$2,format=raw,if=virtio,cache=none"); shift 2 ;;
	--) shift; break ;;
	*) echo "l1.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ $# -gt 0 ] || [ "$interactive" = 1 ] || { echo "l1.sh: no SCRIPT given" >&2; exit 2; }
# shellcheck source=tests/system/rig-arch.sh
. "$root/tests/system/rig-arch.sh"
rig=$rig_dir

"$root/tests/system/fetch-kernel.sh"
kdir=$rig/kernel
work=$(mktemp -d "${TMPDIR:-/tmp}/n90-l1.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Base archive (cached; rebuilt when its sources or the kernel change): busybox, the modules,
# the static helpers and the init (l1-init.sh) that runs /l1/run.
base=$rig/l1-base.cpio.gz
[ "$rig_arch" = arm64 ] && rig_fetch_busybox
stale=0
for f in "$0" "$root"/tests/system/{l1-init.sh,l1-exit.c,l1-hold-kvm.c,l1-kvm-probe-arm64.c} "$rig_busybox" "$kdir/version"; do
	[ "$base" -ot "$f" ] && stale=1
done
if [ ! -f "$base" ] || [ "$stale" = 1 ]; then
	b=$work/base
	mkdir -p "$b"/{bin,dev,proc,sys,tmp,l1,etc,lib/modules}
	cp "$rig_busybox" "$b/bin/busybox"
	install -m 0755 "$root/tests/system/l1-init.sh" "$b/init"
	echo "$rig_arch" >"$b/etc/rig-arch"
	cc() { "$rig_cc" -static -O2 -Wall -Wextra -Werror -o "$b/bin/$1" "$root/tests/system/$2"; }
	cc l1-hold-kvm l1-hold-kvm.c
	if [ "$rig_arch" = arm64 ]; then
		cc l1-kvm-probe l1-kvm-probe-arm64.c
		mods="drivers/net/tun" # KVM is built into the arm64 kernel
	else
		cc l1-exit l1-exit.c
		mods="virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd arch/x86/kvm/kvm-intel drivers/net/tun"
	fi
	for m in $mods; do
		cp "$kdir/modules/kernel/$m.ko" "$b/lib/modules/"
		basename "$m" >>"$b/lib/modules/order"
	done
	(cd "$b" && find . | cpio -o -H newc --quiet | gzip -1) >"$base.tmp" && mv "$base.tmp" "$base"
fi

# arm64_libs FILE: the host paths of an arm64 ELF's interpreter and shared libraries,
# recursively, as "HOSTPATH L1PATH" (the libraries go where L1's ld.so looks).
arm64_libs() {
	local seen=" " todo=("$1") f lib d found
	local dirs=("${libdirs[@]}" /usr/lib/aarch64-linux-gnu /lib/aarch64-linux-gnu /usr/aarch64-linux-gnu/lib)
	local interp
	interp=$(readelf -lW "$1" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	[ -n "$interp" ] || return 0 # static
	for d in "${dirs[@]}"; do
		if [ -e "$d/$(basename "$interp")" ]; then
			echo "$d/$(basename "$interp") $interp"
			# libc must come from the loader's own build (they share private symbols).
			dirs=("$d" "${dirs[@]}")
			break
		fi
	done
	while [ ${#todo[@]} -gt 0 ]; do
		f=${todo[0]} todo=("${todo[@]:1}")
		for lib in $(readelf -dW "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			case $seen in *" $lib "*) continue ;; esac
			seen="$seen$lib "
			found=
			for d in "${dirs[@]}"; do
				if [ -e "$d/$lib" ]; then found=$d/$lib; break; fi
			done
			[ -n "$found" ] || { echo "l1.sh: $1 needs $lib, not found in ${dirs[*]}" >&2; exit 2; }
			echo "$found /usr/lib/aarch64-linux-gnu/$lib"
			todo+=("$found")
		done
	done
}

# Payload archive: the added files at their L1 paths, plus the shared libraries of every ELF
# executable among them, so host (or arm64 package) binaries run unchanged in L1.
p=$work/payload
mkdir -p "$p/l1"
for spec in "${adds[@]}"; do
	src=${spec%%:*}
	dst=${spec#*:}
	[ "$dst" = "$spec" ] && dst=$src
	mkdir -p "$p$(dirname "$dst")"
	cp -L "$src" "$p$dst"
	[ "$(head -c 4 "$src" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || continue
	if [ "$rig_arch" = arm64 ]; then
		arm64_libs "$src" >"$work/libs"
	else
		{ ldd "$src" 2>/dev/null || true; } | awk '/=> \//{print $3, $3} /^\t\/lib/{print $1, $1}' >"$work/libs"
	fi
	while read -r lib l1lib; do
		mkdir -p "$p$(dirname "$l1lib")"
		cp -L "$lib" "$p$l1lib"
	done <"$work/libs"
done
[ "$interactive" = 1 ] && touch "$p/l1/interactive"
if [ $# -gt 0 ]; then
	printf '%q ' "$@" >"$p/l1/run"
	echo >>"$p/l1/run"
fi
(cd "$p" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/payload.cpio.gz"
cat "$base" "$work/payload.cpio.gz" >"$work/initrd.gz"

# A wedged kernel panics (soft lockup, hung task) and panic=-1 ends QEMU at once rather than
# at the timeout (-no-reboot).
kparams="loglevel=4 panic=-1 softlockup_panic=1 hung_task_panic=1"
if [ "$rig_arch" = arm64 ]; then
	# EL2 for KVM; a GICv3, so that L1's KVM offers the vGICv3 n90vmm uses. 2 vCPUs on as
	# many host threads (multi-threaded TCG; the host has 2 cores). The implementation-defined
	# pointer-authentication hash costs far less to emulate than the architected QARMA5,
	# which Debian's kernel (CONFIG_ARM64_PTR_AUTH_KERNEL) uses on function returns.
	qemu=qemu-system-aarch64 console=ttyAMA0
	qemu_args=(-M virt,virtualization=on,gic-version=3 -cpu max,pauth-impdef=on -accel tcg,thread=multi
		-m "$mem" -smp 2 -no-reboot -nographic -monitor none -kernel "$kdir/vmlinuz" -initrd "$work/initrd.gz"
		-device virtio-serial-pci,id=vser -chardev "file,id=status,path=$work/status"
		-device virtserialport,bus=vser.0,chardev=status,name=n90.status)
	session_console=ttyAMA0
else
	# isa-debug-exit makes QEMU exit with (status << 1) | 1.
	qemu=qemu-system-x86_64 console=ttyS0
	qemu_args=(-M q35 -accel tcg -cpu max -m "$mem" -smp 2 -no-reboot -nographic -monitor none
		-device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$kdir/vmlinuz" -initrd "$work/initrd.gz")
	session_console=ttyS1
fi
if [ "$interactive" = 1 ]; then
	exec "$qemu" "${qemu_args[@]}" -append "console=$console quiet panic=-1"
fi
klog=$log.kernel
[ "$log" = /dev/null ] && klog=/dev/null
attempt=0
while :; do
	set +e
	[ "$attempt" -gt 0 ] && [ "$klog" != /dev/null ] && klog=$log.kernel.$attempt
	if [ "$rig_arch" = arm64 ]; then
		: >"$work/status"
		# The kernel's console (the PL011) to KLOG, the script's hvc0 to stdout.
		session=(-serial "file:$klog" -chardev stdio,id=script -device virtconsole,bus=vser.0,chardev=script)
	else
		session=(-serial stdio -serial "file:$klog")
	fi
	timeout "$timeout" "$qemu" "${qemu_args[@]}" "${disks[@]}" "${session[@]}" \
		-append "console=$session_console $kparams" </dev/null 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
	if [ "$rig_arch" = arm64 ]; then
		# The status file holds what L1's init wrote to n90.status; empty if it never did.
		st=$(tr -dc '0-9\n' <"$work/status" | tail -1)
		[ "$rc" -ne 124 ] && [ -n "$st" ] && exit "$st"
	else
		# Odd: the script's status came back (statuses above 127 do not survive the shift).
		[ $((rc & 1)) -eq 1 ] && exit $((rc >> 1))
	fi
	if [ "$rc" -eq 124 ]; then
		echo "l1.sh: L1 run exceeded ${timeout}s" >&2
		status=124
	else
		echo "l1.sh: L1 ended without reporting the script's status (QEMU exit $rc)" >&2
		status=125
	fi
	attempt=$((attempt + 1))
	[ "$attempt" -le "$retries" ] || exit "$status"
	echo "l1.sh: trying again ($attempt of $retries); L1 kernel log: $klog" >&2
done
