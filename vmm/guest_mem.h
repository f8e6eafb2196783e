/* Guest physical memory. This is the one place where guest-controlled addresses become host
 * pointers: every translation is bounds-checked here and nowhere else. */
#ifndef N90_GUEST_MEM_H
#define N90_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 4

struct guest_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_mem {
	struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned int nregions;
	uint64_t total; /* bytes of RAM over all regions */
};

/* Lays out `ram_bytes` of RAM starting at guest address ram_base (0 on x86, 2 GiB on
 * crosvm-arm64), split around the 32-bit hole [hole_start, 4 GiB): RAM that would reach the
 * hole continues at 4 GiB. hole_start = UINT64_MAX: no hole. Backed by one anonymous mapping
 * (MAP_NORESERVE: untouched guest pages cost nothing). Returns 0 or -errno. */
int guest_mem_alloc(struct guest_mem *mem, uint64_t ram_base, uint64_t ram_bytes, uint64_t hole_start);
void guest_mem_free(struct guest_mem *mem);

/* Host pointer for [gpa, gpa+len) if the whole range lies inside one RAM region, else NULL.
 * Safe against overflow of gpa+len. len 0 is treated as 1. */
void *gpa_to_hva_checked(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

static inline bool guest_mem_is_ram(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return gpa_to_hva_checked(mem, gpa, len) != NULL;
}

/* Copy into / out of guest memory; -EFAULT when the range is not RAM. */
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);
int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len);
int guest_mem_fill(const struct guest_mem *mem, uint64_t gpa, int byte, uint64_t len);

/* Exclusive end of the first RAM region (on x86: the highest RAM address below 4 GiB). */
uint64_t guest_mem_low_end(const struct guest_mem *mem);

#endif
