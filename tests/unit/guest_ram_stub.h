/* The host tests' side of kernel/loader/guest_ram.h: RAM a test watches behaves as the
 * core's lazily zeroed RAM (kernel/ram.c), so a test can see what a loader wrote outside
 * the ranges it announced. */
#ifndef MICA_TEST_GUEST_RAM_STUB_H
#define MICA_TEST_GUEST_RAM_STUB_H

#include <stdint.h>

#define GUEST_RAM_FILL 0xa5 /* "another system's data" */

/* Fills ram with GUEST_RAM_FILL and watches it: the first announcement of a byte in a
 * 2 MiB piece zeroes that piece, as the core does. size: at most 1 GiB. */
void guest_ram_watch(void *ram, uint64_t size);

/* The first guest-physical address, in a piece never announced, that no longer holds
 * GUEST_RAM_FILL (a write the loader did not announce), or UINT64_MAX when there is none
 * and every announcement lay inside the RAM. */
uint64_t guest_ram_unannounced(void);

/* Was any byte of [gpa, gpa + len) announced? */
int guest_ram_announced(uint64_t gpa, uint64_t len);

#endif
