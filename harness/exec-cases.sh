#!/bin/sh
# Runs a suite's cases, one guest boot per case, under one hypervisor; the suite runner
# (run_board_tests.sh) writes the plan and reads the results. POSIX sh on purpose: on a host
# whose KVM cannot run the guest it runs inside the system-test rig's L1 (busybox).
#
# usage: exec-cases.sh PLAN OUTDIR
#   PLAN: one case per line, NAME<TAB>TIMEOUT_SEC<TAB>SHELL COMMAND
#   environment: HYPERVISOR (n90vmm|qemu|crosvm), N90VMM (the binary; also the client for
#   qemu/crosvm), KERNEL, INITRD, ROOTFS (read-only for every case, so cases can run in
#   parallel), CMDLINE, CPUS, MEMORY_MB, PROFILE, NET, BOOT_TIMEOUT, PROMPT, JOBS, QEMU_ACCEL
#   (kvm|tcg), QEMU_CPU (default max; with kvm, a model this host accepts: board_tests.py)
# For each case it prints `CASE-JSON NAME JSON` (n90vmm's --result-json, one line) and
# `CASE-END NAME EXIT_STATUS`; the console goes to OUTDIR/NAME.console.
plan=$1 out=$2
mkdir -p "$out"
tab=$(printf '\t')

# The hypervisor command for one case, as words in "$@" of run_case's shell.
run_case() { # NAME TIMEOUT COMMAND
	name=$1 timeout=$2 command=$3
	set -- --strict --boot-timeout "$BOOT_TIMEOUT" --command-timeout "$timeout" --command "$command" \
		--prompt "$PROMPT" --result-json "$out/$name.json" --console-log "$out/$name.console"
	case $HYPERVISOR in
	n90vmm)
		set -- "$@" -c "$CPUS" -m "$MEMORY_MB" -p "$CMDLINE" --no-stdin
		[ -n "$PROFILE" ] && set -- "$@" --profile "$PROFILE"
		[ -n "$INITRD" ] && set -- "$@" -i "$INITRD"
		[ -n "$NET" ] && [ "$NET" != none ] && set -- "$@" --net "$NET"
		[ -n "$ROOTFS" ] && set -- "$@" --disk "$ROOTFS,ro"
		"$N90VMM" "$@" "$KERNEL" >"$out/$name.payload" 2>"$out/$name.err"
		;;
	qemu)
		# QEMU connects to the client's socket (-serial unix:PATH is client mode), so no
		# output is lost before the connection exists.
		sock=$out/$name.sock
		accel=${QEMU_ACCEL:-tcg} append=$CMDLINE
		# Under TCG on a loaded host the guest's PIT calibration of the TSC fails and
		# Linux can hang in early boot (seen 2 in 8 boots); give it the TSC rate instead.
		[ "$accel" = tcg ] && append="$append tsc_early_khz=2000000"
		q="exec qemu-system-x86_64 -accel $accel -cpu ${QEMU_CPU:-max} -M microvm -smp $CPUS -m $MEMORY_MB"
		q="$q -nodefaults -no-user-config -nographic -no-reboot -serial unix:$sock"
		q="$q -kernel '$KERNEL' -append '$append'"
		[ -n "$INITRD" ] && q="$q -initrd '$INITRD'"
		[ -n "$ROOTFS" ] && q="$q -drive file='$ROOTFS',if=none,id=d0,format=raw,readonly=on -device virtio-blk-device,drive=d0"
		"$N90VMM" harness --listen "unix:$sock" --launch "$q" "$@" >"$out/$name.payload" 2>"$out/$name.err"
		;;
	crosvm)
		# Unverified here: crosvm is not packaged for Debian 12. Its unix-stream serial
		# connects to a listening socket, like QEMU's above.
		sock=$out/$name.sock
		c="exec crosvm run --cpus $CPUS --mem $MEMORY_MB --serial type=unix-stream,path=$sock,hardware=serial,num=1"
		c="$c -p '$CMDLINE'"
		[ -n "$INITRD" ] && c="$c -i '$INITRD'"
		[ -n "$ROOTFS" ] && c="$c --block path='$ROOTFS',ro"
		"$N90VMM" harness --listen "unix:$sock" --launch "$c '$KERNEL'" "$@" >"$out/$name.payload" 2>"$out/$name.err"
		;;
	*)
		echo "exec-cases: unknown hypervisor '$HYPERVISOR'" >&2
		return 64
		;;
	esac
}

report() { # NAME STATUS
	if [ -s "$out/$1.json" ]; then
		printf 'CASE-JSON %s %s\n' "$1" "$(tr -d '\n' <"$out/$1.json")"
	else
		# No result file: the run failed before the harness started; say why.
		printf 'CASE-ERROR %s %s\n' "$1" "$(tail -n 3 "$out/$1.err" 2>/dev/null | tr '\n' ' ')"
	fi
	printf 'CASE-END %s %s\n' "$1" "$2"
}

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
		run_case "$name" "$timeout" "$command"
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
