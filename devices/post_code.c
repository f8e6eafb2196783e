#include "devices/post_code.h"

#include <string.h>

#include "vmm/log.h"

static void post_code_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct post_code *pc = opaque;
	(void)offset;
	memset(data, 0, len);
	data[0] = pc->last;
}

static void post_code_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct post_code *pc = opaque;
	(void)offset;
	(void)len;
	pc->last = data[0];
	pc->writes++;
	/* log_msg stamps the time since start; that stamp is the point of this device. */
	log_debug("post code 0x%02x", data[0]);
}

const struct bus_ops post_code_bus_ops = { .read = post_code_read, .write = post_code_write };
