/* The life of a partition after its creation: how it ends (crash, power-off, reboot),
 * how its vCPUs park while that happens, and what the management console asks for
 * (include/mica/manage.h): stop, start, restart, pause, resume.
 *
 * Who does what: a change of a running partition is made by one of its own vCPUs, which
 * kicks its siblings out of the guest and waits until they have parked
 * (partition_check_slow); the management console asks for it by setting the state to
 * PART_ASK_* and kicking, and the first vCPU to look takes it. A partition whose vCPUs are
 * all parked (stopped or paused) is changed by the caller itself, on the manager's CPU,
 * and its vCPUs let go by a new generation. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <mica/manage.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/log.h"
#include "kernel/partition.h"
#include "kernel/passthrough.h"
#include "kernel/percpu.h"
#include "kernel/snapshot.h"
#include "kernel/virtio/device.h"
#include "kernel/virtio/service.h"

/* One line of VM-exit counts by reason, summed over the partition's vCPUs (like kvm_stat),
 * so anyone can see where a guest's exits go. Counts restart with every (re)start. */
static void report_exits(struct partition *p)
{
	static const char *const names[EXIT_REASONS] = {
		[EXIT_NONE] = "other", [EXIT_INTR] = "interrupt", [EXIT_CPUID] = "cpuid",
		[EXIT_HYPERCALL] = "hypercall", [EXIT_IO] = "io", [EXIT_MSR] = "msr",
		[EXIT_HLT] = "hlt", [EXIT_IRQ_WINDOW] = "irq-window",
		[EXIT_STAGE2_FAULT] = "stage2-fault", [EXIT_TRIPLE_FAULT] = "triple-fault",
		[EXIT_ENTRY_FAILED] = "entry-failed", [EXIT_UNHANDLED] = "unhandled",
	};
	uint64_t sum[EXIT_REASONS] = { 0 }, total = 0;
	char line[300];
	int n;

	for (unsigned k = 0; k < p->nvcpus; k++)
		for (unsigned r = 0; r < EXIT_REASONS; r++) {
			sum[r] += p->vcpus[k].exits[r];
			total += p->vcpus[k].exits[r];
			p->vcpus[k].exits[r] = 0;
		}
	n = snprintf(line, sizeof(line), "partition '%s' exits: total %lu", p->name, total);
	for (unsigned r = 0; r < EXIT_REASONS && n < (int)sizeof(line); r++)
		if (sum[r])
			n += snprintf(line + n, sizeof(line) - (size_t)n, ", %s %lu", names[r], sum[r]);
	log_info("%s", line);
}

/* Kicks the siblings out of the guest until every one has parked. A kick cannot be lost
 * (vcpu_may_enter), but one is re-sent every 10 ms anyway, also as an NMI, which no guest
 * state holds off: a stop must get through whatever an emulator or a CPU erratum does with
 * a guest that keeps interrupts off (docs/testing.md, Bochs). */
static void wait_others_parked(struct partition *p)
{
	uint64_t next = 0, round = 0;

	while (__atomic_load_n(&p->parked, __ATOMIC_ACQUIRE) < p->nvcpus - 1) {
		uint64_t now = rdtsc();
		if (now >= next) {
			for (unsigned k = 0; k < p->nvcpus; k++) {
				if (p->vcpus[k].cpu == this_cpu())
					continue;
				arch_kick_cpu(p->vcpus[k].cpu);
				if (round)
					arch_kick_cpu_nmi(p->vcpus[k].cpu);
			}
			round++;
			next = now + arch_tsc_hz() / 100;
		}
		cpu_relax();
	}
}

/* What a stop does once every vCPU is out of the guest: the log, the devices back to
 * power-on. The state becomes PART_STOPPED; the vCPUs stay parked until a start. */
static void stopped(struct partition *p, const char *reason)
{
	console_flush(p);
	passthrough_quiesce(p, 0); /* no DMA into the RAM left behind */
	log_info("partition '%s' stopped: %s", p->name, reason);
	report_exits(p);
	if (p == service_part) {
		service_reset();
		log_info("partition '%s' stopped: its virtio devices are without a backend "
			 "until Mica restarts", p->name);
	}
	/* The service forgets its devices: they go back on a bus as at power-on
	 * (re-adding them to the bus as it was logged "slot N is taken" at every stop:
	 * attack_arch). Passed-through functions were quiesced above and stay off it. */
	if (p->pci) {
		uint64_t g = spin_lock(&p->pci_lock);
		vpci_init(p->pci, &p->pci_host);
		spin_unlock(&p->pci_lock, g);
	}
	vdev_partition_reset(p);
	p->started_tsc = 0;
	__atomic_store_n(&p->state, PART_STOPPED, __ATOMIC_RELEASE);
}

/* Lets every parked vCPU of p go (after a reload their state was reset for them). */
static void release(struct partition *p)
{
	p->parked = 0;
	__atomic_store_n(&p->state, PART_RUNNING, __ATOMIC_RELEASE);
	__atomic_add_fetch(&p->generation, 1, __ATOMIC_RELEASE);
	for (unsigned k = 0; k < p->nvcpus; k++)
		if (p->vcpus[k].cpu != this_cpu())
			arch_kick_cpu(p->vcpus[k].cpu);
}

static int asked(enum part_state s)
{
	return s == PART_ASK_STOP || s == PART_ASK_RESTART || s == PART_ASK_PAUSE ||
	       s == PART_ASK_HOLD;
}

void partition_end(struct vcpu *v, int restart, const char *fmt, ...)
{
	struct partition *p = v->part;
	char reason[200];
	va_list ap;

	uint64_t f = spin_lock(&p->lock);
	/* A request of the management console not yet taken is overtaken by this end. */
	if (p->state != PART_RUNNING && !asked(p->state)) {
		spin_unlock(&p->lock, f);
		return; /* a sibling vCPU is already taking it down; we park in partition_check */
	}
	p->state = PART_STOPPING;
	spin_unlock(&p->lock, f);

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);

	wait_others_parked(p);
	if (!restart) {
		/* This vCPU parks too, in partition_check_slow() on its way back to the guest
		 * (vcpu_may_enter() lets no vCPU of a stopped partition in). */
		stopped(p, reason);
		return;
	}
	console_flush(p);
	passthrough_quiesce(p, 1); /* no DMA into the RAM about to be cleared */
	p->restarts++;
	log_info("partition '%s' restarting (restart %u): %s", p->name, p->restarts, reason);
	report_exits(p);
	char err[CFG_MSG_MAX];
	if (partition_load(p, err, sizeof(err))) {
		log_info("partition '%s' stopped: reloading its image failed: %s", p->name, err);
		p->started_tsc = 0;
		__atomic_store_n(&p->state, PART_STOPPED, __ATOMIC_RELEASE);
		return;
	}
	release(p);
	v->generation = p->generation;
}

/* A pause (PART_PAUSED) or a snapshot's hold (PART_HELD) asked for by the management
 * console, carried out by vCPU v of p: its siblings parked, the state set; v parks in
 * partition_check_slow() like the others. */
static void park_all(struct vcpu *v, enum part_state to)
{
	struct partition *p = v->part;

	uint64_t f = spin_lock(&p->lock);
	if (p->state != PART_RUNNING) {
		spin_unlock(&p->lock, f);
		return;
	}
	p->state = PART_STOPPING;
	spin_unlock(&p->lock, f);
	wait_others_parked(p);
	/* A pause shows the line it was writing (a prompt, say); a snapshot's hold is too
	 * short to cut a line in two, and the snapshot keeps it (kernel/snapshot.c) */
	if (to == PART_PAUSED)
		console_flush(p);
	__atomic_store_n(&p->state, to, __ATOMIC_RELEASE);
	if (to == PART_PAUSED)
		log_info("partition '%s' paused from the management console: its vCPUs wait "
			 "where they were (resume %s goes on)", p->name, p->name);
}

static void idle_here(void *cpu)
{
	cpu_idle_loop(cpu);
}

/* v's partition was destroyed: this CPU leaves v for good and is free for a clone. */
static void __attribute__((noreturn)) leave(struct vcpu *v)
{
	struct pcpu *c = v->cpu;
	virt->vcpu_release(v);
	__atomic_store_n(&c->vcpu, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&v->released, 1, __ATOMIC_RELEASE);
	cpu_start_over(c->stack_top, idle_here, c);
}

void partition_check_slow(struct vcpu *v)
{
	struct partition *p = v->part;
	enum part_state s = p->state;

	if (asked(s)) {
		uint64_t f = spin_lock(&p->lock);
		int mine = p->state == s;
		if (mine)
			p->state = PART_RUNNING; /* this vCPU carries it out, from here on */
		spin_unlock(&p->lock, f);
		if (mine) {
			if (s == PART_ASK_PAUSE || s == PART_ASK_HOLD)
				park_all(v, s == PART_ASK_PAUSE ? PART_PAUSED : PART_HELD);
			else
				partition_end(v, s == PART_ASK_RESTART, "%s from the management console",
					      s == PART_ASK_RESTART ? "restarted" : "stopped");
		}
		s = p->state;
	}
	if (s == PART_RUNNING) {
		/* We were parked across a restart: our state was reset for us. */
		v->generation = p->generation;
		return;
	}
	unsigned g = v->generation;
	__atomic_add_fetch(&p->parked, 1, __ATOMIC_ACQ_REL);
	irq_disable();
	while (__atomic_load_n(&p->generation, __ATOMIC_ACQUIRE) == g) {
		if (__atomic_load_n(&p->state, __ATOMIC_ACQUIRE) == PART_DESTROYED)
			leave(v);
		if (v->snap_save || v->snap_load) {
			snapshot_vcpu_serve(v); /* on this CPU: the VMCS and FPU are here */
			continue;
		}
		cpu_idle();
	}
	irq_enable(); /* the guest runs with host interrupts on, so kicks reach it */
	v->generation = p->generation;
	uint64_t t0 = p->clone_tsc;
	if (t0 && v->id == 0 && p->state == PART_RUNNING) {
		p->clone_tsc = 0;
		log_info("partition '%s': its first instruction %lu us after the clone command",
			 p->name, (rdtsc() - t0) * 1000000 / arch_tsc_hz());
	}
}

/* Waits (a bounded while) until every vCPU of p has parked: a stop or pause that was
 * just carried out leaves its own vCPU a few steps from parking. 0, or MICA_MGMT_ESTATE. */
static int all_parked(struct partition *p)
{
	uint64_t end = rdtsc() + arch_tsc_hz() / 10;

	while (__atomic_load_n(&p->parked, __ATOMIC_ACQUIRE) < p->nvcpus) {
		if (rdtsc() > end)
			return MICA_MGMT_ESTATE;
		cpu_relax();
	}
	return 0;
}

/* Reloads a partition whose vCPUs are all parked and lets them go. */
static int reload(struct partition *p)
{
	char err[CFG_MSG_MAX];

	if (partition_load(p, err, sizeof(err))) {
		log_info("partition '%s' stays stopped: loading its image failed: %s", p->name, err);
		return MICA_EINVAL;
	}
	release(p);
	return 0;
}

/* A change under way (a stop, restart or pause being carried out, or asked for) settles
 * within moments: a command typed right after Mica's log line says "stopped" waits for
 * it, a bounded while, instead of being refused. */
static void settle_for(struct partition *p, uint64_t ticks)
{
	uint64_t end = rdtsc() + ticks;

	for (;;) {
		enum part_state s = __atomic_load_n(&p->state, __ATOMIC_ACQUIRE);
		if ((s != PART_STOPPING && s != PART_HELD && !asked(s)) || rdtsc() > end)
			return;
		cpu_relax();
	}
}

static void settle(struct partition *p)
{
	settle_for(p, arch_tsc_hz() / 2);
}

int partition_hold(struct partition *p)
{
	/* A restart under way may take a while: each piece of RAM a snapshot still reads in
	 * place is copied for it before the RAM is cleared (ram_reset). */
	settle_for(p, arch_tsc_hz() * 5);
	uint64_t f = spin_lock(&p->lock);
	enum part_state s = p->state;
	if (s == PART_RUNNING) {
		p->state = PART_ASK_HOLD; /* its own vCPUs carry it out (park_all) */
		spin_unlock(&p->lock, f);
		for (unsigned k = 0; k < p->nvcpus; k++)
			arch_kick_cpu(p->vcpus[k].cpu);
		/* Until PART_HELD, or a stop or restart that overtook the hold (a crash). */
		uint64_t end = rdtsc() + arch_tsc_hz() * 2;
		for (;;) {
			enum part_state now = __atomic_load_n(&p->state, __ATOMIC_ACQUIRE);
			if (now == PART_HELD)
				break;
			if (now == PART_STOPPED || now == PART_PAUSED || rdtsc() > end) {
				f = spin_lock(&p->lock);
				if (p->state == PART_ASK_HOLD)
					p->state = PART_RUNNING; /* nobody took it: withdrawn */
				spin_unlock(&p->lock, f);
				if (now == PART_STOPPED || now == PART_PAUSED)
					return partition_hold(p);
				return MICA_MGMT_ESTATE;
			}
			cpu_relax();
		}
		s = PART_RUNNING;
	} else if (s == PART_PAUSED || s == PART_STOPPED) {
		p->state = PART_STOPPING; /* ours now: no vCPU acts on it */
		spin_unlock(&p->lock, f);
	} else {
		spin_unlock(&p->lock, f);
		return MICA_MGMT_ESTATE;
	}
	if (all_parked(p)) {
		partition_unhold(p, s);
		return MICA_MGMT_ESTATE;
	}
	return (int)s;
}

void partition_unhold(struct partition *p, int s)
{
	if (s == PART_RUNNING) {
		if (!p->started_tsc)
			p->started_tsc = rdtsc();
		release(p);
	} else {
		__atomic_store_n(&p->state, (enum part_state)s, __ATOMIC_RELEASE);
	}
}

int partition_manage(struct partition *p, unsigned op)
{
	settle(p);
	uint64_t f = spin_lock(&p->lock);
	enum part_state s = p->state;

	if (s == PART_RUNNING && (op == MICA_MGMT_OP_STOP || op == MICA_MGMT_OP_RESTART ||
				  op == MICA_MGMT_OP_PAUSE)) {
		/* Its own vCPUs carry it out (partition_check_slow), kicked out of the guest. */
		p->state = op == MICA_MGMT_OP_STOP ? PART_ASK_STOP
			 : op == MICA_MGMT_OP_RESTART ? PART_ASK_RESTART : PART_ASK_PAUSE;
		spin_unlock(&p->lock, f);
		for (unsigned k = 0; k < p->nvcpus; k++)
			arch_kick_cpu(p->vcpus[k].cpu);
		return 0;
	}
	int ok = (s == PART_STOPPED && (op == MICA_MGMT_OP_START || op == MICA_MGMT_OP_RESTART)) ||
		 (s == PART_PAUSED && (op == MICA_MGMT_OP_STOP || op == MICA_MGMT_OP_RESTART ||
				       op == MICA_MGMT_OP_RESUME));
	if (!ok) {
		spin_unlock(&p->lock, f);
		return MICA_MGMT_ESTATE;
	}
	p->state = PART_STOPPING; /* ours now: no vCPU acts on it, no other request is taken */
	spin_unlock(&p->lock, f);
	if (all_parked(p)) {
		__atomic_store_n(&p->state, s, __ATOMIC_RELEASE);
		return MICA_MGMT_ESTATE;
	}
	if (op == MICA_MGMT_OP_RESUME) {
		log_info("partition '%s' resumed from the management console", p->name);
		release(p); /* no reload: every vCPU goes on where it was */
		return 0;
	}
	if (op == MICA_MGMT_OP_STOP) {
		stopped(p, "stopped from the management console");
		return 0;
	}
	if (s == PART_PAUSED) {
		console_flush(p);
		passthrough_quiesce(p, 1);
		report_exits(p);
	}
	if (op == MICA_MGMT_OP_RESTART) {
		p->restarts++;
		log_info("partition '%s' restarting (restart %u): restarted from the management "
			 "console", p->name, p->restarts);
	} else {
		log_info("partition '%s' starting from the management console", p->name);
	}
	int rc = reload(p);
	if (rc) {
		p->started_tsc = 0;
		__atomic_store_n(&p->state, PART_STOPPED, __ATOMIC_RELEASE);
	}
	return rc;
}
