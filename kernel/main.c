/* From the boot path's hand-over to running partitions. */
#include <stdio.h>
#include <string.h>
#include <mica/hypercall.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/config.h"
#include "kernel/console.h"
#include "kernel/host/acpi.h"
#include "kernel/hostcon.h"
#include "kernel/log.h"
#include "kernel/mem.h"
#include "kernel/numa.h"
#include "kernel/partition.h"
#include "kernel/passthrough.h"
#include "kernel/percpu.h"
#include "kernel/virt.h"
#include "kernel/ram.h"
#include "kernel/zero.h"
#include "lib/uart16550.h"

#define MICA_VERSION "0.1"

struct pcpu cpus[MAX_CPUS];
unsigned ncpus;
const struct virt_ops *virt;

/* Written by the boot CPU before it releases the APs (go = 1); read-only afterwards. */
static struct cfg config;
static volatile int go;

/* APs that have turned virtualization on; the boot CPU waits for them before it creates
 * partitions, because a vCPU's state names its CPU's save areas (SVM: the host save area
 * that VMLOAD restores after every exit). */
static volatile unsigned virt_ready;

static void cpu_virt_on(struct pcpu *c)
{
	int rc = virt->cpu_init(c);
	if (rc)
		panic("CPU %u: cannot turn on %s (error %d)", c->id, virt->name, rc);
}

void cpu_idle_loop(struct pcpu *c)
{
	/* No partition here: the CPU sleeps until a clone is given to it (kernel/clone.c),
	 * which kicks it. */
	irq_disable();
	for (;;) {
		struct vcpu *v = __atomic_load_n(&c->vcpu, __ATOMIC_ACQUIRE);
		if (v)
			vcpu_loop(v);
		cpu_idle();
	}
}

static void __attribute__((noreturn)) cpu_run(struct pcpu *c)
{
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE)) {
		zero_help(); /* the partitions' RAM, while the boot CPU asks (kernel/zero.h) */
		cpu_relax();
	}
	cpu_idle_loop(c);
}

void kernel_ap_main(struct pcpu *c)
{
	/* Wait until the boot CPU has chosen the backend. */
	while (!__atomic_load_n(&virt, __ATOMIC_ACQUIRE))
		cpu_relax();
	cpu_virt_on(c);
	__atomic_add_fetch(&virt_ready, 1, __ATOMIC_RELEASE);
	cpu_run(c);
}

static const struct boot_file *find_file(const struct boot_info *bi, const char *path)
{
	for (unsigned i = 0; i < bi->nfiles && i < BOOT_MAX_FILES; i++)
		if (!strncmp(bi->files[i].path, path, BOOT_PATH_MAX))
			return &bi->files[i];
	return NULL;
}

static void __attribute__((noreturn)) refuse(const struct boot_info *bi, const struct cfg_error *e)
{
	if (e->line)
		log_info("config error: %s:%u: %s", bi->config_path, e->line, e->msg);
	else
		log_info("config error: %s: %s", bi->config_path, e->msg);
	log_info("no partition started: fix the config and boot again (see docs/config.md)");
	irq_disable();
	for (;;)
		cpu_idle();
}

/* One line naming the partitions whose RAM is zeroed on first touch (kernel/ram.h). */
static void log_lazy_ram(void)
{
	char line[200];
	size_t n = 0;

	for (unsigned i = 0; i < config.nparts; i++) {
		const struct cfg_partition *c = &config.part[i];
		char size[24];
		if (!ram_lazy_for(c) || n >= sizeof(line))
			continue;
		cfg_format_size(c->memory, size, sizeof(size));
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s'%s' (%s)", n ? ", " : "",
				      c->name, size);
	}
	if (n)
		log_info("partition RAM zeroed on first touch, 2 MiB at a time (no DMA reaches "
			 "it): %s", line);
}

/* The files c names, as the boot path loaded them (NULL where one is not named). */
static void partition_files_of(const struct boot_info *bi, const struct cfg_partition *c,
			       struct partition_files *pf)
{
	memset(pf, 0, sizeof(*pf));
	pf->image = find_file(bi, c->image);
	pf->initrd = c->initrd[0] ? find_file(bi, c->initrd) : NULL;
	pf->disk = c->disk[0] ? find_file(bi, c->disk) : NULL;
	for (unsigned m = 0; m < c->nmodules; m++)
		pf->modules[m] = find_file(bi, c->modules[m]);
}

/* Everything about the config that can be checked before anything starts. */
static void check_config(const struct boot_info *bi, uint64_t present)
{
	struct cfg_error e = { 0, "" };
	const char *text = (const char *)bi->config_addr;

	if (!bi->config_addr || cfg_parse(text, bi->config_size, &config, &e))
		refuse(bi, &e);
	if (cfg_check_machine(&config, present, ncpus, mem_free_bytes(), &e))
		refuse(bi, &e);
	for (unsigned i = 0; i < config.nparts; i++) {
		const struct cfg_partition *c = &config.part[i];
		const struct boot_file *f = find_file(bi, c->image);
		char why[CFG_MSG_MAX];
		if (!f) {
			e.line = c->image_line;
			snprintf(e.msg, sizeof(e.msg), "image '%s' was not loaded by the boot path", c->image);
			refuse(bi, &e);
		}
		if (c->initrd[0] && !find_file(bi, c->initrd)) {
			e.line = c->initrd_line;
			snprintf(e.msg, sizeof(e.msg), "initrd '%s' was not loaded by the boot path", c->initrd);
			refuse(bi, &e);
		}
		if (c->disk[0] && !find_file(bi, c->disk)) {
			e.line = c->disk_line;
			snprintf(e.msg, sizeof(e.msg), "disk '%s' was not loaded by the boot path", c->disk);
			refuse(bi, &e);
		}
		for (unsigned m = 0; m < c->nmodules; m++)
			if (!find_file(bi, c->modules[m])) {
				e.line = c->modules_line;
				snprintf(e.msg, sizeof(e.msg), "module '%s' was not loaded by the boot path",
					 c->modules[m]);
				refuse(bi, &e);
			}
		struct partition_files pf;
		partition_files_of(bi, c, &pf);
		if (partition_check_image(c, &pf, why, sizeof(why))) {
			e.line = c->image_line;
			snprintf(e.msg, sizeof(e.msg), "image '%s': %s", c->image, why);
			refuse(bi, &e);
		}
		if (c->service && partition_image_kind(f) != IMAGE_ELF) {
			e.line = c->image_line;
			snprintf(e.msg, sizeof(e.msg), "the service partition's image '%s' is not an ELF "
				 "program (expected Mica's service, build/vmm/vmm.elf)", c->image);
			refuse(bi, &e);
		}
	}
}

static void find_cpus(const struct boot_info *bi)
{
	struct acpi_cpus ac;
	char err[120];
	uint32_t boot_id = arch_boot_apic_id();

	ncpus = 1;
	cpus[0].apic_id = boot_id;
	if (acpi_madt_cpus(bi->acpi_rsdp, &ac, err, sizeof(err))) {
		log_info("%s; running on the boot CPU only", err);
		return;
	}
	for (unsigned i = 0; i < ac.n && ncpus < MAX_CPUS; i++) {
		if (ac.apic_id[i] == boot_id)
			continue;
		cpus[ncpus].id = ncpus;
		cpus[ncpus].self = &cpus[ncpus];
		cpus[ncpus].apic_id = ac.apic_id[i];
		ncpus++;
	}
	if (ac.skipped)
		log_info("%u more CPUs than this build supports (%u) are not used", ac.skipped, MAX_CPUS);
}

void kernel_main(const struct boot_info *bi)
{
	cpus[0].self = &cpus[0];
	/* a CPU left by a destroy starts over there (arch/x86/entry.S's boot stack) */
	__asm__("lea boot_stack_top(%%rip), %0" : "=r"(cpus[0].stack_top));
	ncpus = 1;
	if (bi->magic != BOOT_INFO_MAGIC || bi->version != BOOT_INFO_VERSION) {
		arch_console_init(UART_COM1_PORT, UART_COM1_IRQ);
		panic("the boot path handed over boot_info version %u (magic 0x%lx); this core needs "
		      "version %u: use the loader built with this core", bi->version, bi->magic,
		      BOOT_INFO_VERSION);
	}
	/* The console first, as the config's [mica] section says; a config that does not
	 * parse is refused later, with its error on the default console. */
	const struct cfg_host *host = NULL;
	if (bi->config_addr &&
	    !cfg_parse((const char *)bi->config_addr, bi->config_size, &config, NULL))
		host = &config.host;
	hostcon_serial_start(bi, host);
	arch_init_boot_cpu(bi, &cpus[0]);
	mem_init(bi);
	hostcon_serial_spcr(bi, host);
	hostcon_screen_start(bi, host);
	hostcon_describe();
	find_cpus(bi);
	numa_init(bi);

	const char *why_svm = "", *why_vmx = "";
	const struct virt_ops *ops = svm_probe(&why_svm);
	if (!ops)
		ops = vmx_probe(&why_vmx);
	if (!ops) {
		/* Not a crash: the machine (or its firmware setup) cannot run Mica. Say what
		 * both backends found and what to do, then stop here. */
		log_info("Mica %s (%s): cannot virtualize: AMD SVM: %s; Intel VT-x: %s", MICA_VERSION,
			 bi->loader, why_svm, why_vmx);
		log_info("no hardware virtualization, so no partition can run: turn on VT-x or SVM "
			 "in the firmware setup; MICACHK.EFI lists what this machine lacks "
			 "(docs/hardware.md). Mica stops here.");
		cpu_halt_forever();
	}
	__atomic_store_n(&virt, ops, __ATOMIC_RELEASE);

	unsigned up = arch_start_aps(bi, cpus, ncpus);
	uint64_t present = 1;
	for (unsigned i = 1; i < ncpus; i++)
		if (cpus[i].online)
			present |= 1ULL << i;

	cpu_virt_on(&cpus[0]);
	while (__atomic_load_n(&virt_ready, __ATOMIC_ACQUIRE) < up)
		cpu_relax();
	log_info("Mica %s (%s): %u CPUs, %lu MiB free, backend %s, TSC %lu MHz", MICA_VERSION,
		 bi->loader, up + 1, mem_free_bytes() >> 20, virt->name, arch_tsc_hz() / 1000000);

	check_config(bi, present);
	struct cfg_error e = { 0, "" };
	if (passthrough_init(bi, &config, &e))
		refuse(bi, &e);
	uint64_t wall, wall_tsc;
	arch_boot_time(&wall, &wall_tsc); /* the host's clock, read once, before any guest runs */
	/* All partitions' RAM first, zeroed by every CPU at once, then the partitions. */
	static uint64_t ram[CFG_MAX_PARTS];
	for (unsigned i = 0; i < config.nparts; i++) {
		ram[i] = partition_alloc_ram(&config.part[i]);
		if (!ram_lazy_for(&config.part[i]))
			zero_add(ram[i], ram[i] ? config.part[i].memory : 0);
	}
	zero_run();
	log_lazy_ram();
	for (unsigned i = 0; i < config.nparts; i++) {
		const struct cfg_partition *c = &config.part[i];
		struct partition_files pf;
		partition_files_of(bi, c, &pf);
		if (partition_create(i, c, &pf, ram[i]))
			panic("partition '%s' could not be created (see above)", config.part[i].name);
		npartitions = i + 1;
	}
	console_input_start();
	if (arch_console_rx_enable(bi))
		log_info("no serial port or no I/O APIC: keyboard input to partitions is off "
			 "(input comes from the serial port only)");
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	cpu_run(&cpus[0]);
}
