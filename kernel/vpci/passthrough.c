/* Passed-through functions on the guest's virtual PCI bus: their configuration space, built
 * from what is safe to show of the host function (struct vpci_pt_desc), their BARs, and
 * their MSI capability. Pure logic, like bus.c; kernel/passthrough.c is the owner that
 * follows the guest's settings onto the host function. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mica/hypercall.h>
#include "kernel/vpci/bus.h"
#include "kernel/vpci/cfgspace.h"
#include "lib/bytes.h"
#include "lib/errmsg.h"

/* BAR i of a passed-through function: its base as the guest programmed it, 0 if none. */
uint64_t vpci_pt_bar_base(const struct vpci_fn *f, unsigned i)
{
	uint64_t base = rd32(f->cfg + CFG_BAR0 + 4 * i) & ~0xFu;
	if ((f->bar_flags[i] & VPCI_BAR_64) && i + 1 < VPCI_BARS)
		base |= (uint64_t)rd32(f->cfg + CFG_BAR0 + 4 * (i + 1)) << 32;
	return base;
}

/* Which part of a passed-through function's BAR i the offset off hits: the MSI-X table
 * and PBA are Mica's (virtual), the rest is the device's. */
enum vpci_region vpci_pt_region(const struct vpci_fn *f, unsigned i, uint64_t off,
				 uint64_t *roff)
{
	/* The whole host table and PBA are Mica's, even entries past those shown: a write
	 * there must never reach the device (it would be a message of the guest's choosing). */
	if (f->nvec && i == f->msix_bir && off >= f->msix_off &&
	    off - f->msix_off < 16u * f->host_nvec) {
		*roff = off - f->msix_off;
		return VPCI_REGION_MSIX_TABLE;
	}
	if (f->nvec && i == f->pba_bir && off >= f->pba_off &&
	    off - f->pba_off < 8u * ((f->host_nvec + 63u) / 64u)) {
		*roff = off - f->pba_off;
		return VPCI_REGION_MSIX_PBA;
	}
	*roff = off;
	return (enum vpci_region)(VPCI_REGION_PT + i);
}

#define CAP_ID_MSI     0x05
#define CAP_ID_PCIE    0x10
#define CAP_ID_VENDOR  0x09
#define MSI_CTRL       2
#define MSI_ADDR       4
#define MSI_ADDR_HI    8
#define MSI_DATA       12
#define MSI_MASK       16
#define MSI_PENDING    20
#define MSI_CAP_LEN    24
#define MSI_CTRL_ENABLE 0x0001
#define MSI_CTRL_MME   0x0070 /* Multiple Message Enable: log2 of the vectors in use */
#define MSI_CTRL_64    0x0080
#define MSI_CTRL_PVM   0x0100 /* per-vector masking */
#define MSI_MAX_NVEC   32
#define PCIE_CAP_LEN   0x3c

int vpci_add_passthrough(struct vpci *b, unsigned slot, const struct vpci_pt_desc *d,
			 char *err, size_t errlen)
{
	unsigned pos = CAP_FIRST, prev = 0;

	if (slot == 0 || slot >= VPCI_SLOTS)
		return errmsg(MICA_EINVAL, err, errlen,
			      "virtual PCI: slot %u, expected 1 to %u", slot, VPCI_SLOTS - 1);
	if (b->fn[slot].present)
		return errmsg(MICA_EINVAL, err, errlen, "virtual PCI: slot %u is taken", slot);
	for (unsigned i = 0; i < VPCI_BARS; i++) {
		uint64_t sz = d->bar_size[i];
		if (sz && (sz < 16 || (sz & (sz - 1))))
			return errmsg(MICA_EINVAL, err, errlen,
				      "virtual PCI: BAR %u of %lu bytes is not a power of two of at "
				      "least 16 bytes", i,
				      (unsigned long)sz);
		if (sz && (d->bar_flags[i] & VPCI_BAR_64) && (i + 1 == VPCI_BARS || d->bar_size[i + 1]))
			return errmsg(MICA_EINVAL, err, errlen,
				      "virtual PCI: 64-bit BAR %u has no upper half", i);
	}
	if (d->msi > MSI_MAX_NVEC || (d->msi & (d->msi - 1)))
		return errmsg(MICA_EINVAL, err, errlen,
			      "virtual PCI: %u MSI vectors, expected a power of two up to %u",
			      d->msi, MSI_MAX_NVEC);
	if (d->msix_nvec && (d->msix_bir >= VPCI_BARS || d->pba_bir >= VPCI_BARS ||
			     !d->bar_size[d->msix_bir] || !d->bar_size[d->pba_bir]))
		return errmsg(MICA_EINVAL, err, errlen,
			      "virtual PCI: the MSI-X table is in a BAR the function lacks");

	struct vpci_fn *f = &b->fn[slot];
	vpci_header(f, d->vendor, d->device, d->revision, d->class);
	f->pt = 1;
	vpci_set_mask(f, CFG_COMMAND, 2, CMD_MEMORY | CMD_MASTER | CMD_PARITY | CMD_SERR |
		 CMD_INTX_DISABLE);
	put16(f->cfg + CFG_SUBVENDOR, d->subvendor);
	put16(f->cfg + CFG_SUBSYSTEM, d->subsystem);
	vpci_set_mask(f, CFG_INT_LINE, 1, 0xFF);
	for (unsigned i = 0; i < VPCI_BARS; i++) {
		f->bar_size[i] = d->bar_size[i];
		f->bar_flags[i] = d->bar_flags[i];
		if (!d->bar_size[i])
			continue;
		uint32_t low = (d->bar_flags[i] & VPCI_BAR_64 ? BAR_MEM_64 : 0) |
			       (d->bar_flags[i] & VPCI_BAR_PREFETCH ? 0x8u : 0);
		put32(f->cfg + CFG_BAR0 + 4 * i, low);
		vpci_set_mask(f, CFG_BAR0 + 4 * i, 4, (uint32_t)~(d->bar_size[i] - 1) & ~0xFu);
		if (d->bar_flags[i] & VPCI_BAR_64)
			vpci_set_mask(f, CFG_BAR0 + 4 * (i + 1), 4, (uint32_t)(~(d->bar_size[i] - 1) >> 32));
	}
	if (d->msix_nvec) {
		unsigned nvec = d->msix_nvec > VPCI_MSIX_MAX ? VPCI_MSIX_MAX : d->msix_nvec;
		f->nvec = (uint16_t)nvec;
		f->host_nvec = d->msix_nvec;
		f->msix_bir = d->msix_bir;
		f->pba_bir = d->pba_bir;
		f->msix_off = d->msix_off;
		f->pba_off = d->pba_off;
		f->msix_cap = (uint8_t)pos;
		f->cfg[pos] = CAP_ID_MSIX;
		put16(f->cfg + pos + MSIX_CTRL, (uint16_t)(nvec - 1));
		vpci_set_mask(f, pos + MSIX_CTRL, 2, MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK);
		put32(f->cfg + pos + MSIX_TABLE, d->msix_off | d->msix_bir);
		put32(f->cfg + pos + MSIX_PBA, d->pba_off | d->pba_bir);
		for (unsigned v = 0; v < nvec; v++)
			f->msix[v][3] = MSIX_ENTRY_MASK;
		prev = pos;
		pos += MSIX_CAP_LEN + 4;
	}
	if (d->msi) {
		unsigned mmc = 0;
		while ((1u << mmc) < d->msi)
			mmc++;
		f->msi_cap = (uint8_t)pos;
		f->cfg[pos] = CAP_ID_MSI;
		/* 64-bit addresses and per-vector masking, whatever the host function has: the
		 * capability is Mica's, the host's own stays as Mica programs it. */
		put16(f->cfg + pos + MSI_CTRL, (uint16_t)(MSI_CTRL_64 | MSI_CTRL_PVM | mmc << 1));
		vpci_set_mask(f, pos + MSI_CTRL, 1, MSI_CTRL_ENABLE | MSI_CTRL_MME);
		vpci_set_mask(f, pos + MSI_ADDR, 4, 0xFFFFFFFC);
		vpci_set_mask(f, pos + MSI_ADDR_HI, 4, 0xFFFFFFFF);
		vpci_set_mask(f, pos + MSI_DATA, 2, 0xFFFF);
		vpci_set_mask(f, pos + MSI_MASK, 4, d->msi == 32 ? 0xFFFFFFFFu : (1u << d->msi) - 1);
		if (prev)
			f->cfg[prev + 1] = (uint8_t)pos;
		prev = pos;
		pos += MSI_CAP_LEN;
	}
	if (d->has_pcie) {
		/* Read-only: link and power controls stay the host's. */
		memcpy(f->cfg + pos, d->pcie, PCIE_CAP_LEN);
		f->cfg[pos] = CAP_ID_PCIE;
		f->cfg[pos + 1] = 0;
		if (prev)
			f->cfg[prev + 1] = (uint8_t)pos;
		prev = pos;
		pos += PCIE_CAP_LEN;
	}
	/* Vendor-specific capabilities, read-only (no write mask), while they fit below 0x100:
	 * what they say (virtio: where each register block is in which BAR) holds for the
	 * guest too, since BAR numbers and offsets are the host's. */
	for (unsigned k = 0; k < d->nvcaps && k < VPCI_VCAPS_MAX; k++) {
		unsigned len = d->vcap_len[k];
		if (len < 3 || len > VPCI_VCAP_MAX || pos + ((len + 3) & ~3u) > 0x100)
			break;
		memcpy(f->cfg + pos, d->vcap[k], len);
		f->cfg[pos] = CAP_ID_VENDOR;
		f->cfg[pos + 1] = 0;
		if (prev)
			f->cfg[prev + 1] = (uint8_t)pos;
		prev = pos;
		pos += (len + 3) & ~3u;
	}
	if (prev) {
		put16(f->cfg + CFG_STATUS, STATUS_CAP_LIST);
		f->cfg[CFG_CAP_PTR] = CAP_FIRST;
	}
	return 0;
}

int vpci_pt_assign_bar(struct vpci *b, unsigned slot, unsigned bar, uint64_t base)
{
	if (slot == 0 || slot >= VPCI_SLOTS || !b->fn[slot].pt || bar >= VPCI_BARS)
		return MICA_EINVAL;
	struct vpci_fn *f = &b->fn[slot];
	uint64_t size = f->bar_size[bar];
	if (!size || !base || (base & (size - 1)) ||
	    (!(f->bar_flags[bar] & VPCI_BAR_64) && (base + size - 1) >> 32))
		return MICA_EINVAL;
	put32(f->cfg + CFG_BAR0 + 4 * bar, (rd32(f->cfg + CFG_BAR0 + 4 * bar) & 0xFu) | (uint32_t)base);
	if (f->bar_flags[bar] & VPCI_BAR_64)
		put32(f->cfg + CFG_BAR0 + 4 * (bar + 1), (uint32_t)(base >> 32));
	put16(f->cfg + CFG_COMMAND, rd16(f->cfg + CFG_COMMAND) | CMD_MEMORY);
	return 0;
}

uint32_t vpci_cfg_dword(const struct vpci *b, unsigned slot, unsigned reg)
{
	if (slot >= VPCI_SLOTS || !b->fn[slot].present || reg > sizeof(b->fn[slot].cfg) - 4)
		return 0xFFFFFFFFu;
	return rd32(b->fn[slot].cfg + (reg & ~3u));
}

/* The MSI capability of the function at slot, or NULL. */
static uint8_t *msi_cap(struct vpci *b, unsigned slot)
{
	if (slot >= VPCI_SLOTS || !b->fn[slot].present || !b->fn[slot].msi_cap)
		return NULL;
	return b->fn[slot].cfg + b->fn[slot].msi_cap;
}

/* Vectors the guest enabled, from Message Control: 2^MME, but never more than the
 * function has (2^MMC); PCI Local Bus 3.0 6.8.1.3 leaves a larger MME undefined. */
static unsigned msi_enabled_nvec(uint16_t ctrl)
{
	unsigned mme = (ctrl >> 4) & 7, mmc = (ctrl >> 1) & 7;
	return 1u << (mme < mmc ? mme : mmc);
}

int vpci_msi_message(struct vpci *b, unsigned slot, unsigned vector, uint64_t *addr,
		     uint32_t *data)
{
	uint8_t *c = msi_cap(b, slot);
	if (!c)
		return MICA_EINVAL;
	uint16_t ctrl = rd16(c + MSI_CTRL);
	if (!(ctrl & MSI_CTRL_ENABLE))
		return vector < MSI_MAX_NVEC ? VPCI_MSIX_DISABLED : MICA_EINVAL;
	unsigned n = msi_enabled_nvec(ctrl);
	if (vector >= n)
		return MICA_EINVAL; /* the guest did not enable that many */
	if (!(rd16(b->fn[slot].cfg + CFG_COMMAND) & CMD_MASTER))
		return VPCI_MSIX_NO_MASTER;
	if (rd32(c + MSI_MASK) & (1u << vector)) {
		put32(c + MSI_PENDING, rd32(c + MSI_PENDING) | 1u << vector); /* 6.8.1.8 */
		return VPCI_MSIX_MASKED;
	}
	*addr = (uint64_t)rd32(c + MSI_ADDR_HI) << 32 | rd32(c + MSI_ADDR);
	/* With several vectors the function puts the vector in the data's low bits. */
	*data = (rd16(c + MSI_DATA) & ~(n - 1)) | vector;
	return 0;
}

int vpci_msi_pop_pending(struct vpci *b, unsigned slot)
{
	uint8_t *c = msi_cap(b, slot);
	if (!c || !(rd16(c + MSI_CTRL) & MSI_CTRL_ENABLE) ||
	    !(rd16(b->fn[slot].cfg + CFG_COMMAND) & CMD_MASTER))
		return -1;
	uint32_t ready = rd32(c + MSI_PENDING) & ~rd32(c + MSI_MASK);
	unsigned n = msi_enabled_nvec(rd16(c + MSI_CTRL));
	for (unsigned v = 0; v < n; v++)
		if (ready & (1u << v)) {
			put32(c + MSI_PENDING, rd32(c + MSI_PENDING) & ~(1u << v));
			return (int)v;
		}
	return -1;
}

unsigned vpci_msi_nvec(const struct vpci *b, unsigned slot)
{
	if (slot >= VPCI_SLOTS || !b->fn[slot].present || !b->fn[slot].msi_cap)
		return 0;
	const uint8_t *c = b->fn[slot].cfg + b->fn[slot].msi_cap;
	uint16_t ctrl = rd16(c + MSI_CTRL);
	return (ctrl & MSI_CTRL_ENABLE) ? msi_enabled_nvec(ctrl) : 0;
}
