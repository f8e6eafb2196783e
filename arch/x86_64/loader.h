/* Internal to the x86_64 loaders (boot.c, multiboot.c, elf.c, bzimage.c). */
#ifndef N90_X86_LOADER_H
#define N90_X86_LOADER_H

#include "arch/x86_64/boot.h"
#include "arch/x86_64/e820.h"

struct load_ctx {
	const struct guest_mem *mem;
	const struct arch_profile *profile;
	const struct x86_boot_input *in;
	struct x86_boot_plan *plan;
	char *err;
	size_t errlen;
};

/* Records a one-line reason and returns -err. */
int load_fail(struct load_ctx *ctx, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Kernels load at or above 1 MiB: below it n90vmm keeps its boot structures and tables. */
#define LOAD_MIN_ADDR 0x100000ull

/* Checks that [addr, addr+len) is RAM at or above LOAD_MIN_ADDR; what names the range. */
int load_check_range(struct load_ctx *ctx, const char *what, uint64_t addr, uint64_t len);

/* Writes the command line at profile->cmdline_addr (max bytes incl. NUL, 0 = profile's). */
int load_cmdline(struct load_ctx *ctx, uint32_t max);
/* Copies the initrd page-aligned at the highest address below `limit` and above the kernel. */
int load_initrd(struct load_ctx *ctx, uint64_t limit);
/* Firmware tables every protocol gets: ACPI and the MP table. */
int load_firmware_tables(struct load_ctx *ctx);
/* GDT (and, for long mode, identity page tables); sets the plan's addresses. */
int load_cpu_structures(struct load_ctx *ctx, enum x86_entry_mode mode);

/* ELF: PT_LOAD segments at their physical addresses; ELF32 or ELF64 for x86. */
struct elf_image {
	uint64_t entry;
	uint64_t low, high; /* physical range of all PT_LOAD segments, bss included */
	bool has_pvh;       /* a XEN_ELFNOTE_PHYS32_ENTRY note was found */
	uint32_t pvh_entry; /* its address */
	int is64;
};
int elf_parse(struct load_ctx *ctx, const uint8_t *image, size_t size, struct elf_image *out);
int elf_load_segments(struct load_ctx *ctx, const uint8_t *image, size_t size);

int multiboot_find_header(const uint8_t *image, size_t size, size_t *offset);
int multiboot_load(struct load_ctx *ctx);
int pvh_load(struct load_ctx *ctx, const struct elf_image *elf);
/* Linux 64-bit boot protocol; `setup` is the bzImage's setup header source or NULL for a
 * plain ELF vmlinux (then a default header is synthesised). */
int linux64_load_bzimage(struct load_ctx *ctx);
int linux64_load_vmlinux(struct load_ctx *ctx, const struct elf_image *elf);

#endif
