/* Firmware tables a guest without firmware expects the monitor to leave in memory:
 * ACPI (RSDP, RSDT/XSDT, FADT with the PM1 block, FACS, DSDT with \_S5, MADT) and the
 * Intel MultiProcessor table for guests without ACPI. */
#ifndef N90_X86_TABLES_H
#define N90_X86_TABLES_H

#include <stdint.h>

#include "vmm/guest_mem.h"
#include "arch/x86_64/profile.h"

/* KVM allows more, but 64 keeps every table in one page and no test needs more. */
#define X86_MAX_CPUS 64
#define X86_LAPIC_BASE 0xfee00000u
#define X86_IOAPIC_BASE 0xfec00000u
/* The IOAPIC's ID sits above every vCPU's APIC ID so the two never collide. */
#define X86_IOAPIC_ID(ncpus) ((uint8_t)(ncpus))
/* ISA IRQ 0 (the PIT) reaches IOAPIC pin 2, as on a PC; see x86_irq_routing(). */
#define X86_PIT_IOAPIC_PIN 2

/* A memory-mapped device described to the guest in the DSDT (virtio-mmio). */
struct x86_mmio_device {
	uint64_t base;
	uint64_t size;
	uint32_t gsi;
};

/* A PCI host bridge described to the guest (DSDT PCI0, and MCFG for its ECAM). */
struct x86_pci_host {
	unsigned int bus_count;
	uint64_t ecam_base; /* bus_count MiB of ECAM from here */
	uint64_t window_base, window_size;
	uint8_t intx_gsis[4]; /* INTA#..INTD# at slot 0 (x86_profile.pci_intx_gsis); 0: no _PRT */
};

/* Writes the ACPI tables at profile->acpi_addr; returns 0 and the RSDP address, or -errno
 * if they do not fit below profile->acpi_end or that area is not RAM. */
int x86_acpi_build(const struct guest_mem *mem, const struct arch_profile *profile, unsigned int ncpus,
		   const struct x86_mmio_device *mmio_devs, unsigned int n_mmio_devs, const struct x86_pci_host *pci,
		   uint64_t *rsdp_gpa);
/* Writes the MP floating pointer and configuration table at profile->mptable_addr. */
int x86_mptable_build(const struct guest_mem *mem, const struct arch_profile *profile, unsigned int ncpus);

/* Two's-complement byte checksum, as ACPI and the MP spec define it. */
uint8_t x86_table_checksum(const void *data, uint64_t len);

#endif
