/* Multiboot 1 (Multiboot Specification 0.6.96), as StarryOS boots on x86-pc: the header's
 * address fields (flag 16, the "a.out kludge") say where the image goes, or else the ELF
 * program headers do. Entry in 32-bit protected mode with EAX = 0x2BADB002, EBX = info. */
#include <errno.h>
#include <string.h>

#include "vmm/bytes.h"
#include "arch/x86_64/loader.h"

#define MB_HEADER_MAGIC 0x1badb002u
#define MB_BOOTLOADER_MAGIC 0x2badb002u
#define MB_SEARCH_LIMIT 8192
#define MB_FLAG_PAGE_ALIGN (1u << 0)
#define MB_FLAG_MEMORY_INFO (1u << 1)
#define MB_FLAG_VIDEO_MODE (1u << 2)
#define MB_FLAG_ADDRESS_FIELDS (1u << 16)

#define MBI_MEMORY (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)

/* Layout of the info block n90vmm writes at profile->boot_info_addr. */
#define MBI_SIZE 128
#define MBI_MODS_OFFSET MBI_SIZE
#define MBI_MMAP_OFFSET (MBI_MODS_OFFSET + 16)
#define MBI_NAME_OFFSET (MBI_MMAP_OFFSET + E820_MAX_ENTRIES * 24)

int multiboot_find_header(const uint8_t *image, size_t size, size_t *offset)
{
	size_t limit = size < MB_SEARCH_LIMIT ? size : MB_SEARCH_LIMIT;
	/* The header is 32-bit aligned and at least 12 bytes (magic, flags, checksum). */
	for (size_t off = 0; off + 12 <= limit; off += 4) {
		uint32_t magic = get_le32(image + off);
		if (magic == MB_HEADER_MAGIC && (uint32_t)(magic + get_le32(image + off + 4) + get_le32(image + off + 8)) == 0) {
			*offset = off;
			return 0;
		}
	}
	return -ENOENT;
}

/* Loads the image as the header's address fields describe (spec §3.1.3). */
static int multiboot_load_address_fields(struct load_ctx *ctx, size_t hdr_off)
{
	const uint8_t *image = ctx->in->kernel;
	size_t size = ctx->in->kernel_size;
	if (size - hdr_off < 32)
		return load_fail(ctx, ENOEXEC, "multiboot: header truncated (address fields missing)");
	uint32_t header_addr = get_le32(image + hdr_off + 12), load_addr = get_le32(image + hdr_off + 16);
	uint32_t load_end = get_le32(image + hdr_off + 20), bss_end = get_le32(image + hdr_off + 24);
	uint32_t entry = get_le32(image + hdr_off + 28);

	if (load_addr > header_addr || header_addr - load_addr > hdr_off)
		return load_fail(ctx, ENOEXEC, "multiboot: load_addr 0x%x inconsistent with header_addr 0x%x",
				 load_addr, header_addr);
	uint64_t file_off = hdr_off - (header_addr - load_addr);
	uint64_t load_size = load_end ? (uint64_t)load_end - load_addr : size - file_off;
	if (load_end && load_end <= load_addr)
		return load_fail(ctx, ENOEXEC, "multiboot: load_end_addr 0x%x not above load_addr 0x%x", load_end,
				 load_addr);
	if (load_size > size - file_off)
		return load_fail(ctx, ENOEXEC, "multiboot: image claims %llu bytes but the file holds %llu (truncated?)",
				 (unsigned long long)load_size, (unsigned long long)(size - file_off));
	uint64_t end = (uint64_t)load_addr + load_size;
	if (bss_end) {
		if (bss_end < end)
			return load_fail(ctx, ENOEXEC, "multiboot: bss_end_addr 0x%x below the loaded image end", bss_end);
		end = bss_end;
	}
	int ret = load_check_range(ctx, "multiboot image", load_addr, end - load_addr);
	if (ret)
		return ret;
	if (entry < load_addr || entry >= end)
		return load_fail(ctx, ENOEXEC, "multiboot: entry 0x%x outside the image [0x%x, 0x%llx)", entry,
				 load_addr, (unsigned long long)end);
	guest_mem_write(ctx->mem, load_addr, image + file_off, load_size);
	guest_mem_fill(ctx->mem, load_addr + load_size, 0, end - load_addr - load_size);
	ctx->plan->kernel_start = load_addr;
	ctx->plan->kernel_end = end;
	ctx->plan->rip = entry;
	return 0;
}

static int multiboot_load_elf(struct load_ctx *ctx)
{
	struct elf_image elf;
	int ret = elf_parse(ctx, ctx->in->kernel, ctx->in->kernel_size, &elf);
	if (ret)
		return ret;
	ret = elf_load_segments(ctx, ctx->in->kernel, ctx->in->kernel_size);
	if (ret)
		return ret;
	if (elf.entry < elf.low || elf.entry >= elf.high || elf.entry > UINT32_MAX)
		return load_fail(ctx, ENOEXEC, "multiboot: ELF entry 0x%llx outside the image [0x%llx, 0x%llx)",
				 (unsigned long long)elf.entry, (unsigned long long)elf.low,
				 (unsigned long long)elf.high);
	ctx->plan->kernel_start = elf.low;
	ctx->plan->kernel_end = elf.high;
	ctx->plan->rip = elf.entry;
	return 0;
}

int multiboot_load(struct load_ctx *ctx)
{
	const struct arch_profile *p = ctx->profile;
	struct x86_boot_plan *plan = ctx->plan;
	const uint8_t *image = ctx->in->kernel;
	size_t hdr_off;
	int ret;

	multiboot_find_header(image, ctx->in->kernel_size, &hdr_off);
	uint32_t flags = get_le32(image + hdr_off + 4);
	/* Bits 0-15 are requirements the loader must meet or refuse (§3.1.2). Video mode
	 * information (bit 2) is a request we leave unanswered: there is no framebuffer. */
	uint32_t unknown = flags & 0xffffu & ~(MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO | MB_FLAG_VIDEO_MODE);
	if (unknown)
		return load_fail(ctx, ENOEXEC, "multiboot: header requires unsupported features 0x%x", unknown);

	if (flags & MB_FLAG_ADDRESS_FIELDS)
		ret = multiboot_load_address_fields(ctx, hdr_off);
	else if (ctx->in->kernel_size >= 4 && memcmp(image, "\177ELF", 4) == 0)
		ret = multiboot_load_elf(ctx);
	else
		ret = load_fail(ctx, ENOEXEC, "multiboot: no address fields and not an ELF file");
	if (ret)
		return ret;
	/* The initrd is handed over as module 0, page aligned (flag 0 asks for that). */
	if ((ret = load_initrd(ctx, guest_mem_low_end(ctx->mem))) || (ret = load_cmdline(ctx, 0)))
		return ret;

	struct e820_entry map[E820_MAX_ENTRIES];
	unsigned int n = x86_build_e820(ctx->mem, p, map);
	uint8_t info[MBI_NAME_OFFSET + 8];
	uint32_t v, base = (uint32_t)p->boot_info_addr;
	memset(info, 0, sizeof(info));
#define PUT32(off, val) (v = (uint32_t)(val), memcpy(info + (off), &v, 4))
	uint32_t mbi_flags = MBI_MEMORY | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME;
	PUT32(4, p->base_mem_end / 1024);                                  /* mem_lower, KiB */
	PUT32(8, (guest_mem_low_end(ctx->mem) - LOAD_MIN_ADDR) / 1024);   /* mem_upper, KiB from 1 MiB */
	PUT32(16, p->cmdline_addr);
	if (plan->initrd_size) {
		mbi_flags |= MBI_MODS;
		PUT32(20, 1);
		PUT32(24, base + MBI_MODS_OFFSET);
		PUT32(MBI_MODS_OFFSET, plan->initrd_start);
		PUT32(MBI_MODS_OFFSET + 4, plan->initrd_start + plan->initrd_size);
		PUT32(MBI_MODS_OFFSET + 8, base + MBI_NAME_OFFSET); /* module string: loader name */
	}
	/* mmap entries (§3.3): size (of the rest, 20), base_addr, length, type. */
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *e = info + MBI_MMAP_OFFSET + i * 24;
		v = 20;
		memcpy(e, &v, 4);
		memcpy(e + 4, &map[i].addr, 8);
		memcpy(e + 12, &map[i].size, 8);
		memcpy(e + 20, &map[i].type, 4);
	}
	PUT32(44, n * 24);
	PUT32(48, base + MBI_MMAP_OFFSET);
	PUT32(64, base + MBI_NAME_OFFSET);
	PUT32(0, mbi_flags);
#undef PUT32
	memcpy(info + MBI_NAME_OFFSET, "n90vmm", 7);
	if (guest_mem_write(ctx->mem, p->boot_info_addr, info, sizeof(info)))
		return load_fail(ctx, EFAULT, "multiboot info address is not RAM");

	plan->protocol = "multiboot";
	plan->rax = MB_BOOTLOADER_MAGIC;
	plan->rbx = p->boot_info_addr;
	plan->rsp = 0; /* the spec leaves ESP undefined; the kernel sets its own */
	return load_cpu_structures(ctx, X86_ENTRY_PROTECTED32);
}
