/* arm64 machine profiles: everything that differs between the arm64 machines n90vmm
 * reproduces, as data (struct arch_profile is the name vmm/machine.h knows a profile by).
 * KVM-free, so the loader, the FDT builder and their tests read it on any host. */
#ifndef N90_A64_PROFILE_H
#define N90_A64_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#define A64_MAX_CPUS 64
/* GICv3: each vCPU's redistributor takes two 64 KiB frames (RD_base, SGI_base). */
#define A64_GICR_STRIDE 0x20000ull
#define A64_GICD_SIZE 0x10000ull

struct arch_profile {
	const char *name;
	const char *summary;

	/* Guest RAM: one region from ram_base. StarryOS's build fixes its size (it does not read
	 * the FDT's memory node), hence a minimum. */
	uint64_t ram_base;
	uint64_t min_mem_mib, default_mem_mib;
	uint32_t default_cpus;

	/* GICv3 distributor; the redistributors sit right below it, one stride per vCPU
	 * (crosvm's placement: GICR = GICD - 0x20000 * ncpus). */
	uint64_t gicd_base;
	/* SPIs the distributor implements (KVM_DEV_ARM_VGIC_GRP_NR_IRQS takes 32 + this). */
	uint32_t nr_spis;

	/* The console's 16550: MMIO, byte stride, edge-triggered SPI. */
	uint64_t uart_base;
	uint32_t uart_spi;
	uint32_t uart_clock_hz;

	/* PL031 real-time clock (Linux reads the time from it). */
	uint64_t rtc_base;
	uint32_t rtc_spi;

	/* PCI: CAM configuration space, the BAR window, INTx SPIs (INTA#..INTD# at slot 0). */
	uint64_t pci_cam_base, pci_cam_size;
	uint64_t pci_window_base, pci_window_size;
	uint8_t pci_intx_spis[4];

	/* virtio-mmio slots (only with --virtio-transport mmio). */
	uint64_t virtio_mmio_base;
	uint8_t virtio_mmio_spis[8];

	/* The rootfs's virtio-blk position (see machine_layout.rootfs_disk_index). */
	unsigned int rootfs_disk_index;
	/* Answer the pKVM guest hypercalls StarryOS makes at boot (pkvm.h). */
	bool pkvm_hypercalls;
};

/* NULL when no profile has this name. */
const struct arch_profile *a64_profile_find(const char *name);
/* The profile for an arm64 Image when --profile is not given. */
const struct arch_profile *a64_profile_default(void);
/* Iterate: NULL after the last. */
const struct arch_profile *a64_profile_at(unsigned int index);

struct machine_layout;
/* The machine layout (vmm/machine.h) of profile p with mem bytes of RAM. */
void a64_layout_from_profile(const struct arch_profile *p, uint64_t mem, struct machine_layout *l);

/* Where the redistributors start for ncpus vCPUs. */
static inline uint64_t a64_gicr_base(const struct arch_profile *p, unsigned int ncpus)
{
	return p->gicd_base - A64_GICR_STRIDE * ncpus;
}

/* The MPIDR_EL1 KVM gives vCPU `index` (arch/arm64/kvm/sys_regs.c reset_mpidr: Aff0 = the low
 * 4 bits, Aff1 the next 8, Aff2 the next 8); the FDT's cpu reg and PSCI CPU_ON's target. */
static inline uint64_t a64_mpidr(unsigned int index)
{
	return (uint64_t)(index & 0xf) | (uint64_t)((index >> 4) & 0xff) << 8 | (uint64_t)((index >> 12) & 0xff) << 16;
}

#endif
