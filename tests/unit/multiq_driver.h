/* An in-test virtio driver for devices with several queues (test_virtio_console.c,
 * test_virtio_net.c): guest RAM, one split ring per queue laid out by the driver, a heap for
 * buffers, and the bring-up sequence of §3.1.1 straight on the device (no transport).
 * Header-only, one copy per test file; the includer defines QSIZE. */
#ifndef N90_MULTIQ_DRIVER_H
#define N90_MULTIQ_DRIVER_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "devices/virtio/virtio.h"
#include "vmm/bytes.h"
#include "tests/unit/guest_heap.h"

struct vdrv {
	uint64_t desc, avail, used;
	uint16_t next, avail_idx;
};

static struct vdrv drv[VIRTIO_MAX_QUEUES];

static inline uint64_t gbytes(const void *src, uint32_t len)
{
	uint64_t gpa = gbuf(len, 0);
	memcpy(gva(gpa, len ? len : 1), src, len);
	return gpa;
}

static inline uint64_t gstr(const char *s)
{
	return gbytes(s, (uint32_t)strlen(s));
}

/* Lays out the chain's descriptors; publish=false leaves it out of the avail ring. */
static inline uint16_t post_chain(struct vdrv *d, const struct vseg *s, unsigned int n)
{
	uint16_t head = d->next;
	for (unsigned int i = 0; i < n; i++) {
		uint16_t idx = d->next;
		d->next = (uint16_t)((d->next + 1) % QSIZE);
		struct virtq_desc desc = { s[i].gpa, s[i].len,
					   (uint16_t)((s[i].write ? VIRTQ_DESC_F_WRITE : 0) |
						      (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
					   d->next };
		memcpy(gva(d->desc + 16ull * idx, 16), &desc, 16);
	}
	put_le16(gva(d->avail + 4 + 2ull * (d->avail_idx % QSIZE), 2), head);
	d->avail_idx++;
	put_le16(gva(d->avail + 2, 2), d->avail_idx);
	return head;
}

static inline uint16_t post1(struct vdrv *d, uint64_t gpa, uint32_t len, bool write)
{
	struct vseg s = { gpa, len, write };
	return post_chain(d, &s, 1);
}

static inline uint16_t used_idx(struct vdrv *d)
{
	return get_le16(gva(d->used + 2, 2));
}

static inline struct virtq_used_elem used_elem(struct vdrv *d, uint16_t i)
{
	struct virtq_used_elem e;
	memcpy(&e, gva(d->used + 4 + 8ull * (i % QSIZE), 8), 8);
	return e;
}

static inline uint16_t avail_event(struct vdrv *d)
{
	return get_le16(gva(d->used + 4 + 8 * QSIZE, 2));
}

/* §3.1.1 up to FEATURES_OK, then every queue enabled with QSIZE entries. */
static inline void mq_negotiate_and_enable(struct virtio_dev *dev, unsigned int nq, uint64_t features)
{
	virtio_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	dev->driver_features = features; /* what a transport's DriverFeatures writes produce */
	virtio_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	cr_assert(dev->status & VIRTIO_STATUS_FEATURES_OK);
	for (unsigned int qi = 0; qi < nq; qi++) {
		uint64_t base = 0x10000ull * (qi + 1);
		drv[qi] = (struct vdrv){ .desc = base, .avail = base + 0x1000, .used = base + 0x2000 };
		memset(gva(base, 0x3000), 0, 0x3000);
		struct virtq *vq = &dev->queues[qi];
		vq->size = QSIZE;
		vq->desc_gpa = drv[qi].desc;
		vq->avail_gpa = drv[qi].avail;
		vq->used_gpa = drv[qi].used;
		virtio_queue_enable(dev, qi);
		cr_assert(vq->ready);
	}
}

static inline void mq_driver_ok(struct virtio_dev *dev)
{
	virtio_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
				       VIRTIO_STATUS_DRIVER_OK);
}

#endif
