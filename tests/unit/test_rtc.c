/* The MC146818 CMOS clock with an injected clock: data formats, UIP, the guest setting the
 * time, and the memory-size bytes. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "devices/rtc.h"

enum { SEC = 0x00, MIN = 0x02, HOUR = 0x04, WDAY = 0x06, MDAY = 0x07, MON = 0x08, YEAR = 0x09,
       REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d, CENTURY = 0x32 };
enum { B_SET = 0x80, B_BIN = 0x04, B_24H = 0x02 };

static struct timespec fake_now;

static void fake_clock(struct timespec *ts)
{
	*ts = fake_now;
}

/* Sets the fake clock to a UTC calendar time. */
static void set_now(int year, int mon, int mday, int hour, int min, int sec, long nsec)
{
	struct tm tm = { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = mday,
			 .tm_hour = hour, .tm_min = min, .tm_sec = sec };
	fake_now.tv_sec = timegm(&tm);
	fake_now.tv_nsec = nsec;
}

static struct cmos_rtc rtc;

static void setup(void)
{
	rtc_init(&rtc, 256ull << 20, 0);
	rtc.now = fake_clock;
	set_now(2024, 2, 29, 13, 45, 7, 500000000L); /* a Thursday */
}

TestSuite(rtc, .init = setup);

static uint8_t rd(uint8_t reg)
{
	return rtc_read(&rtc, reg);
}

static void wr(uint8_t reg, uint8_t v)
{
	rtc_write(&rtc, reg, v);
}

Test(rtc, bcd_24h_by_default)
{
	cr_assert_eq(rd(REG_B), B_24H);
	cr_assert_eq(rd(SEC), 0x07);
	cr_assert_eq(rd(MIN), 0x45);
	cr_assert_eq(rd(HOUR), 0x13);
	cr_assert_eq(rd(WDAY), 0x05, "Thursday is day 5 (Sunday = 1)");
	cr_assert_eq(rd(MDAY), 0x29);
	cr_assert_eq(rd(MON), 0x02);
	cr_assert_eq(rd(YEAR), 0x24);
	cr_assert_eq(rd(CENTURY), 0x20);
}

Test(rtc, binary_mode)
{
	wr(REG_B, B_24H | B_BIN);
	cr_assert_eq(rd(SEC), 7);
	cr_assert_eq(rd(MIN), 45);
	cr_assert_eq(rd(HOUR), 13);
	cr_assert_eq(rd(MDAY), 29);
	cr_assert_eq(rd(MON), 2);
	cr_assert_eq(rd(YEAR), 24);
	cr_assert_eq(rd(CENTURY), 20);
}

Test(rtc, twelve_hour_mode)
{
	wr(REG_B, 0); /* BCD, 12 h */
	cr_assert_eq(rd(HOUR), 0x81, "13:45 is 1 PM");
	set_now(2024, 2, 29, 0, 30, 0, 0);
	cr_assert_eq(rd(HOUR), 0x12, "00:30 is 12 AM");
	set_now(2024, 2, 29, 12, 0, 0, 0);
	cr_assert_eq(rd(HOUR), 0x92, "noon is 12 PM");
	set_now(2024, 2, 29, 11, 59, 59, 0);
	cr_assert_eq(rd(HOUR), 0x11);
	set_now(2024, 2, 29, 23, 0, 0, 0);
	cr_assert_eq(rd(HOUR), 0x91);
	wr(REG_B, B_BIN); /* binary, 12 h */
	cr_assert_eq(rd(HOUR), 0x80 | 11);
	set_now(2024, 2, 29, 12, 0, 0, 0);
	cr_assert_eq(rd(HOUR), 0x80 | 12);
}

Test(rtc, century_register_across_2000)
{
	set_now(1999, 12, 31, 23, 59, 59, 0);
	cr_assert_eq(rd(CENTURY), 0x19);
	cr_assert_eq(rd(YEAR), 0x99);
	fake_now.tv_sec += 1;
	cr_assert_eq(rd(CENTURY), 0x20);
	cr_assert_eq(rd(YEAR), 0x00);
	cr_assert_eq(rd(MON), 0x01);
	cr_assert_eq(rd(MDAY), 0x01);
	cr_assert_eq(rd(WDAY), 0x07, "1 January 2000 was a Saturday");
}

Test(rtc, uip_only_in_the_last_244_us)
{
	fake_now.tv_nsec = 0;
	cr_assert_eq(rd(REG_A) & 0x80, 0);
	fake_now.tv_nsec = 500000000L;
	cr_assert_eq(rd(REG_A) & 0x80, 0);
	fake_now.tv_nsec = 1000000000L - 244000L - 1;
	cr_assert_eq(rd(REG_A) & 0x80, 0, "just before the window");
	fake_now.tv_nsec = 1000000000L - 244000L;
	cr_assert_eq(rd(REG_A) & 0x80, 0x80, "window start");
	fake_now.tv_nsec = 999999999L;
	cr_assert_eq(rd(REG_A) & 0x80, 0x80);
	cr_assert_eq(rd(REG_A) & 0x7f, 0x26, "divider and rate bits as a BIOS leaves them");
}

Test(rtc, register_a_uip_is_read_only)
{
	wr(REG_A, 0xa5);
	fake_now.tv_nsec = 0;
	cr_assert_eq(rd(REG_A), 0x25);
}

Test(rtc, clock_advances_with_host_time)
{
	fake_now.tv_sec += 3600 + 60 + 1;
	cr_assert_eq(rd(HOUR), 0x14);
	cr_assert_eq(rd(MIN), 0x46);
	cr_assert_eq(rd(SEC), 0x08);
}

Test(rtc, guest_sets_the_time_with_set_held)
{
	wr(REG_B, B_SET | B_24H);
	/* While SET is held the registers hold still and take the guest's writes. */
	fake_now.tv_sec += 10;
	cr_assert_eq(rd(SEC), 0x07, "frozen at the moment SET was raised");
	wr(SEC, 0x30);
	wr(MIN, 0x15);
	wr(HOUR, 0x08);
	wr(MDAY, 0x04);
	wr(MON, 0x07);
	wr(YEAR, 0x76);
	wr(CENTURY, 0x19);
	cr_assert_eq(rd(YEAR), 0x76);
	cr_assert_eq(rd(HOUR), 0x08);
	wr(REG_B, B_24H);
	cr_assert_eq(rd(REG_B), B_24H);
	cr_assert_eq(rd(SEC), 0x30);
	cr_assert_eq(rd(MIN), 0x15);
	cr_assert_eq(rd(HOUR), 0x08);
	cr_assert_eq(rd(MDAY), 0x04);
	cr_assert_eq(rd(MON), 0x07);
	cr_assert_eq(rd(YEAR), 0x76);
	cr_assert_eq(rd(CENTURY), 0x19);
	cr_assert_eq(rd(WDAY), 0x01, "4 July 1976 was a Sunday: the weekday follows the date");
	/* From now on the guest's clock runs with the host's, offset kept. */
	fake_now.tv_sec += 45;
	cr_assert_eq(rd(SEC), 0x15);
	cr_assert_eq(rd(MIN), 0x16);
}

/* Sets hour:00:00 in binary 12-hour mode with SET held, then reads the result in 24-hour mode
 * (switching modes only after SET is released, as the time registers are read in the mode
 * in force when SET drops). */
static int set_12h_read_24h(uint8_t hour12)
{
	wr(REG_B, B_SET | B_BIN);
	wr(HOUR, hour12);
	wr(MIN, 0);
	wr(SEC, 0);
	wr(REG_B, B_BIN);
	wr(REG_B, B_BIN | B_24H);
	return rd(HOUR);
}

Test(rtc, guest_time_in_binary_12h_mode)
{
	cr_assert_eq(set_12h_read_24h(0x80 | 12), 12, "12 PM is noon");
	cr_assert_eq(set_12h_read_24h(12), 0, "12 AM is midnight");
	cr_assert_eq(set_12h_read_24h(0x80 | 7), 19);
	cr_assert_eq(set_12h_read_24h(7), 7);
	cr_assert_eq(rd(MIN), 0);
}

Test(rtc, single_register_write_without_set)
{
	wr(MIN, 0x00);
	cr_assert_eq(rd(MIN), 0x00);
	cr_assert_eq(rd(HOUR), 0x13, "other fields unchanged");
	cr_assert_eq(rd(SEC), 0x07);
	cr_assert_eq(rd(YEAR), 0x24);
	wr(YEAR, 0x25);
	cr_assert_eq(rd(YEAR), 0x25);
	cr_assert_eq(rd(MDAY), 0x01, "29 February 2025 does not exist: normalised to 1 March");
	cr_assert_eq(rd(MON), 0x03);
}

Test(rtc, status_registers)
{
	cr_assert_eq(rd(REG_C), 0, "no interrupt flags");
	cr_assert_eq(rd(REG_D), 0x80, "VRT: battery good");
	wr(REG_C, 0xff);
	wr(REG_D, 0x00);
	cr_assert_eq(rd(REG_C), 0);
	cr_assert_eq(rd(REG_D), 0x80);
}

Test(rtc, general_cmos_bytes_are_plain_memory)
{
	for (uint8_t reg = 0x40; reg < 0x50; reg++)
		wr(reg, (uint8_t)(reg ^ 0xa5));
	for (uint8_t reg = 0x40; reg < 0x50; reg++)
		cr_assert_eq(rd(reg), reg ^ 0xa5);
	wr(0x7f, 0x11);
	cr_assert_eq(rd(0xff), 0x11, "index bit 7 is the NMI mask, not an address bit");
}

Test(rtc, memory_size_bytes_256m)
{
	cr_assert_eq(rd(0x15) | rd(0x16) << 8, 640, "base memory KiB");
	cr_assert_eq(rd(0x17) | rd(0x18) << 8, 0xffff, "extended KiB, saturated at 64 MiB");
	cr_assert_eq(rd(0x30) | rd(0x31) << 8, 0xffff);
	cr_assert_eq(rd(0x34) | rd(0x35) << 8, (256 - 16) * 16, "64 KiB blocks above 16 MiB");
	cr_assert_eq(rd(0x5b), 0);
	cr_assert_eq(rd(0x5c), 0);
	cr_assert_eq(rd(0x5d), 0);
}

Test(rtc, memory_size_bytes_small_and_high)
{
	struct cmos_rtc r;
	rtc_init(&r, 8ull << 20, 0);
	cr_assert_eq(rtc_read(&r, 0x17) | rtc_read(&r, 0x18) << 8, 7 * 1024);
	cr_assert_eq(rtc_read(&r, 0x34) | rtc_read(&r, 0x35) << 8, 0, "nothing above 16 MiB");
	rtc_init(&r, 0xd0000000ull, 0x123450000ull);
	cr_assert_eq(rtc_read(&r, 0x34) | rtc_read(&r, 0x35) << 8, (0xd0000000 - (16 << 20)) >> 16);
	cr_assert_eq(rtc_read(&r, 0x5b), 0x45, "RAM above 4 GiB in 64 KiB units, 3 bytes");
	cr_assert_eq(rtc_read(&r, 0x5c), 0x23);
	cr_assert_eq(rtc_read(&r, 0x5d), 0x01);
}

Test(rtc, port_interface)
{
	struct bus bus;
	bus_init(&bus, "pio");
	bus.decode_by_start = true;
	cr_assert_eq(bus_register(&bus, 0x70, 2, &rtc_bus_ops, &rtc, "cmos"), 0);
	uint8_t v = 0x80 | CENTURY; /* NMI-disable bit set, as Linux does */
	bus_write(&bus, 0x70, &v, 1);
	uint8_t out = 0;
	bus_read(&bus, 0x71, &out, 1);
	cr_assert_eq(out, 0x20);
	v = 0x40;
	bus_write(&bus, 0x70, &v, 1);
	v = 0x5c;
	bus_write(&bus, 0x71, &v, 1);
	cr_assert_eq(rd(0x40), 0x5c);
	bus_free(&bus);
}
