/* x86_64 machine profiles: everything that differs between the machines n90vmm reproduces,
 * as data (struct arch_profile is the name vmm/machine.h knows a profile by). Device and
 * loader code reads these fields; it never asks which profile it runs. */
#ifndef N90_X86_PROFILE_H
#define N90_X86_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

struct x86_legacy_uart {
	uint16_t port;
	uint8_t irq;
};

struct arch_profile {
	const char *name;
	const char *summary;

	/* Guest RAM: [0, mmio_hole_start) and, above that, from 4 GiB on. */
	uint64_t mmio_hole_start;
	/* Usable RAM below 1 MiB ends here; the rest up to 1 MiB is EBDA/BIOS area (reserved). */
	uint64_t base_mem_end;

	/* Where the loader puts boot structures (all below 1 MiB except the kernel). */
	uint64_t gdt_addr;
	uint64_t boot_info_addr; /* multiboot info block or PVH start_info, with its memory map */
	uint64_t zero_page_addr; /* Linux boot_params */
	uint64_t stack_top;
	uint64_t page_tables_addr; /* PML4; PDPT and four PDs follow (identity map of 4 GiB) */
	uint64_t cmdline_addr;
	uint32_t cmdline_max;      /* bytes including the NUL */
	uint64_t mptable_addr;
	uint64_t acpi_addr; /* RSDP; the other tables follow it */
	uint64_t acpi_end;

	/* Power management: ACPI PM1a event block at pm1_base (4 bytes), control at +4. */
	uint16_t pm1_base;
	uint8_t sci_irq;

	/* COM1..COM4. COM1 carries the console; the others accept and drop output. */
	struct x86_legacy_uart uarts[4];

	/* PCI: ECAM base (256 buses x 1 MiB) and the window BARs are pre-assigned from. */
	uint64_t pci_ecam_base, pci_ecam_size;
	uint64_t pci_window_base, pci_window_size;
	/* INTx (when a function's MSI-X is off): the IOAPIC GSIs of INTA#..INTD# at slot 0,
	 * swizzled by slot; level triggered, active low, described by the DSDT's _PRT. */
	uint8_t pci_intx_gsis[4];

	/* virtio-mmio devices: 4 KiB apart from this base, interrupts on these ISA GSIs (edge
	 * triggered, active high without any ACPI override). */
	uint64_t virtio_mmio_base;
	uint8_t virtio_mmio_gsis[8];

	uint32_t default_cpus;
	uint64_t default_mem_mib;
};

/* NULL when no profile has this name. */
const struct arch_profile *x86_profile_find(const char *name);
/* The profile used when --profile is not given, chosen from the kernel format. */
const struct arch_profile *x86_profile_default(bool multiboot_kernel);
/* Iterate: returns NULL after the last one. */
const struct arch_profile *x86_profile_at(unsigned int index);

#endif
