/* arch/x86/svm/intr.c: external interrupts into an SVM guest through the VMCB: a vector
 * goes in as a virtual interrupt, V_IRQ with the VINTR intercept is the window, and an event
 * an exit cut short goes in again through EVENTINJ, with what QEMU reports differently
 * from a CPU (an interrupt marked as an exception; V_IRQ still set) put right. */
#include <criterion/criterion.h>
#include <string.h>

#include "arch/x86/svm/intr.h"

#define IF (1ULL << 9)

static struct vmcb vm;

static void guest(uint64_t rflags)
{
	memset(&vm, 0, sizeof(vm));
	vm.save.rflags = rflags | 2;
	vm.ctl.v_intr = V_INTR_MASKING;
}

static unsigned vector(void)
{
	return (unsigned)((vm.ctl.v_intr & V_INTR_VECTOR_MASK) >> V_INTR_VECTOR_SHIFT);
}

Test(svm_intr, injects_a_virtual_interrupt_not_an_event)
{
	guest(IF);
	cr_assert(svm_intr_ready(&vm));
	svm_intr_inject(&vm, 0x40);
	cr_assert_eq(vm.ctl.eventinj, 0, "nothing through EVENTINJ");
	cr_assert(vm.ctl.v_intr & V_IRQ);
	cr_assert(vm.ctl.v_intr & V_IGN_TPR, "taken whatever the guest's TPR");
	cr_assert(vm.ctl.v_intr & V_INTR_MASKING, "the host's interrupts stay the host's");
	cr_assert_eq(vector(), 0x40);
	cr_assert_eq(vm.ctl.intercept_misc1 & INTERCEPT_VINTR, 0);
	cr_assert(svm_intr_delivering(&vm));
	cr_assert_not(svm_intr_ready(&vm), "one vector on its way at a time");
}

Test(svm_intr, not_ready_when_the_guest_cannot_take_one)
{
	guest(0);
	cr_assert_not(svm_intr_ready(&vm), "IF clear");
	guest(IF);
	vm.ctl.int_shadow = INT_SHADOW;
	cr_assert_not(svm_intr_ready(&vm), "interrupt shadow");
	guest(IF);
	vm.ctl.eventinj = 14 | EVENTINJ_TYPE_EXCEPTION | EVENTINJ_VALID;
	cr_assert_not(svm_intr_ready(&vm), "an event already queued");
}

Test(svm_intr, window_is_v_irq_with_the_vintr_intercept)
{
	guest(0);
	svm_intr_window(&vm, 1);
	cr_assert(vm.ctl.v_intr & V_IRQ);
	cr_assert(vm.ctl.intercept_misc1 & INTERCEPT_VINTR);
	cr_assert_not(svm_intr_delivering(&vm), "a window is not a delivery");
	svm_intr_window(&vm, 0);
	cr_assert_eq(vm.ctl.v_intr & V_IRQ, 0);
	cr_assert_eq(vm.ctl.intercept_misc1 & INTERCEPT_VINTR, 0);
	cr_assert(vm.ctl.v_intr & V_INTR_MASKING, "closing the window keeps V_INTR_MASKING");
}

Test(svm_intr, window_while_delivering_keeps_the_vector)
{
	guest(IF);
	svm_intr_inject(&vm, 0x41);
	svm_intr_window(&vm, 1); /* another vector pending */
	cr_assert_eq(vm.ctl.intercept_misc1 & INTERCEPT_VINTR, 0,
		     "a VINTR exit would take the place of the vector on its way");
	cr_assert(svm_intr_delivering(&vm));
	cr_assert_eq(vector(), 0x41);
}

Test(svm_intr, inject_over_an_open_window)
{
	guest(0);
	svm_intr_window(&vm, 1);
	vm.save.rflags |= IF; /* the guest can take one now */
	cr_assert(svm_intr_ready(&vm));
	svm_intr_inject(&vm, 0x50);
	cr_assert(svm_intr_delivering(&vm));
	cr_assert_eq(vector(), 0x50);
}

Test(svm_intr, taken_vector_frees_the_slot)
{
	guest(IF);
	svm_intr_inject(&vm, 0x40);
	vm.ctl.v_intr &= ~V_IRQ; /* the CPU took it */
	cr_assert(svm_intr_ready(&vm));
	svm_intr_requeue(&vm);
	cr_assert_eq(vm.ctl.eventinj, 0, "no EXITINTINFO: nothing to queue");
}

Test(svm_intr, requeue_keeps_an_exception_as_it_was)
{
	guest(IF);
	vm.ctl.exitintinfo = 14 | EVENTINJ_TYPE_EXCEPTION | EVENTINJ_EV | EXITINTINFO_VALID |
			     (0x2ULL << 32);
	svm_intr_requeue(&vm);
	cr_assert_eq(vm.ctl.eventinj, vm.ctl.exitintinfo);
}

Test(svm_intr, requeue_keeps_an_interrupt_as_a_cpu_reports_it)
{
	guest(IF);
	vm.ctl.exitintinfo = 0x30 | EXITINTINFO_VALID; /* type 0 */
	svm_intr_requeue(&vm);
	cr_assert_eq(vm.ctl.eventinj, 0x30 | EVENTINJ_VALID);
}

Test(svm_intr, requeue_turns_qemus_exception_typed_interrupt_back)
{
	guest(IF);
	vm.ctl.exitintinfo = 0x40 | EVENTINJ_TYPE_EXCEPTION | EXITINTINFO_VALID;
	svm_intr_requeue(&vm);
	cr_assert_eq(vm.ctl.eventinj, 0x40 | EVENTINJ_VALID, "an external interrupt (type 0)");
}

Test(svm_intr, requeue_drops_the_v_irq_qemu_left_set)
{
	guest(IF);
	svm_intr_inject(&vm, 0x40);
	/* the delivery took a nested page fault: QEMU's EXITINTINFO, V_IRQ still set */
	vm.ctl.exitintinfo = 0x40 | EVENTINJ_TYPE_EXCEPTION | EXITINTINFO_VALID;
	svm_intr_requeue(&vm);
	cr_assert_eq(vm.ctl.eventinj, 0x40 | EVENTINJ_VALID);
	cr_assert_eq(vm.ctl.v_intr & V_IRQ, 0, "or the guest would take 0x40 twice");
	cr_assert(vm.ctl.v_intr & V_INTR_MASKING);
}

Test(svm_intr, requeue_keeps_another_vector_on_its_way)
{
	guest(IF);
	svm_intr_inject(&vm, 0x41);
	vm.ctl.exitintinfo = 14 | EVENTINJ_TYPE_EXCEPTION | EVENTINJ_EV | EXITINTINFO_VALID;
	svm_intr_requeue(&vm);
	cr_assert(svm_intr_delivering(&vm), "0x41 was not the event cut short");
	cr_assert_eq(vector(), 0x41);
}

Test(svm_intr, requeue_never_overwrites_a_queued_event)
{
	guest(IF);
	vm.ctl.eventinj = 6 | EVENTINJ_TYPE_EXCEPTION | EVENTINJ_VALID; /* Mica's #UD */
	vm.ctl.exitintinfo = 0x40 | EXITINTINFO_VALID;
	svm_intr_requeue(&vm);
	cr_assert_eq(vm.ctl.eventinj, 6 | EVENTINJ_TYPE_EXCEPTION | EVENTINJ_VALID);
}
