#include "vmm/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define FOUR_GIB (1ull << 32)

int guest_mem_alloc(struct guest_mem *mem, uint64_t ram_base, uint64_t ram_bytes, uint64_t hole_start)
{
	memset(mem, 0, sizeof(*mem));
	if (ram_bytes == 0 || hole_start <= ram_base || (hole_start != UINT64_MAX && hole_start > FOUR_GIB))
		return -EINVAL;
	/* 47 bits of guest-physical space is all an x86-64 host can map anyway, and more than
	 * any arm64 IPA size n90vmm asks for. */
	if (ram_bytes > (1ull << 46) || ram_base > (1ull << 46))
		return -E2BIG;

	void *base = mmap(NULL, ram_bytes, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	/* Transparent huge pages cut EPT/NPT walk depth for the guest; a hint, not a need. */
	madvise(base, ram_bytes, MADV_HUGEPAGE);
	/* A forked child (the socket cleanup helper) gets no guest RAM: otherwise every page is
	 * shared copy-on-write with it, and each first guest write after the fork breaks a
	 * page's sharing under KVM's feet (QEMU and crosvm mark guest RAM the same way). */
	madvise(base, ram_bytes, MADV_DONTFORK);

	uint64_t low = ram_bytes < hole_start - ram_base ? ram_bytes : hole_start - ram_base;
	mem->regions[0] = (struct guest_mem_region){ .gpa = ram_base, .size = low, .hva = base };
	mem->nregions = 1;
	if (ram_bytes > low) {
		mem->regions[1] = (struct guest_mem_region){ .gpa = FOUR_GIB, .size = ram_bytes - low,
							     .hva = (uint8_t *)base + low };
		mem->nregions = 2;
	}
	mem->total = ram_bytes;
	return 0;
}

void guest_mem_free(struct guest_mem *mem)
{
	if (mem->nregions)
		munmap(mem->regions[0].hva, mem->total);
	memset(mem, 0, sizeof(*mem));
}

void *gpa_to_hva_checked(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	for (unsigned int i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *r = &mem->regions[i];
		/* Written as subtractions so no sum can wrap around 2^64. */
		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = gpa_to_hva_checked(mem, gpa, len);
	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
	const void *src = gpa_to_hva_checked(mem, gpa, len);
	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int guest_mem_fill(const struct guest_mem *mem, uint64_t gpa, int byte, uint64_t len)
{
	void *dst = gpa_to_hva_checked(mem, gpa, len);
	if (!dst)
		return -EFAULT;
	memset(dst, byte, len);
	return 0;
}

uint64_t guest_mem_low_end(const struct guest_mem *mem)
{
	return mem->nregions ? mem->regions[0].gpa + mem->regions[0].size : 0;
}
