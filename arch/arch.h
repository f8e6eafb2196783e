/* What each architecture provides to the monitor core. Exactly one arch/<arch>/ is linked
 * (the Makefile picks it by ARCH); vmm/main.c calls these hooks in the order they are
 * listed, around the generic steps of vmm/vm.c and vmm/machine.c. Hooks documented as
 * returning an exit status print their one line themselves; the others return 0 or -errno
 * after logging why. */
#ifndef N90_ARCH_H
#define N90_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"
#include "vmm/machine.h"
#include "vmm/vm.h"

struct console;

/* This build's architecture, as `uname -m` names it ("x86_64", "aarch64"). */
extern const char arch_name[];
/* The kernel formats it boots, for --help ("multiboot, ELF/PVH vmlinux or bzImage"). */
extern const char arch_kernel_formats[];
/* What `n90vmm --features` lists for this architecture (boot formats, firmware tables,
 * its own devices), NULL-terminated. */
extern const char *const arch_features[];
/* crosvm's earlycon= for the console UART (x86: port I/O; arm64: MMIO). */
extern const char arch_serial_earlycon[];
/* The machine profiles this architecture has, for --help and error messages: NULL after
 * the last. */
const char *arch_profile_name(unsigned int index);

/* Machine choice from config + kernel image: profile, vCPUs, the layout. Before KVM exists.
 * Returns 0 or an exit status. */
int arch_choose_machine(const struct vm_config *cfg, const uint8_t *kernel, size_t kernel_size,
			struct machine_choice *choice);
/* The architecture's per-VM state for the chosen machine (no KVM calls); sets vm->arch and
 * vm->exit_ops. */
int arch_vm_alloc(struct vm *vm, const struct machine_choice *choice);
/* Loads the kernel, initrd, command line and firmware tables into guest memory. Returns 0
 * or an exit status. */
int arch_load_kernel(struct vm *vm, const uint8_t *kernel, size_t kernel_size, const uint8_t *initrd,
		     size_t initrd_size);
/* VM-wide KVM state that must exist before devices and vCPUs (x86: irqchip and PIT;
 * arm64: the GIC device). */
int arch_vm_init(struct vm *vm);
/* The devices only this machine has (x86: the PC's UARTs, RTC, i8042, PM1 ...; arm64: the
 * MMIO 16550); sets m->console_uart. The console is the UART's sink. */
int arch_create_devices(struct vm *vm, struct machine *m, struct console *console);
/* One vCPU's architectural state (CPUID and MSRs; arm64 VCPU_INIT) and, for the boot vCPU,
 * its entry registers. */
int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu);
/* After every vCPU exists, before the virtio devices and before any vCPU runs (arm64: the
 * GIC's final init, which KVM needs before it takes irqfds). */
int arch_vm_finalize(struct vm *vm);
/* Counters of the architecture's own devices, for --stats. */
void arch_print_stats(const struct vm *vm);
void arch_vm_destroy(struct vm *vm);

#endif
