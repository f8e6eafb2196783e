/* MC146818 CMOS real-time clock at ports 0x70/0x71: wall time (UTC) from the host clock in
 * BCD or binary, 12/24 h, the update-in-progress flag guests spin on, and the CMOS memory
 * size bytes firmware-less guests read. No RTC interrupts (alarm, periodic, update). */
#ifndef N90_RTC_H
#define N90_RTC_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "vmm/bus.h"

struct cmos_rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t ram[128];
	int64_t offset_sec; /* guest time minus host time, from guest writes */
	/* Injected clock for tests; NULL means clock_gettime(CLOCK_REALTIME). */
	void (*now)(struct timespec *ts);
};

/* low_mem: RAM below 4 GiB in bytes; high_mem: RAM above 4 GiB. */
void rtc_init(struct cmos_rtc *rtc, uint64_t low_mem, uint64_t high_mem);
extern const struct bus_ops rtc_bus_ops; /* register at 0x70, length 2 */

uint8_t rtc_read(struct cmos_rtc *rtc, uint8_t reg);
void rtc_write(struct cmos_rtc *rtc, uint8_t reg, uint8_t value);

#endif
