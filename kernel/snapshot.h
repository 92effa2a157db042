/* Snapshots of partitions, kept in free RAM (docs/snapshots.md): what `snapshot NAME
 * TAG`, `restore NAME TAG`, `drop NAME TAG` and `snapshots` do at the management console
 * (include/mica/manage.h, calls 39-42).
 *
 * A snapshot holds every vCPU's state (general registers, the backend's VMCB or VMCS
 * fields, the FPU, the local APIC), the partition's devices (UART, PIT, PM timer, RTC,
 * PIC, IOAPIC, PCI bus, the driver side of each virtio device) and its RAM, copy-on-write
 * (kernel/snapram.h): the partition is paused only while its vCPUs and devices are saved
 * and its RAM is write-protected. */
#ifndef MICA_SNAPSHOT_H
#define MICA_SNAPSHOT_H

#include <stdint.h>
#include <mica/manage.h>

struct partition;
struct vcpu;

/* The management calls, on partition p (never the manager's own): 0 or a MICA_MGMT_E*
 * code (include/mica/manage.h). tag is NUL-terminated and checked. */
int snapshot_take(struct partition *p, const char *tag);
int snapshot_restore(struct partition *p, const char *tag);
int snapshot_drop(struct partition *p, const char *tag);
/* Drops every snapshot of p (a destroy): how many. */
unsigned snapshot_drop_all(struct partition *p);
/* Slot i of the snapshots kept, oldest first: 0 and *out, or MICA_EINVAL past the last. */
int snapshot_info(unsigned i, struct mica_mgmt_snap *out);

/* A clone (kernel/clone.c): c, just built and its vCPUs parked, becomes a copy of o at
 * this instant: o is held while its vCPUs save their state, its devices are copied and its
 * RAM is shared with c (ram_share); then o goes on, and c's vCPUs load the state. o's
 * virtio disk (disk = FILE), if any, is copied into *disk_copy (its size, allocated here:
 * c's now). *pause_tsc: how long o was held. 0, or MICA_MGMT_ENOMEM, MICA_MGMT_ESTATE. */
int snapshot_clone(struct partition *o, struct partition *c, uint64_t *disk_copy,
		   uint64_t *pause_tsc, uint64_t *shared);

/* Piece k of p's RAM, write-protected for its snapshots, is about to change: they get
 * their copy first (kernel/ram.c). */
void snapshot_unshare(struct partition *p, uint64_t k);

/* Called by a parked vCPU on its own CPU (kernel/lifecycle.c) when asked to save its
 * state into a snapshot or load it from one. */
void snapshot_vcpu_serve(struct vcpu *v);

#endif
