#include "devices/rtc.h"

#include <string.h>

#define REG_SECONDS 0x00
#define REG_MINUTES 0x02
#define REG_HOURS 0x04
#define REG_WEEKDAY 0x06
#define REG_DAY 0x07
#define REG_MONTH 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define REG_CENTURY 0x32

#define A_UIP 0x80
#define A_DEFAULT 0x26 /* 32.768 kHz time base, 1.024 kHz rate */
#define B_SET 0x80
#define B_BINARY 0x04
#define B_24H 0x02
#define D_VRT 0x80 /* RAM and time valid */

/* The chip sets UIP 244 us before it updates the time registers (MC146818 datasheet). */
#define UIP_WINDOW_NS 244000

static void host_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static uint8_t to_reg(const struct cmos_rtc *rtc, int v)
{
	return (rtc->ram[REG_B] & B_BINARY) ? (uint8_t)v : (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int from_reg(const struct cmos_rtc *rtc, uint8_t v)
{
	return (rtc->ram[REG_B] & B_BINARY) ? v : (v >> 4) * 10 + (v & 0x0f);
}

static void put16(uint8_t *ram, uint8_t reg, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	ram[reg] = (uint8_t)v;
	ram[reg + 1] = (uint8_t)(v >> 8);
}

void rtc_init(struct cmos_rtc *rtc, uint64_t low_mem, uint64_t high_mem)
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->now = host_now;
	rtc->ram[REG_A] = A_DEFAULT;
	rtc->ram[REG_B] = B_24H;
	rtc->ram[REG_D] = D_VRT;
	/* Memory size bytes as PC BIOSes leave them (KiB below 640K and from 1 MiB; 64 KiB units
	 * above 16 MiB and above 4 GiB). */
	put16(rtc->ram, 0x15, 640);
	uint64_t ext_kib = low_mem > (1 << 20) ? (low_mem - (1 << 20)) >> 10 : 0;
	put16(rtc->ram, 0x17, ext_kib);
	put16(rtc->ram, 0x30, ext_kib);
	put16(rtc->ram, 0x34, low_mem > (16 << 20) ? (low_mem - (16 << 20)) >> 16 : 0);
	rtc->ram[0x5b] = (uint8_t)(high_mem >> 16);
	rtc->ram[0x5c] = (uint8_t)(high_mem >> 24);
	rtc->ram[0x5d] = (uint8_t)(high_mem >> 32);
}

static void guest_time(struct cmos_rtc *rtc, struct tm *tm, long *nsec)
{
	struct timespec ts;
	rtc->now(&ts);
	time_t t = ts.tv_sec + rtc->offset_sec;
	gmtime_r(&t, tm);
	*nsec = ts.tv_nsec;
}

static uint8_t read_time_reg(struct cmos_rtc *rtc, uint8_t reg)
{
	struct tm tm;
	long nsec;
	guest_time(rtc, &tm, &nsec);
	switch (reg) {
	case REG_SECONDS:
		return to_reg(rtc, tm.tm_sec);
	case REG_MINUTES:
		return to_reg(rtc, tm.tm_min);
	case REG_HOURS:
		if (rtc->ram[REG_B] & B_24H)
			return to_reg(rtc, tm.tm_hour);
		/* 12-hour mode: 12, 1..11 with bit 7 for PM. */
		return (uint8_t)(to_reg(rtc, tm.tm_hour % 12 ? tm.tm_hour % 12 : 12) | (tm.tm_hour >= 12 ? 0x80 : 0));
	case REG_WEEKDAY:
		return to_reg(rtc, tm.tm_wday + 1);
	case REG_DAY:
		return to_reg(rtc, tm.tm_mday);
	case REG_MONTH:
		return to_reg(rtc, tm.tm_mon + 1);
	case REG_YEAR:
		return to_reg(rtc, tm.tm_year % 100);
	case REG_CENTURY:
		return to_reg(rtc, (tm.tm_year + 1900) / 100);
	case REG_A:
		return (uint8_t)((rtc->ram[REG_A] & 0x7f) | (nsec >= 1000000000L - UIP_WINDOW_NS ? A_UIP : 0));
	}
	return 0;
}

static int is_time_reg(uint8_t reg)
{
	return reg == REG_SECONDS || reg == REG_MINUTES || reg == REG_HOURS || reg == REG_WEEKDAY ||
	       reg == REG_DAY || reg == REG_MONTH || reg == REG_YEAR || reg == REG_CENTURY;
}

/* The guest set the clock: keep the difference to host time from now on. */
static void commit_guest_time(struct cmos_rtc *rtc)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	uint8_t h = rtc->ram[REG_HOURS];
	tm.tm_sec = from_reg(rtc, rtc->ram[REG_SECONDS]);
	tm.tm_min = from_reg(rtc, rtc->ram[REG_MINUTES]);
	if (rtc->ram[REG_B] & B_24H)
		tm.tm_hour = from_reg(rtc, h);
	else
		tm.tm_hour = from_reg(rtc, h & 0x7f) % 12 + ((h & 0x80) ? 12 : 0);
	tm.tm_mday = from_reg(rtc, rtc->ram[REG_DAY]);
	tm.tm_mon = from_reg(rtc, rtc->ram[REG_MONTH]) - 1;
	tm.tm_year = from_reg(rtc, rtc->ram[REG_CENTURY]) * 100 + from_reg(rtc, rtc->ram[REG_YEAR]) - 1900;
	time_t guest = timegm(&tm);
	struct timespec ts;
	rtc->now(&ts);
	if (guest != (time_t)-1)
		rtc->offset_sec = (int64_t)guest - ts.tv_sec;
}

/* Time registers written while SET is clear take effect at once; while SET is held they
 * take effect when SET is released (how guests set the clock atomically). */
static void load_current_time(struct cmos_rtc *rtc)
{
	static const uint8_t regs[] = { REG_SECONDS, REG_MINUTES, REG_HOURS, REG_WEEKDAY,
					REG_DAY,     REG_MONTH,   REG_YEAR,  REG_CENTURY };
	for (unsigned int i = 0; i < sizeof(regs); i++)
		rtc->ram[regs[i]] = read_time_reg(rtc, regs[i]);
}

uint8_t rtc_read(struct cmos_rtc *rtc, uint8_t reg)
{
	reg &= 0x7f;
	pthread_mutex_lock(&rtc->lock);
	uint8_t v;
	if ((is_time_reg(reg) && !(rtc->ram[REG_B] & B_SET)) || reg == REG_A)
		v = read_time_reg(rtc, reg);
	else if (reg == REG_C)
		v = 0; /* no interrupt flags are ever raised; reading clears them anyway */
	else
		v = rtc->ram[reg];
	pthread_mutex_unlock(&rtc->lock);
	return v;
}

void rtc_write(struct cmos_rtc *rtc, uint8_t reg, uint8_t value)
{
	reg &= 0x7f;
	pthread_mutex_lock(&rtc->lock);
	switch (reg) {
	case REG_A:
		rtc->ram[REG_A] = value & 0x7f; /* UIP is read-only */
		break;
	case REG_B:
		if ((value & B_SET) && !(rtc->ram[REG_B] & B_SET))
			load_current_time(rtc);
		if (!(value & B_SET) && (rtc->ram[REG_B] & B_SET)) {
			rtc->ram[REG_B] = value;
			commit_guest_time(rtc);
		}
		rtc->ram[REG_B] = value;
		break;
	case REG_C:
	case REG_D:
		break; /* read-only */
	default:
		if (is_time_reg(reg) && !(rtc->ram[REG_B] & B_SET)) {
			load_current_time(rtc);
			rtc->ram[reg] = value;
			commit_guest_time(rtc);
		} else {
			rtc->ram[reg] = value;
		}
	}
	pthread_mutex_unlock(&rtc->lock);
}

static void rtc_bus_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct cmos_rtc *rtc = opaque;
	memset(data, 0xff, len);
	if (offset == 1)
		data[0] = rtc_read(rtc, rtc->index);
	else
		data[0] = rtc->index;
}

static void rtc_bus_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct cmos_rtc *rtc = opaque;
	(void)len;
	if (offset == 0)
		rtc->index = data[0] & 0x7f; /* bit 7 masks NMI on a PC; nothing to mask here */
	else
		rtc_write(rtc, rtc->index, data[0]);
}

const struct bus_ops rtc_bus_ops = { .read = rtc_bus_read, .write = rtc_bus_write };
