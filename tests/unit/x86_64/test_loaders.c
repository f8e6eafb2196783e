/* Kernel format detection and the three boot protocols on synthetic images built here:
 * Multiboot 1 (flat with address fields, and ELF), ELF with a PVH note (ELF32 and ELF64),
 * ELF vmlinux without one, and bzImage. Then every way those images can be corrupt: each
 * must give an error with a reason, never a crash. Copies handed to the loader are exactly
 * as long as the file, so an over-read shows under ASan (make sanitize). */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/e820.h"
#include "tests/unit/unit_util.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static struct guest_mem mem;
static const struct arch_profile *prof;
static struct x86_boot_plan plan;
static char err[X86_LOAD_ERR_LEN];

static void setup(void)
{
	prof = x86_profile_find("crosvm-x86");
	cr_assert_not_null(prof);
	cr_assert_eq(guest_mem_alloc(&mem, 0, 256 * MIB, prof->mmio_hole_start), 0);
}

static void teardown(void)
{
	guest_mem_free(&mem);
}

TestSuite(loaders, .init = setup, .fini = teardown);

/* Swaps in another profile and RAM size. */
static void use_machine(const char *profile, uint64_t ram)
{
	guest_mem_free(&mem);
	prof = x86_profile_find(profile);
	cr_assert_not_null(prof);
	cr_assert_eq(guest_mem_alloc(&mem, 0, ram, prof->mmio_hole_start), 0);
}

/* ---- image builders ---- */

struct img {
	uint8_t *data;
	size_t size;
};

static struct img img_new(size_t size)
{
	struct img im = { calloc(1, size ? size : 1), size };
	cr_assert_not_null(im.data);
	/* A recognisable body, so copies into guest memory can be checked. */
	for (size_t i = 0; i < size; i++)
		im.data[i] = (uint8_t)(i * 7 + 3);
	return im;
}

#define MB_MAGIC 0x1badb002u
#define MB_AOUT_KLUDGE (1u << 16)

static void mb_header(uint8_t *h, uint32_t flags)
{
	wr32(h, MB_MAGIC);
	wr32(h + 4, flags);
	wr32(h + 8, (uint32_t)(0 - MB_MAGIC - flags));
}

/* Flat multiboot image: header with address fields at hdr_off, loaded at load_addr. */
struct mb_opts {
	size_t size, hdr_off;
	uint32_t flags, header_addr, load_addr, load_end, bss_end, entry;
};

static struct mb_opts mb_defaults(void)
{
	struct mb_opts o = { .size = 0x2000, .hdr_off = 0x40, .flags = 0x3 | MB_AOUT_KLUDGE, .load_addr = 0x200000 };
	o.header_addr = o.load_addr + (uint32_t)o.hdr_off;
	o.load_end = o.load_addr + (uint32_t)o.size;
	o.bss_end = o.load_end + 0x3000;
	o.entry = o.load_addr + 0x100;
	return o;
}

static struct img mb_image(struct mb_opts o)
{
	struct img im = img_new(o.size);
	uint8_t *h = im.data + o.hdr_off;
	mb_header(h, o.flags);
	wr32(h + 12, o.header_addr);
	wr32(h + 16, o.load_addr);
	wr32(h + 20, o.load_end);
	wr32(h + 24, o.bss_end);
	wr32(h + 28, o.entry);
	return im;
}

struct seg {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

struct elf_opts {
	int is64;
	uint16_t machine;
	uint64_t entry;
	size_t size;
	unsigned int nsegs;
	struct seg segs[4];
};

static struct img elf_image(const struct elf_opts *o)
{
	struct img im = img_new(o->size);
	uint8_t *p = im.data;
	memset(p, 0, o->is64 ? sizeof(Elf64_Ehdr) + o->nsegs * sizeof(Elf64_Phdr)
			     : sizeof(Elf32_Ehdr) + o->nsegs * sizeof(Elf32_Phdr));
	memcpy(p, ELFMAG, SELFMAG);
	p[EI_CLASS] = o->is64 ? ELFCLASS64 : ELFCLASS32;
	p[EI_DATA] = ELFDATA2LSB;
	p[EI_VERSION] = EV_CURRENT;
	if (o->is64) {
		Elf64_Ehdr eh = { .e_type = ET_EXEC, .e_machine = o->machine, .e_version = EV_CURRENT,
				  .e_entry = o->entry, .e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
				  .e_phentsize = sizeof(Elf64_Phdr), .e_phnum = (uint16_t)o->nsegs };
		memcpy(eh.e_ident, p, EI_NIDENT);
		memcpy(p, &eh, sizeof(eh));
		for (unsigned int i = 0; i < o->nsegs; i++) {
			Elf64_Phdr ph = { .p_type = o->segs[i].type, .p_offset = o->segs[i].offset,
					  .p_vaddr = o->segs[i].paddr, .p_paddr = o->segs[i].paddr,
					  .p_filesz = o->segs[i].filesz, .p_memsz = o->segs[i].memsz, .p_align = 0x1000 };
			memcpy(p + sizeof(eh) + i * sizeof(ph), &ph, sizeof(ph));
		}
	} else {
		Elf32_Ehdr eh = { .e_type = ET_EXEC, .e_machine = o->machine, .e_version = EV_CURRENT,
				  .e_entry = (uint32_t)o->entry, .e_phoff = sizeof(Elf32_Ehdr), .e_ehsize = sizeof(Elf32_Ehdr),
				  .e_phentsize = sizeof(Elf32_Phdr), .e_phnum = (uint16_t)o->nsegs };
		memcpy(eh.e_ident, p, EI_NIDENT);
		memcpy(p, &eh, sizeof(eh));
		for (unsigned int i = 0; i < o->nsegs; i++) {
			Elf32_Phdr ph = { .p_type = o->segs[i].type, .p_offset = (uint32_t)o->segs[i].offset,
					  .p_vaddr = (uint32_t)o->segs[i].paddr, .p_paddr = (uint32_t)o->segs[i].paddr,
					  .p_filesz = (uint32_t)o->segs[i].filesz, .p_memsz = (uint32_t)o->segs[i].memsz,
					  .p_align = 0x1000 };
			memcpy(p + sizeof(eh) + i * sizeof(ph), &ph, sizeof(ph));
		}
	}
	return im;
}

#define NOTE_OFF 0x200
#define LOAD_OFF 0x1000
#define LOAD_ADDR 0x100000ull
#define PVH_ENTRY (LOAD_ADDR + 0x40)

/* Xen PHYS32_ENTRY note (type 18, name "Xen") at `off`. Returns its size. */
static size_t put_pvh_note(uint8_t *p, uint32_t type, uint32_t entry)
{
	wr32(p, 4);
	wr32(p + 4, 4);
	wr32(p + 8, type);
	memcpy(p + 12, "Xen", 4);
	wr32(p + 16, entry);
	return 20;
}

/* One PT_LOAD at 1 MiB (file 0x1000..size, 8 KiB of bss after it) and optionally a PT_NOTE. */
static struct elf_opts elf_defaults(int is64, int with_note)
{
	struct elf_opts o = { .is64 = is64, .machine = is64 ? EM_X86_64 : EM_386, .entry = LOAD_ADDR + 0x10,
			      .size = 0x2000 };
	o.segs[o.nsegs++] = (struct seg){ PT_LOAD, LOAD_OFF, LOAD_ADDR, o.size - LOAD_OFF, o.size - LOAD_OFF + 0x2000 };
	if (with_note)
		o.segs[o.nsegs++] = (struct seg){ PT_NOTE, NOTE_OFF, 0, 20, 20 };
	return o;
}

static struct img pvh_image(int is64)
{
	struct elf_opts o = elf_defaults(is64, 1);
	struct img im = elf_image(&o);
	put_pvh_note(im.data + NOTE_OFF, 18, (uint32_t)PVH_ENTRY);
	return im;
}

/* ELF32 with a multiboot header (no address fields) at the start of its loaded segment. */
static struct img mb_elf_image(void)
{
	struct elf_opts o = elf_defaults(0, 0);
	struct img im = elf_image(&o);
	mb_header(im.data + LOAD_OFF, 0x3);
	return im;
}

struct bz_opts {
	uint8_t setup_sects;
	uint16_t version, xloadflags;
	uint8_t relocatable, hdr_len;
	uint32_t kernel_alignment, code32_start, init_size, initrd_addr_max, cmdline_size;
	uint64_t pref_address;
	size_t payload;
};

static struct bz_opts bz_defaults(void)
{
	return (struct bz_opts){ .setup_sects = 4, .version = 0x20f, .xloadflags = 0x3, .relocatable = 1,
				 .hdr_len = 0x268 - 0x202, .kernel_alignment = 0x200000, .code32_start = 0x100000,
				 .init_size = 0x800000, .initrd_addr_max = 0x7fffffff, .cmdline_size = 2047,
				 .pref_address = 0x1000000, .payload = 0x1800 };
}

static size_t bz_pm_offset(const struct bz_opts *o)
{
	return ((size_t)(o->setup_sects ? o->setup_sects : 4) + 1) * 512;
}

static struct img bz_image(struct bz_opts o)
{
	struct img im = img_new(bz_pm_offset(&o) + o.payload);
	uint8_t *p = im.data;
	memset(p, 0, 0x300);
	p[0x1f1] = o.setup_sects;
	wr16(p + 0x1fe, 0xaa55);
	p[0x200] = 0xeb; /* jmp short over the header */
	p[0x201] = o.hdr_len;
	memcpy(p + 0x202, "HdrS", 4);
	wr16(p + 0x206, o.version);
	p[0x211] = 0x01; /* LOADED_HIGH */
	wr32(p + 0x214, o.code32_start);
	wr32(p + 0x22c, o.initrd_addr_max);
	wr32(p + 0x230, o.kernel_alignment);
	p[0x234] = o.relocatable;
	wr16(p + 0x236, o.xloadflags);
	wr32(p + 0x238, o.cmdline_size);
	wr64(p + 0x258, o.pref_address);
	wr32(p + 0x260, o.init_size);
	return im;
}

/* ---- loading ---- */

static uint8_t initrd_buf[3 * 4096 + 123];
static uint8_t *initrd_data;
static size_t initrd_size;

static int load_full(const uint8_t *kernel, size_t size, const char *cmdline, unsigned int ncpus)
{
	struct x86_boot_input in = { .kernel = kernel, .kernel_size = size, .initrd = initrd_data,
				     .initrd_size = initrd_size, .cmdline = cmdline, .ncpus = ncpus };
	memset(err, 0, sizeof(err));
	return x86_load_kernel(&mem, prof, &in, &plan, err, sizeof(err));
}

/* Loads a private copy exactly `size` bytes long. */
static int load(const struct img *im, const char *cmdline)
{
	uint8_t *copy = malloc(im->size ? im->size : 1);
	memcpy(copy, im->data, im->size);
	int ret = load_full(copy, im->size, cmdline, 2);
	free(copy);
	return ret;
}

static void with_initrd(void)
{
	for (size_t i = 0; i < sizeof(initrd_buf); i++)
		initrd_buf[i] = (uint8_t)(0xa0 ^ i);
	initrd_data = initrd_buf;
	initrd_size = sizeof(initrd_buf);
}

#define assert_loads(ret) cr_assert_eq((ret), 0, "load failed: %s", err)

/* A refusal: negative errno and a one-line reason. */
#define assert_refused(ret, ...)                                                                   \
	do {                                                                                       \
		int ret_ = (ret);                                                                  \
		cr_assert_lt(ret_, 0, __VA_ARGS__);                                                \
		cr_assert_neq(err[0], '\0', "refused without a reason");                          \
		cr_assert_null(strchr(err, '\n'), "one line: '%s'", err);                          \
	} while (0)

static const uint8_t *gp(uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gpa_to_hva_checked(&mem, gpa, len);
	cr_assert_not_null(p, "0x%llx +0x%llx not RAM", (unsigned long long)gpa, (unsigned long long)len);
	return p;
}

static void assert_guest_str(uint64_t gpa, const char *s)
{
	cr_assert(memcmp(gp(gpa, strlen(s) + 1), s, strlen(s) + 1) == 0, "guest string at 0x%llx is not '%s'",
		  (unsigned long long)gpa, s);
}

/* The common post-conditions of a successful load. */
static void check_plan_common(void)
{
	cr_assert_geq(plan.kernel_start, 0x100000);
	cr_assert_gt(plan.kernel_end, plan.kernel_start);
	cr_assert(guest_mem_is_ram(&mem, plan.kernel_start, plan.kernel_end - plan.kernel_start));
	cr_assert_eq(plan.gdt_addr, prof->gdt_addr);
	const uint8_t *rsdp = gp(plan.rsdp, 36);
	cr_assert(memcmp(rsdp, "RSD PTR ", 8) == 0, "plan.rsdp points at the RSDP");
	if (initrd_data) {
		cr_assert_eq(plan.initrd_size, initrd_size);
		cr_assert_eq(plan.initrd_start % 4096, 0, "initrd page aligned");
		cr_assert_geq(plan.initrd_start, plan.kernel_end, "initrd above the kernel");
		cr_assert_leq(plan.initrd_start + plan.initrd_size, guest_mem_low_end(&mem), "initrd below the hole");
		cr_assert(memcmp(gp(plan.initrd_start, initrd_size), initrd_data, initrd_size) == 0, "initrd copied");
	} else {
		cr_assert_eq(plan.initrd_size, 0);
	}
	const uint64_t *gdt = (const uint64_t *)gp(prof->gdt_addr, 40);
	cr_assert_eq(gdt[X86_GDT_DATA / 8], 0x00cf93000000ffffull, "flat data segment");
	if (plan.mode == X86_ENTRY_LONG64) {
		cr_assert_eq(gdt[X86_GDT_CODE / 8], 0x00af9b000000ffffull, "64-bit code segment");
	} else {
		cr_assert_eq(gdt[X86_GDT_CODE / 8], 0x00cf9b000000ffffull, "32-bit code segment");
		cr_assert_eq(plan.page_tables_addr, 0);
	}
}

static void check_e820_copy(const uint8_t *entries, unsigned int n, size_t stride)
{
	struct e820_entry want[E820_MAX_ENTRIES];
	unsigned int wn = x86_build_e820(&mem, prof, want);
	cr_assert_eq(n, wn, "memory map entries");
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *e = entries + i * stride;
		cr_assert_eq(rd64(e), want[i].addr, "entry %u base", i);
		cr_assert_eq(rd64(e + 8), want[i].size, "entry %u length", i);
		cr_assert_eq(rd32(e + 16), want[i].type, "entry %u type", i);
	}
}

/* ---- detection ---- */

Test(loaders, detect_formats)
{
	struct img mb = mb_image(mb_defaults()), mbelf = mb_elf_image(), pvh = pvh_image(1), bz = bz_image(bz_defaults());
	cr_assert_eq(x86_detect_format(mb.data, mb.size), X86_FORMAT_MULTIBOOT);
	cr_assert_eq(x86_detect_format(mbelf.data, mbelf.size), X86_FORMAT_MULTIBOOT, "multiboot header wins over ELF");
	cr_assert_eq(x86_detect_format(pvh.data, pvh.size), X86_FORMAT_ELF);
	cr_assert_eq(x86_detect_format(bz.data, bz.size), X86_FORMAT_BZIMAGE);
	uint8_t junk[600];
	memset(junk, 0x90, sizeof(junk));
	cr_assert_eq(x86_detect_format(junk, sizeof(junk)), X86_FORMAT_UNKNOWN);
	cr_assert_eq(x86_detect_format(junk, 0), X86_FORMAT_UNKNOWN);
	cr_assert_eq(x86_detect_format((const uint8_t *)"\177EL", 3), X86_FORMAT_UNKNOWN);
	/* bzImage needs both the boot flag and "HdrS". */
	bz.data[0x1fe] = 0;
	cr_assert_eq(x86_detect_format(bz.data, bz.size), X86_FORMAT_UNKNOWN);
	cr_assert_str_eq(x86_format_name(X86_FORMAT_MULTIBOOT), "multiboot");
	cr_assert_str_eq(x86_format_name(X86_FORMAT_ELF), "elf");
	cr_assert_str_eq(x86_format_name(X86_FORMAT_BZIMAGE), "bzimage");
	cr_assert_str_eq(x86_format_name(X86_FORMAT_UNKNOWN), "unknown");
	free(mb.data);
	free(mbelf.data);
	free(pvh.data);
	free(bz.data);
}

Test(loaders, multiboot_header_must_be_in_first_8k_aligned_and_checksummed)
{
	struct img im = img_new(0x4000);
	memset(im.data, 0, im.size);
	mb_header(im.data + 8192 - 12, 0x3);
	cr_assert_eq(x86_detect_format(im.data, im.size), X86_FORMAT_MULTIBOOT, "last slot inside 8 KiB");
	memset(im.data, 0, im.size);
	mb_header(im.data + 8192 - 8, 0x3);
	cr_assert_eq(x86_detect_format(im.data, im.size), X86_FORMAT_UNKNOWN, "straddles the 8 KiB limit");
	memset(im.data, 0, im.size);
	mb_header(im.data + 8192, 0x3);
	cr_assert_eq(x86_detect_format(im.data, im.size), X86_FORMAT_UNKNOWN);
	memset(im.data, 0, im.size);
	mb_header(im.data + 0x42, 0x3);
	cr_assert_eq(x86_detect_format(im.data, im.size), X86_FORMAT_UNKNOWN, "not 32-bit aligned");
	memset(im.data, 0, im.size);
	mb_header(im.data + 0x40, 0x3);
	wr32(im.data + 0x48, rd32(im.data + 0x48) + 1);
	cr_assert_eq(x86_detect_format(im.data, im.size), X86_FORMAT_UNKNOWN, "bad checksum");
	free(im.data);
}

/* ---- multiboot ---- */

Test(loaders, multiboot_flat_image_plan_and_copy)
{
	with_initrd();
	struct mb_opts o = mb_defaults();
	struct img im = mb_image(o);
	memset(gpa_to_hva_checked(&mem, o.load_addr, o.bss_end - o.load_addr), 0xaa, o.bss_end - o.load_addr);
	assert_loads(load(&im, "console=ttyS0 expect_cpus=2"));
	check_plan_common();
	cr_assert_str_eq(plan.protocol, "multiboot");
	cr_assert_eq(plan.mode, X86_ENTRY_PROTECTED32);
	cr_assert_eq(plan.rip, o.entry);
	cr_assert_eq(plan.rax, 0x2badb002);
	cr_assert_eq(plan.rbx, prof->boot_info_addr);
	cr_assert_eq(plan.kernel_start, o.load_addr);
	cr_assert_eq(plan.kernel_end, o.bss_end);
	/* header_addr - load_addr == hdr_off: the file is loaded from its first byte. */
	cr_assert(memcmp(gp(o.load_addr, im.size), im.data, im.size) == 0, "image copied");
	const uint8_t *bss = gp(o.load_end, o.bss_end - o.load_end);
	for (uint32_t i = 0; i < o.bss_end - o.load_end; i++)
		cr_assert_eq(bss[i], 0, "bss byte %u not zeroed", i);
	free(im.data);
}

Test(loaders, multiboot_info_block)
{
	with_initrd();
	struct img im = mb_image(mb_defaults());
	assert_loads(load(&im, "a=1 b=2"));
	const uint8_t *mbi = gp(plan.rbx, 88);
	uint32_t flags = rd32(mbi);
	cr_assert(flags & (1u << 0), "mem_lower/mem_upper");
	cr_assert(flags & (1u << 2), "cmdline");
	cr_assert(flags & (1u << 3), "mods (the initrd)");
	cr_assert(flags & (1u << 6), "mmap");
	cr_assert_eq(rd32(mbi + 4), prof->base_mem_end / 1024, "mem_lower KiB");
	cr_assert_eq(rd32(mbi + 8), (256 * MIB - MIB) / 1024, "mem_upper: KiB from 1 MiB to the end of low RAM");
	assert_guest_str(rd32(mbi + 16), "a=1 b=2");
	cr_assert_eq(rd32(mbi + 20), 1, "mods_count");
	const uint8_t *mod = gp(rd32(mbi + 24), 16);
	cr_assert_eq(rd32(mod), plan.initrd_start);
	cr_assert_eq(rd32(mod + 4), plan.initrd_start + initrd_size, "mod_end is exclusive");
	assert_guest_str(rd32(mod + 8), "n90vmm");
	uint32_t mmap_len = rd32(mbi + 44), mmap_addr = rd32(mbi + 48);
	cr_assert_eq(mmap_len % 24, 0);
	const uint8_t *mm = gp(mmap_addr, mmap_len);
	for (uint32_t off = 0; off < mmap_len; off += 24)
		cr_assert_eq(rd32(mm + off), 20, "each entry's size field counts the 20 bytes after it");
	check_e820_copy(mm + 4, mmap_len / 24, 24);
	if (flags & (1u << 9))
		assert_guest_str(rd32(mbi + 64), "n90vmm");
	free(im.data);
}

Test(loaders, multiboot_without_initrd_has_no_modules)
{
	struct img im = mb_image(mb_defaults());
	assert_loads(load(&im, ""));
	check_plan_common();
	const uint8_t *mbi = gp(plan.rbx, 88);
	cr_assert_eq(rd32(mbi) & (1u << 3), 0);
	assert_guest_str(rd32(mbi + 16), "");
	free(im.data);
}

Test(loaders, multiboot_boot_info_per_profile)
{
	use_machine("starry-x86", 1 * GIB);
	struct img im = mb_image(mb_defaults());
	assert_loads(load(&im, ""));
	cr_assert_eq(plan.rbx, 0x10000, "StarryOS keeps 0x6000 for its AP trampoline");
	check_plan_common();
	free(im.data);
}

Test(loaders, multiboot_header_later_in_the_file)
{
	struct mb_opts o = mb_defaults();
	o.hdr_off = 0x1000;
	o.header_addr = o.load_addr + 0x1000;
	struct img im = mb_image(o);
	assert_loads(load(&im, ""));
	cr_assert(memcmp(gp(o.load_addr, im.size), im.data, im.size) == 0);
	free(im.data);
	/* header_addr - load_addr smaller than the header's file offset: the file is loaded
	 * from the middle. */
	o.header_addr = o.load_addr + 0x800;
	o.load_end = 0; /* to the end of the file */
	o.bss_end = 0;
	im = mb_image(o);
	assert_loads(load(&im, ""));
	cr_assert_eq(plan.kernel_end, o.load_addr + (im.size - 0x800), "load_end 0: the rest of the file");
	cr_assert(memcmp(gp(o.load_addr, im.size - 0x800), im.data + 0x800, im.size - 0x800) == 0);
	free(im.data);
}

Test(loaders, multiboot_video_mode_request_is_accepted)
{
	struct mb_opts o = mb_defaults();
	o.flags |= 1u << 2;
	struct img im = mb_image(o);
	assert_loads(load(&im, ""));
	free(im.data);
}

Test(loaders, multiboot_elf)
{
	with_initrd();
	struct img im = mb_elf_image();
	assert_loads(load(&im, "x"));
	check_plan_common();
	cr_assert_str_eq(plan.protocol, "multiboot");
	cr_assert_eq(plan.rip, LOAD_ADDR + 0x10, "ELF entry");
	cr_assert_eq(plan.kernel_start, LOAD_ADDR);
	cr_assert_eq(plan.kernel_end, LOAD_ADDR + (im.size - LOAD_OFF) + 0x2000, "bss included");
	cr_assert(memcmp(gp(LOAD_ADDR, im.size - LOAD_OFF), im.data + LOAD_OFF, im.size - LOAD_OFF) == 0);
	const uint8_t *bss = gp(LOAD_ADDR + im.size - LOAD_OFF, 0x2000);
	for (int i = 0; i < 0x2000; i++)
		cr_assert_eq(bss[i], 0);
	free(im.data);
}

static void mb_refused(struct mb_opts o, const char *why)
{
	struct img im = mb_image(o);
	assert_refused(load(&im, ""), "%s", why);
	free(im.data);
}

Test(loaders, multiboot_bad_address_fields)
{
	struct mb_opts d = mb_defaults(), o;

	o = d, o.load_end = d.load_addr - 0x1000;
	mb_refused(o, "load_end below load_addr");
	o = d, o.load_end = d.load_addr;
	mb_refused(o, "load_end == load_addr");
	o = d, o.header_addr = d.load_addr - 4;
	mb_refused(o, "header_addr below load_addr");
	o = d, o.header_addr = d.load_addr + (uint32_t)d.hdr_off + 4;
	mb_refused(o, "header would lie before the start of the file");
	o = d, o.header_addr = 0xffffffff;
	mb_refused(o, "header_addr absurd");
	o = d, o.bss_end = d.load_end - 1;
	mb_refused(o, "bss_end below the end of the loaded image");
	o = d, o.entry = d.load_addr - 1;
	mb_refused(o, "entry below the image");
	o = d, o.entry = d.bss_end;
	mb_refused(o, "entry at the end of the image");
	o = d, o.entry = 0xfffffff0;
	mb_refused(o, "entry far outside");
	o = d, o.load_end = d.load_addr + (uint32_t)d.size + 1;
	mb_refused(o, "load_end one byte beyond the file");
	o = d, o.load_end = 0xffffffff;
	mb_refused(o, "load_end 0xffffffff");
	o = d, o.flags |= 1u << 3;
	mb_refused(o, "unknown required feature bit 3");
	o = d, o.flags |= 1u << 15;
	mb_refused(o, "unknown required feature bit 15");
	o = d, o.flags &= ~MB_AOUT_KLUDGE;
	mb_refused(o, "no address fields and not an ELF");
}

Test(loaders, multiboot_image_outside_ram)
{
	struct mb_opts d = mb_defaults(), o;
	/* Below 1 MiB, where the boot tables live. */
	o = d, o.load_addr = 0x80000, o.header_addr = o.load_addr + 0x40, o.load_end = o.load_addr + 0x2000;
	o.bss_end = 0, o.entry = o.load_addr;
	mb_refused(o, "below 1 MiB");
	/* Past the end of the 256 MiB of RAM. */
	o = d, o.load_addr = 0x0ffff000, o.header_addr = o.load_addr + 0x40, o.load_end = o.load_addr + 0x2000;
	o.bss_end = 0, o.entry = o.load_addr;
	mb_refused(o, "past the end of RAM");
	/* bss reaching to 4 GiB. */
	o = d, o.bss_end = 0xffffffff;
	mb_refused(o, "bss to 4 GiB");
	/* Top of the 32-bit space. */
	o = d, o.load_addr = 0xfffff000, o.header_addr = o.load_addr + 0x40, o.load_end = 0, o.bss_end = 0;
	o.entry = o.load_addr;
	mb_refused(o, "top of the 32-bit space");
	/* Into the MMIO hole with RAM on both sides. */
	use_machine("crosvm-x86", 5 * GIB);
	o = d, o.load_addr = 0xcffff000, o.header_addr = o.load_addr + 0x40, o.load_end = o.load_addr + 0x2000;
	o.bss_end = 0, o.entry = o.load_addr;
	mb_refused(o, "across the start of the hole");
}

Test(loaders, multiboot_header_too_short_for_address_fields)
{
	/* The header's first 12 bytes are the last of the file. */
	struct img im = img_new(0x100);
	mb_header(im.data + 0x100 - 12, 0x3 | MB_AOUT_KLUDGE);
	assert_refused(load(&im, ""));
	free(im.data);
	im = img_new(0x100);
	mb_header(im.data + 0x100 - 28, 0x3 | MB_AOUT_KLUDGE);
	assert_refused(load(&im, ""), "28 of 32 bytes");
	free(im.data);
}

/* Regression test, once a bug (arch/x86_64/multiboot.c, multiboot_load_elf): the ELF entry point of a multiboot ELF
 * is only checked to be below 4 GiB, never to lie inside the loaded segments (or in RAM), so
 * an image whose e_entry is 0x10 loads with plan.rip = 0x10. The address-field path rejects
 * the same thing ("entry outside the image"). */
Test(loaders, multiboot_elf_entry_outside_the_image_is_refused)
{
	struct elf_opts o = elf_defaults(0, 0);
	o.entry = 0x10;
	struct img im = elf_image(&o);
	mb_header(im.data + LOAD_OFF, 0x3);
	assert_refused(load(&im, ""), "entry 0x10 accepted (rip = 0x%llx)", (unsigned long long)plan.rip);
	free(im.data);
}

Test(loaders, multiboot_elf64_entry_above_4g_is_refused)
{
	struct elf_opts o = elf_defaults(1, 0);
	o.entry = 0x100000000ull + LOAD_ADDR;
	struct img im = elf_image(&o);
	mb_header(im.data + LOAD_OFF, 0x3);
	assert_refused(load(&im, ""));
	free(im.data);
}

/* ---- PVH ---- */

static void check_pvh(int is64)
{
	struct img im = pvh_image(is64);
	memset(gpa_to_hva_checked(&mem, LOAD_ADDR, 0x3000), 0xaa, 0x3000);
	assert_loads(load(&im, "root=/dev/vda"));
	check_plan_common();
	cr_assert_str_eq(plan.protocol, "pvh");
	cr_assert_eq(plan.mode, X86_ENTRY_PROTECTED32);
	cr_assert_eq(plan.rip, PVH_ENTRY, "entry from the Xen note, not e_entry");
	cr_assert_eq(plan.rbx, prof->boot_info_addr);
	cr_assert_eq(plan.rsp, prof->stack_top);
	cr_assert_eq(plan.kernel_start, LOAD_ADDR);
	cr_assert_eq(plan.kernel_end, LOAD_ADDR + (im.size - LOAD_OFF) + 0x2000);
	cr_assert(memcmp(gp(LOAD_ADDR, im.size - LOAD_OFF), im.data + LOAD_OFF, im.size - LOAD_OFF) == 0);
	const uint8_t *bss = gp(LOAD_ADDR + im.size - LOAD_OFF, 0x2000);
	for (int i = 0; i < 0x2000; i++)
		cr_assert_eq(bss[i], 0, "bss byte %d", i);

	const uint8_t *si = gp(plan.rbx, 56);
	cr_assert_eq(rd32(si), 0x336ec578, "hvm_start_info magic");
	cr_assert_geq(rd32(si + 4), 1, "version 1: memmap fields valid");
	assert_guest_str(rd64(si + 24), "root=/dev/vda");
	cr_assert_eq(rd64(si + 32), plan.rsdp, "rsdp_paddr");
	uint32_t nmap = rd32(si + 48);
	check_e820_copy(gp(rd64(si + 40), nmap * 24), nmap, 24);
	if (initrd_data) {
		cr_assert_eq(rd32(si + 12), 1, "nr_modules");
		const uint8_t *mod = gp(rd64(si + 16), 32);
		cr_assert_eq(rd64(mod), plan.initrd_start);
		cr_assert_eq(rd64(mod + 8), initrd_size);
	} else {
		cr_assert_eq(rd32(si + 12), 0, "nr_modules");
	}
	free(im.data);
}

Test(loaders, pvh_elf64)
{
	with_initrd();
	check_pvh(1);
}

Test(loaders, pvh_elf32)
{
	with_initrd();
	check_pvh(0);
}

Test(loaders, pvh_without_initrd)
{
	check_pvh(1);
}

Test(loaders, pvh_note_after_another_note)
{
	struct elf_opts o = elf_defaults(1, 1);
	o.segs[1].filesz = o.segs[1].memsz = 64;
	struct img im = elf_image(&o);
	uint8_t *n = im.data + NOTE_OFF;
	/* A GNU note: 4-byte name "GNU", 5-byte desc padded to 8: 24 bytes in all. */
	wr32(n, 4);
	wr32(n + 4, 5);
	wr32(n + 8, 3);
	memcpy(n + 12, "GNU", 4);
	memset(n + 16, 0, 8);
	put_pvh_note(n + 24, 17, 0x12345); /* "Xen", another type */
	put_pvh_note(n + 44, 18, (uint32_t)PVH_ENTRY);
	assert_loads(load(&im, ""));
	cr_assert_str_eq(plan.protocol, "pvh");
	cr_assert_eq(plan.rip, PVH_ENTRY);
	free(im.data);
}

Test(loaders, hostile_notes_are_ignored_not_followed)
{
	static const uint32_t sizes[][2] = { { 0xffffffff, 4 }, { 4, 0xffffffff }, { 0xfffffffd, 0xfffffffd }, { 4, 2 },
					     { 100, 4 }, { 3, 4 } };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct img im = pvh_image(1);
		wr32(im.data + NOTE_OFF, sizes[k][0]);
		wr32(im.data + NOTE_OFF + 4, sizes[k][1]);
		int ret = load(&im, "");
		/* Without a usable note an ELF64 is a Linux vmlinux: it may load as linux64. */
		if (ret == 0)
			cr_assert_str_eq(plan.protocol, "linux64", "note %zu must not give a PVH entry", k);
		else
			cr_assert_neq(err[0], '\0');
		free(im.data);
	}
}

/* Regression test, once a bug (arch/x86_64/elf.c, pvh_load): the PVH entry from the Xen note is used as rip without
 * any check, so a note saying 0xfffffff0 (or 0x10, or 0) loads fine and the vCPU starts
 * outside the image. The vmlinux path checks its entry is RAM and multiboot checks it lies
 * in the image. (An entry of 0 is also indistinguishable from "no note" and silently falls
 * back to the linux64 protocol.) */
Test(loaders, pvh_entry_outside_the_image_is_refused)
{
	static const uint32_t entries[] = { 0xfffffff0u, 0x10, LOAD_ADDR + 0x100000 };
	for (size_t k = 0; k < sizeof(entries) / sizeof(entries[0]); k++) {
		struct img im = pvh_image(1);
		put_pvh_note(im.data + NOTE_OFF, 18, entries[k]);
		assert_refused(load(&im, ""), "PVH entry 0x%x accepted", entries[k]);
		free(im.data);
	}
}

/* ---- ELF vmlinux (linux64 with a synthesised setup header) ---- */

Test(loaders, vmlinux_elf64_without_note_boots_linux64)
{
	with_initrd();
	struct elf_opts o = elf_defaults(1, 0);
	struct img im = elf_image(&o);
	assert_loads(load(&im, "console=hvc0"));
	check_plan_common();
	cr_assert_str_eq(plan.protocol, "linux64");
	cr_assert_eq(plan.mode, X86_ENTRY_LONG64);
	cr_assert_eq(plan.rip, o.entry);
	cr_assert_eq(plan.rsi, prof->zero_page_addr);
	const uint8_t *bp = gp(plan.rsi, 4096);
	cr_assert(memcmp(bp + 0x202, "HdrS", 4) == 0);
	cr_assert_eq(rd16(bp + 0x1fe), 0xaa55);
	cr_assert_geq(rd16(bp + 0x206), 0x20c);
	cr_assert_eq(bp[0x210], 0xff);
	assert_guest_str(rd32(bp + 0x228), "console=hvc0");
	cr_assert_eq(rd32(bp + 0x218), plan.initrd_start);
	cr_assert_eq(rd32(bp + 0x21c), initrd_size);
	free(im.data);
}

Test(loaders, vmlinux_entry_outside_ram_is_refused)
{
	struct elf_opts o = elf_defaults(1, 0);
	o.entry = 0xffffffff81000000ull;
	struct img im = elf_image(&o);
	assert_refused(load(&im, ""));
	free(im.data);
}

Test(loaders, elf32_without_note_or_multiboot_is_refused)
{
	struct elf_opts o = elf_defaults(0, 0);
	struct img im = elf_image(&o);
	assert_refused(load(&im, ""));
	free(im.data);
}

/* ---- ELF corruption ---- */

static void elf_refused(struct elf_opts o, const char *why)
{
	struct img im = elf_image(&o);
	put_pvh_note(im.data + NOTE_OFF, 18, (uint32_t)PVH_ENTRY);
	assert_refused(load(&im, ""), "%s", why);
	free(im.data);
}

Test(loaders, elf_bad_segments)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct elf_opts d = elf_defaults(is64, 1), o;
		uint64_t top = is64 ? UINT64_MAX : UINT32_MAX;

		o = d, o.segs[0].memsz = o.segs[0].filesz - 1; /* the file bytes are all there */
		elf_refused(o, "p_filesz > p_memsz");
		o = d, o.segs[0].filesz = o.segs[0].memsz + 1;
		elf_refused(o, "p_filesz > p_memsz and beyond the file");
		o = d, o.segs[0].offset = d.size + 0x1000;
		elf_refused(o, "p_offset beyond the file");
		o = d, o.segs[0].offset = d.size - 0x10;
		elf_refused(o, "p_offset + p_filesz beyond the file");
		o = d, o.segs[0].offset = top - 0x10;
		elf_refused(o, "p_offset near the top");
		o = d, o.segs[0].filesz = top, o.segs[0].memsz = top;
		elf_refused(o, "p_filesz absurd");
		o = d, o.segs[0].memsz = top;
		elf_refused(o, "p_memsz absurd");
		o = d, o.segs[0].paddr = 0x80000;
		elf_refused(o, "segment below 1 MiB");
		o = d, o.segs[0].paddr = 0;
		elf_refused(o, "segment at 0");
		o = d, o.segs[0].paddr = 256 * MIB - 0x1000;
		elf_refused(o, "segment past the end of RAM");
		o = d, o.segs[0].paddr = top - 0xfff;
		elf_refused(o, "segment at the top of the address space");
		o = d, o.segs[0].paddr = 0xfee00000;
		elf_refused(o, "segment on the LAPIC");
		o = d, o.segs[1].offset = d.size + 4;
		elf_refused(o, "note beyond the file");
		o = d, o.segs[0].type = PT_DYNAMIC;
		elf_refused(o, "no PT_LOAD");
		o = d, o.segs[0].memsz = 0, o.segs[0].filesz = 0;
		elf_refused(o, "empty PT_LOAD only");
	}
}

Test(loaders, elf_segment_into_the_hole)
{
	use_machine("crosvm-x86", 5 * GIB);
	struct elf_opts o = elf_defaults(1, 1);
	o.segs[0].paddr = 0xd0000000ull - 0x1000;
	elf_refused(o, "segment across the hole");
	o.segs[0].paddr = 0xe0000000ull;
	elf_refused(o, "segment in the hole");
}

static void corrupt_elf_header(int is64, size_t off, const void *val, size_t len, const char *why)
{
	struct img im = pvh_image(is64);
	memcpy(im.data + off, val, len);
	assert_refused(load(&im, ""), "%s (ELF%d)", why, is64 ? 64 : 32);
	free(im.data);
}

Test(loaders, elf_bad_headers)
{
	for (int is64 = 0; is64 < 2; is64++) {
		uint8_t b;
		uint16_t h;
		uint64_t q;
		b = ELFDATA2MSB;
		corrupt_elf_header(is64, EI_DATA, &b, 1, "big-endian");
		b = 3;
		corrupt_elf_header(is64, EI_CLASS, &b, 1, "class 3");
		b = 0;
		corrupt_elf_header(is64, EI_CLASS, &b, 1, "class 0");
		h = EM_ARM;
		corrupt_elf_header(is64, offsetof(Elf32_Ehdr, e_machine), &h, 2, "ARM");
		size_t phentsize = is64 ? offsetof(Elf64_Ehdr, e_phentsize) : offsetof(Elf32_Ehdr, e_phentsize);
		size_t phnum = is64 ? offsetof(Elf64_Ehdr, e_phnum) : offsetof(Elf32_Ehdr, e_phnum);
		size_t phoff = is64 ? offsetof(Elf64_Ehdr, e_phoff) : offsetof(Elf32_Ehdr, e_phoff);
		h = 40;
		corrupt_elf_header(is64, phentsize, &h, 2, "phentsize");
		h = 0;
		corrupt_elf_header(is64, phnum, &h, 2, "phnum 0");
		h = 65;
		corrupt_elf_header(is64, phnum, &h, 2, "phnum 65");
		h = 0xffff;
		corrupt_elf_header(is64, phnum, &h, 2, "phnum 0xffff");
		q = 0x10000;
		corrupt_elf_header(is64, phoff, &q, is64 ? 8 : 4, "phoff beyond the file");
		q = is64 ? UINT64_MAX - 8 : UINT32_MAX - 8;
		corrupt_elf_header(is64, phoff, &q, is64 ? 8 : 4, "phoff near the top");
		q = 0x2000 - 8;
		corrupt_elf_header(is64, phoff, &q, is64 ? 8 : 4, "phdrs straddle the end of the file");
	}
	struct img im = pvh_image(1);
	im.data[1] = 'X';
	assert_refused(load(&im, ""), "bad magic");
	free(im.data);
}

Test(loaders, elf64_header_truncated_after_elf32_size)
{
	/* Long enough for an Elf32_Ehdr, too short for an Elf64_Ehdr. */
	struct img im = pvh_image(1);
	im.size = sizeof(Elf32_Ehdr) + 4;
	assert_refused(load(&im, ""));
	free(im.data);
}

/* ---- bzImage ---- */

Test(loaders, bzimage_relocatable)
{
	with_initrd();
	struct bz_opts o = bz_defaults();
	struct img im = bz_image(o);
	assert_loads(load(&im, "console=ttyS0 quiet"));
	check_plan_common();
	cr_assert_str_eq(plan.protocol, "linux64");
	cr_assert_eq(plan.mode, X86_ENTRY_LONG64);
	cr_assert_eq(plan.kernel_start, o.pref_address, "relocatable: pref_address");
	cr_assert_eq(plan.kernel_end, o.pref_address + o.init_size, "init_size reserved");
	cr_assert_eq(plan.rip, o.pref_address + 0x200, "64-bit entry at load + 0x200");
	cr_assert_eq(plan.rsi, prof->zero_page_addr);
	cr_assert_eq(plan.rsp, prof->stack_top);
	size_t pm = bz_pm_offset(&o);
	cr_assert(memcmp(gp(o.pref_address, im.size - pm), im.data + pm, im.size - pm) == 0, "protected-mode code copied");
	free(im.data);
}

Test(loaders, bzimage_zero_page)
{
	with_initrd();
	struct bz_opts o = bz_defaults();
	struct img im = bz_image(o);
	assert_loads(load(&im, "console=ttyS0"));
	const uint8_t *bp = gp(plan.rsi, 4096);
	cr_assert_eq(bp[0x1f1], o.setup_sects, "setup header copied");
	cr_assert(memcmp(bp + 0x202, "HdrS", 4) == 0);
	cr_assert_eq(rd16(bp + 0x206), 0x20f);
	cr_assert_eq(rd16(bp + 0x236), o.xloadflags);
	cr_assert_eq(bp[0x210], 0xff, "type_of_loader: undefined");
	cr_assert_eq(bp[0x211] & 0x81, 0x81, "LOADED_HIGH | CAN_USE_HEAP");
	cr_assert_eq(rd16(bp + 0x224), 0xfe00, "heap_end_ptr");
	cr_assert_eq(rd16(bp + 0x1fa), 0xffff, "vid_mode normal");
	cr_assert_eq(rd32(bp + 0x228), prof->cmdline_addr);
	cr_assert_eq(rd32(bp + 0xc8), 0, "ext_cmd_line_ptr");
	assert_guest_str(prof->cmdline_addr, "console=ttyS0");
	cr_assert_eq(rd32(bp + 0x218), plan.initrd_start, "ramdisk_image");
	cr_assert_eq(rd32(bp + 0x21c), initrd_size, "ramdisk_size");
	cr_assert_eq(rd32(bp + 0xc0), 0);
	cr_assert_eq(rd32(bp + 0xc4), 0);
	cr_assert_eq(rd64(bp + 0x70), plan.rsdp, "acpi_rsdp_addr");
	cr_assert_geq(bp[0x1e8], 4, "e820_entries");
	check_e820_copy(bp + 0x2d0, bp[0x1e8], 20);
	/* Only the setup header is copied from the image: the rest of the page is ours. */
	for (size_t i = 0; i < 0x1e8; i++)
		if (!(i >= 0x70 && i < 0x78) && !(i >= 0xc0 && i < 0xcc)) /* acpi_rsdp_addr, ext_* */
			cr_assert_eq(bp[i], 0, "boot_params byte 0x%zx not zero", i);
	free(im.data);
}

Test(loaders, long_mode_page_tables_identity_map_4g)
{
	struct img im = bz_image(bz_defaults());
	assert_loads(load(&im, ""));
	cr_assert_eq(plan.page_tables_addr, prof->page_tables_addr);
	const uint64_t *pml4 = (const uint64_t *)gp(plan.page_tables_addr, 6 * 4096);
	const uint64_t *pdpt = pml4 + 512, *pd = pml4 + 1024;
	cr_assert_eq(pml4[0], (plan.page_tables_addr + 0x1000) | 3);
	for (int i = 1; i < 512; i++)
		cr_assert_eq(pml4[i], 0);
	for (uint64_t i = 0; i < 4; i++)
		cr_assert_eq(pdpt[i], (plan.page_tables_addr + 0x2000 + i * 0x1000) | 3, "PDPT[%llu]",
			     (unsigned long long)i);
	for (int i = 4; i < 512; i++)
		cr_assert_eq(pdpt[i], 0);
	for (uint64_t i = 0; i < 2048; i++)
		cr_assert_eq(pd[i], (i << 21) | 0x83, "2 MiB page %llu", (unsigned long long)i);
	/* The tables do not overlap the other boot structures. */
	uint64_t pt = plan.page_tables_addr, pt_end = pt + 6 * 4096;
	cr_assert(pt_end <= prof->zero_page_addr || pt >= prof->zero_page_addr + 4096);
	cr_assert(pt_end <= prof->cmdline_addr || pt >= prof->cmdline_addr + prof->cmdline_max);
	cr_assert(pt_end <= prof->gdt_addr || pt >= prof->gdt_addr + 40);
	free(im.data);
}

Test(loaders, bzimage_not_relocatable_loads_at_code32_start)
{
	struct bz_opts o = bz_defaults();
	o.relocatable = 0;
	o.code32_start = 0x100000;
	o.pref_address = 0xdeadbeef000; /* ignored */
	struct img im = bz_image(o);
	assert_loads(load(&im, ""));
	cr_assert_eq(plan.kernel_start, 0x100000);
	cr_assert_eq(plan.rip, 0x100200);
	free(im.data);
}

Test(loaders, bzimage_setup_sects_zero_means_four)
{
	struct bz_opts o = bz_defaults();
	o.setup_sects = 0;
	struct img im = bz_image(o);
	assert_loads(load(&im, ""));
	cr_assert(memcmp(gp(o.pref_address, o.payload), im.data + 5 * 512, o.payload) == 0);
	free(im.data);
}

Test(loaders, bzimage_small_init_size_covers_the_file)
{
	struct bz_opts o = bz_defaults();
	o.init_size = 0x10;
	struct img im = bz_image(o);
	assert_loads(load(&im, ""));
	cr_assert_eq(plan.kernel_end, plan.kernel_start + o.payload);
	free(im.data);
}

static void bz_refused(struct bz_opts o, const char *why)
{
	struct img im = bz_image(o);
	assert_refused(load(&im, ""), "%s", why);
	free(im.data);
}

Test(loaders, bzimage_bad_headers)
{
	struct bz_opts d = bz_defaults(), o;
	o = d, o.version = 0x20b;
	bz_refused(o, "protocol 2.11: no 64-bit entry");
	o = d, o.version = 0x0200;
	bz_refused(o, "old protocol");
	o = d, o.xloadflags = 0x2;
	bz_refused(o, "XLF_KERNEL_64 clear");
	o = d, o.kernel_alignment = 0;
	bz_refused(o, "alignment 0");
	o = d, o.kernel_alignment = 0x300000, o.pref_address = 0x1200000; /* a multiple of it */
	bz_refused(o, "alignment not a power of two");
	o = d, o.pref_address = 0x1001000;
	bz_refused(o, "pref_address misaligned");
	o = d, o.pref_address = 0xffffffffffe00000ull;
	bz_refused(o, "pref_address near 2^64");
	o = d, o.pref_address = 0x80000000ull;
	bz_refused(o, "pref_address past RAM");
	o = d, o.pref_address = 0;
	bz_refused(o, "pref_address 0");
	o = d, o.init_size = 0xffffffff;
	bz_refused(o, "init_size absurd");
	o = d, o.init_size = 256 * MIB;
	bz_refused(o, "init_size does not fit above 16 MiB");
	o = d, o.relocatable = 0, o.code32_start = 0x1000;
	bz_refused(o, "code32_start below 1 MiB");
	o = d, o.relocatable = 0, o.code32_start = 0xfffffe00;
	bz_refused(o, "code32_start at the top");
}

Test(loaders, bzimage_oldest_accepted_protocol)
{
	struct bz_opts o = bz_defaults();
	o.version = 0x20c;
	struct img im = bz_image(o);
	assert_loads(load(&im, ""));
	free(im.data);
}

Test(loaders, bzimage_setup_sects_past_eof)
{
	struct bz_opts o = bz_defaults();
	struct img im = bz_image(o);
	for (unsigned int s = 5; s < 256; s += 25) {
		im.data[0x1f1] = (uint8_t)s;
		if ((s + 1) * 512 >= im.size)
			assert_refused(load(&im, ""), "setup_sects %u", s);
	}
	im.data[0x1f1] = 0xff;
	assert_refused(load(&im, ""));
	free(im.data);
}

Test(loaders, bzimage_cmdline_limit_from_the_header)
{
	struct bz_opts o = bz_defaults();
	o.cmdline_size = 255;
	struct img im = bz_image(o);
	char cmd[300];
	memset(cmd, 'c', sizeof(cmd));
	cmd[255] = '\0';
	assert_loads(load(&im, cmd));
	assert_guest_str(prof->cmdline_addr, cmd);
	cmd[255] = 'c';
	cmd[256] = '\0';
	int ret = load(&im, cmd);
	cr_assert_eq(ret, -E2BIG, "256 bytes over a 255-byte limit: %s", err);
	cr_assert_neq(err[0], '\0');
	free(im.data);
}

Test(loaders, cmdline_limit_of_the_profile)
{
	char *cmd = malloc(prof->cmdline_max + 1);
	memset(cmd, 'p', prof->cmdline_max);
	cmd[prof->cmdline_max - 1] = '\0';
	struct img im = mb_image(mb_defaults());
	assert_loads(load(&im, cmd));
	assert_guest_str(prof->cmdline_addr, cmd);
	cmd[prof->cmdline_max - 1] = 'p';
	cmd[prof->cmdline_max] = '\0';
	cr_assert_eq(load(&im, cmd), -E2BIG);
	free(im.data);
	/* A bzImage that claims a larger limit still gets the profile's. */
	struct bz_opts o = bz_defaults();
	o.cmdline_size = 0xfffffff0;
	im = bz_image(o);
	cr_assert_eq(load(&im, cmd), -E2BIG);
	cmd[prof->cmdline_max - 1] = '\0';
	assert_loads(load(&im, cmd));
	free(im.data);
	free(cmd);
}

Test(loaders, initrd_respects_initrd_addr_max)
{
	with_initrd();
	struct bz_opts o = bz_defaults();
	o.initrd_addr_max = 0x3ffffff; /* 64 MiB */
	struct img im = bz_image(o);
	assert_loads(load(&im, ""));
	cr_assert_leq(plan.initrd_start + plan.initrd_size, 0x4000000ull);
	cr_assert_geq(plan.initrd_start, plan.kernel_end);
	check_plan_common();
	free(im.data);
	o.initrd_addr_max = 0x1000000; /* below the kernel's end */
	im = bz_image(o);
	assert_refused(load(&im, ""));
	free(im.data);
}

Test(loaders, initrd_at_the_top_of_low_ram)
{
	with_initrd();
	use_machine("crosvm-x86", 5 * GIB);
	struct img im = mb_image(mb_defaults());
	assert_loads(load(&im, ""));
	check_plan_common();
	cr_assert_leq(plan.initrd_start + plan.initrd_size, 0xd0000000ull);
	cr_assert_gt(plan.initrd_start, 0xd0000000ull - 8 * 4096, "as high as possible");
	free(im.data);
}

Test(loaders, initrd_bigger_than_ram)
{
	use_machine("crosvm-x86", 32 * MIB);
	size_t big_size = 40 * MIB;
	uint8_t *big = calloc(1, big_size);
	cr_assert_not_null(big);
	initrd_data = big;
	initrd_size = big_size;
	struct img ims[3] = { mb_image(mb_defaults()), pvh_image(1), bz_image(bz_defaults()) };
	for (int i = 0; i < 3; i++) {
		int ret = load(&ims[i], "");
		cr_assert_eq(ret, -ENOSPC, "image %d: %s", i, err);
		cr_assert_neq(err[0], '\0');
		free(ims[i].data);
	}
	/* The multiboot image ends (bss included) at 0x205000: the initrd may fill the rest of
	 * RAM exactly, not one byte more. */
	struct img im = mb_image(mb_defaults());
	initrd_size = 32 * MIB - 0x205000 + 1;
	cr_assert_eq(load(&im, ""), -ENOSPC, "%s", err);
	initrd_size -= 1;
	assert_loads(load(&im, ""));
	cr_assert_eq(plan.initrd_start, 0x205000);
	check_plan_common();
	free(im.data);
	free(big);
}

/* Regression test, once a bug (arch/x86_64/bzimage.c, linux64_load_bzimage): only 0x1f1 .. 0x202 + image[0x201] of the
 * setup header is copied into boot_params, but the loader has already validated (and
 * linux64_finish then reads from the copy) fields beyond that: version 0x206,
 * initrd_addr_max 0x22c, cmdline_size 0x238. With a jump displacement of 0 the copy holds
 * neither "HdrS" nor the version, so the image the loader accepted as protocol 2.15 is handed
 * to the kernel as protocol 0 (initrd limit and command line limit fall back to the old
 * defaults) and boot_params lacks the header magic. Such an image should be refused (or at
 * least the whole 2.15 header copied). */
Test(loaders, bzimage_header_shorter_than_its_fields_is_refused)
{
	struct bz_opts o = bz_defaults();
	o.hdr_len = 0x00;
	struct img im = bz_image(o);
	int ret = load(&im, "");
	if (ret == 0) {
		const uint8_t *bp = gp(plan.rsi, 4096);
		cr_assert(memcmp(bp + 0x202, "HdrS", 4) == 0, "accepted, and boot_params has no header magic");
		cr_assert_eq(rd16(bp + 0x206), 0x20f, "accepted, and boot_params says protocol %x", rd16(bp + 0x206));
	}
	assert_refused(ret, "accepted a setup header that ends before its own version field");
	free(im.data);
}

/* ---- generic ---- */

Test(loaders, vcpu_count_bounds)
{
	struct img im = mb_image(mb_defaults());
	uint8_t *copy = im.data;
	assert_refused(load_full(copy, im.size, "", 0), "0 vCPUs");
	assert_refused(load_full(copy, im.size, "", X86_MAX_CPUS + 1), "65 vCPUs");
	assert_loads(load_full(copy, im.size, "", X86_MAX_CPUS));
	assert_loads(load_full(copy, im.size, "", 1));
	free(im.data);
}

Test(loaders, junk_is_not_a_kernel)
{
	struct img im = img_new(4096);
	cr_assert_eq(load(&im, ""), -ENOEXEC);
	cr_assert_neq(err[0], '\0');
	im.size = 0;
	cr_assert_eq(load(&im, ""), -ENOEXEC);
	free(im.data);
}

Test(loaders, errors_without_an_error_buffer)
{
	struct img im = img_new(64);
	struct x86_boot_input in = { .kernel = im.data, .kernel_size = im.size, .cmdline = "", .ncpus = 1 };
	cr_assert_eq(x86_load_kernel(&mem, prof, &in, &plan, NULL, 0), -ENOEXEC);
	char small[5] = "zzzz";
	cr_assert_eq(x86_load_kernel(&mem, prof, &in, &plan, small, sizeof(small)), -ENOEXEC);
	cr_assert_eq(strlen(small), 4, "truncated and terminated");
	free(im.data);
}

Test(loaders, too_little_ram_for_the_boot_tables)
{
	guest_mem_free(&mem);
	cr_assert_eq(guest_mem_alloc(&mem, 0, 512 << 10, prof->mmio_hole_start), 0);
	struct img im = mb_image(mb_defaults());
	assert_refused(load(&im, ""));
	free(im.data);
}

/* MP spec 1.4 §4: a guest looks for the floating pointer in the first KiB of the EBDA (BDA
 * word 0x40E), else the last KiB of base memory (BDA word 0x413, in KiB; 639K when the BDA is
 * empty, as Linux assumes), else the BIOS ROM 0xF0000-0xFFFFF. */
static uint64_t find_mp_floating_pointer(void)
{
	uint64_t ebda = (uint64_t)rd16(gp(0x40e, 2)) << 4;
	uint64_t base_kb = rd16(gp(0x413, 2));
	uint64_t ranges[3][2] = { { ebda, ebda + 1024 }, { 0, 0 }, { 0xf0000, 0x100000 } };
	if (!ebda)
		ranges[0][1] = 0;
	if (base_kb < 512 || base_kb > 640)
		base_kb = 640;
	ranges[1][0] = base_kb * 1024 - 1024;
	ranges[1][1] = base_kb * 1024;
	for (int r = 0; r < 3; r++)
		for (uint64_t p = ranges[r][0]; p + 16 <= ranges[r][1]; p += 16) {
			const uint8_t *fp = gp(p, 16);
			if (memcmp(fp, "_MP_", 4) == 0 && sum8(fp, 16) == 0)
				return p;
		}
	return 0;
}

/* Regression test, once a bug (arch/x86_64/profile.c mptable_addr 0x9e800, arch/x86_64/mptable.c): the MP floating
 * pointer is written at 0x9e800 and nothing writes the BIOS data area, so none of the places
 * the MP spec (and Linux's smp_scan_config, and this project's own test guest's find_mp)
 * search holds it: BDA 0x40E is 0, the last KiB of base memory is 0x9fc00-0xa0000 (BDA 0x413
 * is 0, so 640K), and 0xF0000-0xFFFFF holds only ACPI tables. Guests without ACPI cannot find
 * their CPUs. Either point the BDA's EBDA word (0x40E) at 0x9e80 (and 0x413 at 634 KiB) or
 * place the floating pointer in 0x9fc00..0xa0000 or 0xF0000..0xFFFFF. */
Test(loaders, mp_table_is_where_guests_search)
{
	struct img im = mb_image(mb_defaults());
	assert_loads(load(&im, ""));
	uint64_t fp = find_mp_floating_pointer();
	cr_assert_neq(fp, 0, "no _MP_ floating pointer in any MP-spec search area (it is at 0x%llx)",
		      (unsigned long long)prof->mptable_addr);
	free(im.data);
}

/* ---- truncation and hostile fields ---- */

/* Loads every prefix of the image. Prefixes up to `ok_from` bytes must be refused with a
 * reason; longer ones (when ok_from < size) may load, and then the kernel lies in RAM. */
static void every_prefix(const struct img *im, size_t ok_from, const char *name)
{
	for (size_t len = 0; len < im->size; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, im->data, len);
		memset(err, 0, sizeof(err));
		int ret = load_full(copy, len, "", 1);
		if (len < ok_from) {
			cr_assert_lt(ret, 0, "%s cut to %zu bytes loaded", name, len);
			cr_assert_neq(err[0], '\0', "%s cut to %zu bytes: refused without a reason", name, len);
		} else if (ret == 0) {
			cr_assert(guest_mem_is_ram(&mem, plan.kernel_start, plan.kernel_end - plan.kernel_start));
		} else {
			cr_assert_neq(err[0], '\0');
		}
		free(copy);
	}
}

Test(loaders, truncated_multiboot)
{
	struct img im = mb_image(mb_defaults());
	every_prefix(&im, im.size, "multiboot");
	free(im.data);
	im = mb_elf_image();
	every_prefix(&im, im.size, "multiboot ELF");
	free(im.data);
}

Test(loaders, truncated_elf)
{
	struct img im = pvh_image(1);
	every_prefix(&im, im.size, "PVH ELF64");
	free(im.data);
	im = pvh_image(0);
	every_prefix(&im, im.size, "PVH ELF32");
	free(im.data);
	struct elf_opts o = elf_defaults(1, 0);
	im = elf_image(&o);
	every_prefix(&im, im.size, "vmlinux");
	free(im.data);
}

Test(loaders, truncated_bzimage)
{
	struct bz_opts o = bz_defaults();
	struct img im = bz_image(o);
	/* Anything past the setup sectors is a (shorter) protected-mode image: it loads. */
	every_prefix(&im, bz_pm_offset(&o) + 1, "bzImage");
	for (size_t len = bz_pm_offset(&o) + 1; len < im.size; len += 97) {
		cr_assert_eq(load_full(im.data, len, "", 1), 0, "%s", err);
		cr_assert_eq(plan.kernel_end - plan.kernel_start, o.init_size);
	}
	free(im.data);
}

/* Overwrites each 4-byte word of the first `limit` bytes with hostile values in turn. */
static void hostile_words(const struct img *im, size_t limit, const char *name)
{
	static const uint32_t values[] = { 0, 1, 0x7fffffff, 0x80000000u, 0xfee00000u, 0xfffffff0u, 0xffffffffu };
	uint8_t *copy = malloc(im->size);
	for (size_t off = 0; off + 4 <= limit && off + 4 <= im->size; off += 4) {
		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
			memcpy(copy, im->data, im->size);
			memcpy(copy + off, &values[v], 4);
			int ret = load_full(copy, im->size, "", 1);
			if (ret) {
				cr_assert_neq(err[0], '\0', "%s word 0x%zx = 0x%x: no reason", name, off, values[v]);
			} else {
				cr_assert_geq(plan.kernel_start, 0x100000, "%s word 0x%zx = 0x%x", name, off, values[v]);
				cr_assert(guest_mem_is_ram(&mem, plan.kernel_start, plan.kernel_end - plan.kernel_start),
					  "%s word 0x%zx = 0x%x: kernel outside RAM", name, off, values[v]);
			}
		}
	}
	free(copy);
}

Test(loaders, hostile_header_words)
{
	struct img im = mb_image(mb_defaults());
	hostile_words(&im, 0x80, "multiboot");
	free(im.data);
	im = pvh_image(1);
	hostile_words(&im, 0x240, "PVH ELF64");
	free(im.data);
	im = pvh_image(0);
	hostile_words(&im, 0x240, "PVH ELF32");
	free(im.data);
	im = bz_image(bz_defaults());
	hostile_words(&im, 0x300, "bzImage");
	free(im.data);
}

/* ---- the real test guests (tests/guest, built into build/guest by `make guests`) ---- */

/* build/guest relative to the repository root. The root is found from this file's path as
 * the compiler saw it (tests/unit/test_loaders.c from the top Makefile, so relative to the
 * directory the tests run from, which is the root); N90_GUEST_DIR overrides. */
static void guest_path(char *out, size_t len, const char *name)
{
	const char *dir = getenv("N90_GUEST_DIR");
	if (dir) {
		snprintf(out, len, "%s/%s", dir, name);
		return;
	}
	const char *file = __FILE__, *tail = strstr(file, "tests/unit/");
	int root_len = tail ? (int)(tail - file) : 0;
	snprintf(out, len, "%.*sbuild/guest/%s", root_len, file, name);
}

static struct img real_image(const char *name)
{
	char path[512];
	guest_path(path, sizeof(path), name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "test guest %s is missing: build it with `make guests` (make unit-test does)", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	long size = ftell(f);
	cr_assert_gt(size, 0, "%s is empty", path);
	rewind(f);
	struct img im = { malloc((size_t)size), (size_t)size };
	cr_assert_eq(fread(im.data, 1, im.size, f), im.size);
	fclose(f);
	return im;
}

Test(loaders, real_mb_elf_and_mb_bin_load_the_same_bytes)
{
	struct img bin = real_image("mb.bin"), elf = real_image("mb.elf");
	cr_assert_eq(x86_detect_format(elf.data, elf.size), X86_FORMAT_MULTIBOOT);
	assert_loads(load(&bin, "expect_cpus=2"));
	struct x86_boot_plan bin_plan = plan;
	size_t n = bin_plan.kernel_end - bin_plan.kernel_start;
	uint8_t *snapshot = malloc(n);
	memcpy(snapshot, gp(bin_plan.kernel_start, n), n);
	memset(gpa_to_hva_checked(&mem, bin_plan.kernel_start, n), 0x55, n);
	assert_loads(load(&elf, "expect_cpus=2"));
	cr_assert_str_eq(plan.protocol, "multiboot");
	cr_assert_eq(plan.rip, bin_plan.rip);
	cr_assert_eq(plan.kernel_start, bin_plan.kernel_start);
	cr_assert_eq(plan.kernel_end, bin_plan.kernel_end);
	cr_assert(memcmp(snapshot, gp(plan.kernel_start, n), n) == 0, "ELF and flat image put the same bytes in RAM");
	cr_assert_geq(plan.rip, plan.kernel_start);
	cr_assert_lt(plan.rip, plan.kernel_end);
	free(snapshot);
	free(bin.data);
	free(elf.data);
}

Test(loaders, real_images_on_starry_5g_4cpus)
{
	use_machine("starry-x86", 5 * GIB);
	with_initrd();
	static const char *const names[] = { "mb.bin", "mb.elf", "pvh.elf", "bzimage" };
	static const char *const protocols[] = { "multiboot", "multiboot", "pvh", "linux64" };
	for (int i = 0; i < 4; i++) {
		struct img im = real_image(names[i]);
		uint8_t *copy = malloc(im.size);
		memcpy(copy, im.data, im.size);
		assert_loads(load_full(copy, im.size, "expect_cpus=4", 4));
		cr_assert_str_eq(plan.protocol, protocols[i], "%s", names[i]);
		check_plan_common();
		cr_assert_geq(plan.rip, plan.kernel_start, "%s: entry inside the image", names[i]);
		cr_assert_lt(plan.rip, plan.kernel_end, "%s: entry inside the image", names[i]);
		if (i < 2)
			cr_assert_eq(plan.rbx, 0x10000);
		free(copy);
		free(im.data);
	}
}

Test(loaders, real_bzimage_header)
{
	struct img im = real_image("bzimage");
	cr_assert_geq(rd16(im.data + 0x206), 0x20c);
	cr_assert(rd16(im.data + 0x236) & 1, "XLF_KERNEL_64");
	assert_loads(load(&im, "expect_cpus=2"));
	cr_assert_eq(plan.kernel_start, rd32(im.data + 0x214), "not relocatable: code32_start");
	const uint8_t *bp = gp(plan.rsi, 4096);
	check_e820_copy(bp + 0x2d0, bp[0x1e8], 20);
	assert_guest_str(rd32(bp + 0x228), "expect_cpus=2");
	free(im.data);
}
