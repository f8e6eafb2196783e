# /usr/lib/n90/breaks.sh: how each of the board's checks is broken on purpose, sourced by
# checks.sh when N90_BREAK=ID. break_ID breaks what check ID guards, in the running guest,
# right before the check; mend_ID puts it back right after. n90-break-checks runs every
# check unbroken (it must pass) and broken (it must fail), one at a time.
#
# The ways to break, from the most real to the least:
#   - the kernel's own settings turned the wrong way (sysctls, rlimits, cgroup controllers,
#     firewall policies, mount options): the check meets a misconfigured system
#   - a library whose function returns without doing its work (n90-patchlib: a copy with the
#     function's first instruction replaced by a return, through LD_LIBRARY_PATH)
#   - the kernel's view of a device hidden or replaced (a tmpfs over a sysfs directory, a
#     file bind-mounted over a /proc or /etc file): the machine reports something else
#   - the board's description changed (a check's expected value): the machine is not the
#     one the board describes
#   - a tool that claims success without doing it (a shim first in PATH): iptables that
#     enforces nothing, lock tools that take no lock; for properties the running kernel
#     cannot be made to lose
brk=/run/n90-break
mkdir -p "$brk"
export PATH=/usr/lib/n90/bin:$PATH

hide() { mount -t tmpfs -o size=64k,mode=0755 n90-break "$1"; }  # DIR: its contents vanish
unhide() { umount "$1"; }
fake_file() { # FILE CONTENT: FILE reads CONTENT until unfake
	local copy
	copy=$brk/$(echo "$1" | tr / _)
	printf '%s\n' "$2" >"$copy" && mount --bind "$copy" "$1"
}
unfake() { umount "$1"; }
sysctl_set() { # KEY VALUE: remembered for sysctl_restore
	echo "$1=$(sysctl -n "$1")" >>"$brk/sysctls" && sysctl -q -w "$1=$2"
}
sysctl_restore() {
	local kv
	while read -r kv; do sysctl -q -w "$kv"; done <"$brk/sysctls"
	rm -f "$brk/sysctls"
}
broken_lib() { # SONAME FUNCTION...: LD_LIBRARY_PATH gets a copy where they do nothing
	n90-patchlib "$1" "$brk/lib" "${@:2}" >/dev/null && export LD_LIBRARY_PATH=$brk/lib
}
unbreak_lib() { unset LD_LIBRARY_PATH; rm -rf "$brk/lib"; }
shim() { # NAME BODY: a command NAME first in PATH (the break's "tool that does not do it")
	mkdir -p "$brk/bin" && printf '#!/bin/sh\n%s\n' "$2" >"$brk/bin/$1" && chmod +x "$brk/bin/$1" &&
		export PATH=$brk/bin:$PATH
}
unshim() { rm -rf "$brk/bin"; }

## The board test (n90-board-test.sh)
break_cpus() { fake_file /sys/devices/system/cpu/online 0; }
mend_cpus() { unfake /sys/devices/system/cpu/online; }
break_memory() { fake_file /proc/meminfo "$(awk '$1 == "MemTotal:" { $2 = int($2 / 2) } 1' /proc/meminfo)"; }
mend_memory() { unfake /proc/meminfo; }
# No overcommit and a commit limit of 1 % of RAM: the allocation is refused.
break_mem_alloc() { sysctl_set vm.overcommit_ratio 1 && sysctl_set vm.overcommit_memory 2; }
mend_mem_alloc() { sysctl_restore; }
break_root_disk() { hide /sys/dev/block; }
mend_root_disk() { unhide /sys/dev/block; }
# A disk that returns other bytes on every read.
break_disk_reads() { disk_dev=/dev/urandom; }
break_virtio_blk() { hide /sys/bus/virtio/devices; }
mend_virtio_blk() { unhide /sys/bus/virtio/devices; }
break_virtio_net() { hide /sys/bus/virtio/devices; }
mend_virtio_net() { unhide /sys/bus/virtio/devices; }
break_firmware() { hide /sys/firmware; }
mend_firmware() { unhide /sys/firmware; }
break_rtc() { hide /sys/class/rtc; }
mend_rtc() { unhide /sys/class/rtc; }
# The harness's shell reads something other than the serial console.
break_serial() { exec 8<&0 0</dev/null; }
mend_serial() { exec 0<&8 8<&-; }
break_fork_exec() { mount --bind /usr/bin/false /usr/bin/bash; }
mend_fork_exec() { umount /usr/bin/bash; }
break_tmp_write() { mount -t tmpfs -o size=64k,mode=1777 n90-break /tmp; }
mend_tmp_write() { umount /tmp; }
break_debian() { fake_file /etc/os-release 'ID=starryos'; }
mend_debian() { unfake /etc/os-release; }
break_net_lease() { ip -4 addr flush dev eth0; }
mend_net_lease() { . /run/n90/lease && ip addr add "$ip/$mask" dev eth0 && ip route add default via "$router"; }
break_net_route() { ip -4 route del default; }
mend_net_route() { . /run/n90/lease && ip route add default via "$router"; }
break_net_ping() { iptables -I OUTPUT -p icmp -j DROP; }
mend_net_ping() { iptables -D OUTPUT -p icmp -j DROP; }
break_security_env() { hide /sys/fs/cgroup; }
mend_security_env() { unhide /sys/fs/cgroup; }
break_openssl() { broken_lib libcrypto.so.3 EVP_DigestFinal_ex; }
mend_openssl() { unbreak_lib; }

## The security suite (security-test-suite.sh)
break_sysctls() { sysctl_set kernel.kptr_restrict 0; }
mend_sysctls() { sysctl_restore; }
break_aslr() { sysctl_set kernel.randomize_va_space 0; }
mend_aslr() { sysctl_restore; }
# The probe's data mapping executable too, as a kernel without NX (or x86's legacy
# READ_IMPLIES_EXEC personality, which arm64 clears for native tasks) would make it.
break_no_exec() { export N90_DATA_PROT=rwx; }
break_kptr() { sysctl_set kernel.kptr_restrict 0 && sysctl_set kernel.perf_event_paranoid 1; }
mend_kptr() { sysctl_restore; }
break_dmesg() { sysctl_set kernel.dmesg_restrict 0; }
mend_dmesg() { sysctl_restore; }
break_shadow() { fake_file /etc/shadow "$(cat /etc/shadow)" && chmod 0644 "$brk/_etc_shadow"; }
mend_shadow() { unfake /etc/shadow; }
break_root_password() { fake_file /etc/shadow "$(awk -F: -v OFS=: '$1 == "root" { $2 = "" } 1' /etc/shadow)"; }
mend_root_password() { unfake /etc/shadow; }
# A user with a capability it must not have.
break_module_load() { nobody_caps=+sys_module; }
break_ptrace_init() { nobody_caps=+sys_ptrace,+dac_read_search; }
break_nobody_caps() { nobody_caps=+net_raw; }
break_private_file() { nobody_caps=+dac_read_search; }
break_root_ro() { mount -t tmpfs n90-break /var/lib; }
mend_root_ro() { umount /var/lib; }
break_tmp_nosuid() { mount -o remount,suid /tmp; }
mend_tmp_nosuid() { mount -o remount,nosuid /tmp; }
break_setuid() {
	mount -t tmpfs -o mode=0755 n90-break /usr/local/games && cp /usr/bin/true /usr/local/games/n90-suid &&
		chmod 4755 /usr/local/games/n90-suid
}
mend_setuid() { umount /usr/local/games; }
break_world_writable() { mount -t tmpfs -o mode=0755 n90-break /usr/local/games && install -m 0666 /dev/null /usr/local/games/n90-ww; }
mend_world_writable() { umount /usr/local/games; }
# The filter is never installed: prctl() returns without making the call.
break_seccomp() { broken_lib libc.so.6 prctl; }
mend_seccomp() { unbreak_lib; }
break_openssl_aes256() { broken_lib libcrypto.so.3 EVP_CipherUpdate EVP_EncryptUpdate; }
mend_openssl_aes256() { unbreak_lib; }
break_openssl_sha256() { broken_lib libcrypto.so.3 EVP_DigestFinal_ex; }
mend_openssl_sha256() { unbreak_lib; }
break_sodium_sha256() { broken_lib libsodium.so.23 crypto_hash_sha256; }
mend_sodium_sha256() { unbreak_lib; }
break_sodium_aes256gcm() { broken_lib libsodium.so.23 crypto_aead_aes256gcm_encrypt; }
mend_sodium_aes256gcm() { unbreak_lib; }
break_mlock() { ulimit -l unlimited; } # ends with the script
# Secret memory that is ordinary memory (the probe's "secret" fd from memfd_create).
break_memfd_secret() { export N90_SECRET_FROM=memfd_create; }
break_suid_core() { sysctl_set fs.suid_dumpable 2; }
mend_suid_core() { sysctl_restore; }
break_userns() { sysctl_set user.max_user_namespaces 1024; }
mend_userns() { sysctl_restore; }
break_pidns() { sysctl_set user.max_pid_namespaces 0; }
mend_pidns() { sysctl_restore; }
break_netns() { sysctl_set user.max_net_namespaces 0; }
mend_netns() { sysctl_restore; }
break_mntns() { sysctl_set user.max_mnt_namespaces 0; }
mend_mntns() { sysctl_restore; }
# The memory controller taken from the root group's children: memory.max does not exist.
break_cgroup_oom() { echo -memory >/sys/fs/cgroup/cgroup.subtree_control; }
mend_cgroup_oom() { echo +memory >/sys/fs/cgroup/cgroup.subtree_control; }
break_fw_drop_port() { shim iptables 'exit 0'; }
mend_fw_drop_port() { unshim; }
break_fw_policy() { iptables -P INPUT ACCEPT; }
mend_fw_policy() { iptables -P INPUT DROP; }
break_safe_create() { sysctl_set fs.protected_symlinks 0; }
mend_safe_create() { sysctl_restore; }
break_umask() { umask 000; }
break_flock() { shim flock 'for a; do [ "$prev" = -c ] && exec sh -c "$a"; prev=$a; done; exec "$a"'; }
mend_flock() { unshim; }
break_fcntl_lock() { shim n90-locks 'case $1 in hold) echo held; sleep "$3" ;; esac; exit 0'; }
mend_fcntl_lock() { unshim; }
