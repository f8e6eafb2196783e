#!/bin/sh
# Runs a board test suite under n90vmm, QEMU or crosvm and writes last_run.json + junit.xml.
# usage: harness/run_board_tests.sh [--board NAME] [--hypervisor n90vmm|qemu|crosvm]
#            [--arch aarch64|x86_64] [--rootfs IMG] [--suite NAME] [--jobs N] [--shard K/N]
#            [--one-boot] [--out DIR] [--kernel K] [--initrd I] [--append CMDLINE] [--cpus N]
#            [--memory MIB] [--net tap|none] [--timeout S] [--boot-timeout S]
# The N90 setup's invocations work as they were (scripts/run_board_tests.sh is this file):
#   --board qemu_virt --hypervisor qemu --rootfs rootfs.img
#   --board n90-crosvm --hypervisor crosvm --rootfs rootfs.ext4
# The logic is in board_tests.py (boards, manifests, placement, sharding, results);
# exec-cases.sh boots the guests. `--help` lists every option.
exec python3 "$(dirname "$(readlink -f "$0")")/board_tests.py" "$@"
