/* Intel MultiProcessor Specification 1.4 tables, for guests that find their CPUs and
 * interrupt routing without ACPI. */
#include <errno.h>
#include <string.h>

#include "arch/x86_64/tables.h"
#include "vmm/bytes.h"

/* BIOS data area words (real-mode segment 0x40). */
#define BDA_EBDA_SEGMENT 0x40e
#define BDA_BASE_MEM_KIB 0x413

#define MP_ENTRY_PROCESSOR 0
#define MP_ENTRY_BUS 1
#define MP_ENTRY_IOAPIC 2
#define MP_ENTRY_IO_INTERRUPT 3
#define MP_ENTRY_LOCAL_INTERRUPT 4
#define MP_INT_INT 0
#define MP_INT_NMI 1
#define MP_INT_EXTINT 3

struct mp_builder {
	uint8_t buf[4096];
	uint32_t len;
	uint16_t entries;
};

static uint8_t *mp_entry(struct mp_builder *b, uint32_t size)
{
	uint8_t *e = b->buf + b->len;
	b->len += size;
	b->entries++;
	return e;
}

static void mp_interrupt(struct mp_builder *b, uint8_t type, uint8_t entry_type, uint8_t src_irq,
			 uint8_t dst_id, uint8_t dst_pin)
{
	uint8_t *e = mp_entry(b, 8);
	e[0] = type;
	e[1] = entry_type;
	e[2] = 0; /* flags: conforms to bus */
	e[3] = 0;
	e[4] = 0; /* source bus: ISA */
	e[5] = src_irq;
	e[6] = dst_id;
	e[7] = dst_pin;
}

int x86_mptable_build(const struct guest_mem *mem, const struct arch_profile *profile, unsigned int ncpus)
{
	struct mp_builder b;
	uint8_t ioapic_id = X86_IOAPIC_ID(ncpus);
	uint64_t fp = profile->mptable_addr, table = fp + 16;
	uint32_t v;

	if (ncpus == 0 || ncpus > X86_MAX_CPUS)
		return -EINVAL;
	memset(&b, 0, sizeof(b));
	b.len = 44; /* configuration table header, filled in last */

	for (unsigned int i = 0; i < ncpus; i++) {
		uint8_t *e = mp_entry(&b, 20);
		e[0] = MP_ENTRY_PROCESSOR;
		e[1] = (uint8_t)i;      /* local APIC ID */
		e[2] = 0x14;            /* local APIC version (integrated) */
		e[3] = 1 | (i == 0 ? 2 : 0); /* enabled, BSP */
		v = 0x600;              /* CPU signature: family 6, as KVM reports for its default CPU */
		memcpy(e + 4, &v, 4);
		v = 0x201;              /* feature flags: FPU, APIC */
		memcpy(e + 8, &v, 4);
	}
	uint8_t *bus = mp_entry(&b, 8);
	bus[0] = MP_ENTRY_BUS;
	bus[1] = 0;
	memcpy(bus + 2, "ISA   ", 6);

	uint8_t *io = mp_entry(&b, 8);
	io[0] = MP_ENTRY_IOAPIC;
	io[1] = ioapic_id;
	io[2] = 0x11;
	io[3] = 1; /* enabled */
	v = X86_IOAPIC_BASE;
	memcpy(io + 4, &v, 4);

	/* ISA IRQs as KVM routes them (x86_irq_routing): IRQ 0 on pin 2, the rest on their own
	 * pin; pin 0 carries the 8259's ExtINT. */
	mp_interrupt(&b, MP_ENTRY_IO_INTERRUPT, MP_INT_EXTINT, 0, ioapic_id, 0);
	for (uint8_t irq = 0; irq < 16; irq++) {
		if (irq == 2)
			continue;
		mp_interrupt(&b, MP_ENTRY_IO_INTERRUPT, MP_INT_INT, irq, ioapic_id,
			     irq == 0 ? X86_PIT_IOAPIC_PIN : irq);
	}
	mp_interrupt(&b, MP_ENTRY_LOCAL_INTERRUPT, MP_INT_EXTINT, 0, 0xff, 0);
	mp_interrupt(&b, MP_ENTRY_LOCAL_INTERRUPT, MP_INT_NMI, 0, 0xff, 1);

	uint8_t *h = b.buf;
	memcpy(h, "PCMP", 4);
	memcpy(h + 4, &(uint16_t){ (uint16_t)b.len }, 2);
	h[6] = 4; /* spec revision 1.4 */
	memcpy(h + 8, "N90VMM  ", 8);
	memcpy(h + 16, "N90VMM      ", 12);
	memcpy(h + 34, &b.entries, 2);
	v = X86_LAPIC_BASE;
	memcpy(h + 36, &v, 4);
	h[7] = x86_table_checksum(h, b.len);

	uint8_t fpb[16] = { '_', 'M', 'P', '_' };
	v = (uint32_t)table;
	memcpy(fpb + 4, &v, 4);
	fpb[8] = 1; /* length in 16-byte units */
	fpb[9] = 4;
	fpb[10] = x86_table_checksum(fpb, 16);

	/* Both must sit in the reserved EBDA area, which must be guest RAM. */
	if (table + b.len > 0xa0000)
		return -ENOSPC;
	int ret = guest_mem_write(mem, fp, fpb, 16);
	if (!ret)
		ret = guest_mem_write(mem, table, b.buf, b.len);
	if (ret)
		return ret;
	/* Guests find the floating pointer by searching (MP spec 1.4, §4): the first KiB of the
	 * EBDA, whose segment the BIOS data area holds at 0x40E, the last KiB of base memory
	 * (size in KiB at 0x413), then 0xF0000-0xFFFFF. The pointer is at the EBDA's start, so
	 * the BDA says where the EBDA is, as a BIOS would. */
	uint8_t bda_word[2];
	put_le16(bda_word, (uint16_t)(fp >> 4));
	ret = guest_mem_write(mem, BDA_EBDA_SEGMENT, bda_word, 2);
	put_le16(bda_word, (uint16_t)(profile->base_mem_end >> 10));
	return ret ? ret : guest_mem_write(mem, BDA_BASE_MEM_KIB, bda_word, 2);
}
