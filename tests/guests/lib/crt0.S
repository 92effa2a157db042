/* Entry of every test guest (docs/guests.md): long mode, identity map, RDI = vCPU number,
 * RSP = this vCPU's stack top. vCPU 0 clears .bss (in case the loader did not), the others
 * wait for it; then main(vcpu) runs and its return value is the power-off code. */
	.section .text.start, "ax"
	.globl _start
_start:
	cld
	xor	%ebp, %ebp
	mov	%rdi, %rbx		/* keep the vCPU number across the clear */
	test	%rdi, %rdi
	jnz	2f
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	xor	%eax, %eax
	rep stosb
	movl	$1, bss_ready(%rip)
	jmp	3f
2:	pause
	cmpl	$0, bss_ready(%rip)
	je	2b
3:	mov	%rbx, %rdi
	call	guest_start
	mov	%eax, %edi
	call	guest_exit
4:	hlt
	jmp	4b

	.data
	.balign 4
bss_ready:
	.long 0

	.section .note.GNU-stack, "", @progbits
