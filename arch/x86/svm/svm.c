/* AMD SVM: turning it on, and each vCPU's VMCB (APM vol. 2, chapter 15). */
#include <string.h>
#include <mica/hypercall.h>
#include "arch/x86/cpu.h"
#include "arch/x86/msr_check.h"
#include "arch/x86/svm/intr.h"
#include "arch/x86/svm/svm.h"
#include "kernel/log.h"
#include "kernel/mem.h"
#include "kernel/partition.h"
#include "kernel/percpu.h"

#define CPUID_SVM_BIT (1u << 2)  /* CPUID 8000_0001h ECX */
#define CPUID_NP_BIT  (1u << 0)  /* CPUID 8000_000Ah EDX */
#define CPUID_NRIPS_BIT (1u << 3) /* CPUID 8000_000Ah EDX: the VMCB has the next RIP */

/* Set once in svm_probe(); read-only afterwards. */
int svm_has_nrips;

/* Shared by every vCPU, written once at probe time: intercept every port and every MSR. */
static uint64_t iopm_pa, msrpm_pa;
static uint32_t nr_asids;

struct svm_cpu {
	uint64_t hsave_pa; /* VM_HSAVE_PA: the CPU's own save area */
	uint64_t host_pa;  /* VMSAVE/VMLOAD area for host FS, GS, TR, LDTR and syscall MSRs */
};

static int svm_cpu_init(struct pcpu *cpu)
{
	struct svm_cpu *sc = phys_to_virt(mem_alloc(sizeof(*sc), 64));
	if (!sc)
		return MICA_EINVAL;
	sc->hsave_pa = mem_alloc(4096, 4096);
	sc->host_pa = mem_alloc(4096, 4096);
	if (!sc->hsave_pa || !sc->host_pa)
		return MICA_EINVAL;
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
	wrmsr(MSR_VM_HSAVE_PA, sc->hsave_pa);
	__asm__ volatile("vmsave %%rax" : : "a"(sc->host_pa) : "memory");
	cpu->virt = sc;
	return 0;
}

static int svm_vcpu_init(struct vcpu *v)
{
	uint64_t vmcb_pa = mem_alloc(4096, 4096);
	if (!vmcb_pa)
		return MICA_EINVAL;
	v->hw = phys_to_virt(vmcb_pa);
	return 0;
}

/* Nothing of a VMCB stays in the CPU after #VMEXIT; its ASID is never handed out again. */
static void svm_vcpu_release(struct vcpu *v)
{
	(void)v;
}

static void svm_vcpu_free(struct vcpu *v)
{
	mem_free(virt_to_phys(v->hw), 4096);
	v->hw = NULL;
}

static void seg(struct vmcb_seg *s, uint16_t sel, uint16_t attrib, uint32_t limit, uint64_t base)
{
	s->sel = sel;
	s->attrib = attrib;
	s->limit = limit;
	s->base = base;
}

static void svm_vcpu_reset(struct vcpu *v, const struct vcpu_boot_state *st)
{
	struct vmcb *vm = vmcb_of(v);
	struct partition *p = v->part;

	memset(vm, 0, sizeof(*vm));
	vm->ctl.intercept_misc1 = INTERCEPT_INTR | INTERCEPT_NMI | INTERCEPT_SMI | INTERCEPT_INIT |
				  INTERCEPT_CPUID | INTERCEPT_INVD | INTERCEPT_HLT |
				  INTERCEPT_INVLPGA | INTERCEPT_IOIO | INTERCEPT_MSR |
				  INTERCEPT_TASKSW | INTERCEPT_SHUTDOWN;
	/* Guests never see SVM: every SVM instruction is intercepted and answered with #UD.
	 * ICEBP is not intercepted: the guest takes its #DB as on a CPU. */
	vm->ctl.intercept_misc2 = INTERCEPT_VMRUN | INTERCEPT_VMMCALL | INTERCEPT_VMLOAD |
				  INTERCEPT_VMSAVE | INTERCEPT_STGI | INTERCEPT_CLGI |
				  INTERCEPT_SKINIT | INTERCEPT_MONITOR |
				  INTERCEPT_MWAIT | INTERCEPT_MWAIT_C;
	vm->ctl.iopm_pa = iopm_pa;
	vm->ctl.msrpm_pa = msrpm_pa;
	vm->ctl.asid = p->s2.tag;
	vm->ctl.tlb_control = TLB_CONTROL_FLUSH_ALL;
	vm->ctl.v_intr = V_INTR_MASKING;
	vm->ctl.np_enable = 1;
	vm->ctl.ncr3 = p->s2.root;

	/* VMCB segment attributes are the packed 12-bit form (APM 15.5.1). */
	if (st->mode == VCPU_MODE_REAL16) {
		seg(&vm->save.cs, st->code_sel, 0x009b, 0xffff, st->cs_base);
		seg(&vm->save.ds, 0, 0x0093, 0xffff, 0);
		seg(&vm->save.gdtr, 0, 0, 0xffff, 0);
		seg(&vm->save.idtr, 0, 0, 0xffff, 0);
	} else {
		/* 64-bit code (L) or 32-bit code (D), 4 GiB flat data either way. */
		uint16_t code = st->mode == VCPU_MODE_PROT32 ? 0x0c9b : 0x0a9b;
		seg(&vm->save.cs, st->code_sel, code, 0xffffffff, 0);
		seg(&vm->save.ds, st->data_sel, 0x0c93, 0xffffffff, 0);
		seg(&vm->save.gdtr, 0, 0, st->gdt_limit, st->gdt_base);
		seg(&vm->save.idtr, 0, 0, 0, 0);
	}
	vm->save.es = vm->save.ss = vm->save.fs = vm->save.gs = vm->save.ds;
	seg(&vm->save.ldtr, 0, 0x0082, 0, 0);
	seg(&vm->save.tr, 0, 0x008b, 0x67, 0);
	vm->save.cpl = 0;
	vm->save.efer = st->efer | EFER_SVME; /* VMRUN requires guest EFER.SVME */
	vm->save.cr0 = st->cr0;
	vm->save.cr3 = st->cr3;
	vm->save.cr4 = st->cr4;
	vm->save.dr6 = 0xffff0ff0;
	vm->save.dr7 = 0x400;
	vm->save.rflags = 0x2;
	vm->save.rip = st->rip;
	vm->save.rsp = st->rsp;
	vm->save.rax = st->rax;
	vm->save.g_pat = 0x0007040600070406ULL; /* the power-on PAT */

	memset(&v->regs, 0, sizeof(v->regs));
	v->regs.rip = st->rip;
	v->regs.rflags = 0x2;
	v->regs.gpr[REG_RSP] = st->rsp;
	v->regs.gpr[REG_RDI] = st->rdi;
	v->regs.gpr[REG_RSI] = st->rsi;
	v->regs.gpr[REG_RAX] = st->rax;
	v->regs.gpr[REG_RBX] = st->rbx;
}

static void __attribute__((noreturn)) svm_vcpu_run(struct vcpu *v)
{
	svm_loop(v, virt_to_phys(vmcb_of(v)), ((struct svm_cpu *)v->cpu->virt)->host_pa);
}

void svm_inject_exception(struct vcpu *v, uint8_t vector, int has_error, uint32_t error)
{
	struct vmcb *vm = vmcb_of(v);
	if (!(vm->save.cr0 & CR0_PE))
		has_error = 0; /* real mode pushes no error codes (APM vol. 2 15.20) */
	vm->ctl.eventinj = vector | EVENTINJ_TYPE_EXCEPTION | EVENTINJ_VALID |
			   (has_error ? EVENTINJ_EV | ((uint64_t)error << 32) : 0);
}

static void svm_get_paging(struct vcpu *v, uint64_t *cr0, uint64_t *cr3, uint64_t *cr4,
			   uint64_t *efer, unsigned *code_bits)
{
	struct vmcb *vm = vmcb_of(v);
	*cr0 = vm->save.cr0;
	*cr3 = vm->save.cr3;
	*cr4 = vm->save.cr4;
	*efer = vm->save.efer;
	/* packed attributes: L is bit 9, D/B bit 10 */
	*code_bits = (vm->save.efer & EFER_LMA) && (vm->save.cs.attrib & 0x200) ? 64 :
		     (vm->save.cs.attrib & 0x400) ? 32 : 16;
}

static unsigned svm_guest_cpl(struct vcpu *v)
{
	return vmcb_of(v)->save.cpl & 3;
}

static uint64_t svm_cs_base(struct vcpu *v)
{
	return vmcb_of(v)->save.cs.base;
}

static int svm_irq_ready(struct vcpu *v)
{
	return svm_intr_ready(vmcb_of(v));
}

static void svm_inject_irq(struct vcpu *v, uint8_t vector)
{
	svm_intr_inject(vmcb_of(v), vector);
}

void svm_irq_window(struct vcpu *v, int on)
{
	svm_intr_window(vmcb_of(v), on);
}

/* MSRs that live in the VMCB save area. */
static uint64_t *vmcb_msr(struct vmcb *vm, uint32_t index)
{
	switch (index) {
	case MSR_FS_BASE: return &vm->save.fs.base;
	case MSR_GS_BASE: return &vm->save.gs.base;
	case MSR_KERNEL_GS_BASE: return &vm->save.kernel_gs_base;
	case MSR_STAR: return &vm->save.star;
	case MSR_LSTAR: return &vm->save.lstar;
	case MSR_CSTAR: return &vm->save.cstar;
	case MSR_SFMASK: return &vm->save.sfmask;
	case MSR_SYSENTER_CS: return &vm->save.sysenter_cs;
	case MSR_SYSENTER_ESP: return &vm->save.sysenter_esp;
	case MSR_SYSENTER_EIP: return &vm->save.sysenter_eip;
	case MSR_PAT: return &vm->save.g_pat;
	default: return NULL;
	}
}

static int svm_msr_read(struct vcpu *v, uint32_t index, uint64_t *value)
{
	struct vmcb *vm = vmcb_of(v);
	if (index == MSR_EFER) {
		*value = vm->save.efer & ~EFER_SVME; /* the guest has no SVM */
		return 0;
	}
	uint64_t *m = vmcb_msr(vm, index);
	if (!m)
		return MICA_ENOSYS;
	*value = *m;
	return 0;
}

static int svm_msr_write(struct vcpu *v, uint32_t index, uint64_t value)
{
	struct vmcb *vm = vmcb_of(v);
	if (index == MSR_EFER) {
		if (!efer_write_ok(vm->save.efer, value, vm->save.cr0))
			return MICA_EINVAL;
		/* LMA is the CPU's to set; keep what the guest runs with. */
		vm->save.efer = (value & ~EFER_LMA) | (vm->save.efer & EFER_LMA) | EFER_SVME;
		return 0;
	}
	uint64_t *m = vmcb_msr(vm, index);
	if (!m)
		return MICA_ENOSYS;
	if (!msr_value_ok(index, value, vm->save.cr4))
		return MICA_EINVAL;
	*m = value;
	return 0;
}

/* The next VMRUN flushes the TLB (the exit path clears tlb_control again). Flushing all
 * ASIDs needs no FlushByASID support; stage-2 changes are rare (a moved BAR). */
static void svm_stage2_flush(struct vcpu *v)
{
	vmcb_of(v)->ctl.tlb_control = TLB_CONTROL_FLUSH_ALL;
}

/* The whole VMCB is the guest's state; what points at Mica's own tables (the permission
 * maps, the nested page tables and their ASID) stays as this vCPU has it. */
static void svm_vcpu_save(struct vcpu *v, void *buf)
{
	_Static_assert(sizeof(struct vmcb) <= VIRT_STATE_MAX, "a VMCB fits a state buffer");
	memcpy(buf, vmcb_of(v), sizeof(struct vmcb));
}

static void svm_vcpu_load(struct vcpu *v, const void *buf)
{
	struct vmcb *vm = vmcb_of(v);

	/* Mica's tables as vcpu_reset sets them: this vCPU's partition's (a clone's vCPU
	 * loads the state its origin's saved, into a VMCB that was never reset). */
	memcpy(vm, buf, sizeof(*vm));
	vm->ctl.iopm_pa = iopm_pa;
	vm->ctl.msrpm_pa = msrpm_pa;
	vm->ctl.ncr3 = v->part->s2.root;
	vm->ctl.asid = v->part->s2.tag;
	vm->ctl.clean = 0;                           /* the CPU caches nothing of it */
	vm->ctl.tlb_control = TLB_CONTROL_FLUSH_ALL; /* nor translations of the guest's */
}

static const struct virt_ops svm_ops = {
	.name = "svm",
	.hcall_insn = MICA_HCALL_INSN_VMMCALL,
	.cpu_init = svm_cpu_init,
	.stage2_init = svm_stage2_init,
	.stage2_map = svm_stage2_map,
	.stage2_unmap = svm_stage2_unmap,
	.stage2_flush = svm_stage2_flush,
	.stage2_prune = svm_stage2_prune,
	.stage2_free = svm_stage2_free,
	.vcpu_init = svm_vcpu_init,
	.vcpu_release = svm_vcpu_release,
	.vcpu_free = svm_vcpu_free,
	.vcpu_reset = svm_vcpu_reset,
	.vcpu_run = svm_vcpu_run,
	.vcpu_save = svm_vcpu_save,
	.vcpu_load = svm_vcpu_load,
	.inject_exception = svm_inject_exception,
	.get_paging = svm_get_paging,
	.guest_cpl = svm_guest_cpl,
	.cs_base = svm_cs_base,
	.irq_ready = svm_irq_ready,
	.inject_irq = svm_inject_irq,
	.irq_window = svm_irq_window,
	.msr_read = svm_msr_read,
	.msr_write = svm_msr_write,
};

const struct virt_ops *svm_probe(const char **why)
{
	uint32_t r[4];

	cpuid_count(0, 0, r);
	if (r[1] != 0x68747541) { /* "Auth" enticAMD */
		*why = "not an AMD CPU";
		return NULL;
	}
	cpuid_count(0x80000001, 0, r);
	if (!(r[2] & CPUID_SVM_BIT)) {
		*why = "the CPU has no SVM (AMD-V)";
		return NULL;
	}
	if (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS) {
		*why = "SVM is disabled by the firmware (VM_CR.SVMDIS): enable it in the setup menu";
		return NULL;
	}
	cpuid_count(0x8000000a, 0, r);
	if (!(r[3] & CPUID_NP_BIT)) {
		*why = "the CPU has SVM but no nested paging (NPT)";
		return NULL;
	}
	nr_asids = r[1];
	svm_has_nrips = !!(r[3] & CPUID_NRIPS_BIT);
	iopm_pa = mem_alloc(3 * 4096, 4096);
	msrpm_pa = mem_alloc(2 * 4096, 4096);
	if (!iopm_pa || !msrpm_pa) {
		*why = "out of memory for the I/O and MSR permission maps";
		return NULL;
	}
	memset(phys_to_virt(iopm_pa), 0xff, 3 * 4096);
	memset(phys_to_virt(msrpm_pa), 0xff, 2 * 4096);
	return &svm_ops;
}

uint32_t svm_max_asid(void)
{
	return nr_asids;
}
