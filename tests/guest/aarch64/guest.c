/*
 * n90vmm arm64 test guest: boot and the checks (README.md in this folder).
 *
 * head.S calls arm64_main() with the MMU off and what the loader handed over. Before the
 * MMU goes on only the FDT is read (and, with starry=1, StarryOS's early hypercalls are
 * made); then the console comes up and the checks run in a fixed order, one line each,
 * the same under every monitor for the same image and command line. The end is PSCI
 * SYSTEM_OFF (or action=reset|hang).
 */
#include "guest.h"
#include "virtio.h"

static struct {
	u64 x0, x1, x2, x3, el, sctlr, daif, fdt_in_bss;
} boot;

static const char *fdt_err, *mach_err, *mmu_err;
static int starry;

enum { END_POWEROFF, END_RESET, END_HANG };
static const char *const actions[] = { "poweroff", "reset", "hang", 0 };

/* ------------------------------------------------------------------ */
/* Interrupts and exceptions                                            */
/* ------------------------------------------------------------------ */

static volatile u32 unclaimed_irqs;

void arm64_irq(void)
{
	for (;;) {
		u32 intid = (u32)sysreg_read(icc_iar1_el1) & 0xffffff;
		if (intid >= 1020 && intid <= 1023)
			break; /* spurious: nothing (more) pending */
		if (intid == mach.timer_intid)
			timer_irq();
		else if (intid == uart_rx_intid())
			uart_irq();
		if (intid >= 32)
			platform_irq(intid);
		else if (intid != mach.timer_intid)
			unclaimed_irqs++;
		sysreg_write(icc_eoir1_el1, intid);
		isb();
	}
}

void arm64_exception(u64 kind, u64 *frame)
{
	static const char *const kinds[] = { "synchronous", "IRQ", "FIQ", "SError" };
	kprintf("exception: %s from %s, ESR %lx ELR %lx FAR %lx, CPU %u\n", kinds[kind & 3],
		kind < 4 ? "EL1t" : kind < 8 ? "EL1h" : "a lower EL", sysreg_read(esr_el1), frame[31], sysreg_read(far_el1),
		this_cpu());
	kprintf("RESULT: FAIL\n");
	poweroff();
}

/* ------------------------------------------------------------------ */
/* Checks                                                              */
/* ------------------------------------------------------------------ */

static const char *check_entry(void)
{
	u32 el = (u32)(boot.el >> 2) & 3;
	if (el != 1)
		return failf("entered at EL%u; the boot protocol here is EL1", el);
	if (boot.sctlr & 1)
		return "the MMU was on at entry";
	if ((boot.daif & 0x3c0) != 0x3c0)
		return failf("DAIF %lx at entry: D, A, I and F must all be masked", boot.daif);
	if (boot.x1 || boot.x2 || boot.x3)
		return failf("x1..x3 are %lx %lx %lx at entry, not 0", boot.x1, boot.x2, boot.x3);
	if (boot.fdt_in_bss)
		return "the FDT was put inside the image's .bss (image_size says how far it reaches)";
	if (((u64)_head & (MIB2 - 1)) != 0x80000)
		return failf("loaded at %lx, not at a 2 MiB boundary + text_offset 0x80000", (u64)_head);
	return 0;
}

static int ram_covers(u64 a, u64 len)
{
	for (u32 i = 0; i < mach.nram; i++)
		if (mach.ram[i].base <= a && a + len <= mach.ram[i].base + mach.ram[i].size)
			return 1;
	return 0;
}

static const char *check_memory(void)
{
	u64 total = 0;
	for (u32 i = 0; i < mach.nram; i++)
		total += mach.ram[i].size;
	if (!mach.nram)
		return "no RAM";
	if (!ram_covers((u64)_head, (u64)(_end - _head)))
		return failf("image %lx-%lx is not inside one RAM range", (u64)_head, (u64)_end);
	if (!ram_covers(boot.x0, fdt.size))
		return failf("the FDT at %lx is not in RAM", boot.x0);
	if (boot.x0 < (u64)_end && boot.x0 + fdt.size > (u64)_head)
		return "the FDT overlaps the image";
	return check_mem_total(total);
}

static const char *check_cmdline(void)
{
	if (!cmdline[0])
		return "no command line (/chosen bootargs)";
	return cmdline_err;
}

static const char *check_psci(void)
{
	u64 v = psci(PSCI_VERSION, 0, 0, 0);
	u32 major = (u32)(v >> 16) & 0x7fff, minor = v & 0xffff;
	if ((v >> 31) & 1 || (major == 0 && minor < 2))
		return failf("PSCI_VERSION returns %lx: 0.2 or later needed", v);
	static const u32 needed[] = { PSCI_CPU_ON, PSCI_CPU_OFF, PSCI_AFFINITY_INFO, PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET };
	for (u32 i = 0; major >= 1 && i < sizeof(needed) / sizeof(needed[0]); i++)
		if ((s64)psci(PSCI_FEATURES, needed[i], 0, 0) < 0)
			return failf("PSCI_FEATURES: function %x is not supported", needed[i]);
	return 0;
}

/* What each secondary CPU found, written by it before it checks in. */
static struct {
	volatile u32 done;
	u64 mpidr;
	char err[96];
} cpu_report[MAX_CPUS];

void secondary_main(u32 cpu)
{
	const char *err = gic_init_cpu();
	if (!err)
		err = timer_check();
	cpu_report[cpu].mpidr = sysreg_read(mpidr_el1) & 0xff00ffffffull;
	if (err)
		copy_str(cpu_report[cpu].err, err, sizeof(cpu_report[cpu].err));
	__atomic_store_n(&cpu_report[cpu].done, 1, __ATOMIC_RELEASE);
	psci(PSCI_CPU_OFF, 0, 0, 0);
	halt_forever();
}

/*
 * Every CPU of /cpus but this one is started with PSCI CPU_ON, one at a time: it turns its
 * MMU on, finds its redistributor, takes a timer interrupt, reports and turns itself off
 * (CPU_OFF, which AFFINITY_INFO must then show).
 */
static const char *check_cpus(void)
{
	u64 me = sysreg_read(mpidr_el1) & 0xff00ffffffull, hz = clock_nominal_hz();
	u32 n = 0, boot_listed = 0;
	if (mach.ncpus != expect_cpus)
		return failf("%u CPUs in the FDT, expected %u", mach.ncpus, expect_cpus);
	for (u32 i = 0; i < mach.ncpus; i++)
		boot_listed |= mach.mpidr[i] == me;
	if (!boot_listed)
		return failf("the boot CPU's MPIDR %lx is not in /cpus", me);
	if (mmu_err)
		return "not without the MMU";
	for (u32 i = 0; i < mach.ncpus; i++) {
		if (mach.mpidr[i] == me)
			continue;
		if (!mach.cpu_psci[i])
			return failf("the cpu node of MPIDR %lx has no enable-method \"psci\"", mach.mpidr[i]);
		u32 cpu = ++n; /* its stack and tpidr_el1; the boot CPU is 0 */
		s64 r = (s64)psci(PSCI_CPU_ON, mach.mpidr[i], (u64)secondary_entry, cpu);
		if (r)
			return failf("CPU_ON for MPIDR %lx returned %ld", mach.mpidr[i], r);
		u64 t0 = clock_now();
		while (!__atomic_load_n(&cpu_report[cpu].done, __ATOMIC_ACQUIRE) && clock_now() - t0 < 10 * hz)
			cpu_relax();
		if (!cpu_report[cpu].done)
			return failf("MPIDR %lx did not check in within 10 s", mach.mpidr[i]);
		if (cpu_report[cpu].err[0])
			return failf("MPIDR %lx: %s", mach.mpidr[i], cpu_report[cpu].err);
		if (cpu_report[cpu].mpidr != mach.mpidr[i])
			return failf("the CPU started for MPIDR %lx reads MPIDR %lx", mach.mpidr[i], cpu_report[cpu].mpidr);
		t0 = clock_now();
		while ((r = (s64)psci(PSCI_AFFINITY_INFO, mach.mpidr[i], 0, 0)) != 1 && clock_now() - t0 < 2 * hz)
			cpu_relax();
		if (r != 1)
			return failf("AFFINITY_INFO for MPIDR %lx is %ld after CPU_OFF, not 1 (off)", mach.mpidr[i], r);
	}
	return 0;
}

static const char *check_gic(void)
{
	const char *err = gic_init_dist();
	return err ? err : gic_init_cpu();
}

/* PL031 (ARM DDI 0224) / PL030: RTCDR at 0 counts seconds since 1970. */
static const char *check_rtc(void)
{
	u64 r = mach.rtc, hz = clock_nominal_hz();
	if (!r)
		return "no RTC in the FDT (arm,pl031, or a PL030 primecell)";
	u32 pid = mach.rtc_periphid;
	if (!pid) {
		/* No arm,primecell-periphid: the ID registers must say (Linux's AMBA bus reads them). */
		u32 cid = 0;
		for (u32 i = 0; i < 4; i++) {
			pid |= (rd32(r + 0xfe0 + 4 * i) & 0xff) << (8 * i);
			cid |= (rd32(r + 0xff0 + 4 * i) & 0xff) << (8 * i);
		}
		if (cid != 0xb105f00du)
			return failf("PrimeCell ID %x, not 0xb105f00d", cid);
	}
	if ((pid & 0xfffff) == 0x41031 && !(rd32(r + 0x0c) & 1))
		wr32(r + 0x0c, 1); /* RTCCR: start it, as Linux's pl031 driver does */
	else if ((pid & 0xfffff) != 0x41031 && (pid & 0xfffff) != 0x41030)
		return failf("peripheral ID %x is neither PL031 nor PL030", pid);
	u32 t = rd32(r), t2 = t;
	if (t < 1704067200u || t > 4102444800u) /* 2024-01-01 .. 2100-01-01 */
		return failf("RTCDR reads %u, not a date from 2024 on", t);
	for (u64 t0 = clock_now(); t2 == t && clock_now() - t0 < 3 * hz;)
		t2 = rd32(r);
	if (t2 != t + 1 && t2 != t + 2)
		return failf("RTCDR went from %u to %u, not on by a second", t, t2);
	return 0;
}

/* uart=pci: QEMU's virt has no 16550, but a PCI one (pci-serial: class 07.00.02, an I/O
 * BAR) is the same register block: the console moves there so the 16550 driver is proven
 * where n90vmm's crosvm-arm64 16550 does not exist yet. */
static const char *use_pci_uart(void)
{
	if (!mach.have_pci)
		return "no PCI host in the FDT";
	pci_use(&mach.pci);
	for (u32 dev = 0; dev < 32; dev++) {
		u64 cfg = pci_cfg(0, dev, 0);
		if (pci_rd16(cfg, 0) == 0xffff || (pci_rd32(cfg, 8) >> 8) != 0x070002)
			continue;
		const char *err = pci_assign_bars(cfg);
		if (err)
			return err;
		struct uart_desc u = { UART_16550, pci_io_bar(cfg, 0), 0, 1, 0, 0 };
		if (!u.base)
			return "its BAR 0 is not an I/O BAR in the host's I/O window";
		if (platform_intx(dev, pci_rd8(cfg, 0x3d), &u.intid, &u.edge))
			return "no INTx route for it in interrupt-map";
		uart_switch(&u);
		return 0;
	}
	return "no 16550 (class 07.00.02) on bus 0";
}

/*
 * uart_rx: one line typed on the console, read only by the RX interrupt handler. The host
 * types it after the "uart: waiting for a line" line (as StarryOS's harness waits for the
 * prompt): what arrives earlier is not dependable (the 16550 init clears its FIFO, FCR
 * 0xC7, as StarryOS's does; a cleared PL011 interrupt does not come back for a byte that
 * is already waiting).
 */
static const char *check_uart_rx(char *line, u32 cap)
{
	u64 hz = clock_nominal_hz(), t0;
	u32 n = 0;
	if (!uart_rx_intid())
		return "the console UART has no interrupt";
	irq_disable();
	uart_rx_enable();
	kprintf("uart: waiting for a line\n");
	t0 = clock_now();
	for (;;) {
		int c;
		while ((c = uart_getc()) >= 0) {
			if (c == '\n' || c == '\r') {
				line[n] = 0;
				return 0;
			}
			if (n + 1 < cap)
				line[n++] = (char)c;
		}
		if (clock_now() - t0 > 30 * hz)
			return uart_rx_irqs ? "no end of line within 30 s" : "no receive interrupt within 30 s";
		irq_halt(50000000);
	}
}

/* ------------------------------------------------------------------ */
/* The end                                                             */
/* ------------------------------------------------------------------ */

void poweroff(void)
{
	psci(PSCI_SYSTEM_OFF, 0, 0, 0);
	for (u64 t0 = clock_now(); clock_now() - t0 < clock_nominal_hz();)
		cpu_relax();
	kprintf("poweroff failed\n");
	halt_forever();
}

static void end_guest(void)
{
	if (end_action == END_RESET)
		psci(PSCI_SYSTEM_RESET, 0, 0, 0);
	else if (end_action == END_HANG)
		halt_forever();
	poweroff();
}

/* ------------------------------------------------------------------ */

void arm64_main(u64 x0, u64 x1, u64 x2, u64 x3, u64 el, u64 sctlr, u64 daif, u64 fdt_in_bss)
{
	boot.x0 = x0;
	boot.x1 = x1;
	boot.x2 = x2;
	boot.x3 = x3;
	boot.el = el;
	boot.sctlr = sctlr;
	boot.daif = daif;
	boot.fdt_in_bss = fdt_in_bss;

	/* MMU off: read the FDT (byte-wise) and, for StarryOS's view, make its hypercalls. */
	fdt_err = fdt_open(&fdt, x0, 2u << 20);
	if (!fdt_err) {
		u32 len;
		int off = fdt_prop(&fdt, fdt_path(&fdt, "/chosen"), "bootargs", &len);
		if (off >= 0)
			cmdline_set(phys(fdt.pa + (u32)off), len);
		mach_err = machine_from_fdt();
	}
	starry = cmdline_has("starry=1");
	if (starry) {
		starry_early();
		if (starry_hypercalls_ok())
			starry_describe();
	}
	mmu_err = mach.nram ? mmu_init() : "no RAM known";
	if (mach.uart.kind == UART_NONE) /* no console: nothing can be reported */
		poweroff();
	uart_init(&mach.uart, starry && starry_hypercalls_ok());

	kprintf("n90 test guest: boot=arm64-image\n");
	parse_cmdline(actions);
	kprintf("cmdline: %s\n", cmdline);
	dprintf("fdt %lx (%u bytes), image %lx-%lx, el %lx sctlr %lx daif %lx\n", x0, fdt.size, (u64)_head, (u64)_end,
		el, sctlr, daif);
	if (starry && !starry_hypercalls_ok()) {
		starry_checks(); /* says why, and that this mode needs n90vmm */
		kprintf("RESULT: FAIL\n");
		poweroff();
	}
	report("entry", check_entry());
	report("fdt", fdt_err ? fdt_err : mach_err);
	report("memory-map", mmu_err ? mmu_err : check_memory());
	report("cmdline", check_cmdline());
	report("psci", check_psci());
	report("gic", check_gic());
	report("timer", timer_check());
	const char *cpus = check_cpus();
	if (cpus)
		report("cpus", cpus);
	else
		kprintf("check cpus: ok (%u)\n", mach.ncpus);
	report("rtc", check_rtc());
	if (starry)
		starry_checks();
	if (cmdline_has("uart=pci"))
		report("uart-pci", use_pci_uart());
	virtio_main();
	if (starry)
		starry_end();
	if (cmdline_has("uart_rx")) {
		char line[128];
		const char *err = check_uart_rx(line, sizeof(line));
		if (!err)
			kprintf("console input: '%s'\n", line);
		report("uart-rx", err);
	}
	dprintf("unclaimed interrupts: %u\n", unclaimed_irqs);
	kprintf("RESULT: %s\n", checks_ok() ? "PASS" : "FAIL");
	end_guest();
}
