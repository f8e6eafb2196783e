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
