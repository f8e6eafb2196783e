#!/bin/sh
# Runs a suite's cases under one hypervisor: one guest boot per case, or with ONE_BOOT=1 one
# boot for all of them (the harness's --script: the commands in order, in the same guest). The
# suite runner (board_tests.py) writes the plan and reads the results. POSIX sh on purpose: on
# a host whose KVM cannot run the guest it runs inside the system-test rig's L1 (busybox).
#
# usage: exec-cases.sh PLAN OUTDIR
#   PLAN: one case per line, NAME<TAB>TIMEOUT_SEC<TAB>SHELL COMMAND
#   environment: HYPERVISOR (n90vmm|qemu|crosvm), ARCH (x86_64|aarch64), N90VMM (the binary;
#   also the harness client for qemu/crosvm), CROSVM (the crosvm to launch: a real one, or a
#   link to n90vmm, whose crosvm compatibility mode it then is), KERNEL, INITRD, ROOTFS
#   (read-only for every case, so cases can run in parallel), CMDLINE, CPUS, MEMORY_MB,
#   PROFILE, BOOT_TIMEOUT, PROMPT, JOBS, ONE_BOOT, QEMU_ACCEL (kvm|tcg), QEMU_CPU (default
#   max; with kvm, a model this host accepts: board_tests.py), QEMU_TSC_KHZ (this host's TSC
#   rate, `n90vmm --host-info`'s tsc_khz: what TCG hands an x86 guest; 0 unknown). NET=tap
#   attaches the VM to the board's tap, in a network namespace of the VM's own with dnsmasq
#   (NET_SH, the board's net.sh, reads NET_TAP, NET_HOST_IP, NET_DHCP_RANGE, DNSMASQ).
# For each case it prints `CASE-JSON NAME JSON` (the harness's --result-json, one line) and
# `CASE-END NAME EXIT_STATUS`; in one-boot mode `CASE-BATCH NAME...`, `CASE-JSON-BATCH JSON`
# and `CASE-END-BATCH STATUS`. The console goes to OUTDIR/NAME.console (OUTDIR/batch.console).
plan=$1 out=$2
mkdir -p "$out"
tab=$(printf '\t')

# launch COMMAND...: with the board's network, inside net.sh's namespace (tap + dnsmasq).
launch() {
	if [ "${NET:-none}" = tap ]; then "$NET_SH" run -- "$@"; else "$@"; fi
}

# run_vm NAME HARNESS-ARGS...: the hypervisor with the harness driving its serial console;
# the payload to OUTDIR/NAME.payload, messages to OUTDIR/NAME.err.
run_vm() {
	name=$1
	shift
	set -- --strict --boot-timeout "$BOOT_TIMEOUT" --prompt "$PROMPT" --result-json "$out/$name.json" \
		--console-log "$out/$name.console" "$@"
	case $HYPERVISOR in
	n90vmm)
		set -- "$@" -c "$CPUS" -m "$MEMORY_MB" -p "$CMDLINE" --no-stdin
		[ -n "$PROFILE" ] && set -- "$@" --profile "$PROFILE"
		[ -n "$INITRD" ] && set -- "$@" -i "$INITRD"
		[ "${NET:-none}" = tap ] && set -- "$@" --net "tap=$NET_TAP"
		[ -n "$ROOTFS" ] && set -- "$@" --disk "$ROOTFS,ro"
		launch "$N90VMM" "$@" "$KERNEL" >"$out/$name.payload" 2>"$out/$name.err"
		;;
	qemu)
		# QEMU connects to the client's socket (-serial unix:PATH is client mode), so no
		# output is lost before the connection exists.
		sock=$out/$name.sock accel=${QEMU_ACCEL:-tcg} append=$CMDLINE
		if [ "$ARCH" = aarch64 ]; then
			# virt with a GICv3; virtio on virtio-mmio (virt's transport without PCI probing).
			q="exec qemu-system-aarch64 -M virt,gic-version=3 -cpu ${QEMU_CPU:-max}"
			[ "$accel" = tcg ] && q="$q -accel tcg,thread=multi" || q="$q -accel kvm"
			blk=virtio-blk-device nic=virtio-net-device
		else
			# Under TCG on a loaded host the guest's PIT calibration of the TSC fails and
			# Linux can hang in early boot (seen 2 in 8 boots); give it the TSC rate instead:
			# TCG's is the host's (a fixed 2 GHz on a 2.45 GHz host ran the guest's clock 20 s
			# ahead of its RTC in 100 s, and the board test's rtc check failed).
			[ "$accel" = tcg ] && [ "${QEMU_TSC_KHZ:-0}" -gt 0 ] && append="$append tsc_early_khz=$QEMU_TSC_KHZ"
			q="exec qemu-system-x86_64 -accel $accel -cpu ${QEMU_CPU:-max} -M microvm"
			blk=virtio-blk-device nic=virtio-net-device
		fi
		q="$q -smp $CPUS -m $MEMORY_MB -nodefaults -no-user-config -nographic -no-reboot -serial unix:$sock"
		q="$q -kernel '$KERNEL' -append '$append'"
		[ -n "$INITRD" ] && q="$q -initrd '$INITRD'"
		[ -n "$ROOTFS" ] && q="$q -drive file='$ROOTFS',if=none,id=d0,format=raw,readonly=on -device $blk,drive=d0"
		[ "${NET:-none}" = tap ] && q="$q -netdev tap,id=n0,ifname=$NET_TAP,script=no,downscript=no -device $nic,netdev=n0"
		launch "$N90VMM" harness --listen "unix:$sock" --launch "$q" "$@" >"$out/$name.payload" 2>"$out/$name.err"
		;;
	crosvm)
		# crosvm's unix-stream serial connects to a listening socket, like QEMU's above.
		sock=$out/$name.sock
		c="exec '$CROSVM' run --cpus $CPUS --mem $MEMORY_MB --serial type=unix-stream,path=$sock,hardware=serial,num=1,console=true"
		c="$c -p '$CMDLINE'"
		[ -n "$INITRD" ] && c="$c -i '$INITRD'"
		[ -n "$ROOTFS" ] && c="$c --block path='$ROOTFS',ro"
		[ "${NET:-none}" = tap ] && c="$c --net tap-name=$NET_TAP"
		launch "$N90VMM" harness --listen "unix:$sock" --launch "$c '$KERNEL'" "$@" >"$out/$name.payload" 2>"$out/$name.err"
		;;
	*)
		echo "exec-cases: unknown hypervisor '$HYPERVISOR'" >&2
		return 64
		;;
	esac
}

report() { # NAME STATUS [TAG-SUFFIX]
	if [ -s "$out/$1.json" ]; then
		printf 'CASE-JSON%s %s %s\n' "${3:-}" "$1" "$(tr -d '\n' <"$out/$1.json")"
	else
		# No result file: the run failed before the harness started; say why.
		printf 'CASE-ERROR%s %s %s\n' "${3:-}" "$1" "$(tail -n 3 "$out/$1.err" 2>/dev/null | tr '\n' ' ')"
	fi
	printf 'CASE-END%s %s %s\n' "${3:-}" "$1" "$2"
}

if [ "${ONE_BOOT:-0}" = 1 ]; then
	# All cases in one boot: a harness script, one line per case with its own timeout.
	names=
	: >"$out/batch.script"
	while IFS="$tab" read -r name timeout command; do
		[ -n "$name" ] || continue
		names="$names $name"
		printf 'timeout=%s %s\n' "$timeout" "$command" >>"$out/batch.script"
	done <"$plan"
	echo "CASE-BATCH$names"
	run_vm batch --script "$out/batch.script"
	report batch $? -BATCH
	echo "EXEC-CASES-DONE $(echo $names | wc -w)"
	exit 0
fi

# Up to JOBS cases at a time: start a batch in the background, wait for it, report it.
jobs=${JOBS:-1}
batch=""
flush() {
	for n in $batch; do
		while [ ! -f "$out/$n.rc" ]; do sleep 0.1; done
		report "$n" "$(cat "$out/$n.rc")"
	done
	batch=""
}
count=0
while IFS="$tab" read -r name timeout command; do
	[ -n "$name" ] || continue
	(
		run_vm "$name" --command-timeout "$timeout" --command "$command"
		echo $? >"$out/$name.rc.tmp" && mv "$out/$name.rc.tmp" "$out/$name.rc"
	) &
	batch="$batch $name"
	count=$((count + 1))
	if [ $((count % jobs)) -eq 0 ]; then
		wait
		flush
	fi
done <"$plan"
wait
flush
echo "EXEC-CASES-DONE $count"
