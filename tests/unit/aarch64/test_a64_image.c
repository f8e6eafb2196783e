/* The arm64 Image loader on well-formed and hostile headers (KVM-free; runs on any host). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "arch/aarch64/image.h"
#include "vmm/bytes.h"

#define RAM_BASE 0x80000000ull
#define MIB (1ull << 20)

static struct guest_mem mem;
static uint8_t image[256 << 10];
static char err[256];

static void setup(void)
{
	cr_assert_eq(guest_mem_alloc(&mem, RAM_BASE, 64 * MIB, UINT64_MAX), 0);
	memset(image, 0, sizeof(image));
	image[0] = 0x14; /* b: a branch in code0, as real images have */
	put_le32(image + 56, A64_IMAGE_MAGIC);
	err[0] = 0;
}

static void teardown(void)
{
	guest_mem_free(&mem);
}

TestSuite(a64_image, .init = setup, .fini = teardown);

static void header(uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	put_le64(image + 8, text_offset);
	put_le64(image + 16, image_size);
	put_le64(image + 24, flags);
}

Test(a64_image, starryos_header_loads_at_2_gib_plus_512_kib)
{
	/* StarryOS's aarch64 header: text_offset = image_size = flags = 0 (PLATFORMS.md §3). */
	header(0, 0, 0);
	image[100] = 0xab;
	struct a64_image h;
	cr_assert_eq(a64_image_parse(image, 4096, &h, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(h.text_offset, 0x80000);
	cr_assert_eq(h.image_size, 4096);
	uint64_t entry = 0;
	cr_assert_eq(a64_image_load(&mem, RAM_BASE, image, &h, &entry, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(entry, 0x80080000ull);
	uint8_t b;
	guest_mem_read(&mem, 0x80080000ull + 100, &b, 1);
	cr_assert_eq(b, 0xab);
}

Test(a64_image, modern_linux_header_and_bss_is_zeroed)
{
	header(0, 8192, 0x2 /* 4 KiB pages */);
	uint64_t entry;
	struct a64_image h;
	guest_mem_fill(&mem, RAM_BASE + 4096, 0x5a, 4096);
	cr_assert_eq(a64_image_parse(image, 4096, &h, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(h.text_offset, 0);
	cr_assert_eq(a64_image_load(&mem, RAM_BASE, image, &h, &entry, err, sizeof(err)), 0);
	cr_assert_eq(entry, RAM_BASE);
	uint8_t b;
	guest_mem_read(&mem, RAM_BASE + 8191, &b, 1);
	cr_assert_eq(b, 0, "bss past the file is zeroed");
}

Test(a64_image, hostile_headers_are_refused_with_a_reason)
{
	struct a64_image h;
	cr_assert_eq(a64_image_parse(image, 63, &h, err, sizeof(err)), -ENOEXEC, "shorter than the header");
	header(0, 4096, 1);
	cr_assert_eq(a64_image_parse(image, 4096, &h, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "big-endian"), "%s", err);
	header(0x1234, 4096, 0);
	cr_assert_eq(a64_image_parse(image, 4096, &h, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "text_offset"), "%s", err);
	header(0xffffffffffff0000ull, 4096, 0);
	cr_assert_eq(a64_image_parse(image, 4096, &h, err, sizeof(err)), -ENOEXEC, "huge text_offset");
	header(0, 100, 0);
	cr_assert_eq(a64_image_parse(image, 4096, &h, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "smaller than the file"), "%s", err);
	header(0, 0xffffffffffffffffull, 0);
	cr_assert_eq(a64_image_parse(image, 4096, &h, err, sizeof(err)), -ENOEXEC, "image_size past 4 GiB");
	put_le32(image + 56, 0x12345678);
	cr_assert_eq(a64_image_parse(image, 4096, &h, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "magic"), "%s", err);
}

Test(a64_image, compressed_kernels_say_what_to_do)
{
	struct a64_image h;
	uint8_t gz[64] = { 0x1f, 0x8b, 0x08 };
	cr_assert_eq(a64_image_parse(gz, sizeof(gz), &h, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "gzip"), "%s", err);
	uint8_t zboot[64] = { 'M', 'Z', 0, 0, 'z', 'i', 'm', 'g' };
	cr_assert_eq(a64_image_parse(zboot, sizeof(zboot), &h, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "zboot"), "%s", err);
}

Test(a64_image, an_image_larger_than_ram_is_refused)
{
	header(0, 128 * MIB, 0);
	struct a64_image h;
	uint64_t entry;
	cr_assert_eq(a64_image_parse(image, 4096, &h, err, sizeof(err)), 0);
	cr_assert_eq(a64_image_load(&mem, RAM_BASE, image, &h, &entry, err, sizeof(err)), -ERANGE);
	cr_assert(strstr(err, "does not fit"), "%s", err);
	cr_assert_eq(a64_image_load(&mem, RAM_BASE + 4096, image, &h, &entry, err, sizeof(err)), -EINVAL,
		     "RAM base not 2 MiB aligned");
}
