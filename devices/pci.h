/* PCI: a host bridge on bus 0 with configuration access through conf1 (0xCF8/0xCFC), ECAM or CAM,
 * type-0 configuration space per function (vendor/device/class, BARs with sizing, a
 * capability list, MSI-X), and BAR dispatch. BARs are assigned by the monitor inside the
 * profile's window before the guest starts (StarryOS has no BAR allocator); a guest that
 * moves a BAR is followed. All BAR accesses go through one MMIO bus range covering the window
 * and are dispatched here by the BARs' current addresses. */
#ifndef N90_PCI_H
#define N90_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"

#define PCI_MAX_DEVICES 32 /* bus 0 only: one function per slot */
#define PCI_CONFIG_SIZE 256
#define PCI_BARS 6

/* Registers (PCI Local Bus 3.0 §6.1). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d
#define PCI_COMMAND_IO 0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_STATUS_INTERRUPT 0x08
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11

struct pci_device;
struct pci_bus;

/* bar_moved and config_written run after the configuration write that caused them, one write at
 * a time per bus (pci_bus.config_lock held, pci_bus.lock not), so they must not make
 * configuration accesses themselves. bar_read/bar_write run with no bus lock held. */
struct pci_device_ops {
	/* BAR access; offset is relative to the BAR's start. */
	void (*bar_read)(struct pci_device *dev, unsigned int bar, uint64_t offset, uint8_t *data, uint32_t len);
	void (*bar_write)(struct pci_device *dev, unsigned int bar, uint64_t offset, const uint8_t *data, uint32_t len);
	/* A BAR's address changed (guest reprogrammed it), or memory decoding was switched;
	 * `addr` is 0 while the BAR does not decode (memory decoding off, or the BAR placed
	 * outside the bus window, where nothing routes its accesses). Used to move ioeventfds. */
	void (*bar_moved)(struct pci_device *dev, unsigned int bar, uint64_t addr);
	/* A write to configuration space at or above 0x40 (capabilities) landed. */
	void (*config_written)(struct pci_device *dev, uint32_t offset, uint32_t len);
};

struct pci_bar {
	uint64_t addr; /* the address the BAR register holds (assigned, or as the guest moved it) */
	uint64_t size; /* power of two, >= 4 KiB for memory BARs; 0 = unused BAR */
	/* The guest wrote all ones: reads return the size mask until the next write, and the BAR
	 * keeps decoding at `addr` meanwhile (guests turn decoding off while sizing anyway). */
	bool sizing;
};

struct pci_device {
	uint8_t config[PCI_CONFIG_SIZE];
	/* Bits the guest may change, per byte of config space (1 = writable). */
	uint8_t wmask[PCI_CONFIG_SIZE];
	struct pci_bar bars[PCI_BARS];
	uint8_t next_cap; /* where pci_add_capability() puts the next one; 0 = config space full */
	unsigned int slot;
	struct pci_bus *bus; /* set by pci_device_add_bar() / pci_bus_add_device() */
	/* Command bit 10 (Interrupt Disable), copied after each configuration write so that
	 * interrupt delivery can test it without the bus lock (read with __atomic_load_n). */
	bool intx_disabled;
	const struct pci_device_ops *ops;
	void *opaque;
};

struct pci_bus {
	pthread_mutex_t lock; /* config writes (BAR moves) vs. BAR dispatch from vCPUs */
	/* Serialises configuration writes with their bar_moved/config_written callbacks, so two
	 * vCPUs moving one BAR cannot report the moves out of order. Taken before `lock`. */
	pthread_mutex_t config_lock;
	struct pci_device *devices[PCI_MAX_DEVICES];
	struct pci_device host_bridge;
	uint32_t conf1_address; /* last value written to 0xCF8 */
	uint64_t window_base, window_size, window_next; /* BAR allocation window */
	uint64_t ecam_base;
	/* IOAPIC GSIs of INTA#..INTD# as seen from slot 0 (the profile's); the pin of a device in
	 * slot s is routed to intx_gsis[(s + pin - 1) % 4], the usual swizzle. 0 = no INTx. */
	uint8_t intx_gsis[4];
};

/* ECAM at ecam_base (may be 0: none), BARs allocated from [window_base, +window_size). */
void pci_bus_init(struct pci_bus *bus, uint64_t ecam_base, uint64_t window_base, uint64_t window_size);
/* Routes the INTx pins (see pci_bus.intx_gsis); before devices are added. */
void pci_bus_set_intx_gsis(struct pci_bus *bus, const uint8_t gsis[4]);
/* The GSI the device's interrupt pin is routed to, 0 when it has none (no pin, not on a bus,
 * or the bus has no INTx routing). Also what its Interrupt Line register reads. */
unsigned int pci_device_intx_gsi(const struct pci_device *dev);
/* Configures a type-0 header. */
void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device, uint32_t class_code,
		     uint16_t subsys_vendor, uint16_t subsys_id, const struct pci_device_ops *ops, void *opaque);
/* Assigns a 32-bit non-prefetchable memory BAR of `size` bytes (power of two, 4 KiB..2 GiB)
 * from the window, naturally aligned; 0, -EINVAL (bad bar/size, or already assigned) or
 * -ENOSPC (window or 32-bit space exhausted). */
int pci_device_add_bar(struct pci_bus *bus, struct pci_device *dev, unsigned int bar, uint64_t size);
/* Appends a capability: the id, the next pointer, then `len` bytes of body. Returns its
 * offset in config space, or 0 when config space is full. */
uint8_t pci_add_capability(struct pci_device *dev, uint8_t id, const uint8_t *body, uint8_t len);
/* Lets the guest write `mask` bits of config byte(s) [offset, offset+len) (bytes past 0xFF are
 * ignored), e.g. the MSI-X enable and function-mask bits of a capability body. */
void pci_set_wmask(struct pci_device *dev, uint32_t offset, uint8_t mask, uint32_t len);
/* The address a BAR decodes at now, or 0 (unassigned, memory decoding off, or not wholly
 * inside the bus window). */
uint64_t pci_device_bar_addr(const struct pci_device *dev, unsigned int bar);
/* Puts the device in the first free slot (1..31; slot 0 is the host bridge); 0, -EEXIST (already
 * on the bus), -EINVAL (its BARs came from another bus) or -ENOSPC. */
int pci_bus_add_device(struct pci_bus *bus, struct pci_device *dev);

/* Configuration access, as conf1 and ECAM both reach it; offset is the register within the
 * function's 4 KiB. Absent functions, and offsets at or past 4 KiB, read all ones; 0x100..0xFFF
 * of a present function reads 0. Writes outside 0x00..0xFF are dropped. */
void pci_config_read(struct pci_bus *bus, unsigned int busnr, unsigned int slot, unsigned int func,
		     uint32_t offset, uint8_t *data, uint32_t len);
void pci_config_write(struct pci_bus *bus, unsigned int busnr, unsigned int slot, unsigned int func,
		      uint32_t offset, const uint8_t *data, uint32_t len);

/* Bus ops, opaque = the pci_bus:
 *  - pci_conf1_address_ops at port 0xCF8, length 1: the address register takes 32-bit
 *    accesses only (KVM reports an outl to 0xCF8 as one 4-byte access at 0xCF8, and the port
 *    bus decodes by the first port), which leaves 0xCF9 to the reset-control register; byte
 *    and word accesses at 0xCF8 read all ones and are dropped. 0xCFA..0xCFB stay unclaimed;
 *  - pci_conf1_data_ops at 0xCFC, length 4;
 *  - pci_ecam_ops at ecam_base, up to 256 MiB (256 buses x 32 slots x 8 functions x 4 KiB;
 *    a smaller range just covers fewer buses);
 *  - pci_cam_ops at the CAM base, up to 16 MiB (256 buses x 32 slots x 8 functions x 256
 *    bytes): the same space, 256 bytes per function (pci-host-cam-generic, crosvm-arm64);
 *  - pci_window_ops over [window_base, window_base + window_size): an access goes to the BAR
 *    that decodes all of it, else reads all ones and its write is dropped. */
extern const struct bus_ops pci_conf1_address_ops, pci_conf1_data_ops, pci_ecam_ops, pci_cam_ops, pci_window_ops;

#endif
