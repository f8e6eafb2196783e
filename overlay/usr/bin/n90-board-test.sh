#!/bin/bash
# n90-board-test: the N90 board's acceptance test, run inside the guest (normally by the
# harness: n90vmm --command n90-board-test ...). Checks that the machine is the one the board
# is built for and that its devices work: CPUs, memory, the ext4 root on the virtio disk,
# ACPI tables, wall-clock time from the CMOS RTC, the serial console, virtio devices and,
# when asked, the network. Output is TAP; the exit status is the number of failed checks.
# usage: n90-board-test [--cpus N] [--mem-mb M] [--peer IP]
cpus= mem_mb= peer=
while [ $# -gt 0 ]; do
	case $1 in
	--cpus) cpus=$2; shift 2 ;;
	--mem-mb) mem_mb=$2; shift 2 ;;
	--peer) peer=$2; shift 2 ;;
	*) echo "n90-board-test: unknown argument $1" >&2; exit 125 ;;
	esac
done
n=0 failed=0
check() { # DESCRIPTION COMMAND...: one TAP line
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
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

cpu_count() { [ "$(nproc --all)" = "$cpus" ] || { echo "$(nproc --all) online"; return 1; }; }
# MemTotal excludes what the kernel keeps for itself: accept 85..100 % of the guest's RAM.
mem_total() {
	local kib
	kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
	[ "$kib" -le $((mem_mb * 1024)) ] && [ "$kib" -ge $((mem_mb * 1024 * 85 / 100)) ] ||
		{ echo "MemTotal ${kib} KiB"; return 1; }
}
root_is_virtio_ext4() {
	local src fs
	read -r src fs < <(findmnt -n -o SOURCE,FSTYPE /)
	[ "$fs" = ext4 ] && [[ $src == /dev/vd* ]] || { echo "/ is $src ($fs)"; return 1; }
}
# The same 4 MiB of the disk read twice through the page cache and once with O_DIRECT.
disk_reads_stable() {
	local dev a b c
	dev=$(findmnt -n -o SOURCE /)
	a=$(dd if="$dev" bs=1M count=4 2>/dev/null | md5sum)
	echo 3 >/proc/sys/vm/drop_caches
	b=$(dd if="$dev" bs=1M count=4 2>/dev/null | md5sum)
	c=$(dd if="$dev" bs=1M count=4 iflag=direct 2>/dev/null | md5sum)
	[ "$a" = "$b" ] && [ "$b" = "$c" ] || { echo "reads differ"; return 1; }
}
acpi_tables() {
	local t
	for t in FACP APIC DSDT; do
		[ -e /sys/firmware/acpi/tables/$t ] || { echo "no $t"; return 1; }
	done
}
# The guest's clock comes from the CMOS RTC the monitor models with the host's time.
rtc_time() {
	local rtc now
	rtc=$(cat /sys/class/rtc/rtc0/since_epoch 2>/dev/null) || { echo "no rtc0"; return 1; }
	now=$(date +%s)
	[ "$(date +%Y)" -ge 2024 ] && [ $((now - rtc)) -le 10 ] && [ $((rtc - now)) -le 10 ] ||
		{ echo "RTC $rtc, clock $now"; return 1; }
}
serial_console() { grep -qw 'console=ttyS0' /proc/cmdline && [ -c /dev/ttyS0 ]; }
virtio_block_bound() {
	local d
	for d in /sys/bus/virtio/devices/*; do
		[ "$(cat "$d/device" 2>/dev/null)" = 0x0002 ] && [ -e "$d/driver" ] && return 0
	done
	echo "no virtio-blk device bound to a driver"
	return 1
}
fork_exec() { [ "$(bash -c 'echo $((6 * 7))')" = 42 ]; }
tmp_write() {
	local f
	f=$(mktemp) && dd if=/dev/urandom of="$f" bs=64k count=16 status=none && sync "$f" &&
		[ "$(stat -c %s "$f")" = 1048576 ] && rm -f "$f"
}
peer_ping() { ping -c 3 -W 2 "$peer" >/dev/null || { echo "no reply from $peer"; return 1; }; }

echo "# n90-board-test on $(uname -srm)"
if [ -n "$cpus" ]; then check "$cpus CPUs online" cpu_count; else skip "CPU count" "no --cpus"; fi
if [ -n "$mem_mb" ]; then check "memory matches $mem_mb MiB" mem_total; else skip "memory" "no --mem-mb"; fi
check "root is ext4 on a virtio disk" root_is_virtio_ext4
check "disk reads are stable (cached and O_DIRECT)" disk_reads_stable
check "virtio-blk device bound" virtio_block_bound
check "ACPI FACP, APIC and DSDT present" acpi_tables
check "CMOS RTC and the clock agree, in this decade" rtc_time
check "console on ttyS0" serial_console
check "fork and exec" fork_exec
check "tmpfs write and sync" tmp_write
if [ -n "$peer" ]; then check "ping $peer" peer_ping; else skip "network" "no --peer"; fi
echo "1..$n"
exit $((failed > 125 ? 125 : failed))
