/*
 * n90vmm test guests: PCI configuration space and BARs (pci.c), the same code over the
 * three memory-mapped layouts a monitor can give: ECAM (PCIe 4.0 §7.2.2, 4 KiB per
 * function), CAM (256 bytes per function, crosvm's arm64 `pci-host-cam-generic`) and
 * their addresses as the architecture found them (ACPI MCFG, FDT, hard-coded).
 */
#ifndef N90_GUEST_PCI_H
#define N90_GUEST_PCI_H

#include "arch.h"

/* A window of bus addresses the host bridge forwards: BARs hold PCI addresses, the CPU
 * reaches them at cpu + (addr - pci). */
struct pci_window {
	u64 pci, cpu, size;
	u64 next; /* the guest's allocation cursor (PCI address) */
};

struct pci_host {
	u64 cfg;                          /* CPU address of bus 0's configuration space */
	u8 bus_shift, dev_shift, fn_shift; /* ECAM 20/15/12, CAM 16/11/8 */
	u8 dword_only;                    /* configuration space only takes 32-bit accesses */
	u8 assign;                        /* the guest assigns unassigned BARs from mem/io */
	struct pci_window mem, io;        /* size 0: unknown; BARs are then used as found */
};

#define PCI_ECAM_SHIFTS 20, 15, 12
#define PCI_CAM_SHIFTS 16, 11, 8

/* The host the accessors below use. */
void pci_use(struct pci_host *h);
/* CPU address of bus/dev/fn's configuration space. */
u64 pci_cfg(u32 bus, u32 dev, u32 fn);
u8 pci_rd8(u64 cfg, u32 off);
u16 pci_rd16(u64 cfg, u32 off);
u32 pci_rd32(u64 cfg, u32 off);
void pci_wr16(u64 cfg, u32 off, u16 v);
void pci_wr32(u64 cfg, u32 off, u32 v);
/* CPU address of memory BAR `bar` (a 64-bit one takes bar and bar + 1); 0 if it is an I/O
 * BAR, unassigned or past BAR 5. */
u64 pci_mem_bar(u64 cfg, u32 bar);
/* CPU address of I/O BAR `bar` through the host's I/O window; 0 if none. */
u64 pci_io_bar(u64 cfg, u32 bar);
/* With h->assign: gives every unassigned BAR of the function an address from the host's
 * windows (naturally aligned) and enables decoding; a function whose BARs are all assigned
 * is left alone. NULL or why not. */
const char *pci_assign_bars(u64 cfg);

#endif
