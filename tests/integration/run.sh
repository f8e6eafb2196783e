#!/usr/bin/env bash
# Integration tests for the monitor core:
#  1. bad inputs: each gives one line on stderr and its documented exit status (no KVM needed);
#  2. every test guest boots on KVM with the exact expected serial output (kvm-cases.sh). Each
#     case says what it needs (any KVM, 1 GiB pages); a group whose need this host meets runs
#     here, the rest inside the system-test rig's L1 VM (real KVM), never skipped;
#  3. the same guest files boot on QEMU with the same serial output (KVM where the host meets
#     the guest's need, TCG otherwise); so does the arm64 guest (QEMU virt, TCG), whose
#     outputs n90vmm's arm64 build must match too (kvm-arm64-cases.sh).
# What the host can do comes from `n90vmm --host-info` (tests/lib/host-kvm.sh); N90_HOST_KVM=
# none|pvm|real makes it report that kind of host (docs/testing.md). The last lines say where
# each group ran and the totals.
# usage: tests/integration/run.sh [BUILD_DIR]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
# N90VMM: another build of the monitor (make sanitize passes its ASan/UBSan binary).
n90=${N90VMM:-$build/n90vmm}
# INTEGRATION_HOST_ONLY=1: only the groups this host runs itself, none in the rig (make
# sanitize: its monitor gets the guests here; the rig's copies of the same cases run unsanitized).
host_only=${INTEGRATION_HOST_ONLY:-0}
guests=$build/guest
here=$root/tests/integration
pass=0
fail=0

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

. "$root/tests/lib/host-kvm.sh"
host_kvm_init "$n90"
where=inputs=host

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
# count LOG: adds kvm-cases.sh's result line to the totals.
count() {
	local kp kf
	read -r kp kf < <(sed -n 's/^kvm-cases: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$1" | tr -d '\r')
	if [ -z "${kp:-}" ]; then
		bad "kvm-cases($2)" "no result line (see $build/integration-l1.log)"
	else
		pass=$((pass + kp))
		fail=$((fail + kf))
	fi
}
host_needs="" l1_needs=""
for need in any 1g; do
	if host_kvm_can $need; then host_needs="$host_needs $need"; else l1_needs="$l1_needs $need"; fi
	where="$where kvm-$need=$(host_kvm_where $need)"
done
host_needs=${host_needs# } l1_needs=${l1_needs# }
if [ "$host_only" = 1 ] && [ -n "$l1_needs" ]; then
	echo "== kvm-cases needing '$l1_needs': not run (INTEGRATION_HOST_ONLY=1: they need the rig)"
	where="$where (host only: rig groups not run)"
	l1_needs=
fi
if [ -n "$host_needs" ]; then
	echo "== kvm-cases needing '$host_needs': on this host's KVM ($(host_kvm_flavour))"
	NEEDS=$host_needs "$here/kvm-cases.sh" "$n90" "$guests" "$here/expected" | tee "$tmp/kvm-host.log"
	count "$tmp/kvm-host.log" host
fi
if [ -n "$l1_needs" ]; then
	echo "== kvm-cases needing '$l1_needs': inside the rig's L1 VM (this host's KVM: $(host_kvm_flavour))"
	adds=(--add "$n90:/n90/n90vmm" --add "$here/kvm-cases.sh:/n90/kvm-cases.sh" --add "$here/disk-image.sh:/n90/disk-image.sh"
		--add "$here/net-cases.sh:/n90/net-cases.sh" --add "$build/nettest:/n90/nettest"
		--add "$(command -v ip):/n90/bin/ip" --add "$(command -v ping):/n90/bin/ping")
	for f in "$guests"/mb.bin "$guests"/mb-1g.bin "$guests"/mb.elf "$guests"/pvh.elf "$guests"/bzimage \
		"$here"/expected/*.txt; do
		adds+=(--add "$f:/n90/files/$(basename "$f")")
	done
	# A sanitizer build's options travel with it into L1.
	# iproute2 and iputils by absolute path: L1's busybox sh would run its own applets.
	env_prefix=(env "NEEDS=$l1_needs" IP=/n90/bin/ip PING=/n90/bin/ping)
	[ -n "${ASAN_OPTIONS:-}" ] && env_prefix+=("ASAN_OPTIONS=$ASAN_OPTIONS")
	"$root/tests/system/l1.sh" --timeout 300 --log "$build/integration-l1.log" "${adds[@]}" -- \
		"${env_prefix[@]}" /n90/kvm-cases.sh /n90/n90vmm /n90/files /n90/files | tee "$tmp/kvm-l1.log"
	count "$tmp/kvm-l1.log" rig-l1
fi

# --- 2b. a hostile host: stuck readers, FIFOs, idle sockets, signals, floods, load ----------
# (tests/integration/hostile-host.sh; 300 boots in a row here, fewer for a sanitizer build or
# inside the rig, where every boot is slow)
# HOSTILE_BOOTS=0 leaves the group out (.ci/run's second, forced no-KVM run: make test has
# just run it).
boots=${HOSTILE_BOOTS:-300}
[ -n "${N90VMM:-}" ] && boots=${HOSTILE_BOOTS:-50}
if [ "$boots" = 0 ]; then
	echo "== a hostile host: not run (HOSTILE_BOOTS=0)"
	where="$where hostile=not-run"
elif host_kvm_can any; then
	where="$where hostile=$(host_kvm_where any)"
	echo "== a hostile host, on this host's KVM ($(host_kvm_flavour))"
	HOSTILE_BOOTS=$boots "$here/hostile-host.sh" "$n90" "$guests" "$here/expected" "$build/hostile-peer" |
		tee "$tmp/hostile.log"
elif [ "$host_only" = 1 ]; then
	where="$where hostile=not-run"
	echo "== a hostile host: not run (INTEGRATION_HOST_ONLY=1: this host's KVM cannot run it)"
else
	where="$where hostile=$(host_kvm_where any)"
	echo "== a hostile host, inside the rig's L1 VM (this host's KVM: $(host_kvm_flavour))"
	"$root/tests/system/l1.sh" --timeout 900 --log "$build/integration-hostile-l1.log" \
		--add "$n90:/n90/n90vmm" --add "$here/hostile-host.sh:/n90/hostile-host.sh" \
		--add "$build/hostile-peer:/n90/hostile-peer" --add "$guests/mb.bin:/n90/files/mb.bin" \
		--add "$here/expected/mb.bin-cpus1.txt:/n90/files/mb.bin-cpus1.txt" -- \
		env HOSTILE_BOOTS="${HOSTILE_BOOTS:-30}" ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} \
		/n90/hostile-host.sh /n90/n90vmm /n90/files /n90/files /n90/hostile-peer | tee "$tmp/hostile.log"
fi
# (no log: the group was not run)
if [ -f "$tmp/hostile.log" ]; then
	read -r hp hf < <(sed -n 's/^hostile-host: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$tmp/hostile.log" | tr -d '\r')
	if [ -z "${hp:-}" ]; then
		bad hostile-host "no result line"
	else
		pass=$((pass + hp))
		fail=$((fail + hf))
	fi
fi

# --- 3. the same files on QEMU -------------------------------------------------------------
# (not again for another build of the monitor: QEMU's side does not change)
# QEMU's accelerator by the guest's need: KVM (with a CPU model this host accepts) where the
# host meets it, TCG otherwise; QEMU needs no KVM at all, so these never go to the rig.
qaccel_any=$(qemu_accel any) qaccel_1g=$(qemu_accel 1g)
accel_word() { case $1 in *kvm*) echo host/kvm ;; *) echo host/tcg ;; esac; }
[ -n "${N90VMM:-}" ] || where="$where qemu=$(accel_word "$qaccel_any") qemu-1g=$(accel_word "$qaccel_1g")"
[ -n "${N90VMM:-}" ] || for g in mb.bin mb.elf pvh.elf bzimage; do
	for c in 1 4; do
		name=qemu-$g-cpus$c
		QEMU_ACCEL=$qaccel_any "$root/tests/guest/compare-qemu.sh" "$guests/$g" "$c" "expect_cpus=$c expect_mem_mb=256" "$tmp/qemu.out" \
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
	qaccel=$qaccel_any
	[ "$g" = mb-1g.bin ] && qaccel=$qaccel_1g
	dd if=/dev/zero of="$tmp/starry.img" bs=512 count=2048 2>/dev/null
	i=0
	while [ $i -lt 32 ]; do printf 'host-sector-0002'; i=$((i + 1)); done |
		dd of="$tmp/starry.img" bs=512 seek=2 conv=notrunc 2>/dev/null
	if QEMU_ACCEL=$qaccel QEMU_MEM=1024 QEMU_EXTRA="-nodefaults -drive file=$tmp/starry.img,if=none,id=d0,format=raw
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
qaccel=$qaccel_any
[ -n "${N90VMM:-}" ] || where="$where qemu-net=$(accel_word "$qaccel")"
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

# The arm64 test guest on QEMU's virt machine (TCG): its expected outputs (expected/arm64/) are
# what n90vmm --profile crosvm-arm64 must print too (kvm-arm64-cases.sh, on arm64 KVM).
if [ -n "${N90_HOST_KVM:-}" ]; then
	: # not repeated in a forced run (below)
elif [ -z "${N90VMM:-}" ] && [ -f "$guests/arm64/guest.Image" ] && command -v qemu-system-aarch64 >/dev/null; then
	where="$where qemu-arm64=tcg"
	"$here/qemu-arm64-cases.sh" "$guests/arm64" "$here/expected/arm64" "$build/nettest" | tee "$tmp/qemu-arm64.log"
	read -r ap af < <(sed -n 's/^qemu-arm64-cases: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$tmp/qemu-arm64.log")
	pass=$((pass + ${ap:-0}))
	fail=$((fail + ${af:-1}))
elif [ -z "${N90VMM:-}" ]; then
	echo "== the arm64 test guest is not built or qemu-system-aarch64 is missing (make deps): its QEMU cases skipped"
fi

# The same arm64 guest under n90vmm's arm64 build (kvm-arm64-cases.sh): on this host when it
# is an arm64 host with KVM, otherwise in the arm64 rig's L1 (real arm64 KVM under TCG), with
# the arm64 ip, ping and nettest the virtio-net cases need.
# (Not again with N90_HOST_KVM forcing a kind: where these run does not depend on this x86
# host's kind, and the forced run is there to test the x86 routing.)
n90_arm64=${N90VMM_ARM64:-$build/arm64/n90vmm}
[ "$(uname -m)" = aarch64 ] && n90_arm64=$n90
if [ -n "${N90_HOST_KVM:-}" ] && [ "$(uname -m)" != aarch64 ]; then
	echo "== N90_HOST_KVM=$N90_HOST_KVM: the arm64 cases are not repeated (they run in the arm64 rig either way)"
elif [ -z "${N90VMM:-}" ] && [ -f "$guests/arm64/guest.Image" ] && [ -x "$n90_arm64" ]; then
	if [ "$(uname -m)" = aarch64 ] && host_kvm_can any; then
		where="$where kvm-arm64=host"
		"$here/kvm-arm64-cases.sh" "$n90_arm64" "$guests/arm64" "$here/expected/arm64" "$build/nettest" |
			tee "$tmp/kvm-arm64.log"
	else
		where="$where kvm-arm64=rig-l1"
		echo "== the arm64 guest under n90vmm's arm64 build, in the arm64 rig's L1"
		"$root/tests/system/fetch-qemu-arm64.sh" >/dev/null
		sys=$root/build/rig/arm64/qemu/sysroot
		adds=(--libdir "$sys/usr/lib/aarch64-linux-gnu" --libdir "$sys/lib/aarch64-linux-gnu"
			--add "$n90_arm64:/n90/n90vmm" --add "$here/kvm-arm64-cases.sh:/n90/kvm-arm64-cases.sh"
			--add "$here/net-cases.sh:/n90/net-cases.sh" --add "$here/disk-image.sh:/n90/disk-image.sh"
			--add "$sys/bin/ip:/n90/bin/ip" --add "$sys/bin/ping:/n90/bin/ping")
		nt=
		[ -x "$build/arm64/nettest" ] && { adds+=(--add "$build/arm64/nettest:/n90/nettest"); nt=/n90/nettest; }
		for f in "$guests"/arm64/*.Image "$here"/expected/arm64/*.txt; do
			adds+=(--add "$f:/n90/files/$(basename "$f")")
		done
		"$root/tests/system/l1.sh" --arch arm64 --timeout 900 --log "$build/integration-l1-arm64.log" "${adds[@]}" -- \
			env IP=/n90/bin/ip PING=/n90/bin/ping /n90/kvm-arm64-cases.sh /n90/n90vmm /n90/files /n90/files $nt |
			tee "$tmp/kvm-arm64.log"
	fi
	read -r kp kf < <(sed -n 's/^kvm-arm64-cases: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$tmp/kvm-arm64.log" | tr -d '\r')
	if [ -z "${kp:-}" ]; then
		bad kvm-arm64-cases "no result line (see $build/integration-l1-arm64.log)"
	else
		pass=$((pass + kp))
		fail=$((fail + kf))
	fi
elif [ -z "${N90VMM:-}" ]; then
	echo "== no arm64 build of n90vmm or of the test guest (make ARCH=arm64; make guests): its cases skipped"
fi

echo "integration: where: $where (this host's KVM: $(host_kvm_flavour)$([ "$(host_kvm_get forced)" = true ] && echo ", forced by N90_HOST_KVM"))"
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
