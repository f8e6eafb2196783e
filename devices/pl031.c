#include "devices/pl031.h"

#include <string.h>
#include <time.h>

/* Register offsets (PL031 TRM §3.2). */
#define RTCDR 0x000   /* data: the current count */
#define RTCMR 0x004   /* match */
#define RTCLR 0x008   /* load: sets the count */
#define RTCCR 0x00c   /* control: bit 0 starts the counter (it cannot be stopped) */
#define RTCIMSC 0x010 /* interrupt mask */
#define RTCRIS 0x014  /* raw interrupt status */
#define RTCMIS 0x018  /* masked interrupt status */
#define RTCICR 0x01c  /* interrupt clear */
#define PERIPH_ID 0xfe0
#define PCELL_ID 0xff0

/* PeriphID 0x00041031 (part 0x031, designer ARM 0x41, revision 0) and the PrimeCell ID
 * 0xb105f00d, one byte per register, as the AMBA bus reads them. */
static const uint8_t id_bytes[8] = { 0x31, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

static int64_t host_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

void pl031_init(struct pl031 *rtc)
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->now = host_seconds;
	rtc->control = 1; /* running from reset, as QEMU's and crosvm's are */
}

void pl031_destroy(struct pl031 *rtc)
{
	pthread_mutex_destroy(&rtc->lock);
}

static uint32_t read_reg(struct pl031 *rtc, uint64_t offset)
{
	if (offset >= PERIPH_ID && offset < PCELL_ID + 16)
		return id_bytes[(offset - PERIPH_ID) / 4];
	switch (offset) {
	case RTCDR:
		return (uint32_t)(rtc->now() + rtc->offset);
	case RTCMR:
		return rtc->match;
	case RTCLR:
		return (uint32_t)(rtc->now() + rtc->offset);
	case RTCCR:
		return rtc->control;
	case RTCIMSC:
		return rtc->imsc;
	default:
		return 0; /* RIS/MIS: no match interrupt ever pends; reserved registers read 0 */
	}
}

static void write_reg(struct pl031 *rtc, uint64_t offset, uint32_t v)
{
	switch (offset) {
	case RTCMR:
		rtc->match = v;
		break;
	case RTCLR:
		rtc->offset = (int64_t)v - rtc->now();
		break;
	case RTCCR:
		rtc->control |= v & 1; /* writing 0 does not stop it (TRM: "cannot be disabled") */
		break;
	case RTCIMSC:
		rtc->imsc = v & 1;
		break;
	}
}

/* The registers are 32 bits wide and word aligned; other accesses read 0 and are dropped. */
static void pl031_bus_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct pl031 *rtc = opaque;
	uint32_t v = 0;
	if (len == 4 && offset % 4 == 0) {
		pthread_mutex_lock(&rtc->lock);
		v = read_reg(rtc, offset);
		pthread_mutex_unlock(&rtc->lock);
	}
	bus_data_put(data, len, v);
}

static void pl031_bus_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct pl031 *rtc = opaque;
	if (len != 4 || offset % 4)
		return;
	pthread_mutex_lock(&rtc->lock);
	write_reg(rtc, offset, (uint32_t)bus_data_get(data, 4));
	pthread_mutex_unlock(&rtc->lock);
}

const struct bus_ops pl031_bus_ops = { .read = pl031_bus_read, .write = pl031_bus_write };
