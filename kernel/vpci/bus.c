/* Virtual PCI host bridge and virtio-pci functions: configuration space through ECAM, BAR
 * decoding, MSI-X table. Pure logic; vpci.h describes the caller's side and the layout. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mica/hypercall.h>
#include "kernel/vpci/bus.h"
#include "lib/bytes.h"
#include "lib/errmsg.h"

#include "kernel/vpci/cfgspace.h"

void vpci_set_mask(struct vpci_fn *f, unsigned reg, unsigned len, uint32_t mask)
{
	for (unsigned i = 0; i < len; i++)
		f->wmask[reg + i] = (uint8_t)(mask >> (8 * i));
}

void vpci_header(struct vpci_fn *f, uint16_t vendor, uint16_t device, uint8_t rev,
		 uint32_t class)
{
	memset(f, 0, sizeof(*f));
	f->present = 1;
	put16(f->cfg + CFG_VENDOR, vendor);
	put16(f->cfg + CFG_DEVICE, device);
	f->cfg[CFG_REVISION] = rev;
	f->cfg[CFG_CLASS] = (uint8_t)class;
	put16(f->cfg + CFG_CLASS + 1, (uint16_t)(class >> 8));
	f->cfg[CFG_HEADER] = 0; /* type 0, single function */
	vpci_set_mask(f, CFG_CACHE_LINE, 1, 0xFF); /* no effect, but read/write for software */
}

void vpci_init(struct vpci *b, const struct vpci_host *host)
{
	struct vpci_fn *hb = &b->fn[0];

	memset(b, 0, sizeof(*b));
	b->host = host;
	vpci_header(hb, VPCI_HB_VENDOR, VPCI_HB_DEVICE, 0, 0x060000);
	vpci_set_mask(hb, CFG_COMMAND, 2, CMD_MEMORY | CMD_MASTER | CMD_PARITY | CMD_SERR);
}

/* Appends a virtio capability at pos; returns the next free position. */
static unsigned vcap(struct vpci_fn *f, unsigned pos, unsigned len, uint8_t type,
		     uint32_t offset, uint32_t length)
{
	uint8_t *c = f->cfg + pos;

	c[0] = CAP_ID_VENDOR;
	c[2] = (uint8_t)len;
	c[VCAP_TYPE] = type;
	c[VCAP_BAR] = 0;
	put32(c + VCAP_OFFSET, offset);
	put32(c + VCAP_LENGTH, length);
	return pos + len;
}

static uint32_t class_of(unsigned id)
{
	switch (id) {
	case VPCI_VIRTIO_NET:
		return 0x020000; /* network, Ethernet */
	case VPCI_VIRTIO_BLOCK:
		return 0x018000; /* mass storage, other */
	case VPCI_VIRTIO_CONSOLE:
		return 0x078000; /* simple communication, other */
	default:
		return 0xFF0000; /* does not fit a defined class */
	}
}

int vpci_add_virtio(struct vpci *b, unsigned slot, unsigned id, unsigned nvec,
		    uint32_t devcfg_len, uint8_t irq, char *err, size_t errlen)
{
	struct vpci_fn *f;
	unsigned pos = CAP_FIRST, caps[8], n = 0;

	if (slot == 0 || slot >= VPCI_SLOTS)
		return errmsg(MICA_EINVAL, err, errlen,
			      "virtual PCI: slot %u, expected 1 to %u", slot, VPCI_SLOTS - 1);
	if (b->fn[slot].present)
		return errmsg(MICA_EINVAL, err, errlen, "virtual PCI: slot %u is taken", slot);
	if (id == 0 || id > VPCI_VIRTIO_ID_MAX)
		return errmsg(MICA_EINVAL, err, errlen,
			      "virtual PCI: virtio device ID %u, expected 1 to %u", id,
			      VPCI_VIRTIO_ID_MAX);
	if (nvec == 0 || nvec > VPCI_MSIX_MAX)
		return errmsg(MICA_EINVAL, err, errlen,
			      "virtual PCI: %u MSI-X vectors, expected 1 to %u", nvec,
			      VPCI_MSIX_MAX);
	if (devcfg_len > VPCI_DEVICE_MAX)
		return errmsg(MICA_EINVAL, err, errlen,
			      "virtual PCI: device config of %u bytes, at most %u", devcfg_len,
			      VPCI_DEVICE_MAX);

	f = &b->fn[slot];
	vpci_header(f, VPCI_VIRTIO_VENDOR, (uint16_t)VPCI_VIRTIO_DEVICE(id), 1, class_of(id));
	f->virtio = 1;
	f->nvec = (uint16_t)nvec;
	f->devcfg_len = devcfg_len;
	vpci_set_mask(f, CFG_COMMAND, 2,
		 CMD_IO | CMD_MEMORY | CMD_MASTER | CMD_PARITY | CMD_SERR | CMD_INTX_DISABLE);
	put16(f->cfg + CFG_STATUS, STATUS_CAP_LIST);
	put32(f->cfg + CFG_BAR0, BAR_MEM_64);
	vpci_set_mask(f, CFG_BAR0, 4, ~(VPCI_BAR_SIZE - 1)); /* sizing: size mask reads back */
	vpci_set_mask(f, CFG_BAR0 + 4, 4, 0xFFFFFFFF);
	/* 16-bit port addresses (x86 has no more): the upper half stays 0 (PCI 3.0 6.2.5.1). */
	put32(f->cfg + CFG_BAR2, BAR_IO);
	vpci_set_mask(f, CFG_BAR2, 4, 0xFFFFu & ~(VPCI_PIO_SIZE - 1));
	put16(f->cfg + CFG_SUBVENDOR, VPCI_VIRTIO_VENDOR);
	put16(f->cfg + CFG_SUBSYSTEM, (uint16_t)VPCI_VIRTIO_SUBSYS(id));
	f->cfg[CFG_INT_LINE] = irq;
	vpci_set_mask(f, CFG_INT_LINE, 1, 0xFF);
	/* No interrupt line connected: no pin either, so an OS never looks for INTx routing
	 * (the function signals through MSI-X only). */
	f->cfg[CFG_INT_PIN] = irq == 0xFF ? 0 : 1; /* INTA# */

	caps[n++] = pos;
	pos = vcap(f, pos, VCAP_LEN, VIRTIO_CAP_COMMON, VPCI_COMMON_OFF, VPCI_COMMON_LEN);
	caps[n++] = pos;
	put32(f->cfg + pos + VCAP_EXTRA, VPCI_PIO_NOTIFY_MULT);
	pos = vcap(f, pos, VCAP_LEN_EXTRA, VIRTIO_CAP_NOTIFY, 0, VPCI_PIO_SIZE);
	f->cfg[caps[n - 1] + VCAP_BAR] = VPCI_PIO_BAR;
	caps[n++] = pos;
	put32(f->cfg + pos + VCAP_EXTRA, VPCI_NOTIFY_MULT);
	pos = vcap(f, pos, VCAP_LEN_EXTRA, VIRTIO_CAP_NOTIFY, VPCI_NOTIFY_OFF, VPCI_NOTIFY_LEN);
	caps[n++] = pos;
	pos = vcap(f, pos, VCAP_LEN, VIRTIO_CAP_ISR, VPCI_ISR_OFF, VPCI_ISR_LEN);
	if (devcfg_len) {
		caps[n++] = pos;
		pos = vcap(f, pos, VCAP_LEN, VIRTIO_CAP_DEVICE, VPCI_DEVICE_OFF, devcfg_len);
	}
	/* PCI_CFG: the driver chooses bar, offset and length, then accesses the data. */
	caps[n++] = pos;
	vpci_set_mask(f, pos + VCAP_BAR, 1, 0xFF);
	vpci_set_mask(f, pos + VCAP_OFFSET, 4, 0xFFFFFFFF);
	vpci_set_mask(f, pos + VCAP_LENGTH, 4, 0xFFFFFFFF);
	vpci_set_mask(f, pos + VCAP_EXTRA, 4, 0xFFFFFFFF);
	pos = vcap(f, pos, VCAP_LEN_EXTRA, VIRTIO_CAP_PCI_CFG, 0, 0);

	caps[n++] = pos;
	f->cfg[pos] = CAP_ID_MSIX;
	put16(f->cfg + pos + MSIX_CTRL, (uint16_t)(nvec - 1));
	vpci_set_mask(f, pos + MSIX_CTRL, 2, MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK);
	put32(f->cfg + pos + MSIX_TABLE, VPCI_MSIX_TABLE_OFF | 0); /* BIR 0 */
	put32(f->cfg + pos + MSIX_PBA, VPCI_MSIX_PBA_OFF | 0);

	f->cfg[CFG_CAP_PTR] = (uint8_t)caps[0];
	for (unsigned i = 0; i + 1 < n; i++)
		f->cfg[caps[i] + 1] = (uint8_t)caps[i + 1];
	for (unsigned v = 0; v < nvec; v++)
		f->msix[v][3] = MSIX_ENTRY_MASK; /* every vector masked at reset */
	return 0;
}

static struct vpci_fn *virtio_fn(struct vpci *b, unsigned slot)
{
	if (slot >= VPCI_SLOTS || !b->fn[slot].present || !b->fn[slot].virtio)
		return NULL;
	return &b->fn[slot];
}

/* A function with an MSI-X table (virtio, or passed through with MSI-X). */
static struct vpci_fn *msix_fn(struct vpci *b, unsigned slot)
{
	if (slot >= VPCI_SLOTS || !b->fn[slot].present || !b->fn[slot].nvec)
		return NULL;
	return &b->fn[slot];
}

int vpci_assign_bar(struct vpci *b, unsigned slot, uint64_t base)
{
	struct vpci_fn *f = virtio_fn(b, slot);

	if (!f || !base || (base & (VPCI_BAR_SIZE - 1)))
		return MICA_EINVAL;
	put32(f->cfg + CFG_BAR0, (uint32_t)base | BAR_MEM_64);
	put32(f->cfg + CFG_BAR0 + 4, (uint32_t)(base >> 32));
	put16(f->cfg + CFG_COMMAND, rd16(f->cfg + CFG_COMMAND) | CMD_MEMORY);
	return 0;
}

int vpci_assign_io_bar(struct vpci *b, unsigned slot, uint16_t port)
{
	struct vpci_fn *f = virtio_fn(b, slot);

	if (!f || !port || (port & (VPCI_PIO_SIZE - 1)))
		return MICA_EINVAL;
	put32(f->cfg + CFG_BAR2, (uint32_t)port | BAR_IO);
	put16(f->cfg + CFG_COMMAND, rd16(f->cfg + CFG_COMMAND) | CMD_IO);
	return 0;
}

/* Position of the capability with ID id (and virtio cfg_type type), 0 if none. The chain
 * is built here and read-only, so the bounds only guard against a bug. */
static unsigned find_cap(const struct vpci_fn *f, uint8_t id, uint8_t type)
{
	unsigned ttl = 48;

	for (unsigned pos = f->cfg[CFG_CAP_PTR]; pos >= CAP_FIRST && pos < 0xFC && ttl--;
	     pos = f->cfg[pos + 1])
		if (f->cfg[pos] == id && (id != CAP_ID_VENDOR || f->cfg[pos + VCAP_TYPE] == type))
			return pos;
	return 0;
}

static uint16_t msix_ctrl(const struct vpci_fn *f)
{
	return rd16(f->cfg + find_cap(f, CAP_ID_MSIX, 0) + MSIX_CTRL);
}

static uint64_t bar_base(const struct vpci_fn *f)
{
	return (uint64_t)rd32(f->cfg + CFG_BAR0 + 4) << 32 |
	       (rd32(f->cfg + CFG_BAR0) & ~0xFu);
}

/* Region at offset off inside BAR0. */
static enum vpci_region region_at(const struct vpci_fn *f, uint64_t off, uint64_t *roff)
{
	static const struct {
		enum vpci_region r;
		uint32_t start;
	} map[] = {
		{ VPCI_REGION_COMMON, VPCI_COMMON_OFF },
		{ VPCI_REGION_ISR, VPCI_ISR_OFF },
		{ VPCI_REGION_DEVICE, VPCI_DEVICE_OFF },
		{ VPCI_REGION_NOTIFY, VPCI_NOTIFY_OFF },
		{ VPCI_REGION_MSIX_TABLE, VPCI_MSIX_TABLE_OFF },
		{ VPCI_REGION_MSIX_PBA, VPCI_MSIX_PBA_OFF },
	};
	for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		uint64_t len;

		switch (map[i].r) {
		case VPCI_REGION_COMMON: len = VPCI_COMMON_LEN; break;
		case VPCI_REGION_ISR: len = VPCI_ISR_LEN; break;
		case VPCI_REGION_DEVICE: len = f->devcfg_len; break;
		case VPCI_REGION_NOTIFY: len = VPCI_NOTIFY_LEN; break;
		case VPCI_REGION_MSIX_TABLE: len = 16u * f->nvec; break;
		default: len = 8u * ((f->nvec + 63u) / 64u); break;
		}
		if (off >= map[i].start && off - map[i].start < len) {
			*roff = off - map[i].start;
			return map[i].r;
		}
	}
	return off < VPCI_BAR_SIZE ? VPCI_REGION_UNUSED : VPCI_REGION_NONE;
}

enum vpci_region vpci_bar_lookup(const struct vpci *b, uint64_t gpa, unsigned *slot,
				 unsigned *bar, uint64_t *offset)
{
	for (unsigned s = 1; s < VPCI_SLOTS; s++) {
		const struct vpci_fn *f = &b->fn[s];
		uint64_t base, roff = 0;
		enum vpci_region r;

		if (!f->present || !(rd16(f->cfg + CFG_COMMAND) & CMD_MEMORY))
			continue;
		if (f->pt) {
			for (unsigned i = 0; i < VPCI_BARS; i++) {
				base = vpci_pt_bar_base(f, i);
				if (!f->bar_size[i] || !base || gpa < base ||
				    gpa - base >= f->bar_size[i])
					continue;
				r = vpci_pt_region(f, i, gpa - base, &roff);
				*slot = s;
				*bar = i;
				*offset = roff;
				return r;
			}
			continue;
		}
		if (!f->virtio)
			continue;
		base = bar_base(f);
		if (!base || gpa < base || gpa - base >= VPCI_BAR_SIZE)
			continue;
		r = region_at(f, gpa - base, &roff);
		*slot = s;
		*bar = 0;
		*offset = roff;
		return r;
	}
	return VPCI_REGION_NONE;
}

/* MSI-X table and PBA: aligned dwords and qwords only. */
static int msix_access_ok(const struct vpci_fn *f, enum vpci_region r, uint64_t off,
			  unsigned size)
{
	uint64_t len;

	if ((size != 4 && size != 8) || (off & (size - 1)))
		return 0;
	if (r == VPCI_REGION_MSIX_TABLE)
		len = 16u * f->nvec;
	else if (r == VPCI_REGION_MSIX_PBA)
		len = 8u * ((f->nvec + 63u) / 64u);
	else
		return 0;
	return off < len && len - off >= size;
}

static uint32_t msix_read32(const struct vpci_fn *f, enum vpci_region r, uint64_t off)
{
	if (r == VPCI_REGION_MSIX_PBA)
		return (uint32_t)(f->pba[off / 8] >> (off & 4 ? 32 : 0));
	return f->msix[off / 16][(off % 16) / 4];
}

static void msix_write32(struct vpci_fn *f, uint64_t off, uint32_t val)
{
	unsigned word = (unsigned)(off % 16) / 4;
	uint32_t *e = f->msix[off / 16];

	switch (word) {
	case 0:
		e[0] = val & ~3u; /* message address bits 1:0 are reserved, read 0 */
		break;
	case 1:
	case 2:
		e[word] = val;
		break;
	default:
		e[3] = val & MSIX_ENTRY_MASK; /* the rest of vector control is reserved */
		break;
	}
}

uint64_t vpci_msix_read(struct vpci *b, unsigned slot, enum vpci_region r, uint64_t offset,
			unsigned size)
{
	const struct vpci_fn *f = msix_fn(b, slot);
	uint64_t v;

	if (!f || !msix_access_ok(f, r, offset, size))
		return 0;
	v = msix_read32(f, r, offset);
	if (size == 8)
		v |= (uint64_t)msix_read32(f, r, offset + 4) << 32;
	return v;
}

void vpci_msix_write(struct vpci *b, unsigned slot, enum vpci_region r, uint64_t offset,
		     unsigned size, uint64_t val)
{
	struct vpci_fn *f = msix_fn(b, slot);

	if (!f || r != VPCI_REGION_MSIX_TABLE || !msix_access_ok(f, r, offset, size))
		return;
	msix_write32(f, offset, (uint32_t)val);
	if (size == 8)
		msix_write32(f, offset + 4, (uint32_t)(val >> 32));
}

/* Why vector may not be sent now (0: it may). */
static int msix_blocked(const struct vpci_fn *f, unsigned vector)
{
	uint16_t ctrl = msix_ctrl(f);

	if (!(ctrl & MSIX_CTRL_ENABLE))
		return VPCI_MSIX_DISABLED;
	if (!(rd16(f->cfg + CFG_COMMAND) & CMD_MASTER))
		return VPCI_MSIX_NO_MASTER;
	if (ctrl & MSIX_CTRL_FMASK)
		return VPCI_MSIX_FMASKED;
	if (f->msix[vector][3] & MSIX_ENTRY_MASK)
		return VPCI_MSIX_MASKED;
	return 0;
}

int vpci_msix_message(struct vpci *b, unsigned slot, unsigned vector, uint64_t *addr,
		      uint32_t *data)
{
	struct vpci_fn *f = msix_fn(b, slot);
	int why;

	if (!f || vector >= f->nvec)
		return MICA_EINVAL;
	why = msix_blocked(f, vector);
	if (why == VPCI_MSIX_MASKED || why == VPCI_MSIX_FMASKED)
		f->pba[vector / 64] |= 1ull << (vector % 64); /* PCIe Base 4.0 6.1.4.5 */
	if (why)
		return why;
	*addr = (uint64_t)f->msix[vector][1] << 32 | f->msix[vector][0];
	*data = f->msix[vector][2];
	return 0;
}

int vpci_msix_pop_pending(struct vpci *b, unsigned slot)
{
	struct vpci_fn *f = msix_fn(b, slot);

	if (!f)
		return -1;
	for (unsigned v = 0; v < f->nvec; v++) {
		uint64_t bit = 1ull << (v % 64);

		if ((f->pba[v / 64] & bit) && !msix_blocked(f, v)) {
			f->pba[v / 64] &= ~bit;
			return (int)v;
		}
	}
	return -1;
}

/* Offset off inside a virtio function's I/O BAR: the notify registers, as the region's
 * owner knows them from BAR0 (queue q at q * VPCI_NOTIFY_MULT there, at
 * q * VPCI_PIO_NOTIFY_MULT here); an odd port is no register. */
static enum vpci_region pio_region_at(uint64_t off, uint64_t *roff)
{
	if (off % VPCI_PIO_NOTIFY_MULT)
		return VPCI_REGION_UNUSED;
	*roff = off / VPCI_PIO_NOTIFY_MULT * VPCI_NOTIFY_MULT;
	return VPCI_REGION_NOTIFY;
}

/* A PCI_CFG capability access (virtio 1.x 4.1.4.9): cap.length bytes at cap.offset of the
 * BAR cap.bar (BAR0 or the notify BAR2), through cap.pci_cfg_data. Requests the spec does
 * not allow (another BAR, length not 1/2/4, unaligned, past the BAR) do nothing; reads then
 * leave the data as it was. Memory decoding does not matter: this is the way in without it. */
static void pci_cfg_access(struct vpci *b, unsigned slot, unsigned cap, int write)
{
	struct vpci_fn *f = &b->fn[slot];
	uint8_t *data = f->cfg + cap + VCAP_EXTRA;
	uint32_t off = rd32(f->cfg + cap + VCAP_OFFSET);
	uint32_t len = rd32(f->cfg + cap + VCAP_LENGTH);
	uint32_t val = rd32(data);
	uint64_t roff;
	enum vpci_region r;

	if ((len != 1 && len != 2 && len != 4) || (off & (len - 1)))
		return;
	if (f->cfg[cap + VCAP_BAR] == VPCI_PIO_BAR && off < VPCI_PIO_SIZE)
		r = pio_region_at(off, &roff);
	else if (f->cfg[cap + VCAP_BAR] == 0 && off < VPCI_BAR_SIZE)
		r = region_at(f, off, &roff);
	else
		return;
	if (r == VPCI_REGION_MSIX_TABLE || r == VPCI_REGION_MSIX_PBA) {
		if (write)
			vpci_msix_write(b, slot, r, roff, len, val);
		else
			val = (uint32_t)vpci_msix_read(b, slot, r, roff, len);
	} else if (r != VPCI_REGION_UNUSED && f->ops) {
		uint32_t out = (uint32_t)f->ops->region(f->dev, r, roff, len, val, write);
		if (!write)
			val = out;
	} else {
		val = 0;
	}
	if (!write) {
		if (len < 4)
			val = (val & ((1u << (8 * len)) - 1)) | (rd32(data) & ~((1u << (8 * len)) - 1));
		put32(data, val);
	}
}

/* The function an ECAM offset names and its register, or NULL (no device: all ones). Also
 * NULL for accesses ECAM cannot carry (bad size, crossing a dword). */
static struct vpci_fn *decode(struct vpci *b, uint64_t ecam_off, unsigned size,
			      unsigned *slot, unsigned *reg)
{
	unsigned dev = (ecam_off >> 15) & 0x1F, func = (ecam_off >> 12) & 7;

	*reg = ecam_off & 0xFFF;
	if ((size != 1 && size != 2 && size != 4) || (*reg & 3) + size > 4)
		return NULL;
	if ((ecam_off >> 20) != 0 || func != 0 || dev >= VPCI_SLOTS || !b->fn[dev].present)
		return NULL;
	*slot = dev;
	return &b->fn[dev];
}

static unsigned pcicfg_data_dword(const struct vpci_fn *f)
{
	unsigned cap = f->virtio ? find_cap(f, CAP_ID_VENDOR, VIRTIO_CAP_PCI_CFG) : 0;

	return cap ? cap + VCAP_EXTRA : 0;
}

uint32_t vpci_cfg_read(struct vpci *b, uint64_t ecam_off, unsigned size)
{
	unsigned slot = 0, reg = 0;
	struct vpci_fn *f = decode(b, ecam_off, size, &slot, &reg);
	uint32_t v;

	if (!f)
		return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
	if (reg >= sizeof(f->cfg))
		return 0;
	if (reg >= CAP_FIRST && pcicfg_data_dword(f) == (reg & ~3u))
		pci_cfg_access(b, slot, (reg & ~3u) - VCAP_EXTRA, 0);
	v = rd32(f->cfg + (reg & ~3u)) >> (8 * (reg & 3));
	return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

void vpci_cfg_write(struct vpci *b, uint64_t ecam_off, unsigned size, uint32_t val)
{
	unsigned slot = 0, reg = 0;
	struct vpci_fn *f = decode(b, ecam_off, size, &slot, &reg);

	if (!f || reg >= sizeof(f->cfg))
		return;
	for (unsigned i = 0; i < size; i++) {
		uint8_t m = f->wmask[reg + i], byte = (uint8_t)(val >> (8 * i));

		f->cfg[reg + i] = (uint8_t)((f->cfg[reg + i] & ~m) | (byte & m));
	}
	if (reg >= CAP_FIRST && pcicfg_data_dword(f) == (reg & ~3u))
		pci_cfg_access(b, slot, (reg & ~3u) - VCAP_EXTRA, 1);
	if (f->ops && f->ops->config_written)
		f->ops->config_written(f->dev, reg, size);
}

int vpci_cf8_offset(uint32_t cf8, unsigned k, uint64_t *ecam_off)
{
	if (!(cf8 & 0x80000000u) || ((cf8 >> 16) & 0xff) || k > 3)
		return -1;
	*ecam_off = (uint64_t)((cf8 >> 11) & 31) << 15 | (uint64_t)((cf8 >> 8) & 7) << 12 |
		    (cf8 & 0xfc) | k;
	return 0;
}

/* --- The ways in ------------------------------------------------------------------------- */

void vpci_attach(struct vpci *b, unsigned slot, const struct vpci_ops *ops, void *dev)
{
	if (slot == 0 || slot >= VPCI_SLOTS || !b->fn[slot].present)
		return;
	b->fn[slot].ops = ops;
	b->fn[slot].dev = dev;
}

void vpci_send(struct vpci *b, uint64_t addr, uint32_t data)
{
	if (b->host && b->host->msi)
		b->host->msi(b->host->ctx, addr, data);
}

/* After a guest write that may have unmasked vectors of slot (a config write: MSI-X or MSI
 * Enable, Function Mask, Bus Master, MSI mask bits; an MSI-X table write): send what was
 * pending. */
static void pending_flush(struct vpci *b, unsigned slot)
{
	uint64_t addr;
	uint32_t data;
	int vec;

	if (msix_fn(b, slot)) {
		while ((vec = vpci_msix_pop_pending(b, slot)) >= 0)
			if (!vpci_msix_message(b, slot, (unsigned)vec, &addr, &data))
				vpci_send(b, addr, data);
	} else if (slot < VPCI_SLOTS && b->fn[slot].present && b->fn[slot].msi_cap) {
		while ((vec = vpci_msi_pop_pending(b, slot)) >= 0)
			if (!vpci_msi_message(b, slot, (unsigned)vec, &addr, &data))
				vpci_send(b, addr, data);
	}
}

int vpci_signal(struct vpci *b, unsigned slot, unsigned vector)
{
	uint64_t addr;
	uint32_t data;
	int why;

	if (slot < VPCI_SLOTS && b->fn[slot].present && !b->fn[slot].nvec && b->fn[slot].msi_cap)
		why = vpci_msi_message(b, slot, vector, &addr, &data);
	else
		why = vpci_msix_message(b, slot, vector, &addr, &data);
	if (!why)
		vpci_send(b, addr, data);
	return why;
}

static uint64_t ones(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

static uint32_t cfg_access(struct vpci *b, uint64_t ecam_off, unsigned size, uint32_t val,
			   int write)
{
	if (!write)
		return vpci_cfg_read(b, ecam_off, size);
	vpci_cfg_write(b, ecam_off, size, val);
	pending_flush(b, (unsigned)(ecam_off >> 15) & 31);
	return 0;
}

uint64_t vpci_mmio(struct vpci *b, uint64_t gpa, unsigned size, uint64_t val, int write)
{
	unsigned slot, bar;
	uint64_t off;

	if (!b->host)
		return ones(size);
	if (gpa - b->host->ecam_base < VPCI_ECAM_SIZE) {
		if (size > 4)
			return ones(size); /* ECAM carries one dword at most: writes vanish */
		return cfg_access(b, gpa - b->host->ecam_base, size, (uint32_t)val, write);
	}
	enum vpci_region r = vpci_bar_lookup(b, gpa, &slot, &bar, &off);
	switch (r) {
	case VPCI_REGION_NONE:
		return ones(size);
	case VPCI_REGION_UNUSED:
		return 0;
	case VPCI_REGION_MSIX_TABLE:
	case VPCI_REGION_MSIX_PBA:
		if (!write)
			return vpci_msix_read(b, slot, r, off, size);
		vpci_msix_write(b, slot, r, off, size, val);
		pending_flush(b, slot);
		return 0;
	default: {
		struct vpci_fn *f = &b->fn[slot]; /* slot is set: a region was found */
		return f->ops ? f->ops->region(f->dev, r, off, size, val, write) : 0;
	}
	}
}

#define CF8_ENABLE 0x80000000u

/* A port in the host's I/O window: the notify register of the virtio function whose I/O
 * BAR decodes it (I/O space on, the whole access inside the BAR), else all ones. */
static int io_bar_access(struct vpci *b, uint16_t port, unsigned size, int in, uint32_t val,
			 uint32_t *result)
{
	*result = (uint32_t)ones(size);
	for (unsigned s = 1; s < VPCI_SLOTS; s++) {
		struct vpci_fn *f = &b->fn[s];
		uint64_t roff;

		if (!f->present || !f->virtio || !(rd16(f->cfg + CFG_COMMAND) & CMD_IO))
			continue;
		uint32_t base = rd32(f->cfg + CFG_BAR2) & ~3u;
		if (!base || port < base || port + size > base + VPCI_PIO_SIZE)
			continue;
		enum vpci_region r = pio_region_at(port - base, &roff);
		uint64_t out = 0;
		if (r != VPCI_REGION_UNUSED && f->ops)
			out = f->ops->region(f->dev, r, roff, size, val, !in);
		*result = (uint32_t)out;
		break;
	}
	return 1;
}

int vpci_pio(struct vpci *b, uint16_t port, unsigned size, int in, uint32_t val,
	     uint32_t *result)
{
	uint64_t off;

	if (port == 0xcf8 && size == 4) {
		if (in)
			*result = b->cf8;
		else
			b->cf8 = val & (CF8_ENABLE | 0x00fffffcu);
		return 1;
	}
	if (b->host && (uint16_t)(port - b->host->io_base) < b->host->io_size)
		return io_bar_access(b, port, size, in, val, result);
	if (port < 0xcfc || port + size > 0xd00)
		return 0;
	if (!vpci_cf8_offset(b->cf8, port - 0xcfcu, &off)) {
		uint32_t out = cfg_access(b, off, size, val, !in);
		if (in)
			*result = out;
	} else if (in) {
		*result = (uint32_t)ones(size); /* disabled, or no such bus: master abort */
	}
	return 1;
}
