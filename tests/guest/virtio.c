/*
 * n90vmm test guests: virtio drivers (virtio 1.2) for the virtio= modes, on every
 * architecture.
 *
 * Transports: virtio-pci modern (§4.1), found by walking bus 0 of the host bridge the
 * architecture names (ECAM or CAM) and each function's capability list; BARs are used as
 * the monitor left them, and assigned by the guest only where the architecture says the
 * firmware would have (arm64 under QEMU -kernel); virtio-mmio version 2 (§4.2), in the
 * slots the architecture describes (x86: the DSDT's LNRO0005 devices; arm64: the FDT).
 * Completion is polled (spin on the used index) or interrupt driven (x86: MSI-X to the
 * LAPIC for PCI, an IOAPIC pin for MMIO; arm64: GIC SPIs, PCI through INTx).
 *
 * Everything printed is deterministic for a given monitor, image and command line: no
 * addresses, counts of interrupts or timings (bench= lines aside).
 */
#include "virtio.h"

/* ------------------------------------------------------------------ */
/* Transport registers                                                 */
/* ------------------------------------------------------------------ */

/* virtio-mmio registers (§4.2.2). */
#define MMIO_MAGIC 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_DEVICE_FEATURES 0x010
#define MMIO_DEVICE_FEATURES_SEL 0x014
#define MMIO_DRIVER_FEATURES 0x020
#define MMIO_DRIVER_FEATURES_SEL 0x024
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM 0x038
#define MMIO_QUEUE_READY 0x044
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_INTERRUPT_STATUS 0x060
#define MMIO_INTERRUPT_ACK 0x064
#define MMIO_STATUS 0x070
#define MMIO_QUEUE_DESC 0x080
#define MMIO_QUEUE_DRIVER 0x090
#define MMIO_QUEUE_DEVICE 0x0a0
#define MMIO_CONFIG 0x100

/* struct virtio_pci_common_cfg (§4.1.4.3). */
#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_MSIX_CONFIG 0x10
#define CC_STATUS 0x14
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_MSIX 0x1a
#define CC_Q_ENABLE 0x1c
#define CC_Q_NOFF 0x1e
#define CC_Q_DESC 0x20
#define CC_Q_DRIVER 0x28
#define CC_Q_DEVICE 0x30
#define NO_VECTOR 0xffff

u16 vq_size_limit;
int vq_addr_store64;
void (*virtio_dma_share)(u64 pa, u64 len);

static void wr_queue_addr(u64 pa, u64 v)
{
	if (vq_addr_store64) {
		wr64(pa, v);
		return;
	}
	/* Two 32-bit halves, low first: what §4.1.3.1 allows drivers and every device handles. */
	wr32(pa, (u32)v);
	wr32(pa + 4, (u32)(v >> 32));
}

u8 vdev_status(struct vdev *d)
{
	return d->t == T_PCI ? rd8(d->common + CC_STATUS) : (u8)rd32(d->base + MMIO_STATUS);
}

void vdev_set_status(struct vdev *d, u8 s)
{
	if (d->t == T_PCI)
		wr8(d->common + CC_STATUS, s);
	else
		wr32(d->base + MMIO_STATUS, s);
}

static u32 features_word(struct vdev *d, u32 sel)
{
	if (d->t == T_PCI) {
		wr32(d->common + CC_DFSELECT, sel);
		return rd32(d->common + CC_DF);
	}
	wr32(d->base + MMIO_DEVICE_FEATURES_SEL, sel);
	return rd32(d->base + MMIO_DEVICE_FEATURES);
}

static void set_features_word(struct vdev *d, u32 sel, u32 v)
{
	if (d->t == T_PCI) {
		wr32(d->common + CC_GFSELECT, sel);
		wr32(d->common + CC_GF, v);
	} else {
		wr32(d->base + MMIO_DRIVER_FEATURES_SEL, sel);
		wr32(d->base + MMIO_DRIVER_FEATURES, v);
	}
}

u32 vdev_cfg32(struct vdev *d, u32 off)
{
	return rd32((d->t == T_PCI ? d->devcfg : d->base + MMIO_CONFIG) + off);
}

u8 vdev_cfg8(struct vdev *d, u32 off)
{
	return rd8((d->t == T_PCI ? d->devcfg : d->base + MMIO_CONFIG) + off);
}

static void queue_select(struct vdev *d, u16 q)
{
	if (d->t == T_PCI)
		wr16(d->common + CC_Q_SELECT, q);
	else
		wr32(d->base + MMIO_QUEUE_SEL, q);
}

int vdev_queue_ready(struct vdev *d, u16 q)
{
	queue_select(d, q);
	return d->t == T_PCI ? rd16(d->common + CC_Q_ENABLE) : (int)rd32(d->base + MMIO_QUEUE_READY);
}

void vq_notify(struct vq *vq)
{
	mb(); /* ring stores before the doorbell */
	if (vq->d->t == T_PCI)
		wr16(vq->notify_addr, vq->q);
	else
		wr32(vq->d->base + MMIO_QUEUE_NOTIFY, vq->q);
}

/* ------------------------------------------------------------------ */
/* Interrupts                                                          */
/* ------------------------------------------------------------------ */

int vdev_interrupt(struct vdev *d)
{
	u32 status = 1; /* MSI-X: the message is the device's alone, and needs no acknowledgement */
	if (d->t == T_MMIO) {
		/* §4.2.3.4: acknowledge what InterruptStatus reports, so the line can fire again. */
		status = rd32(d->base + MMIO_INTERRUPT_STATUS);
		wr32(d->base + MMIO_INTERRUPT_ACK, status);
	} else if (!d->msix) {
		status = rd8(d->isr); /* §4.1.4.5: reading the ISR clears it and deasserts INTx */
	}
	if (status)
		d->irqs++;
	return status != 0;
}

/*
 * Waits (with interrupts masked, halted in irq_halt) until `done` says so. The architecture
 * makes the check and the halt atomic against the interrupt, and wakes the CPU with a
 * watchdog timer now and then so that a lost device interrupt shows up as a failed check
 * instead of a hang: d's interrupt count must move before `done` turns true, or the
 * completion came without its interrupt.
 */
#define WATCHDOG_NS 50000000ull /* 50 ms */
#define WATCHDOG_TICKS 400      /* 20 s */

u32 lost_interrupts;

static int wait_irq_until(int (*done)(void *), void *arg, struct vdev *d)
{
	u32 dev0 = d->irqs, ticks = 0;
	irq_disable();
	while (!done(arg) && ticks < WATCHDOG_TICKS)
		ticks += (u32)irq_halt(WATCHDOG_NS);
	if (!done(arg))
		return -1;
	/* A watchdog tick can wake us between the device's used-ring store and its interrupt:
	 * give the interrupt a few more ticks before calling it lost. */
	for (ticks = 0; d->irqs == dev0 && ticks < 20; ticks++)
		irq_halt(WATCHDOG_NS);
	if (d->irqs == dev0)
		lost_interrupts++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Discovery                                                           */
/* ------------------------------------------------------------------ */

/* Reads the virtio and MSI-X capabilities of one function (§4.1.4). */
static const char *pci_probe(struct vdev *d)
{
	u64 cfg = d->cfg;
	const char *err = pci_assign_bars(cfg);
	if (err)
		return err;
	if (!(pci_rd16(cfg, 0x06) & 0x10))
		return "no capability list";
	u8 ptr = pci_rd8(cfg, 0x34) & 0xfc;
	for (int guard = 0; ptr && guard < 48; guard++, ptr = pci_rd8(cfg, ptr + 1u) & 0xfc) {
		u8 id = pci_rd8(cfg, ptr);
		if (id == 0x11) { /* MSI-X */
			u32 table = pci_rd32(cfg, ptr + 4u);
			d->msix_cap = ptr;
			d->msix_n = (u16)((pci_rd16(cfg, ptr + 2u) & 0x7ff) + 1);
			u64 base = pci_mem_bar(cfg, table & 7);
			d->msix_table = base ? base + (table & ~7u) : 0;
			continue;
		}
		if (id != 0x09)
			continue;
		u8 type = pci_rd8(cfg, ptr + 3u);
		/* Types 1-4 map BAR regions; 5 (PCI_CFG access window) and vendor types do not. */
		if (type < 1 || type > 4)
			continue;
		u64 base = pci_mem_bar(cfg, pci_rd8(cfg, ptr + 4u));
		if (!base)
			return failf("capability type %u: BAR %u not assigned", type, pci_rd8(cfg, ptr + 4u));
		if (base >= ARCH_MAPPED_LIMIT)
			return failf("capability type %u: BAR at %lx, beyond what this guest maps", type, base);
		u64 addr = base + pci_rd32(cfg, ptr + 8u);
		/* §4.1.4: the first capability of each type is the one to use. */
		if (type == 1 && !d->common)
			d->common = addr;
		else if (type == 2 && !d->notify) {
			d->notify = addr;
			d->notify_mult = pci_rd32(cfg, ptr + 16u);
		} else if (type == 3 && !d->isr)
			d->isr = addr;
		else if (type == 4 && !d->devcfg)
			d->devcfg = addr;
	}
	if (!d->common || !d->notify || !d->isr)
		return "common, notify or ISR capability missing";
	if (d->id != VIRTIO_ID_CONSOLE && !d->devcfg)
		return "device configuration capability missing";
	/* The BARs are assigned and decoded (by the monitor, or pci_assign_bars); make sure of
	 * bus mastering. */
	pci_wr16(cfg, 0x04, (u16)(pci_rd16(cfg, 0x04) | 0x6));
	return 0;
}

static struct vdev devs[MAX_VDEVS];
static u32 ndevs;

static struct vdev *vdev_new(enum transport t, u32 id)
{
	struct vdev *d = &devs[ndevs];
	memset(d, 0, sizeof(*d));
	d->t = t;
	d->id = id;
	d->index = ndevs++;
	return d;
}

struct vdev *vdev_get(u32 i)
{
	return i < ndevs ? &devs[i] : 0;
}

static void pci_scan(void)
{
	struct pci_host *h = arch_pci_host();
	if (!h)
		return;
	pci_use(h);
	dprintf("pci configuration space %lx\n", h->cfg);
	for (u32 slot = 0; slot < 32 && ndevs < MAX_VDEVS; slot++) {
		u64 cfg = pci_cfg(0, slot, 0);
		if (pci_rd16(cfg, 0) != 0x1af4)
			continue;
		u16 devid = pci_rd16(cfg, 2);
		u32 id;
		if (devid >= 0x1040 && devid < 0x107f)
			id = devid - 0x1040u;
		else if (devid >= 0x1000 && devid < 0x1040) /* transitional: subsystem ID (§4.1.2.1) */
			id = pci_rd16(cfg, 0x2e);
		else
			continue;
		struct vdev *d = vdev_new(T_PCI, id);
		d->cfg = cfg;
		d->slot = slot;
		d->probe_err = pci_probe(d);
		dprintf("pci 00:%x.0 virtio id %u common %lx notify %lx*%u devcfg %lx msix %lx\n", slot, id,
			d->common, d->notify, d->notify_mult, d->devcfg, d->msix_table);
	}
}

void vdev_add_mmio(u64 base, u32 line, int edge)
{
	if (ndevs >= MAX_VDEVS || !base || rd32(base + MMIO_MAGIC) != 0x74726976 || rd32(base + MMIO_DEVICE_ID) == 0)
		return; /* not virtio, or an empty slot (QEMU's have device ID 0) */
	struct vdev *d = vdev_new(T_MMIO, rd32(base + MMIO_DEVICE_ID));
	d->base = base;
	d->line = line;
	d->line_edge = (u8)edge;
	if (rd32(base + MMIO_VERSION) != 2)
		d->probe_err = failf("version %u, not 2 (modern)", rd32(base + MMIO_VERSION));
	dprintf("mmio %lx line %u virtio id %u\n", base, line, d->id);
}

/* ------------------------------------------------------------------ */
/* Device initialisation (§3.1.1) and queues                           */
/* ------------------------------------------------------------------ */

/* Ring memory: a page each for the descriptor table, the avail ring and the used ring. */
struct vq_pages {
	u8 desc[4096];
	u8 avail[4096];
	u8 used[4096];
} __attribute__((aligned(4096)));
static struct vq_pages ring_pages[MAX_VDEVS * 2];

/* Resets the device and takes it to FEATURES_OK, accepting `want` (VERSION_1 is always
 * wanted). Returns NULL or why it failed. */
const char *vdev_begin(struct vdev *d, u64 want)
{
	vdev_set_status(d, 0);
	for (int i = 0; i < 1000 && vdev_status(d); i++)
		cpu_relax();
	if (vdev_status(d))
		return "status does not read 0 after reset";
	vdev_set_status(d, VIRTIO_STATUS_ACK);
	vdev_set_status(d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
	u64 offered = features_word(d, 0) | (u64)features_word(d, 1) << 32;
	if (!(offered & (1ull << VIRTIO_F_VERSION_1)))
		return "VERSION_1 not offered";
	d->features = offered & (want | (1ull << VIRTIO_F_VERSION_1));
	set_features_word(d, 0, (u32)d->features);
	set_features_word(d, 1, (u32)(d->features >> 32));
	vdev_set_status(d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	if (!(vdev_status(d) & VIRTIO_STATUS_FEATURES_OK))
		return "FEATURES_OK not accepted";
	const char *err = d->irq ? arch_irq_prepare(d) : 0;
	if (err)
		return err;
	if (d->t == T_PCI && d->msix) {
		/* MSI-X (entry 0 for the queues, entry 1 for configuration changes, routed by the
		 * architecture): enable it in the capability's message control. */
		u32 ctl = d->msix_cap + 2u;
		pci_wr16(d->cfg, ctl, (u16)((pci_rd16(d->cfg, ctl) | 0x8000) & ~0x4000));
		wr16(d->common + CC_MSIX_CONFIG, 1);
		if (rd16(d->common + CC_MSIX_CONFIG) != 1)
			return "config MSI-X vector refused";
	} else if (d->t == T_PCI) {
		/* Polled, or INTx: the device then signals through the ISR (§4.1.5.3). */
		wr16(d->common + CC_MSIX_CONFIG, NO_VECTOR);
	}
	return 0;
}

/* Sets up queue `q` with `size` entries (0: min(device max, VQ_DEFAULT_SIZE)) in the ring
 * pages `pages`; `enable` = 0 leaves it disabled (hostile cases enable it themselves). */
const char *vq_setup(struct vq *vq, struct vdev *d, u16 q, u16 size, u32 pages, u64 desc_override)
{
	struct vq_pages *p = &ring_pages[pages];
	memset(vq, 0, sizeof(*vq));
	memset(p, 0, sizeof(*p));
	vq->d = d;
	vq->q = q;
	vq->desc = (struct vdesc *)p->desc;
	vq->avail = p->avail;
	vq->used = p->used;
	queue_select(d, q);
	u32 max = d->t == T_PCI ? rd16(d->common + CC_Q_SIZE) : rd32(d->base + MMIO_QUEUE_NUM_MAX);
	if (max == 0)
		return failf("queue %u does not exist", q);
	u32 limit = vq_size_limit ? vq_size_limit : VQ_DEFAULT_SIZE;
	if (!size)
		size = (u16)(max < limit ? max : limit);
	vq->size = size;
	if (virtio_dma_share)
		virtio_dma_share((u64)p, sizeof(*p));
	u64 desc = desc_override ? desc_override : (u64)p->desc;
	if (d->t == T_PCI) {
		wr16(d->common + CC_Q_SIZE, size);
		wr_queue_addr(d->common + CC_Q_DESC, desc);
		wr_queue_addr(d->common + CC_Q_DRIVER, (u64)p->avail);
		wr_queue_addr(d->common + CC_Q_DEVICE, (u64)p->used);
		if (d->msix) {
			wr16(d->common + CC_Q_MSIX, 0);
			if (rd16(d->common + CC_Q_MSIX) != 0)
				return "queue MSI-X vector refused";
		} else {
			wr16(d->common + CC_Q_MSIX, NO_VECTOR);
		}
		vq->notify_addr = d->notify + (u64)rd16(d->common + CC_Q_NOFF) * d->notify_mult;
		wr16(d->common + CC_Q_ENABLE, 1);
	} else {
		wr32(d->base + MMIO_QUEUE_NUM, size);
		wr32(d->base + MMIO_QUEUE_DESC, (u32)desc);
		wr32(d->base + MMIO_QUEUE_DESC + 4, (u32)(desc >> 32));
		wr32(d->base + MMIO_QUEUE_DRIVER, (u32)(u64)p->avail);
		wr32(d->base + MMIO_QUEUE_DRIVER + 4, (u32)((u64)p->avail >> 32));
		wr32(d->base + MMIO_QUEUE_DEVICE, (u32)(u64)p->used);
		wr32(d->base + MMIO_QUEUE_DEVICE + 4, (u32)((u64)p->used >> 32));
		wr32(d->base + MMIO_QUEUE_READY, 1);
	}
	return 0;
}

void vdev_driver_ok(struct vdev *d)
{
	if (d->irq)
		arch_irq_enable(d);
	vdev_set_status(d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
				   VIRTIO_STATUS_DRIVER_OK);
}

u16 vq_used_idx(struct vq *vq)
{
	return rd16((u64)vq->used + 2);
}

/*
 * Posts a chain of `n` buffers in the descriptors of slot `slot` (VQ_SLOT_DESCS each), or
 * through that slot's indirect table, and publishes it in the avail ring. Returns the head.
 */
static struct vdesc indirect_tables[VQ_MAX_SLOTS][VQ_SLOT_DESCS] __attribute__((aligned(16)));

u16 vq_post(struct vq *vq, u32 slot, const struct vbuf *b, u32 n, int indirect)
{
	u16 head = (u16)(slot * VQ_SLOT_DESCS);
	struct vdesc *t = indirect ? indirect_tables[slot] : &vq->desc[head];
	for (u32 i = 0; i < n; i++) {
		t[i].addr = b[i].addr;
		t[i].len = b[i].len;
		t[i].flags = (u16)((b[i].write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		t[i].next = (u16)(indirect ? i + 1 : head + i + 1);
	}
	if (indirect) {
		vq->desc[head].addr = (u64)t;
		vq->desc[head].len = n * (u32)sizeof(struct vdesc);
		vq->desc[head].flags = VIRTQ_DESC_F_INDIRECT;
		vq->desc[head].next = 0;
	}
	vq_publish(vq, head);
	return head;
}

/* Puts `head` in the next avail slot and moves avail idx (§2.7.13). */
void vq_publish(struct vq *vq, u16 head)
{
	wr16((u64)vq->avail + 4 + 2ull * (vq->avail_idx % vq->size), head);
	mb(); /* the entry before the index that publishes it */
	vq->avail_idx++;
	wr16((u64)vq->avail + 2, vq->avail_idx);
}

static int used_moved(void *arg)
{
	struct vq *vq = arg;
	return vq_used_idx(vq) != vq->used_seen;
}

/* Waits for the next used element (polled or by interrupt). Returns 0 with id/len, or -1
 * when polling gave up after `max_cycles`. */
int vq_wait(struct vq *vq, u32 *id, u32 *len, u64 max_cycles)
{
	if (vq->d->irq) {
		if (wait_irq_until(used_moved, vq, vq->d) < 0)
			return -1;
	} else {
		u64 t0 = clock_now();
		while (!used_moved(vq))
			if (max_cycles && clock_now() - t0 > max_cycles)
				return -1;
			else
				cpu_relax();
	}
	vq_pop(vq, id, len);
	return 0;
}

/* Takes the next used element if there is one (1), without waiting (0: none). */
int vq_pop(struct vq *vq, u32 *id, u32 *len)
{
	if (!used_moved(vq))
		return 0;
	mb(); /* the element after the index that published it */
	u64 e = (u64)vq->used + 4 + 8ull * (vq->used_seen % vq->size);
	*id = rd32(e);
	*len = rd32(e + 4);
	vq->used_seen++;
	return 1;
}

/* §2.7.10: without VIRTIO_F_EVENT_IDX the device asks for no notifications by setting
 * VIRTQ_USED_F_NO_NOTIFY; a driver may then skip them (it is only a hint, so skipping is
 * never required). */
void vq_kick(struct vq *vq)
{
	mb();
	if (!(rd16((u64)vq->used) & 1))
		vq_notify(vq);
}

/* ------------------------------------------------------------------ */
/* The virtio= word                                                    */
/* ------------------------------------------------------------------ */

const char *transport_name(const struct vdev *d)
{
	return d->t == T_PCI ? "pci" : "mmio";
}

/* virtio=DEV-TRANSPORT-MODE, DEV blk|con|net, TRANSPORT pci|mmio, MODE poll|irq. */
static int parse_mode(struct vmode *m)
{
	const char *v = cmdline_value("virtio=");
	if (!v)
		return 0;
	m->dev = starts_with(v, "blk-") ? VIRTIO_ID_BLOCK : starts_with(v, "con-") ? VIRTIO_ID_CONSOLE
		: starts_with(v, "net-") ? VIRTIO_ID_NET : 0;
	v += 4;
	m->t = starts_with(v, "pci-") ? T_PCI : T_MMIO;
	if (!m->dev || (!starts_with(v, "pci-") && !starts_with(v, "mmio-")))
		return -1;
	v += m->t == T_PCI ? 4 : 5;
	m->irq = starts_with(v, "irq");
	if (!m->irq && !starts_with(v, "poll"))
		return -1;
	return 1;
}

struct vdev *vdev_find(const struct vmode *m, u32 nth)
{
	for (u32 i = 0; i < ndevs; i++)
		if (devs[i].t == m->t && devs[i].id == m->dev && nth-- == 0)
			return &devs[i];
	return 0;
}

void virtio_main(void)
{
	struct vmode m;
	int r = parse_mode(&m);
	if (r == 0)
		return;
	if (r < 0) {
		report("virtio", "bad virtio= value (DEV-TRANSPORT-MODE: blk|con|net, pci|mmio, poll|irq)");
		return;
	}
	if (m.t == T_PCI)
		pci_scan();
	else
		arch_mmio_scan();
	for (u32 i = 0; i < ndevs && i < ARCH_MAX_IRQ_DEVS; i++)
		devs[i].irq = m.irq;
	if (m.irq)
		arch_irq_init();
	if (!vdev_find(&m, 0)) {
		report("virtio", failf("no virtio-%s device on %s",
				       m.dev == VIRTIO_ID_BLOCK ? "blk" : m.dev == VIRTIO_ID_NET ? "net" : "console",
				       m.t == T_PCI ? "pci" : "mmio"));
		return;
	}
	const char *bench = cmdline_value("bench=");
	if (m.dev == VIRTIO_ID_NET)
		net_main(&m, bench);
	else if (bench)
		blk_bench(&m, bench);
	else if (cmdline_has("hostile"))
		hostile_main(&m);
	else if (m.dev == VIRTIO_ID_BLOCK)
		blk_main(&m);
	else
		console_main(&m);
}
