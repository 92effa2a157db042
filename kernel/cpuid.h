/* The CPUID a guest sees: the host's, minus virtualization, plus Mica's own leaves. */
#ifndef MICA_CPUID_H
#define MICA_CPUID_H

/* The whole CPUID exit is vcpu_exit_cpuid() (kernel/virt.h), defined in cpuid.c. */

#endif
