#include "arch/x86_64/profile.h"

#include <string.h>

/* Low-memory boot structures shared by both layouts follow crosvm's x86_64 map
 * (crosvm x86_64/src/lib.rs; docs/book appendix memory_layout.md). PCI INTx sits on IOAPIC
 * pins 16..19, above every ISA line, so a level-triggered PCI pin never shares a line with an
 * edge-triggered ISA or virtio-mmio one (crosvm starts its INTx pins at IRQ 9; guests read the
 * routing from the DSDT's _PRT or the Interrupt Line register, never assume it). */
#define COMMON_LOW_LAYOUT                                                                          \
	.base_mem_end = 0x9e800, .gdt_addr = 0x1500, .zero_page_addr = 0x7000, .stack_top = 0x8000,  \
	.page_tables_addr = 0x9000, .cmdline_addr = 0x20000, .cmdline_max = 2048,                    \
	.mptable_addr = 0x9e800, .acpi_addr = 0xe0000, .acpi_end = 0x100000, .pm1_base = 0x600,      \
	.sci_irq = 9,                                                                                \
	.uarts = { { 0x3f8, 4 }, { 0x2f8, 3 }, { 0x3e8, 4 }, { 0x2e8, 3 } },                          \
	.virtio_mmio_gsis = { 5, 6, 7, 10, 11, 12, 14, 15 },                                          \
	.pci_intx_gsis = { 16, 17, 18, 19 }

static const struct arch_profile profiles[] = {
	{
		/* ArceOS/StarryOS x86-pc platform (PLATFORMS.md §1): PCIe ECAM at 0xB000_0000, so RAM
		 * below 4 GiB ends there. The multiboot info moves to 0x10000 because StarryOS puts
		 * its AP trampoline at 0x6000. */
		.name = "starry-x86",
		.summary = "StarryOS/ArceOS x86-pc: multiboot, ECAM 0xB0000000, PM1 control 0x604",
		.mmio_hole_start = 0xb0000000,
		/* The kernel maps only 0xFE00_0000..0xFEBF_FFFF for devices: BARs and virtio-mmio
		 * both live there. */
		.pci_ecam_base = 0xb0000000,
		.pci_ecam_size = 0x10000000, /* buses 0..255, all scanned by StarryOS */
		.pci_window_base = 0xfe000000,
		.pci_window_size = 0xb00000,
		.virtio_mmio_base = 0xfeb00000,
		.boot_info_addr = 0x10000,
		.default_cpus = 4,
		.default_mem_mib = 1024,
		COMMON_LOW_LAYOUT,
	},
	{
		/* crosvm's x86_64 machine (PLATFORMS.md §2). */
		.name = "crosvm-x86",
		.summary = "crosvm x86_64 layout: RAM hole at 0xD0000000, Linux and multiboot",
		.mmio_hole_start = 0xd0000000,
		/* Low MMIO 0xD000_0000..0xF400_0000, ECAM above it; virtio-mmio takes the top
		 * 64 MiB of the low MMIO range. */
		.pci_ecam_base = 0xf4000000,
		.pci_ecam_size = 0x4000000, /* 64 buses */
		.pci_window_base = 0xd0000000,
		.pci_window_size = 0x20000000,
		.virtio_mmio_base = 0xf0000000,
		.boot_info_addr = 0x6000,
		.default_cpus = 1,
		.default_mem_mib = 256,
		COMMON_LOW_LAYOUT,
	},
};

const struct arch_profile *x86_profile_at(unsigned int index)
{
	return index < sizeof(profiles) / sizeof(profiles[0]) ? &profiles[index] : NULL;
}

const struct arch_profile *x86_profile_find(const char *name)
{
	for (unsigned int i = 0; x86_profile_at(i); i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

const struct arch_profile *x86_profile_default(bool multiboot_kernel)
{
	/* StarryOS is the multiboot kernel this monitor exists for; Linux gets crosvm's machine. */
	return x86_profile_find(multiboot_kernel ? "starry-x86" : "crosvm-x86");
}
