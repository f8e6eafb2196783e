/*
 * n90vmm x86 test guest: definitions shared by the entry stubs (.S) and the
 * C core (guest.c).  Included from assembly, so only #defines outside the
 * __ASSEMBLER__ block.
 */
#ifndef N90_GUEST_H
#define N90_GUEST_H

#include "cpu.h"

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

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002 /* Multiboot 0.6.96 §3.2 */
#define XEN_HVM_START_MAGIC        0x336ec578 /* xen/arch-x86/hvm/start_info.h */

#ifndef __ASSEMBLER__
#include "arch.h"

/* ---- guest.c ---- */
void guest_main(u32 form, u32 magic, u64 info);
void guest_exception(u64 *frame);
void delay_cycles(u64 n);
/* starry.c: StarryOS's view of its machine, with starry=1 (and its power-off). */
int starry_mode(void);
void starry_main(void);
/* ACPI tables found by the acpi check (0: none). */
extern u64 acpi_dsdt, acpi_mcfg;

/* ---- virtio.c: the virtio= / hostile / bench= modes (see README.md) ---- */
void virtio_main(void);

/* ---- interrupts (longmode.S stubs -> guest_irq, platform.c) ---- */
void guest_irq(u64 vector);
extern const u64 irq_stub_table[IRQ_VECTORS];

/* longmode.S: linker/asm symbols */
extern const char __image_start[], __bss_end[];
extern const char trampoline_start[], trampoline_end[], trampoline_counter[];
extern const u64 isr_table[32];
#endif

#endif
