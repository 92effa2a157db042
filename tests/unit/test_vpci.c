/* kernel/vpci/bus.c: ECAM config space, the virtio capability chain as Linux walks it, BAR
 * sizing and decoding, MSI-X table and mask semantics, absent functions, odd accesses. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include <mica/hypercall.h>
#include "kernel/vpci/bus.h"
#include "tests/unit/vpci_fixture.h"


static void init(void)
{
	memset(&bus, 0xa5, sizeof(bus));
	memset(err, 0, sizeof(err));
	vpci_init(&bus, NULL);
	cr_assert_eq(vpci_add_virtio(&bus, CON, VPCI_VIRTIO_CONSOLE, 2, 12, 10, err, sizeof(err)), 0);
	cr_assert_eq(vpci_add_virtio(&bus, BLK, VPCI_VIRTIO_BLOCK, 1, 0x3C, 11, err, sizeof(err)), 0);
	cr_assert_eq(vpci_add_virtio(&bus, NET, VPCI_VIRTIO_NET, 64, 0, 0xFF, err, sizeof(err)), 0);
}

TestSuite(vpci, .init = init);


Test(vpci, host_bridge_header)
{
	cr_expect_eq(rd(0, 0x00, 2), 0x1B36);
	cr_expect_eq(rd(0, 0x02, 2), 0x0008);
	cr_expect_eq(rd(0, 0x00, 4), 0x00081B36);
	cr_expect_eq(rd(0, 0x08, 4), 0x06000000, "class 06 00 00, revision 0");
	cr_expect_eq(rd(0, 0x0E, 1), 0, "header type 0, single function");
	cr_expect_eq(rd(0, 0x06, 2), 0, "status: no capabilities");
	cr_expect_eq(rd(0, 0x34, 1), 0);
	for (unsigned r = 0x10; r <= 0x24; r += 4) {
		wr(0, r, 4, 0xFFFFFFFF);
		cr_expect_eq(rd(0, r, 4), 0, "no BAR at %#x", r);
	}
	wr(0, 0x04, 2, 0xFFFF);
	cr_expect_eq(rd(0, 0x04, 2), 0x0146);
	wr(0, 0x00, 4, 0);
	cr_expect_eq(rd(0, 0x00, 4), 0x00081B36, "IDs are read-only");
	cr_expect_eq(rd(0, 0x100, 4), 0, "no extended capabilities");
}

struct expect_hdr {
	unsigned slot, id;
	uint32_t class_rev;
	uint8_t irq;
};

Test(vpci, virtio_headers)
{
	static const struct expect_hdr e[] = {
		{ CON, 3, 0x07800001, 10 },
		{ BLK, 2, 0x01800001, 11 },
		{ NET, 1, 0x02000001, 0xFF },
	};
	for (unsigned i = 0; i < 3; i++) {
		unsigned s = e[i].slot;

		cr_expect_eq(rd(s, 0x00, 2), 0x1AF4);
		cr_expect_eq(rd(s, 0x02, 2), 0x1040 + e[i].id);
		cr_expect_eq(rd(s, 0x04, 2), 0, "command: everything off at reset");
		cr_expect_eq(rd(s, 0x06, 2), 0x0010, "status: capabilities list");
		cr_expect_eq(rd(s, 0x08, 4), e[i].class_rev);
		cr_expect_eq(rd(s, 0x0C, 4), 0, "cache line, latency, header type 0, BIST");
		cr_expect_eq(rd(s, 0x10, 4), 0x4, "64-bit memory BAR, unassigned");
		cr_expect_eq(rd(s, 0x14, 4), 0);
		cr_expect_eq(rd(s, 0x18, 4), 0x1, "BAR2: I/O, unassigned");
		for (unsigned r = 0x1C; r <= 0x24; r += 4)
			cr_expect_eq(rd(s, r, 4), 0);
		cr_expect_eq(rd(s, 0x28, 4), 0, "no CardBus CIS");
		cr_expect_eq(rd(s, 0x2C, 2), 0x1AF4);
		cr_expect_eq(rd(s, 0x2E, 2), 0x40 + e[i].id);
		cr_expect_eq(rd(s, 0x30, 4), 0, "no expansion ROM");
		cr_expect_eq(rd(s, 0x34, 1), 0x40);
		cr_expect_eq(rd(s, 0x3C, 1), e[i].irq);
		cr_expect_eq(rd(s, 0x3D, 1), e[i].irq == 0xFF ? 0 : 1, "INTA, or none");
		cr_expect_eq(rd(s, 0x3E, 2), 0, "min grant, max latency");
	}
}

Test(vpci, writable_header_fields)
{
	wr(CON, 0x04, 2, 0xFFFF);
	cr_expect_eq(rd(CON, 0x04, 2), 0x0547, "I/O, memory, master, parity, SERR, INTx disable");
	wr(CON, 0x04, 2, 0);
	cr_expect_eq(rd(CON, 0x04, 2), 0);
	wr(CON, 0x06, 2, 0xFFFF);
	cr_expect_eq(rd(CON, 0x06, 2), 0x0010, "status is read-only here");
	wr(CON, 0x0C, 1, 0x10);
	cr_expect_eq(rd(CON, 0x0C, 1), 0x10, "cache line size");
	wr(CON, 0x0C, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(CON, 0x0C, 4), 0xFF, "latency, header type, BIST read-only");
	wr(CON, 0x3C, 4, 0xFFFFFF05);
	cr_expect_eq(rd(CON, 0x3C, 4), 0x0105, "line writable, pin read-only");
	wr(CON, 0x08, 4, 0);
	cr_expect_eq(rd(CON, 0x08, 4), 0x07800001);
	wr(CON, 0x2C, 4, 0);
	cr_expect_eq(rd(CON, 0x2C, 4), 0x00431AF4);
	wr(CON, 0x34, 1, 0);
	cr_expect_eq(rd(CON, 0x34, 1), 0x40);
}

struct vcap {
	unsigned pos, bar, offset, length, mult;
	int seen;
};

/* Walks the list like Linux's pci_find_capability()/virtio_pci_find_capability(): start at
 * the pointer, mask the low bits, at most 48 steps. vc[type] is the first capability of
 * each type (the one a driver uses, virtio 1.x 4.1.4.1); vc[0] the second NOTIFY, the
 * only type that comes twice. */
static void walk(unsigned s, struct vcap vc[6], unsigned *msix)
{
	unsigned pos, ttl = 48;

	memset(vc, 0, 6 * sizeof(*vc));
	*msix = 0;
	cr_assert(rd(s, 0x06, 2) & 0x10);
	for (pos = rd(s, 0x34, 1) & ~3u; pos >= 0x40 && ttl; pos = rd(s, pos + 1, 1) & ~3u, ttl--) {
		unsigned id = rd(s, pos, 1);

		if (id == 0x11) {
			cr_expect_eq(*msix, 0, "one MSI-X capability");
			*msix = pos;
			continue;
		}
		cr_assert_eq(id, 0x09, "only vendor and MSI-X capabilities, %#x at %#x", id, pos);
		unsigned type = rd(s, pos + 3, 1);
		cr_assert(type >= 1 && type <= 5, "cfg_type %u", type);
		struct vcap *c = &vc[type];
		if (type == 2 && vc[2].seen)
			c = &vc[0];
		cr_expect_eq(c->seen, 0, "type %u once (NOTIFY twice)", type);
		c->seen = 1;
		c->pos = pos;
		c->bar = rd(s, pos + 4, 1);
		c->offset = rd(s, pos + 8, 4);
		c->length = rd(s, pos + 12, 4);
		cr_expect_eq(rd(s, pos + 2, 1), type == 2 || type == 5 ? 20 : 16, "cap_len");
		if (type == 2)
			c->mult = rd(s, pos + 16, 4);
	}
	cr_expect(ttl > 0, "the list ends");
}

Test(vpci, capability_chain_as_linux_walks_it)
{
	struct vcap vc[6];
	unsigned msix;

	walk(CON, vc, &msix);
	for (unsigned t = 1; t <= 5; t++) {
		cr_assert(vc[t].seen, "cfg_type %u present", t);
		cr_expect_eq(vc[t].pos & 3, 0, "dword aligned");
		cr_expect_eq(vc[t].bar, t == 2 ? 2 : 0, "type %u", t);
	}
	cr_expect_eq(vc[1].offset, 0x0000);
	cr_expect_eq(vc[1].length, 0x38, "whole virtio_pci_common_cfg");
	/* The first NOTIFY, the one drivers use: 16-bit ports in BAR2, one per queue. */
	cr_expect_eq(vc[2].offset, 0);
	cr_expect_eq(vc[2].length, 0x10);
	cr_expect_eq(vc[2].mult, 2);
	cr_assert(vc[0].seen, "a second NOTIFY, in memory, for drivers without I/O space");
	cr_expect_gt(vc[0].pos, vc[2].pos);
	cr_expect_eq(vc[0].bar, 0);
	cr_expect_eq(vc[0].offset, 0x3000);
	cr_expect_eq(vc[0].length, 0x1000);
	cr_expect_eq(vc[0].mult, 4);
	cr_expect_eq(vc[3].offset, 0x1000);
	cr_expect_eq(vc[3].length, 1);
	cr_expect_eq(vc[4].offset, 0x2000);
	cr_expect_eq(vc[4].length, 12);
	for (unsigned t = 1; t <= 4; t++)
		cr_expect_leq(vc[t].offset + vc[t].length, 0x8000, "type %u inside the BAR", t);
	/* PCI_CFG: bar/offset/length are the driver's, start at 0. */
	cr_expect_eq(vc[5].offset, 0);
	cr_expect_eq(vc[5].length, 0);

	cr_assert_neq(msix, 0);
	cr_expect_eq(rd(CON, msix + 2, 2), 1, "table size 2 (N-1), disabled, not masked");
	cr_expect_eq(rd(CON, msix + 4, 4), 0x4000, "table at BAR0 + 0x4000");
	cr_expect_eq(rd(CON, msix + 8, 4), 0x4800, "PBA at BAR0 + 0x4800");

	walk(NET, vc, &msix);
	cr_expect(!vc[4].seen, "no device config, no DEVICE capability");
	cr_expect(vc[1].seen && vc[2].seen && vc[3].seen && vc[5].seen);
	cr_expect_eq(rd(NET, msix + 2, 2), 63);

	/* The chain is read-only. */
	for (unsigned r = 0x40; r < 0x100; r++)
		if (r != vc[5].pos + 4 && (r < vc[5].pos + 8 || r >= vc[5].pos + 20))
			wr(NET, r, 1, 0x5A);
	walk(NET, vc, &msix);
	cr_expect_eq(vc[2].mult, 2);
	cr_expect_eq(vc[0].mult, 4);
	cr_expect_eq(rd(NET, msix + 2, 2) & 0x7FF, 63);
}

static uint64_t bar_read(unsigned s)
{
	return (uint64_t)rd(s, 0x14, 4) << 32 | rd(s, 0x10, 4);
}

Test(vpci, bar_sizing_and_programming)
{
	uint32_t lo, hi;
	uint64_t size;

	/* Linux's __pci_read_base(): all ones to both halves, read back the mask. */
	wr(BLK, 0x10, 4, 0xFFFFFFFF);
	wr(BLK, 0x14, 4, 0xFFFFFFFF);
	lo = rd(BLK, 0x10, 4);
	hi = rd(BLK, 0x14, 4);
	cr_expect_eq(lo, 0xFFFF8004);
	cr_expect_eq(hi, 0xFFFFFFFF);
	size = ~((uint64_t)hi << 32 | (lo & ~0xFull)) + 1;
	cr_expect_eq(size, VPCI_BAR_SIZE);

	wr(BLK, 0x10, 4, 0xFEB01234);
	wr(BLK, 0x14, 4, 0x00000004);
	cr_expect_eq(bar_read(BLK), 0x4FEB00004ull, "low bits: size alignment and type");
	wr(BLK, 0x10, 2, 0xFFFF);
	cr_expect_eq(rd(BLK, 0x10, 4), 0xFEB08004, "a word write changes only its half");
	wr(BLK, 0x12, 1, 0x00);
	cr_expect_eq(rd(BLK, 0x10, 4), 0xFE008004);

	cr_expect_eq(vpci_assign_bar(&bus, BLK, 0xC0000000), 0);
	cr_expect_eq(bar_read(BLK), 0xC0000004);
	cr_expect_eq(rd(BLK, 0x04, 2) & 2, 2, "firmware turned memory decoding on");
	cr_expect_eq(vpci_assign_bar(&bus, BLK, 0xC0004000), MICA_EINVAL, "misaligned");
	cr_expect_eq(vpci_assign_bar(&bus, BLK, 0), MICA_EINVAL);
	cr_expect_eq(vpci_assign_bar(&bus, 3, 0xC0000000), MICA_EINVAL, "empty slot");
	cr_expect_eq(vpci_assign_bar(&bus, 0, 0xC0000000), MICA_EINVAL, "the host bridge");
	cr_expect_eq(vpci_assign_bar(&bus, 99, 0xC0000000), MICA_EINVAL);
}

static enum vpci_region look(uint64_t gpa, unsigned *slot, uint64_t *off)
{
	unsigned bar = 7;
	enum vpci_region r = vpci_bar_lookup(&bus, gpa, slot, &bar, off);

	if (r != VPCI_REGION_NONE)
		cr_expect_eq(bar, 0);
	return r;
}

Test(vpci, command_register_gates_decoding)
{
	unsigned slot = 99;
	uint64_t off = 99;

	cr_expect_eq(look(0, &slot, &off), VPCI_REGION_NONE, "unprogrammed BARs decode nothing");
	wr(CON, 0x04, 2, 0x0002);
	cr_expect_eq(look(0, &slot, &off), VPCI_REGION_NONE, "a zero base is not programmed");
	wr(CON, 0x04, 2, 0);
	wr(CON, 0x10, 4, 0xD0000000);
	cr_expect_eq(look(0xD0000000, &slot, &off), VPCI_REGION_NONE, "memory space off");
	cr_expect_eq(slot, 99, "outputs untouched on a miss");
	wr(CON, 0x04, 2, 0x0001);
	cr_expect_eq(rd(CON, 0x04, 2), 1, "I/O space (BAR2)");
	cr_expect_eq(look(0xD0000000, &slot, &off), VPCI_REGION_NONE, "I/O space is not memory");
	wr(CON, 0x04, 2, 0x0002);
	cr_expect_eq(look(0xD0000000, &slot, &off), VPCI_REGION_COMMON);
	cr_expect_eq(slot, CON);
	cr_expect_eq(off, 0);
	wr(CON, 0x04, 1, 0x04);
	cr_expect_eq(look(0xD0000000, &slot, &off), VPCI_REGION_NONE, "byte write cleared it");
	wr(CON, 0x04, 1, 0x06);
	cr_expect_eq(look(0xD0000000, &slot, &off), VPCI_REGION_COMMON);
	/* Sizing with decoding on: the BAR moves to the top, the old address goes dark. */
	wr(CON, 0x10, 4, 0xFFFFFFFF);
	wr(CON, 0x14, 4, 0xFFFFFFFF);
	cr_expect_eq(look(0xD0000000, &slot, &off), VPCI_REGION_NONE);
	cr_expect_eq(look(0xFFFFFFFFFFFF8000ull, &slot, &off), VPCI_REGION_COMMON);
	cr_expect_eq(look(0xFFFFFFFFFFFFFFFFull, &slot, &off), VPCI_REGION_UNUSED);
}

Test(vpci, lookup_regions)
{
	static const struct {
		uint64_t off;
		enum vpci_region r;
		uint64_t roff;
	} e[] = {
		{ 0x0000, VPCI_REGION_COMMON, 0 },
		{ 0x0037, VPCI_REGION_COMMON, 0x37 },
		{ 0x0038, VPCI_REGION_UNUSED, 0 },
		{ 0x0FFF, VPCI_REGION_UNUSED, 0 },
		{ 0x1000, VPCI_REGION_ISR, 0 },
		{ 0x1001, VPCI_REGION_UNUSED, 0 },
		{ 0x2000, VPCI_REGION_DEVICE, 0 },
		{ 0x200B, VPCI_REGION_DEVICE, 0xB },
		{ 0x200C, VPCI_REGION_UNUSED, 0 },
		{ 0x3000, VPCI_REGION_NOTIFY, 0 },
		{ 0x3004, VPCI_REGION_NOTIFY, 4 },
		{ 0x3FFF, VPCI_REGION_NOTIFY, 0xFFF },
		{ 0x4000, VPCI_REGION_MSIX_TABLE, 0 },
		{ 0x401F, VPCI_REGION_MSIX_TABLE, 0x1F },
		{ 0x4020, VPCI_REGION_UNUSED, 0 },
		{ 0x4800, VPCI_REGION_MSIX_PBA, 0 },
		{ 0x4807, VPCI_REGION_MSIX_PBA, 7 },
		{ 0x4808, VPCI_REGION_UNUSED, 0 },
		{ 0x7FFF, VPCI_REGION_UNUSED, 0 },
		{ 0x8000, VPCI_REGION_NONE, 0 },
	};
	const uint64_t base = 0x280000000ull;
	unsigned slot;
	uint64_t off;

	cr_assert_eq(vpci_assign_bar(&bus, CON, base), 0);
	cr_assert_eq(vpci_assign_bar(&bus, NET, base + 0x8000), 0);
	for (unsigned i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		enum vpci_region r;

		slot = 99;
		off = 99;
		r = look(base + e[i].off, &slot, &off);
		if (e[i].off == 0x8000) {
			cr_expect_eq(r, VPCI_REGION_COMMON, "the next device's BAR");
			cr_expect_eq(slot, NET);
			continue;
		}
		cr_expect_eq(r, e[i].r, "BAR + %#lx: %d", (unsigned long)e[i].off, r);
		cr_expect_eq(slot, CON);
		if (r != VPCI_REGION_UNUSED)
			cr_expect_eq(off, e[i].roff, "BAR + %#lx", (unsigned long)e[i].off);
	}
	cr_expect_eq(look(base - 1, &slot, &off), VPCI_REGION_NONE);
	cr_expect_eq(look(base + 0x10000, &slot, &off), VPCI_REGION_NONE);
	/* NET: 64 vectors, no device config. */
	cr_expect_eq(look(base + 0x8000 + 0x2000, &slot, &off), VPCI_REGION_UNUSED);
	cr_expect_eq(look(base + 0x8000 + 0x43FF, &slot, &off), VPCI_REGION_MSIX_TABLE);
	cr_expect_eq(off, 0x3FF);
	cr_expect_eq(look(base + 0x8000 + 0x4807, &slot, &off), VPCI_REGION_MSIX_PBA);
	cr_expect_eq(look(base + 0x8000 + 0x4808, &slot, &off), VPCI_REGION_UNUSED);

	/* A guest that makes BARs overlap: the lowest slot answers. */
	wr(NET, 0x10, 4, (uint32_t)base | 4);
	cr_expect_eq(look(base, &slot, &off), VPCI_REGION_COMMON);
	cr_expect_eq(slot, CON);
	wr(CON, 0x04, 2, 0);
	cr_expect_eq(look(base, &slot, &off), VPCI_REGION_COMMON);
	cr_expect_eq(slot, NET);
}

/* MSI-X of the console: BAR at base, decoding and bus mastering on. */
static const uint64_t mbase = 0xE0000000;

static void msix_setup(void)
{
	cr_assert_eq(vpci_assign_bar(&bus, CON, mbase), 0);
	wr(CON, 0x04, 2, 0x0006);
}


static uint64_t mread(uint64_t gpa, unsigned size)
{
	unsigned slot, bar;
	uint64_t off;
	enum vpci_region r = vpci_bar_lookup(&bus, gpa, &slot, &bar, &off);

	cr_assert(r == VPCI_REGION_MSIX_TABLE || r == VPCI_REGION_MSIX_PBA, "gpa %#lx",
		  (unsigned long)gpa);
	return vpci_msix_read(&bus, slot, r, off, size);
}

static void mwrite(uint64_t gpa, unsigned size, uint64_t val)
{
	unsigned slot, bar;
	uint64_t off;
	enum vpci_region r = vpci_bar_lookup(&bus, gpa, &slot, &bar, &off);

	cr_assert(r == VPCI_REGION_MSIX_TABLE || r == VPCI_REGION_MSIX_PBA);
	vpci_msix_write(&bus, slot, r, off, size, val);
}

#define TBL (mbase + VPCI_MSIX_TABLE_OFF)
#define PBA (mbase + VPCI_MSIX_PBA_OFF)

Test(vpci, msix_table_read_write)
{
	msix_setup();
	for (unsigned v = 0; v < 2; v++) {
		cr_expect_eq(mread(TBL + 16 * v, 8), 0, "vector %u address 0", v);
		cr_expect_eq(mread(TBL + 16 * v + 8, 4), 0);
		cr_expect_eq(mread(TBL + 16 * v + 12, 4), 1, "masked at reset");
	}
	cr_expect_eq(mread(PBA, 8), 0);

	mwrite(TBL + 16, 4, 0xFEE01003);
	mwrite(TBL + 20, 4, 0x12345678);
	mwrite(TBL + 24, 4, 0x4041);
	mwrite(TBL + 28, 4, 0xFFFFFFFE);
	cr_expect_eq(mread(TBL + 16, 4), 0xFEE01000, "address bits 1:0 reserved");
	cr_expect_eq(mread(TBL + 20, 4), 0x12345678);
	cr_expect_eq(mread(TBL + 16, 8), 0x12345678FEE01000ull);
	cr_expect_eq(mread(TBL + 24, 4), 0x4041);
	cr_expect_eq(mread(TBL + 28, 4), 0, "unmasked, reserved bits read 0");
	cr_expect_eq(mread(TBL + 24, 8), 0x4041);
	mwrite(TBL + 24, 8, 0x0000000100000031ull);
	cr_expect_eq(mread(TBL + 24, 4), 0x31);
	cr_expect_eq(mread(TBL + 28, 4), 1, "qword write masked it again");
	cr_expect_eq(mread(TBL + 0, 8), 0, "vector 0 untouched");

	/* Odd sizes and alignments: read 0, ignored. */
	mwrite(TBL + 2, 4, 0xFFFFFFFF);
	mwrite(TBL + 0, 2, 0xFFFF);
	mwrite(TBL + 0, 1, 0xFF);
	mwrite(TBL + 4, 8, ~0ull);
	cr_expect_eq(mread(TBL + 0, 8), 0);
	cr_expect_eq(mread(TBL + 24, 2), 0);
	cr_expect_eq(mread(TBL + 20, 8), 0, "qword not 8-aligned");
	/* The PBA is read-only. */
	mwrite(PBA, 8, ~0ull);
	cr_expect_eq(mread(PBA, 8), 0);
	/* Past the table (called directly: the lookup never gives these). */
	vpci_msix_write(&bus, CON, VPCI_REGION_MSIX_TABLE, 32, 4, 0xFFFFFFFF);
	cr_expect_eq(vpci_msix_read(&bus, CON, VPCI_REGION_MSIX_TABLE, 32, 4), 0);
	cr_expect_eq(vpci_msix_read(&bus, CON, VPCI_REGION_MSIX_TABLE, ~0ull - 3, 4), 0);
	cr_expect_eq(vpci_msix_read(&bus, CON, VPCI_REGION_MSIX_PBA, 8, 4), 0);
	cr_expect_eq(vpci_msix_read(&bus, CON, VPCI_REGION_COMMON, 0, 4), 0);
	cr_expect_eq(vpci_msix_read(&bus, 0, VPCI_REGION_MSIX_TABLE, 0, 4), 0, "host bridge");
	cr_expect_eq(vpci_msix_read(&bus, 3, VPCI_REGION_MSIX_TABLE, 0, 4), 0, "empty slot");
	cr_expect_eq(vpci_msix_read(&bus, 1000, VPCI_REGION_MSIX_TABLE, 0, 4), 0);
}

Test(vpci, msix_mask_semantics)
{
	unsigned cap;
	uint64_t addr = 0;
	uint32_t data = 0;

	msix_setup();
	cap = msix_cap(CON);
	mwrite(TBL + 16, 8, 0xFEE00000ull);
	mwrite(TBL + 24, 8, 0x41);  /* data 0x41, unmasked */

	cr_expect_eq(vpci_msix_message(&bus, CON, 1, &addr, &data), VPCI_MSIX_DISABLED);
	wr(CON, cap + 2, 2, 0x8000);
	cr_expect_eq(rd(CON, cap + 2, 2), 0x8001, "enable set, table size read-only");
	wr(CON, 0x04, 2, 0x0002);
	cr_expect_eq(vpci_msix_message(&bus, CON, 1, &addr, &data), VPCI_MSIX_NO_MASTER);
	wr(CON, 0x04, 2, 0x0006);
	cr_expect_eq(vpci_msix_message(&bus, CON, 1, &addr, &data), 0);
	cr_expect_eq(addr, 0xFEE00000ull);
	cr_expect_eq(data, 0x41);
	cr_expect_eq(mread(PBA, 8), 0);
	cr_expect_eq(vpci_msix_pop_pending(&bus, CON), -1);

	/* Vector 0 is still masked: pending, then sent once unmasked. */
	cr_expect_eq(vpci_msix_message(&bus, CON, 0, &addr, &data), VPCI_MSIX_MASKED);
	cr_expect_eq(mread(PBA, 8), 1);
	cr_expect_eq(mread(PBA, 4), 1);
	cr_expect_eq(vpci_msix_pop_pending(&bus, CON), -1, "still masked");
	mwrite(TBL + 12, 4, 0);
	cr_expect_eq(vpci_msix_pop_pending(&bus, CON), 0);
	cr_expect_eq(mread(PBA, 8), 0, "pending cleared");
	cr_expect_eq(vpci_msix_pop_pending(&bus, CON), -1);

	/* Function mask holds every vector. */
	wr(CON, cap + 3, 1, 0xC0);
	cr_expect_eq(rd(CON, cap + 2, 2), 0xC001);
	cr_expect_eq(vpci_msix_message(&bus, CON, 1, &addr, &data), VPCI_MSIX_FMASKED);
	cr_expect_eq(vpci_msix_message(&bus, CON, 0, &addr, &data), VPCI_MSIX_FMASKED);
	cr_expect_eq(mread(PBA, 8), 3);
	cr_expect_eq(vpci_msix_pop_pending(&bus, CON), -1);
	mwrite(TBL + 28, 4, 1); /* mask vector 1 itself */
	wr(CON, cap + 2, 2, 0x8000);
	cr_expect_eq(vpci_msix_pop_pending(&bus, CON), 0);
	cr_expect_eq(vpci_msix_pop_pending(&bus, CON), -1, "vector 1 masked");
	cr_expect_eq(mread(PBA, 8), 2);
	mwrite(TBL + 28, 4, 0);
	cr_expect_eq(vpci_msix_pop_pending(&bus, CON), 1);
	cr_expect_eq(vpci_msix_message(&bus, CON, 1, &addr, &data), 0);

	/* Disabled: nothing pends, the device would use INTx. */
	wr(CON, cap + 2, 2, 0);
	cr_expect_eq(vpci_msix_message(&bus, CON, 1, &addr, &data), VPCI_MSIX_DISABLED);
	cr_expect_eq(mread(PBA, 8), 0);

	cr_expect_eq(vpci_msix_message(&bus, CON, 2, &addr, &data), MICA_EINVAL);
	cr_expect_eq(vpci_msix_message(&bus, 0, 0, &addr, &data), MICA_EINVAL);
	cr_expect_eq(vpci_msix_message(&bus, 3, 0, &addr, &data), MICA_EINVAL);
	cr_expect_eq(vpci_msix_message(&bus, VPCI_SLOTS, 0, &addr, &data), MICA_EINVAL);
	cr_expect_eq(vpci_msix_pop_pending(&bus, 3), -1);
}

Test(vpci, msix_pba_of_many_vectors)
{
	uint64_t addr;
	uint32_t data;
	unsigned cap = msix_cap(NET);

	cr_assert_eq(vpci_assign_bar(&bus, NET, 0x100000000ull), 0);
	wr(NET, 0x04, 2, 0x0006);
	wr(NET, cap + 2, 2, 0x8000);
	cr_expect_eq(vpci_msix_message(&bus, NET, 63, &addr, &data), VPCI_MSIX_MASKED);
	cr_expect_eq(vpci_msix_message(&bus, NET, 33, &addr, &data), VPCI_MSIX_MASKED);
	cr_expect_eq(vpci_msix_read(&bus, NET, VPCI_REGION_MSIX_PBA, 0, 8),
		     1ull << 63 | 1ull << 33);
	cr_expect_eq(vpci_msix_read(&bus, NET, VPCI_REGION_MSIX_PBA, 4, 4), 0x80000002u);
	cr_expect_eq(vpci_msix_message(&bus, NET, 64, &addr, &data), MICA_EINVAL);
	vpci_msix_write(&bus, NET, VPCI_REGION_MSIX_TABLE, 63 * 16 + 12, 4, 0);
	vpci_msix_write(&bus, NET, VPCI_REGION_MSIX_TABLE, 33 * 16 + 12, 4, 0);
	cr_expect_eq(vpci_msix_pop_pending(&bus, NET), 33, "lowest first");
	cr_expect_eq(vpci_msix_pop_pending(&bus, NET), 63);
	cr_expect_eq(vpci_msix_pop_pending(&bus, NET), -1);
}

Test(vpci, absent_functions_read_all_ones)
{
	static const uint64_t where[] = {
		ECAM(0, 3, 0, 0), ECAM(0, 15, 0, 0), ECAM(0, 16, 0, 0), ECAM(0, 31, 0, 0),
		ECAM(0, 0, 1, 0), ECAM(0, CON, 1, 0), ECAM(0, CON, 7, 0x40), ECAM(1, 0, 0, 0),
		ECAM(1, CON, 0, 0), ECAM(255, 31, 7, 0xFFC), 1ull << 28, 1ull << 52, ~3ull,
	};
	for (unsigned i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		cr_expect_eq(vpci_cfg_read(&bus, where[i], 4), 0xFFFFFFFF, "%#lx",
			     (unsigned long)where[i]);
		cr_expect_eq(vpci_cfg_read(&bus, where[i], 2), 0xFFFF);
		cr_expect_eq(vpci_cfg_read(&bus, where[i] + 3, 1), 0xFF);
		vpci_cfg_write(&bus, where[i], 4, 0);
		vpci_cfg_write(&bus, where[i] + 4, 4, 0x0006);
	}
	cr_expect_eq(rd(3, 0, 4), 0xFFFFFFFF, "writes create nothing");
	cr_expect_eq(rd(CON, 0, 4), 0x10431AF4, "and change nothing present");
	cr_expect_eq(rd(CON, 4, 2), 0);
	cr_expect_eq(rd(0, 0, 4), 0x00081B36);
}

Test(vpci, odd_sizes_and_offsets)
{
	/* Inside one dword: byte enables. */
	cr_expect_eq(rd(CON, 0x01, 2), 0x431A);
	cr_expect_eq(rd(CON, 0x01, 1), 0x1A);
	cr_expect_eq(rd(CON, 0x03, 1), 0x10);
	cr_expect_eq(rd(CON, 0x09, 2), 0x8000);
	cr_expect_eq(rd(CON, 0x0A, 2), 0x0780);
	cr_expect_eq(rd(CON, 0x0B, 1), 0x07);
	/* Crossing a dword, or sizes ECAM does not carry: all ones, writes ignored. */
	cr_expect_eq(rd(CON, 0x03, 2), 0xFFFF);
	cr_expect_eq(rd(CON, 0x02, 4), 0xFFFFFFFF);
	cr_expect_eq(rd(CON, 0x01, 4), 0xFFFFFFFF);
	cr_expect_eq(rd(CON, 0x00, 3), 0xFFFFFF);
	cr_expect_eq(rd(CON, 0x00, 0), 0);
	cr_expect_eq(rd(CON, 0x00, 8), 0xFFFFFFFF);
	cr_expect_eq(rd(CON, 0x00, 0x80000000u), 0xFFFFFFFF);
	wr(CON, 0x03, 2, 0x0606);  /* would set memory space + master in command */
	wr(CON, 0x02, 4, 0x06060606);
	wr(CON, 0x04, 3, 0x000006);
	wr(CON, 0x04, 8, 0x06);
	wr(CON, 0x04, 0, 0x06);
	cr_expect_eq(rd(CON, 0x04, 2), 0);
	wr(CON, 0x05, 1, 0x04);
	cr_expect_eq(rd(CON, 0x04, 2), 0x0400, "high byte alone: INTx disable");
	wr(CON, 0x05, 2, 0xFFFF);
	cr_expect_eq(rd(CON, 0x04, 4), 0x00100500, "status read-only, byte 5 changed");
	/* Extended configuration space: nothing there. */
	cr_expect_eq(rd(CON, 0x100, 4), 0);
	cr_expect_eq(rd(CON, 0xFFC, 4), 0);
	cr_expect_eq(rd(CON, 0xFFF, 1), 0);
	wr(CON, 0x100, 4, 0xFFFFFFFF);
	cr_expect_eq(rd(CON, 0x100, 4), 0);
}


Test(vpci, pci_cfg_capability)
{
	struct vcap vc[6];
	unsigned msix, p;

	walk(CON, vc, &msix);
	p = vc[5].pos;
	/* Reads without a handler: 0. */
	wr(CON, p + 4, 1, 0);
	wr(CON, p + 8, 4, 0x14);
	wr(CON, p + 12, 4, 2);
	cr_expect_eq(rd(CON, p + 4, 4), 0, "bar, id, padding");
	cr_expect_eq(rd(CON, p + 8, 4), 0x14);
	cr_expect_eq(rd(CON, p + 12, 4), 2);
	cr_expect_eq(rd(CON, p + 16, 4), 0);

	attach_all();
	/* Common config, 2 bytes at 0x14 (device_status & config_generation). */
	cr_expect_eq(rd(CON, p + 16, 4), 0x0000F00D, "only cap.length bytes replaced");
	cr_expect_eq(seen.calls, 1);
	cr_expect_eq(seen.r, VPCI_REGION_COMMON);
	cr_expect_eq(seen.off, 0x14);
	cr_expect_eq(seen.size, 2);
	cr_expect_eq(seen.write, 0);
	cr_expect_eq(seen.slot, CON);
	/* Notify write, no memory decoding needed. */
	wr(CON, p + 8, 4, 0x3008);
	wr(CON, p + 12, 4, 4);
	wr(CON, p + 16, 4, 2);
	cr_expect_eq(seen.calls, 2);
	cr_expect_eq(seen.r, VPCI_REGION_NOTIFY);
	cr_expect_eq(seen.off, 8);
	cr_expect_eq(seen.write, 1);
	cr_expect_eq(seen.val, 2);
	wr(CON, p + 17, 1, 0);
	cr_expect_eq(seen.calls, 3, "any write touching the data");
	cr_expect_eq(seen.val, 2);
	/* Notify through BAR2, no I/O decoding needed: queue 3 at port offset 6, the offset
	 * the owner sees is BAR0's (3 * 4). */
	wr(CON, p + 4, 1, 2);
	wr(CON, p + 8, 4, 6);
	wr(CON, p + 12, 4, 2);
	wr(CON, p + 16, 2, 3);
	cr_expect_eq(seen.calls, 4);
	cr_expect_eq(seen.r, VPCI_REGION_NOTIFY);
	cr_expect_eq(seen.off, 12);
	cr_expect_eq(seen.val, 3);
	wr(CON, p + 8, 4, 7);      /* odd: no register there */
	wr(CON, p + 12, 4, 1);
	wr(CON, p + 16, 1, 3);
	wr(CON, p + 8, 4, 0x10);   /* past BAR2 */
	wr(CON, p + 16, 1, 3);
	cr_expect_eq(seen.calls, 4);
	wr(CON, p + 4, 1, 0);
	wr(CON, p + 12, 4, 4);

	/* MSI-X table through the window, served here. */
	wr(CON, p + 8, 4, 0x4018);
	wr(CON, p + 16, 4, 0x55);
	cr_expect_eq(vpci_msix_read(&bus, CON, VPCI_REGION_MSIX_TABLE, 0x18, 4), 0x55);
	cr_expect_eq(seen.calls, 4);
	wr(CON, p + 8, 4, 0x400C);
	cr_expect_eq(rd(CON, p + 16, 4), 1, "vector 0 masked");

	/* Requests the spec does not allow do nothing. */
	seen.calls = 0;
	wr(CON, p + 8, 4, 0x0014);
	wr(CON, p + 12, 4, 3);
	rd(CON, p + 16, 4);
	wr(CON, p + 12, 4, 4);
	wr(CON, p + 8, 4, 0x0016); /* unaligned */
	rd(CON, p + 16, 4);
	wr(CON, p + 8, 4, 0x8000); /* past the BAR */
	rd(CON, p + 16, 4);
	wr(CON, p + 8, 4, 0x1004); /* a hole: no handler call */
	rd(CON, p + 16, 4);
	wr(CON, p + 8, 4, 0);
	wr(CON, p + 4, 1, 1);      /* BAR1 is the upper half of BAR0 */
	cr_expect_eq(rd(CON, p + 4, 1), 1);
	rd(CON, p + 16, 4);
	cr_expect_eq(seen.calls, 0);
}

Test(vpci, add_virtio_checks)
{
	struct vpci b;

	vpci_init(&b, NULL);
	cr_expect_eq(vpci_add_virtio(&b, 0, 1, 1, 0, 0, err, sizeof(err)), MICA_EINVAL);
	cr_expect(strstr(err, "slot 0") != NULL, "%s", err);
	cr_expect_eq(vpci_add_virtio(&b, VPCI_SLOTS, 1, 1, 0, 0, err, sizeof(err)), MICA_EINVAL);
	cr_expect_eq(vpci_add_virtio(&b, 1, 0, 1, 0, 0, err, sizeof(err)), MICA_EINVAL);
	cr_expect(strstr(err, "device ID 0") != NULL, "%s", err);
	cr_expect_eq(vpci_add_virtio(&b, 1, 0x40, 1, 0, 0, err, sizeof(err)), MICA_EINVAL);
	cr_expect_eq(vpci_add_virtio(&b, 1, 1, 0, 0, 0, err, sizeof(err)), MICA_EINVAL);
	cr_expect_eq(vpci_add_virtio(&b, 1, 1, VPCI_MSIX_MAX + 1, 0, 0, err, sizeof(err)),
		     MICA_EINVAL);
	cr_expect(strstr(err, "MSI-X") != NULL, "%s", err);
	cr_expect_eq(vpci_add_virtio(&b, 1, 1, 1, VPCI_DEVICE_MAX + 1, 0, NULL, 0), MICA_EINVAL);
	cr_expect_eq(vpci_cfg_read(&b, ECAM(0, 1, 0, 0), 4), 0xFFFFFFFF, "nothing added");
	cr_expect_eq(vpci_add_virtio(&b, 1, 0x3F, VPCI_MSIX_MAX, VPCI_DEVICE_MAX, 0, err,
				     sizeof(err)), 0);
	cr_expect_eq(vpci_cfg_read(&b, ECAM(0, 1, 0, 0), 4), 0x107F1AF4);
	cr_expect_eq(vpci_cfg_read(&b, ECAM(0, 1, 0, 8), 4), 0xFF000001, "class ff: other types");
	cr_expect_eq(vpci_add_virtio(&b, 1, 1, 1, 0, 0, err, sizeof(err)), MICA_EINVAL);
	cr_expect(strstr(err, "taken") != NULL, "%s", err);
}

/* Random accesses: never a crash (ASan/UBSan watch), and the read-only identity and
 * capability chain survive. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

Test(vpci, fuzz)
{
	static const unsigned sizes[] = { 0, 1, 2, 3, 4, 8, 16, 0xFFFFFFFFu };
	uint8_t before[VPCI_SLOTS][0x40];
	struct vcap vc[6];
	unsigned msix, hits = 0;

	attach_all();
	for (unsigned s = 0; s < VPCI_SLOTS; s++) {
		for (unsigned r = 0; r < 0x40; r++)
			before[s][r] = (uint8_t)rd(s, r, 1);
		if (vpci_assign_bar(&bus, s, 0xE0000000u + 0x8000u * s) == 0)
			wr(s, 0x04, 2, 0x0006);
	}
	for (unsigned i = 0; i < 300000; i++) {
		uint64_t x = next(), off, addr;
		unsigned size = sizes[x & 7], slot, bar;
		uint32_t val = (uint32_t)(next() >> 7), data;
		enum vpci_region r;

		/* Mostly bus 0 and real registers, sometimes anywhere. */
		if ((x >> 3) & 1)
			off = next();
		else
			off = ECAM(0, (x >> 4) & 0x1F, (x >> 9) & 1 ? (x >> 10) & 7 : 0,
				   (x >> 13) & ((x >> 25) & 1 ? 0xFFF : 0xFF));
		switch ((x >> 26) & 7) {
		case 0:
		case 1:
			vpci_cfg_read(&bus, off, size);
			break;
		case 2:
		case 3:
			/* Not the IDs: those are checked below as read-only anyway. */
			vpci_cfg_write(&bus, off, size, val);
			break;
		case 4:
			if (((x >> 40) & 0x3F) == 0) /* put the BARs back now and then */
				for (unsigned s = 1; s < VPCI_SLOTS; s++)
					if (vpci_assign_bar(&bus, s, 0xE0000000u + 0x8000u * s) == 0)
						wr(s, 0x04, 2, 0x0006);
			if ((x >> 29) & 1)
				addr = next();
			else if ((x >> 31) & 1) /* some BAR's MSI-X page, or anywhere in it */
				addr = 0xE0000000u + (next() & ((x >> 32) & 1 ? 0x7FFFF : 0x7887F)) +
				       ((x >> 32) & 1 ? 0 : 0x4000);
			else
				addr = (next() & 0xF) << 28 | (next() & 0xFFFF);
			r = vpci_bar_lookup(&bus, addr, &slot, &bar, &off);
			if (r == VPCI_REGION_MSIX_TABLE || r == VPCI_REGION_MSIX_PBA) {
				hits++;
				if ((x >> 30) & 1)
					vpci_msix_write(&bus, slot, r, off, size, next());
				else
					vpci_msix_read(&bus, slot, r, off, size);
			}
			break;
		case 5:
			vpci_msix_write(&bus, (x >> 30) & 0x1F, (enum vpci_region)((x >> 35) & 7),
					next() & ((x >> 38) & 1 ? ~0ull : 0x1FFF), size, next());
			break;
		case 6:
			vpci_msix_read(&bus, (x >> 30) & 0x1F, (enum vpci_region)((x >> 35) & 7),
				       next() & ((x >> 38) & 1 ? ~0ull : 0x1FFF), size);
			break;
		default:
			if (vpci_msix_message(&bus, (x >> 30) & 0x1F, (x >> 35) & 0x7F, &addr,
					      &data) == 0)
				cr_assert_eq(addr & 3, 0);
			vpci_msix_pop_pending(&bus, (x >> 30) & 0x1F);
			break;
		}
	}
	cr_expect_gt(hits, 100, "MSI-X reached through the lookup %u times", hits);
	for (unsigned s = 0; s < VPCI_SLOTS; s++)
		for (unsigned r = 0; r < 0x40; r++) {
			if (r == 0x04 || r == 0x05 || r == 0x0C || (r >= 0x10 && r < 0x1C) ||
			    r == 0x3C)
				continue; /* command, cache line, BAR0-2, interrupt line */
			cr_assert_eq((uint8_t)rd(s, r, 1), before[s][r], "slot %u reg %#x", s, r);
		}
	walk(CON, vc, &msix);
	cr_expect(vc[1].seen && vc[2].seen && vc[3].seen && vc[4].seen && vc[5].seen);
	cr_expect_eq(vc[2].mult, 2);
	cr_expect_eq(vc[0].mult, 4);
	walk(BLK, vc, &msix);
	cr_expect_eq(vc[4].length, 0x3C);
	cr_expect_eq(rd(BLK, msix + 4, 4), 0x4000);
	walk(NET, vc, &msix);
	cr_expect_eq(rd(NET, msix + 8, 4), 0x4800);
}

Test(vpci, cf8_mechanism_one)
{
	uint64_t off = 0;

	/* enable | bus 0 | device 3 | function 0 | register 0x10 */
	cr_assert_eq(vpci_cf8_offset(0x80000000u | 3u << 11 | 0x10, 0, &off), 0);
	cr_expect_eq(off, (3ull << 15) | 0x10);
	cr_assert_eq(vpci_cf8_offset(0x80000000u | 1u << 11 | 2u << 8 | 0x3c, 2, &off), 0);
	cr_expect_eq(off, (1ull << 15) | (2ull << 12) | 0x3e, "data port 0xCFE: byte 2");
	cr_expect_eq(vpci_cf8_offset(0x80000000u | 0x13, 0, &off), 0, "the low bits are ignored");
	cr_expect_eq(off, 0x10);
	cr_expect_eq(vpci_cf8_offset(3u << 11, 0, &off), -1, "enable bit clear");
	cr_expect_eq(vpci_cf8_offset(0x80000000u | 1u << 16, 0, &off), -1, "bus 1 does not exist");
	cr_expect_eq(vpci_cf8_offset(0x80000000u, 4, &off), -1, "only four data ports");
}
