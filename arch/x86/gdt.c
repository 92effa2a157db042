/* Per-CPU GDT and TSS. The core runs in ring 0 only: the TSS is there for the IST stacks that
 * keep a crash report possible even when the hypervisor's own stack is gone. */
#include <stdint.h>
#include <string.h>
#include "arch/x86/trap.h"
#include "kernel/percpu.h"

#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS  0x18
#define IST_STACK 4096

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

struct cpu_desc {
	uint64_t gdt[5];
	struct tss tss;
	uint8_t ist[3][IST_STACK] __attribute__((aligned(16)));
};

/* Each CPU builds and touches only its own entry. */
static struct cpu_desc desc[MAX_CPUS] __attribute__((aligned(64)));

void gdt_load(unsigned cpu)
{
	struct cpu_desc *d = &desc[cpu];
	uint64_t base = (uint64_t)&d->tss;
	uint64_t limit = sizeof(d->tss) - 1;

	memset(&d->tss, 0, sizeof(d->tss));
	for (int i = 0; i < 3; i++)
		d->tss.ist[i] = (uint64_t)&d->ist[i][IST_STACK];
	d->tss.iomap_base = sizeof(d->tss);

	d->gdt[0] = 0;
	d->gdt[1] = 0x00af9a000000ffffULL; /* 64-bit code, ring 0 */
	d->gdt[2] = 0x00cf92000000ffffULL; /* data */
	d->gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
		    (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	d->gdt[4] = base >> 32;

	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdtr = { sizeof(d->gdt) - 1, (uint64_t)d->gdt };

	__asm__ volatile(
		"lgdt %0\n\t"
		"pushq %1\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"mov %2, %%eax\n\t"
		"mov %%eax, %%ds\n\t"
		"mov %%eax, %%es\n\t"
		"mov %%eax, %%ss\n\t"
		"xor %%eax, %%eax\n\t"
		"mov %%eax, %%fs\n\t"
		"mov %%eax, %%gs\n\t"
		"ltr %w3\n\t"
		:
		: "m"(gdtr), "i"(SEL_CODE), "i"(SEL_DATA), "r"(SEL_TSS)
		: "rax", "memory");
}
