/* virtio-blk (virtio 1.2 §5.2) over a raw image file: read, write, flush (fdatasync),
 * get-id, discard and write-zeroes (fallocate). Data moves between the image and guest
 * buffers with preadv/pwritev straight from the descriptor chain, without a bounce copy. */
#ifndef N90_VIRTIO_BLK_H
#define N90_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

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
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_SECTOR 512u
#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_CONFIG_LEN 60
#define VIRTIO_BLK_QUEUE_SIZE 256
#define VIRTIO_BLK_SEG_MAX 254 /* queue size minus header and status descriptors */

struct blk_options {
	const char *path;
	bool read_only;
	bool direct; /* O_DIRECT on the image */
};

struct virtio_blk {
	struct virtio_dev dev;
	int fd;
	unsigned int index; /* the disk's number, for messages */
	bool read_only;
	uint64_t capacity; /* in 512-byte sectors; a partial last sector is not exposed */
	char id[VIRTIO_BLK_ID_BYTES];
	uint8_t config[VIRTIO_BLK_CONFIG_LEN];
	struct virtq_chain chain; /* scratch for the chain being processed */
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

/* Executes one request chain; returns the number of bytes written into the chain's writable
 * part (the used length), status byte included. Exposed for unit tests and fuzzing. */
uint32_t virtio_blk_handle_chain(struct virtio_blk *blk, const struct virtq_chain *chain);

#endif
