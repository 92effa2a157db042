/* MSRs of the platform a guest with a PC platform (Linux) expects to find, beyond those the
 * backend (segment bases, syscall, PAT, EFER) and the local APIC handle. */
#ifndef MICA_MSR_H
#define MICA_MSR_H

#include <stdint.h>

struct vcpu;
/* 0 handled, MICA_ENOSYS unknown (the caller injects #GP), MICA_EINVAL bad value (#GP). */
int msr_platform_read(struct vcpu *v, uint32_t index, uint64_t *value);
int msr_platform_write(struct vcpu *v, uint32_t index, uint64_t value);

#endif
