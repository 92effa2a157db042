#include <stddef.h>
#include "arch/x86/iommu/tables.h"
#include "kernel/mem.h"

static uint64_t table_alloc(void *ctx)
{
	(void)ctx;
	return mem_alloc(4096, 4096);
}

static void *to_virt(void *ctx, uint64_t pa)
{
	(void)ctx;
	return phys_to_virt(pa);
}

const struct pt_alloc iommu_table_alloc = { table_alloc, to_virt, NULL };
