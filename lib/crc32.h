/* CRC-32 (IEEE 802.3: polynomial 0x04C11DB7 reflected, initial and final value all ones),
 * the check of GPT headers and of Mica's durable snapshot images (lib/snapimg.h). */
#ifndef MICA_LIB_CRC32_H
#define MICA_LIB_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of buf; crc32_more(crc32_of(a), b) == the CRC of a followed by b. */
uint32_t crc32_of(const void *buf, size_t len);
uint32_t crc32_more(uint32_t crc, const void *buf, size_t len);

#endif
