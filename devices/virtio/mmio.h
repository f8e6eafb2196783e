/* virtio-mmio transport, version 2 (virtio 1.2 §4.2): a 4 KiB register window per device,
 * queue notifies on an ioeventfd (datamatch = queue index) so they never exit to user space,
 * and an edge-triggered interrupt through an irqfd. Linux finds the device through
 * `virtio_mmio.device=4K@ADDR:IRQ` on its command line, which n90vmm appends. */
#ifndef N90_VIRTIO_MMIO_H
#define N90_VIRTIO_MMIO_H

#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/device_host.h"
#include "devices/virtio/virtio.h"

#define VIRTIO_MMIO_SIZE 0x1000

struct virtio_mmio {
	struct virtio_dev *dev;
	const struct device_host *host;
	uint64_t base;
	unsigned int gsi;
	uint32_t interrupt_status; /* ISR bits, acknowledged by the driver */
	int irq_fd;
	int notify_fds[VIRTIO_MAX_QUEUES];
	struct virtio_mmio_notify {
		struct virtio_mmio *t;
		unsigned int q;
	} notify[VIRTIO_MAX_QUEUES]; /* I/O-thread handler context per queue */
	pthread_mutex_t isr_lock;
};

/* Wires the device: registers nothing on a bus (the caller registers virtio_mmio_ops at
 * `base` with VIRTIO_MMIO_SIZE), sets up ioeventfds, the irqfd and the I/O handlers. */
int virtio_mmio_init(struct virtio_mmio *t, struct virtio_dev *dev, const struct device_host *host, uint64_t base,
		     unsigned int gsi);
extern const struct bus_ops virtio_mmio_ops;

#endif
