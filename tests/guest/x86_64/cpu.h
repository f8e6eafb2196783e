/*
 * n90vmm x86 test guest: the inline primitives arch.h asks of an architecture, plus port
 * I/O and the other x86 instructions the guest uses.
 */
#ifndef N90_GUEST_X86_CPU_H
#define N90_GUEST_X86_CPU_H

/* Device interrupt vectors: IRQ_VECTOR_BASE + n for virtio device n (stubs in longmode.S);
 * the last one is the LAPIC-timer watchdog's. */
#define IRQ_VECTOR_BASE 0x40
#define IRQ_VECTORS     8
#define ARCH_MAX_IRQ_DEVS (IRQ_VECTORS - 1)
/* longmode.S identity-maps the first 4 GiB, no more. */
#define ARCH_MAPPED_LIMIT (4ull << 30)

#ifndef __ASSEMBLER__
#include "lib.h"

/* ---- port and memory access (the first 4 GiB are identity mapped) ---- */

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

static inline void cpuid(u32 leaf, u32 r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

static inline void pause(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void cpu_relax(void) { pause(); }
/* Orders the guest's own memory accesses against a device (x86: a compiler barrier plus
 * mfence, so ring stores are visible before the notify and used reads happen after). */
static inline void mb(void) { __asm__ volatile("mfence" ::: "memory"); }

static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }

static inline __attribute__((noreturn)) void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* The TSC; timeouts assume about 3 GHz (see arch.h). */
static inline u64 clock_now(void) { return rdtsc(); }
static inline u64 clock_nominal_hz(void) { return 3000000000ull; }

/*
 * Physical memory (identity mapped below 4 GiB); x86 allows unaligned
 * accesses.  The empty asm hides the constant address from GCC, which
 * otherwise warns about dereferencing "null" pages (e.g. the BDA at 0x40e).
 */
static inline volatile void *phys(u64 pa)
{
	__asm__("" : "+r"(pa));
	return (volatile void *)pa;
}
static inline u8 rd8(u64 pa) { return *(volatile u8 *)phys(pa); }
static inline u16 rd16(u64 pa) { return *(volatile u16 *)phys(pa); }
static inline u32 rd32(u64 pa) { return *(volatile u32 *)phys(pa); }
static inline u64 rd64(u64 pa) { return *(volatile u64 *)phys(pa); }
static inline void wr8(u64 pa, u8 v) { *(volatile u8 *)phys(pa) = v; }
static inline void wr16(u64 pa, u16 v) { *(volatile u16 *)phys(pa) = v; }
static inline void wr32(u64 pa, u32 v) { *(volatile u32 *)phys(pa) = v; }
static inline void wr64(u64 pa, u64 v) { *(volatile u64 *)phys(pa) = v; }
#endif

#define LAPIC_BASE 0xfee00000ull
#define LAPIC_ID   0x020
#define LAPIC_EOI  0x0b0
#define LAPIC_SVR  0x0f0

#endif
