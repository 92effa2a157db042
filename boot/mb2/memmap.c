/* boot_info's memory map for the Multiboot2 path, and finding free memory in it.
 * The BIOS map (E820, through GRUB) may be unsorted, overlapping or split into touching
 * pieces; the result is sorted and clean. Rule for every decision here: memory may become
 * less usable than the firmware said, never more. Pure logic. */
#include <string.h>

#include "mb2.h"

/* Where ranges overlap, the higher rank wins. */
static unsigned rank(uint32_t type)
{
	switch (type) {
	case BOOT_MEM_USABLE:   return 0;
	case BOOT_MEM_MICA:     return 1;
	case BOOT_MEM_ACPI:     return 2;
	case BOOT_MEM_ACPI_NVS: return 3;
	default:                return 4; /* RESERVED, or a type nobody defined */
	}
}

static uint64_t end_of(const struct boot_mem *e)
{
	return e->size > UINT64_MAX - e->base ? UINT64_MAX : e->base + e->size;
}

static void drop(struct boot_mem *m, unsigned *n, unsigned i)
{
	memmove(&m[i], &m[i + 1], (*n - i - 1) * sizeof(*m));
	(*n)--;
}

/* out is full and e must go after it: make room, or decide e is not worth it.
 * Returns 1 if e should be appended, 0 if it was absorbed or left out, -1 if neither. */
static int make_room(struct boot_mem *out, unsigned *n, struct boot_mem *e)
{
	unsigned smallest = *n;

	if (*n && out[*n - 1].type == BOOT_MEM_RESERVED && e->type == BOOT_MEM_RESERVED) {
		out[*n - 1].size = end_of(e) - out[*n - 1].base; /* the hole between is nobody's */
		return 0;
	}
	for (unsigned i = 1; i < *n; i++)
		if (out[i - 1].type == BOOT_MEM_RESERVED && out[i].type == BOOT_MEM_RESERVED) {
			out[i - 1].size = end_of(&out[i]) - out[i - 1].base;
			drop(out, n, i);
			return 1;
		}
	for (unsigned i = 0; i < *n; i++)
		if (out[i].type == BOOT_MEM_USABLE &&
		    (smallest == *n || out[i].size < out[smallest].size))
			smallest = i;
	if (e->type == BOOT_MEM_USABLE && (smallest == *n || e->size <= out[smallest].size))
		return 0; /* e itself is the least loss */
	if (smallest == *n)
		return -1;
	drop(out, n, smallest);
	return 1;
}

static int push(struct boot_mem *out, unsigned *n, unsigned max, struct boot_mem e)
{
	int r;

	if (*n && out[*n - 1].type == e.type && end_of(&out[*n - 1]) == e.base) {
		out[*n - 1].size += e.size;
		return 0;
	}
	if (*n == max) {
		r = make_room(out, n, &e);
		if (r <= 0)
			return r;
		/* dropping an entry may have made e touch the new last one */
		if (*n && out[*n - 1].type == e.type && end_of(&out[*n - 1]) == e.base) {
			out[*n - 1].size += e.size;
			return 0;
		}
	}
	out[(*n)++] = e;
	return 0;
}

int mb2_mmap_build(const struct boot_mem *in, unsigned nin, const struct mem_range *mica,
		   unsigned nmica, struct boot_mem *out, unsigned max)
{
	unsigned n = 0;
	int full = 0;
	uint64_t cur = UINT64_MAX;

	if (max == 0)
		return nin ? -1 : 0;
	for (unsigned i = 0; i < nin; i++)
		if (in[i].size && in[i].base < cur)
			cur = in[i].base;
	/* Sweep from boundary to boundary; each piece takes the highest rank covering it. */
	for (;;) {
		uint64_t next = UINT64_MAX;
		int best = -1, is_mica = 0;

		for (unsigned i = 0; i < nin; i++) {
			uint64_t b = in[i].base, e = end_of(&in[i]);

			if (!in[i].size)
				continue;
			if (b > cur && b < next)
				next = b;
			if (e > cur && e < next)
				next = e;
			if (b <= cur && cur < e && (best < 0 || rank(in[i].type) > rank(in[best].type)))
				best = (int)i;
		}
		for (unsigned i = 0; i < nmica; i++) {
			if (mica[i].base >= mica[i].end)
				continue;
			if (mica[i].base > cur && mica[i].base < next)
				next = mica[i].base;
			if (mica[i].end > cur && mica[i].end < next)
				next = mica[i].end;
			if (mica[i].base <= cur && cur < mica[i].end)
				is_mica = 1;
		}
		if (best >= 0) {
			struct boot_mem e = { .base = cur, .size = next - cur, .type = in[best].type };

			if (rank(e.type) == 4)
				e.type = BOOT_MEM_RESERVED;
			else if (e.type == BOOT_MEM_USABLE && is_mica)
				e.type = BOOT_MEM_MICA;
			if (push(out, &n, max, e) < 0)
				full = 1;
		}
		if (next == UINT64_MAX || next <= cur)
			break;
		cur = next;
	}
	return full ? -1 : (int)n;
}

static int overlaps(const struct mem_range *busy, unsigned nbusy, uint64_t a, uint64_t end)
{
	for (unsigned i = 0; i < nbusy; i++)
		if (busy[i].base < busy[i].end && busy[i].base < end && a < busy[i].end)
			return 1;
	return 0;
}

uint64_t mb2_mem_find(const struct boot_mem *map, unsigned n, const struct mem_range *busy,
		      unsigned nbusy, uint64_t size, uint64_t align, uint64_t lo, uint64_t hi)
{
	uint64_t best = 0;

	if (size == 0 || align == 0 || (align & (align - 1)))
		return 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t b = map[i].base > lo ? map[i].base : lo;
		uint64_t e = end_of(&map[i]) < hi ? end_of(&map[i]) : hi;

		if (map[i].type != BOOT_MEM_USABLE || e <= b || e - b < size)
			continue;
		/* The highest fit ends at the top of the range or where a busy range starts. */
		for (unsigned k = 0; k <= nbusy; k++) {
			uint64_t top = k < nbusy ? busy[k].base : e, a;

			if (top > e || top < b + size)
				continue;
			a = (top - size) & ~(align - 1);
			if (a >= b && a > best && !overlaps(busy, nbusy, a, a + size))
				best = a;
		}
	}
	return best;
}
