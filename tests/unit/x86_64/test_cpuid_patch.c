/* Per-vCPU CPUID patching on a synthetic KVM_GET_SUPPORTED_CPUID table. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "arch/x86_64/cpuid.h"

static struct kvm_cpuid2 *base_table(bool with_16, bool pdpe1gb)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 8 * sizeof(struct kvm_cpuid_entry2));
	unsigned int n = 0;
	c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 0, .eax = with_16 ? 0x16 : 0xd };
	c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 1, .ebx = 0xdead0800, .ecx = 1u << 24, .edx = 0 };
	c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 0,
						     .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX };
	c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1,
						     .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX };
	c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 0x80000001,
						     .edx = pdpe1gb ? CPUID_80000001_EDX_PDPE1GB : 0 };
	if (with_16)
		c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 0x16, .eax = 1 };
	c->nent = n;
	return c;
}

Test(cpuid_patch, identity_topology_and_hypervisor_bit)
{
	struct kvm_cpuid2 *base = base_table(false, true);
	struct cpuid_patch p = { .apic_id = 3, .ncpus = 4, .tsc_khz = 2496000, .tsc_deadline = true };
	struct kvm_cpuid2 *c = cpuid_for_vcpu(base, &p);
	struct kvm_cpuid_entry2 *l1 = cpuid_find(c, 1, 0);
	cr_assert_eq(l1->ebx >> 24, 3, "initial APIC ID");
	cr_assert_eq((l1->ebx >> 16) & 0xff, 4, "logical processors");
	cr_assert_eq(l1->ebx & 0xffff, 0x0800, "CLFLUSH size kept");
	cr_assert(l1->ecx & CPUID_1_ECX_HYPERVISOR);
	cr_assert(l1->ecx & CPUID_1_ECX_TSC_DEADLINE);
	cr_assert(l1->edx & CPUID_1_EDX_HTT);
	cr_assert_eq(cpuid_find(c, 0xb, 0)->edx, 3, "x2APIC ID");
	cr_assert_eq(cpuid_find(c, 0xb, 1)->ebx, 4, "cores at level 1");
	cr_assert_eq(cpuid_find(c, 0xb, 1)->eax, 2, "APIC ID shift for 4 cores");
	/* Leaf 0x16 added and announced by raising leaf 0's maximum. */
	struct kvm_cpuid_entry2 *l16 = cpuid_find(c, 0x16, 0);
	cr_assert_not_null(l16);
	cr_assert_eq(l16->eax, 2496);
	cr_assert_geq(cpuid_find(c, 0, 0)->eax, 0x16);
	cr_assert(cpuid_find(c, 0x80000001, 0)->edx & CPUID_80000001_EDX_PDPE1GB, "passed through");
	free(c);
	free(base);
}

Test(cpuid_patch, host_without_pdpe1gb_or_deadline)
{
	struct kvm_cpuid2 *base = base_table(true, false);
	struct cpuid_patch p = { .apic_id = 0, .ncpus = 1, .tsc_khz = 0, .tsc_deadline = false };
	struct kvm_cpuid2 *c = cpuid_for_vcpu(base, &p);
	cr_assert_eq(cpuid_find(c, 1, 0)->ecx & CPUID_1_ECX_TSC_DEADLINE, 0);
	cr_assert_eq(cpuid_find(c, 1, 0)->edx & CPUID_1_EDX_HTT, 0);
	cr_assert_eq(cpuid_find(c, 0x80000001, 0)->edx & CPUID_80000001_EDX_PDPE1GB, 0, "not invented");
	cr_assert_eq(cpuid_find(c, 0x16, 0)->eax, 1, "unknown TSC: leaf left alone");
	cr_assert_eq(c->nent, base->nent);
	free(c);
	free(base);
}
