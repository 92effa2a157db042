/* The loaders write a partition's RAM through one pointer to its guest-physical 0. Before
 * a loader writes [gpa, gpa + len), it announces the range here: RAM that Mica zeroes on
 * first touch (kernel/ram.h) must be zeroed and mapped before the first byte lands, or
 * the guest would find another system's old data beside what was loaded. The host tests
 * implement this themselves and check that every loader writes only what it announced. */
#ifndef MICA_LOADER_GUEST_RAM_H
#define MICA_LOADER_GUEST_RAM_H

#include <stdint.h>

void guest_ram_prepare(void *ram, uint64_t gpa, uint64_t len);

#endif
