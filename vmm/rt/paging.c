/* Page tables for the windows Mica maps into the service (MICA_HC_SVC_MAP): another
 * partition's RAM, a disk. Mica's boot map covers [0, 4 GiB) through PML4[0] and a PDPT;
 * the windows lie between 4 GiB and 512 GiB, in the same PDPT, so each GiB of window needs
 * one page directory of 2 MiB pages. Those come from a fixed pool. */
#include <stdint.h>

#include "vmm/rt/cpu.h"
#include "vmm/rt/rt.h"

#define PTE_P    0x001ull
#define PTE_W    0x002ull
#define PTE_PS   0x080ull
#define PTE_ADDR 0x000FFFFFFFFFF000ull

#define MIB2     (1ull << 21)
#define GIB      (1ull << 30)
#define OWN_END  (4 * GIB)   /* Mica's identity map of our own RAM */
#define PML4_END (512 * GIB) /* what PML4[0] covers */

#define PD_POOL 64u          /* 64 GiB of windows in all */

typedef unsigned long long ull;

static uint64_t pd_pool[PD_POOL][512] __attribute__((aligned(4096)));
static unsigned pd_used;

/* The PDPT under PML4[0], found from CR3 rather than assumed at 0x2000. */
static uint64_t *pdpt_table(void)
{
	const uint64_t *pml4 = (const uint64_t *)(uintptr_t)(read_cr3() & PTE_ADDR);
	uint64_t e = pml4[0];

	if ((e & PTE_P) == 0 || (e & PTE_PS))
		return 0;
	return (uint64_t *)(uintptr_t)(e & PTE_ADDR);
}

int rt_map_window(uint64_t gpa, uint64_t bytes)
{
	uint64_t *pdpt = pdpt_table();

	if (!pdpt) {
		say("page tables: PML4[0] holds no page directory pointer table");
		return -1;
	}
	if (bytes == 0 || gpa % MIB2 || gpa < OWN_END || gpa >= PML4_END ||
	    bytes > PML4_END - gpa) {
		say("window [0x%llx, +0x%llx) is not 2 MiB aligned between 4 GiB and 512 GiB",
		    (ull)gpa, (ull)bytes);
		return -1;
	}
	uint64_t end = gpa + ((bytes + MIB2 - 1) & ~(MIB2 - 1));

	/* Count the directories needed first: a window is mapped whole or not at all. */
	unsigned need = 0;
	for (uint64_t g = gpa / GIB; g <= (end - 1) / GIB; g++) {
		if ((pdpt[g] & PTE_P) == 0)
			need++;
		else if (pdpt[g] & PTE_PS) {
			say("window [0x%llx, +0x%llx): GiB %llu is already a 1 GiB page",
			    (ull)gpa, (ull)bytes, (ull)g);
			return -1;
		}
	}
	if (need > PD_POOL - pd_used) {
		say("window [0x%llx, +0x%llx) needs %u more page directories; %u of %u are left",
		    (ull)gpa, (ull)bytes, need, PD_POOL - pd_used, PD_POOL);
		return -1;
	}

	for (uint64_t va = gpa; va < end; va += MIB2) {
		uint64_t *e = &pdpt[va / GIB];
		if ((*e & PTE_P) == 0)
			*e = (uint64_t)(uintptr_t)pd_pool[pd_used++] | PTE_P | PTE_W;
		uint64_t *pd = (uint64_t *)(uintptr_t)(*e & PTE_ADDR);
		pd[(va / MIB2) % 512] = va | PTE_P | PTE_W | PTE_PS;
	}
	write_cr3(read_cr3());
	return 0;
}
