/* Whether a config's passthrough devices (pci = ...) can be given as asked on this machine:
 * checked once at boot, before any partition starts. Pure logic (host unit tested). */
#ifndef MICA_ASSIGN_CHECK_H
#define MICA_ASSIGN_CHECK_H

#include "kernel/config.h"
#include "kernel/host/iommu_acpi.h"
#include "kernel/host/pci.h"

struct assign_machine {
	const struct hpci_list *pci;     /* the host's functions */
	const struct iommu_acpi *iommu;  /* the IOMMUs' tables, or NULL */
	const char *no_iommu;            /* NULL when an IOMMU protects DMA; else why not */
};

/* Returns 0, or MICA_EINVAL with err (the pci line at fault) for the first device that
 * cannot be passed through: passthrough without an IOMMU, a device that does not exist,
 * a bridge or host bridge, a requester ID another partition's device also carries, a
 * device without MSI or MSI-X, one no IOMMU unit translates, one the firmware reserves
 * memory for (RMRR / IVMD), a memory BAR the firmware left unassigned. */
int assign_check(const struct cfg *c, const struct assign_machine *m, struct cfg_error *err);

/* Which partition (index) config c gives host function d to, or -1. */
int assign_owner(const struct cfg *c, const struct hpci_dev *d);

#endif
