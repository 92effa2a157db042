/* attack_s2: the stage-2 surface (issue #17's hostile-guest suite). With on_crash =
 * restart, run r makes probe r: a read, write or instruction fetch at one guest-physical
 * address outside its RAM: every GiB up to 512 GiB, just past its RAM, the local APIC's and
 * I/O APIC's pages, the HPET, the q35's ECAM window, the top of the 4 GiB hole. Mica must
 * stop the partition at each, naming the address and the kind of access (the e2e scenario
 * checks every line); the run after the last says PASS. The guest maps what its boot map
 * lacks (above 4 GiB) with 2 MiB pages of its own. */
#include "lib/guest.h"

enum kind { READ, WRITE, FETCH };

struct probe {
	uint64_t gpa;
	enum kind kind;
};

#define GIB (1ULL << 30)
#define NGIB 512
#define NSPECIAL 8

static struct probe probe_for(unsigned r, uint64_t mem)
{
	static const struct probe special[NSPECIAL] = {
		{ 0, WRITE },			/* just past RAM: filled in below */
		{ 0xfee00000, READ },		/* the local APIC's xAPIC page */
		{ 0xfec00000, WRITE },		/* the I/O APIC */
		{ 0xfed00000, READ },		/* the HPET */
		{ 0xb0000000, READ },		/* the q35's ECAM window */
		{ 0xfffff000, READ },		/* the top of the 4 GiB hole (the reset vector's page) */
		{ 0x80000000, FETCH },		/* an instruction fetch at 2 GiB */
		{ 0, READ },			/* the top of the physical address space */
	};
	if (r < NSPECIAL) {
		struct probe p = special[r];
		if (r == 0)
			p.gpa = mem;
		if (r == NSPECIAL - 1) { /* CPUID 0x80000008 EAX[7:0]: MAXPHYADDR */
			uint32_t c[4];
			cpuid(0x80000008, 0, c);
			p.gpa = (1ULL << (c[0] & 0xff)) - 0x1000;
		}
		return p;
	}
	r -= NSPECIAL; /* then every GiB from 1 to 511, reads and writes in turn */
	return (struct probe){ (uint64_t)(r + 1) * GIB + (r % 3) * 0x1000, r & 1 ? WRITE : READ };
}

#define NPROBES (NSPECIAL + NGIB - 1)

static uint64_t pd[512] __attribute__((aligned(4096)));

/* Makes gpa reachable at the same linear address: the boot map covers 4 GiB; above, the
 * PDPT entry of its GiB gets a page directory of 2 MiB pages (a 48-bit address gets a
 * PML4 entry to the same PDPT: the probes above 512 GiB need nothing else from it). */
static void map(uint64_t gpa)
{
	if (gpa < 4 * GIB)
		return;
	uint64_t cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	uint64_t *pml4 = (uint64_t *)(cr3 & ~0xfffULL);
	unsigned l4 = (gpa >> 39) & 511, l3 = (gpa >> 30) & 511;
	uint64_t *pdpt = (uint64_t *)(pml4[0] & ~0xfffULL);
	if (l4)
		pml4[l4] = pml4[0];
	for (unsigned i = 0; i < 512; i++)
		pd[i] = ((gpa & ~(GIB - 1)) + ((uint64_t)i << 21)) | 0x83; /* P, W, PS */
	pdpt[l3] = (uint64_t)pd | 3;
	__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
}

int main(unsigned vcpu)
{
	struct mica_self_info info;
	self_info(&info);
	if (info.restarts >= NPROBES) {
		printf("PASS: attack_s2: Mica stopped all %u probes\n", NPROBES);
		return 0;
	}
	struct probe p = probe_for(info.restarts, info.mem_bytes);
	static const char *const what[] = { "read", "write", "fetch" };
	printf("attack_s2: probe %u: %s at guest-physical 0x%lx\n", info.restarts,
	       what[p.kind], (unsigned long)p.gpa);
	map(p.gpa);
	if (p.kind == READ)
		(void)*(volatile uint32_t *)(uintptr_t)p.gpa;
	else if (p.kind == WRITE)
		*(volatile uint32_t *)(uintptr_t)p.gpa = 0xdeadbeef;
	else
		((void (*)(void))(uintptr_t)p.gpa)();
	printf("FAIL: attack_s2: the %s at 0x%lx was not stopped\n", what[p.kind],
	       (unsigned long)p.gpa);
	return 1;
}
