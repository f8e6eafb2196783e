#!/bin/sh
# Boot the arm64 test guest on QEMU's virt machine (GICv3, TCG) and print its normalized
# serial output: the reference n90vmm's output for the same image, command line and devices
# must match byte for byte (tests/integration/expected/arm64/). The arm64 twin of
# compare-qemu.sh.
#
# usage: compare-qemu-arm64.sh [OPTIONS] IMAGE CPUS "CMDLINE" [OUTFILE]
#
#   IMAGE    build/guest/arm64/guest.Image (or starry.Image)
#   CPUS     -smp value (use the same number in expect_cpus=)
#   CMDLINE  e.g. "expect_cpus=2 expect_mem_mb=2048 virtio=blk-pci-irq"
#   OUTFILE  write the output there instead of stdout
#
# Options:
#   --disk FILE[,ro]    a virtio-blk disk (repeatable; serial n90vmm-diskN as n90vmm names
#                       them), on the --transport
#   --transport T       pci (default) or mmio (virtio-mmio version 2: force-legacy=false).
#                       QEMU fills its virtio-mmio slots from the highest address down and
#                       the guest takes them in address order, so the devices are given to
#                       QEMU in reverse: disk 0 is still the guest's first.
#   --virtio-console    a virtconsole on port 0 of virtio-serial is the output read (as with
#                       n90vmm --console virtio); --type input is given to it at once
#   --uart-pci          a 16550 on PCI (pci-serial) is the output read (the guest's uart=pci)
#   --type LINE         type LINE on the console UART once the guest prints
#                       "uart: waiting for a line" (the guest's uart_rx)
#   --net               no normalization: exec QEMU with the serial console on stdout and a
#                       virtio-net on the tap n90tap0 (for tests/integration/net-cases.sh,
#                       which owns the namespace and the tap)
#
# Environment: QEMU (default qemu-system-aarch64), QEMU_MEM (MiB, default 2048: n90vmm's
# crosvm-arm64 takes no less), TIMEOUT (seconds, default 60), QEMU_EXTRA (more options).
#
# Normalization: \r removed, everything before "n90 test guest:" dropped.
# Exit status: 0 = RESULT: PASS and QEMU exited by itself (the guest's PSCI SYSTEM_OFF);
# 1 = anything else from the guest; 2 = usage or QEMU start-up error.
set -u

usage() {
	echo "usage: $0 [--disk FILE[,ro]]... [--transport pci|mmio] [--virtio-console] [--uart-pci] [--type LINE] [--net] IMAGE CPUS \"CMDLINE\" [OUTFILE]" >&2
	exit 2
}

disks='' transport=pci vcon=0 uart_pci=0 line='' net=0
while [ $# -gt 0 ]; do
	case $1 in
	--disk) [ $# -ge 2 ] || usage; disks="$disks $2"; shift 2 ;;
	--transport) [ $# -ge 2 ] || usage; transport=$2; shift 2 ;;
	--virtio-console) vcon=1; shift ;;
	--uart-pci) uart_pci=1; shift ;;
	--type) [ $# -ge 2 ] || usage; line=$2; shift 2 ;;
	--net) net=1; shift ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -ge 3 ] && [ $# -le 4 ] || usage
image=$1 cpus=$2 cmdline=$3 outfile=${4:-}
qemu=${QEMU:-qemu-system-aarch64}
mem=${QEMU_MEM:-2048}
tmo=${TIMEOUT:-60}
case $transport in pci | mmio) ;; *) usage ;; esac

if [ ! -r "$image" ]; then
	echo "$0: cannot read $image" >&2
	exit 2
fi

# The virtio devices, in the order QEMU must see them.
devs=''
add_dev() { # DEVICE-OPTIONS: appended (pci) or prepended (mmio, see --transport)
	if [ "$transport" = mmio ]; then devs="-device $1 $devs"; else devs="$devs -device $1"; fi
}
vdev() { [ "$transport" = mmio ] && echo "$1-device" || echo "$1-pci,disable-legacy=on"; }
n=0 drives=''
for d in $disks; do
	file=${d%,ro} ro=''
	[ "$file" != "$d" ] && ro=',readonly=on'
	drives="$drives -drive file=$file,if=none,id=d$n,format=raw$ro"
	add_dev "$(vdev virtio-blk),drive=d$n,serial=n90vmm-disk$n"
	n=$((n + 1))
done
[ "$transport" = mmio ] && drives="$drives -global virtio-mmio.force-legacy=false"

base="-M virt,gic-version=3 -accel tcg -cpu max -smp $cpus -m $mem -nodefaults -nographic -monitor none -no-reboot"

if [ "$net" = 1 ]; then
	add_dev "$(vdev virtio-net),netdev=n0,mac=52:54:00:12:34:56$([ "$transport" = pci ] && echo ,romfile=)"
	# shellcheck disable=SC2086 # option lists
	exec "$qemu" $base -serial stdio -netdev tap,id=n0,ifname=n90tap0,script=no,downscript=no,vhost=off \
		$drives $devs ${QEMU_EXTRA:-} -kernel "$image" -append "$cmdline"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# The output read: the UART on stdout, unless a virtconsole or the PCI 16550 takes that.
if [ "$vcon" = 1 ]; then
	out="-serial file:$tmp/uart -chardev stdio,id=c0,signal=off"
	add_dev "$(vdev virtio-serial)"
	devs="$devs -device virtconsole,chardev=c0"
elif [ "$uart_pci" = 1 ]; then
	out="-serial file:$tmp/uart -chardev stdio,id=c0,signal=off -device pci-serial,chardev=c0"
else
	out="-chardev stdio,id=c0,signal=off -serial chardev:c0"
fi

# Input: a virtconsole holds it until the guest posts buffers; a UART needs it after the
# guest's ready line, so a writer waits for that line. Either way QEMU reads stdin from a
# FIFO that the writer closes when done (QEMU then sees the end of input, nothing more).
mkfifo "$tmp/in"
(
	exec 3>"$tmp/in"
	[ -n "$line" ] || exit 0
	i=0
	while [ "$vcon" = 0 ] && [ $i -lt $((tmo * 10)) ] && ! grep -q 'uart: waiting for a line' "$tmp/serial" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	printf '%s\n' "$line" >&3
) &
writer=$!

# shellcheck disable=SC2086 # option lists
timeout "$tmo" "$qemu" $base $out $drives $devs ${QEMU_EXTRA:-} -kernel "$image" -append "$cmdline" \
	<"$tmp/in" >"$tmp/serial" 2>"$tmp/stderr"
rc=$?
kill "$writer" 2>/dev/null
wait 2>/dev/null

if [ $rc -ne 0 ] && [ $rc -ne 124 ]; then
	echo "$0: QEMU failed (exit $rc):" >&2
	cat "$tmp/stderr" >&2
	exit 2
fi
[ -s "$tmp/stderr" ] && cat "$tmp/stderr" >&2

tr -d '\r' <"$tmp/serial" | sed -n '/n90 test guest:/,$p' | sed '1s/^.*\(n90 test guest:\)/\1/' >"$tmp/out"
if [ -n "$outfile" ]; then
	cp "$tmp/out" "$outfile"
else
	cat "$tmp/out"
fi

if [ $rc -eq 124 ]; then
	echo "$0: timed out after ${tmo}s" >&2
	exit 1
fi
grep -qx 'RESULT: PASS' "$tmp/out" || exit 1
exit 0
