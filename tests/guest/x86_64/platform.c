/*
 * n90vmm x86 test guest: what the shared virtio code needs from x86 (virtio.h's
 * "architecture" section, arch.h): the ECAM host bridge, virtio-mmio slots from the DSDT,
 * MSI-X and IOAPIC routing, the LAPIC-timer watchdog behind irq_halt() and the TSC
 * calibration.
 */
#include "guest.h"
#include "virtio.h"

/* ------------------------------------------------------------------ */
/* Interrupts                                                          */
/* ------------------------------------------------------------------ */

#define IOAPIC_BASE 0xfec00000ull
#define WATCHDOG_VECTOR (IRQ_VECTOR_BASE + IRQ_VECTORS - 1)
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0

static volatile u32 watchdog_ticks;

/* Device n's vector is IRQ_VECTOR_BASE + n (longmode.S stubs), the last one the watchdog's. */
void guest_irq(u64 vector)
{
	u32 i = (u32)(vector - IRQ_VECTOR_BASE);
	struct vdev *d = vdev_get(i);
	if (vector == WATCHDOG_VECTOR)
		watchdog_ticks++;
	else if (d)
		vdev_interrupt(d);
	wr32(LAPIC_BASE + LAPIC_EOI, 0);
}

static void lapic_enable(void)
{
	/* Software-enable the LAPIC (spurious vector 0xff, as check_cpus does). */
	wr32(LAPIC_BASE + LAPIC_SVR, rd32(LAPIC_BASE + LAPIC_SVR) | 0x1ff);
}

void arch_irq_init(void)
{
	/* Only our vectors may arrive while halted: firmware (SeaBIOS on QEMU q35) leaves the
	 * 8259s unmasked with IRQ0 at vector 8, which would look like a double fault. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	lapic_enable();
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

static u8 vector_of(const struct vdev *d)
{
	return (u8)(IRQ_VECTOR_BASE + d->index);
}

const char *arch_irq_prepare(struct vdev *d)
{
	if (d->t == T_MMIO) {
		/* Polled use does not care; QEMU's microvm puts its lines on a second IOAPIC. */
		return d->line > 23 ? "interrupt is not on IOAPIC pins 0..23" : 0;
	}
	/* MSI-X: entry 0 for the queues, entry 1 for configuration changes, both on this
	 * device's vector. */
	if (!d->msix_table || d->msix_n < 2)
		return "no usable MSI-X capability";
	msix_route(d, 0, vector_of(d));
	msix_route(d, 1, vector_of(d));
	d->msix = 1;
	return 0;
}

void arch_irq_enable(struct vdev *d)
{
	if (d->t == T_MMIO)
		ioapic_route(d->line, vector_of(d));
}

/*
 * The LAPIC timer, one-shot on the watchdog vector, counts at 1 GHz with divide-by-1 on KVM
 * and QEMU alike, so its ticks are nanoseconds. The sti;hlt pairing makes the caller's check
 * and the halt atomic against the interrupt: sti only takes effect after hlt.
 */
int irq_halt(u64 ns)
{
	u32 wd = watchdog_ticks;
	wr32(LAPIC_BASE + LAPIC_TIMER_DIV, 0xb); /* divide by 1 */
	wr32(LAPIC_BASE + LAPIC_LVT_TIMER, WATCHDOG_VECTOR);
	wr32(LAPIC_BASE + LAPIC_TIMER_INIT, ns < 0xffffffffu ? (u32)ns : 0xffffffffu);
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	wr32(LAPIC_BASE + LAPIC_TIMER_INIT, 0);
	return watchdog_ticks != wd;
}

u64 arch_mmio_hole(void)
{
	return IOAPIC_BASE;
}

/* ------------------------------------------------------------------ */
/* Clock                                                               */
/* ------------------------------------------------------------------ */

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

u64 clock_hz(void)
{
	u64 hz = tsc_hz_pit();
	if (hz < TSC_HZ_MIN)
		hz = tsc_hz_lapic();
	return hz < TSC_HZ_MIN ? 0 : hz;
}

/* ------------------------------------------------------------------ */
/* Discovery                                                           */
/* ------------------------------------------------------------------ */

/* ECAM base: the MCFG table when there is one (QEMU q35), else pci_ecam=HEX, else 0xB0000000,
 * the address StarryOS's x86-pc platform hard-codes (n90vmm has no MCFG, like that
 * platform expects). BARs are the monitor's: no window, nothing assigned here. */
struct pci_host *arch_pci_host(void)
{
	static struct pci_host h = { .bus_shift = 20, .dev_shift = 15, .fn_shift = 12 };
	const char *v = cmdline_value("pci_ecam=");
	if (acpi_mcfg && rd32(acpi_mcfg + 4) >= 44 + 16)
		h.cfg = rd64(acpi_mcfg + 44);
	else
		h.cfg = v ? parse_hex(v) : 0xb0000000ull;
	return &h;
}

/*
 * virtio-mmio devices from the DSDT: Device { _HID "LNRO0005" ... _CRS { Memory32Fixed
 * (0x86), Extended Interrupt (0x89) } }, the shape n90vmm and QEMU's microvm both emit. A
 * byte scan is enough for those tables; vdev_add_mmio skips empty slots.
 */
void arch_mmio_scan(void)
{
	if (!acpi_dsdt)
		return;
	u64 end = acpi_dsdt + rd32(acpi_dsdt + 4);
	for (u64 p = acpi_dsdt + 36; p + 8 < end; p++) {
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
		vdev_add_mmio(base, (u32)gsi, 1);
	}
}
