/* libFuzzer: the arm64 Image loader on arbitrary images, and the FDT builder on arbitrary
 * inputs (vCPU count, command line, initrd placement, transport, slot count). */
#include <libfdt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/aarch64/fdt.h"
#include "arch/aarch64/image.h"

#define RAM_BASE 0x80000000ull

static void fuzz_loader(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	if (!mem.nregions && guest_mem_alloc(&mem, RAM_BASE, 64ull << 20, UINT64_MAX))
		abort();
	struct a64_image hdr;
	char err[256] = "";
	uint64_t entry;
	if (a64_image_parse(data, size, &hdr, err, sizeof(err)) ||
	    a64_image_load(&mem, RAM_BASE, data, &hdr, &entry, err, sizeof(err))) {
		if (!err[0])
			abort(); /* every failure says why */
		return;
	}
	/* A loaded image lies inside guest RAM, always. */
	if (!guest_mem_is_ram(&mem, entry, hdr.image_size) || hdr.image_size < size)
		abort();
}

static void fuzz_fdt(const uint8_t *data, size_t size)
{
	static uint8_t blob[A64_FDT_BUILD_SIZE];
	if (size < 12)
		return;
	const struct arch_profile *p = a64_profile_default();
	struct machine_layout layout;
	a64_layout_from_profile(p, (2ull << 30) + ((uint64_t)data[0] << 30), &layout);
	char cmdline[4096];
	size_t n = size - 12 < sizeof(cmdline) - 1 ? size - 12 : sizeof(cmdline) - 1;
	memcpy(cmdline, data + 12, n);
	cmdline[n] = 0;
	uint64_t initrd;
	memcpy(&initrd, data + 2, 8);
	struct a64_fdt_input in = { .profile = p, .layout = &layout, .ncpus = data[1], .cmdline = cmdline,
				    .initrd_start = initrd, .initrd_size = data[10] * 4096ull, .virtio_pci = data[11] & 1,
				    .n_virtio_mmio = (data[11] >> 1) % (MACHINE_MAX_MMIO_SLOTS + 1),
				    .rng_seed = data, .rng_seed_len = size < 64 ? size : 64 };
	char err[256] = "";
	int total = a64_fdt_build(&in, blob, sizeof(blob), err, sizeof(err));
	if (total < 0) {
		if (!err[0])
			abort();
		return;
	}
	/* What the builder writes, libfdt reads back whole, and bootargs survives intact. */
	if (fdt_check_header(blob) || (size_t)total > sizeof(blob))
		abort();
	int chosen = fdt_path_offset(blob, "/chosen");
	const char *args = chosen >= 0 ? fdt_getprop(blob, chosen, "bootargs", NULL) : NULL;
	if (!args || strcmp(args, cmdline) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	/* The first byte picks the target, so one corpus grows for both. */
	if (data[0] & 1)
		fuzz_loader(data + 1, size - 1);
	else
		fuzz_fdt(data + 1, size - 1);
	return 0;
}
