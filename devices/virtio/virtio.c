#include "devices/virtio/virtio.h"

#include <string.h>

#include "vmm/log.h"

void virtio_dev_init(struct virtio_dev *dev, const char *name, uint32_t device_id, uint64_t features,
		     unsigned int nqueues, uint16_t queue_size, uint32_t config_len, const struct guest_mem *mem,
		     const struct virtio_device_ops *ops, void *model)
{
	memset(dev, 0, sizeof(*dev));
	pthread_mutex_init(&dev->lock, NULL);
	dev->name = name;
	dev->device_id = device_id;
	/* Every device here is modern-only and handles indirect tables and event indices. */
	dev->device_features = features | (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_INDIRECT_DESC) |
			       (1ull << VIRTIO_F_EVENT_IDX);
	dev->nqueues = nqueues < VIRTIO_MAX_QUEUES ? nqueues : VIRTIO_MAX_QUEUES;
	for (unsigned int i = 0; i < dev->nqueues; i++)
		virtq_init(&dev->queues[i], mem, queue_size);
	dev->config_len = config_len;
	dev->ops = ops;
	dev->model = model;
}

bool virtio_has_feature(const struct virtio_dev *dev, unsigned int bit)
{
	return bit < 64 && (dev->driver_features >> bit) & 1;
}

static void virtio_reset_locked(struct virtio_dev *dev)
{
	for (unsigned int i = 0; i < dev->nqueues; i++)
		virtq_reset(&dev->queues[i]);
	dev->status = 0;
	dev->driver_features = 0;
	dev->device_feature_select = dev->driver_feature_select = 0;
	dev->queue_select = 0;
	if (dev->ops->reset)
		dev->ops->reset(dev);
}

void virtio_set_status(struct virtio_dev *dev, uint8_t status)
{
	bool driver_ok = false;
	pthread_mutex_lock(&dev->lock);
	if (status == 0) {
		virtio_reset_locked(dev);
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	/* FEATURES_OK (§3.1.1 step 5): accept only subsets of what was offered, and only
	 * modern drivers; otherwise leave the bit clear so the driver sees the refusal. */
	if ((status & VIRTIO_STATUS_FEATURES_OK) && !(dev->status & VIRTIO_STATUS_FEATURES_OK)) {
		if ((dev->driver_features & ~dev->device_features) || !virtio_has_feature(dev, VIRTIO_F_VERSION_1))
			status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		else
			for (unsigned int i = 0; i < dev->nqueues; i++)
				dev->queues[i].event_idx = virtio_has_feature(dev, VIRTIO_F_EVENT_IDX);
	}
	driver_ok = (status & VIRTIO_STATUS_DRIVER_OK) && !(dev->status & VIRTIO_STATUS_DRIVER_OK);
	/* NEEDS_RESET is the device's to set; the driver cannot clear it except by reset. */
	dev->status = (uint8_t)(status | (dev->status & VIRTIO_STATUS_NEEDS_RESET));
	if (driver_ok && dev->ops->driver_ok)
		dev->ops->driver_ok(dev);
	pthread_mutex_unlock(&dev->lock);
}

void virtio_queue_enable(struct virtio_dev *dev, unsigned int q)
{
	if (q >= dev->nqueues)
		return;
	pthread_mutex_lock(&dev->lock);
	enum virtq_error err = virtq_enable(&dev->queues[q]);
	if (err != VIRTQ_OK) {
		log_warn_limited("virtio queue error", "%s: queue %u: %s", dev->name, q, virtq_error_name(err));
		dev->stats.errors++;
		dev->queues[q].broken = true;
	}
	pthread_mutex_unlock(&dev->lock);
	if (err != VIRTQ_OK)
		virtio_dev_needs_reset(dev, q);
}

void virtio_queue_run(struct virtio_dev *dev, unsigned int q, void (*fn)(struct virtio_dev *dev, unsigned int q))
{
	if (q >= dev->nqueues)
		return;
	pthread_mutex_lock(&dev->lock);
	struct virtq *vq = &dev->queues[q];
	bool broken_before = vq->broken;
	if ((dev->status & VIRTIO_STATUS_DRIVER_OK) && vq->ready && !vq->broken)
		fn(dev, q);
	bool newly_broken = vq->broken && !broken_before;
	if (newly_broken) {
		dev->stats.errors++;
		log_warn_limited("virtio queue error", "%s: queue %u: %s; device needs reset", dev->name, q,
				 virtq_error_name(vq->last_error));
	}
	pthread_mutex_unlock(&dev->lock);
	if (newly_broken)
		virtio_dev_needs_reset(dev, q);
}

void virtio_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	__atomic_fetch_add(&dev->stats.notifies, 1, __ATOMIC_RELAXED);
	virtio_queue_run(dev, q, dev->ops->queue_notify);
}

void virtio_queue_signal(struct virtio_dev *dev, unsigned int q)
{
	if (!virtq_should_signal(&dev->queues[q]))
		return;
	dev->stats.interrupts++;
	dev->transport.signal(dev, q, VIRTIO_ISR_QUEUE);
}

void virtio_dev_needs_reset(struct virtio_dev *dev, unsigned int q)
{
	pthread_mutex_lock(&dev->lock);
	bool first = !(dev->status & VIRTIO_STATUS_NEEDS_RESET);
	dev->status |= VIRTIO_STATUS_NEEDS_RESET;
	pthread_mutex_unlock(&dev->lock);
	if (first && (dev->status & VIRTIO_STATUS_DRIVER_OK))
		dev->transport.signal(dev, q, VIRTIO_ISR_CONFIG);
}

void virtio_config_read(struct virtio_dev *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
	memset(data, 0, len);
	if (offset >= dev->config_len || len > dev->config_len - offset || !dev->ops->config_read)
		return;
	dev->ops->config_read(dev, offset, data, len);
}

void virtio_config_write(struct virtio_dev *dev, uint32_t offset, const uint8_t *data, uint32_t len)
{
	if (offset >= dev->config_len || len > dev->config_len - offset || !dev->ops->config_write)
		return;
	dev->ops->config_write(dev, offset, data, len);
}
