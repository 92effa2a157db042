/* Snapshots of partitions in free RAM (kernel/snapshot.h, docs/snapshots.md).
 *
 * Taking one: the partition is held (every vCPU parked, kernel/lifecycle.c); each vCPU
 * saves its own state on its own CPU (the VMCS and the FPU are there); Mica copies the
 * devices and write-protects every piece of RAM the partition has touched (a spare block
 * reserved for each, kernel/snapram.h); the partition goes on. Its first write to a piece
 * copies it for the snapshot. Restoring: the partition is held, its RAM and devices put
 * back, each vCPU loads its state on its own CPU, the service is told where each queue
 * stands, and the partition goes on, its clocks at the present time. */
#include <stdio.h>
#include <string.h>
#include <mica/manage.h>
#include <mica/service.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/log.h"
#include "kernel/mem.h"
#include "kernel/partition.h"
#include "kernel/percpu.h"
#include "kernel/platform/pvclock.h"
#include "kernel/ram.h"
#include "kernel/snapram.h"
#include "kernel/snapshot.h"
#include "kernel/vmgenid.h"
#include "kernel/spinlock.h"
#include "kernel/virtio/device.h"

/* One vCPU as it was. */
struct vcpu_snap {
	uint8_t fpu[ARCH_FPU_MAX];   /* first: 64-byte aligned in a page-aligned block */
	uint8_t hw[VIRT_STATE_MAX];  /* the backend's */
	struct guest_regs regs;
	struct vcpu_irq irq;
	int fpu_ok;
} __attribute__((aligned(64)));

struct snapshot {
	int used;
	char tag[MICA_SNAP_TAG_MAX];
	struct partition *part;
	uint64_t seq;                /* taken in this order */
	uint64_t taken_tsc, pause_tsc, touched;
	uint64_t block, block_size;  /* one allocation: the parts below that vary in size */
	struct vcpu_snap *vcpu;      /* part->nvcpus of them */
	struct vpci *pci;            /* NULL: the partition has no bus */
	struct vio *vio;             /* VPCI_SLOTS of them (with the bus) */
	struct snapram ram;
	/* the partition's devices */
	struct com1 com1;
	struct vpit pit;
	struct vpm pm;
	struct vrtc rtc;
	struct vpic pic;
	uint8_t port92;
	struct vioapic ioapic;
	char con_line[CONSOLE_LINE]; /* the line it was writing: the rest comes after a restore */
	unsigned con_len;
	int platform, legacy;
	uint64_t clock_epoch;
	/* its virtio disk (disk = FILE), copied whole: it lives in the service's memory */
	const struct boot_file *disk;
	uint64_t disk_copy;
};

static struct snapshot snaps[MICA_SNAP_MAX];
static uint64_t next_seq = 1;
/* The table above and every snapshot's piece table: taken by the manager's CPU and by
 * any CPU that writes a write-protected piece (snapshot_unshare). */
static struct spinlock snap_lock;

/* --- the RAM, through kernel/snapram.c ------------------------------------------------ */

static uint64_t piece_len(const struct partition *p, uint64_t k)
{
	uint64_t off = k * RAM_PIECE;
	return p->ram_size - off < RAM_PIECE ? p->ram_size - off : RAM_PIECE;
}

static uint64_t env_alloc(void *ctx)
{
	(void)ctx;
	return mem_alloc_raw(RAM_PIECE, RAM_PIECE);
}

static void env_free(void *ctx, uint64_t block)
{
	(void)ctx;
	mem_free(block, RAM_PIECE);
}

static void env_copy_out(void *ctx, uint64_t block, uint64_t k)
{
	struct partition *p = ctx;
	memcpy(phys_to_virt(block), phys_to_virt(p->ram_hpa + k * RAM_PIECE), piece_len(p, k));
}

static void env_copy_in(void *ctx, uint64_t k, uint64_t block)
{
	struct partition *p = ctx;
	void *dst = ram_piece_writable(p, k);
	if (dst)
		memcpy(dst, phys_to_virt(block), piece_len(p, k));
	else
		log_info("partition '%s': cannot map its RAM at 0x%lx to restore it", p->name,
			 k * RAM_PIECE);
}

static void env_absent(void *ctx, uint64_t k)
{
	ram_piece_absent(ctx, k);
}

static int env_touched(void *ctx, uint64_t k)
{
	return ram_piece_touched(ctx, k);
}

static struct snapram_env env_for(struct partition *p)
{
	return (struct snapram_env){ env_alloc, env_free, env_copy_out, env_copy_in, env_absent,
				     p };
}

/* p's snapshots' piece tables, but for skip (may be NULL); under snap_lock. */
static unsigned tables_of(const struct partition *p, const struct snapshot *skip,
			  struct snapram **out)
{
	unsigned n = 0;
	for (unsigned i = 0; i < MICA_SNAP_MAX; i++)
		if (snaps[i].used && snaps[i].part == p && &snaps[i] != skip)
			out[n++] = &snaps[i].ram;
	return n;
}

void snapshot_unshare(struct partition *p, uint64_t k)
{
	struct snapram *all[MICA_SNAP_MAX];
	struct snapram_env env = env_for(p);

	uint64_t f = spin_lock(&snap_lock);
	snapram_unshare(all, tables_of(p, NULL, all), k, &env);
	spin_unlock(&snap_lock, f);
}

/* --- vCPUs: on their own CPUs ------------------------------------------------------- */

void snapshot_vcpu_serve(struct vcpu *v)
{
	struct vcpu_snap *out = v->snap_save;
	const struct vcpu_snap *in = v->snap_load;

	if (out) {
		out->regs = v->regs;
		uint64_t f = spin_lock(&v->irq.lock);
		out->irq = v->irq;
		spin_unlock(&v->irq.lock, f);
		out->fpu_ok = !arch_fpu_save(out->fpu);
		virt->vcpu_save(v, out->hw);
		__atomic_store_n(&v->snap_save, NULL, __ATOMIC_RELEASE);
	}
	if (in) {
		v->regs = in->regs;
		uint64_t f = spin_lock(&v->irq.lock);
		struct spinlock keep = v->irq.lock;
		v->irq = in->irq;
		v->irq.lock = keep;
		/* A host pointer into the guest's RAM: into this partition's (a clone's may
		 * differ from the one it was saved in). */
		if (v->irq.pv_eoi)
			v->irq.pv_eoi = partition_guest_ptr(v->part, v->irq.pv_eoi_msr & ~3ULL,
							    sizeof(uint32_t));
		spin_unlock(&v->irq.lock, f);
		if (in->fpu_ok)
			arch_fpu_load(in->fpu);
		virt->vcpu_load(v, in->hw);
		memset(v->insn_memo, 0, sizeof(v->insn_memo)); /* decoded under other code */
		__atomic_store_n(&v->s2_stale, 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&v->snap_load, NULL, __ATOMIC_RELEASE);
	}
}

/* Asks every parked vCPU of p to save into s, or load from it; waits until all have.
 * A parked vCPU answers at once (a kick wakes its idle loop); one that has not within 2 s
 * may still be about to write into s: the caller then keeps s's memory out of the pool. */
static int vcpus_serve(struct partition *p, struct snapshot *s, int load)
{
	for (unsigned i = 0; i < p->nvcpus; i++) {
		if (load)
			__atomic_store_n(&p->vcpus[i].snap_load, &s->vcpu[i], __ATOMIC_RELEASE);
		else
			__atomic_store_n(&p->vcpus[i].snap_save, &s->vcpu[i], __ATOMIC_RELEASE);
		arch_kick_cpu(p->vcpus[i].cpu);
	}
	uint64_t end = rdtsc() + arch_tsc_hz() * 2;
	for (unsigned i = 0; i < p->nvcpus; i++)
		while (p->vcpus[i].snap_save || p->vcpus[i].snap_load) {
			if (rdtsc() > end) {
				log_info("partition '%s': vCPU %u did not answer the snapshot's request",
					 p->name, i);
				return -1;
			}
			cpu_relax();
		}
	for (unsigned i = 0; i < p->nvcpus && !load; i++)
		if (!s->vcpu[i].fpu_ok)
			log_info("partition '%s': vCPU %u's FPU state is larger than a snapshot holds: "
				 "it is not kept", p->name, i);
	return 0;
}

/* --- devices ------------------------------------------------------------------------ */

static void devices_save(struct partition *p, struct snapshot *s)
{
	uint64_t f = spin_lock(&p->dev_lock);
	s->com1 = p->com1;
	s->pit = p->pit;
	s->pm = p->pm;
	s->rtc = p->rtc;
	s->pic = p->pic;
	s->port92 = p->port92;
	spin_unlock(&p->dev_lock, f);
	f = spin_lock(&p->ioapic_lock);
	s->ioapic = p->ioapic;
	spin_unlock(&p->ioapic_lock, f);
	s->con_len = console_line_get(p, s->con_line);
	s->platform = p->platform;
	s->legacy = p->legacy;
	s->clock_epoch = p->clock_epoch;
	if (s->pci) {
		f = spin_lock(&p->pci_lock);
		*s->pci = *p->pci;
		spin_unlock(&p->pci_lock, f);
		vdev_save(p, s->vio);
	}
}

static void devices_load(struct partition *p, const struct snapshot *s)
{
	uint64_t f = spin_lock(&p->dev_lock);
	p->com1 = s->com1;
	p->pit = s->pit;
	p->pm = s->pm;
	p->rtc = s->rtc;
	p->pic = s->pic;
	p->port92 = s->port92;
	spin_unlock(&p->dev_lock, f);
	f = spin_lock(&p->ioapic_lock);
	p->ioapic = s->ioapic;
	spin_unlock(&p->ioapic_lock, f);
	console_line_set(p, s->con_line, s->con_len);
	p->platform = s->platform;
	p->legacy = s->legacy;
	p->clock_epoch = s->clock_epoch;
	if (s->pci) {
		f = spin_lock(&p->pci_lock);
		*p->pci = *s->pci;
		spin_unlock(&p->pci_lock, f);
		vdev_restore(p, s->vio); /* and the service is told where each queue stands */
	}
}

/* Each vCPU's paravirtual clock says the guest was stopped (PVCLOCK_GUEST_STOPPED), so
 * that Linux's watchdogs do not take the jump to the present for a lockup. */
static void clocks_jumped(struct partition *p, const struct snapshot *s)
{
	for (unsigned i = 0; i < p->nvcpus; i++) {
		uint64_t msr = s->vcpu[i].irq.pvclock;
		if (!(msr & 1))
			continue;
		struct pvclock_time *t = partition_guest_ptr(p, msr & ~1ULL, sizeof(*t));
		if (!t)
			continue;
		t->version |= 1;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		t->flags |= PVCLOCK_GUEST_STOPPED;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		t->version++;
	}
}

/* --- the store ---------------------------------------------------------------------- */

/* p's virtio disk, or NULL. */
static const struct boot_file *disk_of(const struct partition *p)
{
	const struct vdev *d = p->pci ? p->pci_dev[VDEV_SLOT_BLOCK] : NULL;
	return d && d->type == MICA_VIRTIO_BLOCK ? d->disk : NULL;
}

static void free_snapshot_memory(struct snapshot *s)
{
	if (s->disk_copy)
		mem_free(s->disk_copy, s->disk->size);
	s->disk_copy = 0;
	mem_free(s->block, s->block_size);
}

static struct snapshot *find(const struct partition *p, const char *tag)
{
	for (unsigned i = 0; i < MICA_SNAP_MAX; i++)
		if (snaps[i].used && snaps[i].part == p && !strcmp(snaps[i].tag, tag))
			return &snaps[i];
	return NULL;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* The block for s: vCPUs, bus, virtio devices, piece table, spares. */
static int alloc_block(struct partition *p, struct snapshot *s)
{
	uint64_t off_pci = align_up(p->nvcpus * sizeof(struct vcpu_snap), 64);
	uint64_t off_vio = align_up(off_pci + (p->pci ? sizeof(struct vpci) : 0), 64);
	uint64_t off_ram = align_up(off_vio + (p->pci ? VPCI_SLOTS * sizeof(struct vio) : 0), 64);
	uint64_t size = align_up(off_ram + 2 * p->ram_pieces * sizeof(uint64_t), 4096);
	uint64_t pa = mem_alloc(size, 4096);

	if (!pa)
		return -1;
	s->disk = disk_of(p);
	s->disk_copy = s->disk ? mem_alloc_raw(s->disk->size, 4096) : 0;
	if (s->disk && !s->disk_copy) {
		mem_free(pa, size);
		return -1;
	}
	uint8_t *b = phys_to_virt(pa);
	s->block = pa;
	s->block_size = size;
	s->vcpu = (struct vcpu_snap *)b;
	s->pci = p->pci ? (struct vpci *)(b + off_pci) : NULL;
	s->vio = p->pci ? (struct vio *)(b + off_vio) : NULL;
	s->ram.piece = (uint64_t *)(b + off_ram);
	s->ram.spare = s->ram.piece + p->ram_pieces;
	return 0;
}

int snapshot_take(struct partition *p, const char *tag)
{
	/* A disk on NVMe goes on being written after the snapshot, and its old contents are
	 * nowhere: a restore would bring back RAM that does not match the disk. */
	if (!p->ram_lazy || p->cfg->npci || p->cfg->disk_nvme[0])
		return MICA_MGMT_EDEVICE;
	uint64_t f = spin_lock(&snap_lock);
	struct snapshot *s = NULL;
	int rc = find(p, tag) ? MICA_MGMT_EEXIST : 0;
	for (unsigned i = 0; i < MICA_SNAP_MAX && !rc && !s; i++)
		if (!snaps[i].used) {
			s = &snaps[i];
			memset(s, 0, sizeof(*s));
			s->used = -1; /* taken: not yet one of p's */
		}
	spin_unlock(&snap_lock, f);
	if (rc)
		return rc;
	if (!s)
		return MICA_MGMT_EFULL;
	if (alloc_block(p, s)) {
		s->used = 0;
		return MICA_MGMT_ENOMEM;
	}
	uint64_t t0 = rdtsc();
	int was = partition_hold(p);
	if (was < 0 || was == PART_STOPPED) {
		if (was >= 0)
			partition_unhold(p, was);
		free_snapshot_memory(s);
		s->used = 0;
		return MICA_MGMT_ESTATE;
	}
	uint64_t t_held = rdtsc();
	if (vcpus_serve(p, s, 0)) {
		partition_unhold(p, was);
		s->used = 0; /* its memory stays out of the pool: a late answer may land there */
		return MICA_MGMT_ESTATE;
	}
	uint64_t t_saved = rdtsc();
	devices_save(p, s);
	struct snapram_env env = env_for(p);
	f = spin_lock(&snap_lock);
	rc = snapram_take(&s->ram, p->ram_pieces, env_touched, &env);
	if (!rc) {
		snprintf(s->tag, sizeof(s->tag), "%s", tag);
		s->part = p;
		s->seq = next_seq++;
		s->used = 1;
	}
	spin_unlock(&snap_lock, f);
	if (rc) {
		partition_unhold(p, was);
		free_snapshot_memory(s);
		s->used = 0;
		return MICA_MGMT_ENOMEM;
	}
	for (uint64_t k = 0; k < p->ram_pieces; k++)
		if (s->ram.piece[k] == SNAP_LIVE) {
			s->touched += piece_len(p, k);
			if (ram_freeze(p, k))
				log_info("partition '%s': cannot write-protect its RAM at 0x%lx",
					 p->name, k * RAM_PIECE);
		}
	ram_freeze_done(p);
	s->taken_tsc = rdtsc();
	s->pause_tsc = s->taken_tsc - t0;
	partition_unhold(p, was);
	/* The disk after the partition goes on: only the service writes it, and the service
	 * is in this call until the copy is done, so it is the disk of the moment above. */
	if (s->disk)
		memcpy(phys_to_virt(s->disk_copy), phys_to_virt(s->disk->addr), s->disk->size);
	uint64_t us = arch_tsc_hz() / 1000000;
	log_info("partition '%s': snapshot '%s' taken (%lu MiB of its RAM in use, paused %lu us: "
		 "vCPUs parked %lu, saved %lu, devices and RAM %lu)%s", p->name, tag,
		 s->touched >> 20, s->pause_tsc / us, (t_held - t0) / us, (t_saved - t_held) / us,
		 (s->taken_tsc - t_saved) / us, s->disk ? "; its disk copied" : "");
	return 0;
}

int snapshot_clone(struct partition *o, struct partition *c, uint64_t *disk_copy,
		   uint64_t *pause_tsc, uint64_t *shared)
{
	static struct snapshot tmp; /* the manager's: one call at a time */
	struct snapshot *s = &tmp;

	memset(s, 0, sizeof(*s));
	if (alloc_block(o, s))
		return MICA_MGMT_ENOMEM;
	uint64_t t0 = rdtsc();
	int was = partition_hold(o);
	if (was < 0 || was == PART_STOPPED) {
		if (was >= 0)
			partition_unhold(o, was);
		free_snapshot_memory(s);
		return MICA_MGMT_ESTATE;
	}
	if (vcpus_serve(o, s, 0)) {
		partition_unhold(o, was);
		return MICA_MGMT_ESTATE; /* s's memory stays out of the pool: a late answer */
	}
	devices_save(o, s);
	*shared = ram_share(c, o);
	ram_freeze_done(o);
	*pause_tsc = rdtsc() - t0;
	partition_unhold(o, was);
	/* The disk as snapshot_take() copies it: the service, its only writer, is in here. */
	if (s->disk)
		memcpy(phys_to_virt(s->disk_copy), phys_to_virt(s->disk->addr), s->disk->size);
	*disk_copy = s->disk_copy;
	s->disk_copy = 0;

	devices_load(c, s);
	vdev_cloned(c); /* its own bus and devices, resumed once the service attaches them */
	c->vmgenid_gpa = o->vmgenid_gpa;
	c->vm_generation = o->vm_generation;
	clocks_jumped(c, s);
	if (vcpus_serve(c, s, 1))
		return MICA_MGMT_ESTATE; /* s's memory stays out of the pool: a late answer */
	free_snapshot_memory(s);
	return 0;
}

int snapshot_restore(struct partition *p, const char *tag)
{
	struct snapram *all[MICA_SNAP_MAX];

	uint64_t f = spin_lock(&snap_lock);
	struct snapshot *s = find(p, tag);
	if (s)
		s->used = 2; /* being restored: not dropped meanwhile */
	spin_unlock(&snap_lock, f);
	if (!s)
		return MICA_MGMT_ENOENT;
	int was = partition_hold(p);
	if (was < 0) {
		s->used = 1;
		return MICA_MGMT_ESTATE;
	}
	uint64_t t0 = rdtsc();
	/* Clones reading p's RAM in place get their copies first; pieces p still reads from
	 * its own origin are copied in (the snapshots' copies are made from p's RAM). */
	ram_settle(p, 1);
	struct snapram_env env = env_for(p);
	f = spin_lock(&snap_lock);
	snapram_restore(&s->ram, all, tables_of(p, NULL, all), &env);
	spin_unlock(&snap_lock, f);
	devices_load(p, s);
	if (s->disk) /* the service writes it only in its own calls: it is in this one */
		memcpy(phys_to_virt(s->disk->addr), phys_to_virt(s->disk_copy), s->disk->size);
	clocks_jumped(p, s);
	int rc = vcpus_serve(p, s, 1);
	p->ram_zeroed = 0;
	if (rc) {
		/* Some vCPUs as they were, some as they are: nothing to run. Stopped, it can be
		 * started afresh or restored again; the snapshot stays (a load only reads it). */
		for (unsigned i = 0; i < p->nvcpus; i++)
			__atomic_store_n(&p->vcpus[i].snap_load, NULL, __ATOMIC_RELEASE);
		s->used = 1;
		p->started_tsc = 0;
		log_info("partition '%s' stopped: restoring snapshot '%s' failed (a vCPU did not "
			 "load its state); start it, or restore again", p->name, tag);
		partition_unhold(p, PART_STOPPED);
		return MICA_MGMT_ESTATE;
	}
	if (was == PART_STOPPED)
		p->started_tsc = 0; /* it starts again (partition_unhold) */
	vmgenid_changed(p); /* a new VM generation: the guest may tell (docs/snapshots.md) */
	s->used = 1;
	log_info("partition '%s': restored to snapshot '%s' (in %lu us)%s", p->name, tag,
		 (rdtsc() - t0) * 1000000 / arch_tsc_hz(),
		 was == PART_PAUSED ? "; it stays paused (resume goes on)" : "");
	partition_unhold(p, was == PART_PAUSED ? PART_PAUSED : PART_RUNNING);
	return 0;
}

int snapshot_drop(struct partition *p, const char *tag)
{
	struct snapram *others[MICA_SNAP_MAX];
	struct snapram_env env = env_for(p);

	uint64_t f = spin_lock(&snap_lock);
	struct snapshot *s = find(p, tag);
	if (!s || s->used != 1) {
		spin_unlock(&snap_lock, f);
		return s ? MICA_MGMT_ESTATE : MICA_MGMT_ENOENT;
	}
	unsigned n = tables_of(p, s, others);
	snapram_drop(&s->ram, others, n, &env);
	s->used = 0;
	/* Pieces no other snapshot reads live are the partition's to write again. */
	for (uint64_t k = 0; k < p->ram_pieces; k++)
		if (!snapram_live(others, n, k))
			ram_thaw(p, k);
	spin_unlock(&snap_lock, f);
	free_snapshot_memory(s);
	log_info("partition '%s': snapshot '%s' dropped", p->name, tag);
	return 0;
}

unsigned snapshot_drop_all(struct partition *p)
{
	unsigned n = 0;

	for (unsigned i = 0; i < MICA_SNAP_MAX; i++) {
		char tag[MICA_SNAP_TAG_MAX];
		uint64_t f = spin_lock(&snap_lock);
		int mine = snaps[i].used == 1 && snaps[i].part == p;
		if (mine)
			memcpy(tag, snaps[i].tag, sizeof(tag));
		spin_unlock(&snap_lock, f);
		if (mine && snapshot_drop(p, tag) == 0)
			n++;
	}
	return n;
}

int snapshot_info(unsigned i, struct mica_mgmt_snap *out)
{
	const struct snapshot *order[MICA_SNAP_MAX];
	unsigned n = 0;

	uint64_t f = spin_lock(&snap_lock);
	for (unsigned k = 0; k < MICA_SNAP_MAX; k++)
		if (snaps[k].used > 0) {
			unsigned j = n++;
			while (j && order[j - 1]->seq > snaps[k].seq) {
				order[j] = order[j - 1];
				j--;
			}
			order[j] = &snaps[k];
		}
	int rc = MICA_EINVAL;
	if (i < n) {
		const struct snapshot *s = order[i];
		uint64_t khz = arch_tsc_hz() / 1000;
		memset(out, 0, sizeof(*out));
		out->part = s->part->id;
		out->vcpus = s->part->nvcpus;
		out->age_ms = khz ? (rdtsc() - s->taken_tsc) / khz : 0;
		out->pause_us = khz ? s->pause_tsc * 1000 / khz : 0;
		out->ram_bytes = s->part->ram_size;
		out->touched_bytes = s->touched;
		out->held_bytes = snapram_bytes(&s->ram, RAM_PIECE) + s->block_size +
				  (s->disk ? s->disk->size : 0);
		snprintf(out->tag, sizeof(out->tag), "%s", s->tag);
		rc = 0;
	}
	spin_unlock(&snap_lock, f);
	return rc;
}
