/* Nested page tables: the x86-64 long-mode format (arch/x86/pt.c), walked as user accesses,
 * so every leaf carries U (APM 15.25.5). */
#include <mica/hypercall.h>
#include "arch/x86/paging.h"
#include "arch/x86/pt.h"
#include "arch/x86/svm/svm.h"
#include "kernel/mem.h"

static uint64_t table_alloc(void *ctx)
{
	return mem_alloc(4096, 4096);
}

static void *to_virt(void *ctx, uint64_t pa)
{
	return phys_to_virt(pa);
}

static const struct pt_alloc npt_alloc = { table_alloc, to_virt, NULL };

static unsigned npt_big(void)
{
	return PT_BIG_2M | (cpu_has_1g_pages() ? PT_BIG_1G : 0);
}

/* ASIDs are handed out once per partition; the boot CPU creates partitions one at a time. */
static uint32_t next_asid = 1;

int svm_stage2_init(struct stage2 *s2)
{
	struct pt pt;
	int r = pt_init(&pt, &npt_alloc, npt_big());
	if (r)
		return r;
	s2->root = pt.root;
	s2->tag = next_asid++;
	return 0;
}

int svm_stage2_unmap(struct stage2 *s2, uint64_t gpa, uint64_t size)
{
	struct pt pt = { .root = s2->root, .a = &npt_alloc, .big = npt_big() };
	return pt_unmap(&pt, gpa, size);
}

int svm_stage2_map(struct stage2 *s2, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perm)
{
	struct pt pt = { .root = s2->root, .a = &npt_alloc, .big = npt_big() };
	uint64_t flags = PT_U;

	if (!(perm & S2_READ))
		return MICA_EINVAL; /* NPT cannot express write- or execute-only */
	if (perm & S2_WRITE)
		flags |= PT_W;
	if (!(perm & S2_EXEC))
		flags |= PT_NX;
	if (perm & S2_DEVICE)
		flags |= PT_PCD | PT_PWT; /* PAT entry 3 (UC) with the power-on PAT (APM 7.8.2) */
	return pt_map(&pt, gpa, hpa, size, flags);
}

static void table_free(void *ctx, uint64_t pa)
{
	mem_free(pa, 4096);
}

void svm_stage2_free(struct stage2 *s2)
{
	struct pt pt = { .root = s2->root, .a = &npt_alloc, .big = npt_big() };
	pt_free(&pt, table_free, NULL);
	s2->root = 0;
}

void svm_stage2_prune(struct stage2 *s2, uint64_t gpa, uint64_t size)
{
	struct pt pt = { .root = s2->root, .a = &npt_alloc, .big = npt_big() };
	pt_prune(&pt, gpa, size, table_free, NULL);
}
