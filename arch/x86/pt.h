/* Builder for x86-64 4-level page tables: the core's own tables and AMD NPT use this
 * format (EPT has its own). Pure logic: tables come from a caller-supplied allocator, so the
 * host unit tests can run it on malloc'ed memory. */
#ifndef MICA_ARCH_X86_PT_H
#define MICA_ARCH_X86_PT_H

#include <stdint.h>

#define PT_P   (1ULL << 0)
#define PT_W   (1ULL << 1)
#define PT_U   (1ULL << 2)
#define PT_PWT (1ULL << 3)
#define PT_PCD (1ULL << 4)
#define PT_A   (1ULL << 5)
#define PT_D   (1ULL << 6)
#define PT_PS  (1ULL << 7)
#define PT_G   (1ULL << 8)
#define PT_NX  (1ULL << 63)
#define PT_ADDR_MASK 0x000ffffffffff000ULL

#define PT_SIZE_4K (1ULL << 12)
#define PT_SIZE_2M (1ULL << 21)
#define PT_SIZE_1G (1ULL << 30)
#define PT_VA_LIMIT (1ULL << 48) /* what 4-level tables can map (lower half, identity-style) */

struct pt_alloc {
	/* Returns the physical address of a zeroed 4 KiB table, or 0 when out of memory. */
	uint64_t (*alloc)(void *ctx);
	/* Turns a table's physical address into a pointer the builder can write through. */
	void *(*to_virt)(void *ctx, uint64_t pa);
	void *ctx;
};

#define PT_BIG_2M 1u /* leaves may be 2 MiB pages */
#define PT_BIG_1G 2u /* leaves may be 1 GiB pages */

struct pt {
	uint64_t root;          /* physical address of the PML4 */
	const struct pt_alloc *a;
	unsigned big;           /* PT_BIG_*: the large pages this table may use */
};

/* Makes a new empty table. Returns 0, or MICA_EFAULT when no table could be had. */
int pt_init(struct pt *pt, const struct pt_alloc *a, unsigned big);

/* Maps [va, va+size) to [pa, pa+size) with leaf flags (PT_P is implied; PT_PS is chosen
 * here). Uses 1 GiB and 2 MiB pages (as pt->big allows) wherever va, pa and size allow.
 * The same builder serves Intel EPT, whose R/W/X and memory-type bits sit where P/W/U and
 * PWT/PCD/A are here (arch/x86/vmx/ept.c). Fails with MICA_EINVAL,
 * changing nothing it has not already mapped, if any part is already mapped, if the
 * arguments are not 4 KiB aligned or overflow PT_VA_LIMIT; MICA_EFAULT when out of tables. */
int pt_map(struct pt *pt, uint64_t va, uint64_t pa, uint64_t size, uint64_t flags);

/* Unmaps [va, va+size) (4 KiB aligned): whatever of it is mapped. A large page must lie
 * wholly inside the range; if one does not, nothing changes and MICA_EINVAL is returned
 * (as for bad arguments). Tables that become empty are kept. The caller invalidates TLBs. */
int pt_unmap(struct pt *pt, uint64_t va, uint64_t size);

/* Frees the tables wholly inside [va, va + size) that map nothing (after a pt_unmap of a
 * range that is gone for good, such as a destroyed partition's window), through
 * free_table, and clears the entries that pointed at them. The caller invalidates TLBs and
 * paging-structure caches before the tables can be used again. Returns how many. */
unsigned pt_prune(struct pt *pt, uint64_t va, uint64_t size,
		  void (*free_table)(void *ctx, uint64_t pa), void *ctx);

/* Frees every table of pt, the root last, through free_table (leaves are not the tables'
 * to free: they map the owner's memory). pt is unusable after. */
void pt_free(struct pt *pt, void (*free_table)(void *ctx, uint64_t pa), void *ctx);

/* Finds va's translation: returns 0 with *pa and *flags (of the leaf, PT_PS included) and
 * *page_size, or MICA_EFAULT when va is not mapped. */
int pt_lookup(const struct pt *pt, uint64_t va, uint64_t *pa, uint64_t *flags, uint64_t *page_size);

#endif
