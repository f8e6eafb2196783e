/* The address bus: registration rules, lookup by binary search, dispatch and the
 * all-ones answer for addresses no device decodes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/bus.h"

/* A device that records its last access and answers reads with its id and the offset. */
struct rec {
	int id;
	unsigned int reads, writes;
	uint64_t offset;
	uint32_t len;
	uint8_t data[8];
};

static void rec_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct rec *r = opaque;
	r->reads++;
	r->offset = offset;
	r->len = len;
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(r->id + offset + i);
}

static void rec_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct rec *r = opaque;
	r->writes++;
	r->offset = offset;
	r->len = len;
	memcpy(r->data, data, len < 8 ? len : 8);
}

static const struct bus_ops rec_ops = { .read = rec_read, .write = rec_write };
static const struct bus_ops write_only_ops = { .write = rec_write };
static const struct bus_ops read_only_ops = { .read = rec_read };

static struct bus bus;

static void setup(void)
{
	bus_init(&bus, "test");
}

static void teardown(void)
{
	bus_free(&bus);
}

TestSuite(bus, .init = setup, .fini = teardown);

Test(bus, register_rejects_bad_ranges)
{
	struct rec r = { 0 };
	cr_assert_eq(bus_register(&bus, 0x100, 0, &rec_ops, &r, "empty"), -EINVAL);
	cr_assert_eq(bus_register(&bus, 0x100, 8, NULL, &r, "no ops"), -EINVAL);
	cr_assert_eq(bus_register(&bus, UINT64_MAX - 3, 8, &rec_ops, &r, "wraps"), -EINVAL);
	cr_assert_eq(bus_register(&bus, UINT64_MAX, UINT64_MAX, &rec_ops, &r, "wraps"), -EINVAL);
	cr_assert_eq(bus.count, 0);
}

Test(bus, overlaps_are_rejected_adjacent_ranges_accepted)
{
	struct rec r = { 0 };
	cr_assert_eq(bus_register(&bus, 0x100, 0x10, &rec_ops, &r, "a"), 0);
	cr_assert_eq(bus_register(&bus, 0x100, 0x10, &rec_ops, &r, "same"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x0f8, 0x09, &rec_ops, &r, "tail into a"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x10f, 0x01, &rec_ops, &r, "last byte of a"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x104, 0x04, &rec_ops, &r, "inside a"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x0f0, 0x100, &rec_ops, &r, "around a"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x108, 0x10, &rec_ops, &r, "head into a"), -EEXIST);
	cr_assert_eq(bus.count, 1);
	cr_assert_eq(bus_register(&bus, 0x0f0, 0x10, &rec_ops, &r, "just below"), 0);
	cr_assert_eq(bus_register(&bus, 0x110, 0x10, &rec_ops, &r, "just above"), 0);
	cr_assert_eq(bus.count, 3);
	/* Filling a gap between two ranges exactly works; one byte more on either side does not. */
	cr_assert_eq(bus_register(&bus, 0x200, 0x10, &rec_ops, &r, "c"), 0);
	cr_assert_eq(bus_register(&bus, 0x11f, 0xe2, &rec_ops, &r, "gap+1 low"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x120, 0xe1, &rec_ops, &r, "gap+1 high"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x120, 0xe0, &rec_ops, &r, "gap"), 0);
	cr_assert_eq(bus.count, 5);
}

Test(bus, ranges_stay_sorted_whatever_the_registration_order)
{
	struct rec r = { 0 };
	static const uint64_t bases[] = { 0x500, 0x100, 0x900, 0x300, 0x700, 0x000, 0x800 };
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
		cr_assert_eq(bus_register(&bus, bases[i], 0x80, &rec_ops, &r, "r"), 0);
	for (unsigned int i = 1; i < bus.count; i++)
		cr_assert_lt(bus.ranges[i - 1].base, bus.ranges[i].base);
}

Test(bus, binary_search_over_many_ranges)
{
	enum { N = 1000 };
	static struct rec devs[N];
	unsigned int order[N];
	for (unsigned int i = 0; i < N; i++)
		order[i] = i;
	/* A fixed shuffle (LCG), so registration order is neither sorted nor reversed. */
	uint32_t seed = 12345;
	for (unsigned int i = N - 1; i > 0; i--) {
		seed = seed * 1103515245u + 12345u;
		unsigned int j = (seed >> 8) % (i + 1);
		unsigned int t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	/* Range i: [i*0x100, i*0x100 + 1 + i%0x80), with gaps of varying size after it. */
	for (unsigned int k = 0; k < N; k++) {
		unsigned int i = order[k];
		devs[i].id = (int)i;
		cr_assert_eq(bus_register(&bus, (uint64_t)i * 0x100, 1 + i % 0x80, &rec_ops, &devs[i], "r"), 0);
	}
	cr_assert_eq(bus.count, N);
	for (unsigned int i = 0; i < N; i++) {
		uint64_t base = (uint64_t)i * 0x100, len = 1 + i % 0x80;
		const struct bus_range *r = bus_find(&bus, base);
		cr_assert_not_null(r);
		cr_assert_eq(r->opaque, &devs[i]);
		r = bus_find(&bus, base + len - 1);
		cr_assert_not_null(r, "last byte of range %u", i);
		cr_assert_eq(r->opaque, &devs[i]);
		cr_assert_null(bus_find(&bus, base + len), "first byte after range %u", i);
		cr_assert_null(bus_find(&bus, base + 0xff), "end of gap after range %u", i);
	}
	cr_assert_null(bus_find(&bus, (uint64_t)N * 0x100));
	cr_assert_null(bus_find(&bus, UINT64_MAX));
}

Test(bus, empty_bus_finds_nothing)
{
	cr_assert_null(bus_find(&bus, 0));
	cr_assert_null(bus_find(&bus, UINT64_MAX));
}

Test(bus, dispatch_passes_offset_and_length)
{
	struct rec r = { .id = 0x40 };
	cr_assert_eq(bus_register(&bus, 0x3f8, 8, &rec_ops, &r, "uart"), 0);
	uint8_t data[4] = { 0 };
	cr_assert(bus_read(&bus, 0x3fb, data, 1));
	cr_assert_eq(r.reads, 1);
	cr_assert_eq(r.offset, 3);
	cr_assert_eq(r.len, 1);
	cr_assert_eq(data[0], 0x43);
	const uint8_t w[2] = { 0xaa, 0xbb };
	cr_assert(bus_write(&bus, 0x3f9, w, 2));
	cr_assert_eq(r.writes, 1);
	cr_assert_eq(r.offset, 1);
	cr_assert_eq(r.len, 2);
	cr_assert_eq(r.data[0], 0xaa);
	cr_assert_eq(r.data[1], 0xbb);
	cr_assert_eq(bus.unclaimed_accesses, 0);
}

Test(bus, unclaimed_reads_are_all_ones_and_counted)
{
	struct rec r = { 0 };
	cr_assert_eq(bus_register(&bus, 0x1000, 0x10, &rec_ops, &r, "dev"), 0);
	uint8_t data[8];
	memset(data, 0, sizeof(data));
	cr_assert_not(bus_read(&bus, 0x2000, data, 8));
	for (int i = 0; i < 8; i++)
		cr_assert_eq(data[i], 0xff);
	cr_assert_eq(bus.unclaimed_accesses, 1);
	const uint8_t w[4] = { 1, 2, 3, 4 };
	cr_assert_not(bus_write(&bus, 0x0fff, w, 4));
	cr_assert_eq(bus.unclaimed_accesses, 2);
	cr_assert_eq(r.reads + r.writes, 0, "the device never saw them");
	/* Far more than the logging limit: every one is still counted. */
	for (int i = 0; i < 100; i++)
		bus_read(&bus, 0x5000 + (uint64_t)i, data, 1);
	cr_assert_eq(bus.unclaimed_accesses, 102);
}

Test(bus, mmio_access_straddling_the_end_of_a_range_is_unclaimed)
{
	struct rec r = { 0 };
	cr_assert_eq(bus_register(&bus, 0x1000, 0x10, &rec_ops, &r, "dev"), 0);
	uint8_t data[8];
	cr_assert(bus_read(&bus, 0x100c, data, 4), "last dword fits");
	cr_assert_eq(r.reads, 1);
	memset(data, 0, sizeof(data));
	cr_assert_not(bus_read(&bus, 0x100e, data, 4), "2 bytes in, 2 bytes out");
	cr_assert_eq(data[0], 0xff);
	cr_assert_eq(data[3], 0xff);
	cr_assert_not(bus_read(&bus, 0x100f, data, 8));
	const uint8_t w[8] = { 0 };
	cr_assert_not(bus_write(&bus, 0x1009, w, 8));
	cr_assert_eq(r.reads, 1);
	cr_assert_eq(r.writes, 0);
	cr_assert_eq(bus.unclaimed_accesses, 3);
}

Test(bus, port_io_decodes_by_the_first_port)
{
	struct rec r = { 0 };
	bus.decode_by_start = true;
	cr_assert_eq(bus_register(&bus, 0xcf8, 1, &rec_ops, &r, "one port"), 0);
	uint8_t data[4];
	cr_assert(bus_read(&bus, 0xcf8, data, 4), "an inl at the register's port belongs to it");
	cr_assert_eq(r.len, 4);
	cr_assert_eq(r.offset, 0);
	const uint8_t w[4] = { 0 };
	cr_assert(bus_write(&bus, 0xcf8, w, 4));
	cr_assert_not(bus_read(&bus, 0xcf7, data, 4), "starting below it is someone else's access");
	cr_assert_eq(bus.unclaimed_accesses, 1);
}

Test(bus, ranges_without_a_handler_for_the_direction_are_unclaimed)
{
	struct rec wo = { 0 }, ro = { 0 };
	cr_assert_eq(bus_register(&bus, 0x10, 4, &write_only_ops, &wo, "wo"), 0);
	cr_assert_eq(bus_register(&bus, 0x20, 4, &read_only_ops, &ro, "ro"), 0);
	uint8_t data[1] = { 0 };
	cr_assert_not(bus_read(&bus, 0x10, data, 1));
	cr_assert_eq(data[0], 0xff);
	cr_assert(bus_write(&bus, 0x10, data, 1));
	cr_assert_eq(wo.writes, 1);
	cr_assert_not(bus_write(&bus, 0x20, data, 1));
	cr_assert(bus_read(&bus, 0x20, data, 1));
	cr_assert_eq(ro.reads, 1);
	cr_assert_eq(bus.unclaimed_accesses, 2);
}

Test(bus, high_addresses)
{
	struct rec r = { .id = 1 };
	cr_assert_eq(bus_register(&bus, UINT64_MAX - 0x1000, 0x1000, &rec_ops, &r, "top"), 0);
	cr_assert_not_null(bus_find(&bus, UINT64_MAX - 1));
	cr_assert_null(bus_find(&bus, UINT64_MAX), "the range ends one byte below 2^64 - 1");
	uint8_t data[8];
	cr_assert_not(bus_read(&bus, UINT64_MAX - 3, data, 8), "straddles the end of the range");
}

Test(bus, free_empties_the_bus_and_it_can_be_reused)
{
	struct rec r = { 0 };
	for (unsigned int i = 0; i < 40; i++)
		cr_assert_eq(bus_register(&bus, i * 16, 8, &rec_ops, &r, "r"), 0);
	uint8_t data[1];
	bus_read(&bus, 0x1000, data, 1);
	bus_free(&bus);
	cr_assert_eq(bus.count, 0);
	cr_assert_eq(bus.unclaimed_accesses, 0);
	cr_assert_str_eq(bus.name, "test");
	cr_assert_null(bus_find(&bus, 0));
	cr_assert_eq(bus_register(&bus, 0, 8, &rec_ops, &r, "again"), 0);
	cr_assert_not_null(bus_find(&bus, 7));
}

Test(bus, little_endian_data_helpers)
{
	uint8_t d[8];
	bus_data_put(d, 8, 0x0807060504030201ull);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(d[i], i + 1);
	cr_assert_eq(bus_data_get(d, 2), 0x0201);
	cr_assert_eq(bus_data_get(d, 4), 0x04030201);
	cr_assert_eq(bus_data_get(d, 8), 0x0807060504030201ull);
	uint8_t small[2] = { 0xee, 0xee };
	bus_data_put(small, 1, 0x1234);
	cr_assert_eq(small[0], 0x34);
	cr_assert_eq(small[1], 0xee, "only len bytes are written");
}
