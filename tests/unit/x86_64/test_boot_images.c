/* Kernel loaders on the real test-guest images (built by tests/guest) and on corrupted
 * copies of them: every corruption must give an error with a reason, never a crash or a
 * write outside guest memory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/profile.h"

static struct guest_mem mem;

static void setup(void)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, 256ull << 20, 0xd0000000), 0);
}

static void teardown(void)
{
	guest_mem_free(&mem);
}

TestSuite(boot_images, .init = setup, .fini = teardown);

static uint8_t *load_file(const char *name, size_t *size)
{
	char path[256];
	snprintf(path, sizeof(path), "build/guest/%s", name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s missing: run `make guests` (make unit-test does)", path);
	fseek(f, 0, SEEK_END);
	*size = (size_t)ftell(f);
	rewind(f);
	uint8_t *buf = malloc(*size);
	cr_assert_eq(fread(buf, 1, *size, f), *size);
	fclose(f);
	return buf;
}

static int load(const uint8_t *img, size_t size, const char *cmdline, struct x86_boot_plan *plan, char *err)
{
	const struct arch_profile *p = x86_profile_find("crosvm-x86");
	static const uint8_t initrd[8192] = { 1, 2, 3 };
	struct x86_boot_input in = { .kernel = img, .kernel_size = size, .initrd = initrd,
				     .initrd_size = sizeof(initrd), .cmdline = cmdline, .ncpus = 2 };
	return x86_load_kernel(&mem, p, &in, plan, err, X86_LOAD_ERR_LEN);
}

Test(boot_images, multiboot_flat_binary)
{
	size_t size;
	uint8_t *img = load_file("mb.bin", &size);
	struct x86_boot_plan plan;
	char err[X86_LOAD_ERR_LEN];
	cr_assert_eq(x86_detect_format(img, size), X86_FORMAT_MULTIBOOT);
	cr_assert_eq(load(img, size, "expect_cpus=2", &plan, err), 0, "%s", err);
	cr_assert_str_eq(plan.protocol, "multiboot");
	cr_assert_eq(plan.mode, X86_ENTRY_PROTECTED32);
	cr_assert_eq(plan.rax, 0x2badb002);
	cr_assert_eq(plan.kernel_start, 0x200000);
	/* The info block: flags with mem, cmdline, mods, mmap; the command line it points at. */
	uint32_t info[20];
	cr_assert_eq(guest_mem_read(&mem, plan.rbx, info, sizeof(info)), 0);
	cr_assert(info[0] & (1u << 6), "mmap flag");
	cr_assert(info[0] & (1u << 2), "cmdline flag");
	cr_assert(info[0] & (1u << 3), "module flag for the initrd");
	char cmd[32];
	cr_assert_eq(guest_mem_read(&mem, info[4], cmd, 14), 0);
	cr_assert_str_eq(cmd, "expect_cpus=2");
	cr_assert_eq(plan.initrd_start % 4096, 0);
	cr_assert_geq(plan.initrd_start, plan.kernel_end);
	free(img);
}

Test(boot_images, pvh_elf)
{
	size_t size;
	uint8_t *img = load_file("pvh.elf", &size);
	struct x86_boot_plan plan;
	char err[X86_LOAD_ERR_LEN];
	cr_assert_eq(load(img, size, "x=1", &plan, err), 0, "%s", err);
	cr_assert_str_eq(plan.protocol, "pvh");
	uint32_t magic;
	cr_assert_eq(guest_mem_read(&mem, plan.rbx, &magic, 4), 0);
	cr_assert_eq(magic, 0x336ec578);
	uint64_t rsdp;
	cr_assert_eq(guest_mem_read(&mem, plan.rbx + 32, &rsdp, 8), 0);
	cr_assert_eq(rsdp, plan.rsdp);
	free(img);
}

Test(boot_images, bzimage_64bit_entry)
{
	size_t size;
	uint8_t *img = load_file("bzimage", &size);
	struct x86_boot_plan plan;
	char err[X86_LOAD_ERR_LEN];
	cr_assert_eq(x86_detect_format(img, size), X86_FORMAT_BZIMAGE);
	cr_assert_eq(load(img, size, "a b c", &plan, err), 0, "%s", err);
	cr_assert_str_eq(plan.protocol, "linux64");
	cr_assert_eq(plan.mode, X86_ENTRY_LONG64);
	cr_assert_eq(plan.rip, plan.kernel_start + 0x200);
	uint8_t bp[0x1000];
	cr_assert_eq(guest_mem_read(&mem, plan.rsi, bp, sizeof(bp)), 0);
	cr_assert(memcmp(bp + 0x202, "HdrS", 4) == 0);
	cr_assert_eq(bp[0x210], 0xff, "type_of_loader");
	cr_assert_gt(bp[0x1e8], 3, "e820 entries");
	uint32_t ramdisk;
	memcpy(&ramdisk, bp + 0x218, 4);
	cr_assert_eq(ramdisk, plan.initrd_start);
	free(img);
}

/* Every prefix of a real image: shorter files must fail cleanly or still load sanely. */
static void truncations(const char *name)
{
	size_t size;
	uint8_t *img = load_file(name, &size);
	struct x86_boot_plan plan;
	char err[X86_LOAD_ERR_LEN];
	size_t step = size > 4096 ? 7 : 1;
	for (size_t len = 0; len < size; len += step) {
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, img, len);
		int ret = load(copy, len, "", &plan, err);
		if (ret)
			cr_assert_neq(err[0], '\0', "%s truncated to %zu: error without a reason", name, len);
		free(copy);
	}
	free(img);
}

Test(boot_images, truncated_multiboot)
{
	truncations("mb.bin");
}

Test(boot_images, truncated_elf)
{
	truncations("mb.elf");
	truncations("pvh.elf");
}

Test(boot_images, truncated_bzimage)
{
	truncations("bzimage");
}

/* Corrupt one 32-bit field of the image at a time with hostile values. */
Test(boot_images, corrupted_fields)
{
	static const char *const names[] = { "mb.bin", "mb.elf", "pvh.elf", "bzimage" };
	static const uint32_t values[] = { 0, 0xffffffffu, 0x7fffffffu, 0x80000000u, 0xfee00000u, 1 };
	for (size_t n = 0; n < 4; n++) {
		size_t size;
		uint8_t *img = load_file(names[n], &size);
		size_t limit = size < 0x600 ? size : 0x600; /* headers live here */
		for (size_t off = 0; off + 4 <= limit; off += 4) {
			for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
				uint8_t *copy = malloc(size);
				memcpy(copy, img, size);
				memcpy(copy + off, &values[v], 4);
				struct x86_boot_plan plan;
				char err[X86_LOAD_ERR_LEN];
				if (load(copy, size, "", &plan, err) != 0)
					cr_assert_neq(err[0], '\0');
				else
					cr_assert(guest_mem_is_ram(&mem, plan.kernel_start, plan.kernel_end - plan.kernel_start));
				free(copy);
			}
		}
		free(img);
	}
}

Test(boot_images, junk_and_tiny_inputs)
{
	uint8_t junk[4096];
	memset(junk, 'Z', sizeof(junk));
	cr_assert_eq(x86_detect_format(junk, sizeof(junk)), X86_FORMAT_UNKNOWN);
	struct x86_boot_plan plan;
	char err[X86_LOAD_ERR_LEN];
	cr_assert_eq(load(junk, sizeof(junk), "", &plan, err), -ENOEXEC);
	cr_assert_neq(err[0], '\0');
	cr_assert_eq(x86_detect_format(junk, 0), X86_FORMAT_UNKNOWN);
	uint8_t elfmag[4] = { 0x7f, 'E', 'L', 'F' };
	cr_assert_lt(load(elfmag, 4, "", &plan, err), 0);
}

Test(boot_images, cmdline_longer_than_kernel_accepts)
{
	size_t size;
	uint8_t *img = load_file("bzimage", &size);
	char *cmd = malloc(5000);
	memset(cmd, 'x', 4999);
	cmd[4999] = '\0';
	struct x86_boot_plan plan;
	char err[X86_LOAD_ERR_LEN];
	cr_assert_eq(load(img, size, cmd, &plan, err), -E2BIG);
	free(cmd);
	free(img);
}

Test(boot_images, kernel_outside_small_ram)
{
	guest_mem_free(&mem);
	cr_assert_eq(guest_mem_alloc(&mem, 0, 2ull << 20, 0xd0000000), 0); /* 2 MiB: image at 2 MiB does not fit */
	size_t size;
	uint8_t *img = load_file("mb.bin", &size);
	struct x86_boot_plan plan;
	char err[X86_LOAD_ERR_LEN];
	int ret = load(img, size, "", &plan, err);
	cr_assert_lt(ret, 0);
	cr_assert_neq(err[0], '\0');
	free(img);
}
