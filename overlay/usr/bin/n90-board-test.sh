#!/bin/bash
# n90-board-test.sh: the N90 board's acceptance test, run inside the guest as root (normally
# by the harness: the n90-board suite). Checks that the machine is the one the board
# describes and that its devices work: CPUs, memory (and most of it allocated, written and
# read back), the ext4 root on a virtio disk, the firmware tables (ACPI on x86_64, the device
# tree on aarch64), the RTC, the serial console the harness drives, virtio devices, the
# network when the board has one (DHCP lease, default route, the host answering), the
# security environment the security suite needs, and OpenSSL. Output is TAP; the exit status
# is the number of failed checks. Every check fails when what it guards is broken:
# /usr/lib/n90/breaks.sh breaks each on purpose, n90-break-checks proves it.
# usage: n90-board-test.sh [--cpus N] [--mem-mb M] [--net tap|none] [--mem-fraction F]
#                          [--list] [--only ID,...]
# shellcheck source=/usr/lib/n90/checks.sh
. /usr/lib/n90/checks.sh
checks_options "$@"
set -- "${checks_rest[@]}"
export PATH=/usr/lib/n90/bin:$PATH
cpus= mem_mb= net=none mem_fraction=0.8
while [ $# -gt 0 ]; do
	case $1 in
	--cpus) cpus=$2; shift 2 ;;
	--mem-mb) mem_mb=$2; shift 2 ;;
	--net) net=$2; shift 2 ;;
	--mem-fraction) mem_fraction=$2; shift 2 ;;
	*) echo "n90-board-test: unknown argument $1" >&2; exit 125 ;;
	esac
done
arch=$(uname -m)
disk_dev= # the root's disk (set by root_virtio_ext4 for disk_reads_stable)

# The CPUs the kernel brought online, as the machine's firmware described them.
cpu_count() {
	local online count
	online=$(cat /sys/devices/system/cpu/online) || return 1
	count=$(echo "$online" | tr ',' '\n' | awk -F- '{ n += ($2 == "" ? 1 : $2 - $1 + 1) } END { print n }')
	[ "$count" = "$cpus" ] || { echo "$count online ($online)"; return 1; }
}
# MemTotal excludes what the kernel keeps for itself: accept 85..100 % of the board's RAM.
mem_total() {
	local kib
	kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
	[ -n "$kib" ] && [ "$kib" -le $((mem_mb * 1024)) ] && [ "$kib" -ge $((mem_mb * 1024 * 85 / 100)) ] ||
		{ echo "MemTotal ${kib:-?} KiB"; return 1; }
}
# Most of the free RAM, allocated, written with a pattern per 16 MiB, read back, freed.
mem_alloc() { n90-memtest --fraction "$mem_fraction"; }
# / is ext4 on a virtio disk: the filesystem's type, and its device's driver through sysfs.
root_virtio_ext4() {
	local fs majmin dev driver
	fs=$(stat -f -c %T /)
	majmin=$(mountpoint -d /)
	dev=$(readlink -f "/sys/dev/block/$majmin" 2>/dev/null)
	[ -n "$dev" ] || { echo "no sysfs node for the root's device $majmin"; return 1; }
	# A partition's disk is its parent.
	[ -e "$dev/partition" ] && dev=$(dirname "$dev")
	driver=$(basename "$(readlink -f "$dev/device/driver" 2>/dev/null)")
	[ "$fs" = ext2/ext3 ] && [ "$driver" = virtio_blk ] ||
		{ echo "/ is $fs on $(basename "$dev") (driver ${driver:-none})"; return 1; }
}
# The same 4 MiB of the root's disk read twice through the page cache and once with O_DIRECT.
disk_reads_stable() {
	local dev a b c
	dev=${disk_dev:-/dev/$(basename "$(readlink -f "/sys/dev/block/$(mountpoint -d /)")")}
	a=$(dd if="$dev" bs=1M count=4 2>/dev/null | md5sum)
	echo 3 >/proc/sys/vm/drop_caches
	b=$(dd if="$dev" bs=1M count=4 2>/dev/null | md5sum)
	c=$(dd if="$dev" bs=1M count=4 iflag=direct 2>/dev/null | md5sum)
	[ "$a" = "$b" ] && [ "$b" = "$c" ] || { echo "reads of $dev differ"; return 1; }
}
# virtio devices of a type (virtio 1.2 §5: 1 net, 2 block, 3 console) bound to their driver.
virtio_bound() { # TYPE NAME
	local d
	for d in /sys/bus/virtio/devices/*; do
		[ "$(cat "$d/device" 2>/dev/null)" = "$1" ] && [ -e "$d/driver" ] && return 0
	done
	echo "no $2 device bound to a driver"
	return 1
}
# The kernel's console: the last console= (ttyS0 when none).
kernel_console() {
	local word console=ttyS0
	for word in $(cat /proc/cmdline); do
		case $word in console=*) console=${word#console=} console=${console%%,*} ;; esac
	done
	echo "$console"
}
# The firmware tables the machine gives: ACPI (x86_64) or the device tree (crosvm-arm64:
# PSCI, a GICv3, the 16550; QEMU virt's console UART is its PL011).
firmware_tables() {
	local t dt=/sys/firmware/devicetree/base uart=ns16550a
	case $(kernel_console) in ttyAMA*) uart=arm,pl011 ;; esac
	if [ "$arch" = aarch64 ]; then
		[ -e "$dt/psci/compatible" ] || { echo "no psci node in the device tree"; return 1; }
		grep -rqs 'arm,gic-v3' "$dt"/intc*/compatible "$dt"/interrupt-controller*/compatible ||
			{ echo "no arm,gic-v3 interrupt controller"; return 1; }
		grep -rqs "$uart" "$dt"/*/compatible "$dt"/*/*/compatible || { echo "no $uart UART"; return 1; }
	else
		for t in FACP APIC DSDT; do
			[ -e /sys/firmware/acpi/tables/$t ] || { echo "no ACPI $t"; return 1; }
		done
	fi
}
# The RTC (the CMOS RTC on x86_64, the PL031 on crosvm-arm64) agrees with the clock.
rtc_time() {
	local rtc now name
	name=$(cat /sys/class/rtc/rtc0/name 2>/dev/null) || { echo "no rtc0"; return 1; }
	rtc=$(cat /sys/class/rtc/rtc0/since_epoch)
	now=$(date +%s)
	[ "$(date +%Y)" -ge 2024 ] && [ $((now - rtc)) -le 10 ] && [ $((rtc - now)) -le 10 ] ||
		{ echo "$name: RTC $rtc, clock $now"; return 1; }
}
# The console the harness drives: this shell's terminal is the kernel's console, ttyS0, a
# 16550 (crosvm's serial device: PLATFORMS.md §3); on QEMU's virt machine (the qemu_virt
# board on aarch64, console=ttyAMA0) its PL011 instead.
serial_console() {
	local tty uart want driver=serial type=16550A
	want=$(kernel_console)
	case $want in ttyAMA*) driver=ttyAMA type=PL011 ;; esac
	tty=$(readlink /proc/self/fd/0)
	[ "$tty" = "/dev/$want" ] || { echo "the harness's shell reads ${tty:-nothing}, not /dev/$want"; return 1; }
	uart=$(awk -v n="${want##*[A-Za-z]}:" '$1 == n { for (i = 2; i <= NF; i++) if ($i ~ /^uart:/) print substr($i, 6) }' \
		"/proc/tty/driver/$driver" 2>/dev/null)
	[ "$uart" = "$type" ] || { echo "$want is a ${uart:-missing} UART, not a $type"; return 1; }
	grep -qw "console=$want" /proc/cmdline || { echo "the kernel's console is not $want"; return 1; }
}
fork_exec() { [ "$(bash -c 'echo $((6 * 7))')" = 42 ] || { echo "bash -c did not answer 42"; return 1; }; }
tmp_write() {
	local f
	f=$(mktemp) && dd if=/dev/urandom of="$f" bs=64k count=16 status=none && sync "$f" &&
		[ "$(stat -c %s "$f")" = 1048576 ] && rm -f "$f"
}
debian_root() { grep -q '^ID=debian' /etc/os-release || { echo "/etc/os-release: $(grep ^ID= /etc/os-release)"; return 1; }; }
# The network the board configures: eth0 holds the address of its DHCP lease, the default
# route goes to the lease's router, and the host (the router) answers pings.
lease() { # KEY: from the lease the board's udhcpc script wrote
	sed -n "s/^$1=//p" /run/n90/lease 2>/dev/null
}
net_lease() {
	local ip
	ip=$(lease ip)
	[ -n "$ip" ] || { echo "no DHCP lease (/run/n90/lease)"; return 1; }
	ip -4 -o addr show dev eth0 up 2>/dev/null | grep -q " inet $ip/" ||
		{ echo "eth0 does not hold the lease's $ip: $(ip -4 -o addr show dev eth0 2>&1)"; return 1; }
}
net_route() {
	local via
	via=$(ip -4 route show default | awk '{ print $3; exit }')
	[ -n "$via" ] && [ "$via" = "$(lease router)" ] || { echo "default route via '${via:-none}', lease router '$(lease router)'"; return 1; }
}
net_ping() {
	local host
	host=$(lease router)
	ping -c 2 -W 3 "${host:-0.0.0.0}" >/dev/null 2>&1 || { echo "no reply from the host ${host:-?}"; return 1; }
}
# What the security suite stands on: seccomp, namespaces, cgroup v2 with the memory
# controller, netfilter usable through iptables, and the hardening sysctls loaded.
security_env() {
	local ns
	[ -e /proc/sys/kernel/seccomp/actions_avail ] || { echo "no seccomp"; return 1; }
	for ns in pid net mnt user; do [ -e /proc/self/ns/$ns ] || { echo "no $ns namespaces"; return 1; }; done
	grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null || { echo "no cgroup v2 memory controller"; return 1; }
	iptables -S INPUT >/dev/null 2>&1 || { echo "iptables cannot read the filter table"; return 1; }
	[ "$(sysctl -n kernel.kptr_restrict)" = 2 ] || { echo "hardening sysctls not loaded"; return 1; }
}
# openssl version, and a known answer: SHA-256("abc") (FIPS 180-2 appendix B.1).
openssl_works() {
	local v d
	v=$(openssl version) || { echo "openssl version failed"; return 1; }
	d=$(printf abc | openssl dgst -sha256 -r 2>&1 | cut -d' ' -f1)
	[ "$d" = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad ] ||
		{ echo "$v: SHA-256(abc) = $d"; return 1; }
}

[ "$checks_list" = 1 ] || echo "# n90-board-test on $(uname -srm)"
if [ -n "$cpus" ]; then check cpus "$cpus CPUs online" cpu_count; fi
if [ -n "$mem_mb" ]; then check memory "memory matches $mem_mb MiB" mem_total; fi
check mem_alloc "most of the free RAM allocated, written, verified, freed" mem_alloc
check root_disk "root is ext4 on a virtio disk" root_virtio_ext4
check disk_reads "disk reads are stable (cached and O_DIRECT)" disk_reads_stable
check virtio_blk "virtio-blk device bound" virtio_bound 0x0002 virtio-blk
[ "$net" = tap ] && check virtio_net "virtio-net device bound" virtio_bound 0x0001 virtio-net
check firmware "firmware tables ($([ "$arch" = aarch64 ] && echo 'device tree: PSCI, GICv3, the console UART' || echo 'ACPI FACP, APIC, DSDT'))" firmware_tables
check rtc "RTC and the clock agree, in this decade" rtc_time
check serial "the harness drives the kernel's serial console (ttyS0, a 16550)" serial_console
check fork_exec "fork and exec" fork_exec
check tmp_write "tmpfs write and sync" tmp_write
check debian "the root is Debian" debian_root
if [ "$net" = tap ]; then
	check net_lease "eth0 up with its DHCP lease" net_lease
	check net_route "default route to the lease's router" net_route
	check net_ping "the host answers pings" net_ping
fi
check security_env "security environment (seccomp, namespaces, cgroup v2 memory, iptables, sysctls)" security_env
check openssl "openssl version and SHA-256 known answer" openssl_works
checks_done
