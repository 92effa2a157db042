/* Zeroing the partitions' RAM at boot on every CPU at once (docs/architecture.md, "Start"):
 * most of Mica's own start-up time is clearing gigabytes the guests must never see the old
 * contents of. The boot CPU queues each partition's block, then all CPUs that wait for the
 * start take 2 MiB pieces in turn; no partition starts before every piece is done. */
#ifndef MICA_ZERO_H
#define MICA_ZERO_H

#include <stdint.h>

/* Boot CPU, before zero_run(): queues [pa, pa + size) (2 MiB aligned and sized). */
void zero_add(uint64_t pa, uint64_t size);

/* Any CPU waiting to start: helps while the boot CPU runs the queue. */
void zero_help(void);

/* Boot CPU: opens the queue to the other CPUs, zeroes with them and returns once every
 * piece is zero; logs how much, on how many CPUs, in how long. */
void zero_run(void);

/* Any CPU: zeroes n bytes at `at` (n a multiple of 64), fast under emulators too. */
void zero_bytes(void *at, uint64_t n);

#endif
