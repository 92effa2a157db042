/* AMD's IVRS table (AMD I/O Virtualization Technology spec 48882 rev 3.x, section 5.2): the
 * IOMMUs (IVHD blocks) with the devices each one translates, and the memory firmware keeps
 * using for DMA (IVMD blocks). The table is walked twice: once to check that every block
 * fits, then to read them, so that choosing between blocks that describe the same IOMMU
 * only looks at blocks known to be whole. */
#include <stdio.h>
#include <string.h>
#include <mica/hypercall.h>
#include "kernel/host/iommu_acpi.h"
#include "lib/bytes.h"

#define IVRS_HDR  48 /* 5.2.1: SDT header, IVinfo u32, 8 reserved bytes */
#define BLOCK_HDR 4  /* 5.2.2: every block starts with type u8, flags u8, length u16 */

/* IVHD blocks (5.2.2.1): type 10h has a 24-byte header; 11h and 40h add the attributes and
 * the EFR images, 40 bytes in all. Later types describe the same IOMMUs again. */
#define IVHD_10     0x10
#define IVHD_11     0x11
#define IVHD_40     0x40
#define IVHD_10_HDR 24
#define IVHD_11_HDR 40

/* IVMD blocks (5.2.2.3): device ID @4, auxiliary data @6, segment @8, start @16, length @24 */
#define IVMD_ALL    0x20
#define IVMD_SELECT 0x21
#define IVMD_RANGE  0x22
#define IVMD_HDR    32

/* IVHD device entries (5.2.2.2) */
#define DEV_PAD          0x00
#define DEV_ALL          0x01
#define DEV_SELECT       0x02
#define DEV_RANGE        0x03
#define DEV_RANGE_END    0x04
#define DEV_ALIAS        0x42
#define DEV_ALIAS_RANGE  0x43
#define DEV_EXT          0x46
#define DEV_EXT_RANGE    0x47
#define DEV_SPECIAL      0x48
#define DEV_ACPI_HID     0xf0
#define ACPI_HID_HDR     22 /* UID length @21, the UID follows */
#define SPECIAL_IOAPIC   1
#define SPECIAL_HPET     2

static int ivhd_type(uint8_t type)
{
	return type == IVHD_10 || type == IVHD_11 || type == IVHD_40;
}

static int ivmd_type(uint8_t type)
{
	return type == IVMD_ALL || type == IVMD_SELECT || type == IVMD_RANGE;
}

static int same_iommu(const uint8_t *a, const uint8_t *b)
{
	return (rd16(a + 4) == rd16(b + 4) && rd16(a + 16) == rd16(b + 16)) ||
	       rd64(a + 8) == rd64(b + 8);
}

/* 5.2.2.1: firmware describes each IOMMU once per IVHD type it supports, and software uses
 * the block of the highest type it knows. 1 if the block at off is to be ignored: a block of
 * a higher known type names the same IOMMU, or one of the same type came first (a duplicate,
 * flagged in *dup). */
static int superseded(const uint8_t *t, uint32_t tlen, uint32_t off, int *dup)
{
	const uint8_t *b = t + off;
	*dup = 0;
	for (uint32_t o = IVRS_HDR; o < tlen; o += rd16(t + o + 2)) {
		const uint8_t *c = t + o;
		if (o == off || !ivhd_type(c[0]) || !same_iommu(b, c))
			continue;
		if (c[0] > b[0]) {
			*dup = 0;
			return 1;
		}
		if (c[0] == b[0] && o < off)
			*dup = 1;
	}
	return *dup;
}

/* A range's start entry, waiting for its end entry (type 4). */
struct pending {
	int open;
	struct iommu_scope s;
};

static void keep(struct iommu_acpi *out, struct iommu_unit *u, const struct iommu_scope *s)
{
	if (u->nscope < IOMMU_SCOPE_MAX)
		u->scope[u->nscope++] = *s;
	else
		out->skipped++;
}

static struct iommu_scope one(uint8_t type, uint16_t rid, uint8_t data)
{
	struct iommu_scope s = { .type = type, .first = rid, .last = rid, .alias = rid,
				 .data = data };
	return s;
}

static void entry(struct iommu_acpi *out, struct iommu_unit *u, const uint8_t *e,
		  struct pending *r)
{
	uint16_t devid = rd16(e + 1);
	struct iommu_scope s = one(IOMMU_SCOPE_DEVICE, devid, e[3]);
	if (r->open && e[0] != DEV_RANGE_END && e[0] != DEV_PAD) {
		out->skipped++; /* a range start not followed by its end */
		r->open = 0;
	}
	switch (e[0]) {
	case DEV_PAD:
		break;
	case DEV_ALL:
		u->include_all = 1;
		break;
	case DEV_ALIAS:
	case DEV_ALIAS_RANGE:
		s.alias = rd16(e + 5);
		s.has_alias = 1;
		/* fall through */
	case DEV_SELECT:
	case DEV_RANGE:
	case DEV_EXT:
	case DEV_EXT_RANGE:
		if (e[0] == DEV_SELECT || e[0] == DEV_ALIAS || e[0] == DEV_EXT) {
			keep(out, u, &s);
		} else {
			r->open = 1;
			r->s = s;
		}
		break;
	case DEV_RANGE_END:
		if (!r->open || devid < r->s.first) {
			out->skipped++; /* an end with no start, or one before its start */
		} else {
			r->s.last = devid;
			keep(out, u, &r->s);
		}
		r->open = 0;
		break;
	case DEV_SPECIAL:
		if (e[7] == SPECIAL_IOAPIC || e[7] == SPECIAL_HPET) {
			s = one(e[7] == SPECIAL_IOAPIC ? IOMMU_SCOPE_IOAPIC : IOMMU_SCOPE_HPET,
				rd16(e + 5), e[3]);
			s.id = e[4];
			keep(out, u, &s);
		} else {
			out->skipped++;
		}
		break;
	default: /* unknown types, and ACPI HID devices: no RID of their own in the entry */
		out->skipped++;
	}
}

/* The device entries of the IVHD block at off (len bytes, hdr of them its header). u NULL:
 * the block is not kept, so its entries are only checked for layout. */
static int entries(const uint8_t *t, uint32_t off, uint32_t len, uint32_t hdr,
		   struct iommu_acpi *out, struct iommu_unit *u, char *err, size_t errlen)
{
	uint32_t p = off + hdr, end = off + len;
	struct pending r = { 0 };
	while (p < end) {
		uint8_t type = t[p];
		uint32_t n;
		/* 5.2.2.2: the type gives the size: 00h-3Fh 4 bytes, 40h-7Fh 8 bytes, F0h
		 * 22 bytes and its UID. Nothing says how long the others are, so nothing
		 * after one of them in this block can be found. */
		if (type < 0x40) {
			n = 4;
		} else if (type < 0x80) {
			n = 8;
		} else if (type == DEV_ACPI_HID) {
			n = end - p >= ACPI_HID_HDR ? ACPI_HID_HDR + t[p + 21] : ACPI_HID_HDR;
		} else {
			if (u)
				out->skipped++;
			break;
		}
		if (n > end - p) {
			snprintf(err, errlen, "IVHD device entry at offset 0x%x (type 0x%02x) is "
				 "%u bytes long but its block ends at 0x%x, %u bytes on", p, type,
				 n, end, end - p);
			return MICA_EINVAL;
		}
		if (u)
			entry(out, u, t + p, &r);
		p += n;
	}
	if (u && r.open)
		out->skipped++;
	return 0;
}

static int ivhd(const uint8_t *t, uint32_t tlen, uint32_t off, struct iommu_acpi *out,
		char *err, size_t errlen)
{
	const uint8_t *b = t + off;
	uint32_t len = rd16(b + 2);
	uint32_t hdr = b[0] == IVHD_10 ? IVHD_10_HDR : IVHD_11_HDR;
	struct iommu_unit *u = NULL;
	int dup;
	if (superseded(t, tlen, off, &dup)) {
		out->skipped += (unsigned)dup;
	} else if (out->nunits >= IOMMU_UNITS_MAX) {
		out->skipped++;
	} else {
		u = &out->unit[out->nunits++];
		u->ivhd_type = b[0];
		u->flags = b[1];
		u->devid = rd16(b + 4);
		u->cap_off = rd16(b + 6);
		u->base = rd64(b + 8);
		u->segment = rd16(b + 16);
	}
	return entries(t, off, len, hdr, out, u, err, errlen);
}

static void ivmd(const uint8_t *b, struct iommu_acpi *out)
{
	uint16_t first = rd16(b + 4), last = b[0] == IVMD_RANGE ? rd16(b + 6) : first;
	uint64_t base = rd64(b + 16), size = rd64(b + 24);
	if (!size || base + (size - 1) < base || last < first || out->nresv >= IOMMU_RESV_MAX) {
		out->skipped++;
		return;
	}
	struct iommu_resv *r = &out->resv[out->nresv++];
	r->base = base;
	r->end = base + (size - 1);
	r->segment = rd16(b + 8);
	if (b[0] == IVMD_ALL) {
		r->all = 1;
	} else {
		r->scope[0] = one(IOMMU_SCOPE_DEVICE, first, 0);
		r->scope[0].last = last;
		r->nscope = 1;
	}
}

static int parse(const void *table, size_t len, struct iommu_acpi *out, char *err,
		 size_t errlen)
{
	const uint8_t *t = table;
	memset(out, 0, sizeof(*out));
	if (len < IVRS_HDR) {
		snprintf(err, errlen, "IVRS table is %zu bytes: shorter than its 48-byte header",
			 len);
		return MICA_EINVAL;
	}
	if (memcmp(t, "IVRS", 4)) {
		snprintf(err, errlen, "not an IVRS table: its signature is %02x %02x %02x %02x, "
			 "expected 'IVRS'", t[0], t[1], t[2], t[3]);
		return MICA_EINVAL;
	}
	uint32_t tlen = rd32(t + 4);
	if (tlen < IVRS_HDR || tlen > len) {
		snprintf(err, errlen, "IVRS header says the table is %u bytes: expected 48 to "
			 "%zu (the header's size to the bytes given)", tlen, len);
		return MICA_EINVAL;
	}
	for (uint32_t off = IVRS_HDR; off < tlen;) {
		const uint8_t *b = t + off;
		if (tlen - off < BLOCK_HDR) {
			snprintf(err, errlen, "IVRS block at offset 0x%x: only %u bytes left in "
				 "the table, expected at least its 4-byte type, flags and length",
				 off, tlen - off);
			return MICA_EINVAL;
		}
		uint32_t n = rd16(b + 2);
		uint32_t hdr = b[0] == IVHD_10 ? IVHD_10_HDR : ivhd_type(b[0]) ? IVHD_11_HDR :
			       ivmd_type(b[0]) ? IVMD_HDR : BLOCK_HDR;
		if (n < hdr) {
			snprintf(err, errlen, "IVRS block at offset 0x%x (type 0x%02x) is %u bytes "
				 "long: shorter than its %u-byte header", off, b[0], n, hdr);
			return MICA_EINVAL;
		}
		if (n > tlen - off) {
			snprintf(err, errlen, "IVRS block at offset 0x%x (type 0x%02x) is %u bytes "
				 "long but the table ends at 0x%x, %u bytes on", off, b[0], n,
				 tlen, tlen - off);
			return MICA_EINVAL;
		}
		off += n;
	}
	out->kind = IOMMU_AMDVI;
	out->flags = t[36]; /* IVinfo bits 7:0 */
	for (uint32_t off = IVRS_HDR; off < tlen; off += rd16(t + off + 2)) {
		const uint8_t *b = t + off;
		if (ivhd_type(b[0])) {
			int rc = ivhd(t, tlen, off, out, err, errlen);
			if (rc)
				return rc;
		} else if (ivmd_type(b[0])) {
			ivmd(b, out);
		} else {
			out->skipped++;
		}
	}
	if (!out->nunits) {
		snprintf(err, errlen, "IVRS table has no IVHD block (type 0x10, 0x11 or 0x40): "
			 "it describes no IOMMU");
		return MICA_EINVAL;
	}
	return 0;
}

int ivrs_parse(const void *table, size_t len, struct iommu_acpi *out, char *err,
	       size_t errlen)
{
	int rc = parse(table, len, out, err, errlen);
	if (rc) /* no half-read table for a caller that misses the error */
		memset(out, 0, sizeof(*out));
	return rc;
}
