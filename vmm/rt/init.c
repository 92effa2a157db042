/* rt_init(): what the service needs before main() can talk to Mica and take interrupts. */
#include <stdint.h>

#include "vmm/rt/cpu.h"
#include "vmm/rt/rt.h"

static uint64_t tsc_khz;

int rt_init(void)
{
	uint32_t r[4];

	/* Only Mica answers with its signature; the hypercall instruction is its choice. */
	cpuid(MICA_CPUID_SIGNATURE, 0, r);
	if (r[1] != MICA_SIG_EBX || r[2] != MICA_SIG_EBX || r[3] != MICA_SIG_EBX ||
	    r[0] < MICA_CPUID_FEATURES)
		return -1;
	cpuid(MICA_CPUID_FEATURES, 0, r);
	rt_hcall_init(r[1] == MICA_HCALL_INSN_VMMCALL);
	tsc_khz = r[2] ? r[2] : 2000000;

	rt_idt_init();
	rt_apic_init();
	return 0;
}

uint64_t rt_tsc_khz(void)
{
	return tsc_khz;
}
