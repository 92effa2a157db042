/* Physical frame allocator: free memory as a sorted list of disjoint, non-adjacent ranges.
 * Pure logic (host unit tested). Every range is frame-aligned, never contains page 0 and
 * ends at or below FRAME_TOP, so base + size never wraps. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernel/frame.h"

#define FRAME_MASK (FRAME_SIZE - 1)
#define FRAME_TOP (~FRAME_MASK) /* highest representable end of a whole frame */

static uint64_t end_of(const struct frame_range *r)
{
	return r->base + r->size;
}

static void remove_at(struct frame_pool *p, unsigned i, unsigned count)
{
	memmove(&p->free[i], &p->free[i + count], (p->n - i - count) * sizeof(p->free[0]));
	p->n -= count;
}

static void insert_at(struct frame_pool *p, unsigned i, uint64_t base, uint64_t end)
{
	memmove(&p->free[i + 1], &p->free[i], (p->n - i) * sizeof(p->free[0]));
	p->free[i].base = base;
	p->free[i].size = end - base;
	p->n++;
}

/* Adds [base, end) (aligned, non-empty) as the union with whatever it overlaps or touches. */
static int add_union(struct frame_pool *p, uint64_t base, uint64_t end)
{
	unsigned i = 0, j;

	while (i < p->n && end_of(&p->free[i]) < base)
		i++;
	for (j = i; j < p->n && p->free[j].base <= end; j++) {
		if (p->free[j].base < base)
			base = p->free[j].base;
		if (end_of(&p->free[j]) > end)
			end = end_of(&p->free[j]);
	}
	if (j == i) {
		if (p->n == FRAME_MAX_RANGES)
			return MICA_ENOMEM;
		insert_at(p, i, base, end);
		return 0;
	}
	p->free[i].base = base;
	p->free[i].size = end - base;
	remove_at(p, i + 1, j - i - 1);
	return 0;
}

/* Removes [base, end) (aligned) wherever it is free; all or nothing. */
static int remove_range(struct frame_pool *p, uint64_t base, uint64_t end)
{
	unsigned i = 0;

	while (i < p->n && end_of(&p->free[i]) <= base)
		i++;
	while (i < p->n && p->free[i].base < end) {
		struct frame_range *r = &p->free[i];
		uint64_t rend = end_of(r);

		if (r->base < base && rend > end) {
			/* Strictly inside one range: the only case that needs a new entry. */
			if (p->n == FRAME_MAX_RANGES)
				return MICA_ENOMEM;
			r->size = base - r->base;
			insert_at(p, i + 1, end, rend);
			return 0;
		}
		if (r->base < base) {
			r->size = base - r->base;
			i++;
		} else if (rend > end) {
			r->base = end;
			r->size = rend - end;
			return 0;
		} else {
			remove_at(p, i, 1);
		}
	}
	return 0;
}

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

void frame_pool_init(struct frame_pool *p)
{
	p->n = 0;
}

int frame_pool_add_map(struct frame_pool *p, const struct boot_mem *map, unsigned n,
		       uint64_t min_addr)
{
	uint64_t floor;
	int rc = 0;

	if (!map && n)
		return MICA_EINVAL;
	floor = min_addr > FRAME_TOP ? FRAME_TOP : (min_addr + FRAME_MASK) & ~FRAME_MASK;
	if (floor < FRAME_SIZE)
		floor = FRAME_SIZE;

	for (unsigned i = 0; i < n && !rc; i++) {
		const struct boot_mem *m = &map[i];
		if (m->type != BOOT_MEM_USABLE || !m->size)
			continue;
		uint64_t base = m->base > FRAME_TOP ? FRAME_TOP : (m->base + FRAME_MASK) & ~FRAME_MASK;
		uint64_t end = m->base + m->size < m->base ? FRAME_TOP
							    : (m->base + m->size) & ~FRAME_MASK;
		if (base < floor)
			base = floor;
		if (base < end)
			rc = add_union(p, base, end);
	}
	for (unsigned i = 0; i < n && !rc; i++)
		if (map[i].type != BOOT_MEM_USABLE)
			rc = frame_reserve(p, map[i].base, map[i].size);
	if (rc)
		p->n = 0;
	return rc;
}

int frame_free(struct frame_pool *p, uint64_t base, uint64_t size)
{
	if (!base || (base & FRAME_MASK) || !size || size > FRAME_TOP - base)
		return MICA_EINVAL;
	uint64_t end = base + ((size + FRAME_MASK) & ~FRAME_MASK);
	if (end > FRAME_TOP || end <= base)
		return MICA_EINVAL;
	for (unsigned i = 0; i < p->n && p->free[i].base < end; i++)
		if (end_of(&p->free[i]) > base)
			return MICA_EINVAL; /* already (partly) free */
	return add_union(p, base, end);
}

int frame_reserve(struct frame_pool *p, uint64_t base, uint64_t size)
{
	if (!size)
		return 0;
	uint64_t start = base & ~FRAME_MASK;
	uint64_t last = base + size - 1; /* the last byte; wraps when the range does */
	uint64_t end = last < base || last >= FRAME_TOP ? FRAME_TOP
							: (last | FRAME_MASK) + 1;
	if (start >= end)
		return 0;
	return remove_range(p, start, end);
}

uint64_t frame_alloc(struct frame_pool *p, uint64_t size, uint64_t align)
{
	return frame_alloc_in(p, size, align, 0, UINT64_MAX);
}

uint64_t frame_alloc_in(struct frame_pool *p, uint64_t size, uint64_t align, uint64_t lo,
			uint64_t hi)
{
	if (align < FRAME_SIZE)
		align = FRAME_SIZE;
	if (!is_pow2(align) || !size || size > FRAME_TOP || lo >= hi)
		return 0;
	size = (size + FRAME_MASK) & ~FRAME_MASK;

	for (unsigned i = 0; i < p->n; i++) {
		struct frame_range *r = &p->free[i];
		uint64_t rend = end_of(r) < hi ? end_of(r) : hi;
		uint64_t from = r->base > lo ? r->base : lo;
		uint64_t a = (from + align - 1) & ~(align - 1);

		if (from > UINT64_MAX - (align - 1) || a >= rend || rend - a < size)
			continue;
		rend = end_of(r);
		if (a == r->base && size == r->size) {
			remove_at(p, i, 1);
		} else if (a == r->base) {
			r->base += size;
			r->size -= size;
		} else if (a + size == rend) {
			r->size -= size;
		} else {
			if (p->n == FRAME_MAX_RANGES)
				continue; /* a split needs an entry we do not have */
			r->size = a - r->base;
			insert_at(p, i + 1, a + size, rend);
		}
		return a;
	}
	return 0;
}

uint64_t frame_pool_free_bytes(const struct frame_pool *p)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < p->n; i++)
		sum += p->free[i].size;
	return sum;
}

uint64_t frame_pool_largest(const struct frame_pool *p, uint64_t align)
{
	uint64_t best = 0;

	if (align < FRAME_SIZE)
		align = FRAME_SIZE;
	if (!is_pow2(align))
		return 0;
	for (unsigned i = 0; i < p->n; i++) {
		const struct frame_range *r = &p->free[i];
		uint64_t rend = end_of(r);
		uint64_t a = (r->base + align - 1) & ~(align - 1);

		/* Ending the block at the range's end never needs a split. */
		if (r->base <= UINT64_MAX - (align - 1) && a < rend && rend - a > best)
			best = rend - a;
	}
	return best;
}
