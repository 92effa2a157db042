/* MICA memory: pages the loader hands to the core. Each allocation is remembered so that a
 * boot that fails part-way can give everything back before returning to the firmware. */
#include <string.h>

#include "loader.h"

#define MICA_ALLOCS_MAX (BOOT_MAX_FILES + 8) /* files, core, config, boot_info, trampoline */

struct alloc {
	uint64_t addr, pages;
};

/* Boot CPU only, before ExitBootServices. */
static struct alloc allocs[MICA_ALLOCS_MAX];
static unsigned nallocs;

EFI_STATUS mica_alloc(EFI_ALLOCATE_TYPE how, uint64_t max, uint64_t bytes, uint64_t *addr)
{
	EFI_PHYSICAL_ADDRESS a = max;
	uint64_t pages = bytes ? PAGES(bytes) : 1;
	EFI_STATUS st;

	if (nallocs == MICA_ALLOCS_MAX)
		return EFI_OUT_OF_RESOURCES;
	st = g_bs->AllocatePages(how, MICA_MEMORY_TYPE, pages, &a);
	if (st != EFI_SUCCESS)
		return st;
	memset((void *)(uintptr_t)a, 0, pages * PAGE_SIZE);
	allocs[nallocs++] = (struct alloc){ a, pages };
	*addr = a;
	return EFI_SUCCESS;
}

void mica_free_all(void)
{
	while (nallocs) {
		nallocs--;
		g_bs->FreePages(allocs[nallocs].addr, allocs[nallocs].pages);
	}
}
