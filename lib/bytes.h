/* Little-endian loads and stores at any alignment, for the parsers and table builders that
 * read or lay out firmware, boot-protocol and PCI structures byte by byte. x86 is little
 * endian and allows unaligned accesses, so each is one move: __builtin_memcpy is expanded
 * inline even in freestanding builds, where a plain memcpy() is a call. */
#ifndef MICA_LIB_BYTES_H
#define MICA_LIB_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint16_t rd16(const uint8_t *p) { uint16_t v; __builtin_memcpy(&v, p, 2); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; __builtin_memcpy(&v, p, 4); return v; }
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; __builtin_memcpy(&v, p, 8); return v; }
static inline void put8(uint8_t *p, uint8_t v) { *p = v; }
static inline void put16(uint8_t *p, uint16_t v) { __builtin_memcpy(p, &v, 2); }
static inline void put32(uint8_t *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { __builtin_memcpy(p, &v, 8); }

#endif
