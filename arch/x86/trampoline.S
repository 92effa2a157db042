/* AP start-up code. Copied at run time to the page below 1 MiB that the boot path reserved;
 * an AP starts here in real mode after INIT-SIPI-SIPI, goes through protected mode into long
 * mode with the core's page tables, and jumps to ap_start(). The fields at the end are filled
 * in by smp.c for each AP. Everything is addressed relative to the page (base in EBX). */
	.section .rodata.trampoline, "a"
	.global tramp_start, tramp_end, tramp_gdt_ptr, tramp_far32, tramp_far64
	.global tramp_pm32, tramp_lm64, tramp_gdt, tramp_cr3, tramp_stack, tramp_arg, tramp_entry

	.code16
tramp_start:
	cli
	cld
	mov	%cs, %ax
	mov	%ax, %ds
	xor	%ebx, %ebx
	mov	%cs, %bx
	shl	$4, %ebx
	lgdtl	(tramp_gdt_ptr - tramp_start)
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	*(tramp_far32 - tramp_start)

	.code32
tramp_pm32:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%cr4, %eax
	or	$0x20, %eax			/* PAE */
	mov	%eax, %cr4
	mov	(tramp_cr3 - tramp_start)(%ebx), %eax
	mov	%eax, %cr3
	mov	$0xc0000080, %ecx		/* EFER */
	rdmsr
	or	$0x900, %eax			/* LME | NXE */
	wrmsr
	mov	%cr0, %eax
	or	$0x80010001, %eax		/* PG | WP | PE */
	mov	%eax, %cr0
	ljmpl	*(tramp_far64 - tramp_start)(%ebx)

	.code64
tramp_lm64:
	mov	%ebx, %ebx			/* zero the upper half */
	mov	(tramp_stack - tramp_start)(%rbx), %rsp
	mov	(tramp_arg - tramp_start)(%rbx), %rdi
	xor	%ebp, %ebp
	jmp	*(tramp_entry - tramp_start)(%rbx)

	.balign 8
tramp_gdt:
	.quad	0
	.quad	0x00cf9a000000ffff		/* 0x08: 32-bit code */
	.quad	0x00cf92000000ffff		/* 0x10: data */
	.quad	0x00af9a000000ffff		/* 0x18: 64-bit code */
tramp_gdt_ptr:
	.word	31
	.long	0				/* base + tramp_gdt */
tramp_far32:
	.long	0				/* base + tramp_pm32 */
	.word	0x08
tramp_far64:
	.long	0				/* base + tramp_lm64 */
	.word	0x18
	.balign 8
tramp_cr3:
	.quad	0
tramp_stack:
	.quad	0
tramp_arg:
	.quad	0
tramp_entry:
	.quad	0
tramp_end:
