/*
 * n90vmm arm64 test guest: the inline primitives arch.h asks of an architecture, and the
 * system-register and barrier helpers the rest of aarch64/ uses.
 *
 * Every physical access is one load or store of its width through a plain base register:
 * an MMIO access KVM can decode from the syndrome (ISV; no writeback, no pairs). The guest
 * runs identity mapped (mmu.c): RAM Normal write-back, everything else Device-nGnRE.
 */
#ifndef N90_GUEST_A64_CPU_H
#define N90_GUEST_A64_CPU_H

#ifndef __ASSEMBLER__
#include "lib.h"

#define sysreg_read(r) ({ u64 __v; __asm__ volatile("mrs %0, " #r : "=r"(__v)); __v; })
#define sysreg_write(r, v) __asm__ volatile("msr " #r ", %0" : : "r"((u64)(v)) : "memory")
#define isb() __asm__ volatile("isb" ::: "memory")
#define dsb(opt) __asm__ volatile("dsb " #opt ::: "memory")

static inline volatile void *phys(u64 pa)
{
	__asm__("" : "+r"(pa));
	return (volatile void *)pa;
}

static inline u8 rd8(u64 pa)
{
	u32 v;
	__asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(pa) : "memory");
	return (u8)v;
}
static inline u16 rd16(u64 pa)
{
	u32 v;
	__asm__ volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(pa) : "memory");
	return (u16)v;
}
static inline u32 rd32(u64 pa)
{
	u32 v;
	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(pa) : "memory");
	return v;
}
static inline u64 rd64(u64 pa)
{
	u64 v;
	__asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(pa) : "memory");
	return v;
}
static inline void wr8(u64 pa, u8 v) { __asm__ volatile("strb %w0, [%1]" : : "r"((u32)v), "r"(pa) : "memory"); }
static inline void wr16(u64 pa, u16 v) { __asm__ volatile("strh %w0, [%1]" : : "r"((u32)v), "r"(pa) : "memory"); }
static inline void wr32(u64 pa, u32 v) { __asm__ volatile("str %w0, [%1]" : : "r"(v), "r"(pa) : "memory"); }
static inline void wr64(u64 pa, u64 v) { __asm__ volatile("str %0, [%1]" : : "r"(v), "r"(pa) : "memory"); }

/* Full system barrier: ring stores (Normal memory) reach the device before a doorbell
 * store (Device memory), and an index read completes before the reads it publishes. */
static inline void mb(void) { dsb(sy); }
static inline void cpu_relax(void) { __asm__ volatile("yield" ::: "memory"); }

static inline void irq_disable(void) { __asm__ volatile("msr daifset, #2" ::: "memory"); }

/* The EL1 physical counter (the timer StarryOS's crosvm platform uses); isb so the read is
 * not taken early. CNTFRQ_EL0 is its exact rate. */
static inline u64 clock_now(void)
{
	isb();
	return sysreg_read(cntpct_el0);
}
static inline u64 clock_nominal_hz(void) { return sysreg_read(cntfrq_el0); }

static inline __attribute__((noreturn)) void halt_forever(void)
{
	for (;;)
		__asm__ volatile("msr daifset, #0xf; wfi" ::: "memory");
}

static inline u32 this_cpu(void) { return (u32)sysreg_read(tpidr_el1); }
#endif

/* SPIs virtio devices may use, one each. */
#define ARCH_MAX_IRQ_DEVS 8
/* mmu.c maps the first 512 GiB of physical address space. */
#define ARCH_MAPPED_LIMIT (512ull << 30)
#define MAX_CPUS 8
#define STACK_SIZE 0x8000

#endif
