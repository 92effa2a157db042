/* Intel's DMAR table (VT-d spec 3.x, chapter 8): the remapping units (DRHD) and the memory
 * firmware keeps using for DMA (RMRR), each with its device scope resolved to requester IDs.
 * A scope's path is walked through bridges with struct iommu_bus_ops; nothing here reads
 * configuration space itself. Every length is checked before the bytes it covers are read. */
#include <stdio.h>
#include <string.h>
#include <mica/hypercall.h>
#include "kernel/host/iommu_acpi.h"
#include "lib/bytes.h"

#define DMAR_HDR   48 /* 8.1: SDT header, host address width, flags, 10 reserved bytes */
#define STRUCT_HDR 4  /* 8.2: every remapping structure starts with type u16, length u16 */

/* Remapping structure types (8.2) */
#define DMAR_DRHD 0
#define DMAR_RMRR 1
#define DMAR_SATC 5 /* 2 ATSR, 3 RHSA, 4 ANDD, 5 SATC: known, not needed here */

#define DRHD_HDR 16 /* 8.3: flags, size, segment, register base */
#define RMRR_HDR 24 /* 8.4: reserved, segment, base, limit */
#define DRHD_INCLUDE_PCI_ALL 0x01

/* Device scope entries (8.3.1): type, length, 2 reserved, enumeration ID, start bus, path */
#define SCOPE_HDR       6
#define SCOPE_ENDPOINT  1
#define SCOPE_BRIDGE    2
#define SCOPE_IOAPIC    3
#define SCOPE_HPET      4

/* Where a structure's resolved scope entries go; arr NULL: the structure itself is not kept
 * (past the limits, or a bad range), so its scope is only checked for layout. */
struct sink {
	struct iommu_scope *arr;
	unsigned *n;
	unsigned max;
};

struct dmar {
	const uint8_t *t;
	const struct iommu_bus_ops *bus;
	struct iommu_acpi *out;
	char *err;
	size_t errlen;
};

static void keep(struct dmar *d, const struct sink *s, uint8_t type, uint8_t id,
		 uint16_t first, uint16_t last)
{
	if (*s->n >= s->max) {
		d->out->skipped++;
		return;
	}
	struct iommu_scope *e = &s->arr[(*s->n)++];
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->id = id;
	e->first = first;
	e->last = last;
	e->alias = first;
}

static int buses(struct dmar *d, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
		 uint8_t *sec, uint8_t *sub)
{
	if (!d->bus || !d->bus->bridge_buses)
		return -1;
	return d->bus->bridge_buses(d->bus->ctx, seg, bus, dev, fn, sec, sub) ? -1 : 0;
}

/* A bridge's buses lie above its own bus and inside the range of the bridge above it; a
 * bridge that says otherwise would send the walk round in a loop or onto another branch. */
static int sane(uint8_t bus, uint8_t sec, uint8_t sub, uint8_t hi)
{
	return sec > bus && sub >= sec && sub <= hi;
}

/* 8.3.1.1: the path starts at the start bus; every hop but the last is a bridge whose
 * secondary bus holds the next hop, and the last hop names the device. Resolves the entry
 * at e (hops pairs) into the sink; an entry that cannot be resolved is counted. */
static void resolve(struct dmar *d, uint16_t seg, const uint8_t *e, unsigned hops,
		    const struct sink *s)
{
	uint8_t type = e[0], bus = e[5], hi = 0xff;
	if (type < SCOPE_ENDPOINT || type > SCOPE_HPET || !hops) {
		/* ACPI namespace devices (5) are reached through ANDD, which is not read */
		d->out->skipped++;
		return;
	}
	for (unsigned i = 0; i < hops; i++) {
		const uint8_t *h = e + SCOPE_HDR + 2 * i;
		if (h[0] >= 32 || h[1] >= 8) {
			d->out->skipped++;
			return;
		}
	}
	for (unsigned i = 0; i + 1 < hops; i++) {
		const uint8_t *h = e + SCOPE_HDR + 2 * i;
		uint8_t sec, sub;
		if (buses(d, seg, bus, h[0], h[1], &sec, &sub) || !sane(bus, sec, sub, hi)) {
			d->out->skipped++;
			return;
		}
		bus = sec;
		hi = sub;
	}
	const uint8_t *last = e + SCOPE_HDR + 2 * (hops - 1);
	uint16_t rid = (uint16_t)(bus << 8 | last[0] << 3 | last[1]);
	if (type != SCOPE_BRIDGE) {
		uint8_t kind = type == SCOPE_ENDPOINT ? IOMMU_SCOPE_DEVICE :
			       type == SCOPE_IOAPIC ? IOMMU_SCOPE_IOAPIC : IOMMU_SCOPE_HPET;
		keep(d, s, kind, type == SCOPE_ENDPOINT ? 0 : e[4], rid, rid);
		return;
	}
	/* 8.3.1: a sub-hierarchy scope holds the bridge itself and everything below it */
	uint8_t sec, sub;
	if (buses(d, seg, bus, last[0], last[1], &sec, &sub) || !sane(bus, sec, sub, hi)) {
		d->out->skipped++;
		return;
	}
	keep(d, s, IOMMU_SCOPE_DEVICE, 0, rid, rid);
	keep(d, s, IOMMU_SCOPE_BRIDGE, 0, (uint16_t)(sec << 8), (uint16_t)(sub << 8 | 0xff));
}

/* The device scope entries of the structure at off (len bytes, hdr of them its header). */
static int scopes(struct dmar *d, uint32_t off, uint32_t len, uint32_t hdr, uint16_t seg,
		  const struct sink *s)
{
	uint32_t p = off + hdr, end = off + len;
	while (p < end) {
		const uint8_t *e = d->t + p;
		if (end - p < 2) {
			snprintf(d->err, d->errlen, "DMAR device scope at offset 0x%x: only %u "
				 "byte left in its structure (ends at 0x%x), expected at least a "
				 "6-byte header", p, end - p, end);
			return MICA_EINVAL;
		}
		uint32_t n = e[1];
		if (n < SCOPE_HDR) {
			snprintf(d->err, d->errlen, "DMAR device scope at offset 0x%x is %u bytes "
				 "long: shorter than its 6-byte header", p, n);
			return MICA_EINVAL;
		}
		if (n > end - p) {
			snprintf(d->err, d->errlen, "DMAR device scope at offset 0x%x is %u bytes "
				 "long but its structure ends at 0x%x, %u bytes on", p, n, end,
				 end - p);
			return MICA_EINVAL;
		}
		if ((n - SCOPE_HDR) % 2) {
			snprintf(d->err, d->errlen, "DMAR device scope at offset 0x%x is %u bytes "
				 "long: expected a 6-byte header and whole (device, function) "
				 "pairs",
				 p, n);
			return MICA_EINVAL;
		}
		if (s->arr)
			resolve(d, seg, e, (n - SCOPE_HDR) / 2, s);
		p += n;
	}
	return 0;
}

static int drhd(struct dmar *d, uint32_t off, uint32_t len)
{
	const uint8_t *p = d->t + off;
	struct iommu_acpi *out = d->out;
	uint16_t seg = rd16(p + 6);
	struct sink s = { 0 };
	if (out->nunits < IOMMU_UNITS_MAX) {
		struct iommu_unit *u = &out->unit[out->nunits++];
		u->flags = p[4];
		u->include_all = p[4] & DRHD_INCLUDE_PCI_ALL;
		u->segment = seg;
		u->base = rd64(p + 8);
		s = (struct sink){ u->scope, &u->nscope, IOMMU_SCOPE_MAX };
	} else {
		out->skipped++;
	}
	return scopes(d, off, len, DRHD_HDR, seg, &s);
}

static int rmrr(struct dmar *d, uint32_t off, uint32_t len)
{
	const uint8_t *p = d->t + off;
	struct iommu_acpi *out = d->out;
	uint16_t seg = rd16(p + 6);
	uint64_t base = rd64(p + 8), limit = rd64(p + 16);
	struct sink s = { 0 };
	if (limit < base || out->nresv >= IOMMU_RESV_MAX) {
		out->skipped++;
	} else {
		struct iommu_resv *r = &out->resv[out->nresv++];
		r->base = base;
		r->end = limit;
		r->segment = seg;
		s = (struct sink){ r->scope, &r->nscope, IOMMU_RESV_SCOPE_MAX };
	}
	return scopes(d, off, len, RMRR_HDR, seg, &s);
}

static int parse(const void *table, size_t len, const struct iommu_bus_ops *bus,
		 struct iommu_acpi *out, char *err, size_t errlen)
{
	const uint8_t *t = table;
	struct dmar d = { t, bus, out, err, errlen };
	memset(out, 0, sizeof(*out));
	if (len < DMAR_HDR) {
		snprintf(err, errlen, "DMAR table is %zu bytes: shorter than its 48-byte header",
			 len);
		return MICA_EINVAL;
	}
	if (memcmp(t, "DMAR", 4)) {
		snprintf(err, errlen, "not a DMAR table: its signature is %02x %02x %02x %02x, "
			 "expected 'DMAR'", t[0], t[1], t[2], t[3]);
		return MICA_EINVAL;
	}
	uint32_t tlen = rd32(t + 4);
	if (tlen < DMAR_HDR || tlen > len) {
		snprintf(err, errlen, "DMAR header says the table is %u bytes: expected 48 to "
			 "%zu (the header's size to the bytes given)", tlen, len);
		return MICA_EINVAL;
	}
	out->kind = IOMMU_VTD;
	out->haw = (uint8_t)(t[36] + 1); /* 8.1: the field holds N for an N+1-bit width */
	out->flags = t[37];
	uint32_t off = DMAR_HDR;
	while (off < tlen) {
		if (tlen - off < STRUCT_HDR) {
			snprintf(err, errlen, "DMAR structure at offset 0x%x: only %u bytes left "
				 "in the table, expected at least its 4-byte type and length",
				 off, tlen - off);
			return MICA_EINVAL;
		}
		uint16_t type = rd16(t + off);
		uint32_t n = rd16(t + off + 2);
		uint32_t hdr = type == DMAR_DRHD ? DRHD_HDR : type == DMAR_RMRR ? RMRR_HDR :
			       STRUCT_HDR;
		if (n < hdr) {
			snprintf(err, errlen, "DMAR structure at offset 0x%x (type %u) is %u bytes "
				 "long: shorter than its %u-byte header", off, type, n, hdr);
			return MICA_EINVAL;
		}
		if (n > tlen - off) {
			snprintf(err, errlen, "DMAR structure at offset 0x%x (type %u) is %u bytes "
				 "long but the table ends at 0x%x, %u bytes on", off, type, n,
				 tlen, tlen - off);
			return MICA_EINVAL;
		}
		int rc = 0;
		if (type == DMAR_DRHD)
			rc = drhd(&d, off, n);
		else if (type == DMAR_RMRR)
			rc = rmrr(&d, off, n);
		else if (type > DMAR_SATC)
			out->skipped++;
		if (rc)
			return rc;
		off += n;
	}
	if (!out->nunits) {
		snprintf(err, errlen, "DMAR table has no DRHD structure: it describes no "
			 "remapping unit");
		return MICA_EINVAL;
	}
	return 0;
}

int dmar_parse(const void *table, size_t len, const struct iommu_bus_ops *bus,
	       struct iommu_acpi *out, char *err, size_t errlen)
{
	int rc = parse(table, len, bus, out, err, errlen);
	if (rc) /* no half-read table for a caller that misses the error */
		memset(out, 0, sizeof(*out));
	return rc;
}
