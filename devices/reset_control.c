#include "devices/reset_control.h"

#include <string.h>

#include "vmm/log.h"

#define RST_CPU 0x04

static void reset_control_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct reset_control *rc = opaque;
	(void)offset;
	memset(data, 0, len);
	data[0] = rc->value;
}

static void reset_control_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct reset_control *rc = opaque;
	(void)offset;
	(void)len;
	rc->value = data[0] & (uint8_t)~RST_CPU;
	if (data[0] & RST_CPU) {
		log_info("guest reset through port 0xcf9 (value 0x%02x)", data[0]);
		vm_stopper_request(&rc->stop, VM_STOP_RESET);
	}
}

const struct bus_ops reset_control_bus_ops = { .read = reset_control_read, .write = reset_control_write };
