/* The virtio-mmio version 2 register file (devices/virtio/mmio.c) as a driver sees it,
 * accessed only through virtio_mmio_ops.read/write. The device behind it is a real virtio-blk
 * on a temporary image; the VM side is a fake device_host that records the ioeventfd and
 * irqfd registrations, plus a real (never started) event loop. Interrupts are observed on the
 * irqfd's eventfd and in InterruptStatus. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/console.h"
#include "devices/virtio/mmio.h"
#include "vmm/bytes.h"
#include "tests/unit/virtio_test_driver.h"

#define MMIO_BASE 0xd0000000ull
#define GSI 5

/* Register offsets, virtio 1.2 §4.2.2. */
enum {
	MAGIC = 0x000,
	VERSION = 0x004,
	DEVICE_ID = 0x008,
	VENDOR_ID = 0x00c,
	DEVICE_FEATURES = 0x010,
	DEVICE_FEATURES_SEL = 0x014,
	DRIVER_FEATURES = 0x020,
	DRIVER_FEATURES_SEL = 0x024,
	QUEUE_SEL = 0x030,
	QUEUE_NUM_MAX = 0x034,
	QUEUE_NUM = 0x038,
	QUEUE_READY = 0x044,
	QUEUE_NOTIFY = 0x050,
	INTERRUPT_STATUS = 0x060,
	INTERRUPT_ACK = 0x064,
	STATUS = 0x070,
	QUEUE_DESC_LOW = 0x080,
	QUEUE_DESC_HIGH = 0x084,
	QUEUE_DRIVER_LOW = 0x090,
	QUEUE_DRIVER_HIGH = 0x094,
	QUEUE_DEVICE_LOW = 0x0a0,
	QUEUE_DEVICE_HIGH = 0x0a4,
	CONFIG_GENERATION = 0x0fc,
	CONFIG = 0x100,
};

enum {
	S_ACK = VIRTIO_STATUS_ACKNOWLEDGE,
	S_DRIVER = VIRTIO_STATUS_DRIVER,
	S_FEATURES_OK = VIRTIO_STATUS_FEATURES_OK,
	S_DRIVER_OK = VIRTIO_STATUS_DRIVER_OK,
	S_NEEDS_RESET = VIRTIO_STATUS_NEEDS_RESET,
};

#define F_VERSION_1 (1ull << VIRTIO_F_VERSION_1)
#define F_EVENT_IDX (1ull << VIRTIO_F_EVENT_IDX)
#define F_INDIRECT (1ull << VIRTIO_F_INDIRECT_DESC)
#define F_FLUSH (1ull << VIRTIO_BLK_F_FLUSH)

static struct virtio_blk blk;
static struct virtio_mmio t;
static struct event_loop loop;
static struct device_host host;
static char path[64];

/* Interrupts injected through the irqfd since the last call. */
static uint64_t irqs(void)
{
	uint64_t n = 0;
	if (read(t.irq_fd, &n, sizeof(n)) != sizeof(n)) {
		cr_assert_eq(errno, EAGAIN);
		return 0;
	}
	return n;
}

/* ---- register access -------------------------------------------------------------------- */

static uint32_t rd(uint64_t off)
{
	uint8_t d[4] = { 0xa5, 0xa5, 0xa5, 0xa5 };
	virtio_mmio_ops.read(&t, off, d, 4);
	return get_le32(d);
}

/* A notify's requests may finish later on the host (the io_uring backend): waiting for them
 * stands for the I/O thread reaping their completions. */
static void wr(uint64_t off, uint32_t v)
{
	uint8_t d[4];
	put_le32(d, v);
	virtio_mmio_ops.write(&t, off, d, 4);
	if (off == QUEUE_NOTIFY)
		virtio_blk_wait_idle(&blk);
}

static uint64_t rd_n(uint64_t off, uint32_t len)
{
	uint8_t d[8];
	memset(d, 0xa5, sizeof(d));
	virtio_mmio_ops.read(&t, off, d, len);
	uint64_t v = 0;
	memcpy(&v, d, len);
	return v;
}

static void wr_n(uint64_t off, uint32_t len, uint64_t v)
{
	uint8_t d[8];
	memcpy(d, &v, 8);
	virtio_mmio_ops.write(&t, off, d, len);
	if (off == QUEUE_NOTIFY)
		virtio_blk_wait_idle(&blk);
}

/* ---- driver-side bring-up through the registers ------------------------------------------ */

static void write_driver_features(uint64_t f)
{
	wr(DRIVER_FEATURES_SEL, 0);
	wr(DRIVER_FEATURES, (uint32_t)f);
	wr(DRIVER_FEATURES_SEL, 1);
	wr(DRIVER_FEATURES, (uint32_t)(f >> 32));
}

static uint64_t read_device_features(void)
{
	wr(DEVICE_FEATURES_SEL, 0);
	uint64_t lo = rd(DEVICE_FEATURES);
	wr(DEVICE_FEATURES_SEL, 1);
	return lo | (uint64_t)rd(DEVICE_FEATURES) << 32;
}

/* Steps 1-6 of §3.1.1; true if the device kept FEATURES_OK. */
static bool negotiate(uint64_t features)
{
	wr(STATUS, 0);
	wr(STATUS, S_ACK);
	wr(STATUS, S_ACK | S_DRIVER);
	write_driver_features(features);
	wr(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	return rd(STATUS) & S_FEATURES_OK;
}

static void queue_addresses(uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(QUEUE_DESC_LOW, (uint32_t)desc);
	wr(QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(QUEUE_DRIVER_LOW, (uint32_t)avail);
	wr(QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
	wr(QUEUE_DEVICE_LOW, (uint32_t)used);
	wr(QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
}

static void setup_queue0(void)
{
	rings_clear();
	wr(QUEUE_SEL, 0);
	cr_assert_eq(rd(QUEUE_READY), 0);
	wr(QUEUE_NUM, QSIZE);
	queue_addresses(DESC_GPA, AVAIL_GPA, USED_GPA);
	wr(QUEUE_READY, 1);
	cr_assert_eq(rd(QUEUE_READY), 1, "queue 0 did not become ready");
}

static void bring_up(uint64_t features)
{
	cr_assert(negotiate(features), "FEATURES_OK refused");
	setup_queue0();
	wr(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	cr_assert_eq(rd(STATUS), S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

/* ---- fixture ---------------------------------------------------------------------------- */

static void setup(void)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, RAM_BYTES, 0xd0000000), 0);
	heap_next = HEAP_GPA;
	nioev = nirqfd = 0;
	strcpy(path, "/tmp/n90-test-mmio-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 64 * SECTOR), 0);
	close(fd);
	struct blk_options opt = { .path = path };
	cr_assert_eq(virtio_blk_init(&blk, &opt, &mem, 0), 0);
	cr_assert_eq(event_loop_init(&loop), 0);
	host = (struct device_host){ .mem = &mem, .loop = &loop, .ioeventfd = fake_ioeventfd, .irqfd = fake_irqfd,
				     .vm = &vm_token };
	cr_assert_eq(virtio_mmio_init(&t, &blk.dev, &host, MMIO_BASE, GSI), 0);
}

static void teardown(void)
{
	close(t.irq_fd);
	for (unsigned int i = 0; i < blk.dev.nqueues; i++)
		close(t.notify_fds[i]);
	event_loop_destroy(&loop);
	virtio_blk_destroy(&blk);
	unlink(path);
	guest_mem_free(&mem);
}

TestSuite(virtio_mmio, .init = setup, .fini = teardown);

/* ---- identity and features -------------------------------------------------------------- */

Test(virtio_mmio, magic_version_device_id)
{
	cr_assert_eq(rd(MAGIC), 0x74726976, "\"virt\"");
	cr_assert_eq(rd(VERSION), 2, "modern (non-legacy) register layout");
	cr_assert_eq(rd(DEVICE_ID), VIRTIO_ID_BLOCK);
	cr_assert_neq(rd(VENDOR_ID), 0);
	cr_assert_eq(rd(CONFIG_GENERATION), 0);
	cr_assert_eq(rd(STATUS), 0);
}

Test(virtio_mmio, wiring_registers_ioeventfd_per_queue_and_irqfd)
{
	cr_assert_eq(nirqfd, 1);
	cr_assert_eq(irqfd_call.vm, &vm_token);
	cr_assert_eq(irqfd_call.gsi, GSI);
	cr_assert_eq(irqfd_call.fd, t.irq_fd);
	cr_assert_eq(irqfd_call.resample_fd, -1, "edge-triggered");
	cr_assert(irqfd_call.assign);
	cr_assert_eq(nioev, blk.dev.nqueues);
	for (unsigned int i = 0; i < nioev; i++) {
		cr_assert_eq(ioev[i].vm, &vm_token);
		cr_assert_eq(ioev[i].addr, MMIO_BASE + QUEUE_NOTIFY);
		cr_assert_eq(ioev[i].len, 4);
		cr_assert(!ioev[i].pio);
		cr_assert(ioev[i].datamatch);
		cr_assert_eq(ioev[i].data, i, "datamatch on the queue index");
		cr_assert_eq(ioev[i].fd, t.notify_fds[i]);
		cr_assert(ioev[i].assign);
	}
	cr_assert_eq(loop.count, blk.dev.nqueues, "one I/O handler per queue");
}

Test(virtio_mmio, device_feature_select_windows)
{
	uint64_t f = blk.dev.device_features;
	wr(DEVICE_FEATURES_SEL, 0);
	cr_assert_eq(rd(DEVICE_FEATURES), (uint32_t)f);
	cr_assert(rd(DEVICE_FEATURES) & (1u << VIRTIO_BLK_F_FLUSH));
	cr_assert(rd(DEVICE_FEATURES) & (1u << VIRTIO_F_INDIRECT_DESC));
	cr_assert(rd(DEVICE_FEATURES) & (1u << VIRTIO_F_EVENT_IDX));
	wr(DEVICE_FEATURES_SEL, 1);
	cr_assert_eq(rd(DEVICE_FEATURES), (uint32_t)(f >> 32));
	cr_assert(rd(DEVICE_FEATURES) & 1, "VERSION_1 is bit 0 of the high word");
	wr(DEVICE_FEATURES_SEL, 2);
	cr_assert_eq(rd(DEVICE_FEATURES), 0);
	wr(DEVICE_FEATURES_SEL, 0xffffffff);
	cr_assert_eq(rd(DEVICE_FEATURES), 0);
	cr_assert_eq(read_device_features(), f);
}

Test(virtio_mmio, driver_feature_select_windows)
{
	wr(STATUS, S_ACK | S_DRIVER);
	wr(DRIVER_FEATURES_SEL, 1);
	wr(DRIVER_FEATURES, 1);
	cr_assert_eq(blk.dev.driver_features, F_VERSION_1);
	wr(DRIVER_FEATURES_SEL, 0);
	wr(DRIVER_FEATURES, 1u << VIRTIO_BLK_F_FLUSH);
	cr_assert_eq(blk.dev.driver_features, F_VERSION_1 | F_FLUSH, "each window keeps the other half");
	wr(DRIVER_FEATURES_SEL, 2);
	wr(DRIVER_FEATURES, 0xffffffff);
	cr_assert_eq(blk.dev.driver_features, F_VERSION_1 | F_FLUSH, "window 2 does not exist");
	cr_assert_eq(rd(DRIVER_FEATURES), 0, "write-only register");
}

Test(virtio_mmio, features_ok_accepts_an_offered_subset)
{
	cr_assert(negotiate(F_VERSION_1 | F_EVENT_IDX | F_FLUSH));
	cr_assert(blk.dev.queues[0].event_idx);
	cr_assert_eq(rd(STATUS), S_ACK | S_DRIVER | S_FEATURES_OK);
}

Test(virtio_mmio, features_ok_refused_for_a_feature_not_offered)
{
	cr_assert(!negotiate(F_VERSION_1 | 1ull /* bit 0, BARRIER: not offered */));
	cr_assert_eq(rd(STATUS), S_ACK | S_DRIVER);
	cr_assert(!negotiate(F_VERSION_1 | (1ull << 63)));
	cr_assert(!negotiate(F_VERSION_1 | (1ull << VIRTIO_BLK_F_RO)), "RO is not offered on a writable disk");
	/* The driver may retry with a subset. */
	write_driver_features(F_VERSION_1);
	wr(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	cr_assert(rd(STATUS) & S_FEATURES_OK);
}

Test(virtio_mmio, features_ok_refused_without_version_1)
{
	cr_assert(!negotiate(F_FLUSH | F_EVENT_IDX));
	cr_assert(!negotiate(0));
	cr_assert(!blk.dev.queues[0].event_idx, "refused features are not applied");
}

Test(virtio_mmio, features_are_frozen_after_features_ok)
{
	cr_assert(negotiate(F_VERSION_1));
	write_driver_features(F_VERSION_1 | F_EVENT_IDX | 1ull);
	cr_assert_eq(blk.dev.driver_features, F_VERSION_1);
	cr_assert(!blk.dev.queues[0].event_idx);
}

/* ---- queue setup ------------------------------------------------------------------------ */

Test(virtio_mmio, queue_setup_registers)
{
	cr_assert(negotiate(F_VERSION_1));
	wr(QUEUE_SEL, 0);
	cr_assert_eq(rd(QUEUE_NUM_MAX), VIRTIO_BLK_QUEUE_SIZE);
	cr_assert_eq(rd(QUEUE_READY), 0);
	wr(QUEUE_NUM, QSIZE);
	queue_addresses(DESC_GPA, AVAIL_GPA, USED_GPA);
	struct virtq *vq = &blk.dev.queues[0];
	cr_assert_eq(vq->size, QSIZE);
	cr_assert_eq(vq->desc_gpa, DESC_GPA);
	cr_assert_eq(vq->avail_gpa, AVAIL_GPA);
	cr_assert_eq(vq->used_gpa, USED_GPA);
	wr(QUEUE_DESC_HIGH, 0x12);
	cr_assert_eq(vq->desc_gpa, 0x12ull << 32 | DESC_GPA, "high half");
	wr(QUEUE_DESC_LOW, 0x40000);
	cr_assert_eq(vq->desc_gpa, 0x12ull << 32 | 0x40000, "low half keeps the high half");
	queue_addresses(DESC_GPA, AVAIL_GPA, USED_GPA);
	rings_clear();
	wr(QUEUE_READY, 1);
	cr_assert_eq(rd(QUEUE_READY), 1);
	cr_assert(vq->ready);
	cr_assert_eq(rd(STATUS) & S_NEEDS_RESET, 0);
}

Test(virtio_mmio, queue_num_max_for_missing_queues_is_0)
{
	wr(QUEUE_SEL, 1);
	cr_assert_eq(rd(QUEUE_NUM_MAX), 0);
	cr_assert_eq(rd(QUEUE_READY), 0);
	wr(QUEUE_NUM, 8); /* ignored, no crash */
	wr(QUEUE_READY, 1);
	cr_assert_eq(rd(QUEUE_READY), 0);
	wr(QUEUE_SEL, 0xffffffff);
	cr_assert_eq(rd(QUEUE_NUM_MAX), 0);
	wr(QUEUE_DESC_LOW, 0x1000);
	wr(QUEUE_SEL, 0);
	cr_assert_eq(rd(QUEUE_NUM_MAX), VIRTIO_BLK_QUEUE_SIZE);
	cr_assert_eq(blk.dev.queues[0].desc_gpa, 0, "no write leaked into queue 0");
}

Test(virtio_mmio, queue_registers_ignored_while_ready)
{
	bring_up(F_VERSION_1);
	struct virtq *vq = &blk.dev.queues[0];
	wr(QUEUE_NUM, 8);
	queue_addresses(0x50000, 0x60000, 0x70000);
	wr(QUEUE_DESC_HIGH, 1);
	cr_assert_eq(vq->size, QSIZE);
	cr_assert_eq(vq->desc_gpa, DESC_GPA);
	cr_assert_eq(vq->avail_gpa, AVAIL_GPA);
	cr_assert_eq(vq->used_gpa, USED_GPA);

	/* The live queue still works with the original layout. */
	uint64_t data = gbuf(SECTOR, 0x3c);
	uint64_t st = post_blk(VIRTIO_BLK_T_OUT, 1, data, SECTOR);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(status_at(st), VIRTIO_BLK_S_OK);

	/* QueueReady = 0 takes the queue down; then the registers are writable again. */
	wr(QUEUE_READY, 0);
	cr_assert_eq(rd(QUEUE_READY), 0);
	wr(QUEUE_NUM, 8);
	cr_assert_eq(vq->size, 8);
}

Test(virtio_mmio, queue_num_above_max_never_exceeds_max)
{
	cr_assert(negotiate(F_VERSION_1));
	wr(QUEUE_SEL, 0);
	wr(QUEUE_NUM, VIRTIO_BLK_QUEUE_SIZE + 1);
	cr_assert_leq(blk.dev.queues[0].size, VIRTIO_BLK_QUEUE_SIZE);
	wr(QUEUE_NUM, 0x10010); /* would truncate to 16 as a u16 */
	cr_assert_leq(blk.dev.queues[0].size, VIRTIO_BLK_QUEUE_SIZE);
	cr_assert_neq(blk.dev.queues[0].size, 0x10, "a 32-bit value is not silently truncated");
}

Test(virtio_mmio, misaligned_ring_refused_at_queue_ready)
{
	cr_assert(negotiate(F_VERSION_1));
	rings_clear();
	wr(QUEUE_SEL, 0);
	wr(QUEUE_NUM, QSIZE);
	queue_addresses(DESC_GPA + 8, AVAIL_GPA, USED_GPA);
	wr(QUEUE_READY, 1);
	cr_assert_eq(rd(QUEUE_READY), 0);
	cr_assert(blk.dev.queues[0].broken);
	cr_assert(rd(STATUS) & S_NEEDS_RESET);
	cr_assert_eq(irqs(), 0, "no interrupt before DRIVER_OK");
	cr_assert_eq(blk.dev.stats.errors, 1);
}

Test(virtio_mmio, ring_outside_ram_refused_at_queue_ready)
{
	cr_assert(negotiate(F_VERSION_1));
	wr(QUEUE_SEL, 0);
	wr(QUEUE_NUM, QSIZE);
	queue_addresses(DESC_GPA, AVAIL_GPA, USED_GPA);
	wr(QUEUE_DEVICE_HIGH, 1); /* used ring at 4 GiB + 0x30000: no RAM there */
	wr(QUEUE_READY, 1);
	cr_assert_eq(rd(QUEUE_READY), 0);
	cr_assert(rd(STATUS) & S_NEEDS_RESET);
	/* The driver cannot clear NEEDS_RESET by writing status... */
	wr(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	cr_assert(rd(STATUS) & S_NEEDS_RESET);
	/* ...only by resetting the device. */
	wr(STATUS, 0);
	cr_assert_eq(rd(STATUS), 0);
	bring_up(F_VERSION_1);
}

/* ---- interrupts and reset --------------------------------------------------------------- */

Test(virtio_mmio, interrupt_status_and_ack)
{
	bring_up(F_VERSION_1);
	cr_assert_eq(rd(INTERRUPT_STATUS), 0);
	cr_assert_eq(irqs(), 0);
	post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(rd(INTERRUPT_STATUS), VIRTIO_ISR_QUEUE);
	cr_assert_eq(irqs(), 1, "one edge through the irqfd");
	wr(INTERRUPT_ACK, VIRTIO_ISR_CONFIG); /* a bit that is not set */
	cr_assert_eq(rd(INTERRUPT_STATUS), VIRTIO_ISR_QUEUE);
	wr(INTERRUPT_ACK, VIRTIO_ISR_QUEUE);
	cr_assert_eq(rd(INTERRUPT_STATUS), 0);
	wr(INTERRUPT_STATUS, 0xff); /* read-only */
	cr_assert_eq(rd(INTERRUPT_STATUS), 0);
}

Test(virtio_mmio, status_0_resets_the_device)
{
	bring_up(F_VERSION_1 | F_EVENT_IDX);
	post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(rd(INTERRUPT_STATUS), VIRTIO_ISR_QUEUE);
	wr(QUEUE_SEL, 3);

	wr(STATUS, 0);
	cr_assert_eq(rd(STATUS), 0);
	cr_assert_eq(rd(INTERRUPT_STATUS), 0);
	cr_assert_eq(blk.dev.queue_select, 0);
	wr(QUEUE_SEL, 0);
	cr_assert_eq(rd(QUEUE_READY), 0);
	cr_assert_eq(blk.dev.driver_features, 0);
	cr_assert(!blk.dev.queues[0].event_idx);
	cr_assert_eq(blk.dev.queues[0].desc_gpa, 0);

	/* A notify after reset is not served. */
	post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(used_idx(), 1);

	/* And the device can be brought up again from scratch. */
	bring_up(F_VERSION_1);
	post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(used_idx(), 1);
}

/* Regression test, once a bug (devices/virtio/mmio.c, mmio_write32, case REG_STATUS): the device is reset when the
 * low byte of the written value is 0 (virtio_set_status(dev, (uint8_t)v)), but
 * InterruptStatus is cleared only when the whole 32-bit value is 0 (`if (v == 0)`). Writing
 * 0x100 to Status resets the device (Status reads 0, queues not ready) yet InterruptStatus
 * keeps the old bits; §4.2.2.1: "Upon reset, the device MUST clear all bits in
 * InterruptStatus". Expected INTERRUPT_STATUS 0 after the reset, actual 1. */
Test(virtio_mmio, status_write_with_high_bits_resets_consistently)
{
	bring_up(F_VERSION_1);
	post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(rd(INTERRUPT_STATUS), VIRTIO_ISR_QUEUE);
	wr(STATUS, 0x100);
	cr_assert_eq(rd(STATUS), 0, "the device did reset");
	cr_assert_eq(rd(INTERRUPT_STATUS), 0, "so InterruptStatus must be clear too");
}

/* ---- configuration space ---------------------------------------------------------------- */

Test(virtio_mmio, config_space_reads)
{
	cr_assert_eq(rd(CONFIG + 0), 64, "capacity, low word");
	cr_assert_eq(rd(CONFIG + 4), 0, "capacity, high word");
	cr_assert_eq(rd_n(CONFIG, 8), 64, "capacity as one 64-bit read");
	cr_assert_eq(rd(CONFIG + 12), VIRTIO_BLK_SEG_MAX);
	cr_assert_eq(rd(CONFIG + 20), SECTOR, "blk_size");
	cr_assert_eq(rd_n(CONFIG + 20, 2), SECTOR);
	cr_assert_eq(rd_n(CONFIG + 21, 1), SECTOR >> 8, "byte access inside a field");
	cr_assert_eq(rd_n(CONFIG + 56, 1), 1, "write_zeroes_may_unmap");
}

Test(virtio_mmio, config_space_out_of_range_reads_zero)
{
	cr_assert_eq(rd(CONFIG + VIRTIO_BLK_CONFIG_LEN), 0);
	cr_assert_eq(rd(CONFIG + VIRTIO_BLK_CONFIG_LEN - 2), 0, "crossing the end");
	cr_assert_eq(rd_n(CONFIG + VIRTIO_BLK_CONFIG_LEN - 4, 8), 0, "8 bytes crossing the end");
	cr_assert_eq(rd(0xffc), 0);
	cr_assert_eq(rd_n(0xfff, 1), 0);
}

Test(virtio_mmio, config_space_writes_do_not_change_blk_config)
{
	wr(CONFIG, 0xdeadbeef);
	wr_n(CONFIG + 20, 2, 0x1000);
	cr_assert_eq(rd(CONFIG), 64);
	cr_assert_eq(rd(CONFIG + 20), SECTOR);
	cr_assert_eq(blk.capacity, 64);
}

/* ---- access widths ---------------------------------------------------------------------- */

Test(virtio_mmio, non_32_bit_register_reads_return_0)
{
	cr_assert_eq(rd_n(MAGIC, 1), 0);
	cr_assert_eq(rd_n(MAGIC, 2), 0);
	cr_assert_eq(rd_n(MAGIC, 8), 0);
	cr_assert_eq(rd(MAGIC + 2), 0, "misaligned");
	cr_assert_eq(rd_n(DEVICE_ID, 2), 0);
}

Test(virtio_mmio, non_32_bit_register_writes_are_ignored)
{
	wr_n(STATUS, 1, S_ACK);
	cr_assert_eq(rd(STATUS), 0);
	wr_n(STATUS, 2, S_ACK);
	cr_assert_eq(rd(STATUS), 0);
	wr_n(STATUS, 8, S_ACK);
	cr_assert_eq(rd(STATUS), 0);
	wr(STATUS + 1, S_ACK);
	cr_assert_eq(rd(STATUS), 0, "misaligned");

	cr_assert(negotiate(F_VERSION_1));
	wr(QUEUE_SEL, 0);
	wr_n(QUEUE_NUM, 2, 8);
	cr_assert_eq(blk.dev.queues[0].size, VIRTIO_BLK_QUEUE_SIZE);
	wr_n(QUEUE_DESC_LOW, 8, DESC_GPA);
	cr_assert_eq(blk.dev.queues[0].desc_gpa, 0);
	wr_n(QUEUE_SEL, 1, 1);
	cr_assert_eq(blk.dev.queue_select, 0);

	/* A byte write to QueueNotify does not kick the queue. */
	wr(QUEUE_NUM, QSIZE);
	rings_clear();
	queue_addresses(DESC_GPA, AVAIL_GPA, USED_GPA);
	wr(QUEUE_READY, 1);
	wr(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	wr_n(QUEUE_NOTIFY, 1, 0);
	wr_n(QUEUE_NOTIFY, 2, 0);
	cr_assert_eq(used_idx(), 0);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(used_idx(), 1);
}

/* ---- notify end to end ------------------------------------------------------------------ */

Test(virtio_mmio, queue_notify_register_runs_blk_requests_end_to_end)
{
	bring_up(F_VERSION_1);
	uint64_t out = gbuf(2 * SECTOR, 0);
	uint8_t *o = gva(out, 2 * SECTOR);
	for (unsigned int i = 0; i < 2 * SECTOR; i++)
		o[i] = (uint8_t)(i * 13 + 1);
	uint64_t st1 = post_blk(VIRTIO_BLK_T_OUT, 7, out, 2 * SECTOR);
	/* The write is answered before the read of the same sectors is made: requests in flight
	 * together may finish in any order (virtio 1.2 §5.2.6), as they do on io_uring. */
	wr(QUEUE_NOTIFY, 0);
	uint64_t in = gbuf(2 * SECTOR, 0);
	uint64_t st2 = post_blk(VIRTIO_BLK_T_IN, 7, in, 2 * SECTOR);
	wr(QUEUE_NOTIFY, 0);

	cr_assert_eq(used_idx(), 2);
	cr_assert_eq(status_at(st1), VIRTIO_BLK_S_OK);
	cr_assert_eq(status_at(st2), VIRTIO_BLK_S_OK);
	cr_assert_eq(get_le32(gva(USED_GPA + 4 + 4, 4)), 1, "OUT used length");
	cr_assert_eq(get_le32(gva(USED_GPA + 12 + 4, 4)), 2 * SECTOR + 1, "IN used length");
	cr_assert(memcmp(gva(in, 2 * SECTOR), o, 2 * SECTOR) == 0);
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	uint8_t disk[2 * SECTOR];
	cr_assert_eq(pread(fd, disk, sizeof(disk), 7 * SECTOR), (ssize_t)sizeof(disk));
	close(fd);
	cr_assert(memcmp(disk, o, sizeof(disk)) == 0, "the image holds the written sectors");
	cr_assert_eq(rd(INTERRUPT_STATUS), VIRTIO_ISR_QUEUE);
	cr_assert_geq(irqs(), 1);
	cr_assert_eq(blk.dev.stats.requests, 2);
}

Test(virtio_mmio, ioeventfd_path_runs_the_same_handler)
{
	bring_up(F_VERSION_1);
	uint64_t st = post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	uint64_t one = 1;
	cr_assert_eq(write(t.notify_fds[0], &one, sizeof(one)), (ssize_t)sizeof(one)); /* what KVM does */
	struct epoll_event ev[4];
	int n = epoll_wait(loop.epoll_fd, ev, 4, 0);
	cr_assert_eq(n, 1);
	struct event_loop_entry *e = ev[0].data.ptr;
	cr_assert_not_null(e);
	e->fn(e->opaque, ev[0].events); /* one turn of the I/O thread */
	virtio_blk_wait_idle(&blk);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(status_at(st), VIRTIO_BLK_S_OK);
	cr_assert_eq(epoll_wait(loop.epoll_fd, ev, 4, 0), 0, "the kick was consumed");
}

Test(virtio_mmio, notify_before_driver_ok_is_not_served)
{
	cr_assert(negotiate(F_VERSION_1));
	setup_queue0();
	post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(used_idx(), 0);
	cr_assert_eq(irqs(), 0);
	wr(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(used_idx(), 1);
}

Test(virtio_mmio, notify_for_missing_queue_is_ignored)
{
	bring_up(F_VERSION_1);
	post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	wr(QUEUE_NOTIFY, 1);
	wr(QUEUE_NOTIFY, VIRTIO_MAX_QUEUES);
	wr(QUEUE_NOTIFY, 0xffffffff);
	cr_assert_eq(used_idx(), 0);
	cr_assert_eq(rd(STATUS) & S_NEEDS_RESET, 0);
}

Test(virtio_mmio, malformed_chain_sets_needs_reset_and_config_interrupt)
{
	bring_up(F_VERSION_1);
	uint64_t st = post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	put_le16(gva(AVAIL_GPA + 4 + 2, 2), QSIZE + 1); /* second slot: head out of range */
	avail_idx++;
	put_le16(gva(AVAIL_GPA + 2, 2), avail_idx);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(status_at(st), VIRTIO_BLK_S_OK, "the good request before it was served");
	cr_assert_eq(used_idx(), 1);
	cr_assert(rd(STATUS) & S_NEEDS_RESET);
	cr_assert(rd(INTERRUPT_STATUS) & VIRTIO_ISR_CONFIG);
	cr_assert_geq(irqs(), 1);
	cr_assert_eq(blk.dev.queues[0].last_error, VIRTQ_ERR_HEAD_INDEX);

	/* Broken: later requests are not served. */
	wr(INTERRUPT_ACK, VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG);
	post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(rd(INTERRUPT_STATUS), 0, "NEEDS_RESET is announced once");

	wr(STATUS, 0);
	cr_assert_eq(rd(STATUS), 0);
	bring_up(F_VERSION_1);
	uint64_t st2 = post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(status_at(st2), VIRTIO_BLK_S_OK);
}

Test(virtio_mmio, event_idx_negotiated_through_features)
{
	bring_up(F_VERSION_1 | F_EVENT_IDX);
	cr_assert(blk.dev.queues[0].event_idx);
	post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(irqs(), 1, "first completion interrupts");
	cr_assert_eq(avail_event(), 1, "device asks to be notified past avail idx 1");
	wr(INTERRUPT_ACK, VIRTIO_ISR_QUEUE);

	set_used_event(5); /* the driver wants an interrupt only after used idx passes 5 */
	post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(used_idx(), 2);
	cr_assert_eq(irqs(), 0, "suppressed by used_event");
	cr_assert_eq(rd(INTERRUPT_STATUS), 0);
	cr_assert_eq(avail_event(), 2);

	set_used_event(2);
	post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	wr(QUEUE_NOTIFY, 0);
	cr_assert_eq(used_idx(), 3);
	cr_assert_eq(irqs(), 1, "used idx passed used_event 2");
}

Test(virtio_mmio, console_device_identity_and_queues)
{
	struct virtio_console con;
	struct virtio_mmio ct;
	virtio_console_init(&con, &mem, (struct virtio_console_sink){ 0 });
	nioev = 0;
	cr_assert_eq(virtio_mmio_init(&ct, &con.dev, &host, MMIO_BASE + VIRTIO_MMIO_SIZE, GSI + 1), 0);
	uint8_t d[4];
	virtio_mmio_ops.read(&ct, DEVICE_ID, d, 4);
	cr_assert_eq(get_le32(d), VIRTIO_ID_CONSOLE);
	cr_assert_eq(nioev, 2, "rx and tx queues");
	for (uint32_t qi = 0; qi < 2; qi++) {
		put_le32(d, qi);
		virtio_mmio_ops.write(&ct, QUEUE_SEL, d, 4);
		virtio_mmio_ops.read(&ct, QUEUE_NUM_MAX, d, 4);
		cr_assert_eq(get_le32(d), VIRTIO_CONSOLE_QUEUE_SIZE);
		cr_assert_eq(ioev[qi].data, qi);
		cr_assert_eq(ioev[qi].addr, MMIO_BASE + VIRTIO_MMIO_SIZE + QUEUE_NOTIFY);
	}
	virtio_mmio_ops.read(&ct, CONFIG + 4, d, 4);
	cr_assert_eq(get_le32(d), 1, "max_nr_ports");
	close(ct.irq_fd);
	close(ct.notify_fds[0]);
	close(ct.notify_fds[1]);
}
