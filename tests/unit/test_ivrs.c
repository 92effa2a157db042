/* kernel/host/ivrs.c and the lookups of kernel/host/iommu_acpi.c: IVRS tables built in
 * memory, QEMU's among them, every device entry kind, IVMD regions, and broken or hostile
 * tables. Each table is parsed from a heap copy of exactly its length, so that ASan sees any
 * read past the end. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>
#include "kernel/host/iommu_acpi.h"
#include "lib/bytes.h"

static uint8_t tbl[16384];
static uint32_t tlen;
static uint32_t cur; /* offset of the block being built */
static struct iommu_acpi acpi;
static char err[200];

static void begin(uint32_t ivinfo)
{
	memset(tbl, 0, sizeof(tbl));
	memcpy(tbl, "IVRS", 4);
	tbl[8] = 2;
	memcpy(tbl + 10, "MICA  ", 6);
	put32(tbl + 36, ivinfo);
	tlen = 48;
}

static void grow(uint32_t n)
{
	tlen += n;
	put16(tbl + cur + 2, (uint16_t)(rd16(tbl + cur + 2) + n));
}

static void ivhd(uint8_t type, uint8_t flags, uint16_t devid, uint64_t base, uint16_t seg)
{
	uint16_t hdr = type == 0x10 ? 24 : 40;
	cur = tlen;
	tbl[cur] = type;
	tbl[cur + 1] = flags;
	put16(tbl + cur + 2, hdr);
	put16(tbl + cur + 4, devid);
	put16(tbl + cur + 6, 0x40);
	put64(tbl + cur + 8, base);
	put16(tbl + cur + 16, seg);
	put16(tbl + cur + 18, 0x1300);   /* IOMMU info: unit ID, MSI number */
	put32(tbl + cur + 20, 0x80048f6e); /* features (10h) or attributes (11h, 40h) */
	if (type != 0x10)
		put64(tbl + cur + 24, 0x246577efa2254afull); /* EFR image */
	tlen += hdr;
}

static void e4(uint8_t type, uint16_t devid, uint8_t data)
{
	uint8_t *e = tbl + tlen;
	e[0] = type;
	put16(e + 1, devid);
	e[3] = data;
	grow(4);
}

static void e8(uint8_t type, uint16_t devid, uint8_t data, uint8_t b4, uint16_t w5,
	       uint8_t b7)
{
	uint8_t *e = tbl + tlen;
	e[0] = type;
	put16(e + 1, devid);
	e[3] = data;
	e[4] = b4;
	put16(e + 5, w5);
	e[7] = b7;
	grow(8);
}

static void ioapic(uint8_t id, uint16_t rid)
{
	e8(0x48, 0, 0xd7, id, rid, 1);
}

/* An ACPI HID device entry (type F0h) with a UID of uidlen bytes. */
static void hid(uint16_t devid, uint8_t uidlen)
{
	uint8_t *e = tbl + tlen;
	e[0] = 0xf0;
	put16(e + 1, devid);
	memcpy(e + 4, "AMDI0020", 8);
	e[20] = 2;
	e[21] = uidlen;
	memset(e + 22, 'U', uidlen);
	grow(22u + uidlen);
}

static void ivmd(uint8_t type, uint8_t flags, uint16_t devid, uint16_t aux, uint16_t seg,
		 uint64_t start, uint64_t len)
{
	cur = tlen;
	tbl[cur] = type;
	tbl[cur + 1] = flags;
	put16(tbl + cur + 2, 32);
	put16(tbl + cur + 4, devid);
	put16(tbl + cur + 6, aux);
	put16(tbl + cur + 8, seg);
	put64(tbl + cur + 16, start);
	put64(tbl + cur + 24, len);
	tlen += 32;
}

/* A block of another type, n bytes. */
static void other(uint8_t type, uint16_t n)
{
	cur = tlen;
	tbl[cur] = type;
	put16(tbl + cur + 2, n);
	tlen += n;
}

static void seal(void)
{
	put32(tbl + 4, tlen);
	uint8_t s = 0;
	tbl[9] = 0;
	for (uint32_t i = 0; i < tlen; i++)
		s += tbl[i];
	tbl[9] = (uint8_t)-s;
}

static int parse_len(size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	cr_assert(copy);
	memcpy(copy, tbl, len);
	memset(&acpi, 0xa5, sizeof(acpi));
	err[0] = 0;
	int rc = ivrs_parse(copy, len, &acpi, err, sizeof(err));
	free(copy);
	return rc;
}

static int parse(void)
{
	seal();
	return parse_len(tlen);
}

static void expect_error(const char *words)
{
	cr_assert_eq(parse(), MICA_EINVAL, "accepted; expected an error with '%s'", words);
	cr_expect(strstr(err, words) != NULL, "message: %s (expected '%s')", err, words);
	cr_expect_eq(acpi.kind, IOMMU_NONE);
	cr_expect_eq(acpi.nunits, 0);
}

static void expect_scope(const struct iommu_scope *s, uint8_t type, uint8_t id,
			 uint16_t first, uint16_t last, uint16_t alias, uint8_t has_alias,
			 uint8_t data)
{
	cr_expect_eq(s->type, type, "type %u, expected %u", s->type, type);
	cr_expect_eq(s->id, id, "id %u, expected %u", s->id, id);
	cr_expect_eq(s->first, first, "first 0x%x, expected 0x%x", s->first, first);
	cr_expect_eq(s->last, last, "last 0x%x, expected 0x%x", s->last, last);
	cr_expect_eq(s->alias, alias, "alias 0x%x, expected 0x%x", s->alias, alias);
	cr_expect_eq(s->has_alias, has_alias);
	cr_expect_eq(s->data, data, "data 0x%x, expected 0x%x", s->data, data);
}

static void setup(void)
{
	begin(0);
}

TestSuite(ivrs, .init = setup);

/* QEMU with -device amd-iommu: the IOMMU is 00:03.0 (devid 0x18), capability at 0x40,
 * registers at 0xfed80000, described by an IVHD 10h and again by an IVHD 11h with the same
 * entries: all devices, and the I/O APIC (ID 0) at 00:14.0. */
Test(ivrs, qemu_amd_iommu)
{
	begin(48u << 8 | 64u << 15 | 2u << 5 | 1);
	for (uint8_t type = 0x10; type <= 0x11; type++) {
		ivhd(type, 0xd1, 0x0018, 0xfed80000, 0);
		e4(1, 0, 0);
		ioapic(0, 0x00a0);
	}
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(acpi.kind, IOMMU_AMDVI);
	cr_expect_eq(acpi.flags, 0x41);
	cr_expect_eq(acpi.haw, 0);
	cr_expect_eq(acpi.skipped, 0);
	cr_expect_eq(acpi.nresv, 0);
	cr_assert_eq(acpi.nunits, 1);
	const struct iommu_unit *u = &acpi.unit[0];
	cr_expect_eq(u->ivhd_type, 0x11);
	cr_expect_eq(u->flags, 0xd1);
	cr_expect_eq(u->devid, 0x0018);
	cr_expect_eq(u->cap_off, 0x40);
	cr_expect_eq(u->base, 0xfed80000);
	cr_expect_eq(u->segment, 0);
	cr_expect_eq(u->include_all, 1);
	cr_assert_eq(u->nscope, 1);
	expect_scope(&u->scope[0], IOMMU_SCOPE_IOAPIC, 0, 0x00a0, 0x00a0, 0x00a0, 0, 0xd7);
	uint16_t rid = 0;
	cr_expect_eq(iommu_acpi_ioapic_rid(&acpi, 0, &rid), 0);
	cr_expect_eq(rid, 0x00a0);
	cr_expect_eq(iommu_acpi_ioapic_rid(&acpi, 1, &rid), -1);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0100), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 1, 0x0100), -1);
	cr_expect_eq(iommu_acpi_alias(&acpi, 0, 0x0100), 0x0100);
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 0, 0x0100, NULL), 0);
}

/* A type 10h block alone is used, its entries read from offset 24. */
Test(ivrs, type_10h_alone)
{
	ivhd(0x10, 0, 0x0002, 0xfd200000, 0);
	e4(2, 0x0008, 0);
	e4(2, 0x0010, 0x03);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_assert_eq(acpi.nunits, 1);
	cr_expect_eq(acpi.unit[0].ivhd_type, 0x10);
	cr_expect_eq(acpi.unit[0].include_all, 0);
	cr_assert_eq(acpi.unit[0].nscope, 2);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0008, 0x0008, 0x0008, 0, 0);
	expect_scope(&acpi.unit[0].scope[1], IOMMU_SCOPE_DEVICE, 0, 0x0010, 0x0010, 0x0010, 0, 3);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0010), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0018), -1);
}

/* Type 40h first, then 10h and 11h for the same IOMMU: only the 40h block's entries count,
 * read from offset 40. A second IOMMU with 10h and 11h keeps its 11h block. */
Test(ivrs, highest_known_type_wins_whatever_the_order)
{
	ivhd(0x40, 0x01, 0x0002, 0xfd200000, 0);
	e4(2, 0x0040, 0x40);
	ivhd(0x10, 0x02, 0x0002, 0xfd200000, 0);
	e4(2, 0x0010, 0x10);
	ivhd(0x11, 0x03, 0x0002, 0xfd200000, 0);
	e4(2, 0x0011, 0x11);
	ivhd(0x11, 0x04, 0x4002, 0xfc200000, 0);
	e4(2, 0x4011, 0x11);
	ivhd(0x10, 0x05, 0x4002, 0xfc200000, 0);
	e4(2, 0x4010, 0x10);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 0);
	cr_assert_eq(acpi.nunits, 2);
	cr_expect_eq(acpi.unit[0].ivhd_type, 0x40);
	cr_expect_eq(acpi.unit[0].flags, 0x01);
	cr_assert_eq(acpi.unit[0].nscope, 1);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0040, 0x0040, 0x0040, 0,
		     0x40);
	cr_expect_eq(acpi.unit[1].ivhd_type, 0x11);
	cr_expect_eq(acpi.unit[1].flags, 0x04);
	cr_expect_eq(acpi.unit[1].base, 0xfc200000);
	cr_assert_eq(acpi.unit[1].nscope, 1);
	cr_expect_eq(acpi.unit[1].scope[0].first, 0x4011);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0010), -1);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0040), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x4011), 1);
}

/* The same registers are the same IOMMU even under another device ID; the same device ID
 * on another segment is another IOMMU. */
Test(ivrs, same_iommu_by_base_or_by_devid_and_segment)
{
	ivhd(0x10, 0, 0x0002, 0xfd200000, 0);
	e4(2, 0x0010, 0);
	ivhd(0x11, 0, 0x0003, 0xfd200000, 0);   /* same base */
	e4(2, 0x0011, 0);
	ivhd(0x10, 0, 0x0002, 0xfd300000, 1);   /* same devid, other segment: kept */
	e4(2, 0x0012, 0);
	ivhd(0x10, 0, 0x0004, 0xfd400000, 2);
	e4(2, 0x0013, 0);
	ivhd(0x11, 0, 0x0004, 0xfd500000, 2);   /* same devid and segment */
	e4(2, 0x0014, 0);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_assert_eq(acpi.nunits, 3);
	cr_expect_eq(acpi.unit[0].devid, 0x0003);
	cr_expect_eq(acpi.unit[0].scope[0].first, 0x0011);
	cr_expect_eq(acpi.unit[1].segment, 1);
	cr_expect_eq(acpi.unit[1].ivhd_type, 0x10);
	cr_expect_eq(acpi.unit[1].scope[0].first, 0x0012);
	cr_expect_eq(acpi.unit[2].base, 0xfd500000);
	cr_expect_eq(acpi.unit[2].scope[0].first, 0x0014);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 1, 0x0012), 1);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0012), -1);
}

/* Two blocks of one type for one IOMMU: the first is used, the second counted. */
Test(ivrs, duplicate_block_of_the_same_type_is_counted)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	e4(2, 0x0010, 0);
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	e4(2, 0x0020, 0);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 1);
	cr_assert_eq(acpi.nunits, 1);
	cr_expect_eq(acpi.unit[0].scope[0].first, 0x0010);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0020), -1);
}

Test(ivrs, ranges_become_one_scope_entry)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	e4(3, 0x0100, 0x0c);
	e4(4, 0x01ff, 0);
	e8(0x47, 0x0300, 0x01, 0, 0, 0); /* extended range start */
	e4(4, 0x0307, 0);
	e4(3, 0x0400, 0);
	e4(4, 0x0400, 0);                  /* a range of one */
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 0);
	cr_assert_eq(acpi.unit[0].nscope, 3);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0100, 0x01ff, 0x0100, 0,
		     0x0c);
	expect_scope(&acpi.unit[0].scope[1], IOMMU_SCOPE_DEVICE, 0, 0x0300, 0x0307, 0x0300, 0,
		     0x01);
	expect_scope(&acpi.unit[0].scope[2], IOMMU_SCOPE_DEVICE, 0, 0x0400, 0x0400, 0x0400, 0, 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0100), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0180), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x01ff), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0200), -1);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0308), -1);
	cr_expect_eq(iommu_acpi_alias(&acpi, 0, 0x0180), 0x0180, "no alias entry: its own RID");
}

Test(ivrs, alias_entries)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	e8(0x42, 0x0500, 0x07, 0, 0x00f8, 0);   /* 05:00.0 DMA carries 00:1f.0 */
	e8(0x43, 0x0600, 0x00, 0, 0x0010, 0);   /* 06:00.0 .. 06:ff.7 carry 00:02.0 */
	e4(4, 0x06ff, 0);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 0);
	cr_assert_eq(acpi.unit[0].nscope, 2);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0500, 0x0500, 0x00f8, 1,
		     0x07);
	expect_scope(&acpi.unit[0].scope[1], IOMMU_SCOPE_DEVICE, 0, 0x0600, 0x06ff, 0x0010, 1, 0);
	cr_expect_eq(iommu_acpi_alias(&acpi, 0, 0x0500), 0x00f8);
	cr_expect_eq(iommu_acpi_alias(&acpi, 0, 0x0501), 0x0501);
	cr_expect_eq(iommu_acpi_alias(&acpi, 0, 0x0680), 0x0010);
	cr_expect_eq(iommu_acpi_alias(&acpi, 1, 0x0680), 0x0680);
	cr_expect_eq(iommu_acpi_alias(&acpi, 0, 0x0700), 0x0700);
	/* the alias RIDs reach the unit too: that is the RID it sees */
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x00f8), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0010), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0011), -1);
}

Test(ivrs, extended_select_and_padding)
{
	ivhd(0x40, 0, 0x0002, 0xfd200000, 0);
	e4(0, 0, 0);
	e8(0x46, 0x0208, 0x05, 0xff, 0xffff, 0xff); /* extended data ignored */
	e4(0, 0xffff, 0xff);
	e4(2, 0x0210, 0);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 0);
	cr_expect_eq(acpi.unit[0].include_all, 0);
	cr_assert_eq(acpi.unit[0].nscope, 2);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0208, 0x0208, 0x0208, 0, 5);
	expect_scope(&acpi.unit[0].scope[1], IOMMU_SCOPE_DEVICE, 0, 0x0210, 0x0210, 0x0210, 0, 0);
}

Test(ivrs, special_entries)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	ioapic(0x21, 0x00a0);
	e8(0x48, 0, 0x00, 0, 0x00a5, 2);     /* HPET 0 */
	e8(0x48, 0, 0x00, 5, 0x00a6, 3);     /* unknown variety */
	ioapic(0x22, 0x0001);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 1);
	cr_assert_eq(acpi.unit[0].nscope, 3);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_IOAPIC, 0x21, 0x00a0, 0x00a0, 0x00a0, 0,
		     0xd7);
	expect_scope(&acpi.unit[0].scope[1], IOMMU_SCOPE_HPET, 0, 0x00a5, 0x00a5, 0x00a5, 0, 0);
	expect_scope(&acpi.unit[0].scope[2], IOMMU_SCOPE_IOAPIC, 0x22, 0x0001, 0x0001, 0x0001, 0,
		     0xd7);
	uint16_t rid = 0;
	cr_expect_eq(iommu_acpi_ioapic_rid(&acpi, 0x22, &rid), 0);
	cr_expect_eq(rid, 0x0001);
	cr_expect_eq(iommu_acpi_ioapic_rid(&acpi, 0, &rid), -1, "the HPET is no I/O APIC");
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x00a5), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x00a6), -1);
}

/* ACPI HID entries are 22 bytes and their UID: the entry after one is found and read. */
Test(ivrs, acpi_hid_entries_are_stepped_over)
{
	ivhd(0x40, 0, 0x0002, 0xfd200000, 0);
	hid(0x00a0, 5);
	e4(2, 0x0010, 0x01);
	hid(0x00a1, 0);
	e8(0x42, 0x0020, 0, 0, 0x0021, 0);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 2);
	cr_assert_eq(acpi.unit[0].nscope, 2);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0010, 0x0010, 0x0010, 0, 1);
	expect_scope(&acpi.unit[0].scope[1], IOMMU_SCOPE_DEVICE, 0, 0x0020, 0x0020, 0x0021, 1, 0);
}

Test(ivrs, unmatched_range_entries_are_counted)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	e4(4, 0x00ff, 0);          /* an end with no start */
	e4(3, 0x0100, 0);          /* a start followed by a select, not an end */
	e4(2, 0x0200, 0);
	e4(4, 0x01ff, 0);          /* the start it needed is gone */
	e4(3, 0x0300, 0);
	e4(4, 0x02ff, 0);          /* ends before it starts */
	e4(3, 0x0400, 0);
	e4(0, 0, 0);               /* padding does not break a range */
	e4(4, 0x04ff, 0);
	e8(0x43, 0x0500, 0, 0, 0x0010, 0); /* a start at the block's end */
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 5);
	cr_assert_eq(acpi.unit[0].nscope, 2);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0200, 0x0200, 0x0200, 0, 0);
	expect_scope(&acpi.unit[0].scope[1], IOMMU_SCOPE_DEVICE, 0, 0x0400, 0x04ff, 0x0400, 0, 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0100), -1);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0300), -1);
	cr_expect_eq(iommu_acpi_alias(&acpi, 0, 0x0500), 0x0500);
}

/* Unknown types of known size are stepped over; a type whose size is not known ends the
 * block, and the next block is still read. */
Test(ivrs, unknown_entry_types)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	e4(0x05, 0x0001, 0);
	e8(0x41, 0x0002, 0, 0, 0, 0);
	e4(2, 0x0010, 0);
	e4(0x80, 0x0003, 0);
	e4(2, 0x0020, 0);          /* not reachable */
	ivhd(0x11, 0, 0x0003, 0xfd300000, 0);
	e4(3, 0x0100, 0);
	e8(0xf1, 0, 0, 0, 0, 0);   /* ends the block with a range still open */
	e4(4, 0x01ff, 0);
	ivhd(0x11, 0, 0x0004, 0xfd400000, 0);
	e4(2, 0x0030, 0);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 5);
	cr_assert_eq(acpi.nunits, 3);
	cr_assert_eq(acpi.unit[0].nscope, 1);
	cr_expect_eq(acpi.unit[0].scope[0].first, 0x0010);
	cr_expect_eq(acpi.unit[1].nscope, 0);
	cr_assert_eq(acpi.unit[2].nscope, 1);
	cr_expect_eq(acpi.unit[2].scope[0].first, 0x0030);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0020), -1);
}

Test(ivrs, unknown_blocks_are_counted)
{
	other(0x30, 8);
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	e4(1, 0, 0);
	other(0x12, 40);  /* an IVHD type this parser does not know: counted, no unit */
	other(0x23, 4);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 3);
	cr_expect_eq(acpi.nunits, 1);
	cr_expect_eq(acpi.nresv, 0);
}

Test(ivrs, ivmd_regions_and_lookups)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	e4(1, 0, 0);
	ivmd(0x21, 0x07, 0x00a0, 0, 0, 0x7f000000, 0x100000);
	ivmd(0x22, 0x01, 0x0300, 0x03ff, 0, 0xe8000, 0x1000);
	ivmd(0x20, 0x08, 0, 0, 1, 0xfd000000, 1);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 0);
	cr_assert_eq(acpi.nresv, 3);
	const struct iommu_resv *r = acpi.resv;
	cr_expect_eq(r[0].base, 0x7f000000);
	cr_expect_eq(r[0].end, 0x7f0fffff);
	cr_expect_eq(r[0].segment, 0);
	cr_expect_eq(r[0].all, 0);
	cr_assert_eq(r[0].nscope, 1);
	expect_scope(&r[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x00a0, 0x00a0, 0x00a0, 0, 0);
	cr_expect_eq(r[1].base, 0xe8000);
	cr_expect_eq(r[1].end, 0xe8fff);
	cr_assert_eq(r[1].nscope, 1);
	expect_scope(&r[1].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0300, 0x03ff, 0x0300, 0, 0);
	cr_expect_eq(r[2].base, 0xfd000000);
	cr_expect_eq(r[2].end, 0xfd000000);
	cr_expect_eq(r[2].segment, 1);
	cr_expect_eq(r[2].all, 1);
	cr_expect_eq(r[2].nscope, 0);
	unsigned which = 99;
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 0, 0x00a0, &which), 1);
	cr_expect_eq(which, 0);
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 0, 0x0380, &which), 1);
	cr_expect_eq(which, 1);
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 1, 0x1234, &which), 1);
	cr_expect_eq(which, 2);
	which = 99;
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 0, 0x00a8, &which), 0);
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 0, 0x0400, &which), 0);
	cr_expect_eq(which, 99);
}

Test(ivrs, impossible_ivmd_regions_are_counted)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	ivmd(0x21, 0, 0x00a0, 0, 0, 0x7f000000, 0);                   /* empty */
	ivmd(0x21, 0, 0x00a0, 0, 0, 0, 0);                            /* empty at 0 */
	ivmd(0x21, 0, 0x00a0, 0, 0, 0xfffffffffffff000ull, 0x2000);   /* wraps */
	ivmd(0x22, 0, 0x0300, 0x02ff, 0, 0xe8000, 0x1000);            /* range backwards */
	ivmd(0x21, 0, 0x00a0, 0, 0, 0xfffffffffffff000ull, 0x1000);   /* up to the top: fine */
	cr_assert_eq(parse(), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 4);
	cr_assert_eq(acpi.nresv, 1);
	cr_expect_eq(acpi.resv[0].base, 0xfffffffffffff000ull);
	cr_expect_eq(acpi.resv[0].end, 0xffffffffffffffffull);
}

Test(ivrs, too_many_units_are_capped_and_counted)
{
	for (unsigned i = 0; i < IOMMU_UNITS_MAX + 2; i++) {
		ivhd(0x11, 0, (uint16_t)(0x0002 + i), 0xfd200000 + 0x100000 * i, 0);
		e4(2, (uint16_t)(0x1000 + i), 0);
	}
	cr_assert_eq(parse(), 0, "%s", err);
	cr_assert_eq(acpi.nunits, IOMMU_UNITS_MAX);
	cr_expect_eq(acpi.skipped, 2);
	const struct iommu_unit *u = &acpi.unit[IOMMU_UNITS_MAX - 1];
	cr_expect_eq(u->base, 0xfd200000 + 0x100000 * (IOMMU_UNITS_MAX - 1));
	cr_expect_eq(u->scope[0].first, 0x1000 + IOMMU_UNITS_MAX - 1);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x1000 + IOMMU_UNITS_MAX), -1);
}

/* Blocks not kept (past the limit, or superseded) still have their entries checked. */
Test(ivrs, blocks_not_kept_are_still_checked)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	ivhd(0x10, 0, 0x0002, 0xfd200000, 0);
	e4(2, 0x0010, 0);
	tbl[tlen - 4] = 0x42;      /* an 8-byte entry with 4 bytes left */
	expect_error("(type 0x42) is 8 bytes long but its block ends at 0x74, 4 bytes on");
	begin(0);
	for (unsigned i = 0; i < IOMMU_UNITS_MAX + 1; i++)
		ivhd(0x11, 0, (uint16_t)(0x0002 + i), 0xfd200000 + 0x100000 * i, 0);
	e4(0x46, 0, 0);
	expect_error("(type 0x46) is 8 bytes long");
}

Test(ivrs, too_many_scopes_are_capped_and_counted)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	for (unsigned i = 0; i < IOMMU_SCOPE_MAX + 4; i++)
		e4(2, (uint16_t)(0x0100 + i), 0);
	e4(3, 0x0200, 0);
	e4(4, 0x02ff, 0);
	ioapic(3, 0x00a0);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_assert_eq(acpi.unit[0].nscope, IOMMU_SCOPE_MAX);
	cr_expect_eq(acpi.skipped, 6);
	cr_expect_eq(acpi.unit[0].scope[IOMMU_SCOPE_MAX - 1].first, 0x0100 + IOMMU_SCOPE_MAX - 1);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0100 + IOMMU_SCOPE_MAX), -1);
	uint16_t rid;
	cr_expect_eq(iommu_acpi_ioapic_rid(&acpi, 3, &rid), -1);
}

Test(ivrs, too_many_reserved_regions_are_capped_and_counted)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	for (unsigned i = 0; i < IOMMU_RESV_MAX + 2; i++)
		ivmd(0x21, 0, (uint16_t)(0x0100 + i), 0, 0, 0x100000ull * (i + 1), 0x1000);
	cr_assert_eq(parse(), 0, "%s", err);
	cr_assert_eq(acpi.nresv, IOMMU_RESV_MAX);
	cr_expect_eq(acpi.skipped, 2);
	cr_expect_eq(acpi.resv[IOMMU_RESV_MAX - 1].base, 0x100000ull * IOMMU_RESV_MAX);
	cr_expect_eq(acpi.resv[IOMMU_RESV_MAX - 1].scope[0].first, 0x0100 + IOMMU_RESV_MAX - 1);
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 0, 0x0100 + IOMMU_RESV_MAX, NULL), 0);
}

/* Hostile and broken tables: refused with a sentence, never read past their end. */

Test(ivrs, truncated_header)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	seal();
	cr_assert_eq(parse_len(40), MICA_EINVAL);
	cr_expect(strstr(err, "IVRS table is 40 bytes: shorter than its 48-byte header") != NULL,
		  "%s", err);
	cr_assert_eq(parse_len(0), MICA_EINVAL);
}

Test(ivrs, wrong_signature)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	memcpy(tbl, "DMAR", 4);
	expect_error("44 4d 41 52, expected 'IVRS'");
}

Test(ivrs, header_length_beyond_the_bytes_given)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	seal();
	put32(tbl + 4, tlen + 1);
	cr_assert_eq(parse_len(tlen), MICA_EINVAL);
	cr_expect(strstr(err, "says the table is 89 bytes: expected 48 to 88") != NULL, "%s", err);
	put32(tbl + 4, 47);
	cr_assert_eq(parse_len(tlen), MICA_EINVAL);
	cr_expect(strstr(err, "says the table is 47 bytes") != NULL, "%s", err);
}

Test(ivrs, block_of_length_zero)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	other(0x30, 0);
	tlen += 8;
	expect_error("IVRS block at offset 0x58 (type 0x30) is 0 bytes long: shorter than its "
		     "4-byte header");
}

Test(ivrs, ivhd_shorter_than_its_header)
{
	other(0x10, 20);
	expect_error("(type 0x10) is 20 bytes long: shorter than its 24-byte header");
	begin(0);
	other(0x11, 24);
	expect_error("(type 0x11) is 24 bytes long: shorter than its 40-byte header");
	begin(0);
	other(0x40, 39);
	expect_error("(type 0x40) is 39 bytes long: shorter than its 40-byte header");
}

Test(ivrs, ivmd_shorter_than_its_header)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	other(0x21, 24);
	expect_error("(type 0x21) is 24 bytes long: shorter than its 32-byte header");
}

Test(ivrs, block_overrunning_the_table)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	e4(1, 0, 0);
	put16(tbl + cur + 2, 48);
	expect_error("(type 0x11) is 48 bytes long but the table ends at 0x5c, 44 bytes on");
}

Test(ivrs, bytes_left_over_after_the_last_block)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	tlen += 2;
	expect_error("at offset 0x58: only 2 bytes left");
}

Test(ivrs, entry_overrunning_its_block)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	e4(2, 0x0010, 0);
	grow(2);                   /* a 4-byte entry with 2 bytes left */
	ivhd(0x11, 0, 0x0003, 0xfd300000, 0);
	expect_error("IVHD device entry at offset 0x5c (type 0x00) is 4 bytes long but its block "
		     "ends at 0x5e, 2 bytes on");
}

Test(ivrs, acpi_hid_entry_overrunning_its_block)
{
	ivhd(0x40, 0, 0x0002, 0xfd200000, 0);
	hid(0x00a0, 4);
	tbl[tlen - 26 + 21] = 5;   /* the UID claims one byte more than the block holds */
	ivhd(0x11, 0, 0x0003, 0xfd300000, 0);
	expect_error("(type 0xf0) is 27 bytes long but its block ends at 0x72, 26 bytes on");
	begin(0);
	ivhd(0x40, 0, 0x0002, 0xfd200000, 0);
	tbl[tlen] = 0xf0;          /* too short even for the UID length byte */
	grow(20);
	expect_error("(type 0xf0) is 22 bytes long but its block ends at 0x6c, 20 bytes on");
}

Test(ivrs, no_ivhd_at_all)
{
	ivmd(0x20, 0, 0, 0, 0, 0x1000, 0x1000);
	expect_error("no IVHD block");
	begin(0);
	expect_error("no IVHD block");
	begin(0);
	other(0x12, 40);
	expect_error("no IVHD block");
}

Test(ivrs, errors_leave_nothing_behind)
{
	ivhd(0x11, 0, 0x0002, 0xfd200000, 0);
	e4(2, 0x0010, 0);
	ivhd(0x11, 0, 0x0003, 0xfd300000, 0);
	e8(0x42, 0x0020, 0, 0, 0x0021, 0);
	grow((uint32_t)-4);
	cr_assert_eq(parse(), MICA_EINVAL);
	cr_expect_eq(acpi.nunits, 0);
	cr_expect_eq(acpi.unit[0].base, 0);
	cr_expect_eq(acpi.unit[0].nscope, 0);
	cr_expect_eq(acpi.skipped, 0);
}
