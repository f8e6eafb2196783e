/*
 * StarryOS's view of its aarch64-crosvm-virt machine (PLATFORMS.md §3; axplat-aarch64-
 * crosvm-virt), with `starry=1`, booted from starry.Image (the header StarryOS ships:
 * text_offset, image_size and flags 0):
 *
 *   - with the MMU off, the pKVM hypercalls over HVC: MMIO_GUARD_INFO (0xC600_0005) must
 *     return x1 = 1, x0 the granule; then MMIO guard map (0xC600_000A) of every granule of
 *     the PCI CAM (0x7200_0000 + 16 MiB), the PCI memory window (0x7000_0000 + 32 MiB) and
 *     the GIC (0x3FFB_0000 + 2 MiB), one call each - 12,800 with 4 KiB - each answered x0 =
 *     0, x1 = 1. QEMU (and KVM without a VMM that forwards them) answers -1: the run stops
 *     there with a FAIL line that says so, before anything hard-coded is touched;
 *   - the machine is then the hard-coded one (starry_describe): UART 16550 at 0x3F8 (SPI 0,
 *     edge), GICD 0x3FFF_0000, GICR 0x3FFB_0000, timer INTID 30, CAM 0x7200_0000 (bus 0,
 *     32-bit accesses), 2 CPUs, PSCI over HVC, RAM 2 GiB at 0x8000_0000; the general checks
 *     run on it;
 *   - starry-image, starry-fdt, starry-ram, starry-layout (the FDT must describe that same
 *     machine), starry-pci (every memory BAR of every function pre-assigned inside
 *     0x7000_0000..0x71FF_FFFF, sized StarryOS's way: ~0 written and restored with decoding
 *     on), starry-disks (two virtio-blk, the rootfs the second);
 *   - the virtio layer as virtio-drivers 0.7 drives it: queue size 16, each ring address
 *     one 64-bit store, every ring page shared with MEM_SHARE (0xC600_0003) and unshared
 *     (0xC600_0004) at the end; the hypercall counts are printed.
 */
#include "guest.h"
#include "virtio.h"

#define S_RAM ((u64)0x80000000)
#define S_RAM_SIZE ((u64)0x80000000)
#define S_KERNEL ((u64)0x80080000)
#define S_UART ((u64)0x3f8)
#define S_UART_INTID 32
#define S_GICD ((u64)0x3fff0000)
#define S_GICR ((u64)0x3ffb0000)
#define S_GICR_SIZE ((u64)0x40000) /* 2 CPUs x 128 KiB */
#define S_CAM ((u64)0x72000000)
#define S_CAM_SIZE ((u64)0x1000000)
#define S_PCI_MEM ((u64)0x70000000)
#define S_PCI_MEM_SIZE ((u64)0x2000000)
#define S_GIC_MAP ((u64)0x3ffb0000)
#define S_GIC_MAP_SIZE ((u64)0x200000)
#define S_TIMER_INTID 30
#define S_CPUS 2
#define S_BLK_QUEUE 16

#define HVC_MEM_SHARE 0xc6000003ull
#define HVC_MEM_UNSHARE 0xc6000004ull
#define HVC_MMIO_GUARD_INFO 0xc6000005ull
#define HVC_MMIO_GUARD_MAP 0xc600000aull

static struct {
	u64 granule, has_range;
	u32 info_calls, map_calls, share_calls, unshare_calls, share_errors;
	char err[160];
} hyp;

static u64 shared[64];
static u32 nshared;
static struct machine from_fdt;

static void hyp_fail(const char *why)
{
	copy_str(hyp.err, why, sizeof(hyp.err));
}

/* Runs with the MMU off, before the console exists: results are kept for later. */
void starry_early(void)
{
	static const struct { u64 base, size; } regions[] = {
		{ S_CAM, S_CAM_SIZE }, { S_PCI_MEM, S_PCI_MEM_SIZE }, { S_GIC_MAP, S_GIC_MAP_SIZE },
	};
	struct smccc_res r;
	smccc(0, HVC_MMIO_GUARD_INFO, 0, 0, 0, &r);
	hyp.info_calls++;
	hyp.granule = r.a0;
	hyp.has_range = r.a1;
	if (r.a1 != 1) {
		hyp_fail(failf("MMIO_GUARD_INFO (HVC 0xc6000005) returned x0 %lx x1 %lx, x1 must be 1", r.a0, r.a1));
		return;
	}
	if (!r.a0 || (r.a0 & (r.a0 - 1)) || r.a0 > S_GIC_MAP_SIZE) {
		hyp_fail(failf("MMIO guard granule %lx is not a power of 2 up to 2 MiB", r.a0));
		return;
	}
	for (u32 i = 0; i < 3; i++)
		for (u64 a = regions[i].base; a < regions[i].base + regions[i].size; a += hyp.granule) {
			smccc(0, HVC_MMIO_GUARD_MAP, a, 1, 0, &r);
			hyp.map_calls++;
			if (r.a0 != 0 || r.a1 != 1) {
				hyp_fail(failf("MMIO guard map (HVC 0xc600000a) of %lx returned x0 %lx x1 %lx, not 0 and 1", a,
					       r.a0, r.a1));
				return;
			}
		}
}

int starry_hypercalls_ok(void)
{
	return !hyp.err[0];
}

/* ring pages -> MEM_SHARE, once per page (virtio-drivers shares what it allocates for DMA). */
static void share(u64 pa, u64 len)
{
	for (u64 p = pa & ~0xfffull; p < pa + len; p += 0x1000) {
		u32 i = 0;
		while (i < nshared && shared[i] != p)
			i++;
		if (i < nshared || nshared == sizeof(shared) / sizeof(shared[0]))
			continue;
		struct smccc_res r;
		smccc(0, HVC_MEM_SHARE, p, 1, 0, &r);
		hyp.share_calls++;
		hyp.share_errors += r.a0 != 0;
		shared[nshared++] = p;
	}
}

void starry_describe(void)
{
	from_fdt = mach;
	mach.nram = 1;
	mach.ram[0].base = S_RAM;
	mach.ram[0].size = S_RAM_SIZE;
	mach.uart = (struct uart_desc){ UART_16550, S_UART, 0, 1, S_UART_INTID, 1 };
	mach.gicd = S_GICD;
	mach.gicr = S_GICR;
	mach.gicr_size = S_GICR_SIZE;
	mach.timer_intid = S_TIMER_INTID;
	mach.psci_smc = 0;
	mach.ncpus = S_CPUS;
	mach.mpidr[0] = 0;
	mach.mpidr[1] = 1;
	mach.cpu_psci[0] = mach.cpu_psci[1] = 1;
	mach.have_pci = 1;
	mach.pci = (struct pci_host){ .cfg = S_CAM, .bus_shift = 16, .dev_shift = 11, .fn_shift = 8, .dword_only = 1,
				      .mem = { S_PCI_MEM, S_PCI_MEM, S_PCI_MEM_SIZE, 0 } };
	mach.nvmmio = 0; /* the crosvm build uses PCI only */
	vq_size_limit = S_BLK_QUEUE;
	vq_addr_store64 = 1;
	virtio_dma_share = share;
}

static const char *check_image(void)
{
	if ((u64)_head != S_KERNEL)
		return failf("loaded at %lx, StarryOS is linked for %lx", (u64)_head, S_KERNEL);
	for (u32 off = 8; off < 32; off += 8)
		if (rd64((u64)_head + off))
			return "the header's text_offset, image_size or flags is not 0: boot starry.Image";
	return 0;
}

static const char *check_fdt(void)
{
	/* StarryOS reads only the magic and totalsize, and reserves 2 MiB from x0. */
	u64 at = fdt.pa;
	if (at < S_RAM || at + (2u << 20) > S_RAM + S_RAM_SIZE)
		return failf("FDT at %lx: 2 MiB from it must lie in %lx..%lx", at, S_RAM, S_RAM + S_RAM_SIZE - 1);
	if (at < (u64)_end && at + (2u << 20) > (u64)_head)
		return "the 2 MiB reserved from the FDT overlap the kernel image";
	return 0;
}

/* The whole 2 GiB: its config size, not the FDT's, is what StarryOS will use. */
static const char *check_ram(void)
{
	static const u64 probes[] = { 0x40000000ull, 0x7ffff000ull };
	for (u32 i = 0; i < 2; i++) {
		u64 a = S_RAM + probes[i];
		if (a < (u64)_end && a + 16 > (u64)_head)
			continue;
		wr64(a, 0x5354415252593634ull ^ a);
		wr64(a + 8, ~a);
		mb();
		if (rd64(a) != (0x5354415252593634ull ^ a) || rd64(a + 8) != ~a)
			return failf("RAM at %lx does not hold what was written", a);
	}
	return 0;
}

/* The FDT describes the machine StarryOS hard-codes (Linux guests on the profile read it). */
static const char *check_layout(void)
{
	const struct machine *f = &from_fdt;
	if (!f->nram || f->ram[0].base != S_RAM || f->ram[0].size < S_RAM_SIZE)
		return "FDT memory does not start with 2 GiB at 0x80000000";
	if (f->uart.kind != UART_16550 || f->uart.base != S_UART || f->uart.shift || f->uart.width != 1)
		return "FDT console is not an ns16550a at 0x3f8 with byte registers";
	if (f->uart.intid != S_UART_INTID || !f->uart.edge)
		return failf("FDT console interrupt is INTID %u %s, not SPI 0 (32) edge", f->uart.intid,
			     f->uart.edge ? "edge" : "level");
	if (f->gicd != S_GICD || f->gicr != S_GICR || f->gicr_size < S_GICR_SIZE)
		return failf("FDT GIC at %lx / %lx+%lx, not 0x3fff0000 / 0x3ffb0000+0x40000", f->gicd, f->gicr, f->gicr_size);
	if (f->timer_intid != S_TIMER_INTID)
		return failf("FDT timer's physical interrupt is %u, not 30", f->timer_intid);
	if (f->psci_smc)
		return "FDT PSCI method is smc, not hvc";
	if (f->ncpus != S_CPUS || f->mpidr[0] != 0 || f->mpidr[1] != 1)
		return failf("FDT has %u CPUs, not 2 with MPIDR 0 and 1", f->ncpus);
	if (!f->have_pci || f->pci.cfg != S_CAM || f->pci.bus_shift != 16)
		return "FDT has no pci-host-cam-generic at 0x72000000";
	if (f->pci.mem.cpu != S_PCI_MEM || f->pci.mem.pci != S_PCI_MEM || f->pci.mem.size != S_PCI_MEM_SIZE)
		return failf("FDT PCI memory window %lx+%lx, not 0x70000000+0x2000000", f->pci.mem.cpu, f->pci.mem.size);
	return 0;
}

static u32 blk_functions;

/* Every function of bus 0; every memory BAR sized the way StarryOS's CAM driver does (all
 * ones written and restored with decoding left on) and inside the window it maps. */
static const char *check_pci(void)
{
	const char *fail = 0;
	pci_use(&mach.pci);
	blk_functions = 0;
	for (u32 dev = 0; dev < 32; dev++) {
		u32 nfn = 1;
		for (u32 fn = 0; fn < nfn; fn++) {
			u64 cfg = pci_cfg(0, dev, fn);
			u32 id = pci_rd32(cfg, 0);
			if ((id & 0xffff) == 0xffff)
				continue;
			u32 hdr = (pci_rd32(cfg, 0x0c) >> 16) & 0xff;
			if (fn == 0 && (hdr & 0x80))
				nfn = 8;
			if (id == 0x10421af4u)
				blk_functions++;
			if ((hdr & 0x7f) != 0)
				continue;
			for (u32 b = 0; b < 6 && !fail; b++) {
				u32 off = 0x10 + 4 * b, lo = pci_rd32(cfg, off);
				if (lo & 1)
					continue;
				int is64 = ((lo >> 1) & 3) == 2;
				pci_wr32(cfg, off, 0xffffffffu);
				u32 mask = pci_rd32(cfg, off) & ~0xfu;
				pci_wr32(cfg, off, lo);
				u64 addr = lo & ~0xfull;
				if (is64)
					addr |= (u64)pci_rd32(cfg, off + 4) << 32;
				u64 size = mask ? (u64)(~mask + 1) : 0;
				if (size && (!addr || addr < S_PCI_MEM || addr + size > S_PCI_MEM + S_PCI_MEM_SIZE))
					fail = failf("00:%x.%x BAR %u (%lu bytes) at %lx is not inside %lx..%lx", dev, fn, b, size,
						     addr, S_PCI_MEM, S_PCI_MEM + S_PCI_MEM_SIZE - 1);
				b += (u32)is64;
			}
		}
	}
	if (!fail && pci_rd32(pci_cfg(0, 0, 0), 0) == 0xffffffffu)
		fail = "nothing at 00:00.0";
	return fail;
}

void starry_checks(void)
{
	if (!starry_hypercalls_ok()) {
		kprintf("starry: StarryOS's pKVM hypercalls need n90vmm --profile crosvm-arm64 (QEMU, and KVM "
			"without a monitor that answers them, return -1); nothing else is tried\n");
		report("pkvm-mmio-guard", hyp.err);
		return;
	}
	kprintf("starry: MMIO guard granule %lx, %u granules mapped\n", hyp.granule, hyp.map_calls);
	report("pkvm-mmio-guard", 0);
	report("starry-image", check_image());
	report("starry-fdt", check_fdt());
	report("starry-ram", check_ram());
	report("starry-layout", check_layout());
	report("starry-pci", check_pci());
	report("starry-disks", blk_functions >= 2 ? 0 : failf("%u virtio-blk functions: StarryOS needs two, the rootfs "
							      "the second", blk_functions));
}

void starry_end(void)
{
	for (u32 i = 0; i < nshared; i++) {
		struct smccc_res r;
		smccc(0, HVC_MEM_UNSHARE, shared[i], 1, 0, &r);
		hyp.unshare_calls++;
		hyp.share_errors += r.a0 != 0;
	}
	kprintf("starry: hypercalls: mmio-guard-info %u, mmio-guard-map %u, mem-share %u, mem-unshare %u\n",
		hyp.info_calls, hyp.map_calls, hyp.share_calls, hyp.unshare_calls);
	report("pkvm-mem-share", hyp.share_errors ? failf("%u share/unshare calls returned nonzero x0", hyp.share_errors)
						 : !hyp.share_calls ? "no DMA page was shared" : 0);
}
