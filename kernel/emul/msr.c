/* MSR exits (kernel/emul/msr.h), and the MSRs of the PC a guest expects beyond those the
 * backend and the local APIC keep. */
#include <mica/hypercall.h>
#include "arch/x86/cpu.h"
#include "arch/x86/extable.h"
#include "kernel/arch.h"
#include "kernel/emul/fetch.h"
#include "kernel/emul/msr.h"
#include "kernel/irq.h"
#include "kernel/log.h"
#include "kernel/partition.h"
#include "kernel/platform/pvclock.h"
#include "kernel/vcpu.h"

#define MSR_TSC               0x010
#define MSR_PLATFORM_ID       0x017
#define MSR_BIOS_SIGN_ID      0x08b
#define MSR_MTRRCAP           0x0fe
#define MSR_ARCH_CAPABILITIES 0x10a
#define MSR_MCG_CAP           0x179
#define MSR_MCG_STATUS        0x17a
#define MSR_MISC_ENABLE       0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_AMD_HWCR          0xc0010015
#define MSR_TSC_AUX           0xc0000103
#define MSR_AMD_INT_PENDING   0xc0010055 /* read unchecked by Linux on AMD: no message pending */
#define MSR_AMD_DE_CFG        0xc0011029

#define MISC_ENABLE_FAST_STRINGS (1ULL << 0)
#define VEC_GP 13

/* What a guest reads is what a simple, honest machine would say: no MTRRs (all memory
 * write-back via PAT), no machine-check banks, no microcode; writes to them are dropped
 * where real hardware would accept them. The TSC is the host's (no offset). */
int msr_platform_read(struct vcpu *v, uint32_t index, uint64_t *value)
{
	if (!v->irq.on)
		return MICA_ENOSYS; /* tiny ELF guests get #GP for everything unknown */
	switch (index) {
	case MSR_TSC:
		*value = rdtsc();
		return 0;
	case MSR_PLATFORM_ID:
	case MSR_BIOS_SIGN_ID:
	case MSR_MTRRCAP:
	case MSR_MCG_CAP:
	case MSR_MCG_STATUS:
	case MSR_MTRR_DEF_TYPE:
	case MSR_AMD_HWCR:
	case MSR_AMD_INT_PENDING:
	case MSR_AMD_DE_CFG:
		*value = 0;
		return 0;
	case MSR_MISC_ENABLE:
		*value = MISC_ENABLE_FAST_STRINGS;
		return 0;
	case MSR_KVM_PV_EOI_EN:
		*value = irq_pv_eoi_msr(v);
		return 0;
	case MSR_TSC_AUX: /* not switched by SVM or VMX: the CPU is this vCPU's alone */
		return rdmsr_safe(MSR_TSC_AUX, value) ? MICA_EINVAL : 0; /* no RDTSCP: #GP */
	default:
		return MICA_ENOSYS;
	}
}

/* The guest names where its clock data goes (bit 0: enable); the TSC is stable and Mica
 * never changes its rate, so one write is all the guest ever needs. */
static int system_time(struct vcpu *v, uint64_t value)
{
	if (!(value & 1)) {
		v->irq.pvclock = 0;
		return 0;
	}
	uint64_t gpa = value & ~1ULL;
	struct pvclock_time *t = partition_guest_ptr(v->part, gpa, sizeof(*t));
	if (!t || (gpa & 3))
		return MICA_EINVAL;
	pvclock_fill(t, arch_tsc_hz(), v->part->clock_epoch, rdtsc());
	v->irq.pvclock = value; /* a restore marks it (kernel/snapshot.c) */
	return 0;
}

/* Wall-clock time at boot: Mica has no battery clock to read, so the epoch (1970). */
static int wall_clock(struct vcpu *v, uint64_t gpa)
{
	uint32_t *w = partition_guest_ptr(v->part, gpa, 12);
	if (!w)
		return MICA_EINVAL;
	w[0] = 2; /* version */
	w[1] = 0; /* seconds */
	w[2] = 0; /* nanoseconds */
	return 0;
}

int msr_platform_write(struct vcpu *v, uint32_t index, uint64_t value)
{
	if (!v->irq.on)
		return MICA_ENOSYS;
	switch (index) {
	case MSR_KVM_SYSTEM_TIME_NEW:
		return system_time(v, value);
	case MSR_KVM_PV_EOI_EN:
		return irq_pv_eoi_enable(v, value);
	case MSR_KVM_WALL_CLOCK_NEW:
		return wall_clock(v, value);
	case MSR_BIOS_SIGN_ID:
	case MSR_MCG_STATUS:
	case MSR_MISC_ENABLE:
	case MSR_AMD_HWCR:
	case MSR_AMD_DE_CFG:
		return 0;
	case MSR_MTRR_DEF_TYPE:
		return value ? MICA_EINVAL : 0;
	case MSR_TSC_AUX:
		if (value >> 32)
			return MICA_EINVAL;
		return wrmsr_safe(MSR_TSC_AUX, value) ? MICA_EINVAL : 0;
	default:
		return MICA_ENOSYS;
	}
}

/* An RDMSR or WRMSR exit: the backend's MSRs, then the local APIC's, then the platform's;
 * anything else is #GP. */
void msr_emulate(struct vcpu *v, const struct vm_exit *e)
{
	uint32_t idx = e->msr.index;
	uint64_t val;
	int rc;

	if (e->msr.write) {
		val = (v->regs.gpr[REG_RDX] << 32) | (uint32_t)v->regs.gpr[REG_RAX];
		rc = virt->msr_write(v, idx, val);
		if (rc == MICA_ENOSYS)
			rc = irq_msr_write(v, idx, val);
		if (rc == MICA_ENOSYS)
			rc = msr_platform_write(v, idx, val);
	} else {
		rc = virt->msr_read(v, idx, &val);
		if (rc == MICA_ENOSYS)
			rc = irq_msr_read(v, idx, &val);
		if (rc == MICA_ENOSYS)
			rc = msr_platform_read(v, idx, &val);
		if (!rc) {
			v->regs.gpr[REG_RAX] = (uint32_t)val;
			v->regs.gpr[REG_RDX] = val >> 32;
		}
	}
	if (rc) {
		/* Unknown MSR or a value the MSR does not take: #GP, as on real hardware. Say so
		 * the first few times: a guest that trips on it shows why in the log. */
		if (v->irq.on && v->exits[EXIT_MSR] < 4000 && v->part->gp_logged < 16) {
			v->part->gp_logged++;
			log_info("partition '%s': %s of MSR 0x%x (value 0x%lx) gets #GP (RIP 0x%lx)",
				 v->part->name, e->msr.write ? "write" : "read", idx,
				 e->msr.write ? val : 0, v->regs.rip);
		}
		virt->inject_exception(v, VEC_GP, 1, 0);
		return;
	}
	v->regs.rip += e->insn_len ? e->insn_len :
		       vcpu_insn_len(v, e->msr.write ? INSN_WRMSR : INSN_RDMSR, 2);
}
