/* Hypercall ABI v0 (include/mica/hypercall.h, docs/hypercalls.md). */
#ifndef MICA_KERNEL_HYPERCALL_H
#define MICA_KERNEL_HYPERCALL_H

struct vcpu;
/* Handles the call in v's registers; RIP already points past the instruction. */
void hypercall(struct vcpu *v);

#endif
