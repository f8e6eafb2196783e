#include "devices/virtio/pci.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/log.h"

/* BAR 0 layout. */
#define REGION_COMMON 0x0000
#define REGION_ISR 0x1000
#define REGION_DEVICE 0x2000
#define REGION_NOTIFY 0x3000
#define REGION_MSIX_TABLE 0x4000
#define REGION_MSIX_PBA 0x5000
#define REGION_SIZE 0x1000
#define NOTIFY_OFF_MULTIPLIER 4

/* virtio_pci_cap cfg_type (§4.1.4). */
#define CAP_COMMON_CFG 1
#define CAP_NOTIFY_CFG 2
#define CAP_ISR_CFG 3
#define CAP_DEVICE_CFG 4

/* struct virtio_pci_common_cfg field offsets (§4.1.4.3). */
#define CC_DEVICE_FEATURE_SELECT 0x00
#define CC_DEVICE_FEATURE 0x04
#define CC_DRIVER_FEATURE_SELECT 0x08
#define CC_DRIVER_FEATURE 0x0c
#define CC_CONFIG_MSIX_VECTOR 0x10
#define CC_NUM_QUEUES 0x12
#define CC_DEVICE_STATUS 0x14
#define CC_CONFIG_GENERATION 0x15
#define CC_QUEUE_SELECT 0x16
#define CC_QUEUE_SIZE 0x18
#define CC_QUEUE_MSIX_VECTOR 0x1a
#define CC_QUEUE_ENABLE 0x1c
#define CC_QUEUE_NOTIFY_OFF 0x1e
#define CC_QUEUE_DESC 0x20
#define CC_QUEUE_DRIVER 0x28
#define CC_QUEUE_DEVICE 0x30
#define CC_SIZE 0x38

#define MSIX_CONTROL_ENABLE 0x8000
#define MSIX_CONTROL_MASKALL 0x4000
#define MSIX_ENTRY_MASKED 1

static struct virtq *selected_queue(struct virtio_dev *dev)
{
	return dev->queue_select < dev->nqueues ? &dev->queues[dev->queue_select] : NULL;
}

/* The common configuration as the guest would read it, so any access width works. */
static void common_snapshot(struct virtio_pci *t, uint8_t out[CC_SIZE])
{
	struct virtio_dev *dev = t->dev;
	struct virtq *q = selected_queue(dev);
	uint32_t v32;
	uint16_t v16;
	memset(out, 0, CC_SIZE);
#define PUT(off, val, width) (width == 4 ? (v32 = (uint32_t)(val), memcpy(out + (off), &v32, 4)) : \
					   (v16 = (uint16_t)(val), memcpy(out + (off), &v16, 2)))
	PUT(CC_DEVICE_FEATURE_SELECT, dev->device_feature_select, 4);
	PUT(CC_DEVICE_FEATURE,
	    dev->device_feature_select < 2 ? (uint32_t)(dev->device_features >> (32 * dev->device_feature_select)) : 0, 4);
	PUT(CC_DRIVER_FEATURE_SELECT, dev->driver_feature_select, 4);
	PUT(CC_DRIVER_FEATURE,
	    dev->driver_feature_select < 2 ? (uint32_t)(dev->driver_features >> (32 * dev->driver_feature_select)) : 0, 4);
	PUT(CC_CONFIG_MSIX_VECTOR, t->config_vector, 2);
	PUT(CC_NUM_QUEUES, dev->nqueues, 2);
	out[CC_DEVICE_STATUS] = dev->status;
	out[CC_CONFIG_GENERATION] = dev->config_generation;
	PUT(CC_QUEUE_SELECT, dev->queue_select, 2);
	if (q) {
		PUT(CC_QUEUE_SIZE, q->size, 2);
		PUT(CC_QUEUE_MSIX_VECTOR, t->queue_vectors[dev->queue_select], 2);
		PUT(CC_QUEUE_ENABLE, q->ready, 2);
		PUT(CC_QUEUE_NOTIFY_OFF, dev->queue_select, 2);
		memcpy(out + CC_QUEUE_DESC, &q->desc_gpa, 8);
		memcpy(out + CC_QUEUE_DRIVER, &q->avail_gpa, 8);
		memcpy(out + CC_QUEUE_DEVICE, &q->used_gpa, 8);
	}
#undef PUT
}

static uint16_t valid_vector(const struct virtio_pci *t, uint16_t v)
{
	/* §4.1.4.3.1: an unusable vector reads back as NO_VECTOR, telling the driver. */
	return v < t->nvectors ? v : VIRTIO_MSI_NO_VECTOR;
}

static uint64_t field(const uint8_t *img, uint32_t off, uint32_t width)
{
	uint64_t v = 0;
	memcpy(&v, img + off, width);
	return v;
}

/* A write of [offset, offset+len) to the common configuration: every field it touches is
 * updated from the written bytes (so 64-bit addresses written as two halves work). */
static void common_write(struct virtio_pci *t, uint32_t offset, const uint8_t *data, uint32_t len)
{
	static const struct {
		uint32_t off, width;
	} fields[] = {
		{ CC_DEVICE_FEATURE_SELECT, 4 }, { CC_DRIVER_FEATURE_SELECT, 4 }, { CC_DRIVER_FEATURE, 4 },
		{ CC_CONFIG_MSIX_VECTOR, 2 },    { CC_DEVICE_STATUS, 1 },         { CC_QUEUE_SELECT, 2 },
		{ CC_QUEUE_SIZE, 2 },            { CC_QUEUE_MSIX_VECTOR, 2 },     { CC_QUEUE_ENABLE, 2 },
		{ CC_QUEUE_DESC, 8 },            { CC_QUEUE_DRIVER, 8 },          { CC_QUEUE_DEVICE, 8 },
	};
	struct virtio_dev *dev = t->dev;
	uint8_t img[CC_SIZE];

	if (offset >= CC_SIZE || len > CC_SIZE - offset)
		return;
	pthread_mutex_lock(&dev->lock);
	common_snapshot(t, img);
	memcpy(img + offset, data, len);
	pthread_mutex_unlock(&dev->lock);

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		uint32_t off = fields[i].off, width = fields[i].width;
		if (offset >= off + width || offset + len <= off)
			continue;
		uint64_t v = field(img, off, width);
		struct virtq *q = selected_queue(dev);
		bool queue_live = !q || q->ready;
		switch (off) {
		case CC_DEVICE_STATUS:
			virtio_set_status(dev, (uint8_t)v);
			if (v == 0) {
				pthread_mutex_lock(&t->lock);
				t->isr = 0;
				t->config_vector = VIRTIO_MSI_NO_VECTOR;
				for (unsigned int n = 0; n < VIRTIO_MAX_QUEUES; n++)
					t->queue_vectors[n] = VIRTIO_MSI_NO_VECTOR;
				pthread_mutex_unlock(&t->lock);
			}
			continue;
		case CC_QUEUE_ENABLE:
			if (v == 1 && q && !q->ready)
				virtio_queue_enable(dev, dev->queue_select);
			continue;
		}
		pthread_mutex_lock(&dev->lock);
		switch (off) {
		case CC_DEVICE_FEATURE_SELECT:
			dev->device_feature_select = (uint32_t)v;
			break;
		case CC_DRIVER_FEATURE_SELECT:
			dev->driver_feature_select = (uint32_t)v;
			break;
		case CC_DRIVER_FEATURE:
			if (dev->driver_feature_select < 2 && !(dev->status & VIRTIO_STATUS_FEATURES_OK)) {
				unsigned int shift = 32 * dev->driver_feature_select;
				dev->driver_features = (dev->driver_features & ~(0xffffffffull << shift)) | (v << shift);
			}
			break;
		case CC_CONFIG_MSIX_VECTOR:
			t->config_vector = valid_vector(t, (uint16_t)v);
			break;
		case CC_QUEUE_SELECT:
			dev->queue_select = (uint16_t)v;
			break;
		case CC_QUEUE_SIZE:
			/* Queue registers are the driver's only while the queue is not enabled. */
			if (!queue_live)
				q->size = (uint16_t)(v && v <= q->max_size ? v : q->max_size);
			break;
		case CC_QUEUE_MSIX_VECTOR:
			if (q)
				t->queue_vectors[dev->queue_select] = valid_vector(t, (uint16_t)v);
			break;
		case CC_QUEUE_DESC:
			if (!queue_live)
				q->desc_gpa = v;
			break;
		case CC_QUEUE_DRIVER:
			if (!queue_live)
				q->avail_gpa = v;
			break;
		case CC_QUEUE_DEVICE:
			if (!queue_live)
				q->used_gpa = v;
			break;
		}
		pthread_mutex_unlock(&dev->lock);
	}
}

/* Caller holds t->lock. */
static bool msix_enabled(const struct virtio_pci *t, bool *all_masked)
{
	*all_masked = t->msix_control & MSIX_CONTROL_MASKALL;
	return t->msix_control & MSIX_CONTROL_ENABLE;
}

/* Fires `vector` unless masked, in which case it becomes pending (PCI 3.0 §6.8.2.9). */
static int msix_fire_locked(struct virtio_pci *t, uint16_t vector)
{
	bool all_masked;
	if (vector >= t->nvectors || !msix_enabled(t, &all_masked))
		return -1;
	if (all_masked || (t->msix[vector].control & MSIX_ENTRY_MASKED)) {
		t->msix_pending |= 1ull << vector;
		return -1;
	}
	return t->vector_fd[vector];
}

static void fire(int fd)
{
	uint64_t one = 1;
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		log_debug("virtio-pci: irqfd write failed: %s", strerror(errno));
}

static void virtio_pci_signal(struct virtio_dev *dev, unsigned int q, uint8_t cause)
{
	struct virtio_pci *t = dev->transport.opaque;
	bool all_masked;
	pthread_mutex_lock(&t->lock);
	t->isr |= cause;
	int fd = -1;
	if (msix_enabled(t, &all_masked))
		fd = msix_fire_locked(t, cause == VIRTIO_ISR_CONFIG ? t->config_vector : t->queue_vectors[q]);
	else if (!__atomic_load_n(&t->pci.intx_disabled, __ATOMIC_RELAXED))
		fd = t->intx_fd; /* -1 without INTx routing: the driver polls ISR */
	pthread_mutex_unlock(&t->lock);
	fire(fd);
}

/* The guest EOI'd the INTx line and KVM lowered it: raise it again while ISR is still set
 * and INTx is still the way this function interrupts (PCI 3.0 §6.8.2: not with MSI-X on). */
static void virtio_pci_intx_resample(void *opaque, uint32_t events)
{
	struct virtio_pci *t = opaque;
	uint64_t count;
	bool all_masked;
	(void)events;
	if (read(t->intx_resample_fd, &count, sizeof(count)) != sizeof(count))
		return;
	pthread_mutex_lock(&t->lock);
	bool again = t->isr && !msix_enabled(t, &all_masked) && !__atomic_load_n(&t->pci.intx_disabled, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&t->lock);
	if (again)
		fire(t->intx_fd);
}

/* Delivers vectors that became unmasked while pending. */
static void msix_flush_pending(struct virtio_pci *t)
{
	int fds[VIRTIO_PCI_VECTORS];
	unsigned int n = 0;
	pthread_mutex_lock(&t->lock);
	uint64_t pending = t->msix_pending;
	t->msix_pending = 0;
	for (unsigned int v = 0; v < t->nvectors; v++)
		if (pending & (1ull << v)) {
			int fd = msix_fire_locked(t, (uint16_t)v);
			if (fd >= 0)
				fds[n++] = fd;
		}
	pthread_mutex_unlock(&t->lock);
	for (unsigned int i = 0; i < n; i++)
		fire(fds[i]);
}

static void msix_table_write(struct virtio_pci *t, uint64_t offset, const uint8_t *data, uint32_t len)
{
	unsigned int v = (unsigned int)(offset / 16), reg = (unsigned int)(offset % 16);
	/* Without an MSI-X capability (no MSI controller) the table region is inert. */
	if (!t->msix_cap || v >= t->nvectors || len != 4 || (reg & 3))
		return;
	pthread_mutex_lock(&t->lock);
	struct virtio_pci_msix_entry *e = &t->msix[v];
	uint32_t val = (uint32_t)bus_data_get(data, 4);
	bool unmasked = false;
	switch (reg) {
	case 0:
		e->addr_lo = val;
		break;
	case 4:
		e->addr_hi = val;
		break;
	case 8:
		e->data = val;
		break;
	case 12:
		unmasked = (e->control & MSIX_ENTRY_MASKED) && !(val & MSIX_ENTRY_MASKED);
		e->control = val & MSIX_ENTRY_MASKED;
		break;
	}
	uint64_t addr = ((uint64_t)e->addr_hi << 32) | e->addr_lo;
	uint32_t msg = e->data;
	pthread_mutex_unlock(&t->lock);
	/* The KVM route follows the table; masking is applied when the device signals. */
	if (reg != 12 && t->host->msi_route(t->host->vm, (unsigned int)t->vector_gsi[v], addr, msg, addr != 0) < 0)
		log_warn("%s: MSI-X vector %u route update failed", t->dev->name, v);
	if (unmasked)
		msix_flush_pending(t);
}

static void virtio_pci_bar_read(struct pci_device *pdev, unsigned int bar, uint64_t offset, uint8_t *data,
				uint32_t len)
{
	struct virtio_pci *t = pdev->opaque;
	memset(data, 0, len);
	if (bar != VIRTIO_PCI_BAR)
		return;
	uint64_t region = offset & ~(uint64_t)(REGION_SIZE - 1), off = offset - region;
	switch (region) {
	case REGION_COMMON: {
		uint8_t img[CC_SIZE];
		if (off >= CC_SIZE || len > CC_SIZE - off)
			return;
		pthread_mutex_lock(&t->dev->lock);
		pthread_mutex_lock(&t->lock);
		common_snapshot(t, img);
		pthread_mutex_unlock(&t->lock);
		pthread_mutex_unlock(&t->dev->lock);
		memcpy(data, img + off, len);
		return;
	}
	case REGION_ISR:
		if (off == 0) {
			/* Reading ISR acknowledges it (§4.1.4.5). */
			pthread_mutex_lock(&t->lock);
			data[0] = t->isr;
			t->isr = 0;
			pthread_mutex_unlock(&t->lock);
		}
		return;
	case REGION_DEVICE:
		virtio_config_read(t->dev, (uint32_t)off, data, len);
		return;
	case REGION_MSIX_TABLE:
		if (off / 16 < t->nvectors && len == 4 && !(off & 3)) {
			pthread_mutex_lock(&t->lock);
			uint32_t v;
			memcpy(&v, (const uint8_t *)&t->msix[off / 16] + off % 16, 4);
			pthread_mutex_unlock(&t->lock);
			bus_data_put(data, 4, v);
		}
		return;
	case REGION_MSIX_PBA:
		if (off < 8) {
			pthread_mutex_lock(&t->lock);
			uint64_t pending = t->msix_pending;
			pthread_mutex_unlock(&t->lock);
			for (uint32_t i = 0; i < len && off + i < 8; i++)
				data[i] = (uint8_t)(pending >> (8 * (off + i)));
		}
		return;
	}
}

static void virtio_pci_bar_write(struct pci_device *pdev, unsigned int bar, uint64_t offset, const uint8_t *data,
				 uint32_t len)
{
	struct virtio_pci *t = pdev->opaque;
	if (bar != VIRTIO_PCI_BAR)
		return;
	uint64_t region = offset & ~(uint64_t)(REGION_SIZE - 1), off = offset - region;
	switch (region) {
	case REGION_COMMON:
		common_write(t, (uint32_t)off, data, len);
		return;
	case REGION_DEVICE:
		virtio_config_write(t->dev, (uint32_t)off, data, len);
		return;
	case REGION_NOTIFY:
		/* Caught by the ioeventfd unless the BAR is not where the ioeventfds are. */
		if (off % NOTIFY_OFF_MULTIPLIER == 0)
			virtio_queue_notify(t->dev, (unsigned int)(off / NOTIFY_OFF_MULTIPLIER));
		return;
	case REGION_MSIX_TABLE:
		msix_table_write(t, off, data, len);
		return;
	}
}

/* Moves the notify ioeventfds with the BAR (or removes them while it does not decode). */
static void virtio_pci_bar_moved(struct pci_device *pdev, unsigned int bar, uint64_t addr)
{
	struct virtio_pci *t = pdev->opaque;
	const struct device_host *h = t->host;
	if (bar != VIRTIO_PCI_BAR || addr == t->notify_addr)
		return;
	for (unsigned int q = 0; q < t->dev->nqueues; q++) {
		uint64_t old = t->notify_addr + REGION_NOTIFY + q * NOTIFY_OFF_MULTIPLIER;
		uint64_t now = addr + REGION_NOTIFY + q * NOTIFY_OFF_MULTIPLIER;
		if (t->notify_addr)
			h->ioeventfd(h->vm, old, 0, false, false, 0, t->notify_fds[q], false);
		if (addr)
			h->ioeventfd(h->vm, now, 0, false, false, 0, t->notify_fds[q], true);
	}
	t->notify_addr = addr;
}

static void virtio_pci_config_written(struct pci_device *pdev, uint32_t offset, uint32_t len)
{
	struct virtio_pci *t = pdev->opaque;
	/* MSI-X enable or function mask changed: deliver what waited behind a mask. Config
	 * writes are serialised (pci_bus.config_lock), so the bytes are stable here. */
	if (offset < (uint32_t)t->msix_cap + 4 && offset + len > (uint32_t)t->msix_cap + 2) {
		uint16_t control;
		memcpy(&control, pdev->config + t->msix_cap + 2, 2);
		pthread_mutex_lock(&t->lock);
		t->msix_control = control;
		pthread_mutex_unlock(&t->lock);
		msix_flush_pending(t);
	}
}

static const struct pci_device_ops virtio_pci_ops = {
	.bar_read = virtio_pci_bar_read,
	.bar_write = virtio_pci_bar_write,
	.bar_moved = virtio_pci_bar_moved,
	.config_written = virtio_pci_config_written,
};

static void virtio_pci_notify_event(void *opaque, uint32_t events)
{
	struct virtio_pci_notify *n = opaque;
	uint64_t count;
	(void)events;
	if (read(n->t->notify_fds[n->q], &count, sizeof(count)) == sizeof(count))
		virtio_queue_notify(n->t->dev, n->q);
}

static uint8_t add_virtio_cap(struct virtio_pci *t, uint8_t type, uint32_t offset, uint32_t length, bool notify)
{
	/* struct virtio_pci_cap after cap_vndr and cap_next (§4.1.4), plus the notify
	 * multiplier for the notify capability (§4.1.4.4). */
	uint8_t body[18];
	memset(body, 0, sizeof(body));
	body[0] = notify ? 20 : 16; /* cap_len */
	body[1] = type;
	body[2] = VIRTIO_PCI_BAR;
	memcpy(body + 6, &offset, 4);
	memcpy(body + 10, &length, 4);
	uint32_t mult = NOTIFY_OFF_MULTIPLIER;
	memcpy(body + 14, &mult, 4);
	return pci_add_capability(&t->pci, PCI_CAP_ID_VNDR, body, notify ? 18 : 14);
}

/* MSI-X (PCI 3.0 §6.8.2): message control (table size - 1), table and PBA in BAR 0, and one
 * KVM GSI + irqfd per vector. Only on machines whose interrupt controller takes MSIs. */
static int add_msix(struct virtio_pci *t, const struct device_host *host)
{
	uint8_t msix[10];
	uint16_t control = (uint16_t)(t->nvectors - 1);
	uint32_t table = REGION_MSIX_TABLE | VIRTIO_PCI_BAR, pba = REGION_MSIX_PBA | VIRTIO_PCI_BAR;
	memcpy(msix, &control, 2);
	memcpy(msix + 2, &table, 4);
	memcpy(msix + 6, &pba, 4);
	t->msix_cap = pci_add_capability(&t->pci, PCI_CAP_ID_MSIX, msix, sizeof(msix));
	if (!t->msix_cap)
		return -ENOSPC;
	pci_set_wmask(&t->pci, t->msix_cap + 3, MSIX_CONTROL_ENABLE >> 8 | MSIX_CONTROL_MASKALL >> 8, 1);
	for (unsigned int v = 0; v < t->nvectors; v++) {
		t->vector_gsi[v] = host->alloc_gsi(host->vm);
		t->vector_fd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->vector_fd[v] < 0)
			return -errno;
		int ret = host->irqfd(host->vm, (unsigned int)t->vector_gsi[v], t->vector_fd[v], -1, true);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int virtio_pci_init(struct virtio_pci *t, struct virtio_dev *dev, struct pci_bus *bus, const struct device_host *host)
{
	static const uint32_t class_of[] = { [VIRTIO_ID_NET] = 0x020000, [VIRTIO_ID_BLOCK] = 0x018000,
					     [VIRTIO_ID_CONSOLE] = 0x078000 };
	int ret;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->intx_fd = t->intx_resample_fd = -1;
	t->dev = dev;
	t->host = host;
	t->nvectors = dev->nqueues + 1;
	t->config_vector = VIRTIO_MSI_NO_VECTOR;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		t->queue_vectors[q] = VIRTIO_MSI_NO_VECTOR;
	for (unsigned int v = 0; v < t->nvectors; v++)
		t->msix[v].control = MSIX_ENTRY_MASKED; /* PCI 3.0: entries start masked */
	dev->transport = (struct virtio_transport){ virtio_pci_signal, t };

	uint32_t class_code = dev->device_id < sizeof(class_of) / sizeof(class_of[0]) ? class_of[dev->device_id] : 0xff0000;
	/* Modern device IDs are 0x1040 + virtio device ID; revision 1 marks non-transitional. */
	pci_device_init(&t->pci, 0x1af4, (uint16_t)(0x1040 + dev->device_id), class_code, 0x1af4,
			(uint16_t)dev->device_id, &virtio_pci_ops, t);
	t->pci.config[PCI_REVISION] = 1;
	if ((ret = pci_device_add_bar(bus, &t->pci, VIRTIO_PCI_BAR, VIRTIO_PCI_BAR_SIZE)) < 0)
		return ret;

	if (!add_virtio_cap(t, CAP_COMMON_CFG, REGION_COMMON, CC_SIZE, false) ||
	    !add_virtio_cap(t, CAP_ISR_CFG, REGION_ISR, 1, false) ||
	    !add_virtio_cap(t, CAP_DEVICE_CFG, REGION_DEVICE, dev->config_len ? dev->config_len : 1, false) ||
	    !add_virtio_cap(t, CAP_NOTIFY_CFG, REGION_NOTIFY, dev->nqueues * NOTIFY_OFF_MULTIPLIER, true))
		return -ENOSPC;
	if (host->msi_route && (ret = add_msix(t, host)) < 0)
		return ret;
	for (unsigned int q = 0; q < dev->nqueues; q++) {
		t->notify_fds[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->notify_fds[q] < 0)
			return -errno;
		t->notify[q] = (struct virtio_pci_notify){ t, q };
		if ((ret = event_loop_add(host->loop, t->notify_fds[q], EPOLLIN, virtio_pci_notify_event, &t->notify[q])) < 0)
			return ret;
	}
	/* Firmware would leave the function decoding memory and mastering the bus; StarryOS
	 * expects exactly that state from the monitor. */
	uint16_t command = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	memcpy(t->pci.config + PCI_COMMAND, &command, 2);
	virtio_pci_bar_moved(&t->pci, VIRTIO_PCI_BAR, t->pci.bars[VIRTIO_PCI_BAR].addr);
	if ((ret = pci_bus_add_device(bus, &t->pci)) < 0)
		return ret;
	/* INTx: known only now that the slot is (the pin's GSI depends on it). */
	unsigned int gsi = pci_device_intx_gsi(&t->pci);
	if (!gsi)
		return 0;
	t->intx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	t->intx_resample_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->intx_fd < 0 || t->intx_resample_fd < 0)
		return -errno;
	if ((ret = host->irqfd(host->vm, gsi, t->intx_fd, t->intx_resample_fd, true)) < 0)
		return ret;
	return event_loop_add(host->loop, t->intx_resample_fd, EPOLLIN, virtio_pci_intx_resample, t);
}
