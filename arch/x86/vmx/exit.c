/* Turns a VT-x exit into the kernel's terms, and VM-entry failures into words. */
#include <stddef.h>
#include "arch/x86/cpu.h"
#include "arch/x86/extable.h"
#include "arch/x86/msr_check.h"
#include "arch/x86/vmx/vmx.h"
#include "kernel/partition.h"
#include "kernel/percpu.h"

/* SDM vol. 3, 31.4 "VM instruction error numbers". */
const char *vmx_insn_error_text(uint32_t err)
{
	switch (err) {
	case 1: return "VMCALL executed in VMX root operation";
	case 2: return "VMCLEAR with an invalid physical address";
	case 3: return "VMCLEAR with the VMXON pointer";
	case 4: return "VMLAUNCH with a VMCS that is not clear";
	case 5: return "VMRESUME with a VMCS that was not launched";
	case 6: return "VMRESUME after VMXOFF";
	case 7: return "VM entry with invalid control field(s)";
	case 8: return "VM entry with invalid host-state field(s)";
	case 9: return "VMPTRLD with an invalid physical address";
	case 10: return "VMPTRLD with the VMXON pointer";
	case 11: return "VMPTRLD with an incorrect VMCS revision identifier";
	case 12: return "VMREAD/VMWRITE of an unsupported VMCS component";
	case 13: return "VMWRITE to a read-only VMCS component";
	case 15: return "VMXON executed in VMX root operation";
	case 16: return "VM entry with an invalid executive-VMCS pointer";
	case 17: return "VM entry with a non-launched executive VMCS";
	case 18: return "VM entry with an executive-VMCS pointer that is not the VMXON pointer";
	case 26: return "VM entry with events blocked by MOV SS";
	case 28: return "invalid operand to INVEPT/INVVPID";
	default: return "unknown VM-instruction error";
	}
}

static const char *entry_fail_text(uint32_t reason, uint64_t qual)
{
	switch (reason & 0xffff) {
	case EXIT_REASON_BAD_GUEST:
		switch (qual) {
		case 2: return "VM entry failed: invalid guest state (PDPTE loading)";
		case 3: return "VM entry failed: invalid guest state (NMI injection)";
		case 4: return "VM entry failed: invalid guest state (VMCS link pointer)";
		default: return "VM entry failed: invalid guest state in the VMCS";
		}
	case EXIT_REASON_BAD_MSR_LOAD: return "VM entry failed: MSR loading";
	case EXIT_REASON_MCE_ENTRY: return "VM entry failed: machine check";
	default: return "VM entry failed";
	}
}

/* VMLAUNCH/VMRESUME fell through: VMfailInvalid (CF) or VMfailValid (ZF, error in the VMCS). */
void vmx_entry_failed(struct vcpu *v, uint64_t rflags)
{
	if (rflags & 1) {
		partition_end(v, 0, "VM entry failed: VMfailInvalid (no current VMCS on CPU %u)",
			      v->cpu->id);
	} else {
		uint32_t err = (uint32_t)vmread(VMCS_INSN_ERROR);
		partition_end(v, partition_on_crash_restarts(v->part),
			      "VM entry failed: VM-instruction error %u: %s", err,
			      vmx_insn_error_text(err));
	}
	partition_check(v);
	if (((struct vmx_vcpu *)v->hw)->reset_pending)
		vmx_apply_reset(v);
}

static uint64_t gpr(struct vcpu *v, unsigned n)
{
	return n == REG_RSP ? v->regs.gpr[REG_RSP] : v->regs.gpr[n];
}

/* MOV to CR0/CR4, CLTS and LMSW that touch a bit Mica keeps set (SDM 27.1.3, table 28-3).
 * The guest sees its value in the read shadow; the real register keeps the VMX bits. When
 * the write turns paging on or off, the IA-32e transition the CPU would have made is
 * done here (SDM 9.8.5): EFER.LMA and the "IA-32e mode guest" entry control follow. What
 * MOV to CR0 refuses with #GP on a CPU (SDM vol. 2 "MOV—Move to/from Control Registers")
 * is refused here too: reserved bits 63:32 in 64-bit code, PG without PE, NW without CD,
 * paging off in 64-bit code, long-mode paging without PAE. Clearing NE is allowed and
 * stays in the shadow (x87 errors then still raise #MF: VMX keeps NE set). */
static int cr_access(struct vcpu *v, uint64_t qual)
{
	unsigned cr = qual & 15, type = (qual >> 4) & 3;
	uint64_t val;

	if (cr == 0) {
		uint64_t old = vmx_guest_cr0(); /* the shadow alone is stale for unmasked bits */
		uint64_t efer = vmread(GUEST_EFER);
		uint32_t cs_ar = (uint32_t)vmread(GUEST_ES_AR + 2 * SEG_CS);
		int code64 = (efer & EFER_LMA) && (cs_ar & (1u << 13));
		if (type == 0)
			val = gpr(v, (qual >> 8) & 15);
		else if (type == 2)
			val = old & ~0x8ULL; /* CLTS */
		else if (type == 3)
			val = (old & ~0xeULL) | ((qual >> 16) & 0xf) | (old & 1); /* LMSW: cannot clear PE */
		else
			return -1;
		if (code64 && (val >> 32))
			return -1;
		val &= 0xffffffffULL;
		if (((val & CR0_PG) && !(val & CR0_PE)) || ((val >> 29) & 3) == 1) /* PG w/o PE; NW w/o CD */
			return -1;
		if (code64 && !(val & CR0_PG))
			return -1;
		uint32_t entry = (uint32_t)vmread(VMCS_ENTRY_CTLS);
		if ((val & CR0_PG) && !(old & CR0_PG) && (efer & EFER_LME)) {
			if (!(vmread(GUEST_CR4) & CR4_PAE))
				return -1;
			vmwrite(GUEST_EFER, efer | EFER_LMA);
			vmwrite(VMCS_ENTRY_CTLS, entry | ENTRY_IA32E);
		} else if (!(val & CR0_PG) && (old & CR0_PG) && (efer & EFER_LMA)) {
			vmwrite(GUEST_EFER, efer & ~EFER_LMA);
			vmwrite(VMCS_ENTRY_CTLS, entry & ~ENTRY_IA32E);
		}
		vmwrite(VMCS_CR0_SHADOW, val);
		vmwrite(GUEST_CR0, val | cr0_must1());
		return 0;
	}
	if (cr == 4 && type == 0) {
		val = gpr(v, (qual >> 8) & 15);
		if (val & CR4_VMXE)
			return -1; /* the guest was told there is no VMX */
		vmwrite(VMCS_CR4_SHADOW, val);
		vmwrite(GUEST_CR4, val | CR4_VMXE);
		return 0;
	}
	return -1;
}

/* XSETBV always exits under VMX (SDM 25.1.2). The CPU runs only this vCPU, so the guest's
 * XCR0 is simply loaded, once checked against every rule of SDM vol. 1 13.3; should the
 * CPU still refuse it, the fault is the guest's #GP, never a hypervisor exception. */
static int xsetbv(struct vcpu *v)
{
	uint32_t r[4];
	uint64_t val = (v->regs.gpr[REG_RDX] << 32) | (uint32_t)v->regs.gpr[REG_RAX];

	if ((uint32_t)v->regs.gpr[REG_RCX] != 0)
		return -1; /* XCR0 is the only XCR XSETBV writes */
	if ((vmread(GUEST_ES_AR + 2 * SEG_SS) >> 5) & 3)
		return -1; /* CPL > 0 */
	cpuid_count(0xd, 0, r);
#ifndef MICA_TEST_TRUST_CPU /* test build only: the CPU checks, the exception table catches */
	if (!xcr0_valid(val, ((uint64_t)r[3] << 32) | r[0]))
		return -1;
#endif
	return xsetbv_safe(0, val);
}

static void __attribute__((noinline)) entry_blocked(struct vcpu *v)
{
	do {
		irq_enable();
		vcpu_kicked(v);
		vcpu_test_window(v);
		irq_disable();
	} while (!vcpu_may_enter(v));
}

/* The last step before every VM entry. With IF = 0 a kick's interrupt waits, and with
 * external-interrupt exiting it makes the guest exit before its first instruction: a kick
 * after the look in vcpu_may_enter() is never lost. NMIs are not held by IF: the callers
 * of arch_kick_cpu_nmi() re-send. */
static inline void before_entry(struct vcpu *v)
{
	vcpu_test_window(v);
	irq_disable(); /* already off after an exit, unless the exit path idled */
	if (__builtin_expect(!vcpu_may_enter(v), 0))
		entry_blocked(v);
	if (__builtin_expect(((struct vmx_vcpu *)v->hw)->reset_pending, 0))
		vmx_apply_reset(v); /* restarted while parked, or a SIPI arrived */
	else
		vmwrite(GUEST_RIP, v->regs.rip);
}

static void __attribute__((noinline)) slow_exit(struct vcpu *v, uint32_t reason)
{
	struct vm_exit e;
	uint64_t qual = vmread(VMCS_EXIT_QUAL);

	v->regs.gpr[REG_RSP] = vmread(GUEST_RSP);
	v->regs.rflags = vmread(GUEST_RFLAGS);
	e.insn_len = 0;
	e.raw[0] = reason;
	e.raw[1] = qual;
	e.raw[2] = 0;

	if (reason & EXIT_REASON_ENTRY_FAIL) {
		e.reason = EXIT_ENTRY_FAILED;
		e.what = entry_fail_text(reason, qual);
		vcpu_handle_exit(v, &e);
		goto out;
	}
	/* An event the CPU was delivering when the exit came is not lost: queue it again
	 * (SDM 27.2.4), with its error code and, for software events, its length. */
	uint32_t idt = (uint32_t)vmread(VMCS_IDT_VECTORING);
	if ((idt & INTR_INFO_VALID) && !(vmread(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID)) {
		vmwrite(VMCS_ENTRY_INTR_INFO, idt & ~(1u << 12));
		if (idt & INTR_INFO_HAS_ERROR)
			vmwrite(VMCS_ENTRY_EXC_ERROR, vmread(VMCS_IDT_VECTORING_ERR));
		uint32_t type = idt & INTR_TYPE_MASK;
		if (type == INTR_TYPE_SOFT_INTR || type == INTR_TYPE_SOFT_EXC || type == INTR_TYPE_PRIV_SOFT)
			vmwrite(VMCS_ENTRY_INSN_LEN, vmread(VMCS_EXIT_INSN_LEN));
	}
	switch (reason) {
	case EXIT_REASON_INTR_WINDOW:
		vmx_irq_window(v, 0);
		e.reason = EXIT_IRQ_WINDOW;
		break;
	case EXIT_REASON_EXT_INTR:
		/* Not acknowledged on exit: let the host IDT take it now (sti shadow: one nop). */
		__asm__ volatile("sti; nop; cli" ::: "memory");
		kick_clear(v->cpu); /* answered by the look at our state below */
		e.reason = EXIT_INTR;
		break;
	case EXIT_REASON_EXCEPTION:
		/* Only NMIs arrive here (the exception bitmap is 0): a kick (arch_kick_cpu_nmi). */
		kick_clear(v->cpu);
		e.reason = EXIT_INTR;
		break;
	case EXIT_REASON_IO:
		e.reason = EXIT_IO;
		e.insn_len = (uint32_t)vmread(VMCS_EXIT_INSN_LEN);
		e.io.size = (uint8_t)((qual & 7) + 1);
		e.io.in = !!(qual & IO_QUAL_IN);
		e.io.string = !!(qual & IO_QUAL_STRING);
		e.io.rep = !!(qual & IO_QUAL_REP);
		e.io.port = (uint16_t)(qual >> 16);
		break;
	case EXIT_REASON_RDMSR:
	case EXIT_REASON_WRMSR:
		e.reason = EXIT_MSR;
		e.insn_len = (uint32_t)vmread(VMCS_EXIT_INSN_LEN);
		e.msr.index = (uint32_t)v->regs.gpr[REG_RCX];
		e.msr.write = reason == EXIT_REASON_WRMSR;
		break;
	case EXIT_REASON_CR_ACCESS:
		e.reason = EXIT_NONE;
		if (cr_access(v, qual))
			vmx_inject_exception(v, 13, 1, 0);
		else
			v->regs.rip += vmread(VMCS_EXIT_INSN_LEN);
		break;
	case EXIT_REASON_XSETBV:
		e.reason = EXIT_NONE;
		if (xsetbv(v))
			vmx_inject_exception(v, 13, 1, 0);
		else
			v->regs.rip += vmread(VMCS_EXIT_INSN_LEN);
		break;
	case EXIT_REASON_HLT:
		e.reason = EXIT_HLT;
		e.insn_len = (uint32_t)vmread(VMCS_EXIT_INSN_LEN);
		break;
	case EXIT_REASON_INVD:
		/* Dropping cached writes would lose other partitions' data: as WBINVD, a no-op
		 * here (no cache state a guest could see). */
		v->regs.rip += vmread(VMCS_EXIT_INSN_LEN);
		e.reason = EXIT_NONE;
		break;
	case EXIT_REASON_EPT_VIOLATION:
		e.reason = EXIT_STAGE2_FAULT;
		e.fault.gpa = vmread(VMCS_GUEST_PHYS_ADDR);
		e.fault.read = !!(qual & EPT_QUAL_READ);
		e.fault.write = !!(qual & EPT_QUAL_WRITE);
		e.fault.exec = !!(qual & EPT_QUAL_FETCH);
		e.raw[2] = e.fault.gpa;
		break;
	case EXIT_REASON_TRIPLE_FAULT:
		e.reason = EXIT_TRIPLE_FAULT;
		e.shutdown.event = idt;
		e.shutdown.cr2 = 0; /* not in the VMCS */
		break;
	case EXIT_REASON_EPT_MISCONFIG:
		e.reason = EXIT_UNHANDLED;
		e.what = "EPT misconfiguration (a bug in Mica's EPT)";
		e.raw[2] = vmread(VMCS_GUEST_PHYS_ADDR);
		break;
	case EXIT_REASON_GETSEC: case EXIT_REASON_VMCLEAR: case 20: case 21: case 22: case 23:
	case 24: case 25: case 26: case EXIT_REASON_VMXON: case EXIT_REASON_INVEPT:
	case EXIT_REASON_INVVPID: case EXIT_REASON_VMFUNC: case EXIT_REASON_MWAIT:
	case EXIT_REASON_MONITOR:
		/* Instructions of features the guest was not offered: #UD, as on a CPU without them. */
		vmx_inject_exception(v, 6, 0, 0);
		e.reason = EXIT_NONE;
		break;
	default:
		e.reason = EXIT_UNHANDLED;
		e.what = reason == EXIT_REASON_INIT ? "INIT signal" :
			 reason == EXIT_REASON_TASK_SWITCH ? "task switch" : "unexpected exit";
		break;
	}
	vcpu_handle_exit(v, &e);
out:
	vmwrite(GUEST_RSP, v->regs.gpr[REG_RSP]);
	vmwrite(GUEST_RFLAGS, v->regs.rflags);
	/* An instruction Mica completed (HLT after STI, an OUT after MOV SS) ends the STI
	 * and MOV SS shadows as the CPU would: left set, an interrupt pending at "sti; hlt"
	 * waited for the next STI and, with "cli" after the HLT, forever (attack_irq). */
	if (v->regs.rip != vmread(GUEST_RIP)) {
		uint64_t block = vmread(GUEST_INTERRUPTIBILITY);
		if (block & 3)
			vmwrite(GUEST_INTERRUPTIBILITY, block & ~3ULL);
	}
}

void vmx_handle_exit(struct vcpu *v)
{
	uint32_t reason = (uint32_t)vmread(VMCS_EXIT_REASON);

	v->regs.rip = vmread(GUEST_RIP);
	/* The hot exits first: they touch only RIP and the saved GPRs. */
	if (reason == EXIT_REASON_CPUID)
		vcpu_exit_cpuid(v, (unsigned)vmread(VMCS_EXIT_INSN_LEN));
	else if (reason == EXIT_REASON_VMCALL)
		vcpu_exit_hypercall(v, (unsigned)vmread(VMCS_EXIT_INSN_LEN));
	else
		slow_exit(v, reason);

	if (v->irq.on)
		irq_before_entry(v);
	before_entry(v);
}

void vmx_before_entry(struct vcpu *v)
{
	before_entry(v);
}
