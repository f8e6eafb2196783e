/* The guest's physical memory map, in the form all three boot protocols hand over
 * (e820 in boot_params, the multiboot mmap, the PVH memmap). */
#ifndef N90_X86_E820_H
#define N90_X86_E820_H

#include <stdint.h>

#include "vmm/guest_mem.h"
#include "arch/x86_64/profile.h"

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3
#define E820_MAX_ENTRIES 8

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Fills `out` (E820_MAX_ENTRIES) in ascending address order; returns the count. */
unsigned int x86_build_e820(const struct guest_mem *mem, const struct arch_profile *profile,
			    struct e820_entry *out);

#endif
