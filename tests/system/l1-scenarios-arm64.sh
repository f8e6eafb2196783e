#!/bin/sh
# Sourced by l1-scenarios.sh in the arm64 L1: the scenarios that prove the arm64 rig itself
# and give n90vmm a reference on the same L1 — L1's KVM at EL2 (l1-kvm-probe), and Debian's
# arm64 Linux booting as L2 under QEMU with -accel kvm from the same L2 material (Image,
# l2.cpio.gz, rootfs.ext4) n90vmm boots. QEMU's console is its PL011 (ttyAMA0); every byte
# is an MMIO exit handled by QEMU in L1, and replaying the boot log through it costs about
# 10 s, hence quiet.
qemu_base="console=ttyAMA0 panic=-1 quiet"

run_kvm_probe() { l1-kvm-probe; }

# qemu ARGS...: QEMU on L1's KVM (the host's CPU, an in-kernel GICv3), serial on stdout, no
# default devices (virt's default NIC wants an option ROM the extracted QEMU lacks).
qemu() {
	timeout 300 ./qemu-system-aarch64 -M virt,gic-version=3 -cpu host -accel kvm -m 512 -nodefaults \
		-nographic -monitor none -serial stdio -no-reboot -kernel Image "$@" </dev/null
}

# The L2 boot time as L1 sees it: QEMU's start to its exit at the guest's poweroff.
timed() { # ARGS...: qemu ARGS, output in out.txt, "L2-BOOT-SECONDS s" last
	t0=$(now)
	qemu "$@" >out.txt 2>&1
	rc=$?
	cat out.txt
	echo "L2-BOOT-SECONDS $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') (exit $rc)"
	return $rc
}

run_qemu_kvm_linux_initrd() {
	# QEMU's own start (the dynamic loader and 50 libraries, emulated) as part of the above.
	t0=$(now)
	./qemu-system-aarch64 --version | head -1
	echo "QEMU-VERSION-SECONDS $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')"
	timed -smp 1 -initrd l2.cpio.gz -append "$qemu_base scenario=none" && grep -q 'L2-USERSPACE-OK' out.txt
}

run_qemu_kvm_smp_2cpu() {
	timed -smp 2 -initrd l2.cpio.gz -append "$qemu_base scenario=none" &&
		grep -q 'L2-USERSPACE-OK scenario=none cpus=2' out.txt
}

# rootfs.ext4 on virtio-blk over virtio-mmio: the guest switch_roots into it, its init
# writes a file there and reports the disk.
run_qemu_kvm_blk_rootfs() {
	cp rootfs.ext4 rootfs-copy.ext4
	timed -smp 1 -initrd l2.cpio.gz -append "$qemu_base scenario=blk-rootfs" \
		-drive file=rootfs-copy.ext4,if=none,id=d0,format=raw -device virtio-blk-device,drive=d0 &&
		grep -q 'L2-ROOTFS-INIT-OK root=/dev/vda' out.txt
}
