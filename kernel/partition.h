/* A partition: an isolated VM with its own RAM, stage-2 tables, vCPUs and console. */
#ifndef MICA_PARTITION_H
#define MICA_PARTITION_H

#include <stdint.h>
#include "kernel/config.h"
#include "kernel/percpu.h"
#include "kernel/mem.h"
#include "kernel/platform/com1.h"
#include "kernel/platform/vioapic.h"
#include "kernel/platform/vpic.h"
#include "kernel/platform/vpit.h"
#include "kernel/platform/vpm.h"
#include "kernel/platform/vrtc.h"
#include "kernel/ram.h"
#include "kernel/spinlock.h"
#include "kernel/vcpu.h"
#include "kernel/virt.h"
#include "kernel/vpci/bus.h"

#define PART_MAX_VCPUS 16
#define CONSOLE_LINE 160

enum part_state {
	PART_RUNNING,
	PART_STOPPING,    /* being changed (stop, restart, pause, ...): the vCPUs park */
	PART_STOPPED,     /* every vCPU parked until a start */
	PART_PAUSED,      /* every vCPU parked where it was until a resume */
	PART_ASK_STOP,    /* asked for by the management console: the first vCPU to look */
	PART_ASK_RESTART, /* carries it out (kernel/lifecycle.c) */
	PART_ASK_PAUSE,
	PART_ASK_HOLD,    /* a snapshot or restore wants every vCPU parked ... */
	PART_HELD,        /* ... and has them: it changes the partition, then lets it go */
	PART_DESTROYED,   /* gone until Mica restarts: its RAM back in the pool (destroy.c) */
};

struct partition {
	unsigned id;
	const struct cfg_partition *cfg;
	const char *name;
	const struct boot_file *image;
	const struct boot_file *initrd; /* or NULL */
	const struct boot_file *modules[CFG_MODULES_MAX]; /* cfg->nmodules of them */
	uint64_t ram_hpa;          /* guest-physical 0 is here; RAM is one contiguous block */
	uint64_t ram_size;
	int ram_zeroed;            /* the RAM is all zero: the next load need not clear it */
	int ram_lazy;              /* zeroed on first touch, 2 MiB at a time (kernel/ram.h) */
	struct spinlock ram_lock;  /* lazy RAM: the bitmaps' changes */
	uint64_t ram_pieces;       /* lazy RAM: 2 MiB pieces (the last may be shorter) */
	uint64_t *ram_ready;       /* lazy RAM: a bit per piece zeroed and mapped */
	uint64_t *ram_busy;        /* lazy RAM: a bit per piece a CPU is zeroing now */
	uint64_t *ram_frozen;      /* lazy RAM: a bit per piece a snapshot reads live: mapped
				    * read-only, copied for the snapshots on its first write */
	uint8_t *ram_src;          /* lazy RAM: a byte per piece: 0, or a clone's piece that
				    * holds nothing yet, read from partition ram_src - 1's in
				    * place (kernel/ram.c, "clones") */
	uint64_t ram_window;       /* lazy RAM: where the service's window onto it is (0: none) */
	struct stage2 s2;
	unsigned nvcpus;
	struct vcpu vcpus[PART_MAX_VCPUS];

	struct spinlock lock;      /* state changes */
	volatile enum part_state state;
	volatile unsigned generation; /* bumped on every (re)start; parked vCPUs wait for it */
	volatile unsigned parked;
	unsigned restarts;
	unsigned origin;           /* a clone: the index + 1 of the partition it was cloned
				    * from (kernel/clone.c); 0: from the config */
	uint64_t clone_tsc;        /* a clone not yet run: TSC at the clone command, for the
				    * log line its vCPU 0 writes as it first enters the guest */
	uint64_t started_tsc;      /* TSC at the last (re)start; 0 while stopped */

	struct spinlock con_lock;  /* the console line buffer, shared by this partition's vCPUs */
	unsigned con_len;
	char con_line[CONSOLE_LINE];
	char *log;                 /* the ring of its console output, as written (log =), or NULL */
	uint64_t log_size;
	uint64_t log_total;        /* bytes ever written: the ring holds the last log_size */
	struct spinlock dev_lock;  /* the port devices below, shared by the partition's vCPUs */
	struct com1 com1;
	struct vpit pit;
	struct vpm pm;
	struct vrtc rtc;           /* its IRQ 8 is timed by vCPU 0 (irq.rtc_deadline) */
	struct vpic pic;
	uint8_t port92;            /* system control port A: A20 (bit 1) */

	int platform;              /* a PC platform (Linux): APICs, ACPI, timers */
	int legacy;                /* the PC's legacy ports: PIT, RTC, PIC, port 0x80, keyboard
				    * controller (Linux and Multiboot guests) */
	unsigned gp_logged;        /* #GP reports so far (unknown MSRs, string I/O): a few, then quiet */
	uint64_t clock_epoch;      /* TSC at the last (re)start: the guest's paravirtual clock 0 */
	uint64_t vmgenid_gpa;      /* its VM generation ID (kernel/vmgenid.h), 0: none */
	uint32_t vm_generation;    /* restores so far (mica_self_info.vm_generation) */
	int sci_level;             /* IRQ 9 as the PM/GPE registers drive it (platform/pc.c) */
	struct spinlock ioapic_lock;
	struct vioapic ioapic;

	struct spinlock pci_lock;  /* the PCI bus and the devices on it */
	struct vpci *pci;          /* NULL: no PCI bus (no devices) */
	struct vpci_host pci_host; /* where the bus sits: its windows, its MSI sink */
	struct vdev *pci_dev[VPCI_SLOTS]; /* the virtio devices, by slot */
};

extern struct partition partitions[CFG_MAX_PARTS];
extern unsigned npartitions;

/* The files a partition's config names, as the boot path loaded them (NULL: not named). */
struct partition_files {
	const struct boot_file *image, *initrd, *disk;
	const struct boot_file *modules[CFG_MODULES_MAX];
};

/* How an image is booted (docs/guests.md): a Multiboot header wins, then an ELF image with
 * the PVH entry note is PVH, another ELF image is Mica's ELF protocol, and anything else
 * must be a Linux bzImage. */
enum image_kind { IMAGE_ELF, IMAGE_MULTIBOOT, IMAGE_PVH, IMAGE_BZIMAGE };
enum image_kind partition_image_kind(const struct boot_file *f);

/* Checks, before anything is created, that c's image can be booted with its files and
 * memory: 0, or MICA_EINVAL with a sentence in err. */
int partition_check_image(const struct cfg_partition *c, const struct partition_files *f,
			  char *err, size_t errlen);

/* Takes the RAM for a partition of this config (one block, on its CPUs' NUMA node where
 * that is possible), not zeroed: the caller zeroes it (zero_run()). 0 when none fits. */
uint64_t partition_alloc_ram(const struct cfg_partition *cfg);

/* "1,2,5": the host CPUs of mask, for log lines. */
void partition_cpu_list(uint64_t mask, char *buf, size_t len);

/* Creates partition i from its config (stage-2, vCPUs pinned to CPUs, virtio devices, image
 * loaded) on ram_hpa, its RAM from partition_alloc_ram(), already zeroed.
 * Returns 0 or a negative code after logging what went wrong. */
/* Partition creation without the image: stage-2, RAM bookkeeping, vCPUs (not yet handed
 * to their CPUs), bus, console log, virtio devices. The first half of partition_create(),
 * and all of a clone's (kernel/clone.c). 0 or a negative code after logging. */
int partition_build(unsigned i, const struct cfg_partition *cfg, const struct partition_files *f,
		    uint64_t ram_hpa);

int partition_create(unsigned i, const struct cfg_partition *cfg, const struct partition_files *f,
		     uint64_t ram_hpa);

/* Maps host-physical [hpa, hpa+size) at guest-physical gpa into p's stage-2 with perm
 * (S2_*): its RAM at creation, and the service's windows onto the partitions it serves.
 * 0, or the backend's error. */
int partition_map(struct partition *p, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perm);
/* Unmaps [gpa, gpa + size) from p's stage-2 (pt_unmap's rules). Every vCPU of p flushes its
 * CPU's TLB before its next entry; one in the guest is kicked out. It does not wait for
 * them: until they have, a vCPU may still reach the old mapping. Fine for what it serves
 * today (a passed-through BAR the guest moves: its own device either way); memory that
 * changes owner will need a wait. */
int partition_unmap(struct partition *p, uint64_t gpa, uint64_t size);
/* After a partition_unmap() of a range nothing maps again (a destroyed partition's window
 * in the service's stage-2): the tables wholly inside it go back to the pool. p's vCPUs
 * flush before their next entry already (the unmap said so). */
void partition_prune(struct partition *p, uint64_t gpa, uint64_t size);
/* What partition_unmap() does after the unmap: p's vCPUs flush before their next entry. */
void partition_s2_stale(struct partition *p);


/* Host pointer to guest-physical [gpa, gpa+len) if the partition owns all of it, else NULL. */
static inline void *partition_guest_ptr(struct partition *p, uint64_t gpa, uint64_t len)
{
	if (len > p->ram_size || gpa > p->ram_size - len)
		return NULL;
	if (p->ram_lazy) {
		/* On the exit paths (hypercall buffers, the page walks of MMIO emulation, the
		 * service's ring) the range is one piece that is ready: one bit test. */
		uint64_t k = gpa / RAM_PIECE;
		int ready = len && k == (gpa + len - 1) / RAM_PIECE &&
			    ((__atomic_load_n(&p->ram_ready[k / 64], __ATOMIC_ACQUIRE) >> (k % 64)) & 1);
		if (!ready && ram_touch(p, gpa, len))
			return NULL;
	}
	return phys_to_virt(p->ram_hpa + gpa);
}

/* A crash of p restarts it (on_crash = restart) rather than stopping it. */
static inline int partition_on_crash_restarts(const struct partition *p)
{
	return p->cfg->on_crash == CFG_CRASH_RESTART;
}

/* (Re)loads the image into zeroed RAM and resets every vCPU; none may be running. 0, or
 * MICA_EINVAL with a sentence in err. */
int partition_load(struct partition *p, char *err, size_t errlen);

/* The management console's op (MICA_MGMT_OP_*, include/mica/manage.h) on p, which is not
 * the caller's partition: 0 when done or under way, MICA_MGMT_ESTATE when p's state does
 * not allow it, MICA_EINVAL when its image cannot be loaded again. kernel/lifecycle.c. */
int partition_manage(struct partition *p, unsigned op);

/* kernel/destroy.c: a stopped partition is gone until Mica restarts; its devices reset
 * and detached, its RAM back in the free pool. 0 (Mica's log says what was freed),
 * MICA_MGMT_ESTATE (not stopped), or MICA_MGMT_EDEVICE (the service partition, which the manager refuses first). */
int partition_destroy(struct partition *p);

/* kernel/clone.c: a new partition named name (a valid, unused one) that starts as an
 * exact copy of o at this instant, its RAM shared copy on write, on the host CPUs in cpus
 * (0: the first free ones; as many as o has vCPUs). Returns its index, or MICA_EINVAL
 * (bad cpus), MICA_MGMT_EEXIST (the name is taken), MICA_MGMT_EFULL (no room for another
 * partition or its devices), MICA_MGMT_EBUSY (not enough free CPUs), MICA_MGMT_ENOMEM,
 * MICA_MGMT_EDEVICE (passed-through devices, an NVMe disk, RAM not held piece by piece),
 * MICA_MGMT_ESTATE (o is stopped, destroyed or changing). Mica's log says what was done. */
int partition_clone(struct partition *o, const char *name, uint64_t cpus);
/* A destroyed clone's own copies (its disk) go back to the pool; nothing for others. */
void clone_destroyed(struct partition *p);

/* For snapshots (kernel/snapshot.c): brings p to a standstill, every vCPU parked and
 * the caller owning it, a bounded while. Returns the state to give back to
 * partition_unhold(): PART_RUNNING, PART_PAUSED or PART_STOPPED; or MICA_MGMT_ESTATE when
 * p is changing and does not settle, or its vCPUs do not park. */
int partition_hold(struct partition *p);
/* p goes on in state s: PART_RUNNING lets its vCPUs go, PART_PAUSED and PART_STOPPED
 * keep them parked. */
void partition_unhold(struct partition *p, int s);

/* The partition ends: crash, power-off or reboot. restart says whether it comes back
 * (reboot, or a crash with on_crash = restart). Called by one of its vCPUs; after a stop
 * it returns with the partition stopped, and the vCPU parks on its way back to the guest. */
void partition_end(struct vcpu *v, int restart, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Called by each vCPU after every exit: parks it while the partition stops or restarts. */
void partition_check_slow(struct vcpu *v);
static inline void partition_check(struct vcpu *v)
{
	struct partition *p = v->part;
	if (__builtin_expect(p->state != PART_RUNNING || v->generation != p->generation, 0))
		partition_check_slow(v);
}

/* For the backend, right before entering the guest with host interrupts held off (CLGI on
 * SVM, CLI on VT-x; a kick from then on makes the entry exit at once): 1 when v may
 * enter; 0 when a kick came (an interrupt to inject, a SIPI) or its partition stops or
 * restarts. Then the backend lets interrupts in again, calls vcpu_kicked(v) (vcpu.c) and
 * asks again. This closes the window in which a kick taken by the host was lost and a
 * guest that never exits kept running. */
static inline int vcpu_may_enter(const struct vcpu *v)
{
	const struct partition *p = v->part;
	return !v->cpu->kick_pending && p->state == PART_RUNNING && v->generation == p->generation;
}
void vcpu_kicked(struct vcpu *v);

#ifdef MICA_TEST_KICK_WINDOW
/* Test build only (make testcore, docs/testing.md): vCPUs other than 0 pause 100 ms just
 * before interrupts are held off for the entry, the stretch where a kick used to be lost. */
void vcpu_test_window(const struct vcpu *v);
#else
static inline void vcpu_test_window(const struct vcpu *v) { (void)v; }
#endif

#endif
