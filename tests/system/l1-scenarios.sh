#!/bin/sh
# Runs the rig's scenarios inside L1 (busybox sh), one n90vmm boot of Debian's kernel each,
# and prints one verdict line per scenario:  SCENARIO <name> <pass|FAIL|STALL|NOBOOT|not-built> <seconds>
# STALL: the scenario failed because a guest never finished (n90vmm's --timeout fired, as when
# an L2 stalls at its first instructions under TCG); NOBOOT: because an L2 kernel died (triple
# fault) before its init printed anything; run.sh retries either once in a fresh L1.
# The same scenarios on both rigs; what differs by architecture is set below.
# usage: l1-scenarios.sh DIR [NAME...]  (DIR holds n90vmm, the kernel (vmlinuz and vmlinux on
#                               x86, Image on arm64), l2.cpio.gz, rootfs.ext4, e2fsck,
#                               debugfs; NAMEs: run only those scenarios; l1-scenario-lib.sh
#                               and, on arm64, l1-scenarios-arm64.sh beside this script)
# RIG_FAKE_STALL=NAME (environment): NAME reports a stall without running (tests run.sh's retry).
# l1-scenarios.sh --list ARCH (on the host): the scenarios ARCH's rig runs, one a line.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/l1-scenario-lib.sh"
listing=
if [ "${1:-}" = --list ]; then
	# Only the names: every scenario() call prints one and runs nothing.
	arch=$2 listing=1
	set -- /
else
	arch=$(uname -m)
fi
d=$1
shift
# A scenario's reader that went away (a VM that ended early) fails that scenario; it must not
# end the whole session by SIGPIPE.
trap '' PIPE
only=" $* "
cd "$d" || exit 1
[ -x ./n90vmm ] && features=$(./n90vmm --features 2>/dev/null)
[ -n "$listing" ] && scenario() { echo "$1"; }
if [ "$arch" = aarch64 ] || [ "$arch" = arm64 ]; then
	# crosvm-arm64: an Image, 2 GiB at least, the rootfs the second disk (an empty one goes
	# first when only one is given), virtio-pci on INTx through the GIC (no ITS).
	kernel=Image mem= guest_mib=2048 crosvm_mem=2048 rootdev=vdb pci_irq='GICv3.*virtio' smp_feature=psci
	[ -x ./qemu-system-aarch64 ] && features="$features
qemu"
	features="$features
rig"
	. "$here/l1-scenarios-arm64.sh"
else
	kernel=vmlinuz mem="-m 512" guest_mib=512 crosvm_mem=512 rootdev=vda pci_irq='PCI-MSI' smp_feature=acpi
fi
# rootdev: the disk l2-init.sh mounts or reads; guest_mib: the guest RAM $mem gives.
base="console=ttyS0 panic=-1 quiet rootdev=$rootdev"

boot() { # n90vmm with a timeout; console to stdout
	# shellcheck disable=SC2086 # $mem is an option or nothing
	./n90vmm --no-stdin --timeout 120 $mem "$@"
}

run_linux_bzimage_initrd() {
	boot -p "$base scenario=none" -i l2.cpio.gz vmlinuz >out.txt 2>&1
	rc=$?
	cat out.txt
	[ $rc -eq 0 ] && grep -q 'L2-USERSPACE-OK' out.txt
}

run_linux_image_initrd() {
	boot --stats -p "$base scenario=none" -i l2.cpio.gz Image >out.txt 2>&1
	rc=$?
	cat out.txt
	[ $rc -eq 0 ] && grep -q 'L2-USERSPACE-OK' out.txt
}

run_linux_pvh_vmlinux() {
	boot -p "$base scenario=none" -i l2.cpio.gz vmlinux >out.txt 2>&1
	rc=$?
	cat out.txt
	[ $rc -eq 0 ] && grep -q 'L2-USERSPACE-OK' out.txt
}

run_linux_smp_2cpu() {
	boot -c 2 -p "$base scenario=none" -i l2.cpio.gz "$kernel" >out.txt 2>&1
	rc=$?
	cat out.txt
	[ $rc -eq 0 ] && grep -q 'L2-USERSPACE-OK scenario=none cpus=2' out.txt
}

rootfs_checks() { # the guest's file is on the host side, and the filesystem is clean
	./e2fsck -fn rootfs-copy.ext4 && ./debugfs -R 'cat /l2-was-here' rootfs-copy.ext4 2>/dev/null |
		grep -q 'written by L2 at boot'
}

# rootfs.ext4 as the root filesystem over TRANSPORT: the guest switch_roots into it and
# its init writes a file there.
blk_rootfs() { # TRANSPORT [EXTRA CMDLINE]
	cp rootfs.ext4 rootfs-copy.ext4
	boot --virtio-transport "$1" -p "$base scenario=blk-rootfs ${2:-}" -i l2.cpio.gz "$kernel" rootfs-copy.ext4 \
		>out.txt 2>&1
	rc=$?
	cat out.txt
	[ $rc -eq 0 ] && grep -q "L2-ROOTFS-INIT-OK root=/dev/$rootdev" out.txt && rootfs_checks
}

run_virtio_blk_mmio_rootfs() { blk_rootfs mmio; }
run_virtio_blk_pci_rootfs() { blk_rootfs pci && grep -q "L2-IRQ.*$pci_irq" out.txt; }
# pci=nomsi: Linux finds the pin's GSI in the DSDT's _PRT and the disk interrupts on a
# level-triggered IOAPIC line (KVM resample irqfd) instead of MSI-X.
run_virtio_blk_pci_intx() { blk_rootfs pci pci=nomsi && grep -q 'L2-IRQ.*IO-APIC.*fasteoi.*virtio' out.txt; }

run_virtio_blk_readonly() {
	before=$(md5sum <rootfs.ext4 | cut -d' ' -f1)
	boot --virtio-transport mmio --disk rootfs.ext4,ro -p "$base scenario=blk-readonly" -i l2.cpio.gz "$kernel" \
		>out.txt 2>&1
	rc=$?
	cat out.txt
	after=$(md5sum <rootfs.ext4 | cut -d' ' -f1)
	echo "host md5 before $before after $after"
	[ $rc -eq 0 ] && [ "$before" = "$after" ] && grep -q "L2-RO-MD5 $before" out.txt &&
		grep -q 'L2-RO-WRITE-REFUSED' out.txt
}

run_hvc0_console() {
	# Input goes in only once the guest says it reads hvc0 (a tty drops input nobody has open).
	rm -f hvc.in
	mkfifo hvc.in
	# shellcheck disable=SC2086
	./n90vmm --timeout 120 $mem --console virtio --virtio-transport mmio \
		-p "$base scenario=hvc0" -i l2.cpio.gz "$kernel" <hvc.in >out.txt 2>&1 &
	pid=$!
	exec 3>hvc.in
	i=0
	while [ $i -lt 1200 ] && ! grep -q 'L2-HVC0-READY' out.txt; do
		sleep 0.1
		i=$((i + 1))
	done
	echo "typed-into-hvc0" >&3
	exec 3>&-
	wait $pid
	rc=$?
	cat out.txt
	[ $rc -eq 0 ] && grep -q 'L2-HVC0-READY' out.txt && grep -q 'L2-HVC0-GOT:typed-into-hvc0' out.txt
}

run_harness_command() {
	# Several commands in one boot, each status exact; the last one's is the exit status.
	printf '%s\n' 'true' 'false' 'sh -c "exit 42"' 'echo {\"answer\": 42}' 'sh -c "exit 255"' >script.txt
	# shellcheck disable=SC2086
	./n90vmm --timeout 120 $mem -p "$base scenario=harness" -i l2.cpio.gz --script script.txt \
		--boot-timeout 60 --result-json result.json "$kernel" >payload.txt 2>console.txt
	rc=$?
	cat console.txt result.json payload.txt
	[ $rc -eq 255 ] || { echo "script: exit status $rc, expected 255"; return 1; }
	grep -q '"status":0,' result.json && grep -q '"status":1,' result.json && grep -q '"status":42,' result.json ||
		{ echo "script: statuses missing from result.json"; return 1; }
	grep -qx '{"answer": 42}' payload.txt || { echo "script: JSON payload missing"; return 1; }
	# Strict markers and a single command.
	# shellcheck disable=SC2086
	./n90vmm --timeout 120 $mem -p "$base scenario=harness" -i l2.cpio.gz --strict --command 'echo hi; exit_code=7; (exit $exit_code)' \
		"$kernel" >payload.txt 2>console.txt
	rc=$?
	[ $rc -eq 7 ] && grep -qx hi payload.txt || { echo "strict: exit status $rc, payload $(cat payload.txt)"; return 1; }
	# A hung command: 124 within the timeout plus a second, with its output so far.
	t0=$(now)
	# shellcheck disable=SC2086
	./n90vmm --timeout 120 $mem -p "$base scenario=harness" -i l2.cpio.gz --command 'echo started; sleep 600' \
		--command-timeout 3 --result-json hung.json "$kernel" >payload.txt 2>console.txt
	rc=$?
	t1=$(now)
	# The issue's bound: 124 within the command timeout plus one second, measured by n90vmm
	# from sending the command (the boot before it is not the command's time).
	ms=$(sed -n 's/.*"duration_ms":\([0-9]*\).*/\1/p' hung.json | head -n 1)
	echo "hung: exit $rc, $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s with boot, command ${ms:-?} ms, payload: $(cat payload.txt)"
	[ $rc -eq 124 ] && grep -qx started payload.txt && [ -n "$ms" ] && [ "$ms" -le 4000 ]
}

run_sandbox() {
	# Every thread of a running VM is under a seccomp filter (Seccomp: 2), and the guest
	# works under it (all other scenarios run with the sandbox on, the default, too). This
	# one also jails the process: chroot into an empty directory, uid/gid nobody.
	mkdir -p /tmp/jail && chmod 0755 /tmp/jail
	# shellcheck disable=SC2086
	./n90vmm --timeout 120 $mem -c 2 -p "$base scenario=harness" -i l2.cpio.gz --command 'sleep 4' \
		--jail /tmp/jail --uid 65534 --gid 65534 "$kernel" rootfs.ext4 >payload.txt 2>console.txt &
	pid=$!
	i=0
	while [ $i -lt 600 ] && ! grep -q 'sleep 4' console.txt; do
		sleep 0.1
		i=$((i + 1))
	done
	threads=0 confined=0 dropped=0
	for t in /proc/$pid/task/*; do
		threads=$((threads + 1))
		grep -q '^Seccomp:[[:space:]]*2' "$t/status" && confined=$((confined + 1))
		grep -q '^Uid:[[:space:]]*65534[[:space:]]*65534[[:space:]]*65534[[:space:]]*65534' "$t/status" &&
			grep -q '^Gid:[[:space:]]*65534[[:space:]]*65534[[:space:]]*65534[[:space:]]*65534' "$t/status" &&
			dropped=$((dropped + 1))
		echo "$t: $(grep -E '^(Seccomp|Uid|Gid):' "$t/status" | tr '\n\t' '  ')"
	done
	root=$(readlink /proc/$pid/root)
	wait $pid
	rc=$?
	echo "threads $threads, confined $confined, uid/gid dropped $dropped, root $root, exit $rc"
	# main + 2 vCPUs + the I/O thread
	[ $rc -eq 0 ] && [ $threads -ge 4 ] && [ $confined -eq $threads ] && [ $dropped -eq $threads ] &&
		[ "$root" = /tmp/jail ]
}

# crosvm's command line, verbatim as the StarryOS runner builds it, against n90vmm invoked as
# `crosvm` (a symlink): the harness client listens, crosvm's unix-stream serial connects to
# it. Then n90vmm's own listening serial with a client that connects only after the guest
# has booted and printed its prompt (the backlog must hold all of it), and `n90vmm stop`.
run_crosvm_runner() {
	ln -sf n90vmm crosvm
	./n90vmm harness --listen "unix:$PWD/runner.sock" --boot-timeout 60 --command 'uname -s; sh -c "exit 5"' \
		--launch "./crosvm run --cpus 2 --mem $crosvm_mem --serial type=unix-stream,path=$PWD/runner.sock,hardware=serial,num=1,console=true -p 'panic=-1 quiet scenario=harness' -i l2.cpio.gz $kernel" \
		>payload.txt 2>console.txt
	rc=$?
	cat console.txt payload.txt
	[ $rc -eq 5 ] && grep -qx Linux payload.txt || { echo "runner: exit $rc, payload $(cat payload.txt)"; return 1; }

	# Late client: everything from the first byte on reaches it.
	rm -f late.sock
	# shellcheck disable=SC2086
	./n90vmm --timeout 120 $mem --serial "unix:$PWD/late.sock" -p "$base scenario=harness" -i l2.cpio.gz \
		"$kernel" >late-vm.txt 2>&1 &
	vm=$!
	# The prompt is out long before the client comes (the guest boots in ~5 s here).
	sleep 20
	./n90vmm harness --connect "unix:$PWD/late.sock" --command 'echo late; sh -c "exit 3"' >payload.txt 2>console.txt
	rc=$?
	wait $vm
	vmrc=$?
	cat console.txt payload.txt late-vm.txt
	[ $rc -eq 3 ] && [ $vmrc -eq 0 ] && grep -qx late payload.txt && grep -q 'L2-USERSPACE-OK' console.txt ||
		{ echo "late client: exit $rc, VM exit $vmrc"; return 1; }

	# n90vmm stop SOCKET ends a running VM with exit 0 (crosvm's `crosvm stop`).
	rm -f ctl.sock
	./crosvm run --cpus 1 --mem "$crosvm_mem" -s "$PWD/ctl.sock" -p "$base scenario=harness" -i l2.cpio.gz \
		"$kernel" >stop-vm.txt 2>&1 &
	vm=$!
	sleep 10
	./n90vmm stop "$PWD/ctl.sock"
	src=$?
	wait $vm
	vmrc=$?
	echo "stop: $src, VM exit $vmrc"
	[ $src -eq 0 ] && [ $vmrc -eq 0 ] || { tail -5 stop-vm.txt; return 1; }
	# Bad crosvm flags: exit 35, the flag named.
	./crosvm run --no-such-flag "$kernel" >bad.txt 2>&1
	rc=$?
	cat bad.txt
	[ $rc -eq 35 ] && grep -q 'no-such-flag' bad.txt
}

# wait_for FILE PATTERN SECONDS [PID]: PATTERN appears in FILE within SECONDS (sooner false
# when process PID, the guest's monitor, has exited)
wait_for() {
	i=0
	while [ $i -lt $(($3 * 10)) ] && ! grep -q "$2" "$1"; do
		# A guest that has exited prints nothing more: no point waiting out the limit.
		[ -z "${4:-}" ] || kill -0 "$4" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	grep -q "$2" "$1"
}

# virtio-net on a tap that n90vmm creates and configures itself (crosvm's host-ip form):
# ping both ways, and a 4 MiB random file each way over HTTP, compared by md5.
run_virtio_net_tap() {
	rm -rf www && mkdir www
	dd if=/dev/urandom of=www/blob bs=64k count=64 2>/dev/null
	want=$(md5sum <www/blob | cut -d' ' -f1)
	httpd -f -p 8080 -h "$PWD/www" &
	web=$!
	boot --stats --net host-ip=10.0.2.1,netmask=255.255.255.252,mac=02:00:0a:00:02:02 \
		-p "$base scenario=net" -i l2.cpio.gz "$kernel" >out.txt 2>&1 &
	vm=$!
	ok=1
	wait_for out.txt L2-TX-READY 120 $vm || ok=0
	ping -c 3 -W 5 10.0.2.2 && hping=1 || hping=0
	wget -q -O got http://10.0.2.2:8080/blob
	got=$(md5sum <got | cut -d' ' -f1)
	touch www/go
	wait $vm
	rc=$?
	kill $web
	cat out.txt
	sent=$(sed -n 's/.*L2-TX-READY \([0-9a-f]*\).*/\1/p' out.txt | head -n 1)
	echo "host->L2 want $want; L2->host sent $sent got $got; host ping $hping; exit $rc"
	[ $ok -eq 1 ] && [ $rc -eq 0 ] && [ $hping -eq 1 ] && grep -q 'L2-PING-OK' out.txt &&
		grep -q "L2-RX-MD5 $want" out.txt && [ -n "$sent" ] && [ "$sent" = "$got" ] &&
		grep -q 'L2-NET-UP 02:00:0a:00:02:02' out.txt && grep -q 'L2-NET-DONE' out.txt
}

# The device tree n90vmm gives the guest, decompiled with dtc in L1: the nodes the profile
# promises, at its addresses, and dtc finds nothing wrong with it.
run_fdt_dump() {
	./n90vmm --dump-fdt guest.dtb --timeout 60 -p "$base scenario=none" -i l2.cpio.gz Image rootfs.ext4 >out.txt 2>&1
	rc=$?
	./dtc -I dtb -O dts -o guest.dts guest.dtb 2>dtc.err
	drc=$?
	cat out.txt dtc.err guest.dts
	[ $rc -eq 0 ] && [ $drc -eq 0 ] && [ ! -s dtc.err ] && grep -q 'compatible = "arm,gic-v3"' guest.dts &&
		grep -q 'pci-host-cam-generic' guest.dts && grep -q 'compatible = "ns16550a"' guest.dts &&
		grep -q 'enable-method = "psci"' guest.dts && grep -q 'arm,pl031' guest.dts &&
		grep -q 'reg = <0x00 0x80000000 0x00 0x80000000>' guest.dts && grep -q 'bootargs = "console=ttyS0' guest.dts
}

if [ "$kernel" = Image ]; then
	scenario kvm-probe rig
	scenario qemu-kvm-linux-initrd qemu
	scenario qemu-kvm-smp-2cpu qemu
	scenario qemu-kvm-blk-rootfs qemu
	scenario linux-image-initrd arm64-image
	scenario fdt-dump fdt
else
	scenario linux-bzimage-initrd bzimage
	scenario linux-pvh-vmlinux pvh
fi
# Running and not a zombie.
alive() { st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) && [ "$st" != Z ]; }

# Durability on real Linux: ext4 on virtio-blk, the guest writing and fsync'ing files while
# n90vmm is ended with SIGNAL at a random moment (0.3..3.3 s into the writing), ROUNDS times.
# After each end the journal is replayed as the next mount would (e2fsck -E journal_only),
# then `e2fsck -fn` must find nothing wrong and every file the guest had reported fsync'ed
# must hold exactly what it wrote. RIG_DURABILITY_ROUNDS rounds (run.sh sets it).
durability() { # SIGNAL WANT_STATUS
	rounds=${RIG_DURABILITY_ROUNDS:-20}
	cp rootfs.ext4 dur.ext4
	r=0 checked=0
	while [ $r -lt "$rounds" ]; do
		r=$((r + 1))
		t0=$(now)
		# A fresh file: the redirection below truncates it only once the child runs, and
		# the last round's READY must not be found meanwhile.
		rm -f dur.out dur.err
		# shellcheck disable=SC2086 # $mem is an option or nothing
		./n90vmm --no-stdin --timeout 300 $mem -p "$base scenario=durability" -i l2.cpio.gz "$kernel" dur.ext4 \
			>dur.out 2>dur.err &
		vm=$!
		if ! wait_for dur.out L2-DUR-READY 120 $vm; then
			echo "round $r: the guest never started writing ($(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }') s;" \
				"n90vmm $(alive $vm && echo running || echo gone); $(wc -c <dur.out) bytes of console)"
			kill -KILL $vm
			cat dur.out dur.err
			return 1
		fi
		t1=$(now)
		delay=$(awk -v r=$r -v s="$1" 'BEGIN { srand(r * 2 + (s == "KILL")); printf "%.2f", 0.3 + 3 * rand() }')
		sleep "$delay"
		kill -"$1" $vm
		wait $vm
		rc=$?
		if [ $rc -ne "$2" ]; then
			echo "round $r: n90vmm exit $rc after SIG$1, expected $2"
			tail -5 dur.err
			return 1
		fi
		t2=$(now)
		./e2fsck -fy -E journal_only dur.ext4 >fsck.txt 2>&1
		if ! ./e2fsck -fn dur.ext4 >fsck.txt 2>&1; then
			echo "round $r: e2fsck -fn after SIG$1 at ${delay} s:"
			cat fsck.txt
			return 1
		fi
		# Complete lines only: a line cut by the kill is not a report.
		tr -d '\r' <dur.out | grep -E '^L2-DUR-SYNCED f[0-9]+ [0-9a-f]{32}$' >synced.txt
		rm -rf dump && mkdir dump
		awk '{ print "dump /d/" $2 " dump/" $2 }' synced.txt >dump.cmd
		./debugfs -f dump.cmd dur.ext4 >/dev/null 2>&1
		while read -r _ f sum; do
			got=$(md5sum <"dump/$f" 2>/dev/null | cut -d' ' -f1)
			if [ "$got" != "$sum" ]; then
				echo "round $r: $f was fsync'ed with md5 $sum; the image holds ${got:-no such file}"
				return 1
			fi
			checked=$((checked + 1))
		done <synced.txt
		echo "round $r: SIG$1 at ${delay} s, exit $rc, $(wc -l <synced.txt) fsync'ed files intact, e2fsck -fn clean" \
			"(boot $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s, checks $(awk -v a="$t2" -v b="$(now)" 'BEGIN { print b - a }') s)"
	done
	echo "DURABILITY SIG$1: $r ends, $checked fsync'ed files checked, e2fsck -fn clean after each"
}
run_durability_kill() { durability KILL 137; }
run_durability_term() { durability TERM 130; }

# Soak: disk, network and console traffic together for RIG_SOAK_SECONDS (run.sh: 60; the
# nightly run gives 1800), n90vmm's own memory (RSS without the guest's RAM mapping), open
# fds and threads (io_uring's kernel workers not counted) sampled every 5 s. Bounds, after a
# 20 s warm-up: RSS within 4 MiB of the first sample, fds and threads unchanged.
run_soak() {
	secs=${RIG_SOAK_SECONDS:-180}
	cp rootfs.ext4 soak.ext4
	rm -rf www && mkdir www
	dd if=/dev/urandom of=www/blob bs=64k count=16 2>/dev/null
	want=$(md5sum <www/blob | cut -d' ' -f1)
	httpd -f -p 8080 -h "$PWD/www" &
	web=$!
	# shellcheck disable=SC2086 # $mem is an option or nothing
	./n90vmm --no-stdin --stats --timeout $((secs + 600)) $mem \
		--net host-ip=10.0.2.1,netmask=255.255.255.252,mac=02:00:0a:00:02:02 \
		-p "$base scenario=soak soak=$secs" -i l2.cpio.gz "$kernel" soak.ext4 >soak.out 2>soak.err &
	vm=$!
	ok=1
	wait_for soak.out L2-SOAK-START 180 $vm || ok=0
	: >samples.txt
	t=0
	while alive $vm && ! grep -q L2-SOAK-DONE soak.out; do
		rss=$(awk -v ram=$((guest_mib * 1024)) '/^[0-9a-f]+-[0-9a-f]+ / { size = 0 } /^Size:/ { size = $2 }
			/^Rss:/ { if (size != ram) rss += $2 } END { print rss + 0 }' /proc/$vm/smaps 2>/dev/null)
		fds=$(ls /proc/$vm/fd 2>/dev/null | wc -l)
		# n90vmm's own threads: io_uring's kernel workers (iou-wrk-*, iou-sqp-*) live in its
		# thread group but come and go with the kernel's load, not with n90vmm.
		thr=$(cat /proc/$vm/task/*/comm 2>/dev/null | grep -vc '^iou-')
		[ "$thr" -gt 0 ] || thr=
		[ -n "$thr" ] && echo "$t $rss $fds $thr" >>samples.txt
		sleep 5
		t=$((t + 5))
	done
	wait $vm
	rc=$?
	kill $web
	tr -d '\r' <soak.out | grep -v '^L2-SOAK-LINE' | tail -20
	grep '^stats:' soak.err
	echo "samples (seconds rss-kib fds threads):"
	cat samples.txt
	verdict=$(awk '$1 >= 20 {
			if (!n++) { r0 = $2; f0 = $3; t0 = $4 }
			if ($2 > rmax) rmax = $2
			if ($3 != f0 || $4 != t0) moved++
		}
		END { printf "%d %d %d %d %d %d\n", n, r0, rmax, f0, t0, moved + 0 }' samples.txt)
	set -- $verdict
	rounds=$(tr -d '\r' <soak.out | sed -n 's/^L2-SOAK-DONE rounds=\([0-9]*\) errors=\([0-9]*\)$/\1 \2/p')
	net=$(tr -d '\r' <soak.out | sed -n 's/^L2-SOAK-NET \([0-9a-f]*\)$/\1/p')
	echo "SOAK: ${secs} s, rounds/errors ${rounds:-none}, ${1} samples after warm-up; monitor RSS ${2} -> max ${3} KiB (bound +4096), fds ${4}, threads ${5}, changes ${6}; exit $rc"
	[ $ok -eq 1 ] && [ $rc -eq 0 ] && [ "$net" = "$want" ] && [ -n "$rounds" ] && [ "${rounds#* }" = 0 ] &&
		[ "${rounds% *}" -gt 0 ] && [ "$1" -ge 2 ] && [ "$3" -le $(($2 + 4096)) ] && [ "$6" -eq 0 ]
}

scenario linux-smp-2cpu "$smp_feature"
scenario virtio-blk-mmio-rootfs virtio-blk virtio-mmio
scenario virtio-blk-pci-rootfs virtio-blk virtio-pci
# x86 only: pci=nomsi moves the disk from MSI-X to its INTx line (on arm64 INTx is the path).
[ "$kernel" = Image ] || scenario virtio-blk-pci-intx virtio-blk virtio-pci pci-intx
scenario virtio-blk-readonly virtio-blk virtio-mmio
scenario hvc0-console virtio-console virtio-mmio
scenario virtio-net-tap virtio-net
scenario harness-command harness
scenario crosvm-runner harness crosvm-cli
scenario sandbox seccomp
# The long ones (each in an L1 session of its own, run.sh). On arm64 only when named
# (RIG_SCENARIOS): the disk and network paths they stress are the same code on both, and the
# arm64 rig is the slower one.
if [ "$kernel" != Image ] || [ "$only" != "  " ]; then
	scenario durability-kill virtio-blk virtio-pci
	scenario durability-term virtio-blk virtio-pci
	scenario soak virtio-blk virtio-net virtio-pci
fi
[ -n "$listing" ] || echo "SCENARIOS-DONE"
