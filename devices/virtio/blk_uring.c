/* virtio-blk's io_uring backend (liburing). One ring per disk, created before the sandbox:
 *
 * - started disabled (IORING_SETUP_R_DISABLED), the image registered as fixed file 0, the
 *   completion eventfd registered, then IORING_REGISTER_RESTRICTIONS: only READV, WRITEV,
 *   FSYNC and FALLOCATE, only on fixed files (IOSQE_FIXED_FILE required; IO_DRAIN allowed),
 *   and no register opcode once enabled but IORING_UNREGISTER_FILES (the image given back
 *   at exit). The threads' seccomp filters add io_uring_enter and that one
 *   io_uring_register opcode (docs/sandbox.md): what the ring can do is what the image allows.
 * - the completion eventfd is off (IORING_CQ_EVENTFD_DISABLED, a flag in the shared ring, no
 *   syscall) while the device submits and reaps what finished inline, so a cached read costs
 *   no extra wake-up of the I/O thread; it is turned back on, and the ring looked at once
 *   more, before the device returns to its loop.
 * - a FLUSH's fsync carries IOSQE_IO_DRAIN: it starts only after every operation submitted
 *   before it finished, so every write completed before the flush is in what it makes
 *   durable (and every write merely in flight then, too).
 *
 * user_data is the request's address with the operation in its low 6 bits (requests are
 * 64-byte aligned): 0 read/write, 1 flush, 2 discard, 32 + i write-zeroes range i. */
#include "devices/virtio/blk_io.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices/virtio/blk.h"

#define OP_RW 0u
#define OP_FLUSH 1u
#define OP_DISCARD 2u
#define OP_ZERO 32u
#define OP_MASK 63u

_Static_assert(_Alignof(struct blk_req) >= 64, "user_data keeps the operation in the request address's low bits");
_Static_assert(BLK_REQ_ZERO_RANGES <= 32, "write-zeroes range index fits the tag");

/* The ring and its completion eventfd go; the blk_io falls back to having none. */
static void ring_free(struct blk_io *io)
{
	io_uring_queue_exit(io->ring);
	free(io->ring);
	io->ring = NULL;
	if (io->event_fd >= 0)
		close(io->event_fd);
	io->event_fd = -1;
}

/* io_uring_register(2) itself: Debian 12's liburing 2.3 declares io_uring_register_restrictions
 * and io_uring_enable_rings but its library does not export them. Only used at setup. */
static int ring_register(struct io_uring *ring, unsigned int opcode, const void *arg, unsigned int nr)
{
	long ret = syscall(__NR_io_uring_register, ring->ring_fd, opcode, arg, nr);
	return ret < 0 ? -errno : (int)ret;
}

int blk_uring_open(struct blk_io *io, unsigned int depth)
{
	struct io_uring_params p;
	int ret;
	unsigned int entries = 1;
	while (entries < depth && entries < 4096)
		entries <<= 1;
	io->ring = calloc(1, sizeof(*io->ring));
	if (!io->ring)
		return -ENOMEM;
	memset(&p, 0, sizeof(p));
	/* Discard and write-zeroes take one entry per range: room for more completions than
	 * submissions, and NODROP keeps any overflow instead of losing it. */
	p.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 4;
	ret = io_uring_queue_init_params(entries, io->ring, &p);
	if (ret < 0) {
		free(io->ring);
		io->ring = NULL;
		return ret;
	}
	if (!(p.features & IORING_FEAT_NODROP)) {
		ret = -EOPNOTSUPP;
		goto fail;
	}
	io->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (io->event_fd < 0) {
		ret = -errno;
		goto fail;
	}
	if ((ret = io_uring_register_files(io->ring, &io->fd, 1)) < 0 ||
	    (ret = io_uring_register_eventfd(io->ring, io->event_fd)) < 0)
		goto fail;
	struct io_uring_restriction res[8];
	memset(res, 0, sizeof(res));
	static const uint8_t ops[] = { IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC, IORING_OP_FALLOCATE };
	unsigned int n = 0;
	for (unsigned int i = 0; i < sizeof(ops); i++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = ops[i];
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n++].sqe_flags = IOSQE_FIXED_FILE | IOSQE_IO_DRAIN;
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
	res[n++].sqe_flags = IOSQE_FIXED_FILE;
	/* The one register opcode left: giving the image back at the end (below). */
	res[n].opcode = IORING_RESTRICTION_REGISTER_OP;
	res[n++].register_op = IORING_UNREGISTER_FILES;
	if ((ret = ring_register(io->ring, IORING_REGISTER_RESTRICTIONS, res, n)) < 0 ||
	    (ret = ring_register(io->ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0)) < 0)
		goto fail;
	/* The eventfd switch lives in the CQ ring's flags (kernel 5.8): without it every
	 * inline completion would wake the I/O thread once more. */
	if ((ret = io_uring_cq_eventfd_toggle(io->ring, true)) < 0)
		goto fail;
	return 0;
fail:
	ring_free(io);
	return ret;
}

void blk_uring_close(struct blk_io *io)
{
	if (!io->ring)
		return;
	blk_io_drain(io);
	/* The ring's own teardown is asynchronous and holds the image open (and its flock) for
	 * a while after close: unregister it first, which lets go of it before returning. */
	ring_register(io->ring, IORING_UNREGISTER_FILES, NULL, 0);
	ring_free(io);
}

static struct io_uring_sqe *get_sqe(struct blk_io *io)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(io->ring);
	if (!sqe) {
		/* The submission ring is full: push it and take a slot again. */
		blk_uring_submit(io);
		sqe = io_uring_get_sqe(io->ring);
	}
	return sqe;
}

static bool queue_op(struct blk_io *io, struct blk_req *req, struct io_uring_sqe *sqe, unsigned int op)
{
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)req | op);
	sqe->flags |= IOSQE_FIXED_FILE;
	req->pending++;
	io->queued++;
	if (++io->inflight > io->stats.max_inflight)
		io->stats.max_inflight = io->inflight;
	return true;
}

void blk_uring_rw(struct blk_io *io, struct blk_req *req)
{
	struct io_uring_sqe *sqe = get_sqe(io);
	if (!sqe) {
		int ret = blk_sync_rw(io->fd, req->write, req->iov, req->iovcnt, req->offset, &io->stats.syscalls);
		if (ret)
			blk_req_fail(req, ret);
		return;
	}
	if (req->write)
		io_uring_prep_writev(sqe, 0, req->iov, (unsigned int)req->iovcnt, req->offset);
	else
		io_uring_prep_readv(sqe, 0, req->iov, (unsigned int)req->iovcnt, req->offset);
	queue_op(io, req, sqe, OP_RW);
}

void blk_uring_flush(struct blk_io *io, struct blk_req *req)
{
	struct io_uring_sqe *sqe = get_sqe(io);
	if (!sqe) {
		blk_io_drain(io);
		io->stats.syscalls++;
		if (fdatasync(io->fd) < 0)
			blk_req_fail(req, -errno);
		return;
	}
	io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
	sqe->flags |= IOSQE_IO_DRAIN;
	queue_op(io, req, sqe, OP_FLUSH);
}

void blk_uring_fallocate(struct blk_io *io, struct blk_req *req, int mode, uint64_t offset, uint64_t len,
			 bool zero_fallback)
{
	unsigned int op = OP_DISCARD;
	if (zero_fallback) {
		/* blk.c numbers the ranges as it issues them. */
		unsigned int i = req->nzero;
		if (i >= BLK_REQ_ZERO_RANGES)
			goto sync;
		req->zero[i].offset = offset;
		req->zero[i].len = len;
		req->nzero++;
		op = OP_ZERO + i;
	}
	struct io_uring_sqe *sqe = get_sqe(io);
	if (!sqe)
		goto sync;
	io_uring_prep_fallocate(sqe, 0, mode, offset, len);
	queue_op(io, req, sqe, op);
	return;
sync:
	io->stats.syscalls++;
	if (fallocate(io->fd, mode, (off_t)offset, (off_t)len) < 0 && zero_fallback) {
		int ret = blk_sync_zero(io->fd, offset, len, &io->stats.syscalls);
		if (ret)
			blk_req_fail(req, ret);
	}
}

void blk_uring_submit(struct blk_io *io)
{
	while (io->queued) {
		io->stats.syscalls++;
		io->stats.submits++;
		int ret = io_uring_submit(io->ring);
		if (ret < 0) {
			if (ret == -EINTR || ret == -EAGAIN || ret == -EBUSY) {
				/* Out of resources for now: make room by finishing something. */
				if (ret != -EINTR)
					blk_uring_reap(io, true);
				continue;
			}
			/* Cannot happen with a valid ring; completing nothing would hang the guest. */
			abort();
		}
		io->queued -= (unsigned int)ret < io->queued ? (unsigned int)ret : io->queued;
		if (ret == 0)
			break;
	}
}

/* One finished operation of `req`. */
static void finish_op(struct blk_io *io, struct blk_req *req, unsigned int op, int res)
{
	if (op == OP_RW) {
		if (res >= 0 && (uint64_t)res < req->len) {
			/* Short transfer (end of file, or a signal): the rest synchronously. */
			struct iovec *iov = req->iov;
			int iovcnt = req->iovcnt;
			uint64_t n = (uint64_t)res;
			while (iovcnt > 0 && n >= iov->iov_len) {
				n -= iov->iov_len;
				iov++;
				iovcnt--;
			}
			if (iovcnt > 0) {
				iov->iov_base = (uint8_t *)iov->iov_base + n;
				iov->iov_len -= n;
			}
			res = blk_sync_rw(io->fd, req->write, iov, iovcnt, req->offset + (uint64_t)res, &io->stats.syscalls);
		} else if (res == -EAGAIN || res == -EINTR) {
			/* An image left non-blocking, or an interrupted transfer: do it here. */
			res = blk_sync_rw(io->fd, req->write, req->iov, req->iovcnt, req->offset, &io->stats.syscalls);
		}
	} else if (op >= OP_ZERO && res < 0) {
		/* The file system cannot zero a range: write zeros instead. */
		unsigned int i = op - OP_ZERO;
		res = blk_sync_zero(io->fd, req->zero[i].offset, req->zero[i].len, &io->stats.syscalls);
	} else if (op == OP_DISCARD) {
		res = 0; /* a hint: a file system that cannot punch holes keeps the data */
	}
	if (res < 0)
		blk_req_fail(req, res);
	blk_io_put(io, req);
}

unsigned int blk_uring_reap(struct blk_io *io, bool wait)
{
	unsigned int n = 0;
	for (;;) {
		struct io_uring_cqe *cqe;
		if (io_uring_peek_cqe(io->ring, &cqe) != 0) {
			if (!wait || n || !io->inflight)
				return n;
			io->stats.syscalls++;
			int ret = io_uring_wait_cqe(io->ring, &cqe);
			if (ret < 0) {
				if (ret == -EINTR || ret == -EAGAIN)
					continue;
				abort();
			}
		}
		/* Consume the entry before acting on it: finishing a request may start others. */
		uint64_t data = io_uring_cqe_get_data64(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(io->ring, cqe);
		io->inflight--;
		n++;
		finish_op(io, (struct blk_req *)(uintptr_t)(data & ~(uint64_t)OP_MASK), (unsigned int)(data & OP_MASK), res);
	}
}

unsigned int blk_uring_event(struct blk_io *io)
{
	uint64_t count;
	io->stats.syscalls++;
	io->stats.reaps++;
	if (read(io->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return 0;
	return blk_uring_reap(io, false);
}

void blk_io_quiet(struct blk_io *io, bool quiet)
{
	if (io->kind == BLK_IO_URING)
		io_uring_cq_eventfd_toggle(io->ring, !quiet);
}
