/* kernel/host/pci.c: enumeration of a fake configuration space shaped like a QEMU q35
 * machine (bridges, aliasing bridges, broken bus numbers, looping capability lists), BAR
 * sizing that puts everything back, class names and the config's PCI addresses. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/host/pci.h"

/* One function: its registers, which bits of each dword a write changes (everything else
 * is read-only), and a copy taken before the scan. */
struct fn {
	uint32_t reg[1024], wmask[1024], before[1024];
	unsigned reads, writes;
};

static struct {
	uint16_t seg;
	struct fn *f[256][32][8];
	unsigned writes;
	unsigned bad_writes; /* to a register that is neither command, BAR nor ROM */
	unsigned hot;        /* BAR or ROM written while memory or I/O decode was on */
	unsigned misaligned;
} fk;

static struct hpci_list list;

static int bar_reg(const struct fn *f, unsigned reg)
{
	switch ((f->reg[3] >> 16) & 0x7F) {
	case 0:
		return (reg >= 0x10 && reg <= 0x24) || reg == 0x30;
	case 1:
		return reg == 0x10 || reg == 0x14 || reg == 0x38;
	}
	return 0;
}

static uint32_t fk_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
			unsigned reg)
{
	cr_assert_eq(ctx, &fk);
	if (reg % 4 || reg >= 4096 || dev >= 32 || fn >= 8) {
		fk.misaligned++;
		return 0xFFFFFFFFu;
	}
	struct fn *f = seg == fk.seg ? fk.f[bus][dev][fn] : NULL;
	if (!f)
		return 0xFFFFFFFFu;
	f->reads++;
	return f->reg[reg / 4];
}

static void fk_write(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
		     unsigned reg, uint32_t val)
{
	cr_assert_eq(ctx, &fk);
	if (reg % 4 || reg >= 4096 || dev >= 32 || fn >= 8) {
		fk.misaligned++;
		return;
	}
	struct fn *f = seg == fk.seg ? fk.f[bus][dev][fn] : NULL;
	if (!f)
		return;
	fk.writes++;
	f->writes++;
	if (reg != 0x04 && !bar_reg(f, reg))
		fk.bad_writes++;
	if (bar_reg(f, reg) && (f->reg[1] & 3))
		fk.hot++;
	uint32_t *r = &f->reg[reg / 4];
	if (reg == 0x04)
		*r &= ~(val & 0xF8000000u); /* status bits 15:11 are write-1-to-clear */
	*r = (*r & ~f->wmask[reg / 4]) | (val & f->wmask[reg / 4]);
}

static const struct hpci_cfg cfg = { .read = fk_read, .write = fk_write, .ctx = &fk };

static void reset(void)
{
	for (unsigned b = 0; b < 256; b++)
		for (unsigned d = 0; d < 32; d++)
			for (unsigned f = 0; f < 8; f++) {
				free(fk.f[b][d][f]);
				fk.f[b][d][f] = NULL;
			}
	memset(&fk, 0, sizeof(fk));
	memset(&list, 0, sizeof(list));
}

/* --- building functions --- */

static struct fn *add(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t ven, uint16_t did,
		      uint32_t class, uint8_t rev, uint8_t hdr)
{
	struct fn *f = calloc(1, sizeof(*f));
	cr_assert(f);
	fk.f[bus][dev][fn] = f;
	f->reg[0] = (uint32_t)did << 16 | ven;
	f->reg[1] = 0x0007;      /* I/O, memory, bus master: firmware turned decoding on */
	f->wmask[1] = 0x0000FFFF;
	f->reg[2] = class << 8 | rev;
	f->reg[3] = (uint32_t)hdr << 16;
	return f;
}

static void set(struct fn *f, unsigned off, uint32_t v)
{
	f->reg[off / 4] = v;
}

static void mem32(struct fn *f, unsigned i, uint32_t base, uint32_t size, int pref)
{
	f->reg[4 + i] = base | (pref ? 8 : 0);
	f->wmask[4 + i] = ~(size - 1) & ~0xFu;
}

static void mem64(struct fn *f, unsigned i, uint64_t base, uint64_t size, int pref)
{
	f->reg[4 + i] = (uint32_t)base | 4 | (pref ? 8 : 0);
	f->wmask[4 + i] = (uint32_t)~(size - 1) & ~0xFu;
	f->reg[5 + i] = (uint32_t)(base >> 32);
	f->wmask[5 + i] = (uint32_t)(~(size - 1) >> 32);
}

static void iobar(struct fn *f, unsigned i, uint32_t base, uint32_t size, int decode16)
{
	f->reg[4 + i] = base | 1;
	f->wmask[4 + i] = ~(size - 1) & ~3u & (decode16 ? 0xFFFFu : 0xFFFFFFFFu);
}

static void rom(struct fn *f, unsigned reg, uint32_t base, uint32_t size)
{
	f->reg[reg / 4] = base;
	f->wmask[reg / 4] = (~(size - 1) & 0xFFFFF800u) | 1;
}

static void buses(struct fn *f, uint8_t pri, uint8_t sec, uint8_t sub)
{
	f->reg[0x18 / 4] = (uint32_t)sub << 16 | (uint32_t)sec << 8 | pri;
}

/* A capability list starting at ptr, announced in status bit 4. */
static void caps(struct fn *f, uint8_t ptr)
{
	f->reg[1] |= 0x10u << 16;
	f->reg[0x34 / 4] = ptr;
}

static void cap(struct fn *f, uint8_t off, uint8_t id, uint8_t next, uint16_t ctrl)
{
	f->reg[off / 4] = (uint32_t)ctrl << 16 | (uint32_t)next << 8 | id;
}

static void pcie(struct fn *f, uint8_t off, uint8_t next, uint8_t type, int flr)
{
	cap(f, off, 0x10, next, (uint16_t)(type << 4 | 2));
	set(f, off + 4, flr ? 1u << 28 | 0x8000 : 0x8000);
}

#define PIN(f, p) set((f), 0x3C, (uint32_t)(p) << 8 | 11)

#define VGA_BAR0  0xFD000000u
#define NVME_BAR0 0xFEBD4000u
#define EDU_BAR0  0xFEA00000u
#define NET_BAR4  0x800000000ull /* 8 GiB, aligned to its size */
#define NET_BAR2  0xC00004000ull

/* A q35 machine, as QEMU would show it with a few extra devices (and some broken ones):
 *   00:00.0 host bridge, 00:01.0 VGA with ROM, 00:02.0 NVMe, 00:03.0 virtio-net,
 *   00:04.0 edu (00:04.1 answers too, but 00:04.0 is single-function),
 *   00:05.0 / 00:06.0 / 00:08.0 odd capability lists, 00:07.0 vendor FFFF, 00:09.1 without
 *   a function 0,
 *   00:1c.0 root port -> 1..3: 01:00.0 PCIe-to-PCI bridge -> 2..3: 02:01.0, 02:02.0,
 *     02:03.0 PCI bridge -> 3: 03:00.0; 02:04.0 bridge back to bus 1,
 *   00:1c.1 root port -> 4..6: 04:00.0 e1000e; 04:01.0 bridge to bus 4, 04:02.0 bridge
 *     to 6 with subordinate 5 (05:00.0 and 06:00.0 exist but are reached by nothing),
 *   00:1d.0 bridge to bus 0, 00:1d.1 a second bridge to bus 1,
 *   00:1e.0 conventional PCI bridge -> 7..8: 07:00.0, 07:01.0, 07:02.0 bridge -> 8: 08:00.0,
 *   00:1f.0 LPC, 00:1f.2 SATA, 00:1f.3 SMBus. */
static void q35(void)
{
	reset();
	struct fn *f;

	add(0, 0, 0, 0x8086, 0x29c0, 0x060000, 0, 0);

	f = add(0, 1, 0, 0x1234, 0x1111, 0x030000, 2, 0);
	mem32(f, 0, VGA_BAR0, 16 << 20, 1);
	mem32(f, 2, 0xFEBD0000u, 0x1000, 0);
	rom(f, 0x30, 0xFEB80000u, 0x10000);

	f = add(0, 2, 0, 0x1b36, 0x0010, 0x010802, 2, 0);
	f->reg[1] |= 0x2000u << 16; /* a master abort recorded in status: must survive */
	PIN(f, 1);
	mem64(f, 0, NVME_BAR0, 0x4000, 0);
	caps(f, 0x40);
	cap(f, 0x40, 0x11, 0x60, 64);     /* MSI-X, 65 entries */
	set(f, 0x44, 0x2000 | 0);         /* table: BIR 0, offset 0x2000 */
	set(f, 0x48, 0x3000 | 0);         /* PBA: BIR 0, offset 0x3000 */
	cap(f, 0x60, 0x01, 0x80, 0x0003); /* PM */
	set(f, 0x64, 0x0008);             /* PMCSR: No_Soft_Reset */
	pcie(f, 0x80, 0, 0x0, 1);

	f = add(0, 3, 0, 0x1af4, 0x1041, 0x020000, 1, 0);
	iobar(f, 0, 0xC000, 0x20, 1);
	mem64(f, 2, NET_BAR2, 0x4000, 1);
	mem64(f, 4, NET_BAR4, 8ull << 30, 1);
	f->reg[1] = 0x0003;

	f = add(0, 4, 0, 0x1234, 0x11e8, 0x00ff00, 0x10, 0);
	PIN(f, 1);
	mem32(f, 0, EDU_BAR0, 1 << 20, 0);
	caps(f, 0x40);
	cap(f, 0x40, 0x05, 0, 0x0080);
	f = add(0, 4, 1, 0x1234, 0x11e8, 0x00ff00, 0x10, 0); /* function 0 answering again */

	f = add(0, 5, 0, 0x1234, 0x0005, 0x078000, 0, 0); /* capability list that loops */
	caps(f, 0x40);
	cap(f, 0x40, 0x05, 0x50, 0x0001);
	cap(f, 0x50, 0x01, 0x60, 0x0003);
	cap(f, 0x60, 0x01, 0x40, 0x0003); /* a second PM capability: the first one counts */
	set(f, 0x64, 0x0008);

	f = add(0, 6, 0, 0x1234, 0x0006, 0x078000, 0, 0); /* next pointer into the header */
	caps(f, 0x40);
	pcie(f, 0x40, 0x3C, 0x0, 0);
	set(f, 0x3C, 0x11); /* interrupt line 0x11 would read as an MSI-X ID */

	add(0, 7, 0, 0xFFFF, 0x1234, 0x020000, 0, 0);

	f = add(0, 8, 0, 0x1234, 0x0008, 0x078000, 0, 0); /* pointer but no status bit 4 */
	set(f, 0x34, 0x40);
	cap(f, 0x40, 0x05, 0, 0x0080);

	add(0, 9, 1, 0x1234, 0x0009, 0x078000, 0, 0);

	f = add(0, 0x1c, 0, 0x1b36, 0x000c, 0x060400, 0, 0x81);
	buses(f, 0, 1, 3);
	caps(f, 0x40);
	pcie(f, 0x40, 0, 0x4, 0);
	f = add(0, 0x1c, 1, 0x1b36, 0x000c, 0x060400, 0, 0x01);
	buses(f, 0, 4, 6);
	caps(f, 0x40);
	pcie(f, 0x40, 0, 0x4, 0);

	f = add(1, 0, 0, 0x1b36, 0x000e, 0x060400, 0, 1);
	buses(f, 1, 2, 3);
	caps(f, 0x40);
	pcie(f, 0x40, 0, 0x7, 0);

	f = add(2, 1, 0, 0x8086, 0x100e, 0x020000, 3, 0);
	mem32(f, 0, 0xFE000000u, 0x20000, 0);
	iobar(f, 1, 0xD000, 0x40, 0); /* a full 32-bit I/O decoder */
	add(2, 2, 0, 0x1000, 0x0012, 0x010000, 0, 0);
	f = add(2, 3, 0, 0x1b36, 0x0001, 0x060400, 0, 1);
	buses(f, 2, 3, 3);
	mem32(f, 0, 0xFE800000u, 0x100, 0);
	set(f, 0x1C, 0x0000F1F0); /* I/O base/limit: must not be touched */
	add(3, 0, 0, 0x8086, 0x2415, 0x040100, 1, 0);
	f = add(2, 4, 0, 0x1b36, 0x0001, 0x060400, 0, 1);
	buses(f, 2, 1, 1);

	f = add(4, 0, 0, 0x8086, 0x10d3, 0x020000, 0, 0);
	caps(f, 0xC8);
	pcie(f, 0xC8, 0, 0x0, 0);
	f = add(4, 1, 0, 0x1b36, 0x0001, 0x060400, 0, 1);
	buses(f, 4, 4, 4);
	f = add(4, 2, 0, 0x1b36, 0x0001, 0x060400, 0, 1);
	buses(f, 4, 6, 5);
	add(5, 0, 0, 0x1234, 0x0505, 0x020000, 0, 0);
	add(6, 0, 0, 0x1234, 0x0606, 0x020000, 0, 0);

	f = add(0, 0x1d, 0, 0x1b36, 0x0001, 0x060400, 0, 0x81);
	buses(f, 0, 0, 0);
	f = add(0, 0x1d, 1, 0x1b36, 0x0001, 0x060400, 0, 0x01);
	buses(f, 0, 1, 3);

	f = add(0, 0x1e, 0, 0x8086, 0x244e, 0x060401, 0, 1);
	buses(f, 0, 7, 8);
	rom(f, 0x38, 0, 0x800);
	add(7, 0, 0, 0x10ec, 0x8139, 0x020000, 0x20, 0);
	add(7, 1, 0, 0x1274, 0x5000, 0x040100, 0, 0);
	f = add(7, 2, 0, 0x1011, 0x0026, 0x060400, 0, 1);
	buses(f, 7, 8, 8);
	add(8, 0, 0, 0x8086, 0x1229, 0x020000, 8, 0);

	add(0, 0x1f, 0, 0x8086, 0x2918, 0x060100, 2, 0x80);
	f = add(0, 0x1f, 2, 0x8086, 0x2922, 0x010601, 2, 0);
	iobar(f, 4, 0xC080, 0x20, 1);
	mem32(f, 5, 0xFEBD5000u, 0x1000, 0);
	f = add(0, 0x1f, 3, 0x8086, 0x2930, 0x0c0500, 2, 0);
	iobar(f, 4, 0x0700, 0x40, 1);
}

static void snapshot(void)
{
	for (unsigned b = 0; b < 256; b++)
		for (unsigned d = 0; d < 32; d++)
			for (unsigned n = 0; n < 8; n++) {
				struct fn *f = fk.f[b][d][n];
				if (f)
					memcpy(f->before, f->reg, sizeof(f->reg));
			}
}

static unsigned changed(void)
{
	unsigned c = 0;
	for (unsigned b = 0; b < 256; b++)
		for (unsigned d = 0; d < 32; d++)
			for (unsigned n = 0; n < 8; n++) {
				struct fn *f = fk.f[b][d][n];
				if (f && memcmp(f->before, f->reg, sizeof(f->reg)))
					c++;
			}
	return c;
}

static void scan_q35(void)
{
	q35();
	snapshot();
	hpci_scan(&cfg, 0, 0, &list);
}

static const struct hpci_dev *at(uint8_t bus, uint8_t dev, uint8_t fn)
{
	int i = hpci_find(&list, 0, bus, dev, fn);
	cr_assert_geq(i, 0, "%02x:%02x.%x not found", bus, dev, fn);
	return &list.dev[i];
}

static int idx(uint8_t bus, uint8_t dev, uint8_t fn)
{
	return (int)(at(bus, dev, fn) - list.dev);
}

/* --- tests --- */

Test(host_pci, finds_every_function_depth_first, .timeout = 10)
{
	static const uint8_t order[][3] = {
		{ 0, 0, 0 }, { 0, 1, 0 }, { 0, 2, 0 }, { 0, 3, 0 }, { 0, 4, 0 }, { 0, 5, 0 },
		{ 0, 6, 0 }, { 0, 8, 0 }, { 0, 0x1c, 0 }, { 1, 0, 0 }, { 2, 1, 0 }, { 2, 2, 0 },
		{ 2, 3, 0 }, { 3, 0, 0 }, { 2, 4, 0 }, { 0, 0x1c, 1 }, { 4, 0, 0 }, { 4, 1, 0 },
		{ 4, 2, 0 }, { 0, 0x1d, 0 }, { 0, 0x1d, 1 }, { 0, 0x1e, 0 }, { 7, 0, 0 },
		{ 7, 1, 0 }, { 7, 2, 0 }, { 8, 0, 0 }, { 0, 0x1f, 0 }, { 0, 0x1f, 2 },
		{ 0, 0x1f, 3 },
	};
	scan_q35();
	unsigned n = sizeof(order) / sizeof(order[0]);
	cr_assert_eq(list.n, n, "found %u functions, expected %u", list.n, n);
	for (unsigned i = 0; i < n; i++) {
		const struct hpci_dev *d = &list.dev[i];
		cr_expect(d->seg == 0 && d->bus == order[i][0] && d->dev == order[i][1] &&
			  d->fn == order[i][2], "entry %u is %02x:%02x.%x, expected %02x:%02x.%x",
			  i, d->bus, d->dev, d->fn, order[i][0], order[i][1], order[i][2]);
		cr_expect_eq(hpci_find(&list, 0, order[i][0], order[i][1], order[i][2]), (int)i);
	}
	cr_expect_eq(list.skipped, 0);
	cr_expect_eq(fk.misaligned, 0);
}

Test(host_pci, absent_and_unreachable_functions_are_not_listed)
{
	scan_q35();
	cr_expect_eq(hpci_find(&list, 0, 0, 4, 1), -1, "00:04.0 is single-function");
	cr_expect_eq(hpci_find(&list, 0, 0, 7, 0), -1, "vendor FFFF is no function");
	cr_expect_eq(hpci_find(&list, 0, 0, 9, 1), -1, "no function 0, no device");
	cr_expect_eq(hpci_find(&list, 0, 0, 0x1f, 1), -1);
	cr_expect_eq(hpci_find(&list, 0, 5, 0, 0), -1, "bus 5 is nobody's secondary");
	cr_expect_eq(hpci_find(&list, 0, 6, 0, 0), -1, "04:02.0's range is empty");
	cr_expect_eq(hpci_find(&list, 1, 0, 0, 0), -1, "another segment");
	cr_expect_eq(hpci_find(&list, 0, 0, 0x1f, 4), -1);
	cr_expect_eq(fk.f[0][4][1]->reads, 0, "functions 1-7 of a single-function device unread");
}

Test(host_pci, ids_class_header_and_pin)
{
	scan_q35();
	const struct hpci_dev *d = at(0, 0, 0);
	cr_expect(d->vendor == 0x8086 && d->device == 0x29c0 && d->class == 0x060000);
	cr_expect_eq(d->header, HPCI_HDR_ENDPOINT);
	cr_expect_eq(d->upstream, -1);
	d = at(0, 2, 0);
	cr_expect(d->vendor == 0x1b36 && d->device == 0x0010);
	cr_expect_eq(d->class, 0x010802);
	cr_expect_eq(d->revision, 2);
	cr_expect_eq(d->int_pin, 1);
	cr_expect_eq(d->multifunction, 0);
	d = at(0, 4, 0);
	cr_expect(d->vendor == 0x1234 && d->device == 0x11e8 && d->class == 0x00ff00);
	cr_expect_eq(d->revision, 0x10);
	cr_expect_eq(d->int_pin, 1);
	cr_expect_eq(at(0, 1, 0)->int_pin, 0);
	cr_expect_eq(at(0, 0x1f, 0)->multifunction, 1);
	cr_expect_eq(at(0, 0x1f, 2)->multifunction, 0);
	cr_expect_eq(at(0, 0x1f, 3)->class, 0x0c0500);
	d = at(0, 0x1c, 0);
	cr_expect_eq(d->header, HPCI_HDR_BRIDGE, "the multifunction bit is not part of the type");
	cr_expect_eq(d->multifunction, 1);
	cr_expect(d->secondary == 1 && d->subordinate == 3);
	d = at(1, 0, 0);
	cr_expect(d->secondary == 2 && d->subordinate == 3);
	cr_expect_eq(at(0, 2, 0)->secondary, 0, "endpoints have no buses below");
}

Test(host_pci, upstream_is_the_bridge_above)
{
	scan_q35();
	cr_expect_eq(at(0, 0x1c, 0)->upstream, -1);
	cr_expect_eq(at(0, 0x1e, 0)->upstream, -1);
	cr_expect_eq(at(1, 0, 0)->upstream, idx(0, 0x1c, 0));
	cr_expect_eq(at(2, 1, 0)->upstream, idx(1, 0, 0));
	cr_expect_eq(at(2, 4, 0)->upstream, idx(1, 0, 0));
	cr_expect_eq(at(3, 0, 0)->upstream, idx(2, 3, 0));
	cr_expect_eq(at(4, 0, 0)->upstream, idx(0, 0x1c, 1));
	cr_expect_eq(at(4, 2, 0)->upstream, idx(0, 0x1c, 1));
	cr_expect_eq(at(7, 2, 0)->upstream, idx(0, 0x1e, 0));
	cr_expect_eq(at(8, 0, 0)->upstream, idx(7, 2, 0));
}

Test(host_pci, nvme_64bit_bar_msix_pm_and_pcie)
{
	scan_q35();
	const struct hpci_dev *d = at(0, 2, 0);
	cr_expect_eq(d->bar[0].base, NVME_BAR0);
	cr_expect_eq(d->bar[0].size, 0x4000);
	cr_expect_eq(d->bar[0].is64, 1);
	cr_expect_eq(d->bar[0].prefetch, 0);
	cr_expect_eq(d->bar[0].io, 0);
	cr_expect(d->bar[1].size == 0 && d->bar[1].base == 0 && !d->bar[1].is64,
		  "the upper half of a 64-bit BAR is no BAR");
	for (int i = 2; i < HPCI_BARS; i++)
		cr_expect_eq(d->bar[i].size, 0, "BAR%d", i);
	cr_expect_eq(d->rom_size, 0);
	cr_expect_eq(d->cap_msix, 0x40);
	cr_expect_eq(d->msix_size, 65);
	cr_expect_eq(d->msix_bir, 0);
	cr_expect_eq(d->msix_off, 0x2000);
	cr_expect_eq(d->pba_bir, 0);
	cr_expect_eq(d->pba_off, 0x3000);
	cr_expect_eq(d->cap_pm, 0x60);
	cr_expect_eq(d->pm_no_soft_reset, 1);
	cr_expect_eq(d->cap_pcie, 0x80);
	cr_expect_eq(d->pcie_type, HPCI_PCIE_ENDPOINT);
	cr_expect_eq(d->flr, 1);
	cr_expect_eq(d->cap_msi, 0);
	cr_expect_eq(d->ncap_vendor, 0);
	d = at(4, 0, 0);
	cr_expect_eq(d->cap_pcie, 0xC8);
	cr_expect_eq(d->flr, 0);
	cr_expect_eq(d->cap_pm, 0);
	cr_expect_eq(at(0, 0x1c, 0)->pcie_type, HPCI_PCIE_ROOT_PORT);
	cr_expect_eq(at(1, 0, 0)->pcie_type, HPCI_PCIE_TO_PCI_BRIDGE);
}

Test(host_pci, vendor_capabilities_in_order)
{
	q35();
	struct fn *f = fk.f[0][2][0];
	/* MSI-X at 0x40 -> vendor at 0x50 -> PCIe at 0x80 -> vendor at 0xA0 */
	cap(f, 0x40, 0x11, 0x50, 64);
	cap(f, 0x50, 0x09, 0x80, 0x0110); /* cap_len 16 */
	pcie(f, 0x80, 0xA0, 0x0, 1);
	cap(f, 0xA0, 0x09, 0x00, 0x0214);
	hpci_scan(&cfg, 0, 0, &list);
	const struct hpci_dev *d = at(0, 2, 0);
	cr_assert_eq(d->ncap_vendor, 2);
	cr_expect_eq(d->cap_vendor[0], 0x50);
	cr_expect_eq(d->cap_vendor[1], 0xA0);
	cr_expect_eq(d->cap_msix, 0x40);
	cr_expect_eq(d->cap_pcie, 0x80);
	cr_expect_eq(d->cap_pm, 0, "no longer in the list");
}

Test(host_pci, msix_bir_and_offsets_are_split)
{
	q35();
	struct fn *f = fk.f[0][2][0];
	cap(f, 0x40, 0x11, 0x60, 0x07FF | 0xC000); /* enable and mask bits are not the size */
	set(f, 0x44, 0x12340 | 4);
	set(f, 0x48, 0x00FF8000 | 5);
	set(f, 0x64, 0x0000);
	hpci_scan(&cfg, 0, 0, &list);
	const struct hpci_dev *d = at(0, 2, 0);
	cr_expect_eq(d->msix_size, 2048);
	cr_expect_eq(d->msix_bir, 4);
	cr_expect_eq(d->msix_off, 0x12340);
	cr_expect_eq(d->pba_bir, 5);
	cr_expect_eq(d->pba_off, 0xFF8000);
	cr_expect_eq(d->pm_no_soft_reset, 0);
}

Test(host_pci, edu_32bit_bar_and_msi)
{
	scan_q35();
	const struct hpci_dev *d = at(0, 4, 0);
	cr_expect_eq(d->bar[0].base, EDU_BAR0);
	cr_expect_eq(d->bar[0].size, 1 << 20);
	cr_expect(!d->bar[0].is64 && !d->bar[0].io && !d->bar[0].prefetch);
	for (int i = 1; i < HPCI_BARS; i++)
		cr_expect_eq(d->bar[i].size, 0, "BAR%d", i);
	cr_expect_eq(d->cap_msi, 0x40);
	cr_expect_eq(d->msi_ctrl, 0x0080);
	cr_expect(!d->cap_msix && !d->cap_pcie && !d->cap_pm);
	cr_expect_str_eq(hpci_class_name(d->class), "other");
}

Test(host_pci, io_bars_and_64bit_prefetchable_above_4g)
{
	scan_q35();
	const struct hpci_dev *d = at(0, 3, 0);
	cr_expect_eq(d->bar[0].io, 1);
	cr_expect_eq(d->bar[0].base, 0xC000);
	cr_expect_eq(d->bar[0].size, 0x20, "a 16-bit I/O decoder: upper half reads 0");
	cr_expect_eq(d->bar[1].size, 0);
	cr_expect_eq(d->bar[2].base, NET_BAR2);
	cr_expect_eq(d->bar[2].size, 0x4000);
	cr_expect(d->bar[2].is64 && d->bar[2].prefetch && !d->bar[2].io);
	cr_expect_eq(d->bar[3].size, 0);
	cr_expect_eq(d->bar[4].base, NET_BAR4, "base 0x%llx", (unsigned long long)d->bar[4].base);
	cr_expect_eq(d->bar[4].size, 8ull << 30, "size from the upper dword: 0x%llx",
		     (unsigned long long)d->bar[4].size);
	cr_expect(d->bar[4].is64 && d->bar[4].prefetch);
	cr_expect_eq(d->bar[5].size, 0);
	d = at(2, 1, 0);
	cr_expect(d->bar[1].io && d->bar[1].base == 0xD000 && d->bar[1].size == 0x40,
		  "a 32-bit I/O decoder");
	cr_expect_eq(d->bar[0].size, 0x20000);
	d = at(0, 0x1f, 2);
	cr_expect(d->bar[4].io && d->bar[4].size == 0x20 && d->bar[4].base == 0xC080);
	cr_expect(!d->bar[5].io && d->bar[5].size == 0x1000 && d->bar[5].base == 0xFEBD5000u);
	cr_expect_eq(d->bar[0].size, 0);
}

Test(host_pci, expansion_roms_and_bridge_bars)
{
	scan_q35();
	const struct hpci_dev *d = at(0, 1, 0);
	cr_expect_eq(d->rom_size, 0x10000);
	cr_expect(d->bar[0].base == VGA_BAR0 && d->bar[0].size == 16u << 20 && d->bar[0].prefetch);
	cr_expect(d->bar[2].base == 0xFEBD0000u && d->bar[2].size == 0x1000);
	cr_expect_eq(at(0, 0x1e, 0)->rom_size, 0x800, "a bridge's ROM BAR is at 0x38");
	cr_expect_eq(at(0, 4, 0)->rom_size, 0);
	d = at(2, 3, 0);
	cr_expect(d->bar[0].base == 0xFE800000u && d->bar[0].size == 0x100);
	for (int i = 1; i < HPCI_BARS; i++)
		cr_expect_eq(d->bar[i].size, 0, "bridge BAR%d", i);
}

Test(host_pci, sizing_restores_every_register)
{
	scan_q35();
	cr_assert_gt(fk.writes, 0, "the scan sized nothing");
	cr_expect_eq(changed(), 0, "%u functions left with changed registers", changed());
	cr_expect_eq(fk.f[0][2][0]->reg[1], 0x20100007u, "command and sticky status kept");
	cr_expect_eq(fk.f[0][3][0]->reg[1], 0x0003u);
	cr_expect_eq(fk.f[0][3][0]->reg[0x20 / 4], (uint32_t)NET_BAR4 | 0xC);
	cr_expect_eq(fk.f[0][3][0]->reg[0x24 / 4], (uint32_t)(NET_BAR4 >> 32));
	cr_expect_eq(fk.bad_writes, 0, "wrote a register that is not a BAR");
	cr_expect_eq(fk.misaligned, 0);
}

Test(host_pci, sizing_happens_with_decode_off)
{
	scan_q35();
	cr_expect_eq(fk.hot, 0, "%u BAR writes with decoding on", fk.hot);
	/* Every BAR of 00:03.0 was sized: two writes for each of its 6 dwords and the ROM's,
	 * then the command register off and on again. */
	cr_expect_eq(fk.f[0][3][0]->writes, 6 * 2 + 2 + 2);
	/* A function that decodes nothing keeps its command register unwritten. */
	q35();
	fk.f[0][4][0]->reg[1] = 0;
	hpci_scan(&cfg, 0, 0, &list);
	cr_expect_eq(fk.f[0][4][0]->reg[1], 0);
	cr_expect_eq(fk.f[0][4][0]->writes, 6 * 2 + 2);
	cr_expect_eq(at(0, 4, 0)->bar[0].size, 1 << 20);
}

Test(host_pci, requester_ids_through_aliasing_bridges)
{
	scan_q35();
	cr_expect_eq(at(0, 2, 0)->rid, 0x0010);
	cr_expect_eq(at(0, 0x1f, 3)->rid, 0x00FB);
	cr_expect_eq(at(0, 0x1c, 1)->rid, 0x00E1);
	cr_expect_eq(at(4, 0, 0)->rid, 0x0400, "root ports pass the RID through");
	cr_expect_eq(at(4, 2, 0)->rid, 0x0410);
	cr_expect_eq(at(1, 0, 0)->rid, 0x0100, "the PCIe-to-PCI bridge itself: its own");
	cr_expect_eq(at(2, 1, 0)->rid, 0x0200, "below a PCIe-to-PCI bridge: secondary, 00.0");
	cr_expect_eq(at(2, 2, 0)->rid, 0x0200);
	cr_expect_eq(at(2, 3, 0)->rid, 0x0200);
	cr_expect_eq(at(3, 0, 0)->rid, 0x0200, "the aliasing bridge nearest the root wins");
	cr_expect_eq(at(0, 0x1e, 0)->rid, 0x00F0);
	cr_expect_eq(at(7, 0, 0)->rid, 0x00F0, "below a PCI bridge: the bridge's own RID");
	cr_expect_eq(at(7, 1, 0)->rid, 0x00F0);
	cr_expect_eq(at(7, 2, 0)->rid, 0x00F0);
	cr_expect_eq(at(8, 0, 0)->rid, 0x00F0);
}

Test(host_pci, conventional_bridge_below_a_root_port_aliases_to_itself)
{
	q35();
	/* 01:00.0 loses its PCIe capability: a plain PCI bridge behind the root port. */
	struct fn *f = fk.f[1][0][0];
	f->reg[1] &= ~(0x10u << 16);
	hpci_scan(&cfg, 0, 0, &list);
	cr_expect_eq(at(1, 0, 0)->cap_pcie, 0);
	cr_expect_eq(at(2, 1, 0)->rid, 0x0100);
	cr_expect_eq(at(3, 0, 0)->rid, 0x0100);
	cr_expect_eq(at(1, 0, 0)->rid, 0x0100);
}

Test(host_pci, bad_bridges_are_counted_and_not_followed, .timeout = 10)
{
	scan_q35();
	/* 00:1d.0 (secondary 0), 00:1d.1 (bus 1 again), 02:04.0 (back to bus 1), 04:01.0
	 * (its own bus), 04:02.0 (secondary above subordinate). */
	cr_expect_eq(list.bad_bridges, 5);
	unsigned on[256] = { 0 };
	for (unsigned i = 0; i < list.n; i++)
		on[list.dev[i].bus]++;
	cr_expect_eq(on[0], 16);
	cr_expect_eq(on[1], 1, "bus 1 walked once");
	cr_expect_eq(on[2], 4);
	cr_expect_eq(on[4], 3);
	cr_expect_eq(on[5] + on[6], 0);
	/* The bridges are still listed, with what they claim. */
	cr_expect_eq(at(0, 0x1d, 0)->secondary, 0);
	cr_expect_eq(at(4, 2, 0)->secondary, 6);
	cr_expect_eq(at(4, 2, 0)->subordinate, 5);
}

Test(host_pci, bus_loops_do_not_hang, .timeout = 10)
{
	reset();
	/* bus 0 -> 1 -> 2 -> 1, and 2 -> 3 where 3 claims bus 2 again. */
	buses(add(0, 0, 0, 0x1b36, 1, 0x060400, 0, 1), 0, 1, 0xFF);
	buses(add(1, 0, 0, 0x1b36, 1, 0x060400, 0, 1), 1, 2, 0xFF);
	buses(add(2, 0, 0, 0x1b36, 1, 0x060400, 0, 1), 2, 1, 0xFF);
	buses(add(2, 1, 0, 0x1b36, 1, 0x060400, 0, 1), 2, 3, 0xFF);
	buses(add(3, 0, 0, 0x1b36, 1, 0x060400, 0, 1), 3, 3, 0xFF);
	buses(add(3, 1, 0, 0x1b36, 1, 0x060400, 0, 1), 3, 0, 0xFF);
	hpci_scan(&cfg, 0, 0, &list);
	cr_expect_eq(list.n, 6);
	cr_expect_eq(list.bad_bridges, 3);
	cr_expect_eq(list.skipped, 0);
	/* From root 0x10: 10:00.0 -> 0x11, whose bridge points down to bus 5, never walked by
	 * this scan but below the bridge's own bus. */
	memset(&list, 0, sizeof(list));
	buses(add(0x10, 0, 0, 0x1b36, 1, 0x060400, 0, 1), 0x10, 0x11, 0x20);
	buses(add(0x11, 0, 0, 0x1b36, 1, 0x060400, 0, 1), 0x11, 0x05, 0x20);
	add(5, 0, 0, 0x1234, 5, 0x020000, 0, 0);
	hpci_scan(&cfg, 0, 0x10, &list);
	cr_expect_eq(list.n, 2);
	cr_expect_eq(list.bad_bridges, 1);
	cr_expect_eq(hpci_find(&list, 0, 5, 0, 0), -1);
}

Test(host_pci, depth_is_bounded, .timeout = 10)
{
	reset();
	for (unsigned b = 0; b < 40; b++)
		buses(add((uint8_t)b, 0, 0, 0x1b36, 1, 0x060400, 0, 1), (uint8_t)b,
		      (uint8_t)(b + 1), 0xFF);
	add(40, 0, 0, 0x1234, 0x11e8, 0x00ff00, 0, 0);
	hpci_scan(&cfg, 0, 0, &list);
	/* Buses 0 (the root) to 32 are walked; the bridge on bus 32 would be the 33rd level. */
	cr_expect_eq(list.n, 33);
	cr_expect_eq(list.bad_bridges, 1);
	cr_expect_geq(hpci_find(&list, 0, 32, 0, 0), 0);
	cr_expect_eq(hpci_find(&list, 0, 33, 0, 0), -1);
	cr_expect_eq(hpci_find(&list, 0, 40, 0, 0), -1);
	cr_expect_eq(at(32, 0, 0)->upstream, idx(31, 0, 0));
	cr_expect_eq(at(32, 0, 0)->rid, 0x0000, "conventional bridges all the way up");
}

Test(host_pci, looping_and_short_capability_lists_end, .timeout = 10)
{
	scan_q35();
	const struct hpci_dev *d = at(0, 5, 0);
	cr_expect_eq(d->cap_msi, 0x40);
	cr_expect_eq(d->msi_ctrl, 0x0001);
	cr_expect_eq(d->cap_pm, 0x50);
	cr_expect_eq(d->pm_no_soft_reset, 0);
	/* The loop is cut after 48 links: a few reads each, far from unbounded. */
	cr_expect_lt(fk.f[0][5][0]->reads, 48 * 3 + 64, "%u reads", fk.f[0][5][0]->reads);
	d = at(0, 6, 0);
	cr_expect_eq(d->cap_pcie, 0x40);
	cr_expect_eq(d->cap_msix, 0, "a next pointer below 0x40 ends the list");
	d = at(0, 8, 0);
	cr_expect(!d->cap_msi && !d->cap_pcie, "no status bit 4, no list");
}

Test(host_pci, list_full_counts_skipped, .timeout = 10)
{
	reset();
	for (unsigned d = 0; d < 32; d++)
		for (unsigned n = 0; n < 8; n++)
			mem32(add(0, (uint8_t)d, (uint8_t)n, 0x1234, (uint16_t)(d << 3 | n), 0x020000,
				  0, n ? 0 : 0x80), 0, 0xE0000000u + (d << 3 | n) * 0x1000, 0x1000, 0);
	buses(add(0x80, 0, 0, 0x1b36, 1, 0x060400, 0, 1), 0x80, 0x81, 0x81);
	add(0x81, 0, 0, 0x1234, 1, 0x020000, 0, 0);
	add(0x81, 3, 0, 0x1234, 2, 0x020000, 0, 0);
	snapshot();
	hpci_scan(&cfg, 0, 0, &list);
	cr_expect_eq(list.n, HPCI_MAX_DEVS);
	cr_expect_eq(list.skipped, 0);
	cr_expect_eq(list.dev[255].bus, 0);
	cr_expect_eq(list.dev[255].dev, 31);
	cr_expect_eq(list.dev[255].fn, 7);
	cr_expect_eq(list.dev[255].bar[0].base, 0xE00FF000u);
	unsigned w = fk.writes;
	/* A second root appends to the same list: no room, so all three are counted. */
	hpci_scan(&cfg, 0, 0x80, &list);
	cr_expect_eq(list.n, HPCI_MAX_DEVS);
	cr_expect_eq(list.skipped, 3, "the bridge and the two functions below it");
	cr_expect_eq(fk.writes, w, "functions not kept are not sized");
	cr_expect_eq(hpci_find(&list, 0, 0x80, 0, 0), -1);
	cr_expect_eq(changed(), 0);
}

Test(host_pci, scans_append_per_segment)
{
	scan_q35();
	unsigned n = list.n;
	cr_assert_eq(n, 29);
	hpci_scan(&cfg, 1, 0, &list);
	cr_expect_eq(list.n, n, "segment 1 is empty");
	fk.seg = 1;
	hpci_scan(&cfg, 1, 0, &list);
	cr_expect_eq(list.n, 2 * n);
	cr_expect_eq(list.bad_bridges, 10, "each scan has its own set of walked buses");
	int i = hpci_find(&list, 1, 2, 1, 0);
	cr_expect_eq(i, (int)n + idx(2, 1, 0));
	cr_expect_eq(list.dev[i].seg, 1);
	cr_expect_eq(list.dev[i].rid, 0x0200);
	cr_expect_eq(list.dev[i].upstream, (int)n + idx(1, 0, 0), "indexes into the whole list");
}

Test(host_pci, unimplemented_and_malformed_bars)
{
	reset();
	struct fn *f = add(0, 0, 0, 0x1234, 1, 0x020000, 0, 0);
	/* BAR0: type bits only, no address bit writable: nothing decoded.
	 * BAR1: 32-bit 4 KiB but left at 0 by firmware: size known, base 0.
	 * BAR5: 64-bit type in the last slot: taken as 32-bit. */
	f->reg[4] = 0x8;
	mem32(f, 1, 0, 0x1000, 0);
	mem32(f, 5, 0xF0000000u, 0x10000, 0);
	f->reg[9] |= 4;
	hpci_scan(&cfg, 0, 0, &list);
	const struct hpci_dev *d = at(0, 0, 0);
	cr_expect(d->bar[0].size == 0 && d->bar[0].prefetch == 0 && d->bar[0].base == 0);
	cr_expect(d->bar[1].size == 0x1000 && d->bar[1].base == 0);
	cr_expect(d->bar[5].size == 0x10000 && d->bar[5].base == 0xF0000000u && !d->bar[5].is64);
	cr_expect_eq(fk.misaligned, 0);
}

Test(host_pci, class_names)
{
	static const struct {
		uint32_t class;
		const char *name;
	} t[] = {
		{ 0x010802, "nvme" },        { 0x010801, "storage" },   { 0x010601, "sata" },
		{ 0x010180, "ide" },         { 0x010000, "scsi" },      { 0x010700, "storage" },
		{ 0x020000, "ethernet" },    { 0x028000, "network" },   { 0x030000, "vga" },
		{ 0x038000, "display" },     { 0x030001, "display" },   { 0x040100, "multimedia" },
		{ 0x060000, "host-bridge" }, { 0x060400, "pci-bridge" }, { 0x060401, "pci-bridge" },
		{ 0x060100, "isa-bridge" },  { 0x068000, "bridge" },    { 0x070002, "serial" },
		{ 0x078000, "communication" }, { 0x088000, "system" },  { 0x0c0330, "usb" },
		{ 0x0c0500, "smbus" },       { 0x00ff00, "other" },     { 0x000000, "other" },
		{ 0xff0000, "other" },       { 0x0c8000, "serial-bus" }, { 0x400000, "other" },
	};
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_expect_str_eq(hpci_class_name(t[i].class), t[i].name, "class %06x", t[i].class);
}

Test(host_pci, bridges_are_never_assignable)
{
	struct hpci_dev d = { .header = HPCI_HDR_ENDPOINT, .class = 0x010802 };
	cr_expect_eq(hpci_is_bridge(&d), 0);
	d.class = 0x00ff00;
	cr_expect_eq(hpci_is_bridge(&d), 0);
	d.class = 0x060000;
	cr_expect_eq(hpci_is_bridge(&d), 1, "host bridge");
	d.class = 0x060100;
	cr_expect_eq(hpci_is_bridge(&d), 1, "ISA bridge, header type 0");
	d.class = 0x020000, d.header = HPCI_HDR_BRIDGE;
	cr_expect_eq(hpci_is_bridge(&d), 1, "header type 1 whatever the class");
	d.header = HPCI_HDR_CARDBUS;
	cr_expect_eq(hpci_is_bridge(&d), 1);
	scan_q35();
	unsigned n = 0;
	for (unsigned i = 0; i < list.n; i++)
		n += hpci_is_bridge(&list.dev[i]);
	cr_expect_eq(n, 13, "host, LPC and 11 PCI bridges");
}

Test(host_pci, parse_good_addresses)
{
	static const struct {
		const char *s;
		uint16_t seg;
		uint8_t bus, dev, fn;
	} t[] = {
		{ "00:1f.2", 0, 0, 0x1f, 2 },        { "0000:03:00.0", 0, 3, 0, 0 },
		{ "1:2.3", 0, 1, 2, 3 },             { "ABCD:fF:1F.7", 0xabcd, 0xff, 0x1f, 7 },
		{ "1:00:00.0", 1, 0, 0, 0 },         { "ffff:ff:1f.7", 0xffff, 0xff, 0x1f, 7 },
		{ "a:b:c.7", 0xa, 0xb, 0xc, 7 },
	};
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint16_t seg = 0x5555;
		uint8_t bus = 0x55, dev = 0x55, fn = 0x55;
		cr_expect_eq(hpci_parse_addr(t[i].s, strlen(t[i].s), &seg, &bus, &dev, &fn), 0,
			     "%s", t[i].s);
		cr_expect(seg == t[i].seg && bus == t[i].bus && dev == t[i].dev && fn == t[i].fn,
			  "%s: %x:%x:%x.%x", t[i].s, seg, bus, dev, fn);
	}
	/* len bounds the string: what follows is not looked at. */
	uint16_t seg;
	uint8_t bus, dev, fn;
	cr_expect_eq(hpci_parse_addr("00:02.0xyz", 7, &seg, &bus, &dev, &fn), 0);
	cr_expect(seg == 0 && bus == 0 && dev == 2 && fn == 0);
	cr_expect_eq(hpci_parse_addr("0001:80:1f.1,rest", 12, &seg, &bus, &dev, &fn), 0);
	cr_expect(seg == 1 && bus == 0x80 && dev == 0x1f && fn == 1);
}

Test(host_pci, parse_bad_addresses)
{
	static const char *const bad[] = {
		"", "0", "00", "00:", "00:00", "00:00.", ":00.0", "00:.0", "00:00.0 ", " 00:00.0",
		"00:00.0x", "00:20.0", "00:1f.8", "00:1f.10", "000:00.0", "00:000.0",
		"12345:00:00.0", "0000::00.0", "0:0:0:0.0", "00.00:0", "00-00.0", "00:00:0",
		"g0:00.0", "00:0g.0", "+1:00.0", "-1:00.0", "00:00.0.0", "0000:00:00", "0x0:00.0",
		"00:00,0", "a:b:c.d", "00:1F.f",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint16_t seg = 0x5555;
		uint8_t bus = 0x55, dev = 0x55, fn = 0x55;
		cr_expect_eq(hpci_parse_addr(bad[i], strlen(bad[i]), &seg, &bus, &dev, &fn), -1,
			     "\"%s\" accepted", bad[i]);
		cr_expect(seg == 0x5555 && bus == 0x55 && dev == 0x55 && fn == 0x55,
			  "\"%s\": fields written on failure", bad[i]);
	}
	uint16_t seg;
	uint8_t bus, dev, fn;
	cr_expect_eq(hpci_parse_addr("00:01.0", 6, &seg, &bus, &dev, &fn), -1, "cut short");
	cr_expect_eq(hpci_parse_addr("00:\0001.0", 7, &seg, &bus, &dev, &fn), -1, "a NUL inside");
	cr_expect_eq(hpci_parse_addr(NULL, 0, &seg, &bus, &dev, &fn), -1);
}

/* A secondary bus reset resets everything below the bridge: only a function alone there
 * may be reset that way. */
Test(host_pci, bus_reset_only_for_a_function_alone_below_its_bridge)
{
	scan_q35();
	cr_expect_eq(hpci_reset_bridge(&list, (unsigned)idx(8, 0, 0)), idx(7, 2, 0));
	cr_expect_eq(hpci_reset_bridge(&list, (unsigned)idx(3, 0, 0)), idx(2, 3, 0));
	cr_expect_eq(hpci_reset_bridge(&list, (unsigned)idx(0, 2, 0)), -1, "root bus");
	cr_expect_eq(hpci_reset_bridge(&list, (unsigned)idx(4, 0, 0)), -1, "04:02.0 beside it");
	cr_expect_eq(hpci_reset_bridge(&list, (unsigned)idx(2, 1, 0)), -1, "siblings");
	cr_expect_eq(hpci_reset_bridge(&list, (unsigned)idx(7, 2, 0)), -1,
		     "a bridge with a device below");
	cr_expect_eq(hpci_reset_bridge(&list, list.n), -1, "past the list");
}
