/* libFuzzer: the x86 kernel loaders (multiboot, ELF/PVH, bzImage) on arbitrary images. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	if (!mem.nregions && guest_mem_alloc(&mem, 0, 64ull << 20, 0xd0000000))
		abort();
	const struct arch_profile *p = x86_profile_find(size && (data[0] & 1) ? "starry-x86" : "crosvm-x86");
	static const uint8_t initrd[4096];
	struct x86_boot_input in = { .kernel = data, .kernel_size = size, .initrd = initrd,
				     .initrd_size = size % 2 ? sizeof(initrd) : 0, .cmdline = "console=ttyS0", .ncpus = 1 + size % 4 };
	struct x86_boot_plan plan;
	char err[X86_LOAD_ERR_LEN];
	if (x86_load_kernel(&mem, p, &in, &plan, err, sizeof(err)) == 0) {
		/* A loaded image lies inside guest RAM, always. */
		if (!guest_mem_is_ram(&mem, plan.kernel_start, plan.kernel_end - plan.kernel_start))
			abort();
	} else if (!err[0]) {
		abort(); /* every failure says why */
	}
	return 0;
}
