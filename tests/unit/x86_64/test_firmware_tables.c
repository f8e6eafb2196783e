/* ACPI, MP table and e820 construction, checked the way a guest reads them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "arch/x86_64/e820.h"
#include "arch/x86_64/tables.h"

static struct guest_mem mem;
static const struct arch_profile *prof;

static void setup(void)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, 256ull << 20, 0xd0000000), 0);
	prof = x86_profile_find("crosvm-x86");
	cr_assert_not_null(prof);
}

static void teardown(void)
{
	guest_mem_free(&mem);
}

TestSuite(firmware_tables, .init = setup, .fini = teardown);

static const uint8_t *at(uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gpa_to_hva_checked(&mem, gpa, len);
	cr_assert_not_null(p, "table at 0x%llx outside RAM", (unsigned long long)gpa);
	return p;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint8_t sum(const uint8_t *p, uint64_t len)
{
	uint8_t s = 0;
	for (uint64_t i = 0; i < len; i++)
		s += p[i];
	return s;
}

/* Finds a table by signature through the XSDT, checking every checksum on the way. */
static const uint8_t *find_table(uint64_t rsdp_gpa, const char *sig)
{
	const uint8_t *rsdp = at(rsdp_gpa, 36);
	cr_assert(memcmp(rsdp, "RSD PTR ", 8) == 0);
	cr_assert_eq(sum(rsdp, 20), 0, "RSDP checksum");
	cr_assert_eq(sum(rsdp, 36), 0, "RSDP extended checksum");
	const uint8_t *xsdt = at(rd64(rsdp + 24), 36);
	cr_assert(memcmp(xsdt, "XSDT", 4) == 0);
	uint32_t len = rd32(xsdt + 4);
	cr_assert_eq(sum(at(rd64(rsdp + 24), len), len), 0, "XSDT checksum");
	for (uint32_t off = 36; off + 8 <= len; off += 8) {
		uint64_t gpa = rd64(xsdt + off);
		const uint8_t *t = at(gpa, 36);
		uint32_t tlen = rd32(t + 4);
		cr_assert_eq(sum(at(gpa, tlen), tlen), 0, "%.4s checksum", t);
		if (memcmp(t, sig, 4) == 0)
			return t;
	}
	return NULL;
}

static void check_madt(unsigned int ncpus)
{
	uint64_t rsdp;
	cr_assert_eq(x86_acpi_build(&mem, prof, ncpus, NULL, 0, NULL, &rsdp), 0);
	const uint8_t *madt = find_table(rsdp, "APIC");
	cr_assert_not_null(madt);
	uint32_t len = rd32(madt + 4), cpus = 0, ioapics = 0, overrides = 0;
	for (uint32_t off = 44; off < len; off += madt[off + 1]) {
		cr_assert_gt(madt[off + 1], 0);
		switch (madt[off]) {
		case 0:
			cr_assert_eq(madt[off + 3], cpus, "APIC IDs are 0..N-1");
			cr_assert_eq(rd32(madt + off + 4) & 1, 1, "enabled");
			cpus++;
			break;
		case 1:
			ioapics++;
			cr_assert_eq(rd32(madt + off + 4), X86_IOAPIC_BASE);
			break;
		case 2:
			if (madt[off + 3] == 0)
				cr_assert_eq(rd32(madt + off + 4), 2, "IRQ 0 -> GSI 2");
			overrides++;
			break;
		}
	}
	cr_assert_eq(cpus, ncpus);
	cr_assert_eq(ioapics, 1);
	cr_assert_eq(overrides, 2);
}

Test(firmware_tables, madt_lists_every_cpu)
{
	check_madt(1);
	check_madt(4);
	check_madt(X86_MAX_CPUS);
}

Test(firmware_tables, fadt_and_dsdt_power_off)
{
	uint64_t rsdp;
	cr_assert_eq(x86_acpi_build(&mem, prof, 2, NULL, 0, NULL, &rsdp), 0);
	const uint8_t *fadt = find_table(rsdp, "FACP");
	cr_assert_not_null(fadt);
	cr_assert_eq(rd32(fadt + 64), prof->pm1_base + 4u, "PM1a_CNT_BLK");
	cr_assert_eq(rd32(fadt + 56), prof->pm1_base, "PM1a_EVT_BLK");
	const uint8_t *dsdt = at(rd64(fadt + 140), 36);
	uint32_t len = rd32(dsdt + 4);
	dsdt = at(rd64(fadt + 140), len);
	cr_assert_eq(sum(dsdt, len), 0, "DSDT checksum");
	const uint8_t *s5 = memmem(dsdt, len, "_S5_", 4);
	cr_assert_not_null(s5);
	cr_assert_eq(s5[4], 0x12, "PackageOp");
	cr_assert_eq(s5[7], 0x00, "SLP_TYPa = 0 (what StarryOS writes)");
}

Test(firmware_tables, dsdt_describes_virtio_mmio_and_pci_root)
{
	struct x86_mmio_device devs[2] = { { 0xf0000000, 0x1000, 5 }, { 0xf0001000, 0x1000, 6 } };
	struct x86_pci_host pci = { 64, 0xf4000000, 0xd0000000, 0x20000000, { 0 } };
	uint64_t rsdp;
	cr_assert_eq(x86_acpi_build(&mem, prof, 1, devs, 2, &pci, &rsdp), 0);
	const uint8_t *fadt = find_table(rsdp, "FACP");
	uint64_t gpa = rd64(fadt + 140);
	uint32_t len = rd32(at(gpa, 36) + 4);
	const uint8_t *dsdt = at(gpa, len);
	cr_assert_eq(sum(dsdt, len), 0);
	cr_assert_not_null(memmem(dsdt, len, "LNRO0005", 8));
	cr_assert_not_null(memmem(dsdt, len, "VR00", 4));
	cr_assert_not_null(memmem(dsdt, len, "VR01", 4));
	cr_assert_not_null(memmem(dsdt, len, "PCI0", 4));
	static const uint8_t pnp0a03[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	cr_assert_not_null(memmem(dsdt, len, pnp0a03, sizeof(pnp0a03)));
	/* The memory resource carries the MMIO base and the GSI. */
	uint32_t base = 0xf0001000, gsi = 6;
	const uint8_t *mem32 = memmem(dsdt, len, &base, 4);
	cr_assert_not_null(mem32);
	cr_assert_eq(rd32(mem32 + 13), gsi);
}

/* PkgLength (ACPI 6.4 §20.2.4) at p: returns the length and sets *size to its byte count. */
static uint32_t pkglength(const uint8_t *p, unsigned int *size)
{
	unsigned int extra = p[0] >> 6;
	uint32_t len = extra ? p[0] & 0x0f : p[0] & 0x3f;
	for (unsigned int i = 0; i < extra; i++)
		len |= (uint32_t)p[1 + i] << (4 + 8 * i);
	*size = 1 + extra;
	return len;
}

/* _PRT as Linux's ACPI interpreter walks it: a package of 124 four-element packages
 * {address, pin, source, GSI}, slot s pin p on gsis[(s + p) % 4], the source Zero. */
Test(firmware_tables, dsdt_pci_routing_table_covers_every_slot_and_pin)
{
	struct x86_pci_host pci = { 64, 0xf4000000, 0xd0000000, 0x20000000, { 16, 17, 18, 19 } };
	uint64_t rsdp;
	cr_assert_eq(x86_acpi_build(&mem, prof, 1, NULL, 0, &pci, &rsdp), 0);
	const uint8_t *fadt = find_table(rsdp, "FACP");
	uint64_t gpa = rd64(fadt + 140);
	uint32_t len = rd32(at(gpa, 36) + 4);
	const uint8_t *dsdt = at(gpa, len), *end = dsdt + len;
	cr_assert_eq(sum(dsdt, len), 0);
	const uint8_t *prt = memmem(dsdt, len, "_PRT", 4);
	cr_assert_not_null(prt);
	cr_assert_eq(prt[-1], 0x08, "NameOp");
	const uint8_t *p = prt + 4;
	cr_assert_eq(*p++, 0x12, "PackageOp");
	unsigned int n;
	uint32_t outer = pkglength(p, &n);
	const uint8_t *outer_end = p + outer;
	cr_assert_leq(outer_end, end);
	p += n;
	cr_assert_eq(*p++, 31 * 4, "NumElements: slots 1..31, pins A..D");
	for (unsigned int slot = 1; slot < 32; slot++) {
		for (unsigned int pin = 0; pin < 4; pin++) {
			cr_assert_lt(p, outer_end);
			cr_assert_eq(*p++, 0x12);
			uint32_t elen = pkglength(p, &n);
			const uint8_t *next = p + elen;
			p += n;
			cr_assert_eq(*p++, 4);
			cr_assert_eq(*p++, 0x0c, "DWordPrefix");
			cr_assert_eq(rd32(p), slot << 16 | 0xffff);
			p += 4;
			cr_assert_eq(p[0], 0x0a);
			cr_assert_eq(p[1], pin);
			cr_assert_eq(p[2], 0x00, "source Zero: a GSI, no link device");
			cr_assert_eq(p[3], 0x0a);
			cr_assert_eq(p[4], pci.intx_gsis[(slot + pin) % 4], "slot %u pin %u", slot, pin);
			p += 5;
			cr_assert_eq(p, next, "element length");
		}
	}
	cr_assert_eq(p, outer_end);
	/* No INTx routing in the profile: no _PRT. */
	struct x86_pci_host bare = { 64, 0xf4000000, 0xd0000000, 0x20000000, { 0 } };
	cr_assert_eq(x86_acpi_build(&mem, prof, 1, NULL, 0, &bare, &rsdp), 0);
	fadt = find_table(rsdp, "FACP");
	gpa = rd64(fadt + 140);
	len = rd32(at(gpa, 36) + 4);
	cr_assert_null(memmem(at(gpa, len), len, "_PRT", 4));
}

Test(firmware_tables, mp_table)
{
	cr_assert_eq(x86_mptable_build(&mem, prof, 4), 0);
	const uint8_t *fp = at(prof->mptable_addr, 16);
	cr_assert(memcmp(fp, "_MP_", 4) == 0);
	cr_assert_eq(sum(fp, 16), 0);
	uint32_t cfg_gpa = rd32(fp + 4);
	const uint8_t *cfg = at(cfg_gpa, 44);
	cr_assert(memcmp(cfg, "PCMP", 4) == 0);
	uint16_t len, count;
	memcpy(&len, cfg + 4, 2);
	memcpy(&count, cfg + 34, 2);
	cfg = at(cfg_gpa, len);
	cr_assert_eq(sum(cfg, len), 0);
	unsigned int cpus = 0, bsp = 0;
	for (uint32_t off = 44, i = 0; i < count; i++) {
		if (cfg[off] == 0) {
			cpus++;
			bsp += (cfg[off + 3] & 2) != 0;
			off += 20;
		} else {
			off += 8;
		}
	}
	cr_assert_eq(cpus, 4);
	cr_assert_eq(bsp, 1);
	cr_assert_eq(x86_mptable_build(&mem, prof, X86_MAX_CPUS + 1), -EINVAL);
}

Test(firmware_tables, acpi_rejects_too_many_cpus)
{
	uint64_t rsdp;
	cr_assert_lt(x86_acpi_build(&mem, prof, X86_MAX_CPUS + 1, NULL, 0, NULL, &rsdp), 0);
}

static void check_e820(uint64_t ram, const char *profile)
{
	struct guest_mem m;
	const struct arch_profile *p = x86_profile_find(profile);
	cr_assert_eq(guest_mem_alloc(&m, 0, ram, p->mmio_hole_start), 0);
	struct e820_entry map[E820_MAX_ENTRIES];
	unsigned int n = x86_build_e820(&m, p, map);
	uint64_t usable = 0;
	for (unsigned int i = 0; i < n; i++) {
		if (i)
			cr_assert_geq(map[i].addr, map[i - 1].addr + map[i - 1].size, "sorted, no overlap");
		if (map[i].type == E820_RAM) {
			usable += map[i].size;
			cr_assert(guest_mem_is_ram(&m, map[i].addr, map[i].size));
		}
	}
	/* Usable RAM is all of RAM except [base_mem_end, 1 MiB): EBDA, VGA hole, BIOS area. */
	cr_assert_eq(usable, ram - (0x100000 - p->base_mem_end));
	guest_mem_free(&m);
}

Test(firmware_tables, e820_maps)
{
	check_e820(256ull << 20, "crosvm-x86");
	check_e820(5ull << 30, "crosvm-x86");
	check_e820(5ull << 30, "starry-x86");
	check_e820(16ull << 20, "starry-x86");
}
