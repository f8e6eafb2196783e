#include "arch/x86_64/e820.h"

#define ONE_MIB 0x100000ull

unsigned int x86_build_e820(const struct guest_mem *mem, const struct arch_profile *profile,
			    struct e820_entry *out)
{
	unsigned int n = 0;
	uint64_t low_end = guest_mem_low_end(mem);

	out[n++] = (struct e820_entry){ 0, profile->base_mem_end, E820_RAM };
	/* EBDA with the MP table: guests must not allocate it. */
	out[n++] = (struct e820_entry){ profile->base_mem_end, 0xa0000 - profile->base_mem_end,
					E820_RESERVED };
	/* BIOS area holding the ACPI tables; the tables live at acpi_addr..acpi_end. */
	out[n++] = (struct e820_entry){ profile->acpi_addr, ONE_MIB - profile->acpi_addr, E820_RESERVED };
	if (low_end > ONE_MIB)
		out[n++] = (struct e820_entry){ ONE_MIB, low_end - ONE_MIB, E820_RAM };
	/* PCI ECAM, as crosvm reserves it: Linux uses the MCFG's range only if the firmware
	 * map (or ACPI motherboard resources) reserves it. */
	if (profile->pci_ecam_size && profile->pci_ecam_base >= low_end)
		out[n++] = (struct e820_entry){ profile->pci_ecam_base, profile->pci_ecam_size, E820_RESERVED };
	for (unsigned int i = 1; i < mem->nregions; i++)
		out[n++] = (struct e820_entry){ mem->regions[i].gpa, mem->regions[i].size, E820_RAM };
	return n;
}
