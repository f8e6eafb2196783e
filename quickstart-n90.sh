#!/usr/bin/env bash
# quickstart-n90.sh: the N90 board (board/n90-crosvm, aarch64 by default) in a few commands.
# Everything is built under build/ and reused; the board's settings are in
# board/n90-crosvm/board.conf. Options, before or after the command:
#   --arch aarch64|x86_64   the board's architecture (default: board.conf's ARCH, aarch64)
#   --hypervisor H          crosvm (board.conf's: a real crosvm when one is on PATH, else n90vmm's
#                           crosvm compatibility mode), n90vmm or qemu
# Commands:
#   setup          install the Debian packages (make deps, root) and fetch Debian's kernel
#   build-all      build n90vmm (for an aarch64 board on an x86_64 host also the arm64 one),
#                  then the board's Debian rootfs and initramfs (board/n90-crosvm/mkrootfs.sh;
#                  a foreign architecture's through qemu-user-static, unattended)
#   run [CMD]      with CMD: run it in the board's guest through the serial harness, its
#                  output on stdout and its exit status ours; without: an interactive console
#                  (only on a host whose KVM runs the guest directly)
#   test           the board suite (harness/suites/n90-board.json) and its break-on-purpose proofs
#   security-test  the guest security suite (n90-security.json) and its proofs, then the
#                  monitor's own sandbox tests (seccomp filters, jail)
#   net-up [--nat] the board's network on this host until net-down: the tap n90tap0 with
#                  dnsmasq's DHCP on it; --nat (or NAT=yes in board.conf) adds outbound NAT
#                  (nftables masquerade). Root. Boot with `n90vmm --net tap=n90tap0 ...`.
#   net-down       remove it
#   help           this text
# On a host whose KVM cannot run the board's Linux (no /dev/kvm, kvm-pvm, or another
# architecture: `n90vmm --host-info`), the guests run under n90vmm inside the system-test rig's
# L1 of the board's architecture, where KVM is real (docs/n90-crosvm-guide.md).
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"
arch= hypervisor= nat= args=()
while [ $# -gt 0 ]; do
	case $1 in
	--arch) arch=$2; shift 2 ;;
	--hypervisor) hypervisor=$2; shift 2 ;;
	--nat) nat=--nat; shift ;;
	*) args+=("$1"); shift ;;
	esac
done
set -- "${args[@]+"${args[@]}"}"
cmd=${1:-help}
[ $# -gt 0 ] && shift
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
board() { harness/board.py ${arch:+--arch "$arch"} n90-crosvm "$@"; }
arch=$(board ARCH)
rig=$([ "$arch" = aarch64 ] && echo arm64 || echo x86_64)
host_arch=$(uname -m)
need_built() {
	local f
	for f in build/n90vmm $(board KERNEL INITRD ROOTFS); do
		[ -f "$f" ] || { echo "quickstart-n90: $f is missing; run '$0 build-all --arch $arch' first" >&2; exit 1; }
	done
}
suite() { # SUITE: the suite on the board, one guest boot for all its cases
	harness/run_board_tests.sh --board n90-crosvm --arch "$arch" ${hypervisor:+--hypervisor "$hypervisor"} \
		--suite "$1"
}

case $cmd in
setup)
	make deps
	tests/system/fetch-kernel.sh --arch "$rig"
	;;
build-all)
	make -j"$(nproc)" all
	[ "$arch" = aarch64 ] && [ "$host_arch" != aarch64 ] && make -j"$(nproc)" ARCH=arm64 build/arm64/n90vmm
	board/n90-crosvm/mkrootfs.sh --arch "$arch"
	;;
run)
	need_built
	if [ $# -gt 0 ]; then
		# The N90 setup's runner command line, with the board's files (and the runner's
		# defaults for the machine, 2 vCPUs and 2 GiB, which the rig's L1 boots in reasonable time).
		exec harness/crosvm_runner.py --root "$(dirname "$(board KERNEL)")" --kernel "$(basename "$(board KERNEL)")" \
			--rootfs "$(board ROOTFS)" --initrd "$(board INITRD)" --arch "$arch" \
			--boot-timeout "$(board BOOT_TIMEOUT)" \
			--command-timeout "$(board COMMAND_TIMEOUT)" --retries 1 --command "$*"
	fi
	. tests/lib/host-kvm.sh
	host_kvm_init build/n90vmm
	if [ "$host_arch" != "$arch" ] || ! host_kvm_can linux; then
		echo "quickstart-n90: this host cannot run the $arch guest interactively ($host_arch, KVM $(host_kvm_flavour)):" \
			"give a command to run in it ('$0 run CMD' runs it in the rig)" >&2
		exit 1
	fi
	exec build/n90vmm -c "$(board CPUS)" -m "$(board MEMORY_MB)" -i "$(board INITRD)" -p "$(board CMDLINE)" \
		--disk "$(board ROOTFS),ro" "$(board KERNEL)"
	;;
test)
	need_built
	suite "$(board SUITE)"
	;;
security-test)
	need_built
	[ -x build/unit-tests ] || make build/unit-tests
	rc=0
	suite "$(board SECURITY_SUITE)" || rc=1
	echo "monitor sandbox (seccomp roles, jail):"
	build/unit-tests --filter 'sandbox/*' || rc=1
	exit $rc
	;;
net-up)
	[ "$(board NAT)" = yes ] && nat=--nat
	NET_TAP=$(board NET_TAP) NET_HOST_IP=$(board NET_HOST_IP) NET_DHCP_RANGE=$(board NET_DHCP_RANGE) \
		exec board/n90-crosvm/net.sh up $nat
	;;
net-down) exec board/n90-crosvm/net.sh down ;;
help | -h | --help) usage ;;
*)
	echo "quickstart-n90: unknown command '$cmd'" >&2
	usage >&2
	exit 64
	;;
esac
