/* External interrupts into an SVM guest (intr.h).
 *
 * Why a virtual interrupt and not EVENTINJ: QEMU's TCG SVM (7.2, and upstream as far as we
 * read) delivers an EVENTINJ interrupt inside VMRUN but leaves its vector as the CPU's
 * "exception being raised". A CPU kick that comes before the guest's next exit or
 * interrupt (another vCPU's atomic operation that needs the whole machine, a TB flush, a
 * lost IPI) makes QEMU deliver that vector a second time, as an exception, whatever the
 * guest's IF: a Linux guest that took an interrupt in user mode takes it again in the
 * kernel before SWAPGS and double faults, and the service partition triple faulted
 * (docs/testing.md, "When a run is tried twice"). A virtual interrupt goes through QEMU's
 * ordinary interrupt path, which leaves nothing behind. On a CPU the two are equivalent
 * here: the guest can take the interrupt when the vector goes in (svm_intr_ready), so it
 * takes it before its first instruction either way; an intercepted host interrupt or NMI
 * that comes first leaves V_IRQ set for the next VMRUN (APM vol. 2 15.21.4). */
#include "arch/x86/svm/intr.h"

#define V_IRQ_REQUEST (V_IRQ | V_IGN_TPR | V_INTR_PRIO_MAX) /* taken whatever the TPR */
#define GUEST_IF      (1ULL << 9)                           /* RFLAGS.IF */

int svm_intr_delivering(const struct vmcb *vm)
{
	return (vm->ctl.v_intr & V_IRQ) && !(vm->ctl.intercept_misc1 & INTERCEPT_VINTR);
}

int svm_intr_ready(const struct vmcb *vm)
{
	return (vm->save.rflags & GUEST_IF) && !(vm->ctl.int_shadow & INT_SHADOW) &&
	       !(vm->ctl.eventinj & EVENTINJ_VALID) && !svm_intr_delivering(vm);
}

void svm_intr_inject(struct vmcb *vm, uint8_t vector)
{
	vm->ctl.v_intr = (vm->ctl.v_intr & ~V_INTR_VECTOR_MASK) |
			 ((uint64_t)vector << V_INTR_VECTOR_SHIFT) | V_IRQ_REQUEST;
	vm->ctl.intercept_misc1 &= ~INTERCEPT_VINTR;
}

void svm_intr_window(struct vmcb *vm, int on)
{
	if (on) {
		if (svm_intr_delivering(vm))
			return;
		vm->ctl.v_intr |= V_IRQ_REQUEST;
		vm->ctl.intercept_misc1 |= INTERCEPT_VINTR;
	} else {
		vm->ctl.v_intr &= ~V_IRQ_REQUEST;
		vm->ctl.intercept_misc1 &= ~INTERCEPT_VINTR;
	}
}

/* Two things QEMU does that a CPU does not: it marks an external interrupt it was
 * delivering as an exception (type 3), which its VMRUN then refuses for a vector >= 32, so
 * it becomes an interrupt again; and it clears V_IRQ only once a virtual interrupt's
 * delivery is complete, so one cut short is in EXITINTINFO and still in V_IRQ: it is
 * dropped from V_IRQ, or the guest would take it twice. */
void svm_intr_requeue(struct vmcb *vm)
{
	uint64_t ev = vm->ctl.exitintinfo;
	if (!(ev & EXITINTINFO_VALID) || (vm->ctl.eventinj & EVENTINJ_VALID))
		return;
	uint8_t vec = (uint8_t)ev;
	if ((ev & EVENTINJ_TYPE_MASK) == EVENTINJ_TYPE_EXCEPTION && vec >= 32)
		ev &= ~(EVENTINJ_TYPE_MASK | EVENTINJ_EV);
	if (svm_intr_delivering(vm) && (uint8_t)(vm->ctl.v_intr >> V_INTR_VECTOR_SHIFT) == vec)
		vm->ctl.v_intr &= ~V_IRQ_REQUEST;
	vm->ctl.eventinj = ev;
}
