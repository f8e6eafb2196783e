#!/usr/bin/env bash
# Runs the unit tests cross-built for arm64 (make unit-test-arm64) inside the arm64 rig's L1,
# where they run natively on an aarch64 kernel: the generic tests, arm64's own, and the
# sandbox's, whose seccomp filters must hold for aarch64's syscall table.
# usage: tests/unit/run-arm64.sh BUILD/arm64/unit-tests
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$1
sys=$root/build/rig/arm64/qemu/sysroot
log=$(dirname "$bin")/unit-tests-l1.log
# Criterion's workers share an arena in /dev/shm, which L1's init does not mount.
wrap=$(mktemp "${TMPDIR:-/tmp}/n90-unit-arm64.XXXXXX")
trap 'rm -f "$wrap"' EXIT
# The --uid/--gid tests look up nobody, which L1's bare busybox system lacks.
cat >"$wrap" <<'INIT'
#!/bin/sh
mkdir -p /dev/shm /tmp /etc && mount -t tmpfs shm /dev/shm && mount -t tmpfs tmp /tmp
[ -f /etc/passwd ] || printf 'root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n' >/etc/passwd
[ -f /etc/group ] || printf 'root:x:0:\nnogroup:x:65534:\n' >/etc/group
cd /tmp && exec /n90/unit-tests --jobs 2
INIT
chmod +x "$wrap"
"$root/tests/system/l1.sh" --arch arm64 --timeout 600 --log "$log" \
	--libdir "$sys/usr/lib/aarch64-linux-gnu" --libdir "$sys/lib/aarch64-linux-gnu" \
	--add "$bin:/n90/unit-tests" --add "$wrap:/n90/run" -- /n90/run | tee "$log.out" | grep -av '^\[----\]' || true
# Criterion's summary line decides (l1.sh hands the status back, but the summary says what ran).
summary=$(grep -a 'Synthesis:' "$log.out" | tail -n 1 | tr -d '\r' | sed 's/\x1b\[[0-9;]*m//g')
echo "arm64 unit tests (in the arm64 rig's L1): ${summary:-no summary (see $log)}"
case $summary in
*"Failing: 0 | Crashing: 0"*) exit 0 ;;
*) exit 1 ;;
esac
