/* Physical frame allocator: a sorted list of free ranges built from the boot memory map.
 * Pure logic (host unit tested); the caller serialises access (kernel: frame_lock). */
#ifndef MICA_FRAME_H
#define MICA_FRAME_H

#include <stdint.h>
#include <mica/boot_info.h>
#include <mica/hypercall.h>

#ifndef MICA_ENOMEM
#define MICA_ENOMEM (-12) /* the range list is full (same value as the errno it mirrors) */
#endif

#define FRAME_SIZE 4096ULL
#define FRAME_MAX_RANGES 256

struct frame_range {
	uint64_t base;
	uint64_t size;
};

struct frame_pool {
	unsigned n;                                 /* ranges in use, sorted by base, disjoint */
	struct frame_range free[FRAME_MAX_RANGES];  /* never adjacent: neighbours are merged */
};

void frame_pool_init(struct frame_pool *p);

/* Adds the BOOT_MEM_USABLE entries of map, shrunk inward to whole frames and clipped
 * below min_addr (and below FRAME_SIZE: page 0 is never free); then removes every
 * non-usable entry rounded outward (so an overlap never leaks firmware, ACPI or Mica
 * memory). Usable entries may overlap each other or what the pool holds already.
 * Returns 0, or MICA_ENOMEM when the list is full — the pool is then emptied, so memory
 * that should have been reserved can never be handed out. */
int frame_pool_add_map(struct frame_pool *p, const struct boot_mem *map, unsigned n,
		       uint64_t min_addr);

/* Returns [base, base+size) to the pool, merging neighbours. base must be frame-aligned
 * and non-zero, size non-zero (rounded up to frames). Returns MICA_EINVAL and changes
 * nothing if the range wraps or overlaps memory already free (a double free), MICA_ENOMEM
 * if it would need a new list entry and the list is full. */
int frame_free(struct frame_pool *p, uint64_t base, uint64_t size);

/* Removes [base, base+size), rounded outward to frames, from the pool wherever it is
 * free; parts that are not free are ignored. A range that wraps past the top of the
 * address space reserves everything above base. Returns 0, or MICA_ENOMEM (and changes
 * nothing) when the range splits a free range in two and the list is full. */
int frame_reserve(struct frame_pool *p, uint64_t base, uint64_t size);

/* Takes size bytes (rounded up to frames) aligned to align (a power of two >= FRAME_SIZE;
 * smaller powers of two and 0 mean FRAME_SIZE), lowest address first. Returns the base,
 * or 0 when nothing fits, size is 0 or align is not a power of two (0 is never free).
 * A fit that would split a range while the list is full is skipped. */
uint64_t frame_alloc(struct frame_pool *p, uint64_t size, uint64_t align);
/* The same, inside [lo, hi) only (a NUMA node's memory): lowest fit first. */
uint64_t frame_alloc_in(struct frame_pool *p, uint64_t size, uint64_t align, uint64_t lo,
			uint64_t hi);

uint64_t frame_pool_free_bytes(const struct frame_pool *p);

/* Largest block of size bytes with the given alignment that frame_alloc could return now. */
uint64_t frame_pool_largest(const struct frame_pool *p, uint64_t align);

#endif
