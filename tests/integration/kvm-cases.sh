#!/bin/sh
# Boots every test guest form with 1 and 4 vCPUs and checks the exit status and the exact
# serial output. Needs a usable /dev/kvm: run.sh calls it on the host, or inside the rig's
# L1 VM (busybox sh there, so POSIX sh only).
# usage: kvm-cases.sh N90VMM GUEST_DIR EXPECTED_DIR
n90=$1 gdir=$2 edir=$3
pass=0 fail=0
tmp=${TMPDIR:-/tmp}/n90-kvm-cases.$$
mkdir -p "$tmp"

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

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
for case in "reset 80" "reset-cf9 80" "triplefault 81" "hang 124"; do
	set -- $case
	name=exit-$1
	boot "$name" "$2" --timeout 3 -c 1 -m 64 -p "action=$1" "$gdir/mb.bin" && ok "$name"
done

rm -rf "$tmp"
echo "kvm-cases: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
