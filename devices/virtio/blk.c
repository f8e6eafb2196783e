#include "devices/virtio/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vmm/bytes.h"
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
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_DISCARD_SEG 40
#define CFG_DISCARD_ALIGNMENT 44
#define CFG_MAX_WRITE_ZEROES_SECTORS 48
#define CFG_MAX_WRITE_ZEROES_SEG 52
#define CFG_WRITE_ZEROES_MAY_UNMAP 56

/* preadv/pwritev until done; short reads past EOF read as zeros. */
static int blk_rw(struct virtio_blk *blk, bool write, struct iovec *iov, int iovcnt, uint64_t pos)
{
	while (iovcnt > 0) {
		ssize_t n = write ? pwritev(blk->fd, iov, iovcnt, (off_t)pos) : preadv(blk->fd, iov, iovcnt, (off_t)pos);
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

static bool range_ok(const struct virtio_blk *blk, uint64_t sector, uint64_t sectors)
{
	return sector <= blk->capacity && sectors <= blk->capacity - sector;
}

static uint8_t blk_readwrite(struct virtio_blk *blk, const struct virtq_chain *c, bool write, uint64_t sector,
			     uint32_t *data_written)
{
	struct iovec iov[VIRTQ_MAX_CHAIN];
	/* OUT: data follows the header in the readable part. IN: data fills the writable part
	 * except its last byte, the status. */
	uint64_t len = write ? c->read_len - HEADER_LEN : c->write_len - 1;
	if (len % VIRTIO_BLK_SECTOR || !range_ok(blk, sector, len / VIRTIO_BLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	if (write && blk->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (len == 0)
		return VIRTIO_BLK_S_OK;
	int n = virtq_chain_iov(c, !write, write ? HEADER_LEN : 0, len, iov, VIRTQ_MAX_CHAIN);
	if (n < 0)
		return VIRTIO_BLK_S_IOERR;
	int ret = blk_rw(blk, write, iov, n, sector * VIRTIO_BLK_SECTOR);
	if (ret) {
		log_warn_limited("virtio-blk request failed", "%s%u: %s at sector %llu failed: %s", blk->dev.name,
				 blk->index, write ? "write" : "read", (unsigned long long)sector, strerror(-ret));
		return VIRTIO_BLK_S_IOERR;
	}
	if (write) {
		blk->dev.stats.bytes_written += len;
	} else {
		blk->dev.stats.bytes_read += len;
		*data_written = (uint32_t)len;
	}
	return VIRTIO_BLK_S_OK;
}

/* DISCARD / WRITE_ZEROES: an array of {sector, num_sectors, flags} after the header. */
static uint8_t blk_discard(struct virtio_blk *blk, const struct virtq_chain *c, uint32_t type)
{
	uint64_t payload = c->read_len - HEADER_LEN;
	if (blk->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (payload == 0 || payload % DISCARD_SEG_LEN || payload / DISCARD_SEG_LEN > DISCARD_MAX_SEGS)
		return VIRTIO_BLK_S_UNSUPP;
	for (uint64_t off = HEADER_LEN; off < c->read_len; off += DISCARD_SEG_LEN) {
		uint8_t seg[DISCARD_SEG_LEN];
		uint64_t sector;
		uint32_t sectors, flags;
		virtq_chain_read(c, off, seg, sizeof(seg));
		memcpy(&sector, seg, 8);
		memcpy(&sectors, seg + 8, 4);
		memcpy(&flags, seg + 12, 4);
		if (!range_ok(blk, sector, sectors))
			return VIRTIO_BLK_S_IOERR;
		/* §5.2.6.2: unknown flags, or unmap on discard, are errors the device reports. */
		if ((type == VIRTIO_BLK_T_DISCARD && flags) || (flags & ~WRITE_ZEROES_F_UNMAP))
			return VIRTIO_BLK_S_UNSUPP;
		int mode = type == VIRTIO_BLK_T_DISCARD || (flags & WRITE_ZEROES_F_UNMAP)
				   ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
				   : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
		if (sectors && fallocate(blk->fd, mode, (off_t)(sector * VIRTIO_BLK_SECTOR),
					 (off_t)((uint64_t)sectors * VIRTIO_BLK_SECTOR)) < 0) {
			/* Discard is a hint; zeroing is not, so fall back to writing zeros. */
			if (type == VIRTIO_BLK_T_DISCARD)
				continue;
			static const uint8_t zeros[64 * 1024];
			for (uint64_t done = 0; done < (uint64_t)sectors * VIRTIO_BLK_SECTOR;) {
				uint64_t n = (uint64_t)sectors * VIRTIO_BLK_SECTOR - done;
				if (n > sizeof(zeros))
					n = sizeof(zeros);
				struct iovec iov = { (void *)zeros, n };
				if (blk_rw(blk, true, &iov, 1, sector * VIRTIO_BLK_SECTOR + done))
					return VIRTIO_BLK_S_IOERR;
				done += n;
			}
		}
	}
	return VIRTIO_BLK_S_OK;
}

uint32_t virtio_blk_handle_chain(struct virtio_blk *blk, const struct virtq_chain *c)
{
	uint8_t header[HEADER_LEN];
	uint32_t type, data_written = 0;
	uint64_t sector;
	uint8_t status;

	/* There must be a status byte to report anything at all; without one the request is
	 * dropped (used length 0) and counted as an error. */
	if (c->write_len < 1) {
		blk->dev.stats.errors++;
		return 0;
	}
	if (virtq_chain_read(c, 0, header, HEADER_LEN) != HEADER_LEN) {
		status = VIRTIO_BLK_S_IOERR;
		goto done;
	}
	memcpy(&type, header, 4);
	memcpy(&sector, header + 8, 8);
	blk->dev.stats.requests++;
	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		status = blk_readwrite(blk, c, type == VIRTIO_BLK_T_OUT, sector, &data_written);
		break;
	case VIRTIO_BLK_T_FLUSH:
		/* A read-only image has nothing to flush; fdatasync would be a no-op write. */
		status = VIRTIO_BLK_S_OK;
		if (!blk->read_only && fdatasync(blk->fd) < 0) {
			log_warn_limited("virtio-blk request failed", "%s%u: flush failed: %s", blk->dev.name, blk->index,
					 strerror(errno));
			status = VIRTIO_BLK_S_IOERR;
		}
		break;
	case VIRTIO_BLK_T_GET_ID: {
		uint64_t n = c->write_len - 1 < VIRTIO_BLK_ID_BYTES ? c->write_len - 1 : VIRTIO_BLK_ID_BYTES;
		data_written = (uint32_t)virtq_chain_write(c, 0, blk->id, n);
		status = VIRTIO_BLK_S_OK;
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = blk_discard(blk, c, type);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
	}
done:
	if (status != VIRTIO_BLK_S_OK)
		blk->dev.stats.errors++;
	virtq_chain_write(c, c->write_len - 1, &status, 1);
	return data_written + 1;
}

static void blk_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_blk *blk = dev->model;
	struct virtq *vq = &dev->queues[q];
	do {
		int got;
		while ((got = virtq_pop(vq, &blk->chain)) > 0)
			virtq_push(vq, blk->chain.head, virtio_blk_handle_chain(blk, &blk->chain));
		virtio_queue_signal(dev, q);
		if (got < 0)
			return;
	} while (virtq_enable_notify(vq));
}

static void blk_config_read(struct virtio_dev *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
	struct virtio_blk *blk = dev->model;
	memcpy(data, blk->config + offset, len);
}

static const struct virtio_device_ops blk_ops = {
	.queue_notify = blk_queue_notify,
	.config_read = blk_config_read,
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

	uint64_t features = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
			    (1ull << VIRTIO_BLK_F_FLUSH);
	if (opt->read_only)
		features |= 1ull << VIRTIO_BLK_F_RO;
	else
		features |= (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	virtio_dev_init(&blk->dev, "virtio-blk", VIRTIO_ID_BLOCK, features, 1, VIRTIO_BLK_QUEUE_SIZE,
			VIRTIO_BLK_CONFIG_LEN, mem, &blk_ops, blk);
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
	if (blk->fd >= 0)
		close(blk->fd);
	blk->fd = -1;
}
