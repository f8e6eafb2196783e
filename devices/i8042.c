#include "devices/i8042.h"

#include <string.h>

#include "vmm/log.h"

#define CMD_PULSE_RESET 0xfe
#define STATUS_SYSTEM_FLAG 0x04 /* self-test passed */

void i8042_init(struct i8042 *kbc, struct vm_stopper stop)
{
	kbc->stop = stop;
}

static void i8042_data_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	(void)opaque;
	(void)offset;
	memset(data, 0, len);
}

static void i8042_status_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	(void)opaque;
	(void)offset;
	/* Output and input buffers empty: a guest waiting to send a command goes ahead. */
	memset(data, 0, len);
	data[0] = STATUS_SYSTEM_FLAG;
}

static void i8042_data_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	(void)opaque;
	(void)offset;
	(void)data;
	(void)len;
}

static void i8042_command_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct i8042 *kbc = opaque;
	(void)offset;
	(void)len;
	if (data[0] == CMD_PULSE_RESET) {
		log_info("guest reset through the i8042 (0xfe to port 0x64)");
		vm_stopper_request(&kbc->stop, VM_STOP_RESET);
	}
}

/* Port 0x61 between them is the PIT speaker port, which KVM's in-kernel PIT owns. */
const struct bus_ops i8042_data_ops = { .read = i8042_data_read, .write = i8042_data_write };
const struct bus_ops i8042_command_ops = { .read = i8042_status_read, .write = i8042_command_write };
