/*
 * Shared by every boot form: switch from 32-bit protected mode (or from a
 * loader's long mode) to our own 64-bit environment and call guest_main().
 *
 *  - GDT: 0x08 64-bit code, 0x10 32-bit code, 0x18 flat data.
 *  - Page tables: identity map of the first 4 GiB with 2 MiB pages
 *    (PML4 -> 1 PDPT -> 4 PDs).  No 1 GiB pages (not every hypervisor
 *    exposes them; they triple-fault on kvm-pvm), except in mb-1g.bin
 *    (GUEST_1G_PAGES), the build for hosts with real KVM.  The 3..4 GiB range (LAPIC, IOAPIC, ...) is mapped
 *    PCD|PWT (uncached).
 *  - Stack, page tables and everything else live in .bss, which is zeroed
 *    here because not every loader does it.
 *
 * Also holds the exception stubs and the real-mode AP trampoline.
 */
#include "guest.h"

#define PTE_P    0x001
#define PTE_RW   0x002
#define PTE_PWT  0x008
#define PTE_PCD  0x010
#define PTE_PS   0x080

#define CR0_PE   0x00000001
#define CR0_PG   0x80000000
#define CR4_PAE  0x00000020
#define MSR_EFER 0xC0000080
#define EFER_LME 0x00000100

/*
 * Zero .bss and fill in the page tables.  Uses only %eax, %ecx, %edi and
 * 32-bit operands so it assembles to working code both in .code32 and in
 * .code64 (there 32-bit register writes zero-extend).
 */
.macro ZERO_BSS_AND_BUILD_PAGE_TABLES
	cld
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	shr	$2, %ecx
	xor	%eax, %eax
	rep stosl

	mov	$(pdpt + PTE_P + PTE_RW), %eax
	mov	%eax, pml4
#ifdef GUEST_1G_PAGES
	/* mb-1g.bin: four 1 GiB pages straight from the PDPT (needs CPUID PDPE1GB; without it
	 * the first access faults and the guest triple-faults, which is all it can say). */
	mov	$(PTE_P + PTE_RW + PTE_PS), %eax
	mov	%eax, pdpt
	mov	$(0x40000000 + PTE_P + PTE_RW + PTE_PS), %eax
	mov	%eax, pdpt + 8
	mov	$(0x80000000 + PTE_P + PTE_RW + PTE_PS), %eax
	mov	%eax, pdpt + 16
	mov	$(0xc0000000 + PTE_P + PTE_RW + PTE_PS + PTE_PCD + PTE_PWT), %eax
	mov	%eax, pdpt + 24
#else
	mov	$(pd + PTE_P + PTE_RW), %eax
	mov	$pdpt, %edi
1:	mov	%eax, (%edi)
	add	$0x1000, %eax
	add	$8, %edi
	cmp	$(pdpt + 4 * 8), %edi
	jne	1b

	mov	$(PTE_P + PTE_RW + PTE_PS), %eax
	mov	$pd, %edi
2:	mov	%eax, (%edi)
	cmp	$(pd + 3 * 0x1000), %edi	/* >= 3 GiB: MMIO, uncached */
	jb	3f
	orl	$(PTE_PCD + PTE_PWT), (%edi)
3:	add	$0x200000, %eax
	add	$8, %edi
	cmp	$(pd + 4 * 0x1000), %edi
	jne	2b
#endif
.endm

	.section .text, "ax"

/*
 * lm_enter32: 32-bit protected mode, paging off, flat segments (whatever
 * GDT the loader used).  In: %ebx = form, %ebp = magic, %esi = info.
 */
	.code32
	.globl	lm_enter32
lm_enter32:
	cli
	lgdt	gdt_desc
	mov	$SEL_DATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%eax, %fs
	mov	%eax, %gs

	ZERO_BSS_AND_BUILD_PAGE_TABLES

	/* Intel SDM Vol. 3 §9.8.5: PAE, CR3, EFER.LME, then CR0.PG. */
	mov	$CR4_PAE, %eax
	mov	%eax, %cr4
	mov	$pml4, %eax
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME, %eax
	wrmsr
	mov	%cr0, %eax
	or	$(CR0_PG + CR0_PE), %eax
	mov	%eax, %cr0
	ljmp	$SEL_CODE64, $1f

	.code64
1:	mov	%esi, %edx		/* info  (zero-extended) */
	mov	%ebp, %esi		/* magic */
	mov	%ebx, %edi		/* form  */
	jmp	lm_common

/*
 * lm_enter64: already in long mode with the loader's page tables, which
 * identity-map at least our image (Linux boot.rst, 64-bit boot protocol).
 * In: %rsi = info (boot_params), %ebx = form, %ebp = magic.
 */
	.globl	lm_enter64
lm_enter64:
	cli
	mov	%rsi, %rdx
	ZERO_BSS_AND_BUILD_PAGE_TABLES
	mov	$pml4, %eax
	mov	%rax, %cr3		/* our tables identity-map this code too */
	lgdt	gdt_desc
	mov	$SEL_DATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%eax, %fs
	mov	%eax, %gs
	mov	$stack_top, %esp	/* the loader's stack is not ours to use */
	pushq	$SEL_CODE64
	pushq	$1f
	lretq				/* reload %cs from our GDT */
1:	mov	%ebp, %esi
	mov	%ebx, %edi

lm_common:
	mov	$SEL_DATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%eax, %fs
	mov	%eax, %gs
	mov	$stack_top, %esp
	xor	%ebp, %ebp
	call	guest_main
2:	cli
	hlt
	jmp	2b

/* Exception stubs: push a dummy error code where the CPU does not
 * (Intel SDM Vol. 3 §6.13: vectors 8, 10-14, 17, 21, 29, 30 push one). */
.macro ISR n
isr\n:
	.if (\n == 8) || ((\n >= 10) && (\n <= 14)) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
	.else
	pushq	$0
	.endif
	pushq	$\n
	jmp	isr_common
.endm
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	ISR	\n
.endr

isr_common:
	mov	%rsp, %rdi		/* frame: vector, error, rip, cs, rflags, ... */
	and	$-16, %rsp
	call	guest_exception
3:	cli
	hlt
	jmp	3b

/* Interrupt stubs for vectors IRQ_VECTOR_BASE.. (device interrupts): save the registers the
 * C calling convention lets guest_irq() clobber, call it with the vector, return with iretq.
 * The CPU pushed 5 quadwords onto a 16-byte aligned stack; 9 more keep %rsp aligned at the
 * call (System V ABI). guest_irq() sends the EOI. */
.macro IRQ n
irq\n:
	push	%rax
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	mov	$(IRQ_VECTOR_BASE + \n), %edi
	call	guest_irq
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rax
	iretq
.endm
.irp n, 0,1,2,3,4,5,6,7
	IRQ	\n
.endr

	.section .rodata, "a"
	.balign	8
	.globl	irq_stub_table
irq_stub_table:
.irp n, 0,1,2,3,4,5,6,7
	.quad	irq\n
.endr
	.globl	isr_table
isr_table:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad	isr\n
.endr

	.balign	16
gdt:
	.quad	0
	.quad	0x00af9a000000ffff	/* 0x08: 64-bit code, DPL0 */
	.quad	0x00cf9a000000ffff	/* 0x10: 32-bit code, flat */
	.quad	0x00cf92000000ffff	/* 0x18: data, flat */
gdt_end:
	.balign	8
gdt_desc:				/* 10 bytes; lgdt in 32-bit mode reads 6 */
	.word	gdt_end - gdt - 1
	.quad	gdt

/*
 * AP trampoline, copied to TRAMPOLINE_ADDR by the BSP.  A SIPI with vector
 * 0x06 starts the AP in real mode at CS:IP = 0x0600:0000 (Intel SDM Vol. 3
 * §8.4.4 / MP spec 1.4 §B.4).  It only proves the AP ran: lock-increment
 * a counter inside the trampoline page and halt forever.  Position
 * independent: DS = CS, counter addressed relative to the trampoline.
 */
	.code16
	.globl	trampoline_start, trampoline_end, trampoline_counter
trampoline_start:
	cli
	mov	%cs, %ax
	mov	%ax, %ds
	lock incl trampoline_counter - trampoline_start
4:	cli
	hlt
	jmp	4b
	.balign	4
trampoline_counter:
	.long	0
trampoline_end:
	.code64

	.section .bss, "aw", @nobits
	.balign	4096
pml4:	.skip	4096
pdpt:	.skip	4096
pd:	.skip	4 * 4096
stack:	.skip	16384
stack_top:

	.section .note.GNU-stack, "", @progbits
