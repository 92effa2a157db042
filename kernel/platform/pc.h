/* The legacy ports of a partition's PC platform (Linux partitions): the 8254 PIT and port
 * 0x61 (platform/vpit.c), the ACPI PM registers, PM timer and reset port 0xCF9
 * (platform/vpm.c); and the power-on reset of every port device of a partition. */
#ifndef MICA_PLATFORM_PC_H
#define MICA_PLATFORM_PC_H

#include <stdint.h>

struct partition;
struct vcpu;

/* 1 when the PIT or the PM block took the access (*result for reads), else 0. now: the
 * TSC. A write may power the partition off or reset it (partition_end()). */
int pc_port_access(struct vcpu *v, uint16_t port, unsigned size, int in, uint32_t val,
		   uint32_t *result, uint64_t now);

/* Power-on state of p's port devices (COM1; the PIT and PM with a platform), at load and
 * at every restart. now: the TSC (the PM timer's 0). */
void pc_reset(struct partition *p, uint64_t now);

#endif
