/* realmode_gp_probe(): from 64-bit long mode down to real mode and back, to see how an
 * exception that has an error code in protected mode is delivered in real mode (issue #20,
 * item 4): there, none is pushed. In real mode it runs RDMSR of an MSR nobody has; Mica
 * answers #GP, the handler counts it and IRETs past the RDMSR (an error code pushed by
 * mistake would be taken as the return IP). Returns how many #GPs the handler saw (1).
 * The real-mode part runs from a copy at BLOB (below 1 MiB: guest-physical 0x90000, above
 * what Mica builds for the guest, docs/guests.md); its IVT is at IVT, its stack below
 * 0x9f000. Interrupts stay off; the long-mode GDT, IDT, CR3 and stack are restored. */
#define BLOB 0x90000
#define IVT  0x9e000
#define OFF(x) ((x) - blob_start)

	.text
	.code64
	.globl realmode_gp_probe
realmode_gp_probe:
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, saved_rsp(%rip)
	sgdt	saved_gdt(%rip)
	sidt	saved_idt(%rip)
	lea	blob_start(%rip), %rsi
	mov	$BLOB, %edi
	mov	$(blob_end - blob_start), %ecx
	cld
	rep movsb
	lgdt	gdtr(%rip)
	pushq	$0x18			/* 32-bit code, flat */
	lea	pm32(%rip), %rax
	push	%rax
	lretq

	.code32
pm32:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%cr0, %eax
	and	$0x7fffffff, %eax	/* paging off: long mode ends */
	mov	%eax, %cr0
	mov	$0xc0000080, %ecx
	rdmsr
	and	$~0x100, %eax		/* EFER.LME off */
	wrmsr
	ljmp	$0x20, $OFF(pm16)	/* 16-bit code, base BLOB */

pm32_back:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0xc0000080, %ecx
	rdmsr
	or	$0x100, %eax		/* EFER.LME on */
	wrmsr
	mov	%cr0, %eax
	or	$0x80000000, %eax	/* paging on: long mode again (CR3, CR4.PAE kept) */
	mov	%eax, %cr0
	ljmp	$0x08, $lm64

	.code64
lm64:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	lgdt	saved_gdt(%rip)
	lidt	saved_idt(%rip)
	mov	saved_rsp(%rip), %rsp
	movzwl	BLOB + OFF(gp_count), %eax
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	pop	%rbx
	ret

/* Copied to BLOB; runs with CS base BLOB (16-bit protected mode, then real mode). */
	.code16
blob_start:
pm16:
	mov	$0x28, %ax		/* 16-bit data, base 0, limit 64 KiB */
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%cr0, %eax
	and	$~1, %eax		/* PE off: real mode */
	mov	%eax, %cr0
	ljmp	$(BLOB >> 4), $OFF(real)
real:
	mov	$(BLOB >> 4), %ax
	mov	%ax, %ds
	mov	%ax, %ss
	mov	$0xf000, %sp		/* stack below BLOB + 0xf000 */
	lidt	%ds:OFF(ivt_ptr)
	movw	$0, %ds:OFF(gp_count)
	mov	$(IVT >> 4), %ax
	mov	%ax, %es
	movw	$OFF(gp_handler), %es:13 * 4
	movw	$(BLOB >> 4), %es:13 * 4 + 2
	movl	$0x4d494341, %ecx	/* no such MSR: #GP */
	rdmsr
	/* back: protected mode, then the 32-bit code in place */
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	$0x18, $pm32_back

gp_handler:
	incw	%ds:OFF(gp_count)
	push	%bp
	mov	%sp, %bp
	addw	$2, 2(%bp)		/* return past the 2-byte RDMSR */
	pop	%bp
	iret

	.balign 4
ivt_ptr:
	.word	0x3ff
	.long	IVT
gp_count:
	.word	0
blob_end:

	.data
	.balign 16
gdt:
	.quad	0
	.quad	0x00af9b000000ffff	/* 0x08: 64-bit code */
	.quad	0x00cf93000000ffff	/* 0x10: flat data */
	.quad	0x00cf9b000000ffff	/* 0x18: 32-bit code, flat */
	.quad	0x00009b090000ffff	/* 0x20: 16-bit code, base BLOB (0x90000), 64 KiB */
	.quad	0x000093000000ffff	/* 0x28: 16-bit data, base 0, 64 KiB */
gdt_end:
gdtr:
	.word	gdt_end - gdt - 1
	.quad	gdt
saved_gdt:
	.word	0
	.quad	0
saved_idt:
	.word	0
	.quad	0
saved_rsp:
	.quad	0

	.section .note.GNU-stack, "", @progbits
