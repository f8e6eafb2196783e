/* The arm64 machine: profile, GICv3, the MMIO 16550 and PL031, the FDT and boot registers,
 * and the pKVM hypercall shim. The virtio devices and their transports are vmm/machine.c's. */
#ifndef N90_A64_VIRT_H
#define N90_A64_VIRT_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/aarch64/pkvm.h"
#include "arch/aarch64/profile.h"
#include "arch/arch.h"
#include "devices/pl031.h"
#include "devices/serial.h"

struct arch_vm {
	const struct arch_profile *profile;
	const struct machine_layout *layout; /* the choice's, kept by vmm/main.c */
	uint64_t entry;                      /* the kernel's load address = first instruction */
	uint64_t fdt_addr;
	int gic_fd;
	bool smccc_filter; /* pKVM calls reach user space */
	struct serial16550 uart;
	struct pl031 rtc;
	struct pkvm_stats pkvm;
	uint64_t hypercall_ns; /* time spent answering forwarded calls, for --stats */
};

/* arch/aarch64/cpu.c */
extern const struct vcpu_exit_ops a64_exit_ops;

#endif
