/* MSR exits: an RDMSR or WRMSR is served by the backend (segment bases, syscall, PAT,
 * EFER), the local APIC (x2APIC MSRs) or the platform MSRs a PC guest expects (below);
 * anything else, and any value the MSR does not take, gets #GP as on a CPU. */
#ifndef MICA_EMUL_MSR_H
#define MICA_EMUL_MSR_H

#include <stdint.h>

struct vcpu;
struct vm_exit;

/* Completes the exit: RDX:RAX and RIP as the CPU leaves them, or #GP. */
void msr_emulate(struct vcpu *v, const struct vm_exit *e);

/* 0 handled, MICA_ENOSYS unknown (the caller injects #GP), MICA_EINVAL bad value (#GP). */
int msr_platform_read(struct vcpu *v, uint32_t index, uint64_t *value);
int msr_platform_write(struct vcpu *v, uint32_t index, uint64_t value);

#endif
