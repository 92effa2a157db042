/* Partitions: creation from the config and loading. What happens to them afterwards
 * (stop, restart, pause, the management console's requests) is kernel/lifecycle.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <mica/hypercall.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/irq.h"
#include "kernel/loader/boot_elf.h"
#include "kernel/loader/boot_linux.h"
#include "kernel/loader/bzimage.h"
#include "kernel/loader/elf.h"
#include "kernel/loader/multiboot.h"
#include "kernel/loader/pvh.h"
#include "kernel/log.h"
#include "kernel/mem.h"
#include "kernel/numa.h"
#include "kernel/partition.h"
#include "kernel/passthrough.h"
#include "kernel/percpu.h"
#include "kernel/platform/acpi_tables.h"
#include "kernel/platform/pc.h"
#include "kernel/ram.h"
#include "kernel/virtio/device.h"
#include "kernel/virtio/service.h"
#include "kernel/vmgenid.h"

/* Filled by the boot CPU before any vCPU runs; afterwards each partition is changed only
 * under its own lock, by its own vCPUs. */
struct partition partitions[CFG_MAX_PARTS];
unsigned npartitions;
static struct vpci pci_buses[CFG_MAX_PARTS];

int partition_map(struct partition *p, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perm)
{
	return virt->stage2_map(&p->s2, gpa, hpa, size, perm);
}

int partition_unmap(struct partition *p, uint64_t gpa, uint64_t size)
{
	int rc = virt->stage2_unmap(&p->s2, gpa, size);
	if (rc)
		return rc;
	partition_s2_stale(p);
	return 0;
}

void partition_s2_stale(struct partition *p)
{
	/* Every vCPU drops what its CPU cached of the old mapping before it next enters the
	 * guest (vcpu_kicked); one in the guest now is kicked out first. */
	for (unsigned k = 0; k < p->nvcpus; k++) {
		__atomic_store_n(&p->vcpus[k].s2_stale, 1, __ATOMIC_SEQ_CST);
		if (p->vcpus[k].cpu == this_cpu())
			__atomic_store_n(&this_cpu()->kick_pending, 1, __ATOMIC_SEQ_CST);
		else
			arch_kick_cpu(p->vcpus[k].cpu);
	}
}

enum image_kind partition_image_kind(const struct boot_file *f)
{
	const void *img = phys_to_virt(f->addr);
	uint32_t entry;
	if (mb_find_header(img, f->size) >= 0)
		return IMAGE_MULTIBOOT;
	if (!pvh_find_entry(img, f->size, &entry))
		return IMAGE_PVH;
	if (f->size >= 4 && !memcmp(img, "\x7f" "ELF", 4))
		return IMAGE_ELF;
	return IMAGE_BZIMAGE;
}

/* The modules of c as the Multiboot loader takes them. */
static unsigned mb_modules(const struct cfg_partition *c, const struct boot_file *const *files,
			   struct mb_module *mods)
{
	for (unsigned i = 0; i < c->nmodules; i++)
		mods[i] = (struct mb_module){ phys_to_virt(files[i]->addr), files[i]->size,
					      c->modules[i] };
	return c->nmodules;
}

static unsigned cpu_count(uint64_t mask)
{
	unsigned n = 0;
	for (; mask; mask &= mask - 1)
		n++;
	return n;
}

/* A PVH kernel's modules: its initrd (Linux takes the first module as that), then the
 * config's modules. */
static unsigned pvh_modules(const struct cfg_partition *c, const struct partition_files *f,
			    struct pvh_module *mods)
{
	unsigned n = 0;
	if (f->initrd)
		mods[n++] = (struct pvh_module){ phys_to_virt(f->initrd->addr), f->initrd->size,
						 c->initrd };
	for (unsigned i = 0; i < c->nmodules; i++)
		mods[n++] = (struct pvh_module){ phys_to_virt(f->modules[i]->addr),
						 f->modules[i]->size, c->modules[i] };
	return n;
}

/* The platform a Linux or PVH guest sees: ACPI for its vCPUs, and a PCI host bridge when it
 * has devices (pci_bus_create()). */
static void guest_acpi(const struct cfg_partition *c, unsigned nvcpus, struct acpi_guest *g)
{
	acpi_guest_defaults(g, nvcpus);
	if (cfg_has_pci(c)) {
		g->ecam_base = ACPI_PCI_ECAM_BASE;
		g->ecam_bus_start = 0;
		g->ecam_bus_end = 0;
		g->pci_mem_base = ACPI_PCI_MEM_BASE;
		g->pci_mem_size = ACPI_PCI_MEM_SIZE;
		g->pci_io_base = ACPI_PCI_IO_BASE;
		g->pci_io_size = ACPI_PCI_IO_SIZE;
	}
}

int partition_check_image(const struct cfg_partition *c, const struct partition_files *f,
			  char *err, size_t errlen)
{
	struct pvh_module pmods[CFG_MODULES_MAX + 1];
	struct acpi_guest acpi;
	const void *img = phys_to_virt(f->image->addr);
	struct mb_module mods[CFG_MODULES_MAX];
	struct elf_image_info info;
	struct bzimage_info bz;
	struct mb_boot mb;

	switch (partition_image_kind(f->image)) {
	case IMAGE_MULTIBOOT:
		return mb_load(img, f->image->size, NULL, c->memory, c->image, c->cmdline, mods,
			       mb_modules(c, f->modules, mods), &mb, err, errlen);
	case IMAGE_PVH:
		guest_acpi(c, cpu_count(c->cpus), &acpi);
		return pvh_load(img, f->image->size, c->cmdline, pmods, pvh_modules(c, f, pmods), NULL,
				c->memory, &acpi, NULL, err, errlen);
	case IMAGE_ELF:
		return elf_load(img, f->image->size, NULL, c->memory, 0x100000, &info, err, errlen);
	default:
		return bzimage_parse(img, f->image->size, &bz, err, errlen);
	}
}

static void bus_msi(void *ctx, uint64_t addr, uint32_t data)
{
	irq_msi(ctx, addr, data);
}

/* A partition with devices gets a PCI bus: ECAM and the BAR window where the guest's
 * ACPI tables say (platform/acpi_tables.h), MSIs to its local APICs. */
static void pci_bus_create(struct partition *p)
{
	p->pci = &pci_buses[p->id];
	p->pci_host = (struct vpci_host){
		.ecam_base = ACPI_PCI_ECAM_BASE,
		.mem_base = ACPI_PCI_MEM_BASE,
		.mem_size = ACPI_PCI_MEM_SIZE,
		.io_base = ACPI_PCI_IO_BASE,
		.io_size = ACPI_PCI_IO_SIZE,
		.msi = bus_msi,
		.ctx = p,
	};
}

/* At every (re)load: the bus as at power-on, then its devices back on it. */
static void pci_bus_reset(struct partition *p)
{
	if (!p->pci)
		return;
	uint64_t f = spin_lock(&p->pci_lock);
	vpci_init(p->pci, &p->pci_host);
	spin_unlock(&p->pci_lock, f);
	vdev_partition_reset(p);
	passthrough_bus_reset(p);
}

/* A Linux bzImage on a PC platform: ACPI tables, local APICs, an IOAPIC; vCPU 0 starts at
 * the 64-bit entry, the others wait for the guest's INIT/SIPI. */
static int load_linux(struct partition *p, void *ram, char *err, size_t errlen)
{
	struct boot_linux_platform plat;
	struct vcpu_boot_state st;

	memset(&plat, 0, sizeof(plat));
	guest_acpi(p->cfg, p->nvcpus, &plat.acpi);
	plat.acpi.vmgenid = 1;
	int rc = boot_linux_load(phys_to_virt(p->image->addr), p->image->size,
				 p->initrd ? phys_to_virt(p->initrd->addr) : NULL,
				 p->initrd ? p->initrd->size : 0, p->cfg->cmdline, ram, p->ram_size,
				 &plat, &st, err, errlen);
	if (rc)
		return rc;
	p->platform = 1;
	p->legacy = 1;
	p->clock_epoch = rdtsc();
	vmgenid_init(p, BOOT_LINUX_ACPI + acpi_vmgenid_offset(&plat.acpi), ram);
	vioapic_reset(&p->ioapic, plat.acpi.ioapic_id);
	for (unsigned i = 0; i < p->nvcpus; i++)
		irq_vcpu_reset(&p->vcpus[i], 1, i > 0);
	virt->vcpu_reset(&p->vcpus[0], &st);
	return 0;
}

/* A Multiboot kernel: vCPU 0 enters it in flat 32-bit protected mode with the information
 * structure in EBX; the others wait for a SIPI on their local x2APIC, which the kernel may
 * use (there is no xAPIC page: an access to 0xFEE00000 stops the partition, naming it). */
static int load_multiboot(struct partition *p, void *ram, char *err, size_t errlen)
{
	struct mb_module mods[CFG_MODULES_MAX];
	struct mb_boot mb;

	int rc = mb_load(phys_to_virt(p->image->addr), p->image->size, ram, p->ram_size,
			 p->cfg->image, p->cfg->cmdline, mods, mb_modules(p->cfg, p->modules, mods),
			 &mb, err, errlen);
	if (rc)
		return rc;
	p->legacy = 1;
	p->clock_epoch = rdtsc();
	struct vcpu_boot_state st = {
		.mode = VCPU_MODE_PROT32,
		.rip = mb.entry,
		.rax = MB_BOOT_MAGIC,
		.rbx = mb.info,
		.cr0 = 0x11, /* PE, ET */
		.gdt_base = mb.gdt,
		.gdt_limit = mb.gdt_limit,
		.code_sel = MB_GDT_SEL_CODE,
		.data_sel = MB_GDT_SEL_DATA,
	};
	for (unsigned i = 0; i < p->nvcpus; i++)
		irq_vcpu_reset(&p->vcpus[i], 1, i > 0);
	virt->vcpu_reset(&p->vcpus[0], &st);
	return 0;
}

/* A PVH kernel (Linux's vmlinux): the PC platform of a bzImage guest, with vCPU 0 entering
 * at the PVH entry point with the start-info in EBX; the others wait for the guest's SIPI. */
static int load_pvh(struct partition *p, void *ram, char *err, size_t errlen)
{
	struct pvh_module mods[CFG_MODULES_MAX + 1];
	struct partition_files f = { .image = p->image, .initrd = p->initrd };
	struct acpi_guest acpi;
	struct vcpu_boot_state st;

	memcpy(f.modules, p->modules, sizeof(f.modules));
	guest_acpi(p->cfg, p->nvcpus, &acpi);
	acpi.vmgenid = 1;
	int rc = pvh_load(phys_to_virt(p->image->addr), p->image->size, p->cfg->cmdline, mods,
			  pvh_modules(p->cfg, &f, mods), ram, p->ram_size, &acpi, &st, err, errlen);
	if (rc)
		return rc;
	p->platform = 1;
	p->legacy = 1;
	p->clock_epoch = rdtsc();
	vmgenid_init(p, PVH_ACPI + acpi_vmgenid_offset(&acpi), ram);
	vioapic_reset(&p->ioapic, acpi.ioapic_id);
	for (unsigned i = 0; i < p->nvcpus; i++)
		irq_vcpu_reset(&p->vcpus[i], 1, i > 0);
	virt->vcpu_reset(&p->vcpus[0], &st);
	return 0;
}

/* (Re)loads the image into zeroed RAM and resets every vCPU. vCPUs must not be running. */
int partition_load(struct partition *p, char *err, size_t errlen)
{
	struct vcpu_boot_state st;
	void *ram = phys_to_virt(p->ram_hpa);

	ram_reset(p, &p->ram_zeroed); /* from now on the guest writes it */
	p->started_tsc = rdtsc();
	for (unsigned i = 0; i < p->nvcpus; i++) /* what they remembered of the old image */
		memset(p->vcpus[i].insn_memo, 0, sizeof(p->vcpus[i].insn_memo));
	p->platform = 0;
	p->vmgenid_gpa = 0; /* the PC-platform loaders give one */
	if (p == service_part)
		service_reset(); /* its ring was in the RAM just cleared */
	p->legacy = 0;
	pci_bus_reset(p);
	switch (partition_image_kind(p->image)) {
	case IMAGE_BZIMAGE: {
		int rc = load_linux(p, ram, err, errlen);
		pc_reset(p, rdtsc());
		return rc;
	}
	case IMAGE_MULTIBOOT: {
		int rc = load_multiboot(p, ram, err, errlen);
		pc_reset(p, rdtsc());
		return rc;
	}
	case IMAGE_PVH: {
		int rc = load_pvh(p, ram, err, errlen);
		pc_reset(p, rdtsc());
		return rc;
	}
	case IMAGE_ELF:
		break;
	}
	pc_reset(p, rdtsc());
	int rc = boot_elf_load(phys_to_virt(p->image->addr), p->image->size, ram, p->ram_size,
			       &st, err, errlen);
	if (rc)
		return rc;
	for (unsigned i = 0; i < p->nvcpus; i++) {
		boot_elf_vcpu_state(&st, p->ram_size, i);
		/* The service partition takes its notification interrupt on a local APIC, and
		 * a partition with virtio devices its MSI-X interrupts. */
		irq_vcpu_reset(&p->vcpus[i], p == service_part || p->pci, 0);
		virt->vcpu_reset(&p->vcpus[i], &st);
	}
	return 0;
}

void partition_cpu_list(uint64_t mask, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (unsigned c = 0; c < 64; c++)
		if (mask & (1ULL << c))
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%u", n ? "," : "", c);
}

uint64_t partition_alloc_ram(const struct cfg_partition *cfg)
{
	/* On its CPUs' NUMA node where there is one. */
	return numa_alloc_for(cfg->name, cfg->cpus, cfg->memory, 2ULL << 20);
}

void partition_prune(struct partition *p, uint64_t gpa, uint64_t size)
{
	virt->stage2_prune(&p->s2, gpa, size);
}

int partition_build(unsigned i, const struct cfg_partition *cfg, const struct partition_files *f,
		    uint64_t ram_hpa)
{
	struct partition *p = &partitions[i];

	memset(p, 0, sizeof(*p));
	p->id = i;
	p->cfg = cfg;
	p->name = cfg->name;
	p->image = f->image;
	p->initrd = f->initrd;
	memcpy(p->modules, f->modules, sizeof(p->modules));
	p->ram_size = cfg->memory;
	p->ram_hpa = ram_hpa;
	p->ram_lazy = ram_lazy_for(cfg);
	p->ram_zeroed = !p->ram_lazy; /* zero_run() cleared it; partition_load() need not */
	if (!p->ram_hpa) {
		log_info("partition '%s': no contiguous block of %lu MiB left", p->name, cfg->memory >> 20);
		return MICA_EINVAL;
	}
	int rc = virt->stage2_init(&p->s2);
	if (!rc)
		rc = ram_init(p);
	if (rc) {
		log_info("partition '%s': cannot build its stage-2 tables (error %d)", p->name, rc);
		return rc;
	}
	for (unsigned c = 0; c < ncpus && p->nvcpus < PART_MAX_VCPUS; c++) {
		if (!(cfg->cpus & (1ULL << c)))
			continue;
		struct vcpu *v = &p->vcpus[p->nvcpus];
		v->part = p;
		v->id = p->nvcpus++;
		v->cpu = &cpus[c];
		rc = virt->vcpu_init(v);
		if (rc) {
			log_info("partition '%s': cannot create vCPU %u (error %d)", p->name, v->id, rc);
			return rc;
		}
	}
	if (cfg->service)
		service_part = p;
	if (cfg_has_pci(cfg))
		pci_bus_create(p);
	rc = passthrough_attach(p);
	if (rc)
		return rc;
	if (cfg->log_size) {
		uint64_t pa = mem_alloc(cfg->log_size, 4096);
		if (pa) {
			p->log = phys_to_virt(pa);
			p->log_size = cfg->log_size;
		} else {
			log_info("partition '%s': no memory for its console log (log = %lu KiB): it "
				 "runs without one", p->name, (unsigned long)(cfg->log_size >> 10));
		}
	}
	rc = vdev_create(p, f->disk);
	if (rc)
		return rc;
	return 0;
}

int partition_create(unsigned i, const struct cfg_partition *cfg, const struct partition_files *f,
		     uint64_t ram_hpa)
{
	struct partition *p = &partitions[i];
	char err[CFG_MSG_MAX], cpus_s[64], size_s[24];

	int rc = partition_build(i, cfg, f, ram_hpa);
	if (rc)
		return rc;
	rc = partition_load(p, err, sizeof(err));
	if (rc) {
		log_info("partition '%s': image %s: %s", p->name, cfg->image, err);
		return rc;
	}
	for (unsigned k = 0; k < p->nvcpus; k++)
		p->vcpus[k].cpu->vcpu = &p->vcpus[k];
	partition_cpu_list(cfg->cpus, cpus_s, sizeof(cpus_s));
	cfg_format_size(cfg->memory, size_s, sizeof(size_s));
	if (cfg->start_stopped) {
		/* Its vCPUs park at once; the management console's start lets them go. */
		p->state = PART_STOPPED;
		p->started_tsc = 0;
		log_info("partition '%s' ready on CPU %s: %s, image %s; not started (start = no: "
			 "Ctrl-] m, then start %s)", p->name, cpus_s, size_s, cfg->image, p->name);
		return 0;
	}
	p->state = PART_RUNNING;
	log_info("partition '%s' started on CPU %s: %s, image %s", p->name, cpus_s, size_s, cfg->image);
	return 0;
}
