/* The in-test virtio driver shared by the transport tests (test_virtio_mmio.c,
 * test_virtio_pci.c): guest RAM with one split ring and a heap, a blk request builder, and a
 * fake device_host that records the ioeventfd and irqfd registrations. Header-only, one copy
 * per test file. */
#ifndef N90_VIRTIO_TEST_DRIVER_H
#define N90_VIRTIO_TEST_DRIVER_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "devices/virtio/blk.h"
#include "vmm/bytes.h"
#include "vmm/device_host.h"
#include "tests/unit/guest_heap.h"

#define QSIZE 16
#define DESC_GPA 0x10000ull
#define AVAIL_GPA 0x20000ull
#define USED_GPA 0x30000ull
#define SECTOR VIRTIO_BLK_SECTOR

static int vm_token __attribute__((unused)); /* what the fake host records as `vm` */

/* ---- fake device_host ------------------------------------------------------------------- */

struct ioeventfd_call {
	void *vm;
	uint64_t addr;
	uint32_t len;
	bool pio, datamatch;
	uint64_t data;
	int fd;
	bool assign;
};

static struct ioeventfd_call ioev[VIRTIO_MAX_QUEUES * 2];
static unsigned int nioev;
struct irqfd_call {
	void *vm;
	unsigned int gsi;
	int fd, resample_fd;
	bool assign;
};
/* Every registration in order; irqfd_call is the latest. */
static struct irqfd_call irqfd_calls[VIRTIO_MAX_QUEUES + 4];
static struct irqfd_call irqfd_call;
static unsigned int nirqfd;

static inline int fake_ioeventfd(void *vm, uint64_t addr, uint32_t len, bool pio, bool datamatch, uint64_t data, int fd,
				 bool assign)
{
	cr_assert_lt(nioev, sizeof(ioev) / sizeof(ioev[0]));
	ioev[nioev++] = (struct ioeventfd_call){ vm, addr, len, pio, datamatch, data, fd, assign };
	return 0;
}

static inline int fake_irqfd(void *vm, unsigned int gsi, int fd, int resample_fd, bool assign)
{
	cr_assert_lt(nirqfd, sizeof(irqfd_calls) / sizeof(irqfd_calls[0]));
	irqfd_call = (struct irqfd_call){ vm, gsi, fd, resample_fd, assign };
	irqfd_calls[nirqfd++] = irqfd_call;
	return 0;
}

/* ---- guest memory and the in-test driver ------------------------------------------------- */

static uint16_t next_desc, avail_idx;

static inline void rings_clear(void)
{
	next_desc = avail_idx = 0;
	memset(gva(DESC_GPA, 16 * QSIZE), 0, 16 * QSIZE);
	memset(gva(AVAIL_GPA, 6 + 2 * QSIZE), 0, 6 + 2 * QSIZE);
	memset(gva(USED_GPA, 6 + 8 * QSIZE), 0, 6 + 8 * QSIZE);
}

static inline uint16_t post_chain(const struct vseg *s, unsigned int n)
{
	uint16_t head = next_desc;
	for (unsigned int i = 0; i < n; i++) {
		uint16_t idx = next_desc;
		next_desc = (uint16_t)((next_desc + 1) % QSIZE);
		struct virtq_desc d = { s[i].gpa, s[i].len,
					(uint16_t)((s[i].write ? VIRTQ_DESC_F_WRITE : 0) |
						   (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
					next_desc };
		memcpy(gva(DESC_GPA + 16ull * idx, 16), &d, 16);
	}
	put_le16(gva(AVAIL_GPA + 4 + 2ull * (avail_idx % QSIZE), 2), head);
	avail_idx++;
	put_le16(gva(AVAIL_GPA + 2, 2), avail_idx);
	return head;
}

static inline uint16_t used_idx(void)
{
	return get_le16(gva(USED_GPA + 2, 2));
}

static inline void set_used_event(uint16_t v)
{
	put_le16(gva(AVAIL_GPA + 4 + 2 * QSIZE, 2), v);
}

static inline uint16_t avail_event(void)
{
	return get_le16(gva(USED_GPA + 4 + 8 * QSIZE, 2));
}

/* A blk request [header][data][status]; returns the gpa of the status byte. */
static inline uint64_t post_blk(uint32_t type, uint64_t sector, uint64_t data, uint32_t len)
{
	uint64_t h = gbuf(16, 0), st = gbuf(1, 0xff);
	put_le32(gva(h, 4), type);
	put_le64(gva(h + 8, 8), sector);
	struct vseg s[3] = { { h, 16, false } };
	unsigned int n = 1;
	if (len)
		s[n++] = (struct vseg){ data, len, type == VIRTIO_BLK_T_IN };
	s[n++] = (struct vseg){ st, 1, true };
	post_chain(s, n);
	return st;
}

static inline uint8_t status_at(uint64_t gpa)
{
	return *(uint8_t *)gva(gpa, 1);
}

#endif
