/* Entry of the service partition (Mica's ELF boot protocol, docs/guests.md): long mode,
 * identity map of [0, 4 GiB), RDI = vCPU number, RSP = that vCPU's stack top, interrupts
 * off. vCPU 0 clears .bss and runs main(); any other vCPU halts for good. */
	.section .text.start, "ax"
	.globl _start
_start:
	cli
	cld
	test	%rdi, %rdi
	jnz	park
	xor	%ebp, %ebp
	and	$-16, %rsp
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	xor	%eax, %eax
	rep stosb
	call	main
	mov	%eax, %edi
	call	rt_exit
park:
	cli
	hlt
	jmp	park

	.section .note.GNU-stack, "", @progbits
