/*
 * n90vmm arm64 test guest: the Linux arm64 Image header, the primary and secondary entries,
 * and the exception vectors.
 *
 * Boot protocol (Documentation/arch/arm64/booting.rst): entered at EL1 (or EL2, which is
 * left at once and reported by the entry check), MMU off, x0 = FDT address, x1..x3 = 0.
 * The image runs wherever it was loaded: it is linked at 0 as a PIE and applies its own
 * R_AARCH64_RELATIVE relocations first (RAM starts at 0x4000_0000 on QEMU's virt, at
 * 0x8000_0000 on crosvm-arm64). Nothing before arm64_main() touches the FDT or the stack
 * of another CPU; the MMU is turned on from C (mmu.c), secondaries turn it on here before
 * their first store (see secondary_entry).
 *
 * STARRY_HEADER builds the header of StarryOS's crosvm image: text_offset, image_size and
 * flags all 0, the loader's cue to put it at RAM + 0x80000 (PLATFORMS.md §3).
 */
#include "cpu.h"

#define R_AARCH64_RELATIVE 1027
#define FRAME_SIZE (34 * 8)

/* image_size (bytes 16..23) is the one field only the linker knows: image.ld puts it
 * between .head.text.0 and .head.text.1, times header_has_size. */
	.section .head.text.0, "ax"
	.globl	_head
_head:
	b	primary_entry		/* code0 */
	.long	0			/* code1 */
#ifdef STARRY_HEADER
	.quad	0			/* text_offset */
	.globl	header_has_size
	.set	header_has_size, 0
	.section .head.text.1, "ax"
	.quad	0			/* flags */
#else
	.quad	0x80000			/* text_offset */
	.globl	header_has_size
	.set	header_has_size, 1
	.section .head.text.1, "ax"
	.quad	0xa			/* flags: little endian, 4 KiB pages, anywhere in RAM */
#endif
	.quad	0, 0, 0			/* res2..res4 */
	.ascii	"ARM\x64"		/* magic */
	.long	0			/* res5: no PE header */

/*
 * At EL2 (a loader that gives us the hypervisor level): stay out of it. EL1 gets AArch64,
 * the physical counter and timer, and the GICv3 system registers; EL1 is then entered with
 * everything masked. Clobbers x9.
 */
.macro LEAVE_EL2
	mrs	x9, CurrentEL
	cmp	x9, #(2 << 2)
	b.ne	1f
	mov	x9, #(1 << 31)			/* HCR_EL2.RW: EL1 is AArch64 */
	msr	hcr_el2, x9
	mov	x9, #3				/* CNTHCTL_EL2.EL1PCTEN | EL1PCEN */
	msr	cnthctl_el2, x9
	msr	cntvoff_el2, xzr
	mrs	x9, icc_sre_el2
	orr	x9, x9, #0x1			/* ICC_SRE_EL2.SRE */
	orr	x9, x9, #0x8			/* ICC_SRE_EL2.Enable: EL1 may use SRE */
	msr	icc_sre_el2, x9
	isb
	ldr	x9, =0x30d00800			/* SCTLR_EL1 RES1 bits, MMU and caches off */
	msr	sctlr_el1, x9
	mov	x9, #0x3c5			/* SPSR: EL1h, D A I F masked */
	msr	spsr_el2, x9
	adr	x9, 1f
	msr	elr_el2, x9
	eret
1:
.endm

	.text
primary_entry:
	mov	x19, x0				/* FDT */
	mov	x20, x1
	mov	x21, x2
	mov	x22, x3
	mrs	x23, CurrentEL
	mrs	x25, daif
	LEAVE_EL2
	mrs	x24, sctlr_el1
	msr	daifset, #0xf
	msr	spsel, #1
	/* The MMU must be off (booting.rst); if a loader left it on, turn it off, from an
	 * identity map presumably, and let the entry check say so. */
	bic	x9, x24, #1
	bic	x9, x9, #(1 << 2)
	msr	sctlr_el1, x9
	isb

	/* Apply our relocations: *(base + offset) = base + addend. */
	adr	x9, _head
	adrp	x10, __rela_start
	add	x10, x10, :lo12:__rela_start
	adrp	x11, __rela_end
	add	x11, x11, :lo12:__rela_end
2:	cmp	x10, x11
	b.hs	3f
	ldp	x12, x13, [x10]			/* r_offset, r_info */
	ldr	x14, [x10, #16]			/* r_addend */
	add	x10, x10, #24
	cmp	x13, #R_AARCH64_RELATIVE
	b.ne	2b
	add	x14, x14, x9
	str	x14, [x9, x12]
	b	2b
3:
	/* Zero .bss, unless the loader put the FDT inside it (image_size was ignored): then
	 * keep it for the entry check to report. */
	mov	x26, #0
	adrp	x10, __bss_start
	add	x10, x10, :lo12:__bss_start
	adrp	x11, __bss_end
	add	x11, x11, :lo12:__bss_end
	cmp	x19, x10
	b.lo	4f
	cmp	x19, x11
	b.hs	4f
	mov	x26, #1
	b	5f
4:	cmp	x10, x11
	b.hs	5f
	stp	xzr, xzr, [x10], #16
	b	4b
5:
	adrp	x9, stacks + STACK_SIZE
	add	x9, x9, :lo12:(stacks + STACK_SIZE)
	mov	sp, x9
	msr	tpidr_el1, xzr
	adrp	x9, vectors
	add	x9, x9, :lo12:vectors
	msr	vbar_el1, x9
	isb
	mov	x0, x19
	mov	x1, x20
	mov	x2, x21
	mov	x3, x22
	mov	x4, x23
	mov	x5, x24
	mov	x6, x25
	mov	x7, x26
	bl	arm64_main
	b	halt

/*
 * PSCI CPU_ON entry: x0 = the context id, our CPU index. MMU off, like at boot. The MMU
 * goes on before the first store: anything written uncached now could be shadowed by a
 * stale line once the caches are on (the boot CPU's tables and registers in mmu_regs were
 * written with its MMU off, so memory holds them).
 */
	.globl	secondary_entry
secondary_entry:
	mov	x19, x0
	LEAVE_EL2
	msr	daifset, #0xf
	msr	spsel, #1
	adrp	x0, mmu_regs
	add	x0, x0, :lo12:mmu_regs
	bl	mmu_enable
	adrp	x9, stacks
	add	x9, x9, :lo12:stacks
	add	x10, x19, #1
	mov	x11, #STACK_SIZE
	madd	x9, x10, x11, x9
	mov	sp, x9
	msr	tpidr_el1, x19
	adrp	x9, vectors
	add	x9, x9, :lo12:vectors
	msr	vbar_el1, x9
	isb
	mov	x0, x19
	bl	secondary_main
halt:
	msr	daifset, #0xf
	wfi
	b	halt

/*
 * mmu_switch_on(regs, start, end): with the tables written (MMU off, so they are in
 * memory), drop whatever the caches may hold for [start, end) - the image, its .bss and
 * this stack, all written uncached so far - and turn the MMU and caches on.
 */
	.globl	mmu_switch_on
mmu_switch_on:
	dsb	sy
	mrs	x9, ctr_el0
	ubfx	x9, x9, #16, #4			/* DminLine: log2 of words */
	mov	x10, #4
	lsl	x10, x10, x9			/* line size in bytes */
	sub	x11, x10, #1
	bic	x1, x1, x11
6:	dc	ivac, x1
	add	x1, x1, x10
	cmp	x1, x2
	b.lo	6b
	dsb	sy
	/* fall through */

/* mmu_enable(regs): loads struct mmu_regs and turns the MMU on. A leaf that touches no
 * memory but regs, so a CPU can call it before it may use its stack. Clobbers x10..x13. */
mmu_enable:
	ldp	x10, x11, [x0]			/* ttbr0, tcr */
	ldp	x12, x13, [x0, #16]		/* mair, sctlr */
	msr	mair_el1, x12
	msr	tcr_el1, x11
	msr	ttbr0_el1, x10
	isb
	tlbi	vmalle1
	dsb	nsh
	isb
	msr	sctlr_el1, x13
	isb
	ic	iallu
	dsb	nsh
	isb
	ret

/* ------------------------------------------------------------------ */
/* Exception vectors (ARM ARM D1.10.2): 4 groups x sync, IRQ, FIQ, SError */
/* ------------------------------------------------------------------ */

.macro VENTRY kind
	.balign	0x80
	sub	sp, sp, #FRAME_SIZE
	stp	x0, x1, [sp]
	mov	x0, #\kind
	b	exception_common
.endm

	.balign	2048
vectors:
	VENTRY	0	/* current EL, SP_EL0: sync */
	VENTRY	1	/* IRQ */
	VENTRY	2	/* FIQ */
	VENTRY	3	/* SError */
	VENTRY	4	/* current EL, SP_ELx: sync */
	VENTRY	5	/* IRQ */
	VENTRY	6	/* FIQ */
	VENTRY	7	/* SError */
	VENTRY	8	/* lower EL, AArch64 */
	VENTRY	9
	VENTRY	10
	VENTRY	11
	VENTRY	12	/* lower EL, AArch32 */
	VENTRY	13
	VENTRY	14
	VENTRY	15

/* Frame: x0..x30, elr, spsr. IRQs from EL1h (kind 5) go to arm64_irq() and return;
 * everything else is unexpected: arm64_exception() reports it and ends the run. */
exception_common:
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x19, [sp, #144]
	stp	x20, x21, [sp, #160]
	stp	x22, x23, [sp, #176]
	stp	x24, x25, [sp, #192]
	stp	x26, x27, [sp, #208]
	stp	x28, x29, [sp, #224]
	mrs	x9, elr_el1
	mrs	x10, spsr_el1
	stp	x30, x9, [sp, #240]
	str	x10, [sp, #256]
	mov	x1, sp
	cmp	x0, #5
	b.ne	7f
	bl	arm64_irq
	ldp	x9, x10, [sp, #248]
	msr	elr_el1, x9
	msr	spsr_el1, x10
	ldp	x0, x1, [sp]
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldp	x8, x9, [sp, #64]
	ldp	x10, x11, [sp, #80]
	ldp	x12, x13, [sp, #96]
	ldp	x14, x15, [sp, #112]
	ldp	x16, x17, [sp, #128]
	ldp	x18, x19, [sp, #144]
	ldp	x20, x21, [sp, #160]
	ldp	x22, x23, [sp, #176]
	ldp	x24, x25, [sp, #192]
	ldp	x26, x27, [sp, #208]
	ldp	x28, x29, [sp, #224]
	ldr	x30, [sp, #240]
	add	sp, sp, #FRAME_SIZE
	eret
7:	bl	arm64_exception
	b	halt

	.bss
	.balign	16
	.globl	stacks
stacks:
	.space	MAX_CPUS * STACK_SIZE
