/* The vCPU loop and exit dispatch: vendor neutral. */
#include <stddef.h>
#include <stdio.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/emul/fetch.h"
#include "kernel/emul/gwalk.h"
#include "kernel/emul/mmio.h"
#include "kernel/emul/msr.h"
#include "kernel/emul/pio.h"
#include "kernel/hypercall.h"
#include "kernel/log.h"
#include "kernel/partition.h"
#include "kernel/percpu.h"
#include "kernel/ram.h"
#include "kernel/vcpu.h"
#include <mica/hypercall.h>


/* The entry stubs' view of struct vcpu (kernel/vcpu_layout.h) is the compiler's. */
_Static_assert(offsetof(struct vcpu, regs.gpr[0]) == VCPU_OFF_GPR(0), "vcpu: gpr");
_Static_assert(offsetof(struct vcpu, regs.gpr[15]) == VCPU_OFF_GPR(15), "vcpu: gpr");

void vcpu_loop(struct vcpu *v)
{
	irq_enable();
	/* An application processor of a Linux partition waits for its SIPI first. */
	while (v->irq.on && (v->irq.wait_sipi || v->irq.init)) {
		irq_wait_sipi(v);
		partition_check(v);
	}
	virt->vcpu_run(v);
}

static void handle_hlt(struct vcpu *v, const struct vm_exit *e)
{
	unsigned len = e->insn_len ? e->insn_len : vcpu_insn_len(v, INSN_HLT, 1);
	if (v->irq.on) {
		v->regs.rip += len;
		irq_halt(v, !!(v->regs.rflags & RFLAGS_IF));
		return;
	}
	/* No interrupt sources for guests yet: a halted vCPU sleeps until its partition
	 * is stopped or restarted (partition_check parks it). */
	v->regs.rip += len;
	irq_disable();
	while (v->part->state == PART_RUNNING && v->generation == v->part->generation)
		cpu_idle();
	irq_enable();
}

#ifdef MICA_TEST_KICK_WINDOW
void vcpu_test_window(const struct vcpu *v)
{
	if (!v->id)
		return; /* vCPU 0 crashes at once, so its kick lands in vCPU 1's pause */
	uint64_t end = rdtsc() + arch_tsc_hz() / 10;
	while (rdtsc() < end)
		cpu_relax();
}
#endif

void vcpu_kicked(struct vcpu *v)
{
	kick_clear(v->cpu);
	if (__builtin_expect(__atomic_exchange_n(&v->s2_stale, 0, __ATOMIC_SEQ_CST), 0))
		virt->stage2_flush(v);
	partition_check(v);
	if (v->irq.on)
		irq_before_entry(v);
}

void vcpu_exit_hypercall(struct vcpu *v, unsigned insn_len)
{
	v->exits[EXIT_HYPERCALL]++;
	if (!insn_len)
		insn_len = vcpu_insn_len(v, virt->hcall_insn == MICA_HCALL_INSN_VMMCALL ?
					 INSN_VMMCALL : INSN_VMCALL, 3);
	v->regs.rip += insn_len;
	hypercall(v);
	/* no partition_check(): the backend's vcpu_may_enter() looks before the entry */
}

void vcpu_handle_exit(struct vcpu *v, struct vm_exit *e)
{
	struct partition *p = v->part;

	v->exits[e->reason]++;
	switch (e->reason) {
	case EXIT_CPUID:
	case EXIT_HYPERCALL:
		/* the backend calls vcpu_exit_cpuid/_hypercall for these */
		break;
	case EXIT_IO:
		pio_emulate(v, e);
		break;
	case EXIT_MSR:
		msr_emulate(v, e);
		break;
	case EXIT_HLT:
		handle_hlt(v, e);
		break;
	case EXIT_NONE:
	case EXIT_INTR:
	case EXIT_IRQ_WINDOW:
		break;
	case EXIT_STAGE2_FAULT: {
		char why[CFG_MSG_MAX];
		int rc = ram_fault(v, e->fault.gpa);
		if (rc > 0)
			break; /* RAM touched for the first time: zeroed and mapped now */
		if (rc < 0) {
			partition_end(v, 0, "its RAM at guest-physical 0x%lx could not be mapped "
				      "(RIP 0x%lx)", e->fault.gpa, v->regs.rip);
			break;
		}
		rc = mmio_emulate(v, e, why, sizeof(why));
		if (rc > 0)
			break;
		if (rc < 0) {
			partition_end(v, partition_on_crash_restarts(p),
				      "device access at guest-physical 0x%lx could not be emulated "
				      "(RIP 0x%lx): %s", e->fault.gpa, v->regs.rip, why);
			break;
		}
		partition_end(v, partition_on_crash_restarts(p),
			      "%s guest-physical 0x%lx outside its RAM (RIP 0x%lx)",
			      e->fault.exec ? "instruction fetch from" : e->fault.write ? "write to" : "read from",
			      e->fault.gpa, v->regs.rip);
		break;
	}
	case EXIT_TRIPLE_FAULT: {
		/* RSP, the event being delivered and CR2 where the CPU says; on a line before
		 * it, the paging state and what the guest's page tables say of CR2 now: enough
		 * to tell a stack that ran out from an IDT or page tables that are gone. */
		struct gwalk_regs r;
		unsigned bits;
		uint64_t gpa;
		char walk[160];
		vcpu_walk_regs(v, &r, &bits);
		if (!gwalk(&r, e->shutdown.cr2, GWALK_READ, guest_read_gpa, p, &gpa, walk,
			   sizeof(walk)))
			snprintf(walk, sizeof(walk), "guest-physical 0x%lx", gpa);
		log_info("partition '%s': at its triple fault CR0 0x%lx CR3 0x%lx CR4 0x%lx EFER "
			 "0x%lx; CR2 in its page tables now: %s", p->name, r.cr0, r.cr3, r.cr4,
			 r.efer, walk);
		if (e->shutdown.event & (1u << 31))
			partition_end(v, partition_on_crash_restarts(p), "triple fault (RIP 0x%lx, "
				      "RSP 0x%lx, delivering vector %u type %u, CR2 0x%lx)",
				      v->regs.rip, v->regs.gpr[REG_RSP], e->shutdown.event & 0xff,
				      (e->shutdown.event >> 8) & 7, e->shutdown.cr2);
		else
			partition_end(v, partition_on_crash_restarts(p), "triple fault (RIP 0x%lx, "
				      "RSP 0x%lx, CR2 0x%lx)", v->regs.rip, v->regs.gpr[REG_RSP],
				      e->shutdown.cr2);
		break;
	}
	case EXIT_ENTRY_FAILED:
		/* The guest state the CPU refused is the guest's own doing (Mica checks what it
		 * writes there): a crash like any other, so on_crash decides. */
		partition_end(v, partition_on_crash_restarts(p), "%s (exit code 0x%lx, info 0x%lx 0x%lx)",
			      e->what, e->raw[0], e->raw[1], e->raw[2]);
		break;
	case EXIT_UNHANDLED:
	default:
		partition_end(v, partition_on_crash_restarts(p),
			      "%s that Mica does not handle (exit code 0x%lx, info 0x%lx 0x%lx, RIP 0x%lx)",
			      e->what, e->raw[0], e->raw[1], e->raw[2], v->regs.rip);
		break;
	}
	partition_check(v);
}
