/* For the host tests and fuzz harnesses that build ACPI tables: sets byte at of the len
 * bytes at t so that they sum to zero (ACPI 6.4, 5.2.5.3 and 5.2.6). */
#ifndef MICA_TESTS_ACPI_SUM_H
#define MICA_TESTS_ACPI_SUM_H

#include <stdint.h>

static inline void acpi_fix_sum(uint8_t *t, uint32_t len, unsigned at)
{
	uint8_t s = 0;
	t[at] = 0;
	for (uint32_t i = 0; i < len; i++)
		s += t[i];
	t[at] = (uint8_t)-s;
}

#endif
