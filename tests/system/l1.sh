#!/usr/bin/env bash
# Runs a script on real KVM: boots Debian's kernel as an "L1" host under QEMU's software
# emulation (TCG, -cpu max: AMD SVM with nested paging), loads the KVM modules there and runs
# SCRIPT with its /dev/kvm. The L1 console streams to stdout (and --log); the script's exit
# status comes back through QEMU's isa-debug-exit device.
#
# usage: l1.sh [--timeout SEC] [--retries N] [--log FILE] [--mem MIB] [--interactive]
#              --add HOSTPATH[:L1PATH] ... -- SCRIPT [ARGS...]
# Exit status: SCRIPT's status; 125 if L1 ended without reporting one (crash, no /dev/kvm);
# 124 if the run timed out. A run that ends either way is tried again, up to --retries times
# (default 1): nested virtualisation under TCG emulation very occasionally wedges L1 (seen
# about once in a dozen sessions), which says nothing about the script. The L1 kernel's own
# messages go to LOG.kernel, apart from the script's output.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rig=${RIG_DIR:-$root/build/rig}
timeout=600 log=/dev/null mem=3072 interactive=0 retries=1
adds=()
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout=$2; shift 2 ;;
	--retries) retries=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--interactive) interactive=1; shift ;;
	--add) adds+=("$2"); shift 2 ;;
	--) shift; break ;;
	*) echo "l1.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ $# -gt 0 ] || [ "$interactive" = 1 ] || { echo "l1.sh: no SCRIPT given" >&2; exit 2; }

"$root/tests/system/fetch-kernel.sh"
kdir=$rig/kernel
work=$(mktemp -d "${TMPDIR:-/tmp}/n90-l1.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Base archive (cached): busybox, the KVM modules and the init that runs /l1/run.
base=$rig/l1-base.cpio.gz
if [ ! -f "$base" ] || [ "$base" -ot "$0" ] || [ "$base" -ot "$root/tests/system/l1-exit.c" ] ||
	[ "$base" -ot "$root/tests/system/l1-hold-kvm.c" ]; then
	b=$work/base
	mkdir -p "$b"/{bin,dev,proc,sys,tmp,l1,lib/modules}
	cp /bin/busybox "$b/bin/busybox"
	gcc -static -O2 -Wall -Wextra -Werror -o "$b/bin/l1-exit" "$root/tests/system/l1-exit.c"
	gcc -static -O2 -Wall -Wextra -Werror -o "$b/bin/l1-hold-kvm" "$root/tests/system/l1-hold-kvm.c"
	for m in virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd arch/x86/kvm/kvm-intel drivers/net/tun; do
		cp "$kdir/modules/kernel/$m.ko" "$b/lib/modules/"
	done
	cat >"$b/init" <<'EOT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
# tun: the taps of virtio-net scenarios and tests
for m in irqbypass kvm kvm-amd kvm-intel tun; do insmod /lib/modules/$m.ko 2>/dev/null; done
ip link set lo up
report() { # hand the status to QEMU's isa-debug-exit at port 0xf4
	echo "L1-STATUS=$1"
	l1-exit "$1"
	poweroff -f
}
if [ ! -c /dev/kvm ]; then echo "l1: no /dev/kvm in L1"; report 125; fi
l1-hold-kvm &
cd /l1
if [ -f /l1/interactive ]; then setsid cttyhack sh; report 0; fi
# The script talks on ttyS0; the kernel's console is ttyS1 (a separate log on the host).
exec </dev/null >/dev/ttyS0 2>&1
sh /l1/run; report $?
EOT
	chmod +x "$b/init"
	(cd "$b" && find . | cpio -o -H newc --quiet | gzip -1) >"$base.tmp" && mv "$base.tmp" "$base"
fi

# Payload archive: the added files at their L1 paths, plus the shared libraries of every ELF
# executable among them (found with ldd), so host binaries run unchanged in L1.
p=$work/payload
mkdir -p "$p/l1"
for spec in "${adds[@]}"; do
	src=${spec%%:*}
	dst=${spec#*:}
	[ "$dst" = "$spec" ] && dst=$src
	mkdir -p "$p$(dirname "$dst")"
	cp -L "$src" "$p$dst"
	if [ "$(head -c 4 "$src" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
		{ ldd "$src" 2>/dev/null || true; } | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r lib; do
			mkdir -p "$p$(dirname "$lib")"
			cp -L "$lib" "$p$lib"
		done
	fi
done
[ "$interactive" = 1 ] && touch "$p/l1/interactive"
if [ $# -gt 0 ]; then
	printf '%q ' "$@" >"$p/l1/run"
	echo >>"$p/l1/run"
fi
(cd "$p" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/payload.cpio.gz"
cat "$base" "$work/payload.cpio.gz" >"$work/initrd.gz"

# isa-debug-exit makes QEMU exit with (status << 1) | 1. A wedged kernel panics (soft lockup,
# hung task) and panic=-1 ends QEMU at once rather than at the timeout.
qemu_args=(-M q35 -accel tcg -cpu max -m "$mem" -smp 2 -no-reboot -nographic -monitor none
	-device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$kdir/vmlinuz" -initrd "$work/initrd.gz")
if [ "$interactive" = 1 ]; then
	exec qemu-system-x86_64 "${qemu_args[@]}" -append "console=ttyS0 quiet panic=-1"
fi
klog=$log.kernel
[ "$log" = /dev/null ] && klog=/dev/null
attempt=0
while :; do
	set +e
	[ "$attempt" -gt 0 ] && [ "$klog" != /dev/null ] && klog=$log.kernel.$attempt
	timeout "$timeout" qemu-system-x86_64 "${qemu_args[@]}" -serial stdio -serial "file:$klog" \
		-append "console=ttyS1 loglevel=4 panic=-1 softlockup_panic=1 hung_task_panic=1" </dev/null 2>&1 |
		tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
	# Odd: the script's status came back (statuses above 127 do not survive the shift).
	[ $((rc & 1)) -eq 1 ] && exit $((rc >> 1))
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
