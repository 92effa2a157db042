/* Finding and checking the ACPI RSDP (ACPI 6.5 5.2.5). Pure logic. */
#include <string.h>

#include "mb2.h"

#define RSDP_V1_LEN  20
#define RSDP_V2_LEN  36
#define RSDP_MAX_LEN 4096 /* a sanity bound: the core gets a copy of at most one page */

static int sum_zero(const uint8_t *p, uint32_t len)
{
	uint8_t s = 0;

	for (uint32_t i = 0; i < len; i++)
		s += p[i];
	return s == 0;
}

uint32_t rsdp_check(const void *p, uint64_t avail)
{
	const uint8_t *b = p;
	uint32_t len;

	if (avail < RSDP_V1_LEN || memcmp(b, "RSD PTR ", 8) || !sum_zero(b, RSDP_V1_LEN))
		return 0;
	if (b[15] == 0)
		return RSDP_V1_LEN; /* revision 0: ACPI 1.0, 20 bytes */
	if (avail < RSDP_V2_LEN)
		return RSDP_V1_LEN; /* a 1.0-sized copy of a newer RSDP: the caller says so */
	memcpy(&len, b + 20, sizeof(len));
	if (len < RSDP_V2_LEN || len > RSDP_MAX_LEN || len > avail || !sum_zero(b, len))
		return 0;
	return len;
}

int64_t rsdp_scan(const void *mem, uint64_t len)
{
	const uint8_t *m = mem;

	for (uint64_t off = 0; off + RSDP_V1_LEN <= len; off += 16)
		if (rsdp_check(m + off, len - off))
			return (int64_t)off;
	return -1;
}
