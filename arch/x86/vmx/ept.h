/* Intel EPT entries (SDM 28.3.2). They share their layout with the long-mode tables that
 * arch/x86/pt.c builds: R, W, X sit at P, W, U; the leaf memory type at PWT/PCD/A; the
 * large-page bit at PS. So EPT is pt.c with these leaf flags. */
#ifndef MICA_VMX_EPT_H
#define MICA_VMX_EPT_H

#include <stdint.h>
#include "arch/x86/pt.h"
#include "kernel/virt.h"

#define EPT_R (1ULL << 0)
#define EPT_W (1ULL << 1)
#define EPT_X (1ULL << 2)
#define EPT_MEMTYPE_SHIFT 3
#define EPT_IGNORE_PAT (1ULL << 6)
#define EPT_MT_UC 0
#define EPT_MT_WB 6

#define EPTP_WB    6ULL
#define EPTP_WALK4 (3ULL << 3)

_Static_assert(EPT_R == PT_P && EPT_W == PT_W && EPT_X == PT_U, "EPT rides on pt.c");

/* Leaf flags for pt_map() (R is implied by PT_P). */
static inline uint64_t ept_leaf_flags(unsigned perm, unsigned memtype)
{
	return ((perm & S2_WRITE) ? EPT_W : 0) | ((perm & S2_EXEC) ? EPT_X : 0) |
	       ((uint64_t)(memtype & 7) << EPT_MEMTYPE_SHIFT);
}

/* EPT pointer: write-back paging structures, 4-level walk. */
static inline uint64_t ept_pointer(uint64_t root)
{
	return (root & PT_ADDR_MASK) | EPTP_WALK4 | EPTP_WB;
}

#endif
