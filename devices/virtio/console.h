/* virtio-console (virtio 1.2 §5.3) with one port, hvc0 in Linux: transmitted buffers go to
 * the console sink, host input fills the guest's receive buffers. No multiport, no
 * emergency write. */
#ifndef N90_VIRTIO_CONSOLE_H
#define N90_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtio.h"

#define VIRTIO_CONSOLE_RX 0
#define VIRTIO_CONSOLE_TX 1
#define VIRTIO_CONSOLE_QUEUE_SIZE 128
#define VIRTIO_CONSOLE_CONFIG_LEN 12

struct virtio_console_sink {
	void (*write)(void *opaque, const uint8_t *buf, size_t len);
	/* Receive buffers became available after input was refused for lack of them. */
	void (*rx_ready)(void *opaque);
	void *opaque;
};

struct virtio_console {
	struct virtio_dev dev;
	struct virtio_console_sink sink;
	bool rx_starved; /* input was refused: call rx_ready when buffers arrive */
	uint8_t config[VIRTIO_CONSOLE_CONFIG_LEN];
	struct virtq_chain chain;
};

void virtio_console_init(struct virtio_console *con, const struct guest_mem *mem, struct virtio_console_sink sink);
/* Copies host input into the guest's receive buffers; returns bytes accepted (0 when the
 * driver has posted none, or is not running). */
size_t virtio_console_receive(struct virtio_console *con, const uint8_t *buf, size_t len);

#endif
