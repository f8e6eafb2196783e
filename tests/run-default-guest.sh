#!/usr/bin/env bash
# `make run`: boots the default guest — the multiboot test guest, shaped like StarryOS's boot,
# with the starry-x86 profile's 4 vCPUs — and shows its console. Uses this host's KVM when it
# can run the test guest (real KVM or kvm-pvm: tests/lib/host-kvm.sh), otherwise runs n90vmm
# inside the system-test rig's L1 VM (real KVM there).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
args=(--no-stdin --timeout 120 -p "expect_cpus=4 expect_mem_mb=1024")
. "$root/tests/lib/host-kvm.sh"
host_kvm_init "$build/n90vmm"
if host_kvm_can any; then
	exec "$build/n90vmm" "${args[@]}" "$build/guest/mb.bin"
fi
echo "run: no usable KVM here ($(host_kvm_get reason)); booting inside the rig's L1 VM (QEMU emulation)" >&2
exec "$root/tests/system/l1.sh" --add "$build/n90vmm:/n90/n90vmm" --add "$build/guest/mb.bin:/n90/mb.bin" -- \
	/n90/n90vmm "${args[@]}" /n90/mb.bin
