#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/loader.h"
#include "arch/x86_64/tables.h"

int load_fail(struct load_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx->err, ctx->errlen, fmt, ap);
	va_end(ap);
	return -err;
}

int load_check_range(struct load_ctx *ctx, const char *what, uint64_t addr, uint64_t len)
{
	if (addr < LOAD_MIN_ADDR)
		return load_fail(ctx, EINVAL, "%s at 0x%llx lies below 1 MiB, where boot tables live", what,
				 (unsigned long long)addr);
	if (!guest_mem_is_ram(ctx->mem, addr, len))
		return load_fail(ctx, ERANGE,
				 "%s [0x%llx, +0x%llx) does not fit in guest RAM (%llu MiB, hole at 0x%llx)",
				 what, (unsigned long long)addr, (unsigned long long)len,
				 (unsigned long long)(ctx->mem->total >> 20),
				 (unsigned long long)ctx->profile->mmio_hole_start);
	return 0;
}

int load_cmdline(struct load_ctx *ctx, uint32_t max)
{
	const char *cmdline = ctx->in->cmdline;
	size_t len = strlen(cmdline) + 1;
	if (max == 0 || max > ctx->profile->cmdline_max)
		max = ctx->profile->cmdline_max;
	if (len > max)
		return load_fail(ctx, E2BIG, "command line is %zu bytes; this kernel accepts at most %u",
				 len - 1, max - 1);
	return guest_mem_write(ctx->mem, ctx->profile->cmdline_addr, cmdline, len);
}

int load_initrd(struct load_ctx *ctx, uint64_t limit)
{
	const struct x86_boot_input *in = ctx->in;
	struct x86_boot_plan *plan = ctx->plan;
	uint64_t low_end = guest_mem_low_end(ctx->mem);

	if (!in->initrd)
		return 0;
	if (limit > low_end)
		limit = low_end;
	uint64_t floor = (plan->kernel_end + 0xfff) & ~0xfffull;
	if (in->initrd_size > limit || ((limit - in->initrd_size) & ~0xfffull) < floor)
		return load_fail(ctx, ENOSPC,
				 "initrd (%zu bytes) does not fit between the kernel end 0x%llx and 0x%llx: "
				 "give the guest more memory",
				 in->initrd_size, (unsigned long long)floor, (unsigned long long)limit);
	uint64_t addr = (limit - in->initrd_size) & ~0xfffull;
	int ret = guest_mem_write(ctx->mem, addr, in->initrd, in->initrd_size);
	if (ret)
		return load_fail(ctx, -ret, "initrd does not fit in guest RAM");
	plan->initrd_start = addr;
	plan->initrd_size = in->initrd_size;
	return 0;
}

int load_firmware_tables(struct load_ctx *ctx)
{
	int ret = x86_acpi_build(ctx->mem, ctx->profile, ctx->in->ncpus, ctx->in->mmio_devices, ctx->in->n_mmio_devices,
				 ctx->in->pci, &ctx->plan->rsdp);
	if (ret)
		return load_fail(ctx, -ret, "cannot place the ACPI tables (%s)", strerror(-ret));
	ret = x86_mptable_build(ctx->mem, ctx->profile, ctx->in->ncpus);
	if (ret)
		return load_fail(ctx, -ret, "cannot place the MP table (%s)", strerror(-ret));
	return 0;
}

int load_cpu_structures(struct load_ctx *ctx, enum x86_entry_mode mode)
{
	const struct arch_profile *p = ctx->profile;
	/* Flat 4 GiB segments. The code descriptor is 32-bit (D=1) or 64-bit (L=1) to match the
	 * entry mode; the segment caches the vCPU setup loads carry the same attributes. */
	uint64_t gdt[5] = {
		0,
		0,
		mode == X86_ENTRY_LONG64 ? 0x00af9b000000ffffull : 0x00cf9b000000ffffull,
		0x00cf93000000ffffull,
		0x00808b0000000067ull, /* 32-bit busy TSS, base 0, limit 0x67 */
	};
	int ret = guest_mem_write(ctx->mem, p->gdt_addr, gdt, sizeof(gdt));
	if (ret)
		return load_fail(ctx, EFAULT, "GDT address 0x%llx is not RAM", (unsigned long long)p->gdt_addr);
	ctx->plan->gdt_addr = p->gdt_addr;
	ctx->plan->mode = mode;
	ctx->plan->page_tables_addr = 0;
	if (mode != X86_ENTRY_LONG64)
		return 0;

	/* Identity map of the low 4 GiB with 2 MiB pages: PML4 -> one PDPT -> four PDs. 1 GiB
	 * pages would need PDPE1GB, which some hosts (kvm-pvm) lack or mishandle. */
	uint64_t pml4 = p->page_tables_addr, pdpt = pml4 + 0x1000, pd = pml4 + 0x2000;
	uint64_t *table = gpa_to_hva_checked(ctx->mem, pml4, 6 * 0x1000);
	if (!table)
		return load_fail(ctx, EFAULT, "page table area 0x%llx is not RAM", (unsigned long long)pml4);
	memset(table, 0, 6 * 0x1000);
	table[0] = pdpt | 0x3; /* present, writable */
	for (uint64_t i = 0; i < 4; i++)
		table[512 + i] = (pd + i * 0x1000) | 0x3;
	for (uint64_t i = 0; i < 4 * 512; i++)
		table[1024 + i] = (i << 21) | 0x83; /* present, writable, 2 MiB page */
	ctx->plan->page_tables_addr = pml4;
	return 0;
}

enum x86_kernel_format x86_detect_format(const uint8_t *image, size_t size)
{
	size_t off;
	if (multiboot_find_header(image, size, &off) == 0)
		return X86_FORMAT_MULTIBOOT;
	if (size >= 4 && memcmp(image, "\177ELF", 4) == 0)
		return X86_FORMAT_ELF;
	if (size >= 0x206 && memcmp(image + 0x202, "HdrS", 4) == 0 && image[0x1fe] == 0x55 &&
	    image[0x1ff] == 0xaa)
		return X86_FORMAT_BZIMAGE;
	return X86_FORMAT_UNKNOWN;
}

const char *x86_format_name(enum x86_kernel_format format)
{
	switch (format) {
	case X86_FORMAT_MULTIBOOT:
		return "multiboot";
	case X86_FORMAT_ELF:
		return "elf";
	case X86_FORMAT_BZIMAGE:
		return "bzimage";
	default:
		return "unknown";
	}
}

int x86_load_kernel(const struct guest_mem *mem, const struct arch_profile *profile,
		    const struct x86_boot_input *in, struct x86_boot_plan *plan, char *err, size_t errlen)
{
	struct load_ctx ctx = { mem, profile, in, plan, err, errlen };
	struct elf_image elf;
	int ret;

	memset(plan, 0, sizeof(*plan));
	if (err && errlen)
		err[0] = '\0';
	if (in->ncpus == 0 || in->ncpus > X86_MAX_CPUS)
		return load_fail(&ctx, EINVAL, "%u vCPUs requested; 1..%d supported", in->ncpus, X86_MAX_CPUS);
	ret = load_firmware_tables(&ctx);
	if (ret)
		return ret;

	switch (x86_detect_format(in->kernel, in->kernel_size)) {
	case X86_FORMAT_MULTIBOOT:
		return multiboot_load(&ctx);
	case X86_FORMAT_ELF:
		ret = elf_parse(&ctx, in->kernel, in->kernel_size, &elf);
		if (ret)
			return ret;
		return elf.has_pvh ? pvh_load(&ctx, &elf) : linux64_load_vmlinux(&ctx, &elf);
	case X86_FORMAT_BZIMAGE:
		return linux64_load_bzimage(&ctx);
	default:
		return load_fail(&ctx, ENOEXEC,
				 "not a kernel n90vmm can boot (no multiboot header, ELF or bzImage signature)");
	}
}
