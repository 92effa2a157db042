/* The CPUID a guest sees: the host's, minus virtualization, plus Mica's own leaves. */
#ifndef MICA_CPUID_H
#define MICA_CPUID_H

struct vcpu;

void cpuid_emulate(struct vcpu *v);

#endif
