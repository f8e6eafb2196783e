/* The flattened device tree an arm64 guest boots with, built with libfdt from the machine
 * layout and the profile: memory, cpus (PSCI), GICv3, the architected timer, the 16550, the
 * PL031 RTC, the PCI host (CAM, ranges, INTx interrupt-map) or the virtio-mmio slots, and
 * /chosen. KVM-free: unit tests parse it back with libfdt, and --dump-fdt writes it. */
#ifndef N90_A64_FDT_H
#define N90_A64_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/aarch64/profile.h"
#include "vmm/machine.h"

/* The guest reserves 2 MiB from the FDT's address (StarryOS) and Linux maps it in 2 MiB
 * blocks: the blob must fit in that, and is built in a buffer this size. */
#define A64_FDT_MAX_SIZE (2u << 20)
#define A64_FDT_BUILD_SIZE (64u << 10)

/* Interrupt specifier cells of arm,gic-v3 (Linux dt-bindings/interrupt-controller). */
#define A64_GIC_SPI 0
#define A64_GIC_PPI 1
#define A64_IRQ_EDGE_RISING 1
#define A64_IRQ_LEVEL_HIGH 4
/* Architected timer PPIs (secure phys, non-secure phys = EL1 physical = INTID 30, virtual,
 * hypervisor): INTID - 16. */
#define A64_TIMER_PPI_SEC 13
#define A64_TIMER_PPI_PHYS 14
#define A64_TIMER_PPI_VIRT 11
#define A64_TIMER_PPI_HYP 10

struct a64_fdt_input {
	const struct arch_profile *profile;
	const struct machine_layout *layout;
	unsigned int ncpus;
	const char *cmdline;
	uint64_t initrd_start, initrd_size; /* size 0: no initrd */
	bool virtio_pci;                    /* else virtio-mmio, n_virtio_mmio slots */
	unsigned int n_virtio_mmio;
	const uint8_t *rng_seed; /* /chosen/rng-seed, or NULL */
	size_t rng_seed_len;
};

/* Builds the tree into buf (size bytes); returns its total size, or -errno with a one-line
 * reason in err. */
int a64_fdt_build(const struct a64_fdt_input *in, void *buf, size_t size, char *err, size_t errlen);

#endif
