/* Exception stubs for the guests that provoke exceptions on purpose (lib/trap.c): one per
 * vector 0-31, each pushes a zero where the CPU pushes no error code, then the vector, and
 * calls trap_c(frame) with the caller-saved registers kept. */
	.text
	.code64
	.altmacro

.macro STUB vec
	.balign 16
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$\vec
	jmp	trap_common
.endm

	.balign 16
	.global trap_stubs
trap_stubs:
	.set vec, 0
	.rept 32
	STUB %vec
	.set vec, vec + 1
	.endr

trap_common:
	push	%r11
	push	%r10
	push	%r9
	push	%r8
	push	%rdi
	push	%rsi
	push	%rdx
	push	%rcx
	push	%rax
	mov	%rsp, %rdi
	cld
	call	trap_c
	pop	%rax
	pop	%rcx
	pop	%rdx
	pop	%rsi
	pop	%rdi
	pop	%r8
	pop	%r9
	pop	%r10
	pop	%r11
	add	$16, %rsp
	iretq

	.section .note.GNU-stack, "", @progbits
