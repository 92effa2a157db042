/* The Multiboot test kernel's entry (tests/guests/mboot/mboot.c): a Multiboot header asking
 * for the memory map, then, in the 32-bit protected mode a Multiboot loader leaves, a
 * stack and a call to kmain(magic, info). */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* modules page aligned, memory information */

	.section .multiboot, "a"
	.align	4
	.long	MB_MAGIC
	.long	MB_FLAGS
	.long	-(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.global	_start
_start:
	mov	$stack_top, %esp
	push	%ebx
	push	%eax
	call	kmain
1:	cli
	hlt
	jmp	1b

	.bss
	.align	16
	.space	16384
stack_top:
