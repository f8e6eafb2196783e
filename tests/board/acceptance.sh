#!/usr/bin/env bash
# The N90 board's acceptance run: issue 14's "done when" and every command of
# docs/n90-crosvm-guide.md (tests/board/guide-commands.sh checks that each appears here, word
# for word), each with the exit status and output it promises. Heavy: every step boots the
# board's guest (in the rig's L1 on a host whose KVM cannot run it); the whole run is over an
# hour on a 2-core kvm-pvm host, so it takes the parts to run (default: all, in this order):
#   aarch64   setup, build-all, test, security-test for the default architecture
#   x86_64    build-all, test, security-test with --arch x86_64
#   run       quickstart's run and the crosvm runner's command line: a command's output and
#             exit status come back
#   seed      the N90 setup's invocations verbatim, its make targets, sharding and compare
# usage: tests/board/acceptance.sh [aarch64|x86_64|run|seed]...    (root)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
pass=0 failed=0
step() { # NAME WANT_STATUS COMMAND...: COMMAND exits WANT_STATUS; its output in build/acceptance/
	local name=$1 want=$2 rc t0
	shift 2
	mkdir -p build/acceptance
	t0=$(date +%s)
	"$@" >"build/acceptance/$name.log" 2>&1
	rc=$?
	if [ $rc -eq "$want" ]; then
		pass=$((pass + 1))
		echo "ok - $name ($(($(date +%s) - t0)) s)"
	else
		failed=$((failed + 1))
		echo "not ok - $name: exit $rc, want $want ($(($(date +%s) - t0)) s)"
		tail -n 15 "build/acceptance/$name.log" | sed 's/^/    /'
	fi
}
said() { # NAME PATTERN: the step's output holds PATTERN
	if grep -qE -- "$2" "build/acceptance/$1.log"; then
		pass=$((pass + 1))
		echo "ok - $1 says /$2/"
	else
		failed=$((failed + 1))
		echo "not ok - $1 does not say /$2/"
	fi
}

part_aarch64() {
	step setup 0 ./quickstart-n90.sh setup
	step build-all 0 ./quickstart-n90.sh build-all
	step test 0 ./quickstart-n90.sh test
	said test "n90-board on n90-crosvm \(aarch64.* 2 passed, 0 failed"
	step security-test 0 ./quickstart-n90.sh security-test
	said security-test "n90-security on n90-crosvm \(aarch64.* 2 passed, 0 failed"
}

part_x86_64() {
	step build-all-x86_64 0 ./quickstart-n90.sh build-all --arch x86_64
	step test-x86_64 0 ./quickstart-n90.sh test --arch x86_64
	said test-x86_64 "n90-board on n90-crosvm \(x86_64.* 2 passed, 0 failed"
	step security-test-x86_64 0 ./quickstart-n90.sh security-test --arch x86_64
	said security-test-x86_64 "n90-security on n90-crosvm \(x86_64.* 2 passed, 0 failed"
}

part_run() {
	step run 3 ./quickstart-n90.sh run 'uname -m; exit 3'
	said run "^aarch64$"
	step run-checks 0 ./quickstart-n90.sh run '/opt/security-apps/security-test-suite.sh --only aslr,mlock'
	said run-checks "^ok .* aslr"
	step runner 3 scripts/starry_crosvm_runner.py --root build/rig/arm64/kernel --kernel Image --rootfs build/n90-crosvm/aarch64/rootfs.ext4 --arch aarch64 --cpus 2 --memory 4G --net --params 'console=ttyS0 panic=-1 quiet' --boot-timeout 300 --retries 1 --command 'cat /run/n90/lease; exit 3' --command-timeout 120
	said runner "^ip=10\.0\.2\."
}

part_seed() {
	step seed-crosvm 0 scripts/run_board_tests.sh --board n90-crosvm --hypervisor crosvm --rootfs rootfs.ext4
	said seed-crosvm "compatibility mode|crosvm \("
	step seed-qemu 0 scripts/run_board_tests.sh --board qemu_virt --hypervisor qemu --rootfs rootfs.img --shard 1/2
	step seed-make 0 make board-test-crosvm board-test-qemu n90-security-test
	step shard 0 scripts/run_board_tests.sh --board n90-crosvm --hypervisor crosvm --suite n90-security --shard 1/2 --out build/ci/security-1
	said shard "n90-security on .* 1 passed, 0 failed"
	step compare 0 harness/compare --verdicts build/board-tests/qemu_virt-aarch64-n90-board-qemu build/board-tests/n90-crosvm-aarch64-n90-board-crosvm
}

parts=${*:-aarch64 x86_64 run seed}
for p in $parts; do
	declare -F "part_$p" >/dev/null || { echo "acceptance: no part '$p' (aarch64, x86_64, run, seed)" >&2; exit 2; }
	"part_$p"
done
echo "board acceptance ($parts): $pass passed, $failed failed"
[ $failed -eq 0 ]
