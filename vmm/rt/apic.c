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
#define MSR_X2APIC_LVTT 0x832u
#define LVTT_DEADLINE   (2u << 17) /* TSC-deadline mode */
#define MSR_TSC_DEADLINE 0x6E0u
#define SVR_ENABLE      0x100u
#define MSR_KVM_PV_EOI_EN 0x4B564D04u /* Mica takes it from every vCPU with a local APIC */

/* KVM's PV EOI (kernel/irq.c): before an entry where nothing else is in service or
 * pending, Mica sets bit 0 here, and then an EOI is clearing it, with no exit. Guest
 * physical = our virtual address (Mica's identity map). */
static volatile uint32_t pv_eoi __attribute__((aligned(4)));

void rt_apic_init(void)
{
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EN | APIC_BASE_EXTD);
	wrmsr(MSR_X2APIC_TPR, 0);
	wrmsr(MSR_X2APIC_SVR, SVR_ENABLE | RT_SPURIOUS_VECTOR);
	wrmsr(MSR_KVM_PV_EOI_EN, (uintptr_t)&pv_eoi | 1);
}

void rt_eoi(void)
{
	/* One instruction tests and clears the bit: an exit between a load and a store would
	 * let Mica take the bit back (it then expects the register write) and the EOI would
	 * be lost. */
	uint8_t was_set;
	__asm__ volatile("btrl $0, %0; setc %1" : "+m"(pv_eoi), "=q"(was_set) :: "memory");
	if (!was_set)
		wrmsr(MSR_X2APIC_EOI, 0);
}

void rt_timer_at(uint64_t tsc)
{
	static int armed;
	if (!armed) {
		wrmsr(MSR_X2APIC_LVTT, LVTT_DEADLINE | RT_TIMER_VECTOR);
		armed = 1;
	}
	wrmsr(MSR_TSC_DEADLINE, tsc);
}
