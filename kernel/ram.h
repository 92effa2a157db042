/* Partition RAM zeroed on first touch, 2 MiB at a time (docs/architecture.md, "Start").
 *
 * A partition whose RAM no device can reach by DMA (no passed-through device, so no IOMMU
 * mapping of it) starts with its RAM absent from its stage-2 tables. The first access to a
 * 2 MiB piece, by the guest (a stage-2 fault), by Mica on the guest's behalf
 * (partition_guest_ptr(), the loaders) or by the service partition through its window
 * onto the guest's RAM (a stage-2 fault of the service's), zeroes the piece and maps it,
 * into the window too; a restart takes every piece out of both again. Neither the
 * partition nor its service ever sees a byte it did not write or Mica did not load, and a
 * guest that uses little of its RAM costs little to start. Partitions with passed-through
 * devices have their RAM zeroed before they start (kernel/zero.h). */
#ifndef MICA_RAM_H
#define MICA_RAM_H

#include <stdint.h>

#define RAM_PIECE ((uint64_t)2 << 20)

struct cfg_partition;
struct partition;
struct vcpu;

/* Is cfg's RAM zeroed on first touch (reached by nothing but its vCPUs and Mica)? */
int ram_lazy_for(const struct cfg_partition *cfg);

/* Partition creation, after stage2_init: maps all RAM (zeroed already by zero_run()) or,
 * for lazy RAM, builds the stage-2 tables every piece will need, so that a touch later
 * allocates nothing and cannot fail. 0 or a MICA_E* error. */
int ram_init(struct partition *p);

/* A destroyed partition's bookkeeping back to the pool (nothing reaches its RAM). */
void ram_fini(struct partition *p);

/* Makes [gpa, gpa + len), inside the RAM, zero-or-written and mapped. 0 or MICA_EFAULT. */
int ram_touch(struct partition *p, uint64_t gpa, uint64_t len);

/* The service maps its window onto p's RAM at its gpa (MICA_HC_SVC_MAP): the pieces ready
 * now at once, the others as they become ready. 0, or the backend's error. */
int ram_window_open(struct partition *p, uint64_t gpa);
/* The service's window onto p is gone (p destroyed): no piece is mapped into it any more.
 * The caller unmaps what was. */
void ram_window_close(struct partition *p);

/* A stage-2 fault at gpa: 1 if gpa is RAM (the service's: its window onto a partition's
 * RAM) that is now mapped (the vCPU retries the access), 0 if it is not, MICA_EFAULT when
 * it could not be mapped. */
int ram_fault(struct vcpu *v, uint64_t gpa);

/* Before a (re)load, with the partition's vCPUs parked: every piece out of the stage-2
 * tables again (lazy RAM), or all RAM zeroed now unless *zeroed says it is already.
 * Clears *zeroed. */
void ram_reset(struct partition *p, int *zeroed);

/* Snapshots (kernel/snapshot.c), with p's vCPUs parked. touched: piece k holds anything
 * (zeroed, or kept for a snapshot). freeze: k becomes read-only for p and its service;
 * the first write to it calls snapshot_unshare() and makes it writable again. thaw: the
 * same without a write (no snapshot reads it live any more). absent: k leaves p, to be
 * zeroed on its next touch. writable: k mapped and writable as it is, for a restore to
 * fill (NULL when it cannot be mapped). */
int ram_piece_touched(struct partition *p, uint64_t k);
int ram_freeze(struct partition *p, uint64_t k);
/* After the freezes: every CPU of p and of its service drops what it cached of them
 * before its next entry (the caller is the service's; p's vCPUs are parked). */
void ram_freeze_done(struct partition *p);
int ram_thaw(struct partition *p, uint64_t k);
void ram_piece_absent(struct partition *p, uint64_t k);
void *ram_piece_writable(struct partition *p, uint64_t k);


/* Clones (kernel/clone.c), with o's vCPUs parked and c not yet running: c's RAM reads as
 * o's does now, copy on write (kernel/ram.c, "clones"). Every piece of o that holds
 * anything is write-protected in o; the caller then calls ram_freeze_done(o). Returns the
 * bytes c reads in place. */
uint64_t ram_share(struct partition *c, struct partition *o);
/* Nothing of p's RAM is shared with a clone any more: clones reading p's pieces in place
 * get their copies now (before a restore, a destroy), and p's own pieces still read from
 * its origin are copied in (keep) or forgotten (a destroyed partition's). */
void ram_settle(struct partition *p, int keep);
/* Bytes of p's RAM it reads from another partition's in place (a clone's, shared). */
uint64_t ram_shared_bytes(const struct partition *p);

#endif
