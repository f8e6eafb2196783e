#!/bin/sh
# The arm64 test guest (tests/guest/aarch64) on QEMU's virt machine (GICv3, TCG): every mode,
# 1 and 2 CPUs, each with its exact expected serial output in EXPECTED_DIR (expected/arm64/).
# Those files are the reference n90vmm --profile crosvm-arm64 must print the same way (the
# n90vmm command of each case is in tests/guest/aarch64/README.md); the qemu-*.txt ones are
# QEMU's alone (a device n90vmm does not have, or the StarryOS mode's refusal without pKVM).
# The virtio-net cases need root (net-cases.sh: a network namespace of their own) and NETTEST.
# usage: qemu-arm64-cases.sh GUEST_DIR EXPECTED_DIR [NETTEST]     (GUEST_DIR: build/guest/arm64)
here=$(cd "$(dirname "$0")" && pwd)
gdir=$1 edir=$2 nettest=${3:-}
compare_qemu=$here/../guest/compare-qemu-arm64.sh
# shellcheck source=tests/integration/disk-image.sh
. "$here/disk-image.sh"
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# run NAME WANT IMAGE CPUS CMDLINE [compare-qemu-arm64.sh OPTIONS]: the guest's normalized
# output must be expected/arm64/NAME.txt; WANT pass: it passed and powered off; fail: it
# printed RESULT: FAIL and powered off (the StarryOS mode on QEMU).
run() {
	name=$1 want=$2 image=$3 cpus=$4 cmdline=$5
	shift 5
	"$compare_qemu" "$@" "$gdir/$image" "$cpus" "$cmdline" "$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
	if [ $rc -ge 2 ] || grep -q 'timed out' "$tmp/$name.err" || { [ $rc -eq 0 ] && [ "$want" = fail ]; } ||
		{ [ $rc -ne 0 ] && [ "$want" = pass ]; }; then
		bad "$name" "compare-qemu-arm64.sh exited $rc"
		sed 's/^/    | /' "$tmp/$name.out"
		sed 's/^/    ! /' "$tmp/$name.err" | tail -5
		return 1
	fi
	if ! cmp -s "$tmp/$name.out" "$edir/$name.txt"; then
		bad "$name" "serial output differs from arm64/$name.txt"
		diff "$edir/$name.txt" "$tmp/$name.out" | sed 's/^/    | /'
		return 1
	fi
	return 0
}

for c in 1 2; do
	run "boot-cpus$c" pass guest.Image "$c" "expect_cpus=$c expect_mem_mb=2048" && ok "boot-cpus$c"
done

# virtio-blk: a read-write and a read-only disk; polled with 1 CPU, interrupt driven with 2.
for case in "blk-pci-poll 1" "blk-pci-irq 2" "blk-mmio-poll 1" "blk-mmio-irq 2"; do
	set -- $case
	mode=$1 cpus=$2 name=virtio-$1 transport=pci
	case $mode in *mmio*) transport=mmio ;; esac
	blk_images
	run "$name" pass guest.Image "$cpus" "expect_cpus=$cpus virtio=$mode" --transport "$transport" \
		--disk "$tmp/rw.img" --disk "$tmp/ro.img,ro" && blk_checks "$name" "$transport" && ok "$name"
done

# virtio-console: the report and the echoed line on the console (n90vmm --console virtio).
for case in "con-pci-irq pci" "con-mmio-poll mmio"; do
	set -- $case
	run "virtio-$1" pass guest.Image 1 "virtio=$1" --transport "$2" --virtio-console \
		--type 'hello from the host' && ok "virtio-$1"
done

# The console UART's receive interrupt: a line typed after the guest's ready line (QEMU's
# PL011 here, n90vmm's 16550 with an edge-triggered SPI there).
run uart-rx pass guest.Image 2 "expect_cpus=2 uart_rx" --type 'hello from the host' && ok uart-rx

# QEMU only: the same with the console moved to a 16550 on PCI, the driver n90vmm's
# crosvm-arm64 console needs (QEMU's virt has no 16550 of its own).
run qemu-uart-pci pass guest.Image 1 "uart=pci uart_rx" --uart-pci --type 'hello from the host' && ok qemu-uart-pci

# QEMU only: the StarryOS mode stops at its first pKVM hypercall, which QEMU answers -1.
run qemu-starry fail starry.Image 2 "starry=1 expect_cpus=2 expect_mem_mb=2048 virtio=blk-pci-poll" &&
	ok qemu-starry

# virtio-net: net-cases.sh (its own namespace and tap, ping both ways, nettest both ways).
for case in "net-pci-poll 1" "net-pci-irq 2" "net-mmio-poll 1" "net-mmio-irq 2"; do
	set -- $case
	mode=$1 cpus=$2 name=virtio-$1 transport=pci
	case $mode in *mmio*) transport=mmio ;; esac
	if [ "$(id -u)" != 0 ] || [ ! -x "$nettest" ]; then
		bad "$name" "needs root and nettest (make; run as root)"
		continue
	fi
	TIMEOUT=300 "$here/net-cases.sh" --name "$name" --nettest "$nettest" --expect "$edir/$name.txt" -- \
		"$compare_qemu" --net --transport "$transport" "$gdir/guest.Image" "$cpus" \
		"expect_cpus=$cpus virtio=$mode" >"$tmp/$name.log" 2>/dev/null
	if [ $? -eq 0 ]; then
		ok "$name"
	else
		fail=$((fail + 1))
		cat "$tmp/$name.log"
	fi
done

echo "qemu-arm64-cases: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
