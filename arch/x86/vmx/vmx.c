/* Intel VT-x: turning it on (SDM vol. 3, 23.6-23.8), and each vCPU's VMCS. Controls are
 * derived from the capability MSRs, so the same code runs on any model that has what Mica
 * needs (EPT, unconditional I/O and HLT exiting, 64-bit host). */
#include <string.h>
#include <mica/hypercall.h>
#include "arch/x86/cpu.h"
#include "arch/x86/extable.h"
#include "arch/x86/msr_check.h"
#include "arch/x86/vmx/ept.h"
#include "arch/x86/vmx/vmx.h"
#include "kernel/log.h"
#include "kernel/mem.h"
#include "kernel/partition.h"
#include "kernel/percpu.h"

#define CPUID_VMX_BIT (1u << 5) /* CPUID.1:ECX */

/* Decided by the boot CPU in vmx_probe(); read-only afterwards. */
static uint32_t vmcs_revision;
static uint32_t pin_ctls, proc_ctls, proc2_ctls, exit_ctls, entry_ctls;
static uint64_t ept_vpid_cap;
static uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;

/* (want | must-be-one) & may-be-one; fails when a needed bit is not allowed. */
static int adjust(uint32_t msr, uint32_t want, uint32_t need, uint32_t *out)
{
	uint64_t cap = rdmsr(msr);
	uint32_t v = (want | (uint32_t)cap) & (uint32_t)(cap >> 32);
	*out = v;
	return (v & need) == need ? 0 : MICA_EINVAL;
}


static int do_vmxon(uint64_t pa)
{
	uint8_t fail;
	__asm__ volatile("vmxon %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
	return fail;
}

static int do_vmclear(uint64_t pa)
{
	uint8_t fail;
	__asm__ volatile("vmclear %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
	return fail;
}

static int do_vmptrld(uint64_t pa)
{
	uint8_t fail;
	__asm__ volatile("vmptrld %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
	return fail;
}

static int vmx_cpu_init(struct pcpu *cpu)
{
	uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
	if (!(fc & FEATURE_CONTROL_LOCK)) {
		/* Firmware left it open (OVMF does): allow VMX outside SMX and lock it. */
		wrmsr(MSR_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMXON_OUTSIDE_SMX);
	} else if (!(fc & FEATURE_CONTROL_VMXON_OUTSIDE_SMX)) {
		log_info("CPU %u: VMX is locked off by the firmware (IA32_FEATURE_CONTROL = 0x%lx): "
			 "enable Intel VT-x in the setup menu", cpu->id, fc);
		return MICA_EPERM;
	}
	write_cr0((read_cr0() | cr0_fixed0) & cr0_fixed1);
	write_cr4((read_cr4() | cr4_fixed0 | CR4_VMXE) & cr4_fixed1);

	uint64_t region = mem_alloc(4096, 4096);
	if (!region)
		return MICA_EINVAL;
	*(uint32_t *)phys_to_virt(region) = vmcs_revision;
	if (do_vmxon(region)) {
		log_info("CPU %u: VMXON failed (CR0 0x%lx, CR4 0x%lx)", cpu->id, read_cr0(), read_cr4());
		return MICA_EINVAL;
	}
	cpu->virt = phys_to_virt(region);
	return 0;
}

static int vmx_vcpu_init(struct vcpu *v)
{
	struct vmx_vcpu *vx = phys_to_virt(mem_alloc(sizeof(*vx), 64));
	uint64_t vmcs = mem_alloc(4096, 4096);
	if (!vx || !vmcs)
		return MICA_EINVAL;
	*(uint32_t *)phys_to_virt(vmcs) = vmcs_revision;
	vx->vmcs_pa = vmcs;
	v->hw = vx;
	return 0;
}

static void invalidate_tlbs(struct vcpu *v);

/* The VMCS back in memory and not current on this CPU, and the translations of the EPT
 * and VPID forgotten: its memory may be anything's next. */
static void vmx_vcpu_release(struct vcpu *v)
{
	struct vmx_vcpu *vx = v->hw;
	if (vx->vmcs_ready)
		invalidate_tlbs(v);
	do_vmclear(vx->vmcs_pa);
	vx->vmcs_ready = 0;
}

static void vmx_vcpu_free(struct vcpu *v)
{
	struct vmx_vcpu *vx = v->hw;
	mem_free(vx->vmcs_pa, 4096);
	mem_free(virt_to_phys(vx), sizeof(*vx));
	v->hw = NULL;
}

static void vmx_vcpu_reset(struct vcpu *v, const struct vcpu_boot_state *st)
{
	struct vmx_vcpu *vx = v->hw;

	vx->boot = *st;
	memset(&v->regs, 0, sizeof(v->regs));
	v->regs.rip = st->rip;
	v->regs.rflags = 0x2;
	v->regs.gpr[REG_RSP] = st->rsp;
	v->regs.gpr[REG_RDI] = st->rdi;
	v->regs.gpr[REG_RSI] = st->rsi;
	v->regs.gpr[REG_RAX] = st->rax;
	v->regs.gpr[REG_RBX] = st->rbx;
	vx->star = vx->lstar = vx->cstar = vx->sfmask = vx->kernel_gs_base = 0;
	__atomic_store_n(&vx->reset_pending, 1, __ATOMIC_RELEASE);
}

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static uint64_t tss_base(uint64_t gdt, uint16_t sel)
{
	const uint64_t *d = (const uint64_t *)(gdt + (sel & ~7u));
	uint64_t lo = d[0], hi = d[1];
	return ((lo >> 16) & 0xffffff) | (((lo >> 56) & 0xff) << 24) | (hi << 32);
}

/* Host state and controls: written once, on the CPU that owns the VMCS. */
static void setup_vmcs(struct vcpu *v)
{
	struct desc_ptr gdtr, idtr;
	uint16_t tr;

	__asm__ volatile("sgdt %0; sidt %1; str %2" : "=m"(gdtr), "=m"(idtr), "=r"(tr));
	vmwrite(HOST_CR0, read_cr0());
	vmwrite(HOST_CR3, read_cr3());
	vmwrite(HOST_CR4, read_cr4());
	vmwrite(HOST_CS_SEL, 0x08);
	vmwrite(HOST_SS_SEL, 0x10);
	vmwrite(HOST_DS_SEL, 0x10);
	vmwrite(HOST_ES_SEL, 0x10);
	vmwrite(HOST_FS_SEL, 0);
	vmwrite(HOST_GS_SEL, 0);
	vmwrite(HOST_TR_SEL, tr);
	vmwrite(HOST_FS_BASE, rdmsr(MSR_FS_BASE));
	vmwrite(HOST_GS_BASE, rdmsr(MSR_GS_BASE));
	vmwrite(HOST_TR_BASE, tss_base(gdtr.base, tr));
	vmwrite(HOST_GDTR_BASE, gdtr.base);
	vmwrite(HOST_IDTR_BASE, idtr.base);
	vmwrite(HOST_SYSENTER_CS, 0);
	vmwrite(HOST_SYSENTER_ESP, 0);
	vmwrite(HOST_SYSENTER_EIP, 0);
	vmwrite(HOST_EFER, rdmsr(MSR_EFER));
	vmwrite(HOST_PAT, rdmsr(MSR_PAT));

	vmwrite(VMCS_PIN_CTLS, pin_ctls);
	vmwrite(VMCS_PROC_CTLS, proc_ctls);
	vmwrite(VMCS_PROC_CTLS2, proc2_ctls);
	vmwrite(VMCS_EXIT_CTLS, exit_ctls);
	vmwrite(VMCS_EXCEPTION_BITMAP, 0);
	vmwrite(VMCS_CR3_TARGET_COUNT, 0);
	vmwrite(VMCS_EXIT_MSR_STORE_COUNT, 0);
	vmwrite(VMCS_EXIT_MSR_LOAD_COUNT, 0);
	vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
	vmwrite(VMCS_TSC_OFFSET, 0);
	vmwrite(GUEST_VMCS_LINK, ~0ULL); /* SDM 26.3.1.5: no shadow VMCS */
	if (proc2_ctls & PROC2_VPID)
		vmwrite(VMCS_VPID, v->part->s2.tag);
	vmwrite(VMCS_EPTP, vmx_eptp(&v->part->s2));
}

static void invalidate_tlbs(struct vcpu *v)
{
	struct { uint64_t a, b; } desc;

	if ((ept_vpid_cap & EPT_CAP_INVEPT) && (ept_vpid_cap & EPT_CAP_INVEPT_ALL)) {
		desc.a = vmx_eptp(&v->part->s2);
		desc.b = 0;
		__asm__ volatile("invept %0, %1" : : "m"(desc), "r"(2ULL) : "cc", "memory");
	}
	if ((proc2_ctls & PROC2_VPID) && (ept_vpid_cap & VPID_CAP_INVVPID) &&
	    (ept_vpid_cap & VPID_CAP_INVVPID_ALL)) {
		desc.a = 0;
		desc.b = 0;
		__asm__ volatile("invvpid %0, %1" : : "m"(desc), "r"(2ULL) : "cc", "memory");
	}
}

/* CR0 bits that must be 1 in VMX operation for this guest (SDM A.7). */
uint64_t cr0_must1(void)
{
	uint64_t m = cr0_fixed0;
	if (proc2_ctls & PROC2_UNRESTRICTED)
		m &= ~(CR0_PE | CR0_PG);
	return m;
}

/* CR0 as the guest sees it: the bits Mica keeps set come from the read shadow. */
uint64_t vmx_guest_cr0(void)
{
	uint64_t mask = cr0_must1();
	return (vmread(GUEST_CR0) & ~mask) | (vmread(VMCS_CR0_SHADOW) & mask);
}

uint32_t vmx_entry_ctls(void)
{
	return entry_ctls;
}

static void guest_seg(unsigned seg, uint16_t sel, uint32_t ar, uint32_t limit, uint64_t base)
{
	vmwrite(GUEST_ES_SEL + 2 * seg, sel);
	vmwrite(GUEST_ES_AR + 2 * seg, ar);
	vmwrite(GUEST_ES_LIMIT + 2 * seg, limit);
	vmwrite(GUEST_ES_BASE + 2 * seg, base);
}

/* Writes the boot state recorded by vmx_vcpu_reset() into the current VMCS. */
void vmx_apply_reset(struct vcpu *v)
{
	struct vmx_vcpu *vx = v->hw;
	const struct vcpu_boot_state *st = &vx->boot;

	__atomic_store_n(&vx->reset_pending, 0, __ATOMIC_RELAXED);
	/* VMX access rights: type, S, DPL, P in 7:0, AVL/L/DB/G in 15:12 (SDM 24.4.1). */
	if (st->mode == VCPU_MODE_REAL16) {
		/* Real mode needs unrestricted guest (vmx_probe insists on it for Linux). */
		guest_seg(SEG_CS, st->code_sel, 0x9b, 0xffff, st->cs_base);
		for (unsigned s = SEG_ES; s <= SEG_GS; s++)
			if (s != SEG_CS)
				guest_seg(s, 0, 0x93, 0xffff, 0);
		vmwrite(GUEST_GDTR_LIMIT, 0xffff);
		vmwrite(GUEST_IDTR_LIMIT, 0xffff);
	} else {
		/* 64-bit code (L) or 32-bit code (D/B); paging off in 32-bit mode needs
		 * unrestricted guest too. */
		guest_seg(SEG_CS, st->code_sel, st->mode == VCPU_MODE_PROT32 ? 0xc09b : 0xa09b,
			  0xffffffff, 0);
		for (unsigned s = SEG_ES; s <= SEG_GS; s++)
			if (s != SEG_CS)
				guest_seg(s, st->data_sel, 0xc093, 0xffffffff, 0);
		vmwrite(GUEST_GDTR_LIMIT, st->gdt_limit);
		vmwrite(GUEST_IDTR_LIMIT, 0);
	}
	guest_seg(SEG_LDTR, 0, AR_UNUSABLE, 0, 0);
	guest_seg(SEG_TR, 0, 0x008b, 0xffff, 0);
	vmwrite(GUEST_GDTR_BASE, st->mode == VCPU_MODE_REAL16 ? 0 : st->gdt_base);
	vmwrite(GUEST_IDTR_BASE, 0);

	/* CR0 bits VMX insists on (NE; PE and PG too without unrestricted guest) stay set in
	 * the real CR0; the guest sees its own value through the shadow, and a write that
	 * changes one of them exits (vmx_cr_access). */
	vmwrite(GUEST_CR0, (st->cr0 | cr0_must1()) & cr0_fixed1);
	vmwrite(VMCS_CR0_MASK, cr0_must1());
	vmwrite(VMCS_CR0_SHADOW, st->cr0);
	/* CR4.VMXE must stay set under VMX; the guest reads its own value through the shadow. */
	vmwrite(GUEST_CR4, (st->cr4 | cr4_fixed0) & cr4_fixed1);
	vmwrite(VMCS_CR4_MASK, CR4_VMXE);
	vmwrite(VMCS_CR4_SHADOW, st->cr4);
	vmwrite(GUEST_CR3, st->cr3);
	vmwrite(GUEST_DR7, 0x400);
	vmwrite(GUEST_RSP, st->rsp);
	vmwrite(GUEST_RIP, st->rip);
	vmwrite(GUEST_RFLAGS, 0x2);
	vmwrite(GUEST_EFER, st->efer);
	vmwrite(GUEST_PAT, 0x0007040600070406ULL);
	vmwrite(GUEST_DEBUGCTL, 0);
	vmwrite(GUEST_SYSENTER_CS, 0);
	vmwrite(GUEST_SYSENTER_ESP, 0);
	vmwrite(GUEST_SYSENTER_EIP, 0);
	vmwrite(GUEST_FS_BASE, 0);
	vmwrite(GUEST_GS_BASE, 0);
	vmwrite(GUEST_ACTIVITY, 0);
	vmwrite(GUEST_INTERRUPTIBILITY, 0);
	vmwrite(GUEST_PENDING_DBG, 0);
	vmwrite(VMCS_ENTRY_INTR_INFO, 0);
	vmwrite(VMCS_ENTRY_CTLS, entry_ctls | ((st->efer & EFER_LMA) ? ENTRY_IA32E : 0));
	wrmsr(MSR_STAR, 0);
	wrmsr(MSR_LSTAR, 0);
	wrmsr(MSR_CSTAR, 0);
	wrmsr(MSR_SFMASK, 0);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
#ifdef MICA_VMX_BREAK_VMCS
	/* Test build only: a VMCS link pointer that is not ~0 must fail VM entry, and Mica must
	 * say so in words (see docs/testing.md). */
	vmwrite(GUEST_VMCS_LINK, 0x1000);
#endif
	invalidate_tlbs(v);
}

static void apply_load(struct vcpu *v, const struct vmx_snap *s);

static void __attribute__((noreturn)) vmx_vcpu_run(struct vcpu *v)
{
	struct vmx_vcpu *vx = v->hw;

	if (do_vmclear(vx->vmcs_pa) || do_vmptrld(vx->vmcs_pa))
		panic("CPU %u: cannot load the VMCS of partition '%s' vCPU %u", v->cpu->id,
		      v->part->name, v->id);
	setup_vmcs(v);
	vx->vmcs_ready = 1;
	vmx_apply_reset(v);
	if (vx->load_pending) {
		vx->load_pending = 0;
		apply_load(v, &vx->load);
	}
	vmx_loop(v);
}

void vmx_inject_exception(struct vcpu *v, uint8_t vector, int has_error, uint32_t error)
{
	/* Real mode pushes no error codes, and VM entry refuses one there (SDM 26.2.1.3). */
	if (!(vmread(GUEST_CR0) & CR0_PE))
		has_error = 0;
	vmwrite(VMCS_ENTRY_INTR_INFO, vector | INTR_TYPE_HW_EXCEPTION | INTR_INFO_VALID |
					      (has_error ? INTR_INFO_HAS_ERROR : 0));
	if (has_error)
		vmwrite(VMCS_ENTRY_EXC_ERROR, error);
}

static void vmx_get_paging(struct vcpu *v, uint64_t *cr0, uint64_t *cr3, uint64_t *cr4,
			   uint64_t *efer, unsigned *code_bits)
{
	/* The guest's own view of CR0/CR4 for the walk: the real registers, which only add
	 * NE and VMXE, are what the CPU walks with. */
	*cr0 = vmread(GUEST_CR0);
	*cr3 = vmread(GUEST_CR3);
	*cr4 = vmread(GUEST_CR4);
	*efer = vmread(GUEST_EFER);
	uint32_t ar = (uint32_t)vmread(GUEST_ES_AR + 2 * SEG_CS);
	*code_bits = (*efer & EFER_LMA) && (ar & (1u << 13)) ? 64 : (ar & (1u << 14)) ? 32 : 16;
}

static unsigned vmx_guest_cpl(struct vcpu *v)
{
	return (vmread(GUEST_ES_AR + 2 * SEG_SS) >> 5) & 3; /* SS.DPL is the CPL (SDM 24.4.1) */
}

static uint64_t vmx_cs_base(struct vcpu *v)
{
	return vmread(GUEST_ES_BASE + 2 * SEG_CS);
}

static int vmx_irq_ready(struct vcpu *v)
{
	return (vmread(GUEST_RFLAGS) & RFLAGS_IF) && !(vmread(GUEST_INTERRUPTIBILITY) & 3) &&
	       !(vmread(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID);
}

static void vmx_inject_irq(struct vcpu *v, uint8_t vector)
{
	vmwrite(VMCS_ENTRY_INTR_INFO, vector | INTR_INFO_VALID); /* type 0: external interrupt */
}

void vmx_irq_window(struct vcpu *v, int on)
{
	uint32_t ctl = (uint32_t)vmread(VMCS_PROC_CTLS);
	vmwrite(VMCS_PROC_CTLS, on ? ctl | PROC_INTR_WINDOW : ctl & ~PROC_INTR_WINDOW);
}

static uint64_t *soft_msr(struct vmx_vcpu *vx, uint32_t index)
{
	switch (index) {
	case MSR_STAR: return &vx->star;
	case MSR_LSTAR: return &vx->lstar;
	case MSR_CSTAR: return &vx->cstar;
	case MSR_SFMASK: return &vx->sfmask;
	case MSR_KERNEL_GS_BASE: return &vx->kernel_gs_base;
	default: return NULL;
	}
}

static uint32_t vmcs_msr_field(uint32_t index)
{
	switch (index) {
	case MSR_PAT: return GUEST_PAT;
	case MSR_FS_BASE: return GUEST_FS_BASE;
	case MSR_GS_BASE: return GUEST_GS_BASE;
	case MSR_SYSENTER_CS: return GUEST_SYSENTER_CS;
	case MSR_SYSENTER_ESP: return GUEST_SYSENTER_ESP;
	case MSR_SYSENTER_EIP: return GUEST_SYSENTER_EIP;
	default: return 0;
	}
}

static int vmx_msr_read(struct vcpu *v, uint32_t index, uint64_t *value)
{
	uint64_t *m = soft_msr(v->hw, index);
	uint32_t f;

	if (index == MSR_EFER)
		*value = vmread(GUEST_EFER);
	else if (m)
		*value = *m;
	else if ((f = vmcs_msr_field(index)))
		*value = vmread(f);
	else
		return MICA_ENOSYS;
	return 0;
}

static int vmx_msr_write(struct vcpu *v, uint32_t index, uint64_t value)
{
	uint64_t *m = soft_msr(v->hw, index);
	uint32_t f;

	if (index == MSR_EFER) {
		if (!efer_write_ok(vmread(GUEST_EFER), value, vmx_guest_cr0()))
			return MICA_EINVAL;
		uint64_t lma = vmread(GUEST_EFER) & EFER_LMA; /* the CPU's to change */
		vmwrite(GUEST_EFER, (value & ~EFER_LMA) | lma);
		return 0;
	}
	if ((m || vmcs_msr_field(index)) && !msr_value_ok(index, value, vmread(GUEST_CR4)))
		return MICA_EINVAL;
	if (m) {
		/* This CPU runs only this vCPU: the real MSR is the guest's. A value the CPU
		 * refuses after all is the guest's #GP, not a hypervisor exception. */
		if (wrmsr_safe(index, value))
			return MICA_EINVAL;
		*m = value;
		return 0;
	}
	if ((f = vmcs_msr_field(index))) {
		vmwrite(f, value);
		return 0;
	}
	return MICA_ENOSYS;
}

/* The guest's VMCS fields: segments, descriptor tables, control registers as the guest
 * and the CPU see them, the MSRs the VMCS holds, and the event and interruptibility
 * state of the next entry (an interrupt being injected, an interrupt shadow, HLT). */
static const uint32_t snap_fields[] = {
	GUEST_ES_SEL, GUEST_ES_SEL + 2, GUEST_ES_SEL + 4, GUEST_ES_SEL + 6, GUEST_ES_SEL + 8,
	GUEST_ES_SEL + 10, GUEST_ES_SEL + 12, GUEST_ES_SEL + 14,
	GUEST_ES_LIMIT, GUEST_ES_LIMIT + 2, GUEST_ES_LIMIT + 4, GUEST_ES_LIMIT + 6,
	GUEST_ES_LIMIT + 8, GUEST_ES_LIMIT + 10, GUEST_ES_LIMIT + 12, GUEST_ES_LIMIT + 14,
	GUEST_ES_AR, GUEST_ES_AR + 2, GUEST_ES_AR + 4, GUEST_ES_AR + 6, GUEST_ES_AR + 8,
	GUEST_ES_AR + 10, GUEST_ES_AR + 12, GUEST_ES_AR + 14,
	GUEST_ES_BASE, GUEST_ES_BASE + 2, GUEST_ES_BASE + 4, GUEST_ES_BASE + 6,
	GUEST_ES_BASE + 8, GUEST_ES_BASE + 10, GUEST_ES_BASE + 12, GUEST_ES_BASE + 14,
	GUEST_GDTR_LIMIT, GUEST_IDTR_LIMIT, GUEST_GDTR_BASE, GUEST_IDTR_BASE,
	GUEST_CR0, GUEST_CR3, GUEST_CR4, VMCS_CR0_SHADOW, VMCS_CR4_SHADOW, GUEST_DR7,
	GUEST_RSP, GUEST_RFLAGS, GUEST_PENDING_DBG, GUEST_SYSENTER_CS, GUEST_SYSENTER_ESP,
	GUEST_SYSENTER_EIP, GUEST_DEBUGCTL, GUEST_PAT, GUEST_EFER, GUEST_INTERRUPTIBILITY,
};
/* Written after the others: the entry's event and mode, and the interrupt window. */
static const uint32_t snap_late[] = {
	GUEST_ACTIVITY, VMCS_ENTRY_INTR_INFO, VMCS_ENTRY_EXC_ERROR, VMCS_ENTRY_INSN_LEN,
	VMCS_ENTRY_CTLS, VMCS_PROC_CTLS,
};
_Static_assert(sizeof(snap_fields) / 4 + sizeof(snap_late) / 4 <= VMX_SNAP_FIELDS,
	       "room for the fields");
_Static_assert(sizeof(struct vmx_snap) <= VIRT_STATE_MAX, "a state fits its buffer");

#define NSNAP (sizeof(snap_fields) / sizeof(snap_fields[0]))
#define NLATE (sizeof(snap_late) / sizeof(snap_late[0]))

static void vmx_vcpu_save(struct vcpu *v, void *buf)
{
	struct vmx_vcpu *vx = v->hw;
	struct vmx_snap *s = buf;

	memset(s, 0, sizeof(*s));
	s->boot = vx->boot;
	s->star = vx->star;
	s->lstar = vx->lstar;
	s->cstar = vx->cstar;
	s->sfmask = vx->sfmask;
	s->kernel_gs_base = vx->kernel_gs_base;
	if (vx->reset_pending || !vx->vmcs_ready) {
		s->kind = VMX_SNAP_BOOT; /* its VMCS has nothing of the guest's yet */
		return;
	}
	s->kind = VMX_SNAP_VMCS;
	s->nfields = NSNAP + NLATE;
	for (unsigned i = 0; i < NSNAP; i++)
		s->field[i] = vmread(snap_fields[i]);
	for (unsigned i = 0; i < NLATE; i++)
		s->field[NSNAP + i] = vmread(snap_late[i]);
}

/* Writes s into the current VMCS (on the owning CPU). */
static void apply_load(struct vcpu *v, const struct vmx_snap *s)
{
	for (unsigned i = 0; i < NSNAP; i++)
		vmwrite(snap_fields[i], s->field[i]);
	for (unsigned i = 0; i < NLATE; i++)
		vmwrite(snap_late[i], s->field[NSNAP + i]);
	vmwrite(GUEST_RIP, v->regs.rip);
	invalidate_tlbs(v); /* nothing of the guest's old address spaces survives */
}

static void vmx_vcpu_load(struct vcpu *v, const void *buf)
{
	struct vmx_vcpu *vx = v->hw;
	const struct vmx_snap *s = buf;

	vx->star = s->star;
	vx->lstar = s->lstar;
	vx->cstar = s->cstar;
	vx->sfmask = s->sfmask;
	vx->kernel_gs_base = s->kernel_gs_base;
	/* This CPU runs only this vCPU: the real MSRs are the guest's (vmx_msr_write). */
	wrmsr_safe(MSR_STAR, s->star);
	wrmsr_safe(MSR_LSTAR, s->lstar);
	wrmsr_safe(MSR_CSTAR, s->cstar);
	wrmsr_safe(MSR_SFMASK, s->sfmask);
	wrmsr_safe(MSR_KERNEL_GS_BASE, s->kernel_gs_base);
	vx->load_pending = 0;
	if (s->kind != VMX_SNAP_VMCS) {
		vx->boot = s->boot;
		__atomic_store_n(&vx->reset_pending, 1, __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(&vx->reset_pending, 0, __ATOMIC_RELEASE);
	if (vx->vmcs_ready) {
		apply_load(v, s);
	} else {
		vx->load = *s; /* vmx_vcpu_run writes it after the host state */
		vx->load_pending = 1;
	}
}

static const struct virt_ops vmx_ops = {
	.name = "vmx",
	.hcall_insn = MICA_HCALL_INSN_VMCALL,
	.cpu_init = vmx_cpu_init,
	.stage2_init = vmx_stage2_init,
	.stage2_map = vmx_stage2_map,
	.stage2_unmap = vmx_stage2_unmap,
	.stage2_flush = invalidate_tlbs,
	.stage2_prune = vmx_stage2_prune,
	.stage2_free = vmx_stage2_free,
	.vcpu_init = vmx_vcpu_init,
	.vcpu_release = vmx_vcpu_release,
	.vcpu_free = vmx_vcpu_free,
	.vcpu_reset = vmx_vcpu_reset,
	.vcpu_run = vmx_vcpu_run,
	.vcpu_save = vmx_vcpu_save,
	.vcpu_load = vmx_vcpu_load,
	.inject_exception = vmx_inject_exception,
	.get_paging = vmx_get_paging,
	.guest_cpl = vmx_guest_cpl,
	.cs_base = vmx_cs_base,
	.irq_ready = vmx_irq_ready,
	.inject_irq = vmx_inject_irq,
	.irq_window = vmx_irq_window,
	.msr_read = vmx_msr_read,
	.msr_write = vmx_msr_write,
};

const struct virt_ops *vmx_probe(const char **why)
{
	uint32_t r[4];

	cpuid_count(0, 0, r);
	if (r[1] != 0x756e6547) { /* "Genu" ineIntel */
		*why = "not an Intel CPU";
		return NULL;
	}
	cpuid_count(1, 0, r);
	/* Bochs answers the VMX MSRs even on models without VMX: trust CPUID first. */
	if (!(r[2] & CPUID_VMX_BIT)) {
		*why = "the CPU has no VMX (Intel VT-x)";
		return NULL;
	}
	uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
	if ((fc & FEATURE_CONTROL_LOCK) && !(fc & FEATURE_CONTROL_VMXON_OUTSIDE_SMX)) {
		*why = "VT-x is locked off by the firmware (IA32_FEATURE_CONTROL): turn on Intel "
		       "Virtualization Technology in the setup menu";
		return NULL;
	}
	uint64_t basic = rdmsr(MSR_VMX_BASIC);
	int true_ctls = !!(basic & VMX_BASIC_TRUE_CTLS);
	vmcs_revision = (uint32_t)basic & 0x7fffffff;
	cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
	cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
	cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
	cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);

	uint32_t want_proc = PROC_HLT | PROC_UNCOND_IO | PROC_MWAIT | PROC_MONITOR | PROC_SECONDARY;
	if (adjust(true_ctls ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED, PIN_EXT_INTR | PIN_NMI,
		   PIN_EXT_INTR, &pin_ctls) ||
	    adjust(true_ctls ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED, want_proc,
		   PROC_HLT | PROC_UNCOND_IO | PROC_SECONDARY, &proc_ctls)) {
		*why = "VMX lacks external-interrupt, HLT or I/O exiting, or secondary controls";
		return NULL;
	}
	/* CR3 load/store exiting may be forced on without TRUE controls; EPT needs them off. */
	if (adjust(MSR_VMX_PROCBASED2, PROC2_EPT | PROC2_VPID | PROC2_UNRESTRICTED | PROC2_RDTSCP |
		   PROC2_INVPCID | PROC2_XSAVES, PROC2_EPT, &proc2_ctls)) {
		*why = "the CPU has VMX but no EPT";
		return NULL;
	}
	if (adjust(true_ctls ? MSR_VMX_TRUE_EXIT : MSR_VMX_EXIT,
		   EXIT_HOST_64 | EXIT_SAVE_PAT | EXIT_LOAD_PAT | EXIT_SAVE_EFER | EXIT_LOAD_EFER,
		   EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER, &exit_ctls) ||
	    adjust(true_ctls ? MSR_VMX_TRUE_ENTRY : MSR_VMX_ENTRY, ENTRY_LOAD_PAT | ENTRY_LOAD_EFER,
		   ENTRY_LOAD_EFER, &entry_ctls)) {
		*why = "VMX cannot switch EFER on entry and exit";
		return NULL;
	}
	entry_ctls &= ~ENTRY_IA32E; /* per guest, at reset */
	ept_vpid_cap = rdmsr(MSR_VMX_EPT_VPID_CAP);
	if (!(ept_vpid_cap & EPT_CAP_WALK4) || !(ept_vpid_cap & EPT_CAP_WB)) {
		*why = "EPT lacks 4-level walks or write-back paging structures";
		return NULL;
	}
	return &vmx_ops;
}
