/* A bounded FIFO of bytes that never refuses a write: when the newest bytes do not fit, the
 * oldest go, and are counted. The console keeps guest output in one until its sink takes it
 * (vmm/console.c); the caller does the locking. */
#ifndef N90_BYTE_RING_H
#define N90_BYTE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct byte_ring {
	uint8_t *buf;
	size_t cap;
	size_t head, len; /* the oldest byte is buf[head] */
	uint64_t dropped; /* bytes pushed out by newer ones */
};

/* 0 or -ENOMEM. The memory is touched only as output arrives. */
int byte_ring_init(struct byte_ring *r, size_t cap);
void byte_ring_free(struct byte_ring *r);
/* Appends buf; whatever does not fit pushes out the oldest bytes (of a write larger than the
 * ring, only its last cap bytes stay). */
void byte_ring_put(struct byte_ring *r, const uint8_t *buf, size_t len);
/* Moves up to max of the oldest bytes to out; returns how many. */
size_t byte_ring_take(struct byte_ring *r, uint8_t *out, size_t max);
/* Copies up to max of the oldest bytes to out without removing them. */
size_t byte_ring_peek(const struct byte_ring *r, uint8_t *out, size_t max);

#endif
