/* kernel/frame.c: the free-range list, its invariants, and the memory-map import. */
#include <criterion/criterion.h>
#include <string.h>

#include "kernel/frame.h"

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static struct frame_pool pool;

/* Sorted, disjoint, never adjacent, frame-aligned, non-empty, page 0 never free. */
static void check_invariants(const struct frame_pool *p)
{
	cr_assert(p->n <= FRAME_MAX_RANGES);
	for (unsigned i = 0; i < p->n; i++) {
		const struct frame_range *r = &p->free[i];
		cr_assert(r->size > 0, "range %u empty", i);
		cr_assert(r->base % FRAME_SIZE == 0 && r->size % FRAME_SIZE == 0, "range %u unaligned", i);
		cr_assert(r->base != 0, "page 0 is free");
		cr_assert(r->base + r->size > r->base, "range %u wraps", i);
		if (i)
			cr_assert(p->free[i - 1].base + p->free[i - 1].size < r->base,
				  "ranges %u and %u overlap or touch", i - 1, i);
	}
}

/* Expects exactly the ranges given as base,size pairs. */
static void expect_ranges(const struct frame_pool *p, unsigned n, const uint64_t *pairs)
{
	check_invariants(p);
	cr_assert_eq(p->n, n, "%u ranges, expected %u", p->n, n);
	for (unsigned i = 0; i < n; i++) {
		cr_expect_eq(p->free[i].base, pairs[2 * i], "range %u base %#llx, expected %#llx", i,
			     (unsigned long long)p->free[i].base, (unsigned long long)pairs[2 * i]);
		cr_expect_eq(p->free[i].size, pairs[2 * i + 1], "range %u size %#llx, expected %#llx",
			     i, (unsigned long long)p->free[i].size,
			     (unsigned long long)pairs[2 * i + 1]);
	}
}

#define EXPECT(...)                                                                  \
	do {                                                                         \
		const uint64_t pairs_[] = { __VA_ARGS__ };                           \
		expect_ranges(&pool, sizeof(pairs_) / sizeof(pairs_[0]) / 2, pairs_); \
	} while (0)

static void init(void)
{
	memset(&pool, 0xa5, sizeof(pool));
	frame_pool_init(&pool);
}

TestSuite(frame, .init = init);

Test(frame, empty)
{
	cr_expect_eq(pool.n, 0);
	cr_expect_eq(frame_alloc(&pool, 4096, 4096), 0);
	cr_expect_eq(frame_pool_free_bytes(&pool), 0);
	cr_expect_eq(frame_pool_largest(&pool, 4096), 0);
}

Test(frame, free_merges_neighbours)
{
	cr_assert_eq(frame_free(&pool, 0x10000, 0x1000), 0);
	cr_assert_eq(frame_free(&pool, 0x30000, 0x1000), 0);
	EXPECT(0x10000, 0x1000, 0x30000, 0x1000);
	cr_assert_eq(frame_free(&pool, 0x11000, 0x1000), 0); /* joins the left one */
	EXPECT(0x10000, 0x2000, 0x30000, 0x1000);
	cr_assert_eq(frame_free(&pool, 0x2f000, 0x1000), 0); /* joins the right one */
	EXPECT(0x10000, 0x2000, 0x2f000, 0x2000);
	cr_assert_eq(frame_free(&pool, 0x12000, 0x1d000), 0); /* fills the gap: one range */
	EXPECT(0x10000, 0x21000);
	cr_expect_eq(frame_pool_free_bytes(&pool), 0x21000);
	cr_assert_eq(frame_free(&pool, 0x8000, 0x1000), 0); /* before, not touching */
	EXPECT(0x8000, 0x1000, 0x10000, 0x21000);
}

Test(frame, free_rounds_size_up)
{
	cr_assert_eq(frame_free(&pool, 0x10000, 1), 0);
	EXPECT(0x10000, 0x1000);
	cr_assert_eq(frame_free(&pool, 0x11000, 0x1001), 0);
	EXPECT(0x10000, 0x3000);
}

Test(frame, free_rejects_bad_ranges)
{
	cr_assert_eq(frame_free(&pool, 0x10000, 0x4000), 0);
	/* Double free, partial overlaps, enclosing: all refused, nothing changes. */
	cr_expect_eq(frame_free(&pool, 0x10000, 0x4000), MICA_EINVAL);
	cr_expect_eq(frame_free(&pool, 0x12000, 0x1000), MICA_EINVAL);
	cr_expect_eq(frame_free(&pool, 0xf000, 0x2000), MICA_EINVAL);
	cr_expect_eq(frame_free(&pool, 0x13000, 0x2000), MICA_EINVAL);
	cr_expect_eq(frame_free(&pool, 0x8000, 0x20000), MICA_EINVAL);
	/* Page 0, unaligned base, empty, wrapping. */
	cr_expect_eq(frame_free(&pool, 0, 0x1000), MICA_EINVAL);
	cr_expect_eq(frame_free(&pool, 0x20800, 0x1000), MICA_EINVAL);
	cr_expect_eq(frame_free(&pool, 0x20000, 0), MICA_EINVAL);
	cr_expect_eq(frame_free(&pool, 0xfffffffffffff000ULL, 0x1000), MICA_EINVAL);
	cr_expect_eq(frame_free(&pool, 0xffffffff00000000ULL, 0x100000000ULL), MICA_EINVAL);
	cr_expect_eq(frame_free(&pool, 0x40000, UINT64_MAX), MICA_EINVAL);
	EXPECT(0x10000, 0x4000);
	/* The highest frame that can be described is fine. */
	cr_expect_eq(frame_free(&pool, 0xffffffffffffe000ULL, 0x1000), 0);
	EXPECT(0x10000, 0x4000, 0xffffffffffffe000ULL, 0x1000);
}

Test(frame, alloc_first_fit_and_split)
{
	frame_free(&pool, 0x1000, 0x3000);	 /* [0x1000, 0x4000) */
	frame_free(&pool, 0x100000, 0x100000); /* [1M, 2M) */
	cr_expect_eq(frame_alloc(&pool, 0x1000, 0), 0x1000);
	EXPECT(0x2000, 0x2000, 0x100000, 0x100000);
	cr_expect_eq(frame_alloc(&pool, 0x3000, 4096), 0x100000); /* does not fit the first */
	EXPECT(0x2000, 0x2000, 0x103000, 0xfd000);
	cr_expect_eq(frame_alloc(&pool, 1, 4096), 0x2000); /* rounded to a frame */
	cr_expect_eq(frame_alloc(&pool, 0x1000, 4096), 0x3000);
	EXPECT(0x103000, 0xfd000);
	/* An aligned block from the middle splits the range. */
	cr_expect_eq(frame_alloc(&pool, 0x1000, 0x10000), 0x110000);
	EXPECT(0x103000, 0xd000, 0x111000, 0xef000);
	cr_expect_eq(frame_pool_free_bytes(&pool), 0xfc000);
}

Test(frame, alloc_2mib_alignment)
{
	frame_free(&pool, 0x1000, 8 * MIB - 0x1000);
	uint64_t a = frame_alloc(&pool, 2 * MIB, 2 * MIB);
	cr_expect_eq(a, 2 * MIB);
	EXPECT(0x1000, 2 * MIB - 0x1000, 4 * MIB, 4 * MIB);
	cr_expect_eq(frame_pool_largest(&pool, 2 * MIB), 4 * MIB);
	cr_expect_eq(frame_pool_largest(&pool, 4096), 4 * MIB);
	cr_expect_eq(frame_alloc(&pool, 4 * MIB, 2 * MIB), 4 * MIB);
	EXPECT(0x1000, 2 * MIB - 0x1000);
	cr_expect_eq(frame_alloc(&pool, 0x1000, 2 * MIB), 0); /* no 2 MiB boundary left */
	cr_expect_eq(frame_pool_largest(&pool, 2 * MIB), 0);
	cr_expect_eq(frame_pool_largest(&pool, 4096), 2 * MIB - 0x1000);
	/* Freeing the blocks merges everything back. */
	cr_assert_eq(frame_free(&pool, a, 2 * MIB), 0);
	cr_assert_eq(frame_free(&pool, 4 * MIB, 4 * MIB), 0);
	EXPECT(0x1000, 8 * MIB - 0x1000);
}

Test(frame, alloc_bad_arguments)
{
	frame_free(&pool, 0x1000, 16 * MIB);
	cr_expect_eq(frame_alloc(&pool, 0, 4096), 0);
	cr_expect_eq(frame_alloc(&pool, 4096, 3 * 4096), 0); /* not a power of two */
	cr_expect_eq(frame_alloc(&pool, UINT64_MAX, 4096), 0);
	cr_expect_eq(frame_alloc(&pool, 4096, 1ULL << 63), 0); /* alignment past everything */
	cr_expect_eq(frame_alloc(&pool, 32 * MIB, 4096), 0);
	cr_expect_eq(frame_pool_largest(&pool, 3 * 4096), 0);
	cr_expect_eq(frame_alloc(&pool, 4096, 16), 0x1000); /* small alignments mean a frame */
	EXPECT(0x2000, 16 * MIB - 0x1000);
}

Test(frame, exhaustion)
{
	frame_free(&pool, 0x1000, 64 * 4096);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(frame_alloc(&pool, 4096, 4096), 0x1000 + (uint64_t)i * 4096);
	cr_expect_eq(pool.n, 0);
	cr_expect_eq(frame_alloc(&pool, 4096, 4096), 0);
	/* Free every other frame, then the rest: one range again. */
	for (int i = 0; i < 64; i += 2)
		cr_assert_eq(frame_free(&pool, 0x1000 + (uint64_t)i * 4096, 4096), 0);
	cr_expect_eq(pool.n, 32);
	cr_expect_eq(frame_alloc(&pool, 2 * 4096, 4096), 0); /* fragmented: no two together */
	for (int i = 1; i < 64; i += 2)
		cr_assert_eq(frame_free(&pool, 0x1000 + (uint64_t)i * 4096, 4096), 0);
	EXPECT(0x1000, 64 * 4096);
}

/* Fills the list to FRAME_MAX_RANGES one-frame holes apart. */
static void fill_list(void)
{
	for (unsigned i = 0; i < FRAME_MAX_RANGES; i++)
		cr_assert_eq(frame_free(&pool, 0x100000 + (uint64_t)i * 0x10000, 0x4000), 0);
	cr_assert_eq(pool.n, FRAME_MAX_RANGES);
}

Test(frame, full_list)
{
	fill_list();
	struct frame_pool before = pool;
	/* A new separate range does not fit; merging with a neighbour does. */
	cr_expect_eq(frame_free(&pool, 0x10000, 0x1000), MICA_ENOMEM);
	cr_expect(memcmp(&before, &pool, sizeof(pool)) == 0);
	cr_expect_eq(frame_free(&pool, 0x104000, 0x1000), 0);
	cr_expect_eq(pool.free[0].size, 0x5000);
	/* Reserving the middle of a range would split it: refused, nothing changes. */
	before = pool;
	cr_expect_eq(frame_reserve(&pool, 0x111000, 0x1000), MICA_ENOMEM);
	cr_expect(memcmp(&before, &pool, sizeof(pool)) == 0);
	/* Ends of ranges are still usable. */
	cr_expect_eq(frame_reserve(&pool, 0x100000, 0x1000), 0);
	cr_expect_eq(pool.free[0].base, 0x101000);
	/* An aligned alloc that would split the first range skips to one that needs no split. */
	uint64_t a = frame_alloc(&pool, 0x1000, 0x2000);
	cr_expect_eq(a, 0x110000, "got %#llx", (unsigned long long)a);
	check_invariants(&pool);
	cr_expect_eq(pool.free[0].base, 0x101000);
	cr_expect_eq(pool.free[0].size, 0x4000);
	cr_expect_eq(pool.free[1].base, 0x111000);
}

Test(frame, full_list_alloc_fails_cleanly)
{
	/* Every range's first 8 KiB-aligned frame is in its middle. */
	for (unsigned i = 0; i < FRAME_MAX_RANGES; i++)
		cr_assert_eq(frame_free(&pool, 0x101000 + (uint64_t)i * 0x10000, 0x3000), 0);
	struct frame_pool before = pool;
	cr_expect_eq(frame_alloc(&pool, 0x1000, 0x2000), 0);
	cr_expect(memcmp(&before, &pool, sizeof(pool)) == 0);
	/* largest() only promises blocks that need no split. */
	cr_expect_eq(frame_pool_largest(&pool, 0x2000), 0x2000);
	cr_expect_eq(frame_alloc(&pool, 0x2000, 0x2000), 0x102000);
}

Test(frame, reserve)
{
	frame_free(&pool, 0x10000, 0x10000);
	frame_free(&pool, 0x30000, 0x10000);
	cr_expect_eq(frame_reserve(&pool, 0x14800, 0x1000), 0); /* rounded out to 2 frames */
	EXPECT(0x10000, 0x4000, 0x16000, 0xa000, 0x30000, 0x10000);
	cr_expect_eq(frame_reserve(&pool, 0x1e000, 0x13000), 0); /* spans two ranges and a gap */
	EXPECT(0x10000, 0x4000, 0x16000, 0x8000, 0x31000, 0xf000);
	cr_expect_eq(frame_reserve(&pool, 0x0, 0x15000), 0); /* covers a whole range */
	EXPECT(0x16000, 0x8000, 0x31000, 0xf000);
	cr_expect_eq(frame_reserve(&pool, 0x50000, 0x1000), 0); /* nothing free there */
	cr_expect_eq(frame_reserve(&pool, 0x16000, 0), 0);	 /* empty */
	EXPECT(0x16000, 0x8000, 0x31000, 0xf000);
	cr_expect_eq(frame_reserve(&pool, 0x38000, UINT64_MAX), 0); /* wraps: to the top */
	EXPECT(0x16000, 0x8000, 0x31000, 0x7000);
	cr_expect_eq(frame_reserve(&pool, 0, UINT64_MAX), 0);
	cr_expect_eq(pool.n, 0);
}

Test(frame, add_map)
{
	const struct boot_mem map[] = {
		{ 0x0, 0x9f000, BOOT_MEM_USABLE, 0 },		     /* page 0 never free */
		{ 0x9f000, 0x61000, BOOT_MEM_RESERVED, 0 },
		{ 0x100800, 0x7f00000 - 0x1000, BOOT_MEM_USABLE, 0 }, /* shrunk inward */
		{ 0x200000, 0x100000, BOOT_MEM_MICA, 0 },	     /* inside usable */
		{ 0x7ff0000, 0x10000, BOOT_MEM_ACPI, 0 },
		{ 0x8000000, 0x1000, BOOT_MEM_ACPI_NVS, 0 },
		{ 0x100000000ULL, 0x40000000ULL, BOOT_MEM_USABLE, 0 },
		{ 0x100000000ULL + 0x800, 0x10, 0 /* unknown type */, 0 },
	};
	cr_assert_eq(frame_pool_add_map(&pool, map, sizeof(map) / sizeof(map[0]), 0), 0);
	EXPECT(0x1000, 0x9e000,
	       0x101000, 0xff000,
	       0x300000, 0x7ff0000 - 0x300000,
	       0x100001000ULL, 0x40000000ULL - 0x1000);
	cr_expect_eq(frame_pool_largest(&pool, 2 * MIB), 0x40000000ULL - 2 * MIB);
}

Test(frame, add_map_min_addr_and_overlaps)
{
	const struct boot_mem map[] = {
		{ 0x1000, 0x9e000, BOOT_MEM_USABLE, 0 },
		{ 0x100000, 0x1000000, BOOT_MEM_USABLE, 0 },
		{ 0x800000, 0x1000000, BOOT_MEM_USABLE, 0 }, /* overlaps the one before */
		{ 0x1000000, 0x1000, BOOT_MEM_RESERVED, 0 }, /* overlaps both */
		{ 0x2000000, 0x1000, BOOT_MEM_USABLE, 0 },
		{ 0x3000000, 0x800, BOOT_MEM_USABLE, 0 },     /* less than a frame: nothing */
		{ 0x4000800, 0x1000, BOOT_MEM_USABLE, 0 },    /* no whole frame inside */
		{ 0xfffffffffffff000ULL, 0x2000, BOOT_MEM_USABLE, 0 }, /* wraps */
	};
	cr_assert_eq(frame_pool_add_map(&pool, map, sizeof(map) / sizeof(map[0]), 0x100001), 0);
	EXPECT(0x101000, 0x1000000 - 0x101000,
	       0x1001000, 0x1800000 - 0x1001000,
	       0x2000000, 0x1000);
	/* Adding the same map again is harmless (usable entries are a union). */
	cr_assert_eq(frame_pool_add_map(&pool, map, sizeof(map) / sizeof(map[0]), 0x100001), 0);
	cr_expect_eq(pool.n, 3);
	cr_expect_eq(frame_pool_add_map(&pool, NULL, 3, 0), MICA_EINVAL);
	cr_expect_eq(frame_pool_add_map(&pool, NULL, 0, 0), 0);
}

Test(frame, add_map_reserved_never_handed_out)
{
	const struct boot_mem map[] = {
		{ 0x100000, 0x400000, BOOT_MEM_USABLE, 0 },
		{ 0x180000, 0x1000, BOOT_MEM_ACPI, 0 },
		{ 0x300fff, 0x2, BOOT_MEM_RESERVED, 0 }, /* straddles two frames */
	};
	cr_assert_eq(frame_pool_add_map(&pool, map, 3, 0), 0);
	uint64_t a;
	while ((a = frame_alloc(&pool, 4096, 4096)) != 0) {
		cr_assert(a < 0x180000 || a >= 0x181000, "ACPI page %#llx handed out",
			  (unsigned long long)a);
		cr_assert(a < 0x300000 || a >= 0x302000, "reserved page %#llx handed out",
			  (unsigned long long)a);
		cr_assert(a >= 0x100000 && a < 0x500000);
	}
	cr_expect_eq(pool.n, 0);
}

Test(frame, add_map_full_list_empties_pool)
{
	struct boot_mem map[FRAME_MAX_RANGES + 1];
	for (unsigned i = 0; i < FRAME_MAX_RANGES + 1; i++)
		map[i] = (struct boot_mem){ 0x100000 + (uint64_t)i * 0x10000, 0x4000,
					    BOOT_MEM_USABLE, 0 };
	cr_expect_eq(frame_pool_add_map(&pool, map, FRAME_MAX_RANGES + 1, 0), MICA_ENOMEM);
	cr_expect_eq(pool.n, 0);

	/* A reservation that cannot be honoured must not leave the memory in the pool. */
	struct boot_mem map2[FRAME_MAX_RANGES + 1];
	for (unsigned i = 0; i < FRAME_MAX_RANGES; i++)
		map2[i] = (struct boot_mem){ 0x100000 + (uint64_t)i * 0x10000, 0x4000,
					     BOOT_MEM_USABLE, 0 };
	map2[FRAME_MAX_RANGES] = (struct boot_mem){ 0x101000, 0x1000, BOOT_MEM_RESERVED, 0 };
	cr_expect_eq(frame_pool_add_map(&pool, map2, FRAME_MAX_RANGES + 1, 0), MICA_ENOMEM);
	cr_expect_eq(pool.n, 0);
}

/* Random frees, reserves and allocs against a bitmap model of 1024 frames. */
Test(frame, model)
{
	enum { FRAMES = 1024 };
	static unsigned char model[FRAMES]; /* 1 = free */
	uint64_t s = 12345;
	const uint64_t base = 0x10000;

	memset(model, 0, sizeof(model));
	for (int iter = 0; iter < 20000; iter++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		unsigned at = (unsigned)(s % FRAMES);
		unsigned len = 1 + (unsigned)((s >> 20) % 16);
		if (at + len > FRAMES)
			len = FRAMES - at;
		uint64_t addr = base + (uint64_t)at * FRAME_SIZE;
		switch ((s >> 40) % 3) {
		case 0: {
			int any_free = 0;
			for (unsigned i = at; i < at + len; i++)
				any_free |= model[i];
			int rc = frame_free(&pool, addr, (uint64_t)len * FRAME_SIZE);
			if (any_free) {
				cr_assert_eq(rc, MICA_EINVAL);
			} else if (rc == 0) {
				memset(model + at, 1, len);
			} else {
				cr_assert_eq(rc, MICA_ENOMEM);
			}
			break;
		}
		case 1:
			if (frame_reserve(&pool, addr, (uint64_t)len * FRAME_SIZE) == 0)
				memset(model + at, 0, len);
			break;
		case 2: {
			uint64_t align = FRAME_SIZE << ((s >> 50) % 4);
			uint64_t a = frame_alloc(&pool, (uint64_t)len * FRAME_SIZE, align);
			if (a) {
				cr_assert(a % align == 0);
				cr_assert(a >= base && a + len * FRAME_SIZE <= base + FRAMES * FRAME_SIZE);
				unsigned f = (unsigned)((a - base) / FRAME_SIZE);
				for (unsigned i = f; i < f + len; i++) {
					cr_assert(model[i], "frame %u handed out twice", i);
					model[i] = 0;
				}
			}
			break;
		}
		}
		check_invariants(&pool);
		uint64_t free_frames = 0;
		for (unsigned i = 0; i < FRAMES; i++)
			free_frames += model[i];
		cr_assert_eq(frame_pool_free_bytes(&pool), free_frames * FRAME_SIZE);
	}
}

/* frame_alloc_in: only inside [lo, hi), lowest fit first, with the alignment. */
Test(frame, alloc_in_a_window)
{
	frame_pool_init(&pool);
	cr_assert_eq(frame_free(&pool, 1 * MIB, 15 * MIB), 0);   /* [1 MiB, 16 MiB) */
	cr_assert_eq(frame_free(&pool, 4 * GIB, 2 * GIB), 0);    /* [4 GiB, 6 GiB) */
	cr_assert_eq(frame_alloc_in(&pool, 2 * MIB, 2 * MIB, 5 * GIB, 6 * GIB), 5 * GIB);
	cr_assert_eq(frame_alloc_in(&pool, 2 * MIB, 2 * MIB, 3 * MIB, 16 * MIB), 4 * MIB,
		     "aligned up from the window's start");
	cr_assert_eq(frame_alloc_in(&pool, 4 * MIB, 4 * KIB, 13 * MIB, 17 * MIB), 0,
		     "only 3 MiB of the window are free");
	cr_assert_eq(frame_alloc_in(&pool, 3 * MIB, 4 * KIB, 13 * MIB, 17 * MIB), 13 * MIB);
	cr_assert_eq(frame_alloc_in(&pool, 1 * GIB, 1 * GIB, 4 * GIB, 5 * GIB), 4 * GIB,
		     "a window that ends where a fit ends");
	cr_assert_eq(frame_alloc_in(&pool, 4 * KIB, 0, 7 * GIB, 8 * GIB), 0, "nothing there");
	cr_assert_eq(frame_alloc_in(&pool, 4 * KIB, 0, 8 * GIB, 7 * GIB), 0, "an empty window");
	check_invariants(&pool);
	/* What is left: [1, 4) MiB, [6, 13) MiB, [5 GiB + 2 MiB, 6 GiB). */
	uint64_t want[] = { 1 * MIB, 3 * MIB, 6 * MIB, 7 * MIB, 5 * GIB + 2 * MIB, 1 * GIB - 2 * MIB };
	expect_ranges(&pool, 3, want);
}
