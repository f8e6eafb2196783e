/* libFuzzer: a hostile driver. The input is the guest's descriptor table, available ring and
 * buffers; the walker and virtio-blk must never touch memory outside guest RAM (ASan would
 * see it: guest RAM is a plain mapping surrounded by nothing). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/blk.h"

#define RAM (256u << 10)
#define QSIZE 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	static struct virtio_blk blk;
	static struct virtq q;
	static struct virtq_chain chain;
	if (!mem.nregions) {
		char path[] = "/tmp/n90-fuzz-blk-XXXXXX";
		int fd = mkstemp(path);
		if (fd < 0 || ftruncate(fd, 64 * 512) || guest_mem_alloc(&mem, 0, RAM, 0xd0000000))
			abort();
		close(fd);
		struct blk_options opt = { .path = path };
		if (virtio_blk_init(&blk, &opt, &mem, 0))
			abort();
		unlink(path);
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
	return 0;
}
