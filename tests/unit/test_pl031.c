/* The PL031 RTC register model against a fake host clock. */
#include <criterion/criterion.h>

#include "devices/pl031.h"

static struct pl031 rtc;
static int64_t fake_now;

static int64_t fake_clock(void)
{
	return fake_now;
}

static uint32_t rd(uint64_t off)
{
	uint8_t d[4];
	pl031_bus_ops.read(&rtc, off, d, 4);
	return (uint32_t)bus_data_get(d, 4);
}

static void wr(uint64_t off, uint32_t v)
{
	uint8_t d[4];
	bus_data_put(d, 4, v);
	pl031_bus_ops.write(&rtc, off, d, 4);
}

static void setup(void)
{
	pl031_init(&rtc);
	rtc.now = fake_clock;
	fake_now = 1764000000;
}

static void teardown(void)
{
	pl031_destroy(&rtc);
}

TestSuite(pl031, .init = setup, .fini = teardown);

Test(pl031, counts_host_seconds_and_follows_a_load)
{
	cr_assert_eq(rd(0x000), 1764000000u);
	fake_now += 5;
	cr_assert_eq(rd(0x000), 1764000005u);
	wr(0x008, 1000); /* the guest sets the time */
	cr_assert_eq(rd(0x000), 1000u);
	fake_now += 7;
	cr_assert_eq(rd(0x000), 1007u, "it keeps counting from the loaded value");
}

Test(pl031, primecell_ids_for_the_amba_probe)
{
	uint32_t periph = 0, cell = 0;
	for (unsigned int i = 0; i < 4; i++) {
		periph |= rd(0xfe0 + 4 * i) << (8 * i);
		cell |= rd(0xff0 + 4 * i) << (8 * i);
	}
	cr_assert_eq(periph, 0x00041031u);
	cr_assert_eq(cell, 0xb105f00du);
}

Test(pl031, control_cannot_stop_it_and_odd_accesses_are_harmless)
{
	cr_assert_eq(rd(0x00c), 1);
	wr(0x00c, 0);
	cr_assert_eq(rd(0x00c), 1);
	wr(0x004, 42);
	cr_assert_eq(rd(0x004), 42u);
	cr_assert_eq(rd(0x014), 0, "no match interrupt pends");
	uint8_t d[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	pl031_bus_ops.read(&rtc, 0x001, d, 4);
	cr_assert_eq(bus_data_get(d, 4), 0, "misaligned reads 0");
	pl031_bus_ops.read(&rtc, 0x000, d, 2);
	cr_assert_eq(bus_data_get(d, 2), 0, "narrow reads 0");
	pl031_bus_ops.write(&rtc, 0x008, d, 2);
	cr_assert_eq(rd(0x000), 1764000000u, "a narrow load is dropped");
	pl031_bus_ops.read(&rtc, 0xffffffffffffull, d, 4);
	cr_assert_eq(bus_data_get(d, 4), 0);
}
