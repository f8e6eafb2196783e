# What this host's KVM can do, for every test script: sourced (POSIX sh: bash, dash, busybox),
# built on `n90vmm --host-info` (docs/testing.md), which it asks once per shell.
#
#   host_kvm_init [N90VMM]   ask n90vmm (default: $HOST_KVM_N90VMM, $N90VMM, build/n90vmm);
#                            call it at the top of a script, outside $(...), so the answer is kept
#   host_kvm_can NEED        true when this host can do NEED:
#                              any    the project's own test guests (any usable KVM, kvm-pvm too)
#                              1g     1 GiB guest pages (PDPE1GB)
#                              linux  an unmodified Linux kernel (real KVM)
#                              nested KVM inside the guest (VMX/SVM offered to guests)
#   host_kvm_where NEED      "host" or "rig-l1": where an n90vmm case with that need runs
#   host_kvm_flavour         real, kvm-pvm or none (the verdict; N90_HOST_KVM forces it)
#   host_kvm_get KEY         any field of the --host-info JSON, as printed (strings unquoted)
#   qemu_kvm_cpu             the -cpu model QEMU with KVM accepts here: host on real KVM,
#                            host,-arch-capabilities elsewhere (kvm-pvm refuses MSR 0x10a and
#                            QEMU aborts on plain host)
#   qemu_accel NEED          QEMU's accelerator options for a guest with that need: KVM when
#                            this host can, else TCG ("-accel tcg -cpu max")
#
# N90_HOST_KVM=none|pvm|real (the environment) makes n90vmm report that kind of host, so the
# scripts take that path: none sends every KVM case to the rig, pvm sends Linux and 1 GiB
# cases there.

_host_kvm_json=

host_kvm_init() {
	[ -n "$_host_kvm_json" ] && return 0
	_hk_n90=${1:-${HOST_KVM_N90VMM:-${N90VMM:-}}}
	if [ -z "$_hk_n90" ]; then
		_hk_n90=$(cd "$(dirname "$0")" 2>/dev/null && git rev-parse --show-toplevel 2>/dev/null)/build/n90vmm
		[ -x "$_hk_n90" ] || _hk_n90=build/n90vmm
	fi
	if [ ! -x "$_hk_n90" ]; then
		echo "host-kvm: $_hk_n90 is not built (make): taking this host for one without KVM" >&2
		_host_kvm_json='"flavour": "none",
"measured_flavour": "none",
"gbpages": false,
"nested": false,
"linux_ok": false'
		return 0
	fi
	if ! _host_kvm_json=$("$_hk_n90" --host-info); then
		echo "host-kvm: '$_hk_n90 --host-info' failed (N90_HOST_KVM='${N90_HOST_KVM:-}')" >&2
		exit 64
	fi
}

host_kvm_get() {
	host_kvm_init
	printf '%s\n' "$_host_kvm_json" | sed -n -e "s/^ *\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" \
		-e "s/^ *\"$1\": \([^\",]*\),\{0,1\}\$/\1/p" | head -n 1
}

host_kvm_flavour() { host_kvm_get flavour; }

host_kvm_can() {
	case $1 in
	any) [ "$(host_kvm_get flavour)" != none ] ;;
	1g) [ "$(host_kvm_get flavour)" != none ] && [ "$(host_kvm_get gbpages)" = true ] ;;
	linux) [ "$(host_kvm_get linux_ok)" = true ] ;;
	nested) [ "$(host_kvm_get nested)" = true ] ;;
	*) echo "host-kvm: unknown need '$1' (any, 1g, linux, nested)" >&2; return 2 ;;
	esac
}

host_kvm_where() {
	if host_kvm_can "$1"; then echo host; else echo rig-l1; fi
}

qemu_kvm_cpu() {
	if [ "$(host_kvm_get flavour)" = real ] && [ "$(host_kvm_get measured_flavour)" = real ]; then
		echo host
	else
		echo host,-arch-capabilities
	fi
}

qemu_accel() {
	if host_kvm_can "${1:-any}"; then
		echo "-accel kvm -cpu $(qemu_kvm_cpu)"
	else
		echo "-accel tcg -cpu max"
	fi
}
