#include <mica/hypercall.h>
#include "arch/x86/iommu/amdvi_pt.h"

static uint64_t *table(const struct amdvi_pt *t, uint64_t pa)
{
	return t->a->to_virt(t->a->ctx, pa & AMDVI_PTE_ADDR);
}

static unsigned index_at(uint64_t iova, unsigned level)
{
	return (unsigned)(iova >> (12 + 9 * (level - 1))) & 511;
}

int amdvi_pt_init(struct amdvi_pt *t, const struct pt_alloc *a, unsigned levels)
{
	if (levels != 3 && levels != 4)
		return MICA_EINVAL;
	t->a = a;
	t->levels = levels;
	t->root = a->alloc(a->ctx);
	return t->root ? 0 : MICA_EFAULT;
}

static int map_page(struct amdvi_pt *t, uint64_t iova, uint64_t pa, int writable)
{
	uint64_t *tab = table(t, t->root);

	for (unsigned level = t->levels; level > 1; level--) {
		uint64_t *e = &tab[index_at(iova, level)];
		if (!(*e & AMDVI_PTE_PR)) {
			uint64_t n = t->a->alloc(t->a->ctx);
			if (!n)
				return MICA_EFAULT;
			*e = n | AMDVI_PTE_PR | AMDVI_PTE_NEXT(level - 1) | AMDVI_PTE_IR | AMDVI_PTE_IW;
		} else if (AMDVI_PTE_LEVEL(*e) != level - 1) {
			return MICA_EINVAL; /* a page where a directory should be: not ours */
		}
		tab = table(t, *e);
	}
	uint64_t *e = &tab[index_at(iova, 1)];
	if (*e & AMDVI_PTE_PR)
		return MICA_EINVAL;
	*e = pa | AMDVI_PTE_PR | AMDVI_PTE_IR | (writable ? AMDVI_PTE_IW : 0);
	return 0;
}

int amdvi_pt_map(struct amdvi_pt *t, uint64_t iova, uint64_t pa, uint64_t size, int writable)
{
	uint64_t reach = 1ull << (12 + 9 * t->levels);

	if ((iova | pa | size) & 0xfff || !size || iova >= reach || size > reach - iova ||
	    pa + size < pa || ((pa + size - 1) & ~AMDVI_PTE_ADDR & ~0xfffull))
		return MICA_EINVAL;
	for (uint64_t off = 0; off < size; off += 4096) {
		int rc = map_page(t, iova + off, pa + off, writable);
		if (rc)
			return rc;
	}
	return 0;
}

int amdvi_pt_lookup(const struct amdvi_pt *t, uint64_t iova, uint64_t *pa, int *writable)
{
	uint64_t *tab = table(t, t->root);

	if (iova >> (12 + 9 * t->levels))
		return MICA_EFAULT;
	for (unsigned level = t->levels; level >= 1; level--) {
		uint64_t e = tab[index_at(iova, level)];
		if (!(e & AMDVI_PTE_PR))
			return MICA_EFAULT;
		if (level == 1 || AMDVI_PTE_LEVEL(e) == 0) {
			uint64_t span = 1ull << (12 + 9 * (level - 1));
			*pa = (e & AMDVI_PTE_ADDR & ~(span - 1)) | (iova & (span - 1));
			*writable = !!(e & AMDVI_PTE_IW);
			return 0;
		}
		tab = table(t, e);
	}
	return MICA_EFAULT;
}
