#include "vmm/byte_ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int byte_ring_init(struct byte_ring *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->buf = malloc(cap);
	if (!r->buf)
		return -ENOMEM;
	r->cap = cap;
	return 0;
}

void byte_ring_free(struct byte_ring *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

void byte_ring_put(struct byte_ring *r, const uint8_t *buf, size_t len)
{
	if (r->cap == 0) {
		r->dropped += len;
		return;
	}
	if (len >= r->cap) { /* only the newest cap bytes survive */
		r->dropped += r->len + (len - r->cap);
		buf += len - r->cap;
		len = r->cap;
		r->head = r->len = 0;
	}
	size_t over = r->len + len > r->cap ? r->len + len - r->cap : 0;
	r->head = (r->head + over) % r->cap;
	r->len -= over;
	r->dropped += over;
	size_t tail = (r->head + r->len) % r->cap;
	size_t first = len < r->cap - tail ? len : r->cap - tail;
	memcpy(r->buf + tail, buf, first);
	memcpy(r->buf, buf + first, len - first);
	r->len += len;
}

size_t byte_ring_peek(const struct byte_ring *r, uint8_t *out, size_t max)
{
	size_t n = max < r->len ? max : r->len;
	if (n == 0)
		return 0;
	size_t first = n < r->cap - r->head ? n : r->cap - r->head;
	memcpy(out, r->buf + r->head, first);
	memcpy(out + first, r->buf, n - first);
	return n;
}

size_t byte_ring_take(struct byte_ring *r, uint8_t *out, size_t max)
{
	size_t n = byte_ring_peek(r, out, max);
	r->head = r->len == n ? 0 : (r->head + n) % r->cap;
	r->len -= n;
	return n;
}
