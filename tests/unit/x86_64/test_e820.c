/* The e820 memory map every boot protocol hands over. */
#include <criterion/criterion.h>
#include <string.h>

#include "arch/x86_64/e820.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define FOUR_GIB (4ull << 30)

struct map {
	struct e820_entry e[E820_MAX_ENTRIES];
	unsigned int n;
	uint64_t ram, reserved;
};

static struct map build_map(const char *profile, uint64_t ram_bytes, struct guest_mem *mem)
{
	const struct arch_profile *p = x86_profile_find(profile);
	cr_assert_not_null(p, "%s", profile);
	cr_assert_eq(guest_mem_alloc(mem, 0, ram_bytes, p->mmio_hole_start), 0);
	struct map m = { 0 };
	m.n = x86_build_e820(mem, p, m.e);
	cr_assert_gt(m.n, 0);
	cr_assert_leq(m.n, E820_MAX_ENTRIES);
	for (unsigned int i = 0; i < m.n; i++) {
		cr_assert_gt(m.e[i].size, 0, "entry %u is empty", i);
		cr_assert(m.e[i].type == E820_RAM || m.e[i].type == E820_RESERVED || m.e[i].type == E820_ACPI);
		if (i) {
			cr_assert_gt(m.e[i].addr, m.e[i - 1].addr, "sorted");
			cr_assert_geq(m.e[i].addr, m.e[i - 1].addr + m.e[i - 1].size, "entries %u and %u overlap", i - 1, i);
		}
		if (m.e[i].type == E820_RAM) {
			m.ram += m.e[i].size;
			cr_assert(guest_mem_is_ram(mem, m.e[i].addr, m.e[i].size), "RAM entry %u is not backed", i);
		} else {
			m.reserved += m.e[i].size;
		}
	}
	return m;
}

/* The part of RAM below 1 MiB that the map keeps from the guest: EBDA (with the MP table)
 * from base_mem_end to 640K, and the VGA/ROM area up to 1 MiB. */
static void check_low_mib(const struct map *m, const struct arch_profile *p)
{
	cr_assert_eq(m->e[0].addr, 0);
	cr_assert_eq(m->e[0].type, E820_RAM);
	cr_assert_eq(m->e[0].size, p->base_mem_end, "conventional memory up to the EBDA");
	int ebda = 0, bios = 0, from_1m = 0;
	for (unsigned int i = 0; i < m->n; i++) {
		const struct e820_entry *e = &m->e[i];
		if (e->addr < p->mptable_addr + 16 && e->addr + e->size > p->mptable_addr) {
			cr_assert_neq(e->type, E820_RAM, "the MP table must not be in usable RAM");
			ebda = 1;
		}
		if (e->addr <= p->acpi_addr && e->addr + e->size >= p->acpi_end) {
			cr_assert_neq(e->type, E820_RAM, "the ACPI tables must not be in usable RAM");
			bios = 1;
		}
		if (e->addr < 0x100000 && e->addr + e->size > 0xa0000)
			cr_assert_neq(e->type, E820_RAM, "no usable RAM in the VGA/ROM hole");
		if (e->addr == 0x100000 && e->type == E820_RAM)
			from_1m = 1;
	}
	cr_assert(ebda);
	cr_assert(bios);
	cr_assert(from_1m, "usable RAM starts again at 1 MiB");
}

static void check(const char *profile, uint64_t ram_bytes)
{
	struct guest_mem mem;
	const struct arch_profile *p = x86_profile_find(profile);
	struct map m = build_map(profile, ram_bytes, &mem);
	check_low_mib(&m, p);
	/* RAM listed = guest RAM minus what sits in [base_mem_end, 1 MiB). */
	cr_assert_eq(m.ram, ram_bytes - (0x100000 - p->base_mem_end), "%s, %llu MiB", profile,
		     (unsigned long long)(ram_bytes >> 20));
	uint64_t hole = p->mmio_hole_start;
	const struct e820_entry *low = NULL, *ecam = NULL;
	for (unsigned int i = 0; i < m.n; i++) {
		const struct e820_entry *e = &m.e[i];
		if (e->type == E820_RAM && e->addr < FOUR_GIB)
			low = e;
		if (e->type == E820_RAM)
			cr_assert(e->addr + e->size <= hole || e->addr >= FOUR_GIB, "RAM entry %u reaches into the MMIO hole", i);
		if (e->addr == p->pci_ecam_base)
			ecam = e;
	}
	/* The profile's ECAM is reserved (Linux trusts the MCFG only then). */
	cr_assert_not_null(ecam, "%s: ECAM at 0x%llx reserved", profile, (unsigned long long)p->pci_ecam_base);
	cr_assert_eq(ecam->type, E820_RESERVED);
	cr_assert_eq(ecam->size, p->pci_ecam_size);
	if (ram_bytes > hole) {
		const struct e820_entry *last = &m.e[m.n - 1];
		cr_assert_eq(last->addr, FOUR_GIB, "RAM above the hole continues at 4 GiB");
		cr_assert_eq(last->size, ram_bytes - hole);
		cr_assert_eq(last->type, E820_RAM);
		cr_assert_eq(low->addr + low->size, hole, "low RAM ends at the hole (0x%llx)", (unsigned long long)hole);
	} else {
		cr_assert_eq(low->addr + low->size, ram_bytes, "low RAM ends at the end of RAM");
	}
	guest_mem_free(&mem);
}

Test(e820, crosvm_256m)
{
	check("crosvm-x86", 256 * MIB);
}

Test(e820, crosvm_5g_hole_at_0xd0000000)
{
	check("crosvm-x86", 5 * GIB);
	cr_assert_eq(x86_profile_find("crosvm-x86")->mmio_hole_start, 0xd0000000ull);
}

Test(e820, starry_256m)
{
	check("starry-x86", 256 * MIB);
}

Test(e820, starry_5g_hole_at_0xb0000000)
{
	check("starry-x86", 5 * GIB);
	cr_assert_eq(x86_profile_find("starry-x86")->mmio_hole_start, 0xb0000000ull);
}

Test(e820, minimum_and_exactly_at_the_hole)
{
	check("starry-x86", 16 * MIB);
	check("crosvm-x86", 0xd0000000ull);
	check("starry-x86", 0xb0000000ull + 2 * MIB);
}

Test(e820, five_gib_map_in_full)
{
	struct guest_mem mem;
	struct map m = build_map("crosvm-x86", 5 * GIB, &mem);
	const struct e820_entry want[] = {
		{ 0, 0x9e800, E820_RAM },
		{ 0x9e800, 0xa0000 - 0x9e800, E820_RESERVED },
		{ 0xe0000, 0x20000, E820_RESERVED },
		{ 0x100000, 0xd0000000ull - 0x100000, E820_RAM },
		{ 0xf4000000ull, 0x4000000, E820_RESERVED }, /* ECAM, 64 buses */
		{ FOUR_GIB, 5 * GIB - 0xd0000000ull, E820_RAM },
	};
	cr_assert_eq(m.n, sizeof(want) / sizeof(want[0]));
	for (unsigned int i = 0; i < m.n; i++) {
		cr_assert_eq(m.e[i].addr, want[i].addr, "entry %u addr", i);
		cr_assert_eq(m.e[i].size, want[i].size, "entry %u size", i);
		cr_assert_eq(m.e[i].type, want[i].type, "entry %u type", i);
	}
	guest_mem_free(&mem);
}
