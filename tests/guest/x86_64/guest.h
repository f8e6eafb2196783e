/*
 * n90vmm test guest: definitions shared by the entry stubs (.S) and the
 * C core (guest.c).  Included from assembly, so only #defines outside the
 * __ASSEMBLER__ block.
 */
#ifndef N90_GUEST_H
#define N90_GUEST_H

/* Boot forms, passed to guest_main() in %edi. */
#define FORM_MULTIBOOT 1
#define FORM_PVH       2
#define FORM_BZIMAGE   3

/* GDT selectors used by every form after the entry stub (see longmode.S).
 * 0x10/0x18 are also Linux's __BOOT_CS/__BOOT_DS (boot.rst, 32-bit protocol). */
#define SEL_CODE64 0x08
#define SEL_CODE32 0x10
#define SEL_DATA   0x18

/* Real-mode AP trampoline destination; SIPI vector = 0x6000 >> 12. */
#define TRAMPOLINE_ADDR 0x6000

/* Device interrupt vectors: IRQ_VECTOR_BASE + n for virtio device n (stubs in longmode.S). */
#define IRQ_VECTOR_BASE 0x40
#define IRQ_VECTORS     8

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002 /* Multiboot 0.6.96 §3.2 */
#define XEN_HVM_START_MAGIC        0x336ec578 /* xen/arch-x86/hvm/start_info.h */

#ifndef __ASSEMBLER__
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

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
/* Orders the guest's own memory accesses against a device (x86: a compiler barrier plus
 * mfence, so ring stores are visible before the notify and used reads happen after). */
static inline void mb(void) { __asm__ volatile("mfence" ::: "memory"); }

static inline __attribute__((noreturn)) void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

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

#define LAPIC_BASE 0xfee00000ull
#define LAPIC_ID   0x020
#define LAPIC_EOI  0x0b0
#define LAPIC_SVR  0x0f0

/* ---- guest.c ---- */
void guest_main(u32 form, u32 magic, u64 info);
void guest_exception(u64 *frame);
void *memcpy(void *d, const void *s, unsigned long n);
void *memset(void *d, int c, unsigned long n);
int memcmp(const void *a, const void *b, unsigned long n);
unsigned long strlen(const char *s);
void delay_cycles(u64 n);
/* printf subset: %s %c %u %d %x, 'l' for 64 bit. */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A check's failure detail, formatted into a static buffer (one at a time). */
const char *failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "check NAME: ok" or "check NAME: FAIL detail"; a failure makes the RESULT FAIL. */
void report(const char *name, const char *fail);
extern int debug;
#define dprintf(...) do { if (debug) kprintf("debug: " __VA_ARGS__); } while (0)
/* Output mirror: once set, every byte printed also goes there (virtio-console). */
extern void (*console_mirror)(const char *buf, u32 len);

extern char cmdline[1024];
int is_space(char c);
int starts_with(const char *s, const char *prefix);
long parse_num(const char *s);
const char *cmdline_value(const char *key);
/* starry.c: StarryOS's view of its machine, with starry=1 (and its power-off). */
int starry_mode(void);
void starry_main(void);
int cmdline_has(const char *word);
/* ACPI tables found by the acpi check (0: none). */
extern u64 acpi_dsdt, acpi_mcfg;

/* ---- virtio.c: the virtio= / hostile / bench= modes (see README.md) ---- */
void virtio_main(void);

/* ---- interrupts (longmode.S stubs -> guest_irq) ---- */
extern volatile u32 irq_count[IRQ_VECTORS];
void guest_irq(u64 vector);
extern const u64 irq_stub_table[IRQ_VECTORS];

/* longmode.S: linker/asm symbols */
extern const char __image_start[], __bss_end[];
extern const char trampoline_start[], trampoline_end[], trampoline_counter[];
extern const u64 isr_table[32];
#endif

#endif
