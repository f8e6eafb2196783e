#include "arch/x86_64/cpuid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

static size_t cpuid_bytes(unsigned int nent)
{
	return sizeof(struct kvm_cpuid2) + nent * sizeof(struct kvm_cpuid_entry2);
}

struct kvm_cpuid2 *cpuid_get_supported(int kvm_fd)
{
	for (unsigned int nent = 64; nent <= CPUID_MAX_ENTRIES; nent *= 2) {
		struct kvm_cpuid2 *cpuid = calloc(1, cpuid_bytes(nent));
		if (!cpuid)
			return NULL;
		cpuid->nent = nent;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
			return cpuid;
		int err = errno;
		free(cpuid);
		if (err != E2BIG) {
			errno = err;
			return NULL;
		}
	}
	errno = E2BIG;
	return NULL;
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
		if (e->function != function)
			continue;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == index)
			return e;
	}
	return NULL;
}

static unsigned int bits_for(unsigned int count)
{
	unsigned int bits = 0;
	while ((1u << bits) < count)
		bits++;
	return bits;
}

struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *base, const struct cpuid_patch *patch)
{
	unsigned int room = base->nent + 2;
	struct kvm_cpuid2 *cpuid = calloc(1, cpuid_bytes(room));
	if (!cpuid)
		return NULL;
	memcpy(cpuid, base, cpuid_bytes(base->nent));
	struct kvm_cpuid_entry2 *e;
	unsigned int core_bits = bits_for(patch->ncpus);

	/* Leaf 1: initial APIC ID and logical processor count in EBX; the hypervisor bit so
	 * guests take paravirtual paths; TSC-deadline when the in-kernel LAPIC supports it. */
	if ((e = cpuid_find(cpuid, 1, 0))) {
		e->ebx = (e->ebx & 0x0000ffffu) | (patch->apic_id << 24) | ((patch->ncpus & 0xff) << 16);
		e->ecx |= CPUID_1_ECX_HYPERVISOR;
		if (patch->tsc_deadline)
			e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
		else
			e->ecx &= ~CPUID_1_ECX_TSC_DEADLINE;
		if (patch->ncpus > 1)
			e->edx |= CPUID_1_EDX_HTT;
	}
	/* Leaf 4 (Intel caches): EAX[31:26] = cores per package - 1; one thread per core. */
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		e = &cpuid->entries[i];
		if (e->function == 4 && (e->eax & 0x1f))
			e->eax = (e->eax & 0x3fffu) | ((patch->ncpus - 1) << 26);
	}
	/* Leaf 0xB (x2APIC topology): level 0 = SMT (1 thread), level 1 = cores; EDX = x2APIC ID. */
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		e = &cpuid->entries[i];
		if (e->function != 0xb && e->function != 0x1f)
			continue;
		e->edx = patch->apic_id;
		if (e->function == 0x1f)
			continue;
		if (e->index == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx = (1u << 8) | 0;
		} else if (e->index == 1) {
			e->eax = core_bits;
			e->ebx = patch->ncpus;
			e->ecx = (2u << 8) | 1;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
	}
	/* Leaf 0x16: TSC (and nominal) frequency in MHz. StarryOS reads it to scale time and
	 * assumes 4 GHz without it. The bus (LAPIC timer) frequency is KVM's fixed 1 GHz. */
	if (patch->tsc_khz) {
		e = cpuid_find(cpuid, 0x16, 0);
		if (!e) {
			e = &cpuid->entries[cpuid->nent++];
			memset(e, 0, sizeof(*e));
			e->function = 0x16;
		}
		e->eax = e->ebx = patch->tsc_khz / 1000;
		e->ecx = 1000;
		e->edx = 0;
		struct kvm_cpuid_entry2 *leaf0 = cpuid_find(cpuid, 0, 0);
		if (leaf0 && leaf0->eax < 0x16)
			leaf0->eax = 0x16;
	}
	return cpuid;
}
