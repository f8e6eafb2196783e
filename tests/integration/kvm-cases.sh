#!/bin/sh
# Boots every test guest form with 1 and 4 vCPUs and checks the exit status and the exact
# serial output. Needs KVM: run.sh calls it on the host for the needs the host meets and
# inside the rig's L1 VM for the rest (busybox sh there, so POSIX sh only).
# usage: [NEEDS="any 1g"] kvm-cases.sh N90VMM GUEST_DIR EXPECTED_DIR
n90=$1 gdir=$2 edir=$3
# shellcheck source=tests/integration/disk-image.sh
. "$(dirname "$0")/disk-image.sh"
pass=0 fail=0
tmp=${TMPDIR:-/tmp}/n90-kvm-cases.$$
mkdir -p "$tmp"

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# Each case says what it needs of KVM: "any" (every usable KVM, kvm-pvm too: the default) or
# "1g" (1 GiB guest pages). NEEDS (environment, default "any 1g") lists the needs this run
# covers: run.sh runs each group where the host meets it, here or in the rig's L1.
needs=" ${NEEDS:-any 1g} "
covers() { case $needs in *" $1 "*) return 0 ;; esac; return 1; }

# boot NAME EXPECTED_STATUS N90VMM_ARGS...: runs n90vmm, leaves output in $tmp/NAME.out
boot() {
	name=$1 want=$2
	shift 2
	"$n90" --no-stdin "$@" >"$tmp/$name.raw" 2>"$tmp/$name.err"
	rc=$?
	tr -d '\r' <"$tmp/$name.raw" >"$tmp/$name.out"
	if [ "$rc" -ne "$want" ]; then
		bad "$name" "exit status $rc, expected $want"
		sed 's/^/    | /' "$tmp/$name.out" "$tmp/$name.err"
		return 1
	fi
	return 0
}

for g in mb.bin mb.elf pvh.elf bzimage; do
	covers any || break
	for c in 1 4; do
		name=boot-$g-cpus$c
		boot "$name" 0 --timeout 60 -c "$c" -m 256 -p "expect_cpus=$c expect_mem_mb=256" "$gdir/$g" || continue
		if cmp -s "$tmp/$name.out" "$edir/$g-cpus$c.txt"; then
			ok "$name"
		else
			bad "$name" "serial output differs from $g-cpus$c.txt"
			diff "$edir/$g-cpus$c.txt" "$tmp/$name.out" | sed 's/^/    | /'
		fi
	done
done

# How the guest ends decides the exit status (docs/exit-codes.md).
# On kvm-pvm too: n90vmm reads its report of the triple fault as one (docs/exit-codes.md).
for case in "reset 80" "reset-cf9 80" "triplefault 81" "hang 124"; do
	covers any || break
	set -- $case
	name=exit-$1
	boot "$name" "$2" --timeout 3 -c 1 -m 64 -p "action=$1" "$gdir/mb.bin" && ok "$name"
done

# The same endings in crosvm compatibility mode (`n90vmm run`, crosvm's exit statuses):
# 0 power-off, 32 reset, 33 crash; 35 for a flag crosvm has and n90vmm refuses.
for case in "poweroff 0 --cpus 1 --mem 64 -p action=poweroff" "reset 32 --cpus 1 --mem 64 -p action=reset" \
	"triplefault 33 --cpus 1 --mem 64 -p action=triplefault" "invalid-args 35 --gpu backend=2d"; do
	covers any || break
	set -- $case
	name=crosvm-exit-$1 want=$2
	shift 2
	"$n90" run "$@" "$gdir/mb.bin" </dev/null >"$tmp/$name.out" 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		ok "$name"
	else
		bad "$name" "exit status $rc, expected $want"
		sed 's/^/    | /' "$tmp/$name.out" | tail -5
	fi
done

# --- virtio: the test guest's drivers against n90vmm's devices (tests/guest/README.md) ---------

# compare NAME FILE: the normalised output must equal expected/FILE exactly.
compare() {
	if cmp -s "$tmp/$1.out" "$edir/$2"; then
		return 0
	fi
	bad "$1" "serial output differs from $2"
	diff "$edir/$2" "$tmp/$1.out" | sed 's/^/    | /'
	return 1
}

# virtio-blk: a read-write and a read-only disk, each transport, polled and interrupt driven.
# The PVH case runs on the crosvm-x86 profile (other addresses, cmdline virtio_mmio.device=).
for case in "blk-pci-poll mb.bin" "blk-mmio-poll mb.bin" "blk-pci-irq mb.bin" "blk-mmio-irq pvh.elf"; do
	covers any || break
	set -- $case
	mode=$1 guest=$2 name=virtio-$1
	transport=pci
	case $mode in *mmio*) transport=mmio ;; esac
	blk_images
	boot "$name" 0 --timeout 60 -c 1 -m 256 --virtio-transport "$transport" \
		--disk "$tmp/rw.img" --disk "$tmp/ro.img,ro" -p "virtio=$mode" "$gdir/$guest" &&
		compare "$name" "$name.txt" && blk_checks "$name" "$transport" && ok "$name"
done

# The StarryOS-shaped run: the starry-x86 profile's machine as StarryOS's platform code
# checks it (tests/guest/x86_64/starry.c: ECAM scan, BAR window, CMOS clock, leaf 0x16), four vCPUs
# started with INIT-SIPI-SIPI, a polled modern virtio-blk, power-off by 0x2000 to port 0x604.
# run.sh boots the same file on QEMU q35, the machine StarryOS x86 is built for.
# mb-1g.bin is the same guest mapping itself with 1 GiB pages, as StarryOS does: it needs
# PDPE1GB, which real KVM offers (the rig's L1) and kvm-pvm does not: its need is "1g".
for g in mb.bin mb-1g.bin; do
	need=any
	[ "$g" = mb-1g.bin ] && need=1g
	covers $need || continue
	name=starry-x86-$g
	make_image "$tmp/rw.img"
	if boot "$name" 0 --timeout 60 --profile starry-x86 -c 4 -m 1024 --disk "$tmp/rw.img" \
		-p "starry=1 expect_leaf16=1 expect_cpus=4 expect_mem_mb=1024 virtio=blk-pci-poll" "$gdir/$g" &&
		compare "$name" starry-x86.txt && check_written "$name" "$tmp/rw.img" pci; then
		ok "$name"
	fi
done

# virtio-console: the whole report and the echoed input line on n90vmm's standard output.
for case in "con-pci-irq mb.bin" "con-mmio-poll bzimage"; do
	covers any || break
	set -- $case
	mode=$1 guest=$2 name=virtio-$1
	transport=pci
	case $mode in *mmio*) transport=mmio ;; esac
	printf 'hello from the host\n' | "$n90" --timeout 60 -c 1 -m 256 --virtio-transport "$transport" \
		--console virtio -p "virtio=$mode" "$gdir/$guest" >"$tmp/$name.raw" 2>"$tmp/$name.err"
	rc=$?
	tr -d '\r' <"$tmp/$name.raw" >"$tmp/$name.out"
	if [ "$rc" -ne 0 ]; then
		bad "$name" "exit status $rc, expected 0"
		sed 's/^/    | /' "$tmp/$name.out" "$tmp/$name.err"
		continue
	fi
	compare "$name" "$name.txt" && ok "$name"
done

# Hostile driver: malformed chains and rings; n90vmm must survive, flag DEVICE_NEEDS_RESET,
# recover after a reset, and count one error per case (--stats).
for transport in pci mmio; do
	covers any || break
	name=virtio-hostile-$transport
	make_image "$tmp/rw.img"
	boot "$name" 0 --timeout 60 --stats -c 1 -m 256 --virtio-transport "$transport" --disk "$tmp/rw.img" \
		-p "virtio=blk-$transport-poll hostile" "$gdir/mb.bin" || continue
	compare "$name" "$name.txt" || continue
	cases=$(sed -n 's/^hostile: \([0-9]*\) cases$/\1/p' "$tmp/$name.out")
	errors=$(sed -n 's/^stats: virtio-blk0 .* errors=\([0-9]*\).*$/\1/p' "$tmp/$name.err")
	if [ -z "$cases" ] || [ "$errors" != "$cases" ]; then
		bad "$name" "n90vmm counted '$errors' device errors for '$cases' malformed requests"
		grep '^stats:' "$tmp/$name.err" | sed 's/^/    | /'
		continue
	fi
	ok "$name"
done

# virtio-net: the guest on a tap in a network namespace of its own (net-cases.sh: ARP, ping
# both ways, 1 MiB each way over raw frames with checksums), each transport, polled and
# interrupt driven. Needs root, iproute2's ip and iputils' ping (IP, PING: see net-cases.sh)
# and nettest (NETTEST, default next to the guest directory: build/nettest).
nettest=${NETTEST:-$(dirname "$gdir")/nettest}
for mode in net-pci-poll net-pci-irq net-mmio-poll net-mmio-irq; do
	covers any || break
	name=virtio-$mode transport=pci
	case $mode in *mmio*) transport=mmio ;; esac
	if [ "$(id -u)" != 0 ]; then
		bad "$name" "needs root (network namespace, tap)"
		continue
	fi
	"$(dirname "$0")/net-cases.sh" --name "$name" --nettest "$nettest" --expect "$edir/$name.txt" -- \
		"$n90" --no-stdin --timeout 120 -c 1 -m 256 --virtio-transport "$transport" \
		--net tap=n90tap0,mac=52:54:00:12:34:56 -p "virtio=$mode" "$gdir/mb.bin" >"$tmp/$name.log" 2>/dev/null
	if [ $? -eq 0 ]; then
		ok "$name"
	else
		fail=$((fail + 1))
		cat "$tmp/$name.log"
	fi
done

rm -rf "$tmp"
echo "kvm-cases: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
