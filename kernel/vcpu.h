/* A virtual CPU: belongs to one partition, pinned to one physical CPU. */
#ifndef MICA_VCPU_H
#define MICA_VCPU_H

#include <stdint.h>
#include "kernel/irq.h"
#include "kernel/vcpu_layout.h"
#include "kernel/virt.h"

struct partition;
struct pcpu;

/* Instructions whose length was decoded (kernel/emul/fetch.c), to skip the walk when the same
 * one exits again: a small table indexed by RIP. len 0: nothing remembered. */
#define INSN_MEMOS 8
struct insn_memo {
	uint64_t la, cr3;        /* the instruction's linear address, the CR3 it ran under */
	const uint8_t *host;     /* where its bytes were, in Mica's map of the guest's RAM */
	uint8_t len, kind, bits;
	uint8_t bytes[15];
};

struct vcpu {
	struct guest_regs regs;  /* first: the entry stubs address it from the vcpu pointer */
	void *hw;                /* the backend's state for this vCPU, typed by the backend
				  * (SVM: its VMCB; VT-x: struct vmx_vcpu); the kernel never
				  * looks inside */
	struct partition *part;
	struct pcpu *cpu;
	unsigned id;             /* within the partition */
	unsigned generation;     /* the partition generation this vCPU runs */
	uint8_t s2_stale;        /* its stage-2 lost a mapping: flush before entering
				  * (partition_unmap, vcpu_kicked) */
	volatile uint8_t released; /* its partition was destroyed and its CPU left it for
				    * good: free for a clone (kernel/destroy.c) */
	uint64_t exits[EXIT_REASONS];
	struct vcpu_irq irq;     /* local APIC, INIT/SIPI (guests with a platform) */
	struct insn_memo insn_memo[INSN_MEMOS];
	/* A snapshot's request to this vCPU while it is parked: save its state there, or
	 * load it from there (kernel/snapshot.c); cleared when done. */
	void *volatile snap_save;
	const void *volatile snap_load;
};


/* Runs the vCPU pinned to the calling CPU; never returns. */
void vcpu_loop(struct vcpu *v) __attribute__((noreturn));

/* kernel/main.c: a CPU with no vCPU (none given, or its partition destroyed) sleeps here
 * until one is given to it, then runs it. Entered on a fresh stack. */
void cpu_idle_loop(struct pcpu *c) __attribute__((noreturn));

#endif
