/* For the page-table builder tests (test_pt.c, test_amdvi_pt.c): a struct pt_alloc whose
 * tables are malloc'ed pages (their host address is their "physical" one), at most limit
 * of them, freed by arena_free(). */
#ifndef MICA_TEST_PT_ARENA_H
#define MICA_TEST_PT_ARENA_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "arch/x86/pt.h"

struct arena {
	unsigned used, limit;
	void *pages[64];
};

static uint64_t arena_alloc(void *ctx)
{
	struct arena *a = ctx;
	if (a->used == a->limit)
		return 0;
	void *p = aligned_alloc(4096, 4096);
	memset(p, 0, 4096);
	a->pages[a->used++] = p;
	return (uint64_t)(uintptr_t)p;
}

static void *arena_virt(void *ctx, uint64_t pa)
{
	(void)ctx;
	return (void *)(uintptr_t)pa;
}

static struct arena arena;
static struct pt_alloc ops = { arena_alloc, arena_virt, &arena };

static void arena_free(void)
{
	for (unsigned i = 0; i < arena.used; i++)
		free(arena.pages[i]);
}

#endif
