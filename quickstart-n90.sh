#!/usr/bin/env bash
# quickstart-n90.sh: the N90 board in five commands. Everything is built under build/ and
# reused; the board's settings are in board/n90/board.conf.
#   setup          install the Debian packages (root) and fetch Debian's cloud kernel
#   build-all      build n90vmm and the test guests, then the board's Debian rootfs + initramfs
#   run [CMD]      boot the board guest; with CMD, run it in the guest through the serial
#                  harness and exit with its status
#   test           the board acceptance suite (harness/suites/n90-board.json)
#   security-test  the guest security suite (n90-security.json) and the monitor's own
#                  sandbox tests (seccomp filters, jail)
#   help           this text
# On a host whose KVM cannot run the board's Linux kernel (no /dev/kvm, or kvm-pvm: `n90vmm
# --host-info`, tests/lib/host-kvm.sh), n90vmm runs inside the system-test rig's L1 VM, where
# KVM is real (docs/testing.md); `run` without CMD is interactive only on a host with real KVM.
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"
conf() { (set +u; . board/n90/board.conf; eval "echo \"\${$1}\""); }
. tests/lib/host-kvm.sh
need_built() {
	for f in build/n90vmm "$(conf KERNEL)" "$(conf INITRD)" "$(conf ROOTFS)"; do
		[ -f "$f" ] || { echo "quickstart-n90: $f is missing; run '$0 build-all' first" >&2; exit 1; }
	done
}
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

cmd=${1:-help}
[ $# -gt 0 ] && shift
case $cmd in
setup)
	make deps
	tests/system/fetch-kernel.sh
	;;
build-all)
	make -j"$(nproc)" all
	board/n90/mkrootfs.sh
	;;
run)
	need_built
	args=(-c "$(conf CPUS)" -m "$(conf MEMORY_MB)" -i "$(conf INITRD)" -p "$(conf CMDLINE)"
		--disk "$(conf ROOTFS),ro")
	[ -n "$(conf PROFILE)" ] && args+=(--profile "$(conf PROFILE)")
	if [ $# -gt 0 ]; then
		args+=(--no-stdin --boot-timeout "$(conf BOOT_TIMEOUT)" --command-timeout "$(conf COMMAND_TIMEOUT)"
			--prompt "$(conf PROMPT)" --command "$*")
	fi
	host_kvm_init build/n90vmm
	if host_kvm_can linux; then
		exec build/n90vmm "${args[@]}" "$(conf KERNEL)"
	fi
	[ $# -gt 0 ] || { echo "quickstart-n90: this host's KVM cannot run Linux ($(host_kvm_flavour): $(host_kvm_get reason)): give a command to run in the guest (it runs in the rig)" >&2; exit 1; }
	# In the rig: the same command line with the files at L1 paths.
	l1args=()
	for i in "${!args[@]}"; do
		case ${args[$i]} in
		"$(conf INITRD)") l1args+=(/n90/initrd) ;;
		"$(conf ROOTFS),ro") l1args+=(/n90/rootfs,ro) ;;
		*) l1args+=("${args[$i]}") ;;
		esac
	done
	exec tests/system/l1.sh --timeout 900 --add build/n90vmm:/n90/n90vmm --add "$(conf KERNEL):/n90/kernel" \
		--add "$(conf INITRD):/n90/initrd" --add "$(conf ROOTFS):/n90/rootfs" -- \
		/n90/n90vmm "${l1args[@]}" /n90/kernel
	;;
test)
	need_built
	exec harness/run_board_tests.sh --board n90 --hypervisor n90vmm --suite n90-board "$@"
	;;
security-test)
	need_built
	[ -x build/unit-tests ] || make build/unit-tests
	rc=0
	harness/run_board_tests.sh --board n90 --hypervisor n90vmm --suite n90-security "$@" || rc=1
	echo "monitor sandbox (seccomp roles, jail):"
	build/unit-tests --filter 'sandbox/*' || rc=1
	exit $rc
	;;
help | -h | --help) usage ;;
*)
	echo "quickstart-n90: unknown command '$cmd'" >&2
	usage >&2
	exit 64
	;;
esac
