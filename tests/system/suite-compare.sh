#!/usr/bin/env bash
# The board-test suite runner and harness/compare end to end: the `crosscheck` suite runs
# under QEMU (through `n90vmm harness`, the protocol client) and under n90vmm, with the rig's
# Linux guest and rootfs, two VMs at a time. The guest is an unmodified Linux: where this
# host's KVM cannot run one (none, kvm-pvm: `n90vmm --host-info`), n90vmm runs in the rig's L1
# and QEMU uses TCG; with real KVM both run here on it (board_tests.py decides). The two runs
# must agree on every case except `pci-bus`, which differs by design (microvm has no PCI),
# and compare must report exactly that one.
# Emulation's rare wedges (an L2 Linux that never reaches its prompt under nested TCG: a stall,
# or a triple fault in its early boot, seen three times in about 200 boots) are not a verdict
# on the monitor: a side with a case that never booted (failed, or an allowed failure whose
# exit status then is the monitor's, not the command's), and no other failure, runs once more
# and says so; a second such run fails (or differs from the other side).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/build/board-tests
[ -f "$root/build/rig/l2.cpio.gz" ] || { echo "suite-compare: run tests/system/run.sh first (it builds the guest)" >&2; exit 2; }
# never_booted DIR: the cases of a run whose boot never ended (boot_ms -1 in last_run.json),
# if every failed case is among them; nothing otherwise.
never_booted() {
	python3 - "$1/last_run.json" <<'PY'
import json, sys
cases = json.load(open(sys.argv[1]))["cases"]
stuck = [c["name"] for c in cases if c["status"] != "passed" and c.get("boot_ms", 0) == -1]
if stuck and all(c["name"] in stuck for c in cases if c["status"] == "failed"):
    print(" ".join(stuck))
PY
}
side() { # HV
	# The rig's x86_64 guest: the board's x86_64 side, on the machine this check has always used
	# (2 vCPUs, 1 GiB, no network, a boot per case; the board defaults to aarch64 now).
	"$root/harness/run_board_tests.sh" --board n90-crosvm --arch x86_64 --cpus 2 --memory 1024 --net none \
		--boot-per-case --hypervisor "$1" --suite crosscheck --jobs 2 \
		--rootfs "$root/build/rig/rootfs.ext4" \
		--initrd "$root/build/rig/l2.cpio.gz" --append 'console=ttyS0 panic=-1 quiet scenario=harness' \
		--out "$out/crosscheck-$1"
}
fail=0
for hv in qemu n90vmm; do
	side "$hv"
	rc=$?
	stuck=$(never_booted "$out/crosscheck-$hv" 2>/dev/null)
	if [ -n "$stuck" ]; then
		echo "suite-compare: $hv: $stuck never booted; the $hv side runs once more (retried)"
		cp "$out/crosscheck-$hv/last_run.json" "$out/crosscheck-$hv.first.json"
		side "$hv"
		rc=$?
	fi
	[ "$rc" -eq 0 ] || fail=1
done
"$root/harness/compare" "$out/crosscheck-qemu" "$out/crosscheck-n90vmm" | tee "$out/crosscheck.compare"
rc=${PIPESTATUS[0]}
diffs=$(grep '^DIFF ' "$out/crosscheck.compare" | cut -d: -f1 | sort -u | tr '\n' ' ')
if [ "$fail" -ne 0 ]; then
	echo "suite-compare: FAIL (a run had failed cases)"
elif [ "$rc" -ne 1 ] || [ "$diffs" != "DIFF pci-bus " ]; then
	echo "suite-compare: FAIL (compare exit $rc, differences: ${diffs:-none}; expected only pci-bus)"
	fail=1
else
	echo "suite-compare: pass (all cases agree but pci-bus, which compare reported)"
fi
exit $fail
