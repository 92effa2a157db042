/* Where both IOMMU drivers get the pages of their tables: zeroed 4 KiB frames from the
 * core's allocator, reached through the identity map. */
#ifndef MICA_ARCH_X86_IOMMU_TABLES_H
#define MICA_ARCH_X86_IOMMU_TABLES_H

#include "arch/x86/pt.h"

extern const struct pt_alloc iommu_table_alloc;

#endif
