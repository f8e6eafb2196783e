#!/bin/busybox sh
# /init of the rig's L1 (tests/system/l1.sh builds it in, for either architecture): mounts,
# the modules, then runs /l1/run (the script l1.sh was given) and hands its exit status back
# to the host. /etc/rig-arch says which machine this is; the differences are:
#   x86_64  kvm-amd/kvm-intel are modules; the script talks on ttyS0 (the kernel's console is
#           ttyS1); the status leaves through QEMU's isa-debug-exit device (l1-exit).
#   arm64   KVM is built in; the script talks on hvc0 (a virtio console; the kernel's console
#           is the PL011, ttyAMA0); QEMU's virt machine has no isa-debug-exit, so the status
#           is written to the virtio-serial port "n90.status" (QEMU puts it in a file that
#           l1.sh reads) and L1 powers off (PSCI SYSTEM_OFF ends QEMU).
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
arch=$(cat /etc/rig-arch)
# In load order (lib/modules/order): KVM where it is a module; tun for the taps of virtio-net
# scenarios and tests.
for m in $(cat /lib/modules/order); do insmod "/lib/modules/$m.ko" 2>/dev/null; done
ip link set lo up
status_port() {
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = n90.status ] && echo "/dev/${p##*/}"
	done
}
report() {
	echo "L1-STATUS=$1"
	if [ "$arch" = arm64 ]; then
		echo "$1" >"$(status_port)"
	else
		l1-exit "$1"
	fi
	poweroff -f
}
if [ ! -c /dev/kvm ]; then echo "l1: no /dev/kvm in L1"; report 125; fi
# One VM held open all session (l1-hold-kvm.c says why). A kernel that turns virtualisation
# on in every CPU when KVM loads (kvm.enable_virt_at_load=Y, Linux 6.12+: the arm64 rig's)
# sends no enable/disable IPIs at VM creation and needs no holder.
if [ "$(cat /sys/module/kvm/parameters/enable_virt_at_load 2>/dev/null)" != Y ]; then
	l1-hold-kvm &
fi
cd /l1
if [ -f /l1/interactive ]; then setsid cttyhack sh; report 0; fi
# To the kernel's console (the host's LOG.kernel): how long L1 took to get here.
echo "l1: the script starts at $(cut -d' ' -f1 /proc/uptime) s of L1 uptime"
case $arch in
arm64) exec </dev/null >/dev/hvc0 2>&1 ;;
*) exec </dev/null >/dev/ttyS0 2>&1 ;;
esac
sh /l1/run; report $?
