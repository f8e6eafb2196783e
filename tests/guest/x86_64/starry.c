/*
 * StarryOS's view of its x86-pc machine (PLATFORMS.md §1), checked the way that platform's
 * code looks at it, when the command line has `starry=1`:
 *   ecam        every bus of the ECAM StarryOS hard-codes at 0xB000_0000 scanned (function
 *               0 of each slot, the others when the header is multi-function); absent
 *               functions read all ones, a host bridge sits at 00:00.0
 *   bar-window  every memory BAR of every present function already lies inside the only
 *               device window StarryOS maps, 0xFE00_0000..0xFEBF_FFFF: it has no BAR
 *               allocator, so nothing here writes a BAR
 *   rtc         the CMOS clock read as StarryOS's driver does (wait for UIP to clear, BCD,
 *               24-hour, century at 0x32) is a plausible date of this decade
 *   leaf16      CPUID leaf 0x16 (base MHz, the TSC rate StarryOS uses) is present and
 *               non-zero; required only with expect_leaf16=1 (an AMD host's QEMU has none)
 * and the guest then powers off StarryOS's way, a 16-bit write of 0x2000 to port 0x604.
 * The SMP bring-up (INIT-SIPI-SIPI, trampoline at 0x6000) and the polled modern virtio-blk
 * are the general checks (guest.c check_cpus, virtio=blk-pci-poll).
 */
#include "guest.h"

#define STARRY_ECAM ((u64)0xb0000000)
#define STARRY_DEVICE_WINDOW ((u64)0xfe000000)
#define STARRY_DEVICE_WINDOW_END ((u64)0xfec00000)

static u64 function_cfg(u32 bus, u32 dev, u32 fn)
{
	return STARRY_ECAM + ((u64)bus << 20 | (u64)dev << 15 | (u64)fn << 12);
}

/* Calls `fn` for every present function; returns how many there were. */
static u32 for_each_function(const char *(*fn)(u64 cfg, u32 bus, u32 dev, u32 f), const char **fail)
{
	u32 n = 0;
	for (u32 bus = 0; bus < 256; bus++) {
		for (u32 dev = 0; dev < 32; dev++) {
			u32 nfn = 1;
			for (u32 f = 0; f < nfn; f++) {
				u64 cfg = function_cfg(bus, dev, f);
				if (rd16(cfg) == 0xffff)
					continue;
				if (f == 0 && (rd8(cfg + 0x0e) & 0x80))
					nfn = 8; /* multi-function device */
				n++;
				const char *why = fn ? fn(cfg, bus, dev, f) : 0;
				if (why && !*fail)
					*fail = why;
			}
		}
	}
	return n;
}

static const char *check_ecam(void)
{
	const char *fail = 0;
	u32 n = for_each_function(0, &fail);
	dprintf("starry: %u PCI functions\n", n);
	u64 host = function_cfg(0, 0, 0);
	if (rd16(host) == 0xffff)
		return "no host bridge at 00:00.0";
	if (rd8(host + 0x0b) != 0x06 || rd8(host + 0x0a) != 0x00)
		return failf("00:00.0 has class %x.%x, not a host bridge", rd8(host + 0x0b), rd8(host + 0x0a));
	/* The last slot of the last bus is absent on both machines this runs on. */
	u64 absent = function_cfg(255, 31, 7);
	if (rd16(absent) != 0xffff || rd32(absent) != 0xffffffffu || rd8(absent + 0x0e) != 0xff)
		return "an absent function does not read all ones";
	return 0;
}

static const char *bar_in_window(u64 cfg, u32 bus, u32 dev, u32 f)
{
	if ((rd8(cfg + 0x0e) & 0x7f) != 0)
		return 0; /* bridges: their windows are not BARs StarryOS maps */
	for (u32 b = 0; b < 6; b++) {
		u32 lo = rd32(cfg + 0x10 + 4 * b);
		if (lo & 1)
			continue; /* I/O space */
		int is64 = ((lo >> 1) & 3) == 2;
		u64 addr = lo & ~0xfull;
		if (is64 && b < 5)
			addr |= (u64)rd32(cfg + 0x14 + 4 * b) << 32;
		if (addr && (addr < STARRY_DEVICE_WINDOW || addr >= STARRY_DEVICE_WINDOW_END))
			return failf("%x:%x.%x BAR %u at %lx is outside %lx..%lx", bus, dev, f, b, addr,
				     STARRY_DEVICE_WINDOW, STARRY_DEVICE_WINDOW_END - 1);
		if (is64)
			b++;
	}
	return 0;
}

static const char *check_bar_window(void)
{
	const char *fail = 0;
	for_each_function(bar_in_window, &fail);
	return fail;
}

static u8 cmos(u8 reg)
{
	outb(0x70, (u8)(0x80 | reg)); /* bit 7: NMI stays disabled, as StarryOS does */
	return inb(0x71);
}

static int bcd_ok(u8 v, u32 max)
{
	return (v & 0x0f) <= 9 && (v >> 4) <= 9 && (u32)((v >> 4) * 10 + (v & 0x0f)) <= max;
}

static u32 from_bcd(u8 v)
{
	return (u32)((v >> 4) * 10 + (v & 0x0f));
}

static const char *check_rtc(void)
{
	u8 regs[7], again[7];
	static const u8 addr[7] = { 0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32 };
	/* Read twice with UIP clear before each, until both reads agree (the usual driver loop;
	 * an update can land between the two). */
	for (int attempt = 0; attempt < 10; attempt++) {
		for (u32 spin = 0; cmos(0x0a) & 0x80; spin++)
			if (spin > 50000000)
				return "UIP never clears";
		for (int i = 0; i < 7; i++)
			regs[i] = cmos(addr[i]);
		for (u32 spin = 0; cmos(0x0a) & 0x80; spin++)
			if (spin > 50000000)
				return "UIP never clears";
		for (int i = 0; i < 7; i++)
			again[i] = cmos(addr[i]);
		int same = 1;
		for (int i = 0; i < 7; i++)
			same &= regs[i] == again[i];
		if (!same)
			continue;
		u8 b = cmos(0x0b);
		if (b & 0x04)
			return "status B says binary, StarryOS reads BCD";
		if (!(b & 0x02))
			return "status B says 12-hour, StarryOS reads 24-hour";
		if (!bcd_ok(regs[0], 59) || !bcd_ok(regs[1], 59) || !bcd_ok(regs[2], 23) || !bcd_ok(regs[3], 31) ||
		    !bcd_ok(regs[4], 12) || !bcd_ok(regs[5], 99) || !bcd_ok(regs[6], 99))
			return failf("not BCD: %x %x %x %x %x %x %x", regs[0], regs[1], regs[2], regs[3], regs[4], regs[5],
				     regs[6]);
		u32 year = from_bcd(regs[6]) * 100 + from_bcd(regs[5]);
		dprintf("starry: rtc %u-%u-%u %u:%u:%u\n", year, from_bcd(regs[4]), from_bcd(regs[3]), from_bcd(regs[2]),
			from_bcd(regs[1]), from_bcd(regs[0]));
		if (year < 2024 || year > 2099 || from_bcd(regs[4]) < 1 || from_bcd(regs[3]) < 1)
			return failf("implausible date %u-%u-%u", year, from_bcd(regs[4]), from_bcd(regs[3]));
		return 0;
	}
	return "the clock never read the same twice";
}

static const char *check_leaf16(void)
{
	u32 r[4];
	cpuid(0, r);
	u32 max = r[0];
	u32 mhz = 0;
	if (max >= 0x16) {
		cpuid(0x16, r);
		mhz = r[0] & 0xffff;
	}
	dprintf("starry: max leaf %x, leaf 0x16 base %u MHz\n", max, mhz);
	if (mhz)
		return 0;
	return cmdline_has("expect_leaf16=1") ? "CPUID leaf 0x16 has no base frequency" : 0;
}

int starry_mode(void)
{
	return cmdline_has("starry=1");
}

void starry_main(void)
{
	if (!starry_mode())
		return;
	report("ecam", check_ecam());
	report("bar-window", check_bar_window());
	report("rtc", check_rtc());
	report("leaf16", check_leaf16());
}
