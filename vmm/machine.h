/* The machine, in two halves. The layout is pure data the architecture computes from its
 * profile before KVM exists (RAM, the PCI host, the virtio-mmio slots, the console UART's
 * wiring); device assembly, the firmware tables (ACPI on x86, the FDT on arm64) and the
 * command line all read it, so no address is decided twice. The generic half of device
 * assembly lives here too: disks, taps, the virtio console and the virtio transports are the
 * same on every architecture; arch/<arch>/ adds what only its machine has. */
#ifndef N90_MACHINE_H
#define N90_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/pci.h"
#include "devices/serial.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/console.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/net.h"
#include "devices/virtio/pci.h"
#include "vmm/config.h"
#include "vmm/tap.h"

struct console;
struct vm;
struct arch_profile; /* arch/<arch>/profile.h */

#define MACHINE_MAX_VIRTIO (CONFIG_MAX_DISKS + CONFIG_MAX_NICS + 1)
#define MACHINE_MAX_MMIO_SLOTS 8

/* How configuration space is reached (PCI 3.0 §3.2.2.3.2; PCIe base spec §7.2.2). CAM is
 * the pre-PCIe memory-mapped form: 256 bytes per function (bus << 16 | devfn << 8). */
enum pci_config_access {
	PCI_CONFIG_ECAM,
	PCI_CONFIG_CAM,
};

struct machine_layout {
	/* Guest RAM: from ram_base; when it would reach mmio_hole_start it continues at 4 GiB
	 * instead (x86's 32-bit hole). mmio_hole_start = UINT64_MAX: no hole. */
	uint64_t ram_base;
	uint64_t mem_bytes;
	uint64_t mmio_hole_start;

	/* The PCI host bridge (present whenever virtio uses PCI). */
	enum pci_config_access pci_access;
	bool pci_conf1; /* also ports 0xCF8/0xCFC (x86) */
	uint64_t pci_config_base, pci_config_size;
	uint64_t pci_window_base, pci_window_size; /* every BAR is assigned inside it */
	/* GSIs of INTA#..INTD# at slot 0 (swizzled by slot); level triggered. */
	uint8_t pci_intx_gsis[4];
	/* An interrupt controller that takes MSIs (x86's LAPICs; arm64 without an ITS has
	 * none): virtio-pci offers MSI-X only then. */
	bool msi;

	/* The rootfs (the last disk given) must be virtio-blk device number rootfs_disk_index:
	 * crosvm-arm64's StarryOS mounts the second disk and only enumerates the first (its
	 * "secure" store). With fewer disks given, empty read-only placeholder disks go first. */
	unsigned int rootfs_disk_index;

	/* virtio-mmio: 4 KiB slots from this base, one GSI each (edge triggered). */
	uint64_t virtio_mmio_base;
	uint8_t virtio_mmio_gsis[MACHINE_MAX_MMIO_SLOTS];
	unsigned int virtio_mmio_slots;
};

/* What the architecture picked for this kernel and configuration. */
struct machine_choice {
	const struct arch_profile *profile;
	unsigned int ncpus;
	unsigned long vm_type; /* KVM_CREATE_VM's argument (arm64: the IPA size) */
	struct machine_layout layout;
};

/* The devices every machine builds the same way. arch_create_devices() points console_uart
 * at the UART that carries the console. */
struct machine {
	const struct machine_layout *layout;
	struct vm *vm; /* set by machine_open_backends: --stats reads its exit counts */
	struct serial16550 *console_uart;

	unsigned int ndisks;
	struct virtio_blk disks[CONFIG_MAX_DISKS];
	unsigned int nnets;
	struct virtio_net nets[CONFIG_MAX_NICS];
	struct tap taps[CONFIG_MAX_NICS];
	struct virtio_console vconsole;
	/* Every virtio device in attach order (disks, NICs, then the console) and its transport. */
	unsigned int nvirtio;
	struct virtio_dev *virtio[MACHINE_MAX_VIRTIO];
	struct virtio_mmio mmio[MACHINE_MAX_VIRTIO];
	struct pci_bus pci;
	struct virtio_pci vpci[MACHINE_MAX_VIRTIO];
};

/* Empty disks placed before the user's so the rootfs lands at layout->rootfs_disk_index. */
unsigned int machine_placeholder_disks(const struct machine_layout *layout, const struct vm_config *cfg);
/* Virtio devices in attach order: placeholder disks, the disks, the NICs, then the console
 * when it is virtio. */
unsigned int machine_virtio_count(const struct machine_layout *layout, const struct vm_config *cfg);
/* The address and GSI of virtio-mmio slot i (i < layout->virtio_mmio_slots). */
uint64_t machine_virtio_mmio_addr(const struct machine_layout *layout, unsigned int i);
/* Refuses, with one line and an exit status, a configuration the layout cannot hold (more
 * virtio-mmio devices than slots, more disks than CONFIG_MAX_DISKS). 0 when it fits. */
int machine_check_config(const struct machine_layout *layout, const struct vm_config *cfg);

/* Opens disk images (placeholders first) and taps before KVM exists, so bad paths fail the same way on any host.
 * Returns 0 or an exit status after one clear line. */
int machine_open_backends(struct machine *m, struct vm *vm);
/* The virtio console (if chosen), the taps' event-loop watches, and the virtio transports:
 * the PCI host bridge with every BAR assigned, or the virtio-mmio slots. 0 or -errno. */
int machine_create_virtio(struct machine *m, struct vm *vm, struct console *console);
/* Console input for the guest (the console UART or hvc0); returns bytes accepted. */
size_t machine_console_input(struct machine *m, const struct vm_config *cfg, const uint8_t *buf, size_t len);
void machine_print_stats(const struct machine *m);
/* fdatasync of every writable disk, once no thread serves them (at exit): what the guest
 * wrote is durable when n90vmm has exited, flushed by the guest or not. Failures are logged. */
void machine_sync_disks(struct machine *m);
void machine_destroy(struct machine *m);

#endif
