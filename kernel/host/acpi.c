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
