/* NUMA placement (docs/config.md, "Memory and NUMA"): a partition whose CPUs all sit on one
 * node of the firmware's SRAT gets its RAM from that node's memory. */
#ifndef MICA_NUMA_H
#define MICA_NUMA_H

#include <stdint.h>
#include <mica/boot_info.h>

/* Boot CPU, after the CPUs are known: reads the SRAT and, with two or more nodes, logs
 * which CPUs and how much memory each has. */
void numa_init(const struct boot_info *bi);

/* size bytes aligned to align for partition `name` running on the CPUs in cpu_mask (bit n:
 * CPU n): from the node of its CPUs when one node holds them all and has room (said in the
 * log, with the address), else from anywhere. Not zeroed; 0 when nothing fits. */
uint64_t numa_alloc_for(const char *name, uint64_t cpu_mask, uint64_t size, uint64_t align);

#endif
