/* virtio-blk with requests in flight (devices/virtio/blk.c, blk_io.c, blk_uring.c): taken off
 * the rings through the notify path as the I/O thread takes them, on both backends. Requests
 * finish out of order, a FLUSH finishes after the writes before it, a reset with requests in
 * flight acknowledges none of them and leaves nothing behind, several queues work side by
 * side, the completions of a batch are published once, and a blocked io_uring falls back to
 * the synchronous backend. The image is on /tmp (a real file system here: O_DIRECT requests
 * cannot finish inline, which makes "in flight" certain). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define QSIZE 64 /* three descriptors a request: room for 21 */
#include "devices/virtio/blk.h"
#include "tests/unit/multiq_driver.h"

#define IMAGE_BYTES (8ull << 20)
#define F_VERSION_1 (1ull << VIRTIO_F_VERSION_1)

static struct virtio_blk blk;
static bool blk_open;
static char path[64];
static unsigned int signals[VIRTIO_MAX_QUEUES];

static void fake_signal(struct virtio_dev *dev, unsigned int q, uint8_t cause)
{
	(void)dev;
	if (cause == VIRTIO_ISR_QUEUE && q < VIRTIO_MAX_QUEUES)
		signals[q]++;
}

static void setup(void)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, RAM_BYTES, 0xd0000000), 0);
	heap_next = HEAP_GPA;
	memset(signals, 0, sizeof(signals));
	strcpy(path, "/tmp/n90-test-inflight-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)IMAGE_BYTES), 0);
	/* Sector s holds bytes (s & 0xff): a read shows where it came from. */
	static uint8_t buf[1 << 16];
	for (uint64_t off = 0; off < IMAGE_BYTES; off += sizeof(buf)) {
		for (unsigned int i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)((off + i) / VIRTIO_BLK_SECTOR);
		cr_assert_eq(pwrite(fd, buf, sizeof(buf), (off_t)off), (ssize_t)sizeof(buf));
	}
	close(fd);
}

static void teardown(void)
{
	if (blk_open)
		virtio_blk_destroy(&blk);
	blk_open = false;
	unlink(path);
	guest_mem_free(&mem);
}

TestSuite(blk_inflight, .init = setup, .fini = teardown);

/* The device on `kind`, with `nq` queues, negotiated and running. */
static void start(enum blk_io_kind kind, unsigned int nq, bool direct)
{
	struct blk_options opt = { .path = path, .direct = direct, .queues = nq, .io = kind };
	cr_assert_eq(virtio_blk_init(&blk, &opt, &mem, 0), 0);
	blk_open = true;
	cr_assert_eq(blk.io.kind, kind, "backend %s: %s", blk_io_kind_name(kind), blk.io.why);
	blk.dev.transport = (struct virtio_transport){ fake_signal, NULL };
	mq_negotiate_and_enable(&blk.dev, blk.nqueues,
				F_VERSION_1 | (blk.nqueues > 1 ? 1ull << VIRTIO_BLK_F_MQ : 0));
	mq_driver_ok(&blk.dev);
}

/* A 4 KiB-aligned buffer (O_DIRECT wants the guest's buffers aligned). */
static uint64_t abuf(uint32_t len, int fill)
{
	heap_next = (heap_next + 4095) & ~4095ull;
	return gbuf(len, fill);
}

struct req {
	uint16_t head;
	uint64_t status, data;
};

/* header, data (device-writable for IN and GET_ID), status; not yet notified. */
static struct req post(unsigned int q, uint32_t type, uint64_t sector, uint32_t len, int fill)
{
	struct req r;
	uint64_t h = gbuf(16, 0);
	put_le32(gva(h, 4), type);
	put_le64(gva(h + 8, 8), sector);
	r.data = len ? abuf(len, fill) : 0;
	r.status = gbuf(1, 0xff);
	struct vseg s[3] = { { h, 16, false } };
	unsigned int n = 1;
	if (len)
		s[n++] = (struct vseg){ r.data, len, type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID };
	s[n++] = (struct vseg){ r.status, 1, true };
	r.head = post_chain(&drv[q], s, n);
	return r;
}

static uint8_t status_of(const struct req *r)
{
	return *(volatile uint8_t *)gva(r->status, 1);
}

/* The position of `head` in queue q's used ring (its completion order), or -1. */
static int used_pos(unsigned int q, uint16_t head)
{
	for (uint16_t i = 0; i < used_idx(&drv[q]); i++)
		if (used_elem(&drv[q], i).id == head)
			return i;
	return -1;
}

static void check_sector_data(const struct req *r, uint64_t sector, uint32_t len)
{
	const uint8_t *p = gva(r->data, len);
	for (uint32_t i = 0; i < len; i++)
		cr_assert_eq(p[i], (uint8_t)(sector + i / VIRTIO_BLK_SECTOR), "byte %u of the read at sector %llu", i,
			     (unsigned long long)sector);
}

/* ---- completion order ------------------------------------------------------------------ */

Test(blk_inflight, io_uring_completes_out_of_submission_order)
{
	start(BLK_IO_URING, 1, true);
	/* An O_DIRECT read is in flight until the disk answers; GET_ID is answered on the spot. */
	struct req slow = post(0, VIRTIO_BLK_T_IN, 1024, 65536, 0xee);
	struct req fast = post(0, VIRTIO_BLK_T_GET_ID, 0, 20, 0);
	virtio_queue_notify(&blk.dev, 0);
	virtio_blk_wait_idle(&blk);
	cr_assert_eq(used_idx(&drv[0]), 2);
	cr_assert_eq(used_pos(0, fast.head), 0, "the later request completes first");
	cr_assert_eq(used_pos(0, slow.head), 1);
	cr_assert_eq(status_of(&slow), VIRTIO_BLK_S_OK);
	cr_assert_eq(status_of(&fast), VIRTIO_BLK_S_OK);
	cr_assert_eq(used_elem(&drv[0], 1).len, 65536 + 1, "used length: data and status");
	check_sector_data(&slow, 1024, 65536);
	cr_assert_eq(memcmp(gva(fast.data, 13), "n90vmm-disk0", 13), 0);
}

Test(blk_inflight, sync_completes_in_submission_order)
{
	start(BLK_IO_SYNC, 1, true);
	struct req slow = post(0, VIRTIO_BLK_T_IN, 1024, 65536, 0xee);
	struct req fast = post(0, VIRTIO_BLK_T_GET_ID, 0, 20, 0);
	virtio_queue_notify(&blk.dev, 0);
	cr_assert_eq(used_idx(&drv[0]), 2, "synchronous: done when the notify returns");
	cr_assert_eq(used_pos(0, slow.head), 0);
	cr_assert_eq(used_pos(0, fast.head), 1);
	check_sector_data(&slow, 1024, 65536);
}

/* Many reads at once on io_uring, finishing in whatever order the disk picks: every one gets
 * its own data, status and used length. */
Test(blk_inflight, io_uring_many_reads_in_flight_each_gets_its_own_data)
{
	start(BLK_IO_URING, 1, true);
	struct req r[12];
	for (unsigned int i = 0; i < 12; i++)
		r[i] = post(0, VIRTIO_BLK_T_IN, 8 * (i * 37 % 100), 4096 * (1 + i % 3), 0xee);
	virtio_queue_notify(&blk.dev, 0);
	cr_assert_gt(blk.io.stats.max_inflight, 1, "requests were in flight together");
	virtio_blk_wait_idle(&blk);
	cr_assert_eq(used_idx(&drv[0]), 12);
	for (unsigned int i = 0; i < 12; i++) {
		int pos = used_pos(0, r[i].head);
		cr_assert_geq(pos, 0);
		cr_assert_eq(used_elem(&drv[0], (uint16_t)pos).len, 4096 * (1 + i % 3) + 1);
		cr_assert_eq(status_of(&r[i]), VIRTIO_BLK_S_OK);
		check_sector_data(&r[i], 8 * (i * 37 % 100), 4096 * (1 + i % 3));
	}
	cr_assert_eq(blk.bstats.completed, 12);
}

/* ---- flush --------------------------------------------------------------------------------- */

static void flush_after_writes(enum blk_io_kind kind)
{
	start(kind, 1, false);
	struct req w[4];
	for (unsigned int i = 0; i < 4; i++)
		w[i] = post(0, VIRTIO_BLK_T_OUT, 100 + 64 * i, 32768, 0x50 + (int)i);
	struct req f = post(0, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	virtio_queue_notify(&blk.dev, 0);
	virtio_blk_wait_idle(&blk);
	cr_assert_eq(used_idx(&drv[0]), 5);
	cr_assert_eq(status_of(&f), VIRTIO_BLK_S_OK);
	for (unsigned int i = 0; i < 4; i++) {
		cr_assert_eq(status_of(&w[i]), VIRTIO_BLK_S_OK);
		cr_assert_lt(used_pos(0, w[i].head), used_pos(0, f.head), "write %u completes before the flush", i);
	}
	/* And the bytes are in the file. */
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	static uint8_t buf[32768];
	for (unsigned int i = 0; i < 4; i++) {
		cr_assert_eq(pread(fd, buf, sizeof(buf), (off_t)((100 + 64 * i) * VIRTIO_BLK_SECTOR)), (ssize_t)sizeof(buf));
		for (unsigned int k = 0; k < sizeof(buf); k++)
			cr_assert_eq(buf[k], 0x50 + i);
	}
	close(fd);
}

Test(blk_inflight, io_uring_flush_completes_after_the_writes_before_it)
{
	flush_after_writes(BLK_IO_URING);
}

Test(blk_inflight, sync_flush_completes_after_the_writes_before_it)
{
	flush_after_writes(BLK_IO_SYNC);
}

/* ---- reset with requests in flight -------------------------------------------------------- */

Test(blk_inflight, io_uring_reset_with_requests_in_flight_acknowledges_none)
{
	start(BLK_IO_URING, 1, true);
	struct req r[8];
	uint16_t published = 0;
	bool in_flight = false;
	/* O_DIRECT reads and writes: still in flight when the notify returns (the disk has not
	 * answered yet). A machine fast enough to answer first gets a few more tries. */
	for (int attempt = 0; attempt < 20 && !in_flight; attempt++) {
		published = used_idx(&drv[0]);
		for (unsigned int i = 0; i < 8; i++)
			r[i] = post(0, i & 1 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 2048 + 256 * i, 131072, 0x77);
		virtio_queue_notify(&blk.dev, 0);
		in_flight = blk.io.inflight > 0;
		if (!in_flight) {
			virtio_blk_wait_idle(&blk);
			cr_assert_eq(used_idx(&drv[0]), (uint16_t)(published + 8));
		}
	}
	cr_assert(in_flight, "no request was still in flight after 20 tries");
	published = used_idx(&drv[0]);
	uint8_t before[8];
	for (unsigned int i = 0; i < 8; i++)
		before[i] = status_of(&r[i]);

	virtio_set_status(&blk.dev, 0); /* the driver resets the device */

	cr_assert_eq(blk.io.inflight, 0, "the reset waited for everything in flight");
	cr_assert_eq(blk.qs[0].free_top, VIRTIO_BLK_QUEUE_SIZE, "every request slot is free again");
	cr_assert_eq(blk.ndone, 0);
	cr_assert_eq(used_idx(&drv[0]), published, "nothing was acknowledged after the reset");
	for (unsigned int i = 0; i < 8; i++)
		cr_assert_eq(status_of(&r[i]), before[i], "request %u's status byte untouched by the reset", i);
	/* Nothing is acknowledged later either: a completion wake-up still queued finds nothing. */
	virtio_blk_io_event(&blk);
	cr_assert_eq(used_idx(&drv[0]), published);

	/* The driver starts over: fresh rings, and requests work again. */
	memset(signals, 0, sizeof(signals));
	mq_negotiate_and_enable(&blk.dev, 1, F_VERSION_1);
	mq_driver_ok(&blk.dev);
	struct req again = post(0, VIRTIO_BLK_T_IN, 8, 4096, 0xee);
	virtio_queue_notify(&blk.dev, 0);
	virtio_blk_wait_idle(&blk);
	cr_assert_eq(used_idx(&drv[0]), 1);
	cr_assert_eq(used_elem(&drv[0], 0).id, again.head);
	cr_assert_eq(status_of(&again), VIRTIO_BLK_S_OK);
	check_sector_data(&again, 8, 4096);
}

Test(blk_inflight, sync_reset_then_requests_work_again)
{
	start(BLK_IO_SYNC, 1, false);
	struct req a = post(0, VIRTIO_BLK_T_IN, 16, 4096, 0xee);
	virtio_queue_notify(&blk.dev, 0);
	cr_assert_eq(status_of(&a), VIRTIO_BLK_S_OK);
	virtio_set_status(&blk.dev, 0);
	cr_assert_eq(blk.qs[0].free_top, VIRTIO_BLK_QUEUE_SIZE);
	mq_negotiate_and_enable(&blk.dev, 1, F_VERSION_1);
	mq_driver_ok(&blk.dev);
	struct req b = post(0, VIRTIO_BLK_T_IN, 24, 4096, 0xee);
	virtio_queue_notify(&blk.dev, 0);
	cr_assert_eq(used_idx(&drv[0]), 1);
	check_sector_data(&b, 24, 4096);
}

/* ---- out of request slots ---------------------------------------------------------------- */

/* A queue that runs out of request slots stops taking chains; slots given back by requests
 * that finished inline must resume it within the same notify (no completion wake-up comes
 * for those, and the driver is not asked to notify again). 254 slots are made busy here. */
static void out_of_slots(enum blk_io_kind kind)
{
	start(kind, 1, false);
	blk.qs[0].free_top = 2;
	struct req r[7];
	for (unsigned int i = 0; i < 7; i++)
		r[i] = post(0, VIRTIO_BLK_T_GET_ID, 0, 20, 0);
	virtio_queue_notify(&blk.dev, 0);
	virtio_blk_wait_idle(&blk);
	cr_assert_eq(used_idx(&drv[0]), 7, "every request answered after one notify");
	for (unsigned int i = 0; i < 7; i++)
		cr_assert_eq(status_of(&r[i]), VIRTIO_BLK_S_OK);
	cr_assert_gt(blk.bstats.stalls, 0, "the queue did run out of slots");
	cr_assert_eq(blk.qs[0].free_top, 2);
	cr_assert_not(blk.qs[0].stalled);
	blk.qs[0].free_top = VIRTIO_BLK_QUEUE_SIZE;
}

Test(blk_inflight, sync_out_of_slots_resumes_in_the_same_notify)
{
	out_of_slots(BLK_IO_SYNC);
}

Test(blk_inflight, io_uring_out_of_slots_resumes_in_the_same_notify)
{
	out_of_slots(BLK_IO_URING);
}

/* ---- several queues ------------------------------------------------------------------------ */

static void multi_queue(enum blk_io_kind kind)
{
	start(kind, 3, false);
	cr_assert_eq(blk.nqueues, 3);
	cr_assert(blk.dev.device_features & (1ull << VIRTIO_BLK_F_MQ));
	uint8_t cfg[2];
	virtio_config_read(&blk.dev, 34, cfg, 2);
	cr_assert_eq(get_le16(cfg), 3, "num_queues in the configuration");
	struct req r[3];
	for (unsigned int q = 0; q < 3; q++)
		r[q] = post(q, VIRTIO_BLK_T_IN, 40 + q, 512, 0xee);
	for (unsigned int q = 0; q < 3; q++)
		virtio_queue_notify(&blk.dev, q);
	virtio_blk_wait_idle(&blk);
	for (unsigned int q = 0; q < 3; q++) {
		cr_assert_eq(used_idx(&drv[q]), 1, "queue %u answers on its own ring", q);
		cr_assert_eq(used_elem(&drv[q], 0).id, r[q].head);
		cr_assert_eq(status_of(&r[q]), VIRTIO_BLK_S_OK);
		check_sector_data(&r[q], 40 + q, 512);
		cr_assert_geq(signals[q], 1, "queue %u's interrupt", q);
	}
}

Test(blk_inflight, io_uring_multi_queue)
{
	multi_queue(BLK_IO_URING);
}

Test(blk_inflight, sync_multi_queue)
{
	multi_queue(BLK_IO_SYNC);
}

Test(blk_inflight, one_queue_without_mq_and_the_limit)
{
	struct blk_options opt = { .path = path, .queues = 1 };
	cr_assert_eq(virtio_blk_init(&blk, &opt, &mem, 0), 0);
	blk_open = true;
	cr_assert_eq(blk.nqueues, 1);
	cr_assert_not(blk.dev.device_features & (1ull << VIRTIO_BLK_F_MQ), "one queue: MQ not offered");
	virtio_blk_destroy(&blk);
	opt.queues = 64;
	cr_assert_eq(virtio_blk_init(&blk, &opt, &mem, 0), 0);
	cr_assert_eq(blk.nqueues, VIRTIO_BLK_MAX_QUEUES, "capped");
}

/* ---- batching ------------------------------------------------------------------------------- */

Test(blk_inflight, one_batch_one_used_index_update_and_one_interrupt)
{
	start(BLK_IO_SYNC, 1, false);
	for (unsigned int i = 0; i < 8; i++)
		post(0, VIRTIO_BLK_T_IN, i, 4096, 0xee);
	virtio_queue_notify(&blk.dev, 0);
	cr_assert_eq(used_idx(&drv[0]), 8);
	cr_assert_eq(blk.bstats.publishes, 1, "eight completions, one used-index update");
	cr_assert_eq(signals[0], 1, "and one interrupt");
}

Test(blk_inflight, io_uring_batch_is_one_submission)
{
	start(BLK_IO_URING, 1, false);
	for (unsigned int i = 0; i < 8; i++)
		post(0, VIRTIO_BLK_T_IN, i, 4096, 0xee);
	virtio_queue_notify(&blk.dev, 0);
	cr_assert_eq(blk.io.stats.submits, 1, "eight requests, one io_uring_enter");
	virtio_blk_wait_idle(&blk);
	cr_assert_eq(used_idx(&drv[0]), 8);
	cr_assert_leq(signals[0], blk.bstats.publishes);
}

/* ---- discard and write-zeroes through the ring --------------------------------------------- */

Test(blk_inflight, io_uring_write_zeroes_and_discard)
{
	start(BLK_IO_URING, 1, false);
	uint64_t seg = gbuf(32, 0);
	put_le64(gva(seg, 8), 200);
	put_le32(gva(seg + 8, 4), 16);
	put_le32(gva(seg + 12, 4), 0);
	put_le64(gva(seg + 16, 8), 300);
	put_le32(gva(seg + 24, 4), 8);
	put_le32(gva(seg + 28, 4), 1); /* unmap */
	uint64_t h = gbuf(16, 0), st = gbuf(1, 0xff);
	put_le32(gva(h, 4), VIRTIO_BLK_T_WRITE_ZEROES);
	struct vseg s[3] = { { h, 16, false }, { seg, 32, false }, { st, 1, true } };
	post_chain(&drv[0], s, 3);
	virtio_queue_notify(&blk.dev, 0);
	virtio_blk_wait_idle(&blk);
	cr_assert_eq(*(uint8_t *)gva(st, 1), VIRTIO_BLK_S_OK);
	struct req r1 = post(0, VIRTIO_BLK_T_IN, 200, 8192, 0xee);
	struct req r2 = post(0, VIRTIO_BLK_T_IN, 300, 4096, 0xee);
	virtio_queue_notify(&blk.dev, 0);
	virtio_blk_wait_idle(&blk);
	for (unsigned int i = 0; i < 8192; i++)
		cr_assert_eq(((uint8_t *)gva(r1.data, 8192))[i], 0);
	for (unsigned int i = 0; i < 4096; i++)
		cr_assert_eq(((uint8_t *)gva(r2.data, 4096))[i], 0);
	cr_assert_eq(blk.dev.stats.errors, 0);
}

/* ---- choosing the backend ------------------------------------------------------------------ */

Test(blk_inflight, blocked_io_uring_falls_back_to_sync)
{
	/* What a container's seccomp profile does: io_uring_setup fails with EPERM. Criterion
	 * runs each test in a process of its own, so the filter stays here. */
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	cr_assert_not_null(ctx);
	cr_assert_eq(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(io_uring_setup), 0), 0);
	cr_assert_eq(seccomp_load(ctx), 0);
	seccomp_release(ctx);
	struct blk_options opt = { .path = path };
	cr_assert_eq(virtio_blk_init(&blk, &opt, &mem, 0), 0);
	blk_open = true;
	cr_assert_eq(blk.io.kind, BLK_IO_SYNC);
	cr_assert_not_null(strstr(blk.io.why, "io_uring unavailable"), "%s", blk.io.why);
	cr_assert_eq(virtio_blk_event_fd(&blk), -1);
	virtio_blk_destroy(&blk);
	blk_open = false;
	opt.io = BLK_IO_URING;
	cr_assert_lt(virtio_blk_init(&blk, &opt, &mem, 0), 0, "io=uring asked for: no silent fallback");
}
