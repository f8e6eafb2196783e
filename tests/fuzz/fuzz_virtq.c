/* libFuzzer: a hostile driver. The input is the guest's descriptor table, available ring and
 * buffers; the walker and virtio-blk must never touch memory outside guest RAM (ASan would
 * see it: guest RAM is a plain mapping surrounded by nothing). Each input goes through
 * virtio-blk twice: chain by chain (virtio_blk_handle_chain), and through the notify path of
 * a running device on the io_uring or the synchronous backend (input bit 1), requests in
 * flight, completions published in batches, then a reset. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/blk.h"

#define RAM (256u << 10)
#define QSIZE 16

static void no_signal(struct virtio_dev *dev, unsigned int q, uint8_t cause)
{
	(void)dev;
	(void)q;
	(void)cause;
}

static void open_image(struct virtio_blk *blk, struct guest_mem *mem, enum blk_io_kind io)
{
	char path[] = "/tmp/n90-fuzz-blk-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 64 * 512))
		abort();
	close(fd);
	struct blk_options opt = { .path = path, .io = io };
	if (virtio_blk_init(blk, &opt, mem, 0))
		abort();
	unlink(path);
	blk->dev.transport = (struct virtio_transport){ no_signal, NULL };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	static struct virtio_blk blk, dev_blk[2];
	static struct virtq q;
	static struct virtq_chain chain;
	if (!mem.nregions) {
		if (guest_mem_alloc(&mem, 0, RAM, 0xd0000000))
			abort();
		open_image(&blk, &mem, BLK_IO_SYNC);
		open_image(&dev_blk[0], &mem, BLK_IO_SYNC);
		open_image(&dev_blk[1], &mem, BLK_IO_AUTO); /* io_uring where the host has it */
	}
	/* The input becomes the start of guest RAM: descriptor table at 0, avail ring at 0x100,
	 * used ring at 0x200, buffers anywhere. */
	memset(mem.regions[0].hva, 0, 0x1000);
	memcpy(mem.regions[0].hva, data, size < RAM ? size : RAM);
	virtq_init(&q, &mem, QSIZE);
	q.desc_gpa = 0;
	q.avail_gpa = 0x100;
	q.used_gpa = 0x200;
	q.event_idx = size & 1;
	if (virtq_enable(&q) != VIRTQ_OK)
		abort();
	for (int i = 0; i < 2 * QSIZE; i++) {
		int got = virtq_pop(&q, &chain);
		if (got <= 0)
			break;
		virtq_push(&q, chain.head, virtio_blk_handle_chain(&blk, &chain));
		virtq_should_signal(&q);
	}
	virtq_enable_notify(&q);

	/* The same rings again (as the input left them), served by a running device. */
	memcpy(mem.regions[0].hva, data, size < 0x1000 ? size : 0x1000);
	if (size < 0x1000)
		memset((uint8_t *)mem.regions[0].hva + size, 0, 0x1000 - size);
	struct virtio_blk *b = &dev_blk[(size >> 1) & 1];
	struct virtio_dev *dev = &b->dev;
	virtio_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	dev->driver_features = (1ull << VIRTIO_F_VERSION_1) | ((size & 1) ? 1ull << VIRTIO_F_EVENT_IDX : 0);
	virtio_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	dev->queues[0].size = QSIZE;
	dev->queues[0].desc_gpa = 0;
	dev->queues[0].avail_gpa = 0x100;
	dev->queues[0].used_gpa = 0x200;
	virtio_queue_enable(dev, 0);
	virtio_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
				       VIRTIO_STATUS_DRIVER_OK);
	virtio_queue_notify(dev, 0);
	/* Half the time the driver resets with requests possibly in flight, half the time the
	 * I/O thread reaps them first. */
	if (size & 4)
		virtio_blk_wait_idle(b);
	virtio_set_status(dev, 0);
	if (b->io.inflight || b->ndone || b->qs[0].free_top != VIRTIO_BLK_QUEUE_SIZE)
		abort(); /* a reset leaves nothing in flight and every slot free */
	return 0;
}
