#!/usr/bin/env bash
# Integration tests for the monitor core:
#  1. bad inputs: each gives one line on stderr and its documented exit status (no KVM needed);
#  2. every test guest boots on KVM with the exact expected serial output (kvm-cases.sh), on
#     this host's /dev/kvm when it is usable, otherwise inside the system-test rig's L1 VM;
#  3. the same guest files boot on QEMU with the same serial output.
# usage: tests/integration/run.sh [BUILD_DIR]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
# N90VMM: another build of the monitor (make sanitize passes its ASan/UBSan binary).
n90=${N90VMM:-$build/n90vmm}
guests=$build/guest
here=$root/tests/integration
pass=0
fail=0

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# A probe must not create /dev/kvm as a plain file when it is missing.
kvm_usable() { [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; }

# --- 1. bad inputs -------------------------------------------------------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/empty"
head -c 65536 /dev/zero | tr '\0' 'Z' >"$tmp/junk"
# A multiboot header whose address fields claim more bytes than the file holds.
printf '\x02\xb0\xad\x1b\x03\x00\x01\x00\xfb\x4f\x51\xe4\x00\x00\x20\x00\x00\x00\x20\x00\x00\x00\x40\x00\x00\x00\x40\x00\x20\x00\x20\x00' >"$tmp/truncated-mb"

check_input() { # NAME EXPECTED_STATUS STDERR_SUBSTRING ARGS...
	local name=$1 want=$2 text=$3
	shift 3
	"$n90" --no-stdin "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	local rc=$? lines
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" -ne "$want" ]; then
		bad "input-$name" "exit status $rc, expected $want ($(head -c 200 "$tmp/err"))"
	elif [ "$lines" -ne 1 ] || ! grep -q -- "$text" "$tmp/err"; then
		bad "input-$name" "expected one line containing '$text', got: $(cat "$tmp/err")"
	else
		ok "input-$name"
	fi
}
check_input missing-kernel 66 "No such file" "$tmp/nope"
check_input directory 66 "is a directory" "$tmp"
check_input empty-file 65 "is empty" "$tmp/empty"
check_input corrupt-header 65 "not a kernel" "$tmp/junk"
check_input truncated-multiboot 65 "truncated" "$tmp/truncated-mb"
check_input unknown-flag 64 "unknown option '--frobnicate'" --frobnicate "$guests/mb.bin"
check_input missing-value 64 "needs a value" "$guests/mb.bin" --mem
check_input absurd-memory 64 "more than this host" --mem 64T "$guests/mb.bin"
check_input tiny-memory 64 "too little" --mem 1M "$guests/mb.bin"
check_input bad-cpus 64 "not a vCPU count" --cpus 0 "$guests/mb.bin"
check_input bad-profile 64 "unknown profile" --profile nope "$guests/mb.bin"
check_input missing-initrd 66 "initrd" --initrd "$tmp/nope" "$guests/bzimage"
check_input long-cmdline 64 "command line is" -p "$(head -c 3000 /dev/zero | tr '\0' x)" "$guests/mb.bin"

# --- 2. test guests on KVM -----------------------------------------------------------------
if kvm_usable; then
	echo "== booting the test guests on this host's /dev/kvm"
	"$here/kvm-cases.sh" "$n90" "$guests" "$here/expected" | tee "$tmp/kvm.log"
else
	echo "== /dev/kvm is not usable here: booting the test guests inside the rig's L1 VM"
	adds=(--add "$n90:/n90/n90vmm" --add "$here/kvm-cases.sh:/n90/kvm-cases.sh"
		--add "$here/net-cases.sh:/n90/net-cases.sh" --add "$build/nettest:/n90/nettest"
		--add "$(command -v ip):/n90/bin/ip" --add "$(command -v ping):/n90/bin/ping")
	for f in "$guests"/mb.bin "$guests"/mb-1g.bin "$guests"/mb.elf "$guests"/pvh.elf "$guests"/bzimage \
		"$here"/expected/*.txt; do
		adds+=(--add "$f:/n90/files/$(basename "$f")")
	done
	# A sanitizer build's options travel with it into L1.
	# iproute2 and iputils by absolute path: L1's busybox sh would run its own applets.
	env_prefix=(env IP=/n90/bin/ip PING=/n90/bin/ping)
	[ -n "${ASAN_OPTIONS:-}" ] && env_prefix+=("ASAN_OPTIONS=$ASAN_OPTIONS")
	"$root/tests/system/l1.sh" --timeout 300 --log "$build/integration-l1.log" "${adds[@]}" -- \
		"${env_prefix[@]}" /n90/kvm-cases.sh /n90/n90vmm /n90/files /n90/files | tee "$tmp/kvm.log"
fi
read -r kp kf < <(sed -n 's/^kvm-cases: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$tmp/kvm.log" | tr -d '\r')
if [ -z "${kp:-}" ]; then
	bad kvm-cases "no result line (see $build/integration-l1.log)"
else
	pass=$((pass + kp))
	fail=$((fail + kf))
fi

# --- 2b. a hostile host: stuck readers, FIFOs, idle sockets, signals, floods, load ----------
# (tests/integration/hostile-host.sh; 300 boots in a row here, fewer for a sanitizer build or
# inside the rig, where every boot is slow)
boots=${HOSTILE_BOOTS:-300}
[ -n "${N90VMM:-}" ] && boots=${HOSTILE_BOOTS:-50}
if kvm_usable; then
	echo "== a hostile host, on this host's /dev/kvm"
	HOSTILE_BOOTS=$boots "$here/hostile-host.sh" "$n90" "$guests" "$here/expected" "$build/hostile-peer" |
		tee "$tmp/hostile.log"
else
	echo "== a hostile host, inside the rig's L1 VM"
	"$root/tests/system/l1.sh" --timeout 900 --log "$build/integration-hostile-l1.log" \
		--add "$n90:/n90/n90vmm" --add "$here/hostile-host.sh:/n90/hostile-host.sh" \
		--add "$build/hostile-peer:/n90/hostile-peer" --add "$guests/mb.bin:/n90/files/mb.bin" \
		--add "$here/expected/mb.bin-cpus1.txt:/n90/files/mb.bin-cpus1.txt" -- \
		env HOSTILE_BOOTS="${HOSTILE_BOOTS:-30}" ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} \
		/n90/hostile-host.sh /n90/n90vmm /n90/files /n90/files /n90/hostile-peer | tee "$tmp/hostile.log"
fi
read -r hp hf < <(sed -n 's/^hostile-host: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$tmp/hostile.log" | tr -d '\r')
if [ -z "${hp:-}" ]; then
	bad hostile-host "no result line"
else
	pass=$((pass + hp))
	fail=$((fail + hf))
fi

# --- 3. the same files on QEMU -------------------------------------------------------------
# (not again for another build of the monitor: QEMU's side does not change)
[ -n "${N90VMM:-}" ] || for g in mb.bin mb.elf pvh.elf bzimage; do
	for c in 1 4; do
		name=qemu-$g-cpus$c
		"$root/tests/guest/compare-qemu.sh" "$guests/$g" "$c" "expect_cpus=$c expect_mem_mb=256" "$tmp/qemu.out" \
			>/dev/null 2>"$tmp/qemu.err"
		if cmp -s "$tmp/qemu.out" "$here/expected/$g-cpus$c.txt"; then
			ok "$name"
		else
			bad "$name" "QEMU's serial output differs from n90vmm's expected output"
			diff "$here/expected/$g-cpus$c.txt" "$tmp/qemu.out" | sed 's/^/    | /'
			sed 's/^/    ! /' "$tmp/qemu.err" | tail -5
		fi
	done
done

# The StarryOS-shaped run on QEMU q35 (the machine StarryOS x86 is built for): the same file,
# checks and disk layout as kvm-cases.sh's starry-x86 case, which n90vmm must pass with
# expect_leaf16=1 too (QEMU on an AMD host has no CPUID leaf 0x16, so it is not required
# here). -nodefaults: no VGA, whose framebuffer BAR StarryOS's device window does not map.
[ -n "${N90VMM:-}" ] || for g in mb.bin mb-1g.bin; do
	name=qemu-starry-q35-$g
	dd if=/dev/zero of="$tmp/starry.img" bs=512 count=2048 2>/dev/null
	i=0
	while [ $i -lt 32 ]; do printf 'host-sector-0002'; i=$((i + 1)); done |
		dd of="$tmp/starry.img" bs=512 seek=2 conv=notrunc 2>/dev/null
	if QEMU_MEM=1024 QEMU_EXTRA="-nodefaults -drive file=$tmp/starry.img,if=none,id=d0,format=raw
		-device virtio-blk-pci,drive=d0,disable-legacy=on" TIMEOUT=120 "$root/tests/guest/compare-qemu.sh" \
		"$guests/$g" 4 "starry=1 expect_cpus=4 expect_mem_mb=1024 virtio=blk-pci-poll" "$tmp/qemu.out" \
		>/dev/null 2>"$tmp/qemu.err"; then
		ok "$name"
	else
		bad "$name" "the StarryOS-shaped guest did not pass on QEMU q35"
		sed 's/^/    | /' "$tmp/qemu.out"
		sed 's/^/    ! /' "$tmp/qemu.err" | tail -5
	fi
done

# virtio-net on QEMU q35 (virtio-net-pci on a tap, modern only, no iPXE ROM), the same guest and expected
# output as n90vmm's pci cases (net-cases.sh: its own network namespace, root only).
qaccel="-accel tcg -cpu max"
kvm_usable && qaccel="-accel kvm -cpu host,-arch-capabilities"
[ -n "${N90VMM:-}" ] || for mode in net-pci-poll net-pci-irq; do
	name=qemu-q35-virtio-$mode
	# shellcheck disable=SC2086 # $qaccel is a list of options
	if "$here/net-cases.sh" --name "$name" --nettest "$build/nettest" --expect "$here/expected/virtio-$mode.txt" -- \
		qemu-system-x86_64 -M q35 $qaccel -smp 1 -m 256 -nodefaults -nographic -no-reboot -monitor none \
		-serial stdio -netdev tap,id=n0,ifname=n90tap0,script=no,downscript=no,vhost=off \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,disable-legacy=on,romfile= \
		-kernel "$guests/mb.bin" -append "virtio=$mode" >"$tmp/net.log" 2>/dev/null; then
		ok "$name"
	else
		bad "$name" "see below"
		sed 's/^/    /' "$tmp/net.log"
	fi
done

echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
