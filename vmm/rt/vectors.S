/* One entry stub per IDT vector. Each pushes a zero where the CPU pushes no error code,
 * then its vector, saves the registers a C function may change, and calls
 * rt_interrupt(struct rt_frame *) (idt.c). The C code uses no SSE/x87 registers
 * (-mgeneral-regs-only), so nothing else needs saving. */
	.altmacro

/* The CPU pushes an error code for vectors 8, 10..14, 17, 21, 29 and 30. */
	.macro stub n
	.balign 16
vector_\n:
	.if (\n == 8) || ((\n >= 10) && (\n <= 14)) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
	.else
	pushq	$0
	.endif
	pushq	$\n
	jmp	common
	.endm

	.macro stub_address n
	.quad	vector_\n
	.endm

	.text
common:
	/* RSP was 16-byte aligned before the CPU's 5-word frame and the error code; with
	 * the vector and these nine registers it is again, as the call needs. */
	push	%rax
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	cld
	mov	%rsp, %rdi
	call	rt_interrupt
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rax
	add	$16, %rsp		/* vector, error code */
	iretq

	.set	i, 0
	.rept	256
	stub	%i
	.set	i, i + 1
	.endr

	.section .rodata
	.balign 8
	.globl	rt_vector_stubs
rt_vector_stubs:
	.set	i, 0
	.rept	256
	stub_address %i
	.set	i, i + 1
	.endr

	.section .note.GNU-stack, "", @progbits
