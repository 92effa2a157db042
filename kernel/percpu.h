/* One struct pcpu per physical CPU Mica runs on; CPU n is the n-th in the order the config
 * uses (0 = boot CPU, then the MADT's order). Each CPU reaches its own through %gs. */
#ifndef MICA_PERCPU_H
#define MICA_PERCPU_H

#include <stdint.h>

#define MAX_CPUS 64

struct vcpu;

struct pcpu {
	struct pcpu *self;      /* first: this_cpu() reads it through %gs:0 */
	unsigned id;
	uint32_t apic_id;
	volatile uint32_t online;
	struct vcpu *vcpu;      /* the vCPU pinned here, or NULL; set before the CPU is released */
	void *virt;             /* the virtualization backend's per-CPU state */
	uint64_t stack_top;
	/* The TSC deadline this CPU's timer holds, 0 when none: set when armed, cleared by
	 * the timer's interrupt (a TSC-deadline timer fires once and disarms itself). A
	 * deadline remembered past its interrupt would never be armed again: an emulator may
	 * fire a tick early, and the vCPU would sleep on with its timer still due. */
	volatile uint64_t timer_armed;
	/* Set by arch_kick_cpu() before its interrupt; cleared by this CPU when it looks at
	 * its state (vcpu_kicked). Checked with interrupts held off right before a guest
	 * entry, so a kick is never lost between that look and the entry. */
	volatile uint32_t kick_pending;
};

/* This CPU is about to look at its state (partition, interrupts): kicks sent so far are
 * answered by that look. An exchange, so that the state read after it cannot be one from
 * before a kick whose flag the clear would then wipe out. */
static inline void kick_clear(struct pcpu *c)
{
	if (c->kick_pending)
		__atomic_exchange_n(&c->kick_pending, 0, __ATOMIC_SEQ_CST);
}

/* Owned by the boot CPU until the APs start; after that each CPU writes only its own. */
extern struct pcpu cpus[MAX_CPUS];
extern unsigned ncpus;

static inline struct pcpu *this_cpu(void)
{
	struct pcpu *c;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(c));
	return c;
}

#endif
