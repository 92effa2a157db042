/* How the SVM backend puts external interrupts into a guest, over the VMCB alone (pure:
 * host unit tested in tests/unit/test_svm_intr.c). A vector goes in as a virtual
 * interrupt (V_IRQ with V_INTR_VECTOR), not through EVENTINJ; V_IRQ with the VINTR
 * intercept is the interrupt window; an event cut short by an exit goes in again through
 * EVENTINJ. Why, and what QEMU does differently from a CPU: intr.c. */
#ifndef MICA_SVM_INTR_H
#define MICA_SVM_INTR_H

#include "arch/x86/svm/vmcb.h"

/* A vector is on its way: V_IRQ set without the VINTR intercept. */
int svm_intr_delivering(const struct vmcb *vm);

/* The guest can be given a vector at the next VMRUN: IF set, no interrupt shadow, nothing
 * in EVENTINJ, no vector already on its way. */
int svm_intr_ready(const struct vmcb *vm);

/* Gives the guest vector (call only when svm_intr_ready). */
void svm_intr_inject(struct vmcb *vm, uint8_t vector);

/* Asks for (on) or drops the VINTR exit that says the guest can take an interrupt. Asking
 * while a vector is on its way does nothing: the exit after the guest took it looks again. */
void svm_intr_window(struct vmcb *vm, int on);

/* After an exit: an event the guest was taking when it came (EXITINTINFO) goes in again
 * through EVENTINJ, unless EVENTINJ holds one already. */
void svm_intr_requeue(struct vmcb *vm);

#endif
