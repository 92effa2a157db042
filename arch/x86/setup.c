/* Platform bring-up of the boot CPU, and cross-CPU kicks. */
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/paging.h"
#include "arch/x86/trap.h"
#include "arch/x86/tsc.h"
#include "kernel/arch.h"
#include "kernel/mem.h"
#include "kernel/percpu.h"

void arch_cpu_setup(struct pcpu *c);

int arch_init_boot_cpu(const struct boot_info *bi, struct pcpu *cpu)
{
	paging_init(mem_map_top(bi));
	arch_cpu_setup(cpu);
	apic_timer_init(tsc_calibrate(bi));
	return 0;
}

uint64_t arch_tsc_hz(void)
{
	return tsc_freq();
}

void arch_timer_arm(uint64_t tsc_deadline)
{
	apic_timer_arm(tsc_deadline);
}

uint32_t arch_boot_apic_id(void)
{
	return apic_id();
}

void arch_kick_cpu(struct pcpu *cpu)
{
	/* The flag first: whoever sees the interrupt, or holds interrupts off and looks
	 * before entering a guest, finds it set (vcpu_may_enter, kernel/partition.h). */
	__atomic_store_n(&cpu->kick_pending, 1, __ATOMIC_SEQ_CST);
	apic_send_ipi(cpu->apic_id, VEC_KICK);
}

void arch_kick_cpu_nmi(struct pcpu *cpu)
{
	__atomic_store_n(&cpu->kick_pending, 1, __ATOMIC_SEQ_CST);
	apic_send_nmi(cpu->apic_id);
}
