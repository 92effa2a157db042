/* AMD SVM backend internals (shared by the files of arch/x86/svm/ only). */
#ifndef MICA_SVM_H
#define MICA_SVM_H

#include "arch/x86/svm/vmcb.h"
#include "kernel/vcpu.h"
#include "kernel/virt.h"

/* A vCPU's SVM state is its VMCB: v->hw points to it. Its physical address is also its
 * address in the core (identity map). */
static inline struct vmcb *vmcb_of(struct vcpu *v)
{
	return v->hw;
}

extern int svm_has_nrips; /* the CPU reports the next RIP in the VMCB (NRIPS) */

int svm_stage2_init(struct stage2 *s2);
void svm_stage2_free(struct stage2 *s2);
void svm_stage2_prune(struct stage2 *s2, uint64_t gpa, uint64_t size);
int svm_stage2_map(struct stage2 *s2, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perm);
int svm_stage2_unmap(struct stage2 *s2, uint64_t gpa, uint64_t size);
void svm_handle_exit(struct vcpu *v);
/* Called by svm_loop before the first VMRUN (svm_handle_exit ends the same way): returns
 * with GIF = 0, the VMCB up to date, and nothing pending for the vCPU (kicks, stops,
 * restarts: handled first). */
void svm_before_entry(struct vcpu *v);
void svm_inject_exception(struct vcpu *v, uint8_t vector, int has_error, uint32_t error);
void svm_irq_window(struct vcpu *v, int on);
/* entry.S: enters the guest through the VMCB at vmcb_pa, calls svm_handle_exit on each
 * exit and reloads the host's hidden state from host_pa (this CPU's host save area, the
 * VMSAVE area of svm_cpu); never returns. */
void svm_loop(struct vcpu *v, uint64_t vmcb_pa, uint64_t host_pa) __attribute__((noreturn));
/* entry.S: the instruction after VMRUN, where the host resumes at every #VMEXIT. */
extern const char svm_vmrun_return[];

#endif
