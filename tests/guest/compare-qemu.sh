#!/bin/sh
# Boot an n90 test guest in QEMU and print its normalized serial output:
# the reference that n90vmm's output for the same file and command line
# must match byte for byte.
#
# usage: compare-qemu.sh GUEST_FILE CPUS "CMDLINE" [OUTFILE]
#
#   GUEST_FILE  build/guest/{mb.bin,mb.elf,pvh.elf,bzimage}
#   CPUS        -smp value (use the same number in expect_cpus=)
#   CMDLINE     e.g. "expect_cpus=4 expect_mem_mb=256"
#   OUTFILE     write the output there instead of stdout
#
# Environment: QEMU (default qemu-system-x86_64), QEMU_MACHINE (default q35;
# pc and microvm boot every form too), QEMU_MEM (MiB, default 256),
# TIMEOUT (seconds, default 60), QEMU_EXTRA (more QEMU options, e.g. -nodefaults and a disk),
# QEMU_ACCEL (e.g. "-accel tcg -cpu max"; default: KVM when this host can run a guest
# needing QEMU_NEED, any or 1g, else TCG: tests/lib/host-kvm.sh).
#
# Normalization: \r removed, everything before the first
# "n90 test guest:" (firmware noise, also on that line) dropped.
#
# Exit status: 0 = guest printed "RESULT: PASS" and QEMU exited by itself
# (guest powered off); 1 = anything else from the guest (FAIL, no RESULT,
# timeout); 2 = usage or QEMU start-up error.
set -u

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	echo "usage: $0 GUEST_FILE CPUS \"CMDLINE\" [OUTFILE]" >&2
	exit 2
fi
guest=$1 cpus=$2 cmdline=$3 outfile=${4:-}
qemu=${QEMU:-qemu-system-x86_64}
machine=${QEMU_MACHINE:-q35}
mem=${QEMU_MEM:-256}
tmo=${TIMEOUT:-60}

if [ ! -r "$guest" ]; then
	echo "$0: cannot read $guest" >&2
	exit 2
fi

# QEMU_ACCEL, or what tests/lib/host-kvm.sh says for a guest that needs QEMU_NEED (any KVM,
# or 1g: 1 GiB pages): KVM with a CPU model this host accepts, or TCG.
accel=${QEMU_ACCEL:-}
if [ -z "$accel" ]; then
	here=$(cd "$(dirname "$0")" && pwd)
	. "$here/../lib/host-kvm.sh"
	host_kvm_init "${N90VMM:-$here/../../build/n90vmm}"
	accel=$(qemu_accel "${QEMU_NEED:-any}")
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# shellcheck disable=SC2086 # $accel and $QEMU_EXTRA are lists of options
timeout "$tmo" "$qemu" -M "$machine" $accel -smp "$cpus" -m "$mem" \
	-nographic -monitor none -no-reboot -serial "file:$tmp/serial" ${QEMU_EXTRA:-} \
	-kernel "$guest" -append "$cmdline" 2>"$tmp/stderr" </dev/null
rc=$?

if [ $rc -ne 124 ] && [ ! -e "$tmp/serial" ]; then
	echo "$0: QEMU failed to start (exit $rc):" >&2
	cat "$tmp/stderr" >&2
	exit 2
fi
[ -s "$tmp/stderr" ] && cat "$tmp/stderr" >&2

# SeaBIOS prints on the serial port too ("Booting from ROM.." without a
# newline), so cut the first guest line at its marker, not at a line start.
touch "$tmp/serial"
tr -d '\r' <"$tmp/serial" |
	sed -n '/n90 test guest:/,$p' | sed '1s/^.*\(n90 test guest:\)/\1/' >"$tmp/out"
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
