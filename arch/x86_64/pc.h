/* The x86_64 machine: profile, boot plan, CPUID template and the legacy PC devices. The
 * virtio devices and their transports are vmm/machine.c's. */
#ifndef N90_X86_PC_H
#define N90_X86_PC_H

#include <linux/kvm.h>

#include "arch/arch.h"
#include "arch/x86_64/boot.h"
#include "arch/x86_64/cpuid.h"
#include "arch/x86_64/profile.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/post_code.h"
#include "devices/reset_control.h"
#include "devices/rtc.h"
#include "devices/serial.h"

/* KVM needs three pages for the real-mode TSS and one for the EPT identity map, below 4 GiB
 * and outside RAM; this sits just under the BIOS ROM area every profile keeps free. */
#define X86_TSS_ADDR 0xfffbd000u
#define X86_IDENTITY_MAP_ADDR 0xfffbc000u

struct arch_vm {
	const struct arch_profile *profile;
	const struct machine_layout *layout; /* the choice's, kept by vmm/main.c */
	struct x86_boot_plan plan;
	struct kvm_cpuid2 *supported_cpuid;
	uint32_t refused_msrs; /* bit per boot MSR already reported as refused */

	struct serial16550 uarts[4];
	struct cmos_rtc rtc;
	struct i8042 kbc;
	struct acpi_pm pm;
	struct post_code post;
	struct reset_control reset;
	char *cmdline; /* the user's, plus virtio_mmio.device= entries for Linux */
};

/* arch/x86_64/cpu.c: what a vCPU thread asks of x86 (register dump, the kvm-pvm reading of
 * an internal error). */
extern const struct vcpu_exit_ops x86_exit_ops;

#endif
