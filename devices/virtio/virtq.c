#include "devices/virtio/virtq.h"

#include <string.h>

/* Avail ring: flags, idx, ring[size], used_event (u16 each). Used ring: flags, idx,
 * ring[size] (8 bytes each), avail_event. */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 1
#define AVAIL_RING 2
#define USED_RING_OFFSET 4

const char *virtq_error_name(enum virtq_error err)
{
	static const char *const names[VIRTQ_ERR_COUNT] = {
		[VIRTQ_OK] = "ok",
		[VIRTQ_ERR_AVAIL_IDX] = "available index jumped past the queue size",
		[VIRTQ_ERR_HEAD_INDEX] = "head descriptor index out of range",
		[VIRTQ_ERR_NEXT_INDEX] = "next descriptor index out of range",
		[VIRTQ_ERR_CHAIN_TOO_LONG] = "descriptor chain loops or is too long",
		[VIRTQ_ERR_BUFFER_RANGE] = "buffer outside guest RAM",
		[VIRTQ_ERR_INDIRECT] = "malformed indirect descriptor",
		[VIRTQ_ERR_ORDER] = "device-readable descriptor after a writable one",
		[VIRTQ_ERR_RING_RANGE] = "queue size not a power of 2, or ring outside guest RAM or misaligned",
	};
	return err < VIRTQ_ERR_COUNT ? names[err] : "?";
}

void virtq_init(struct virtq *q, const struct guest_mem *mem, uint16_t max_size)
{
	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->max_size = max_size;
	q->size = max_size;
}

void virtq_reset(struct virtq *q)
{
	virtq_init(q, q->mem, q->max_size);
}

enum virtq_error virtq_enable(struct virtq *q)
{
	uint64_t n = q->size;
	q->ready = false;
	/* §2.7: a split queue's size is a power of 2. The free-running 16-bit ring indices are
	 * taken modulo the size, which only stays consistent across their wrap at 65536 when the
	 * size divides 65536; any other size would desynchronise driver and device. */
	if (n == 0 || n > q->max_size || (n & (n - 1)) || (q->desc_gpa & 15) || (q->avail_gpa & 1) ||
	    (q->used_gpa & 3))
		return q->last_error = VIRTQ_ERR_RING_RANGE;
	q->desc = gpa_to_hva_checked(q->mem, q->desc_gpa, 16 * n);
	q->avail = gpa_to_hva_checked(q->mem, q->avail_gpa, 6 + 2 * n);
	q->used = gpa_to_hva_checked(q->mem, q->used_gpa, 6 + 8 * n);
	if (!q->desc || !q->avail || !q->used)
		return q->last_error = VIRTQ_ERR_RING_RANGE;
	q->last_avail_idx = q->used_idx = 0;
	q->signalled_used_valid = false;
	q->broken = false;
	q->ready = true;
	return VIRTQ_OK;
}

/* Ring fields are shared with a guest CPU: one volatile access each, so the compiler neither
 * re-reads nor tears them. */
static uint16_t ring_load16(const uint16_t *p)
{
	return *(const volatile uint16_t *)p;
}

static void ring_store16(void *p, uint16_t v)
{
	*(volatile uint16_t *)p = v;
}

static int fail(struct virtq *q, enum virtq_error err)
{
	q->broken = true;
	q->last_error = err;
	return -1;
}

/* Adds one descriptor's buffer to the chain after checking it. */
static int add_segment(struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	if (!write && c->saw_write)
		return fail(q, VIRTQ_ERR_ORDER);
	c->saw_write |= write;
	if ((unsigned int)c->nread + c->nwrite >= VIRTQ_MAX_CHAIN)
		return fail(q, VIRTQ_ERR_CHAIN_TOO_LONG);
	/* A zero-length buffer carries nothing; skip it rather than reject a legal chain. */
	if (d->len == 0)
		return 0;
	uint8_t *hva = gpa_to_hva_checked(q->mem, d->addr, d->len);
	if (!hva)
		return fail(q, VIRTQ_ERR_BUFFER_RANGE);
	struct virtq_seg *s = &c->segs[c->nread + c->nwrite];
	s->hva = hva;
	s->len = d->len;
	if (write) {
		c->nwrite++;
		c->write_len += d->len;
	} else {
		c->nread++;
		c->read_len += d->len;
	}
	return 0;
}

/* Walks an indirect table (§2.7.5.3): no nested indirect, next indices inside the table. */
static int walk_indirect(struct virtq *q, struct virtq_chain *c, const struct virtq_desc *ind)
{
	if (ind->len == 0 || ind->len % sizeof(struct virtq_desc) || (ind->flags & VIRTQ_DESC_F_NEXT))
		return fail(q, VIRTQ_ERR_INDIRECT);
	uint32_t count = ind->len / sizeof(struct virtq_desc);
	if (count > VIRTQ_MAX_CHAIN)
		return fail(q, VIRTQ_ERR_CHAIN_TOO_LONG);
	const struct virtq_desc *table = gpa_to_hva_checked(q->mem, ind->addr, ind->len);
	if (!table)
		return fail(q, VIRTQ_ERR_BUFFER_RANGE);
	uint32_t idx = 0;
	for (uint32_t steps = 0;; steps++) {
		struct virtq_desc d;
		if (steps >= count)
			return fail(q, VIRTQ_ERR_CHAIN_TOO_LONG);
		memcpy(&d, &table[idx], sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return fail(q, VIRTQ_ERR_INDIRECT);
		if (add_segment(q, c, &d) < 0)
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= count)
			return fail(q, VIRTQ_ERR_NEXT_INDEX);
		idx = d.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	if (!q->ready || q->broken)
		return q->broken ? -1 : 0;
	uint16_t avail_idx = ring_load16(&q->avail[AVAIL_IDX]);
	if (avail_idx == q->last_avail_idx)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail_idx) > q->size)
		return fail(q, VIRTQ_ERR_AVAIL_IDX);
	/* Read the ring entry only after seeing the index that published it. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	uint16_t head = ring_load16(&q->avail[AVAIL_RING + q->last_avail_idx % q->size]);
	q->last_avail_idx++;
	if (head >= q->size)
		return fail(q, VIRTQ_ERR_HEAD_INDEX);

	c->head = head;
	c->nread = c->nwrite = 0;
	c->saw_write = false;
	c->read_len = c->write_len = 0;
	uint16_t idx = head;
	for (unsigned int steps = 0;; steps++) {
		struct virtq_desc d;
		/* A chain visits each descriptor at most once: more steps than the table has
		 * entries means a loop. */
		if (steps >= q->size)
			return fail(q, VIRTQ_ERR_CHAIN_TOO_LONG);
		memcpy(&d, &q->desc[idx], sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* §2.7.5.3.1: INDIRECT and NEXT together are invalid; the table ends the chain. */
			if (walk_indirect(q, c, &d) < 0)
				return -1;
			return 1;
		}
		if (add_segment(q, c, &d) < 0)
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 1;
		if (d.next >= q->size)
			return fail(q, VIRTQ_ERR_NEXT_INDEX);
		idx = d.next;
	}
}

void virtq_unpop(struct virtq *q, uint16_t count)
{
	q->last_avail_idx = (uint16_t)(q->last_avail_idx - count);
}

void virtq_fill(struct virtq *q, uint16_t pos, uint16_t head, uint32_t written)
{
	struct virtq_used_elem elem = { .id = head, .len = written };
	uint16_t slot = (uint16_t)(q->used_idx + pos) % q->size;
	memcpy(q->used + USED_RING_OFFSET + slot * sizeof(elem), &elem, sizeof(elem));
}

void virtq_publish(struct virtq *q, uint16_t count)
{
	/* The elements must be visible before the index that publishes them (§2.7.8). */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->used_idx = (uint16_t)(q->used_idx + count);
	ring_store16(q->used + 2, q->used_idx);
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	virtq_fill(q, 0, head, written);
	virtq_publish(q, 1);
}

bool virtq_should_signal(struct virtq *q)
{
	/* Order the used idx store before reading the driver's suppression fields. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(ring_load16(&q->avail[AVAIL_FLAGS]) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	uint16_t old = q->signalled_used, now = q->used_idx;
	bool valid = q->signalled_used_valid;
	q->signalled_used = now;
	q->signalled_used_valid = true;
	if (!valid)
		return true;
	/* vring_need_event(): signal if used_event lies in (old, now]. */
	uint16_t used_event = ring_load16(&q->avail[AVAIL_RING + q->size]);
	return (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
}

bool virtq_enable_notify_after(struct virtq *q, uint16_t seen)
{
	if (!q->ready || q->broken)
		return false;
	uint16_t want = (uint16_t)(q->last_avail_idx + seen);
	if (q->event_idx)
		ring_store16(q->used + USED_RING_OFFSET + q->size * sizeof(struct virtq_used_elem), want);
	/* The store above must be visible before we look at avail idx again, or a notify the
	 * driver skipped because of an old avail_event would be lost. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ring_load16(&q->avail[AVAIL_IDX]) != want;
}

bool virtq_enable_notify(struct virtq *q)
{
	return virtq_enable_notify_after(q, 0);
}

static uint64_t chain_copy(const struct virtq_chain *c, unsigned int first, unsigned int count, uint64_t offset,
			   uint8_t *flat, uint64_t len, bool to_guest)
{
	uint64_t done = 0;
	for (unsigned int i = first; i < first + count && done < len; i++) {
		const struct virtq_seg *s = &c->segs[i];
		if (offset >= s->len) {
			offset -= s->len;
			continue;
		}
		uint64_t n = s->len - offset;
		if (n > len - done)
			n = len - done;
		if (to_guest)
			memcpy(s->hva + offset, flat + done, n);
		else
			memcpy(flat + done, s->hva + offset, n);
		done += n;
		offset = 0;
	}
	return done;
}

uint64_t virtq_chain_read(const struct virtq_chain *c, uint64_t offset, void *dst, uint64_t len)
{
	return chain_copy(c, 0, c->nread, offset, dst, len, false);
}

uint64_t virtq_chain_write(const struct virtq_chain *c, uint64_t offset, const void *src, uint64_t len)
{
	return chain_copy(c, c->nread, c->nwrite, offset, (uint8_t *)src, len, true);
}

int virtq_chain_iov(const struct virtq_chain *c, bool writable, uint64_t offset, uint64_t len, struct iovec *iov,
		    int max)
{
	unsigned int first = writable ? c->nread : 0, count = writable ? c->nwrite : c->nread;
	int n = 0;
	for (unsigned int i = first; i < first + count && len; i++) {
		const struct virtq_seg *s = &c->segs[i];
		if (offset >= s->len) {
			offset -= s->len;
			continue;
		}
		if (n == max)
			return -1;
		uint64_t take = s->len - offset < len ? s->len - offset : len;
		iov[n].iov_base = s->hva + offset;
		iov[n].iov_len = take;
		n++;
		len -= take;
		offset = 0;
	}
	return len ? -1 : n;
}

uint64_t virtq_chain_peek_written(const struct virtq_chain *c, uint64_t offset, void *dst, uint64_t len)
{
	return chain_copy(c, c->nread, c->nwrite, offset, dst, len, false);
}
