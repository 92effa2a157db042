/* boot/mb2/memmap.c: boot_info's map from a BIOS map plus the ranges Mica keeps, and the
 * free-memory finder. Every result is also checked for the invariants the core relies on:
 * sorted, not overlapping, touching entries of one type merged. */
#include <criterion/criterion.h>
#include <string.h>

#include "boot/mb2/mb2.h"

#define MIB (1ULL << 20)
#define U BOOT_MEM_USABLE
#define R BOOT_MEM_RESERVED
#define A BOOT_MEM_ACPI
#define N BOOT_MEM_ACPI_NVS
#define M BOOT_MEM_MICA

static struct boot_mem out[BOOT_MAX_MMAP];

static void check_clean(const struct boot_mem *m, int n)
{
	cr_assert(n >= 0);
	for (int i = 0; i < n; i++) {
		cr_assert(m[i].size > 0, "entry %d is empty", i);
		if (i == 0)
			continue;
		cr_assert(m[i - 1].base + m[i - 1].size <= m[i].base, "entries %d and %d overlap or "
			  "are unsorted", i - 1, i);
		cr_assert(!(m[i - 1].type == m[i].type && m[i - 1].base + m[i - 1].size == m[i].base),
			  "entries %d and %d touch with one type", i - 1, i);
	}
}

static void expect(const struct boot_mem *m, int n, const struct boot_mem *want, int nwant)
{
	check_clean(m, n);
	cr_assert_eq(n, nwant, "%d entries, expected %d", n, nwant);
	for (int i = 0; i < n; i++) {
		cr_expect_eq(m[i].base, want[i].base, "entry %d base 0x%llx, expected 0x%llx", i,
			     (unsigned long long)m[i].base, (unsigned long long)want[i].base);
		cr_expect_eq(m[i].size, want[i].size, "entry %d size 0x%llx, expected 0x%llx", i,
			     (unsigned long long)m[i].size, (unsigned long long)want[i].size);
		cr_expect_eq(m[i].type, want[i].type, "entry %d type %u, expected %u", i, m[i].type,
			     want[i].type);
	}
}

/* What QEMU's SeaBIOS reports for 1 GiB, the MICA ranges a boot really makes. */
Test(mb2_mmap, typical_bios_map_with_mica_ranges)
{
	struct boot_mem in[] = {
		{ 0, 0x9fc00, U }, { 0x9fc00, 0x400, R }, { 0xf0000, 0x10000, R },
		{ 0x100000, 0x3fee0000, U }, { 0x3ffe0000, 0x20000, R }, { 0xb0000000, 0x10000000, R },
		{ 0xfed1c000, 0x4000, R }, { 0xfeffc000, 0x4000, R }, { 0xfffc0000, 0x40000, R },
	};
	struct mem_range mica[] = {
		{ 0x9e000, 0x9f000 },            /* trampoline */
		{ 0x3fda5000, 0x3ffd0000 },      /* core, touching the boot_info below */
		{ 0x3ffd0000, 0x3ffd7000 },      /* boot_info + RSDP copy */
		{ 0x200000, 0x201000 },          /* config */
		{ 0x201000, 0x230000 },          /* image, touching the config */
	};
	struct boot_mem want[] = {
		{ 0, 0x9e000, U }, { 0x9e000, 0x1000, M }, { 0x9f000, 0xc00, U },
		{ 0x9fc00, 0x400, R }, { 0xf0000, 0x10000, R },
		{ 0x100000, 0x100000, U }, { 0x200000, 0x30000, M },
		{ 0x230000, 0x3fda5000 - 0x230000, U }, { 0x3fda5000, 0x3ffd7000 - 0x3fda5000, M },
		{ 0x3ffd7000, 0x3ffe0000 - 0x3ffd7000, U }, { 0x3ffe0000, 0x20000, R },
		{ 0xb0000000, 0x10000000, R }, { 0xfed1c000, 0x4000, R }, { 0xfeffc000, 0x4000, R },
		{ 0xfffc0000, 0x40000, R },
	};
	int n = mb2_mmap_build(in, 9, mica, 5, out, BOOT_MAX_MMAP);

	expect(out, n, want, sizeof(want) / sizeof(want[0]));
}

Test(mb2_mmap, unsorted_input_is_sorted)
{
	struct boot_mem in[] = {
		{ 0x300000, MIB, R }, { 0x100000, MIB, U }, { 0, 0x1000, U }, { 0x200000, MIB, A },
	};
	struct boot_mem want[] = {
		{ 0, 0x1000, U }, { 0x100000, MIB, U }, { 0x200000, MIB, A }, { 0x300000, MIB, R },
	};

	expect(out, mb2_mmap_build(in, 4, NULL, 0, out, 16), want, 4);
}

Test(mb2_mmap, touching_pieces_of_one_type_merge)
{
	struct boot_mem in[] = { { 0x200000, MIB, U }, { 0x100000, MIB, U }, { 0x300000, 0, R } };
	struct boot_mem want[] = { { 0x100000, 2 * MIB, U } };

	expect(out, mb2_mmap_build(in, 3, NULL, 0, out, 16), want, 1);
}

Test(mb2_mmap, overlaps_go_to_the_less_usable_type)
{
	struct boot_mem in[] = {
		{ 0x100000, 4 * MIB, U },        /* usable 1-5 MiB ... */
		{ 0x200000, MIB, R },            /* ... but 2-3 MiB is reserved */
		{ 0x280000, 2 * MIB, A },        /* ACPI 2.5-4.5 MiB: loses to reserved, beats usable */
		{ 0x400000, 0x10000, N },        /* NVS inside the ACPI range */
	};
	struct boot_mem want[] = {
		{ 0x100000, MIB, U }, { 0x200000, MIB, R }, { 0x300000, MIB, A },
		{ 0x400000, 0x10000, N }, { 0x410000, 0x70000, A }, { 0x480000, 0x80000, U },
	};

	expect(out, mb2_mmap_build(in, 4, NULL, 0, out, 16), want, 6);
}

Test(mb2_mmap, mica_takes_only_usable_memory)
{
	struct boot_mem in[] = { { 0x100000, MIB, U }, { 0x200000, MIB, R } };
	struct mem_range mica[] = { { 0x80000, 0x180000 }, { 0x1c0000, 0x240000 } };
	struct boot_mem want[] = {
		{ 0x100000, 0x80000, M }, { 0x180000, 0x40000, U }, { 0x1c0000, 0x40000, M },
		{ 0x200000, MIB, R },
	};

	expect(out, mb2_mmap_build(in, 2, mica, 2, out, 16), want, 4);
}

Test(mb2_mmap, overlapping_and_unsorted_mica_ranges)
{
	struct boot_mem in[] = { { 0, 16 * MIB, U } };
	struct mem_range mica[] = {
		{ 0x500000, 0x600000 }, { 0x100000, 0x300000 }, { 0x200000, 0x400000 }, { 7, 7 },
	};
	struct boot_mem want[] = {
		{ 0, MIB, U }, { MIB, 3 * MIB, M }, { 4 * MIB, MIB, U }, { 5 * MIB, MIB, M },
		{ 6 * MIB, 10 * MIB, U },
	};

	expect(out, mb2_mmap_build(in, 1, mica, 4, out, 16), want, 5);
}

Test(mb2_mmap, an_entry_reaching_the_top_of_the_address_space)
{
	struct boot_mem in[] = { { 0xfffffffffff00000ULL, 0x200000, R }, { 0, MIB, U } };
	int n = mb2_mmap_build(in, 2, NULL, 0, out, 16);

	check_clean(out, n);
	cr_assert_eq(n, 2);
	cr_expect_eq(out[1].base + out[1].size, UINT64_MAX);
}

Test(mb2_mmap, too_many_entries_join_reserved_neighbours_first)
{
	struct boot_mem in[8];
	int n;

	/* R U R R R U R R, 1 MiB each with 1 MiB holes: with room for 5, the reserved runs
	 * swallow their holes and both usable ranges survive. */
	for (unsigned i = 0; i < 8; i++)
		in[i] = (struct boot_mem){ i * 2 * MIB, MIB, (i % 4 == 1) ? U : R };
	n = mb2_mmap_build(in, 8, NULL, 0, out, 5);
	check_clean(out, n);
	cr_assert_eq(n, 5);
	cr_expect_eq(out[1].type, U);
	cr_expect_eq(out[1].base, 2 * MIB);
	cr_expect_eq(out[2].type, R);
	cr_expect_eq(out[2].base, 4 * MIB);
	cr_expect_eq(out[2].size, 5 * MIB, "reserved 4, 6 and 8 MiB swallow their holes");
	cr_expect_eq(out[3].type, U);
	cr_expect_eq(out[3].base, 10 * MIB);
	cr_expect_eq(out[4].type, R);
	cr_expect_eq(out[4].size, 3 * MIB);
}

Test(mb2_mmap, too_many_entries_drop_the_smallest_usable)
{
	struct boot_mem in[] = {
		{ 0, MIB, U }, { 2 * MIB, MIB, A }, { 4 * MIB, 0x1000, U }, { 6 * MIB, MIB, N },
		{ 8 * MIB, 4 * MIB, U },
	};
	struct boot_mem want[] = {
		{ 0, MIB, U }, { 2 * MIB, MIB, A }, { 6 * MIB, MIB, N }, { 8 * MIB, 4 * MIB, U },
	};

	expect(out, mb2_mmap_build(in, 5, NULL, 0, out, 4), want, 4);
}

Test(mb2_mmap, too_many_entries_with_nothing_to_give_up_fails)
{
	struct boot_mem in[] = {
		{ 0, MIB, A }, { 2 * MIB, MIB, N }, { 4 * MIB, MIB, A }, { 6 * MIB, MIB, N },
	};

	cr_expect_eq(mb2_mmap_build(in, 4, NULL, 0, out, 3), -1);
}

/* Is [a, a + 1) usable in the input map (some entry usable, none less usable)? */
static int usable_in(const struct boot_mem *in, unsigned n, uint64_t a)
{
	int usable = 0;

	for (unsigned i = 0; i < n; i++)
		if (in[i].base <= a && a - in[i].base < in[i].size) {
			if (in[i].type != U)
				return 0;
			usable = 1;
		}
	return usable;
}

Test(mb2_mmap, many_entries_never_become_more_usable)
{
	static struct boot_mem in[2000];
	static struct boot_mem small[BOOT_MAX_MMAP + 1];
	int n;

	srand(99);
	for (unsigned i = 0; i < 2000; i++)
		in[i] = (struct boot_mem){ (uint64_t)(rand() % 4000) * 0x1000,
					   (uint64_t)(1 + rand() % 8) * 0x1000,
					   i % 50 ? (rand() % 2 ? U : R) : (i % 100 ? A : N) };
	small[BOOT_MAX_MMAP].base = 0x5a5a;
	n = mb2_mmap_build(in, 2000, NULL, 0, small, BOOT_MAX_MMAP);
	check_clean(small, n);
	cr_expect_leq(n, BOOT_MAX_MMAP);
	cr_expect_eq(small[BOOT_MAX_MMAP].base, 0x5a5a, "wrote past max");
	for (int i = 0; i < n; i++)
		if (small[i].type == U)
			for (uint64_t a = small[i].base; a < small[i].base + small[i].size; a += 0x1000)
				cr_assert(usable_in(in, 2000, a), "0x%llx became usable",
					  (unsigned long long)a);
}

/* --- mb2_mem_find ---------------------------------------------------------------------- */

static const struct boot_mem fmap[] = {
	{ 0, 0x9fc00, U }, { 0x9fc00, 0x400, R }, { 0x100000, 0x3ff00000, U },
	{ 0x40000000, 0x1000, R },
};

Test(mb2_find, highest_fit_below_the_limit)
{
	cr_expect_eq(mb2_mem_find(fmap, 4, NULL, 0, 0x3000, 0x1000, 0x100000, 0x100000000ULL),
		     0x40000000 - 0x3000);
	cr_expect_eq(mb2_mem_find(fmap, 4, NULL, 0, 0x1000, 0x1000, 0x1000, 0xa0000), 0x9e000,
		     "the partial page at 0x9f000 is not usable as a whole");
}

Test(mb2_find, alignment_and_busy_ranges)
{
	struct mem_range busy[] = { { 0x3fe00000, 0x40000000 }, { 0x3fb00000, 0x3fc01000 } };

	/* below the first busy range, 2 MiB aligned: 0x3fc01000.. is free up to 0x3fe00000 */
	cr_expect_eq(mb2_mem_find(fmap, 4, busy, 2, 0x100000, 0x200000, 0x100000, 0x100000000ULL),
		     0x3fa00000);
	cr_expect_eq(mb2_mem_find(fmap, 4, busy, 2, 0x100000, 0x1000, 0x100000, 0x100000000ULL),
		     0x3fd00000);
}

Test(mb2_find, nothing_fits)
{
	struct mem_range busy[] = { { 0, 0xa0000 } };

	cr_expect_eq(mb2_mem_find(fmap, 4, busy, 1, 0x1000, 0x1000, 0x1000, 0xa0000), 0);
	cr_expect_eq(mb2_mem_find(fmap, 4, NULL, 0, 0x40000000, 0x1000, 0x100000, ~0ULL), 0);
	cr_expect_eq(mb2_mem_find(fmap, 4, NULL, 0, 0x1000, 3, 0x1000, ~0ULL), 0,
		     "an alignment that is not a power of two");
}
