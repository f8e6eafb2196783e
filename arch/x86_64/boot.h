/* x86_64 kernel loading: format detection, the three boot protocols, and the boot plan
 * (entry mode and registers) the vCPU setup turns into register state. Loaders work on a
 * byte buffer and guest memory only, so they are tested without KVM. */
#ifndef N90_X86_BOOT_H
#define N90_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_mem.h"
#include "arch/x86_64/profile.h"
#include "arch/x86_64/tables.h"

enum x86_kernel_format {
	X86_FORMAT_UNKNOWN,
	X86_FORMAT_MULTIBOOT, /* Multiboot 1 header in the first 8 KiB (ELF or flat) */
	X86_FORMAT_ELF,       /* ELF vmlinux: PVH note, or Linux 64-bit entry */
	X86_FORMAT_BZIMAGE,   /* Linux boot protocol, 64-bit entry */
};

enum x86_entry_mode {
	X86_ENTRY_PROTECTED32, /* flat 32-bit protected mode, paging off (multiboot, PVH) */
	X86_ENTRY_LONG64,      /* long mode, identity map of 4 GiB (Linux 64-bit boot protocol) */
};

struct x86_boot_input {
	const uint8_t *kernel;
	size_t kernel_size;
	const uint8_t *initrd; /* NULL for none */
	size_t initrd_size;
	const char *cmdline; /* never NULL */
	unsigned int ncpus;
	/* virtio-mmio devices to describe in the DSDT (may be 0). */
	const struct x86_mmio_device *mmio_devices;
	unsigned int n_mmio_devices;
	/* The PCI host bridge to describe in the DSDT, or NULL for none. */
	const struct x86_pci_host *pci;
};

struct x86_boot_plan {
	const char *protocol; /* "multiboot", "pvh", "linux64" */
	enum x86_entry_mode mode;
	uint64_t rip, rsp, rax, rbx, rsi;
	uint64_t kernel_start, kernel_end; /* guest range the image occupies, bss included */
	uint64_t initrd_start, initrd_size;
	uint64_t rsdp;
	uint64_t gdt_addr;
	uint64_t page_tables_addr; /* 0 unless mode is X86_ENTRY_LONG64 */
};

/* Selectors in the GDT the loader writes (Linux boot.rst: __BOOT_CS 0x10, __BOOT_DS 0x18). */
#define X86_GDT_CODE 0x10
#define X86_GDT_DATA 0x18
#define X86_GDT_TSS 0x20

#define X86_LOAD_ERR_LEN 256

/* crosvm's order: multiboot header first (a multiboot kernel may also be an ELF), then ELF,
 * then bzImage. */
enum x86_kernel_format x86_detect_format(const uint8_t *image, size_t size);
const char *x86_format_name(enum x86_kernel_format format);

/* Loads the kernel, initrd, command line and firmware tables into guest memory and fills
 * the plan. Returns 0, or -errno with a one-line reason in err. */
int x86_load_kernel(const struct guest_mem *mem, const struct arch_profile *profile,
		    const struct x86_boot_input *in, struct x86_boot_plan *plan, char *err, size_t errlen);

#endif
