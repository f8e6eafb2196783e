#!/usr/bin/env bash
# docs/n90-crosvm-guide.md promises working commands: every command line in its ```sh blocks
# must appear, word for word, in a test that runs it (.ci/run, tests/board/*.sh,
# tests/system/*.sh), or sit in a ```sh block whose first line is the comment
# "# needs real hardware" (a host with real KVM or the N90 itself). Prints the commands that
# are neither; exit 1 when there is one.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
guide=docs/n90-crosvm-guide.md
[ -f "$guide" ] || { echo "no $guide"; exit 1; }
untested=0 total=0 hardware=0
while IFS= read -r line; do
	total=$((total + 1))
	if ! grep -rqF -- "$line" .ci/run tests/board tests/system; then
		echo "not run by any test: $line"
		untested=$((untested + 1))
	fi
done < <(awk '
	/^```sh$/ { inblock = 1; first = 1; hw = 0; next }
	/^```/ { inblock = 0; next }
	inblock && first { first = 0; if ($0 ~ /^# needs real hardware/) { hw = 1; next } }
	inblock && !hw && $0 !~ /^#/ && $0 !~ /^[[:space:]]*$/ { sub(/[[:space:]]+#.*$/, ""); print }' "$guide")
hardware=$(awk '/^```sh$/ { getline; if ($0 ~ /^# needs real hardware/) n++ } END { print n + 0 }' "$guide")
echo "guide: $total commands run by tests, $hardware blocks marked as needing real hardware, $untested not run"
[ $untested -eq 0 ]
