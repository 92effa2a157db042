/* Core entry from any boot path: RDI = struct boot_info *, 64-bit mode, identity paging,
 * interrupts off, the boot path's stack. We clear .bss, take our own stack, apply our own
 * relocations, then enter C. Nothing here may use an absolute address before relocation. */
	.section .text.entry, "ax"
	.global _start
	.code64
_start:
	cli
	cld
	mov	%rdi, %r12			/* boot_info survives in a callee-saved register */
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	xor	%eax, %eax
	rep stosb
	lea	boot_stack_top(%rip), %rsp
	xor	%ebp, %ebp
	lea	__image_start(%rip), %rdi
	call	core_relocate
	mov	%r12, %rdi
	call	kernel_main
1:	cli
	hlt
	jmp	1b

	.section .bss
	.balign 16
boot_stack:
	.skip	16384
	.globl	boot_stack_top
boot_stack_top:
