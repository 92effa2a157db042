/* Interrupt and exception entry: one small stub per vector pushes the vector (and a zero
 * where the CPU pushes no error code), then trap_entry saves the registers as a
 * struct trap_frame (arch/x86/trap.h) and calls trap_handler. */
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
	jmp	trap_entry
.endm

	.balign 16
	.global isr_stubs
isr_stubs:
	.set vec, 0
	.rept 256
	STUB %vec
	.set vec, vec + 1
	.endr

trap_entry:
	push	%rax
	push	%rcx
	push	%rdx
	push	%rbx
	push	%rbp
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, %rdi
	cld
	call	trap_handler
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rbp
	pop	%rbx
	pop	%rdx
	pop	%rcx
	pop	%rax
	add	$16, %rsp
	iretq
