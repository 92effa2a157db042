/* `clone NAME NEW [cpus=LIST]` (docs/management.md, "Clones"): a new partition that starts
 * as an exact copy of a running (or paused) one, on free CPUs, and shares its RAM copy on
 * write.
 *
 * The clone is built like a partition at boot (partition_build: stage-2, vCPUs, bus,
 * devices), but nothing is loaded: its vCPUs are handed to their idle CPUs, park there,
 * and load the origin's state (kernel/snapshot.c, snapshot_clone). Its RAM is its own,
 * reserved whole, but filled lazily: every piece that held anything in the origin is
 * read from there in place until either side first touches it (kernel/ram.c, "clones"),
 * so the origin pauses only while its vCPUs and devices are copied. Its devices are new:
 * its console is named NEW, its virtio-net MAC derived from its own index, its scratch
 * disk (disk = FILE) a copy of the origin's; the service attaches them on return. */
#include <stdio.h>
#include <string.h>
#include <mica/manage.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/log.h"
#include "kernel/mem.h"
#include "kernel/partition.h"
#include "kernel/percpu.h"
#include "kernel/snapshot.h"
#include "kernel/virtio/device.h"
#include "kernel/vmgenid.h"

/* The clones' configs and disks: they were never in the config file. */
static struct cfg_partition clone_cfg[CFG_MAX_PARTS];
static struct boot_file clone_disk[CFG_MAX_PARTS];

static int name_ok(const char *n)
{
	size_t len = strnlen(n, MICA_NAME_MAX);
	if (!len || len >= MICA_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = n[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Host CPUs that run no partition: never given, or left by a destroyed one's vCPUs. */
static uint64_t never_given(void)
{
	uint64_t free = 0;
	for (unsigned c = 0; c < ncpus && c < 64; c++)
		if (cpus[c].online && !__atomic_load_n(&cpus[c].vcpu, __ATOMIC_ACQUIRE))
			free |= 1ULL << c;
	for (unsigned i = 0; i < npartitions; i++)
		if (__atomic_load_n(&partitions[i].state, __ATOMIC_ACQUIRE) != PART_DESTROYED)
			free &= ~partitions[i].cfg->cpus; /* a start = no one's: not yet handed */
	return free;
}

static unsigned popcount(uint64_t x)
{
	unsigned n = 0;
	for (; x; x &= x - 1)
		n++;
	return n;
}

/* The first n CPUs of mask (0 if it has fewer). */
static uint64_t first_cpus(uint64_t mask, unsigned n)
{
	uint64_t out = 0;
	for (unsigned c = 0; c < 64 && popcount(out) < n; c++)
		if (mask & (1ULL << c))
			out |= 1ULL << c;
	return popcount(out) == n ? out : 0;
}

static unsigned devices_of(const struct cfg_partition *c)
{
	return !!c->virtio_console + !!c->disk[0] + !!c->net[0];
}

/* Waits (2 s at most: an emulator's CPUs wake slowly) until every vCPU of c has parked. */
static int wait_parked(struct partition *c)
{
	uint64_t end = rdtsc() + arch_tsc_hz() * 2;
	while (__atomic_load_n(&c->parked, __ATOMIC_ACQUIRE) < c->nvcpus)
		if (rdtsc() > end)
			return -1;
		else
			cpu_relax();
	return 0;
}

int partition_clone(struct partition *o, const char *name, uint64_t cpu_mask)
{
	uint64_t t0 = rdtsc();
	if (!name_ok(name))
		return MICA_EINVAL;
	for (unsigned i = 0; i < npartitions; i++)
		if (!strcmp(partitions[i].name, name))
			return MICA_MGMT_EEXIST;
	const struct cfg_partition *oc = o->cfg;
	if (!o->ram_lazy || oc->npci || oc->disk_nvme[0] || oc->service)
		return MICA_MGMT_EDEVICE;
	enum part_state st = __atomic_load_n(&o->state, __ATOMIC_ACQUIRE);
	if (st == PART_DESTROYED || st == PART_STOPPED)
		return MICA_MGMT_ESTATE;
	if (npartitions >= CFG_MAX_PARTS || nvdevs + devices_of(oc) > VDEV_MAX)
		return MICA_MGMT_EFULL;
	uint64_t free = never_given();
	if (!cpu_mask)
		cpu_mask = first_cpus(free, o->nvcpus);
	else if (popcount(cpu_mask) != o->nvcpus)
		return MICA_EINVAL;
	if (!cpu_mask || (cpu_mask & ~free))
		return MICA_MGMT_EBUSY;

	unsigned i = npartitions;
	struct cfg_partition *cfg = &clone_cfg[i];
	*cfg = *oc;
	snprintf(cfg->name, sizeof(cfg->name), "%s", name);
	cfg->cpus = cpu_mask;
	cfg->start_stopped = 0;
	uint64_t ram = partition_alloc_ram(cfg);
	if (!ram)
		return MICA_MGMT_ENOMEM;
	struct boot_file *disk = NULL;
	if (oc->disk[0]) {
		const struct vdev *od = o->pci_dev[VDEV_SLOT_BLOCK];
		disk = &clone_disk[i];
		*disk = *od->disk; /* its address is the copy's, filled in below */
	}
	struct partition_files f = { .image = o->image, .initrd = o->initrd, .disk = disk };
	memcpy(f.modules, o->modules, sizeof(f.modules));
	int rc = partition_build(i, cfg, &f, ram);
	if (rc) {
		/* Its stage-2 tables stay out of the pool; the slot stays free. */
		mem_free(ram, cfg->memory);
		log_info("partition '%s': cloning '%s' failed: the clone could not be built "
			 "(error %d)", name, o->name, rc);
		return MICA_MGMT_ENOMEM;
	}
	struct partition *c = &partitions[i];
	c->image = o->image;
	c->ram_zeroed = 0;
	c->platform = o->platform;
	c->legacy = o->legacy;
	c->state = PART_STOPPED;
	c->started_tsc = 0;
	c->origin = o->id + 1;
	__atomic_store_n(&npartitions, i + 1, __ATOMIC_RELEASE);
	/* Its vCPUs on their idle CPUs: each parks at once (it is stopped) and waits. */
	for (unsigned k = 0; k < c->nvcpus; k++) {
		__atomic_store_n(&c->vcpus[k].cpu->vcpu, &c->vcpus[k], __ATOMIC_RELEASE);
		arch_kick_cpu(c->vcpus[k].cpu);
	}
	uint64_t copy = 0, pause = 0, shared = 0;
	rc = wait_parked(c) ? MICA_MGMT_ESTATE : 0;
	if (!rc) {
		c->state = PART_STOPPING; /* held: no vCPU acts on it */
		rc = snapshot_clone(o, c, &copy, &pause, &shared);
	}
	if (disk) /* the copy, or nothing: never the origin's */
		disk->addr = copy;
	if (disk && !copy && !rc)
		rc = MICA_MGMT_ENOMEM;
	if (rc) {
		/* Built but never run: gone again if its vCPUs parked, else left stopped. */
		c->state = PART_STOPPED;
		int gone = partition_destroy(c) == 0;
		log_info("partition '%s': cloning '%s' failed (error %d)%s", name, o->name, rc,
			 gone ? "" : "; the clone stays stopped");
		return rc;
	}
	vmgenid_changed(c); /* a new VM generation: the guest may tell it was cloned */
	c->clone_tsc = t0;
	uint64_t us = arch_tsc_hz() / 1000000;
	char cpus_s[64];
	partition_cpu_list(cpu_mask, cpus_s, sizeof(cpus_s));
	log_info("partition '%s' cloned from '%s' on CPU %s: %lu MiB, %lu MiB of it shared copy "
		 "on write; '%s' paused %lu us%s", name, o->name, cpus_s, cfg->memory >> 20,
		 shared >> 20, o->name, pause / us, disk ? "; its disk copied" : "");
	partition_unhold(c, PART_RUNNING);
	return (int)i;
}

void clone_destroyed(struct partition *p)
{
	struct boot_file *disk = &clone_disk[p->id];
	if (!p->origin)
		return;
	if (disk->addr)
		mem_free(disk->addr, disk->size); /* the service's window onto it is closed */
	disk->addr = 0;
	/* Its console log goes too: nothing of a destroyed clone is kept. */
	if (p->log) {
		char *log = p->log;
		__atomic_store_n(&p->log_size, 0, __ATOMIC_RELEASE);
		p->log = NULL;
		mem_free(virt_to_phys(log), p->cfg->log_size);
	}
}
