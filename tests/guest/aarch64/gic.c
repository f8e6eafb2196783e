/*
 * n90vmm arm64 test guest: GICv3 (ARM IHI 0069) and the EL1 physical timer.
 *
 * Everything is Group 1 non-secure, affinity routed (ARE); SPIs go to the CPU that enables
 * them. Each CPU finds its own redistributor the way StarryOS does: walking the frames of
 * the redistributor region with 64-bit reads of GICR_TYPER until the affinity matches its
 * MPIDR (GICR_TYPER.Last ends the region), then wakes it (GICR_WAKER). The CPU interface
 * is the ICC_* system registers.
 */
#include "guest.h"

#define GICD_CTLR 0x0000
#define GICD_TYPER 0x0004
#define GICD_IGROUPR 0x0080
#define GICD_ISENABLER 0x0100
#define GICD_ICENABLER 0x0180
#define GICD_ICPENDR 0x0280
#define GICD_IPRIORITYR 0x0400
#define GICD_ICFGR 0x0c00
#define GICD_IROUTER 0x6000
#define GICD_PIDR2 0xffe8
#define CTLR_RWP (1u << 31)
#define CTLR_ARE (1u << 4)
#define CTLR_G1 (1u << 1)
#define CTLR_G0 (1u << 0)

#define GICR_CTLR 0x0000
#define GICR_TYPER 0x0008
#define GICR_WAKER 0x0014
#define GICR_PIDR2 0xffe8
#define GICR_SGI 0x10000 /* the SGI/PPI frame */
#define GICR_FRAME 0x20000
#define TYPER_LAST (1u << 4)
#define TYPER_VLPIS (1u << 1)
#define WAKER_SLEEP (1u << 1)
#define WAKER_ASLEEP (1u << 2)

#define PRIORITY 0xa0

static u64 gicr_of[MAX_CPUS];

static const char *wait_rwp(u64 reg)
{
	for (u32 i = 0; i < 1000000; i++)
		if (!(rd32(reg) & CTLR_RWP))
			return 0;
	return "register write never completed (RWP)";
}

static u64 my_affinity(void)
{
	u64 m = sysreg_read(mpidr_el1);
	return (m & 0xffffff) | ((m >> 32) & 0xff) << 24;
}

const char *gic_init_dist(void)
{
	u64 d = mach.gicd;
	u32 rev = (rd32(d + GICD_PIDR2) >> 4) & 0xf;
	dprintf("gicd %lx pidr2 %x typer %x gicr %lx+%lx\n", d, rd32(d + GICD_PIDR2), rd32(d + GICD_TYPER), mach.gicr, mach.gicr_size);
	if (rev != 3 && rev != 4)
		return failf("GICD_PIDR2 architecture revision %u, not GICv3/v4", rev);
	u32 lines = 32 * ((rd32(d + GICD_TYPER) & 0x1f) + 1);
	wr32(d + GICD_CTLR, 0);
	const char *err = wait_rwp(d + GICD_CTLR);
	if (err)
		return err;
	for (u32 i = 32; i < lines; i += 32) {
		wr32(d + GICD_ICENABLER + i / 8, 0xffffffffu);
		wr32(d + GICD_ICPENDR + i / 8, 0xffffffffu);
		wr32(d + GICD_IGROUPR + i / 8, 0xffffffffu);
	}
	for (u32 i = 32; i < lines; i += 4)
		wr32(d + GICD_IPRIORITYR + i, PRIORITY * 0x01010101u);
	if ((err = wait_rwp(d + GICD_CTLR)))
		return err;
	wr32(d + GICD_CTLR, CTLR_ARE | CTLR_G1 | CTLR_G0);
	if ((err = wait_rwp(d + GICD_CTLR)))
		return err;
	if (!(rd32(d + GICD_CTLR) & CTLR_ARE))
		return "GICD_CTLR.ARE does not stick: affinity routing is needed";
	for (u32 i = 0; i < mach.nvmmio; i++)
		if (mach.vmmio[i].intid >= lines)
			return failf("virtio-mmio INTID %u is beyond the distributor's %u lines", mach.vmmio[i].intid, lines);
	return 0;
}

const char *gic_init_cpu(void)
{
	u64 aff = my_affinity(), r = 0;
	u32 cpu = this_cpu();
	for (u64 f = mach.gicr; f + GICR_FRAME <= mach.gicr + mach.gicr_size;) {
		u64 typer = rd64(f + GICR_TYPER); /* one 64-bit read, as StarryOS does */
		if (typer >> 32 == aff) {
			r = f;
			break;
		}
		if (typer & TYPER_LAST)
			break;
		f += typer & TYPER_VLPIS ? 2 * GICR_FRAME : GICR_FRAME;
	}
	if (!r)
		return failf("no redistributor with affinity %lx in %lx+%lx", aff, mach.gicr, mach.gicr_size);
	gicr_of[cpu] = r;
	wr32(r + GICR_WAKER, rd32(r + GICR_WAKER) & ~WAKER_SLEEP);
	u32 i = 0;
	while ((rd32(r + GICR_WAKER) & WAKER_ASLEEP) && ++i < 1000000)
		cpu_relax();
	if (rd32(r + GICR_WAKER) & WAKER_ASLEEP)
		return "the redistributor stays asleep (GICR_WAKER.ChildrenAsleep)";
	u64 sgi = r + GICR_SGI;
	wr32(sgi + GICD_ICENABLER, 0xffffffffu);
	wr32(sgi + GICD_ICPENDR, 0xffffffffu);
	wr32(sgi + GICD_IGROUPR, 0xffffffffu);
	for (u32 p = 0; p < 32; p += 4)
		wr32(sgi + GICD_IPRIORITYR + p, PRIORITY * 0x01010101u);
	const char *err = wait_rwp(r + GICR_CTLR);
	if (err)
		return err;
	/* CPU interface: system registers, all priorities unmasked, Group 1 on. */
	sysreg_write(icc_sre_el1, sysreg_read(icc_sre_el1) | 1);
	isb();
	if (!(sysreg_read(icc_sre_el1) & 1))
		return "ICC_SRE_EL1.SRE does not stick: no system-register CPU interface";
	sysreg_write(icc_pmr_el1, 0xff);
	sysreg_write(icc_bpr1_el1, 0);
	sysreg_write(icc_ctlr_el1, 0); /* EOImode 0: EOIR also deactivates */
	sysreg_write(icc_igrpen1_el1, 1);
	isb();
	return 0;
}

/* SPIs are global (routed to this CPU); SGIs and PPIs are in this CPU's redistributor. */
void gic_enable(u32 intid, int edge)
{
	u64 d = intid < 32 ? gicr_of[this_cpu()] + GICR_SGI : mach.gicd;
	u32 cfg = rd32(d + GICD_ICFGR + intid / 16 * 4), bit = 2 * (intid % 16) + 1;
	cfg = edge ? cfg | 1u << bit : cfg & ~(1u << bit);
	if (intid >= 16) /* SGIs are always edge */
		wr32(d + GICD_ICFGR + intid / 16 * 4, cfg);
	if (intid >= 32)
		wr64(d + GICD_IROUTER + 8ull * intid, my_affinity() & 0xff00ffffffull);
	wr32(d + GICD_ISENABLER + intid / 32 * 4, 1u << (intid % 32));
	dsb(sy);
}

/* ------------------------------------------------------------------ */
/* The EL1 physical timer (CNTP_*)                                      */
/* ------------------------------------------------------------------ */

volatile u32 timer_irqs[MAX_CPUS];
static volatile u64 timer_late[MAX_CPUS]; /* counter at the interrupt minus its deadline */

void timer_irq(void)
{
	u32 cpu = this_cpu();
	u64 now = clock_now(), cval = sysreg_read(cntp_cval_el0);
	timer_late[cpu] = now - cval;
	sysreg_write(cntp_ctl_el0, 2); /* IMASK: the condition stays until the next arming */
	timer_irqs[cpu]++;
}

/* The timer interrupt was seen to arrive on this CPU (timer_check): only then may a halt
 * rely on it to end. */
static volatile u8 timer_works[MAX_CPUS];

int irq_halt(u64 ns)
{
	u32 cpu = this_cpu(), t0 = timer_irqs[cpu];
	u64 hz = clock_nominal_hz();
	u64 ticks = ns / 1000 * hz / 1000000, deadline = clock_now() + (ticks ? ticks : 1);
	if (!timer_works[cpu]) {
		/* No working timer interrupt to wake a WFI: spin, letting interrupts in. */
		while (clock_now() < deadline)
			__asm__ volatile("msr daifclr, #2; isb; msr daifset, #2" ::: "memory");
		return 1;
	}
	sysreg_write(cntp_cval_el0, deadline);
	sysreg_write(cntp_ctl_el0, 1); /* ENABLE, not masked */
	isb();
	/* WFI wakes for a pending interrupt even while PSTATE.I masks it; the short unmasked
	 * window after it takes whatever is pending, so nothing is lost between the caller's
	 * check and the halt. */
	__asm__ volatile("dsb sy; wfi; msr daifclr, #2; isb; msr daifset, #2" ::: "memory");
	sysreg_write(cntp_ctl_el0, 0);
	return timer_irqs[cpu] != t0;
}

u64 clock_hz(void)
{
	return clock_nominal_hz();
}

const char *timer_check(void)
{
	u32 cpu = this_cpu(), t0 = timer_irqs[cpu];
	u64 hz = clock_nominal_hz();
	if (!hz)
		return "CNTFRQ_EL0 is 0";
	u64 c0 = clock_now();
	for (u32 i = 0; i < 1000 && clock_now() == c0; i++)
		cpu_relax();
	if (clock_now() == c0)
		return "the physical counter (CNTPCT_EL0) does not count";
	gic_enable(mach.timer_intid, 0);
	/* 1 ms ahead; give it up to 5 s. */
	u64 start = clock_now(), deadline = start + hz / 1000;
	irq_disable();
	sysreg_write(cntp_cval_el0, deadline);
	sysreg_write(cntp_ctl_el0, 1);
	isb();
	/* Polled, not WFI: if the interrupt never comes, nothing else would wake the CPU. */
	while (timer_irqs[cpu] == t0 && clock_now() - start < 5 * hz)
		__asm__ volatile("msr daifclr, #2; isb; msr daifset, #2" ::: "memory");
	sysreg_write(cntp_ctl_el0, 0);
	if (timer_irqs[cpu] == t0)
		return failf("no interrupt %u from the EL1 physical timer", mach.timer_intid);
	if (timer_late[cpu] > (1ull << 63))
		return "the timer interrupt came before its deadline";
	timer_works[cpu] = 1;
	return 0;
}
