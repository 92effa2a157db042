/* AMD-Vi (AMD I/O Virtualization Technology, IOMMU spec 48882 rev 3.x): one unit per IVHD
 * of the IVRS table. A device table for every requester ID of the segment, I/O page tables
 * (amdvi_pt.c), the command buffer for invalidations, the event log for faults, and
 * per-device interrupt remapping tables (32-bit entries).
 *
 * Default deny: every device table entry starts valid, translating (TV) with paging mode 0
 * and no read or write permission, so its DMA is blocked, and with interrupt remapping
 * valid but IntCtl 0, so its interrupt requests are aborted. Only the I/O APIC's entry lets
 * its interrupts through untranslated (Mica programs the I/O APIC itself). */
#include <stdio.h>
#include <string.h>
#include <mica/hypercall.h>
#include "arch/x86/cpu.h"
#include "arch/x86/iommu/amdvi_pt.h"
#include "arch/x86/iommu/tables.h"
#include "kernel/arch.h"
#include "kernel/iommu.h"
#include "kernel/log.h"
#include "kernel/mem.h"
#include "kernel/spinlock.h"

/* MMIO registers (3.4). */
#define R_DEVTAB   0x0000
#define R_CMDBUF   0x0008
#define R_EVTLOG   0x0010
#define R_CONTROL  0x0018
#define R_EFR      0x0030
#define R_CMD_HEAD 0x2000
#define R_CMD_TAIL 0x2008
#define R_EVT_HEAD 0x2010
#define R_EVT_TAIL 0x2018
#define R_STATUS   0x2020

#define C_IOMMU_EN   (1ull << 0)
#define C_EVTLOG_EN  (1ull << 2)
#define C_CMDBUF_EN  (1ull << 12)
#define EFR_IA       (1ull << 6) /* INVALIDATE_IOMMU_ALL supported */

#define DEVTAB_ENTRIES 65536
#define DEVTAB_SIZE    (DEVTAB_ENTRIES * 32)   /* 2 MiB: Size field 0x1ff */
#define RING_ENTRIES   256                      /* command buffer and event log: 4 KiB */
#define RING_LEN_LOG2  8ull

/* Device table entry, quadword 0 and 2 (3.2.2.2). */
#define DTE_V        (1ull << 0)
#define DTE_TV       (1ull << 1)
#define DTE_MODE(m)  ((uint64_t)(m) << 9)
#define DTE_IR       (1ull << 61)
#define DTE_IW       (1ull << 62)
#define DTE_IV       (1ull << 0)
#define DTE_INTLEN(n) ((uint64_t)(n) << 1)
#define DTE_INTCTL_REMAP (2ull << 60)

/* Commands (3.3). */
#define CMD_COMPLETION_WAIT 0x1u
#define CMD_INV_DTE         0x2u
#define CMD_INV_PAGES       0x3u
#define CMD_INV_IRT         0x5u
#define CMD_INV_ALL         0x8u

#define IRT_LEN_LOG2 6 /* IOMMU_IRQS_PER_DEV entries */

struct amdvi {
	volatile uint8_t *regs;
	uint16_t segment;
	uint64_t efr;
	uint64_t (*dte)[4];
	uint32_t *cmd;       /* 16-byte commands */
	unsigned cmd_tail;
	uint32_t *evt;       /* 16-byte events */
	volatile uint64_t wait_word;
	struct spinlock lock;
};

/* Set up by the boot CPU; afterwards entries change under each unit's lock. */
static struct amdvi units[IOMMU_UNITS_MAX];
static unsigned nunits;
static const struct iommu_acpi *acpi;
/* Per-device interrupt remapping tables, by RID (allocated on a device's first use). */
static uint32_t *irt_of[IOMMU_UNITS_MAX][64];
static uint16_t irt_rid[IOMMU_UNITS_MAX][64];

static uint64_t rd64(struct amdvi *u, unsigned r) { return *(volatile uint64_t *)(u->regs + r); }
static void wr64(struct amdvi *u, unsigned r, uint64_t v) { *(volatile uint64_t *)(u->regs + r) = v; }

/* Queues one command and waits (a COMPLETION_WAIT that stores to wait_word) until the unit
 * has done everything before it. Caller holds u->lock. */
static int submit(struct amdvi *u, const uint32_t c[4])
{
	uint64_t wa = virt_to_phys((const void *)&u->wait_word);
	const uint32_t wait[4] = { (uint32_t)wa | 1u /* S: store */,
				   (uint32_t)(wa >> 32) | CMD_COMPLETION_WAIT << 28, 1, 0 };

	u->wait_word = 0;
	for (int k = 0; k < 2; k++) {
		memcpy(&u->cmd[4 * u->cmd_tail], k ? wait : c, 16);
		u->cmd_tail = (u->cmd_tail + 1) % RING_ENTRIES;
	}
	__asm__ volatile("mfence" ::: "memory");
	wr64(u, R_CMD_TAIL, (uint64_t)u->cmd_tail << 4);
	for (uint64_t end = rdtsc() + (1ull << 32); rdtsc() < end;)
		if (__atomic_load_n(&u->wait_word, __ATOMIC_ACQUIRE) == 1)
			return 0;
	log_info("AMD-Vi unit at 0x%lx: a command did not complete (head 0x%lx, status 0x%lx)",
		 (unsigned long)virt_to_phys((const void *)u->regs),
		 (unsigned long)rd64(u, R_CMD_HEAD), (unsigned long)rd64(u, R_STATUS));
	return MICA_EFAULT;
}

static int inv_dte(struct amdvi *u, uint16_t rid)
{
	const uint32_t c[4] = { rid, CMD_INV_DTE << 28, 0, 0 };
	return submit(u, c);
}

/* Every page of domain id, directory entries included (S = 1 with the all-ones address). */
static int inv_domain(struct amdvi *u, unsigned id)
{
	const uint32_t c[4] = { 0, (id & 0xffff) | CMD_INV_PAGES << 28,
				0xfffff000u | 3u /* S, PDE */, 0x7fffffffu };
	return submit(u, c);
}

static int inv_irt(struct amdvi *u, uint16_t rid)
{
	const uint32_t c[4] = { rid, CMD_INV_IRT << 28, 0, 0 };
	return submit(u, c);
}

static void dte_deny(uint64_t e[4])
{
	e[1] = 0;
	e[2] = DTE_IV; /* IntCtl 0: fixed and arbitrated interrupts are aborted */
	e[3] = 0;
	e[0] = DTE_V | DTE_TV | DTE_MODE(0); /* no IR, no IW: every DMA blocked */
}

static int unit_init(struct amdvi *u, const struct iommu_unit *a, char *err, size_t errlen)
{
	u->regs = arch_map_mmio(a->base, 0x4000);
	if (!u->regs) {
		snprintf(err, errlen, "its registers at 0x%lx cannot be mapped", (unsigned long)a->base);
		return MICA_EINVAL;
	}
	u->segment = a->segment;
	u->efr = rd64(u, R_EFR);
	wr64(u, R_CONTROL, 0); /* whatever firmware left running stops before tables change */
	u->dte = phys_to_virt(mem_alloc(DEVTAB_SIZE, 4096));
	u->cmd = phys_to_virt(mem_alloc(RING_ENTRIES * 16, 4096));
	u->evt = phys_to_virt(mem_alloc(RING_ENTRIES * 16, 4096));
	if (!u->dte || !u->cmd || !u->evt) {
		snprintf(err, errlen, "no memory for the AMD-Vi tables (2 MiB device table)");
		return MICA_EFAULT;
	}
	for (unsigned i = 0; i < DEVTAB_ENTRIES; i++)
		dte_deny(u->dte[i]);
	/* The I/O APICs' interrupts pass untranslated; their DMA stays blocked. */
	for (unsigned s = 0; s < a->nscope; s++)
		if (a->scope[s].type == IOMMU_SCOPE_IOAPIC)
			u->dte[a->scope[s].first][2] = 0;
	wr64(u, R_DEVTAB, virt_to_phys(u->dte) | (DEVTAB_SIZE / 4096 - 1));
	wr64(u, R_CMDBUF, virt_to_phys(u->cmd) | RING_LEN_LOG2 << 56);
	wr64(u, R_EVTLOG, virt_to_phys(u->evt) | RING_LEN_LOG2 << 56);
	wr64(u, R_CMD_HEAD, 0);
	wr64(u, R_CMD_TAIL, 0);
	wr64(u, R_EVT_HEAD, 0);
	wr64(u, R_EVT_TAIL, 0);
	u->cmd_tail = 0;
	wr64(u, R_CONTROL, C_IOMMU_EN | C_EVTLOG_EN | C_CMDBUF_EN);
	if (u->efr & EFR_IA) {
		const uint32_t c[4] = { 0, CMD_INV_ALL << 28, 0, 0 };
		if (submit(u, c))
			goto stuck;
	} else {
		for (unsigned i = 0; i < DEVTAB_ENTRIES; i += 8) /* a fresh unit caches little */
			if (inv_dte(u, (uint16_t)i))
				goto stuck;
	}
	return 0;
stuck:
	snprintf(err, errlen, "AMD-Vi unit at 0x%lx does not execute commands (status 0x%lx)",
		 (unsigned long)a->base, (unsigned long)rd64(u, R_STATUS));
	return MICA_EFAULT;
}

static int amdvi_init(const struct iommu_acpi *a, uint8_t fault_vector, uint32_t apic_id,
		      char *err, size_t errlen)
{
	(void)fault_vector; /* the event log is read when the kernel asks (amdvi_faults) */
	(void)apic_id;
	acpi = a;
	for (unsigned i = 0; i < a->nunits; i++) {
		int rc = unit_init(&units[i], &a->unit[i], err, errlen);
		if (rc)
			return rc;
		nunits = i + 1;
	}
	return 0;
}

static int amdvi_domain_init(struct iommu_domain *d, unsigned id, uint64_t limit)
{
	struct amdvi_pt t;
	unsigned levels = limit > (1ull << 39) ? 4 : 3;
	int rc = amdvi_pt_init(&t, &iommu_table_alloc, levels);
	if (rc)
		return rc;
	d->id = id;
	d->root = t.root;
	d->levels = levels;
	return 0;
}

static int amdvi_domain_map(struct iommu_domain *d, uint64_t iova, uint64_t hpa, uint64_t size,
			    unsigned perm)
{
	struct amdvi_pt t = { .root = d->root, .levels = d->levels, .a = &iommu_table_alloc };
	if (!(perm & IOMMU_READ))
		return MICA_EINVAL;
	int rc = amdvi_pt_map(&t, iova, hpa, size, !!(perm & IOMMU_WRITE));
	for (unsigned i = 0; i < nunits && !rc; i++) {
		uint64_t f = spin_lock(&units[i].lock);
		rc = inv_domain(&units[i], d->id);
		spin_unlock(&units[i].lock, f);
	}
	return rc;
}

static struct amdvi *unit_of(uint16_t seg, uint16_t rid, unsigned *index)
{
	int i = iommu_acpi_unit_for(acpi, seg, rid);
	if (i < 0 || (unsigned)i >= nunits)
		return NULL;
	*index = (unsigned)i;
	return &units[i];
}

static uint32_t *irt_find(unsigned ui, uint16_t rid, int alloc)
{
	for (unsigned k = 0; k < 64; k++)
		if (irt_of[ui][k] && irt_rid[ui][k] == rid)
			return irt_of[ui][k];
	if (!alloc)
		return NULL;
	for (unsigned k = 0; k < 64; k++)
		if (!irt_of[ui][k]) {
			irt_of[ui][k] = phys_to_virt(mem_alloc(4096, 4096));
			irt_rid[ui][k] = rid;
			return irt_of[ui][k];
		}
	return NULL;
}

static int amdvi_attach(uint16_t seg, uint16_t rid, struct iommu_domain *d)
{
	unsigned ui;
	struct amdvi *u = unit_of(seg, rid, &ui);
	if (!u)
		return MICA_EINVAL;
	uint64_t f = spin_lock(&u->lock);
	uint64_t *e = u->dte[rid];
	unsigned old = (unsigned)(e[1] & 0xffff);
	uint32_t *irt = irt_find(ui, rid, d != NULL);
	dte_deny(e);
	if (d) {
		if (!irt) {
			spin_unlock(&u->lock, f);
			return MICA_EFAULT;
		}
		e[1] = d->id & 0xffff;
		e[2] = DTE_IV | DTE_INTLEN(IRT_LEN_LOG2) | virt_to_phys(irt) | DTE_INTCTL_REMAP;
		__asm__ volatile("" ::: "memory");
		e[0] = DTE_V | DTE_TV | DTE_MODE(d->levels) | (d->root & AMDVI_PTE_ADDR) |
		       DTE_IR | DTE_IW;
	} else if (irt) {
		memset(irt, 0, 4096); /* its interrupts are blocked until it is attached again */
	}
	/* Invalidating a device table entry does not flush the IOTLB (EMULATION.md, and the
	 * spec's 2.4): the domain's pages go too, and the remapping table. */
	int rc = inv_dte(u, rid);
	if (!rc)
		rc = inv_domain(u, d ? d->id : old);
	if (!rc)
		rc = inv_irt(u, rid);
	spin_unlock(&u->lock, f);
	return rc;
}

static int amdvi_irq_set(uint16_t seg, uint16_t rid, unsigned index, const struct iommu_irq *irq,
			 uint64_t *msi_addr, uint32_t *msi_data)
{
	unsigned ui;
	struct amdvi *u = unit_of(seg, rid, &ui);
	if (!u || index >= IOMMU_IRQS_PER_DEV)
		return MICA_EINVAL;
	uint64_t f = spin_lock(&u->lock);
	uint32_t *irt = irt_find(ui, rid, 0);
	int rc = MICA_EINVAL;
	if (irt) {
		/* 32-bit entry (2.2.5.1): RemapEn, fixed, physical destination, vector. */
		irt[index] = irq ? 1u | (irq->apic_id & 0xff) << 8 | (uint32_t)irq->vector << 16 : 0;
		rc = inv_irt(u, rid);
	}
	spin_unlock(&u->lock, f);
	/* The unit finds the entry by the MSI data's low 11 bits. */
	*msi_addr = 0xfee00000u;
	*msi_data = index;
	return rc;
}

static const char *event_words(unsigned code, uint32_t flags, uint8_t *intr)
{
	*intr = (flags >> 3) & 1; /* I: an interrupt request */
	switch (code) {
	case 0x1: return "its device table entry is invalid";
	case 0x2:
		if (*intr)
			return "the interrupt is not remapped for it";
		return (flags >> 4) & 1 ? "the page does not allow this access (read-only)"
					: "the address is outside the partition's RAM";
	case 0x3: case 0x4: return "the unit could not read its tables";
	case 0x8: return "an invalid request";
	default: return "unknown event";
	}
}

static unsigned amdvi_faults(struct iommu_fault *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nunits; i++) {
		struct amdvi *u = &units[i];
		uint64_t f = spin_lock(&u->lock);
		unsigned head = (unsigned)(rd64(u, R_EVT_HEAD) >> 4) % RING_ENTRIES;
		unsigned tail = (unsigned)(rd64(u, R_EVT_TAIL) >> 4) % RING_ENTRIES;
		while (head != tail) {
			const uint32_t *ev = &u->evt[4 * head];
			unsigned code = ev[1] >> 28;
			uint32_t flags = (ev[1] >> 16) & 0xfff;
			if (n < max && code >= 1 && code <= 8) {
				struct iommu_fault *o = &out[n++];
				*o = (struct iommu_fault){ .seg = u->segment, .rid = (uint16_t)ev[0],
					.addr = (uint64_t)ev[3] << 32 | ev[2],
					.write = (flags >> 5) & 1, .reason = (uint8_t)code };
				o->why = event_words(code, flags, &o->intr);
			}
			head = (head + 1) % RING_ENTRIES;
		}
		wr64(u, R_EVT_HEAD, (uint64_t)head << 4);
		spin_unlock(&u->lock, f);
	}
	return n;
}

static int amdvi_ioapic_route(uint8_t ioapic_id, unsigned pin, uint8_t vector, uint32_t apic_id,
			      int level, uint32_t *rte_lo, uint32_t *rte_hi)
{
	(void)ioapic_id; (void)pin; (void)vector; (void)apic_id; (void)level;
	(void)rte_lo; (void)rte_hi;
	return MICA_ENOSYS; /* the I/O APIC's entry passes its interrupts through */
}

static const struct iommu_ops amdvi_ops = {
	.name = "AMD-Vi",
	.init = amdvi_init,
	.domain_init = amdvi_domain_init,
	.domain_map = amdvi_domain_map,
	.attach = amdvi_attach,
	.irq_set = amdvi_irq_set,
	.faults = amdvi_faults,
	.ioapic_route = amdvi_ioapic_route,
};

const struct iommu_ops *amdvi_probe(void)
{
	return &amdvi_ops;
}
