/* A partition's EPT: built by arch/x86/pt.c with EPT leaf flags (ept.h). */
#include <stddef.h>
#include <mica/hypercall.h>
#include "arch/x86/cpu.h"
#include "arch/x86/vmx/ept.h"
#include "arch/x86/vmx/vmx.h"
#include "kernel/mem.h"

static uint64_t table_alloc(void *ctx)
{
	return mem_alloc(4096, 4096);
}

static void *to_virt(void *ctx, uint64_t pa)
{
	return phys_to_virt(pa);
}

static const struct pt_alloc ept_alloc = { table_alloc, to_virt, NULL };

/* VPIDs are handed out once per partition; the boot CPU creates partitions one at a time. */
static uint32_t next_vpid = 1;

static unsigned ept_big(void)
{
	uint64_t cap = rdmsr(MSR_VMX_EPT_VPID_CAP);
	return ((cap & EPT_CAP_2M) ? PT_BIG_2M : 0) | ((cap & EPT_CAP_1G) ? PT_BIG_1G : 0);
}

int vmx_stage2_init(struct stage2 *s2)
{
	struct pt pt;
	int r = pt_init(&pt, &ept_alloc, ept_big());
	if (r)
		return r;
	s2->root = pt.root;
	s2->tag = next_vpid++;
	return 0;
}

int vmx_stage2_unmap(struct stage2 *s2, uint64_t gpa, uint64_t size)
{
	struct pt pt = { .root = s2->root, .a = &ept_alloc, .big = ept_big() };
	return pt_unmap(&pt, gpa, size);
}

int vmx_stage2_map(struct stage2 *s2, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perm)
{
	struct pt pt = { .root = s2->root, .a = &ept_alloc, .big = ept_big() };

	if (!(perm & S2_READ))
		return MICA_EINVAL; /* write- or execute-only mappings are not needed (and W-only is invalid) */
	/* Device memory is uncached and ignores the guest's PAT (SDM 29.3.7.2: IPAT, bit 6). */
	if (perm & S2_DEVICE)
		return pt_map(&pt, gpa, hpa, size, ept_leaf_flags(perm, EPT_MT_UC) | (1ull << 6));
	return pt_map(&pt, gpa, hpa, size, ept_leaf_flags(perm, EPT_MT_WB));
}

uint64_t vmx_eptp(const struct stage2 *s2)
{
	return ept_pointer(s2->root);
}

static void table_free(void *ctx, uint64_t pa)
{
	mem_free(pa, 4096);
}

void vmx_stage2_free(struct stage2 *s2)
{
	struct pt pt = { .root = s2->root, .a = &ept_alloc, .big = ept_big() };
	pt_free(&pt, table_free, NULL);
	s2->root = 0;
}

void vmx_stage2_prune(struct stage2 *s2, uint64_t gpa, uint64_t size)
{
	struct pt pt = { .root = s2->root, .a = &ept_alloc, .big = ept_big() };
	pt_prune(&pt, gpa, size, table_free, NULL);
}
