#include <stdio.h>
#include <string.h>
#include <mica/hypercall.h>
#include "kernel/host/acpi.h"
#include "lib/bytes.h"

struct sdt_header {
	char sig[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem[6], oem_table[8];
	uint32_t oem_rev, creator, creator_rev;
} __attribute__((packed));

#define MADT_ENTRIES 44
#define MADT_LAPIC   0
#define MADT_X2APIC  9
#define LAPIC_ENABLED 1u
#define LAPIC_ONLINE_CAPABLE 2u

static const uint8_t *phys(uint64_t pa)
{
	return (const uint8_t *)(uintptr_t)pa;
}

static int sum_ok(const uint8_t *p, uint32_t len)
{
	uint8_t s = 0;
	while (len--)
		s += *p++;
	return s == 0;
}

static const struct sdt_header *table_at(uint64_t pa)
{
	const struct sdt_header *h = (const void *)phys(pa);
	if (!pa || h->length < sizeof(*h) || h->length > (16u << 20) || !sum_ok(phys(pa), h->length))
		return NULL;
	return h;
}

const void *acpi_find_table(uint64_t rsdp, const char sig[4])
{
	const uint8_t *r = phys(rsdp);
	if (!rsdp || memcmp(r, "RSD PTR ", 8) || !sum_ok(r, 20))
		return NULL;
	uint64_t root;
	unsigned width;
	if (r[15] >= 2 && rd32(r + 20) >= 36 && sum_ok(r, rd32(r + 20)) && rd64(r + 24)) {
		root = rd64(r + 24);
		width = 8;
	} else {
		root = rd32(r + 16);
		width = 4;
	}
	const struct sdt_header *rt = table_at(root);
	if (!rt)
		return NULL;
	unsigned n = (rt->length - sizeof(*rt)) / width;
	const uint8_t *e = (const uint8_t *)rt + sizeof(*rt);
	for (unsigned i = 0; i < n; i++, e += width) {
		const struct sdt_header *t = table_at(width == 8 ? rd64(e) : rd32(e));
		if (t && !memcmp(t->sig, sig, 4))
			return t;
	}
	return NULL;
}

static void add_cpu(struct acpi_cpus *out, uint32_t id)
{
	for (unsigned i = 0; i < out->n; i++)
		if (out->apic_id[i] == id)
			return;
	if (out->n < ACPI_MAX_CPUS)
		out->apic_id[out->n++] = id;
	else
		out->skipped++;
}

int acpi_madt_cpus(uint64_t rsdp, struct acpi_cpus *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const struct sdt_header *m = acpi_find_table(rsdp, "APIC");
	if (!m) {
		snprintf(err, errlen, "no valid ACPI MADT (RSDP at 0x%lx): cannot find the CPUs",
			 (unsigned long)rsdp);
		return MICA_EINVAL;
	}
	const uint8_t *p = (const uint8_t *)m + MADT_ENTRIES;
	const uint8_t *end = (const uint8_t *)m + m->length;
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		if (p[0] == MADT_LAPIC && p[1] >= 8) {
			uint32_t flags = rd32(p + 4);
			if (flags & (LAPIC_ENABLED | LAPIC_ONLINE_CAPABLE))
				add_cpu(out, p[3]);
		} else if (p[0] == MADT_X2APIC && p[1] >= 16) {
			uint32_t flags = rd32(p + 8);
			if (flags & (LAPIC_ENABLED | LAPIC_ONLINE_CAPABLE))
				add_cpu(out, rd32(p + 4));
		}
		p += p[1];
	}
	if (!out->n) {
		snprintf(err, errlen, "the ACPI MADT lists no enabled CPU");
		return MICA_EINVAL;
	}
	return 0;
}

int acpi_madt_ioapic(uint64_t rsdp, unsigned isa_irq, uint64_t *addr, uint32_t *gsi_base,
		     uint32_t *gsi, uint16_t *flags)
{
	const struct sdt_header *m = acpi_find_table(rsdp, "APIC");
	if (!m)
		return MICA_EINVAL;
	const uint8_t *start = (const uint8_t *)m + MADT_ENTRIES, *p;
	const uint8_t *end = (const uint8_t *)m + m->length;
	int found = 0;
	*gsi = isa_irq;
	*flags = 0;
	/* The IRQ's GSI first (an interrupt source override may come after the I/O APICs),
	 * then the I/O APIC whose GSIs start highest at or below it: the one whose pins hold it
	 * (the MADT does not say how many pins each has; their ranges do not overlap). */
	for (p = start; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1])
		if (p[0] == 2 && p[1] >= 10 && p[3] == isa_irq) { /* interrupt source override */
			*gsi = rd32(p + 4);
			*flags = (uint16_t)(p[8] | (p[9] << 8));
		}
	for (p = start; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1])
		if (p[0] == 1 && p[1] >= 12 && rd32(p + 8) <= *gsi && /* I/O APIC */
		    (!found || rd32(p + 8) > *gsi_base)) {
			*addr = rd32(p + 4);
			*gsi_base = rd32(p + 8);
			found = 1;
		}
	return found ? 0 : MICA_EINVAL;
}

int acpi_mcfg(uint64_t rsdp, struct acpi_mcfg *out)
{
	memset(out, 0, sizeof(*out));
	const struct sdt_header *m = acpi_find_table(rsdp, "MCFG");
	if (!m)
		return MICA_EINVAL;
	/* 8 reserved bytes after the header, then 16-byte allocation entries. */
	const uint8_t *p = (const uint8_t *)m + sizeof(*m) + 8;
	const uint8_t *end = (const uint8_t *)m + m->length;
	for (; p + 16 <= end && out->n < ACPI_MCFG_MAX; p += 16) {
		uint64_t base = rd64(p);
		if (!base || p[11] < p[10])
			continue;
		out->win[out->n].base = base;
		out->win[out->n].seg = rd16(p + 8);
		out->win[out->n].start_bus = p[10];
		out->win[out->n].end_bus = p[11];
		out->n++;
	}
	return 0;
}

/* SPCR: interface type at 36, base address (a GAS) at 40, interrupt type at 52 (bit 0: a
 * PC-AT IRQ), the IRQ at 53, the baud rate code at 58. */
int acpi_spcr(uint64_t rsdp, struct acpi_spcr *out)
{
	static const uint32_t baud[8] = { 0, 0, 0, 9600, 19200, 0, 57600, 115200 };
	const struct sdt_header *h = acpi_find_table(rsdp, "SPCR");
	const uint8_t *t = (const uint8_t *)h;

	memset(out, 0, sizeof(*out));
	if (!h || h->length < 59)
		return MICA_EINVAL;
	out->type = t[36];
	out->space = t[40];
	out->addr = rd64(t + 44);
	out->irq = (t[52] & 1) ? t[53] : 0;
	out->baud = t[58] < 8 ? baud[t[58]] : 0;
	return 0;
}

/* FADT (ACPI 6.4, 5.2.9): PM_TMR_BLK at 76, flags at 112, X_PM_TMR_BLK (a GAS) at 208. */
int acpi_pm_timer(uint64_t rsdp, uint16_t *port, unsigned *bits)
{
	const struct sdt_header *h = acpi_find_table(rsdp, "FACP");
	const uint8_t *t = (const uint8_t *)h;
	uint64_t p = 0;

	if (!h || h->length < 116)
		return MICA_EINVAL;
	if (h->length >= 220 && t[208] == 1 && rd64(t + 212) && rd64(t + 212) <= 0xfffc)
		p = rd64(t + 212);
	else
		p = rd32(t + 76);
	if (!p || p > 0xfffc)
		return MICA_EINVAL;
	*port = (uint16_t)p;
	*bits = (rd32(t + 112) & (1u << 8)) ? 32 : 24;
	return 0;
}

static void numa_node_seen(struct acpi_numa *n, uint32_t node)
{
	for (unsigned i = 0; i < n->nnodes; i++)
		if (n->node[i] == node)
			return;
	n->node[n->nnodes++] = node; /* at most one per structure kept: always fits */
}

int acpi_srat_parse(const void *srat, size_t len, struct acpi_numa *out)
{
	const uint8_t *t = srat, *p, *end;

	memset(out, 0, sizeof(*out));
	if (len < 48 || memcmp(t, "SRAT", 4) || rd32(t + 4) > len || rd32(t + 4) < 48)
		return MICA_EINVAL;
	end = t + rd32(t + 4);
	for (p = t + 48; p < end; p += p[1]) {
		if (end - p < 2 || p[1] < 2 || p[1] > end - p) {
			memset(out, 0, sizeof(*out));
			return MICA_EINVAL;
		}
		if ((p[0] == 0 && p[1] >= 16 && (rd32(p + 4) & 1)) ||
		    (p[0] == 2 && p[1] >= 24 && (rd32(p + 12) & 1))) {
			/* Type 0: domain bits 7:0 at 2, 31:8 at 9; APIC ID at 3. Type 2: domain at
			 * 4, x2APIC ID at 8. */
			uint32_t node = p[0] == 0 ? (p[2] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 |
						     (uint32_t)p[11] << 24) : rd32(p + 4);
			if (out->ncpus == ACPI_NUMA_CPUS) {
				out->skipped++;
				continue;
			}
			out->cpu[out->ncpus].apic_id = p[0] == 0 ? p[3] : rd32(p + 8);
			out->cpu[out->ncpus++].node = node;
			numa_node_seen(out, node);
		} else if (p[0] == 1 && p[1] >= 40 && (rd32(p + 28) & 1) && rd64(p + 16)) {
			if (out->nmems == ACPI_NUMA_MEMS) {
				out->skipped++;
				continue;
			}
			out->mem[out->nmems].base = rd64(p + 8);
			out->mem[out->nmems].size = rd64(p + 16);
			out->mem[out->nmems++].node = rd32(p + 2);
			numa_node_seen(out, rd32(p + 2));
		}
	}
	return 0;
}

int acpi_numa(uint64_t rsdp, struct acpi_numa *out)
{
	const struct sdt_header *h = acpi_find_table(rsdp, "SRAT");

	if (!h) {
		memset(out, 0, sizeof(*out));
		return MICA_EINVAL;
	}
	return acpi_srat_parse(h, h->length, out);
}

int acpi_numa_node_of(const struct acpi_numa *n, uint32_t apic_id)
{
	for (unsigned i = 0; i < n->ncpus; i++)
		if (n->cpu[i].apic_id == apic_id)
			return (int)n->cpu[i].node;
	return -1;
}
