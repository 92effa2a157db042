/* The host's IOMMUs as the firmware describes them: Intel's DMAR table (VT-d spec 3.x,
 * chapter 8) and AMD's IVRS table (AMD IOMMU spec 48882, chapter 5). Pure logic: each
 * parser reads one table already in memory (the caller found it with acpi_find_table()
 * and checked its checksum) and fills one struct iommu_acpi; nothing here touches
 * hardware. Every length and count in the table is checked against the table's own
 * length: a truncated, looping or hostile table is refused with a sentence, never read
 * past its end.
 *
 * Requester IDs (RIDs) are bus << 8 | device << 3 | function, in one PCI segment. */
#ifndef MICA_HOST_IOMMU_ACPI_H
#define MICA_HOST_IOMMU_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define IOMMU_UNITS_MAX 8   /* remapping units (DRHD / IVHD blocks) kept */
#define IOMMU_SCOPE_MAX 64  /* device scope entries kept per unit */
#define IOMMU_RESV_MAX  16  /* reserved memory regions (RMRR / IVMD) kept */
#define IOMMU_RESV_SCOPE_MAX 8

enum iommu_kind { IOMMU_NONE, IOMMU_VTD, IOMMU_AMDVI };

enum iommu_scope_type {
	IOMMU_SCOPE_DEVICE = 1, /* the RIDs first..last (a single device: first == last) */
	IOMMU_SCOPE_BRIDGE,     /* VT-d: every RID on the buses below a bridge (first..last) */
	IOMMU_SCOPE_IOAPIC,     /* an I/O APIC: id is its APIC ID, first its RID */
	IOMMU_SCOPE_HPET,       /* an HPET: id is its number, first its RID */
};

/* One entry of a unit's or a reserved region's device scope, resolved to RIDs. */
struct iommu_scope {
	uint8_t type;        /* enum iommu_scope_type */
	uint8_t id;          /* IOAPIC / HPET only */
	uint16_t first, last;
	uint16_t alias;      /* AMD-Vi alias entries: the RID these devices' DMA carries;
			      * otherwise equal to the device's own RID (first) */
	uint8_t has_alias;   /* 1: an IVHD alias entry (types 0x42, 0x43) */
	uint8_t data;        /* AMD-Vi DTE setting bits (the entry's data byte); VT-d 0 */
};

struct iommu_unit {
	uint64_t base;       /* the register block's physical address */
	uint16_t segment;
	uint8_t include_all; /* VT-d INCLUDE_PCI_ALL (every device of the segment no other unit
			      * lists); AMD-Vi: an IVHD "all" entry (type 1) was present */
	uint8_t flags;       /* the DRHD / IVHD flags byte, raw */
	uint16_t devid;      /* AMD-Vi: the IOMMU's own RID; VT-d 0 */
	uint16_t cap_off;    /* AMD-Vi: its capability's offset in config space; VT-d 0 */
	uint8_t ivhd_type;   /* AMD-Vi: 0x10, 0x11 or 0x40; VT-d 0 */
	unsigned nscope;
	struct iommu_scope scope[IOMMU_SCOPE_MAX];
};

/* Memory the firmware keeps using for DMA (VT-d RMRR, AMD-Vi IVMD): the devices named must
 * keep reaching [base, end] (inclusive) with the same addresses. */
struct iommu_resv {
	uint64_t base, end;
	uint16_t segment;
	uint8_t all;         /* AMD-Vi IVMD type 0x20: every device */
	unsigned nscope;
	struct iommu_scope scope[IOMMU_RESV_SCOPE_MAX];
};

struct iommu_acpi {
	enum iommu_kind kind;
	uint8_t haw;         /* VT-d: host address width in bits (DMAR byte 36 + 1) */
	uint8_t flags;       /* VT-d: DMAR flags (bit 0 INTR_REMAP, bit 1 X2APIC_OPT_OUT,
			      * bit 2 DMA_CTRL_PLATFORM_OPT_IN); AMD-Vi: IVinfo bits 7:0 */
	unsigned nunits;
	struct iommu_unit unit[IOMMU_UNITS_MAX];
	unsigned nresv;
	struct iommu_resv resv[IOMMU_RESV_MAX];
	unsigned skipped;    /* structures or entries ignored (unknown types, past the limits) */
};

#define DMAR_FLAG_INTR_REMAP     0x01
#define DMAR_FLAG_X2APIC_OPT_OUT 0x02

/* What the DMAR parser needs to resolve a device scope's path (start bus, then (device,
 * function) hops through bridges): the secondary and subordinate bus numbers of the
 * bridge at seg:bus:dev.fn. Returns 0 with both, or -1 if no bridge is there. */
struct iommu_bus_ops {
	int (*bridge_buses)(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
			    uint8_t *secondary, uint8_t *subordinate);
	void *ctx;
};

/* Parses a DMAR table of len bytes (len is the table header's length). bus may be NULL:
 * then only single-hop paths resolve (a path through a bridge is skipped and counted in
 * skipped). Returns 0, or MICA_EINVAL with a sentence in err (wrong signature, length
 * shorter than the header or than a structure claims, a structure of length 0, a scope
 * entry that does not fit its structure, no DRHD at all). */
int dmar_parse(const void *table, size_t len, const struct iommu_bus_ops *bus,
	       struct iommu_acpi *out, char *err, size_t errlen);

/* Parses an IVRS table of len bytes: IVHD blocks (types 0x10, 0x11, 0x40; when a unit is
 * described by several types, the highest type this parser knows wins, as the spec asks)
 * with their device entries (4-byte types 0-63, 8-byte types 64-127, variable-length
 * type 0xF0 skipped), IVMD blocks (0x20, 0x21, 0x22). Range entries (start ... end) become
 * one scope entry. Returns 0, or MICA_EINVAL with a sentence in err. */
int ivrs_parse(const void *table, size_t len, struct iommu_acpi *out, char *err,
	       size_t errlen);

/* The unit that translates RID rid of segment seg: the unit whose scope names it (a
 * device, a bridge's buses, a range), else a unit with include_all for that segment; the
 * unit's index, or -1 when none covers it. */
int iommu_acpi_unit_for(const struct iommu_acpi *a, uint16_t seg, uint16_t rid);

/* The RID the device's DMA carries according to the table (an AMD-Vi alias entry), or rid
 * itself. */
uint16_t iommu_acpi_alias(const struct iommu_acpi *a, uint16_t seg, uint16_t rid);

/* 1 if any reserved region names RID rid of segment seg (its index in *which), else 0. */
int iommu_acpi_reserved_for(const struct iommu_acpi *a, uint16_t seg, uint16_t rid,
			    unsigned *which);

/* The RID of the I/O APIC with APIC ID id (a scope entry of type IOMMU_SCOPE_IOAPIC):
 * 0 with *rid, or -1. */
int iommu_acpi_ioapic_rid(const struct iommu_acpi *a, uint8_t id, uint16_t *rid);

#endif
