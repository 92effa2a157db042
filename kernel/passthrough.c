/* PCI passthrough: host PCI and the IOMMU at boot, and each passed-through function's life
 * in its partition (passthrough.h). The guest sees the function on its own PCI bus
 * (kernel/vpci/bus.c builds its configuration space from what is safe to show); this file
 * is the function's owner there: it forwards the accesses the stage-2 does not map, follows
 * bus mastering and MSI/MSI-X enables onto the host function, and turns the device's
 * interrupts, remapped by the IOMMU to a host vector, into the guest's message. */
#include <stdio.h>
#include <string.h>
#include <mica/hypercall.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/assign_check.h"
#include "kernel/host/acpi.h"
#include "kernel/host/pci.h"
#include "kernel/iommu.h"
#include "kernel/log.h"
#include "kernel/mem.h"
#include "kernel/partition.h"
#include "kernel/passthrough.h"
#include "kernel/platform/acpi_tables.h"
#include "lib/portio.h"
#include "lib/ratelimit.h"

#define PT_SLOT_FIRST   8    /* guest slots 8.. (virtio devices sit at 1-3) */
#define PT_MAX          (CFG_MAX_PARTS * 2)
#define PT_BAR_WINDOW   (ACPI_PCI_MEM_BASE + ACPI_PCI_MEM_SIZE / 2) /* the window's upper half */
#define FAULT_LINES     5    /* fault lines per device per second, then a count */
#define FAULTS_MAX      16   /* faults after which its bus mastering goes off */
#define NO_RESET_GRACE_MS 250 /* a device without a reset method: bus mastering off this
			       * long before its partition's RAM is reused */

/* Configuration registers used on the host function. */
#define REG_COMMAND     0x04
#define CMD_MEMORY      0x0002
#define CMD_MASTER      0x0004
#define CMD_INTX_OFF    0x0400
#define MSI_CTRL        2
#define MSI_ENABLE      0x0001
#define MSI_MME         0x0070
#define MSI_64          0x0080
#define MSI_PVM         0x0100
#define MSIX_CTRL       2
#define MSIX_ENABLE     0x8000
#define MSIX_FMASK      0x4000
#define PCIE_DEVCTL     8
#define PCIE_FLR        0x8000
#define PCIE_DEVSTA     0x0a
#define PCIE_TP         0x0020 /* Transactions Pending */
#define PM_CSR          4
#define REG_BRIDGE_CTL  0x3e
#define BRIDGE_SBR      0x0040 /* Secondary Bus Reset (PCI-to-PCI Bridge 1.2, 3.2.5.18) */

/* One passed-through function. Set up by the boot CPU; afterwards touched under its
 * partition's pci_lock (config, MMIO) or read by the interrupt path. */
struct pt_dev {
	struct partition *p;
	const struct hpci_dev *h;
	unsigned slot;
	uint64_t gbar[HPCI_BARS];      /* guest-physical BAR bases Mica chose */
	uint64_t mapped[HPCI_BARS];    /* where each BAR is in the guest's stage-2 now (0: not) */
	struct pcpu *cpu;              /* where its host vectors are */
	uint8_t vec[VPCI_MSIX_MAX];    /* host vector per MSI-X entry (MSI: entry 0) */
	unsigned nvec;
	uint64_t msi_addr[VPCI_MSIX_MAX]; /* the remapped messages the device sends */
	uint32_t msi_data[VPCI_MSIX_MAX];
	volatile uint32_t *msix_table; /* the host function's MSI-X table */
	volatile uint8_t *bar_va[HPCI_BARS]; /* the host BARs, as the core reaches them */
	unsigned faults;               /* since its last reset */
	struct ratelimit fault_log;
	int master_off;                /* bus mastering off after repeated faults */
};

/* Filled by the boot CPU in passthrough_init/attach; read-only afterwards except the
 * per-device fields noted above. */
static struct hpci_list host_pci;
static struct iommu_acpi iommu_tables;
static struct acpi_mcfg mcfg;
static struct pt_dev devs[PT_MAX];
static unsigned ndevs;
static struct iommu_domain domains[CFG_MAX_PARTS];
static uint8_t domain_made[CFG_MAX_PARTS];
const struct iommu_ops *iommu;
/* Host vector -> device and entry, per CPU (entry in the low byte, device index + 1 above). */
static uint16_t vec_owner[MAX_CPUS][256];
static uint8_t vec_next[MAX_CPUS];
static struct spinlock cf8_lock; /* configuration mechanism #1's two ports */

/* --- Host configuration space: ECAM where the MCFG says, else mechanism #1 ------------ */

static volatile uint8_t *ecam(uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn, unsigned reg)
{
	for (unsigned i = 0; i < mcfg.n; i++)
		if (mcfg.win[i].seg == seg && bus >= mcfg.win[i].start_bus &&
		    bus <= mcfg.win[i].end_bus)
			return phys_to_virt(mcfg.win[i].base +
					    ((uint64_t)(bus - mcfg.win[i].start_bus) << 20 |
					     (uint64_t)dev << 15 | (uint64_t)fn << 12 | reg));
	return NULL;
}

static uint32_t cfg_read(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
			 unsigned reg)
{
	(void)ctx;
	volatile uint8_t *e = ecam(seg, bus, dev, fn, reg & 0xffc);
	if (e)
		return *(volatile uint32_t *)e;
	if (seg || reg > 0xfc)
		return 0xffffffffu;
	uint64_t f = spin_lock(&cf8_lock);
	outl(0xcf8, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 |
	     (reg & 0xfc));
	uint32_t v = inl(0xcfc);
	spin_unlock(&cf8_lock, f);
	return v;
}

static void cfg_write(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
		      unsigned reg, uint32_t val)
{
	(void)ctx;
	volatile uint8_t *e = ecam(seg, bus, dev, fn, reg & 0xffc);
	if (e) {
		*(volatile uint32_t *)e = val;
		return;
	}
	if (seg || reg > 0xfc)
		return;
	uint64_t f = spin_lock(&cf8_lock);
	outl(0xcf8, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 |
	     (reg & 0xfc));
	outl(0xcfc, val);
	spin_unlock(&cf8_lock, f);
}

static const struct hpci_cfg host_cfg = { cfg_read, cfg_write, NULL };

static uint32_t hrd(const struct hpci_dev *h, unsigned reg)
{
	return cfg_read(NULL, h->seg, h->bus, h->dev, h->fn, reg);
}

static void hwr(const struct hpci_dev *h, unsigned reg, uint32_t val)
{
	cfg_write(NULL, h->seg, h->bus, h->dev, h->fn, reg, val);
}

/* A 16-bit register, written without touching its dword neighbour (the status register
 * beside the command register is write-1-to-clear). */
static void hwr16(const struct hpci_dev *h, unsigned reg, uint16_t val)
{
	volatile uint8_t *e = ecam(h->seg, h->bus, h->dev, h->fn, reg);
	if (e) {
		*(volatile uint16_t *)e = val;
		return;
	}
	uint32_t keep = hrd(h, reg & ~3u) & (reg & 2 ? 0x0000ffffu : 0xffff0000u);
	if ((reg & ~3u) == REG_COMMAND)
		keep = 0; /* status: writing its ones back would clear them */
	hwr(h, reg & ~3u, keep | (uint32_t)val << (reg & 2 ? 16 : 0));
}

static uint16_t hrd16(const struct hpci_dev *h, unsigned reg)
{
	return (uint16_t)(hrd(h, reg & ~3u) >> (reg & 2 ? 16 : 0));
}

/* --- Boot ---------------------------------------------------------------------------- */

static void scan_host(void)
{
	memset(&host_pci, 0, sizeof(host_pci));
	if (!mcfg.n) {
		hpci_scan(&host_cfg, 0, 0, &host_pci);
		return;
	}
	for (unsigned w = 0; w < mcfg.n; w++) {
		hpci_scan(&host_cfg, mcfg.win[w].seg, mcfg.win[w].start_bus, &host_pci);
		/* Other root buses (a machine with several host bridges): any bus of the window
		 * that no walk reached but that has a device 0. */
		for (unsigned b = mcfg.win[w].start_bus + 1u; b <= mcfg.win[w].end_bus; b++) {
			int seen = 0;
			for (unsigned i = 0; i < host_pci.n && !seen; i++) {
				const struct hpci_dev *d = &host_pci.dev[i];
				seen = d->seg == mcfg.win[w].seg &&
				       (d->bus == b || (d->header == HPCI_HDR_BRIDGE &&
							b >= d->secondary && b <= d->subordinate));
			}
			if (!seen && (cfg_read(NULL, mcfg.win[w].seg, (uint8_t)b, 0, 0, 0) & 0xffff) !=
					     0xffff)
				hpci_scan(&host_cfg, mcfg.win[w].seg, (uint8_t)b, &host_pci);
		}
	}
}

/* For the DMAR's device scope paths: the buses below the bridge at seg:bus:dev.fn. */
static int bridge_buses(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
			uint8_t *secondary, uint8_t *subordinate)
{
	(void)ctx;
	uint32_t id = cfg_read(NULL, seg, bus, dev, fn, 0);
	if ((id & 0xffff) == 0xffff || ((cfg_read(NULL, seg, bus, dev, fn, 0x0c) >> 16) & 0x7f) != 1)
		return -1;
	uint32_t buses = cfg_read(NULL, seg, bus, dev, fn, 0x18);
	*secondary = (uint8_t)(buses >> 8);
	*subordinate = (uint8_t)(buses >> 16);
	return 0;
}

static const char *find_iommu(const struct boot_info *bi)
{
	static char why[CFG_MSG_MAX];
	const uint8_t *t = acpi_find_table(bi->acpi_rsdp, "DMAR");
	const struct iommu_bus_ops bus = { bridge_buses, NULL };
	int rc;

	if (t) {
		rc = dmar_parse(t, *(const uint32_t *)(t + 4), &bus, &iommu_tables, why, sizeof(why));
		if (!rc)
			iommu = vtd_probe();
	} else if ((t = acpi_find_table(bi->acpi_rsdp, "IVRS"))) {
		rc = ivrs_parse(t, *(const uint32_t *)(t + 4), &iommu_tables, why, sizeof(why));
		if (!rc)
			iommu = amdvi_probe();
	} else {
		return "no ACPI DMAR or IVRS table";
	}
	if (rc)
		return why;
	if (!iommu_tables.nunits) {
		iommu = NULL;
		return "the IOMMU table lists no remapping unit";
	}
	return NULL;
}

int passthrough_init(const struct boot_info *bi, const struct cfg *c, struct cfg_error *e)
{
	char err[CFG_MSG_MAX];
	const char *no_iommu;

	acpi_mcfg(bi->acpi_rsdp, &mcfg);
	for (unsigned w = 0; w < mcfg.n; w++) /* ECAM above the identity map needs mapping */
		if (!arch_map_mmio(mcfg.win[w].base,
				   (uint64_t)(mcfg.win[w].end_bus - mcfg.win[w].start_bus + 1) << 20)) {
			log_info("pci: ECAM window at 0x%lx cannot be mapped: segment %u not scanned",
				 (unsigned long)mcfg.win[w].base, mcfg.win[w].seg);
			mcfg.win[w] = mcfg.win[--mcfg.n];
			w--;
		}
	scan_host();
	no_iommu = find_iommu(bi);
	if (!no_iommu) {
		if (iommu->init(&iommu_tables, ARCH_VEC_IOMMU, cpus[0].apic_id, err, sizeof(err))) {
			log_info("iommu: %s: %s", iommu->name, err);
			iommu = NULL;
			no_iommu = "its IOMMU could not be set up (see above)";
		} else {
			log_info("iommu: %s, %u unit%s: DMA from every device is blocked unless it "
				 "is given to a partition", iommu->name, iommu_tables.nunits,
				 iommu_tables.nunits == 1 ? "" : "s");
		}
	}
	if (no_iommu)
		log_info("iommu: none: %s; devices cannot be passed through", no_iommu);
	for (unsigned i = 0; i < host_pci.n; i++) {
		const struct hpci_dev *d = &host_pci.dev[i];
		int owner = assign_owner(c, d);
		char where[64];
		if (owner >= 0)
			snprintf(where, sizeof(where), "-> partition '%s'", c->part[owner].name);
		else
			snprintf(where, sizeof(where), "(not assigned)");
		if (d->seg)
			log_info("pci %04x:%02x:%02x.%x %04x:%04x %s %s", d->seg, d->bus, d->dev, d->fn,
				 d->vendor, d->device, hpci_class_name(d->class), where);
		else
			log_info("pci %02x:%02x.%x %04x:%04x %s %s", d->bus, d->dev, d->fn, d->vendor,
				 d->device, hpci_class_name(d->class), where);
	}
	if (host_pci.skipped)
		log_info("pci: %u more functions than this build keeps (%u) are not listed",
			 host_pci.skipped, HPCI_MAX_DEVS);
	const struct assign_machine m = { &host_pci, no_iommu ? NULL : &iommu_tables, no_iommu };
	return assign_check(c, &m, e);
}

/* --- A device's interrupts ----------------------------------------------------------- */

static int alloc_vectors(struct pt_dev *d)
{
	unsigned cpu = d->cpu->id;
	if (!vec_next[cpu])
		vec_next[cpu] = ARCH_VEC_DEV_FIRST;
	if (vec_next[cpu] + d->nvec - 1 > ARCH_VEC_DEV_LAST)
		return MICA_EFAULT;
	for (unsigned k = 0; k < d->nvec; k++) {
		d->vec[k] = vec_next[cpu]++;
		vec_owner[cpu][d->vec[k]] = (uint16_t)(((unsigned)(d - devs) + 1) << 8 | k);
	}
	return 0;
}

/* Remapping entries for every vector, and the messages the device must send to use them. */
static int route_vectors(struct pt_dev *d)
{
	const struct hpci_dev *h = d->h;
	for (unsigned k = 0; k < d->nvec; k++) {
		struct iommu_irq irq = { d->vec[k], d->cpu->apic_id };
		int rc = iommu->irq_set(h->seg, h->rid, k, &irq, &d->msi_addr[k], &d->msi_data[k]);
		if (rc)
			return rc;
	}
	return 0;
}

/* The host function's MSI / MSI-X registers hold the remapped messages; what the guest
 * writes never reaches them (its messages stay in the virtual function). */
static void program_messages(struct pt_dev *d)
{
	const struct hpci_dev *h = d->h;
	if (h->cap_msix && d->msix_table) {
		hwr16(h, h->cap_msix + MSIX_CTRL, MSIX_FMASK);
		for (unsigned k = 0; k < d->nvec; k++) {
			volatile uint32_t *e = d->msix_table + 4 * k;
			e[3] = 1; /* masked while it changes */
			e[0] = (uint32_t)d->msi_addr[k];
			e[1] = (uint32_t)(d->msi_addr[k] >> 32);
			e[2] = d->msi_data[k];
			e[3] = 0; /* masking is the guest's, in the virtual table */
		}
	} else if (h->cap_msi) {
		/* Entry 0's message: with several vectors the function puts vector k in the
		 * data's low bits, and the IOMMU's entry k takes it (iommu.h). */
		unsigned c = h->cap_msi;
		hwr16(h, c + MSI_CTRL, hrd16(h, c + MSI_CTRL) & ~(MSI_ENABLE | MSI_MME));
		hwr(h, c + 4, (uint32_t)d->msi_addr[0]);
		if (h->msi_ctrl & MSI_64) {
			hwr(h, c + 8, (uint32_t)(d->msi_addr[0] >> 32));
			hwr16(h, c + 12, (uint16_t)d->msi_data[0]);
		} else {
			hwr16(h, c + 8, (uint16_t)d->msi_data[0]);
		}
		if (h->msi_ctrl & MSI_PVM) /* masking is the guest's, in the virtual capability */
			hwr(h, c + (h->msi_ctrl & MSI_64 ? 16 : 12), 0);
	}
}

void kernel_device_irq(unsigned vector)
{
	struct pcpu *c = this_cpu();
	uint16_t o = vec_owner[c->id][vector & 0xff];
	if (!o)
		return;
	struct pt_dev *d = &devs[(o >> 8) - 1];
	struct partition *p = d->p;
	uint64_t f = spin_lock(&p->pci_lock);
	if (p->pci && p->state == PART_RUNNING)
		vpci_signal(p->pci, d->slot, o & 0xff);
	spin_unlock(&p->pci_lock, f);
	/* A vCPU of this CPU may have been sent the interrupt (a kick to oneself is no IPI):
	 * the flag makes its loop look again before it enters the guest (vcpu_may_enter). */
	__atomic_store_n(&c->kick_pending, 1, __ATOMIC_SEQ_CST);
}

/* --- Faults -------------------------------------------------------------------------- */

static struct pt_dev *dev_by_rid(uint16_t seg, uint16_t rid)
{
	for (unsigned i = 0; i < ndevs; i++)
		if (devs[i].h->seg == seg && devs[i].h->rid == rid)
			return &devs[i];
	return NULL;
}

static struct ratelimit stray_fault_log; /* faults of devices no partition owns */
static struct spinlock fault_lock;        /* the fault interrupt (CPU 0) and the stops */

static void say_held(const struct pt_dev *d, unsigned held)
{
	if (held)
		log_info("partition '%s': %u more iommu fault%s of device %02x:%02x.%x %s not "
			 "logged (at most %u lines a second)", d->p->name, held,
			 held == 1 ? "" : "s", d->h->bus, d->h->dev, d->h->fn,
			 held == 1 ? "was" : "were", FAULT_LINES);
}

/* Faults of d held back by the rate limit, said now (under fault_lock): before its bus
 * mastering goes off or it is reset, a count is not left waiting for a fault to come. */
static void fault_summary(struct pt_dev *d)
{
	say_held(d, ratelimit_take_held(&d->fault_log));
}

void kernel_iommu_fault(void)
{
	struct iommu_fault fl[8];
	unsigned n, held;
	uint64_t second = arch_tsc_hz();

	if (!iommu)
		return;
	uint64_t f = spin_lock(&fault_lock);
	while ((n = iommu->faults(fl, 8)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct pt_dev *d = dev_by_rid(fl[i].seg, fl[i].rid);
			const char *kind = fl[i].intr ? "interrupt" : fl[i].write ? "write" : "read";
			if (!d) {
				if (ratelimit_allow(&stray_fault_log, rdtsc(), second, FAULT_LINES,
						    &held))
					log_info("iommu: fault: device %02x:%02x.%x (no partition's) %s "
						 "at 0x%lx blocked: %s%s", fl[i].rid >> 8,
						 (fl[i].rid >> 3) & 31, fl[i].rid & 7, kind,
						 (unsigned long)fl[i].addr, fl[i].why,
						 held ? " (and earlier faults not logged)" : "");
				continue;
			}
			d->faults++;
			if (ratelimit_allow(&d->fault_log, rdtsc(), second, FAULT_LINES, &held)) {
				say_held(d, held);
				log_info("partition '%s': iommu fault: device %02x:%02x.%x (%04x:%04x) "
					 "%s at 0x%lx blocked: %s", d->p->name, d->h->bus, d->h->dev,
					 d->h->fn, d->h->vendor, d->h->device, kind,
					 (unsigned long)fl[i].addr, fl[i].why);
			}
			if (d->faults == FAULTS_MAX && !d->master_off) {
				fault_summary(d);
				d->master_off = 1;
				hwr16(d->h, REG_COMMAND, hrd16(d->h, REG_COMMAND) & ~CMD_MASTER);
				log_info("partition '%s': device %02x:%02x.%x made %u IOMMU faults: its bus "
					 "mastering is off until the partition restarts", d->p->name,
					 d->h->bus, d->h->dev, d->h->fn, FAULTS_MAX);
			}
		}
	}
	spin_unlock(&fault_lock, f);
}

/* --- The device on the guest's bus ---------------------------------------------------- */

/* Maps BAR b's pages into the guest at gpa, except those holding the MSI-X table or PBA
 * (they trap: the guest's vectors are virtual). A BAR smaller than a page is not mapped at
 * all: its neighbours on the host page may belong to another device. On failure nothing
 * of it stays mapped. */
static int map_bar(struct pt_dev *d, unsigned b, uint64_t gpa)
{
	const struct hpci_dev *h = d->h;
	uint64_t size = h->bar[b].size;
	if (size < 4096)
		return 0;
	for (uint64_t off = 0; off < size; off += 4096) {
		int trap = 0;
		if (h->cap_msix && h->msix_bir == b &&
		    off + 4096 > h->msix_off && off < h->msix_off + 16ull * h->msix_size)
			trap = 1;
		if (h->cap_msix && h->pba_bir == b &&
		    off + 4096 > h->pba_off && off < h->pba_off + 8ull * ((h->msix_size + 63u) / 64))
			trap = 1;
		if (trap)
			continue;
		int rc = partition_map(d->p, gpa + off, h->bar[b].base + off, 4096,
				       S2_READ | S2_WRITE | S2_DEVICE);
		if (rc) {
			if (off)
				partition_unmap(d->p, gpa, off);
			return rc;
		}
	}
	d->mapped[b] = gpa;
	return 0;
}

/* The stage-2 follows the guest's BARs and its memory-decode bit: a BAR that moved is
 * unmapped where it was (every vCPU flushes its TLB) and mapped where it is now, so its
 * accesses keep taking no exits. A BAR the guest put outside the PCI window, or over
 * something already mapped (another BAR, its RAM), stays unmapped: its accesses then trap
 * and pt_region() does them, slowly but right. */
static void follow_bars(struct pt_dev *d)
{
	struct vpci *bus = d->p->pci;
	const struct vpci_fn *f = &bus->fn[d->slot];
	int decode = (vpci_cfg_dword(bus, d->slot, REG_COMMAND) & CMD_MEMORY) != 0;

	for (unsigned b = 0; b < HPCI_BARS; b++) {
		uint64_t size = d->h->bar[b].size;
		if (!size || d->h->bar[b].io || size < 4096)
			continue;
		uint64_t want = decode ? vpci_pt_bar_base(f, b) : 0;
		if (want && (want < ACPI_PCI_MEM_BASE ||
			     want + size > (uint64_t)ACPI_PCI_MEM_BASE + ACPI_PCI_MEM_SIZE))
			want = 0;
		if (want == d->mapped[b])
			continue;
		if (d->mapped[b] && partition_unmap(d->p, d->mapped[b], size))
			continue; /* cannot happen: BARs are mapped in 4 KiB pages */
		d->mapped[b] = 0;
		if (want)
			map_bar(d, b, want);
	}
}

/* Accesses the stage-2 does not map (the rest of the MSI-X table's page, a BAR smaller
 * than a page, a BAR the guest put where follow_bars() cannot map it): done on the
 * device, within the BAR only. */
static uint64_t pt_region(void *dev, enum vpci_region r, uint64_t off, unsigned size,
			  uint64_t val, int write)
{
	struct pt_dev *d = dev;
	unsigned bar = (unsigned)r - VPCI_REGION_PT;
	if (r < VPCI_REGION_PT || bar >= HPCI_BARS || !d->bar_va[bar] ||
	    off + size > d->h->bar[bar].size || (off & (size - 1)))
		return write ? 0 : ~0ull;
	const struct hpci_dev *h = d->h;
	if (h->cap_msix && ((bar == h->msix_bir && off + size > h->msix_off &&
			     off < h->msix_off + 16ull * h->msix_size) ||
			    (bar == h->pba_bir && off + size > h->pba_off &&
			     off < h->pba_off + 8ull * ((h->msix_size + 63u) / 64))))
		return write ? 0 : 0; /* the host's table is never the guest's to touch */
	volatile void *a = d->bar_va[bar] + off;
	switch (size) {
	case 1: if (write) *(volatile uint8_t *)a = (uint8_t)val; else return *(volatile uint8_t *)a; break;
	case 2: if (write) *(volatile uint16_t *)a = (uint16_t)val; else return *(volatile uint16_t *)a; break;
	case 4: if (write) *(volatile uint32_t *)a = (uint32_t)val; else return *(volatile uint32_t *)a; break;
	default: if (write) *(volatile uint64_t *)a = val; else return *(volatile uint64_t *)a; break;
	}
	return 0;
}

/* After a guest config write: bus mastering and the interrupt enables follow onto the
 * host function; the guest's messages stay virtual (kernel_device_irq sends them). */
static void pt_config_written(void *dev, unsigned reg, unsigned size)
{
	struct pt_dev *d = dev;
	const struct hpci_dev *h = d->h;
	struct vpci *b = d->p->pci;

	if (reg < 0x28 && reg + size > REG_COMMAND)
		follow_bars(d);

	uint16_t gcmd = (uint16_t)vpci_cfg_dword(b, d->slot, REG_COMMAND);
	uint16_t cmd = CMD_MEMORY | CMD_INTX_OFF;
	if ((gcmd & CMD_MASTER) && !d->master_off)
		cmd |= CMD_MASTER;
	if (hrd16(h, REG_COMMAND) != cmd)
		hwr16(h, REG_COMMAND, cmd);

	const struct vpci_fn *f = &b->fn[d->slot];
	if (h->cap_msix && f->msix_cap) {
		uint16_t g = (uint16_t)(vpci_cfg_dword(b, d->slot, f->msix_cap) >> 16);
		uint16_t want = g & MSIX_ENABLE; /* function masking is done virtually */
		if ((hrd16(h, h->cap_msix + MSIX_CTRL) & (MSIX_ENABLE | MSIX_FMASK)) != want)
			hwr16(h, h->cap_msix + MSIX_CTRL, want);
	} else if (h->cap_msi && f->msi_cap) {
		unsigned n = vpci_msi_nvec(b, d->slot), mme = 0;
		while ((1u << mme) < n)
			mme++;
		uint16_t now = hrd16(h, h->cap_msi + MSI_CTRL);
		uint16_t want = (uint16_t)(now & ~(MSI_ENABLE | MSI_MME));
		if (n)
			want |= (uint16_t)(MSI_ENABLE | mme << 4);
		if (now != want)
			hwr16(h, h->cap_msi + MSI_CTRL, want);
	}
}

static const struct vpci_ops pt_ops = { pt_region, pt_config_written };

/* MSI vectors the host function can send (2^MMC), as many as the guest may enable. */
static unsigned msi_host_nvec(const struct hpci_dev *h)
{
	unsigned mmc = (h->msi_ctrl >> 1) & 7;
	return 1u << (mmc > 5 ? 5 : mmc);
}

static void describe(const struct hpci_dev *h, struct vpci_pt_desc *o)
{
	memset(o, 0, sizeof(*o));
	uint32_t sub = hrd(h, 0x2c);
	o->vendor = h->vendor;
	o->device = h->device;
	o->subvendor = (uint16_t)sub;
	o->subsystem = (uint16_t)(sub >> 16);
	o->class = h->class;
	o->revision = h->revision;
	for (unsigned i = 0; i < HPCI_BARS; i++) {
		if (!h->bar[i].size || h->bar[i].io)
			continue;
		o->bar_size[i] = h->bar[i].size;
		o->bar_flags[i] = (h->bar[i].is64 ? VPCI_BAR_64 : 0) |
				  (h->bar[i].prefetch ? VPCI_BAR_PREFETCH : 0);
	}
	o->msi = (uint8_t)(h->cap_msi && !h->cap_msix ? msi_host_nvec(h) : 0);
	if (h->cap_msix) {
		o->msix_nvec = h->msix_size;
		o->msix_bir = h->msix_bir;
		o->pba_bir = h->pba_bir;
		o->msix_off = h->msix_off;
		o->pba_off = h->pba_off;
	}
	for (unsigned k = 0; k < h->ncap_vendor && k < VPCI_VCAPS_MAX; k++) {
		unsigned at = h->cap_vendor[k];
		unsigned len = (hrd(h, at) >> 16) & 0xFF;
		if (len > VPCI_VCAP_MAX || at + len > 0x100)
			break; /* longer than Mica shows: this one and the rest stay hidden */
		for (unsigned b = 0; b < len; b += 4) {
			uint32_t v = hrd(h, at + b);
			memcpy(o->vcap[k] + b, &v, len - b < 4 ? len - b : 4);
		}
		o->vcap_len[k] = (uint8_t)len;
		o->nvcaps = (uint8_t)(k + 1);
	}
	if (h->cap_pcie) {
		o->has_pcie = 1;
		for (unsigned k = 0; k < sizeof(o->pcie); k += 4) {
			uint32_t v = hrd(h, h->cap_pcie + k);
			memcpy(o->pcie + k, &v, 4);
		}
	}
}

void passthrough_bus_reset(struct partition *p)
{
	char err[CFG_MSG_MAX];
	struct vpci_pt_desc desc;

	for (unsigned i = 0; i < ndevs; i++) {
		struct pt_dev *d = &devs[i];
		if (d->p != p)
			continue;
		describe(d->h, &desc);
		uint64_t f = spin_lock(&p->pci_lock);
		int rc = vpci_add_passthrough(p->pci, d->slot, &desc, err, sizeof(err));
		for (unsigned b = 0; b < HPCI_BARS && !rc; b++)
			if (d->gbar[b])
				rc = vpci_pt_assign_bar(p->pci, d->slot, b, d->gbar[b]);
		if (!rc) {
			vpci_attach(p->pci, d->slot, &pt_ops, d);
			follow_bars(d); /* back where Mica put them */
		}
		spin_unlock(&p->pci_lock, f);
		if (rc)
			log_info("partition '%s': device %02x:%02x.%x at guest slot %u: %s", p->name,
				 d->h->bus, d->h->dev, d->h->fn, d->slot, rc ? err : "");
	}
}

/* --- Reset --------------------------------------------------------------------------- */

static void delay_ms(unsigned ms)
{
	uint64_t end = rdtsc() + arch_tsc_hz() / 1000 * ms;
	while (rdtsc() < end)
		cpu_relax();
}

#define HOW_MAX 64

/* Bus mastering and interrupts off, then the strongest reset the function offers; the
 * BARs, command and PCI Express device control registers as firmware left them, the
 * remapped messages back. how: what was done, for the log. */
static void reset_device(struct pt_dev *d, char how[HOW_MAX])
{
	const struct hpci_dev *h = d->h;
	uint32_t bars[HPCI_BARS];
	uint16_t devctl = h->cap_pcie ? hrd16(h, h->cap_pcie + PCIE_DEVCTL) & ~PCIE_FLR : 0;
	int br;

	hwr16(h, REG_COMMAND, CMD_MEMORY | CMD_INTX_OFF); /* no more DMA from here on */
	if (h->cap_msix) /* masked, but left enabled: the reset itself turns MSI-X off */
		hwr16(h, h->cap_msix + MSIX_CTRL,
		      (uint16_t)((hrd16(h, h->cap_msix + MSIX_CTRL) & MSIX_ENABLE) | MSIX_FMASK));
	if (h->cap_msi)
		hwr16(h, h->cap_msi + MSI_CTRL, hrd16(h, h->cap_msi + MSI_CTRL) & ~MSI_ENABLE);
	for (unsigned i = 0; i < HPCI_BARS; i++)
		bars[i] = hrd(h, 0x10 + 4 * i);
	if (h->cap_pcie && h->flr) {
		/* PCIe Base 4.0 6.6.2: let requests already issued finish first (Transactions
		 * Pending clear), for up to 100 ms. */
		for (unsigned ms = 0; ms < 100 && (hrd16(h, h->cap_pcie + PCIE_DEVSTA) & PCIE_TP); ms++)
			delay_ms(1);
		delay_ms(10);
		hwr16(h, h->cap_pcie + PCIE_DEVCTL, hrd16(h, h->cap_pcie + PCIE_DEVCTL) | PCIE_FLR);
		delay_ms(100); /* PCIe Base 4.0 6.6.2: 100 ms before the function must answer */

		snprintf(how, HOW_MAX, "function-level reset");
	} else if (h->cap_pm && !h->pm_no_soft_reset) {
		uint16_t csr = hrd16(h, h->cap_pm + PM_CSR);
		hwr16(h, h->cap_pm + PM_CSR, (uint16_t)((csr & ~3u) | 3)); /* D3hot */
		delay_ms(10);
		hwr16(h, h->cap_pm + PM_CSR, (uint16_t)(csr & ~3u));        /* D0: reset */
		delay_ms(10);
		snprintf(how, HOW_MAX, "power-state reset (D3hot to D0)");
	} else if ((br = hpci_reset_bridge(&host_pci, (unsigned)(h - host_pci.dev))) >= 0) {
		/* Alone below its bridge: reset the bus, which resets only it. Trst at least
		 * 1 ms, then 100 ms before the function must answer (PCIe Base 4.0 6.6.1). */
		const struct hpci_dev *b = &host_pci.dev[br];
		uint16_t ctl = hrd16(b, REG_BRIDGE_CTL);
		hwr16(b, REG_BRIDGE_CTL, ctl | BRIDGE_SBR);
		delay_ms(2);
		hwr16(b, REG_BRIDGE_CTL, ctl & ~BRIDGE_SBR);
		delay_ms(100);
		snprintf(how, HOW_MAX, "secondary bus reset (bridge %02x:%02x.%x)", b->bus,
			 b->dev, b->fn);
	} else {
		/* No reset: all Mica can do is keep bus mastering off while work the device had
		 * already started runs out without reaching memory. */
		delay_ms(NO_RESET_GRACE_MS);
		snprintf(how, HOW_MAX, "no reset method: bus mastering and interrupts off for 0.25 s");
	}
	for (unsigned i = 0; i < HPCI_BARS; i++)
		hwr(h, 0x10 + 4 * i, bars[i]);
	if (h->cap_pcie)
		hwr16(h, h->cap_pcie + PCIE_DEVCTL, devctl);
	hwr16(h, REG_COMMAND, CMD_MEMORY | CMD_INTX_OFF);
	program_messages(d);
	uint64_t f = spin_lock(&fault_lock);
	fault_summary(d);
	d->faults = 0;
	d->master_off = 0;
	spin_unlock(&fault_lock, f);
}

enum pt_end { PT_RESTART, PT_STOP, PT_RELEASE };

/* Every device of p reset; a stop or a release also detaches it from the IOMMU (its DMA
 * blocked outright, as if it belonged to no one), and a release leaves it with memory
 * decoding and bus mastering off for good. */
static void end_devices(struct partition *p, enum pt_end why)
{
	for (unsigned i = 0; i < ndevs; i++) {
		struct pt_dev *d = &devs[i];
		const struct hpci_dev *h = d->h;
		if (d->p != p)
			continue;
		char how[HOW_MAX];
		reset_device(d, how);
		if (why == PT_RELEASE)
			hwr16(h, REG_COMMAND, CMD_INTX_OFF); /* no decoding, no DMA, no messages */
		int rc = why != PT_RESTART && iommu ? iommu->attach(h->seg, h->rid, NULL) : 0;
		if (why == PT_RELEASE) {
			log_info("partition '%s': device %02x:%02x.%x given up: %s; then its memory "
				 "decoding and bus mastering off%s", p->name, h->bus, h->dev, h->fn,
				 how, !iommu ? "" : rc ? ", but it could not be detached from the "
				 "IOMMU" : ", its DMA blocked in the IOMMU");
			continue;
		}
		if (rc)
			log_info("partition '%s': device %02x:%02x.%x could not be detached from the "
				 "IOMMU; its bus mastering stays off", p->name, h->bus, h->dev, h->fn);
		log_info("partition '%s': device %02x:%02x.%x %s: %s", p->name, h->bus, h->dev,
			 h->fn, why == PT_RESTART ? "reset for the restart" : "stopped", how);
	}
	if (iommu)
		kernel_iommu_fault(); /* what it did before the reset is reported now */
}

void passthrough_quiesce(struct partition *p, int restart)
{
	end_devices(p, restart ? PT_RESTART : PT_STOP);
}

void passthrough_release(struct partition *p)
{
	end_devices(p, PT_RELEASE);
}

/* --- Attach -------------------------------------------------------------------------- */

static int make_domain(struct partition *p)
{
	struct iommu_domain *dom = &domains[p->id];
	if (domain_made[p->id])
		return 0;
	int rc = iommu->domain_init(dom, p->id + 1, p->ram_size);
	if (!rc)
		rc = iommu->domain_map(dom, 0, p->ram_hpa, p->ram_size, IOMMU_READ | IOMMU_WRITE);
	if (!rc)
		domain_made[p->id] = 1;
	return rc;
}

int passthrough_attach(struct partition *p)
{
	const struct cfg_partition *c = p->cfg;
	uint64_t place = PT_BAR_WINDOW;

	if (iommu) /* for whoever checks that DMA stays inside it */
		log_info("partition '%s': RAM at host 0x%lx-0x%lx", p->name,
			 (unsigned long)p->ram_hpa, (unsigned long)(p->ram_hpa + p->ram_size - 1));
	if (!c->npci)
		return 0;
	int rc = make_domain(p);
	if (rc) {
		log_info("partition '%s': cannot build its IOMMU domain (error %d)", p->name, rc);
		return rc;
	}
	for (unsigned k = 0; k < c->npci; k++) {
		const struct cfg_pci *a = &c->pci[k];
		int i = hpci_find(&host_pci, a->seg, a->bus, a->dev, a->fn);
		if (i < 0 || ndevs == PT_MAX)
			return MICA_EINVAL; /* assign_check() said it exists */
		struct pt_dev *d = &devs[ndevs++];
		memset(d, 0, sizeof(*d));
		d->p = p;
		d->h = &host_pci.dev[i];
		d->slot = PT_SLOT_FIRST + k;
		d->cpu = p->vcpus[0].cpu;
		const struct hpci_dev *h = d->h;
		d->nvec = h->cap_msix ? (h->msix_size > VPCI_MSIX_MAX ? VPCI_MSIX_MAX : h->msix_size)
				      : msi_host_nvec(h);
		for (unsigned b = 0; b < HPCI_BARS; b++)
			if (h->bar[b].size && !h->bar[b].io &&
			    !(d->bar_va[b] = arch_map_mmio(h->bar[b].base, h->bar[b].size))) {
				log_info("partition '%s': device %02x:%02x.%x: its BAR %u at 0x%lx is "
					 "beyond what Mica can map", p->name, h->bus, h->dev, h->fn, b,
					 (unsigned long)h->bar[b].base);
				return MICA_EINVAL;
			}
		if (h->cap_msix)
			d->msix_table = (volatile uint32_t *)(d->bar_va[h->msix_bir] + h->msix_off);
		hwr16(h, REG_COMMAND, CMD_MEMORY | CMD_INTX_OFF); /* no DMA before the guest asks */
		rc = iommu->attach(h->seg, h->rid, &domains[p->id]);
		if (!rc && alloc_vectors(d))
			rc = MICA_EFAULT;
		if (!rc)
			rc = route_vectors(d);
		if (rc) {
			log_info("partition '%s': cannot give it device %02x:%02x.%x (IOMMU or "
				 "vectors, error %d)", p->name, h->bus, h->dev, h->fn, rc);
			return rc;
		}
		for (unsigned b = 0; b < HPCI_BARS; b++) {
			uint64_t size = h->bar[b].size;
			if (!size || h->bar[b].io)
				continue;
			place = (place + size - 1) & ~(size - 1);
			if (place + size > ACPI_PCI_MEM_BASE + ACPI_PCI_MEM_SIZE) {
				log_info("partition '%s': device %02x:%02x.%x: its BARs do not fit the "
					 "guest's %u MiB PCI window", p->name, h->bus, h->dev, h->fn,
					 (unsigned)(ACPI_PCI_MEM_SIZE >> 21));
				return MICA_EINVAL;
			}
			d->gbar[b] = place;
			place += size;
			rc = map_bar(d, b, place - size);
			if (rc) {
				log_info("partition '%s': cannot map BAR %u of %02x:%02x.%x (error %d)",
					 p->name, b, h->bus, h->dev, h->fn, rc);
				return rc;
			}
		}
		char how[HOW_MAX];
		reset_device(d, how);
		log_info("partition '%s': device %02x:%02x.%x (%04x:%04x %s) at guest 00:%02x.0, "
			 "%u interrupt vector%s; reset: %s", p->name, h->bus, h->dev, h->fn, h->vendor,
			 h->device, hpci_class_name(h->class), d->slot, d->nvec,
			 d->nvec == 1 ? "" : "s", how);
	}
	return 0;
}
