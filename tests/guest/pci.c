/*
 * n90vmm test guests: PCI configuration space and BARs (see pci.h).
 *
 * Configuration space is memory mapped on both architectures; only the shifts differ.
 * A host with dword_only gets nothing but aligned 32-bit accesses: narrower reads are
 * taken out of the dword, narrower writes are read-modify-write of it (StarryOS's crosvm
 * CAM driver only ever makes 32-bit accesses, so that is all n90vmm's CAM must handle).
 */
#include "pci.h"

static struct pci_host *host;

void pci_use(struct pci_host *h)
{
	host = h;
}

u64 pci_cfg(u32 bus, u32 dev, u32 fn)
{
	return host->cfg + ((u64)bus << host->bus_shift | (u64)dev << host->dev_shift | (u64)fn << host->fn_shift);
}

u32 pci_rd32(u64 cfg, u32 off)
{
	return rd32(cfg + off);
}

u16 pci_rd16(u64 cfg, u32 off)
{
	if (host->dword_only)
		return (u16)(rd32(cfg + (off & ~3u)) >> (8 * (off & 2)));
	return rd16(cfg + off);
}

u8 pci_rd8(u64 cfg, u32 off)
{
	if (host->dword_only)
		return (u8)(rd32(cfg + (off & ~3u)) >> (8 * (off & 3)));
	return rd8(cfg + off);
}

void pci_wr32(u64 cfg, u32 off, u32 v)
{
	wr32(cfg + off, v);
}

void pci_wr16(u64 cfg, u32 off, u16 v)
{
	if (!host->dword_only) {
		wr16(cfg + off, v);
		return;
	}
	u32 shift = 8 * (off & 2), d = rd32(cfg + (off & ~3u));
	/* The status register (0x06) is write-one-to-clear: never write its bits back. */
	if ((off & ~3u) == 0x04)
		d &= 0xffff;
	wr32(cfg + (off & ~3u), (d & ~(0xffffu << shift)) | (u32)v << shift);
}

static u64 to_cpu(const struct pci_window *w, u64 addr)
{
	if (w->size && addr >= w->pci && addr - w->pci < w->size)
		return w->cpu + (addr - w->pci);
	return addr;
}

u64 pci_mem_bar(u64 cfg, u32 bar)
{
	if (bar > 5)
		return 0;
	u32 lo = pci_rd32(cfg, 0x10 + 4 * bar);
	if (lo & 1) /* I/O space */
		return 0;
	u64 a = lo & ~0xfull;
	if (((lo >> 1) & 3) == 2 && bar < 5)
		a |= (u64)pci_rd32(cfg, 0x14 + 4 * bar) << 32;
	return a ? to_cpu(&host->mem, a) : 0;
}

u64 pci_io_bar(u64 cfg, u32 bar)
{
	if (bar > 5)
		return 0;
	u32 lo = pci_rd32(cfg, 0x10 + 4 * bar);
	if (!(lo & 1) || !(lo & ~3u) || !host->io.size)
		return 0;
	return to_cpu(&host->io, lo & ~3u);
}

/* PCI 3.0 §6.2.5.1: write all ones, read back the size mask, restore. */
static u32 bar_size_mask(u64 cfg, u32 off)
{
	u32 old = pci_rd32(cfg, off);
	pci_wr32(cfg, off, 0xffffffffu);
	u32 mask = pci_rd32(cfg, off);
	pci_wr32(cfg, off, old);
	return mask;
}

static const char *take(struct pci_window *w, u64 size, u64 *addr)
{
	if (!w->size)
		return "no window to assign it from";
	if (w->next < w->pci)
		w->next = w->pci;
	if (w->next < 0x1000)
		w->next = 0x1000; /* 0 reads as unassigned (Linux's PCIBIOS_MIN_IO is 0x1000 too) */
	u64 a = (w->next + size - 1) & ~(size - 1);
	if (a + size > w->pci + w->size)
		return "window full";
	w->next = a + size;
	*addr = a;
	return 0;
}

const char *pci_assign_bars(u64 cfg)
{
	if (!host->assign)
		return 0;
	u32 last = (pci_rd8(cfg, 0x0e) & 0x7f) == 0 ? 6 : 2; /* type 0: 6 BARs, bridges 2 */
	u16 cmd = pci_rd16(cfg, 0x04);
	u32 assigned = 0, io_used = 0;
	for (u32 bar = 0; bar < last; bar++) {
		u32 off = 0x10 + 4 * bar, lo = pci_rd32(cfg, off);
		int io = lo & 1, is64 = !io && ((lo >> 1) & 3) == 2;
		u64 cur = io ? lo & ~3u : lo & ~0xfu;
		if (is64)
			cur |= (u64)pci_rd32(cfg, off + 4) << 32;
		/* Only a BAR reading 0 is probed: unassigned, or not implemented (then it ignores
		 * the probe). A monitor that assigned every BAR (n90vmm) sees no other write. */
		u32 raw = cur ? 0 : bar_size_mask(cfg, off) & (io ? ~3u : ~0xfu);
		if (!raw) {
			bar += (u32)is64;
			continue;
		}
		if (!assigned++)
			pci_wr16(cfg, 0x04, (u16)(cmd & ~3u)); /* no decoding while addresses change */
		u64 mask = raw | (is64 ? (u64)bar_size_mask(cfg, off + 4) << 32
				       : io ? 0xffffffffffff0000ull : 0xffffffff00000000ull);
		u64 size = ~mask + 1, addr;
		const char *err = take(io ? &host->io : &host->mem, size, &addr);
		if (err)
			return failf("BAR %u (%lu bytes): %s", bar, size, err);
		pci_wr32(cfg, off, (u32)addr | (lo & (io ? 3u : 0xfu)));
		if (is64)
			pci_wr32(cfg, off + 4, (u32)(addr >> 32));
		io_used |= (u32)io;
		bar += (u32)is64;
	}
	if (assigned)
		pci_wr16(cfg, 0x04, (u16)(cmd | 2 | (io_used ? 1 : 0)));
	return 0;
}
