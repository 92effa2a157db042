/* arch/x86/vmx/ept.h: EPT leaves built by the shared page-table builder (SDM 28.3.2). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>
#include "arch/x86/vmx/ept.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static unsigned used;
static void *pages[32];

static uint64_t alloc(void *ctx)
{
	(void)ctx;
	if (used == 32)
		return 0;
	void *p = aligned_alloc(4096, 4096);
	memset(p, 0, 4096);
	pages[used++] = p;
	return (uint64_t)(uintptr_t)p;
}

static void *ident(void *ctx, uint64_t pa)
{
	(void)ctx;
	return (void *)(uintptr_t)pa;
}

static const struct pt_alloc ops = { alloc, ident, NULL };
static struct pt ept;

static void fini(void)
{
	for (unsigned i = 0; i < used; i++)
		free(pages[i]);
	used = 0;
}

TestSuite(ept, .fini = fini);

static uint64_t leaf(uint64_t gpa, uint64_t *size)
{
	uint64_t pa, flags;
	cr_assert_eq(pt_lookup(&ept, gpa, &pa, &flags, size), 0);
	return flags;
}

Test(ept, permissions_land_on_the_r_w_x_bits)
{
	cr_assert_eq(pt_init(&ept, &ops, PT_BIG_2M), 0);
	cr_assert_eq(pt_map(&ept, 0, 0x200000, 4096, ept_leaf_flags(S2_READ, EPT_MT_WB)), 0);
	cr_assert_eq(pt_map(&ept, 0x1000, 0x201000, 4096,
			    ept_leaf_flags(S2_READ | S2_WRITE, EPT_MT_WB)), 0);
	cr_assert_eq(pt_map(&ept, 0x2000, 0x202000, 4096,
			    ept_leaf_flags(S2_READ | S2_WRITE | S2_EXEC, EPT_MT_WB)), 0);
	uint64_t sz;
	cr_expect_eq(leaf(0x0000, &sz) & 7, EPT_R);
	cr_expect_eq(leaf(0x1000, &sz) & 7, EPT_R | EPT_W);
	cr_expect_eq(leaf(0x2000, &sz) & 7, EPT_R | EPT_W | EPT_X);
}

Test(ept, memory_type_is_in_bits_5_to_3_and_pat_is_honoured)
{
	cr_assert_eq(pt_init(&ept, &ops, PT_BIG_2M), 0);
	cr_assert_eq(pt_map(&ept, 0, 0, 2 * MIB, ept_leaf_flags(S2_READ | S2_WRITE, EPT_MT_WB)), 0);
	cr_assert_eq(pt_map(&ept, 2 * MIB, 0xfee00000, 4096, ept_leaf_flags(S2_READ | S2_WRITE, EPT_MT_UC)), 0);
	uint64_t sz;
	uint64_t f = leaf(0x1234, &sz);
	cr_expect_eq((f >> 3) & 7, 6, "write-back is type 6, got %llu", (unsigned long long)((f >> 3) & 7));
	cr_expect(!(f & EPT_IGNORE_PAT));
	cr_expect_eq((leaf(2 * MIB, &sz) >> 3) & 7, 0, "uncacheable is type 0");
}

Test(ept, large_pages_set_bit_7_only_where_allowed)
{
	uint64_t sz;
	cr_assert_eq(pt_init(&ept, &ops, PT_BIG_2M | PT_BIG_1G), 0);
	cr_assert_eq(pt_map(&ept, GIB, GIB, GIB, ept_leaf_flags(S2_READ | S2_WRITE | S2_EXEC, EPT_MT_WB)), 0);
	cr_expect(leaf(GIB + 7, &sz) & (1ULL << 7));
	cr_expect_eq(sz, GIB);
	fini();
	cr_assert_eq(pt_init(&ept, &ops, PT_BIG_2M), 0);
	cr_assert_eq(pt_map(&ept, GIB, GIB, GIB, ept_leaf_flags(S2_READ, EPT_MT_WB)), 0);
	cr_expect_eq((leaf(GIB + 7, &sz), sz), 2 * MIB);
	fini();
	cr_assert_eq(pt_init(&ept, &ops, 0), 0);
	cr_assert_eq(pt_map(&ept, 0, 0, 2 * MIB, ept_leaf_flags(S2_READ, EPT_MT_WB)), 0);
	cr_expect(!(leaf(8, &sz) & (1ULL << 7)));
	cr_expect_eq(sz, 4096);
}

Test(ept, non_leaf_entries_allow_everything)
{
	cr_assert_eq(pt_init(&ept, &ops, PT_BIG_2M), 0);
	cr_assert_eq(pt_map(&ept, 0, 0, 4096, ept_leaf_flags(S2_READ, EPT_MT_WB)), 0);
	const uint64_t *pml4 = ident(NULL, ept.root);
	cr_expect_eq(pml4[0] & 7, EPT_R | EPT_W | EPT_X, "leaves alone decide the access");
	cr_expect_eq((pml4[0] >> 3) & 7, 0, "no memory type outside leaves");
}

Test(ept, pointer_says_write_back_and_four_levels)
{
	uint64_t p = ept_pointer(0x12345000ULL);
	cr_expect_eq(p & 7, 6);
	cr_expect_eq((p >> 3) & 7, 3, "walk length minus one");
	cr_expect_eq(p & ~0xfffULL, 0x12345000ULL);
	cr_expect(!(p & (1ULL << 6)), "accessed/dirty flags stay off");
}
