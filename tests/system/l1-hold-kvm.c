/* l1-hold-kvm: keeps one KVM VM open for the whole L1 session. Linux 6.1 turns SVM on in
 * every CPU when the first VM is created and off again when the last one closes
 * (hardware_enable_all / hardware_disable_all, IPIs to every CPU). Under QEMU's TCG such an
 * IPI has been seen never to be answered: L1 then sits in a soft lockup in kvm_destroy_vm
 * until the rig's timeout. With a VM always open, the n90vmm runs never trigger them.
 * Architecture-neutral; L1's init starts it only where the kernel lacks
 * kvm.enable_virt_at_load=Y (Linux 6.12+ turns virtualisation on once, when KVM loads, and
 * never sends those IPIs: the arm64 rig's kernel). */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0 || ioctl(kvm, KVM_CREATE_VM, 0) < 0) {
		perror("l1-hold-kvm");
		return 1;
	}
	for (;;)
		pause();
}
