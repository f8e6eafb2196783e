#include "devices/virtio/mmio.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/log.h"

/* Register offsets (§4.2.2). */
#define REG_MAGIC 0x000
#define REG_VERSION 0x004
#define REG_DEVICE_ID 0x008
#define REG_VENDOR_ID 0x00c
#define REG_DEVICE_FEATURES 0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES 0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL 0x030
#define REG_QUEUE_NUM_MAX 0x034
#define REG_QUEUE_NUM 0x038
#define REG_QUEUE_READY 0x044
#define REG_QUEUE_NOTIFY 0x050
#define REG_INTERRUPT_STATUS 0x060
#define REG_INTERRUPT_ACK 0x064
#define REG_STATUS 0x070
#define REG_QUEUE_DESC_LOW 0x080
#define REG_QUEUE_DESC_HIGH 0x084
#define REG_QUEUE_DRIVER_LOW 0x090
#define REG_QUEUE_DRIVER_HIGH 0x094
#define REG_QUEUE_DEVICE_LOW 0x0a0
#define REG_QUEUE_DEVICE_HIGH 0x0a4
#define REG_CONFIG_GENERATION 0x0fc
#define REG_CONFIG 0x100

#define MMIO_MAGIC 0x74726976 /* "virt" */
#define MMIO_VENDOR 0x5639304e /* "N90V" */

static void mmio_signal(struct virtio_dev *dev, unsigned int q, uint8_t cause)
{
	struct virtio_mmio *t = dev->transport.opaque;
	uint64_t one = 1;
	(void)q;
	pthread_mutex_lock(&t->isr_lock);
	t->interrupt_status |= cause;
	pthread_mutex_unlock(&t->isr_lock);
	if (write(t->irq_fd, &one, sizeof(one)) < 0)
		log_debug("%s: irqfd write failed: %s", dev->name, strerror(errno));
}

static struct virtq *selected_queue(struct virtio_mmio *t)
{
	struct virtio_dev *dev = t->dev;
	return dev->queue_select < dev->nqueues ? &dev->queues[dev->queue_select] : NULL;
}

static uint32_t mmio_read32(struct virtio_mmio *t, uint64_t reg)
{
	struct virtio_dev *dev = t->dev;
	struct virtq *q = selected_queue(t);
	switch (reg) {
	case REG_MAGIC:
		return MMIO_MAGIC;
	case REG_VERSION:
		return 2;
	case REG_DEVICE_ID:
		return dev->device_id;
	case REG_VENDOR_ID:
		return MMIO_VENDOR;
	case REG_DEVICE_FEATURES:
		return dev->device_feature_select < 2 ? (uint32_t)(dev->device_features >> (32 * dev->device_feature_select))
						       : 0;
	case REG_QUEUE_NUM_MAX:
		return q ? q->max_size : 0;
	case REG_QUEUE_READY:
		return q ? q->ready : 0;
	case REG_INTERRUPT_STATUS: {
		pthread_mutex_lock(&t->isr_lock);
		uint32_t v = t->interrupt_status;
		pthread_mutex_unlock(&t->isr_lock);
		return v;
	}
	case REG_STATUS:
		return dev->status;
	case REG_CONFIG_GENERATION:
		return dev->config_generation;
	}
	return 0;
}

static void set_half(uint64_t *field, bool high, uint32_t v)
{
	*field = high ? (*field & 0xffffffffull) | ((uint64_t)v << 32) : (*field & ~0xffffffffull) | v;
}

static void mmio_write32(struct virtio_mmio *t, uint64_t reg, uint32_t v)
{
	struct virtio_dev *dev = t->dev;
	struct virtq *q = selected_queue(t);

	switch (reg) {
	case REG_DEVICE_FEATURES_SEL:
		dev->device_feature_select = v;
		return;
	case REG_DRIVER_FEATURES:
		/* §3.1.1: features are fixed once FEATURES_OK is set. */
		if (dev->driver_feature_select < 2 && !(dev->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned int shift = 32 * dev->driver_feature_select;
			dev->driver_features = (dev->driver_features & ~(0xffffffffull << shift)) | ((uint64_t)v << shift);
		}
		return;
	case REG_DRIVER_FEATURES_SEL:
		dev->driver_feature_select = v;
		return;
	case REG_QUEUE_SEL:
		dev->queue_select = (uint16_t)(v < 0xffff ? v : 0xffff);
		return;
	case REG_QUEUE_NOTIFY:
		/* Normally caught by the ioeventfd; a write that gets here (e.g. before the
		 * ioeventfd exists) is served the same way. */
		virtio_queue_notify(dev, v);
		return;
	case REG_INTERRUPT_ACK:
		pthread_mutex_lock(&t->isr_lock);
		t->interrupt_status &= ~v;
		pthread_mutex_unlock(&t->isr_lock);
		return;
	case REG_STATUS:
		/* Status is 8 bits wide; the upper bits of the register are ignored, for the reset
		 * as for everything else. */
		virtio_set_status(dev, (uint8_t)v);
		if ((uint8_t)v == 0) {
			pthread_mutex_lock(&t->isr_lock);
			t->interrupt_status = 0;
			pthread_mutex_unlock(&t->isr_lock);
		}
		return;
	}
	/* Queue registers: only while the selected queue is not live (§4.2.2.3). */
	if (!q || q->ready) {
		if (q && reg == REG_QUEUE_READY && v == 0)
			q->ready = false;
		return;
	}
	switch (reg) {
	case REG_QUEUE_NUM:
		q->size = (uint16_t)(v && v <= q->max_size ? v : q->max_size);
		if (v == 0 || v > q->max_size)
			log_warn_limited("virtio-mmio queue size refused", "%s: queue size %u refused (max %u)", dev->name, v,
					 q->max_size);
		break;
	case REG_QUEUE_READY:
		if (v == 1)
			virtio_queue_enable(dev, dev->queue_select);
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		set_half(&q->desc_gpa, reg == REG_QUEUE_DESC_HIGH, v);
		break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
		set_half(&q->avail_gpa, reg == REG_QUEUE_DRIVER_HIGH, v);
		break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		set_half(&q->used_gpa, reg == REG_QUEUE_DEVICE_HIGH, v);
		break;
	}
}

static void virtio_mmio_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct virtio_mmio *t = opaque;
	if (offset >= REG_CONFIG) {
		virtio_config_read(t->dev, (uint32_t)(offset - REG_CONFIG), data, len);
		return;
	}
	/* §4.2.2.2: the driver accesses registers with 32-bit aligned reads only. */
	uint32_t v = (len == 4 && !(offset & 3)) ? mmio_read32(t, offset) : 0;
	bus_data_put(data, len, v);
}

static void virtio_mmio_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct virtio_mmio *t = opaque;
	if (offset >= REG_CONFIG) {
		virtio_config_write(t->dev, (uint32_t)(offset - REG_CONFIG), data, len);
		return;
	}
	if (len != 4 || (offset & 3))
		return;
	pthread_mutex_lock(&t->dev->lock);
	bool locked = true;
	uint64_t reg = offset;
	/* Status, notify and ready transitions take the device lock themselves. */
	if (reg == REG_STATUS || reg == REG_QUEUE_NOTIFY || reg == REG_QUEUE_READY) {
		pthread_mutex_unlock(&t->dev->lock);
		locked = false;
	}
	mmio_write32(t, reg, (uint32_t)bus_data_get(data, 4));
	if (locked)
		pthread_mutex_unlock(&t->dev->lock);
}

const struct bus_ops virtio_mmio_ops = { .read = virtio_mmio_read, .write = virtio_mmio_write };

static void mmio_notify_event(void *opaque, uint32_t events)
{
	struct virtio_mmio_notify *h = opaque;
	uint64_t count;
	(void)events;
	if (read(h->t->notify_fds[h->q], &count, sizeof(count)) == sizeof(count))
		virtio_queue_notify(h->t->dev, h->q);
}

int virtio_mmio_init(struct virtio_mmio *t, struct virtio_dev *dev, const struct device_host *host, uint64_t base,
		     unsigned int gsi)
{
	int ret;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->isr_lock, NULL);
	t->dev = dev;
	t->host = host;
	t->base = base;
	t->gsi = gsi;
	dev->transport = (struct virtio_transport){ mmio_signal, t };

	t->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->irq_fd < 0)
		return -errno;
	if ((ret = host->irqfd(host->vm, gsi, t->irq_fd, -1, true)) < 0)
		return ret;
	for (unsigned int q = 0; q < dev->nqueues; q++) {
		t->notify_fds[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->notify_fds[q] < 0)
			return -errno;
		ret = host->ioeventfd(host->vm, base + REG_QUEUE_NOTIFY, 4, false, true, q, t->notify_fds[q], true);
		if (ret < 0)
			return ret;
		struct virtio_mmio_notify *h = &t->notify[q];
		h->t = t;
		h->q = q;
		if ((ret = event_loop_add(host->loop, t->notify_fds[q], EPOLLIN, mmio_notify_event, h)) < 0)
			return ret;
	}
	return 0;
}
