/* ACPI tables (ACPI 6.4 §5.2). Only what a guest needs to find its CPUs, its PCI
 * configuration space and power off: Linux's Debian build has no MP-table parser, so SMP
 * depends on the MADT; poweroff depends on the FADT PM1 control block plus \_S5 in the DSDT;
 * the MCFG says where ECAM is, as crosvm's does (the e820 map reserves that range). */
#include "arch/x86_64/tables.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vmm/bytes.h"

#define OEM_ID "N90VMM"
#define OEM_TABLE_ID "N90VMM  "

struct acpi_writer {
	const struct guest_mem *mem;
	uint64_t next;
	uint64_t end;
};

/* Reserve `len` bytes aligned to `align`; returns the guest address or 0 if out of room. */
static uint64_t acpi_alloc(struct acpi_writer *w, uint64_t len, uint64_t align)
{
	uint64_t at = (w->next + align - 1) & ~(align - 1);
	if (at > w->end || len > w->end - at)
		return 0;
	w->next = at + len;
	return at;
}

/* ACPI §5.2.6 system description table header. */
static void acpi_header(uint8_t *t, const char sig[4], uint32_t len, uint8_t revision)
{
	memcpy(t, sig, 4);
	put_le32(t + 4, len);
	t[8] = revision;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put_le32(t + 24, 1);
	memcpy(t + 28, "N90V", 4);
	put_le32(t + 32, 1);
}

static int acpi_commit(struct acpi_writer *w, uint64_t gpa, uint8_t *t, uint32_t len)
{
	t[9] = x86_table_checksum(t, len);
	return guest_mem_write(w->mem, gpa, t, len);
}

/* Generic Address Structure (§5.2.3.2) for a port I/O register. */
static void acpi_gas_io(uint8_t *p, uint8_t bit_width, uint8_t access_size, uint64_t port)
{
	p[0] = 1; /* system I/O space */
	p[1] = bit_width;
	p[2] = 0;
	p[3] = access_size;
	put_le64(p + 4, port);
}

uint8_t x86_table_checksum(const void *data, uint64_t len)
{
	const uint8_t *p = data;
	uint8_t sum = 0;
	for (uint64_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)(0 - sum);
}

#define PCI_SLOTS 32

/* A small AML writer (ACPI 6.4 §20): just the terms the DSDT needs. */
struct aml {
	uint8_t buf[8192];
	uint32_t len;
	bool overflow;
};

static void aml_bytes(struct aml *a, const void *data, uint32_t len)
{
	if (a->overflow || len > sizeof(a->buf) - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->buf + a->len, data, len);
	a->len += len;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

/* PkgLength (§20.2.4) counts itself: returns the encoding for a body of `body` bytes. */
static uint32_t aml_pkglength(uint32_t body, uint8_t out[4])
{
	for (uint32_t n = 1; n <= 4; n++) {
		uint32_t total = body + n;
		if (n == 1 && total < 64) {
			out[0] = (uint8_t)total;
			return 1;
		}
		if (n > 1 && total < (1u << (4 + 8 * (n - 1)))) {
			out[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
			for (uint32_t i = 1; i < n; i++)
				out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
			return n;
		}
	}
	return 0;
}

/* Wraps a.buf[start..] in `opcode PkgLength` (Scope, Device, Package, Buffer). */
static void aml_wrap(struct aml *a, uint32_t start, const uint8_t *opcode, uint32_t oplen)
{
	uint8_t pkg[4];
	uint32_t body = a->len - start, n = aml_pkglength(body, pkg);
	if (a->overflow || n == 0 || oplen + n > sizeof(a->buf) - a->len) {
		a->overflow = true;
		return;
	}
	memmove(a->buf + start + oplen + n, a->buf + start, body);
	memcpy(a->buf + start, opcode, oplen);
	memcpy(a->buf + start + oplen, pkg, n);
	a->len += oplen + n;
}

static void aml_name_string(struct aml *a, const char *name, const char *value)
{
	aml_byte(a, 0x08); /* NameOp */
	aml_bytes(a, name, 4);
	aml_byte(a, 0x0d); /* StringPrefix */
	aml_bytes(a, value, (uint32_t)strlen(value) + 1);
}

static void aml_name_byte(struct aml *a, const char *name, uint8_t value)
{
	aml_byte(a, 0x08);
	aml_bytes(a, name, 4);
	aml_byte(a, 0x0a); /* BytePrefix */
	aml_byte(a, value);
}

/* Device (VRnn) { _HID "LNRO0005", _UID, _CRS { Memory32Fixed, Interrupt } }: how Linux's
 * virtio_mmio driver finds devices through ACPI (drivers/virtio/virtio_mmio.c). */
static void aml_virtio_mmio_device(struct aml *a, unsigned int index, const struct x86_mmio_device *d)
{
	static const uint8_t device_op[] = { 0x5b, 0x82 };
	static const uint8_t buffer_op[] = { 0x11 };
	char name[5];
	uint32_t dev_start = a->len;
	snprintf(name, sizeof(name), "VR%02X", index & 0xff);
	aml_bytes(a, name, 4);
	aml_name_string(a, "_HID", "LNRO0005");
	aml_name_byte(a, "_UID", (uint8_t)index);

	aml_byte(a, 0x08);
	aml_bytes(a, "_CRS", 4);
	uint32_t buf_start = a->len;
	uint8_t res[23] = {
		0x86, 0x09, 0x00, 0x01,        /* Memory32Fixed, read-write */
		0, 0, 0, 0, 0, 0, 0, 0,        /* base, length */
		0x89, 0x06, 0x00, 0x03, 0x01,  /* Extended Interrupt: consumer, edge, high, 1 entry */
		0, 0, 0, 0,                    /* GSI */
		0x79, 0x00,                    /* End Tag */
	};
	uint32_t base = (uint32_t)d->base, size = (uint32_t)d->size;
	memcpy(res + 4, &base, 4);
	memcpy(res + 8, &size, 4);
	memcpy(res + 17, &d->gsi, 4);
	aml_byte(a, 0x0a); /* BufferSize: BytePrefix */
	aml_byte(a, sizeof(res));
	aml_bytes(a, res, sizeof(res));
	aml_wrap(a, buf_start, buffer_op, 1);
	aml_wrap(a, dev_start, device_op, 2);
}

/* Name (_PRT, Package { Package { 0xSSSSFFFF, PIN, Zero, GSI }, ... }) (ACPI 6.4 §6.2.13):
 * every slot's four pins, hard-wired to IOAPIC GSIs (source Zero = no link device) with the
 * slot swizzle pci_device_intx_gsi applies. Without it Linux cannot route a pin once MSI-X
 * is off (pci=nomsi, or a driver without MSI-X). */
static void aml_pci_routing(struct aml *a, const uint8_t gsis[4])
{
	static const uint8_t package_op[] = { 0x12 };
	aml_byte(a, 0x08); /* NameOp */
	aml_bytes(a, "_PRT", 4);
	uint32_t outer = a->len;
	aml_byte(a, (PCI_SLOTS - 1) * 4); /* NumElements: slots 1..31 (0 is the host bridge) */
	for (unsigned int slot = 1; slot < PCI_SLOTS; slot++) {
		for (unsigned int pin = 0; pin < 4; pin++) {
			uint32_t entry = a->len;
			uint32_t address = slot << 16 | 0xffff; /* device, any function */
			aml_byte(a, 4);
			aml_byte(a, 0x0c); /* DWordPrefix */
			aml_bytes(a, &address, 4);
			aml_byte(a, 0x0a); /* BytePrefix: the pin, 0 = INTA# */
			aml_byte(a, (uint8_t)pin);
			aml_byte(a, 0x00); /* ZeroOp: no source, the next element is a GSI */
			aml_byte(a, 0x0a);
			aml_byte(a, gsis[(slot + pin) % 4]);
			aml_wrap(a, entry, package_op, 1);
		}
	}
	aml_wrap(a, outer, package_op, 1);
}

/* Device (PCI0): the PCI root bridge. Linux with ACPI scans PCI only below such a device
 * (PNP0A03) and takes the bus range, the conf1 ports and the BAR window from its _CRS. */
static void aml_pci_root(struct aml *a, const struct x86_pci_host *pci)
{
	static const uint8_t device_op[] = { 0x5b, 0x82 };
	static const uint8_t buffer_op[] = { 0x11 };
	static const uint8_t pnp0a03[] = { 0x41, 0xd0, 0x0a, 0x03 }; /* EisaId("PNP0A03") */
	uint32_t dev_start = a->len;
	aml_bytes(a, "PCI0", 4);
	aml_byte(a, 0x08);
	aml_bytes(a, "_HID", 4);
	aml_byte(a, 0x0c); /* DWordPrefix */
	aml_bytes(a, pnp0a03, 4);
	aml_name_byte(a, "_UID", 0);
	aml_name_byte(a, "_BBN", 0);
	aml_name_byte(a, "_SEG", 0);

	uint8_t res[16 + 8 + 16 + 16 + 26 + 2];
	uint8_t *r = res;
	uint16_t w;
	uint32_t d;
#define W16(v) (w = (uint16_t)(v), memcpy(r, &w, 2), r += 2)
#define D32(v) (d = (uint32_t)(v), memcpy(r, &d, 4), r += 4)
	/* WordBusNumber (ACPI 6.4 §6.4.3.5.3): producer, fixed min/max, buses 0..n-1. */
	*r++ = 0x88; W16(13); *r++ = 2; *r++ = 0x0c; *r++ = 0;
	W16(0); W16(0); W16(pci->bus_count - 1); W16(0); W16(pci->bus_count);
	/* IO (Decode16, 0xCF8, 0xCF8, 1, 8): the conf1 registers themselves. */
	*r++ = 0x47; *r++ = 0x01; W16(0xcf8); W16(0xcf8); *r++ = 1; *r++ = 8;
	/* WordIO: every other port passes through the bridge. */
	*r++ = 0x88; W16(13); *r++ = 1; *r++ = 0x0c; *r++ = 3;
	W16(0); W16(0x0000); W16(0x0cf7); W16(0); W16(0x0cf8);
	*r++ = 0x88; W16(13); *r++ = 1; *r++ = 0x0c; *r++ = 3;
	W16(0); W16(0x0d00); W16(0xffff); W16(0); W16(0xf300);
	/* DWordMemory: the BAR window, read-write, non-cacheable. */
	*r++ = 0x87; W16(23); *r++ = 0; *r++ = 0x0c; *r++ = 1;
	D32(0); D32(pci->window_base); D32(pci->window_base + pci->window_size - 1); D32(0); D32(pci->window_size);
	*r++ = 0x79; *r++ = 0x00;
#undef W16
#undef D32
	aml_byte(a, 0x08);
	aml_bytes(a, "_CRS", 4);
	uint32_t buf_start = a->len;
	aml_byte(a, 0x0a);
	aml_byte(a, (uint8_t)(r - res));
	aml_bytes(a, res, (uint32_t)(r - res));
	aml_wrap(a, buf_start, buffer_op, 1);
	if (pci->intx_gsis[0])
		aml_pci_routing(a, pci->intx_gsis);
	aml_wrap(a, dev_start, device_op, 2);
}

/* DSDT body: Name (\_S5, Package (4) { 0, 0, 0, 0 }) and, under \_SB, the virtio-mmio
 * devices. SLP_TYP 0 means S5 here, the value StarryOS writes blindly (0x2000 = SLP_EN
 * alone) and the one QEMU's DSDT uses too. */
static int acpi_dsdt_body(struct aml *a, const struct x86_mmio_device *devs, unsigned int ndevs,
			  const struct x86_pci_host *pci)
{
	static const uint8_t s5[] = {
		0x08, '_', 'S', '5', '_', /* NameOp, NameSeg */
		0x12, 0x06, 0x04,         /* PackageOp, PkgLength 6, NumElements 4 */
		0x00, 0x00, 0x00, 0x00,   /* ZeroOp x4: SLP_TYPa, SLP_TYPb, reserved */
	};
	static const uint8_t scope_op[] = { 0x10 };
	aml_bytes(a, s5, sizeof(s5));
	if (ndevs || pci) {
		uint32_t start = a->len;
		aml_bytes(a, "\\_SB_", 5);
		for (unsigned int i = 0; i < ndevs; i++)
			aml_virtio_mmio_device(a, i, &devs[i]);
		if (pci)
			aml_pci_root(a, pci);
		aml_wrap(a, start, scope_op, 1);
	}
	return a->overflow ? -ENOSPC : 0;
}

static int acpi_build_madt(struct acpi_writer *w, unsigned int ncpus, uint64_t *gpa)
{
	uint8_t t[44 + 8 * X86_MAX_CPUS + 12 + 10 * 2 + 6];
	uint32_t len = 44;

	if (ncpus > X86_MAX_CPUS)
		return -EINVAL;
	memset(t, 0, sizeof(t));
	put_le32(t + 36, X86_LAPIC_BASE);
	put_le32(t + 40, 1); /* PCAT_COMPAT: dual 8259s are present (and masked by the guest) */
	for (unsigned int i = 0; i < ncpus; i++) {
		uint8_t *e = t + len;
		e[0] = 0; /* Processor Local APIC */
		e[1] = 8;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)i; /* APIC ID: vCPU i has APIC ID i */
		put_le32(e + 4, 1);   /* enabled */
		len += 8;
	}
	uint8_t *io = t + len;
	io[0] = 1; /* I/O APIC */
	io[1] = 12;
	io[2] = X86_IOAPIC_ID(ncpus);
	put_le32(io + 4, X86_IOAPIC_BASE);
	put_le32(io + 8, 0); /* GSI base */
	len += 12;

	uint8_t *iso = t + len;
	iso[0] = 2; /* Interrupt Source Override: ISA IRQ 0 -> GSI 2 */
	iso[1] = 10;
	iso[2] = 0;
	iso[3] = 0;
	put_le32(iso + 4, X86_PIT_IOAPIC_PIN);
	put_le16(iso + 8, 0);
	len += 10;
	iso = t + len;
	iso[0] = 2; /* SCI: level triggered, active high (§5.2.12.5 MPS INTI flags 0x000d) */
	iso[1] = 10;
	iso[2] = 0;
	iso[3] = 9;
	put_le32(iso + 4, 9);
	put_le16(iso + 8, 0x000d);
	len += 10;

	uint8_t *nmi = t + len;
	nmi[0] = 4; /* Local APIC NMI on LINT1 of every processor (UID 0xff) */
	nmi[1] = 6;
	nmi[2] = 0xff;
	put_le16(nmi + 3, 0);
	nmi[5] = 1;
	len += 6;

	acpi_header(t, "APIC", len, 5);
	*gpa = acpi_alloc(w, len, 16);
	if (!*gpa)
		return -ENOSPC;
	return acpi_commit(w, *gpa, t, len);
}

static int acpi_build_fadt(struct acpi_writer *w, const struct arch_profile *profile, uint64_t facs,
			   uint64_t dsdt, uint64_t *gpa)
{
	uint8_t t[276];
	uint16_t evt = profile->pm1_base, cnt = (uint16_t)(profile->pm1_base + 4);

	memset(t, 0, sizeof(t));
	put_le32(t + 36, (uint32_t)facs);
	put_le32(t + 40, (uint32_t)dsdt);
	put_le16(t + 46, profile->sci_irq);
	/* SMI_CMD = 0: no SMM, the machine is always in ACPI mode. */
	put_le32(t + 56, evt);
	put_le32(t + 64, cnt);
	t[88] = 4; /* PM1_EVT_LEN: status + enable */
	t[89] = 2; /* PM1_CNT_LEN */
	t[108] = 0x32; /* CENTURY: CMOS register holding the century */
	/* IAPC_BOOT_ARCH: no 8042 (the i8042 here only resets), no VGA, no MSI disable. */
	put_le16(t + 109, (1 << 2) /* VGA not present */);
	/* Flags: WBINVD, PROC_C1, PWR_BUTTON and SLP_BUTTON are control methods (i.e. absent),
	 * RESET_REG_SUP. */
	put_le32(t + 112, (1 << 0) | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 10));
	acpi_gas_io(t + 116, 8, 1, 0xcf9);
	t[128] = 0x06; /* RESET_VALUE: full reset through 0xCF9 */
	t[131] = 4;    /* FADT minor version: 6.4 */
	put_le64(t + 140, dsdt);
	acpi_gas_io(t + 148, 32, 2, evt);
	acpi_gas_io(t + 172, 16, 2, cnt);
	acpi_header(t, "FACP", sizeof(t), 6);
	*gpa = acpi_alloc(w, sizeof(t), 16);
	if (!*gpa)
		return -ENOSPC;
	return acpi_commit(w, *gpa, t, sizeof(t));
}

/* MCFG (PCI Firmware Specification 3.2 §4.1.2): one allocation, segment 0, buses 0..n-1. */
static int acpi_build_mcfg(struct acpi_writer *w, const struct x86_pci_host *pci, uint64_t *gpa)
{
	uint8_t t[36 + 8 + 16];
	memset(t, 0, sizeof(t));
	put_le64(t + 44, pci->ecam_base);
	put_le16(t + 52, 0);                          /* PCI segment group */
	t[54] = 0;                                    /* start bus */
	t[55] = (uint8_t)(pci->bus_count - 1);        /* end bus */
	acpi_header(t, "MCFG", sizeof(t), 1);
	*gpa = acpi_alloc(w, sizeof(t), 16);
	if (!*gpa)
		return -ENOSPC;
	return acpi_commit(w, *gpa, t, sizeof(t));
}

int x86_acpi_build(const struct guest_mem *mem, const struct arch_profile *profile, unsigned int ncpus,
		   const struct x86_mmio_device *mmio_devs, unsigned int n_mmio_devs, const struct x86_pci_host *pci,
		   uint64_t *rsdp_gpa)
{
	struct acpi_writer w = { .mem = mem, .next = profile->acpi_addr, .end = profile->acpi_end };
	static struct aml dsdt_body;
	uint8_t buf[64];
	uint64_t rsdp, facs, dsdt, fadt, madt, mcfg = 0, xsdt, rsdt;
	int ret;

	if (!guest_mem_is_ram(mem, profile->acpi_addr, profile->acpi_end - profile->acpi_addr))
		return -EFAULT;
	rsdp = acpi_alloc(&w, 36, 16);

	/* FACS (§5.2.10): 64-byte aligned, no checksum. */
	facs = acpi_alloc(&w, 64, 64);
	memset(buf, 0, 64);
	memcpy(buf, "FACS", 4);
	put_le32(buf + 4, 64);
	buf[32] = 2; /* version */
	if (!facs || (ret = guest_mem_write(mem, facs, buf, 64)) < 0)
		return facs ? ret : -ENOSPC;

	memset(&dsdt_body, 0, sizeof(dsdt_body));
	memset(dsdt_body.buf, 0, 36); /* room for the header */
	dsdt_body.len = 36;
	if ((ret = acpi_dsdt_body(&dsdt_body, mmio_devs, n_mmio_devs, pci)) < 0)
		return ret;
	acpi_header(dsdt_body.buf, "DSDT", dsdt_body.len, 2);
	dsdt = acpi_alloc(&w, dsdt_body.len, 16);
	if (!dsdt)
		return -ENOSPC;
	if ((ret = acpi_commit(&w, dsdt, dsdt_body.buf, dsdt_body.len)) < 0)
		return ret;

	if ((ret = acpi_build_fadt(&w, profile, facs, dsdt, &fadt)) < 0)
		return ret;
	if ((ret = acpi_build_madt(&w, ncpus, &madt)) < 0)
		return ret;

	if (pci && pci->bus_count && (ret = acpi_build_mcfg(&w, pci, &mcfg)) < 0)
		return ret;

	/* XSDT (64-bit pointers) and RSDT (32-bit) list the same tables. */
	uint64_t tables[3] = { fadt, madt, mcfg };
	uint32_t ntables = mcfg ? 3 : 2;
	memset(buf, 0, sizeof(buf));
	for (uint32_t i = 0; i < ntables; i++)
		put_le64(buf + 36 + 8 * i, tables[i]);
	acpi_header(buf, "XSDT", 36 + 8 * ntables, 1);
	xsdt = acpi_alloc(&w, 36 + 8 * ntables, 16);
	if (!xsdt)
		return -ENOSPC;
	if ((ret = acpi_commit(&w, xsdt, buf, 36 + 8 * ntables)) < 0)
		return ret;
	memset(buf, 0, sizeof(buf));
	for (uint32_t i = 0; i < ntables; i++)
		put_le32(buf + 36 + 4 * i, (uint32_t)tables[i]);
	acpi_header(buf, "RSDT", 36 + 4 * ntables, 1);
	rsdt = acpi_alloc(&w, 36 + 4 * ntables, 16);
	if (!rsdt)
		return -ENOSPC;
	if ((ret = acpi_commit(&w, rsdt, buf, 36 + 4 * ntables)) < 0)
		return ret;

	/* RSDP (§5.2.5.3), revision 2: checksum over the first 20 bytes, extended over all 36. */
	memset(buf, 0, 36);
	memcpy(buf, "RSD PTR ", 8);
	memcpy(buf + 9, OEM_ID, 6);
	buf[15] = 2;
	put_le32(buf + 16, (uint32_t)rsdt);
	put_le32(buf + 20, 36);
	put_le64(buf + 24, xsdt);
	buf[8] = x86_table_checksum(buf, 20);
	buf[32] = x86_table_checksum(buf, 36);
	if ((ret = guest_mem_write(mem, rsdp, buf, 36)) < 0)
		return ret;
	*rsdp_gpa = rsdp;
	return 0;
}
