/* The pre-flight check (MICACHK.EFI, docs/hardware.md): what a machine has against what
 * Mica needs. probe.c gathers raw facts under UEFI (CPUID, MSRs, ACPI tables, the memory
 * map, firmware variables, the config and its files on the stick); acpi_facts.c and
 * judge.c are pure logic, tested on the host, that turn them into lines a person reads:
 * each OK, WARNING or MISSING, with what to do. Only files under boot/check/ include this. */
#ifndef MICA_BOOT_CHECK_CHK_H
#define MICA_BOOT_CHECK_CHK_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/config.h"
#include "kernel/host/acpi.h"
#include "kernel/host/iommu_acpi.h"

enum chk_level { CHK_OK, CHK_WARNING, CHK_MISSING };

/* The ACPI tables, as far as the check reads them (acpi_facts.c). */
struct chk_acpi {
	int rsdp;                 /* the firmware gave an RSDP */
	int madt;                 /* a MADT with at least one enabled CPU */
	char madt_err[96];
	struct acpi_cpus cpus;
	uint32_t max_apic_id;
	unsigned x2apic_entries;  /* MADT processor entries of type 9 (x2APIC) */
	int iommu;                /* enum iommu_kind of the table found (DMAR or IVRS) */
	int iommu_bad;            /* the table is there but does not parse */
	char iommu_err[96];
	unsigned iommu_units;
	uint8_t iommu_flags;      /* DMAR flags or IVinfo bits 7:0 */
	struct acpi_mcfg mcfg;
	int srat;
	unsigned srat_nodes;      /* proximity domains with an enabled CPU or memory range */
	unsigned srat_cpu_nodes;  /* of which hold CPUs */
	int hpet;
	int pm_timer;             /* the FADT names an ACPI PM timer */
	uint16_t pm_port;
	unsigned pm_bits;
	int fadt;
	uint32_t fadt_flags;
	int reset_reg;            /* RESET_REG_SUP and a usable reset register */
	uint8_t reset_space;      /* its GAS address space: 0 memory, 1 I/O, 2 PCI config */
	uint64_t reset_addr;
	uint8_t reset_value;
	int spcr;
	struct acpi_spcr serial;  /* what the SPCR says, when spcr */
};

/* Memory as the firmware's map gives it: usable bytes (conventional and boot services
 * memory, free once Mica runs) below 1 MiB, below 4 GiB (1 MiB up) and above 4 GiB. */
struct chk_mem {
	uint64_t below_1m, below_4g, above_4g;
	uint64_t largest;         /* the largest run of usable memory, in bytes */
	uint64_t top;             /* the highest usable address + 1 */
	uint64_t low_free;        /* usable bytes from 4 KiB to 640 KiB (starting the CPUs
				   * needs a page there) */
	uint64_t run_base, run_end; /* the run chk_mem_add() is extending */
};

#define CHK_FILES_MAX 8
struct chk_config {
	int found;                /* \mica\mica.cfg is on the volume */
	int parsed;               /* cfg_parse() accepted it */
	struct cfg_error err;     /* why not */
	const struct cfg *cfg;
	unsigned nmissing;        /* files the config names that are not on the volume */
	struct { char path[BOOT_PATH_MAX]; unsigned line; } missing[CHK_FILES_MAX];
	unsigned nfiles;          /* files the config names, different ones */
	int pci_present[CFG_MAX_PARTS][CFG_PCI_MAX]; /* 1: a function answers at that address */
};

struct chk_facts {
	/* CPUID */
	char vendor[13];
	char brand[49];
	uint32_t family, model, stepping;
	uint32_t max_leaf, max_ext;
	uint32_t l1_ecx, l1_edx;          /* leaf 1 */
	uint32_t e1_ecx, e1_edx;          /* leaf 0x80000001 */
	uint32_t e7_edx;                  /* leaf 0x80000007 (invariant TSC: bit 8) */
	uint32_t ea_edx;                  /* leaf 0x8000000A (SVM features) */
	uint32_t hypervisor_sig[3];       /* leaf 0x40000000 when CPUID.1:ECX[31] */
	/* MSRs, each read only where CPUID says it exists */
	int have_fc;
	uint64_t feature_control;         /* IA32_FEATURE_CONTROL (0x3A) */
	int have_vmx_msrs;
	uint64_t vmx_basic, vmx_proc, vmx_proc2, vmx_ept_vpid;
	int have_vm_cr;
	uint64_t vm_cr;                   /* AMD VM_CR (0xC0010114) */
	uint64_t apic_base;               /* IA32_APIC_BASE (0x1B) */
	/* Timers */
	int pit;                          /* PIT channel 2 counted down */
	uint64_t tsc_hz;                  /* measured against it */
	/* The firmware */
	struct boot_framebuffer fb;       /* the GOP's mode, as the loader hands it on */
	int secure_boot;                  /* 1 on, 0 off, -1 no such variable */
	int setup_mode;                   /* 1: no platform key enrolled */
	struct chk_acpi acpi;
	struct chk_mem mem;
	struct chk_config config;
};

/* Receives one judged line: topic ("vt-x", "memory", ...) and what was found, and for a
 * WARNING or MISSING what to do (NULL for OK). */
typedef void (*chk_emit_fn)(void *ctx, enum chk_level level, const char *topic,
			    const char *found, const char *todo);

struct chk_summary {
	unsigned ok, warning, missing;
};

/* Judges every fact, in a fixed order (CPU, virtualization, paging, APIC, IOMMU, tables,
 * timers, memory, firmware, config), calling emit once per line. */
void chk_judge(const struct chk_facts *f, chk_emit_fn emit, void *ctx, struct chk_summary *sum);

/* Fills a from the tables behind rsdp (0: none). Pure: reads memory only. */
void chk_acpi_read(uint64_t rsdp, struct chk_acpi *a);

/* The number of different proximity domains in an SRAT of len bytes (enabled processor,
 * x2APIC and memory affinity structures); *cpu_nodes: those holding a CPU. -1 if the table
 * is not an SRAT or its structures run past its end. */
int chk_srat_nodes(const void *srat, size_t len, unsigned *cpu_nodes);

/* Reads the FADT's reset register (ACPI 6.4, 5.2.9: flags bit 10 RESET_REG_SUP, GAS at
 * byte 116, value at 128). 1 with space, address and value when there is a usable one. */
int chk_fadt_reset(const void *fadt, size_t len, uint8_t *space, uint64_t *addr,
		   uint8_t *value);

/* Adds a usable range [base, base + len) of the firmware's memory map to m; ranges come
 * in address order (adjacent ones make one run). */
void chk_mem_add(struct chk_mem *m, uint64_t base, uint64_t len);

#endif
