/* Partition RAM zeroed on first touch, 2 MiB at a time (docs/architecture.md, "Start").
 *
 * A partition whose RAM no device can reach (no virtio device, so no service window onto
 * it; no passed-through device, so no IOMMU mapping of it) starts with its RAM absent from
 * its stage-2 tables. The first access to a 2 MiB piece, by the guest (a stage-2 fault) or
 * by Mica on the guest's behalf (partition_guest_ptr(), the loaders), zeroes the piece and
 * maps it; a restart takes every piece out again. The partition never sees a byte it did
 * not write or Mica did not load, and a guest that uses little of its RAM costs little to
 * start. Every other partition's RAM is zeroed before it starts (kernel/zero.h). */
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

/* Makes [gpa, gpa + len), inside the RAM, zero-or-written and mapped. 0 or MICA_EFAULT. */
int ram_touch(struct partition *p, uint64_t gpa, uint64_t len);

/* A stage-2 fault at gpa: 1 if gpa is RAM that is now mapped (the guest retries the
 * access), 0 if it is not this partition's RAM. */
int ram_fault(struct vcpu *v, uint64_t gpa);

/* Before a (re)load, with the partition's vCPUs parked: every piece out of the stage-2
 * tables again (lazy RAM), or all RAM zeroed now unless *zeroed says it is already.
 * Clears *zeroed. */
void ram_reset(struct partition *p, int *zeroed);

#endif
