/* `destroy NAME` (docs/management.md): a stopped partition leaves the machine until Mica
 * restarts, and what it held goes back to the free pool: its RAM, once nothing can reach
 * it any more, its stage-2 tables and vCPUs' control blocks, and its CPUs, which go idle,
 * free for a clone (kernel/clone.c). */
#include <mica/manage.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/irq.h"
#include "kernel/log.h"
#include "kernel/mem.h"
#include "kernel/partition.h"
#include "kernel/passthrough.h"
#include "kernel/ram.h"
#include "kernel/percpu.h"
#include "kernel/snapshot.h"
#include "kernel/virtio/service.h"

/* Its vCPUs' CPUs leave them (kernel/lifecycle.c, leave()) and go idle, free for a clone;
 * then what the vCPUs and the stage-2 tables held goes back to the pool. Returns how many
 * CPUs did not leave within a second (their vCPUs and tables then stay out of the pool). */
static unsigned release_cpus(struct partition *p)
{
	for (unsigned k = 0; k < p->nvcpus; k++)
		arch_kick_cpu(p->vcpus[k].cpu);
	uint64_t end = rdtsc() + arch_tsc_hz();
	unsigned left = 0;
	for (unsigned k = 0; k < p->nvcpus; k++) {
		while (!__atomic_load_n(&p->vcpus[k].released, __ATOMIC_ACQUIRE) && rdtsc() < end)
			cpu_relax();
		left += !p->vcpus[k].released;
	}
	if (left) {
		log_info("partition '%s': %u of its CPUs did not leave its vCPUs: they stay parked",
			 p->name, left);
		return left;
	}
	for (unsigned k = 0; k < p->nvcpus; k++)
		virt->vcpu_free(&p->vcpus[k]);
	if (p->ram_lazy) /* lazy RAM never reached an IOMMU domain: no device walks these */
		virt->stage2_free(&p->s2);
	ram_fini(p);
	return 0;
}

int partition_destroy(struct partition *p)
{
	if (p == service_part)
		return MICA_MGMT_EDEVICE; /* the manager refuses it first (MICA_EPERM) */
	/* A stop just carried out leaves its own vCPU a few steps from parking. */
	uint64_t end = rdtsc() + arch_tsc_hz() / 10;
	while (__atomic_load_n(&p->state, __ATOMIC_ACQUIRE) == PART_STOPPED &&
	       __atomic_load_n(&p->parked, __ATOMIC_ACQUIRE) < p->nvcpus && rdtsc() < end)
		cpu_relax();
	uint64_t f = spin_lock(&p->lock);
	if (p->state != PART_STOPPED || __atomic_load_n(&p->parked, __ATOMIC_ACQUIRE) < p->nvcpus) {
		spin_unlock(&p->lock, f);
		return MICA_MGMT_ESTATE;
	}
	p->state = PART_DESTROYED; /* no start, snapshot, restore or map from now on */
	spin_unlock(&p->lock, f);

	unsigned snaps = snapshot_drop_all(p);
	/* Its devices' IOMMU domain maps its RAM: they are detached from it first (a stop
	 * did already, but a partition that never started has them attached). */
	passthrough_release(p);
	/* The service may no longer reach the RAM: its window goes first. The manager making
	 * this call is the service's vCPU (the service runs on that one alone), and it flushes
	 * its TLB before it runs again. */
	int rc = service_window_close(p);
	if (rc) {
		log_info("partition '%s' destroyed, but its RAM stays out of the pool: the "
			 "service's window onto it could not be closed (error %d)", p->name, rc);
		return 0;
	}
	/* Its own stage-2 keeps mapping the RAM, but none of its vCPUs enters again; nor does
	 * Mica write there for them (the PV EOI word it may have kept a pointer to). */
	for (unsigned k = 0; k < p->nvcpus; k++)
		irq_vcpu_reset(&p->vcpus[k], 0, 0);
	/* Clones still reading its RAM in place get their copies; if it is a clone itself,
	 * its origins stop keeping pieces for it. */
	ram_settle(p, 0);
	clone_destroyed(p);
	mem_free(p->ram_hpa, p->ram_size);
	uint64_t freed = p->ram_size;
	p->ram_size = 0;
	unsigned left = release_cpus(p);
	log_info("partition '%s' destroyed: %lu MiB of RAM back to the free pool (%lu MiB free "
		 "now)%s; %s", p->name, freed >> 20, mem_free_bytes() >> 20,
		 snaps ? ", its snapshots dropped" : "",
		 left ? "its CPUs stay with its parked vCPUs" : "its CPUs idle");
	return 0;
}
