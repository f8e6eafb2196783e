/* What each architecture provides to the monitor core. One implementation is linked in
 * (arch/x86_64 today). */
#ifndef N90_ARCH_H
#define N90_ARCH_H

#include <stdint.h>

#include "vmm/config.h"
#include "vmm/vm.h"

struct console;

/* Machine choice from config + kernel image: profile, vCPUs, RAM layout. Returns 0 or an
 * exit status (vmm/exit_status.h) after printing one line. */
int arch_choose_machine(const struct vm_config *cfg, const uint8_t *kernel, size_t kernel_size,
			struct machine_choice *choice);
/* The architecture's per-VM state for the chosen machine (no KVM calls). */
int arch_vm_alloc(struct vm *vm, const struct machine_choice *choice);
/* In-kernel irqchip, timers and other VM-wide KVM state; before vCPUs are created. */
int arch_vm_init(struct vm *vm);
/* Loads the kernel, initrd and tables. Returns 0 or an exit status after one clear line. */
int arch_load_kernel(struct vm *vm, const uint8_t *kernel, size_t kernel_size, const uint8_t *initrd,
		     size_t initrd_size);
/* Opens device backends (disk images) before KVM exists, so bad paths fail the same way
 * on any host. Returns 0 or an exit status after one clear line. */
int arch_open_backends(struct vm *vm);
/* Registers the machine's devices on the buses; the console is COM1's sink. */
int arch_create_devices(struct vm *vm, struct console *console);
/* CPUID, MSRs, FPU, LAPIC and (for the boot vCPU) the entry registers. */
int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu);
/* Register dump on stderr, for crashes. */
void arch_vcpu_dump(struct vcpu *vcpu);
/* Console input for the guest; returns bytes accepted. */
size_t arch_console_input(struct vm *vm, const uint8_t *buf, size_t len);
void arch_print_stats(const struct vm *vm);
void arch_vm_destroy(struct vm *vm);

#endif
