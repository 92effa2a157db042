/* The KVM-compatible paravirtual clock (offered through the KVM identification leaves at
 * 0x40000100): each vCPU names a guest-physical page slot through an MSR, and Mica writes
 * there how to turn the TSC into nanoseconds. The guest then needs no TSC calibration at
 * all, which under emulation on a busy host is the step most likely to go wrong. */
#ifndef MICA_PLATFORM_PVCLOCK_H
#define MICA_PLATFORM_PVCLOCK_H

#include <stdint.h>

#define MSR_KVM_WALL_CLOCK_NEW  0x4b564d00u
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u
#define MSR_KVM_PV_EOI_EN       0x4b564d04u /* kernel/irq.c */
#define KVM_FEATURE_CLOCKSOURCE2        (1u << 3)
#define KVM_FEATURE_CLOCKSOURCE_STABLE  (1u << 24)
#define PVCLOCK_GUEST_STOPPED           (1u << 1) /* flags: the guest was stopped; its
						   * watchdogs clear it and look away once */

struct pvclock_time {          /* the layout the guest reads (32 bytes) */
	uint32_t version;      /* even: consistent */
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;  /* ns at tsc_timestamp */
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;         /* bit 0: the TSC is stable across vCPUs */
	uint8_t pad[2];
};

/* ns = ((tsc delta shifted by shift) * mul) >> 32 for a TSC of tsc_hz. Pure. */
void pvclock_scale(uint64_t tsc_hz, uint32_t *mul, int8_t *shift);

/* Fills *t for a clock that read 0 ns at TSC value epoch. Pure. */
void pvclock_fill(struct pvclock_time *t, uint64_t tsc_hz, uint64_t epoch, uint64_t now);

#endif
