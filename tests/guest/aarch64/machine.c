/*
 * n90vmm arm64 test guest: the machine as the FDT describes it (Devicetree Specification
 * 0.4; Linux's bindings for arm,gic-v3, arm,armv8-timer, arm,psci, ns16550a, arm,pl011,
 * pci-host-{ecam,cam}-generic with interrupt-map, virtio,mmio, arm,pl031).
 *
 * QEMU's virt machine and n90vmm's crosvm-arm64 profile describe the same kinds of devices
 * at different addresses: everything is looked up here, nothing assumed (starry.c is the
 * exception, on purpose).
 */
#include "guest.h"

struct machine mach;
struct fdt fdt;

int fdt_irq(int node, u32 i, u32 *intid, u8 *edge)
{
	int parent = fdt_interrupt_parent(&fdt, node);
	u32 cells = fdt_prop_u32(&fdt, parent, "#interrupt-cells", 0), len;
	int off = fdt_prop(&fdt, node, "interrupts", &len);
	if (off < 0 || cells != 3 || (i + 1) * 12 > len)
		return -1;
	u32 type = fdt_be32(&fdt, (u32)off + 12 * i), num = fdt_be32(&fdt, (u32)off + 12 * i + 4);
	u32 flags = fdt_be32(&fdt, (u32)off + 12 * i + 8);
	/* arm,gic-v3 binding: type 0 SPI (INTID 32 + n), 1 PPI (16 + n); flags 1 = rising edge,
	 * 4 = level high. */
	*intid = type == 0 ? 32 + num : type == 1 ? 16 + num : 0;
	*edge = (flags & 0xf) == 1 || (flags & 0xf) == 2;
	return *intid ? 0 : -1;
}

static const char *find_memory(void)
{
	for (int n = fdt_next_node(&fdt, -1, 0); n >= 0; n = fdt_next_node(&fdt, n, 0)) {
		char t[16];
		if (!streq(fdt_prop_str(&fdt, n, "device_type", t, sizeof(t)), "memory"))
			continue;
		u64 a, s;
		for (u32 i = 0; mach.nram < MAX_RAM && !fdt_reg(&fdt, n, i, &a, &s); i++)
			if (s) {
				mach.ram[mach.nram].base = a;
				mach.ram[mach.nram++].size = s;
			}
	}
	return mach.nram ? 0 : "no memory node with a reg";
}

/* /chosen stdout-path ("/pl011@9000000", an alias, ":115200n8" options), else the first
 * UART by compatible. */
static int stdout_node(void)
{
	char path[96], alias[96];
	int chosen = fdt_path(&fdt, "/chosen");
	fdt_prop_str(&fdt, chosen, "stdout-path", path, sizeof(path));
	if (!path[0])
		fdt_prop_str(&fdt, chosen, "linux,stdout-path", path, sizeof(path));
	for (u32 i = 0; path[i]; i++)
		if (path[i] == ':')
			path[i] = 0;
	if (path[0] && path[0] != '/') {
		fdt_prop_str(&fdt, fdt_path(&fdt, "/aliases"), path, alias, sizeof(alias));
		memcpy(path, alias, sizeof(path));
	}
	int n = path[0] ? fdt_path(&fdt, path) : -1;
	if (n >= 0)
		return n;
	static const char *const kinds[] = { "ns16550a", "ns16550", "arm,pl011" };
	for (u32 k = 0; k < 3; k++)
		if ((n = fdt_compatible(&fdt, -1, kinds[k])) >= 0)
			return n;
	return -1;
}

static const char *find_uart(void)
{
	int n = stdout_node();
	struct uart_desc *u = &mach.uart;
	u64 size;
	if (n < 0)
		return "no console UART (stdout-path, ns16550a or arm,pl011)";
	if (fdt_prop_has(&fdt, n, "compatible", "arm,pl011"))
		u->kind = UART_PL011;
	else if (fdt_prop_has(&fdt, n, "compatible", "ns16550a") || fdt_prop_has(&fdt, n, "compatible", "ns16550"))
		u->kind = UART_16550;
	else
		return "the stdout-path node is neither ns16550a nor arm,pl011";
	if (fdt_reg(&fdt, n, 0, &u->base, &size))
		return "the console UART has no reg";
	u->shift = fdt_prop_u32(&fdt, n, "reg-shift", 0);
	u->width = fdt_prop_u32(&fdt, n, "reg-io-width", 1);
	if (u->kind == UART_16550 && (u->shift > 2 || (u->width != 1 && u->width != 4)))
		return failf("16550 reg-shift %u / reg-io-width %u not supported", u->shift, u->width);
	if (fdt_irq(n, 0, &u->intid, &u->edge))
		u->intid = 0;
	return 0;
}

static const char *find_cpus(void)
{
	int cpus = fdt_path(&fdt, "/cpus");
	if (cpus < 0)
		return "no /cpus";
	u32 ac = fdt_prop_u32(&fdt, cpus, "#address-cells", 1);
	for (int n = fdt_child(&fdt, cpus); n >= 0; n = fdt_sibling(&fdt, n)) {
		char t[16], st[16];
		u32 len;
		if (!streq(fdt_prop_str(&fdt, n, "device_type", t, sizeof(t)), "cpu"))
			continue;
		fdt_prop_str(&fdt, n, "status", st, sizeof(st));
		if (st[0] && !streq(st, "okay") && !streq(st, "ok"))
			continue;
		int reg = fdt_prop(&fdt, n, "reg", &len);
		if (reg < 0 || ac < 1 || ac > 2 || len < 4 * ac)
			return "a cpu node has no usable reg";
		if (mach.ncpus == MAX_CPUS)
			return failf("more than %u CPUs", MAX_CPUS);
		/* QEMU leaves enable-method out when there is only the boot CPU: check_cpus
		 * requires it of every CPU it starts. */
		mach.cpu_psci[mach.ncpus] = (u8)fdt_prop_has(&fdt, n, "enable-method", "psci");
		mach.mpidr[mach.ncpus++] = fdt_cells(&fdt, (u32)reg, ac);
	}
	return mach.ncpus ? 0 : "no cpu nodes";
}

static const char *find_psci(void)
{
	char method[8];
	int n = fdt_path(&fdt, "/psci");
	if (n < 0)
		n = fdt_compatible(&fdt, -1, "arm,psci-0.2");
	if (n < 0)
		return "no /psci node";
	if (!fdt_prop_has(&fdt, n, "compatible", "arm,psci-0.2") && !fdt_prop_has(&fdt, n, "compatible", "arm,psci-1.0"))
		return "/psci is not arm,psci-0.2 or later";
	fdt_prop_str(&fdt, n, "method", method, sizeof(method));
	if (streq(method, "smc"))
		mach.psci_smc = 1;
	else if (!streq(method, "hvc"))
		return "/psci method is neither hvc nor smc";
	return 0;
}

static const char *find_gic(void)
{
	int n = fdt_compatible(&fdt, -1, "arm,gic-v3");
	u64 size;
	if (n < 0)
		return "no arm,gic-v3 interrupt controller";
	if (fdt_reg(&fdt, n, 0, &mach.gicd, &size) || fdt_reg(&fdt, n, 1, &mach.gicr, &mach.gicr_size))
		return "the GIC needs reg entries for the distributor and a redistributor region";
	if (fdt_prop_u32(&fdt, n, "#interrupt-cells", 0) != 3)
		return "the GIC's #interrupt-cells is not 3";
	return 0;
}

static const char *find_timer(void)
{
	int n = fdt_compatible(&fdt, -1, "arm,armv8-timer");
	u8 edge;
	if (n < 0)
		return "no arm,armv8-timer";
	/* interrupts: secure physical, non-secure physical, virtual, hypervisor. */
	if (fdt_irq(n, 1, &mach.timer_intid, &edge) || mach.timer_intid < 16 || mach.timer_intid > 31)
		return "the timer's non-secure physical interrupt is not a PPI";
	return 0;
}

/* PCI bus binding (IEEE 1275 PCI, Linux's host-generic-pci.yaml): ranges entries are
 * phys.hi/mid/lo, the parent's address, 2 size cells; phys.hi bits 25:24 are the space (1
 * I/O, 2 32-bit memory, 3 64-bit memory). interrupt-map entries are phys (3 cells), pin,
 * the parent's phandle, its #address-cells and its #interrupt-cells. */
static const char *find_pci(void)
{
	int n = fdt_compatible(&fdt, -1, "pci-host-ecam-generic");
	int cam = 0;
	u32 len;
	if (n < 0 && (n = fdt_compatible(&fdt, -1, "pci-host-cam-generic")) >= 0)
		cam = 1;
	if (n < 0)
		return 0; /* no PCI: only the pci transport needs one */
	struct pci_host *h = &mach.pci;
	u64 size;
	if (fdt_reg(&fdt, n, 0, &h->cfg, &size))
		return "the PCI host has no reg";
	h->bus_shift = cam ? 16 : 20;
	h->dev_shift = cam ? 11 : 15;
	h->fn_shift = cam ? 8 : 12;
	h->dword_only = (u8)cam;
	int off = fdt_prop(&fdt, n, "bus-range", &len);
	if (off >= 0 && len >= 8 && fdt_be32(&fdt, (u32)off) != 0)
		return "the PCI host's bus range does not start at 0";
	int parent = fdt_parent(&fdt, n);
	u32 pac = fdt_prop_u32(&fdt, parent, "#address-cells", 2), e = 4 * (3 + pac + 2);
	if (pac < 1 || pac > 2)
		return failf("the PCI host's parent has #address-cells %u", pac);
	off = fdt_prop(&fdt, n, "ranges", &len);
	for (u32 i = 0; off >= 0 && (i + 1) * e <= len; i++) {
		u32 at = (u32)off + i * e, space = (fdt_be32(&fdt, at) >> 24) & 3;
		u64 pci = fdt_cells(&fdt, at + 4, 2), cpu = fdt_cells(&fdt, at + 12, pac);
		u64 sz = fdt_cells(&fdt, at + 12 + 4 * pac, 2);
		struct pci_window *w = space == 1 ? &h->io : space == 2 ? &h->mem : 0;
		if (w && !w->size) {
			w->pci = pci;
			w->cpu = cpu;
			w->size = sz;
		}
	}
	if (!h->mem.size)
		return "the PCI host's ranges have no 32-bit memory window";
	/* INTx: interrupt-map-mask <phys.hi mid lo pin>, then the map. */
	off = fdt_prop(&fdt, n, "interrupt-map-mask", &len);
	if (off >= 0 && len >= 16) {
		mach.intx_mask_devfn = fdt_be32(&fdt, (u32)off);
		mach.intx_mask_pin = fdt_be32(&fdt, (u32)off + 12);
	} else {
		mach.intx_mask_devfn = 0xff00;
		mach.intx_mask_pin = 7;
	}
	off = fdt_prop(&fdt, n, "interrupt-map", &len);
	for (u32 at = (u32)off; off >= 0 && at + 20 <= (u32)off + len && mach.nintx < MAX_INTX;) {
		u32 devfn = fdt_be32(&fdt, at), pin = fdt_be32(&fdt, at + 12);
		int gic = fdt_by_phandle(&fdt, fdt_be32(&fdt, at + 16));
		u32 gac = fdt_prop_u32(&fdt, gic, "#address-cells", 0), gic_cells = fdt_prop_u32(&fdt, gic, "#interrupt-cells", 0);
		if (gic < 0 || gic_cells != 3 || gac > 3)
			return "an interrupt-map entry does not lead to a GIC with 3 interrupt cells";
		u32 spec = at + 20 + 4 * gac;
		if (spec + 12 > (u32)off + len)
			return "interrupt-map is cut short";
		u32 type = fdt_be32(&fdt, spec), num = fdt_be32(&fdt, spec + 4), flags = fdt_be32(&fdt, spec + 8);
		struct intx_route *r = &mach.intx[mach.nintx++];
		r->devfn = devfn & mach.intx_mask_devfn;
		r->pin = pin & mach.intx_mask_pin;
		r->intid = type == 0 ? 32 + num : 16 + num;
		r->edge = (flags & 0xf) == 1;
		at = spec + 12;
	}
	/* No firmware ran (QEMU -kernel): BARs nobody assigned are ours to place. n90vmm
	 * pre-assigns them all, so there the allocator never has anything to do. */
	h->assign = 1;
	mach.have_pci = 1;
	return 0;
}

/* virtio-mmio slots in address order: the FDT's node order is the monitor's accident (QEMU
 * writes them backwards), the layout is not. */
static void find_virtio_mmio(void)
{
	for (int n = fdt_compatible(&fdt, -1, "virtio,mmio"); n >= 0 && mach.nvmmio < MAX_VMMIO;
	     n = fdt_compatible(&fdt, n, "virtio,mmio")) {
		u64 base, size;
		u32 intid = 0, i;
		u8 edge = 1;
		if (fdt_reg(&fdt, n, 0, &base, &size))
			continue;
		if (fdt_irq(n, 0, &intid, &edge))
			intid = 0;
		for (i = mach.nvmmio++; i > 0 && mach.vmmio[i - 1].base > base; i--)
			mach.vmmio[i] = mach.vmmio[i - 1];
		mach.vmmio[i].base = base;
		mach.vmmio[i].intid = intid;
		mach.vmmio[i].edge = edge;
	}
}

/* arm,pl031 (QEMU) or crosvm's PL030 ("arm,primecell" with arm,primecell-periphid). */
static void find_rtc(void)
{
	u64 size;
	int n = fdt_compatible(&fdt, -1, "arm,pl031");
	if (n < 0)
		n = fdt_compatible(&fdt, -1, "arm,pl030");
	for (int p = fdt_compatible(&fdt, -1, "arm,primecell"); n < 0 && p >= 0; p = fdt_compatible(&fdt, p, "arm,primecell")) {
		u32 id = fdt_prop_u32(&fdt, p, "arm,primecell-periphid", 0);
		if ((id & 0xfffff) == 0x41030 || (id & 0xfffff) == 0x41031)
			n = p;
	}
	if (n >= 0 && !fdt_reg(&fdt, n, 0, &mach.rtc, &size))
		mach.rtc_periphid = fdt_prop_u32(&fdt, n, "arm,primecell-periphid", 0);
}

/* Everything is looked for; the first thing missing is the answer. */
const char *machine_from_fdt(void)
{
	const char *(*const find[])(void) = { find_memory, find_uart, find_cpus, find_psci, find_gic, find_timer, find_pci };
	const char *first = 0;
	static char why[160];
	for (u32 i = 0; i < sizeof(find) / sizeof(find[0]); i++) {
		const char *err = find[i]();
		if (err && !first)
			first = copy_str(why, err, sizeof(why));
	}
	find_virtio_mmio();
	find_rtc();
	return first;
}
