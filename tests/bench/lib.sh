# shellcheck shell=bash
# Helpers the benchmark scripts share (bash, sourced).

# qemu_data_adds FILE...: appends to the caller's `adds` array an l1.sh --add for each of
# QEMU's firmware files, dereferenced (several are symlinks into other packages), as
# /b/qemu-data/FILE in L1.
qemu_data_adds() {
	local f dir
	for f in "$@"; do
		for dir in /usr/share/qemu /usr/share/seabios; do
			if [ -e "$dir/$f" ]; then
				adds+=(--add "$dir/$f:/b/qemu-data/$f")
				break
			fi
		done
	done
}

# net_results_json RUNS_FILE LABEL...: for each LABEL, its net-cases.sh runs' medians over the
# runs without problems, each direction's frames/s and MB/s, as JSON members
# "LABEL":{"h2g_frames_per_s":...,...} (null where no run counts), comma-separated.
net_results_json() {
	local runs=$1 label dir field v sep='' sep2
	shift
	for label in "$@"; do
		printf '%s"%s":{' "$sep" "$label"
		sep2=
		for dir in h2g g2h; do
			for field in frames_per_s mb_per_s; do
				v=$(grep "\"label\":\"$label\",\"h2g\"" "$runs" | grep '"problems":0' |
					sed -n "s/.*\"$dir\":{[^}]*\"$field\":\([0-9.]*\).*/\1/p" | sort -n |
					awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "null" }' || true)
				printf '%s"%s_%s":%s' "$sep2" "$dir" "$field" "$v"
				sep2=,
			done
		done
		printf '}'
		sep=,
	done
}
