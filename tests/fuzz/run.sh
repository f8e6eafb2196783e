#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time from its seed corpus; prints executions per
# target and fails on any crash (the input is kept under BUILD/fuzz/crashes/TARGET/).
# usage: tests/fuzz/run.sh BUILD SECONDS TARGET...
# FUZZ_SEED=N makes a run repeatable (CI uses one, so a finding there is reproducible with
# the same N); without it libFuzzer picks a new seed each run, which explores more.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
seconds=$2
shift 2
fail=0
for t in "$@"; do
	work=$build/fuzz/corpus/$t
	crashes=$build/fuzz/crashes/$t
	mkdir -p "$work" "$crashes"
	cp -n "$root/tests/fuzz/corpus/$t"/* "$work/" 2>/dev/null || true
	if [ "$t" = loader ]; then
		cp -n "$build"/guest/mb.bin "$build"/guest/mb.elf "$build"/guest/pvh.elf "$build"/guest/bzimage "$work/" 2>/dev/null || true
	fi
	extra=()
	[ -n "${FUZZ_SEED:-}" ] && extra+=(-seed="$FUZZ_SEED")
	# The parsed configuration lives as long as the process (copied --disk specs, --script
	# lines), so the command-line target does not count those as leaks.
	[ "$t" = cli ] && extra+=(-detect_leaks=0)
	"$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 -max_len=65536 "${extra[@]}" \
		-artifact_prefix="$crashes/" "$work" >"$build/fuzz/$t.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz/$t.log")
	if [ $rc -ne 0 ]; then
		echo "fuzz $t: FAIL after ${runs:-?} executions (see $build/fuzz/$t.log, inputs in $crashes)"
		grep -E 'ERROR|SUMMARY' "$build/fuzz/$t.log" | head -5
		fail=1
	else
		echo "fuzz $t: ${runs:-?} executions in ${seconds}s, no findings"
	fi
done
exit $fail
