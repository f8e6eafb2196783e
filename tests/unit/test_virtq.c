/* The split virtqueue, device side (devices/virtio/virtq.c), driven by a small in-test driver
 * that lays out the descriptor table, avail ring and used ring in guest memory and posts
 * chains the way a guest would. The first half is the well-formed protocol (chains, indirect
 * tables, notification suppression, index wrap-around, chain copies); the second half is a
 * hostile driver, where every malformed chain must break the queue with the right reason.
 *
 * Guest RAM here is surrounded by PROT_NONE guard pages, so a walker that followed a hostile
 * address even one byte past RAM would fault and fail the test in the plain build too. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio/virtq.h"
#include "vmm/bytes.h"

#define RAM_BYTES (16ull << 20)
#define QSIZE 16
#define DESC_GPA 0x10000ull
#define AVAIL_GPA 0x20000ull
#define USED_GPA 0x30000ull
#define HEAP_GPA 0x100000ull

static struct guest_mem mem;
static uint8_t *guard_base;
static size_t guard_len;
static struct virtq q;
static struct virtq_chain chain;

/* ---- guest memory with guard pages ------------------------------------------------------ */

static void guarded_mem_alloc(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	guard_len = RAM_BYTES + 2 * page;
	guard_base = mmap(NULL, guard_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(guard_base, MAP_FAILED);
	cr_assert_eq(mprotect(guard_base + page, RAM_BYTES, PROT_READ | PROT_WRITE), 0);
	memset(&mem, 0, sizeof(mem));
	mem.regions[0] = (struct guest_mem_region){ .gpa = 0, .size = RAM_BYTES, .hva = guard_base + page };
	mem.nregions = 1;
	mem.total = RAM_BYTES;
}

static void *gva(uint64_t gpa, uint64_t len)
{
	void *p = gpa_to_hva_checked(&mem, gpa, len);
	cr_assert_not_null(p, "test bug: gpa 0x%llx+%llu not RAM", (unsigned long long)gpa, (unsigned long long)len);
	return p;
}

/* ---- the in-test driver ----------------------------------------------------------------- */

struct vdrv {
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t next;      /* next descriptor to hand out (round robin) */
	uint16_t avail_idx; /* the driver's copy of avail->idx */
};

struct vseg {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable */
};

static struct vdrv drv;
static uint64_t heap_next;

static uint64_t gbuf(uint32_t len, int fill)
{
	uint64_t gpa = heap_next;
	heap_next = (heap_next + len + 63) & ~63ull;
	memset(gva(gpa, len ? len : 1), fill, len);
	return gpa;
}

static void vdrv_init(struct vdrv *d, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	*d = (struct vdrv){ .size = size, .desc = desc, .avail = avail, .used = used };
	memset(gva(desc, 16ull * size), 0, 16ull * size);
	memset(gva(avail, 6 + 2ull * size), 0, 6 + 2ull * size);
	memset(gva(used, 6 + 8ull * size), 0, 6 + 8ull * size);
}

static void desc_at(uint64_t gpa, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };
	memcpy(gva(gpa, sizeof(d)), &d, sizeof(d));
}

static void vdrv_desc(struct vdrv *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	desc_at(d->desc + 16ull * i, addr, len, flags, next);
}

/* Puts `head` in the next avail slot and publishes it by bumping avail->idx. */
static void vdrv_publish(struct vdrv *d, uint16_t head)
{
	put_le16(gva(d->avail + 4 + 2ull * (d->avail_idx % d->size), 2), head);
	d->avail_idx++;
	put_le16(gva(d->avail + 2, 2), d->avail_idx);
}

/* Writes a chain into the next free descriptors, publishes it, returns its head. */
static uint16_t vdrv_chain(struct vdrv *d, const struct vseg *s, unsigned int n)
{
	uint16_t head = d->next;
	for (unsigned int i = 0; i < n; i++) {
		uint16_t idx = d->next;
		d->next = (uint16_t)((d->next + 1) % d->size);
		uint16_t flags = (uint16_t)((s[i].write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		vdrv_desc(d, idx, s[i].gpa, s[i].len, flags, d->next);
	}
	vdrv_publish(d, head);
	return head;
}

static uint16_t vdrv_chain1(struct vdrv *d, uint64_t gpa, uint32_t len, bool write)
{
	struct vseg s = { gpa, len, write };
	return vdrv_chain(d, &s, 1);
}

static void vdrv_set_avail_idx(struct vdrv *d, uint16_t idx)
{
	d->avail_idx = idx;
	put_le16(gva(d->avail + 2, 2), idx);
}

static void vdrv_set_avail_flags(struct vdrv *d, uint16_t flags)
{
	put_le16(gva(d->avail, 2), flags);
}

static void vdrv_set_used_event(struct vdrv *d, uint16_t v)
{
	put_le16(gva(d->avail + 4 + 2ull * d->size, 2), v);
}

static uint16_t vdrv_avail_event(struct vdrv *d)
{
	return get_le16(gva(d->used + 4 + 8ull * d->size, 2));
}

static uint16_t vdrv_used_idx(struct vdrv *d)
{
	return get_le16(gva(d->used + 2, 2));
}

static struct virtq_used_elem vdrv_used(struct vdrv *d, uint16_t i)
{
	struct virtq_used_elem e;
	memcpy(&e, gva(d->used + 4 + 8ull * (i % d->size), 8), 8);
	return e;
}

/* ---- fixture ---------------------------------------------------------------------------- */

static void setup(void)
{
	guarded_mem_alloc();
	heap_next = HEAP_GPA;
	vdrv_init(&drv, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA);
	virtq_init(&q, &mem, QSIZE);
	q.desc_gpa = DESC_GPA;
	q.avail_gpa = AVAIL_GPA;
	q.used_gpa = USED_GPA;
	cr_assert_eq(virtq_enable(&q), VIRTQ_OK);
	cr_assert(q.ready);
}

static void teardown(void)
{
	munmap(guard_base, guard_len);
}

TestSuite(virtqueue, .init = setup, .fini = teardown);

static void pop_one(void)
{
	cr_assert_eq(virtq_pop(&q, &chain), 1, "pop failed: %s", virtq_error_name(q.last_error));
}

/* ---- well-formed chains ----------------------------------------------------------------- */

Test(virtqueue, single_readable_descriptor)
{
	uint64_t b = gbuf(100, 0x5a);
	uint16_t head = vdrv_chain1(&drv, b, 100, false);
	pop_one();
	cr_assert_eq(chain.head, head);
	cr_assert_eq(chain.nread, 1);
	cr_assert_eq(chain.nwrite, 0);
	cr_assert_eq(chain.read_len, 100);
	cr_assert_eq(chain.write_len, 0);
	cr_assert_eq(chain.segs[0].hva, gva(b, 100));
	cr_assert_eq(chain.segs[0].len, 100);
	cr_assert_eq(virtq_pop(&q, &chain), 0, "ring is empty now");
	cr_assert(!q.broken);
}

Test(virtqueue, multi_descriptor_chain_readable_then_writable_follows_next)
{
	/* Descriptors deliberately out of order: 5 -> 2 -> 9 -> 0. */
	uint64_t hdr = gbuf(16, 1), data = gbuf(100, 2), out = gbuf(512, 3), status = gbuf(1, 4);
	vdrv_desc(&drv, 5, hdr, 16, VIRTQ_DESC_F_NEXT, 2);
	vdrv_desc(&drv, 2, data, 100, VIRTQ_DESC_F_NEXT, 9);
	vdrv_desc(&drv, 9, out, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	vdrv_desc(&drv, 0, status, 1, VIRTQ_DESC_F_WRITE, 7 /* ignored without NEXT */);
	vdrv_publish(&drv, 5);
	pop_one();
	cr_assert_eq(chain.head, 5);
	cr_assert_eq(chain.nread, 2);
	cr_assert_eq(chain.nwrite, 2);
	cr_assert_eq(chain.read_len, 116);
	cr_assert_eq(chain.write_len, 513);
	cr_assert_eq(chain.segs[0].hva, gva(hdr, 16));
	cr_assert_eq(chain.segs[1].hva, gva(data, 100));
	cr_assert_eq(chain.segs[2].hva, gva(out, 512));
	cr_assert_eq(chain.segs[3].hva, gva(status, 1));
	cr_assert_eq(chain.segs[3].len, 1);
}

Test(virtqueue, push_publishes_used_elements_in_completion_order)
{
	uint16_t h1 = vdrv_chain1(&drv, gbuf(8, 0), 8, true);
	uint16_t h2 = vdrv_chain1(&drv, gbuf(8, 0), 8, true);
	pop_one();
	cr_assert_eq(chain.head, h1);
	pop_one();
	cr_assert_eq(chain.head, h2);
	virtq_push(&q, h2, 7); /* completed out of order */
	virtq_push(&q, h1, 3);
	cr_assert_eq(vdrv_used_idx(&drv), 2);
	cr_assert_eq(vdrv_used(&drv, 0).id, h2);
	cr_assert_eq(vdrv_used(&drv, 0).len, 7);
	cr_assert_eq(vdrv_used(&drv, 1).id, h1);
	cr_assert_eq(vdrv_used(&drv, 1).len, 3);
}

Test(virtqueue, zero_length_descriptor_carries_nothing)
{
	struct vseg s[3] = { { gbuf(8, 0), 0, false }, { gbuf(8, 0), 8, false }, { gbuf(4, 0), 4, true } };
	vdrv_chain(&drv, s, 3);
	pop_one();
	cr_assert_eq(chain.nread, 1);
	cr_assert_eq(chain.nwrite, 1);
	cr_assert_eq(chain.read_len, 8);
	cr_assert_eq(chain.segs[0].hva, gva(s[1].gpa, 8));
}

Test(virtqueue, full_ring_of_exactly_queue_size_chains)
{
	for (unsigned int i = 0; i < QSIZE; i++)
		vdrv_chain1(&drv, gbuf(4, 0), 4 + i, false);
	for (unsigned int i = 0; i < QSIZE; i++) {
		pop_one();
		cr_assert_eq(chain.read_len, 4 + i);
	}
	cr_assert_eq(virtq_pop(&q, &chain), 0);
}

Test(virtqueue, chain_of_exactly_queue_size_descriptors)
{
	struct vseg s[QSIZE];
	for (unsigned int i = 0; i < QSIZE; i++)
		s[i] = (struct vseg){ gbuf(8, 0), 8, i >= QSIZE / 2 };
	vdrv_chain(&drv, s, QSIZE);
	pop_one();
	cr_assert_eq(chain.nread, QSIZE / 2);
	cr_assert_eq(chain.nwrite, QSIZE / 2);
}

/* ---- indirect tables -------------------------------------------------------------------- */

Test(virtqueue, indirect_table)
{
	uint64_t table = gbuf(3 * 16, 0);
	uint64_t hdr = gbuf(16, 0), out = gbuf(512, 0), status = gbuf(1, 0);
	/* Table order 0 -> 2 -> 1. */
	desc_at(table + 0, hdr, 16, VIRTQ_DESC_F_NEXT, 2);
	desc_at(table + 32, out, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc_at(table + 16, status, 1, VIRTQ_DESC_F_WRITE, 0);
	vdrv_desc(&drv, 4, table, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 4);
	pop_one();
	cr_assert_eq(chain.head, 4);
	cr_assert_eq(chain.nread, 1);
	cr_assert_eq(chain.nwrite, 2);
	cr_assert_eq(chain.segs[0].hva, gva(hdr, 16));
	cr_assert_eq(chain.segs[1].hva, gva(out, 512));
	cr_assert_eq(chain.segs[2].hva, gva(status, 1));
	cr_assert_eq(chain.write_len, 513);
}

Test(virtqueue, indirect_table_of_virtq_max_chain_entries)
{
	uint64_t table = gbuf(16 * VIRTQ_MAX_CHAIN, 0), data = gbuf(VIRTQ_MAX_CHAIN, 0);
	for (unsigned int i = 0; i < VIRTQ_MAX_CHAIN; i++)
		desc_at(table + 16ull * i, data + i, 1, i + 1 < VIRTQ_MAX_CHAIN ? VIRTQ_DESC_F_NEXT : 0,
			(uint16_t)(i + 1));
	vdrv_desc(&drv, 0, table, 16 * VIRTQ_MAX_CHAIN, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	pop_one();
	cr_assert_eq(chain.nread, VIRTQ_MAX_CHAIN);
	cr_assert_eq(chain.read_len, VIRTQ_MAX_CHAIN);
	cr_assert_eq(chain.segs[VIRTQ_MAX_CHAIN - 1].hva, gva(data + VIRTQ_MAX_CHAIN - 1, 1));
}

/* ---- notification suppression ----------------------------------------------------------- */

static void complete_one(void)
{
	vdrv_chain1(&drv, gbuf(8, 0), 8, true);
	pop_one();
	virtq_push(&q, chain.head, 8);
}

Test(virtqueue, event_idx_used_event_suppresses_interrupts)
{
	q.event_idx = true;
	vdrv_set_used_event(&drv, 100);
	complete_one();
	cr_assert(virtq_should_signal(&q), "the first batch after enable always interrupts, whatever used_event says");

	vdrv_set_used_event(&drv, 3); /* interrupt when used idx moves past 3 */
	complete_one();              /* used idx 2 */
	cr_assert(!virtq_should_signal(&q));
	complete_one(); /* 3 */
	cr_assert(!virtq_should_signal(&q));
	complete_one(); /* 4: crossed */
	cr_assert(virtq_should_signal(&q));

	vdrv_set_used_event(&drv, 2); /* already behind us */
	complete_one();              /* 5 */
	cr_assert(!virtq_should_signal(&q));

	vdrv_set_used_event(&drv, 7); /* inside the next batch 6..8 */
	complete_one();
	complete_one();
	complete_one();
	cr_assert(virtq_should_signal(&q));
	cr_assert(!virtq_should_signal(&q), "nothing new since the last interrupt");
}

Test(virtqueue, event_idx_ignores_no_interrupt_flag)
{
	q.event_idx = true;
	vdrv_set_avail_flags(&drv, VIRTQ_AVAIL_F_NO_INTERRUPT);
	complete_one();
	cr_assert(virtq_should_signal(&q));
	vdrv_set_used_event(&drv, 1);
	complete_one(); /* used idx 2 passes used_event 1 */
	cr_assert(virtq_should_signal(&q), "§2.7.7.2: with EVENT_IDX the flag bit is ignored");
}

Test(virtqueue, no_interrupt_flag_without_event_idx)
{
	vdrv_set_used_event(&drv, 100); /* must be ignored without EVENT_IDX */
	complete_one();
	cr_assert(virtq_should_signal(&q), "flags 0: the device must interrupt");
	vdrv_set_avail_flags(&drv, VIRTQ_AVAIL_F_NO_INTERRUPT);
	complete_one();
	cr_assert(!virtq_should_signal(&q));
	vdrv_set_avail_flags(&drv, 0);
	complete_one();
	cr_assert(virtq_should_signal(&q));
}

Test(virtqueue, enable_notify_writes_avail_event_and_reports_late_arrivals)
{
	q.event_idx = true;
	vdrv_chain1(&drv, gbuf(8, 0), 8, false);
	vdrv_chain1(&drv, gbuf(8, 0), 8, false);
	pop_one();
	pop_one();
	cr_assert(!virtq_enable_notify(&q), "nothing pending");
	cr_assert_eq(vdrv_avail_event(&drv), 2, "notify me when avail idx moves past 2");

	vdrv_chain1(&drv, gbuf(8, 0), 8, false); /* arrives between the last pop and the wait */
	cr_assert(virtq_enable_notify(&q), "late arrival must be reported");
	cr_assert_eq(vdrv_avail_event(&drv), 2);
	pop_one();
	cr_assert(!virtq_enable_notify(&q));
	cr_assert_eq(vdrv_avail_event(&drv), 3);
}

Test(virtqueue, enable_notify_without_event_idx_reports_pending_work)
{
	cr_assert(!virtq_enable_notify(&q));
	vdrv_chain1(&drv, gbuf(8, 0), 8, false);
	cr_assert(virtq_enable_notify(&q));
	pop_one();
	cr_assert(!virtq_enable_notify(&q));
}

/* ---- 16-bit index wrap-around ----------------------------------------------------------- */

Test(virtqueue, indices_wrap_around_65535)
{
	const unsigned int start = 65533;
	uint64_t b = gbuf(8, 0);
	q.event_idx = true;
	for (unsigned int i = 0; i < start; i++) {
		vdrv_chain1(&drv, b, 8, true);
		pop_one();
		virtq_push(&q, chain.head, 0);
	}
	cr_assert_eq(q.last_avail_idx, start);
	cr_assert_eq(vdrv_used_idx(&drv), start);
	cr_assert(virtq_should_signal(&q)); /* baseline: signalled at 65533 */

	/* Five chains across the wrap: avail idx goes 65533 -> 2. */
	uint16_t heads[5];
	for (unsigned int i = 0; i < 5; i++)
		heads[i] = vdrv_chain1(&drv, gbuf(8, 0), 1 + i, false);
	cr_assert_eq(get_le16(gva(AVAIL_GPA + 2, 2)), 2);
	vdrv_set_used_event(&drv, 2); /* interrupt once used idx passes 2 */
	for (unsigned int i = 0; i < 5; i++) {
		pop_one();
		cr_assert_eq(chain.head, heads[i]);
		cr_assert_eq(chain.read_len, 1 + i);
		virtq_push(&q, chain.head, 100 + i);
	}
	cr_assert_eq(virtq_pop(&q, &chain), 0);
	cr_assert_eq(vdrv_used_idx(&drv), 2);
	for (unsigned int i = 0; i < 5; i++) {
		struct virtq_used_elem e = vdrv_used(&drv, (uint16_t)(start + i));
		cr_assert_eq(e.id, heads[i]);
		cr_assert_eq(e.len, 100 + i);
	}
	cr_assert(!virtq_should_signal(&q), "used idx 2 has not passed used_event 2");
	complete_one();
	cr_assert(virtq_should_signal(&q), "used idx 3 passed used_event 2");

	vdrv_set_used_event(&drv, 65535); /* [3, 4) does not contain 65535 */
	complete_one();
	cr_assert(!virtq_should_signal(&q));

	cr_assert(!virtq_enable_notify(&q));
	cr_assert_eq(vdrv_avail_event(&drv), 4);

	/* A jump of size+1 is still caught across the wrap. */
	vdrv_set_avail_idx(&drv, (uint16_t)(4 + QSIZE + 1));
	cr_assert_eq(virtq_pop(&q, &chain), -1);
	cr_assert_eq(q.last_error, VIRTQ_ERR_AVAIL_IDX);
}

Test(virtqueue, event_idx_window_across_wrap)
{
	/* Signalled at used idx 65534, then three completions bring it to 1: the driver asked
	 * for an interrupt iff used_event lies in [65534, 1), i.e. is 65534, 65535 or 0. */
	static const struct {
		uint16_t used_event;
		bool expect;
	} cases[] = { { 65534, true }, { 65535, true }, { 0, true }, { 1, false }, { 65533, false }, { 2, false } };
	for (unsigned int c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		virtq_reset(&q);
		vdrv_init(&drv, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA);
		q.desc_gpa = DESC_GPA;
		q.avail_gpa = AVAIL_GPA;
		q.used_gpa = USED_GPA;
		cr_assert_eq(virtq_enable(&q), VIRTQ_OK);
		q.event_idx = true;
		/* Reaching 65533 honestly takes 65533 round trips (indices_wrap_around_65535 does
		 * that once); here both sides start there directly, as after a long uptime. */
		q.last_avail_idx = q.used_idx = 65533;
		vdrv_set_avail_idx(&drv, 65533);
		put_le16(gva(USED_GPA + 2, 2), 65533);
		complete_one();
		cr_assert(virtq_should_signal(&q)); /* first interrupt, at 65534 */
		complete_one();
		complete_one();
		complete_one();
		cr_assert_eq(vdrv_used_idx(&drv), 1);
		vdrv_set_used_event(&drv, cases[c].used_event);
		cr_assert_eq(virtq_should_signal(&q), cases[c].expect, "used_event %u", cases[c].used_event);
	}
}

/* ---- chain copies ----------------------------------------------------------------------- */

Test(virtqueue, chain_read_and_write_across_segments_with_offsets)
{
	uint64_t r0 = gbuf(3, 0), r1 = gbuf(5, 0), r2 = gbuf(7, 0);
	uint8_t *rp[3] = { gva(r0, 3), gva(r1, 5), gva(r2, 7) };
	static const uint8_t text[15] = "ABCDEFGHIJKLMNO";
	memcpy(rp[0], text, 3);
	memcpy(rp[1], text + 3, 5);
	memcpy(rp[2], text + 8, 7);
	uint64_t w0 = gbuf(4, 0xee), w1 = gbuf(1, 0xee), w2 = gbuf(6, 0xee);
	struct vseg s[6] = { { r0, 3, false }, { r1, 5, false }, { r2, 7, false },
			     { w0, 4, true },  { w1, 1, true },  { w2, 6, true } };
	vdrv_chain(&drv, s, 6);
	pop_one();

	uint8_t out[32];
	memset(out, 0, sizeof(out));
	cr_assert_eq(virtq_chain_read(&chain, 0, out, 15), 15);
	cr_assert(memcmp(out, text, 15) == 0);
	memset(out, 0, sizeof(out));
	cr_assert_eq(virtq_chain_read(&chain, 2, out, 10), 10, "offset inside the first segment, spans three");
	cr_assert(memcmp(out, text + 2, 10) == 0);
	memset(out, 0, sizeof(out));
	cr_assert_eq(virtq_chain_read(&chain, 8, out, 100), 7, "short: only the readable part");
	cr_assert(memcmp(out, text + 8, 7) == 0);
	cr_assert_eq(virtq_chain_read(&chain, 3, out, 5), 5, "exactly the middle segment");
	cr_assert(memcmp(out, text + 3, 5) == 0);
	cr_assert_eq(virtq_chain_read(&chain, 15, out, 4), 0, "offset at the end");
	cr_assert_eq(virtq_chain_read(&chain, 1000, out, 4), 0);
	cr_assert_eq(virtq_chain_read(&chain, 0, out, 0), 0);

	cr_assert_eq(virtq_chain_write(&chain, 3, "abcdef", 6), 6);
	const uint8_t *wp0 = gva(w0, 4), *wp1 = gva(w1, 1), *wp2 = gva(w2, 6);
	cr_assert(memcmp(wp0, "\xee\xee\xee" "a", 4) == 0);
	cr_assert_eq(wp1[0], 'b');
	cr_assert(memcmp(wp2, "cdef\xee\xee", 6) == 0);
	cr_assert_eq(virtq_chain_write(&chain, 9, "XYZW", 4), 2, "only two writable bytes left");
	cr_assert(memcmp(wp2, "cdefXY", 6) == 0);
	cr_assert_eq(virtq_chain_write(&chain, 11, "Q", 1), 0);
	cr_assert(memcmp(rp[0], text, 3) == 0 && memcmp(rp[1], text + 3, 5) == 0 && memcmp(rp[2], text + 8, 7) == 0,
		  "writes never land in device-readable buffers");
}

/* ---- hostile driver --------------------------------------------------------------------- */

static void expect_broken(enum virtq_error err)
{
	uint16_t used_before = vdrv_used_idx(&drv);
	cr_assert_eq(virtq_pop(&q, &chain), -1);
	cr_assert(q.broken);
	cr_assert_eq(q.last_error, err, "expected '%s', got '%s'", virtq_error_name(err),
		     virtq_error_name(q.last_error));
	/* A broken queue stays broken and quiet until the driver resets it. */
	vdrv_chain1(&drv, gbuf(8, 0), 8, false);
	cr_assert_eq(virtq_pop(&q, &chain), -1);
	cr_assert(!virtq_enable_notify(&q));
	cr_assert_eq(vdrv_used_idx(&drv), used_before);
}

Test(virtqueue, hostile_head_index_out_of_range)
{
	vdrv_publish(&drv, QSIZE);
	expect_broken(VIRTQ_ERR_HEAD_INDEX);
}

Test(virtqueue, hostile_head_index_0xffff)
{
	vdrv_publish(&drv, 0xffff);
	expect_broken(VIRTQ_ERR_HEAD_INDEX);
}

Test(virtqueue, hostile_next_index_out_of_range)
{
	vdrv_desc(&drv, 0, gbuf(8, 0), 8, VIRTQ_DESC_F_NEXT, QSIZE);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_NEXT_INDEX);
}

Test(virtqueue, hostile_loop_a_b_a)
{
	uint64_t b = gbuf(8, 0);
	vdrv_desc(&drv, 3, b, 8, VIRTQ_DESC_F_NEXT, 7);
	vdrv_desc(&drv, 7, b, 8, VIRTQ_DESC_F_NEXT, 3);
	vdrv_publish(&drv, 3);
	expect_broken(VIRTQ_ERR_CHAIN_TOO_LONG);
}

Test(virtqueue, hostile_self_loop_of_writable_descriptors)
{
	vdrv_desc(&drv, 1, gbuf(8, 0), 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	vdrv_publish(&drv, 1);
	expect_broken(VIRTQ_ERR_CHAIN_TOO_LONG);
}

Test(virtqueue, hostile_chain_longer_than_queue)
{
	/* All sixteen descriptors in a ring: the seventeenth step must be refused. */
	uint64_t b = gbuf(8, 0);
	for (unsigned int i = 0; i < QSIZE; i++)
		vdrv_desc(&drv, (uint16_t)i, b, 8, VIRTQ_DESC_F_NEXT, (uint16_t)((i + 1) % QSIZE));
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_CHAIN_TOO_LONG);
}

Test(virtqueue, hostile_zero_length_loop)
{
	/* Zero-length descriptors are skipped, but still count as steps. */
	vdrv_desc(&drv, 0, gbuf(8, 0), 0, VIRTQ_DESC_F_NEXT, 1);
	vdrv_desc(&drv, 1, gbuf(8, 0), 0, VIRTQ_DESC_F_NEXT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_CHAIN_TOO_LONG);
}

Test(virtqueue, hostile_second_chain_bad_first_one_delivered)
{
	vdrv_chain1(&drv, gbuf(8, 0), 8, false);
	vdrv_publish(&drv, QSIZE + 3);
	pop_one();
	virtq_push(&q, chain.head, 0);
	expect_broken(VIRTQ_ERR_HEAD_INDEX);
	cr_assert_eq(vdrv_used_idx(&drv), 1);
}

Test(virtqueue, hostile_indirect_len_zero)
{
	vdrv_desc(&drv, 0, gbuf(64, 0), 0, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_INDIRECT);
}

Test(virtqueue, hostile_indirect_len_not_multiple_of_16)
{
	uint64_t t = gbuf(64, 0);
	desc_at(t, gbuf(8, 0), 8, 0, 0);
	vdrv_desc(&drv, 0, t, 24, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_INDIRECT);
}

Test(virtqueue, hostile_indirect_more_than_virtq_max_chain_entries)
{
	/* The table's length alone is refused, even though the chain in it is one entry. */
	uint64_t t = gbuf(16 * (VIRTQ_MAX_CHAIN + 1), 0);
	desc_at(t, gbuf(8, 0), 8, 0, 0);
	vdrv_desc(&drv, 0, t, 16 * (VIRTQ_MAX_CHAIN + 1), VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_CHAIN_TOO_LONG);
}

Test(virtqueue, hostile_indirect_chain_of_more_than_virtq_max_chain_entries)
{
	uint64_t t = gbuf(16 * (VIRTQ_MAX_CHAIN + 1), 0);
	for (unsigned int i = 0; i <= VIRTQ_MAX_CHAIN; i++)
		desc_at(t + 16ull * i, HEAP_GPA, 1, i < VIRTQ_MAX_CHAIN ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	vdrv_desc(&drv, 0, t, 16 * (VIRTQ_MAX_CHAIN + 1), VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_CHAIN_TOO_LONG);
}

Test(virtqueue, hostile_direct_plus_indirect_exceed_virtq_max_chain)
{
	uint64_t t = gbuf(16 * VIRTQ_MAX_CHAIN, 0), data = gbuf(VIRTQ_MAX_CHAIN, 0);
	for (unsigned int i = 0; i < VIRTQ_MAX_CHAIN; i++)
		desc_at(t + 16ull * i, data + i, 1, i + 1 < VIRTQ_MAX_CHAIN ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	vdrv_desc(&drv, 0, gbuf(8, 0), 8, VIRTQ_DESC_F_NEXT, 1);
	vdrv_desc(&drv, 1, t, 16 * VIRTQ_MAX_CHAIN, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_CHAIN_TOO_LONG);
}

Test(virtqueue, hostile_indirect_table_outside_ram)
{
	vdrv_desc(&drv, 0, RAM_BYTES, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_BUFFER_RANGE);
}

Test(virtqueue, hostile_indirect_table_straddles_end_of_ram)
{
	vdrv_desc(&drv, 0, RAM_BYTES - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_BUFFER_RANGE);
}

Test(virtqueue, hostile_indirect_table_address_wraps)
{
	vdrv_desc(&drv, 0, UINT64_MAX - 15, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_BUFFER_RANGE);
}

Test(virtqueue, hostile_nested_indirect)
{
	uint64_t inner = gbuf(16, 0), outer = gbuf(32, 0);
	desc_at(inner, gbuf(8, 0), 8, 0, 0);
	desc_at(outer, gbuf(8, 0), 8, VIRTQ_DESC_F_NEXT, 1);
	desc_at(outer + 16, inner, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_desc(&drv, 0, outer, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_INDIRECT);
}

Test(virtqueue, hostile_indirect_with_next)
{
	uint64_t t = gbuf(16, 0);
	desc_at(t, gbuf(8, 0), 8, 0, 0);
	vdrv_desc(&drv, 0, t, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	vdrv_desc(&drv, 1, gbuf(8, 0), 8, 0, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_INDIRECT);
}

Test(virtqueue, hostile_indirect_next_index_out_of_table)
{
	uint64_t t = gbuf(32, 0);
	desc_at(t, gbuf(8, 0), 8, VIRTQ_DESC_F_NEXT, 1);
	desc_at(t + 16, gbuf(8, 0), 8, VIRTQ_DESC_F_NEXT, 2); /* table has two entries */
	vdrv_desc(&drv, 0, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_NEXT_INDEX);
}

Test(virtqueue, hostile_indirect_loop)
{
	uint64_t t = gbuf(48, 0), b = gbuf(8, 0);
	desc_at(t, b, 8, VIRTQ_DESC_F_NEXT, 1);
	desc_at(t + 16, b, 8, VIRTQ_DESC_F_NEXT, 2);
	desc_at(t + 32, b, 8, VIRTQ_DESC_F_NEXT, 1);
	vdrv_desc(&drv, 0, t, 48, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_CHAIN_TOO_LONG);
}

Test(virtqueue, hostile_indirect_buffer_outside_ram)
{
	uint64_t t = gbuf(16, 0);
	desc_at(t, RAM_BYTES - 8, 16, VIRTQ_DESC_F_WRITE, 0);
	vdrv_desc(&drv, 0, t, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_BUFFER_RANGE);
}

Test(virtqueue, hostile_indirect_readable_after_writable)
{
	uint64_t t = gbuf(32, 0);
	desc_at(t, gbuf(8, 0), 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc_at(t + 16, gbuf(8, 0), 8, 0, 0);
	vdrv_desc(&drv, 0, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_ORDER);
}

Test(virtqueue, hostile_direct_writable_then_indirect_readable)
{
	uint64_t t = gbuf(16, 0);
	desc_at(t, gbuf(8, 0), 8, 0, 0);
	vdrv_desc(&drv, 0, gbuf(8, 0), 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	vdrv_desc(&drv, 1, t, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vdrv_publish(&drv, 0);
	expect_broken(VIRTQ_ERR_ORDER);
}

Test(virtqueue, hostile_buffer_just_past_ram)
{
	vdrv_chain1(&drv, RAM_BYTES, 1, false);
	expect_broken(VIRTQ_ERR_BUFFER_RANGE);
}

Test(virtqueue, hostile_buffer_straddles_end_of_ram)
{
	vdrv_chain1(&drv, RAM_BYTES - 4, 8, true);
	expect_broken(VIRTQ_ERR_BUFFER_RANGE);
}

Test(virtqueue, hostile_buffer_in_mmio_hole_and_above_4g)
{
	vdrv_chain1(&drv, 0xd0000000ull, 8, false);
	expect_broken(VIRTQ_ERR_BUFFER_RANGE);
	virtq_reset(&q);
	q.desc_gpa = DESC_GPA;
	q.avail_gpa = AVAIL_GPA;
	q.used_gpa = USED_GPA;
	vdrv_init(&drv, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA);
	cr_assert_eq(virtq_enable(&q), VIRTQ_OK);
	vdrv_chain1(&drv, 1ull << 32, 8, false);
	expect_broken(VIRTQ_ERR_BUFFER_RANGE);
}

Test(virtqueue, hostile_address_plus_length_overflows)
{
	vdrv_chain1(&drv, UINT64_MAX - 2, 16, false);
	expect_broken(VIRTQ_ERR_BUFFER_RANGE);
}

Test(virtqueue, hostile_length_0xffffffff)
{
	vdrv_chain1(&drv, 0, 0xffffffffu, true);
	expect_broken(VIRTQ_ERR_BUFFER_RANGE);
}

Test(virtqueue, hostile_readable_after_writable)
{
	struct vseg s[3] = { { gbuf(8, 0), 8, false }, { gbuf(8, 0), 8, true }, { gbuf(8, 0), 8, false } };
	vdrv_chain(&drv, s, 3);
	expect_broken(VIRTQ_ERR_ORDER);
}

/* Regression test, once a bug (devices/virtio/virtq.c, add_segment): the order check looks at c->nwrite, which a
 * zero-length writable descriptor never increments (it is skipped before being counted). A
 * chain [writable len 0] -> [readable len 8] is a device-readable descriptor after a
 * device-writable one (virtio 1.2 §2.7.4.2, and virtq.h's "readable after writable"
 * contract), yet virtq_pop returns 1 with nread 1 instead of -1 / VIRTQ_ERR_ORDER.
 * No memory is touched through the empty buffer, so the impact is a missed malformed chain. */
Test(virtqueue, hostile_readable_after_zero_length_writable)
{
	struct vseg s[2] = { { gbuf(8, 0), 0, true }, { gbuf(8, 0), 8, false } };
	vdrv_chain(&drv, s, 2);
	expect_broken(VIRTQ_ERR_ORDER);
}

Test(virtqueue, hostile_avail_idx_jumps_past_queue_size)
{
	vdrv_set_avail_idx(&drv, QSIZE + 1);
	expect_broken(VIRTQ_ERR_AVAIL_IDX);
}

Test(virtqueue, hostile_avail_idx_moves_backwards)
{
	complete_one();
	vdrv_set_avail_idx(&drv, 0); /* 1 -> 0 is a jump of 65535 */
	expect_broken(VIRTQ_ERR_AVAIL_IDX);
}

Test(virtqueue, reset_and_reenable_recovers_a_broken_queue)
{
	vdrv_publish(&drv, QSIZE);
	cr_assert_eq(virtq_pop(&q, &chain), -1);
	virtq_reset(&q);
	cr_assert(!q.broken);
	cr_assert(!q.ready);
	cr_assert_eq(virtq_pop(&q, &chain), 0, "not ready: nothing to pop, not an error");
	vdrv_init(&drv, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA);
	q.desc_gpa = DESC_GPA;
	q.avail_gpa = AVAIL_GPA;
	q.used_gpa = USED_GPA;
	cr_assert_eq(virtq_enable(&q), VIRTQ_OK);
	complete_one();
	cr_assert_eq(vdrv_used_idx(&drv), 1);
}

/* ---- ring addresses at enable time ------------------------------------------------------ */

static void expect_enable_refused(uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	struct virtq r;
	virtq_init(&r, &mem, QSIZE);
	r.size = size;
	r.desc_gpa = desc;
	r.avail_gpa = avail;
	r.used_gpa = used;
	cr_assert_eq(virtq_enable(&r), VIRTQ_ERR_RING_RANGE, "size %u desc 0x%llx avail 0x%llx used 0x%llx", size,
		     (unsigned long long)desc, (unsigned long long)avail, (unsigned long long)used);
	cr_assert_eq(r.last_error, VIRTQ_ERR_RING_RANGE);
	cr_assert(!r.ready);
	cr_assert_eq(virtq_pop(&r, &chain), 0, "a queue that never became ready yields nothing");
	cr_assert(!virtq_enable_notify(&r));
}

static void expect_enable_ok(uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	struct virtq r;
	virtq_init(&r, &mem, QSIZE);
	r.size = size;
	r.desc_gpa = desc;
	r.avail_gpa = avail;
	r.used_gpa = used;
	cr_assert_eq(virtq_enable(&r), VIRTQ_OK, "size %u desc 0x%llx avail 0x%llx used 0x%llx", size,
		     (unsigned long long)desc, (unsigned long long)avail, (unsigned long long)used);
	cr_assert(r.ready);
}

Test(virtqueue, hostile_rings_misaligned)
{
	expect_enable_refused(QSIZE, DESC_GPA + 8, AVAIL_GPA, USED_GPA);
	expect_enable_refused(QSIZE, DESC_GPA, AVAIL_GPA + 1, USED_GPA);
	expect_enable_refused(QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA + 2);
	expect_enable_ok(QSIZE, DESC_GPA + 16, AVAIL_GPA + 2, USED_GPA + 4);
}

Test(virtqueue, hostile_rings_outside_ram)
{
	expect_enable_refused(QSIZE, RAM_BYTES, AVAIL_GPA, USED_GPA);
	expect_enable_refused(QSIZE, DESC_GPA, RAM_BYTES, USED_GPA);
	expect_enable_refused(QSIZE, DESC_GPA, AVAIL_GPA, RAM_BYTES);
	expect_enable_refused(QSIZE, 1ull << 32, AVAIL_GPA, USED_GPA);
	expect_enable_refused(QSIZE, UINT64_MAX - 15, AVAIL_GPA, USED_GPA);
	expect_enable_refused(QSIZE, DESC_GPA, UINT64_MAX - 1, USED_GPA);
	expect_enable_refused(QSIZE, DESC_GPA, AVAIL_GPA, UINT64_MAX - 3);
}

Test(virtqueue, hostile_rings_straddle_end_of_ram)
{
	/* desc 16*16 = 256 bytes, avail 6+2*16 = 38, used 6+8*16 = 134. */
	expect_enable_ok(QSIZE, RAM_BYTES - 256, AVAIL_GPA, USED_GPA);
	expect_enable_refused(QSIZE, RAM_BYTES - 240, AVAIL_GPA, USED_GPA);
	expect_enable_ok(QSIZE, DESC_GPA, RAM_BYTES - 38, USED_GPA);
	expect_enable_refused(QSIZE, DESC_GPA, RAM_BYTES - 36, USED_GPA);
	expect_enable_ok(QSIZE, DESC_GPA, AVAIL_GPA, RAM_BYTES - 136);
	expect_enable_refused(QSIZE, DESC_GPA, AVAIL_GPA, RAM_BYTES - 132);
}

Test(virtqueue, hostile_queue_size_zero_or_above_max)
{
	expect_enable_refused(0, DESC_GPA, AVAIL_GPA, USED_GPA);
	expect_enable_refused(QSIZE + 1, DESC_GPA, AVAIL_GPA, USED_GPA);
	expect_enable_ok(1, DESC_GPA, AVAIL_GPA, USED_GPA);
}

/* Regression: sizes that are not a power of 2 used to be accepted (found by the test
 * guest's "hostile" mode). With size 12, avail ring slot 65535 % 12 = 3 is followed after the
 * index wraps by 0 % 12 = 0: slots 4..11 would be skipped and the queue desynchronised. */
Test(virtqueue, hostile_queue_size_not_a_power_of_2)
{
	struct virtq r;
	virtq_init(&r, &mem, 256);
	for (uint16_t size = 1; size <= 256; size++) {
		r.size = size;
		r.desc_gpa = DESC_GPA;
		r.avail_gpa = AVAIL_GPA;
		r.used_gpa = USED_GPA;
		enum virtq_error err = virtq_enable(&r);
		if (size & (size - 1))
			cr_assert_eq(err, VIRTQ_ERR_RING_RANGE, "size %u accepted", size);
		else
			cr_assert_eq(err, VIRTQ_OK, "size %u refused", size);
		cr_assert_eq(r.ready, err == VIRTQ_OK);
	}
}

Test(virtqueue, rings_at_the_very_end_of_ram_are_usable)
{
	/* Used ring flush against the guard page: the device writes avail_event at its last two
	 * bytes, which must still be inside RAM. */
	virtq_reset(&q);
	uint64_t used = RAM_BYTES - 136, avail = RAM_BYTES - 4096 - 38;
	vdrv_init(&drv, QSIZE, DESC_GPA, avail, used);
	q.desc_gpa = DESC_GPA;
	q.avail_gpa = avail;
	q.used_gpa = used;
	cr_assert_eq(virtq_enable(&q), VIRTQ_OK);
	q.event_idx = true;
	complete_one();
	cr_assert(virtq_should_signal(&q));
	cr_assert(!virtq_enable_notify(&q));
	cr_assert_eq(vdrv_avail_event(&drv), 1);
}
