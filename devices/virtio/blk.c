#include "devices/virtio/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "vmm/bytes.h"
#include "vmm/clock.h"
#include "vmm/files.h"
#include "vmm/log.h"

#define HEADER_LEN 16
#define DISCARD_SEG_LEN 16
#define DISCARD_MAX_SEGS 32
#define WRITE_ZEROES_F_UNMAP 1

/* Byte offsets in struct virtio_blk_config (§5.2.4). */
#define CFG_CAPACITY 0
#define CFG_SEG_MAX 12
#define CFG_BLK_SIZE 20
#define CFG_NUM_QUEUES 34
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_DISCARD_SEG 40
#define CFG_DISCARD_ALIGNMENT 44
#define CFG_MAX_WRITE_ZEROES_SECTORS 48
#define CFG_MAX_WRITE_ZEROES_SEG 52
#define CFG_WRITE_ZEROES_MAY_UNMAP 56

static bool range_ok(const struct virtio_blk *blk, uint64_t sector, uint64_t sectors)
{
	return sector <= blk->capacity && sectors <= blk->capacity - sector;
}

static uint8_t blk_readwrite(struct virtio_blk *blk, struct blk_io *io, struct blk_req *r, const struct virtq_chain *c,
			     bool write, uint64_t sector)
{
	/* OUT: data follows the header in the readable part. IN: data fills the writable part
	 * except its last byte, the status. */
	uint64_t len = write ? c->read_len - HEADER_LEN : c->write_len - 1;
	if (len % VIRTIO_BLK_SECTOR || !range_ok(blk, sector, len / VIRTIO_BLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	if (write && blk->read_only)
		return VIRTIO_BLK_S_IOERR;
	r->write = write;
	r->offset = sector * VIRTIO_BLK_SECTOR;
	r->len = len;
	if (len == 0)
		return VIRTIO_BLK_S_OK;
	int n = virtq_chain_iov(c, !write, write ? HEADER_LEN : 0, len, r->iov, BLK_REQ_IOV);
	if (n < 0) {
		/* More segments than seg_max allows: served here and now, not in flight. */
		n = virtq_chain_iov(c, !write, write ? HEADER_LEN : 0, len, blk->big_iov, VIRTQ_MAX_CHAIN);
		if (n < 0)
			return VIRTIO_BLK_S_IOERR;
		int ret = blk_sync_rw(blk->fd, write, blk->big_iov, n, r->offset, &io->stats.syscalls);
		if (ret) {
			blk_req_fail(r, ret);
			return VIRTIO_BLK_S_IOERR;
		}
		return VIRTIO_BLK_S_OK;
	}
	r->iovcnt = n;
	blk_io_rw(io, r);
	return VIRTIO_BLK_S_OK;
}

/* DISCARD / WRITE_ZEROES: an array of {sector, num_sectors, flags} after the header. Every
 * range is checked before any is started. */
static uint8_t blk_discard(struct virtio_blk *blk, struct blk_io *io, struct blk_req *r, const struct virtq_chain *c,
			   uint32_t type)
{
	uint64_t payload = c->read_len - HEADER_LEN;
	struct {
		uint64_t sector;
		uint32_t sectors, flags;
	} segs[DISCARD_MAX_SEGS];
	if (blk->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (payload == 0 || payload % DISCARD_SEG_LEN || payload / DISCARD_SEG_LEN > DISCARD_MAX_SEGS)
		return VIRTIO_BLK_S_UNSUPP;
	unsigned int nsegs = (unsigned int)(payload / DISCARD_SEG_LEN);
	for (unsigned int i = 0; i < nsegs; i++) {
		uint8_t seg[DISCARD_SEG_LEN];
		virtq_chain_read(c, HEADER_LEN + (uint64_t)i * DISCARD_SEG_LEN, seg, sizeof(seg));
		memcpy(&segs[i].sector, seg, 8);
		memcpy(&segs[i].sectors, seg + 8, 4);
		memcpy(&segs[i].flags, seg + 12, 4);
		if (!range_ok(blk, segs[i].sector, segs[i].sectors))
			return VIRTIO_BLK_S_IOERR;
		/* §5.2.6.2: unknown flags, or unmap on discard, are errors the device reports. */
		if ((type == VIRTIO_BLK_T_DISCARD && segs[i].flags) || (segs[i].flags & ~WRITE_ZEROES_F_UNMAP))
			return VIRTIO_BLK_S_UNSUPP;
	}
	for (unsigned int i = 0; i < nsegs; i++) {
		if (!segs[i].sectors)
			continue;
		int mode = type == VIRTIO_BLK_T_DISCARD || (segs[i].flags & WRITE_ZEROES_F_UNMAP)
				   ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
				   : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
		/* Discard is a hint; zeroing is not, so it falls back to writing zeros. */
		blk_io_fallocate(io, r, mode, segs[i].sector * VIRTIO_BLK_SECTOR,
				 (uint64_t)segs[i].sectors * VIRTIO_BLK_SECTOR, type == VIRTIO_BLK_T_WRITE_ZEROES);
	}
	return VIRTIO_BLK_S_OK;
}

/* Parses chain `c` into `r` and starts it on `io`; the request finishes (io->complete) now
 * or when its last operation does. */
static void blk_start(struct virtio_blk *blk, struct blk_io *io, struct blk_req *r, const struct virtq_chain *c,
		      unsigned int queue, uint64_t t0)
{
	uint8_t header[HEADER_LEN];
	uint32_t type;
	uint64_t sector;
	uint8_t status;

	r->queue = (uint16_t)queue;
	r->head = c->head;
	r->gen = blk->gen;
	r->t_start_ns = t0;
	r->pending = 1;
	r->status = VIRTIO_BLK_S_OK;
	r->err = 0;
	r->type = 0xff;
	r->used_len = 0;
	r->len = 0;
	r->nzero = 0;
	r->status_hva = NULL;
	/* There must be a status byte to report anything at all; without one the request is
	 * dropped (used length 0) and counted as an error. */
	if (c->write_len < 1) {
		blk->dev.stats.errors++;
		blk_io_put(io, r);
		return;
	}
	const struct virtq_seg *last = &c->segs[c->nread + c->nwrite - 1];
	r->status_hva = last->hva + last->len - 1;
	if (virtq_chain_read(c, 0, header, HEADER_LEN) != HEADER_LEN) {
		r->status = VIRTIO_BLK_S_IOERR;
		blk_io_put(io, r);
		return;
	}
	memcpy(&type, header, 4);
	memcpy(&sector, header + 8, 8);
	blk->dev.stats.requests++;
	r->type = (uint8_t)(type < 0xff ? type : 0xff);
	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		status = blk_readwrite(blk, io, r, c, type == VIRTIO_BLK_T_OUT, sector);
		break;
	case VIRTIO_BLK_T_FLUSH:
		/* A read-only image has nothing to flush; fdatasync would be a no-op write. */
		if (!blk->read_only)
			blk_io_flush(io, r);
		status = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		uint64_t n = c->write_len - 1 < VIRTIO_BLK_ID_BYTES ? c->write_len - 1 : VIRTIO_BLK_ID_BYTES;
		r->used_len = (uint32_t)virtq_chain_write(c, 0, blk->id, n);
		status = VIRTIO_BLK_S_OK;
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = blk_discard(blk, io, r, c, type);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
	}
	if (status != VIRTIO_BLK_S_OK && r->status == VIRTIO_BLK_S_OK)
		r->status = status;
	blk_io_put(io, r);
}

/* A finished request's status byte and statistics; returns the used length. */
static uint32_t blk_finish(struct virtio_blk *blk, const struct blk_req *r)
{
	if (!r->status_hva)
		return 0;
	uint32_t data = 0;
	if (r->status == VIRTIO_BLK_S_OK) {
		if (r->type == VIRTIO_BLK_T_IN) {
			data = (uint32_t)r->len;
			blk->dev.stats.bytes_read += r->len;
		} else if (r->type == VIRTIO_BLK_T_OUT) {
			blk->dev.stats.bytes_written += r->len;
		} else if (r->type == VIRTIO_BLK_T_GET_ID) {
			data = r->used_len;
		}
	} else {
		blk->dev.stats.errors++;
		/* A failure of the host's I/O (r->err set) is logged, rate-limited: the guest decides
		 * how many there are. A bad request from the driver is only counted. */
		if (r->err && (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT))
			log_warn_limited("virtio-blk request failed", "%s%u: %s of %llu bytes at sector %llu failed: %s",
					 blk->dev.name, blk->index, r->type == VIRTIO_BLK_T_OUT ? "write" : "read",
					 (unsigned long long)r->len, (unsigned long long)(r->offset / VIRTIO_BLK_SECTOR),
					 strerror(r->err));
		else if (r->err && r->type == VIRTIO_BLK_T_FLUSH)
			log_warn_limited("virtio-blk request failed", "%s%u: flush failed: %s", blk->dev.name, blk->index,
					 strerror(r->err));
	}
	*(volatile uint8_t *)r->status_hva = r->status;
	return data + 1;
}

static void blk_req_done(void *opaque, struct blk_req *r)
{
	struct virtio_blk *blk = opaque;
	blk->done[blk->ndone++] = r;
}

/* Publishes the finished requests: status bytes, then per queue one used-index update and at
 * most one interrupt. Requests from before a reset only give their slot back. */
static void blk_publish(struct virtio_blk *blk)
{
	uint16_t fills[VIRTIO_BLK_MAX_QUEUES] = { 0 };
	if (!blk->ndone)
		return;
	uint64_t now = monotonic_ns();
	for (unsigned int i = 0; i < blk->ndone; i++) {
		struct blk_req *r = blk->done[i];
		struct blk_queue_state *qs = &blk->qs[r->queue];
		struct virtq *vq = &blk->dev.queues[r->queue];
		if (r->gen == blk->gen && vq->ready) {
			uint32_t used = blk_finish(blk, r);
			virtq_fill(vq, fills[r->queue]++, r->head, used);
			uint64_t lat = now - r->t_start_ns;
			blk->bstats.completed++;
			blk->bstats.latency_ns_sum += lat;
			if (lat > blk->bstats.latency_ns_max)
				blk->bstats.latency_ns_max = lat;
		}
		qs->free_stack[qs->free_top++] = (uint16_t)(r - qs->reqs);
	}
	blk->ndone = 0;
	for (unsigned int q = 0; q < blk->nqueues; q++) {
		if (!fills[q])
			continue;
		virtq_publish(&blk->dev.queues[q], fills[q]);
		blk->bstats.publishes++;
		virtio_queue_signal(&blk->dev, q);
	}
}

uint32_t virtio_blk_handle_chain(struct virtio_blk *blk, const struct virtq_chain *c)
{
	static __thread struct blk_req r;
	struct blk_io sync = { .kind = BLK_IO_SYNC, .fd = blk->fd, .event_fd = -1 };
	unsigned int done_before = blk->ndone;
	sync.complete = blk_req_done;
	sync.opaque = blk;
	blk_start(blk, &sync, &r, c, 0, 0);
	/* Synchronous: finished already; answer it here rather than through the rings. */
	blk->ndone = done_before;
	return blk_finish(blk, &r);
}

/* Takes chains off queue q while it has free request slots, starts them, pushes the batch to
 * the kernel in one call and publishes what finished; repeats until the ring stays empty. */
static void blk_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_blk *blk = dev->model;
	struct virtq *vq = &dev->queues[q];
	struct blk_queue_state *qs = &blk->qs[q];
	int got = 0;
again:
	blk_io_quiet(&blk->io, true);
	for (;;) {
		/* One clock read per pass (the vDSO, no syscall): each request's start. */
		uint64_t t0 = monotonic_ns();
		blk->bstats.batches++;
		while (qs->free_top && (got = virtq_pop(vq, &blk->chain)) > 0)
			blk_start(blk, &blk->io, &qs->reqs[qs->free_stack[--qs->free_top]], &blk->chain, q, t0);
		qs->stalled = !qs->free_top && got >= 0;
		blk->bstats.stalls += qs->stalled;
		blk_io_submit(&blk->io);
		blk_io_reap(&blk->io);
		blk_publish(blk);
		if (qs->stalled && qs->free_top) {
			/* Requests that finished inline gave their slots back: keep taking chains (no
			 * completion wake-up would resume this queue, and notifications are off). */
			qs->stalled = false;
			continue;
		}
		if (got < 0 || qs->stalled || !virtq_enable_notify(vq))
			break;
	}
	/* Completions that arrive from now on wake the I/O thread; catch those that came in
	 * between. */
	blk_io_quiet(&blk->io, false);
	if (blk_io_reap(&blk->io))
		blk_publish(blk);
	if (qs->stalled && qs->free_top) {
		/* Those freed the slots a stalled queue waits for, and their wake-up was silenced. */
		qs->stalled = false;
		goto again;
	}
}

int virtio_blk_event_fd(const struct virtio_blk *blk)
{
	return blk->io.event_fd;
}

void virtio_blk_io_event(struct virtio_blk *blk)
{
	unsigned int resume = 0;
	pthread_mutex_lock(&blk->dev.lock);
	blk_io_event(&blk->io);
	blk_publish(blk);
	for (unsigned int q = 0; q < blk->nqueues; q++)
		if (blk->qs[q].stalled && blk->qs[q].free_top) {
			blk->qs[q].stalled = false;
			resume |= 1u << q;
		}
	pthread_mutex_unlock(&blk->dev.lock);
	for (unsigned int q = 0; q < blk->nqueues; q++)
		if (resume & (1u << q))
			virtio_queue_run(&blk->dev, q, blk_queue_notify);
}

void virtio_blk_wait_idle(struct virtio_blk *blk)
{
	pthread_mutex_lock(&blk->dev.lock);
	blk_io_drain(&blk->io);
	blk_publish(blk);
	pthread_mutex_unlock(&blk->dev.lock);
}

/* Driver reset (dev->lock held): whatever is in flight finishes before the reset returns, so
 * no guest buffer is written afterwards, and none of it is acknowledged. */
static void blk_reset(struct virtio_dev *dev)
{
	struct virtio_blk *blk = dev->model;
	blk->gen++;
	blk_io_drain(&blk->io);
	blk_publish(blk);
	for (unsigned int q = 0; q < blk->nqueues; q++)
		blk->qs[q].stalled = false;
}

void virtio_blk_print_stats(const struct virtio_blk *blk, unsigned int index, uint64_t vcpu_exits,
			    const char *exits_kind, uint64_t io_thread_waits)
{
	const struct virtio_stats *s = &blk->dev.stats;
	const struct virtio_blk_stats *b = &blk->bstats;
	double n = b->completed ? (double)b->completed : 1;
	/* Host syscalls per request: the notify eventfd reads, the backend's own calls, the
	 * interrupt (irqfd) writes and the I/O thread's epoll waits (shared with any other
	 * device that was busy). */
	uint64_t syscalls = s->notifies + blk->io.stats.syscalls + s->interrupts + io_thread_waits;
	fprintf(stderr,
		"stats: virtio-blk%u backend=%s queues=%u completed=%llu batches=%llu publishes=%llu max_inflight=%llu "
		"stalls=%llu\n",
		index, blk_io_kind_name(blk->io.kind), blk->nqueues, (unsigned long long)b->completed,
		(unsigned long long)b->batches, (unsigned long long)b->publishes,
		(unsigned long long)blk->io.stats.max_inflight, (unsigned long long)b->stalls);
	fprintf(stderr,
		"stats: virtio-blk%u per-request exits=%.2f (%s) syscalls=%.2f (notify %.2f + backend %.2f + irq %.2f + "
		"epoll %.2f) notify-to-completion-us=%.1f (max %.1f) interrupts=%.3f notifies=%.3f\n",
		index, (double)vcpu_exits / n, exits_kind, (double)syscalls / n, (double)s->notifies / n,
		(double)blk->io.stats.syscalls / n, (double)s->interrupts / n, (double)io_thread_waits / n,
		b->completed ? (double)b->latency_ns_sum / n / 1000.0 : 0.0, (double)b->latency_ns_max / 1000.0,
		(double)s->interrupts / n, (double)s->notifies / n);
}

static void blk_config_read(struct virtio_dev *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
	struct virtio_blk *blk = dev->model;
	memcpy(data, blk->config + offset, len);
}

static const struct virtio_device_ops blk_ops = {
	.queue_notify = blk_queue_notify,
	.config_read = blk_config_read,
	.reset = blk_reset,
};

int virtio_blk_init(struct virtio_blk *blk, const struct blk_options *opt, const struct guest_mem *mem,
		    unsigned int index)
{
	/* Opened without waiting (a FIFO would block open(2)) and checked by virtio_blk_init_fd. */
	struct stat st;
	int flags = (opt->read_only ? O_RDONLY : O_RDWR) | (opt->direct ? O_DIRECT : 0);
	int fd = file_open(opt->path, flags, 0, &st);
	if (fd < 0) {
		memset(blk, 0, sizeof(*blk));
		blk->fd = -1;
		log_user("n90vmm: disk '%s': %s", opt->path, strerror(-fd));
		return fd;
	}
	return virtio_blk_init_fd(blk, fd, opt, mem, index);
}

int virtio_blk_init_fd(struct virtio_blk *blk, int fd, const struct blk_options *opt, const struct guest_mem *mem,
		       unsigned int index)
{
	struct stat st;
	memset(blk, 0, sizeof(*blk));
	blk->read_only = opt->read_only;
	blk->fd = fd;
	blk->index = index;
	if (fstat(blk->fd, &st) < 0)
		st.st_mode = 0;
	if (!(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		log_user("n90vmm: disk '%s': is %s, not a regular file or block device", opt->path, file_kind(st.st_mode));
		close(blk->fd);
		blk->fd = -1;
		return -EINVAL;
	}
	/* Image I/O never waits for a peer, so O_NONBLOCK only meant "do not wait in open";
	 * left on, io_uring would take it as "never block" and fail reads with EAGAIN. */
	file_set_blocking(blk->fd);
	/* A second monitor writing the same image would corrupt it: refuse, as crosvm does. */
	if (flock(blk->fd, (opt->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		int err = errno;
		char holder[128];
		if (err == EWOULDBLOCK) {
			file_lock_holder(&st, holder, sizeof(holder));
			log_user("n90vmm: disk '%s': in use by %s, which holds a lock on it", opt->path, holder);
		} else {
			log_user("n90vmm: disk '%s': cannot lock it: %s", opt->path, strerror(err));
		}
		close(blk->fd);
		blk->fd = -1;
		return err == EWOULDBLOCK ? -EBUSY : -err;
	}
	uint64_t bytes = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(blk->fd, 0, SEEK_END);
		bytes = end > 0 ? (uint64_t)end : 0;
	}
	blk->capacity = bytes / VIRTIO_BLK_SECTOR;
	if (bytes % VIRTIO_BLK_SECTOR)
		log_warn("disk '%s': size %llu is not a multiple of 512; the last %llu bytes are not visible", opt->path,
			 (unsigned long long)bytes, (unsigned long long)(bytes % VIRTIO_BLK_SECTOR));
	snprintf(blk->id, sizeof(blk->id), "n90vmm-disk%u", index);

	memcpy(blk->config + CFG_CAPACITY, &blk->capacity, 8);
	put_le32(blk->config + CFG_SEG_MAX, VIRTIO_BLK_SEG_MAX);
	put_le32(blk->config + CFG_BLK_SIZE, VIRTIO_BLK_SECTOR);
	put_le32(blk->config + CFG_MAX_DISCARD_SECTORS, UINT32_MAX / VIRTIO_BLK_SECTOR);
	put_le32(blk->config + CFG_MAX_DISCARD_SEG, DISCARD_MAX_SEGS);
	put_le32(blk->config + CFG_DISCARD_ALIGNMENT, 1);
	put_le32(blk->config + CFG_MAX_WRITE_ZEROES_SECTORS, UINT32_MAX / VIRTIO_BLK_SECTOR);
	put_le32(blk->config + CFG_MAX_WRITE_ZEROES_SEG, DISCARD_MAX_SEGS);
	blk->config[CFG_WRITE_ZEROES_MAY_UNMAP] = 1;

	blk->nqueues = opt->queues > 1 ? opt->queues : 1;
	if (blk->nqueues > VIRTIO_BLK_MAX_QUEUES)
		blk->nqueues = VIRTIO_BLK_MAX_QUEUES;
	put_le16(blk->config + CFG_NUM_QUEUES, (uint16_t)blk->nqueues);
	uint64_t features = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
			    (1ull << VIRTIO_BLK_F_FLUSH);
	if (blk->nqueues > 1)
		features |= 1ull << VIRTIO_BLK_F_MQ;
	if (opt->read_only)
		features |= 1ull << VIRTIO_BLK_F_RO;
	else
		features |= (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	virtio_dev_init(&blk->dev, "virtio-blk", VIRTIO_ID_BLOCK, features, blk->nqueues, VIRTIO_BLK_QUEUE_SIZE,
			VIRTIO_BLK_CONFIG_LEN, mem, &blk_ops, blk);
	/* Request slots: mapped once (page-aligned, as the io_uring backend's tags need 64
	 * bytes), their pages touched only by requests that use them. */
	for (unsigned int q = 0; q < blk->nqueues; q++) {
		void *reqs = mmap(NULL, VIRTIO_BLK_QUEUE_SIZE * sizeof(struct blk_req), PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		blk->qs[q].reqs = reqs == MAP_FAILED ? NULL : reqs;
		if (!blk->qs[q].reqs) {
			virtio_blk_destroy(blk);
			return -ENOMEM;
		}
		blk->qs[q].free_top = VIRTIO_BLK_QUEUE_SIZE;
		for (unsigned int i = 0; i < VIRTIO_BLK_QUEUE_SIZE; i++)
			blk->qs[q].free_stack[i] = (uint16_t)(VIRTIO_BLK_QUEUE_SIZE - 1 - i);
	}
	int ret = blk_io_open(&blk->io, blk->fd, opt->io, blk->nqueues * VIRTIO_BLK_QUEUE_SIZE, blk_req_done, blk);
	if (ret < 0) {
		fprintf(stderr, "n90vmm: disk '%s': io_uring: %s\n", opt->path, strerror(-ret));
		virtio_blk_destroy(blk);
		return ret;
	}
	return 0;
}

int virtio_blk_sync(struct virtio_blk *blk)
{
	if (blk->fd < 0 || blk->read_only)
		return 0;
	return fdatasync(blk->fd) < 0 ? -errno : 0;
}

void virtio_blk_destroy(struct virtio_blk *blk)
{
	/* Under the lock: the I/O thread may still be turning (it stops after the devices). */
	if (blk->io.kind == BLK_IO_URING) {
		pthread_mutex_lock(&blk->dev.lock);
		blk_io_close(&blk->io);
		pthread_mutex_unlock(&blk->dev.lock);
	}
	blk->ndone = 0;
	for (unsigned int q = 0; q < VIRTIO_BLK_MAX_QUEUES; q++) {
		if (blk->qs[q].reqs)
			munmap(blk->qs[q].reqs, VIRTIO_BLK_QUEUE_SIZE * sizeof(struct blk_req));
		blk->qs[q].reqs = NULL;
	}
	if (blk->fd >= 0)
		close(blk->fd);
	blk->fd = -1;
}
