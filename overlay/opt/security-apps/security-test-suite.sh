#!/bin/bash
# security-test-suite.sh: the N90 board's security suite, run inside the guest as root
# (normally by the harness: the n90-security suite). Each check tries what an attacker would
# and expects it refused:
#   hardening     sysctls in effect, ASLR varying, no-execute memory, kernel pointers and log
#                 hidden, secrets unreadable, no module loading or tracing by users, the
#                 read-only root, nosuid /tmp, set-uid files from a list, nothing world-
#                 writable, seccomp, no capabilities for users
#   encryption    AES-256 and SHA-256 against published known-answer vectors, through OpenSSL
#                 and through libsodium
#   memory        mlock/mlockall within RLIMIT_MEMLOCK, memfd_secret memory unreadable, no
#                 core dumps of set-uid programs
#   isolation     pid/net/mount namespaces isolate (and users cannot make them), a cgroup v2
#                 group's memory.max OOM-kills inside the group and the shell survives
#   network       an iptables rule that drops a port drops connections to it; the board's
#                 default policies (/etc/n90/firewall.rules) are in effect and drop
#   files         O_EXCL|O_NOFOLLOW creation and fs.protected_symlinks against a planted
#                 link, the umask, 0600 files unreadable by nobody, flock and fcntl locks
#                 contended between two processes
# Output is TAP; the exit status is the number of failed checks. Every check fails when what
# it guards is broken: /usr/lib/n90/breaks.sh breaks each on purpose, n90-break-checks proves
# it (docs/n90-crosvm-guide.md, "The checks and how each is broken").
# usage: security-test-suite.sh [--list] [--only ID,...]
# shellcheck source=/usr/lib/n90/checks.sh
. /usr/lib/n90/checks.sh
checks_options "$@"
export PATH=/usr/lib/n90/bin:$PATH
# Files the checks make, where nobody may look (a file's own mode is what must keep it out).
work=/run/n90-security
mkdir -p "$work" && chmod 0755 "$work"

## Hardening
sysctl_at_least() { # KEY MIN
	local v
	v=$(sysctl -n "$1" 2>/dev/null) || { echo "$1 missing"; return 1; }
	[ "$v" -ge "$2" ] || { echo "$1 = $v"; return 1; }
}
hardening_sysctls() {
	local kv
	for kv in kernel.kptr_restrict:2 kernel.dmesg_restrict:1 kernel.randomize_va_space:2 \
		kernel.yama.ptrace_scope:1 kernel.unprivileged_bpf_disabled:1 fs.protected_symlinks:1 \
		fs.protected_hardlinks:1 fs.protected_regular:2; do
		sysctl_at_least "${kv%:*}" "${kv#*:}" || return 1
	done
	[ "$(sysctl -n fs.suid_dumpable)" = 0 ] || { echo "fs.suid_dumpable = $(sysctl -n fs.suid_dumpable)"; return 1; }
	[ "$(sysctl -n user.max_user_namespaces)" = 0 ] || { echo "user.max_user_namespaces = $(sysctl -n user.max_user_namespaces)"; return 1; }
}
# Two fresh processes must not share their stack or libc addresses.
aslr_varies() {
	local a b
	a=$(grep -m1 -E '\[stack\]|libc' /proc/self/maps | cut -d- -f1)
	b=$(grep -m1 -E '\[stack\]|libc' /proc/self/maps | cut -d- -f1)
	[ -n "$a" ] && [ "$a" != "$b" ] || { echo "same mapping at $a twice"; return 1; }
}
# Code written to writable memory must not run: a "return" instruction in a read-write
# mapping kills the caller (SIGSEGV), while the same in a read-write-execute one returns (so
# the probe itself works).
no_exec_data() {
	local code
	code=$(python3 -SE -c '
import ctypes, mmap, os, platform, signal, sys
ret = {"x86_64": b"\xc3", "aarch64": b"\xc0\x03\x5f\xd6"}[platform.machine()]
def call(prot):
    pid = os.fork()
    if pid == 0:
        m = mmap.mmap(-1, 4096, prot=prot)
        m.write(ret)
        addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
        ctypes.CFUNCTYPE(None)(addr)()
        os._exit(0)
    return os.waitpid(pid, 0)[1]
rw = mmap.PROT_READ | mmap.PROT_WRITE
data = rw | (mmap.PROT_EXEC if os.environ.get("N90_DATA_PROT") == "rwx" else 0)
print(call(data), call(rw | mmap.PROT_EXEC))')
	[ "$code" = "$((11)) 0" ] || { echo "wait statuses (rw, rwx): $code; expected SIGSEGV, then 0"; return 1; }
}
kernel_pointers_hidden() {
	local addr
	addr=$(as_nobody 'grep -m1 " T _stext" /proc/kallsyms' | cut -d' ' -f1)
	[ -n "$addr" ] && [ -z "${addr//0/}" ] || { echo "nobody sees _stext at $addr"; return 1; }
}
dmesg_denied() { ! as_nobody 'dmesg' >/dev/null 2>&1 || { echo "nobody reads the kernel log"; return 1; }; }
shadow_unreadable() { ! as_nobody 'cat /etc/shadow' >/dev/null 2>&1 || { echo "nobody reads /etc/shadow"; return 1; }; }
root_password_not_empty() {
	local field
	field=$(awk -F: '$1 == "root" {print $2}' /etc/shadow)
	[ -n "$field" ] || { echo "root has an empty password"; return 1; }
}
no_module_load() {
	if as_nobody 'modprobe -q dummy numdummies=0' >/dev/null 2>&1 && lsmod | grep -q '^dummy '; then
		modprobe -r dummy 2>/dev/null
		echo "nobody loaded the dummy module"
		return 1
	fi
}
no_ptrace_of_init() { ! as_nobody 'cat /proc/1/environ' >/dev/null 2>&1 || { echo "nobody reads PID 1's environment"; return 1; }; }
# The board's root is shared read-only by parallel runs: even root cannot write to it.
root_read_only() {
	local d
	for d in / /etc /usr /usr/bin /var/lib /opt; do
		if touch "$d/.n90-write-probe" 2>/dev/null; then
			rm -f "$d/.n90-write-probe"
			echo "$d is writable"
			return 1
		fi
	done
}
tmp_nosuid() { findmnt -n -o OPTIONS /tmp | grep -qw nosuid || { echo "/tmp allows set-uid"; return 1; }; }
system_dirs=(/usr /etc /opt /var/lib)
# Set-uid files: only Debian's own short list.
setuid_allowlist() {
	local f bad=
	while read -r f; do
		case $f in
		/usr/bin/su | /usr/bin/mount | /usr/bin/umount | /usr/bin/passwd | /usr/bin/chsh | /usr/bin/chfn | \
			/usr/bin/gpasswd | /usr/bin/newgrp) ;;
		*) bad="$bad $f" ;;
		esac
	done < <(find "${system_dirs[@]}" -perm -4000 -type f 2>/dev/null)
	[ -z "$bad" ] || { echo "unexpected set-uid:$bad"; return 1; }
}
no_world_writable() {
	local bad
	bad=$(find "${system_dirs[@]}" -perm -0002 ! -type l ! -type c ! -perm -1000 2>/dev/null | head -n 5)
	[ -z "$bad" ] || { echo "world-writable: $bad"; return 1; }
}
# A process under seccomp's strict mode is killed by its first forbidden call.
seccomp_enforced() {
	[ -e /proc/sys/kernel/seccomp/actions_avail ] || { echo "no seccomp in this kernel"; return 1; }
	python3 -SE -c '
import ctypes, os, sys
libc = ctypes.CDLL(None)
nr = 39 if os.uname().machine == "x86_64" else 172  # getpid, not among them
libc.prctl(22, 1, 0, 0, 0)  # PR_SET_SECCOMP, SECCOMP_MODE_STRICT: read, write, exit, sigreturn
libc.syscall(nr)
sys.exit(3)'
	local rc=$?
	[ $rc -eq $((128 + 9)) ] || { echo "a forbidden call under strict seccomp: status $rc, expected SIGKILL"; return 1; }
}
nobody_has_no_caps() {
	local eff
	eff=$(as_nobody 'grep ^CapEff /proc/self/status' | awk '{print $2}')
	[ "$eff" = 0000000000000000 ] || { echo "nobody has capabilities $eff"; return 1; }
}

## Encryption: published known-answer vectors.
hex() { od -An -tx1 -v | tr -d ' \n'; }
unhex() { printf '%b' "$(echo "$1" | sed 's/../\\x&/g')"; }
expect() { # WHAT GOT WANT
	[ "$2" = "$3" ] || { echo "$1 = ${2:-nothing}, expected $3"; return 1; }
}
openssl_aes256() {
	# FIPS-197 appendix C.3 (AES-256, one block) and NIST SP 800-38A F.2.5 (AES-256-CBC).
	expect "AES-256(FIPS-197 C.3)" "$(unhex 00112233445566778899aabbccddeeff | openssl enc -aes-256-ecb -nopad \
		-K 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 2>&1 | hex)" \
		8ea2b7ca516745bfeafc49904b496089 &&
		expect "AES-256-CBC(SP 800-38A F.2.5)" "$(unhex 6bc1bee22e409f96e93d7e117393172a | openssl enc -aes-256-cbc -nopad \
			-K 603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4 \
			-iv 000102030405060708090a0b0c0d0e0f 2>&1 | hex)" f58c4c04d6e5f1ba779eabfb5f7bfbd6
}
openssl_sha256() {
	# FIPS 180-2 appendix B.1 and B.2.
	expect "SHA-256(abc)" "$(printf abc | openssl dgst -sha256 -r 2>&1 | cut -d' ' -f1)" \
		ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad &&
		expect "SHA-256(448-bit message)" "$(printf abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq |
			openssl dgst -sha256 -r 2>&1 | cut -d' ' -f1)" 248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1
}
sodium_sha256() {
	expect "crypto_hash_sha256(abc)" "$(n90-sodium sha256 616263 2>&1)" \
		ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
}
sodium_aes256gcm() {
	# The GCM specification's (McGrew, Viega) test case 14: K = 0^256, IV = 0^96, P = 0^128.
	local got rc
	got=$(n90-sodium aes256gcm "$(printf '%064d' 0)" "$(printf '%024d' 0)" "$(printf '%032d' 0)" 2>&1)
	rc=$?
	[ $rc -eq 77 ] && { echo "$got (libsodium 1.0.18 has it only on x86_64 with AES-NI; OpenSSL's AES-256 is checked)"; return 77; }
	expect "crypto_aead_aes256gcm_encrypt(test case 14)" "$got" \
		cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919
}

## Secure memory
mlock_limits() {
	as_nobody 'n90-secmem mlock' || return 1
	python3 -SE -c 'import ctypes, mmap; m = mmap.mmap(-1, 1 << 20); a = ctypes.addressof(ctypes.c_char.from_buffer(m))
raise SystemExit(ctypes.CDLL(None).mlock(ctypes.c_void_p(a), 1 << 20))' || { echo "root (CAP_IPC_LOCK) cannot mlock 1 MiB"; return 1; }
}
memfd_secret_hidden() { n90-secmem memfd_secret; }
# A set-uid program that crashes leaves no core (fs.suid_dumpable = 0), while the same program
# without set-uid does (so the probe itself works). On a tmpfs of its own: /tmp is nosuid.
suid_no_core() {
	local d=$work/core pattern rc=0
	mkdir -p "$d" && mount -t tmpfs -o mode=0755 n90-core "$d" || return 1
	mkdir -m 1777 "$d/cores"
	cp /usr/bin/sleep "$d/sleep-plain" && chmod 0755 "$d/sleep-plain"
	cp /usr/bin/sleep "$d/sleep-suid" && chmod 4755 "$d/sleep-suid"
	pattern=$(cat /proc/sys/kernel/core_pattern)
	echo "$d/cores/core.%e" >/proc/sys/kernel/core_pattern
	as_nobody "ulimit -c unlimited; for p in $d/sleep-plain $d/sleep-suid; do \$p 30 & pid=\$!; sleep 0.5; kill -SEGV \$pid; wait \$pid; done" >"$d/log" 2>&1
	echo "$pattern" >/proc/sys/kernel/core_pattern
	[ -e "$d/cores/core.sleep-plain" ] || { echo "no core from a plain crash: the probe does not work ($(cat "$d/log"; ls "$d/cores"))"; rc=1; }
	[ -e "$d/cores/core.sleep-suid" ] && { echo "a set-uid program left a core"; rc=1; }
	umount "$d"
	return $rc
}

## Process isolation
userns_denied() {
	! as_nobody 'unshare --user --map-root-user true' >/dev/null 2>&1 || { echo "nobody created a user namespace"; return 1; }
}
# Inside a new pid namespace the shell is PID 1 and this system's init (n90-init) is not to
# be seen.
pidns_isolates() {
	local out
	out=$(unshare --pid --fork --mount-proc bash -c 'echo $$ $(cat /proc/1/comm) $(cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" "\n" | grep -cx "/usr/local/sbin/n90-ini[t]")' 2>&1) ||
		{ echo "unshare --pid: $out"; return 1; }
	[ "$out" = "1 bash 0" ] || { echo "in a new pid namespace: pid, PID 1, inits seen: $out"; return 1; }
}
netns_isolates() {
	local out rc=0
	ip link add n90probe0 type dummy 2>/dev/null || { echo "cannot add a dummy link"; return 1; }
	out=$(unshare --net ip -o link show 2>&1) || { echo "unshare --net: $out"; rc=1; }
	[ $rc = 0 ] && [ "$(echo "$out" | awk '{print $2}' | tr -d '\n')" != "lo:" ] && { echo "a new net namespace sees: $(echo "$out" | awk '{print $2}' | tr '\n' ' ')"; rc=1; }
	ip link del n90probe0
	return $rc
}
mntns_isolates() {
	local out
	out=$(unshare --mount --propagation private bash -c 'mount -t tmpfs n90-mntns /mnt && mountpoint -q /mnt && echo mounted' 2>&1)
	[ "$out" = mounted ] || { echo "unshare --mount: $out"; return 1; }
	! mountpoint -q /mnt || { echo "a mount made in a new mount namespace shows outside it"; umount /mnt; return 1; }
}
# A process in a cgroup v2 group with memory.max that allocates beyond it is OOM-killed inside
# the group (SIGKILL, memory.events oom_kill), and the shell that started it survives.
cgroup_oom() {
	local cg=/sys/fs/cgroup/n90-oom-$$ rc kills
	mkdir "$cg" || return 1
	if ! echo 32M >"$cg/memory.max" 2>/dev/null; then
		rmdir "$cg"
		echo "no memory.max in a new group (memory controller not enabled for children)"
		return 1
	fi
	[ -e "$cg/memory.swap.max" ] && echo 0 >"$cg/memory.swap.max"
	bash -c "echo \$\$ >$cg/cgroup.procs && exec python3 -SE -c 'b = bytearray(256 << 20); print(len(b))'" >/dev/null 2>&1
	rc=$?
	kills=$(awk '$1 == "oom_kill" {print $2}' "$cg/memory.events")
	rmdir "$cg"
	[ $rc -eq 137 ] && [ "${kills:-0}" -ge 1 ] || { echo "256 MiB under memory.max=32M: status $rc, oom_kill ${kills:-?}"; return 1; }
}

## Network security
# In a network namespace of its own: listeners on two ports, a DROP rule for one of them.
iptables_drops_port() { unshare --net sh -c 'ip link set lo up && exec n90-netprobe droptest 7001 7002'; }
# The board's default policies, from /etc/n90/firewall.rules, in effect: the chains say so,
# and from another network namespace (a veth pair) a ping, which the rules allow, goes
# through while a TCP connection to a listening port is dropped.
firewall_policy() {
	local chain want got rc=0 holder
	for chain in INPUT FORWARD OUTPUT; do
		want=$(awk -v c=":$chain" '$1 == c {print $2}' /etc/n90/firewall.rules)
		got=$(iptables -S "$chain" 2>/dev/null | awk '$1 == "-P" {print $3}')
		[ "$got" = "$want" ] || { echo "$chain policy ${got:-unknown}, configured $want"; return 1; }
	done
	# The peer end in a namespace of its own, held by a process while the probe runs.
	unshare --net sleep 60 >/dev/null 2>&1 &
	holder=$!
	for _ in $(seq 50); do [ "$(readlink "/proc/$holder/ns/net")" != "$(readlink /proc/$$/ns/net)" ] && break; sleep 0.1; done
	ip link add n90fw0 type veth peer name n90fw1 netns "$holder" &&
		ip addr add 10.199.0.1/30 dev n90fw0 && ip link set n90fw0 up &&
		nsenter --net="/proc/$holder/ns/net" sh -c 'ip link set lo up && ip addr add 10.199.0.2/30 dev n90fw1 &&
			ip link set n90fw1 up && ping -c 1 -W 3 10.199.0.1 >/dev/null' ||
		{ echo "no ping through the veth pair (the probe does not work)"; rc=1; }
	[ $rc = 0 ] && { n90-netprobe policytest 10.199.0.1 7003 "/proc/$holder/ns/net" || rc=1; }
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	ip link del n90fw0 2>/dev/null
	return $rc
}

## Secure file operations
safe_create() {
	local link=/tmp/n90-planted-$$ target=$work/target
	echo original >"$target" && chmod 0644 "$target"
	as_nobody "ln -s $target $link" || return 1
	n90-fileops planted "$link" "$target"
	local rc=$?
	rm -f "$link"
	return $rc
}
umask_restrictive() {
	local f m
	[ $(($(umask) & 027)) -eq $((027)) ] || { echo "umask $(umask)"; return 1; }
	f=$work/umask-probe
	rm -f "$f" && : >"$f"
	m=$(stat -c %a "$f")
	rm -f "$f"
	[ $((0$m & 07)) -eq 0 ] || { echo "a new file is mode $m"; return 1; }
}
private_file() {
	local f=$work/private
	echo secret >"$f" && chmod 0600 "$f"
	! as_nobody "cat $f" >/dev/null 2>&1 || { echo "nobody reads a 0600 file of root's"; return 1; }
}
# Two processes contend for the same lock: the second is refused while the first holds it,
# and gets it once the first has let go.
flock_contended() {
	local f=$work/flock
	: >"$f"
	flock -x "$f" -c "echo held >$work/flock.held; sleep 3" >/dev/null 2>&1 &
	for _ in $(seq 50); do [ -s "$work/flock.held" ] && break; sleep 0.1; done
	if flock -n -x "$f" true; then echo "flock: a second process got the lock while the first held it"; wait; return 1; fi
	wait
	flock -n -x "$f" true || { echo "flock: the lock was not released"; return 1; }
	rm -f "$work/flock.held"
}
fcntl_contended() {
	local f=$work/fcntl
	rm -f "$work/fcntl.held"
	n90-locks hold "$f" 3 >"$work/fcntl.held" 2>&1 &
	for _ in $(seq 50); do [ -s "$work/fcntl.held" ] && break; sleep 0.1; done
	if n90-locks try "$f" >/dev/null; then echo "fcntl: a second process got the lock while the first held it"; wait; return 1; fi
	wait
	n90-locks try "$f" >/dev/null || { echo "fcntl: the lock was not released"; return 1; }
}

[ "$checks_list" = 1 ] || echo "# security-test-suite on $(uname -srm)"
check sysctls "hardening sysctls in effect" hardening_sysctls
check aslr "address-space layout differs between processes" aslr_varies
check no_exec "code in writable memory does not run (NX/XN)" no_exec_data
check kptr "kernel pointers hidden from users" kernel_pointers_hidden
check dmesg "kernel log hidden from users" dmesg_denied
check shadow "/etc/shadow unreadable by users" shadow_unreadable
check root_password "root has a password or is locked" root_password_not_empty
check module_load "users cannot load kernel modules" no_module_load
check ptrace_init "users cannot inspect PID 1" no_ptrace_of_init
check root_ro "root filesystem is read-only" root_read_only
check tmp_nosuid "/tmp is nosuid" tmp_nosuid
check setuid "set-uid files only from the allowlist" setuid_allowlist
check world_writable "no world-writable system files" no_world_writable
check seccomp "seccomp kills a forbidden call" seccomp_enforced
check nobody_caps "an unprivileged user has no capabilities" nobody_has_no_caps
check openssl_aes256 "OpenSSL AES-256 known answers (FIPS-197, SP 800-38A)" openssl_aes256
check openssl_sha256 "OpenSSL SHA-256 known answers (FIPS 180-2)" openssl_sha256
check sodium_sha256 "libsodium SHA-256 known answer" sodium_sha256
check sodium_aes256gcm "libsodium AES-256-GCM known answer" sodium_aes256gcm
check mlock "mlock/mlockall within RLIMIT_MEMLOCK" mlock_limits
check memfd_secret "memfd_secret memory unreadable" memfd_secret_hidden
check suid_core "no core dumps of set-uid programs" suid_no_core
check userns "users cannot create namespaces" userns_denied
check pidns "a pid namespace isolates" pidns_isolates
check netns "a net namespace isolates" netns_isolates
check mntns "a mount namespace isolates" mntns_isolates
check cgroup_oom "memory.max OOM-kills inside its cgroup, the shell survives" cgroup_oom
check fw_drop_port "an iptables DROP rule drops connections to its port" iptables_drops_port
check fw_policy "the configured default policies are in effect and drop" firewall_policy
check safe_create "no file creation through a planted symlink" safe_create
check umask "the umask keeps new files from others" umask_restrictive
check private_file "0600 files unreadable by nobody" private_file
check flock "flock contended between two processes" flock_contended
check fcntl_lock "fcntl locks contended between two processes" fcntl_contended
checks_done
