#include "arch/aarch64/profile.h"

#include <string.h>

#include "vmm/machine.h"

static const struct arch_profile profiles[] = {
	{
		/* StarryOS aarch64-crosvm-virt, the N90 build (PLATFORMS.md §3; axplat-aarch64-
		 * crosvm-virt axconfig.toml). Its kernel hard-codes every address below except the
		 * RTC and virtio-mmio, which only Linux uses. */
		.name = "crosvm-arm64",
		.summary = "StarryOS aarch64-crosvm-virt: RAM 0x80000000, GICv3 0x3fff0000, 16550 at 0x3f8, PCI CAM 0x72000000",
		.ram_base = 0x80000000,
		.min_mem_mib = 2048,
		.default_mem_mib = 2048,
		.default_cpus = 2,
		.gicd_base = 0x3fff0000,
		.nr_spis = 64,
		.uart_base = 0x3f8,
		.uart_spi = 0,
		.uart_clock_hz = 1843200,
		/* crosvm's arm64 RTC address; SPI 1 is free. */
		.rtc_base = 0x2000,
		.rtc_spi = 1,
		.pci_cam_base = 0x72000000,
		.pci_cam_size = 0x1000000, /* 256 buses x 32 slots x 8 functions x 256 bytes */
		.pci_window_base = 0x70000000,
		.pci_window_size = 0x2000000,
		.pci_intx_spis = { 4, 5, 6, 7 },
		/* Right above the CAM window, outside StarryOS's device map (Linux only). */
		.virtio_mmio_base = 0x73000000,
		.virtio_mmio_spis = { 8, 9, 10, 11, 12, 13, 14, 15 },
		/* "must have two block devices: secure and non-secure; we only use the second"
		 * (arceos axfs, feature crosvm). */
		.rootfs_disk_index = 1,
		.pkvm_hypercalls = true,
	},
};

const struct arch_profile *a64_profile_at(unsigned int index)
{
	return index < sizeof(profiles) / sizeof(profiles[0]) ? &profiles[index] : NULL;
}

const struct arch_profile *a64_profile_find(const char *name)
{
	for (unsigned int i = 0; a64_profile_at(i); i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

const struct arch_profile *a64_profile_default(void)
{
	return &profiles[0];
}

void a64_layout_from_profile(const struct arch_profile *p, uint64_t mem, struct machine_layout *l)
{
	*l = (struct machine_layout){
		.ram_base = p->ram_base,
		.mem_bytes = mem,
		.mmio_hole_start = UINT64_MAX,
		.pci_access = PCI_CONFIG_CAM,
		.pci_conf1 = false,
		.pci_config_base = p->pci_cam_base,
		.pci_config_size = p->pci_cam_size,
		.pci_window_base = p->pci_window_base,
		.pci_window_size = p->pci_window_size,
		/* No GICv3 ITS: virtio-pci interrupts through INTx, described by the FDT's
		 * interrupt-map (docs/arm64.md says why). */
		.msi = false,
		.rootfs_disk_index = p->rootfs_disk_index,
		.virtio_mmio_base = p->virtio_mmio_base,
		.virtio_mmio_slots = sizeof(p->virtio_mmio_spis),
	};
	memcpy(l->pci_intx_gsis, p->pci_intx_spis, sizeof(l->pci_intx_gsis));
	memcpy(l->virtio_mmio_gsis, p->virtio_mmio_spis, sizeof(p->virtio_mmio_spis));
}
