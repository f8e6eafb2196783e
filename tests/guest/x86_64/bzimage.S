/*
 * Linux/x86 boot protocol image ("bzImage"), Documentation/x86/boot.rst.
 *
 * File layout (see bzimage.ld):
 *   0x0000  boot sector (not bootable by itself), setup header at 0x1F1
 *   0x0200  real-mode setup code (entered by BIOS-style loaders)
 *   0x0A00  protected-mode kernel, loaded at code32_start = 0x100000:
 *             +0x000 32-bit entry  (ESI = boot_params, paging off)
 *             +0x200 64-bit entry  (RSI = boot_params, identity-mapped)
 * No compressed payload: the "kernel" is the guest itself.
 */
#include "guest.h"

#define SETUP_SECTS   4			/* setup = (1 + 4) * 512 bytes */
#define BP            0x1000		/* our zero page, offset in setup segment */
#define SMAP          0x534d4150	/* "SMAP", INT 15h E820 */
#define E820_MAX      128		/* boot_params.e820_table[] entries */

	.section .setup, "ax"
	.code16
bootsect:
	/* Offset 0: a loader never executes this; if a BIOS boots the file
	 * directly there is nothing useful to do. */
	cli
1:	hlt
	jmp	1b

	.org	0x1f1
	.byte	SETUP_SECTS		/* 0x1f1 setup_sects */
	.word	0			/* 0x1f2 root_flags */
	.long	__bz_syssize		/* 0x1f4 syssize (16-byte paragraphs) */
	.word	0			/* 0x1f8 ram_size (obsolete) */
	.word	0xffff			/* 0x1fa vid_mode: "normal" */
	.word	0			/* 0x1fc root_dev */
	.word	0xaa55			/* 0x1fe boot_flag */
	.org	0x200
	.byte	0xeb, setup_code - 2f	/* 0x200 jump: short jmp over header */
2:	.ascii	"HdrS"			/* 0x202 header */
	.word	0x020f			/* 0x206 version 2.15 */
	.long	0			/* 0x208 realmode_swtch */
	.word	0x1000			/* 0x20c start_sys_seg (obsolete) */
	.word	kernel_version - 0x200	/* 0x20e kernel_version */
	.byte	0			/* 0x210 type_of_loader (set by loader) */
	.byte	0x01			/* 0x211 loadflags: LOADED_HIGH */
	.word	0x8000			/* 0x212 setup_move_size */
	.long	0x100000		/* 0x214 code32_start */
	.long	0			/* 0x218 ramdisk_image */
	.long	0			/* 0x21c ramdisk_size */
	.long	0			/* 0x220 bootsect_kludge */
	.word	0			/* 0x224 heap_end_ptr */
	.byte	0			/* 0x226 ext_loader_ver */
	.byte	0			/* 0x227 ext_loader_type */
	.long	0			/* 0x228 cmd_line_ptr (set by loader) */
	.long	0x7fffffff		/* 0x22c initrd_addr_max */
	.long	0x100000		/* 0x230 kernel_alignment */
	.byte	0			/* 0x234 relocatable_kernel: no */
	.byte	20			/* 0x235 min_alignment (log2) */
	.word	0x0001			/* 0x236 xloadflags: XLF_KERNEL_64 */
	.long	2047			/* 0x238 cmdline_size */
	.long	0			/* 0x23c hardware_subarch: PC */
	.quad	0			/* 0x240 hardware_subarch_data */
	.long	0			/* 0x248 payload_offset */
	.long	0			/* 0x24c payload_length */
	.quad	0			/* 0x250 setup_data */
	.quad	0x100000		/* 0x258 pref_address */
	.long	__bz_init_size		/* 0x260 init_size */
	.long	0			/* 0x264 handover_offset */
	.long	0			/* 0x268 kernel_info_offset */
	.org	0x26c			/* end of struct setup_header */

/*
 * Real-mode setup, entered by a 16-bit boot loader (QEMU's linuxboot ROM)
 * at CS = setup segment + 0x20, IP = 0, DS = ES = SS = setup segment
 * (boot.rst "Running the kernel").  Like Linux's arch/x86/boot it builds a
 * fresh zero page (struct boot_params) instead of reusing the loaded setup
 * sectors, because boot_params.e820_table (0x2d0..) overlaps this code:
 * zero page = setup segment : BP, header copied into it, E820 map from the
 * BIOS.  Then protected mode, ESI = linear address of that zero page, jump
 * to code32_start with CS = 0x10, DS = ES = SS = 0x18.
 */
setup_code:
	cli
	cld
	mov	%ds, %ax
	mov	%ax, %es

	mov	$BP, %di		/* zero the zero page */
	mov	$2048, %cx
	xor	%ax, %ax
	rep stosw
	mov	$0x1f1, %si		/* copy struct setup_header */
	mov	$(BP + 0x1f1), %di
	mov	$(0x26c - 0x1f1), %cx
	rep movsb

	/* E820 (cf. Linux arch/x86/boot/memory.c): 20-byte entries straight
	 * into boot_params.e820_table (0x2d0), count in e820_entries (0x1e8). */
	xor	%ebx, %ebx
	mov	$(BP + 0x2d0), %di
3:	mov	$0xe820, %eax
	mov	$20, %ecx
	mov	$SMAP, %edx
	push	%di
	push	%ds
	int	$0x15
	pop	%ds
	pop	%di
	jc	4f
	cmp	$SMAP, %eax
	jne	4f
	incb	BP + 0x1e8
	add	$20, %di
	cmpb	$E820_MAX, BP + 0x1e8
	jae	4f
	test	%ebx, %ebx
	jnz	3b
4:
	/* "Fast A20" through port 0x92 (firmware normally did it already). */
	inb	$0x92, %al
	or	$0x02, %al
	and	$0xfe, %al
	outb	%al, $0x92

	xor	%esi, %esi
	mov	%ds, %si
	shl	$4, %esi		/* esi = linear base of setup segment */
	lea	setup_gdt(%esi), %eax
	mov	%eax, setup_gdt_desc + 2
	lgdtl	setup_gdt_desc

	movzwl	%sp, %edx
	add	%esi, %edx		/* edx = linear stack pointer */
	lea	pm32(%esi), %eax	/* eax = linear address of pm32 */
	mov	BP + 0x214, %ecx	/* ecx = code32_start */
	add	$BP, %esi		/* esi = linear boot_params */

	pushl	$SEL_CODE32		/* far return target, 32-bit */
	pushl	%eax
	mov	%cr0, %eax
	or	$1, %al			/* CR0.PE */
	mov	%eax, %cr0
	lretl				/* next instruction: 32-bit pm32 */

	.code32
pm32:					/* position independent */
	mov	$SEL_DATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %fs
	mov	%eax, %gs
	mov	%eax, %ss
	mov	%edx, %esp
	xor	%ebx, %ebx		/* boot.rst: ebp, edi, ebx must be zero */
	xor	%ebp, %ebp
	xor	%edi, %edi
	jmp	*%ecx

	.balign	8
setup_gdt:				/* same selectors as Linux __BOOT_CS/DS */
	.quad	0
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x10: 32-bit code, flat */
	.quad	0x00cf92000000ffff	/* 0x18: data, flat */
setup_gdt_end:
setup_gdt_desc:
	.word	setup_gdt_end - setup_gdt - 1
	.long	0			/* base, patched above */

kernel_version:
	.asciz	"n90 test guest"

/*
 * Protected-mode kernel, loaded at code32_start = 0x100000.
 */
	.section .head, "ax"
	.code32
	.globl	bz_entry32
bz_entry32:				/* +0x000: 32-bit boot protocol */
	cli
	mov	$FORM_BZIMAGE, %ebx
	mov	$32, %ebp		/* "magic": which entry was used */
	jmp	lm_enter32		/* %esi = boot_params */

	.org	0x200
	.code64
	.globl	bz_entry64
bz_entry64:				/* +0x200: 64-bit boot protocol */
	cli
	mov	$FORM_BZIMAGE, %ebx
	mov	$64, %ebp
	jmp	lm_enter64		/* %rsi = boot_params */

	.section .note.GNU-stack, "", @progbits
