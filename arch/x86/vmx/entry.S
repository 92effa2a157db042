/* The VT-x world switch, as a loop like svm/entry.S: load guest registers, VMLAUNCH or
 * VMRESUME, and on each exit (HOST_RIP = vmx_exit below, HOST_RSP = our stack) store them,
 * call vmx_handle_exit(vcpu) and go round. The guest's RSP and RIP live in the VMCS.
 * The loop keeps on its stack the vcpu (GPRs at the offsets of kernel/vcpu_layout.h) and
 * whether the VMCS was launched: 0 until the first exit (vmx_vcpu_run starts a new loop
 * after its VMCLEAR), then VMRESUME. */
#include "kernel/vcpu_layout.h"
#define GPR(n)     VCPU_OFF_GPR(n)
#define HOST_RSP   0x6c14
#define HOST_RIP   0x6c16

	.text
	.code64
	.global vmx_loop
vmx_loop:
	push	$0				/* padding: keeps the stack aligned for calls */
	push	$0				/* [rsp + 8] = launched */
	push	%rdi				/* [rsp] = vcpu */
	mov	$HOST_RSP, %edx
	vmwrite	%rsp, %rdx
	lea	vmx_exit(%rip), %rax
	mov	$HOST_RIP, %edx
	vmwrite	%rax, %rdx
	call	vmx_before_entry		/* returns with IF = 0, nothing pending */
	mov	(%rsp), %rdi
.Lenter:
	cmpq	$0, 8(%rsp)
	mov	GPR(0)(%rdi), %rax
	mov	GPR(1)(%rdi), %rcx
	mov	GPR(2)(%rdi), %rdx
	mov	GPR(3)(%rdi), %rbx
	mov	GPR(5)(%rdi), %rbp
	mov	GPR(6)(%rdi), %rsi
	mov	GPR(8)(%rdi), %r8
	mov	GPR(9)(%rdi), %r9
	mov	GPR(10)(%rdi), %r10
	mov	GPR(11)(%rdi), %r11
	mov	GPR(12)(%rdi), %r12
	mov	GPR(13)(%rdi), %r13
	mov	GPR(14)(%rdi), %r14
	mov	GPR(15)(%rdi), %r15
	mov	GPR(7)(%rdi), %rdi		/* mov leaves the flags of the cmp alone */
	jne	1f
	vmlaunch
	jmp	.Lfailed
1:	vmresume
.Lfailed:
	pushfq
	pop	%rsi
	mov	(%rsp), %rdi
	call	vmx_entry_failed
	mov	(%rsp), %rdi
	call	vmx_before_entry
	mov	(%rsp), %rdi
	jmp	.Lenter

vmx_exit:
	push	%rdi
	mov	8(%rsp), %rdi
	mov	%rax, GPR(0)(%rdi)
	mov	%rcx, GPR(1)(%rdi)
	mov	%rdx, GPR(2)(%rdi)
	mov	%rbx, GPR(3)(%rdi)
	mov	%rbp, GPR(5)(%rdi)
	mov	%rsi, GPR(6)(%rdi)
	mov	%r8, GPR(8)(%rdi)
	mov	%r9, GPR(9)(%rdi)
	mov	%r10, GPR(10)(%rdi)
	mov	%r11, GPR(11)(%rdi)
	mov	%r12, GPR(12)(%rdi)
	mov	%r13, GPR(13)(%rdi)
	mov	%r14, GPR(14)(%rdi)
	mov	%r15, GPR(15)(%rdi)
	pop	GPR(7)(%rdi)
	movq	$1, 8(%rsp)
	call	vmx_handle_exit			/* ends as vmx_before_entry does */
	mov	(%rsp), %rdi
	jmp	.Lenter
