/* PCI passthrough (docs/passthrough.md): the host's PCI devices and IOMMU at boot, and each
 * passed-through function's life in its partition: its IOMMU domain, its place on the
 * guest's PCI bus with BARs mapped into stage-2, its MSI/MSI-X routed through interrupt
 * remapping to a host vector and on into the guest, its reset when the partition stops or
 * restarts, and the IOMMU's fault reports. */
#ifndef MICA_PASSTHROUGH_H
#define MICA_PASSTHROUGH_H

#include <mica/boot_info.h>
#include "kernel/config.h"

struct partition;

/* At boot, after the config was parsed and before any partition exists: enumerates host
 * PCI, takes over the IOMMU (all DMA denied), prints one line per device, and checks the
 * config's pci = lines. 0, or MICA_EINVAL with e filled (then nothing may start). */
int passthrough_init(const struct boot_info *bi, const struct cfg *c, struct cfg_error *e);

/* At partition creation (stage-2 and bus made, vCPUs known): the partition's IOMMU
 * domain over its RAM, its devices attached and reset. 0, or an error already logged. */
int passthrough_attach(struct partition *p);

/* At every (re)load of the partition's bus: its devices back on it at their slots. */
void passthrough_bus_reset(struct partition *p);

/* When the partition stops or restarts, before its RAM is cleared: bus mastering off,
 * interrupts off, the devices reset, so no DMA lands in memory being recycled. */
void passthrough_quiesce(struct partition *p, int restart);

/* The partition is destroyed: its devices reset, with bus mastering and memory decoding
 * off, detached from its IOMMU domain (their DMA blocked as if nobody's), so its RAM may
 * go to others. They stay given to it (no one else gets them until Mica restarts). */
void passthrough_release(struct partition *p);

#endif
