/* A virtio device as both transports (PCI, MMIO) see it: feature negotiation, device
 * status, queues and device-specific configuration (virtio 1.2 §2, §3). The device model
 * (blk, console, ...) supplies the ops; the transport supplies interrupt delivery. */
#ifndef N90_VIRTIO_H
#define N90_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtq.h"

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* Reserved feature bits (§6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3

#define VIRTIO_MAX_QUEUES 8

/* Interrupt causes, as the ISR status register reports them. */
#define VIRTIO_ISR_QUEUE 1
#define VIRTIO_ISR_CONFIG 2

struct virtio_dev;

struct virtio_device_ops {
	/* Process queue `q` after a notify; called on the I/O thread with dev->lock held. */
	void (*queue_notify)(struct virtio_dev *dev, unsigned int q);
	void (*config_read)(struct virtio_dev *dev, uint32_t offset, uint8_t *data, uint32_t len);
	void (*config_write)(struct virtio_dev *dev, uint32_t offset, const uint8_t *data, uint32_t len);
	/* The driver reset the device: drop in-flight state. Called with dev->lock held. */
	void (*reset)(struct virtio_dev *dev);
	/* The driver set DRIVER_OK: start backends that push data unasked (console input). */
	void (*driver_ok)(struct virtio_dev *dev);
};

struct virtio_transport {
	/* Deliver a used-buffer (queue) or configuration-change interrupt. */
	void (*signal)(struct virtio_dev *dev, unsigned int q, uint8_t cause);
	void *opaque;
};

struct virtio_stats {
	uint64_t notifies, interrupts, requests, bytes_read, bytes_written, errors;
	uint64_t dropped; /* frames a network device could not deliver (no buffers, too big, backend full) */
};

struct virtio_dev {
	const char *name;
	uint32_t device_id;
	uint64_t device_features; /* offered */
	uint64_t driver_features; /* accepted by the driver */
	uint32_t device_feature_select, driver_feature_select;
	uint8_t status;
	uint8_t config_generation;
	uint16_t queue_select;
	unsigned int nqueues;
	struct virtq queues[VIRTIO_MAX_QUEUES];
	uint32_t config_len;
	/* Taken by register accesses (vCPU threads) and queue processing (I/O thread). */
	pthread_mutex_t lock;
	const struct virtio_device_ops *ops;
	void *model; /* the device model's own state */
	struct virtio_transport transport;
	struct virtio_stats stats;
};

void virtio_dev_init(struct virtio_dev *dev, const char *name, uint32_t device_id, uint64_t features,
		     unsigned int nqueues, uint16_t queue_size, uint32_t config_len, const struct guest_mem *mem,
		     const struct virtio_device_ops *ops, void *model);
/* Status register write (§2.1, §3.1.1): feature checks on FEATURES_OK, reset on 0. */
void virtio_set_status(struct virtio_dev *dev, uint8_t status);
/* The driver made queue `q` ready with the addresses it wrote. */
void virtio_queue_enable(struct virtio_dev *dev, unsigned int q);
/* A notify for queue `q` arrived (ioeventfd or register write): process it. */
void virtio_queue_notify(struct virtio_dev *dev, unsigned int q);
/* Runs `fn` on queue `q` under the device lock if the driver is running and the queue is
 * usable, and reports a queue `fn` found malformed (DEVICE_NEEDS_RESET, §2.1.2). Notifies go
 * through it, and so do backends that push data unasked (a readable tap). */
void virtio_queue_run(struct virtio_dev *dev, unsigned int q, void (*fn)(struct virtio_dev *dev, unsigned int q));
/* Used buffers were returned on `q`: interrupt the driver unless it suppressed that. */
void virtio_queue_signal(struct virtio_dev *dev, unsigned int q);
/* A queue turned out broken: set DEVICE_NEEDS_RESET and tell the driver (§2.1.2). */
void virtio_dev_needs_reset(struct virtio_dev *dev, unsigned int q);
bool virtio_has_feature(const struct virtio_dev *dev, unsigned int bit);

/* Device configuration access bounded by config_len (the transports call these). */
void virtio_config_read(struct virtio_dev *dev, uint32_t offset, uint8_t *data, uint32_t len);
void virtio_config_write(struct virtio_dev *dev, uint32_t offset, const uint8_t *data, uint32_t len);

#endif
