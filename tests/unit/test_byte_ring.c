/* The console's bounded ring (vmm/byte_ring.c): order kept, the oldest dropped and counted. */
#include <criterion/criterion.h>
#include <string.h>

#include "vmm/byte_ring.h"

static struct byte_ring r;

static void setup(void)
{
	cr_assert_eq(byte_ring_init(&r, 8), 0);
}

static void teardown(void)
{
	byte_ring_free(&r);
}

TestSuite(byte_ring, .init = setup, .fini = teardown);

static const char *take_all(void)
{
	static char out[64];
	memset(out, 0, sizeof(out));
	byte_ring_take(&r, (uint8_t *)out, sizeof(out) - 1);
	return out;
}

Test(byte_ring, keeps_order_across_the_wrap)
{
	byte_ring_put(&r, (const uint8_t *)"abcdef", 6);
	uint8_t two[2];
	cr_assert_eq(byte_ring_take(&r, two, 2), 2);
	cr_assert_arr_eq(two, "ab", 2);
	byte_ring_put(&r, (const uint8_t *)"ghij", 4); /* wraps */
	cr_assert_eq(r.len, 8);
	cr_assert_str_eq(take_all(), "cdefghij");
	cr_assert_eq(r.dropped, 0);
	cr_assert_eq(byte_ring_take(&r, two, 2), 0, "empty");
}

Test(byte_ring, full_drops_the_oldest_and_counts)
{
	byte_ring_put(&r, (const uint8_t *)"12345678", 8);
	byte_ring_put(&r, (const uint8_t *)"ab", 2);
	cr_assert_eq(r.dropped, 2);
	cr_assert_str_eq(take_all(), "345678ab");
}

Test(byte_ring, a_write_larger_than_the_ring_keeps_its_tail)
{
	byte_ring_put(&r, (const uint8_t *)"xyz", 3);
	byte_ring_put(&r, (const uint8_t *)"0123456789", 10);
	cr_assert_eq(r.dropped, 3 + 2);
	cr_assert_str_eq(take_all(), "23456789");
}

Test(byte_ring, peek_leaves_the_bytes)
{
	byte_ring_put(&r, (const uint8_t *)"hello", 5);
	uint8_t p[8];
	cr_assert_eq(byte_ring_peek(&r, p, 3), 3);
	cr_assert_arr_eq(p, "hel", 3);
	cr_assert_eq(r.len, 5);
	cr_assert_str_eq(take_all(), "hello");
}

/* Byte-at-a-time, as the 16550 delivers it, for many laps: every byte accounted for. */
Test(byte_ring, byte_at_a_time_laps)
{
	uint64_t put = 0, got = 0;
	uint8_t expect = 0;
	for (int lap = 0; lap < 1000; lap++) {
		for (int i = 0; i < 5; i++, put++) {
			uint8_t b = (uint8_t)put;
			byte_ring_put(&r, &b, 1);
		}
		uint8_t out[3];
		size_t n = byte_ring_take(&r, out, 3);
		for (size_t i = 0; i < n; i++, got++) {
			if (r.dropped == 0)
				cr_assert_eq(out[i], expect);
			expect = (uint8_t)(out[i] + 1);
		}
	}
	cr_assert_eq(put, got + r.len + r.dropped);
}
