#!/bin/sh
# The arm64 test guest (tests/guest/aarch64) under n90vmm --profile crosvm-arm64: the cases of
# qemu-arm64-cases.sh with the same expected outputs (expected/arm64/), plus those only n90vmm
# can pass (the hostile driver, StarryOS's view with its pKVM hypercalls) and the exit
# statuses. Needs arm64 KVM: an arm64 host, or the rig's arm64 L1 (busybox sh there, so
# POSIX sh only). The virtio-net cases run when NETTEST is given (and ip, ping, root).
# usage: kvm-arm64-cases.sh N90VMM GUEST_DIR EXPECTED_DIR [NETTEST]   (GUEST_DIR: build/guest/arm64)
n90=$1 gdir=$2 edir=$3 nettest=${4:-}
here=$(dirname "$0")
# shellcheck source=tests/integration/disk-image.sh
. "$here/disk-image.sh"
pass=0 fail=0
tmp=${TMPDIR:-/tmp}/n90-kvm-arm64-cases.$$
mkdir -p "$tmp"
prof="--profile crosvm-arm64 -m 2048"

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# boot NAME EXPECTED_STATUS N90VMM_ARGS...: runs n90vmm (no input), output in $tmp/NAME.out
boot() {
	name=$1 want=$2
	shift 2
	"$n90" --no-stdin "$@" >"$tmp/$name.raw" 2>"$tmp/$name.err"
	finish "$name" $? "$want"
}

finish() { # NAME STATUS WANT
	tr -d '\r' <"$tmp/$1.raw" >"$tmp/$1.out"
	if [ "$2" -ne "$3" ]; then
		bad "$1" "exit status $2, expected $3"
		sed 's/^/    | /' "$tmp/$1.out" "$tmp/$1.err"
		return 1
	fi
	return 0
}

compare() { # NAME FILE
	if cmp -s "$tmp/$1.out" "$edir/$2"; then
		return 0
	fi
	bad "$1" "serial output differs from arm64/$2"
	diff "$edir/$2" "$tmp/$1.out" | sed 's/^/    | /'
	return 1
}

# typed NAME LINE N90VMM_ARGS...: LINE reaches the guest's console after its ready line.
typed() {
	name=$1 line=$2
	shift 2
	rm -f "$tmp/in" && mkfifo "$tmp/in"
	(
		exec 3>"$tmp/in"
		i=0
		while [ $i -lt 600 ] && ! grep -q 'uart: waiting for a line' "$tmp/$name.raw" 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
		done
		printf '%s\n' "$line" >&3
	) &
	"$n90" "$@" <"$tmp/in" >"$tmp/$name.raw" 2>"$tmp/$name.err"
	rc=$?
	kill $! 2>/dev/null
	finish "$name" $rc 0
}

for c in 1 2; do
	boot "boot-cpus$c" 0 --timeout 60 $prof -c "$c" -p "expect_cpus=$c expect_mem_mb=2048" "$gdir/guest.Image" &&
		compare "boot-cpus$c" "boot-cpus$c.txt" && ok "boot-cpus$c"
done

# How the guest ends decides the exit status (docs/exit-codes.md): PSCI SYSTEM_RESET 80,
# no end at all 124 (the monitor's --timeout).
for case in "reset 80" "hang 124"; do
	set -- $case
	boot "exit-$1" "$2" --timeout 5 $prof -c 1 -p "action=$1" "$gdir/guest.Image" && ok "exit-$1"
done

for case in "blk-pci-poll 1" "blk-pci-irq 2" "blk-mmio-poll 1" "blk-mmio-irq 2"; do
	set -- $case
	mode=$1 cpus=$2 name=virtio-$1 transport=pci
	case $mode in *mmio*) transport=mmio ;; esac
	blk_images
	boot "$name" 0 --timeout 60 $prof -c "$cpus" --virtio-transport "$transport" --disk "$tmp/rw.img" \
		--disk "$tmp/ro.img,ro" -p "expect_cpus=$cpus virtio=$mode" "$gdir/guest.Image" &&
		compare "$name" "$name.txt" && blk_checks "$name" "$transport" && ok "$name"
done

for case in "con-pci-irq pci" "con-mmio-poll mmio"; do
	set -- $case
	name=virtio-$1
	printf 'hello from the host\n' | "$n90" --timeout 60 $prof -c 1 --virtio-transport "$2" --console virtio \
		-p "virtio=$1" "$gdir/guest.Image" >"$tmp/$name.raw" 2>"$tmp/$name.err"
	finish "$name" $? 0 && compare "$name" "$name.txt" && ok "$name"
done

# The 16550's receive interrupt: an edge-triggered SPI on crosvm-arm64.
typed uart-rx 'hello from the host' --timeout 60 $prof -c 2 -p "expect_cpus=2 uart_rx" "$gdir/guest.Image" &&
	compare uart-rx uart-rx.txt && ok uart-rx

# Hostile driver: n90vmm must flag DEVICE_NEEDS_RESET, recover, and count one error per case.
# Two disks: given one, crosvm-arm64 puts an empty read-only placeholder first (StarryOS's
# rootfs is the second disk), and the driver would attack that.
for transport in pci mmio; do
	name=virtio-hostile-$transport
	blk_images
	boot "$name" 0 --timeout 60 --stats $prof -c 1 --virtio-transport "$transport" --disk "$tmp/rw.img" \
		--disk "$tmp/ro.img,ro" -p "virtio=blk-$transport-poll hostile" "$gdir/guest.Image" || continue
	compare "$name" "$name.txt" || continue
	cases=$(sed -n 's/^hostile: \([0-9]*\) cases$/\1/p' "$tmp/$name.out")
	errors=$(sed -n 's/^stats: virtio-blk0 .* errors=\([0-9]*\).*$/\1/p' "$tmp/$name.err")
	if [ -z "$cases" ] || [ "$errors" != "$cases" ]; then
		bad "$name" "n90vmm counted '$errors' device errors for '$cases' malformed requests"
		continue
	fi
	ok "$name"
done

# StarryOS's view (starry.Image, its header): the pKVM hypercalls, the hard-coded machine,
# two disks with the rootfs second (the guest writes and reads it, as StarryOS's would).
make_image "$tmp/secure.img"
make_image "$tmp/rootfs.img"
if boot starry 0 --timeout 120 $prof -c 2 --disk "$tmp/secure.img,ro" --disk "$tmp/rootfs.img" \
	-p "starry=1 expect_cpus=2 expect_mem_mb=2048 virtio=blk-pci-poll" "$gdir/starry.Image" &&
	compare starry starry.txt && check_written starry "$tmp/rootfs.img" pci 1; then
	ok starry
fi

# The N90 command line as users type it: `n90vmm IMAGE ROOTFS`, nothing else. The profile,
# 2 vCPUs and 2 GiB are the defaults for an arm64 Image, and n90vmm puts an empty read-only
# placeholder first so the rootfs is the second disk, as StarryOS wants (blk0=empty tells the
# guest to expect zeros there). --stats reports the pKVM calls and what answering them cost.
make_image "$tmp/rootfs-only.img"
if boot starry-rootfs-only 0 --timeout 120 --stats -p "starry=1 expect_cpus=2 expect_mem_mb=2048 virtio=blk-pci-poll blk0=empty" \
	"$gdir/starry.Image" "$tmp/rootfs-only.img" && compare starry-rootfs-only starry-rootfs-only.txt &&
	check_written starry-rootfs-only "$tmp/rootfs-only.img" pci 1; then
	grep '^stats: pkvm' "$tmp/starry-rootfs-only.err"
	ok starry-rootfs-only
fi

if [ -n "$nettest" ]; then
	for case in "net-pci-poll 1" "net-pci-irq 2" "net-mmio-poll 1" "net-mmio-irq 2"; do
		set -- $case
		mode=$1 cpus=$2 name=virtio-$1 transport=pci
		case $mode in *mmio*) transport=mmio ;; esac
		"$here/net-cases.sh" --name "$name" --nettest "$nettest" --expect "$edir/$name.txt" -- \
			"$n90" --no-stdin --timeout 120 $prof -c "$cpus" --virtio-transport "$transport" \
			--net tap=n90tap0,mac=52:54:00:12:34:56 -p "expect_cpus=$cpus virtio=$mode" "$gdir/guest.Image" \
			>"$tmp/$name.log" 2>/dev/null
		if [ $? -eq 0 ]; then
			ok "$name"
		else
			fail=$((fail + 1))
			cat "$tmp/$name.log"
		fi
	done
fi

rm -rf "$tmp"
echo "kvm-arm64-cases: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
