/* arch/x86/iommu/amdvi_pt.c: AMD-Vi I/O page tables (AMD IOMMU spec 48882, 2.2.3), built
 * on malloc'ed tables as the CPU page-table tests do (test_pt.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>
#include "arch/x86/iommu/amdvi_pt.h"

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

#include "tests/unit/pt_arena.h"

static struct amdvi_pt t;

static void setup_tables(unsigned levels, unsigned limit)
{
	memset(&arena, 0, sizeof(arena));
	arena.limit = limit;
	cr_assert_eq(amdvi_pt_init(&t, &ops, levels), 0);
	cr_assert_eq(arena.used, 1, "the root only");
	cr_assert_eq(t.levels, levels);
}

static void teardown(void)
{
	arena_free();
}

static uint64_t *tab(uint64_t e)
{
	return (uint64_t *)(uintptr_t)(e & AMDVI_PTE_ADDR);
}

static unsigned idx(uint64_t iova, unsigned level)
{
	return (unsigned)(iova >> (12 + 9 * (level - 1))) & 511;
}

/* Walks the tables by hand: the entry of iova at level (level 1: the leaf), checking on the
 * way that every directory entry is what the IOMMU expects. */
static uint64_t entry_at(uint64_t iova, unsigned level)
{
	uint64_t *table = tab(t.root);

	for (unsigned l = t.levels; l > level; l--) {
		uint64_t e = table[idx(iova, l)];
		cr_assert(e & AMDVI_PTE_PR, "level %u entry of 0x%llx not present", l,
			  (unsigned long long)iova);
		cr_expect_eq(AMDVI_PTE_LEVEL(e), l - 1, "level %u entry names level %u", l,
			     AMDVI_PTE_LEVEL(e));
		cr_expect_eq(e & (AMDVI_PTE_IR | AMDVI_PTE_IW), AMDVI_PTE_IR | AMDVI_PTE_IW,
			     "directories carry both permissions");
		cr_expect_eq(e & ~(AMDVI_PTE_ADDR | AMDVI_PTE_PR | AMDVI_PTE_NEXT(7) |
				   AMDVI_PTE_IR | AMDVI_PTE_IW), 0, "stray bits in 0x%llx",
			     (unsigned long long)e);
		table = tab(e);
	}
	return table[idx(iova, level)];
}

static void expect_page(uint64_t iova, uint64_t pa, int writable)
{
	uint64_t got = 0;
	int w = -1;

	cr_assert_eq(amdvi_pt_lookup(&t, iova, &got, &w), 0, "0x%llx not mapped",
		     (unsigned long long)iova);
	cr_expect_eq(got, pa, "0x%llx -> 0x%llx, expected 0x%llx", (unsigned long long)iova,
		     (unsigned long long)got, (unsigned long long)pa);
	cr_expect_eq(w, writable, "0x%llx writable %d", (unsigned long long)iova, w);

	uint64_t e = entry_at(iova, 1);
	cr_expect_eq(e & AMDVI_PTE_ADDR, pa & ~0xfffull);
	cr_expect_eq(AMDVI_PTE_LEVEL(e), 0, "a leaf has next level 0");
	cr_expect(e & AMDVI_PTE_PR);
	cr_expect(e & AMDVI_PTE_IR);
	cr_expect_eq(!!(e & AMDVI_PTE_IW), writable);
}

static void expect_unmapped(uint64_t iova)
{
	uint64_t pa = 0x1234;
	int w = 7;

	cr_expect_eq(amdvi_pt_lookup(&t, iova, &pa, &w), MICA_EFAULT, "0x%llx mapped",
		     (unsigned long long)iova);
	cr_expect_eq(pa, 0x1234, "outputs untouched");
	cr_expect_eq(w, 7);
}

TestSuite(amdvi_pt, .fini = teardown);

Test(amdvi_pt, init_levels)
{
	memset(&arena, 0, sizeof(arena));
	arena.limit = 4;
	cr_expect_eq(amdvi_pt_init(&t, &ops, 2), MICA_EINVAL);
	cr_expect_eq(amdvi_pt_init(&t, &ops, 5), MICA_EINVAL);
	cr_expect_eq(arena.used, 0, "nothing allocated for a refused level count");
	arena.limit = 0;
	cr_expect_eq(amdvi_pt_init(&t, &ops, 4), MICA_EFAULT);
}

Test(amdvi_pt, four_levels_range_every_page)
{
	setup_tables(4, 16);
	/* 40 pages across a level-1 table boundary (2 MiB) of a high address. */
	uint64_t iova = 0x7f0000000000ull + 2 * MIB - 20 * 4096, pa = 0x80000000ull;
	cr_assert_eq(amdvi_pt_map(&t, iova, pa, 40 * 4096, 1), 0);
	for (unsigned i = 0; i < 40; i++)
		expect_page(iova + i * 4096ull, pa + i * 4096ull, 1);
	cr_expect_eq(arena.used, 5, "root + level 3 + level 2 + two level-1 tables, got %u",
		     arena.used);
	/* Offsets inside a page carry through. */
	expect_page(iova + 0xabc, pa + 0xabc, 1);
	expect_unmapped(iova - 4096);
	expect_unmapped(iova + 40 * 4096);
	expect_unmapped(0);
	expect_unmapped(1ull << 48);
}

Test(amdvi_pt, three_levels_and_read_only)
{
	setup_tables(3, 16);
	cr_assert_eq(amdvi_pt_map(&t, 0x100000, 0x3000000, 16 * KIB, 0), 0);
	cr_assert_eq(amdvi_pt_map(&t, 0x7fffffe000ull, 0x5000, 8 * KIB, 1), 0,
		     "the last pages of the 39-bit reach");
	for (unsigned i = 0; i < 4; i++)
		expect_page(0x100000 + i * 4096ull, 0x3000000 + i * 4096ull, 0);
	expect_page(0x7fffffe000ull, 0x5000, 1);
	expect_page(0x7ffffff123ull, 0x6123, 1);
	/* The root is level 3: its entries name level 2. */
	uint64_t top = tab(t.root)[0];
	cr_expect_eq(AMDVI_PTE_LEVEL(top), 2);
	cr_expect_eq(AMDVI_PTE_LEVEL(tab(t.root)[511]), 2);
	expect_unmapped(0x104000);
	expect_unmapped(1ull << 39);
	cr_expect_eq(arena.used, 5, "root, two level-2 and two level-1 tables, got %u",
		     arena.used);
}

Test(amdvi_pt, double_map)
{
	setup_tables(4, 16);
	cr_assert_eq(amdvi_pt_map(&t, 0x200000, 0x400000, 8 * KIB, 1), 0);
	cr_expect_eq(amdvi_pt_map(&t, 0x201000, 0x900000, 4 * KIB, 0), MICA_EINVAL);
	expect_page(0x201000, 0x401000, 1);
	cr_expect_eq(amdvi_pt_map(&t, 0x1ff000, 0x900000, 8 * KIB, 0), MICA_EINVAL,
		     "overlapping at its end");
	expect_page(0x200000, 0x400000, 1);
	/* A neighbour is fine. */
	cr_expect_eq(amdvi_pt_map(&t, 0x202000, 0x900000, 4 * KIB, 0), 0);
	expect_page(0x202000, 0x900000, 0);
}

Test(amdvi_pt, bad_arguments)
{
	setup_tables(3, 16);
	cr_expect_eq(amdvi_pt_map(&t, 0x1800, 0x2000, 4096, 1), MICA_EINVAL, "iova misaligned");
	cr_expect_eq(amdvi_pt_map(&t, 0x1000, 0x2800, 4096, 1), MICA_EINVAL, "pa misaligned");
	cr_expect_eq(amdvi_pt_map(&t, 0x1000, 0x2000, 4095, 1), MICA_EINVAL, "size misaligned");
	cr_expect_eq(amdvi_pt_map(&t, 0x1000, 0x2000, 0, 1), MICA_EINVAL, "zero size");
	cr_expect_eq(amdvi_pt_map(&t, 1ull << 39, 0x2000, 4096, 1), MICA_EINVAL,
		     "beyond 39 bits");
	cr_expect_eq(amdvi_pt_map(&t, (1ull << 39) - 4096, 0x2000, 8192, 1), MICA_EINVAL,
		     "running past 39 bits");
	cr_expect_eq(amdvi_pt_map(&t, 0x1000, 0x2000, ~0xfffull, 1), MICA_EINVAL, "huge");
	/* Physical addresses are 52 bits: a page at or above 1 << 52 cannot be named. */
	cr_expect_eq(amdvi_pt_map(&t, 0x1000, 1ull << 52, 4096, 1), MICA_EINVAL);
	cr_expect_eq(amdvi_pt_map(&t, 0x1000, (1ull << 52) - 4096, 8192, 1), MICA_EINVAL);
	cr_expect_eq(amdvi_pt_map(&t, 0x1000, ~0xfffull, 4096, 1), MICA_EINVAL, "wraps");
	cr_expect_eq(arena.used, 1, "nothing was built");
	expect_unmapped(0x1000);
	cr_expect_eq(amdvi_pt_map(&t, 0x1000, (1ull << 52) - 4096, 4096, 1), 0,
		     "the last page of 52 bits");
	expect_page(0x1000, (1ull << 52) - 4096, 1);
	teardown();

	setup_tables(4, 16);
	cr_expect_eq(amdvi_pt_map(&t, (1ull << 39), 0x2000, 4096, 1), 0, "4 levels reach it");
	expect_page(1ull << 39, 0x2000, 1);
	cr_expect_eq(amdvi_pt_map(&t, 1ull << 48, 0x2000, 4096, 1), MICA_EINVAL);
}

Test(amdvi_pt, out_of_tables)
{
	setup_tables(4, 3);
	cr_expect_eq(amdvi_pt_map(&t, 0, 0x100000, 4096, 1), MICA_EFAULT);
	cr_expect_eq(arena.used, 3);
	expect_unmapped(0);
	teardown();

	/* Enough for the first level-1 table, not for the second: the first pages stay. */
	setup_tables(4, 4);
	cr_expect_eq(amdvi_pt_map(&t, 2 * MIB - 4096, 0x100000, 8192, 1), MICA_EFAULT);
	expect_page(2 * MIB - 4096, 0x100000, 1);
	expect_unmapped(2 * MIB);
}
