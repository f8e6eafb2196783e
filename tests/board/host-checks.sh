#!/usr/bin/env bash
# The N90 board's host-side checks, no guest booted (seconds): the board's configuration
# (names, alias, inheritance, per-architecture keys), the seed-era command lines' parsing and
# their errors, the crosvm runner's kernel lookup, the network step in a network namespace of
# its own (tap, dnsmasq answering, all gone afterwards), the NAT ruleset (checked by nft, never
# applied), the rootfs package list, the guide's commands (each one run by a test or marked as
# needing real hardware), and that every check in the guest scripts has a break.
# usage: tests/board/host-checks.sh     (root: network namespaces)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
pass=0 failed=0
t() { # NAME COMMAND...: one check
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass=$((pass + 1))
		echo "ok - $name"
	else
		failed=$((failed + 1))
		echo "not ok - $name"
		printf '%s\n' "$out" | sed 's/^/    /' | tail -n 15
	fi
}
expect_fail() { # STATUS PATTERN COMMAND...: COMMAND exits with STATUS and says PATTERN
	local want=$1 pattern=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	[ $rc -eq "$want" ] && printf '%s' "$out" | grep -q -- "$pattern" ||
		{ echo "exit $rc (want $want), output: $out"; return 1; }
}
board() { harness/board.py "$@"; }

## The board's configuration
t "n90-crosvm is aarch64 by default, 4 vCPUs, 4 GiB, crosvm, tap, 90/900 s" bash -c '
	[ "$(harness/board.py n90-crosvm ARCH CPUS MEMORY_MB HYPERVISOR NET BOOT_TIMEOUT COMMAND_TIMEOUT | tr "\n" " ")" = \
		"aarch64 4 4096 crosvm tap 90 900 " ]'
t "n90 is an alias of n90-crosvm" bash -c '[ "$(harness/board.py n90 NAME)" = n90-crosvm ] && [ -L board/n90 ]'
t "--arch x86_64 takes the x86_64 kernel and image directory" bash -c '
	[ "$(harness/board.py --arch x86_64 n90-crosvm KERNEL ROOTFS | tr "\n" " ")" = \
		"build/rig/kernel/vmlinuz build/n90-crosvm/x86_64/rootfs.ext4 " ] &&
	[ "$(harness/board.py --arch amd64 n90 ARCH)" = x86_64 ] && [ "$(harness/board.py --arch arm64 n90 ARCH)" = aarch64 ]'
t "qemu_virt is the same guest under QEMU" bash -c '
	[ "$(harness/board.py qemu_virt HYPERVISOR NAME ROOTFS | tr "\n" " ")" = "qemu qemu_virt build/n90-crosvm/aarch64/rootfs.ext4 " ]'
t "an unknown board or architecture is refused by name" bash -c '
	harness/board.py no-such-board 2>&1 | grep -q "no board .no-such-board. (known: n90, n90-crosvm, qemu_virt)" &&
	harness/board.py --arch mips n90 2>&1 | grep -q "unknown architecture .mips."'
t "the promised packages are in the package list" bash -c '
	for p in openssl libsodium23 iptables python3 strace gdb htop; do
		sed "s/#.*//" board/n90-crosvm/packages.txt | grep -qw "$p" || { echo "missing $p"; exit 1; }
	done'
t "the rootfs hooks exist and are executable" test -x board/n90-crosvm/post-build.sh -a -x board/n90-crosvm/post-image.sh
t "the overlay has the N90 setup's paths" bash -c '
	test -x overlay/usr/bin/n90-board-test.sh && test -x overlay/opt/security-apps/security-test-suite.sh'

## The seed-era command lines
t "run_board_tests: a missing image names the build step" expect_fail 2 "build-all" \
	harness/run_board_tests.sh --board n90-crosvm --hypervisor crosvm --rootfs no-such-rootfs.ext4
t "run_board_tests: real-hardware flags are refused by name" expect_fail 2 "--serial" \
	scripts/run_board_tests.sh --board n90-crosvm --serial /dev/ttyUSB0
t "run_board_tests: a bare rootfs.img is the board's image" bash -c '
	d=$(mktemp -d) && mkdir -p "$d/img" && : >"$d/img/rootfs.img" &&
	cd "$d" && python3 -c "
import sys; sys.path.insert(0, \"$0/harness\"); import board_tests as b
assert b.resolve_image(\"rootfs.img\", \"$d/img\", \"rootfs\") == \"$d/img/rootfs.img\"" "$PWD"; rc=$?; rm -rf "$d"; exit $rc' "$root"
t "run_board_tests: --suite A,B is one suite of both, in order, each case with its suite's timeout" python3 -c "
import sys; sys.path.insert(0, 'harness'); import board_tests as b
s = b.read_suites('n90-board,n90-security')
assert s['name'] == 'n90-board+n90-security', s['name']
assert [c['name'] for c in s['cases']] == ['board', 'board-breaks', 'security', 'security-breaks']
assert all(c['timeout'] == 900 for c in s['cases'])"
t "crosvm runner: no StarryOS tree is the old runner's error, exit 1" expect_fail 1 "StarryOS root not found" \
	scripts/starry_crosvm_runner.py --root /nonexistent --command true
t "crosvm runner: the kernel is found in ROOT/arceos/NAME as the old runner did" bash -c '
	d=$(mktemp -d) && mkdir -p "$d/arceos" && : >"$d/arceos/starryos.bin" &&
	python3 -c "import sys; sys.path.insert(0, sys.argv[1]); import crosvm_runner as r
assert r.find_kernel(sys.argv[2], \"starryos.bin\") == sys.argv[2] + \"/arceos/starryos.bin\"
assert r.mebibytes(\"4G\") == 4096 and r.mebibytes(\"512M\") == 512 and r.mebibytes(\"2048\") == 2048
assert r.payload(\"noise {\\\"a\\\": 1} more\") == \"{\\\"a\\\": 1}\" and r.payload(\"plain\") == \"plain\"" "$PWD/harness" "$d"
	rc=$?; rm -rf "$d"; exit $rc'
t "crosvm runner: a missing kernel is the old runner's error" expect_fail 1 "Kernel not found" \
	scripts/starry_crosvm_runner.py --root /tmp --kernel no-such-kernel --command true
t "quickstart: help lists every command" bash -c '
	out=$(./quickstart-n90.sh help) && for c in setup build-all run test security-test net-up net-down help; do
		echo "$out" | grep -q "^  $c" || { echo "no $c"; exit 1; }; done'
t "make: the N90 setup's targets and the old names exist" bash -c '
	for t in board-test-qemu board-test-crosvm n90-security-test board-test board-security-test board-rootfs; do
		make -n "$t" >/dev/null 2>&1 || { echo "no make $t"; exit 1; }; done'

## The network step (in a namespace of the test's own: nothing is left on this host)
net_step() {
	local out
	out=$(board/n90-crosvm/net.sh run --tap n90tapt0 -- sh -c '
		ip -o addr show n90tapt0 | grep -q "inet 10.0.2.1/24" || { echo "no host address on the tap"; exit 1; }
		for i in $(seq 30); do [ -s "$N90_NET_DIR/dnsmasq.pid" ] && break; sleep 0.1; done
		kill -0 "$(cat "$N90_NET_DIR/dnsmasq.pid")" || { echo "no dnsmasq"; exit 1; }
		ip -o link show | awk "{print \$2}" | tr "\n" " "
		exit 7')
	local rc=$?
	[ $rc -eq 7 ] || { echo "net.sh run: the command's status 7 came back as $rc: $out"; return 1; }
	echo "$out" | grep -q "lo: n90tapt0:" || { echo "namespace links: $out"; return 1; }
	! ip link show n90tapt0 >/dev/null 2>&1 || { echo "the tap outlived its namespace"; return 1; }
}
t "net.sh run: tap and dnsmasq in a namespace of its own, the command's status, nothing left" net_step
# A function, not bash -c: pgrep -f must not find the test's own command line.
net_killed() {
	board/n90-crosvm/net.sh run --tap n90tapt1 -- sleep 31.7 &
	local pid=$! i
	for i in $(seq 50); do pgrep -f "[i]nterface=n90tapt1" >/dev/null && break; sleep 0.1; done
	pgrep -f "[i]nterface=n90tapt1" >/dev/null || { echo "dnsmasq never started"; return 1; }
	kill -KILL $pid
	wait $pid 2>/dev/null
	sleep 0.5
	! pgrep -f "[i]nterface=n90tapt1|[s]leep 31.7" >/dev/null ||
		{ echo "left behind: $(pgrep -af "[i]nterface=n90tapt1|[s]leep 31.7")"; return 1; }
}
t "net.sh run: an interrupted run leaves nothing (SIGKILL)" net_killed
t "net.sh nat-rules: nft accepts the ruleset (checked in a namespace, never applied)" bash -c '
	board/n90-crosvm/net.sh nat-rules | grep -q "masquerade" &&
	board/n90-crosvm/net.sh nat-rules | unshare -n nft -c -f - && ! nft list table ip n90_nat >/dev/null 2>&1'

## Every check has a break
every_check_breaks() {
	local script ids id missing=
	for script in overlay/usr/bin/n90-board-test.sh overlay/opt/security-apps/security-test-suite.sh; do
		ids=$(grep -oE '^\s*(\[ .* \] && )?check [a-z0-9_]+ ' "$script" | awk '{print $(NF)}')
		[ -n "$ids" ] || { echo "no checks found in $script"; return 1; }
		for id in $ids; do
			grep -q "^break_$id()" overlay/usr/lib/n90/breaks.sh || missing="$missing $id"
		done
	done
	[ -z "$missing" ] || { echo "checks without a break:$missing"; return 1; }
}
t "every check of the guest scripts has a break in breaks.sh" every_check_breaks

## The guide: every command is run by a test or marked as needing real hardware
t "docs/n90-crosvm-guide.md: every command is run by a test" tests/board/guide-commands.sh

echo "board host checks: $pass passed, $failed failed"
[ $failed -eq 0 ]
