/* Questions about the host's IOMMUs, answered from the struct iommu_acpi that dmar_parse()
 * or ivrs_parse() filled: which unit translates a device, which RID its DMA carries, which
 * reserved regions it must keep reaching, and where the I/O APICs sit on the bus. */
#include <stddef.h>
#include "kernel/host/iommu_acpi.h"

static int names(const struct iommu_scope *s, uint16_t rid)
{
	return (rid >= s->first && rid <= s->last) || (s->has_alias && rid == s->alias);
}

int iommu_acpi_unit_for(const struct iommu_acpi *a, uint16_t seg, uint16_t rid)
{
	/* VT-d 8.3: a unit with INCLUDE_PCI_ALL takes the segment's devices no other unit
	 * lists, so an explicit scope is looked for in every unit first. An AMD-Vi alias
	 * entry also names the RID the devices' DMA carries: that RID reaches this unit. */
	for (unsigned i = 0; i < a->nunits; i++) {
		const struct iommu_unit *u = &a->unit[i];
		if (u->segment != seg)
			continue;
		for (unsigned j = 0; j < u->nscope; j++)
			if (names(&u->scope[j], rid))
				return (int)i;
	}
	for (unsigned i = 0; i < a->nunits; i++)
		if (a->unit[i].segment == seg && a->unit[i].include_all)
			return (int)i;
	return -1;
}

uint16_t iommu_acpi_alias(const struct iommu_acpi *a, uint16_t seg, uint16_t rid)
{
	for (unsigned i = 0; i < a->nunits; i++) {
		const struct iommu_unit *u = &a->unit[i];
		if (u->segment != seg)
			continue;
		for (unsigned j = 0; j < u->nscope; j++) {
			const struct iommu_scope *s = &u->scope[j];
			if (s->has_alias && rid >= s->first && rid <= s->last)
				return s->alias;
		}
	}
	return rid;
}

int iommu_acpi_reserved_for(const struct iommu_acpi *a, uint16_t seg, uint16_t rid,
			    unsigned *which)
{
	for (unsigned i = 0; i < a->nresv; i++) {
		const struct iommu_resv *r = &a->resv[i];
		int hit = r->all;
		if (r->segment != seg)
			continue;
		for (unsigned j = 0; j < r->nscope && !hit; j++)
			hit = rid >= r->scope[j].first && rid <= r->scope[j].last;
		if (hit) {
			if (which)
				*which = i;
			return 1;
		}
	}
	return 0;
}

int iommu_acpi_ioapic_rid(const struct iommu_acpi *a, uint8_t id, uint16_t *rid)
{
	for (unsigned i = 0; i < a->nunits; i++) {
		const struct iommu_unit *u = &a->unit[i];
		for (unsigned j = 0; j < u->nscope; j++) {
			if (u->scope[j].type == IOMMU_SCOPE_IOAPIC && u->scope[j].id == id) {
				*rid = u->scope[j].first;
				return 0;
			}
		}
	}
	return -1;
}
