#include <string.h>
#include "kernel/frame.h"
#include "kernel/log.h"
#include "kernel/mem.h"
#include "kernel/spinlock.h"

#define LOW_LIMIT 0x100000ULL /* below 1 MiB: legacy areas, AP start-up page; never handed out */

/* The one pool of free memory; any CPU, under pool_lock. */
static struct frame_pool pool;
static struct spinlock pool_lock = SPINLOCK_INIT;

void mem_init(const struct boot_info *bi)
{
	frame_pool_init(&pool);
	if (frame_pool_add_map(&pool, bi->mmap, bi->nmmap, LOW_LIMIT))
		log_info("memory map has more free ranges than the allocator keeps; some RAM is unused");
	/* The core image is MICA memory in the map already; be safe if a boot path forgot. */
	frame_reserve(&pool, bi->core_base, bi->core_size);
#ifdef MICA_TEST_DIRTY_RAM
	/* Test build only (docs/testing.md): free memory dirty, as on a machine whose RAM held
	 * another system's data, so that the tests see that partitions get it cleared. The
	 * first 64 MiB of each free range: partitions' RAM is taken lowest first, and filling
	 * gigabytes would take minutes under Bochs. */
	for (unsigned i = 0; i < pool.n; i++)
		memset(phys_to_virt(pool.free[i].base), 0xa5,
		       pool.free[i].size < (64ULL << 20) ? pool.free[i].size : (64ULL << 20));
#endif
}

uint64_t mem_alloc_raw(uint64_t size, uint64_t align)
{
	return mem_alloc_raw_in(size, align, 0, UINT64_MAX);
}

uint64_t mem_alloc_raw_in(uint64_t size, uint64_t align, uint64_t lo, uint64_t hi)
{
	uint64_t f = spin_lock(&pool_lock);
	uint64_t pa = frame_alloc_in(&pool, size, align < FRAME_SIZE ? FRAME_SIZE : align, lo, hi);
	spin_unlock(&pool_lock, f);
	return pa;
}

uint64_t mem_alloc(uint64_t size, uint64_t align)
{
	uint64_t pa = mem_alloc_raw(size, align);
	if (pa)
		memset(phys_to_virt(pa), 0, size);
	return pa;
}

void mem_free(uint64_t base, uint64_t size)
{
	uint64_t f = spin_lock(&pool_lock);
	frame_free(&pool, base, size);
	spin_unlock(&pool_lock, f);
}

uint64_t mem_free_bytes(void)
{
	uint64_t f = spin_lock(&pool_lock);
	uint64_t n = frame_pool_free_bytes(&pool);
	spin_unlock(&pool_lock, f);
	return n;
}

uint64_t mem_map_top(const struct boot_info *bi)
{
	uint64_t top = 0;
	for (unsigned i = 0; i < bi->nmmap && i < BOOT_MAX_MMAP; i++) {
		const struct boot_mem *m = &bi->mmap[i];
		if (m->type != BOOT_MEM_RESERVED && m->base + m->size > top)
			top = m->base + m->size;
	}
	return top;
}
