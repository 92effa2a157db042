/* Intel VT-d (Intel Virtualization Technology for Directed I/O, spec rev 3.x): one remapping
 * unit per DRHD of the DMAR table. Legacy-mode root and context tables with second-level
 * page tables (the x86 format of arch/x86/pt.c: R, W and PS sit where P, W and PS are),
 * queued invalidation, fault recording registers, and interrupt remapping with source-ID
 * checks. Compatibility-format interrupts stay blocked (GCMD.CFI clear): with remapping
 * on, only an entry Mica wrote can turn a device's write into an interrupt. */
#include <stdio.h>
#include <string.h>
#include <mica/hypercall.h>
#include "arch/x86/cpu.h"
#include "arch/x86/pt.h"
#include "arch/x86/iommu/tables.h"
#include "kernel/arch.h"
#include "kernel/iommu.h"
#include "kernel/log.h"
#include "kernel/mem.h"
#include "kernel/spinlock.h"

/* Registers (VT-d 3.x, 11.4). */
#define R_CAP     0x08
#define R_ECAP    0x10
#define R_GCMD    0x18
#define R_GSTS    0x1c
#define R_RTADDR  0x20
#define R_FSTS    0x34
#define R_FECTL   0x38
#define R_FEDATA  0x3c
#define R_FEADDR  0x40
#define R_FEUADDR 0x44
#define R_PMEN    0x64
#define R_IQH     0x80
#define R_IQT     0x88
#define R_IQA     0x90
#define R_IRTA    0xb8

#define G_TE    (1u << 31)
#define G_SRTP  (1u << 30)
#define G_QIE   (1u << 26)
#define G_IRE   (1u << 25)
#define G_SIRTP (1u << 24)
#define G_CFI   (1u << 23)
#define G_KEEP  0x96800000u /* the persistent enables: TE, EAFL, QIE, IRE, CFI (11.4.4.1) */

#define CAP_SAGAW(c) (((c) >> 8) & 0x1f)
#define CAP_FRO(c)   ((unsigned)(((c) >> 24) & 0x3ff) * 16)
#define CAP_NFR(c)   ((unsigned)(((c) >> 40) & 0xff) + 1)
#define CAP_SLLPS(c) (((c) >> 34) & 0xf)
#define CAP_RWBF     (1ull << 4)
#define ECAP_C       (1ull << 0)
#define ECAP_QI      (1ull << 1)
#define ECAP_IR      (1ull << 3)

#define FSTS_PFO (1u << 0)
#define FSTS_PPF (1u << 1)

/* Queued invalidation descriptors (6.5.2). */
#define QI_CC_GLOBAL   (0x1ull | 1ull << 4)
#define QI_IOTLB_GLOBAL (0x2ull | 1ull << 4 | 1ull << 6 | 1ull << 7) /* drain reads, writes */
#define QI_IEC_GLOBAL  0x4ull
#define QI_WAIT        (0x5ull | 1ull << 5) /* status write */
#define QI_ENTRIES     256                  /* one 4 KiB page of 16-byte descriptors */

#define IRT_ENTRIES   4096 /* 64 KiB: IOMMU_IRQS_PER_DEV entries for 64 devices */
#define IRT_SIZE_BITS 11   /* IRTA.S: 2^(S+1) entries */
#define IR_DEVS       (IRT_ENTRIES / IOMMU_IRQS_PER_DEV - 1) /* the last block: I/O APIC pins */

struct vtd {
	volatile uint8_t *regs;
	uint64_t cap, ecap;
	uint16_t segment;
	uint64_t *root;             /* 256 root entries (16 bytes each: low, high) */
	uint64_t *queue;            /* invalidation queue */
	unsigned tail;
	volatile uint32_t wait_status;
	uint64_t *irt;              /* interrupt remapping table */
	uint32_t ir_rid[IR_DEVS];   /* rid + 1 of the device using block k of the table, 0 free */
	struct spinlock lock;       /* the queue, the tables' entries */
};

/* Written by the boot CPU at init; afterwards entries change under each unit's lock. */
static struct vtd units[IOMMU_UNITS_MAX];
static unsigned nunits;
static const struct iommu_acpi *acpi;
static unsigned dom_levels; /* 3 or 4: what every unit supports */

static uint32_t rd32(struct vtd *u, unsigned r) { return *(volatile uint32_t *)(u->regs + r); }
static uint64_t rd64(struct vtd *u, unsigned r) { return *(volatile uint64_t *)(u->regs + r); }
static void wr32(struct vtd *u, unsigned r, uint32_t v) { *(volatile uint32_t *)(u->regs + r) = v; }
static void wr64(struct vtd *u, unsigned r, uint64_t v) { *(volatile uint64_t *)(u->regs + r) = v; }

/* A unit whose page walks do not snoop the caches (ECAP.C clear) reads tables from memory:
 * write them back (4.1.3 of the spec). */
static void flush(const struct vtd *u, const void *p, size_t len)
{
	if (u->ecap & ECAP_C)
		return;
	for (uintptr_t a = (uintptr_t)p & ~63ull; a < (uintptr_t)p + len; a += 64)
		__asm__ volatile("clflush (%0)" :: "r"(a) : "memory");
	__asm__ volatile("mfence" ::: "memory");
}

static int wait_status(struct vtd *u, uint32_t bit, int set)
{
	for (uint64_t end = rdtsc() + (1ull << 32); rdtsc() < end;)
		if (!!(rd32(u, R_GSTS) & bit) == set)
			return 0;
	return MICA_EFAULT;
}

/* One global command (11.4.4): keep the persistent enables as they are. */
static int command(struct vtd *u, uint32_t bit, int on, uint32_t status_bit)
{
	uint32_t keep = rd32(u, R_GSTS) & G_KEEP;
	wr32(u, R_GCMD, on ? keep | bit : keep & ~bit);
	return wait_status(u, status_bit, on || bit == G_SRTP || bit == G_SIRTP);
}

/* Queues descriptors and waits until the unit has done them all. Caller holds u->lock. */
static int qi_submit(struct vtd *u, const uint64_t *desc, unsigned n)
{
	uint64_t wait[2] = { QI_WAIT | (1ull << 32), virt_to_phys((const void *)&u->wait_status) };

	u->wait_status = 0;
	for (unsigned i = 0; i <= n; i++) {
		const uint64_t *d = i < n ? desc + 2 * i : wait;
		u->queue[2 * u->tail] = d[0];
		u->queue[2 * u->tail + 1] = d[1];
		flush(u, &u->queue[2 * u->tail], 16);
		u->tail = (u->tail + 1) % QI_ENTRIES;
	}
	wr64(u, R_IQT, (uint64_t)u->tail << 4);
	for (uint64_t end = rdtsc() + (1ull << 32); rdtsc() < end;)
		if (__atomic_load_n(&u->wait_status, __ATOMIC_ACQUIRE) == 1)
			return 0;
	log_info("VT-d unit at 0x%lx: an invalidation did not complete (queue head 0x%lx, "
		 "fault status 0x%x)", (unsigned long)virt_to_phys((const void *)u->regs),
		 (unsigned long)rd64(u, R_IQH), rd32(u, R_FSTS));
	return MICA_EFAULT;
}

static int flush_all(struct vtd *u)
{
	const uint64_t d[] = { QI_CC_GLOBAL, 0, QI_IOTLB_GLOBAL, 0, QI_IEC_GLOBAL, 0 };
	return qi_submit(u, d, 3);
}

static int unit_init(struct vtd *u, const struct iommu_unit *a, uint8_t fault_vector,
		     uint32_t apic_id, char *err, size_t errlen)
{
	u->regs = arch_map_mmio(a->base, 0x1000);
	if (!u->regs) {
		snprintf(err, errlen, "its registers at 0x%lx cannot be mapped", (unsigned long)a->base);
		return MICA_EINVAL;
	}
	u->segment = a->segment;
	u->cap = rd64(u, R_CAP);
	u->ecap = rd64(u, R_ECAP);
	if (!(u->ecap & ECAP_QI) || !(u->ecap & ECAP_IR)) {
		snprintf(err, errlen, "VT-d unit at 0x%lx has no %s (extended capabilities "
			 "0x%lx): Mica needs queued invalidation and interrupt remapping",
			 (unsigned long)a->base, !(u->ecap & ECAP_QI) ? "queued invalidation" :
			 "interrupt remapping", (unsigned long)u->ecap);
		return MICA_EINVAL;
	}
	if (!(CAP_SAGAW(u->cap) & 6)) {
		snprintf(err, errlen, "VT-d unit at 0x%lx supports neither 3- nor 4-level tables "
			 "(capabilities 0x%lx)", (unsigned long)a->base, (unsigned long)u->cap);
		return MICA_EINVAL;
	}
	/* Whatever the firmware left on goes off before the tables change under it. */
	uint32_t st = rd32(u, R_GSTS);
	if (st & G_TE)
		command(u, G_TE, 0, G_TE);
	if (st & G_IRE)
		command(u, G_IRE, 0, G_IRE);
	if (st & G_QIE)
		command(u, G_QIE, 0, G_QIE);

	u->root = phys_to_virt(mem_alloc(4096, 4096));
	u->queue = phys_to_virt(mem_alloc(4096, 4096));
	u->irt = phys_to_virt(mem_alloc(IRT_ENTRIES * 16, 4096));
	if (!u->root || !u->queue || !u->irt) {
		snprintf(err, errlen, "no memory for the VT-d tables");
		return MICA_EFAULT;
	}
	flush(u, u->root, 4096);
	flush(u, u->irt, IRT_ENTRIES * 16);
	wr64(u, R_RTADDR, virt_to_phys(u->root)); /* legacy mode: TTM 00 */
	if (command(u, G_SRTP, 1, G_SRTP))
		goto stuck;
	u->tail = 0;
	wr64(u, R_IQT, 0);
	wr64(u, R_IQA, virt_to_phys(u->queue)); /* QS 0: 256 entries; 128-bit descriptors */
	if (command(u, G_QIE, 1, G_QIE))
		goto stuck;
	wr64(u, R_IRTA, virt_to_phys(u->irt) | IRT_SIZE_BITS); /* xAPIC destinations */
	if (command(u, G_SIRTP, 1, G_SIRTP))
		goto stuck;
	if (flush_all(u))
		goto stuck;
	if (command(u, G_IRE, 1, G_IRE) || command(u, G_TE, 1, G_TE))
		goto stuck;
	wr32(u, R_PMEN, 0); /* protected memory regions are for before an OS: DMA goes by
			     * the tables now */
	wr32(u, R_FSTS, rd32(u, R_FSTS)); /* clear what firmware left */
	if (fault_vector) {
		wr32(u, R_FEDATA, fault_vector);
		wr32(u, R_FEADDR, 0xfee00000u | (apic_id & 0xff) << 12);
		wr32(u, R_FEUADDR, 0);
		wr32(u, R_FECTL, 0); /* unmasked */
	}
	return 0;
stuck:
	snprintf(err, errlen, "VT-d unit at 0x%lx did not answer a command (status 0x%x)",
		 (unsigned long)a->base, rd32(u, R_GSTS));
	return MICA_EFAULT;
}

static int vtd_init(const struct iommu_acpi *a, uint8_t fault_vector, uint32_t apic_id,
		    char *err, size_t errlen)
{
	acpi = a;
	dom_levels = 4;
	for (unsigned i = 0; i < a->nunits; i++) {
		struct vtd *u = &units[i];
		int rc = unit_init(u, &a->unit[i], fault_vector, apic_id, err, errlen);
		if (rc) {
			/* No passthrough then (the caller drops the IOMMU), but the host's own
			 * interrupts must keep arriving: interrupt remapping goes off again on
			 * every unit, and they stay in the plain format. Translation stays on
			 * where it is: with no context entries it blocks all DMA, which is what
			 * Mica wants of devices nobody was given. */
			for (unsigned k = 0; k <= i; k++)
				if (units[k].regs && (rd32(&units[k], R_GSTS) & G_IRE))
					command(&units[k], G_IRE, 0, G_IRE);
			return rc;
		}
		if (!(CAP_SAGAW(u->cap) & 4))
			dom_levels = 3;
		nunits = i + 1;
	}
	return 0;
}

/* The large pages every unit can use in second-level tables (CAP.SLLPS). */
static unsigned big_pages(void)
{
	unsigned sllps = 3;
	for (unsigned i = 0; i < nunits; i++)
		sllps &= (unsigned)CAP_SLLPS(units[i].cap);
	return ((sllps & 1) ? PT_BIG_2M : 0) | ((sllps & 2) ? PT_BIG_1G : 0);
}

static int vtd_domain_init(struct iommu_domain *d, unsigned id, uint64_t limit)
{
	struct pt pt;

	if (dom_levels == 3 && limit > (1ull << 39))
		return MICA_EINVAL;
	int rc = pt_init(&pt, &iommu_table_alloc, big_pages());
	if (rc)
		return rc;
	d->id = id;
	d->root = pt.root;
	d->levels = dom_levels;
	return 0;
}

static void flush_tables(uint64_t table_pa, int level)
{
	uint64_t *t = phys_to_virt(table_pa);
	for (unsigned i = 0; i < nunits; i++)
		flush(&units[i], t, 4096);
	if (level == 0)
		return;
	for (unsigned k = 0; k < 512; k++)
		if ((t[k] & PT_P) && !(t[k] & PT_PS))
			flush_tables(t[k] & PT_ADDR_MASK, level - 1);
}

static int vtd_domain_map(struct iommu_domain *d, uint64_t iova, uint64_t hpa, uint64_t size,
			  unsigned perm)
{
	struct pt pt = { .root = d->root, .a = &iommu_table_alloc, .big = big_pages() };

	if (!(perm & IOMMU_READ))
		return MICA_EINVAL;
	int rc = pt_map(&pt, iova, hpa, size, (perm & IOMMU_WRITE) ? PT_W : 0);
	if (rc)
		return rc;
	flush_tables(d->root, 3);
	for (unsigned i = 0; i < nunits; i++) {
		uint64_t f = spin_lock(&units[i].lock);
		rc |= flush_all(&units[i]);
		spin_unlock(&units[i].lock, f);
	}
	return rc ? MICA_EFAULT : 0;
}

static struct vtd *unit_of(uint16_t seg, uint16_t rid)
{
	int i = iommu_acpi_unit_for(acpi, seg, rid);
	return i >= 0 && (unsigned)i < nunits ? &units[i] : NULL;
}

static int vtd_attach(uint16_t seg, uint16_t rid, struct iommu_domain *d)
{
	struct vtd *u = unit_of(seg, rid);
	if (!u)
		return MICA_EINVAL;
	uint64_t f = spin_lock(&u->lock);
	uint64_t *re = &u->root[2 * (rid >> 8)];
	if (!(*re & 1)) {
		uint64_t ctx = mem_alloc(4096, 4096);
		if (!ctx) {
			spin_unlock(&u->lock, f);
			return MICA_EFAULT;
		}
		flush(u, phys_to_virt(ctx), 4096);
		*re = ctx | 1;
		flush(u, re, 16);
	}
	uint64_t *ce = (uint64_t *)phys_to_virt(*re & PT_ADDR_MASK) + 2 * (rid & 0xff);
	ce[0] = 0; /* not present while it changes */
	flush(u, ce, 16);
	if (d) {
		uint64_t top = d->root;
		if (d->levels == 3)
			top = *(uint64_t *)phys_to_virt(d->root) & PT_ADDR_MASK; /* the PDPT */
		ce[1] = (d->levels == 3 ? 1u : 2u) | (uint64_t)(d->id & 0xffff) << 8; /* AW, DID */
		flush(u, ce, 16);
		ce[0] = top | 1; /* TT 00: untranslated requests through the second-level tables */
		flush(u, ce, 16);
	}
	int rc = flush_all(u);
	spin_unlock(&u->lock, f);
	return rc;
}

static int ir_block(struct vtd *u, uint16_t rid, int alloc)
{
	int free = -1;
	for (unsigned k = 0; k < IR_DEVS; k++) {
		if (u->ir_rid[k] == (uint32_t)rid + 1)
			return (int)k;
		if (!u->ir_rid[k] && free < 0)
			free = (int)k;
	}
	if (alloc && free >= 0)
		u->ir_rid[free] = (uint32_t)rid + 1;
	return alloc ? free : -1;
}

static int vtd_irq_set(uint16_t seg, uint16_t rid, unsigned index, const struct iommu_irq *irq,
		       uint64_t *msi_addr, uint32_t *msi_data)
{
	struct vtd *u = unit_of(seg, rid);
	if (!u || index >= IOMMU_IRQS_PER_DEV)
		return MICA_EINVAL;
	uint64_t f = spin_lock(&u->lock);
	int block = ir_block(u, rid, irq != NULL);
	if (block < 0) {
		spin_unlock(&u->lock, f);
		return irq ? MICA_EFAULT : 0;
	}
	unsigned handle = (unsigned)block * IOMMU_IRQS_PER_DEV + index;
	uint64_t *e = &u->irt[2 * handle];
	e[0] = 0;
	flush(u, e, 16);
	if (irq) {
		/* SVT 01: the request's source ID must equal SID exactly (9.10). */
		e[1] = rid | 1ull << 18;
		flush(u, e, 16);
		/* Present, physical destination, edge, fixed; xAPIC destination in bits 47:40. */
		e[0] = 1 | (uint64_t)irq->vector << 16 | (uint64_t)(irq->apic_id & 0xff) << 40;
		flush(u, e, 16);
	}
	const uint64_t d[] = { QI_IEC_GLOBAL, 0 };
	int rc = qi_submit(u, d, 1);
	spin_unlock(&u->lock, f);
	/* Remappable format (5.1.5.2): handle[14:0] in bits 19:5, format bit 4, SHV bit 3,
	 * handle[15] in bit 2. With SHV the entry is handle + the data's low 16 bits: data 0
	 * here, and an MSI function with several vectors puts vector k there, reaching entry
	 * index + k (iommu.h). */
	*msi_addr = 0xfee00000u | (handle & 0x7fff) << 5 | 1u << 4 | 1u << 3 |
		    (handle >> 15 & 1) << 2;
	*msi_data = 0;
	return rc;
}

static const char *fault_words(unsigned reason)
{
	switch (reason) {
	case 0x01: case 0x02: return "the device belongs to no partition (no context entry)";
	case 0x03: return "its context entry is invalid";
	case 0x04: return "the address is beyond the domain's width";
	case 0x05: return "the page is not writable (outside the partition's RAM or read-only)";
	case 0x06: return "the page is not readable (outside the partition's RAM)";
	case 0x07: case 0x08: case 0x09: case 0x0a: case 0x0b: case 0x0c:
		return "Mica's tables are malformed";
	case 0x0d: return "the translation type is blocked";
	case 0x20: return "the interrupt request has reserved bits set";
	case 0x21: return "the interrupt index is beyond the remapping table";
	case 0x22: return "the interrupt's remapping entry is not present";
	case 0x24: return "the interrupt's remapping entry is malformed";
	case 0x25: return "a compatibility-format interrupt was blocked";
	case 0x26: return "the interrupt's source ID does not match its remapping entry";
	default: return "unknown reason";
	}
}

static unsigned vtd_faults(struct iommu_fault *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nunits; i++) {
		struct vtd *u = &units[i];
		uint64_t f = spin_lock(&u->lock);
		uint32_t fsts = rd32(u, R_FSTS);
		if (fsts & FSTS_PPF) {
			unsigned nfr = CAP_NFR(u->cap), fro = CAP_FRO(u->cap);
			unsigned first = (fsts >> 8) & 0xff;
			for (unsigned k = 0; k < nfr; k++) {
				unsigned r = fro + 16 * ((first + k) % nfr);
				uint64_t hi = rd64(u, r + 8);
				if (!(hi >> 63))
					continue;
				uint64_t lo = rd64(u, r);
				unsigned reason = (unsigned)(hi >> 32) & 0xff;
				if (n < max) {
					out[n++] = (struct iommu_fault){
						.seg = u->segment, .rid = (uint16_t)hi,
						.addr = reason >= 0x20 ? lo >> 48 : lo & ~0xfffull,
						.write = !((hi >> 62) & 1), .intr = reason >= 0x20,
						.reason = (uint8_t)reason, .why = fault_words(reason),
					};
				}
				wr32(u, r + 12, 1u << 31); /* F is write-1-to-clear */
			}
		}
		wr32(u, R_FSTS, fsts & 0x7f); /* PFO, PPF and the invalidation errors */
		spin_unlock(&u->lock, f);
	}
	return n;
}

static int vtd_ioapic_route(uint8_t ioapic_id, unsigned pin, uint8_t vector, uint32_t apic_id,
			    int level, uint32_t *rte_lo, uint32_t *rte_hi)
{
	uint16_t rid;
	if (iommu_acpi_ioapic_rid(acpi, ioapic_id, &rid)) {
		log_info("VT-d: the DMAR table names no I/O APIC with ID %u: its interrupts stay "
			 "blocked", ioapic_id);
		return MICA_EINVAL;
	}
	struct vtd *u = unit_of(acpi->unit[0].segment, rid);
	if (!u)
		return MICA_EINVAL;
	uint64_t f = spin_lock(&u->lock);
	/* The I/O APIC's pins use the last block of the table, one entry per pin. */
	unsigned handle = IRT_ENTRIES - 32 + (pin & 31);
	uint64_t *e = &u->irt[2 * handle];
	e[0] = 0;
	flush(u, e, 16);
	e[1] = rid | 1ull << 18;
	e[0] = 1 | (level ? 1u << 4 : 0) | (uint64_t)vector << 16 | (uint64_t)(apic_id & 0xff) << 40;
	flush(u, e, 16);
	const uint64_t d[] = { QI_IEC_GLOBAL, 0 };
	int rc = qi_submit(u, d, 1);
	spin_unlock(&u->lock, f);
	/* Remappable RTE (5.1.5.1): format bit 48, handle[14:0] in 63:49, handle[15] in 11;
	 * the vector field matches the entry's, for EOI broadcasts. */
	*rte_lo = vector | (level ? 1u << 15 : 0);
	*rte_hi = 1u << 16 | (handle & 0x7fff) << 17;
	return rc;
}

static const struct iommu_ops vtd_ops = {
	.name = "VT-d",
	.init = vtd_init,
	.domain_init = vtd_domain_init,
	.domain_map = vtd_domain_map,
	.attach = vtd_attach,
	.irq_set = vtd_irq_set,
	.faults = vtd_faults,
	.ioapic_route = vtd_ioapic_route,
};

const struct iommu_ops *vtd_probe(void)
{
	return &vtd_ops;
}
