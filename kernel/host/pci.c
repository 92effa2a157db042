/* Host PCI enumeration through struct hpci_cfg: which functions sit on which bus, their
 * BARs, capabilities and DMA requester IDs (PCI Local Bus 3.0, PCI-to-PCI Bridge 1.2, PCIe
 * Base 4.0). The only writes are those of BAR sizing, each undone. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "kernel/host/pci.h"

/* Configuration space header registers (PCI 3.0 6.1, PCI-to-PCI Bridge 1.2 3.2). */
#define REG_ID       0x00
#define REG_CMD      0x04 /* command (15:0), status (31:16) */
#define REG_CLASS    0x08 /* revision (7:0), class code (31:8) */
#define REG_HEADER   0x0C /* header type in bits 23:16 */
#define REG_BAR0     0x10
#define REG_BUSES    0x18 /* bridges: primary, secondary, subordinate bus */
#define REG_CB_CAP   0x14 /* CardBus bridges keep their capability pointer here */
#define REG_CAP      0x34
#define REG_ROM      0x30
#define REG_ROM_BR   0x38 /* bridges' expansion ROM */
#define REG_INT      0x3C /* interrupt line (7:0), pin (15:8) */

#define CMD_IO       0x1u
#define CMD_MEM      0x2u
#define STATUS_CAPS  0x10u /* status bit 4: a capability list exists */
#define HDR_MF       0x80u

#define BAR_IO       0x1u
#define BAR_TYPE     0x6u
#define BAR_TYPE64   0x4u
#define BAR_PREFETCH 0x8u
#define ROM_ADDR     0xFFFFF800u

#define CAP_PM       0x01
#define CAP_MSI      0x05
#define CAP_PCIE     0x10
#define CAP_VENDOR 0x09
#define CAP_MSIX     0x11
#define CAP_LINKS    48   /* (256 - 64) / 4: more links than fit means the list loops */

#define PM_NO_SOFT_RESET 0x8u       /* PCI PM 1.2 3.2.4 PMCSR bit 3 */
#define DEVCAP_FLR       (1u << 28) /* PCIe Base 4.0 7.5.3.3 */

/* Bridges nest at most this deep below the root; the visited set already bounds a walk, this
 * bounds the stack of the recursion that does it. */
#define MAX_DEPTH 32

struct scan {
	const struct hpci_cfg *cfg;
	uint16_t seg;
	struct hpci_list *out;
	uint32_t walked[256 / 32]; /* buses this scan has walked */
};

static uint32_t rd(const struct scan *s, uint8_t bus, uint8_t dev, uint8_t fn, unsigned reg)
{
	return s->cfg->read(s->cfg->ctx, s->seg, bus, dev, fn, reg);
}

static void wr(const struct scan *s, uint8_t bus, uint8_t dev, uint8_t fn, unsigned reg,
	       uint32_t val)
{
	s->cfg->write(s->cfg->ctx, s->seg, bus, dev, fn, reg, val);
}

static uint16_t rid_of(uint8_t bus, uint8_t dev, uint8_t fn)
{
	return (uint16_t)(bus << 8 | dev << 3 | fn);
}

/* Writes all ones (or the address bits given) and reads back what sticks, then puts the
 * register back as it was (PCI 3.0 6.2.5.1). */
static uint32_t probe(const struct scan *s, const struct hpci_dev *d, unsigned reg,
		      uint32_t ones, uint32_t *orig)
{
	*orig = rd(s, d->bus, d->dev, d->fn, reg);
	wr(s, d->bus, d->dev, d->fn, reg, ones);
	uint32_t m = rd(s, d->bus, d->dev, d->fn, reg);
	wr(s, d->bus, d->dev, d->fn, reg, *orig);
	return m;
}

/* A decoder hardwires the address bits below its size to 0, so the size is the lowest bit
 * that took the one. Same as ~mask + 1 for a well-formed BAR, and also right for an I/O BAR
 * that decodes only 16 bits (the upper half reads 0). */
static uint64_t low_bit(uint64_t m)
{
	return m & (~m + 1);
}

static void size_bars(const struct scan *s, struct hpci_dev *d, unsigned nbars)
{
	for (unsigned i = 0; i < nbars; i++) {
		struct hpci_bar *b = &d->bar[i];
		unsigned reg = REG_BAR0 + 4 * i;
		uint32_t orig, m = probe(s, d, reg, 0xFFFFFFFFu, &orig);
		if (!m)
			continue; /* not implemented: reads 0 whatever is written */
		if (m & BAR_IO) {
			b->io = 1;
			b->base = orig & ~3u;
			b->size = low_bit(m & ~3u);
			continue;
		}
		uint64_t mask = m & ~0xFu, base = orig & ~0xFu;
		b->prefetch = !!(m & BAR_PREFETCH);
		/* Type 10b: the next slot holds the upper dword of the address. A 64-bit type
		 * in the last slot has no upper half; it is taken as 32-bit. */
		if ((m & BAR_TYPE) == BAR_TYPE64 && i + 1 < nbars) {
			uint32_t hi_orig, hi = probe(s, d, reg + 4, 0xFFFFFFFFu, &hi_orig);
			mask |= (uint64_t)hi << 32;
			base |= (uint64_t)hi_orig << 32;
			b->is64 = 1;
			i++; /* the upper half stays all zero: size 0 */
		}
		b->size = low_bit(mask);
		if (!b->size) {
			memset(b, 0, sizeof(*b)); /* no address bit took the one: nothing decoded */
			continue;
		}
		b->base = base;
	}
}

/* PCI 3.0 6.2.5.2: the ROM BAR's address bits are 31:11; the enable bit (0) is left clear
 * while sizing so that the ROM does not start decoding at the all-ones address. */
static void size_rom(const struct scan *s, struct hpci_dev *d, unsigned reg)
{
	uint32_t orig, m = probe(s, d, reg, ROM_ADDR, &orig);
	d->rom_size = low_bit(m & ROM_ADDR);
}

/* BARs and ROM with memory and I/O decoding off (PCI 3.0 6.2.5.1: an all-ones BAR would
 * otherwise claim the top of the address space), then the command register back. The
 * status half is written as 0, which leaves its write-1-to-clear bits alone. */
static void size_all(const struct scan *s, struct hpci_dev *d)
{
	unsigned nbars, rom;
	switch (d->header) {
	case HPCI_HDR_ENDPOINT:
		nbars = 6, rom = REG_ROM;
		break;
	case HPCI_HDR_BRIDGE:
		nbars = 2, rom = REG_ROM_BR;
		break;
	case HPCI_HDR_CARDBUS:
		nbars = 1, rom = 0; /* the socket/ExCA registers' BAR at 0x10 */
		break;
	default:
		return; /* a layout we do not know: write nothing */
	}
	uint32_t cmd = rd(s, d->bus, d->dev, d->fn, REG_CMD) & 0xFFFF;
	if (cmd & (CMD_IO | CMD_MEM))
		wr(s, d->bus, d->dev, d->fn, REG_CMD, cmd & ~(CMD_IO | CMD_MEM));
	size_bars(s, d, nbars);
	if (rom)
		size_rom(s, d, rom);
	if (cmd & (CMD_IO | CMD_MEM))
		wr(s, d->bus, d->dev, d->fn, REG_CMD, cmd);
}

/* PCI 3.0 6.7: a singly linked list in the first 256 bytes, each entry dword aligned
 * above the 64-byte header. The first entry of each ID is the one kept. */
static void read_caps(const struct scan *s, struct hpci_dev *d)
{
	if (!((rd(s, d->bus, d->dev, d->fn, REG_CMD) >> 16) & STATUS_CAPS))
		return;
	unsigned ptrreg = d->header == HPCI_HDR_CARDBUS ? REG_CB_CAP : REG_CAP;
	unsigned p = rd(s, d->bus, d->dev, d->fn, ptrreg) & 0xFC;
	for (unsigned links = 0; links < CAP_LINKS && p >= 0x40; links++) {
		uint32_t v = rd(s, d->bus, d->dev, d->fn, p);
		unsigned id = v & 0xFF, next = (v >> 8) & 0xFC;
		uint16_t ctrl = (uint16_t)(v >> 16);
		switch (id) {
		case CAP_PM: /* PCI PM 1.2 3.2: PMCSR at +4 */
			if (d->cap_pm || p + 8 > 0x100)
				break;
			d->cap_pm = (uint8_t)p;
			d->pm_no_soft_reset = !!(rd(s, d->bus, d->dev, d->fn, p + 4) & PM_NO_SOFT_RESET);
			break;
		case CAP_MSI: /* PCI 3.0 6.8.1: Message Control at +2 */
			if (d->cap_msi)
				break;
			d->cap_msi = (uint8_t)p;
			d->msi_ctrl = ctrl;
			break;
		case CAP_MSIX: { /* PCI 3.0 6.8.2: table size N-1 in 10:0, table, PBA at +4, +8 */
			if (d->cap_msix || p + 12 > 0x100)
				break;
			uint32_t t = rd(s, d->bus, d->dev, d->fn, p + 4);
			uint32_t pba = rd(s, d->bus, d->dev, d->fn, p + 8);
			d->cap_msix = (uint8_t)p;
			d->msix_size = (uint16_t)((ctrl & 0x7FF) + 1);
			d->msix_bir = t & 7, d->msix_off = t & ~7u;
			d->pba_bir = pba & 7, d->pba_off = pba & ~7u;
			break;
		}
		case CAP_VENDOR: /* PCI 3.0 6.7: its length at +2 (virtio 1.1 4.1.4) */
			if (d->ncap_vendor < HPCI_VCAPS)
				d->cap_vendor[d->ncap_vendor++] = (uint8_t)p;
			break;
		case CAP_PCIE: /* PCIe Base 4.0 7.5.3.2: port type in 7:4; 7.5.3.3 at +4 */
			if (d->cap_pcie || p + 8 > 0x100)
				break;
			d->cap_pcie = (uint8_t)p;
			d->pcie_type = (ctrl >> 4) & 0xF;
			d->flr = !!(rd(s, d->bus, d->dev, d->fn, p + 4) & DEVCAP_FLR);
			break;
		}
		p = next;
	}
}

/* Which RID the root complex sees on this function's requests. Walking up from it, a
 * PCIe-to-PCI/PCI-X bridge takes ownership of the transactions it forwards with its
 * secondary bus, device 0, function 0 (PCIe to PCI/PCI-X Bridge 1.0; PCIe Base 4.0
 * 2.2.6.2); a conventional PCI-to-PCI bridge (no PCIe capability) may forward them with
 * its own ID, so everything below it is taken to carry that. Root, upstream and downstream
 * ports pass the ID through. Each aliasing bridge passed replaces the RID, so the one
 * nearest the root wins. Parents always come before their children in the list, so the
 * walk goes strictly down in index and ends. */
static uint16_t dma_rid(const struct hpci_list *l, const struct hpci_dev *d)
{
	uint16_t rid = rid_of(d->bus, d->dev, d->fn);
	for (int i = d->upstream; i >= 0; i = l->dev[i].upstream) {
		const struct hpci_dev *b = &l->dev[i];
		if (!b->cap_pcie)
			rid = rid_of(b->bus, b->dev, b->fn);
		else if (b->pcie_type == HPCI_PCIE_TO_PCI_BRIDGE)
			rid = (uint16_t)(b->secondary << 8);
		if (b->upstream >= i)
			break; /* cannot happen (see above); keeps a corrupt list from looping */
	}
	return rid;
}

static void walk(struct scan *s, uint8_t bus, int upstream, unsigned depth);

static void bridge(struct scan *s, uint8_t bus, uint8_t dev, uint8_t fn, int idx,
		   unsigned depth)
{
	uint32_t v = rd(s, bus, dev, fn, REG_BUSES);
	uint8_t sec = (uint8_t)(v >> 8), sub = (uint8_t)(v >> 16);
	/* Bridge 1.2 3.2.5.3-5: the bridge forwards buses sec..sub, and firmware numbers buses
	 * upward from the root. A secondary at or below the bridge's own bus is unassigned (0)
	 * or points back up; one above the subordinate is an empty range; one already walked
	 * is a loop or a second claim. None is followed. */
	if (sec <= bus || sec > sub || (s->walked[sec / 32] >> (sec % 32) & 1) ||
	    depth + 1 > MAX_DEPTH) {
		s->out->bad_bridges++;
		return;
	}
	walk(s, sec, idx, depth + 1);
}

static void function(struct scan *s, uint8_t bus, uint8_t dev, uint8_t fn, uint32_t id,
		     int upstream, unsigned depth)
{
	struct hpci_list *l = s->out;
	uint8_t hdr = (uint8_t)(rd(s, bus, dev, fn, REG_HEADER) >> 16);
	int idx = -1;
	if (l->n < HPCI_MAX_DEVS) {
		idx = (int)l->n++;
		struct hpci_dev *d = &l->dev[idx];
		memset(d, 0, sizeof(*d));
		d->seg = s->seg, d->bus = bus, d->dev = dev, d->fn = fn;
		d->vendor = (uint16_t)id, d->device = (uint16_t)(id >> 16);
		uint32_t c = rd(s, bus, dev, fn, REG_CLASS);
		d->class = c >> 8, d->revision = (uint8_t)c;
		d->header = hdr & 0x7F, d->multifunction = !!(hdr & HDR_MF);
		d->int_pin = (uint8_t)(rd(s, bus, dev, fn, REG_INT) >> 8);
		if (d->header == HPCI_HDR_BRIDGE) {
			uint32_t b = rd(s, bus, dev, fn, REG_BUSES);
			d->secondary = (uint8_t)(b >> 8), d->subordinate = (uint8_t)(b >> 16);
		}
		d->upstream = upstream;
		size_all(s, d);
		read_caps(s, d);
		d->rid = dma_rid(l, d);
	} else {
		l->skipped++; /* still walked below, so that skipped counts what lies there */
	}
	if ((hdr & 0x7F) == HPCI_HDR_BRIDGE)
		bridge(s, bus, dev, fn, idx, depth);
}

/* PCI 3.0 6.2.1: vendor FFFFh means no function there; a master abort reads all ones. */
static int present(uint32_t id)
{
	return (id & 0xFFFF) != 0xFFFF;
}

static void walk(struct scan *s, uint8_t bus, int upstream, unsigned depth)
{
	s->walked[bus / 32] |= 1u << (bus % 32);
	for (uint8_t dev = 0; dev < 32; dev++) {
		uint32_t id = rd(s, bus, dev, 0, REG_ID);
		if (!present(id))
			continue;
		/* Functions 1-7 exist only when function 0 says so (PCI 3.0 6.2.1); single-
		 * function devices may answer every function number with function 0's registers. */
		unsigned nfn = (rd(s, bus, dev, 0, REG_HEADER) >> 16) & HDR_MF ? 8 : 1;
		function(s, bus, dev, 0, id, upstream, depth);
		for (uint8_t fn = 1; fn < nfn; fn++) {
			id = rd(s, bus, dev, fn, REG_ID);
			if (present(id))
				function(s, bus, dev, fn, id, upstream, depth);
		}
	}
}

void hpci_scan(const struct hpci_cfg *cfg, uint16_t seg, uint8_t root, struct hpci_list *out)
{
	struct scan s = { .cfg = cfg, .seg = seg, .out = out };
	walk(&s, root, -1, 0);
}

int hpci_find(const struct hpci_list *l, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn)
{
	for (unsigned i = 0; i < l->n && i < HPCI_MAX_DEVS; i++) {
		const struct hpci_dev *d = &l->dev[i];
		if (d->seg == seg && d->bus == bus && d->dev == dev && d->fn == fn)
			return (int)i;
	}
	return -1;
}

/* PCI Code and ID Assignment 1.11, chapter 1: base class, subclass, programming interface. */
const char *hpci_class_name(uint32_t class)
{
	unsigned base = (class >> 16) & 0xFF, sub = (class >> 8) & 0xFF, pi = class & 0xFF;
	switch (base) {
	case 0x01:
		if (sub == 0x08 && pi == 0x02)
			return "nvme";
		if (sub == 0x06)
			return "sata";
		if (sub == 0x01)
			return "ide";
		if (sub == 0x00)
			return "scsi";
		return "storage";
	case 0x02:
		return sub == 0x00 ? "ethernet" : "network";
	case 0x03:
		return sub == 0x00 && pi == 0x00 ? "vga" : "display";
	case 0x04:
		return "multimedia";
	case 0x05:
		return "memory";
	case 0x06:
		if (sub == 0x00)
			return "host-bridge";
		if (sub == 0x01)
			return "isa-bridge";
		if (sub == 0x04)
			return "pci-bridge";
		return "bridge";
	case 0x07:
		return sub == 0x00 ? "serial" : "communication";
	case 0x08:
		return "system";
	case 0x09:
		return "input";
	case 0x0C:
		if (sub == 0x03)
			return "usb";
		if (sub == 0x05)
			return "smbus";
		return "serial-bus";
	case 0x0D:
		return "wireless";
	case 0x10:
		return "crypto";
	case 0x12:
		return "accelerator";
	}
	return "other";
}

int hpci_reset_bridge(const struct hpci_list *l, unsigned i)
{
	if (i >= l->n || l->dev[i].upstream < 0 || (unsigned)l->dev[i].upstream >= l->n)
		return -1;
	const struct hpci_dev *br = &l->dev[l->dev[i].upstream];
	if (br->header != HPCI_HDR_BRIDGE || br->seg != l->dev[i].seg)
		return -1;
	for (unsigned k = 0; k < l->n; k++)
		if (k != i && l->dev[k].seg == br->seg && l->dev[k].bus >= br->secondary &&
		    l->dev[k].bus <= br->subordinate)
			return -1;
	return l->dev[i].upstream;
}

int hpci_is_bridge(const struct hpci_dev *d)
{
	return d->header == HPCI_HDR_BRIDGE || d->header == HPCI_HDR_CARDBUS ||
	       (d->class >> 16 & 0xFF) == 0x06;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One field of 1 to max hex digits at s[*i], ending where the digits do. */
static int field(const char *s, size_t len, size_t *i, unsigned max, unsigned *v)
{
	unsigned n = 0;
	*v = 0;
	while (*i < len && hexval(s[*i]) >= 0) {
		if (++n > max)
			return -1;
		*v = *v << 4 | (unsigned)hexval(s[(*i)++]);
	}
	return n ? 0 : -1;
}

static int expect(const char *s, size_t len, size_t *i, char c)
{
	if (*i >= len || s[*i] != c)
		return -1;
	(*i)++;
	return 0;
}

int hpci_parse_addr(const char *s, size_t len, uint16_t *seg, uint8_t *bus, uint8_t *dev,
		    uint8_t *fn)
{
	if (!s)
		return -1;
	unsigned colons = 0;
	for (size_t k = 0; k < len; k++)
		colons += s[k] == ':';
	size_t i = 0;
	unsigned sv = 0, bv, dv, fv;
	if (colons == 2 && (field(s, len, &i, 4, &sv) || expect(s, len, &i, ':')))
		return -1;
	if ((colons != 1 && colons != 2) || field(s, len, &i, 2, &bv) ||
	    expect(s, len, &i, ':') || field(s, len, &i, 2, &dv) || expect(s, len, &i, '.') ||
	    field(s, len, &i, 1, &fv) || i != len || dv > 0x1F || fv > 7)
		return -1;
	*seg = (uint16_t)sv, *bus = (uint8_t)bv, *dev = (uint8_t)dv, *fn = (uint8_t)fv;
	return 0;
}
