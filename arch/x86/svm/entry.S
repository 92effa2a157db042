/* The SVM world switch, as a loop: load guest registers, VMLOAD/VMRUN/VMSAVE, save guest
 * registers, restore the host's hidden state with VMLOAD, STGI, then call
 * svm_handle_exit(vcpu), which returns with GIF = 0 and the VMCB ready, and go round
 * again; svm_before_entry(vcpu) prepares the first entry the same way. It never returns,
 * so the host's callee-saved registers need no saving. RAX and RSP of the guest live in
 * the VMCB. The loop keeps what it needs on its stack: the vcpu (GPRs at the offsets of
 * kernel/vcpu_layout.h), the VMCB's and the host save area's physical addresses. */
#include "kernel/vcpu_layout.h"
#define GPR(n)     VCPU_OFF_GPR(n)

	.text
	.code64
	.global svm_loop
svm_loop:					/* rdi = vcpu, rsi = VMCB, rdx = host save area */
	push	%rdx				/* [rsp + 16] = host save area */
	push	%rsi				/* [rsp + 8] = VMCB */
	push	%rdi				/* [rsp] = vcpu; the stack is now aligned for calls */
	call	svm_before_entry
	mov	(%rsp), %rdi
1:	mov	8(%rsp), %rax
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
	mov	GPR(7)(%rdi), %rdi
	vmload	%rax
	vmrun	%rax
	.global svm_vmrun_return
svm_vmrun_return:				/* the host's RIP after every #VMEXIT */
	vmsave	%rax
	push	%rdi				/* the guest's RDI; the vcpu is at [rsp + 8] now */
	mov	8(%rsp), %rdi
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
	mov	16(%rsp), %rax
	vmload	%rax
	stgi
	call	svm_handle_exit
	mov	(%rsp), %rdi
	jmp	1b
