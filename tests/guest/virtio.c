/*
 * n90vmm test guest: virtio drivers (virtio 1.2) for the virtio= modes.
 *
 * Transports: virtio-pci modern (§4.1), found by walking ECAM bus 0 and each function's
 * capability list, using the BARs as the monitor left them (StarryOS has no BAR allocator,
 * so neither do we); virtio-mmio version 2 (§4.2), found in the DSDT (LNRO0005 devices, the
 * only description a Multiboot kernel gets). Completion is polled (spin on the used index)
 * or interrupt driven (MSI-X to the LAPIC for PCI, an IOAPIC line for MMIO).
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

static void wr64(u64 pa, u64 v)
{
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

volatile u32 irq_count[IRQ_VECTORS];
static struct vdev *irq_owner[IRQ_VECTORS];

void guest_irq(u64 vector)
{
	u32 i = (u32)(vector - IRQ_VECTOR_BASE);
	irq_count[i]++;
	struct vdev *d = irq_owner[i];
	/* §4.2.3.4: an MMIO driver acknowledges what InterruptStatus reports, so the line can
	 * fire again; MSI-X needs no acknowledgement at the device. */
	if (d && d->t == T_MMIO)
		wr32(d->base + MMIO_INTERRUPT_ACK, rd32(d->base + MMIO_INTERRUPT_STATUS));
	wr32(LAPIC_BASE + LAPIC_EOI, 0);
}

#define IOAPIC_BASE 0xfec00000ull

static void lapic_enable(void)
{
	/* Software-enable the LAPIC (spurious vector 0xff, as check_cpus does). */
	wr32(LAPIC_BASE + LAPIC_SVR, rd32(LAPIC_BASE + LAPIC_SVR) | 0x1ff);
}

/* Routes IOAPIC pin `gsi` to `vector` on this CPU: fixed delivery, physical destination,
 * active high, edge (the DSDT describes the virtio-mmio lines that way). The 8259s are
 * masked so the same line does not also arrive through them. */
static void ioapic_route(u32 gsi, u8 vector)
{
	u32 apic_id = rd32(LAPIC_BASE + LAPIC_ID) >> 24;
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	wr32(IOAPIC_BASE, 0x11 + 2 * gsi);
	wr32(IOAPIC_BASE + 0x10, apic_id << 24);
	wr32(IOAPIC_BASE, 0x10 + 2 * gsi);
	wr32(IOAPIC_BASE + 0x10, vector);
}

/* MSI-X table entry `entry` -> `vector` on this CPU (Intel SDM Vol. 3 §10.11: address
 * 0xFEExx000 with the destination APIC ID, data = vector, fixed, edge), unmasked. */
static void msix_route(struct vdev *d, u32 entry, u8 vector)
{
	u64 e = d->msix_table + 16ull * entry;
	u32 apic_id = rd32(LAPIC_BASE + LAPIC_ID) >> 24;
	wr32(e, 0xfee00000u | (apic_id << 12));
	wr32(e + 4, 0);
	wr32(e + 8, vector);
	wr32(e + 12, 0);
}

/*
 * Waits (with interrupts on, halted) until `done` says so. The cli/sti;hlt pairing makes the
 * check and the halt atomic against the interrupt: sti only takes effect after hlt. A LAPIC
 * timer (one-shot, WATCHDOG_VECTOR) wakes the CPU now and then so that a lost device
 * interrupt shows up as a failed check instead of a hang: `device_vector`'s count must move
 * before `done` turns true, or the completion came without its interrupt.
 */
#define WATCHDOG_VECTOR (IRQ_VECTOR_BASE + IRQ_VECTORS - 1)
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0
#define WATCHDOG_TICKS 400 /* x 50 M LAPIC ticks: 20 s at KVM's 1 GHz LAPIC clock */

u32 lost_interrupts;

static int wait_irq_until(int (*done)(void *), void *arg, u8 device_vector)
{
	volatile u32 *dev_count = &irq_count[device_vector - IRQ_VECTOR_BASE];
	u32 dev0 = *dev_count, ticks = 0;
	__asm__ volatile("cli");
	wr32(LAPIC_BASE + LAPIC_TIMER_DIV, 0xb); /* divide by 1 */
	wr32(LAPIC_BASE + LAPIC_LVT_TIMER, WATCHDOG_VECTOR);
	while (!done(arg) && ticks < WATCHDOG_TICKS) {
		u32 wd = irq_count[WATCHDOG_VECTOR - IRQ_VECTOR_BASE];
		wr32(LAPIC_BASE + LAPIC_TIMER_INIT, 50000000);
		__asm__ volatile("sti; hlt; cli" ::: "memory");
		ticks += irq_count[WATCHDOG_VECTOR - IRQ_VECTOR_BASE] != wd;
	}
	if (!done(arg)) {
		wr32(LAPIC_BASE + LAPIC_TIMER_INIT, 0);
		return -1;
	}
	/* A watchdog tick can wake us between the device's used-ring store and its interrupt:
	 * give the interrupt a few more ticks before calling it lost. */
	for (ticks = 0; *dev_count == dev0 && ticks < 20; ticks++) {
		wr32(LAPIC_BASE + LAPIC_TIMER_INIT, 50000000);
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	}
	wr32(LAPIC_BASE + LAPIC_TIMER_INIT, 0);
	if (*dev_count == dev0)
		lost_interrupts++;
	return 0;
}

/* Halts until any interrupt, or for at most `lapic_ticks` of the LAPIC timer (one-shot on
 * the watchdog vector). Call with interrupts off (cli) right after checking whatever the
 * caller waits for; they are off again on return. */
void irq_halt(u32 lapic_ticks)
{
	wr32(LAPIC_BASE + LAPIC_TIMER_DIV, 0xb); /* divide by 1 */
	wr32(LAPIC_BASE + LAPIC_LVT_TIMER, WATCHDOG_VECTOR);
	wr32(LAPIC_BASE + LAPIC_TIMER_INIT, lapic_ticks);
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	wr32(LAPIC_BASE + LAPIC_TIMER_INIT, 0);
}

/*
 * TSC frequency, the same way on every monitor (unlike CPUID 0x15/0x16, which n90vmm fills
 * but QEMU may not). First the PIT: channel 2, mode 0, gate on through port 0x61, counting
 * 1193182 / 20 ticks (50 ms); OUT2 (port 0x61 bit 5) rises when it ends (the method of
 * Linux's pit_calibrate_tsc). A machine without port 0x61 (QEMU microvm) reads OUT2 high at
 * once: then the LAPIC timer, which counts at 1 GHz with divide-by-1 on KVM and QEMU alike,
 * over 50 M ticks, masked. 0 if neither gives a plausible figure.
 */
#define TSC_HZ_MIN 100000000ull /* below 100 MHz the source is not a working clock */

static u64 tsc_hz_pit(void)
{
	const u32 ticks = 1193182 / 20;
	outb(0x61, (u8)((inb(0x61) & ~0x02) | 0x01));
	outb(0x43, 0xb0); /* channel 2, lobyte/hibyte, mode 0, binary */
	outb(0x42, (u8)ticks);
	outb(0x42, (u8)(ticks >> 8));
	u64 t0 = rdtsc();
	if (inb(0x61) & 0x20)
		return 0; /* OUT2 already high: no PIT gate here */
	while (!(inb(0x61) & 0x20))
		if (rdtsc() - t0 > 100000000000ull)
			return 0;
	return (rdtsc() - t0) * 20;
}

static u64 tsc_hz_lapic(void)
{
	lapic_enable();
	wr32(LAPIC_BASE + LAPIC_TIMER_DIV, 0xb);                   /* divide by 1 */
	wr32(LAPIC_BASE + LAPIC_LVT_TIMER, WATCHDOG_VECTOR | 0x10000); /* masked */
	wr32(LAPIC_BASE + LAPIC_TIMER_INIT, 0xffffffffu);
	u32 c0 = rd32(LAPIC_BASE + LAPIC_TIMER_CUR);
	u64 t0 = rdtsc();
	while (c0 - rd32(LAPIC_BASE + LAPIC_TIMER_CUR) < 50000000u)
		if (rdtsc() - t0 > 100000000000ull)
			break;
	u64 t1 = rdtsc();
	u32 passed = c0 - rd32(LAPIC_BASE + LAPIC_TIMER_CUR);
	wr32(LAPIC_BASE + LAPIC_TIMER_INIT, 0);
	return passed ? (t1 - t0) * 1000000000ull / passed : 0;
}

u64 tsc_hz(void)
{
	u64 hz = tsc_hz_pit();
	if (hz < TSC_HZ_MIN)
		hz = tsc_hz_lapic();
	return hz < TSC_HZ_MIN ? 0 : hz;
}

/* ------------------------------------------------------------------ */
/* Discovery                                                           */
/* ------------------------------------------------------------------ */

static u64 parse_hex(const char *s)
{
	u64 v = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; *s && !is_space(*s); s++) {
		char c = *s;
		int n = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (n < 0)
			return 0;
		v = v * 16 + (u64)n;
	}
	return v;
}

/* ECAM base: the MCFG table when there is one (QEMU q35, n90vmm), else pci_ecam=HEX, else
 * 0xB0000000, the address StarryOS's x86-pc platform hard-codes. */
static u64 ecam_base(void)
{
	const char *v = cmdline_value("pci_ecam=");
	if (acpi_mcfg && rd32(acpi_mcfg + 4) >= 44 + 16)
		return rd64(acpi_mcfg + 44);
	return v ? parse_hex(v) : 0xb0000000ull;
}

static u64 bar_address(u64 cfg, u32 bar)
{
	if (bar > 5)
		return 0;
	u32 lo = rd32(cfg + 0x10 + 4 * bar);
	if (lo & 1) /* I/O space: not what a modern capability may point at */
		return 0;
	u64 a = lo & ~0xfull;
	if (((lo >> 1) & 3) == 2 && bar < 5)
		a |= (u64)rd32(cfg + 0x14 + 4 * bar) << 32;
	return a;
}

/* Reads the virtio and MSI-X capabilities of one function (§4.1.4). */
static const char *pci_probe(struct vdev *d)
{
	u64 cfg = d->cfg;
	if (!(rd16(cfg + 0x06) & 0x10))
		return "no capability list";
	u8 ptr = rd8(cfg + 0x34) & 0xfc;
	for (int guard = 0; ptr && guard < 48; guard++, ptr = rd8(cfg + ptr + 1) & 0xfc) {
		u8 id = rd8(cfg + ptr);
		if (id == 0x11) { /* MSI-X */
			u32 table = rd32(cfg + ptr + 4);
			d->msix_cap = ptr;
			d->msix_n = (u16)((rd16(cfg + ptr + 2) & 0x7ff) + 1);
			u64 base = bar_address(cfg, table & 7);
			d->msix_table = base ? base + (table & ~7u) : 0;
			continue;
		}
		if (id != 0x09)
			continue;
		u8 type = rd8(cfg + ptr + 3);
		/* Types 1-4 map BAR regions; 5 (PCI_CFG access window) and vendor types do not. */
		if (type < 1 || type > 4)
			continue;
		u64 base = bar_address(cfg, rd8(cfg + ptr + 4));
		if (!base)
			return failf("capability type %u: BAR %u not assigned", type, rd8(cfg + ptr + 4));
		if (base >= (4ull << 30))
			return failf("capability type %u: BAR above 4 GiB, not mapped here", type);
		u64 addr = base + rd32(cfg + ptr + 8);
		/* §4.1.4: the first capability of each type is the one to use. */
		if (type == 1 && !d->common)
			d->common = addr;
		else if (type == 2 && !d->notify) {
			d->notify = addr;
			d->notify_mult = rd32(cfg + ptr + 16);
		} else if (type == 3 && !d->isr)
			d->isr = addr;
		else if (type == 4 && !d->devcfg)
			d->devcfg = addr;
	}
	if (!d->common || !d->notify || !d->isr)
		return "common, notify or ISR capability missing";
	if (d->id != VIRTIO_ID_CONSOLE && !d->devcfg)
		return "device configuration capability missing";
	/* The monitor pre-assigns BARs and enables decoding; make sure of bus mastering. */
	wr16(cfg + 0x04, rd16(cfg + 0x04) | 0x6);
	return 0;
}

static struct vdev devs[MAX_VDEVS];
static u32 ndevs;

static void pci_scan(void)
{
	u64 ecam = ecam_base();
	dprintf("ecam %lx\n", ecam);
	for (u32 slot = 0; slot < 32 && ndevs < MAX_VDEVS; slot++) {
		u64 cfg = ecam + ((u64)slot << 15);
		if (rd16(cfg) != 0x1af4)
			continue;
		u16 devid = rd16(cfg + 2);
		u32 id;
		if (devid >= 0x1040 && devid < 0x107f)
			id = devid - 0x1040u;
		else if (devid >= 0x1000 && devid < 0x1040) /* transitional: subsystem ID (§4.1.2.1) */
			id = rd16(cfg + 0x2e);
		else
			continue;
		struct vdev *d = &devs[ndevs];
		memset(d, 0, sizeof(*d));
		d->t = T_PCI;
		d->id = id;
		d->cfg = cfg;
		d->slot = slot;
		d->probe_err = pci_probe(d);
		dprintf("pci 00:%x.0 virtio id %u common %lx notify %lx*%u devcfg %lx msix %lx\n", slot, id,
			d->common, d->notify, d->notify_mult, d->devcfg, d->msix_table);
		ndevs++;
	}
}

/*
 * virtio-mmio devices from the DSDT: Device { _HID "LNRO0005" ... _CRS { Memory32Fixed
 * (0x86), Extended Interrupt (0x89) } }, the shape n90vmm and QEMU's microvm both emit. A
 * byte scan is enough for those tables; slots with device ID 0 (QEMU's empty ones) are
 * skipped.
 */
static void mmio_scan(void)
{
	if (!acpi_dsdt)
		return;
	u64 end = acpi_dsdt + rd32(acpi_dsdt + 4);
	for (u64 p = acpi_dsdt + 36; p + 8 < end && ndevs < MAX_VDEVS; p++) {
		if (rd8(p) != 'L' || rd32(p) != 0x4f524e4c /* "LNRO" */ || rd32(p + 4) != 0x35303030 /* "0005" */)
			continue;
		u64 base = 0, gsi = ~0ull, q;
		for (q = p + 8; q + 12 < end && q < p + 96; q++)
			if (rd8(q) == 0x86 && rd16(q + 1) == 9) {
				base = rd32(q + 4);
				break;
			}
		for (; q + 9 < end && q < p + 128; q++)
			if (rd8(q) == 0x89 && rd8(q + 4) >= 1) {
				gsi = rd32(q + 5);
				break;
			}
		if (!base || rd32(base + MMIO_MAGIC) != 0x74726976 || rd32(base + MMIO_DEVICE_ID) == 0)
			continue;
		struct vdev *d = &devs[ndevs++];
		memset(d, 0, sizeof(*d));
		d->t = T_MMIO;
		d->id = rd32(base + MMIO_DEVICE_ID);
		d->base = base;
		d->gsi = (u32)gsi;
		if (rd32(base + MMIO_VERSION) != 2)
			d->probe_err = failf("version %u, not 2 (modern)", rd32(base + MMIO_VERSION));
		dprintf("mmio %lx gsi %lu virtio id %u\n", base, gsi, d->id);
	}
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
		pause();
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
	if (d->irq && d->t == T_MMIO && d->gsi > 23) {
		/* Polled use does not care; QEMU's microvm puts its lines on a second IOAPIC. */
		return "interrupt is not on IOAPIC pins 0..23";
	} else if (d->irq && d->t == T_PCI) {
		/* MSI-X: entry 0 for the queues, entry 1 for configuration changes, both on this
		 * device's vector; then enable MSI-X in the capability's message control. */
		if (!d->msix_table || d->msix_n < 2)
			return "no usable MSI-X capability";
		msix_route(d, 0, d->vector);
		msix_route(d, 1, d->vector);
		u64 ctl = d->cfg + d->msix_cap + 2;
		wr16(ctl, (u16)((rd16(ctl) | 0x8000) & ~0x4000));
		wr16(d->common + CC_MSIX_CONFIG, 1);
		if (rd16(d->common + CC_MSIX_CONFIG) != 1)
			return "config MSI-X vector refused";
	} else if (d->t == T_PCI) {
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
	if (!size)
		size = (u16)(max < VQ_DEFAULT_SIZE ? max : VQ_DEFAULT_SIZE);
	vq->size = size;
	u64 desc = desc_override ? desc_override : (u64)p->desc;
	if (d->t == T_PCI) {
		wr16(d->common + CC_Q_SIZE, size);
		wr64(d->common + CC_Q_DESC, desc);
		wr64(d->common + CC_Q_DRIVER, (u64)p->avail);
		wr64(d->common + CC_Q_DEVICE, (u64)p->used);
		if (d->irq) {
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
		wr32(d->base + MMIO_QUEUE_DRIVER + 4, 0);
		wr32(d->base + MMIO_QUEUE_DEVICE, (u32)(u64)p->used);
		wr32(d->base + MMIO_QUEUE_DEVICE + 4, 0);
		wr32(d->base + MMIO_QUEUE_READY, 1);
	}
	return 0;
}

void vdev_driver_ok(struct vdev *d)
{
	if (d->irq && d->t == T_MMIO)
		ioapic_route(d->gsi, d->vector);
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
		if (wait_irq_until(used_moved, vq, vq->d->vector) < 0)
			return -1;
	} else {
		u64 t0 = rdtsc();
		while (!used_moved(vq))
			if (max_cycles && rdtsc() - t0 > max_cycles)
				return -1;
			else
				pause();
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
		mmio_scan();
	for (u32 i = 0; i < ndevs && i < IRQ_VECTORS - 1; i++) { /* the last vector: watchdog */
		devs[i].irq = m.irq;
		devs[i].vector = (u8)(IRQ_VECTOR_BASE + i);
		irq_owner[i] = &devs[i];
	}
	if (m.irq) {
		/* Only our vectors may arrive while halted: firmware (SeaBIOS on QEMU q35) leaves the
		 * 8259s unmasked with IRQ0 at vector 8, which would look like a double fault. */
		outb(0x21, 0xff);
		outb(0xa1, 0xff);
		lapic_enable();
	}
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
