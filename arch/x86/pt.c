#include <stddef.h>
#include <mica/hypercall.h>
#include "arch/x86/pt.h"

#define ENTRIES 512

static uint64_t *table(const struct pt *pt, uint64_t pa)
{
	return pt->a->to_virt(pt->a->ctx, pa & PT_ADDR_MASK);
}

static unsigned index_of(uint64_t va, int level)
{
	return (va >> (12 + 9 * level)) & (ENTRIES - 1);
}

int pt_init(struct pt *pt, const struct pt_alloc *a, unsigned big)
{
	pt->a = a;
	pt->big = big;
	pt->root = a->alloc(a->ctx);
	return pt->root ? 0 : MICA_EFAULT;
}

/* Is any part of [va, va+size) mapped? Walks only the tables that exist. */
static int range_busy(const struct pt *pt, uint64_t va, uint64_t size)
{
	uint64_t end = va + size;

	while (va < end) {
		uint64_t *t = table(pt, pt->root);
		int level = 3;
		for (;;) {
			uint64_t e = t[index_of(va, level)];
			uint64_t span = 1ULL << (12 + 9 * level);
			if (!(e & PT_P)) {
				va = (va & ~(span - 1)) + span;
				break;
			}
			if (level == 0 || (e & PT_PS))
				return 1;
			t = table(pt, e);
			level--;
		}
	}
	return 0;
}

static int map_one(struct pt *pt, uint64_t va, uint64_t pa, int leaf_level, uint64_t flags)
{
	uint64_t *t = table(pt, pt->root);

	for (int level = 3; level > leaf_level; level--) {
		uint64_t *e = &t[index_of(va, level)];
		if (!(*e & PT_P)) {
			uint64_t n = pt->a->alloc(pt->a->ctx);
			if (!n)
				return MICA_EFAULT;
			/* Non-leaf entries allow everything; the leaf decides. */
			*e = n | PT_P | PT_W | PT_U;
		}
		t = table(pt, *e);
	}
	t[index_of(va, leaf_level)] = pa | flags | PT_P | (leaf_level ? PT_PS : 0);
	return 0;
}

int pt_map(struct pt *pt, uint64_t va, uint64_t pa, uint64_t size, uint64_t flags)
{
	if ((va | pa | size) & (PT_SIZE_4K - 1) || size == 0)
		return MICA_EINVAL;
	if (va >= PT_VA_LIMIT || size > PT_VA_LIMIT - va || pa + size < pa ||
	    ((pa + size - 1) & ~PT_ADDR_MASK & ~(PT_SIZE_4K - 1)))
		return MICA_EINVAL;
	flags &= ~(PT_PS | PT_ADDR_MASK);
	if (range_busy(pt, va, size))
		return MICA_EINVAL;

	while (size) {
		int level = 0;
		if ((pt->big & PT_BIG_1G) && !((va | pa) & (PT_SIZE_1G - 1)) && size >= PT_SIZE_1G)
			level = 2;
		else if ((pt->big & PT_BIG_2M) && !((va | pa) & (PT_SIZE_2M - 1)) && size >= PT_SIZE_2M)
			level = 1;
		uint64_t step = 1ULL << (12 + 9 * level);
		int r = map_one(pt, va, pa, level, flags);
		if (r)
			return r;
		va += step;
		pa += step;
		size -= step;
	}
	return 0;
}

/* The leaf entry mapping va and its level, or NULL when va is not mapped. */
static uint64_t *leaf_of(const struct pt *pt, uint64_t va, int *level_out)
{
	uint64_t *t = table(pt, pt->root);
	for (int level = 3; level >= 0; level--) {
		uint64_t *e = &t[index_of(va, level)];
		if (!(*e & PT_P))
			return NULL;
		if (level == 0 || (*e & PT_PS)) {
			*level_out = level;
			return e;
		}
		t = table(pt, *e);
	}
	return NULL;
}

int pt_unmap(struct pt *pt, uint64_t va, uint64_t size)
{
	if ((va | size) & (PT_SIZE_4K - 1) || size == 0 || va >= PT_VA_LIMIT ||
	    size > PT_VA_LIMIT - va)
		return MICA_EINVAL;
	/* First check that no large page sticks out of the range: all or nothing. */
	for (uint64_t a = va; a < va + size;) {
		int level;
		uint64_t *e = leaf_of(pt, a, &level);
		uint64_t span = 1ULL << (12 + 9 * (e ? level : 0));
		if (e && ((a & (span - 1)) || span > va + size - a))
			return MICA_EINVAL;
		a = (a & ~(span - 1)) + span;
	}
	for (uint64_t a = va; a < va + size;) {
		int level;
		uint64_t *e = leaf_of(pt, a, &level);
		uint64_t span = 1ULL << (12 + 9 * (e ? level : 0));
		if (e)
			__atomic_store_n(e, 0, __ATOMIC_RELEASE);
		a = (a & ~(span - 1)) + span;
	}
	return 0;
}

static void free_tables(struct pt *pt, uint64_t pa, int level,
			void (*free_table)(void *ctx, uint64_t pa), void *ctx)
{
	uint64_t *t = table(pt, pa);
	for (unsigned i = 0; level > 0 && i < ENTRIES; i++)
		if ((t[i] & PT_P) && !(t[i] & PT_PS))
			free_tables(pt, t[i] & PT_ADDR_MASK, level - 1, free_table, ctx);
	free_table(ctx, pa & PT_ADDR_MASK);
}

static int table_empty(const uint64_t *t)
{
	for (unsigned i = 0; i < ENTRIES; i++)
		if (t[i])
			return 0;
	return 1;
}

/* The table at pa (level: what its entries map, 3 for the root) covers [base, base +
 * 512 * span). Frees its empty child tables wholly inside [va, end). */
static unsigned prune(struct pt *pt, uint64_t pa, int level, uint64_t base, uint64_t va,
		      uint64_t end, void (*free_table)(void *ctx, uint64_t pa), void *ctx)
{
	uint64_t *t = table(pt, pa);
	uint64_t span = 1ULL << (12 + 9 * level);
	unsigned n = 0;

	for (unsigned i = 0; level > 0 && i < ENTRIES; i++) {
		uint64_t lo = base + i * span, e = t[i];
		if (lo + span <= va || lo >= end || !(e & PT_P) || (e & PT_PS))
			continue;
		uint64_t child = e & PT_ADDR_MASK;
		n += prune(pt, child, level - 1, lo, va, end, free_table, ctx);
		if (lo >= va && lo + span <= end && table_empty(table(pt, child))) {
			__atomic_store_n(&t[i], 0, __ATOMIC_RELEASE);
			free_table(ctx, child);
			n++;
		}
	}
	return n;
}

unsigned pt_prune(struct pt *pt, uint64_t va, uint64_t size,
		  void (*free_table)(void *ctx, uint64_t pa), void *ctx)
{
	if (!pt->root || !size || va >= PT_VA_LIMIT || size > PT_VA_LIMIT - va)
		return 0;
	return prune(pt, pt->root, 3, 0, va, va + size, free_table, ctx);
}

void pt_free(struct pt *pt, void (*free_table)(void *ctx, uint64_t pa), void *ctx)
{
	if (pt->root)
		free_tables(pt, pt->root, 3, free_table, ctx);
	pt->root = 0;
}

int pt_lookup(const struct pt *pt, uint64_t va, uint64_t *pa, uint64_t *flags, uint64_t *page_size)
{
	if (va >= PT_VA_LIMIT)
		return MICA_EFAULT;
	uint64_t *t = table(pt, pt->root);
	for (int level = 3; level >= 0; level--) {
		uint64_t e = t[index_of(va, level)];
		if (!(e & PT_P))
			return MICA_EFAULT;
		if (level == 0 || (e & PT_PS)) {
			uint64_t span = 1ULL << (12 + 9 * level);
			*pa = (e & PT_ADDR_MASK & ~(span - 1)) | (va & (span - 1));
			*flags = e & ~PT_ADDR_MASK;
			*page_size = span;
			return 0;
		}
		t = table(pt, e);
	}
	return MICA_EFAULT;
}
