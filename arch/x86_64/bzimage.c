/* Linux x86 boot protocol, 64-bit entry (Documentation/arch/x86/boot.rst): the bzImage's
 * setup header is copied into a zero page ("boot_params") that n90vmm completes with the
 * command line, initrd and e820 map; the kernel starts in long mode at load address + 0x200
 * with RSI pointing at boot_params. A plain ELF vmlinux without a PVH note gets the same
 * entry with a synthesised header. */
#include <errno.h>
#include <string.h>

#include "vmm/bytes.h"
#include "arch/x86_64/loader.h"

/* Offsets in boot_params (arch/x86/include/uapi/asm/bootparam.h). */
#define BP_ACPI_RSDP 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR 0x1f1 /* struct setup_header starts here */
#define BP_HDR_END_2_12 0x268
#define BP_SETUP_SECTS 0x1f1
#define BP_VID_MODE 0x1fa
#define BP_BOOT_FLAG 0x1fe
#define BP_HEADER_MAGIC 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_CODE32_START 0x214
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_HEAP_END_PTR 0x224
#define BP_CMD_LINE_PTR 0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_KERNEL_ALIGNMENT 0x230
#define BP_RELOCATABLE 0x234
#define BP_XLOADFLAGS 0x236
#define BP_CMDLINE_SIZE 0x238
#define BP_PREF_ADDRESS 0x258
#define BP_INIT_SIZE 0x260
#define BP_E820_TABLE 0x2d0
#define BP_SIZE 0x1000

#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x01

/* Completes boot_params (already holding the setup header) and enters at load + 0x200
 * (bzImage) or the given 64-bit entry (vmlinux). */
static int linux64_finish(struct load_ctx *ctx, uint8_t *bp, uint64_t entry)
{
	const struct arch_profile *p = ctx->profile;
	struct x86_boot_plan *plan = ctx->plan;
	uint16_t version = get_le16(bp + BP_VERSION);
	int ret;

	uint32_t initrd_max = version >= 0x203 ? get_le32(bp + BP_INITRD_ADDR_MAX) : 0x37ffffff;
	if ((ret = load_initrd(ctx, (uint64_t)initrd_max + 1)))
		return ret;
	uint32_t cmdline_size = version >= 0x206 ? get_le32(bp + BP_CMDLINE_SIZE) + 1 : 256;
	if ((ret = load_cmdline(ctx, cmdline_size)))
		return ret;

	bp[BP_TYPE_OF_LOADER] = 0xff; /* undefined loader: no assigned ID */
	bp[BP_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
	memcpy(bp + BP_HEAP_END_PTR, &(uint16_t){ 0xfe00 }, 2);
	memcpy(bp + BP_VID_MODE, &(uint16_t){ 0xffff }, 2); /* "normal": no mode switch */
	put_le32(bp + BP_CMD_LINE_PTR, (uint32_t)p->cmdline_addr);
	put_le32(bp + BP_EXT_CMD_LINE_PTR, (uint32_t)(p->cmdline_addr >> 32));
	put_le32(bp + BP_RAMDISK_IMAGE, (uint32_t)plan->initrd_start);
	put_le32(bp + BP_RAMDISK_SIZE, (uint32_t)plan->initrd_size);
	put_le32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(plan->initrd_start >> 32));
	put_le32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)(plan->initrd_size >> 32));
	memcpy(bp + BP_ACPI_RSDP, &plan->rsdp, 8);

	struct e820_entry map[E820_MAX_ENTRIES];
	unsigned int n = x86_build_e820(ctx->mem, p, map);
	bp[BP_E820_ENTRIES] = (uint8_t)n;
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *e = bp + BP_E820_TABLE + i * 20;
		memcpy(e, &map[i].addr, 8);
		memcpy(e + 8, &map[i].size, 8);
		put_le32(e + 16, map[i].type);
	}
	if (guest_mem_write(ctx->mem, p->zero_page_addr, bp, BP_SIZE))
		return load_fail(ctx, EFAULT, "zero page address is not RAM");

	plan->protocol = "linux64";
	plan->rip = entry;
	plan->rsi = p->zero_page_addr;
	plan->rsp = p->stack_top;
	return load_cpu_structures(ctx, X86_ENTRY_LONG64);
}

int linux64_load_bzimage(struct load_ctx *ctx)
{
	const uint8_t *image = ctx->in->kernel;
	size_t size = ctx->in->kernel_size;
	uint8_t bp[BP_SIZE];

	if (size < BP_HDR_END_2_12)
		return load_fail(ctx, ENOEXEC, "bzImage: file too short for a setup header (truncated?)");
	uint16_t version = get_le16(image + BP_VERSION);
	if (version < 0x20c || !(get_le16(image + BP_XLOADFLAGS) & XLF_KERNEL_64))
		return load_fail(ctx, ENOEXEC,
				 "bzImage: no 64-bit entry point (boot protocol %u.%02u, XLF_KERNEL_64 %s); "
				 "n90vmm needs protocol 2.12+",
				 version >> 8, version & 0xff,
				 (get_le16(image + BP_XLOADFLAGS) & XLF_KERNEL_64) ? "set" : "clear");
	unsigned int setup_sects = image[BP_SETUP_SECTS] ? image[BP_SETUP_SECTS] : 4;
	uint64_t pm_offset = (uint64_t)(setup_sects + 1) * 512;
	if (pm_offset >= size)
		return load_fail(ctx, ENOEXEC, "bzImage: setup claims %u sectors, beyond the file end", setup_sects);
	uint64_t pm_size = size - pm_offset;

	/* A relocatable kernel goes where it prefers (usually 16 MiB, clear of everything below);
	 * others must run where they were linked, code32_start (1 MiB by default). */
	uint64_t load = get_le32(image + BP_CODE32_START);
	if (image[BP_RELOCATABLE]) {
		uint32_t align = get_le32(image + BP_KERNEL_ALIGNMENT);
		load = get_le64(image + BP_PREF_ADDRESS);
		if (align == 0 || (align & (align - 1)) || load % align)
			return load_fail(ctx, ENOEXEC, "bzImage: pref_address 0x%llx not aligned to 0x%x",
					 (unsigned long long)load, align);
	}
	/* init_size covers the decompressor's whole working area, not just the file. */
	uint64_t footprint = get_le32(image + BP_INIT_SIZE);
	if (footprint < pm_size)
		footprint = pm_size;
	int ret = load_check_range(ctx, "bzImage kernel (init_size)", load, footprint);
	if (ret)
		return ret;
	guest_mem_write(ctx->mem, load, image + pm_offset, pm_size);
	ctx->plan->kernel_start = load;
	ctx->plan->kernel_end = load + footprint;

	/* Copy only the setup header (boot.rst: "from 0x1f1 to the end of the header", whose
	 * length is given by the byte at 0x201, the jump's displacement). */
	size_t hdr_end = 0x202 + image[0x201];
	if (hdr_end > size)
		return load_fail(ctx, ENOEXEC, "bzImage: setup header runs past the file end");
	/* Protocol 2.12's header reaches 0x268; a shorter one would hand the kernel a copy
	 * without the fields validated and used above (version, initrd and cmdline limits). */
	if (hdr_end < BP_HDR_END_2_12)
		return load_fail(ctx, ENOEXEC, "bzImage: setup header ends at 0x%zx, before protocol 2.12's 0x%x",
				 hdr_end, BP_HDR_END_2_12);
	memset(bp, 0, sizeof(bp));
	memcpy(bp + BP_HDR, image + BP_HDR, hdr_end - BP_HDR);
	return linux64_finish(ctx, bp, load + 0x200);
}

int linux64_load_vmlinux(struct load_ctx *ctx, const struct elf_image *elf)
{
	uint8_t bp[BP_SIZE];
	if (!elf->is64)
		return load_fail(ctx, ENOEXEC, "ELF: 32-bit ELF without multiboot header or PVH note");
	int ret = elf_load_segments(ctx, ctx->in->kernel, ctx->in->kernel_size);
	if (ret)
		return ret;
	ctx->plan->kernel_start = elf->low;
	ctx->plan->kernel_end = elf->high;
	if (!guest_mem_is_ram(ctx->mem, elf->entry, 1))
		return load_fail(ctx, ENOEXEC, "ELF: entry 0x%llx is not a physical address in RAM",
				 (unsigned long long)elf->entry);
	/* What a bzImage header would have said: protocol 2.15, 64-bit, 16 MiB alignment. */
	memset(bp, 0, sizeof(bp));
	memcpy(bp + BP_BOOT_FLAG, &(uint16_t){ 0xaa55 }, 2);
	memcpy(bp + BP_HEADER_MAGIC, "HdrS", 4);
	memcpy(bp + BP_VERSION, &(uint16_t){ 0x020f }, 2);
	put_le32(bp + BP_INITRD_ADDR_MAX, 0x7fffffff);
	put_le32(bp + BP_KERNEL_ALIGNMENT, 0x1000000);
	put_le32(bp + BP_CMDLINE_SIZE, 2047);
	memcpy(bp + BP_XLOADFLAGS, &(uint16_t){ XLF_KERNEL_64 }, 2);
	return linux64_finish(ctx, bp, elf->entry);
}
