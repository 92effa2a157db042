#include "lib/crc32.h"

/* One table of 256 remainders, built on first use (any CPU may build it: each builds the
 * same values). */
static uint32_t table[256];
static int table_ready;

static void build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
		table[i] = c;
	}
	__atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t crc32_more(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE))
		build();
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

uint32_t crc32_of(const void *buf, size_t len)
{
	return crc32_more(0, buf, len);
}
