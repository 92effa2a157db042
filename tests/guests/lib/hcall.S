/* Hypercall instruction stubs. The vendor's instruction is chosen once (hcall_init) from
 * CPUID leaf 0x40000001 EBX; hcall_vmmcall says which. */
	.text

/* long hcall6(long nr, long a0, long a1, long a2, long a3, long a4)
 * SysV: nr=rdi a0=rsi a1=rdx a2=rcx a3=r8 a4=r9 -> ABI: rax, rdi, rsi, rdx, r10, r8 */
	.globl hcall6
hcall6:
	mov	%rdi, %rax
	mov	%rsi, %rdi
	mov	%rdx, %rsi
	mov	%rcx, %rdx
	mov	%r8, %r10
	mov	%r9, %r8
	cmpb	$0, hcall_vmmcall(%rip)
	je	1f
	vmmcall
	ret
1:	vmcall
	ret

/* void hcall_regs(struct hc_regs *r): loads every general register but RSP from *r
 * (layout: rax rbx rcx rdx rsi rdi rbp r8..r15), makes the hypercall, and stores every
 * register back into *r, so the caller can see what the hypervisor changed. */
	.globl hcall_regs
hcall_regs:
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	push	%rdi			/* the struct pointer */
	mov	8(%rdi), %rbx
	mov	16(%rdi), %rcx
	mov	24(%rdi), %rdx
	mov	32(%rdi), %rsi
	mov	48(%rdi), %rbp
	mov	56(%rdi), %r8
	mov	64(%rdi), %r9
	mov	72(%rdi), %r10
	mov	80(%rdi), %r11
	mov	88(%rdi), %r12
	mov	96(%rdi), %r13
	mov	104(%rdi), %r14
	mov	112(%rdi), %r15
	mov	0(%rdi), %rax
	mov	40(%rdi), %rdi
	cmpb	$0, hcall_vmmcall(%rip)
	je	1f
	vmmcall
	jmp	2f
1:	vmcall
2:	xchg	%rdi, (%rsp)		/* struct pointer back, guest's RDI saved on the stack */
	mov	%rax, 0(%rdi)
	mov	%rbx, 8(%rdi)
	mov	%rcx, 16(%rdi)
	mov	%rdx, 24(%rdi)
	mov	%rsi, 32(%rdi)
	mov	%rbp, 48(%rdi)
	mov	%r8, 56(%rdi)
	mov	%r9, 64(%rdi)
	mov	%r10, 72(%rdi)
	mov	%r11, 80(%rdi)
	mov	%r12, 88(%rdi)
	mov	%r13, 96(%rdi)
	mov	%r14, 104(%rdi)
	mov	%r15, 112(%rdi)
	pop	%rax
	mov	%rax, 40(%rdi)
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	pop	%rbx
	ret

	.section .note.GNU-stack, "", @progbits
