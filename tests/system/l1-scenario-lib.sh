# Sourced by the rig's scenario runners inside L1 (busybox sh: l1-scenarios.sh for x86_64,
# l1-scenarios-arm64.sh): one verdict line per scenario,
#   SCENARIO <name> <pass|FAIL|STALL|NOBOOT|not-built> <seconds>
# which run.sh turns into its table. The runner sets $only (" NAME... ", or "  " for all) and
# $features (one word a line: n90vmm --features, and anything the runner adds).
now() { cut -d' ' -f1 /proc/uptime; }
has() { echo "$features" | grep -qx "$1"; }

verdict() { # NAME VERDICT START
	echo "SCENARIO $1 $2 $(awk -v a="$3" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')"
}

# scenario NAME FEATURE... : runs the function run_NAME when every feature is built.
scenario() {
	name=$1
	shift
	[ "$only" = "  " ] || case $only in *" $name "*) ;; *) return ;; esac
	for f in "$@"; do
		if ! has "$f"; then
			echo "SCENARIO $name not-built 0"
			return
		fi
	done
	start=$(now)
	echo "=== $name"
	if [ "${RIG_FAKE_STALL:-}" = "$name" ]; then
		echo "n90vmm: timeout: guest still running after 120 s; stopped (RIG_FAKE_STALL)" >"$name.log"
		v=STALL
	elif "run_$(echo "$name" | tr - _)" >"$name.log" 2>&1; then
		v=pass
	elif grep -q '^n90vmm: timeout: guest still running after' "$name.log"; then
		# A guest that never finished: under TCG an L2 now and then stalls at its first
		# instructions; run.sh retries such a scenario once in a fresh L1.
		v=STALL
	elif grep -q 'triple fault' "$name.log" && ! grep -q 'L2-[A-Z]' "$name.log"; then
		# An L2 kernel that died before its init printed anything (seen 3 times in ~200 boots
		# of Debian's kernel in the x86 rig, at ~1 s, before its first exit; the cause, n90vmm
		# or TCG's nested SVM, is not known yet): run.sh retries it once too, and says so.
		v=NOBOOT
	else
		v=FAIL
	fi
	# The whole log goes to the console (the host splits it per scenario), the verdict last.
	sed 's/^/    | /' "$name.log"
	verdict "$name" "$v" "$start"
}
