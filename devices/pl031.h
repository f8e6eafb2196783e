/* ARM PrimeCell PL031 real-time clock (ARM DDI 0224): the seconds counter Linux's rtc-pl031
 * reads the wall-clock time from on arm64 machines, and the PrimeCell ID registers the AMBA
 * bus probes. The counter is the host's realtime clock plus an offset the guest sets by
 * writing the load register. The match (alarm) interrupt is not modelled: the match register
 * holds its value and never fires. */
#ifndef N90_PL031_H
#define N90_PL031_H

#include <pthread.h>
#include <stdint.h>

#include "vmm/bus.h"

#define PL031_MMIO_SIZE 0x1000

struct pl031 {
	pthread_mutex_t lock;
	int64_t offset; /* guest seconds - host seconds */
	uint32_t match, control, imsc;
	/* Host seconds since the epoch; tests replace it. */
	int64_t (*now)(void);
};

void pl031_init(struct pl031 *rtc);
void pl031_destroy(struct pl031 *rtc);
extern const struct bus_ops pl031_bus_ops;

#endif
