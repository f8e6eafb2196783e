/* virtio-blk (virtio 1.2 §5.2) over a raw image file: read, write, flush (fdatasync),
 * get-id, discard and write-zeroes (fallocate), on up to VIRTIO_BLK_MAX_QUEUES queues
 * (VIRTIO_BLK_F_MQ: one per vCPU). Data moves between the image and guest buffers straight
 * from the descriptor chain, without a bounce copy, through a backend (blk_io.h): io_uring
 * with many requests in flight, or synchronous preadv/pwritev. Requests finish in any order;
 * the completions of one batch become one used-ring update and at most one interrupt per
 * queue (EVENT_IDX decides whether the driver wants it). */
#ifndef N90_VIRTIO_BLK_H
#define N90_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/blk_io.h"
#include "devices/virtio/virtio.h"

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_SECTOR 512u
#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_CONFIG_LEN 60
#define VIRTIO_BLK_QUEUE_SIZE 256
#define VIRTIO_BLK_SEG_MAX 254 /* queue size minus header and status descriptors */
/* Queues one disk offers at most (one per vCPU up to this). */
#define VIRTIO_BLK_MAX_QUEUES 4
_Static_assert(VIRTIO_BLK_MAX_QUEUES <= VIRTIO_MAX_QUEUES, "the transports' queue limit");

struct blk_options {
	const char *path;
	bool read_only;
	bool direct;            /* O_DIRECT on the image */
	unsigned int queues;    /* 0 or 1: one queue; more: VIRTIO_BLK_F_MQ (capped) */
	enum blk_io_kind io;    /* BLK_IO_AUTO (0): io_uring if it works, else sync */
};

/* Per-request figures for --stats and the benchmark (host side). */
struct virtio_blk_stats {
	uint64_t completed;      /* requests answered to the driver */
	uint64_t latency_ns_sum; /* notify taken -> completion published, summed */
	uint64_t latency_ns_max;
	uint64_t batches;        /* queue-processing passes (one per notify or resume) */
	uint64_t publishes;      /* used-ring index updates */
	uint64_t stalls;         /* a queue waited for free request slots */
};

struct blk_queue_state {
	struct blk_req *reqs; /* VIRTIO_BLK_QUEUE_SIZE slots, touched only when used */
	uint16_t free_top;
	uint16_t free_stack[VIRTIO_BLK_QUEUE_SIZE];
	bool stalled;         /* stopped taking chains: no free slot; resumed on completion */
};

struct virtio_blk {
	struct virtio_dev dev;
	int fd;
	unsigned int index; /* the disk's number, for messages */
	bool read_only;
	uint64_t capacity; /* in 512-byte sectors; a partial last sector is not exposed */
	char id[VIRTIO_BLK_ID_BYTES];
	uint8_t config[VIRTIO_BLK_CONFIG_LEN];
	unsigned int nqueues;
	uint32_t gen; /* bumped by a device reset: older requests are never acknowledged */
	struct blk_io io;
	struct blk_queue_state qs[VIRTIO_BLK_MAX_QUEUES];
	/* Finished requests waiting to be published (one batch). */
	unsigned int ndone;
	struct blk_req *done[VIRTIO_BLK_MAX_QUEUES * VIRTIO_BLK_QUEUE_SIZE];
	struct virtio_blk_stats bstats;
	struct virtq_chain chain; /* scratch for the chain being processed */
	struct iovec big_iov[VIRTQ_MAX_CHAIN]; /* a chain past BLK_REQ_IOV segments (served synchronously) */
};

/* Opens and locks the image (flock: exclusive for read-write, shared for read-only).
 * Returns 0 or -errno with a one-line reason logged: -EINVAL not an image (a FIFO, a
 * directory), -EBUSY locked by another process (named in the line). */
int virtio_blk_init(struct virtio_blk *blk, const struct blk_options *opt, const struct guest_mem *mem,
		    unsigned int index);
/* The same over an image already open as fd (opt->path names it in messages); the device owns
 * fd from now on, also when it fails. */
int virtio_blk_init_fd(struct virtio_blk *blk, int fd, const struct blk_options *opt, const struct guest_mem *mem,
		       unsigned int index);
/* fdatasync of a writable image: what the guest wrote is on the disk, flushed or not. Called
 * once no thread serves the device any more (at exit). 0 or -errno. */
int virtio_blk_sync(struct virtio_blk *blk);
void virtio_blk_destroy(struct virtio_blk *blk);

/* The backend's completion eventfd (-1 for the sync backend), for the I/O thread's loop, and
 * what to run when it fires: reap, publish, resume stalled queues. */
int virtio_blk_event_fd(const struct virtio_blk *blk);
void virtio_blk_io_event(struct virtio_blk *blk);
/* Waits until no request is in flight and publishes their completions (tests; exit). */
void virtio_blk_wait_idle(struct virtio_blk *blk);
/* One line of --stats: backend, queues and the per-request breakdown. */
void virtio_blk_print_stats(const struct virtio_blk *blk, unsigned int index, uint64_t vcpu_exits,
			    const char *exits_kind, uint64_t io_thread_waits);

/* Executes one request chain; returns the number of bytes written into the chain's writable
 * part (the used length), status byte included. Exposed for unit tests and fuzzing. */
uint32_t virtio_blk_handle_chain(struct virtio_blk *blk, const struct virtq_chain *chain);

#endif
