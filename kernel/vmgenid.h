/* The VM generation ID and counter a partition can read to notice it was restored from a
 * snapshot (or, later, cloned): docs/snapshots.md, "Noticing a restore".
 *
 * A PC-platform partition (Linux, PVH) gets Microsoft's "Virtual Machine Generation ID"
 * device in its DSDT (platform/acpi_tables.h): 16 bytes in its ACPI area hold a random ID,
 * and GPE 0 (an SCI) announces a new one. Every partition can read the counter
 * (struct mica_self_info.vm_generation). */
#ifndef MICA_VMGENID_H
#define MICA_VMGENID_H

#include <stdint.h>

struct partition;

/* The partition's ID lies at guest-physical gpa: a fresh random one is written there, ram
 * being the host view of its RAM as the loader fills it. Called by the loaders, after the
 * ACPI tables are built. */
void vmgenid_init(struct partition *p, uint64_t gpa, uint8_t *ram);

/* The partition was just restored (its vCPUs held): a new ID, the counter one up, and GPE
 * 0 raised so the guest's SCI handler runs _E00 (Notify 0x80). */
void vmgenid_changed(struct partition *p);

#endif
