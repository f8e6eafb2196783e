/* Per-vCPU CPUID patching on a synthetic KVM_GET_SUPPORTED_CPUID table. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/cpuid.h"

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX

struct table_opts {
	uint32_t max_leaf;
	bool with_16, pdpe1gb, host_deadline, with_1f, with_4;
};

/* A table shaped like KVM's: leaf 0, 1, 4 (two cache levels), 0xB and 0x1F subleaves with
 * KVM's zeroed topology, 0x80000000/1, optionally 0x16. */
static struct kvm_cpuid2 *make_table(struct table_opts o)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 16 * sizeof(struct kvm_cpuid_entry2));
	unsigned int n = 0;
	c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 0, .eax = o.max_leaf, .ebx = 0x756e6547 };
	c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 1, .eax = 0x000806f8, .ebx = 0xab010800,
						     .ecx = 0x7ffafbff | (o.host_deadline ? CPUID_1_ECX_TSC_DEADLINE : 0),
						     .edx = 0x0f8bfbff & ~CPUID_1_EDX_HTT };
	if (o.with_4) {
		c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 0, .flags = SIG, .eax = 0x1c004121 };
		c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 1, .flags = SIG, .eax = 0x1c03c163 };
		c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 2, .flags = SIG, .eax = 0 };
	}
	for (uint32_t i = 0; i < 3; i++)
		c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = i, .flags = SIG };
	if (o.with_1f)
		for (uint32_t i = 0; i < 2; i++)
			c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 0x1f, .index = i, .flags = SIG };
	if (o.with_16)
		c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 0x16, .eax = 1, .ebx = 2, .ecx = 3 };
	c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 0x80000000, .eax = 0x80000008 };
	c->entries[n++] = (struct kvm_cpuid_entry2){ .function = 0x80000001, .ecx = 0x121,
						     .edx = 0x28100800 | (o.pdpe1gb ? CPUID_80000001_EDX_PDPE1GB : 0) };
	c->nent = n;
	return c;
}

static struct kvm_cpuid2 *patch(const struct kvm_cpuid2 *base, unsigned int apic_id, unsigned int ncpus,
				uint32_t tsc_khz, bool deadline)
{
	struct cpuid_patch p = { .apic_id = apic_id, .ncpus = ncpus, .tsc_khz = tsc_khz, .tsc_deadline = deadline };
	struct kvm_cpuid2 *c = cpuid_for_vcpu(base, &p);
	cr_assert_not_null(c);
	return c;
}

static struct kvm_cpuid_entry2 *leaf(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, fn, idx);
	cr_assert_not_null(e, "leaf 0x%x.%u missing", fn, idx);
	return e;
}

Test(cpuid, leaf1_identity_and_logical_count)
{
	struct kvm_cpuid2 *base = make_table((struct table_opts){ .max_leaf = 0xd });
	for (unsigned int id = 0; id < 4; id++) {
		struct kvm_cpuid2 *c = patch(base, id, 4, 0, false);
		struct kvm_cpuid_entry2 *l1 = leaf(c, 1, 0);
		cr_assert_eq(l1->ebx >> 24, id, "initial APIC ID in EBX[31:24]");
		cr_assert_eq((l1->ebx >> 16) & 0xff, 4, "logical processors in EBX[23:16]");
		cr_assert_eq(l1->ebx & 0xffff, 0x0800, "brand index and CLFLUSH size untouched");
		cr_assert_eq(l1->eax, 0x000806f8, "signature untouched");
		cr_assert(l1->ecx & CPUID_1_ECX_HYPERVISOR);
		cr_assert(l1->edx & CPUID_1_EDX_HTT, "more than one logical processor");
		free(c);
	}
	struct kvm_cpuid2 *c = patch(base, 63, 64, 0, false);
	cr_assert_eq(leaf(c, 1, 0)->ebx >> 24, 63);
	cr_assert_eq((leaf(c, 1, 0)->ebx >> 16) & 0xff, 64);
	free(c);
	free(base);
}

Test(cpuid, single_cpu_does_not_invent_htt)
{
	struct kvm_cpuid2 *base = make_table((struct table_opts){ .max_leaf = 0xd });
	struct kvm_cpuid2 *c = patch(base, 0, 1, 0, false);
	cr_assert_eq(leaf(c, 1, 0)->edx & CPUID_1_EDX_HTT, 0);
	cr_assert_eq((leaf(c, 1, 0)->ebx >> 16) & 0xff, 1);
	free(c);
	free(base);
}

Test(cpuid, tsc_deadline_follows_the_capability)
{
	struct kvm_cpuid2 *off = make_table((struct table_opts){ .max_leaf = 0xd, .host_deadline = false });
	struct kvm_cpuid2 *on = make_table((struct table_opts){ .max_leaf = 0xd, .host_deadline = true });
	struct kvm_cpuid2 *c = patch(off, 0, 1, 0, true);
	cr_assert(leaf(c, 1, 0)->ecx & CPUID_1_ECX_TSC_DEADLINE, "set when KVM has the capability");
	free(c);
	c = patch(on, 0, 1, 0, false);
	cr_assert_eq(leaf(c, 1, 0)->ecx & CPUID_1_ECX_TSC_DEADLINE, 0, "cleared when it does not");
	cr_assert(leaf(c, 1, 0)->ecx & CPUID_1_ECX_HYPERVISOR);
	cr_assert_eq(leaf(c, 1, 0)->ecx & ~(CPUID_1_ECX_TSC_DEADLINE | CPUID_1_ECX_HYPERVISOR),
		     0x7ffafbff & ~(CPUID_1_ECX_TSC_DEADLINE | CPUID_1_ECX_HYPERVISOR), "other bits untouched");
	free(c);
	free(off);
	free(on);
}

Test(cpuid, leaf_b_topology)
{
	struct kvm_cpuid2 *base = make_table((struct table_opts){ .max_leaf = 0x1f, .with_1f = true });
	static const unsigned int counts[] = { 1, 2, 3, 4, 5, 8, 64 };
	static const unsigned int shifts[] = { 0, 1, 2, 2, 3, 3, 6 };
	for (unsigned int k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		unsigned int id = counts[k] - 1;
		struct kvm_cpuid2 *c = patch(base, id, counts[k], 0, false);
		struct kvm_cpuid_entry2 *l0 = leaf(c, 0xb, 0), *l1 = leaf(c, 0xb, 1), *l2 = leaf(c, 0xb, 2);
		cr_assert_eq(l0->eax & 0x1f, 0, "one thread per core");
		cr_assert_eq(l0->ebx & 0xffff, 1);
		cr_assert_eq(l0->ecx, (1u << 8) | 0, "level 0 is SMT");
		cr_assert_eq(l0->edx, id, "x2APIC ID");
		cr_assert_eq(l1->eax & 0x1f, shifts[k], "%u CPUs need a shift of %u", counts[k], shifts[k]);
		cr_assert_eq(l1->ebx & 0xffff, counts[k]);
		cr_assert_eq(l1->ecx, (2u << 8) | 1, "level 1 is Core");
		cr_assert_eq(l1->edx, id);
		cr_assert_eq(l2->ebx & 0xffff, 0, "level 2 invalid");
		cr_assert_eq((l2->ecx >> 8) & 0xff, 0);
		cr_assert_eq(l2->ecx & 0xff, 2, "level number echoed");
		cr_assert_eq(l2->edx, id);
		cr_assert_eq(leaf(c, 0x1f, 0)->edx, id, "leaf 0x1F carries the x2APIC ID too");
		cr_assert_eq(leaf(c, 0x1f, 1)->edx, id);
		free(c);
	}
	free(base);
}

Test(cpuid, leaf4_cores_per_package)
{
	struct kvm_cpuid2 *base = make_table((struct table_opts){ .max_leaf = 0xd, .with_4 = true });
	struct kvm_cpuid2 *c = patch(base, 2, 6, 0, false);
	cr_assert_eq(leaf(c, 4, 0)->eax >> 26, 5, "EAX[31:26] = cores - 1");
	cr_assert_eq(leaf(c, 4, 0)->eax & 0x3fff, 0x0121, "cache type and level untouched");
	cr_assert_eq(leaf(c, 4, 1)->eax >> 26, 5);
	cr_assert_eq(leaf(c, 4, 2)->eax, 0, "the terminating null subleaf stays null");
	free(c);
	free(base);
}

Test(cpuid, leaf16_added_with_mhz_and_leaf0_raised)
{
	struct kvm_cpuid2 *base = make_table((struct table_opts){ .max_leaf = 0xd });
	struct kvm_cpuid2 *c = patch(base, 0, 2, 2496000, false);
	cr_assert_eq(c->nent, base->nent + 1, "one leaf added");
	struct kvm_cpuid_entry2 *l16 = leaf(c, 0x16, 0);
	cr_assert_eq(l16->eax, 2496, "base MHz");
	cr_assert_eq(l16->ebx, 2496, "max MHz");
	cr_assert_eq(l16->ecx, 1000, "bus MHz");
	cr_assert_eq(leaf(c, 0, 0)->eax, 0x16, "max basic leaf raised to reach 0x16");
	cr_assert_eq(leaf(c, 0, 0)->ebx, 0x756e6547, "vendor untouched");
	free(c);
	free(base);
}

Test(cpuid, leaf16_present_is_overwritten_and_leaf0_not_lowered)
{
	struct kvm_cpuid2 *base = make_table((struct table_opts){ .max_leaf = 0x1f, .with_16 = true });
	struct kvm_cpuid2 *c = patch(base, 0, 1, 3000000, false);
	cr_assert_eq(c->nent, base->nent, "no duplicate leaf");
	cr_assert_eq(leaf(c, 0x16, 0)->eax, 3000);
	cr_assert_eq(leaf(c, 0x16, 0)->edx, 0);
	cr_assert_eq(leaf(c, 0, 0)->eax, 0x1f, "a higher maximum stays");
	free(c);
	free(base);
}

Test(cpuid, unknown_tsc_frequency_leaves_leaf16_alone)
{
	struct kvm_cpuid2 *base = make_table((struct table_opts){ .max_leaf = 0xd });
	struct kvm_cpuid2 *c = patch(base, 0, 1, 0, false);
	cr_assert_null(cpuid_find(c, 0x16, 0));
	cr_assert_eq(leaf(c, 0, 0)->eax, 0xd);
	cr_assert_eq(c->nent, base->nent);
	free(c);
	free(base);
}

Test(cpuid, pdpe1gb_passed_through_untouched)
{
	for (int host = 0; host < 2; host++) {
		struct kvm_cpuid2 *base = make_table((struct table_opts){ .max_leaf = 0xd, .pdpe1gb = host });
		struct kvm_cpuid2 *c = patch(base, 1, 2, 2000000, true);
		struct kvm_cpuid_entry2 *e = leaf(c, 0x80000001, 0);
		cr_assert_eq(e->edx & CPUID_80000001_EDX_PDPE1GB, host ? CPUID_80000001_EDX_PDPE1GB : 0,
			     "PDPE1GB must be exactly the host's (%d)", host);
		cr_assert_eq(e->edx, 0x28100800 | (host ? CPUID_80000001_EDX_PDPE1GB : 0), "whole register untouched");
		cr_assert_eq(e->ecx, 0x121);
		free(c);
		free(base);
	}
}

Test(cpuid, base_table_is_not_modified)
{
	struct kvm_cpuid2 *base = make_table((struct table_opts){ .max_leaf = 0xd, .with_4 = true });
	size_t bytes = sizeof(*base) + base->nent * sizeof(base->entries[0]);
	struct kvm_cpuid2 *copy = malloc(bytes);
	memcpy(copy, base, bytes);
	struct kvm_cpuid2 *c = patch(base, 3, 4, 1000000, true);
	cr_assert(memcmp(copy, base, bytes) == 0, "one template serves every vCPU");
	free(c);
	free(copy);
	free(base);
}

Test(cpuid, find_honours_significant_index)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 4 * sizeof(struct kvm_cpuid_entry2));
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 7, .index = 0, .flags = SIG, .ebx = 1 };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 7, .index = 1, .flags = SIG, .ebx = 2 };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 2, .index = 0, .ebx = 3 };
	c->nent = 3;
	cr_assert_eq(cpuid_find(c, 7, 1)->ebx, 2);
	cr_assert_eq(cpuid_find(c, 7, 0)->ebx, 1);
	cr_assert_null(cpuid_find(c, 7, 2));
	cr_assert_eq(cpuid_find(c, 2, 5)->ebx, 3, "index ignored when not significant");
	cr_assert_null(cpuid_find(c, 0x40000000, 0));
	free(c);
}
