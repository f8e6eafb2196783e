/* The x86_64 machine: profile, boot plan, CPUID template and the legacy PC devices. */
#ifndef N90_X86_MACHINE_H
#define N90_X86_MACHINE_H

#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/post_code.h"
#include "devices/reset_control.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/console.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/net.h"
#include "devices/virtio/pci.h"
#include "vmm/tap.h"
#include "arch/arch.h"
#include "arch/x86_64/boot.h"
#include "arch/x86_64/cpuid.h"
#include "arch/x86_64/profile.h"

/* KVM needs three pages for the real-mode TSS and one for the EPT identity map, below 4 GiB
 * and outside RAM; this sits just under the BIOS ROM area every profile keeps free. */
#define X86_TSS_ADDR 0xfffbd000u
#define X86_IDENTITY_MAP_ADDR 0xfffbc000u

#define X86_MAX_VIRTIO (CONFIG_MAX_DISKS + CONFIG_MAX_NICS + 1)

struct arch_vm {
	const struct x86_profile *profile;
	struct x86_boot_plan plan;
	struct kvm_cpuid2 *supported_cpuid;
	uint32_t refused_msrs; /* bit per boot MSR already reported as refused */

	struct serial16550 uarts[4];
	struct cmos_rtc rtc;
	struct i8042 kbc;
	struct acpi_pm pm;
	struct post_code post;
	struct reset_control reset;

	unsigned int ndisks;
	struct virtio_blk disks[CONFIG_MAX_DISKS];
	unsigned int nnets;
	struct virtio_net nets[CONFIG_MAX_NICS];
	struct tap taps[CONFIG_MAX_NICS];
	struct virtio_console vconsole;
	/* Every virtio device in attach order (disks, NICs, then the console) and its transport. */
	unsigned int nvirtio;
	struct virtio_dev *virtio[X86_MAX_VIRTIO];
	struct virtio_mmio mmio[X86_MAX_VIRTIO];
	struct pci_bus pci;
	struct virtio_pci vpci[X86_MAX_VIRTIO];
	char *cmdline; /* the user's, plus virtio_mmio.device= entries for Linux */
};

#endif
