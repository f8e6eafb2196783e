/*
 * PVH entry (Xen "x86/HVM direct boot ABI", xen/include/public/elfnote.h
 * and arch-x86/hvm/start_info.h), as used by Linux's vmlinux and by QEMU,
 * Firecracker, cloud-hypervisor and crosvm for ELF kernels.
 */
#include "guest.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/*
 * ELF note: name "Xen", type 18, desc = 32-bit physical entry address.
 * Linux emits the desc as a pointer-sized value (.quad on x86-64); readers
 * that take 4 bytes get the same value (little endian).  4-byte aligned:
 * some loaders (QEMU) align the name with the PT_NOTE p_align.
 */
	.section .note.Xen, "a", @note
	.balign	4
	.long	2f - 1f			/* namesz */
	.long	4f - 3f			/* descsz */
	.long	XEN_ELFNOTE_PHYS32_ENTRY
1:	.asciz	"Xen"
2:	.balign	4
3:	.quad	pvh_entry
4:	.balign	4

/*
 * Machine state (start_info.h): 32-bit protected mode, paging off, flat
 * CS (exec/read) and DS/ES/SS (read/write), EBX = physical address of
 * struct hvm_start_info, GDTR/stack undefined, interrupts off.
 */
	.section .head, "ax"
	.code32
	.globl	pvh_entry
pvh_entry:
	cli
	mov	%ebx, %esi		/* struct hvm_start_info * */
	xor	%ebp, %ebp		/* no magic register in this ABI */
	mov	$FORM_PVH, %ebx
	jmp	lm_enter32

	.section .note.GNU-stack, "", @progbits
