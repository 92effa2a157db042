#ifndef MICA_ARCH_X86_PAGING_H
#define MICA_ARCH_X86_PAGING_H

#include <stdint.h>

/* Identity-maps [0, max(top, 4 GiB)) and switches to it; returns the mapped limit. */
uint64_t paging_init(uint64_t top);
/* Loads the core's tables on this CPU (APs). */
void paging_load(void);
uint64_t paging_root(void);
int cpu_has_1g_pages(void);

#endif
