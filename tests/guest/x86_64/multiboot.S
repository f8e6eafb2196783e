/*
 * Multiboot 1 entry (Multiboot Specification 0.6.96).  Used for both
 * mb.bin (flat binary, header at offset 0) and mb.elf (ELF64; QEMU, like
 * GRUB, loads an ELF64 Multiboot image only through the a.out kludge).
 */
#include "guest.h"

/* §3.1.2 flags: bit 1 = we want mem_* (and the mmap) fields,
 * bit 16 = header_addr..entry_addr below are valid ("a.out kludge"). */
#define MB_HEADER_MAGIC 0x1BADB002
#define MB_FLAGS        ((1 << 1) | (1 << 16))

	.section .head, "ax"
	.balign	4
mb_header:				/* §3.1.1: 32-bit aligned, first 8 KiB */
	.long	MB_HEADER_MAGIC
	.long	MB_FLAGS
	.long	-(MB_HEADER_MAGIC + MB_FLAGS)
	.long	mb_header		/* header_addr */
	.long	__image_start		/* load_addr: start of text */
	.long	__load_end		/* load_end_addr: end of data */
	.long	__bss_end		/* bss_end_addr */
	.long	mb_entry		/* entry_addr */

/*
 * §3.2 machine state: 32-bit protected mode, paging off, flat CS/DS/ES/SS,
 * EAX = 0x2BADB002, EBX = physical address of the Multiboot information,
 * ESP and GDTR undefined.
 */
	.code32
	.globl	mb_entry
mb_entry:
	cli
	mov	%eax, %ebp		/* magic */
	mov	%ebx, %esi		/* struct multiboot_info * */
	mov	$FORM_MULTIBOOT, %ebx
	jmp	lm_enter32

	.section .note.GNU-stack, "", @progbits
