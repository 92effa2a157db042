/* The firmware's memory map, turned into boot_info's: sorted, merged, at most `max`
 * entries. Runs after ExitBootServices, so it allocates nothing and calls no firmware.
 * Rule for every shortcut taken here: memory may become less usable, never more. */
#include <string.h>

#include "loader.h"

static uint32_t mem_type(uint32_t efi_type)
{
	switch (efi_type) {
	case EfiConventionalMemory:
	case EfiBootServicesCode:
	case EfiBootServicesData:
	case EfiLoaderCode:
	case EfiLoaderData:
		return BOOT_MEM_USABLE;
	case EfiACPIReclaimMemory:
		return BOOT_MEM_ACPI;
	case EfiACPIMemoryNVS:
		return BOOT_MEM_ACPI_NVS;
	default:
		if (efi_type == (uint32_t)MICA_MEMORY_TYPE)
			return BOOT_MEM_MICA;
		return BOOT_MEM_RESERVED; /* runtime services, MMIO, reserved, unusable, persistent */
	}
}

static void sort_by_base(struct boot_mem *m, unsigned n)
{
	/* Shell sort: a few hundred entries, no recursion, no extra memory. */
	for (unsigned gap = n / 2; gap > 0; gap /= 2)
		for (unsigned i = gap; i < n; i++) {
			struct boot_mem t = m[i];
			unsigned j = i;

			for (; j >= gap && m[j - gap].base > t.base; j -= gap)
				m[j] = m[j - gap];
			m[j] = t;
		}
}

/* Joins entries of one type that touch; returns the new count. */
static unsigned merge_touching(struct boot_mem *m, unsigned n)
{
	unsigned out = 0;

	for (unsigned i = 0; i < n; i++) {
		if (out && m[out - 1].type == m[i].type &&
		    m[out - 1].base + m[out - 1].size == m[i].base)
			m[out - 1].size += m[i].size;
		else
			m[out++] = m[i];
	}
	return out;
}

static unsigned drop(struct boot_mem *m, unsigned n, unsigned i)
{
	memmove(&m[i], &m[i + 1], (n - i - 1) * sizeof(*m));
	return n - 1;
}

/* Neighbouring reserved ranges swallow the hole between them: a hole is memory nobody may
 * use anyway. Returns the new count; stops as soon as there are at most max. */
static unsigned merge_reserved(struct boot_mem *m, unsigned n, unsigned max)
{
	for (unsigned i = 1; i < n && n > max;) {
		if (m[i - 1].type == BOOT_MEM_RESERVED && m[i].type == BOOT_MEM_RESERVED) {
			m[i - 1].size = m[i].base + m[i].size - m[i - 1].base;
			n = drop(m, n, i);
		} else {
			i++;
		}
	}
	return n;
}

/* Too many entries: merge reserved neighbours; if that is not enough, forget the smallest
 * usable range (its neighbours may then merge) and try again. */
static unsigned shrink(struct boot_mem *m, unsigned n, unsigned max)
{
	while ((n = merge_reserved(m, n, max)) > max) {
		unsigned best = n;

		for (unsigned i = 0; i < n; i++)
			if (m[i].type == BOOT_MEM_USABLE && (best == n || m[i].size < m[best].size))
				best = i;
		if (best == n)
			break;
		n = drop(m, n, best);
	}
	return n > max ? max : n; /* only without any usable entry left: cut the top */
}

unsigned mmap_translate(void *desc, uint64_t map_size, uint64_t desc_size,
			struct boot_mem *out, unsigned max)
{
	struct boot_mem *m = desc; /* rewritten in place: entry i never passes descriptor i */
	unsigned n = 0;

	if (desc_size < sizeof(EFI_MEMORY_DESCRIPTOR))
		return 0;
	for (uint64_t off = 0; off + desc_size <= map_size; off += desc_size) {
		const EFI_MEMORY_DESCRIPTOR *d = (const void *)((uint8_t *)desc + off);
		struct boot_mem e = {
			.base = d->PhysicalStart,
			.size = d->NumberOfPages * PAGE_SIZE,
			.type = mem_type(d->Type),
		};

		if (e.size)
			m[n++] = e;
	}
	sort_by_base(m, n);
	n = merge_touching(m, n);
	n = shrink(m, n, max);
	memcpy(out, m, n * sizeof(*m));
	return n;
}
