/* arch/x86/pt.c: the 4-level page-table builder behind the core's tables and AMD NPT. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>
#include "arch/x86/pt.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

#include "tests/unit/pt_arena.h"

static struct pt pt;

static void setup_tables(unsigned limit, int allow_1g)
{
	memset(&arena, 0, sizeof(arena));
	arena.limit = limit;
	cr_assert_eq(pt_init(&pt, &ops, PT_BIG_2M | (allow_1g ? PT_BIG_1G : 0)), 0);
}

static void teardown(void)
{
	arena_free();
}

static void expect_map(uint64_t va, uint64_t pa, uint64_t page, uint64_t flags)
{
	uint64_t got_pa, got_flags, got_page;
	cr_assert_eq(pt_lookup(&pt, va, &got_pa, &got_flags, &got_page), 0, "0x%llx not mapped",
		     (unsigned long long)va);
	cr_expect_eq(got_pa, pa, "0x%llx -> 0x%llx, expected 0x%llx", (unsigned long long)va,
		     (unsigned long long)got_pa, (unsigned long long)pa);
	cr_expect_eq(got_page, page, "0x%llx in a page of 0x%llx, expected 0x%llx",
		     (unsigned long long)va, (unsigned long long)got_page, (unsigned long long)page);
	cr_expect_eq(got_flags & flags, flags, "flags 0x%llx lack 0x%llx",
		     (unsigned long long)got_flags, (unsigned long long)flags);
}

TestSuite(pt, .fini = teardown);

Test(pt, small_pages_translate_with_offsets)
{
	setup_tables(16, 0);
	cr_assert_eq(pt_map(&pt, 0x5000, 0x123000, 0x3000, PT_W | PT_U), 0);
	expect_map(0x5000, 0x123000, 4096, PT_P | PT_W | PT_U);
	expect_map(0x6abc, 0x124abc, 4096, PT_P | PT_W | PT_U);
	expect_map(0x7fff, 0x125fff, 4096, PT_P);
	uint64_t a, f, s;
	cr_expect_eq(pt_lookup(&pt, 0x4fff, &a, &f, &s), MICA_EFAULT);
	cr_expect_eq(pt_lookup(&pt, 0x8000, &a, &f, &s), MICA_EFAULT);
}

Test(pt, aligned_ranges_use_2m_pages_and_few_tables)
{
	setup_tables(16, 0);
	cr_assert_eq(pt_map(&pt, 0, 0x40000000, 16 * MIB, PT_W | PT_U), 0);
	expect_map(0, 0x40000000, 2 * MIB, PT_PS | PT_W | PT_U);
	expect_map(15 * MIB + 17, 0x40000000 + 15 * MIB + 17, 2 * MIB, PT_PS);
	cr_expect_eq(arena.used, 3, "PML4 + PDPT + PD expected, used %u tables", arena.used);
}

Test(pt, 1g_pages_only_when_allowed)
{
	setup_tables(16, 1);
	cr_assert_eq(pt_map(&pt, 0, 0, 4 * GIB, PT_W), 0);
	expect_map(3 * GIB + 5, 3 * GIB + 5, GIB, PT_PS);
	cr_expect_eq(arena.used, 2);
	teardown();
	setup_tables(16, 0);
	cr_assert_eq(pt_map(&pt, 0, 0, 2 * GIB, PT_W), 0);
	expect_map(GIB + 5, GIB + 5, 2 * MIB, PT_PS);
	cr_expect_eq(arena.used, 4);
}

Test(pt, misaligned_start_mixes_page_sizes)
{
	setup_tables(16, 0);
	/* 1 MiB of 4 KiB pages up to the 2 MiB boundary, then one 2 MiB page. */
	cr_assert_eq(pt_map(&pt, 1 * MIB, 9 * MIB, 3 * MIB, PT_W), 0);
	expect_map(1 * MIB, 9 * MIB, 4096, PT_W);
	expect_map(2 * MIB - 4096, 10 * MIB - 4096, 4096, PT_W);
	expect_map(2 * MIB, 10 * MIB, 2 * MIB, PT_PS);
	expect_map(4 * MIB - 1, 12 * MIB - 1, 2 * MIB, PT_PS);
}

Test(pt, physical_alignment_limits_page_size)
{
	setup_tables(16, 0);
	/* va is 2 MiB aligned but pa is not: only 4 KiB pages can express it. */
	cr_assert_eq(pt_map(&pt, 2 * MIB, 2 * MIB + 4096, 2 * MIB, PT_W), 0);
	expect_map(2 * MIB, 2 * MIB + 4096, 4096, PT_W);
	expect_map(4 * MIB - 4096, 4 * MIB, 4096, PT_W);
}

Test(pt, nx_and_read_only_leaves)
{
	setup_tables(16, 0);
	cr_assert_eq(pt_map(&pt, 0, 0, 2 * MIB, PT_U | PT_NX), 0);
	uint64_t a, f, s;
	cr_assert_eq(pt_lookup(&pt, 0x1000, &a, &f, &s), 0);
	cr_expect(f & PT_NX);
	cr_expect(!(f & PT_W), "read-only leaf came out writable");
}

Test(pt, overlap_is_refused_and_changes_nothing)
{
	setup_tables(16, 0);
	cr_assert_eq(pt_map(&pt, 4 * MIB, 0x100000000ULL, 2 * MIB, PT_W), 0);
	unsigned used = arena.used;
	cr_expect_eq(pt_map(&pt, 0, 0, 8 * MIB, PT_W), MICA_EINVAL);
	cr_expect_eq(pt_map(&pt, 5 * MIB, 0, 4096, PT_W), MICA_EINVAL);
	cr_expect_eq(arena.used, used, "a refused map allocated tables");
	uint64_t a, f, s;
	cr_expect_eq(pt_lookup(&pt, 0, &a, &f, &s), MICA_EFAULT);
	expect_map(4 * MIB, 0x100000000ULL, 2 * MIB, PT_W);
}

Test(pt, bad_arguments_are_refused)
{
	setup_tables(16, 0);
	cr_expect_eq(pt_map(&pt, 0x1001, 0, 4096, 0), MICA_EINVAL);
	cr_expect_eq(pt_map(&pt, 0, 0x1001, 4096, 0), MICA_EINVAL);
	cr_expect_eq(pt_map(&pt, 0, 0, 100, 0), MICA_EINVAL);
	cr_expect_eq(pt_map(&pt, 0, 0, 0, 0), MICA_EINVAL);
	cr_expect_eq(pt_map(&pt, PT_VA_LIMIT, 0, 4096, 0), MICA_EINVAL);
	cr_expect_eq(pt_map(&pt, PT_VA_LIMIT - 4096, 0, 8192, 0), MICA_EINVAL);
	cr_expect_eq(pt_map(&pt, 0, 0xfffffffffffff000ULL, 8192, 0), MICA_EINVAL);
	cr_expect_eq(pt_map(&pt, 0, 1ULL << 52, 4096, 0), MICA_EINVAL);
	cr_expect_eq(arena.used, 1);
}

Test(pt, running_out_of_tables_is_an_error)
{
	setup_tables(3, 0); /* PML4, PDPT, one PD: no room for a page table */
	cr_expect_eq(pt_map(&pt, 0, 0, 4096, PT_W), MICA_EFAULT);
}

Test(pt, flags_cannot_smuggle_address_or_size_bits)
{
	setup_tables(16, 0);
	cr_assert_eq(pt_map(&pt, 0, 0x200000, 4096, PT_W | PT_PS | 0x7ff000ULL), 0);
	expect_map(0, 0x200000, 4096, PT_W);
}

Test(pt, small_pages_only_when_big_pages_are_off)
{
	memset(&arena, 0, sizeof(arena));
	arena.limit = 16;
	cr_assert_eq(pt_init(&pt, &ops, 0), 0);
	cr_assert_eq(pt_map(&pt, 0, 0, 4 * MIB, PT_W), 0);
	expect_map(2 * MIB + 8, 2 * MIB + 8, 4096, PT_W);
	cr_expect_eq(arena.used, 5, "PML4, PDPT, PD and two page tables; used %u", arena.used);
}

static int mapped(uint64_t va)
{
	uint64_t pa, flags, page;
	return pt_lookup(&pt, va, &pa, &flags, &page) == 0;
}

Test(pt, unmap_small_pages_leaves_the_neighbours)
{
	setup_tables(16, 0);
	cr_assert_eq(pt_map(&pt, 0x800000000ULL, 0xfe000000ULL, 0x4000, PT_W), 0);
	cr_assert_eq(pt_unmap(&pt, 0x800001000ULL, 0x2000), 0);
	expect_map(0x800000000ULL, 0xfe000000ULL, 0x1000, PT_W);
	cr_expect(!mapped(0x800001000ULL));
	cr_expect(!mapped(0x800002000ULL));
	expect_map(0x800003000ULL, 0xfe003000ULL, 0x1000, PT_W);
	/* The hole can be mapped again, elsewhere on the host. */
	cr_expect_eq(pt_map(&pt, 0x800001000ULL, 0xfd000000ULL, 0x2000, PT_W), 0);
	expect_map(0x800002000ULL, 0xfd001000ULL, 0x1000, PT_W);
}

Test(pt, unmap_of_nothing_and_of_whole_large_pages)
{
	setup_tables(16, 1);
	cr_expect_eq(pt_unmap(&pt, 0x40000000ULL, 4 * MIB), 0, "nothing mapped: fine");
	cr_assert_eq(pt_map(&pt, 0, 0, 2 * GIB, PT_W), 0);
	cr_expect_eq(pt_unmap(&pt, GIB, GIB), 0);
	expect_map(GIB - 4096, GIB - 4096, GIB, PT_W);
	cr_expect(!mapped(GIB));
	cr_expect(!mapped(2 * GIB - 4096));
}

Test(pt, unmap_refuses_to_cut_a_large_page_and_changes_nothing)
{
	setup_tables(16, 0);
	cr_assert_eq(pt_map(&pt, 0, 0, 4 * MIB, PT_W), 0);
	/* The range covers the first 2 MiB page and cuts the second. */
	cr_expect_eq(pt_unmap(&pt, 0, 3 * MIB), MICA_EINVAL);
	expect_map(0, 0, 2 * MIB, PT_W);
	expect_map(2 * MIB, 2 * MIB, 2 * MIB, PT_W);
	cr_expect_eq(pt_unmap(&pt, 2 * MIB + 4096, 4096), MICA_EINVAL);
	expect_map(2 * MIB, 2 * MIB, 2 * MIB, PT_W);
	cr_expect_eq(pt_unmap(&pt, 0, 2 * MIB), 0);
	cr_expect(!mapped(0));
	expect_map(2 * MIB, 2 * MIB, 2 * MIB, PT_W);
}

Test(pt, unmap_bad_arguments)
{
	setup_tables(16, 0);
	cr_expect_eq(pt_unmap(&pt, 0x1001, 4096), MICA_EINVAL);
	cr_expect_eq(pt_unmap(&pt, 0x1000, 100), MICA_EINVAL);
	cr_expect_eq(pt_unmap(&pt, 0x1000, 0), MICA_EINVAL);
	cr_expect_eq(pt_unmap(&pt, PT_VA_LIMIT - 4096, 8192), MICA_EINVAL);
}

static unsigned freed_tables;

static void count_free(void *ctx, uint64_t pa)
{
	(void)ctx;
	(void)pa;
	freed_tables++;
}

Test(pt, prune_frees_the_empty_tables_of_a_range_gone_for_good)
{
	struct pt pt;
	arena.limit = 64;
	cr_assert_eq(pt_init(&pt, &ops, PT_BIG_2M), 0);
	/* a window of 4K pages and one of 2M pages at 512 GiB apart; a neighbour beside */
	cr_assert_eq(pt_map(&pt, 0x6000000000ULL, 0x200000, 0x3000, PT_W), 0);
	cr_assert_eq(pt_map(&pt, 0x6000200000ULL, 0x400000, 4 * MIB, PT_W), 0);
	cr_assert_eq(pt_map(&pt, 0x6040000000ULL, 0x800000, 0x1000, PT_W), 0);
	unsigned before = arena.used;
	freed_tables = 0;
	/* still mapped: nothing goes */
	cr_assert_eq(pt_prune(&pt, 0x6000000000ULL, GIB, count_free, NULL), 0);
	cr_assert_eq(pt_unmap(&pt, 0x6000000000ULL, 0x3000), 0);
	/* the PT of the 4K pages is empty, but its PD still maps the 2M pages: only the PT */
	cr_assert_eq(pt_prune(&pt, 0x6000000000ULL, 0x200000, count_free, NULL), 1);
	cr_assert_eq(pt_unmap(&pt, 0x6000200000ULL, 4 * MIB), 0);
	/* the PD of the first GiB is empty now and wholly inside; the neighbour's is not */
	cr_assert_eq(pt_prune(&pt, 0x6000000000ULL, GIB, count_free, NULL), 1);
	cr_assert_eq(freed_tables, 2);
	uint64_t pa, fl, ps;
	cr_assert_eq(pt_lookup(&pt, 0x6040000000ULL, &pa, &fl, &ps), 0, "the neighbour stays");
	cr_assert_eq(pa, 0x800000);
	/* mapping the range again builds what it needs afresh */
	cr_assert_eq(pt_map(&pt, 0x6000000000ULL, 0x200000, 0x1000, PT_W), 0);
	cr_assert_eq(pt_lookup(&pt, 0x6000000000ULL, &pa, &fl, &ps), 0);
	cr_assert_eq(arena.used, before + 2);
	arena_free();
}

Test(pt, free_returns_every_table)
{
	struct pt pt;
	arena.limit = 64;
	cr_assert_eq(pt_init(&pt, &ops, PT_BIG_2M), 0);
	cr_assert_eq(pt_map(&pt, 0x5000, 0x123000, 0x3000, PT_W), 0);
	cr_assert_eq(pt_map(&pt, 0x40000000, 0x40000000, 8 * MIB, PT_W), 0);
	cr_assert_eq(pt_map(&pt, 0x8000000000ULL, 0x1000, 0x1000, PT_W), 0);
	freed_tables = 0;
	pt_free(&pt, count_free, NULL);
	cr_assert_eq(freed_tables, arena.used, "every table allocated is freed: %u of %u",
		     freed_tables, arena.used);
	cr_assert_eq(pt.root, 0);
	arena_free();
}
