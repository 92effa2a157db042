/* Turns an SVM #VMEXIT into the kernel's terms. Instruction lengths: with NRIPS the VMCB
 * holds the next RIP (APM 15.7.1); QEMU's SVM has no NRIPS, and then the length is 0 ("not
 * known") and the kernel decodes the instruction (kernel/emul/fetch.h), except for IOIO, whose
 * EXITINFO2 is always the next RIP (APM 15.10.2). */
#include <stddef.h>
#include "arch/x86/cpu.h"
#include "arch/x86/svm/intr.h"
#include "arch/x86/svm/svm.h"
#include "kernel/emul/fetch.h"
#include "kernel/partition.h"

static const char *unhandled_name(uint32_t code)
{
	switch (code) {
	case VMEXIT_SMI: return "SMI";
	case VMEXIT_INIT: return "INIT";
	case VMEXIT_TASKSW: return "task switch";
	default: return "unexpected exit";
	}
}

/* Bytes of the intercepted instruction, or 0 when the CPU does not say. */
static inline unsigned next_len(const struct vmcb *vm)
{
	return svm_has_nrips ? (unsigned)(vm->ctl.next_rip - vm->save.rip) : 0;
}

static void __attribute__((noinline)) entry_blocked(struct vcpu *v)
{
	do {
		__asm__ volatile("stgi" ::: "memory");
		vcpu_kicked(v);
		vcpu_test_window(v);
		__asm__ volatile("clgi" ::: "memory");
	} while (!vcpu_may_enter(v));
}

/* The last step before every VMRUN. GIF = 0 holds every interrupt and NMI until VMRUN,
 * where an intercepted one exits at once (APM 15.17): a kick after the look in
 * vcpu_may_enter() is never lost. */
static inline void before_entry(struct vcpu *v, struct vmcb *vm)
{
	vcpu_test_window(v);
	__asm__ volatile("clgi" ::: "memory");
	if (__builtin_expect(!vcpu_may_enter(v), 0))
		entry_blocked(v);
	vm->save.rax = v->regs.gpr[REG_RAX];
	vm->save.rsp = v->regs.gpr[REG_RSP];
	vm->save.rip = v->regs.rip;
	vm->save.rflags = v->regs.rflags;
}

static void __attribute__((noinline)) slow_exit(struct vcpu *v, struct vmcb *vm, uint32_t code)
{
	struct vm_exit e;

	e.insn_len = 0;
	/* An event the CPU was delivering when the exit came is not lost: queue it again. */
	if (vm->ctl.exitintinfo & EXITINTINFO_VALID)
		svm_intr_requeue(vm);
	switch (code) {
	case VMEXIT_INTR:
	case VMEXIT_NMI: /* a kick (arch_kick_cpu_nmi); taken by the host after STGI */
		kick_clear(v->cpu); /* answered by the look at our state below */
		e.reason = EXIT_INTR;
		break;
	case VMEXIT_VINTR:
		svm_irq_window(v, 0);
		e.reason = EXIT_IRQ_WINDOW;
		break;
	case VMEXIT_IOIO: {
		uint64_t info = vm->ctl.exitinfo1;
		e.reason = EXIT_IO;
		e.insn_len = (uint32_t)(vm->ctl.exitinfo2 - vm->save.rip);
		e.io.port = (uint16_t)(info >> 16);
		e.io.size = (info & IOIO_SZ32) ? 4 : (info & IOIO_SZ16) ? 2 : 1;
		e.io.in = info & IOIO_IN;
		e.io.string = !!(info & IOIO_STR);
		e.io.rep = !!(info & IOIO_REP);
		break;
	}
	case VMEXIT_MSR:
		e.reason = EXIT_MSR;
		e.insn_len = next_len(vm);
		e.msr.index = (uint32_t)v->regs.gpr[REG_RCX];
		e.msr.write = vm->ctl.exitinfo1 == 1;
		break;
	case VMEXIT_HLT:
		e.reason = EXIT_HLT;
		e.insn_len = next_len(vm);
		break;
	case VMEXIT_INVD: {
		/* Dropping cached writes would lose other partitions' data: as WBINVD, a no-op
		 * here (no cache state a guest could see). */
		unsigned len = next_len(vm);
		v->regs.rip += len ? len : vcpu_insn_len(v, INSN_INVD, 2);
		e.reason = EXIT_NONE;
		break;
	}
	case VMEXIT_NPF:
		e.reason = EXIT_STAGE2_FAULT;
		e.fault.gpa = vm->ctl.exitinfo2;
		e.fault.write = !!(vm->ctl.exitinfo1 & NPF_WRITE);
		e.fault.exec = !!(vm->ctl.exitinfo1 & NPF_FETCH);
		e.fault.read = !e.fault.write && !e.fault.exec;
		break;
	case VMEXIT_SHUTDOWN:
		e.reason = EXIT_TRIPLE_FAULT;
		e.shutdown.event = (uint32_t)vm->ctl.exitintinfo;
		e.shutdown.cr2 = vm->save.cr2;
		break;
	case VMEXIT_VMRUN: case VMEXIT_VMLOAD: case VMEXIT_VMSAVE: case VMEXIT_STGI:
	case VMEXIT_CLGI: case VMEXIT_SKINIT: case VMEXIT_INVLPGA:
	case VMEXIT_MONITOR: case VMEXIT_MWAIT: case VMEXIT_MWAIT_C:
		/* Instructions of features the guest was not offered: #UD, as on a CPU without them. */
		svm_inject_exception(v, 6, 0, 0);
		e.reason = EXIT_NONE;
		break;
	case VMEXIT_INVALID:
		e.reason = EXIT_ENTRY_FAILED;
		e.what = "VMRUN refused the guest state in the VMCB (VMEXIT_INVALID)";
		break;
	default:
		e.reason = EXIT_UNHANDLED;
		e.what = unhandled_name(code);
		break;
	}
	e.raw[0] = vm->ctl.exitcode;
	e.raw[1] = vm->ctl.exitinfo1;
	e.raw[2] = vm->ctl.exitinfo2;
	vcpu_handle_exit(v, &e);
	/* An instruction Mica completed ends the interrupt shadow (STI, MOV SS) it sat in,
	 * as on the CPU (see the VT-x exit path: attack_irq's "sti; hlt; cli"). */
	if (v->regs.rip != vm->save.rip)
		vm->ctl.int_shadow &= ~INT_SHADOW;
}

/* The VMCB's guest state is the host's own, as it was at VMRUN: RIP after VMRUN, the
 * host's CR3. A CPU never does this, but QEMU's TCG SVM did, rarely, under heavy interrupt
 * load (docs/testing.md): the guest's RIP, RSP, RAX, control registers and segments are
 * lost, and resuming would run Mica's own code as the guest. The partition ends with a
 * line that says so (and what the exit claimed to be), as for a state the CPU refused. */
static void __attribute__((noinline)) lost_state(struct vcpu *v, struct vmcb *vm)
{
	struct vm_exit e = {
		.reason = EXIT_ENTRY_FAILED,
		.what = "the CPU saved the host's state as the guest's (RIP after VMRUN, "
			"Mica's CR3): guest registers lost, an emulator fault",
	};
	e.raw[0] = vm->ctl.exitcode;
	e.raw[1] = vm->ctl.exitinfo1;
	e.raw[2] = vm->ctl.exitinfo2;
	vcpu_handle_exit(v, &e);
}

void svm_handle_exit(struct vcpu *v)
{
	struct vmcb *vm = vmcb_of(v);
	uint32_t code = (uint32_t)vm->ctl.exitcode;

	if (__builtin_expect(vm->save.rip == (uint64_t)svm_vmrun_return, 0) &&
	    vm->save.cr3 == read_cr3()) {
		lost_state(v, vm);
		before_entry(v, vm);
		return;
	}

	v->regs.gpr[REG_RAX] = vm->save.rax;
	v->regs.gpr[REG_RSP] = vm->save.rsp;
	v->regs.rip = vm->save.rip;
	v->regs.rflags = vm->save.rflags;
	vm->ctl.tlb_control = 0;

	/* The hot exits first, without building a struct vm_exit. */
	if (code == VMEXIT_CPUID)
		vcpu_exit_cpuid(v, next_len(vm));
	else if (code == VMEXIT_VMMCALL)
		vcpu_exit_hypercall(v, next_len(vm));
	else
		slow_exit(v, vm, code);
	if (v->irq.on)
		irq_before_entry(v);
	before_entry(v, vm);
}

void svm_before_entry(struct vcpu *v)
{
	before_entry(v, vmcb_of(v));
}
