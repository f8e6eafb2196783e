/*
 * n90vmm arm64 test guest: the identity map and the MMU.
 *
 * The guest does not run with the MMU off longer than it must: with it off every data
 * access is Device-nGnRnE and uncached, which under KVM (without FEAT_S2FWB) is not
 * coherent with what the monitor writes through its cached mapping of guest RAM, and
 * exclusives and unaligned accesses are not dependable either. So, as StarryOS does
 * before its devices: 4 KiB granule, 48-bit VA, the first 512 GiB identity mapped with
 * 1 GiB blocks of Device-nGnRE (execute-never), RAM (from the FDT) as Normal write-back
 * inner-shareable, through 2 MiB blocks where a RAM range does not fill its GiB.
 */
#include "guest.h"

#define PTE_VALID 1ull
#define PTE_TABLE 3ull
#define PTE_BLOCK 1ull
#define PTE_ATTR(i) ((u64)(i) << 2)
#define PTE_SH_INNER (3ull << 8)
#define PTE_AF (1ull << 10)
#define PTE_PXN (1ull << 53)
#define PTE_UXN (1ull << 54)
#define ATTR_DEVICE 0 /* MAIR attr0: Device-nGnRE */
#define ATTR_NORMAL 1 /* MAIR attr1: Normal, inner/outer write-back, read/write-allocate */
#define MAIR_VALUE (0x04ull | 0xffull << 8)

#define GIB (1ull << 30)
#define MAX_L2 8

static u64 l0[512] __attribute__((aligned(4096)));
static u64 l1[512] __attribute__((aligned(4096)));
static u64 l2[MAX_L2][512] __attribute__((aligned(4096)));

/* Read by secondary_entry with its MMU off: written here before ours goes on. */
struct mmu_regs mmu_regs;

static const u64 device_block = PTE_BLOCK | PTE_ATTR(ATTR_DEVICE) | PTE_AF | PTE_PXN | PTE_UXN;
static const u64 normal_block = PTE_BLOCK | PTE_ATTR(ATTR_NORMAL) | PTE_SH_INNER | PTE_AF;

static int is_ram(u64 a, u64 len)
{
	for (u32 i = 0; i < mach.nram; i++)
		if (a < mach.ram[i].base + mach.ram[i].size && mach.ram[i].base < a + len)
			return 1;
	return 0;
}

static int covers_ram(u64 a, u64 len)
{
	for (u32 i = 0; i < mach.nram; i++)
		if (mach.ram[i].base <= a && a + len <= mach.ram[i].base + mach.ram[i].size)
			return 1;
	return 0;
}

const char *mmu_init(void)
{
	u64 mmfr0 = sysreg_read(id_aa64mmfr0_el1);
	u32 parange = mmfr0 & 0xf, tgran4 = (mmfr0 >> 28) & 0xf, nl2 = 0;
	if (tgran4 == 0xf)
		return "the CPU has no 4 KiB translation granule";
	if (parange > 5)
		parange = 5; /* 48 bits: more needs FEAT_LPA2 descriptors */
	if (!covers_ram((u64)_head, (u64)(_end - _head)))
		return "the image is not inside RAM the FDT describes: the MMU stays off";
	l0[0] = (u64)l1 | PTE_TABLE;
	for (u64 g = 0; g < 512; g++) {
		u64 a = g * GIB;
		if (!is_ram(a, GIB) || covers_ram(a, GIB)) {
			l1[g] = a | (is_ram(a, GIB) ? normal_block : device_block);
			continue;
		}
		if (nl2 == MAX_L2)
			return "RAM is split over too many GiB ranges";
		for (u64 m = 0; m < 512; m++)
			l2[nl2][m] = (a + m * MIB2) | (is_ram(a + m * MIB2, MIB2) ? normal_block : device_block);
		l1[g] = (u64)l2[nl2++] | PTE_TABLE;
	}
	mmu_regs.ttbr0 = (u64)l0;
	/* T0SZ 16 (48-bit VA), walks inner/outer write-back cacheable, inner shareable, 4 KiB
	 * granule, no TTBR1 walks (EPD1), IPS = the CPU's physical address size. */
	mmu_regs.tcr = 16 | 1ull << 8 | 1ull << 10 | 3ull << 12 | 0ull << 14 | 1ull << 23 | (u64)parange << 32;
	mmu_regs.mair = MAIR_VALUE;
	/* M, C, I on; alignment checks (A) and WXN off; little endian. */
	u64 sctlr = sysreg_read(sctlr_el1);
	sctlr |= 1 | 1 << 2 | 1 << 12;
	sctlr &= ~(1ull << 1 | 1ull << 19 | 1ull << 25);
	mmu_regs.sctlr = sctlr;
	mmu_switch_on(&mmu_regs, (u64)_head, (u64)_end);
	return 0;
}
