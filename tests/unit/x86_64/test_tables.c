/* ACPI tables and the Intel MP table, read back from guest memory the way a guest finds them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/profile.h"
#include "arch/x86_64/tables.h"
#include "tests/unit/unit_util.h"

static struct guest_mem mem;
static const struct arch_profile *prof;

static void setup(void)
{
	prof = x86_profile_find("crosvm-x86");
	cr_assert_not_null(prof);
	cr_assert_eq(guest_mem_alloc(&mem, 0, 256ull << 20, prof->mmio_hole_start), 0);
}

static void teardown(void)
{
	guest_mem_free(&mem);
}

TestSuite(tables, .init = setup, .fini = teardown);

static const uint8_t *at(uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gpa_to_hva_checked(&mem, gpa, len);
	cr_assert_not_null(p, "[0x%llx, +0x%llx) is not RAM", (unsigned long long)gpa, (unsigned long long)len);
	return p;
}

/* A whole system description table: header sane, inside the ACPI area, checksum zero. */
static const uint8_t *sdt(uint64_t gpa, const char *sig)
{
	const uint8_t *h = at(gpa, 36);
	cr_assert(memcmp(h, sig, 4) == 0, "expected %s at 0x%llx, found %.4s", sig, (unsigned long long)gpa, h);
	uint32_t len = rd32(h + 4);
	cr_assert_geq(len, 36);
	cr_assert_geq(gpa, prof->acpi_addr, "%s below the ACPI area", sig);
	cr_assert_leq(gpa + len, prof->acpi_end, "%s runs past the ACPI area", sig);
	const uint8_t *t = at(gpa, len);
	cr_assert_eq(sum8(t, len), 0, "%s checksum", sig);
	cr_assert(memcmp(t + 10, "N90VMM", 6) == 0, "%s OEM ID", sig);
	return t;
}

struct acpi_view {
	uint64_t rsdp, xsdt, rsdt, fadt, madt, mcfg, dsdt, facs;
};

static struct acpi_view build(unsigned int ncpus, const struct x86_mmio_device *devs, unsigned int ndevs,
			      const struct x86_pci_host *pci)
{
	struct acpi_view v = { 0 };
	cr_assert_eq(x86_acpi_build(&mem, prof, ncpus, devs, ndevs, pci, &v.rsdp), 0);
	const uint8_t *rsdp = at(v.rsdp, 36);
	cr_assert(memcmp(rsdp, "RSD PTR ", 8) == 0);
	cr_assert_eq(v.rsdp % 16, 0, "RSDP on a 16-byte boundary (guests scan for it)");
	cr_assert_geq(v.rsdp, 0xe0000, "inside the BIOS area a legacy scan covers");
	cr_assert_lt(v.rsdp, 0x100000);
	cr_assert_eq(sum8(rsdp, 20), 0, "ACPI 1.0 checksum over 20 bytes");
	cr_assert_eq(sum8(rsdp, 36), 0, "extended checksum over 36 bytes");
	cr_assert_eq(rsdp[15], 2, "revision 2: XSDT present");
	cr_assert_eq(rd32(rsdp + 20), 36);
	v.rsdt = rd32(rsdp + 16);
	v.xsdt = rd64(rsdp + 24);

	const uint8_t *xsdt = sdt(v.xsdt, "XSDT");
	const uint8_t *rsdt = sdt(v.rsdt, "RSDT");
	/* FADT and MADT; with a PCI host the MCFG too. */
	unsigned int ntables = pci ? 3 : 2;
	cr_assert_eq(rd32(xsdt + 4), 36 + ntables * 8, "XSDT lists %u tables", ntables);
	cr_assert_eq(rd32(rsdt + 4), 36 + ntables * 4);
	for (unsigned int i = 0; i < ntables; i++) {
		uint64_t gpa = rd64(xsdt + 36 + 8 * i);
		cr_assert_eq(rd32(rsdt + 36 + 4 * i), gpa, "RSDT and XSDT agree on entry %u", i);
		const uint8_t *h = at(gpa, 36);
		if (memcmp(h, "FACP", 4) == 0)
			v.fadt = gpa;
		else if (memcmp(h, "APIC", 4) == 0)
			v.madt = gpa;
		else if (memcmp(h, "MCFG", 4) == 0)
			v.mcfg = gpa;
	}
	cr_assert_eq(v.mcfg != 0, pci != NULL, "an MCFG exactly when there is a PCI host");
	cr_assert_neq(v.fadt, 0, "XSDT -> FACP");
	cr_assert_neq(v.madt, 0, "XSDT -> APIC");
	const uint8_t *fadt = sdt(v.fadt, "FACP");
	v.dsdt = rd64(fadt + 140);
	v.facs = rd32(fadt + 36);
	sdt(v.dsdt, "DSDT");
	sdt(v.madt, "APIC");
	return v;
}

Test(tables, rsdp_xsdt_rsdt_one_and_four_cpus)
{
	build(1, NULL, 0, NULL);
	build(4, NULL, 0, NULL);
}

Test(tables, tables_do_not_overlap)
{
	struct acpi_view v = build(4, NULL, 0, NULL);
	uint64_t start[7] = { v.rsdp, v.facs, v.dsdt, v.fadt, v.madt, v.xsdt, v.rsdt };
	uint64_t len[7] = { 36, 64, 0, 0, 0, 0, 0 };
	for (int i = 2; i < 7; i++)
		len[i] = rd32(at(start[i], 8) + 4);
	for (int i = 0; i < 7; i++)
		for (int j = i + 1; j < 7; j++)
			cr_assert(start[i] + len[i] <= start[j] || start[j] + len[j] <= start[i],
				  "tables %d and %d overlap", i, j);
}

Test(tables, fadt_power_management_block)
{
	static const char *const names[] = { "crosvm-x86", "starry-x86" };
	for (int n = 0; n < 2; n++) {
		prof = x86_profile_find(names[n]);
		struct acpi_view v = build(2, NULL, 0, NULL);
		const uint8_t *f = at(v.fadt, 276);
		cr_assert_eq(rd32(f + 4), 276, "ACPI 6 FADT length");
		cr_assert_eq(f[8], 6, "FADT revision");
		cr_assert_eq(rd16(f + 46), prof->sci_irq, "SCI_INT");
		cr_assert_eq(rd32(f + 48), 0, "SMI_CMD 0: always in ACPI mode");
		cr_assert_eq(rd32(f + 56), prof->pm1_base, "PM1a_EVT_BLK");
		cr_assert_eq(rd32(f + 64), prof->pm1_base + 4u, "PM1a_CNT_BLK = pm1_base + 4 (%s)", names[n]);
		cr_assert_eq(f[88], 4, "PM1_EVT_LEN");
		cr_assert_eq(f[89], 2, "PM1_CNT_LEN");
		cr_assert_eq(f[108], 0x32, "CENTURY is CMOS register 0x32");
		uint32_t flags = rd32(f + 112);
		cr_assert_eq(flags & (1u << 20), 0, "not HW_REDUCED_ACPI: the PM1 block is used");
		cr_assert_neq(flags & (1u << 10), 0, "RESET_REG_SUP");
		/* RESET_REG: system I/O, 8 bits at 0xCF9, value 6. */
		cr_assert_eq(f[116], 1);
		cr_assert_eq(f[117], 8);
		cr_assert_eq(rd64(f + 120), 0xcf9);
		cr_assert_eq(f[128], 6);
		/* X_PM1a_EVT_BLK and X_PM1a_CNT_BLK say the same as the 32-bit fields. */
		cr_assert_eq(f[148], 1, "system I/O");
		cr_assert_eq(f[149], 32);
		cr_assert_eq(rd64(f + 152), prof->pm1_base);
		cr_assert_eq(f[172], 1);
		cr_assert_eq(f[173], 16);
		cr_assert_eq(rd64(f + 176), prof->pm1_base + 4u);
		cr_assert_eq(rd32(f + 40), v.dsdt, "DSDT and X_DSDT agree");
		teardown();
		setup();
	}
}

Test(tables, facs)
{
	struct acpi_view v = build(1, NULL, 0, NULL);
	cr_assert_eq(v.facs % 64, 0, "FACS is 64-byte aligned");
	const uint8_t *facs = at(v.facs, 64);
	cr_assert(memcmp(facs, "FACS", 4) == 0);
	cr_assert_eq(rd32(facs + 4), 64);
}

Test(tables, dsdt_s5_package_says_sleep_type_0)
{
	struct acpi_view v = build(1, NULL, 0, NULL);
	const uint8_t *d = at(v.dsdt, 36);
	uint32_t len = rd32(d + 4);
	d = at(v.dsdt, len);
	const uint8_t *s5 = memmem(d, len, "\x08_S5_", 5);
	cr_assert_not_null(s5, "Name (_S5_, ...) in the DSDT");
	cr_assert_eq(s5[5], 0x12, "PackageOp");
	uint8_t pkglen = s5[6];
	cr_assert_eq(pkglen >> 6, 0, "one-byte PkgLength");
	cr_assert_leq((size_t)(s5 - d) + 6 + pkglen, len, "package inside the table");
	cr_assert_geq(s5[7], 2, "at least SLP_TYPa and SLP_TYPb");
	cr_assert(s5[8] == 0x00 || (s5[8] == 0x0a && s5[9] == 0x00), "SLP_TYPa = 0 (ZeroOp or BytePrefix 0)");
}

/* AML PkgLength (ACPI 6.4 §20.2.4): returns the encoded length and its size in *n. */
static uint32_t pkglength(const uint8_t *p, unsigned int *n)
{
	unsigned int follow = p[0] >> 6;
	*n = follow + 1;
	if (follow == 0)
		return p[0] & 0x3f;
	cr_assert_eq(p[0] & 0x30, 0, "bits 4-5 of a multi-byte PkgLength lead byte are reserved");
	uint32_t v = p[0] & 0x0f;
	for (unsigned int i = 1; i <= follow; i++)
		v |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	return v;
}

/* Checks Device's _CRS buffer: BufferOp PkgLength BytePrefix size, contents ending in an End
 * Tag. Returns the resource template. */
static const uint8_t *device_crs(const uint8_t *dev, uint32_t devlen, uint8_t *size)
{
	const uint8_t *crs = memmem(dev, devlen, "\x08_CRS\x11", 6);
	cr_assert_not_null(crs, "device without _CRS");
	const uint8_t *buf = crs + 5;
	unsigned int n;
	uint32_t plen = pkglength(buf + 1, &n);
	cr_assert_eq(buf[1 + n], 0x0a, "BufferSize as a ByteConst");
	*size = buf[2 + n];
	cr_assert_eq(plen, n + 2 + *size, "Buffer PkgLength covers exactly the size byte and the data");
	cr_assert_leq((uint32_t)(buf + 1 + plen - dev), devlen, "buffer inside its device");
	const uint8_t *res = buf + 3 + n;
	cr_assert_eq(res[*size - 2], 0x79, "End Tag");
	return res;
}

/* Walks \_SB_'s Devices; the PkgLengths must tile the scope exactly up to the table end. */
static void check_sb_scope(const uint8_t *d, uint32_t len, const struct x86_mmio_device *devs, unsigned int ndevs,
			   const struct x86_pci_host *pci)
{
	const uint8_t *scope = memmem(d, len, "\\_SB_", 5);
	cr_assert_not_null(scope);
	/* ScopeOp, then a PkgLength of 1 to 4 bytes, then the name. */
	const uint8_t *op = NULL;
	unsigned int n = 0;
	uint32_t slen = 0;
	for (unsigned int k = 1; k <= 4 && !op; k++) {
		const uint8_t *cand = scope - 1 - k;
		if (cand >= d && cand[0] == 0x10 && (cand[1] >> 6) + 1u == k) {
			op = cand;
			slen = pkglength(op + 1, &n);
		}
	}
	cr_assert_not_null(op, "ScopeOp PkgLength \\_SB_");
	cr_assert_eq((uint32_t)(op + 1 - d) + slen, len, "the scope runs to the end of the DSDT");
	const uint8_t *p = scope + 5, *end = op + 1 + slen;
	unsigned int count = 0;
	while (p < end) {
		cr_assert(p[0] == 0x5b && p[1] == 0x82, "DeviceOp expected at offset %ld", (long)(p - d));
		uint32_t dlen = pkglength(p + 2, &n);
		const uint8_t *dev = p + 2, *name = p + 2 + n;
		cr_assert_leq(dev + dlen, end, "device runs past the scope");
		uint8_t size;
		const uint8_t *res = device_crs(dev, dlen, &size);
		if (count < ndevs) {
			char expect[16];
			snprintf(expect, sizeof(expect), "VR%02X", count & 0xff);
			cr_assert(memcmp(name, expect, 4) == 0, "device %u is %.4s", count, name);
			cr_assert_not_null(memmem(dev, dlen, "LNRO0005", 8));
			cr_assert_eq(res[0], 0x86, "Memory32Fixed");
			cr_assert_eq(rd32(res + 4), (uint32_t)devs[count].base);
			cr_assert_eq(rd32(res + 8), (uint32_t)devs[count].size);
			cr_assert_eq(res[12], 0x89, "Extended Interrupt");
			cr_assert_eq(res[15] & 0x03, 0x03, "consumer, edge");
			cr_assert_eq(res[16], 1);
			cr_assert_eq(rd32(res + 17), devs[count].gsi);
		} else {
			cr_assert_not_null(pci);
			cr_assert(memcmp(name, "PCI0", 4) == 0);
			static const uint8_t pnp0a03[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
			cr_assert_not_null(memmem(dev, dlen, pnp0a03, sizeof(pnp0a03)), "_HID EisaId(PNP0A03)");
			cr_assert_eq(res[0], 0x88, "WordBusNumber first");
			cr_assert_eq(res[3], 2, "bus number range");
			cr_assert_eq(rd16(res + 8), 0, "_MIN bus");
			cr_assert_eq(rd16(res + 10), pci->bus_count - 1, "_MAX bus");
			cr_assert_eq(rd16(res + 14), pci->bus_count, "_LEN buses");
			const uint8_t *mem32 = memmem(res, size, "\x87\x17\x00\x00", 4);
			cr_assert_not_null(mem32, "DWordMemory window");
			cr_assert_eq(rd32(mem32 + 10), (uint32_t)pci->window_base);
			cr_assert_eq(rd32(mem32 + 14), (uint32_t)(pci->window_base + pci->window_size - 1));
			cr_assert_eq(rd32(mem32 + 22), (uint32_t)pci->window_size);
		}
		count++;
		p = dev + dlen;
	}
	cr_assert_eq(p, end, "devices tile the scope exactly");
	cr_assert_eq(count, ndevs + (pci ? 1 : 0));
}

Test(tables, dsdt_devices_aml_structure)
{
	struct x86_mmio_device devs[8];
	for (unsigned int i = 0; i < 8; i++)
		devs[i] = (struct x86_mmio_device){ prof->virtio_mmio_base + i * 0x1000, 0x1000, prof->virtio_mmio_gsis[i] };
	struct x86_pci_host pci = { 64, prof->pci_ecam_base, prof->pci_window_base, prof->pci_window_size, { 0 } };
	memcpy(pci.intx_gsis, prof->pci_intx_gsis, sizeof(pci.intx_gsis)); /* with _PRT: the largest DSDT */
	static const unsigned int counts[] = { 1, 2, 8 };
	for (unsigned int c = 0; c < 3; c++) {
		for (int with_pci = 0; with_pci < 2; with_pci++) {
			struct acpi_view v = build(2, devs, counts[c], with_pci ? &pci : NULL);
			const uint8_t *d = at(v.dsdt, 36);
			uint32_t len = rd32(d + 4);
			check_sb_scope(at(v.dsdt, len), len, devs, counts[c], with_pci ? &pci : NULL);
		}
	}
	struct acpi_view v = build(1, NULL, 0, &pci);
	uint32_t len = rd32(at(v.dsdt, 36) + 4);
	check_sb_scope(at(v.dsdt, len), len, NULL, 0, &pci);
}

Test(tables, dsdt_without_devices_has_no_sb_scope)
{
	struct acpi_view v = build(1, NULL, 0, NULL);
	uint32_t len = rd32(at(v.dsdt, 36) + 4);
	cr_assert_null(memmem(at(v.dsdt, len), len, "\\_SB_", 5));
}

Test(tables, too_many_devices_for_the_dsdt_fail_cleanly)
{
	static struct x86_mmio_device devs[200];
	for (unsigned int i = 0; i < 200; i++)
		devs[i] = (struct x86_mmio_device){ 0xf0000000u + i * 0x1000, 0x1000, 5 };
	uint64_t rsdp = 0;
	int ret = x86_acpi_build(&mem, prof, 1, devs, 200, NULL, &rsdp);
	cr_assert_lt(ret, 0, "200 devices do not fit the DSDT buffer");
}

static void check_madt(unsigned int ncpus)
{
	struct acpi_view v = build(ncpus, NULL, 0, NULL);
	const uint8_t *m = at(v.madt, 44);
	uint32_t len = rd32(m + 4);
	m = at(v.madt, len);
	cr_assert_eq(rd32(m + 36), X86_LAPIC_BASE);
	cr_assert_eq(rd32(m + 40) & 1, 1, "PCAT_COMPAT");
	unsigned int cpus = 0, ioapics = 0, irq0 = 0, sci = 0, nmi = 0;
	uint32_t off = 44;
	while (off < len) {
		uint8_t type = m[off], elen = m[off + 1];
		cr_assert_geq(elen, 2);
		cr_assert_leq(off + elen, len, "entry past the table end");
		switch (type) {
		case 0:
			cr_assert_eq(elen, 8);
			cr_assert_eq(m[off + 2], cpus, "processor UID");
			cr_assert_eq(m[off + 3], cpus, "APIC ID %u", cpus);
			cr_assert_eq(rd32(m + off + 4) & 1, 1, "enabled");
			cpus++;
			break;
		case 1:
			cr_assert_eq(elen, 12);
			cr_assert_eq(m[off + 2], X86_IOAPIC_ID(ncpus));
			cr_assert_geq(m[off + 2], ncpus, "IOAPIC ID clear of every APIC ID");
			cr_assert_eq(rd32(m + off + 4), X86_IOAPIC_BASE);
			cr_assert_eq(rd32(m + off + 8), 0, "GSI base");
			ioapics++;
			break;
		case 2:
			cr_assert_eq(elen, 10);
			cr_assert_eq(m[off + 2], 0, "ISA bus");
			if (m[off + 3] == 0) {
				cr_assert_eq(rd32(m + off + 4), 2, "IRQ 0 -> GSI 2");
				cr_assert_eq(rd16(m + off + 8), 0, "conforms to the bus");
				irq0++;
			} else if (m[off + 3] == prof->sci_irq) {
				cr_assert_eq(rd32(m + off + 4), prof->sci_irq);
				cr_assert_eq(rd16(m + off + 8), 0x000d, "SCI level triggered, active high");
				sci++;
			} else {
				cr_assert_fail("unexpected override for IRQ %u", m[off + 3]);
			}
			break;
		case 4:
			cr_assert_eq(m[off + 2], 0xff, "all processors");
			cr_assert_eq(m[off + 5], 1, "LINT1");
			nmi++;
			break;
		default:
			cr_assert_fail("unexpected MADT entry type %u", type);
		}
		off += elen;
	}
	cr_assert_eq(off, len, "entries fill the table exactly");
	cr_assert_eq(cpus, ncpus);
	cr_assert_eq(ioapics, 1);
	cr_assert_eq(irq0, 1);
	cr_assert_eq(sci, 1);
	cr_assert_eq(nmi, 1);
}

Test(tables, madt_one_cpu)
{
	check_madt(1);
}

Test(tables, madt_four_cpus)
{
	check_madt(4);
}

Test(tables, madt_max_cpus)
{
	check_madt(X86_MAX_CPUS);
}

Test(tables, acpi_rejects_65_cpus)
{
	uint64_t rsdp = 0x1234;
	cr_assert_lt(x86_acpi_build(&mem, prof, X86_MAX_CPUS + 1, NULL, 0, NULL, &rsdp), 0);
	cr_assert_eq(rsdp, 0x1234, "no RSDP reported on failure");
}

Test(tables, acpi_area_must_be_ram)
{
	struct guest_mem tiny;
	cr_assert_eq(guest_mem_alloc(&tiny, 0, 512 << 10, prof->mmio_hole_start), 0);
	uint64_t rsdp;
	cr_assert_eq(x86_acpi_build(&tiny, prof, 1, NULL, 0, NULL, &rsdp), -EFAULT);
	cr_assert_eq(x86_mptable_build(&tiny, prof, 1), -EFAULT, "EBDA not RAM either");
	guest_mem_free(&tiny);
}

Test(tables, rebuilding_gives_the_same_tables)
{
	uint64_t a, b;
	cr_assert_eq(x86_acpi_build(&mem, prof, 3, NULL, 0, NULL, &a), 0);
	uint8_t first[0x1000];
	memcpy(first, at(prof->acpi_addr, sizeof(first)), sizeof(first));
	cr_assert_eq(x86_acpi_build(&mem, prof, 3, NULL, 0, NULL, &b), 0);
	cr_assert_eq(a, b);
	cr_assert(memcmp(first, at(prof->acpi_addr, sizeof(first)), sizeof(first)) == 0);
}

Test(tables, checksum_helper)
{
	uint8_t t[16] = { 1, 2, 3, 250 };
	t[9] = x86_table_checksum(t, sizeof(t));
	cr_assert_eq(sum8(t, sizeof(t)), 0);
	uint8_t zero[4] = { 0 };
	cr_assert_eq(x86_table_checksum(zero, 4), 0);
}

/* ---- MP table ---- */

struct mp_counts {
	unsigned int cpus, bsp, buses, ioapics, ioints, lints;
	int pin_for_irq[16];
	int extint_pin;
};

static struct mp_counts check_mp(unsigned int ncpus)
{
	cr_assert_eq(x86_mptable_build(&mem, prof, ncpus), 0);
	const uint8_t *fp = at(prof->mptable_addr, 16);
	cr_assert(memcmp(fp, "_MP_", 4) == 0);
	cr_assert_eq(prof->mptable_addr % 16, 0, "floating pointer on a paragraph boundary");
	cr_assert_eq(fp[8], 1, "length in paragraphs");
	cr_assert_eq(fp[9], 4, "MP spec 1.4");
	cr_assert_eq(sum8(fp, 16), 0, "floating pointer checksum");
	cr_assert_eq(fp[11], 0, "feature byte 1: a configuration table follows, no default config");
	uint32_t cfg_gpa = rd32(fp + 4);
	const uint8_t *h = at(cfg_gpa, 44);
	cr_assert(memcmp(h, "PCMP", 4) == 0);
	uint16_t len = rd16(h + 4), count = rd16(h + 34);
	cr_assert_eq(h[6], 4);
	cr_assert_eq(rd32(h + 36), X86_LAPIC_BASE);
	cr_assert_leq(cfg_gpa + len, 0xa0000, "inside the EBDA, below the VGA hole");
	cr_assert(cfg_gpa >= prof->mptable_addr + 16 || cfg_gpa + len <= prof->mptable_addr, "no overlap with the pointer");
	h = at(cfg_gpa, len);
	cr_assert_eq(sum8(h, len), 0, "PCMP checksum");

	struct mp_counts c = { .extint_pin = -1 };
	for (int i = 0; i < 16; i++)
		c.pin_for_irq[i] = -1;
	uint32_t off = 44;
	for (unsigned int i = 0; i < count; i++) {
		cr_assert_lt(off, len, "entry %u beyond the table length", i);
		switch (h[off]) {
		case 0:
			cr_assert_eq(h[off + 1], c.cpus, "APIC ID");
			cr_assert_eq(h[off + 3] & 1, 1, "enabled");
			if (h[off + 3] & 2) {
				cr_assert_eq(c.cpus, 0, "only CPU 0 is the BSP");
				c.bsp++;
			}
			c.cpus++;
			off += 20;
			break;
		case 1:
			cr_assert(memcmp(h + off + 2, "ISA   ", 6) == 0);
			c.buses++;
			off += 8;
			break;
		case 2:
			cr_assert_eq(h[off + 1], X86_IOAPIC_ID(ncpus));
			cr_assert_eq(h[off + 3] & 1, 1);
			cr_assert_eq(rd32(h + off + 4), X86_IOAPIC_BASE);
			c.ioapics++;
			off += 8;
			break;
		case 3:
			cr_assert_eq(h[off + 6], X86_IOAPIC_ID(ncpus), "routed to our IOAPIC");
			if (h[off + 1] == 3)
				c.extint_pin = h[off + 7];
			else if (h[off + 1] == 0 && h[off + 5] < 16)
				c.pin_for_irq[h[off + 5]] = h[off + 7];
			c.ioints++;
			off += 8;
			break;
		case 4:
			c.lints++;
			off += 8;
			break;
		default:
			cr_assert_fail("unknown MP entry type %u", h[off]);
		}
	}
	cr_assert_eq(off, len, "entry count and table length agree");
	return c;
}

Test(tables, mp_table_four_cpus)
{
	struct mp_counts c = check_mp(4);
	cr_assert_eq(c.cpus, 4);
	cr_assert_eq(c.bsp, 1);
	cr_assert_eq(c.buses, 1);
	cr_assert_eq(c.ioapics, 1);
	cr_assert_eq(c.lints, 2, "LINT0 ExtINT and LINT1 NMI");
	cr_assert_eq(c.pin_for_irq[0], 2, "the PIT reaches pin 2");
	cr_assert_eq(c.extint_pin, 0, "the 8259 on pin 0");
	for (int irq = 1; irq < 16; irq++)
		if (irq != 2)
			cr_assert_eq(c.pin_for_irq[irq], irq, "IRQ %d on its own pin", irq);
}

Test(tables, mp_table_one_and_max_cpus)
{
	struct mp_counts c = check_mp(1);
	cr_assert_eq(c.cpus, 1);
	cr_assert_eq(c.bsp, 1);
	teardown();
	setup();
	prof = x86_profile_find("starry-x86");
	c = check_mp(X86_MAX_CPUS);
	cr_assert_eq(c.cpus, X86_MAX_CPUS);
	cr_assert_eq(c.bsp, 1);
}

Test(tables, mp_table_rejects_bad_cpu_counts)
{
	cr_assert_eq(x86_mptable_build(&mem, prof, 0), -EINVAL);
	cr_assert_eq(x86_mptable_build(&mem, prof, X86_MAX_CPUS + 1), -EINVAL);
	cr_assert_eq(x86_mptable_build(&mem, prof, 1000), -EINVAL);
}

/* The MCFG (PCI Firmware Spec §4.1.2) gives ECAM's base and bus range for segment 0, from
 * the profile: a guest finds PCI configuration space the way it does under crosvm. */
Test(tables, mcfg_describes_the_profiles_ecam)
{
	struct x86_pci_host pci = { (unsigned int)(prof->pci_ecam_size >> 20), prof->pci_ecam_base,
				    prof->pci_window_base, prof->pci_window_size, { 0 } };
	struct acpi_view v = build(1, NULL, 0, &pci);
	const uint8_t *m = sdt(v.mcfg, "MCFG");
	cr_assert_eq(rd32(m + 4), 36 + 8 + 16, "one allocation");
	cr_assert_eq(m[8], 1, "revision");
	cr_assert_eq(rd64(m + 44), 0xf4000000ull, "crosvm-x86's ECAM");
	cr_assert_eq(m[52] | m[53] << 8, 0, "segment 0");
	cr_assert_eq(m[54], 0, "from bus 0");
	cr_assert_eq(m[55], 63, "to bus 63: 64 MiB of ECAM");
}
