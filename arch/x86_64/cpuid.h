/* CPUID for each vCPU: KVM's supported set, patched with the vCPU's identity and the
 * machine's topology. Pure functions over a kvm_cpuid2 table, so they are unit-tested. */
#ifndef N90_X86_CPUID_H
#define N90_X86_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

struct cpuid_patch {
	unsigned int apic_id;
	unsigned int ncpus;
	uint32_t tsc_khz;   /* 0: unknown, leaf 0x16 left alone */
	bool tsc_deadline;  /* KVM_CAP_TSC_DEADLINE_TIMER */
};

#define CPUID_MAX_ENTRIES 512

/* Queries KVM_GET_SUPPORTED_CPUID, growing the buffer while KVM says E2BIG. Caller frees. */
struct kvm_cpuid2 *cpuid_get_supported(int kvm_fd);
/* Copy of `base` with room for added leaves, patched for one vCPU. Caller frees. */
struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *base, const struct cpuid_patch *patch);
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index);

#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)
#define CPUID_80000001_EDX_PDPE1GB (1u << 26)

#endif
