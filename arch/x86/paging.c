/* The core's own page tables: an identity map of physical memory, built before the frame
 * allocator runs (the firmware's tables may lie in memory we are about to hand out), so the
 * tables come from a pool inside the core image. */
#include <stdint.h>
#include <string.h>
#include "arch/x86/cpu.h"
#include "arch/x86/paging.h"
#include "arch/x86/pt.h"
#include "kernel/arch.h"
#include "kernel/log.h"
#include "kernel/spinlock.h"

#define POOL_PAGES 96 /* PML4 + PDPT + 64 PDs: 64 GiB in 2 MiB pages, or 512 GiB in 1 GiB
			* pages; the rest for device memory above that (arch_map_mmio) */

/* Boot CPU only, before the APs start; then read-only. */
static uint8_t pool[POOL_PAGES][4096] __attribute__((aligned(4096)));
static unsigned pool_used;
static struct pt host_pt;
static uint64_t mapped_top;       /* the identity map of RAM and the 4 GiB hole ends here */
static struct spinlock mmio_lock; /* later mappings of device memory, by any CPU */

static uint64_t pool_alloc(void *ctx)
{
	if (pool_used == POOL_PAGES)
		return 0;
	memset(pool[pool_used], 0, 4096);
	return (uint64_t)pool[pool_used++];
}

static void *identity(void *ctx, uint64_t pa)
{
	return (void *)pa;
}

static const struct pt_alloc pool_ops = { pool_alloc, identity, NULL };

int cpu_has_1g_pages(void)
{
	uint32_t r[4];
	cpuid_count(0x80000000, 0, r);
	if (r[0] < 0x80000001)
		return 0;
	cpuid_count(0x80000001, 0, r);
	return (r[3] >> 26) & 1;
}

uint64_t paging_init(uint64_t top)
{
	int big = cpu_has_1g_pages();
	uint64_t limit = big ? (512ULL << 30) : (64ULL << 30);

	if (top < (4ULL << 30))
		top = 4ULL << 30; /* the MMIO hole below 4 GiB: APIC, IOAPIC, PCI */
	top = (top + PT_SIZE_1G - 1) & ~(PT_SIZE_1G - 1);
	if (top > limit) {
		log_info("memory above %lu GiB is not mapped (this build maps up to %lu GiB)",
			 limit >> 30, limit >> 30);
		top = limit;
	}
	if (pt_init(&host_pt, &pool_ops, PT_BIG_2M | (big ? PT_BIG_1G : 0)) || pt_map(&host_pt, 0, 0, top, PT_W | PT_G))
		panic("cannot build the core's page tables for %lu GiB", top >> 30);
	paging_load();
	mapped_top = top;
	return top;
}

void *arch_map_mmio(uint64_t pa, uint64_t size)
{
	uint64_t base = pa & ~(PT_SIZE_4K - 1);
	uint64_t end = (pa + size + PT_SIZE_4K - 1) & ~(PT_SIZE_4K - 1);

	if (!size || end < base || end > PT_VA_LIMIT)
		return NULL;
	if (end <= mapped_top)
		return (void *)pa; /* inside the identity map (the firmware's MTRRs make it UC) */
	uint64_t f = spin_lock(&mmio_lock);
	if (!pt_map(&host_pt, base, base, end - base, PT_W | PT_PCD | PT_PWT | PT_NX)) {
		spin_unlock(&mmio_lock, f);
		return (void *)pa; /* all of it new: large pages where it is aligned */
	}
	for (uint64_t a = base; a < end; a += PT_SIZE_4K) {
		uint64_t got, flags, ps;
		if (!pt_lookup(&host_pt, a, &got, &flags, &ps))
			continue; /* mapped by an earlier call */
		if (pt_map(&host_pt, a, a, PT_SIZE_4K, PT_W | PT_PCD | PT_PWT | PT_NX)) {
			spin_unlock(&mmio_lock, f);
			return NULL;
		}
	}
	spin_unlock(&mmio_lock, f);
	return (void *)pa;
}

void paging_load(void)
{
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	write_cr4(read_cr4() | CR4_PGE | CR4_PAE);
	write_cr3(host_pt.root);
}

uint64_t paging_root(void)
{
	return host_pt.root;
}
