/* Guest page-table walker. Modes, entry formats and reserved bits: SDM vol3 chapter 4
 * (4.3 32-bit, 4.4 PAE, 4.5 4/5-level, 4.6 access rights), APM vol2 5.2-5.6. The tables
 * belong to the guest: every entry is read through the caller's callback (which checks
 * the address is guest RAM) and a walk has a fixed number of levels, so a table that
 * points at itself or outside RAM ends the walk with an error, never a loop or a crash. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <mica/hypercall.h>

#include "kernel/emul/gwalk.h"
#include "lib/errmsg.h"

#define CR0_WP    (1ULL << 16)
#define CR0_PG    (1ULL << 31)
#define CR4_PSE   (1ULL << 4)
#define CR4_PAE   (1ULL << 5)
#define CR4_LA57  (1ULL << 12)
#define CR4_SMEP  (1ULL << 20)
#define CR4_SMAP  (1ULL << 21)
#define EFER_LMA  (1ULL << 10)
#define EFER_NXE  (1ULL << 11)
#define RFLAGS_AC (1ULL << 18)

#define PTE_P  (1ULL << 0)
#define PTE_W  (1ULL << 1)
#define PTE_U  (1ULL << 2)
#define PTE_PS (1ULL << 7)
#define PTE_XD (1ULL << 63)

#define PF_P    (1u << 0)
#define PF_RSVD (1u << 3)

typedef unsigned long long ull;

enum mode { MODE_32, MODE_PAE, MODE_L4, MODE_L5 };

/* One walk: the guest's controls decoded once, then the rights gathered level by level. */
struct walk {
	const struct gwalk_regs *r;
	enum mode mode;
	unsigned maxphy;
	uint64_t addr_mask; /* physical address bits [maxphy-1:0] */
	int nxe;
	int writable, user, nx; /* AND of R/W, AND of U/S, OR of XD over the levels seen */
};

static uint64_t bits(unsigned hi, unsigned lo)
{
	return (hi >= 63 ? ~0ULL : (1ULL << (hi + 1)) - 1) & ~((1ULL << lo) - 1);
}

/* Level names, indexed by the shift of the address bits the level translates. */
static const char *level_name(enum mode m, unsigned shift)
{
	switch (shift) {
	case 48: return "PML5 entry";
	case 39: return "PML4 entry";
	case 30: return m == MODE_PAE ? "PAE PDPT entry" : "PDPT entry";
	case 22: /* fall through */
	case 21: return "PD entry";
	default: return "PT entry";
	}
}

/* Bits that must be 0 in a present entry at this level; leaf says PS made it a leaf. */
static uint64_t reserved(const struct walk *w, unsigned shift, int leaf)
{
	uint64_t rs;

	if (w->mode == MODE_32) {
		if (!leaf || shift == 12)
			return 0;
		/* 4 MiB PDE: bit 21 reserved; bits 20:13 are physical bits 39:32 (PSE-36/40). */
		unsigned top = w->maxphy < 40 ? w->maxphy : 40;
		rs = 1ULL << 21;
		if (top < 40)
			rs |= bits(20, 13 + (top > 32 ? top - 32 : 0));
		return rs;
	}
	if (w->mode == MODE_PAE) {
		if (shift == 30) /* the four PDPTEs: no R/W, U/S, A, D, PS or XD */
			return bits(63, w->maxphy) | bits(8, 5) | bits(2, 1);
		rs = bits(62, w->maxphy);
	} else {
		rs = w->maxphy < 52 ? bits(51, w->maxphy) : 0;
		if (shift >= 39)
			rs |= PTE_PS;
	}
	if (!w->nxe)
		rs |= PTE_XD;
	if (leaf && shift > 12) /* PAT is bit 12; bits up to the page size must be 0 */
		rs |= bits(shift - 1, 13);
	return rs;
}

static int read_entry(struct walk *w, uint64_t at, uint64_t *e, gwalk_read_fn read, void *ctx,
		      uint64_t gva, unsigned shift, char *err, size_t errlen)
{
	unsigned size = w->mode == MODE_32 ? 4 : 8;
	uint8_t b[8] = { 0 };
	int rc = read(ctx, at, b, size);

	if (rc) {
		if (rc > 0)
			rc = MICA_EFAULT;
		return errmsg(rc, err, errlen,
			    "guest page walk for 0x%llx: cannot read the %s at guest-physical 0x%llx",
			    (ull)gva, level_name(w->mode, shift), (ull)at);
	}
	*e = 0;
	for (unsigned i = 0; i < size; i++)
		*e |= (uint64_t)b[i] << (8 * i);
	return 0;
}

static int check_rights(const struct walk *w, uint64_t gva, unsigned access, char *err,
			size_t errlen)
{
	const struct gwalk_regs *r = w->r;
	const char *why = NULL;

	if (access & GWALK_USER) {
		if (!w->user)
			why = "user access to a supervisor page";
		else if ((access & GWALK_FETCH) && w->nx)
			why = "instruction fetch from a no-execute page";
		else if ((access & GWALK_WRITE) && !w->writable)
			why = "user write to a read-only page";
	} else if (access & GWALK_FETCH) {
		if (w->nx)
			why = "instruction fetch from a no-execute page";
		else if ((r->cr4 & CR4_SMEP) && w->user)
			why = "supervisor fetch from a user page with SMEP on";
	} else {
		if ((r->cr4 & CR4_SMAP) && w->user && !(r->rflags & RFLAGS_AC))
			why = "supervisor data access to a user page with SMAP on and EFLAGS.AC clear";
		else if ((access & GWALK_WRITE) && (r->cr0 & CR0_WP) && !w->writable)
			why = "supervisor write to a read-only page with CR0.WP set";
	}
	if (why)
		return errmsg(GWALK_EPROT, err, errlen, "guest page walk for 0x%llx: %s", (ull)gva,
			    why);
	return 0;
}

static int check_address(struct walk *w, uint64_t gva, char *err, size_t errlen)
{
	unsigned vbits;

	if (w->mode == MODE_32 || w->mode == MODE_PAE) {
		if (gva >> 32)
			return errmsg(GWALK_EADDR, err, errlen,
				    "guest linear address 0x%llx is above 4 GiB outside long mode",
				    (ull)gva);
		return 0;
	}
	vbits = w->mode == MODE_L5 ? 57 : 48;
	/* Canonical: bits 63:vbits-1 all equal (SDM vol1 3.3.7.1). */
	uint64_t top = gva >> (vbits - 1);
	if (top != 0 && top != (~0ULL >> (vbits - 1)))
		return errmsg(GWALK_EADDR, err, errlen,
			    "guest address 0x%llx is not canonical for %u-level paging", (ull)gva,
			    w->mode == MODE_L5 ? 5 : 4);
	return 0;
}

static int set_mode(struct walk *w, const struct gwalk_regs *r, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->r = r;
	w->maxphy = r->maxphyaddr ? r->maxphyaddr : 52;
	if (w->maxphy < 32 || w->maxphy > 52)
		return errmsg(GWALK_ESTATE, err, errlen, "MAXPHYADDR %u is outside [32, 52]",
			    w->maxphy);
	w->addr_mask = bits(w->maxphy - 1, 0);
	w->nxe = !!(r->efer & EFER_NXE);
	w->writable = w->user = 1;
	if (r->efer & EFER_LMA) {
		if (!(r->cr4 & CR4_PAE))
			return errmsg(GWALK_ESTATE, err, errlen,
				    "EFER.LMA is set but CR4.PAE is clear: no valid paging mode");
		w->mode = (r->cr4 & CR4_LA57) ? MODE_L5 : MODE_L4;
	} else {
		w->mode = (r->cr4 & CR4_PAE) ? MODE_PAE : MODE_32;
		w->nxe = w->nxe && w->mode == MODE_PAE; /* 32-bit entries have no XD bit */
	}
	return 0;
}

int gwalk(const struct gwalk_regs *r, uint64_t gva, unsigned access, gwalk_read_fn read,
	  void *ctx, uint64_t *gpa, char *err, size_t errlen)
{
	struct walk w;
	uint64_t table, e = 0;
	unsigned shift, idx_bits;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!(r->cr0 & CR0_PG)) {
		if (r->efer & EFER_LMA)
			return errmsg(GWALK_ESTATE, err, errlen,
				    "EFER.LMA is set but CR0.PG is clear: no valid paging mode");
		if (gva >> 32)
			return errmsg(GWALK_EADDR, err, errlen,
				    "guest linear address 0x%llx is above 4 GiB with paging off",
				    (ull)gva);
		*gpa = gva;
		return 0;
	}
	rc = set_mode(&w, r, err, errlen);
	if (!rc)
		rc = check_address(&w, gva, err, errlen);
	if (rc)
		return rc;

	switch (w.mode) {
	case MODE_32:
		table = r->cr3 & 0xfffff000ULL;
		shift = 22;
		idx_bits = 10;
		break;
	case MODE_PAE:
		table = r->cr3 & 0xffffffe0ULL;
		shift = 30;
		idx_bits = 2;
		break;
	case MODE_L4:
		table = r->cr3 & w.addr_mask & ~0xfffULL;
		shift = 39;
		idx_bits = 9;
		break;
	default:
		table = r->cr3 & w.addr_mask & ~0xfffULL;
		shift = 48;
		idx_bits = 9;
		break;
	}

	for (;;) {
		unsigned esize = w.mode == MODE_32 ? 4 : 8;
		uint64_t idx = (gva >> shift) & ((1ULL << idx_bits) - 1);
		uint64_t at = table + idx * esize;
		const char *name = level_name(w.mode, shift);
		int leaf;

		rc = read_entry(&w, at, &e, read, ctx, gva, shift, err, errlen);
		if (rc)
			return rc;
		if (!(e & PTE_P))
			return errmsg(GWALK_ENOTPRESENT, err, errlen,
				    "guest page walk for 0x%llx: %s 0x%llx at guest-physical 0x%llx is "
				    "not present", (ull)gva, name, (ull)e, (ull)at);
		if (shift == 12)
			leaf = 1;
		else if (w.mode == MODE_32)
			leaf = (e & PTE_PS) && (r->cr4 & CR4_PSE);
		else if (w.mode == MODE_PAE)
			leaf = shift == 21 && (e & PTE_PS);
		else
			leaf = shift <= 30 && (e & PTE_PS);

		uint64_t rs = reserved(&w, shift, leaf) & e;
		if (rs)
			return errmsg(GWALK_ERSVD, err, errlen,
				    "guest page walk for 0x%llx: %s 0x%llx at guest-physical 0x%llx has "
				    "reserved bits 0x%llx set", (ull)gva, name, (ull)e, (ull)at,
				    (ull)rs);
		if (!(w.mode == MODE_PAE && shift == 30)) {
			w.writable &= !!(e & PTE_W);
			w.user &= !!(e & PTE_U);
		}
		if (w.nxe && (e & PTE_XD))
			w.nx = 1;
		if (leaf)
			break;

		if (w.mode == MODE_32) {
			table = e & 0xfffff000ULL;
			shift = 12;
			idx_bits = 10;
		} else {
			table = e & w.addr_mask & ~0xfffULL;
			shift = shift == 30 ? 21 : shift - 9;
			idx_bits = 9;
		}
	}

	rc = check_rights(&w, gva, access, err, errlen);
	if (rc)
		return rc;
	if (w.mode == MODE_32 && shift == 22) {
		uint64_t base = (e & 0xffc00000ULL) | (((e >> 13) & 0xff) << 32);
		*gpa = base | (gva & bits(21, 0));
	} else if (w.mode == MODE_32) {
		*gpa = (e & 0xfffff000ULL) | (gva & 0xfff);
	} else {
		*gpa = (e & w.addr_mask & ~bits(shift - 1, 0)) | (gva & bits(shift - 1, 0));
	}
	return 0;
}

int gwalk_read(const struct gwalk_regs *r, uint64_t gva, unsigned access, gwalk_read_fn read,
	       void *ctx, void *buf, unsigned len, char *err, size_t errlen)
{
	uint8_t *out = buf;
	/* Outside long mode linear addresses are 32 bits and wrap (SDM vol3 3.4). */
	int wrap32 = !(r->efer & EFER_LMA);
	unsigned done = 0;

	if (err && errlen)
		err[0] = '\0';
	while (done < len) {
		uint64_t va = gva + done, gpa;
		if (wrap32 && !(gva >> 32))
			va &= 0xffffffffULL;
		unsigned chunk = 4096 - (unsigned)(va & 0xfff);
		if (chunk > len - done)
			chunk = len - done;
		int rc = gwalk(r, va, access, read, ctx, &gpa, err, errlen);
		if (rc)
			return rc;
		rc = read(ctx, gpa, out + done, chunk);
		if (rc)
			return errmsg(rc > 0 ? MICA_EFAULT : rc, err, errlen,
				    "cannot read %u bytes at guest-virtual 0x%llx (guest-physical "
				    "0x%llx)", chunk, (ull)va, (ull)gpa);
		done += chunk;
	}
	return 0;
}

int gwalk_pf_error(const struct gwalk_regs *r, int rc, unsigned access)
{
	unsigned code = access & (GWALK_WRITE | GWALK_USER | GWALK_FETCH);

	/* I/D is reported only when a fetch could be refused: SMEP, or NX usable (PAE+NXE). */
	if (!((r->cr4 & CR4_SMEP) || ((r->cr4 & CR4_PAE) && (r->efer & EFER_NXE))))
		code &= ~GWALK_FETCH;

	switch (rc) {
	case GWALK_ENOTPRESENT: return (int)code;
	case GWALK_EPROT: return (int)(code | PF_P);
	case GWALK_ERSVD: return (int)(code | PF_P | PF_RSVD);
	default: return -1;
	}
}
