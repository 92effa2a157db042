/* The x2APIC, for the one interrupt the service takes: Mica's notification vector. */
#include <stdint.h>

#include "vmm/rt/cpu.h"
#include "vmm/rt/rt.h"

#define MSR_APIC_BASE   0x01Bu
#define APIC_BASE_EXTD  (1ull << 10) /* x2APIC mode */
#define APIC_BASE_EN    (1ull << 11)
#define MSR_X2APIC_TPR  0x808u
#define MSR_X2APIC_EOI  0x80Bu
#define MSR_X2APIC_SVR  0x80Fu
#define SVR_ENABLE      0x100u

void rt_apic_init(void)
{
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EN | APIC_BASE_EXTD);
	wrmsr(MSR_X2APIC_TPR, 0);
	wrmsr(MSR_X2APIC_SVR, SVR_ENABLE | RT_SPURIOUS_VECTOR);
}

void rt_eoi(void)
{
	wrmsr(MSR_X2APIC_EOI, 0);
}
