#include <mica/hypercall.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/cpuid.h"
#include "kernel/partition.h"
#include "kernel/vcpu.h"
#include "kernel/virt.h"

#define LEAF1_ECX_VMX        (1u << 5)
#define LEAF1_ECX_MONITOR    (1u << 3)
#define LEAF1_ECX_HYPERVISOR (1u << 31)
#define EXT1_ECX_SVM         (1u << 2)

static inline void cpuid_emulate(struct vcpu *v)
{
	uint32_t leaf = (uint32_t)v->regs.gpr[REG_RAX];
	uint32_t sub = (uint32_t)v->regs.gpr[REG_RCX];
	uint32_t r[4];

	if ((leaf & 0xf0000000u) == 0x40000000u) {
		r[0] = r[1] = r[2] = r[3] = 0;
		if (leaf == MICA_CPUID_SIGNATURE) {
			r[0] = MICA_CPUID_FEATURES;
			r[1] = r[2] = r[3] = MICA_SIG_EBX;
		} else if (leaf == MICA_CPUID_FEATURES) {
			r[0] = MICA_ABI_VERSION;
			r[1] = virt->hcall_insn;
			r[2] = (uint32_t)(arch_tsc_hz() / 1000);
		}
	} else {
		cpuid_count(leaf, sub, r);
		switch (leaf) {
		case 1:
			r[2] &= ~(LEAF1_ECX_VMX | LEAF1_ECX_MONITOR);
			r[2] |= LEAF1_ECX_HYPERVISOR;
			r[1] = (r[1] & 0x00ffffffu) | (v->id << 24); /* initial APIC ID = vCPU number */
			break;
		case 0x80000001:
			r[2] &= ~EXT1_ECX_SVM;
			break;
		case 0x8000000a: /* SVM features: none */
			r[0] = r[1] = r[2] = r[3] = 0;
			break;
		}
	}
	v->regs.gpr[REG_RAX] = r[0];
	v->regs.gpr[REG_RBX] = r[1];
	v->regs.gpr[REG_RCX] = r[2];
	v->regs.gpr[REG_RDX] = r[3];
}

void vcpu_exit_cpuid(struct vcpu *v, unsigned insn_len)
{
	v->exits[EXIT_CPUID]++;
	cpuid_emulate(v);
	v->regs.rip += insn_len;
	partition_check(v);
}
