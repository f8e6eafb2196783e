/* ELF kernels: segment loading shared by multiboot-ELF and vmlinux, and the PVH boot
 * protocol (xen/include/public/arch-x86/hvm/start_info.h; Linux arch/x86/platform/pvh). */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "arch/x86_64/loader.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define MAX_PHDRS 64

struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

static int elf_header(struct load_ctx *ctx, const uint8_t *image, size_t size, struct elf_image *out,
		      uint64_t *phoff, uint16_t *phnum)
{
	if (size < sizeof(Elf32_Ehdr) || memcmp(image, ELFMAG, SELFMAG) != 0)
		return load_fail(ctx, ENOEXEC, "ELF: file too short or bad magic");
	if (image[EI_DATA] != ELFDATA2LSB)
		return load_fail(ctx, ENOEXEC, "ELF: not little-endian");
	if (image[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr eh;
		if (size < sizeof(eh))
			return load_fail(ctx, ENOEXEC, "ELF: truncated header");
		memcpy(&eh, image, sizeof(eh));
		if (eh.e_machine != EM_X86_64)
			return load_fail(ctx, ENOEXEC, "ELF: machine %u is not x86-64", eh.e_machine);
		if (eh.e_phentsize != sizeof(Elf64_Phdr))
			return load_fail(ctx, ENOEXEC, "ELF: bad program header size");
		out->is64 = 1;
		out->entry = eh.e_entry;
		*phoff = eh.e_phoff;
		*phnum = eh.e_phnum;
	} else if (image[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr eh;
		memcpy(&eh, image, sizeof(eh));
		if (eh.e_machine != EM_386 && eh.e_machine != EM_X86_64)
			return load_fail(ctx, ENOEXEC, "ELF: machine %u is not x86", eh.e_machine);
		if (eh.e_phentsize != sizeof(Elf32_Phdr))
			return load_fail(ctx, ENOEXEC, "ELF: bad program header size");
		out->is64 = 0;
		out->entry = eh.e_entry;
		*phoff = eh.e_phoff;
		*phnum = eh.e_phnum;
	} else {
		return load_fail(ctx, ENOEXEC, "ELF: unknown class %u", image[EI_CLASS]);
	}
	if (*phnum == 0 || *phnum > MAX_PHDRS)
		return load_fail(ctx, ENOEXEC, "ELF: %u program headers (1..%d accepted)", *phnum, MAX_PHDRS);
	uint64_t entsize = out->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (*phoff > size || (uint64_t)*phnum * entsize > size - *phoff)
		return load_fail(ctx, ENOEXEC, "ELF: program headers lie outside the file");
	return 0;
}

static void elf_phdr(const uint8_t *image, uint64_t phoff, int is64, unsigned int i, struct phdr *ph)
{
	if (is64) {
		Elf64_Phdr p;
		memcpy(&p, image + phoff + i * sizeof(p), sizeof(p));
		*ph = (struct phdr){ p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz };
	} else {
		Elf32_Phdr p;
		memcpy(&p, image + phoff + i * sizeof(p), sizeof(p));
		*ph = (struct phdr){ p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz };
	}
}

/* ELF notes (gABI "Note Section"): namesz, descsz, type, then name and desc, 4-aligned. */
static bool elf_find_pvh_entry(const uint8_t *notes, uint64_t len, uint32_t *entry)
{
	uint64_t pos = 0;
	while (len - pos >= 12) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, notes + pos, 4);
		memcpy(&descsz, notes + pos + 4, 4);
		memcpy(&type, notes + pos + 8, 4);
		uint64_t name_off = pos + 12;
		uint64_t desc_off = name_off + (((uint64_t)namesz + 3) & ~3ull);
		uint64_t next = desc_off + (((uint64_t)descsz + 3) & ~3ull);
		if (desc_off > len || next > len)
			return false;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && memcmp(notes + name_off, "Xen", 4) == 0 &&
		    descsz >= 4) {
			memcpy(entry, notes + desc_off, 4);
			return true;
		}
		pos = next;
	}
	return 0;
}

int elf_parse(struct load_ctx *ctx, const uint8_t *image, size_t size, struct elf_image *out)
{
	uint64_t phoff;
	uint16_t phnum;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = elf_header(ctx, image, size, out, &phoff, &phnum);
	if (ret)
		return ret;
	out->low = UINT64_MAX;
	for (unsigned int i = 0; i < phnum; i++) {
		struct phdr ph;
		elf_phdr(image, phoff, out->is64, i, &ph);
		if (ph.type != PT_LOAD && ph.type != PT_NOTE)
			continue;
		if (ph.offset > size || ph.filesz > size - ph.offset)
			return load_fail(ctx, ENOEXEC, "ELF: segment %u lies outside the file (truncated?)", i);
		if (ph.type == PT_NOTE) {
			if (!out->has_pvh)
				out->has_pvh = elf_find_pvh_entry(image + ph.offset, ph.filesz, &out->pvh_entry);
			continue;
		}
		if (ph.filesz > ph.memsz)
			return load_fail(ctx, ENOEXEC, "ELF: segment %u has file size above memory size", i);
		if (ph.memsz == 0)
			continue;
		if (ph.paddr + ph.memsz < ph.paddr)
			return load_fail(ctx, ENOEXEC, "ELF: segment %u wraps the address space", i);
		if (ph.paddr < out->low)
			out->low = ph.paddr;
		if (ph.paddr + ph.memsz > out->high)
			out->high = ph.paddr + ph.memsz;
	}
	if (out->high == 0)
		return load_fail(ctx, ENOEXEC, "ELF: no loadable segment");
	return 0;
}

int elf_load_segments(struct load_ctx *ctx, const uint8_t *image, size_t size)
{
	struct elf_image hdr;
	uint64_t phoff;
	uint16_t phnum;
	int ret = elf_header(ctx, image, size, &hdr, &phoff, &phnum);
	if (ret)
		return ret;
	for (unsigned int i = 0; i < phnum; i++) {
		struct phdr ph;
		elf_phdr(image, phoff, hdr.is64, i, &ph);
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		/* elf_parse() has validated offsets and sizes against the file. */
		ret = load_check_range(ctx, "ELF segment", ph.paddr, ph.memsz);
		if (ret)
			return ret;
		guest_mem_write(ctx->mem, ph.paddr, image + ph.offset, ph.filesz);
		guest_mem_fill(ctx->mem, ph.paddr + ph.filesz, 0, ph.memsz - ph.filesz);
	}
	return 0;
}

/* struct hvm_start_info and friends, version 1 (start_info.h). */
#define HVM_START_MAGIC 0x336ec578
#define MODLIST_OFFSET 64
#define MEMMAP_OFFSET 128

int pvh_load(struct load_ctx *ctx, const struct elf_image *elf)
{
	const struct arch_profile *p = ctx->profile;
	struct x86_boot_plan *plan = ctx->plan;
	struct e820_entry map[E820_MAX_ENTRIES];
	uint8_t info[MEMMAP_OFFSET + E820_MAX_ENTRIES * 24];
	int ret;

	/* The vCPU starts at the note's address: it must be code this image loaded. */
	if (elf->pvh_entry < elf->low || elf->pvh_entry >= elf->high)
		return load_fail(ctx, ENOEXEC, "PVH: entry 0x%x outside the loaded image [0x%llx, 0x%llx)",
				 elf->pvh_entry, (unsigned long long)elf->low, (unsigned long long)elf->high);
	ret = elf_load_segments(ctx, ctx->in->kernel, ctx->in->kernel_size);
	if (ret)
		return ret;
	plan->kernel_start = elf->low;
	plan->kernel_end = elf->high;
	if ((ret = load_initrd(ctx, guest_mem_low_end(ctx->mem))) || (ret = load_cmdline(ctx, 0)))
		return ret;

	unsigned int n = x86_build_e820(ctx->mem, p, map);
	memset(info, 0, sizeof(info));
	uint32_t u32;
	uint64_t u64;
#define PUT32(off, v) (u32 = (v), memcpy(info + (off), &u32, 4))
#define PUT64(off, v) (u64 = (v), memcpy(info + (off), &u64, 8))
	PUT32(0, HVM_START_MAGIC);
	PUT32(4, 1); /* version 1: memmap fields present */
	if (plan->initrd_size) {
		PUT32(12, 1);
		PUT64(16, p->boot_info_addr + MODLIST_OFFSET);
		PUT64(MODLIST_OFFSET, plan->initrd_start);
		PUT64(MODLIST_OFFSET + 8, plan->initrd_size);
	}
	PUT64(24, p->cmdline_addr);
	PUT64(32, plan->rsdp);
	PUT64(40, p->boot_info_addr + MEMMAP_OFFSET);
	PUT32(48, n);
	for (unsigned int i = 0; i < n; i++) {
		PUT64(MEMMAP_OFFSET + i * 24, map[i].addr);
		PUT64(MEMMAP_OFFSET + i * 24 + 8, map[i].size);
		PUT32(MEMMAP_OFFSET + i * 24 + 16, map[i].type);
	}
#undef PUT32
#undef PUT64
	if (guest_mem_write(ctx->mem, p->boot_info_addr, info, MEMMAP_OFFSET + n * 24))
		return load_fail(ctx, EFAULT, "PVH start_info address is not RAM");

	plan->protocol = "pvh";
	plan->rip = elf->pvh_entry;
	plan->rbx = p->boot_info_addr;
	plan->rsp = p->stack_top;
	return load_cpu_structures(ctx, X86_ENTRY_PROTECTED32);
}
