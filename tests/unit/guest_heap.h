/* Guest RAM for the in-test virtio drivers (virtio_test_driver.h, multiq_driver.h): the
 * mapping, checked guest-physical to host translation, and a bump heap for buffers. */
#ifndef N90_GUEST_HEAP_H
#define N90_GUEST_HEAP_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vmm/guest_mem.h"

#define RAM_BYTES (16ull << 20)
#define HEAP_GPA 0x100000ull

static struct guest_mem mem;
static uint64_t heap_next;

static inline void *gva(uint64_t gpa, uint64_t len)
{
	void *p = gpa_to_hva_checked(&mem, gpa, len);
	cr_assert_not_null(p, "test bug: gpa 0x%llx+%llu not RAM", (unsigned long long)gpa, (unsigned long long)len);
	return p;
}

/* One buffer of a chain as the driver lays it out. */
struct vseg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

static inline uint64_t gbuf(uint32_t len, int fill)
{
	uint64_t gpa = heap_next;
	heap_next = (heap_next + len + 63) & ~63ull;
	memset(gva(gpa, len ? len : 1), fill, len);
	return gpa;
}

#endif
