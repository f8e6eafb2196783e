/*
 * n90vmm test guests: the virtio driver core (virtio.c) shared by the blk, console, net,
 * hostile and bench modes, on every architecture. What it needs from an architecture is
 * arch.h and the "architecture" section at the end of this file.
 */
#ifndef N90_GUEST_VIRTIO_H
#define N90_GUEST_VIRTIO_H

#include "arch.h"
#include "pci.h"

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3

#define VIRTIO_STATUS_ACK 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_VERSION_1 32

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4

#define MAX_VDEVS 8
#define VQ_DEFAULT_SIZE 128
/* Descriptors are handed out in fixed slots: slot s owns [s * VQ_SLOT_DESCS, +VQ_SLOT_DESCS). */
#define VQ_SLOT_DESCS 8
#define VQ_MAX_SLOTS (VQ_DEFAULT_SIZE / VQ_SLOT_DESCS)

enum transport { T_PCI, T_MMIO };

struct vdev {
	enum transport t;
	u32 id;                /* virtio device ID */
	u32 index;             /* discovery order */
	const char *probe_err; /* discovery found it but cannot drive it */
	u64 features;          /* negotiated */
	int irq;               /* interrupt driven (else polled) */
	volatile u32 irqs;     /* interrupts that were this device's (vdev_interrupt) */
	/* Its interrupt line, when not MSI-X: the x86 IOAPIC pin (GSI) of an MMIO device, the
	 * arm64 GIC INTID of an MMIO device or of a PCI function's INTx; 0: none known. */
	u32 line;
	u8 line_edge;          /* edge-triggered (else level) */
	u8 msix;               /* MSI-X entries 0 (queues) and 1 (config) are routed */
	/* PCI: config space, capabilities (§4.1.4) */
	u64 cfg, common, notify, isr, devcfg, msix_table;
	u32 notify_mult, slot;
	u16 msix_n;
	u8 msix_cap;
	/* MMIO */
	u64 base;
};

struct vdesc {
	u64 addr;
	u32 len;
	u16 flags, next;
} __attribute__((packed));

struct vq {
	struct vdev *d;
	u16 q, size;
	struct vdesc *desc;
	u8 *avail, *used;
	u16 avail_idx, used_seen;
	u64 notify_addr;
};

/* One buffer of a chain, as vq_post takes it. */
struct vbuf {
	u64 addr;
	u32 len;
	int write; /* device-writable */
};

/* What virtio= asked for. */
struct vmode {
	u32 dev;
	enum transport t;
	int irq;
};

u8 vdev_status(struct vdev *d);
void vdev_set_status(struct vdev *d, u8 s);
u32 vdev_cfg32(struct vdev *d, u32 off);
u8 vdev_cfg8(struct vdev *d, u32 off);
int vdev_queue_ready(struct vdev *d, u16 q);
const char *vdev_begin(struct vdev *d, u64 want);
/* Sets up queue q with `size` entries (0: default) in ring page set `pages`; a non-zero
 * desc_override is written as the descriptor table address instead of ours. */
const char *vq_setup(struct vq *vq, struct vdev *d, u16 q, u16 size, u32 pages, u64 desc_override);
void vdev_driver_ok(struct vdev *d);
struct vdev *vdev_find(const struct vmode *m, u32 nth);
const char *transport_name(const struct vdev *d);

u16 vq_post(struct vq *vq, u32 slot, const struct vbuf *b, u32 n, int indirect);
void vq_publish(struct vq *vq, u16 head);
void vq_notify(struct vq *vq);
int vq_wait(struct vq *vq, u32 *id, u32 *len, u64 max_cycles);
int vq_pop(struct vq *vq, u32 *id, u32 *len);
void vq_kick(struct vq *vq);
u16 vq_used_idx(struct vq *vq);
/* Completions seen in interrupt mode without their device interrupt (virtio.c watchdog). */
extern u32 lost_interrupts;
/* How the queues are driven, for drivers to imitate (StarryOS's virtio-drivers 0.7, see
 * aarch64/starry.c): at most this many entries per queue (0: VQ_DEFAULT_SIZE), and each
 * ring address written with one 64-bit store instead of two 32-bit halves. */
extern u16 vq_size_limit;
extern int vq_addr_store64;
/* Called for the ring pages of every queue set up, with their address and length (pKVM
 * guests share DMA memory with the host). */
extern void (*virtio_dma_share)(u64 pa, u64 len);

/* virtio_blk.c */
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_F_RO 5
#define BLK_F_FLUSH 9
/* Starts a virtio-blk device with its one queue in ring pages `pages` (polled or irq as
 * d->irq says) and reads its capacity. */
const char *blk_start(struct vdev *d, struct vq *vq, u32 pages, u64 *capacity);
/* One synchronous request: `len` bytes at `data` (split into `nseg` descriptors), through
 * an indirect table if asked. Returns the status byte, or 0xff if no answer came. */
u8 blk_rw(struct vq *vq, u32 type, u64 sector, void *data, u32 len, u32 nseg, int indirect);
void blk_main(const struct vmode *m);
void blk_bench(const struct vmode *m, const char *what);

/* virtio_console.c */
void console_main(const struct vmode *m);

/* virtio_net.c */
void net_main(const struct vmode *m, const char *bench);

/* hostile.c */
void hostile_main(const struct vmode *m);

/* The virtio= / hostile / bench= modes (see README.md). */
void virtio_main(void);

/* ---- for the architecture's discovery and interrupt code ---- */
/* Adds the virtio-mmio slot at `base` (ignored if it holds no device) with its interrupt. */
void vdev_add_mmio(u64 base, u32 line, int edge);
/* Device `i` in discovery order; NULL past the last. */
struct vdev *vdev_get(u32 i);
/* From the interrupt handler of d's vector or line: acknowledges the interrupt at the
 * device (MMIO InterruptStatus, the PCI ISR) and counts it if the device had raised it.
 * 1 if it had. */
int vdev_interrupt(struct vdev *d);

/* ---- provided by the architecture (x86_64/platform.c, aarch64/platform.c) ---- */
/* The PCI host bridge of the pci transport; NULL if the machine has none. */
struct pci_host *arch_pci_host(void);
/* Calls vdev_add_mmio() for every virtio-mmio slot the machine describes. */
void arch_mmio_scan(void);
/* The mode is interrupt driven: get the interrupt controller ready. */
void arch_irq_init(void);
/* During setup, before the queues: routes d's interrupt to this CPU (MSI-X entries 0 and
 * 1 and d->msix = 1, or its line). NULL, or why it cannot be done. */
const char *arch_irq_prepare(struct vdev *d);
/* At DRIVER_OK: lets d's line interrupt in. */
void arch_irq_enable(struct vdev *d);
/* An address that is MMIO, not RAM (hostile buffers and rings are put there). */
u64 arch_mmio_hole(void);

#endif
