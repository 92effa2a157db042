/* AMD-Vi I/O page tables (AMD IOMMU spec 48882, 2.2.3): the format differs from the CPU's
 * (a "next level" field instead of a page-size bit, read and write permission bits at the
 * top), so the IOMMU's tables for a partition are built here from the same map as its
 * stage-2. Pure logic over a caller-supplied allocator (arch/x86/pt.h), unit tested. */
#ifndef MICA_ARCH_X86_IOMMU_AMDVI_PT_H
#define MICA_ARCH_X86_IOMMU_AMDVI_PT_H

#include <stdint.h>
#include "arch/x86/pt.h"

#define AMDVI_PTE_PR       (1ull << 0)
#define AMDVI_PTE_NEXT(l)  ((uint64_t)(l) << 9)  /* next level 1..7; 0 marks a page */
#define AMDVI_PTE_LEVEL(e) ((unsigned)((e) >> 9) & 7)
#define AMDVI_PTE_IR       (1ull << 61)
#define AMDVI_PTE_IW       (1ull << 62)
#define AMDVI_PTE_ADDR     0x000ffffffffff000ull

struct amdvi_pt {
	uint64_t root;          /* the top table (level `levels`) */
	unsigned levels;        /* 3 (39-bit addresses) or 4 (48-bit) */
	const struct pt_alloc *a;
};

/* An empty table of levels 3 or 4: 0, or MICA_EFAULT / MICA_EINVAL. */
int amdvi_pt_init(struct amdvi_pt *t, const struct pt_alloc *a, unsigned levels);

/* Maps [iova, iova+size) to [pa, pa+size) in 4 KiB pages with read (and write when
 * writable) permission. Directory entries carry both permissions: the leaf decides. Fails
 * with MICA_EINVAL (misaligned, beyond the levels' reach, or already mapped: nothing of
 * that page changes) or MICA_EFAULT (no tables left). */
int amdvi_pt_map(struct amdvi_pt *t, uint64_t iova, uint64_t pa, uint64_t size, int writable);

/* iova's translation: 0 with *pa and *writable, or MICA_EFAULT when not mapped. */
int amdvi_pt_lookup(const struct amdvi_pt *t, uint64_t iova, uint64_t *pa, int *writable);

#endif
