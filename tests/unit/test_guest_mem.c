/* Guest memory layout and the one bounds check every guest address goes through. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "vmm/guest_mem.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define FOUR_GIB (4ull << 30)
#define HOLE 0xd0000000ull

static struct guest_mem mem;

static void teardown(void)
{
	guest_mem_free(&mem);
}

TestSuite(guest_mem, .fini = teardown);

Test(guest_mem, small_ram_is_one_region)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, 256 * MIB, HOLE), 0);
	cr_assert_eq(mem.nregions, 1);
	cr_assert_eq(mem.regions[0].gpa, 0);
	cr_assert_eq(mem.regions[0].size, 256 * MIB);
	cr_assert_eq(mem.total, 256 * MIB);
	cr_assert_eq(guest_mem_low_end(&mem), 256 * MIB);
}

Test(guest_mem, ram_exactly_up_to_the_hole_is_one_region)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, HOLE, HOLE), 0);
	cr_assert_eq(mem.nregions, 1);
	cr_assert_eq(guest_mem_low_end(&mem), HOLE);
	cr_assert_null(gpa_to_hva_checked(&mem, HOLE, 1));
	cr_assert_null(gpa_to_hva_checked(&mem, FOUR_GIB, 1));
}

Test(guest_mem, five_gib_splits_around_the_hole)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, 5 * GIB, HOLE), 0);
	cr_assert_eq(mem.nregions, 2);
	cr_assert_eq(mem.total, 5 * GIB);
	cr_assert_eq(mem.regions[0].gpa, 0);
	cr_assert_eq(mem.regions[0].size, HOLE);
	cr_assert_eq(mem.regions[1].gpa, FOUR_GIB);
	cr_assert_eq(mem.regions[1].size, 5 * GIB - HOLE);
	cr_assert_eq(guest_mem_low_end(&mem), HOLE);
	/* One mapping: the high region continues the host mapping right after the low one. */
	cr_assert_eq(mem.regions[1].hva, mem.regions[0].hva + HOLE);
	cr_assert_eq(gpa_to_hva_checked(&mem, FOUR_GIB, 1), (void *)(mem.regions[0].hva + HOLE));
}

Test(guest_mem, bounds_at_the_end_of_each_region)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, 5 * GIB, HOLE), 0);
	uint64_t high_end = FOUR_GIB + (5 * GIB - HOLE);

	cr_assert_not_null(gpa_to_hva_checked(&mem, 0, HOLE), "all of low RAM at once");
	cr_assert_not_null(gpa_to_hva_checked(&mem, HOLE - 1, 1));
	cr_assert_null(gpa_to_hva_checked(&mem, HOLE - 1, 2), "one byte past the low region");
	cr_assert_null(gpa_to_hva_checked(&mem, HOLE, 1), "first byte of the hole");
	cr_assert_null(gpa_to_hva_checked(&mem, FOUR_GIB - 1, 1), "last byte of the hole");
	cr_assert_not_null(gpa_to_hva_checked(&mem, FOUR_GIB, 1));
	cr_assert_not_null(gpa_to_hva_checked(&mem, high_end - 1, 1));
	cr_assert_not_null(gpa_to_hva_checked(&mem, FOUR_GIB, high_end - FOUR_GIB));
	cr_assert_null(gpa_to_hva_checked(&mem, high_end - 1, 2));
	cr_assert_null(gpa_to_hva_checked(&mem, high_end, 1));
	cr_assert_null(gpa_to_hva_checked(&mem, FOUR_GIB, high_end - FOUR_GIB + 1));
}

Test(guest_mem, range_across_the_hole_is_refused)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, 5 * GIB, HOLE), 0);
	/* Both ends are RAM, the middle is not: the range must be refused as a whole. */
	cr_assert_null(gpa_to_hva_checked(&mem, HOLE - 4096, FOUR_GIB - HOLE + 8192));
	cr_assert_null(gpa_to_hva_checked(&mem, 0, FOUR_GIB + 1));
	cr_assert_null(gpa_to_hva_checked(&mem, 0, 5 * GIB));
}

Test(guest_mem, length_overflowing_2_to_the_64_is_refused)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, 5 * GIB, HOLE), 0);
	cr_assert_null(gpa_to_hva_checked(&mem, 1, UINT64_MAX));
	cr_assert_null(gpa_to_hva_checked(&mem, 0x1000, UINT64_MAX - 0xfff), "gpa + len == 2^64");
	cr_assert_null(gpa_to_hva_checked(&mem, 0x1000, UINT64_MAX - 0xffe), "gpa + len wraps to 1");
	cr_assert_null(gpa_to_hva_checked(&mem, FOUR_GIB + 16, UINT64_MAX - 8));
	cr_assert_null(gpa_to_hva_checked(&mem, UINT64_MAX, 1));
	cr_assert_null(gpa_to_hva_checked(&mem, UINT64_MAX, UINT64_MAX));
	cr_assert_null(gpa_to_hva_checked(&mem, UINT64_MAX - 0xfff, 0x1000));
	cr_assert_null(gpa_to_hva_checked(&mem, 0, UINT64_MAX));
}

Test(guest_mem, zero_length_is_checked_like_one_byte)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, 16 * MIB, HOLE), 0);
	cr_assert_eq(gpa_to_hva_checked(&mem, 0x1234, 0), gpa_to_hva_checked(&mem, 0x1234, 1));
	cr_assert_not_null(gpa_to_hva_checked(&mem, 16 * MIB - 1, 0));
	cr_assert_null(gpa_to_hva_checked(&mem, 16 * MIB, 0), "len 0 at the end is still outside");
	cr_assert_null(gpa_to_hva_checked(&mem, UINT64_MAX, 0));
}

Test(guest_mem, translation_is_an_offset_into_the_mapping)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, 16 * MIB, HOLE), 0);
	uint8_t *base = gpa_to_hva_checked(&mem, 0, 1);
	cr_assert_eq(base, mem.regions[0].hva);
	cr_assert_eq(gpa_to_hva_checked(&mem, 0x12345, 4), base + 0x12345);
	cr_assert(guest_mem_is_ram(&mem, 0x12345, 4));
	cr_assert_not(guest_mem_is_ram(&mem, 16 * MIB - 2, 4));
}

Test(guest_mem, write_read_fill_round_trip_in_both_regions)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, 5 * GIB, HOLE), 0);
	static const char msg[] = "n90vmm guest memory";
	char back[sizeof(msg)];
	uint64_t addrs[] = { 0x1000, HOLE - sizeof(msg), FOUR_GIB, FOUR_GIB + (5 * GIB - HOLE) - sizeof(msg) };
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		cr_assert_eq(guest_mem_write(&mem, addrs[i], msg, sizeof(msg)), 0, "write at 0x%llx",
			     (unsigned long long)addrs[i]);
		memset(back, 0, sizeof(back));
		cr_assert_eq(guest_mem_read(&mem, addrs[i], back, sizeof(back)), 0);
		cr_assert_str_eq(back, msg);
		cr_assert_eq(guest_mem_fill(&mem, addrs[i], 0x5a, sizeof(msg)), 0);
		cr_assert_eq(guest_mem_read(&mem, addrs[i], back, sizeof(back)), 0);
		for (size_t j = 0; j < sizeof(back); j++)
			cr_assert_eq((uint8_t)back[j], 0x5a);
	}
	/* The same bytes are visible through the host pointer. */
	cr_assert_eq(((uint8_t *)gpa_to_hva_checked(&mem, FOUR_GIB, 1))[0], 0x5a);
}

Test(guest_mem, failed_accesses_return_efault_and_touch_nothing)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, 16 * MIB, HOLE), 0);
	uint64_t end = 16 * MIB;
	uint8_t buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t *tail = gpa_to_hva_checked(&mem, end - 4, 4);
	cr_assert_not_null(tail);
	memset(tail, 0xee, 4);

	cr_assert_eq(guest_mem_write(&mem, end - 4, buf, 8), -EFAULT);
	cr_assert_eq(guest_mem_fill(&mem, end - 4, 0, 8), -EFAULT);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(tail[i], 0xee, "a refused write must not write its in-range part");

	uint8_t out[8];
	memset(out, 0x77, sizeof(out));
	cr_assert_eq(guest_mem_read(&mem, end - 4, out, 8), -EFAULT);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(out[i], 0x77, "a refused read leaves the destination alone");

	cr_assert_eq(guest_mem_write(&mem, UINT64_MAX - 3, buf, 8), -EFAULT);
	cr_assert_eq(guest_mem_read(&mem, end, out, 1), -EFAULT);
	cr_assert_eq(guest_mem_fill(&mem, 0, 0, end + 1), -EFAULT);
	cr_assert_eq(guest_mem_fill(&mem, 0x100, 0, UINT64_MAX), -EFAULT);
}

Test(guest_mem, fresh_memory_reads_as_zero)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, 5 * GIB, HOLE), 0);
	uint64_t v = 1;
	cr_assert_eq(guest_mem_read(&mem, 0x7000, &v, sizeof(v)), 0);
	cr_assert_eq(v, 0);
	v = 1;
	cr_assert_eq(guest_mem_read(&mem, FOUR_GIB + 3 * GIB / 2, &v, sizeof(v)), 0);
	cr_assert_eq(v, 0);
}

Test(guest_mem, bad_allocations_are_refused)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, 0, HOLE), -EINVAL);
	cr_assert_eq(mem.nregions, 0);
	cr_assert_eq(guest_mem_alloc(&mem, 0, 16 * MIB, 0), -EINVAL, "hole at 0");
	cr_assert_eq(guest_mem_alloc(&mem, 0, 16 * MIB, FOUR_GIB + 4096), -EINVAL, "hole above 4 GiB");
	cr_assert_eq(guest_mem_alloc(&mem, 0, (1ull << 46) + 4096, HOLE), -E2BIG);
	cr_assert_eq(guest_mem_alloc(&mem, 0, UINT64_MAX, HOLE), -E2BIG);
	cr_assert_eq(mem.nregions, 0);
	cr_assert_null(gpa_to_hva_checked(&mem, 0, 1), "no regions, nothing is RAM");
	cr_assert_eq(guest_mem_low_end(&mem), 0);
}

Test(guest_mem, hole_at_4_gib_means_no_hole)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, FOUR_GIB + GIB, FOUR_GIB), 0);
	cr_assert_eq(mem.nregions, 2);
	cr_assert_eq(guest_mem_low_end(&mem), FOUR_GIB);
	cr_assert_not_null(gpa_to_hva_checked(&mem, FOUR_GIB - 8, 8));
	cr_assert_not_null(gpa_to_hva_checked(&mem, FOUR_GIB, 8));
	/* Contiguous in guest terms but two regions: one range may not span both. */
	cr_assert_null(gpa_to_hva_checked(&mem, FOUR_GIB - 8, 16));
}

Test(guest_mem, free_forgets_every_region)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, 5 * GIB, HOLE), 0);
	guest_mem_free(&mem);
	cr_assert_eq(mem.nregions, 0);
	cr_assert_eq(mem.total, 0);
	cr_assert_null(gpa_to_hva_checked(&mem, 0, 1));
	guest_mem_free(&mem); /* a second free is harmless */
}

/* crosvm-arm64: RAM from 2 GiB, no hole. */
Test(guest_mem, ram_above_a_base_without_hole)
{
	uint64_t base = 2 * GIB;
	cr_assert_eq(guest_mem_alloc(&mem, base, 3 * GIB, UINT64_MAX), 0);
	cr_assert_eq(mem.nregions, 1);
	cr_assert_eq(mem.regions[0].gpa, base);
	cr_assert_eq(guest_mem_low_end(&mem), base + 3 * GIB);
	cr_assert_null(gpa_to_hva_checked(&mem, 0, 8), "below the base is not RAM");
	cr_assert_null(gpa_to_hva_checked(&mem, base - 4, 8), "a range starting below the base");
	cr_assert_not_null(gpa_to_hva_checked(&mem, base, 8));
	cr_assert_not_null(gpa_to_hva_checked(&mem, FOUR_GIB, 8), "no hole: RAM goes on past 4 GiB");
	cr_assert_not_null(gpa_to_hva_checked(&mem, base + 3 * GIB - 8, 8));
	cr_assert_null(gpa_to_hva_checked(&mem, base + 3 * GIB - 4, 8));
	guest_mem_free(&mem);
	cr_assert_eq(guest_mem_alloc(&mem, 2 * GIB, 16 * MIB, GIB), -EINVAL, "hole below the base");
	cr_assert_eq(guest_mem_alloc(&mem, 1ull << 47, 16 * MIB, UINT64_MAX), -E2BIG, "base beyond the IPA space");
}
