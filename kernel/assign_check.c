#include <stdio.h>
#include <string.h>
#include <mica/hypercall.h>
#include "kernel/assign_check.h"

int assign_owner(const struct cfg *c, const struct hpci_dev *d)
{
	for (unsigned i = 0; i < c->nparts; i++)
		for (unsigned k = 0; k < c->part[i].npci; k++) {
			const struct cfg_pci *a = &c->part[i].pci[k];
			if (a->seg == d->seg && a->bus == d->bus && a->dev == d->dev && a->fn == d->fn)
				return (int)i;
		}
	return -1;
}

static int check_one(const struct cfg *c, unsigned pi, const struct cfg_pci *a,
		     const struct assign_machine *m, struct cfg_error *err)
{
	const struct cfg_partition *p = &c->part[pi];
	unsigned line = p->pci_line;
	char name[16];
	snprintf(name, sizeof(name), "%02x:%02x.%x", a->bus, a->dev, a->fn);
	if (a->seg)
		snprintf(name, sizeof(name), "%04x:%02x:%02x.%x", a->seg, a->bus, a->dev, a->fn);

	int i = hpci_find(m->pci, a->seg, a->bus, a->dev, a->fn);
	if (i < 0)
		return cfg_fail(err, line, "PCI device %s does not exist on this machine (the 'mica: "
			    "pci' lines above list what there is)", name);
	const struct hpci_dev *d = &m->pci->dev[i];
	if (hpci_is_bridge(d))
		return cfg_fail(err, line, "PCI device %s is a bridge (%s): bridges are never passed "
			    "through (give the devices behind it)", name, hpci_class_name(d->class));
	if (!d->cap_msi && !d->cap_msix)
		return cfg_fail(err, line, "PCI device %s (%04x:%04x) has only INTx interrupts (no MSI "
			    "or MSI-X), which Mica does not route to partitions", name, d->vendor,
			    d->device);
	for (unsigned b = 0; b < HPCI_BARS; b++)
		if (d->bar[b].size && !d->bar[b].io && !d->bar[b].base)
			return cfg_fail(err, line, "PCI device %s: the firmware left its BAR %u "
				    "unassigned; Mica uses the firmware's assignment", name, b);
	for (unsigned k = 0; k < m->pci->n; k++) {
		const struct hpci_dev *o = &m->pci->dev[k];
		int owner = assign_owner(c, o);
		if ((int)k == i || o->seg != d->seg || o->rid != d->rid || owner < 0 ||
		    (unsigned)owner == pi)
			continue;
		return cfg_fail(err, line, "PCI device %s shares its DMA requester ID %02x:%02x.%x with "
			    "%02x:%02x.%x, which partition '%s' has (devices behind a PCIe-to-PCI "
			    "bridge all DMA as the bridge): give them to one partition", name,
			    d->rid >> 8, (d->rid >> 3) & 31, d->rid & 7, o->bus, o->dev, o->fn,
			    c->part[owner].name);
	}
	if (m->no_iommu)
		return cfg_fail(err, line, "passthrough needs an IOMMU to confine DMA, and this machine "
			    "has none usable (%s): turn on VT-d or AMD-Vi in the firmware setup, or "
			    "remove this line", m->no_iommu);
	if (iommu_acpi_unit_for(m->iommu, d->seg, d->rid) < 0)
		return cfg_fail(err, line, "PCI device %s: no IOMMU unit translates its DMA (the %s "
			    "table covers no requester ID %04x)", name,
			    m->iommu->kind == IOMMU_VTD ? "DMAR" : "IVRS", d->rid);
	unsigned r;
	if (iommu_acpi_reserved_for(m->iommu, d->seg, d->rid, &r) ||
	    (d->rid != ((unsigned)d->bus << 8 | d->dev << 3 | d->fn) &&
	     iommu_acpi_reserved_for(m->iommu, d->seg,
				     (uint16_t)(d->bus << 8 | d->dev << 3 | d->fn), &r)))
		return cfg_fail(err, line, "PCI device %s: the firmware keeps memory 0x%lx-0x%lx for "
			    "its DMA (%s); Mica does not pass through such devices (often USB "
			    "controllers and integrated graphics)", name,
			    (unsigned long)m->iommu->resv[r].base, (unsigned long)m->iommu->resv[r].end,
			    m->iommu->kind == IOMMU_VTD ? "RMRR" : "IVMD");
	return 0;
}

int assign_check(const struct cfg *c, const struct assign_machine *m, struct cfg_error *err)
{
	for (unsigned i = 0; i < c->nparts; i++)
		for (unsigned k = 0; k < c->part[i].npci; k++) {
			int rc = check_one(c, i, &c->part[i].pci[k], m, err);
			if (rc)
				return rc;
		}
	return 0;
}
