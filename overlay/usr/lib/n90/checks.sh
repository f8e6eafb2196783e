# /usr/lib/n90/checks.sh: sourced by the board's check scripts (n90-board-test.sh, the
# security suite). Each check is one TAP line; a script's exit status is its number of failed
# checks. Every check can be broken on purpose (/usr/lib/n90/breaks.sh) to show that it fails
# when the thing it guards is broken: n90-break-checks runs that proof for every check.
#
#   check ID DESCRIPTION FUNCTION [ARGS...]   run FUNCTION; it fails with a non-zero status
#                                             and says why on its output; status 77 = skipped
#                                             here (its output says why)
#   checks_done                               the plan line; exit with the failure count
# Options every script takes (checks_options "$@" strips them, the rest is the script's):
#   --list          print the IDs of the checks this run would make, run none
#   --only ID[,ID]  run only those checks (the others are not reported)
# Environment:
#   N90_CHECK_TIMES=1  a comment line with each check's time
#   N90_BREAK=ID       before check ID, break_ID (breaks.sh) breaks what it guards; after it,
#                      mend_ID puts it back. No break_ID, or a break that cannot be applied,
#                      ends the script with status 126: a check without a proof of failure is
#                      itself a failure.
#   N90_BREAK_ALL=1    the proof for every check (n90-break-checks): each must have passed
#                      unbroken (in this boot's full run of the script, recorded in
#                      /run/n90/checks/SCRIPT.tap, else run now), then fail broken. The
#                      break, the check and the mend run in a subshell of their own, so what
#                      a break changes in the shell (variables, descriptors) stays there; what
#                      it changes in the system its mend undoes. One TAP line per check; the
#                      exit status is the number of checks not proven.
n=0 failed=0 checks_list=0 checks_only= checks_record=
checks_rest=()
checks_options() {
	while [ $# -gt 0 ]; do
		case $1 in
		--list) checks_list=1 ;;
		--only) checks_only=",$2,"; shift ;;
		*) checks_rest+=("$1") ;;
		esac
		shift
	done
	checks_recorded=/run/n90/checks/$(basename "$0").tap
	if [ "$checks_list" = 0 ] && [ -z "$checks_only" ] && [ -z "${N90_BREAK:-}${N90_BREAK_ALL:-}" ]; then
		checks_record=$checks_recorded
		mkdir -p /run/n90/checks && : >"$checks_record"
	fi
	if [ -n "${N90_BREAK:-}${N90_BREAK_ALL:-}" ]; then
		# shellcheck source=/usr/lib/n90/breaks.sh
		. /usr/lib/n90/breaks.sh
	fi
}

secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
one_line() { printf '%s' "$1" | tr '\n' ' ' | sed 's/ *$//'; }

# run_broken ID FUNCTION [ARGS...]: in a subshell, break ID, run the check, mend it. Status:
# the check's, or 126 when ID cannot be broken (its output says why).
run_broken() {
	local id=$1
	shift
	(
		declare -F "break_$id" >/dev/null || { echo "no break for check '$id' in breaks.sh"; exit 126; }
		"break_$id" >/dev/null 2>&1 || { echo "break_$id could not break it"; exit 126; }
		"$@" 2>&1
		rc=$?
		if declare -F "mend_$id" >/dev/null && ! "mend_$id" >/dev/null 2>&1; then
			echo "(mend_$id failed: the system stays broken)"
		fi
		exit $rc
	)
}

check() { # ID DESCRIPTION FUNCTION [ARGS...]
	local id=$1 what=$2 out rc t0=$EPOCHREALTIME line
	shift 2
	if [ "$checks_list" = 1 ]; then
		echo "$id"
		return 0
	fi
	[ -z "$checks_only" ] || [[ $checks_only == *",$id,"* ]] || return 0
	n=$((n + 1))
	if [ -n "${N90_BREAK_ALL:-}" ]; then
		# The unbroken verdict: this boot's full run, or a run now.
		if ! line=$(grep -E "^(not )?ok [0-9]+ - $id:" "$checks_recorded" 2>/dev/null); then
			out=$("$@" 2>&1)
			case $? in 0) line="ok - $id" ;; 77) line="ok - $id # SKIP $(one_line "$out")" ;; *) line="not ok - $id: $(one_line "$out")" ;; esac
		fi
		case $line in
		not*) failed=$((failed + 1)); echo "not ok $n - $id: fails unbroken, so its break proves nothing: ${line#*: }"; return ;;
		*'# SKIP'*) echo "ok $n - $id: fails when broken # SKIP not run here: ${line#*# SKIP }"; return ;;
		esac
		out=$(run_broken "$id" "$@")
		rc=$?
		out=$(one_line "$out")
		if [ $rc -eq 126 ]; then
			failed=$((failed + 1))
			echo "not ok $n - $id: cannot be broken: $out"
		elif [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
			echo "ok $n - $id: fails when broken ($out)"
		else
			failed=$((failed + 1))
			echo "not ok $n - $id: still passes when broken${out:+: $out}"
		fi
		[ -n "${N90_CHECK_TIMES:-}" ] && echo "# $id: $(secs_since "$t0") s"
		return
	fi
	if [ "${N90_BREAK:-}" = "$id" ]; then
		out=$(run_broken "$id" "$@")
		rc=$?
		[ $rc -eq 126 ] && { echo "n90-checks: $out"; exit 126; }
		echo "# $id: broken on purpose (break_$id)"
	else
		out=$("$@" 2>&1)
		rc=$?
	fi
	[ -n "${N90_CHECK_TIMES:-}" ] && echo "# $id: $(secs_since "$t0") s"
	out=$(one_line "$out")
	if [ $rc -eq 0 ]; then
		line="ok $n - $id: $what"
		# What a passing check measured, as a TAP comment (the allocation's size and speed).
		[ -n "$out" ] && line="$line
# $id: $out"
	elif [ $rc -eq 77 ]; then
		line="ok $n - $id: $what # SKIP ${out:-not applicable here}"
	else
		failed=$((failed + 1))
		line="not ok $n - $id: $what${out:+: $out}"
	fi
	echo "$line"
	[ -z "$checks_record" ] || echo "$line" >>"$checks_record"
}

checks_done() {
	[ "$checks_list" = 1 ] && exit 0
	echo "1..$n"
	exit $((failed > 125 ? 125 : failed))
}

# as_nobody SHELL-COMMAND: run it as the unprivileged user nobody, without capabilities
# (nobody_caps, a setpriv capability list, says which it keeps: none unless a break adds one).
nobody_caps=-all
as_nobody() {
	local ambient=()
	[ "$nobody_caps" = -all ] || ambient=(--ambient-caps="$nobody_caps")
	setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps="$nobody_caps" "${ambient[@]}" -- bash -c "$1"
}
