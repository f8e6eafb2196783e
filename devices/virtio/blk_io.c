#include "devices/virtio/blk_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/blk.h"

const char *blk_io_kind_name(enum blk_io_kind kind)
{
	switch (kind) {
	case BLK_IO_SYNC:
		return "sync";
	case BLK_IO_URING:
		return "io_uring";
	case BLK_IO_AUTO:
		break;
	}
	return "auto";
}

int blk_io_open(struct blk_io *io, int fd, enum blk_io_kind want, unsigned int depth,
		void (*complete)(void *opaque, struct blk_req *req), void *opaque)
{
	memset(io, 0, sizeof(*io));
	io->fd = fd;
	io->event_fd = -1;
	io->complete = complete;
	io->opaque = opaque;
	if (want != BLK_IO_SYNC) {
		int ret = blk_uring_open(io, depth);
		if (ret == 0) {
			io->kind = BLK_IO_URING;
			snprintf(io->why, sizeof(io->why), "io_uring, %u entries, restricted to the image", depth);
			return 0;
		}
		if (want == BLK_IO_URING)
			return ret;
		io->kind = BLK_IO_SYNC;
		snprintf(io->why, sizeof(io->why), "sync (io_uring unavailable: %s)", strerror(-ret));
		return 0;
	}
	io->kind = BLK_IO_SYNC;
	snprintf(io->why, sizeof(io->why), "sync (asked for)");
	return 0;
}

void blk_io_close(struct blk_io *io)
{
	if (io->kind == BLK_IO_URING)
		blk_uring_close(io);
	io->kind = BLK_IO_SYNC;
}

/* preadv/pwritev until done; short reads past EOF read as zeros. */
int blk_sync_rw(int fd, bool write, struct iovec *iov, int iovcnt, uint64_t pos, uint64_t *syscalls)
{
	while (iovcnt > 0) {
		(*syscalls)++;
		ssize_t n = write ? pwritev(fd, iov, iovcnt, (off_t)pos) : preadv(fd, iov, iovcnt, (off_t)pos);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			if (write)
				return -EIO;
			for (int i = 0; i < iovcnt; i++)
				memset(iov[i].iov_base, 0, iov[i].iov_len);
			return 0;
		}
		pos += (uint64_t)n;
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int blk_sync_zero(int fd, uint64_t offset, uint64_t len, uint64_t *syscalls)
{
	static const uint8_t zeros[64 * 1024] __attribute__((aligned(4096)));
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < sizeof(zeros) ? len - done : sizeof(zeros);
		struct iovec iov = { (void *)zeros, n };
		int ret = blk_sync_rw(fd, true, &iov, 1, offset + done, syscalls);
		if (ret)
			return ret;
		done += n;
	}
	return 0;
}

void blk_req_fail(struct blk_req *req, int err)
{
	if (req->status == VIRTIO_BLK_S_OK) {
		req->status = VIRTIO_BLK_S_IOERR;
		req->err = err < 0 ? -err : EIO;
	}
}

void blk_io_rw(struct blk_io *io, struct blk_req *req)
{
	if (io->kind == BLK_IO_URING) {
		blk_uring_rw(io, req);
		return;
	}
	int ret = blk_sync_rw(io->fd, req->write, req->iov, req->iovcnt, req->offset, &io->stats.syscalls);
	if (ret)
		blk_req_fail(req, ret);
}

void blk_io_flush(struct blk_io *io, struct blk_req *req)
{
	if (io->kind == BLK_IO_URING) {
		blk_uring_flush(io, req);
		return;
	}
	/* Synchronous: every earlier request has already finished. */
	io->stats.syscalls++;
	if (fdatasync(io->fd) < 0)
		blk_req_fail(req, -errno);
}

void blk_io_fallocate(struct blk_io *io, struct blk_req *req, int mode, uint64_t offset, uint64_t len,
		      bool zero_fallback)
{
	if (io->kind == BLK_IO_URING) {
		blk_uring_fallocate(io, req, mode, offset, len, zero_fallback);
		return;
	}
	io->stats.syscalls++;
	if (fallocate(io->fd, mode, (off_t)offset, (off_t)len) == 0)
		return;
	if (!zero_fallback)
		return; /* discard is a hint */
	int ret = blk_sync_zero(io->fd, offset, len, &io->stats.syscalls);
	if (ret)
		blk_req_fail(req, ret);
}

void blk_io_put(struct blk_io *io, struct blk_req *req)
{
	if (--req->pending == 0)
		io->complete(io->opaque, req);
}

void blk_io_submit(struct blk_io *io)
{
	if (io->kind == BLK_IO_URING)
		blk_uring_submit(io);
}

unsigned int blk_io_reap(struct blk_io *io)
{
	return io->kind == BLK_IO_URING ? blk_uring_reap(io, false) : 0;
}

unsigned int blk_io_event(struct blk_io *io)
{
	/* sync also after blk_io_close: a wake-up still queued on the I/O thread finds nothing. */
	return io->kind == BLK_IO_URING ? blk_uring_event(io) : 0;
}

void blk_io_drain(struct blk_io *io)
{
	if (io->kind != BLK_IO_URING)
		return;
	blk_uring_submit(io);
	while (io->inflight)
		blk_uring_reap(io, true);
}
