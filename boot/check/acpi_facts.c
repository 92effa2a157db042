/* The ACPI facts of the pre-flight check: the tables the core reads (MADT, DMAR/IVRS,
 * MCFG) through the core's own parsers, so the check sees what Mica will see, and the
 * ones only the check reads (SRAT, HPET, FADT, SPCR). Pure logic. */
#include <stdio.h>
#include <string.h>

#include "boot/check/chk.h"
#include "lib/bytes.h"

#define SDT_HEADER    36
#define FADT_FLAGS    112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_RESET_REG_SUP (1u << 10)
#define MADT_ENTRIES  44

static uint32_t table_len(const void *t)
{
	return rd32((const uint8_t *)t + 4);
}

int chk_srat_nodes(const void *srat, size_t len, unsigned *cpu_nodes)
{
	static struct acpi_numa n; /* large; the check runs once, on one CPU */
	uint32_t seen[ACPI_NUMA_CPUS];
	unsigned nseen = 0;

	*cpu_nodes = 0;
	if (acpi_srat_parse(srat, len, &n))
		return -1;
	for (unsigned i = 0; i < n.ncpus; i++) {
		unsigned k = 0;
		while (k < nseen && seen[k] != n.cpu[i].node)
			k++;
		if (k == nseen)
			seen[nseen++] = n.cpu[i].node;
	}
	*cpu_nodes = nseen;
	return (int)n.nnodes;
}

int chk_fadt_reset(const void *fadt, size_t len, uint8_t *space, uint64_t *addr,
		   uint8_t *value)
{
	const uint8_t *t = fadt;

	if (len < FADT_RESET_VALUE + 1 || table_len(t) < FADT_RESET_VALUE + 1 ||
	    !(rd32(t + FADT_FLAGS) & FADT_RESET_REG_SUP))
		return 0;
	*space = t[FADT_RESET_REG];
	*addr = rd64(t + FADT_RESET_REG + 4);
	*value = t[FADT_RESET_VALUE];
	return *space <= 2 && *addr != 0;
}

static void read_madt(uint64_t rsdp, struct chk_acpi *a)
{
	const uint8_t *m, *p, *end;

	if (acpi_madt_cpus(rsdp, &a->cpus, a->madt_err, sizeof(a->madt_err)) != 0)
		return;
	a->madt = 1;
	for (unsigned i = 0; i < a->cpus.n; i++)
		if (a->cpus.apic_id[i] > a->max_apic_id)
			a->max_apic_id = a->cpus.apic_id[i];
	m = acpi_find_table(rsdp, "APIC");
	end = m + table_len(m);
	for (p = m + MADT_ENTRIES; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1])
		if (p[0] == 9)
			a->x2apic_entries++;
}

static void read_iommu(uint64_t rsdp, struct chk_acpi *a)
{
	static struct iommu_acpi io; /* large; the check runs on one CPU, once */
	const uint8_t *t;
	int rc;

	if ((t = acpi_find_table(rsdp, "DMAR"))) {
		a->iommu = IOMMU_VTD;
		rc = dmar_parse(t, table_len(t), NULL, &io, a->iommu_err, sizeof(a->iommu_err));
	} else if ((t = acpi_find_table(rsdp, "IVRS"))) {
		a->iommu = IOMMU_AMDVI;
		rc = ivrs_parse(t, table_len(t), &io, a->iommu_err, sizeof(a->iommu_err));
	} else {
		return;
	}
	if (rc != 0) {
		a->iommu_bad = 1;
		return;
	}
	a->iommu_units = io.nunits;
	a->iommu_flags = io.flags;
}

void chk_acpi_read(uint64_t rsdp, struct chk_acpi *a)
{
	const uint8_t *t;

	memset(a, 0, sizeof(*a));
	if (!rsdp) {
		snprintf(a->madt_err, sizeof(a->madt_err), "the firmware gave no ACPI tables");
		return;
	}
	a->rsdp = 1;
	read_madt(rsdp, a);
	read_iommu(rsdp, a);
	acpi_mcfg(rsdp, &a->mcfg);
	if ((t = acpi_find_table(rsdp, "SRAT"))) {
		int n = chk_srat_nodes(t, table_len(t), &a->srat_cpu_nodes);
		a->srat = 1;
		a->srat_nodes = n > 0 ? (unsigned)n : 0;
	}
	a->hpet = acpi_find_table(rsdp, "HPET") != NULL;
	a->pm_timer = acpi_pm_timer(rsdp, &a->pm_port, &a->pm_bits) == 0;
	if ((t = acpi_find_table(rsdp, "FACP"))) {
		a->fadt = 1;
		if (table_len(t) >= FADT_FLAGS + 4)
			a->fadt_flags = rd32(t + FADT_FLAGS);
		a->reset_reg = chk_fadt_reset(t, table_len(t), &a->reset_space, &a->reset_addr,
					      &a->reset_value);
	}
	a->spcr = acpi_spcr(rsdp, &a->serial) == 0;
}

void chk_mem_add(struct chk_mem *m, uint64_t base, uint64_t len)
{
	uint64_t end = base + len;

	if (!len || end < base)
		return;
	if (base < (1ULL << 20))
		m->below_1m += (end < (1ULL << 20) ? end : (1ULL << 20)) - base;
	if (end > (1ULL << 20) && base < (4ULL << 30)) {
		uint64_t b = base > (1ULL << 20) ? base : (1ULL << 20);
		uint64_t e = end < (4ULL << 30) ? end : (4ULL << 30);
		m->below_4g += e - b;
	}
	if (end > (4ULL << 30))
		m->above_4g += end - (base > (4ULL << 30) ? base : (4ULL << 30));
	if (base < 0xA0000 && end > 0x1000) {
		uint64_t b = base > 0x1000 ? base : 0x1000;
		uint64_t e = end < 0xA0000 ? end : 0xA0000;
		m->low_free += e - b;
	}
	if (m->run_end == base && m->run_end)
		m->run_end = end;
	else
		m->run_base = base, m->run_end = end;
	if (m->run_end - m->run_base > m->largest)
		m->largest = m->run_end - m->run_base;
	if (end > m->top)
		m->top = end;
}
