/* Multiboot2 and Multiboot (v1) headers and the entry. GRUB enters _start in 32-bit
 * protected mode, paging off, EAX = 0x36d76289, EBX = the boot information (Multiboot2 spec
 * 3.2); a v1 loader the same way with EAX = 0x2badb002. We build page tables
 * identity-mapping [0, 4 GiB) with 2 MiB pages, switch to long mode (Intel SDM vol. 3
 * 10.8.5) and call mb2_main(magic, mbi) in C. */

#define MB2_HEADER_MAGIC 0xe85250d6
#define MB2_ARCH_I386    0
#define MB2_HTAG_END     0
#define MB2_HTAG_MODALIGN 6 /* modules page-aligned */

#define CR0_PE   (1 << 0)
#define CR0_PG   (1 << 31)
#define CR4_PAE  (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define PTE_P    (1 << 0)
#define PTE_W    (1 << 1)
#define PTE_PS   (1 << 7)
#define COM1     0x3f8

	.section .mb2_header, "a"
	.balign 8
mb2_header:
	.long	MB2_HEADER_MAGIC
	.long	MB2_ARCH_I386
	.long	mb2_header_end - mb2_header
	.long	-(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
	.balign 8
	.short	MB2_HTAG_MODALIGN, 0
	.long	8
	.short	MB2_HTAG_END, 0
	.long	8
mb2_header_end:

/* Multiboot (v1) header (spec 0.6.96 3.1), for QEMU's -kernel, iPXE and syslinux: modules
 * page-aligned (bit 0), memory information (bit 1), and the load addresses given here (bit
 * 16), since v1 loaders take only 32-bit ELF files. The loader copies the file from this
 * header's offset back to __mb2_start, zeroes up to __mb2_end and enters _start with EAX =
 * 0x2badb002; mb2_main tells the two apart by the magic. */
#define MB1_HEADER_MAGIC 0x1badb002
#define MB1_FLAGS        0x00010003
	.balign 4
mb1_header:
	.long	MB1_HEADER_MAGIC
	.long	MB1_FLAGS
	.long	-(MB1_HEADER_MAGIC + MB1_FLAGS)
	.long	mb1_header			/* header_addr */
	.long	__mb2_start			/* load_addr */
	.long	__data_end			/* load_end_addr */
	.long	__mb2_end			/* bss_end_addr */
	.long	_start				/* entry_addr */

	.section .text.entry, "ax"
	.code32
	.global _start
_start:
	cli
	cld
	mov	%eax, %ebp			/* the magic survives in ebp */
	mov	%ebx, saved_mbi			/* cpuid below clobbers ebx */
	mov	$__bss_start, %edi		/* .bss holds the page tables and the stack */
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	xor	%eax, %eax
	rep stosb
	mov	$stack_top, %esp

	/* Long mode needs CPUID leaf 0x80000001 EDX bit 29. */
	mov	$0x80000000, %eax
	cpuid
	cmp	$0x80000001, %eax
	jb	no_long_mode
	mov	$0x80000001, %eax
	cpuid
	bt	$29, %edx
	jnc	no_long_mode

	/* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 512 2-MiB pages each. */
	mov	$pdpt + PTE_P + PTE_W, %eax
	mov	%eax, pml4
	mov	$pd, %edi
	mov	$pdpt, %esi
	xor	%ecx, %ecx
1:	lea	PTE_P + PTE_W(%edi), %eax
	mov	%eax, (%esi, %ecx, 8)
	add	$4096, %edi
	inc	%ecx
	cmp	$4, %ecx
	jne	1b
	mov	$pd, %edi
	xor	%ecx, %ecx			/* 2048 entries: ecx = index, address = ecx << 21 */
2:	mov	%ecx, %eax
	shl	$21, %eax
	or	$PTE_P + PTE_W + PTE_PS, %eax
	mov	%eax, (%edi, %ecx, 8)
	mov	%ecx, %eax
	shr	$11, %eax			/* bits 32+ of the address: ecx >> 11 */
	mov	%eax, 4(%edi, %ecx, 8)
	inc	%ecx
	cmp	$2048, %ecx
	jne	2b

	lgdt	gdt_ptr
	mov	%cr4, %eax
	or	$CR4_PAE, %eax
	mov	%eax, %cr4
	mov	$pml4, %eax
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME, %eax
	wrmsr
	mov	%cr0, %eax
	or	$CR0_PG + CR0_PE, %eax
	mov	%eax, %cr0
	ljmp	$0x08, $long_mode

/* No 64-bit mode: say so on COM1 (the UART as the BIOS left it) and stop. */
no_long_mode:
	mov	$no_lm_msg, %esi
3:	lodsb
	test	%al, %al
	jz	5f
	mov	%al, %bl
	mov	$COM1 + 5, %dx
4:	inb	%dx, %al
	test	$0x20, %al
	jz	4b
	mov	$COM1, %dx
	mov	%bl, %al
	outb	%al, %dx
	jmp	3b
5:	cli
	hlt
	jmp	5b

	.code64
long_mode:
	mov	$0x10, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	xor	%eax, %eax
	mov	%eax, %fs
	mov	%eax, %gs
	mov	$stack_top, %esp
	mov	%ebp, %edi			/* magic (zero-extended) */
	mov	saved_mbi, %esi			/* MBI address (zero-extended) */
	call	mb2_main
6:	cli
	hlt
	jmp	6b

	.section .rodata
no_lm_msg:
	.ascii	"mica-mb2: this CPU has no 64-bit long mode (CPUID 80000001h EDX bit 29); "
	.asciz	"Mica needs an x86-64 CPU. Stopped.\r\n"

	.balign 8
gdt:
	.quad	0
	.quad	0x00af9a000000ffff		/* 0x08: 64-bit code, DPL 0 */
	.quad	0x00cf92000000ffff		/* 0x10: data */
gdt_end:
gdt_ptr:
	.short	gdt_end - gdt - 1
	.long	gdt

	.section .data
	.balign 4
saved_mbi:
	.long	0

	.section .bss
	.balign 4096
pml4:	.skip	4096
pdpt:	.skip	4096
pd:	.skip	4 * 4096
	.balign 16
	.skip	32768
stack_top:
