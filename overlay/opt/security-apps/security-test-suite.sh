#!/bin/bash
# n90-security-test: the N90 board's security suite, run inside the guest as root (normally
# by the harness). Each check tries the thing an attacker would and expects it refused:
# hardening sysctls in effect, address-space randomisation actually varying, NX, an
# unprivileged user kept out of secrets, module loading, other processes and the read-only
# root, no stray set-uid or world-writable files. Output is TAP; the exit status is the number
# of failed checks. usage: n90-security-test
n=0 failed=0
check() { # DESCRIPTION COMMAND...
	local what=$1
	shift
	n=$((n + 1))
	if out=$("$@" 2>&1); then
		echo "ok $n - $what"
	else
		failed=$((failed + 1))
		echo "not ok $n - $what${out:+: $out}"
	fi
}
# as_nobody COMMAND: run a shell command as the unprivileged user nobody, no capabilities.
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all -- bash -c "$1"; }

sysctl_is() { # KEY MIN: the value is at least MIN
	local v
	v=$(sysctl -n "$1" 2>/dev/null) || { echo "$1 missing"; return 1; }
	[ "$v" -ge "$2" ] || { echo "$1 = $v"; return 1; }
}
hardening_sysctls() {
	local kv
	for kv in kernel.kptr_restrict:2 kernel.dmesg_restrict:1 kernel.randomize_va_space:2 \
		kernel.yama.ptrace_scope:1 kernel.unprivileged_bpf_disabled:1 fs.protected_symlinks:1 \
		fs.protected_hardlinks:1 fs.protected_regular:2; do
		sysctl_is "${kv%:*}" "${kv#*:}" || return 1
	done
	[ "$(sysctl -n fs.suid_dumpable)" = 0 ] || { echo "fs.suid_dumpable = $(sysctl -n fs.suid_dumpable)"; return 1; }
}
# Two fresh processes must not share their stack or libc addresses.
aslr_varies() {
	local a b
	a=$(grep -m1 -E '\[stack\]|libc' /proc/self/maps | cut -d- -f1)
	b=$(grep -m1 -E '\[stack\]|libc' /proc/self/maps | cut -d- -f1)
	[ -n "$a" ] && [ "$a" != "$b" ] || { echo "same mapping at $a twice"; return 1; }
}
nx_enabled() { grep -qw nx /proc/cpuinfo || { echo "no nx flag"; return 1; }; }
kernel_pointers_hidden() {
	local addr
	addr=$(as_nobody 'grep -m1 " T _stext" /proc/kallsyms' | cut -d' ' -f1)
	[ -n "$addr" ] && [ -z "${addr//0/}" ] || { echo "nobody sees _stext at $addr"; return 1; }
}
dmesg_denied() { ! as_nobody 'dmesg' >/dev/null 2>&1; }
shadow_unreadable() { ! as_nobody 'cat /etc/shadow' >/dev/null 2>&1; }
root_password_not_empty() {
	local field
	field=$(awk -F: '$1 == "root" {print $2}' /etc/shadow)
	[ -n "$field" ] || { echo "root has an empty password"; return 1; }
}
no_module_load() { ! as_nobody 'modprobe -q virtio_balloon' >/dev/null 2>&1 && ! lsmod | grep -q '^virtio_balloon'; }
no_ptrace_of_init() { ! as_nobody 'cat /proc/1/environ' >/dev/null 2>&1; }
# The board's root is shared read-only by parallel runs: even root cannot write it.
root_read_only() {
	if touch /n90-write-probe 2>/dev/null; then
		rm -f /n90-write-probe
		echo "/ is writable"
		return 1
	fi
	findmnt -n -o OPTIONS / | grep -qw ro
}
tmp_noexec_suid() { findmnt -n -o OPTIONS /tmp | grep -qw nosuid || { echo "/tmp allows set-uid"; return 1; }; }
# Set-uid files: only Debian's own short list, each owned by root and not group/world-writable.
setuid_allowlist() {
	local f bad=
	while read -r f; do
		case $f in
		/usr/bin/su | /usr/bin/mount | /usr/bin/umount | /usr/bin/passwd | /usr/bin/chsh | /usr/bin/chfn | \
			/usr/bin/gpasswd | /usr/bin/newgrp | /usr/lib/dbus-1.0/dbus-daemon-launch-helper) ;;
		*) bad="$bad $f" ;;
		esac
	done < <(find / -xdev -perm -4000 -type f 2>/dev/null)
	[ -z "$bad" ] || { echo "unexpected set-uid:$bad"; return 1; }
}
no_world_writable() {
	local bad
	bad=$(find /etc /usr /bin /sbin /lib -xdev -perm -0002 ! -type l ! -type c 2>/dev/null | head -n 5)
	[ -z "$bad" ] || { echo "world-writable: $bad"; return 1; }
}
seccomp_available() { grep -q '^Seccomp:' /proc/self/status && [ -e /proc/sys/kernel/seccomp/actions_avail ]; }
nobody_has_no_caps() { [ "$(as_nobody 'grep ^CapEff /proc/self/status' | awk '{print $2}')" = 0000000000000000 ]; }

echo "# n90-security-test on $(uname -srm)"
check "hardening sysctls in effect" hardening_sysctls
check "address-space layout differs between processes" aslr_varies
check "NX (no-execute) pages" nx_enabled
check "kernel pointers hidden from users" kernel_pointers_hidden
check "kernel log hidden from users" dmesg_denied
check "/etc/shadow unreadable by users" shadow_unreadable
check "root has a password or is locked" root_password_not_empty
check "users cannot load kernel modules" no_module_load
check "users cannot inspect PID 1" no_ptrace_of_init
check "root filesystem is read-only" root_read_only
check "/tmp is nosuid" tmp_noexec_suid
check "set-uid files only from the allowlist" setuid_allowlist
check "no world-writable system files" no_world_writable
check "seccomp available to guest programs" seccomp_available
check "an unprivileged user has no capabilities" nobody_has_no_caps
echo "1..$n"
exit $((failed > 125 ? 125 : failed))
