/* virtio-blk's backends: how requests reach the image file. blk.c parses a request into a
 * struct blk_req and hands its operations here; each backend finishes them and calls back.
 *
 * - io_uring (blk_uring.c, liburing): many requests in flight at once on the host. A batch
 *   of requests taken off the rings costs one io_uring_enter; completions are reaped in
 *   batches from the I/O thread (an eventfd on its epoll loop). The ring only accepts the
 *   operations listed in blk_uring.c on the one registered image file
 *   (IORING_REGISTER_RESTRICTIONS), so a compromised I/O thread cannot use it to open files.
 * - sync: preadv/pwritev/fdatasync/fallocate right away on the calling thread, one request
 *   after another. Chosen at start when io_uring is unavailable (old kernel, sysctl
 *   kernel.io_uring_disabled) or blocked (a container's seccomp profile), or asked for.
 *
 * An operation started with blk_io_* adds one to req->pending; blk.c holds one more while it
 * issues them, and the request completes (blk_io.complete) when the count falls to zero, with
 * req->status the worst of its operations. Everything here runs under the device's lock. */
#ifndef N90_VIRTIO_BLK_IO_H
#define N90_VIRTIO_BLK_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Data segments one request carries in its own iovec array (seg_max is 254). A chain that
 * needs more (a driver ignoring seg_max) is served synchronously. */
#define BLK_REQ_IOV 256
/* Ranges of one write-zeroes request (its max_write_zeroes_seg). */
#define BLK_REQ_ZERO_RANGES 32

enum blk_io_kind {
	BLK_IO_AUTO,  /* io_uring when it works, else sync */
	BLK_IO_SYNC,
	BLK_IO_URING,
};

struct blk_req {
	uint16_t queue, head;
	uint16_t pending;  /* operations not finished yet, plus blk.c's hold while issuing */
	uint8_t status;    /* VIRTIO_BLK_S_*: the first failure wins */
	int err;           /* that failure's errno when the host's I/O failed (for the log), else 0 */
	uint8_t type;
	bool write;
	uint8_t *status_hva; /* the chain's last writable byte */
	uint32_t used_len;   /* bytes the device wrote into the chain, status byte included */
	uint32_t gen;        /* the device's reset generation when the request was taken */
	int iovcnt;
	uint64_t offset, len; /* read/write: file offset and bytes */
	uint64_t t_start_ns;  /* when the notify batch that took it began */
	unsigned int nzero;   /* write-zeroes ranges issued (io_uring: for the zero-writing fallback) */
	struct {
		uint64_t offset, len;
	} zero[BLK_REQ_ZERO_RANGES];
	struct iovec iov[BLK_REQ_IOV];
} __attribute__((aligned(64)));

/* Marks a request failed by the host's I/O (err: -errno) unless it failed already: the first
 * failure wins, and its errno goes to the log when the request finishes. */
void blk_req_fail(struct blk_req *req, int err);

struct blk_io_stats {
	uint64_t syscalls;   /* issued by the backend: io_uring_enter, preadv/pwritev, fdatasync, ... */
	uint64_t submits;    /* batches pushed to the kernel (io_uring_enter with SQEs) */
	uint64_t reaps;      /* completion-eventfd wake-ups */
	uint64_t max_inflight;
};

struct io_uring;

struct blk_io {
	enum blk_io_kind kind; /* BLK_IO_SYNC or BLK_IO_URING once open */
	int fd;                /* the image */
	int event_fd;          /* io_uring: signalled when completions are ready; -1 for sync */
	struct io_uring *ring;
	unsigned int queued;   /* io_uring: SQEs prepared, not yet submitted */
	unsigned int inflight; /* io_uring: operations submitted or queued, not yet reaped */
	/* Called once per finished request (req->pending reached 0). */
	void (*complete)(void *opaque, struct blk_req *req);
	void *opaque;
	struct blk_io_stats stats;
	char why[160]; /* how the kind was chosen, for -v and --stats */
};

/* Opens the backend over the image fd (not owned). `want` AUTO falls back to sync and says
 * why in io->why; URING fails (-errno) when io_uring cannot be had. depth: requests the
 * device can have in flight. */
int blk_io_open(struct blk_io *io, int fd, enum blk_io_kind want, unsigned int depth,
		void (*complete)(void *opaque, struct blk_req *req), void *opaque);
/* Waits for everything in flight (completing it through io->complete), then frees it. */
void blk_io_close(struct blk_io *io);
const char *blk_io_kind_name(enum blk_io_kind kind);

/* Starts a read or write of req->iov at req->offset. */
void blk_io_rw(struct blk_io *io, struct blk_req *req);
/* Starts an fdatasync that begins only after every operation submitted before it finished. */
void blk_io_flush(struct blk_io *io, struct blk_req *req);
/* Starts an fallocate (discard, write-zeroes); `zero_fallback` writes zeros when the file
 * system cannot (write-zeroes), a failed discard is ignored (a hint). */
void blk_io_fallocate(struct blk_io *io, struct blk_req *req, int mode, uint64_t offset, uint64_t len,
		      bool zero_fallback);
/* Drops blk.c's hold on req: completes it if nothing is pending. */
void blk_io_put(struct blk_io *io, struct blk_req *req);
/* Pushes the operations started since the last call to the kernel: one syscall per batch. */
void blk_io_submit(struct blk_io *io);
/* Completes what has finished, without waiting. Returns requests' operations reaped. */
unsigned int blk_io_reap(struct blk_io *io);
/* The completion eventfd fired: clears it and reaps. */
unsigned int blk_io_event(struct blk_io *io);
/* Waits until nothing is in flight, completing everything. */
void blk_io_drain(struct blk_io *io);
/* io_uring: quiet=true while the device itself submits and reaps (the completion eventfd
 * stays silent: a flag in the shared ring, no syscall); false before it waits again, after
 * which it must reap once more. A no-op for sync. */
void blk_io_quiet(struct blk_io *io, bool quiet);

/* The synchronous operations, also used by the io_uring backend for the rare remainder of a
 * short transfer and the zero-writing fallback. Return 0 or -errno. */
int blk_sync_rw(int fd, bool write, struct iovec *iov, int iovcnt, uint64_t pos, uint64_t *syscalls);
int blk_sync_zero(int fd, uint64_t offset, uint64_t len, uint64_t *syscalls);

/* io_uring backend (blk_uring.c). */
int blk_uring_open(struct blk_io *io, unsigned int depth);
void blk_uring_close(struct blk_io *io);
void blk_uring_rw(struct blk_io *io, struct blk_req *req);
void blk_uring_flush(struct blk_io *io, struct blk_req *req);
void blk_uring_fallocate(struct blk_io *io, struct blk_req *req, int mode, uint64_t offset, uint64_t len,
			 bool zero_fallback);
void blk_uring_submit(struct blk_io *io);
unsigned int blk_uring_reap(struct blk_io *io, bool wait);
unsigned int blk_uring_event(struct blk_io *io);

#endif
