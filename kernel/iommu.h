/* The IOMMU contract: what the kernel needs from a DMA-remapping driver (Intel VT-d in
 * arch/x86/iommu/vtd.c, AMD-Vi in arch/x86/iommu/amdvi.c), as virt.h is for the CPU. The
 * kernel never sees a context entry, a device table entry or an IRTE.
 *
 * The rules every driver keeps (docs/passthrough.md):
 *  - default deny: from init() on, a requester ID that is not attached to a domain can do
 *    no DMA at all, and its interrupt requests are blocked;
 *  - a domain maps exactly what the kernel maps into it (a partition's RAM), nothing else;
 *  - every change is invalidated in the IOMMU's caches before the call returns;
 *  - interrupts from an attached device reach only the vector and CPU the kernel set for
 *    that requester ID (remapping entries check the source).
 * Calls are made by the boot CPU at start-up, and afterwards under the caller's lock for
 * the device concerned; a driver serialises its own command queues. */
#ifndef MICA_KERNEL_IOMMU_H
#define MICA_KERNEL_IOMMU_H

#include <stddef.h>
#include <stdint.h>
#include "kernel/host/iommu_acpi.h"

/* A DMA address space (one per partition with devices). The driver fills it. */
struct iommu_domain {
	unsigned id;        /* 1.. (VT-d domain ID, AMD-Vi domain ID) */
	uint64_t root;      /* the top table's physical address */
	unsigned levels;    /* 3 or 4 */
};

#define IOMMU_READ  1u
#define IOMMU_WRITE 2u

/* One DMA or interrupt fault, as a unit recorded it. */
struct iommu_fault {
	uint16_t seg, rid;
	uint64_t addr;      /* the DMA address (or the interrupt index, intr) */
	uint8_t write;      /* 1: a write, 0: a read */
	uint8_t intr;       /* 1: an interrupt request failed remapping */
	uint8_t reason;     /* the unit's own fault reason code */
	const char *why;    /* the reason in words */
};

/* An interrupt remapping request: deliver to host vector on the CPU with APIC ID apic_id. */
struct iommu_irq {
	uint8_t vector;
	uint32_t apic_id;
};

struct iommu_ops {
	const char *name; /* "VT-d", "AMD-Vi" */
	/* Takes over every unit the table lists: tables built, DMA from every requester
	 * blocked, fault reporting and interrupt remapping on. fault_vector: the host vector
	 * its fault interrupt uses (on the boot CPU, apic_id), 0: none (faults polled). */
	int (*init)(const struct iommu_acpi *a, uint8_t fault_vector, uint32_t apic_id,
		    char *err, size_t errlen);
	/* A new empty domain whose tables can translate every address below limit. */
	int (*domain_init)(struct iommu_domain *d, unsigned id, uint64_t limit);
	/* Maps [iova, iova + size) to [hpa, hpa + size) with IOMMU_* permissions (4 KiB
	 * aligned); the caller never maps a range twice. */
	int (*domain_map)(struct iommu_domain *d, uint64_t iova, uint64_t hpa, uint64_t size,
			  unsigned perm);
	/* Points rid's DMA at d, or blocks it again (d NULL), and flushes the unit's caches
	 * for it: when this returns, no DMA of rid uses an older translation. */
	int (*attach)(uint16_t seg, uint16_t rid, struct iommu_domain *d);
	/* Sets interrupt remapping entry index (0 .. IOMMU_IRQS_PER_DEV - 1) of rid to irq,
	 * or blocks it (irq NULL), and invalidates it. Gives the MSI address and data the
	 * device must send to use the entry. Entry 0's message also serves an MSI function
	 * with 2^n vectors: the function puts vector k in the data's low n bits, and that
	 * reaches entry k (VT-d: subhandle; AMD-Vi: the data is the entry's index). */
	int (*irq_set)(uint16_t seg, uint16_t rid, unsigned index, const struct iommu_irq *irq,
		       uint64_t *msi_addr, uint32_t *msi_data);
	/* Reads and clears recorded faults: how many were put in out (at most max). */
	unsigned (*faults)(struct iommu_fault *out, unsigned max);
	/* Routes the host I/O APIC's pin to vector on apic_id through remapping when the unit
	 * requires it: 0 with the remapped RTE low/high words to program, MICA_ENOSYS when
	 * the I/O APIC keeps its plain format. */
	int (*ioapic_route)(uint8_t ioapic_id, unsigned pin, uint8_t vector, uint32_t apic_id,
			    int level, uint32_t *rte_lo, uint32_t *rte_hi);
};

#define IOMMU_IRQS_PER_DEV 64 /* interrupt remapping entries per device (MSI-X vectors) */

/* The driver in use, chosen once at boot (kernel/assign.c); NULL: no usable IOMMU. */
extern const struct iommu_ops *iommu;

const struct iommu_ops *vtd_probe(void);
const struct iommu_ops *amdvi_probe(void);

#endif
