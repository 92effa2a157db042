/* Mica's management ABI: what the `mica>` console does (docs/management.md), as hypercalls
 * that only the manager may make. The manager is the service partition (`service = yes`):
 * it reads the keys typed at the console, parses the commands and prints the answers; the
 * core only carries out requests it has checked, as it would any guest's. Shared by the
 * core and vmm/; keep docs/management.md in step. */
#ifndef MICA_MANAGE_H
#define MICA_MANAGE_H

#include <stdint.h>
#include <mica/hypercall.h>

#define MICA_MGMT_VERSION 4 /* 2: snapshots (calls 39-42); 3: destroy, the free pool (43);
			    * 4: clones (44), shared RAM in struct mica_mgmt_part */

enum mica_mgmt_hypercall {
	/* () -> MICA_MGMT_VERSION. Any other caller than the manager: MICA_EPERM (for every
	 * call below too). */
	MICA_HC_MGMT_HELLO = 32,
	/* (index, gpa struct mica_mgmt_part *, size) -> bytes written; MICA_EINVAL past the
	 * last partition. Partitions are numbered 0 .. n-1 in config order. */
	MICA_HC_MGMT_PART = 33,
	/* (index, op) -> 0: MICA_MGMT_OP_* done (start, and anything on a partition that is
	 * paused or stopped) or under way (stop, restart, pause of a running partition: its
	 * own vCPU carries it out at once and Mica's log says when it is done).
	 * MICA_MGMT_ESTATE: its state does not allow op (e.g. start while running, or a
	 * change still under way); MICA_MGMT_EDEVICE: destroy of a partition with
	 * passed-through devices; MICA_EPERM: the manager itself; MICA_EINVAL: bad index
	 * or op. */
	MICA_HC_MGMT_CTL = 34,
	/* (gpa buf, len) -> len: bytes for the person at the console, written to it as they
	 * are (no prefix, no line buffering: the prompt, echo, \r\n). len <= MICA_CONSOLE_MAX. */
	MICA_HC_MGMT_WRITE = 35,
	/* () -> 0: the console leaves management: keys go to the partition they went to
	 * before (Mica says which). */
	MICA_HC_MGMT_LEAVE = 36,
	/* (index, gpa buf, len, from) -> bytes copied: bytes [from, from + len) of the
	 * partition's console output (counted since boot: struct mica_mgmt_part.log_bytes is
	 * the end), as far as written. MICA_EINVAL when it keeps no log (log = no) or from
	 * is no longer in its ring (log_bytes - log_size is the oldest kept) or beyond. */
	MICA_HC_MGMT_LOG = 37,
	/* (index) -> 0: the console is attached to the partition: what it writes passes as it
	 * is, keys go to it, the other partitions' output is held (kept in their logs) until
	 * Ctrl-], which comes back to the management console with a line saying how much
	 * each wrote meanwhile. MICA_EPERM: the manager itself. */
	MICA_HC_MGMT_ATTACH = 38,
	/* (index, gpa tag, len) -> 0: the partition's state is kept in RAM under tag
	 * (docs/snapshots.md): it is paused while its vCPUs and devices are saved and its RAM
	 * is write-protected, then goes on as it was (running, paused or stopped). tag: len
	 * bytes, 1 .. MICA_SNAP_TAG_MAX - 1 of [A-Za-z0-9._-]. MICA_MGMT_EEXIST: it has a
	 * snapshot of that tag; MICA_MGMT_ENOMEM: not enough free RAM for the copies its
	 * writes may need; MICA_MGMT_EFULL: MICA_SNAP_MAX snapshots are kept;
	 * MICA_MGMT_EDEVICE: it has passed-through devices (their state is out of reach), its
	 * disk is on NVMe (a snapshot could not keep it), or its RAM is not held piece by
	 * piece; MICA_MGMT_ESTATE: it is stopped (nothing to
	 * keep) or changing. */
	MICA_HC_MGMT_SNAPSHOT = 39,
	/* (index, gpa tag, len) -> 0: the partition is back at the moment of the snapshot
	 * (RAM, vCPUs, devices, the service's queue positions), running, or paused if it was
	 * paused. It may be running, paused or stopped (after a crash, too). Its clocks jump
	 * forward to now (docs/snapshots.md). MICA_MGMT_ENOENT: no such snapshot. */
	MICA_HC_MGMT_RESTORE = 40,
	/* (index, gpa tag, len) -> 0: the snapshot is dropped, its RAM back to the pool.
	 * MICA_MGMT_ENOENT: no such snapshot. */
	MICA_HC_MGMT_DROP = 41,
	/* (slot, gpa struct mica_mgmt_snap *, size) -> bytes written; MICA_EINVAL past the
	 * last. Slots are 0 .. n-1, oldest first. */
	MICA_HC_MGMT_SNAPS = 42,
	/* (gpa struct mica_mgmt_pool *, size) -> bytes written: what no partition holds. */
	MICA_HC_MGMT_POOL = 43,
	/* (index, gpa struct mica_mgmt_clone *, size) -> the new partition's index: a copy
	 * of the partition at this instant, named clone.name, on the host CPUs clone.cpus
	 * (0: the first free ones), sharing its RAM copy on write (docs/management.md,
	 * "Clones"). The partition is paused only while its state is copied; both go on.
	 * MICA_MGMT_EEXIST: the name is taken; MICA_MGMT_EBUSY: not that many free CPUs
	 * (or one named is not free); MICA_MGMT_ENOMEM: not enough free RAM for the clone;
	 * MICA_MGMT_EFULL: 16 partitions already, or no room for its devices;
	 * MICA_MGMT_EDEVICE: passed-through devices or an NVMe disk; MICA_MGMT_ESTATE: it is
	 * stopped, destroyed or changing; MICA_EINVAL: a bad name or CPU mask. */
	MICA_HC_MGMT_CLONE = 44,
	MICA_HC_MGMT_LAST = MICA_HC_MGMT_CLONE, /* the manager's calls are HELLO .. LAST */
};

/* Keys typed at the console while it is in management (Ctrl-] then m) come to the
 * manager as service ring requests: type MICA_IOREQ_MANAGE, len bytes in data. len 0:
 * the console has just entered management (print a greeting and the prompt). */
#define MICA_IOREQ_MANAGE 8

#define MICA_MGMT_ESTATE  (-16)
#define MICA_MGMT_ENOENT  (-2)  /* no such snapshot */
#define MICA_MGMT_ENOMEM  (-12) /* not enough free RAM */
#define MICA_MGMT_EEXIST  (-17) /* that snapshot exists */
#define MICA_MGMT_EDEVICE (-19) /* passed-through devices: state out of reach */
#define MICA_MGMT_EFULL   (-28) /* no room for another snapshot (or partition) */
#define MICA_MGMT_EBUSY   (-29) /* not enough free CPUs */

#define MICA_SNAP_TAG_MAX 32 /* with the NUL */
#define MICA_SNAP_MAX 16

enum mica_mgmt_op {
	MICA_MGMT_OP_STOP = 1,    /* as a power-off: devices reset, the RAM kept until start */
	MICA_MGMT_OP_START = 2,   /* a stopped partition: its image loaded afresh, then run */
	MICA_MGMT_OP_RESTART = 3, /* as a reboot (running, paused or stopped) */
	MICA_MGMT_OP_PAUSE = 4,   /* its vCPUs held where they are; devices and RAM kept */
	MICA_MGMT_OP_RESUME = 5,  /* a paused partition goes on where it was */
	MICA_MGMT_OP_DESTROY = 6, /* a stopped one is gone until Mica restarts: its snapshots
				   * dropped, its RAM back in the pool, its CPUs idle */
};

enum mica_mgmt_state {
	MICA_MGMT_RUNNING = 0,
	MICA_MGMT_STOPPED = 1,
	MICA_MGMT_PAUSED = 2,
	MICA_MGMT_CHANGING = 3,   /* stopping, restarting or pausing now */
	MICA_MGMT_DESTROYED = 4,  /* gone until Mica restarts (its log stays readable) */
};

/* struct mica_mgmt_part.flags */
#define MICA_MGMT_F_SERVICE  (1u << 0) /* the service partition (and so the manager) */
#define MICA_MGMT_F_LINUX    (1u << 1) /* a PC platform guest (Linux, PVH) */
#define MICA_MGMT_F_LAZY_RAM (1u << 2) /* RAM zeroed on first touch */
#define MICA_MGMT_F_VCONSOLE (1u << 3) /* virtio console */
#define MICA_MGMT_F_DISK     (1u << 4) /* virtio disk */
#define MICA_MGMT_F_NET      (1u << 5) /* virtio network */
#define MICA_MGMT_F_PCI      (1u << 6) /* passed-through PCI functions */
#define MICA_MGMT_F_NVME     (1u << 7) /* its virtio disk is a GPT partition on NVMe */

/* Exit counts by reason, indexes of struct mica_mgmt_part.exits. */
enum mica_mgmt_exit {
	MICA_MGMT_EXIT_OTHER, MICA_MGMT_EXIT_INTERRUPT, MICA_MGMT_EXIT_CPUID,
	MICA_MGMT_EXIT_HYPERCALL, MICA_MGMT_EXIT_IO, MICA_MGMT_EXIT_MSR, MICA_MGMT_EXIT_HLT,
	MICA_MGMT_EXIT_IRQ_WINDOW, MICA_MGMT_EXIT_STAGE2_FAULT, MICA_MGMT_EXIT_TRIPLE_FAULT,
	MICA_MGMT_EXIT_ENTRY_FAILED, MICA_MGMT_EXIT_UNHANDLED,
	MICA_MGMT_EXITS
};

struct mica_mgmt_part {
	uint32_t id;
	uint32_t state;           /* enum mica_mgmt_state */
	uint64_t cpus;            /* host CPUs, bit n = CPU n */
	uint64_t ram_bytes;
	uint64_t uptime_ms;       /* since its last (re)start; 0 while stopped */
	uint64_t now_ms;          /* Mica's clock when this was written (for rates) */
	uint32_t restarts;
	uint32_t vcpus;
	uint32_t flags;           /* MICA_MGMT_F_* */
	uint32_t reserved;
	uint64_t exits[MICA_MGMT_EXITS]; /* since its last (re)start */
	uint64_t log_bytes;       /* console output written since boot */
	uint64_t log_size;        /* of it, the ring keeps the last log_size bytes (0: none) */
	uint64_t shared_bytes;    /* of its RAM, what a clone still reads from its origin */
	uint32_t origin;          /* a clone: the index of the partition it was cloned from */
	uint32_t reserved2;
	char name[MICA_NAME_MAX]; /* NUL-terminated */
	char image[MICA_NAME_MAX]; /* the config's image =, NUL-terminated (cut if longer) */
};

#define MICA_MGMT_F_CLONE    (1u << 8) /* made by MICA_HC_MGMT_CLONE: origin is valid */

/* What MICA_HC_MGMT_CLONE reads. */
struct mica_mgmt_clone {
	uint64_t cpus;            /* bit n: host CPU n; as many as the partition has vCPUs */
	char name[MICA_NAME_MAX]; /* 1 .. 31 of [a-zA-Z0-9_-], NUL-terminated, unused */
};

/* What MICA_HC_MGMT_POOL writes: the free pool. */
struct mica_mgmt_pool {
	uint64_t free_bytes;      /* RAM no partition or snapshot holds */
	uint64_t free_cpus;       /* bit n: CPU n runs no partition (none given, or destroyed) */
	uint64_t cpus;            /* bit n: CPU n is there */
	uint64_t reserved;
};

/* What MICA_HC_MGMT_SNAPS writes about one snapshot. */
struct mica_mgmt_snap {
	uint32_t part;            /* the partition's index */
	uint32_t vcpus;
	uint64_t age_ms;          /* since it was taken */
	uint64_t pause_us;        /* how long the partition was paused to take it */
	uint64_t ram_bytes;       /* the partition's RAM */
	uint64_t touched_bytes;   /* of it, what held anything when it was taken */
	uint64_t held_bytes;      /* RAM the snapshot holds now: copies and reserved spares */
	char tag[MICA_SNAP_TAG_MAX];
};

#endif
