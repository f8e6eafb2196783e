#!/bin/sh
# Runs a board test suite under n90vmm, QEMU or crosvm and writes last_run.json + junit.xml.
# usage: harness/run_board_tests.sh --board NAME --hypervisor n90vmm|qemu|crosvm [--rootfs IMG]
#            [--suite NAME] [--jobs N] [--shard K/N] [--out DIR] [--kernel K] [--initrd I] [--append CMDLINE]
# The logic is in board_tests.py (manifests, sharding, results); exec-cases.sh boots the guests.
exec python3 "$(dirname "$0")/board_tests.py" "$@"
