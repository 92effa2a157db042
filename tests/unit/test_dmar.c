/* kernel/host/dmar.c and the lookups of kernel/host/iommu_acpi.c: DMAR tables built in
 * memory, QEMU's among them, paths through fake bridges, and broken or hostile tables. Each
 * table is parsed from a heap copy of exactly its length, so that ASan sees any read past
 * the end. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>
#include "kernel/host/iommu_acpi.h"
#include "lib/bytes.h"

static uint8_t tbl[16384];
static uint32_t tlen;
static uint32_t cur; /* offset of the structure being built */
static struct iommu_acpi acpi;
static char err[200];

static void begin(uint8_t haw, uint8_t flags)
{
	memset(tbl, 0, sizeof(tbl));
	memcpy(tbl, "DMAR", 4);
	tbl[8] = 1;
	memcpy(tbl + 10, "MICA  ", 6);
	tbl[36] = (uint8_t)(haw - 1);
	tbl[37] = flags;
	tlen = 48;
}

static void grow(uint32_t n)
{
	tlen += n;
	put16(tbl + cur + 2, (uint16_t)(rd16(tbl + cur + 2) + n));
}

static void drhd(uint8_t flags, uint16_t seg, uint64_t base)
{
	cur = tlen;
	put16(tbl + cur, 0);
	put16(tbl + cur + 2, 16);
	tbl[cur + 4] = flags;
	put16(tbl + cur + 6, seg);
	put64(tbl + cur + 8, base);
	tlen += 16;
}

static void rmrr(uint16_t seg, uint64_t base, uint64_t limit)
{
	cur = tlen;
	put16(tbl + cur, 1);
	put16(tbl + cur + 2, 24);
	put16(tbl + cur + 6, seg);
	put64(tbl + cur + 8, base);
	put64(tbl + cur + 16, limit);
	tlen += 24;
}

/* A structure of another type, n bytes. */
static void other(uint16_t type, uint16_t n)
{
	cur = tlen;
	put16(tbl + cur, type);
	put16(tbl + cur + 2, n);
	tlen += n;
}

/* A device scope entry in the current structure: path is hops (device, function) pairs. */
static void scope(uint8_t type, uint8_t id, uint8_t bus, const uint8_t *path, unsigned hops)
{
	uint8_t *e = tbl + tlen;
	e[0] = type;
	e[1] = (uint8_t)(6 + 2 * hops);
	e[4] = id;
	e[5] = bus;
	if (hops)
		memcpy(e + 6, path, 2 * hops);
	grow(6 + 2 * hops);
}

static void endpoint(uint8_t bus, uint8_t dev, uint8_t fn)
{
	uint8_t p[2] = { dev, fn };
	scope(1, 0, bus, p, 1);
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

/* Parses the first len bytes of tbl from a heap copy of exactly len bytes. */
static int parse_len(size_t len, const struct iommu_bus_ops *bus)
{
	uint8_t *copy = malloc(len ? len : 1);
	cr_assert(copy);
	memcpy(copy, tbl, len);
	memset(&acpi, 0xa5, sizeof(acpi));
	err[0] = 0;
	int rc = dmar_parse(copy, len, bus, &acpi, err, sizeof(err));
	free(copy);
	return rc;
}

static int parse(const struct iommu_bus_ops *bus)
{
	seal();
	return parse_len(tlen, bus);
}

static void expect_error(const struct iommu_bus_ops *bus, const char *words)
{
	cr_assert_eq(parse(bus), MICA_EINVAL, "accepted; expected an error with '%s'", words);
	cr_expect(strstr(err, words) != NULL, "message: %s (expected '%s')", err, words);
	cr_expect_eq(acpi.kind, IOMMU_NONE);
	cr_expect_eq(acpi.nunits, 0);
}

/* Fake bridges: seg:bus:dev.fn -> secondary, subordinate. */
struct bridge {
	uint16_t seg;
	uint8_t bus, dev, fn, sec, sub;
};
static struct bridge bridges[8];
static unsigned nbridges, calls;

static int bridge_buses(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
			uint8_t *sec, uint8_t *sub)
{
	cr_assert_eq(ctx, (void *)bridges);
	calls++;
	for (unsigned i = 0; i < nbridges; i++) {
		struct bridge *b = &bridges[i];
		if (b->seg == seg && b->bus == bus && b->dev == dev && b->fn == fn) {
			*sec = b->sec;
			*sub = b->sub;
			return 0;
		}
	}
	return -1;
}

static const struct iommu_bus_ops ops = { bridge_buses, bridges };

static void add_bridge(uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn, uint8_t sec,
		       uint8_t sub)
{
	bridges[nbridges++] = (struct bridge){ seg, bus, dev, fn, sec, sub };
}

static void setup(void)
{
	nbridges = calls = 0;
	begin(39, 0);
}

TestSuite(dmar, .init = setup);

static void expect_scope(const struct iommu_scope *s, uint8_t type, uint8_t id,
			 uint16_t first, uint16_t last)
{
	cr_expect_eq(s->type, type, "type %u, expected %u", s->type, type);
	cr_expect_eq(s->id, id, "id %u, expected %u", s->id, id);
	cr_expect_eq(s->first, first, "first 0x%x, expected 0x%x", s->first, first);
	cr_expect_eq(s->last, last, "last 0x%x, expected 0x%x", s->last, last);
	cr_expect_eq(s->alias, first, "alias 0x%x, expected 0x%x", s->alias, first);
	cr_expect_eq(s->has_alias, 0);
	cr_expect_eq(s->data, 0);
}

/* QEMU q35 with -device intel-iommu,intremap=on: HAW 39, one DRHD for everything on
 * segment 0 at 0xfed90000, the I/O APIC (ID 0) at RID f0:1f.0. */
Test(dmar, qemu_q35_intel_iommu)
{
	begin(39, DMAR_FLAG_INTR_REMAP | DMAR_FLAG_X2APIC_OPT_OUT);
	drhd(1, 0, 0xfed90000);
	uint8_t p[2] = { 0x1f, 0 };
	scope(3, 0, 0xf0, p, 1);
	cr_assert_eq(tbl[36], 38);
	cr_assert_eq(parse(NULL), 0, "%s", err);
	cr_expect_eq(acpi.kind, IOMMU_VTD);
	cr_expect_eq(acpi.haw, 39);
	cr_expect_eq(acpi.flags, 3);
	cr_assert_eq(acpi.nunits, 1);
	cr_expect_eq(acpi.nresv, 0);
	cr_expect_eq(acpi.skipped, 0);
	const struct iommu_unit *u = &acpi.unit[0];
	cr_expect_eq(u->base, 0xfed90000);
	cr_expect_eq(u->segment, 0);
	cr_expect_eq(u->include_all, 1);
	cr_expect_eq(u->flags, 1);
	cr_expect_eq(u->devid, 0);
	cr_expect_eq(u->cap_off, 0);
	cr_expect_eq(u->ivhd_type, 0);
	cr_assert_eq(u->nscope, 1);
	expect_scope(&u->scope[0], IOMMU_SCOPE_IOAPIC, 0, 0xf0f8, 0xf0f8);
	uint16_t rid = 0;
	cr_expect_eq(iommu_acpi_ioapic_rid(&acpi, 0, &rid), 0);
	cr_expect_eq(rid, 0xf0f8);
	cr_expect_eq(iommu_acpi_ioapic_rid(&acpi, 1, &rid), -1);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0010), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0xf0f8), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 1, 0x0010), -1);
	cr_expect_eq(iommu_acpi_alias(&acpi, 0, 0x0010), 0x0010);
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 0, 0x0010, NULL), 0);
}

Test(dmar, single_hop_endpoints_and_units_without_include_all)
{
	drhd(0, 0, 0xfed90000);
	endpoint(0, 2, 0);
	endpoint(0, 0x1f, 3);
	drhd(0, 0, 0xfed91000);
	endpoint(5, 0, 1);
	cr_assert_eq(parse(NULL), 0, "%s", err);
	cr_assert_eq(acpi.nunits, 2);
	cr_expect_eq(acpi.skipped, 0);
	cr_assert_eq(acpi.unit[0].nscope, 2);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0010, 0x0010);
	expect_scope(&acpi.unit[0].scope[1], IOMMU_SCOPE_DEVICE, 0, 0x00fb, 0x00fb);
	cr_assert_eq(acpi.unit[1].nscope, 1);
	expect_scope(&acpi.unit[1].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0501, 0x0501);
	cr_expect_eq(acpi.unit[1].base, 0xfed91000);
	cr_expect_eq(acpi.unit[1].include_all, 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0010), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x00fb), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0501), 1);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0018), -1); /* no unit takes the rest */
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0500), -1);
}

/* VT-d 8.3: the INCLUDE_PCI_ALL unit takes only what no other unit lists, even when it
 * comes first; and only on its own segment. */
Test(dmar, listed_devices_win_over_include_all)
{
	drhd(1, 0, 0xfed90000);
	drhd(0, 0, 0xfed91000);
	endpoint(0, 2, 0);
	drhd(1, 1, 0xfed92000);
	cr_assert_eq(parse(NULL), 0, "%s", err);
	cr_assert_eq(acpi.nunits, 3);
	cr_expect_eq(acpi.unit[2].segment, 1);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0010), 1);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0018), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 1, 0x0010), 2);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 2, 0x0010), -1);
}

/* 00:1c.0 is a root port to buses 2-4; 02:00.0 a switch port to bus 3; the device is 03:00.1. */
Test(dmar, multi_hop_path_through_bridges)
{
	add_bridge(0, 0, 0x1c, 0, 2, 4);
	add_bridge(0, 2, 0, 0, 3, 3);
	drhd(0, 0, 0xfed90000);
	uint8_t p[6] = { 0x1c, 0, 0, 0, 0, 1 };
	scope(1, 0, 0, p, 3);
	cr_assert_eq(parse(&ops), 0, "%s", err);
	cr_expect_eq(calls, 2);
	cr_expect_eq(acpi.skipped, 0);
	cr_assert_eq(acpi.unit[0].nscope, 1);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0301, 0x0301);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0301), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0300), -1);
}

/* The bridges are asked on the scope's own segment. */
Test(dmar, paths_are_resolved_on_the_units_segment)
{
	add_bridge(2, 0, 1, 0, 1, 1);
	drhd(0, 2, 0xfed90000);
	uint8_t p[4] = { 1, 0, 3, 0 };
	scope(1, 0, 0, p, 2);
	drhd(0, 0, 0xfed91000);
	scope(1, 0, 0, p, 2);
	cr_assert_eq(parse(&ops), 0, "%s", err);
	cr_assert_eq(acpi.unit[0].nscope, 1);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0118, 0x0118);
	cr_expect_eq(acpi.unit[1].nscope, 0);
	cr_expect_eq(acpi.skipped, 1);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 2, 0x0118), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0118), -1);
}

/* VT-d 8.3.1: a sub-hierarchy scope holds the bridge and every bus below it. */
Test(dmar, bridge_scope_covers_the_bridge_and_its_buses)
{
	add_bridge(0, 0, 0x1c, 0, 2, 4);
	drhd(0, 0, 0xfed90000);
	uint8_t p[2] = { 0x1c, 0 };
	scope(2, 0, 0, p, 1);
	cr_assert_eq(parse(&ops), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 0);
	cr_assert_eq(acpi.unit[0].nscope, 2);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x00e0, 0x00e0);
	expect_scope(&acpi.unit[0].scope[1], IOMMU_SCOPE_BRIDGE, 0, 0x0200, 0x04ff);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x00e0), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0200), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x04ff), 0);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x01ff), -1);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0500), -1);
}

Test(dmar, bridge_scope_behind_a_bridge)
{
	add_bridge(0, 0, 0x1c, 0, 2, 9);
	add_bridge(0, 2, 0, 0, 3, 5);
	drhd(0, 0, 0xfed90000);
	uint8_t p[4] = { 0x1c, 0, 0, 0 };
	scope(2, 0, 0, p, 2);
	cr_assert_eq(parse(&ops), 0, "%s", err);
	cr_assert_eq(acpi.unit[0].nscope, 2);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0200, 0x0200);
	expect_scope(&acpi.unit[0].scope[1], IOMMU_SCOPE_BRIDGE, 0, 0x0300, 0x05ff);
}

/* Without bus ops only single-hop paths resolve; the rest is counted, not guessed. */
Test(dmar, paths_through_bridges_need_bus_ops)
{
	drhd(0, 0, 0xfed90000);
	uint8_t two[4] = { 0x1c, 0, 0, 0 };
	uint8_t one[2] = { 0x1c, 0 };
	scope(1, 0, 0, two, 2);
	scope(2, 0, 0, one, 1);
	endpoint(0, 3, 0);
	cr_assert_eq(parse(NULL), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 2);
	cr_assert_eq(acpi.unit[0].nscope, 1);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0018, 0x0018);
	struct iommu_bus_ops none = { NULL, NULL };
	cr_assert_eq(parse(&none), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 2);
	cr_expect_eq(acpi.unit[0].nscope, 1);
}

Test(dmar, missing_bridges_are_skipped)
{
	add_bridge(0, 0, 0x1c, 0, 2, 4);
	drhd(0, 0, 0xfed90000);
	uint8_t p1[4] = { 0x1d, 0, 0, 0 };   /* no bridge at 00:1d.0 */
	uint8_t p2[4] = { 0x1c, 0, 0, 0 };   /* the device on bus 2 is there: kept */
	uint8_t p3[2] = { 0x1c, 1 };         /* bridge scope naming no bridge */
	scope(1, 0, 0, p1, 2);
	scope(1, 0, 0, p2, 2);
	scope(2, 0, 0, p3, 1);
	cr_assert_eq(parse(&ops), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 2);
	cr_assert_eq(acpi.unit[0].nscope, 1);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0200, 0x0200);
}

/* Bridges that claim their own bus, a bus below theirs, a range that ends before it starts
 * or one outside their parent's: each would turn the walk round or send it elsewhere. */
Test(dmar, bridges_with_impossible_buses_are_skipped)
{
	add_bridge(0, 0, 1, 0, 0, 0);  /* secondary == own bus: a loop */
	add_bridge(0, 4, 0, 0, 2, 6);  /* secondary below own bus */
	add_bridge(0, 0, 2, 0, 7, 5);  /* subordinate below secondary */
	add_bridge(0, 0, 3, 0, 8, 9);  /* parent of the next: buses 8-9 */
	add_bridge(0, 8, 0, 0, 10, 12); /* outside its parent's 8-9 */
	drhd(0, 0, 0xfed90000);
	uint8_t loop[8] = { 1, 0, 1, 0, 1, 0, 0, 0 };
	uint8_t down[4] = { 0, 0, 0, 0 };
	uint8_t inv[4] = { 2, 0, 0, 0 };
	uint8_t out[6] = { 3, 0, 0, 0, 0, 0 };
	uint8_t outb[4] = { 3, 0, 0, 0 };
	scope(1, 0, 0, loop, 4);
	scope(1, 0, 4, down, 2);
	scope(1, 0, 0, inv, 2);
	scope(1, 0, 0, out, 3);
	scope(2, 0, 0, outb, 2);      /* bridge scope whose final bridge leaves its parent */
	scope(2, 0, 0, inv, 1);       /* bridge scope on the inverted bridge itself */
	cr_assert_eq(parse(&ops), 0, "%s", err);
	cr_expect_eq(acpi.unit[0].nscope, 0);
	cr_expect_eq(acpi.skipped, 6);
	cr_expect_leq(calls, 9, "the loop was followed: %u bridge look-ups", calls);
}

/* Each hop ends in a real device number and function number. */
Test(dmar, impossible_device_or_function_numbers_are_skipped)
{
	drhd(0, 0, 0xfed90000);
	endpoint(0, 32, 0);
	endpoint(0, 0, 8);
	endpoint(0, 31, 7);
	cr_assert_eq(parse(NULL), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 2);
	cr_assert_eq(acpi.unit[0].nscope, 1);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x00ff, 0x00ff);
}

Test(dmar, ioapic_and_hpet_scopes)
{
	drhd(1, 0, 0xfed90000);
	uint8_t ioapic2[2] = { 0x1e, 7 };
	uint8_t hpet[2] = { 0x1f, 0 };
	uint8_t ioapic8[2] = { 0, 0 };
	scope(3, 2, 0, ioapic2, 1);
	scope(4, 0, 0, hpet, 1);
	scope(3, 8, 0xf0, ioapic8, 1);
	cr_assert_eq(parse(NULL), 0, "%s", err);
	cr_assert_eq(acpi.unit[0].nscope, 3);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_IOAPIC, 2, 0x00f7, 0x00f7);
	expect_scope(&acpi.unit[0].scope[1], IOMMU_SCOPE_HPET, 0, 0x00f8, 0x00f8);
	expect_scope(&acpi.unit[0].scope[2], IOMMU_SCOPE_IOAPIC, 8, 0xf000, 0xf000);
	uint16_t rid = 0;
	cr_expect_eq(iommu_acpi_ioapic_rid(&acpi, 8, &rid), 0);
	cr_expect_eq(rid, 0xf000);
	cr_expect_eq(iommu_acpi_ioapic_rid(&acpi, 2, &rid), 0);
	cr_expect_eq(rid, 0x00f7);
	cr_expect_eq(iommu_acpi_ioapic_rid(&acpi, 0, &rid), -1, "the HPET is no I/O APIC");
}

Test(dmar, ioapic_behind_a_bridge)
{
	add_bridge(0, 0, 0x1d, 0, 0x20, 0x20);
	drhd(1, 0, 0xfed90000);
	uint8_t p[4] = { 0x1d, 0, 0, 0 };
	scope(3, 9, 0, p, 2);
	cr_assert_eq(parse(&ops), 0, "%s", err);
	cr_assert_eq(acpi.unit[0].nscope, 1);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_IOAPIC, 9, 0x2000, 0x2000);
}

Test(dmar, rmrr_regions_and_lookups)
{
	drhd(1, 0, 0xfed90000);
	rmrr(0, 0x7f000000, 0x7f0fffff);
	endpoint(0, 0x14, 0);
	endpoint(0, 0x1a, 0);
	rmrr(0, 0xe8000, 0xe8fff);
	endpoint(0, 2, 0);
	rmrr(1, 0x1000, 0x1fff);
	endpoint(0, 2, 0);
	cr_assert_eq(parse(NULL), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 0);
	cr_assert_eq(acpi.nresv, 3);
	const struct iommu_resv *r = &acpi.resv[0];
	cr_expect_eq(r->base, 0x7f000000);
	cr_expect_eq(r->end, 0x7f0fffff);
	cr_expect_eq(r->segment, 0);
	cr_expect_eq(r->all, 0);
	cr_assert_eq(r->nscope, 2);
	expect_scope(&r->scope[0], IOMMU_SCOPE_DEVICE, 0, 0x00a0, 0x00a0);
	expect_scope(&r->scope[1], IOMMU_SCOPE_DEVICE, 0, 0x00d0, 0x00d0);
	cr_expect_eq(acpi.resv[1].base, 0xe8000);
	cr_expect_eq(acpi.resv[1].end, 0xe8fff);
	cr_expect_eq(acpi.resv[2].segment, 1);
	unsigned which = 99;
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 0, 0x00d0, &which), 1);
	cr_expect_eq(which, 0);
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 0, 0x0010, &which), 1);
	cr_expect_eq(which, 1);
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 1, 0x0010, &which), 1);
	cr_expect_eq(which, 2);
	which = 99;
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 0, 0x00a8, &which), 0);
	cr_expect_eq(which, 99);
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 2, 0x00a0, &which), 0);
}

Test(dmar, rmrr_scope_through_a_bridge)
{
	add_bridge(0, 0, 0x1c, 0, 2, 4);
	drhd(1, 0, 0xfed90000);
	rmrr(0, 0x7f000000, 0x7f0fffff);
	uint8_t p[2] = { 0x1c, 0 };
	scope(2, 0, 0, p, 1);
	cr_assert_eq(parse(&ops), 0, "%s", err);
	cr_assert_eq(acpi.resv[0].nscope, 2);
	expect_scope(&acpi.resv[0].scope[1], IOMMU_SCOPE_BRIDGE, 0, 0x0200, 0x04ff);
	unsigned which = 99;
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 0, 0x0301, &which), 1);
	cr_expect_eq(which, 0);
}

Test(dmar, rmrr_limit_below_base_is_skipped)
{
	drhd(1, 0, 0xfed90000);
	rmrr(0, 0x7f100000, 0x7f0fffff);
	endpoint(0, 0x14, 0);
	rmrr(0, 0x7f000000, 0x7f000000); /* one byte: limit is inclusive */
	endpoint(0, 0x1a, 0);
	cr_assert_eq(parse(NULL), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 1);
	cr_assert_eq(acpi.nresv, 1);
	cr_expect_eq(acpi.resv[0].base, 0x7f000000);
	cr_expect_eq(acpi.resv[0].end, 0x7f000000);
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 0, 0x00a0, NULL), 0);
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 0, 0x00d0, NULL), 1);
}

/* ATSR, RHSA, ANDD and SATC are known and not needed: passed over silently. Unknown
 * structures, unknown scope types and ACPI namespace devices are counted. */
Test(dmar, other_structures_and_scope_types)
{
	other(2, 8);       /* ATSR */
	drhd(1, 0, 0xfed90000);
	uint8_t p[2] = { 3, 0 };
	scope(5, 1, 0, p, 1);   /* ACPI namespace device */
	scope(7, 0, 0, p, 1);   /* unknown */
	scope(0, 0, 0, p, 1);   /* reserved */
	endpoint(0, 4, 0);
	other(3, 20);      /* RHSA */
	other(4, 12);      /* ANDD */
	other(5, 16);      /* SATC */
	other(6, 8);       /* unknown */
	other(0x99, 4);    /* unknown, header only */
	cr_assert_eq(parse(NULL), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 5);
	cr_expect_eq(acpi.nunits, 1);
	cr_expect_eq(acpi.nresv, 0);
	cr_assert_eq(acpi.unit[0].nscope, 1);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0020, 0x0020);
}

Test(dmar, empty_path_is_skipped)
{
	drhd(0, 0, 0xfed90000);
	scope(1, 0, 0, NULL, 0);
	endpoint(0, 4, 0);
	cr_assert_eq(parse(NULL), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 1);
	cr_assert_eq(acpi.unit[0].nscope, 1);
	cr_expect_eq(acpi.unit[0].scope[0].first, 0x0020);
}

Test(dmar, too_many_units_are_capped_and_counted)
{
	for (unsigned i = 0; i < IOMMU_UNITS_MAX + 2; i++) {
		drhd(0, 0, 0xfed90000 + 0x1000 * i);
		endpoint(0, (uint8_t)i, 0);
	}
	cr_assert_eq(parse(NULL), 0, "%s", err);
	cr_assert_eq(acpi.nunits, IOMMU_UNITS_MAX);
	cr_expect_eq(acpi.skipped, 2);
	const struct iommu_unit *u = &acpi.unit[IOMMU_UNITS_MAX - 1];
	cr_expect_eq(u->base, 0xfed90000 + 0x1000 * (IOMMU_UNITS_MAX - 1));
	cr_expect_eq(u->scope[0].first, (IOMMU_UNITS_MAX - 1) << 3);
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, IOMMU_UNITS_MAX << 3), -1);
}

/* A unit past the limit is not kept, but its layout is still checked. */
Test(dmar, units_past_the_limit_are_still_checked)
{
	for (unsigned i = 0; i < IOMMU_UNITS_MAX + 1; i++)
		drhd(0, 0, 0xfed90000 + 0x1000 * i);
	endpoint(0, 1, 0);
	tbl[tlen - 7] = 7; /* odd length: 6-byte header and half a hop */
	expect_error(NULL, "whole (device, function) pairs");
}

Test(dmar, too_many_scopes_are_capped_and_counted)
{
	drhd(0, 0, 0xfed90000);
	for (unsigned i = 0; i < IOMMU_SCOPE_MAX + 6; i++)
		endpoint(1, (uint8_t)(i >> 3), (uint8_t)(i & 7));
	add_bridge(0, 0, 1, 0, 2, 2);
	uint8_t p[2] = { 1, 0 };
	scope(2, 0, 0, p, 1); /* two entries, neither fits */
	cr_assert_eq(parse(&ops), 0, "%s", err);
	cr_assert_eq(acpi.unit[0].nscope, IOMMU_SCOPE_MAX);
	cr_expect_eq(acpi.skipped, 8);
	expect_scope(&acpi.unit[0].scope[IOMMU_SCOPE_MAX - 1], IOMMU_SCOPE_DEVICE, 0,
		     0x0100 | (IOMMU_SCOPE_MAX - 1), 0x0100 | (IOMMU_SCOPE_MAX - 1));
	cr_expect_eq(iommu_acpi_unit_for(&acpi, 0, 0x0100 | IOMMU_SCOPE_MAX), -1);
}

Test(dmar, too_many_reserved_regions_are_capped_and_counted)
{
	drhd(1, 0, 0xfed90000);
	for (unsigned i = 0; i < IOMMU_RESV_MAX + 2; i++) {
		rmrr(0, 0x100000 * (i + 1), 0x100000 * (i + 1) + 0xfff);
		endpoint(0, (uint8_t)i, 0);
	}
	rmrr(0, 0x7f000000, 0x7f0fffff);
	cr_assert_eq(parse(NULL), 0, "%s", err);
	cr_assert_eq(acpi.nresv, IOMMU_RESV_MAX);
	cr_expect_eq(acpi.skipped, 3);
	cr_expect_eq(acpi.resv[IOMMU_RESV_MAX - 1].base, 0x100000 * IOMMU_RESV_MAX);
	cr_expect_eq(acpi.resv[IOMMU_RESV_MAX - 1].scope[0].first, (IOMMU_RESV_MAX - 1) << 3);
	cr_expect_eq(iommu_acpi_reserved_for(&acpi, 0, IOMMU_RESV_MAX << 3, NULL), 0);
}

Test(dmar, too_many_reserved_scopes_are_capped_and_counted)
{
	drhd(1, 0, 0xfed90000);
	rmrr(0, 0x7f000000, 0x7f0fffff);
	for (unsigned i = 0; i < IOMMU_RESV_SCOPE_MAX + 3; i++)
		endpoint(0, (uint8_t)i, 0);
	cr_assert_eq(parse(NULL), 0, "%s", err);
	cr_assert_eq(acpi.resv[0].nscope, IOMMU_RESV_SCOPE_MAX);
	cr_expect_eq(acpi.skipped, 3);
	cr_expect_eq(acpi.resv[0].scope[IOMMU_RESV_SCOPE_MAX - 1].first,
		     (IOMMU_RESV_SCOPE_MAX - 1) << 3);
}

/* Hostile and broken tables: refused with a sentence, never read past their end. */

Test(dmar, truncated_header)
{
	drhd(1, 0, 0xfed90000);
	seal();
	cr_assert_eq(parse_len(47, NULL), MICA_EINVAL);
	cr_expect(strstr(err, "47 bytes: shorter than its 48-byte header") != NULL, "%s", err);
	cr_assert_eq(parse_len(0, NULL), MICA_EINVAL);
	cr_expect_eq(acpi.kind, IOMMU_NONE);
}

Test(dmar, wrong_signature)
{
	drhd(1, 0, 0xfed90000);
	memcpy(tbl, "IVRS", 4);
	expect_error(NULL, "expected 'DMAR'");
}

Test(dmar, header_length_beyond_the_bytes_given)
{
	drhd(1, 0, 0xfed90000);
	seal();
	put32(tbl + 4, tlen + 16);
	cr_assert_eq(parse_len(tlen, NULL), MICA_EINVAL);
	cr_expect(strstr(err, "says the table is 80 bytes: expected 48 to 64") != NULL,
		  "%s", err);
}

Test(dmar, header_length_below_the_header)
{
	drhd(1, 0, 0xfed90000);
	seal();
	put32(tbl + 4, 40);
	cr_assert_eq(parse_len(tlen, NULL), MICA_EINVAL);
	cr_expect(strstr(err, "says the table is 40 bytes") != NULL, "%s", err);
}

/* A shorter length in the header than the bytes given: only the header's bytes count. */
Test(dmar, header_length_bounds_the_walk)
{
	drhd(1, 0, 0xfed90000);
	uint32_t keep = tlen;
	other(0, 3); /* garbage after the table's end */
	seal();
	put32(tbl + 4, keep);
	cr_assert_eq(parse_len(tlen, NULL), 0, "%s", err);
	cr_expect_eq(acpi.nunits, 1);
}

Test(dmar, structure_of_length_zero)
{
	drhd(1, 0, 0xfed90000);
	other(1, 0);
	tlen += 24;
	expect_error(NULL, "at offset 0x40 (type 1) is 0 bytes long: shorter than its 24-byte "
		     "header");
}

Test(dmar, structure_shorter_than_type_and_length)
{
	drhd(1, 0, 0xfed90000);
	other(9, 2);
	tlen += 6;
	expect_error(NULL, "is 2 bytes long: shorter than its 4-byte header");
}

Test(dmar, drhd_shorter_than_its_header)
{
	other(0, 12);
	expect_error(NULL, "DMAR structure at offset 0x30 (type 0) is 12 bytes long: shorter "
		     "than its 16-byte header");
}

Test(dmar, rmrr_shorter_than_its_header)
{
	drhd(1, 0, 0xfed90000);
	other(1, 20);
	expect_error(NULL, "(type 1) is 20 bytes long: shorter than its 24-byte header");
}

Test(dmar, structure_overrunning_the_table)
{
	drhd(1, 0, 0xfed90000);
	put16(tbl + cur + 2, 64);
	expect_error(NULL, "(type 0) is 64 bytes long but the table ends at 0x40, 16 bytes on");
}

Test(dmar, bytes_left_over_after_the_last_structure)
{
	drhd(1, 0, 0xfed90000);
	tlen += 3;
	expect_error(NULL, "at offset 0x40: only 3 bytes left");
}

Test(dmar, scope_overrunning_its_structure)
{
	drhd(1, 0, 0xfed90000);
	endpoint(0, 1, 0);
	tbl[tlen - 8 + 1] = 10; /* the entry claims 10 of the structure's 8 remaining bytes */
	rmrr(0, 0x1000, 0x1fff); /* bytes follow in the table: only the structure bounds it */
	expect_error(NULL, "is 10 bytes long but its structure ends at 0x48, 8 bytes on");
}

Test(dmar, scope_shorter_than_its_header)
{
	drhd(1, 0, 0xfed90000);
	endpoint(0, 1, 0);
	tbl[tlen - 8 + 1] = 4;
	expect_error(NULL, "device scope at offset 0x40 is 4 bytes long: shorter than its "
		     "6-byte header");
}

Test(dmar, scope_of_length_zero)
{
	drhd(1, 0, 0xfed90000);
	rmrr(0, 0x1000, 0x1fff);
	endpoint(0, 1, 0);
	tbl[tlen - 8 + 1] = 0;
	expect_error(NULL, "is 0 bytes long: shorter than its 6-byte header");
}

Test(dmar, scope_with_an_odd_path)
{
	drhd(1, 0, 0xfed90000);
	uint8_t p[2] = { 1, 0 };
	scope(1, 0, 0, p, 1);
	tbl[tlen - 8 + 1] = 7;
	tbl[tlen - 1] = 1; /* the structure still ends where the entry's 7 bytes would */
	grow((uint32_t)-1);
	expect_error(NULL, "is 7 bytes long: expected a 6-byte header and whole");
}

Test(dmar, one_byte_left_in_a_structure)
{
	drhd(1, 0, 0xfed90000);
	endpoint(0, 1, 0);
	grow(1);
	expect_error(NULL, "only 1 byte left in its structure");
}

Test(dmar, no_drhd_at_all)
{
	rmrr(0, 0x1000, 0x1fff);
	endpoint(0, 1, 0);
	expect_error(NULL, "no DRHD structure");
	begin(39, 0);
	expect_error(NULL, "no DRHD structure");
}

/* The out structure is cleared on errors: nothing half-read reaches a careless caller. */
Test(dmar, errors_leave_nothing_behind)
{
	drhd(1, 0, 0xfed90000);
	endpoint(0, 1, 0);
	other(0, 12);
	cr_assert_eq(parse(NULL), MICA_EINVAL);
	cr_expect_eq(acpi.nunits, 0);
	cr_expect_eq(acpi.unit[0].base, 0);
	cr_expect_eq(acpi.unit[0].nscope, 0);
	cr_expect_eq(acpi.skipped, 0);
}

/* A scope of the largest length fits; the path is walked to its last hop and no further. */
Test(dmar, longest_scope_entry)
{
	drhd(0, 0, 0xfed90000);
	uint8_t p[248];
	for (unsigned i = 0; i < 124; i++) {
		p[2 * i] = 1;
		p[2 * i + 1] = 0;
	}
	for (unsigned i = 0; i < 8; i++)
		add_bridge(0, (uint8_t)i, 1, 0, (uint8_t)(i + 1), 200);
	/* only 8 fake bridges: a 9-hop path resolves, the 124-hop one stops at the 9th */
	scope(1, 0, 0, p, 9);
	scope(1, 0, 0, p, 124);
	cr_assert_eq(tbl[tlen - 254 + 1], 254);
	cr_assert_eq(parse(&ops), 0, "%s", err);
	cr_expect_eq(acpi.skipped, 1);
	cr_assert_eq(acpi.unit[0].nscope, 1);
	expect_scope(&acpi.unit[0].scope[0], IOMMU_SCOPE_DEVICE, 0, 0x0808, 0x0808);
}
