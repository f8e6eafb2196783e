/* Split virtqueue (virtio 1.2 §2.7), device side. Ring addresses are validated once when the
 * driver enables the queue; every descriptor is copied out of guest memory before it is
 * checked and used, so a guest rewriting its ring under our feet changes nothing we act on.
 * Any malformed chain (bad index, loop, over-long chain, buffer outside RAM, nested or
 * malformed indirect table, readable after writable) makes the queue broken: the device
 * then sets DEVICE_NEEDS_RESET (§2.1.2) instead of touching memory it should not. */
#ifndef N90_VIRTQ_H
#define N90_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/guest_mem.h"

#define VIRTQ_MAX_SIZE 1024u
/* Upper bound on descriptors in one chain, indirect ones included (Linux uses at most the
 * queue size for indirect tables). */
#define VIRTQ_MAX_CHAIN 1024u

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
} __attribute__((packed));

enum virtq_error {
	VIRTQ_OK = 0,
	VIRTQ_ERR_AVAIL_IDX,       /* avail idx moved by more than the queue size */
	VIRTQ_ERR_HEAD_INDEX,      /* head descriptor index >= queue size */
	VIRTQ_ERR_NEXT_INDEX,      /* next index >= table size */
	VIRTQ_ERR_CHAIN_TOO_LONG,  /* loop, or more descriptors than allowed */
	VIRTQ_ERR_BUFFER_RANGE,    /* buffer not entirely inside guest RAM */
	VIRTQ_ERR_INDIRECT,        /* nested indirect, bad table length, INDIRECT|NEXT */
	VIRTQ_ERR_ORDER,           /* device-readable descriptor after a writable one */
	VIRTQ_ERR_RING_RANGE,      /* bad queue size; ring addresses not inside guest RAM / misaligned */
	VIRTQ_ERR_COUNT,
};

const char *virtq_error_name(enum virtq_error err);

/* One guest buffer of a chain, already translated and bounds-checked. */
struct virtq_seg {
	uint8_t *hva;
	uint32_t len;
};

struct virtq_chain {
	uint16_t head;
	uint16_t nread, nwrite; /* readable segments come first, then writable ones */
	bool saw_write;         /* a writable descriptor was seen, even an empty (skipped) one */
	uint64_t read_len, write_len;
	struct virtq_seg segs[VIRTQ_MAX_CHAIN];
};

struct virtq {
	const struct guest_mem *mem;
	uint16_t size;       /* set by the driver, <= max_size */
	uint16_t max_size;
	bool ready;          /* enabled by the driver and rings validated */
	bool broken;         /* a malformed chain was seen; the device needs reset */
	bool event_idx;      /* VIRTIO_F_EVENT_IDX negotiated */
	enum virtq_error last_error;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct virtq_desc *desc;
	uint16_t *avail; /* flags, idx, ring[size], used_event */
	uint8_t *used;   /* flags, idx, ring[size] of virtq_used_elem, avail_event */
	uint16_t last_avail_idx;
	uint16_t used_idx;
	uint16_t signalled_used; /* used idx when the driver was last interrupted */
	bool signalled_used_valid;
};

void virtq_init(struct virtq *q, const struct guest_mem *mem, uint16_t max_size);
/* Driver reset of the queue: back to not-ready, addresses cleared. */
void virtq_reset(struct virtq *q);
/* Validates the ring addresses the driver wrote and enables the queue. */
enum virtq_error virtq_enable(struct virtq *q);

/* Takes the next available chain. Returns 1 with `chain` filled, 0 when the ring is empty,
 * -1 when the queue is (now) broken; q->last_error says why. */
int virtq_pop(struct virtq *q, struct virtq_chain *chain);
/* Returns a chain to the driver with `written` bytes of device output. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t written);
/* The same in two steps, for a frame spread over several chains (mergeable receive buffers:
 * the driver must see all of them at once): virtq_fill writes the used element `pos` places
 * after the last published one, virtq_publish makes `count` filled elements visible. */
void virtq_fill(struct virtq *q, uint16_t pos, uint16_t head, uint32_t written);
void virtq_publish(struct virtq *q, uint16_t count);
/* Gives back the last `count` chains taken with virtq_pop, unused: they are the device's
 * until it marks them used, so taking them again later is allowed (§2.7.13). */
void virtq_unpop(struct virtq *q, uint16_t count);
/* After pushing a batch: must the driver be interrupted (§2.7.7, event index rules)? */
bool virtq_should_signal(struct virtq *q);
/* Before waiting for the next notify: tell the driver which avail index to notify at, and
 * return true if more buffers arrived meanwhile (the caller then keeps processing). */
bool virtq_enable_notify(struct virtq *q);
/* The same when the next `seen` available chains were already looked at and given back
 * (virtq_unpop) as too few: only a chain after them is news. */
bool virtq_enable_notify_after(struct virtq *q, uint16_t seen);

/* Copy between a chain's readable/writable segments and a flat buffer, from a byte offset
 * inside that part of the chain. Return bytes copied. */
uint64_t virtq_chain_read(const struct virtq_chain *c, uint64_t offset, void *dst, uint64_t len);
uint64_t virtq_chain_write(const struct virtq_chain *c, uint64_t offset, const void *src, uint64_t len);
/* Reads back from the writable part (what the device, or a kernel readv, put there). */
uint64_t virtq_chain_peek_written(const struct virtq_chain *c, uint64_t offset, void *dst, uint64_t len);
/* An iovec for `len` bytes of the readable (writable=false) or writable part, from `offset`
 * bytes into it: for preadv/readv/writev straight between guest memory and a file. Returns
 * the iovec count, or -1 when the part is shorter or needs more than `max` entries. */
int virtq_chain_iov(const struct virtq_chain *c, bool writable, uint64_t offset, uint64_t len, struct iovec *iov,
		    int max);

#endif
